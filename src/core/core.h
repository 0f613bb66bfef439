/* core.h - memory, strings, errors, logging, event loop and tasks shared by every module. */
#ifndef DBA_CORE_H
#define DBA_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DBA_VERSION "0.1.0"

#define DBA_MUSTCHECK __attribute__((warn_unused_result))
#define DBA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DBA_NORETURN __attribute__((noreturn))
#define DBA_UNUSED(x) ((void)(x))
#define DBA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Return codes: 0 success, DBA_EAGAIN "started, callback will run", negatives are errors. */
enum dba_rc {
    DBA_OK = 0,       /* success */
    DBA_EAGAIN = 1,   /* started; the callback will run exactly once */
    DBA_EINVAL = -1,  /* bad input; err says why */
    DBA_ENOTFOUND = -2, /* a named thing does not exist */
    DBA_EDB = -3,     /* PostgreSQL reported an error; err carries the SQLSTATE */
    DBA_EIO = -4,     /* system call or connection failure */
    DBA_EBUSY = -5,   /* queue full or resource exhausted */
    DBA_ETIMEOUT = -6, /* deadline passed */
};

#ifdef NDEBUG
#define DBA_ASSERT(c) ((void)0)
#else
#define DBA_ASSERT(c) ((c) ? (void)0 : dba_fatal("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__))
#endif

DBA_NORETURN void dba_fatal(const char *fmt, ...) DBA_PRINTF(1, 2);

/* Allocation: out of memory aborts, so callers never check for NULL. */
void *dba_xmalloc(size_t n);
void *dba_xcalloc(size_t n, size_t size);
void *dba_xrealloc(void *p, size_t n);
char *dba_xstrdup(const char *s);
char *dba_xstrndup(const char *s, size_t n);
/* Routes jansson's allocations through dba_xmalloc; call before any other jansson call. */
void dba_mem_init(void);

/* A string view: not NUL-terminated in general. */
struct dba_str {
    const char *p; /* first byte */
    size_t len;    /* length in bytes */
};

/* A growable byte buffer, always NUL-terminated after any append. */
struct dba_buf {
    char *data;   /* owned, heap; NULL until the first append */
    size_t len;   /* bytes used, excluding the trailing NUL */
    size_t cap;   /* bytes allocated */
};
void dba_buf_init(struct dba_buf *b);
void dba_buf_cleanup(struct dba_buf *b);
void dba_buf_reset(struct dba_buf *b);
void dba_buf_append(struct dba_buf *b, const void *p, size_t n);
void dba_buf_puts(struct dba_buf *b, const char *s);
void dba_buf_putc(struct dba_buf *b, char c);
void dba_buf_printf(struct dba_buf *b, const char *fmt, ...) DBA_PRINTF(2, 3);
/* Appends s as a double-quoted SQL identifier ("a""b"). */
void dba_buf_put_ident(struct dba_buf *b, const char *s);
/* Appends s as a single-quoted SQL literal ('it''s'); only for trusted catalog text. */
void dba_buf_put_literal(struct dba_buf *b, const char *s);
/* Appends a PostgreSQL array literal of the n strings, each double-quoted with " and \ escaped
   ({"a","b \"c\""}), to be sent as ONE bound parameter (the SQL text then does not depend on n). */
void dba_buf_put_text_array(struct dba_buf *b, const char *const *v, size_t n);
/* Steals the data: returns it (never NULL) and leaves b empty. */
char *dba_buf_take(struct dba_buf *b);
/* The whole file at path as a new NUL-terminated heap string, its length in *len; NULL (errno
   set) when it cannot be opened or read. */
char *dba_file_read(const char *path, size_t *len);

/* Arena: many small allocations freed together; deferred cleanups run at free in LIFO order. */
struct dba_arena;
typedef void (*dba_arena_cleanup_cb)(void *p);
struct dba_arena *dba_arena_new(void);
void dba_arena_free(struct dba_arena *a);     /* runs cleanups; NULL is a no-op */
void *dba_arena_alloc(struct dba_arena *a, size_t n);  /* zeroed, 16-byte aligned */
char *dba_arena_strdup(struct dba_arena *a, const char *s);
char *dba_arena_strndup(struct dba_arena *a, const char *s, size_t n);
char *dba_arena_printf(struct dba_arena *a, const char *fmt, ...) DBA_PRINTF(2, 3);
void dba_arena_defer(struct dba_arena *a, dba_arena_cleanup_cb cb, void *p);
/* Number of live arenas in the process, for leak checks in tests. */
long dba_arena_live(void);

/* Error carried back to the face (HTTP or CLI). Texts are copied in and truncated. */
struct dba_err {
    int code;              /* enum dba_rc value */
    int http_status;       /* HTTP status the error maps to */
    char sqlstate[6];      /* PostgreSQL SQLSTATE or empty */
    char pgrst[16];        /* client-visible code: SQLSTATE or PGRSTnnn or DBAnnn */
    char msg[512];         /* primary message, client-safe */
    char detail[2048];     /* details, client-safe; empty means null */
    bool detail_json;      /* detail is JSON text to send as is (PGRST201's candidate list) */
    char hint[512];        /* hint; empty means null */
    char detail_log[512];  /* log only, never shown to clients */
    int kind;              /* the db engine's own kind (enum dba_db_err_kind), 0 = not from db */
};
void dba_err_clear(struct dba_err *e);
/* Sets code, status and client code and formats msg; returns code so callers can `return dba_err_set(...)`. */
int dba_err_set(struct dba_err *e, int code, int http_status, const char *pgrst, const char *fmt, ...)
    DBA_PRINTF(5, 6);
