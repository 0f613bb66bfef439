/* db.h - the database module: the async query engine (pools of non-blocking libpq connections),
   blocking helpers for the CLI and background threads. */
#ifndef DBA_DB_H
#define DBA_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct pg_result; /* libpq's PGresult; other modules use the accessors below */
struct pg_conn;   /* libpq's PGconn */

/* ---- Results ---- */
int dba_db_res_ntuples(const struct pg_result *r);
int dba_db_res_nfields(const struct pg_result *r);
const char *dba_db_res_fname(const struct pg_result *r, int col);
bool dba_db_res_isnull(const struct pg_result *r, int row, int col);
/* Borrowed until dba_db_res_clear(r). */
const char *dba_db_res_value(const struct pg_result *r, int row, int col);
int dba_db_res_len(const struct pg_result *r, int row, int col);
void dba_db_res_clear(struct pg_result *r); /* NULL is a no-op */
/* Fills err from an error result: code DBA_EDB, kind DBA_DB_ERR_SQL, SQLSTATE (also as the client
   code), message, detail, hint. No HTTP status: http/ maps it (src/http/status.c). */
void dba_db_res_to_err(const struct pg_result *r, struct dba_err *err);

/* ---- Errors: what the engine reports in struct dba_err.kind (with err->code, an enum dba_rc).
   The engine chooses no HTTP status and no PostgREST code (err->http_status stays 0, err->pgrst
   empty except the SQLSTATE of DBA_DB_ERR_SQL); http/ maps kinds to statuses with the request in
   hand. ---- */
enum dba_db_err_kind {
    DBA_DB_ERR_NONE = 0,     /* not an engine error */
    DBA_DB_ERR_SQL,          /* PostgreSQL reported an error: err->sqlstate (code DBA_EDB) */
    DBA_DB_ERR_UNAVAILABLE,  /* no connection to the database can be made now (DBA_EIO) */
    DBA_DB_ERR_LOST,         /* the connection broke while the job ran (DBA_EIO) */
    DBA_DB_ERR_QUEUE_FULL,   /* every connection busy and the wait queue full (DBA_EBUSY) */
    DBA_DB_ERR_QUEUE_DEADLINE, /* the deadline passed while the job waited (DBA_ETIMEOUT) */
    DBA_DB_ERR_RUN_DEADLINE, /* the deadline passed while the job ran; its connection was dropped
                                (DBA_ETIMEOUT) */
    DBA_DB_ERR_SHUTDOWN,     /* the pool is closing or closed (DBA_EIO) */
    DBA_DB_ERR_PROTOCOL,     /* the server answered something the engine cannot read (DBA_EIO) */
};

/* ---- The async engine: one pool per (worker, profile); used only on its loop's thread ---- */
struct dba_db_pool;
struct dba_db_job;

struct dba_db_pool_opts {
    const char *name;          /* profile name, for logs and /pool */
    const char *conninfo;      /* libpq URI or keyword string (secret: never logged) */
    int size;                  /* maximum connections */
    bool prepared;             /* cache prepared statements per connection */
    int queue_limit;           /* max waiting jobs; beyond it dba_db_query fails with DBA_EBUSY */
    int statement_timeout_ms;  /* > 0: sent as a startup option (-c statement_timeout=); 0 = not
                                  at connect (a pooler: the unit carries it, or none at all) */
    bool read_only;            /* startup option default_transaction_read_only=on (direct
                                  connections only) */
    bool replica;              /* a standby: dba_db_pool_tick polls pg_last_wal_replay_lsn() every
                                  DBA_DB_REPLAY_POLL_MS (also its health check) */
};

#define DBA_DB_REPLAY_POLL_MS 100
#define DBA_DB_CAPTURE_LEN 32 /* room for a captured value (an LSN) */

