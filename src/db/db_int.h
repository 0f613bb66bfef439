/* db_int.h - declarations shared inside the db module only. */
#ifndef DBA_DB_INT_H
#define DBA_DB_INT_H

#include <libpq-fe.h>

#include "db/db.h"

#define DB_STMT_BUCKETS 64
#define DB_STMT_MAX 512

/* A connection's state; it changes only in conn_set_state (pool.c), which moves the connection
   between the pool's per-state lists and checks these invariants. */
enum db_conn_state {
    DB_CONN_CLOSED,     /* no PGconn, no job; on pool->conn_lists[CLOSED] (free slots) */
    DB_CONN_CONNECTING, /* PQconnectPoll in progress, no job; on pool->conn_lists[CONNECTING] */
    DB_CONN_IDLE,       /* connected, in pipeline mode, no job; on pool->conn_lists[IDLE] */
    DB_CONN_BUSY,       /* running exactly one job (conn->job); on pool->conn_lists[BUSY] */
};
#define DB_CONN_N_STATES 4

enum db_op_kind {
    DB_OP_EXEC,          /* PQsendQueryParams (unnamed statement) */
    DB_OP_PREPARE,       /* PQsendPrepare of a statement new to this connection */
    DB_OP_EXEC_PREPARED, /* PQsendQueryPrepared */
};

struct db_op {
    enum db_op_kind kind;        /* what to send */
    const char *sql;             /* statement text (the job's own copy) */
    char name[16];               /* prepared statement name */
    const char *const *params;   /* parameter values (the job's own copies) */
    int n_params;                /* count */
    size_t stmt_index;           /* which dba_db_stmt this op belongs to */
};

struct db_stmt_entry {
    struct db_stmt_entry *next;  /* bucket chain */
    char *sql;                   /* owned copy of the statement text */
    char name[16];               /* server-side name */
};

struct db_conn {
    struct dba_db_pool *pool;    /* owner */
    int id;                      /* slot number, for logs (never reused by a later slot) */
    enum db_conn_state state;    /* see enum; set only by conn_set_state */
    struct db_conn *prev, *next; /* links in pool->conn_lists[state] */
    PGconn *pg;                  /* NULL when CLOSED */
    struct dba_loop_io io;       /* registration of PQsocket */
    struct dba_db_job *job;      /* BUSY: the running job */
    struct db_stmt_entry *stmts[DB_STMT_BUCKETS]; /* prepared statements by text */
    unsigned n_stmts;            /* entries in stmts */
    unsigned next_stmt;          /* counter for names */
    struct dba_db_held *held;    /* BUSY without a job: held for a caller (dba_db_query_held) */
};

/* A held connection's handle (heap); the connection points back to it while held. */
struct dba_db_held {
    struct db_conn *conn;        /* the connection, or NULL once lost */
};

struct dba_db_job {
    struct dba_db_pool *pool;    /* owner */
    struct db_conn *conn;        /* running on, or NULL while queued */
    struct dba_db_job *next;     /* queue link (pool->q_head or pool->done_head) */
    bool queued;                 /* on pool->q_head list */
    bool done;                   /* completed, on pool->done_head until delivered */
    bool detached;               /* requester gone: do not call cb */
    struct dba_db_stmt *stmts;   /* copies of the caller's statements, in this allocation */
    size_t n_stmts;              /* count */
    size_t result_index;         /* whose result to deliver */
    size_t aux_index;            /* the auxiliary statement (DBA_DB_WITH_AUX), or SIZE_MAX */
    PGresult *aux_res;           /* its result, until taken (dba_db_job_take_aux) or freed */
    struct db_op *ops;           /* planned wire operations (room for 2 per statement, in this
                                    allocation) */
    size_t n_ops;                /* count */
    size_t cur_op;               /* op whose results are being read */
    int64_t deadline_ms;         /* absolute */
    dba_db_result_cb cb;         /* completion */
    void *arg;                   /* its argument */
    PGresult *res;               /* result to deliver */
    PGresult **all;              /* held jobs: every statement's result (n_stmts, heap) */
    dba_db_results_cb cb_all;    /* held jobs: completion (cb is then NULL) */
    struct dba_db_held *held;    /* held jobs: the handle the connection goes to */
    PGresult *err_res;           /* first error */
    char *capture;               /* dba_db_job_capture's buffer (the caller's), or NULL */
    size_t capture_index;        /* the statement captured */
    struct dba_err err;          /* outcome of a deferred failure (done == true, res NULL) */
    char tag[72];                /* request id for log lines about this job (dba_db_job_set_tag),
                                    "" = none */
    /* followed by: stmts[n_stmts], ops[2 * n_stmts], params arrays, then the texts */
};

