/* db_int.h - declarations shared inside the db module only. */
#ifndef DBA_DB_INT_H
#define DBA_DB_INT_H

#include <libpq-fe.h>

#include "db/db.h"

#define DB_STMT_BUCKETS 64
#define DB_STMT_MAX 512

enum db_conn_state {
    DB_CONN_CLOSED,     /* no PGconn; the slot is free */
    DB_CONN_CONNECTING, /* PQconnectPoll in progress; io watches its socket */
    DB_CONN_IDLE,       /* connected, in pipeline mode, no job */
    DB_CONN_BUSY,       /* running exactly one job (conn->job) */
};

enum db_op_kind {
    DB_OP_EXEC,          /* PQsendQueryParams (unnamed statement) */
    DB_OP_PREPARE,       /* PQsendPrepare of a statement new to this connection */
    DB_OP_EXEC_PREPARED, /* PQsendQueryPrepared */
};

struct db_op {
    enum db_op_kind kind;        /* what to send */
    const char *sql;             /* statement text (borrowed from the job's owner) */
    char name[16];               /* prepared statement name */
    const char *const *params;   /* parameter values (borrowed) */
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
    int id;                      /* slot number, for logs */
    enum db_conn_state state;    /* see enum */
    PGconn *pg;                  /* NULL when CLOSED */
    struct dba_loop_io io;       /* registration of PQsocket */
    struct dba_db_job *job;      /* BUSY: the running job */
    struct db_stmt_entry *stmts[DB_STMT_BUCKETS]; /* prepared statements by text */
    unsigned n_stmts;            /* entries in stmts */
    unsigned next_stmt;          /* counter for names */
};

struct dba_db_job {
    struct dba_db_pool *pool;    /* owner */
    struct db_conn *conn;        /* running on, or NULL while queued */
    struct dba_db_job *next;     /* queue link */
    bool queued;                 /* on pool->q_head list */
    bool detached;               /* requester gone: do not call cb */
    const struct dba_db_stmt *stmts; /* borrowed */
    size_t n_stmts;              /* count */
    size_t result_index;         /* whose result to deliver */
    struct db_op *ops;           /* planned wire operations (owned) */
    size_t n_ops;                /* count */
    size_t cur_op;               /* op whose results are being read */
    int64_t deadline_ms;         /* absolute */
    dba_db_result_cb cb;         /* completion */
    void *arg;                   /* its argument */
    PGresult *res;               /* result to deliver */
    PGresult *err_res;           /* first error */
};

struct dba_db_pool {
    struct dba_loop *loop;       /* the worker's loop */
    struct dba_db_pool_opts opts; /* copy; name and conninfo owned */
    struct db_conn *conns;       /* opts.size slots */
    struct dba_db_job *q_head;   /* waiting jobs, FIFO */
    struct dba_db_job *q_tail;   /* last waiting job */
    int n_waiting;               /* queue length */
    int64_t next_connect_ms;     /* no connect attempt before this */
    int backoff_ms;              /* current back-off */
    bool healthy;                /* last connect succeeded */
    bool closed;                 /* dba_db_pool_close ran: every query is refused */
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

struct dba_db_job *db_job_new(struct dba_db_pool *p, const struct dba_db_stmt *stmts, size_t n,
                              size_t result_index, int64_t deadline_ms, dba_db_result_cb cb,
                              void *arg);
/* Turns the job's statements into wire operations for connection c (prepare what is new). */
void db_job_plan(struct db_conn *c, struct dba_db_job *j);
void db_stmt_cache_add(struct db_conn *c, const char *sql, const char *name);
void db_stmt_cache_clear(struct db_conn *c);

#endif