/* Figures for /pool and /metrics. */
struct dba_db_pool_stats {
    int size;          /* configured maximum (the new one at once after dba_db_pool_resize) */
    int open;          /* connected or connecting (above size for a while after a shrink, until
                          the busy connections beyond it are released) */
    int idle;          /* connected, free */
    int busy;          /* running a job */
    int waiting;       /* jobs queued */
    uint64_t connects; /* successful connections made */
    uint64_t errors;   /* failed connects and lost connections */
    uint64_t queries;  /* jobs completed (a result or an SQL error came back) */
    uint64_t round_trips; /* pipeline syncs sent: one per job, whatever its statement count */
    uint64_t timeouts; /* jobs cut by their deadline */
    uint64_t rejected; /* jobs refused: queue full or database down */
    bool healthy;      /* dba_db_pool_healthy */
    uint64_t replay_lsn; /* replica pools: the last replay position seen (0 = none yet) */
};

/* Adds st's sizes and counters to sum (not healthy nor replay_lsn: a sum of pools has no one
   value for them). */
void dba_db_pool_stats_add(struct dba_db_pool_stats *sum, const struct dba_db_pool_stats *st);

/* New pool bound to loop; connects lazily. */
struct dba_db_pool *dba_db_pool_new(struct dba_loop *loop, const struct dba_db_pool_opts *o);
/* Fails every queued job, closes connections; NULL is a no-op. */
void dba_db_pool_free(struct dba_db_pool *p);
/* Shutdown: fails every queued, running and not yet delivered job (their callbacks run here,
   DBA_DB_ERR_SHUTDOWN; a job completed before keeps its outcome), closes connections, and refuses
   every later dba_db_query the same way (returned, the callback never runs). The pool is freed
   later with dba_db_pool_free. */
void dba_db_pool_close(struct dba_db_pool *p);
void dba_db_pool_stats_get(const struct dba_db_pool *p, struct dba_db_pool_stats *out);
/* Changes the pool's size (at least 1) and, when queue_limit >= 0, its queue limit, on its loop's
   thread. Growing adds slots, opened as jobs wait; shrinking closes idle connections (and ones
   still connecting) now and each busy or held one beyond the new size when it is released: a
   running query is never cut. Returns the previous size. */
int dba_db_pool_resize(struct dba_db_pool *p, int size, int queue_limit);
/* Cuts jobs past their deadline and retries connects; call about every 100 ms. */
void dba_db_pool_tick(struct dba_db_pool *p, int64_t now_ms);
/* True when a connection is up or the last connect attempt succeeded. */
bool dba_db_pool_healthy(const struct dba_db_pool *p);
/* Replica pools: the last replay LSN seen by the poll (0 = unknown). */
uint64_t dba_db_pool_replay_lsn(const struct dba_db_pool *p);
/* Parses a pg_lsn text ("16/B374D848"); false when it is not one. */
bool dba_db_lsn_parse(const char *s, uint64_t *out);

/* Names the request a job runs for (its id, copied; control bytes blanked) on the log lines
   about it, e.g. a notice the server sends while it runs (conn_log.c). */
struct dba_db_job;
void dba_db_job_set_tag(struct dba_db_job *j, const char *tag);

/* One statement of a job. Borrowed only during dba_db_query: the job copies the text and the
   parameters it still has to send, so the caller may free them as soon as it returns. */
struct dba_db_stmt {
    const char *sql;            /* text with $n placeholders */
    const char *const *params;  /* n_params values, NULL = SQL NULL, sent untyped (text) */
    int n_params;               /* count */
};

/* result_index of dba_db_query naming, besides the main statement `main`, an auxiliary statement
   `aux` whose result the job keeps too: the callback takes it with dba_db_job_take_aux(). Both
   indexes below 65536. A plain index (DBA_DB_WITH_AUX not used) keeps no auxiliary result. */
#define DBA_DB_WITH_AUX(main, aux) ((size_t)(main) | (((size_t)(aux) + 1) << 16))

/* Result callback: res is owned by the callee (dba_db_res_clear it), or NULL with err set.
   Runs on the pool's loop thread, exactly once, unless the job was detached. */
typedef void (*dba_db_result_cb)(void *arg, struct pg_result *res, const struct dba_err *err);