struct dba_db_pool {
    struct dba_loop *loop;       /* the worker's loop */
    struct dba_db_pool_opts opts; /* copy; name and conninfo owned */
    struct db_conn *conn_lists[DB_CONN_N_STATES]; /* connections by state (doubly linked; each
                                    slot its own allocation, so the pool can grow and shrink) */
    int n_conns[DB_CONN_N_STATES]; /* list lengths; they sum to n_slots */
    int n_slots;                 /* slots in the lists: opts.size, more after a shrink until the
                                    busy connections beyond the new size are released */
    int next_id;                 /* id of the next slot, for logs */
    struct db_conn *retired;     /* slots taken out by a shrink, freed by the next tick (outside
                                    the loop's dispatch, where an event may still name them) */
    struct dba_db_job *q_head;   /* waiting jobs, FIFO */
    struct dba_db_job *q_tail;   /* last waiting job */
    int n_waiting;               /* queue length */
    struct dba_db_job *done_head; /* jobs failed while submitting, delivered on the next loop
                                    iteration (so a callback never runs inside dba_db_query) */
    struct dba_db_job *done_tail; /* last of them */
    int submitting;              /* > 0 while inside dba_db_query: completions are deferred */
    int done_efd;                /* eventfd that wakes the loop to deliver done_head */
    struct dba_loop_io done_io;  /* its registration */
    int64_t next_connect_ms;     /* no connect attempt before this */
    int backoff_ms;              /* current back-off */
    bool healthy;                /* last connect succeeded */
    bool closed;                 /* dba_db_pool_close ran: every query is refused */
    bool polling;                /* replica: a replay poll is in flight */
    int64_t next_poll_ms;        /* replica: the next replay poll */
    uint64_t replay_lsn;         /* replica: last replay position seen, 0 = unknown */
    char last_error[256];        /* last connect error, without secrets */
    char *host;                  /* host name to resolve before connecting, or NULL (a socket,
                                    an address, hostaddr given, a host list) */
    char *conn_hosts;            /* "name,name,..." matching conn_addrs, or NULL */
    char *conn_addrs;            /* resolved addresses "a,b,...", or NULL before resolving */
    int64_t resolved_ms;         /* when conn_addrs was resolved */
    bool resolve_again;          /* a connect failed since: resolve before the next one */
    struct db_resolve *resolving; /* lookup in flight on its thread, or NULL */
    struct dba_loop_io resolve_io; /* the lookup's eventfd in the loop */
    struct dba_db_pool_stats stats; /* counters */
};

/* New job owning copies of stmts (texts and parameters) in one allocation; free() frees it. */
struct dba_db_job *db_job_new(struct dba_db_pool *p, const struct dba_db_stmt *stmts, size_t n,
                              size_t result_index, int64_t deadline_ms, dba_db_result_cb cb,
                              void *arg);
/* Turns the job's statements into wire operations for connection c (prepare what is new). */
void db_job_plan(struct db_conn *c, struct dba_db_job *j);
/* Keeps r when it is the result of the job's auxiliary statement stmt_index (true: taken). */
bool db_job_keep(struct dba_db_job *j, size_t stmt_index, PGresult *r);
/* Frees a job and the auxiliary result it still holds. */
void db_job_free(struct dba_db_job *j);
void db_stmt_cache_add(struct db_conn *c, const char *sql, const char *name);
void db_stmt_cache_clear(struct db_conn *c);

/* conn_log.c: libpq notices through the logger (set on every new PGconn); a profile's database
   going down (logged on the first failed connect of any worker; returns true: the caller logs its
   own line at debug) and coming back (logged once, by the first pool that connects again). */
void db_conn_log_attach(struct db_conn *c);
bool db_pool_log_down(const struct dba_db_pool *p, const char *msg);
void db_pool_log_up(const struct dba_db_pool *p);

#endif