void dba_err_detail(struct dba_err *e, const char *fmt, ...) DBA_PRINTF(2, 3);
void dba_err_hint(struct dba_err *e, const char *fmt, ...) DBA_PRINTF(2, 3);

/* Logging to stderr; secrets must never be passed in. */
enum dba_log_level {
    DBA_LOG_CRIT = -1, /* server.log_level = crit: only critical lines */
    DBA_LOG_ERROR, /* failures needing attention */
    DBA_LOG_WARN,  /* degraded but working */
    DBA_LOG_INFO,  /* lifecycle events */
    DBA_LOG_DEBUG, /* per-request detail */
};
extern int dba_log_level_current;
void dba_log_set_level(int level);
void dba_log_write(int level, const char *fmt, ...) DBA_PRINTF(2, 3);
#define dba_log(level, ...) \
    do { if ((level) <= dba_log_level_current) dba_log_write((level), __VA_ARGS__); } while (0)
/* log.c: a line whose text was printed less than a second ago is counted instead of printed;
   the count comes out as "message repeated N times in S s: ..." once the second is over (at the
   next log call or dba_log_flush). dba_log_flush(false) prints the counts that are due,
   dba_log_flush(true) all of them (at exit). Thread-safe. */
void dba_log_flush(bool all);
/* log.c, for dba_log_write: prints (or counts) one formatted line. */
void dba__log_emit(const char *ts, const char *level_name, const char *line);
/* log.c, for tests: the millisecond clock used for the window (NULL = dba_now_ms). */
void dba__log_set_clock(int64_t (*clock_ms)(void));

/* Monotonic clock in milliseconds / microseconds. */
int64_t dba_now_ms(void);
int64_t dba_now_us(void);
/* Wall clock as an ISO-8601 UTC string "2026-11-25T14:40:11Z" into out (>= 21 bytes). */
void dba_utc_now(char *out, size_t n);

/* Value of a hexadecimal digit, or -1. */
int dba_hex_digit(char c);
/* Percent-decoding: decodes %XX and (when plus_is_space) '+'; returns length; out may equal in. */
size_t dba_url_decode(char *out, const char *in, size_t len, bool plus_is_space);
/* Percent-encodes everything but unreserved characters (RFC 3986) into b. */
void dba_url_encode(struct dba_buf *b, const char *s);

/* JSON scanning without building a tree (json_scan.c): validates and walks request bodies of any
   size in one pass, leaving every value's text as the client wrote it. */
enum dba_json_type {
    DBA_JSON_NULL,   /* null */
    DBA_JSON_BOOL,   /* true / false */
    DBA_JSON_NUMBER, /* number, text kept as written */
    DBA_JSON_STRING, /* "..." (span includes the quotes) */
    DBA_JSON_ARRAY,  /* [...] */
    DBA_JSON_OBJECT, /* {...} */
};
#define DBA_JSON_BAD SIZE_MAX /* returned for malformed input */
/* Index of the first non-space byte at or after i. */
size_t dba_json_ws(const char *p, size_t n, size_t i);
/* Validates the value starting at p[i] (after spaces) and returns the index just past it, or
   DBA_JSON_BAD; *type (may be NULL) tells what it was. Nesting deeper than 512 is refused. */
size_t dba_json_value(const char *p, size_t n, size_t i, enum dba_json_type *type);
/* Appends the decoded text of the string span p[0..len) (quotes included) to b; false when the
   escapes are invalid. */
bool dba_json_unescape(struct dba_buf *b, const char *p, size_t len);

/* Event loop: level-triggered epoll, one per worker thread; never shared between threads except
   dba_loop_wake(), which any thread may call. */
struct dba_loop;
typedef void (*dba_loop_io_cb)(void *arg, uint32_t events);
struct dba_loop_io {
    int fd;              /* watched descriptor, -1 when not registered */
    uint32_t events;     /* EPOLLIN / EPOLLOUT mask registered */
    dba_loop_io_cb cb;   /* called from dba_loop_run_once on readiness */
    void *arg;           /* callback argument */
};
struct dba_loop *dba_loop_new(void);
void dba_loop_free(struct dba_loop *l); /* NULL is a no-op */
/* Registers io for fd; DBA_OK or DBA_EIO. */
DBA_MUSTCHECK int dba_loop_io_add(struct dba_loop *l, struct dba_loop_io *io, int fd, uint32_t events,
                                  dba_loop_io_cb cb, void *arg);
DBA_MUSTCHECK int dba_loop_io_mod(struct dba_loop *l, struct dba_loop_io *io, uint32_t events);
void dba_loop_io_del(struct dba_loop *l, struct dba_loop_io *io); /* before closing the fd */
/* Waits up to timeout_ms (-1 forever) and runs the ready callbacks; returns events handled. */
int dba_loop_run_once(struct dba_loop *l, int timeout_ms);
/* Thread-safe: makes the loop's current or next wait return and calls wake_cb on the loop thread. */
void dba_loop_wake(struct dba_loop *l);
void dba_loop_set_wake_cb(struct dba_loop *l, void (*cb)(void *arg), void *arg);

#endif