/* Runs stmts[0..n) as one unit on one connection, pipelined with one sync (one round trip), and
   delivers the result of stmts[result_index] (or the first error; result_index may be
   DBA_DB_WITH_AUX(main, aux) to keep a second statement's result). deadline_ms is absolute
   (dba_now_ms()). The contract:
   - DBA_EAGAIN: accepted; cb runs exactly once, and never before dba_db_query has returned (a
     failure found while submitting, e.g. a send error, is delivered on a later loop iteration);
     *job (if non-NULL) is set before any callback and stays valid until cb runs or the job is
     detached.
   - DBA_EBUSY / DBA_EIO: refused at admission (queue full, database down, pool closed); err filled
     (see enum dba_db_err_kind), cb never runs, *job untouched. */
DBA_MUSTCHECK int dba_db_query(struct dba_db_pool *p, const struct dba_db_stmt *stmts, size_t n,
                               size_t result_index, int64_t deadline_ms, dba_db_result_cb cb,
                               void *arg, struct dba_db_job **job, struct dba_err *err);
/*
 * Held connection: a transaction spanning several jobs on one connection (/transaction: the
 * operations that need earlier results go out after those results arrived).
 * dba_db_query_held runs stmts like dba_db_query, but
 * - on a new connection from the pool when *held is NULL, else on the held one (DBA_EIO when
 *   it was lost meanwhile);
 * - delivers every statement's result: cb gets res[0..n) (res[i] for stmts[i], NULL for a
 *   statement that failed or did not run; the callee owns each result, not the array) and the
 *   first error in err (NULL when none);
 * - keeps the connection for the caller afterwards: cb's held is the handle for the next call
 *   and for dba_db_held_release (NULL when the connection was lost, timed out or the pool
 *   closed: nothing more to release).
 * The admission contract is dba_db_query's.
 */
struct dba_db_held;
typedef void (*dba_db_results_cb)(void *arg, struct dba_db_held *held, struct pg_result **res,
                                  size_t n, const struct dba_err *err);
DBA_MUSTCHECK int dba_db_query_held(struct dba_db_pool *p, struct dba_db_held *held,
                                    const struct dba_db_stmt *stmts, size_t n,
                                    int64_t deadline_ms, dba_db_results_cb cb, void *arg,
                                    struct dba_db_job **job, struct dba_err *err);
/* Gives the connection back to the pool (an open transaction is rolled back first). */
void dba_db_held_release(struct dba_db_held *held);

/* The requester went away: the callback will not run; the job is freed at once if it waits, or
   when its connection finishes (then reused). The job owns copies of what it sends, so the
   caller may free its statements right after. */
void dba_db_job_detach(struct dba_db_job *job);
/* Right after an accepted dba_db_query: statement stmt_index's first value (text) is copied into
   buf (DBA_DB_CAPTURE_LEN bytes, the caller's, left untouched otherwise) when it arrives and the
   job is still attached: a second result of the same round trip (e.g. the WAL position after a
   write's COMMIT). */
void dba_db_job_capture(struct dba_db_job *job, size_t stmt_index, char *buf);

/* Inside the job's callback only: the result of its auxiliary statement (DBA_DB_WITH_AUX; the
   caller owns it:
   dba_db_res_clear), or NULL when it has none, that statement failed or did not run. A result
   not taken is freed with the job. Still one round trip: the statement is in the same pipeline. */
struct pg_result *dba_db_job_take_aux(struct dba_db_job *job);

/* ---- Blocking helpers: CLI and background threads only, never on a worker loop ---- */
/* Connects with a connect timeout; NULL with err on failure (message without secrets). */
struct pg_conn *dba_db_connect_blocking(const char *conninfo, int timeout_s, struct dba_err *err);
void dba_db_close(struct pg_conn *c); /* NULL is a no-op */
/* Runs one statement with text params; new result or NULL with err. */
struct pg_result *dba_db_exec(struct pg_conn *c, const char *sql, const char *const *params,
                              int n_params, struct dba_err *err);
const char *dba_db_server_version(struct pg_conn *c); /* "15.18"; static buffer per call site */

#endif
