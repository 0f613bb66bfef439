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
/* Fills err from an error result (SQLSTATE, message, detail, hint, HTTP status per PostgREST's map). */
void dba_db_res_to_err(const struct pg_result *r, struct dba_err *err);
/* PostgREST's SQLSTATE -> HTTP status mapping (reference/postgrest.md §3.6). */
int dba_db_sqlstate_http(const char *sqlstate, const char *message);

/* ---- The async engine: one pool per (worker, profile); used only on its loop's thread ---- */
struct dba_db_pool;
struct dba_db_job;

struct dba_db_pool_opts {
    const char *name;          /* profile name, for logs and /pool */
    const char *conninfo;      /* libpq URI or keyword string (secret: never logged) */
    int size;                  /* maximum connections */
    bool prepared;             /* cache prepared statements per connection */
    int queue_limit;           /* max waiting jobs; beyond it dba_db_query fails with DBA_EBUSY */
    int statement_timeout_ms;  /* sent as the statement_timeout setting; 0 = none */
    bool read_only;            /* sessions run with default_transaction_read_only = on */
};

/* Figures for /pool and /metrics. */
struct dba_db_pool_stats {
    int size;          /* configured maximum */
    int open;          /* connected or connecting */
    int idle;          /* connected, free */
    int busy;          /* running a job */
    int waiting;       /* jobs queued */
    uint64_t connects; /* successful connections made */
    uint64_t errors;   /* failed connects and lost connections */
    uint64_t queries;  /* jobs completed */
    uint64_t timeouts; /* jobs cut by their deadline */
    uint64_t rejected; /* jobs refused: queue full or database down */
};

/* New pool bound to loop; connects lazily. */
struct dba_db_pool *dba_db_pool_new(struct dba_loop *loop, const struct dba_db_pool_opts *o);
/* Fails every queued job, closes connections; NULL is a no-op. */
void dba_db_pool_free(struct dba_db_pool *p);
/* Shutdown: fails every queued and running job (their callbacks run, 503 "server shutting
   down"), closes connections, and refuses every later dba_db_query the same way (synchronously,
   the callback never runs). The pool is freed later with dba_db_pool_free. */
void dba_db_pool_close(struct dba_db_pool *p);
void dba_db_pool_stats_get(const struct dba_db_pool *p, struct dba_db_pool_stats *out);
/* Cuts jobs past their deadline and retries connects; call about every 100 ms. */
void dba_db_pool_tick(struct dba_db_pool *p, int64_t now_ms);
/* True when a connection is up or the last connect attempt succeeded. */
bool dba_db_pool_healthy(const struct dba_db_pool *p);

/* One statement of a job. Strings are borrowed until the callback runs. */
struct dba_db_stmt {
    const char *sql;            /* text with $n placeholders */
    const char *const *params;  /* n_params values, NULL = SQL NULL, sent untyped (text) */
    int n_params;               /* count */
};

/* Result callback: res is owned by the callee (dba_db_res_clear it), or NULL with err set.
   Runs on the pool's loop thread, exactly once, unless the job was detached. */
typedef void (*dba_db_result_cb)(void *arg, struct pg_result *res, const struct dba_err *err);

/* Runs stmts[0..n) as one unit on one connection, pipelined (one round trip), and delivers the
   result of stmts[result_index] (or the first error). deadline_ms is absolute (dba_now_ms()).
   DBA_EAGAIN: started, cb will run once; *job (if non-NULL) can be detached.
   DBA_EBUSY / DBA_EIO: refused (queue full, database down), err filled, cb never runs. */
DBA_MUSTCHECK int dba_db_query(struct dba_db_pool *p, const struct dba_db_stmt *stmts, size_t n,
                               size_t result_index, int64_t deadline_ms, dba_db_result_cb cb,
                               void *arg, struct dba_db_job **job, struct dba_err *err);
/* The requester went away: the callback will not run; the connection finishes and is reused. */
void dba_db_job_detach(struct dba_db_job *job);

/* ---- Blocking helpers: CLI and background threads only, never on a worker loop ---- */
/* Connects with a connect timeout; NULL with err on failure (message without secrets). */
struct pg_conn *dba_db_connect_blocking(const char *conninfo, int timeout_s, struct dba_err *err);
void dba_db_close(struct pg_conn *c); /* NULL is a no-op */
/* Runs one statement with text params; new result or NULL with err. */
struct pg_result *dba_db_exec(struct pg_conn *c, const char *sql, const char *const *params,
                              int n_params, struct dba_err *err);
const char *dba_db_server_version(struct pg_conn *c); /* "15.18"; static buffer per call site */

#endif
