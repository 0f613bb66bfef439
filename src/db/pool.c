/* pool.c - the async query engine: a pool of non-blocking libpq connections driven by a dba_loop.
 *
 * Design notes.
 * - One pool per (worker thread, profile). Nothing here is shared between threads, so no locks.
 * - Every connection runs in libpq pipeline mode. A job (one or more statements) is queued with
 *   PQsendQueryPrepared / PQsendPrepare / PQsendQueryParams, closed with PQpipelineSync and flushed:
 *   one round trip whatever the number of statements. A statement seen for the first time on a
 *   connection is prepared in the same pipeline, so preparing costs no extra round trip either.
 * - Connections open lazily (PQconnectStartParams + PQconnectPoll); a failed connect backs off
 *   (100 ms doubling to 5 s) and, while no connection is up, jobs are refused at once (503) rather
 *   than queued, so a database outage never piles up requests.
 * - Host names: libpq's PQconnectStartParams resolves a host name with a blocking getaddrinfo(),
 *   so the pool resolves it itself on a short-lived thread (result back through an eventfd in the
 *   loop) and connects with host= and hostaddr= lists, one entry per address, so that libpq still
 *   tries every address in turn (localhost: ::1 then 127.0.0.1). The answer is kept for
 *   POOL_DNS_TTL_MS and resolved again after a failed connect, as pgbouncer does.
 * - Deadlines: dba_db_pool_tick() cuts jobs past their deadline. libpq 15 has no non-blocking
 *   cancel, so a running job is cut by closing its connection; statement_timeout (a startup option,
 *   or set by the request's unit behind a pooler) backs this up.
 * - Startup options (statement_timeout, default_transaction_read_only) only when the owner asks
 *   for them (a direct connection); otherwise nothing is sent that a transaction-mode pooler
 *   cannot carry: no startup options, no session setting, no LISTEN; with prepared = false only
 *   unnamed statements (docs/SCALING.md).
 * - The contract (db.h): a callback never runs inside dba_db_query. While a submission is under
 *   way (pool->submitting), a job that fails (a send error, a connect that fails at once, the
 *   database found down) is parked on pool->done_head and delivered from the loop, woken by an
 *   eventfd: the error path pays for it, the hot path does not.
 * - A job owns copies of its statements and parameters (one allocation with the job), so a job
 *   whose requester went away (detached) never reads the requester's freed memory.
 * - Connection states change only in conn_set_state, which keeps one list per state (as
 *   pgbouncer's change_server_state does) and checks the invariants; "an idle connection" and
 *   "how many are open" are list heads and counters, not scans.
 * - Errors carry the engine's kind (enum dba_db_err_kind), never an HTTP status: http/ maps them.
 * - Round trips are counted: one per PQpipelineSync (stats.round_trips), next to jobs completed.
 * - Resizing (dba_db_pool_resize, a SIGHUP on the owning loop): each slot is its own allocation
 *   on the per-state lists, so growing adds closed slots (opened as jobs wait, as always) and
 *   shrinking takes out closed, idle and connecting slots at once and each busy or held one beyond
 *   the new size when it is released (pool_retire_if_over): a running query is never cut. A slot
 *   taken out is freed by the next tick, outside the loop's dispatch, where an event of the same
 *   epoll batch may still point at it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "db/db_int.h"

static void conn_dispatch(struct db_conn *c);
static void conn_on_io(void *arg, uint32_t events);
static void pool_pump(struct dba_db_pool *p);
static bool pool_resolve_due(const struct dba_db_pool *p);
static void pool_resolve_start(struct dba_db_pool *p);
static bool pool_retire_if_over(struct db_conn *c);
static void pool_trim(struct dba_db_pool *p);

/* The one place a connection changes state: it leaves its list for the new state's list, and the
   invariants of enum db_conn_state are checked. */
static void
conn_set_state(struct db_conn *c, enum db_conn_state s)
{
    struct dba_db_pool *p = c->pool;
    enum db_conn_state old = c->state;

    /* unlink from the old state's list */
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        p->conn_lists[old] = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    p->n_conns[old]--;
    /* push on the new one: LIFO, so the most recently used idle connection (warm caches) is
       reused first, as pgbouncer does by default */
    c->state = s;
    c->prev = NULL;
    c->next = p->conn_lists[s];
    if (c->next != NULL)
        c->next->prev = c;
    p->conn_lists[s] = c;
    p->n_conns[s]++;

    DBA_ASSERT(p->n_conns[old] >= 0);
    DBA_ASSERT(p->n_conns[DB_CONN_CLOSED] + p->n_conns[DB_CONN_CONNECTING] +
               p->n_conns[DB_CONN_IDLE] + p->n_conns[DB_CONN_BUSY] == p->n_slots);
    DBA_ASSERT((s == DB_CONN_BUSY) == (c->job != NULL || c->held != NULL));
    DBA_ASSERT((s == DB_CONN_CLOSED) == (c->pg == NULL));
    DBA_ASSERT(s != DB_CONN_BUSY || c->job->conn == c);
}

/* Fills err with one of the engine's own error kinds (no HTTP status, no client code). */
DBA_PRINTF(4, 5) static void
db_err(struct dba_err *err, int code, enum dba_db_err_kind kind, const char *fmt, ...)
{
    va_list ap;

    dba_err_clear(err);
    err->code = code;
    err->kind = (int)kind;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

/* A held job that failed without its connection (lost, deadline, pool closed): no results, the
   handle is dead. */
static void
job_deliver_held_lost(struct dba_db_job *j, const struct dba_err *err)
{
    if (j->all != NULL)
        for (size_t i = 0; i < j->n_stmts; i++)
            PQclear(j->all[i]);
    if (j->held != NULL) {
        if (j->held->conn != NULL)
            j->held->conn->held = NULL;
        free(j->held);
    }
    if (!j->detached)
        j->cb_all(j->arg, NULL, NULL, 0, err);
    free(j->all);
}

static void
job_deliver(struct dba_db_job *j, PGresult *res, const struct dba_err *err)
{
    if (j->cb_all != NULL) {
        PQclear(res);
        job_deliver_held_lost(j, err);
        free(j);
        return;
    }
    if (!j->detached && j->cb != NULL)
        j->cb(j->arg, res, err);
    else
        PQclear(res);
    db_job_free(j);
}

/* Completes a job: its callback runs now, or, inside dba_db_query, from the loop soon after. */
static void
job_finish(struct dba_db_job *j, PGresult *res, const struct dba_err *err)
{
    struct dba_db_pool *p = j->pool;

    j->queued = false; /* whoever finishes it has taken it off the wait queue */
    if (p->submitting == 0 || j->detached || (j->cb == NULL && j->cb_all == NULL)) {
        job_deliver(j, res, err);
        return;
    }
    j->done = true;
    j->conn = NULL;
    j->res = res;
    j->err_res = NULL;
    if (err != NULL)
        j->err = *err;
    j->next = NULL;
    if (p->done_tail != NULL)
        p->done_tail->next = j;
    else
        p->done_head = j;
    p->done_tail = j;
    uint64_t one = 1;
    if (write(p->done_efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        dba_fatal("pool %s: cannot wake the loop for a completion", p->opts.name);
}

/* Delivers the jobs parked by job_finish; called from the loop (never inside dba_db_query). */
static void
pool_deliver_done(struct dba_db_pool *p)
{
    while (p->done_head != NULL) {
        struct dba_db_job *j = p->done_head;
        p->done_head = j->next;
        if (p->done_head == NULL)
            p->done_tail = NULL;
        job_deliver(j, j->res, j->res == NULL ? &j->err : NULL);
    }
}

static void
pool_on_done(void *arg, uint32_t events)
{
    struct dba_db_pool *p = arg;
    uint64_t v;

    DBA_UNUSED(events);
    if (read(p->done_efd, &v, sizeof(v)) < 0)
        return; /* EAGAIN: nothing new */
    pool_deliver_done(p);
}

static void
conn_close(struct db_conn *c)
{
    dba_loop_io_del(c->pool->loop, &c->io);
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    db_stmt_cache_clear(c);
    if (c->state != DB_CONN_CLOSED)
        conn_set_state(c, DB_CONN_CLOSED);
}

/* The connection failed (connect or mid-job): fail its job, close it, and back off. */
static void
conn_fail(struct db_conn *c, const char *what)
{
    struct dba_db_pool *p = c->pool;
    struct dba_err err;
    char msg[256];

    snprintf(msg, sizeof(msg), "%s", c->pg ? PQerrorMessage(c->pg) : "");
    msg[strcspn(msg, "\n")] = '\0';
    p->stats.errors++;
    /* CLOSED here: PQconnectStartParams itself failed (no PGconn) */
    bool was_connecting = c->state == DB_CONN_CONNECTING || c->state == DB_CONN_CLOSED;
    /* A failed connect: the outage is logged once per profile (conn_log.c), this line at debug. */
    dba_log(was_connecting && db_pool_log_down(p, msg) ? DBA_LOG_DEBUG : DBA_LOG_WARN,
            "pool %s conn %d: %s: %s", p->opts.name, c->id, what, msg);
    p->resolve_again = true; /* reconnecting: the name may point elsewhere now */
    struct dba_db_job *j = c->job;
    c->job = NULL;
    if (c->held != NULL) {
        c->held->conn = NULL; /* the holder finds it lost */
        c->held = NULL;
    }
    conn_close(c);
    if (j != NULL) {
        db_err(&err, DBA_EIO, DBA_DB_ERR_LOST, "database connection lost");
        dba_err_detail(&err, "%s", msg);
        PQclear(j->res);
        PQclear(j->err_res);
        j->res = j->err_res = NULL;
        job_finish(j, NULL, &err);
    }
    if (was_connecting) {
        int64_t now = dba_now_ms();
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : 100;
        if (p->backoff_ms > 5000)
            p->backoff_ms = 5000;
        p->next_connect_ms = now + p->backoff_ms;
        snprintf(p->last_error, sizeof(p->last_error), "%s", msg);
        p->healthy = false;
    }
    pool_pump(p);
}

static int
conn_watch(struct db_conn *c, uint32_t events)
{
    int fd = PQsocket(c->pg);

    if (fd < 0)
        return DBA_EIO;
    /* While connecting, libpq may close the socket and open another for the next address (a name
       with several addresses), possibly under the same number, which epoll no longer watches:
       register it afresh. */
    if (c->io.fd != fd || c->state == DB_CONN_CONNECTING) {
        dba_loop_io_del(c->pool->loop, &c->io);
        return dba_loop_io_add(c->pool->loop, &c->io, fd, events, conn_on_io, c);
    }
    return dba_loop_io_mod(c->pool->loop, &c->io, events);
}

static void
conn_connect_start(struct db_conn *c)
{
    struct dba_db_pool *p = c->pool;
    bool by_addr = p->host != NULL && p->conn_addrs != NULL;
    /* statement_timeout as a startup option only when the pool was asked to (a direct
       connection, prepared = true): a transaction-mode pooler (PgBouncer) refuses startup
       options and hands each transaction to any server connection, so there the request's own
       unit carries it as set_config(..., true) (src/http/req.c, docs/SCALING.md). */
    char opts[96];
    const char *keys[6], *vals[6];
    int k = 0;

    keys[k] = "dbname", vals[k++] = p->opts.conninfo;
    keys[k] = "application_name", vals[k++] = "db-adapter pool";
    if (p->opts.statement_timeout_ms > 0 || p->opts.read_only) {
        int n = 0;
        if (p->opts.statement_timeout_ms > 0)
            n = snprintf(opts, sizeof(opts), "-c statement_timeout=%d ",
                         p->opts.statement_timeout_ms);
        snprintf(opts + n, sizeof(opts) - (size_t)n, "%s",
                 p->opts.read_only ? "-c default_transaction_read_only=on" : "");
        keys[k] = "options", vals[k++] = opts;
    }
    if (by_addr) {
        keys[k] = "host", vals[k++] = p->conn_hosts;
        keys[k] = "hostaddr", vals[k++] = p->conn_addrs;
    }
    keys[k] = vals[k] = NULL;

    c->pg = PQconnectStartParams(keys, vals, 1);
    if (c->pg == NULL) {
        conn_fail(c, "connect");
        return;
    }
    conn_set_state(c, DB_CONN_CONNECTING);
    db_conn_log_attach(c); /* notices through our logger (conn_log.c) */
    if (PQstatus(c->pg) == CONNECTION_BAD ||
        conn_watch(c, EPOLLOUT) != DBA_OK) {
        conn_fail(c, "connect");
        return;
    }
}

static void
conn_connected(struct db_conn *c)
{
    struct dba_db_pool *p = c->pool;

    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        conn_fail(c, "setup");
        return;
    }
    p->stats.connects++;
    if (!p->healthy)
        db_pool_log_up(p); /* once per outage and profile (conn_log.c) */
    p->healthy = true;
    p->backoff_ms = 0;
    p->last_error[0] = '\0';
    if (conn_watch(c, EPOLLIN) != DBA_OK) {
        conn_fail(c, "watch");
        return;
    }
    conn_set_state(c, DB_CONN_IDLE);
    if (pool_retire_if_over(c))
        return;
    conn_dispatch(c);
}

static void
conn_poll_connect(struct db_conn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_OK:
        conn_connected(c);
        return;
    case PGRES_POLLING_READING:
        if (conn_watch(c, EPOLLIN) != DBA_OK)
            conn_fail(c, "connect");
        return;
    case PGRES_POLLING_WRITING:
        if (conn_watch(c, EPOLLOUT) != DBA_OK)
            conn_fail(c, "connect");
        return;
    case PGRES_POLLING_FAILED:
    case PGRES_POLLING_ACTIVE:
        conn_fail(c, "connect");
        return;
    }
}

/* Queues the job's statements into libpq's output buffer and flushes what it can. */
static int
conn_send(struct db_conn *c, struct dba_db_job *j)
{
    for (size_t i = 0; i < j->n_ops; i++) {
        struct db_op *op = &j->ops[i];
        int ok;
        switch (op->kind) {
        case DB_OP_PREPARE:
            ok = PQsendPrepare(c->pg, op->name, op->sql, 0, NULL);
            break;
        case DB_OP_EXEC_PREPARED:
            ok = PQsendQueryPrepared(c->pg, op->name, op->n_params, op->params, NULL, NULL, 0);
            break;
        case DB_OP_EXEC:
        default:
            ok = PQsendQueryParams(c->pg, op->sql, op->n_params, NULL, op->params, NULL, NULL, 0);
            break;
        }
        if (!ok)
            return DBA_EIO;
    }
    if (PQpipelineSync(c->pg) != 1)
        return DBA_EIO;
    c->pool->stats.round_trips++; /* one sync closes the unit: one round trip */
    int f = PQflush(c->pg);
    if (f < 0)
        return DBA_EIO;
    return conn_watch(c, f == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void
conn_run(struct db_conn *c, struct dba_db_job *j)
{
    j->conn = c;
    c->job = j;
    j->cur_op = 0;
    if (c->state != DB_CONN_BUSY) /* BUSY already: the clean-up ROLLBACK follows a job */
        conn_set_state(c, DB_CONN_BUSY);
    db_job_plan(c, j);
    if (conn_send(c, j) != DBA_OK)
        conn_fail(c, "send");
}

/* Hands the oldest waiting job to an idle connection. */
static void
conn_dispatch(struct db_conn *c)
{
    struct dba_db_pool *p = c->pool;
    struct dba_db_job *j = p->q_head;

    if (c->state != DB_CONN_IDLE || j == NULL)
        return;
    p->q_head = j->next;
    if (p->q_head == NULL)
        p->q_tail = NULL;
    p->n_waiting--;
    j->next = NULL;
    j->queued = false;
    conn_run(c, j);
}

/* Handles one result of the running job; returns true when the job's pipeline sync arrived. */
static bool
conn_take_result(struct db_conn *c, PGresult *r)
{
    struct dba_db_job *j = c->job;
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        return true;
    }
    struct db_op *op = j->cur_op < j->n_ops ? &j->ops[j->cur_op] : NULL;
    if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
        if (j->err_res == NULL)
            j->err_res = r;
        else
            PQclear(r);
        return false;
    }
    if (op != NULL && op->kind == DB_OP_PREPARE && st == PGRES_COMMAND_OK)
        db_stmt_cache_add(c, op->sql, op->name);
    if (op != NULL && op->kind != DB_OP_PREPARE && j->capture != NULL &&
        op->stmt_index == j->capture_index && !j->detached && st == PGRES_TUPLES_OK &&
        PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        snprintf(j->capture, DBA_DB_CAPTURE_LEN, "%s", PQgetvalue(r, 0, 0));
    if (op != NULL && op->kind != DB_OP_PREPARE && j->all != NULL &&
        j->all[op->stmt_index] == NULL) {
        j->all[op->stmt_index] = r;
        return false;
    }
    if (op != NULL && op->kind != DB_OP_PREPARE && op->stmt_index == j->result_index &&
        j->res == NULL)
        j->res = r;
    else if (op == NULL || op->kind == DB_OP_PREPARE || !db_job_keep(j, op->stmt_index, r))
        PQclear(r);
    return false;
}

static void
conn_job_done(struct db_conn *c)
{
    struct dba_db_pool *p = c->pool;
    struct dba_db_job *j = c->job;
    struct dba_err err;

    c->job = NULL;
    p->stats.queries++;
    if (j->cb_all != NULL) { /* held: the connection stays with the caller */
        bool failed = j->err_res != NULL;
        if (failed)
            dba_db_res_to_err(j->err_res, &err);
        PQclear(j->err_res);
        PQclear(j->res);
        c->held = j->held;
        j->held->conn = c;
        if (!j->detached)
            j->cb_all(j->arg, j->held, j->all, j->n_stmts, failed ? &err : NULL);
        else
            dba_db_held_release(j->held);
        free(j->all);
        free(j);
        return;
    }
    if (j->err_res != NULL) {
        dba_db_res_to_err(j->err_res, &err);
        PQclear(j->err_res);
        PQclear(j->res);
        job_finish(j, NULL, &err);
    } else {
        job_finish(j, j->res, NULL);
    }
    if (c->state != DB_CONN_BUSY)
        return; /* the callback closed the pool */
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        /* A job left a transaction open (e.g. BEGIN then an error): roll it back before reuse. */
        static const struct dba_db_stmt rb = { "ROLLBACK", NULL, 0 };
        struct dba_db_job *cj = db_job_new(p, &rb, 1, 0, dba_now_ms() + 5000, NULL, NULL);
        cj->detached = true;
        conn_run(c, cj);
        return;
    }
    conn_set_state(c, DB_CONN_IDLE);
    if (pool_retire_if_over(c))
        return; /* a shrink: this one goes now that its job is over */
    conn_dispatch(c);
}

static void
conn_read(struct db_conn *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_fail(c, "read");
        return;
    }
    while (c->job != NULL && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            c->job->cur_op++; /* end of one statement's results */
            continue;
        }
        if (conn_take_result(c, r)) {
            conn_job_done(c);
            return;
        }
    }
    if (c->job == NULL && c->state == DB_CONN_IDLE) {
        /* Notices or a server-side close while idle: detect a dead connection. */
        if (PQstatus(c->pg) == CONNECTION_BAD)
            conn_fail(c, "idle");
    }
}

static void
conn_on_io(void *arg, uint32_t events)
{
    struct db_conn *c = arg;

    switch (c->state) {
    case DB_CONN_CONNECTING:
        conn_poll_connect(c);
        return;
    case DB_CONN_BUSY:
        if (events & EPOLLOUT) {
            int f = PQflush(c->pg);
            if (f < 0 || conn_watch(c, f == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN) != DBA_OK) {
                conn_fail(c, "flush");
                return;
            }
        }
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            conn_read(c);
        return;
    case DB_CONN_IDLE:
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
            conn_fail(c, "idle connection lost");
            return;
        }
        PGnotify *n;
        while ((n = PQnotifies(c->pg)) != NULL)
            PQfreemem(n); /* the pool does not LISTEN; the schema keeper does */
        return;
    case DB_CONN_CLOSED:
        return;
    }
}

static struct db_conn *
pool_find(struct dba_db_pool *p, enum db_conn_state s)
{
    return p->conn_lists[s];
}

static int
pool_count(const struct dba_db_pool *p, enum db_conn_state s)
{
    return p->n_conns[s];
}

/* Opens connections for waiting jobs, or fails them when the database is down. */
static void
pool_pump(struct dba_db_pool *p)
{
    struct db_conn *c;

    pool_trim(p);
    while (p->q_head != NULL && (c = pool_find(p, DB_CONN_IDLE)) != NULL)
        conn_dispatch(c);
    int connecting = pool_count(p, DB_CONN_CONNECTING);
    int open = p->n_slots - pool_count(p, DB_CONN_CLOSED);
    if (p->q_head != NULL && connecting < p->n_waiting && open < p->opts.size &&
        dba_now_ms() >= p->next_connect_ms) {
        if (p->resolving != NULL)
            return; /* pool_on_resolved pumps again */
        if (pool_resolve_due(p)) {
            pool_resolve_start(p);
            return;
        }
        c = pool_find(p, DB_CONN_CLOSED);
        conn_connect_start(c);
        return;
    }
    if (p->q_head != NULL && open == 0 && dba_now_ms() < p->next_connect_ms) {
        struct dba_err err;
        db_err(&err, DBA_EIO, DBA_DB_ERR_UNAVAILABLE, "database connection error");
        dba_err_detail(&err, "%s", p->last_error);
        while (p->q_head != NULL) {
            struct dba_db_job *j = p->q_head;
            p->q_head = j->next;
            p->n_waiting--;
            p->stats.rejected++;
            job_finish(j, NULL, &err);
        }
        p->q_tail = NULL;
    }
}

#define POOL_DNS_TTL_MS 15000 /* a resolved address is used this long (pgbouncer dns_max_ttl) */
#define POOL_DNS_MAX 16         /* addresses kept per name */

/* One lookup, shared by the pool (until it reads the answer or goes away) and the thread. */
struct db_resolve {
    atomic_int refs;    /* pool + thread */
    int efd;            /* eventfd the thread signals when done */
    char *name;         /* the host name (owned) */
    char *addrs;        /* "a,b,..." (owned), or NULL on failure */
    char *hosts;        /* "name,name,..." matching addrs (owned) */
    char error[160];    /* why the lookup failed */
};

static void
resolve_unref(struct db_resolve *rs)
{
    if (atomic_fetch_sub(&rs->refs, 1) != 1)
        return;
    close(rs->efd);
    free(rs->name);
    free(rs->addrs);
    free(rs->hosts);
    free(rs);
}

/* Resolver thread: the blocking getaddrinfo, off every loop. */
static void *
resolve_main(void *arg)
{
    struct db_resolve *rs = arg;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(rs->name, NULL, &hints, &res);

    if (rc != 0) {
        snprintf(rs->error, sizeof(rs->error), "could not translate host name \"%s\" to "
                 "address: %s", rs->name, gai_strerror(rc));
    } else {
        struct dba_buf a, h;
        int n = 0;
        dba_buf_init(&a);
        dba_buf_init(&h);
        for (struct addrinfo *ai = res; ai != NULL && n < POOL_DNS_MAX; ai = ai->ai_next) {
            char text[INET6_ADDRSTRLEN];
            const void *addr = ai->ai_family == AF_INET6
                ? (const void *)&((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr
                : (const void *)&((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
            if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                inet_ntop(ai->ai_family, addr, text, sizeof(text)) == NULL)
                continue;
            dba_buf_printf(&a, "%s%s", n ? "," : "", text);
            dba_buf_printf(&h, "%s%s", n ? "," : "", rs->name);
            n++;
        }
        if (n > 0) {
            rs->addrs = dba_buf_take(&a);
            rs->hosts = dba_buf_take(&h);
        } else {
            dba_buf_cleanup(&a);
            dba_buf_cleanup(&h);
            snprintf(rs->error, sizeof(rs->error), "host name \"%s\" has no address", rs->name);
        }
        freeaddrinfo(res);
    }
    uint64_t one = 1;
    if (write(rs->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        dba_log(DBA_LOG_ERROR, "resolver: cannot signal the pool");
    resolve_unref(rs);
    return NULL;
}

static bool
pool_resolve_due(const struct dba_db_pool *p)
{
    return p->host != NULL && (p->conn_addrs == NULL || p->resolve_again ||
                               dba_now_ms() - p->resolved_ms >= POOL_DNS_TTL_MS);
}

/* Loop: the lookup ended; keep its answer (or back off as after a failed connect), then pump. */
static void
pool_on_resolved(void *arg, uint32_t events)
{
    struct dba_db_pool *p = arg;
    struct db_resolve *rs = p->resolving;
    uint64_t v;

    DBA_UNUSED(events);
    if (read(rs->efd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return; /* spurious */
    dba_loop_io_del(p->loop, &p->resolve_io);
    p->resolving = NULL;
    if (rs->addrs != NULL) {
        free(p->conn_addrs);
        free(p->conn_hosts);
        p->conn_addrs = rs->addrs;
        p->conn_hosts = rs->hosts;
        rs->addrs = rs->hosts = NULL;
        p->resolved_ms = dba_now_ms();
        p->resolve_again = false;
    } else {
        p->stats.errors++;
        dba_log(DBA_LOG_WARN, "pool %s: %s", p->opts.name, rs->error);
        snprintf(p->last_error, sizeof(p->last_error), "%s", rs->error);
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : 100;
        if (p->backoff_ms > 5000)
            p->backoff_ms = 5000;
        p->next_connect_ms = dba_now_ms() + p->backoff_ms;
        p->healthy = false;
    }
    resolve_unref(rs);
    pool_pump(p);
}

static void
pool_resolve_start(struct dba_db_pool *p)
{
    struct db_resolve *rs = dba_xcalloc(1, sizeof(*rs));
    pthread_attr_t attr;
    pthread_t th;

    atomic_init(&rs->refs, 2);
    rs->name = dba_xstrdup(p->host);
    rs->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rs->efd < 0 ||
        dba_loop_io_add(p->loop, &p->resolve_io, rs->efd, EPOLLIN, pool_on_resolved, p) != DBA_OK) {
        dba_log(DBA_LOG_ERROR, "pool %s: cannot watch a host name lookup", p->opts.name);
        if (rs->efd < 0)
            rs->efd = eventfd(0, EFD_CLOEXEC); /* something for resolve_unref to close */
        atomic_store(&rs->refs, 1);
        resolve_unref(rs);
        p->next_connect_ms = dba_now_ms() + 1000;
        return;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, resolve_main, rs) != 0) {
        pthread_attr_destroy(&attr);
        dba_loop_io_del(p->loop, &p->resolve_io);
        dba_log(DBA_LOG_ERROR, "pool %s: cannot start a host name lookup", p->opts.name);
        atomic_store(&rs->refs, 1);
        resolve_unref(rs);
        p->next_connect_ms = dba_now_ms() + 1000;
        return;
    }
    pthread_attr_destroy(&attr);
    p->resolving = rs;
}

/* The one host name of the conninfo that the pool resolves itself: not a socket directory, not an
   address, not a list (libpq then resolves; lists are rare behind a pooler), no hostaddr given. */
static void
pool_parse_host(struct dba_db_pool *p)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(p->opts.conninfo, &errmsg);
    const char *host = NULL;
    bool has_addr = false;

    PQfreemem(errmsg);
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "host") == 0 && o->val != NULL && o->val[0] != '\0')
            host = o->val;
        if (strcmp(o->keyword, "hostaddr") == 0 && o->val != NULL && o->val[0] != '\0')
            has_addr = true;
    }
    unsigned char buf[sizeof(struct in6_addr)];
    if (host != NULL && !has_addr && host[0] != '/' && host[0] != '@' &&
        strchr(host, ',') == NULL && inet_pton(AF_INET, host, buf) != 1 &&
        inet_pton(AF_INET6, host, buf) != 1)
        p->host = dba_xstrdup(host);
    PQconninfoFree(opts);
}

/* Adds n closed slots (their connections open as jobs wait). */
static void
pool_add_slots(struct dba_db_pool *p, int n)
{
    for (int i = 0; i < n; i++) {
        struct db_conn *c = dba_xcalloc(1, sizeof(*c));
        c->pool = p;
        c->id = p->next_id++;
        c->io.fd = -1;
        c->state = DB_CONN_CLOSED;
        /* appended, so slot 0 stays first on the list */
        struct db_conn **pp = &p->conn_lists[DB_CONN_CLOSED];
        struct db_conn *last = NULL;
        while (*pp != NULL) {
            last = *pp;
            pp = &last->next;
        }
        c->prev = last;
        *pp = c;
        p->n_conns[DB_CONN_CLOSED]++;
        p->n_slots++;
    }
}

/* Takes slot c (no job, not held) out of the pool: its connection closes now, the slot is freed
   by the next tick. */
static void
pool_retire(struct db_conn *c)
{
    struct dba_db_pool *p = c->pool;

    DBA_ASSERT(c->job == NULL && c->held == NULL);
    conn_close(c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        p->conn_lists[DB_CONN_CLOSED] = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    p->n_conns[DB_CONN_CLOSED]--;
    p->n_slots--;
    c->prev = NULL;
    c->next = p->retired;
    p->retired = c;
}

/* After a shrink: c, just released (idle), goes when the pool is still over its size. */
static bool
pool_retire_if_over(struct db_conn *c)
{
    struct dba_db_pool *p = c->pool;

    if (p->n_slots <= p->opts.size)
        return false;
    dba_log(DBA_LOG_DEBUG, "pool %s conn %d: closed on release (pool size %d)", p->opts.name, c->id,
            p->opts.size);
    pool_retire(c);
    return true;
}

/* Over the size after a shrink: take out closed slots, then idle connections, then connections
   still being opened (none runs a query); busy and held ones go when released. */
static void
pool_trim(struct dba_db_pool *p)
{
    static const enum db_conn_state order[] = { DB_CONN_CLOSED, DB_CONN_IDLE,
                                                DB_CONN_CONNECTING };

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && p->n_slots > p->opts.size; i++)
        while (p->n_slots > p->opts.size && p->conn_lists[order[i]] != NULL)
            pool_retire(p->conn_lists[order[i]]);
}

static void
pool_free_retired(struct dba_db_pool *p)
{
    while (p->retired != NULL) {
        struct db_conn *c = p->retired;
        p->retired = c->next;
        free(c);
    }
}

int
dba_db_pool_resize(struct dba_db_pool *p, int size, int queue_limit)
{
    int old = p->opts.size;

    if (size < 1)
        size = 1;
    if (queue_limit >= 0)
        p->opts.queue_limit = queue_limit;
    if (size == old || p->closed)
        return old;
    p->opts.size = size;
    if (size > p->n_slots)
        pool_add_slots(p, size - p->n_slots);
    pool_pump(p); /* a shrink trims; a growth opens connections for jobs already waiting */
    return old;
}

struct dba_db_pool *
dba_db_pool_new(struct dba_loop *loop, const struct dba_db_pool_opts *o)
{
    struct dba_db_pool *p = dba_xcalloc(1, sizeof(*p));

    p->loop = loop;
    p->opts = *o;
    p->opts.name = dba_xstrdup(o->name ? o->name : "default");
    p->opts.conninfo = dba_xstrdup(o->conninfo);
    if (p->opts.size < 1)
        p->opts.size = 1;
    pool_parse_host(p);
    p->resolve_io.fd = -1;
    p->healthy = true;
    pool_add_slots(p, p->opts.size);
    p->done_io.fd = -1;
    p->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->done_efd < 0 ||
        dba_loop_io_add(loop, &p->done_io, p->done_efd, EPOLLIN, pool_on_done, p) != DBA_OK)
        dba_fatal("pool %s: cannot create its completion eventfd", p->opts.name);
    return p;
}

void
dba_db_pool_free(struct dba_db_pool *p)
{
    if (p == NULL)
        return;
    dba_db_pool_close(p);
    if (p->resolving != NULL) {
        dba_loop_io_del(p->loop, &p->resolve_io);
        resolve_unref(p->resolving); /* the thread frees it when its lookup ends */
    }
    dba_loop_io_del(p->loop, &p->done_io);
    close(p->done_efd);
    free(p->host);
    free(p->conn_hosts);
    free(p->conn_addrs);
    while (p->conn_lists[DB_CONN_CLOSED] != NULL) { /* closed by dba_db_pool_close: all here */
        struct db_conn *c = p->conn_lists[DB_CONN_CLOSED];
        p->conn_lists[DB_CONN_CLOSED] = c->next;
        free(c);
    }
    pool_free_retired(p);
    free((char *)(uintptr_t)p->opts.name);
    free((char *)(uintptr_t)p->opts.conninfo);
    free(p);
}

void
dba_db_pool_close(struct dba_db_pool *p)
{
    struct dba_err err;

    p->closed = true;
    pool_deliver_done(p); /* completed before the close: they keep their outcome */
    db_err(&err, DBA_EIO, DBA_DB_ERR_SHUTDOWN, "server shutting down");
    while (p->q_head != NULL) {
        struct dba_db_job *j = p->q_head;
        p->q_head = j->next;
        job_finish(j, NULL, &err);
    }
    p->q_tail = NULL;
    p->n_waiting = 0;
    for (;;) {
        /* Each turn closes one; a callback below may move others: look again at the lists. */
        struct db_conn *c = p->conn_lists[DB_CONN_BUSY];
        if (c == NULL)
            c = p->conn_lists[DB_CONN_IDLE];
        if (c == NULL)
            c = p->conn_lists[DB_CONN_CONNECTING];
        if (c == NULL)
            break;
        struct dba_db_job *j = c->job;
        c->job = NULL;
        if (c->held != NULL) { /* its holder finds it lost */
            c->held->conn = NULL;
            c->held = NULL;
        }
        conn_close(c);
        if (j != NULL) {
            PQclear(j->res);
            PQclear(j->err_res);
            j->res = NULL;
            job_finish(j, NULL, &err);
        }
    }
}

void
dba_db_pool_stats_get(const struct dba_db_pool *p, struct dba_db_pool_stats *out)
{
    *out = p->stats;
    out->size = p->opts.size;
    out->idle = pool_count(p, DB_CONN_IDLE);
    out->busy = pool_count(p, DB_CONN_BUSY);
    out->open = p->n_slots - pool_count(p, DB_CONN_CLOSED);
    out->waiting = p->n_waiting;
    out->healthy = p->healthy;
    out->replay_lsn = p->replay_lsn;
}

bool
dba_db_pool_healthy(const struct dba_db_pool *p)
{
    return p->healthy;
}

uint64_t
dba_db_pool_replay_lsn(const struct dba_db_pool *p)
{
    return p->replay_lsn;
}

/* Up to 8 hex digits, ending at stop; the value in *out, the end in *end. */
static bool
lsn_half(const char *s, char stop, uint32_t *out, const char **end)
{
    uint32_t v = 0;
    int n = 0;

    for (; *s != stop; s++, n++) {
        int d = *s >= '0' && *s <= '9'   ? *s - '0'
                : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
                : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                                         : -1;
        if (d < 0 || n == 8)
            return false;
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    *end = s;
    return n > 0;
}

bool
dba_db_lsn_parse(const char *s, uint64_t *out)
{
    uint32_t hi, lo;
    const char *end;

    if (s == NULL || !lsn_half(s, '/', &hi, &end) || !lsn_half(end + 1, '\0', &lo, &end))
        return false;
    *out = ((uint64_t)hi << 32) | lo;
    return true;
}

/* The replay poll of a replica pool: its answer is the position reads may count on. */
static void
pool_on_replay(void *arg, PGresult *res, const struct dba_err *err)
{
    struct dba_db_pool *p = arg;
    uint64_t lsn;

    p->polling = false;
    if (res == NULL && err != NULL && err->kind != DBA_DB_ERR_SHUTDOWN)
        p->healthy = false; /* out until a connect succeeds again (the poll retries, backing off) */
    if (res != NULL && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) &&
        dba_db_lsn_parse(PQgetvalue(res, 0, 0), &lsn))
        p->replay_lsn = lsn;
    else if (res != NULL)
        p->replay_lsn = 0; /* not in recovery (promoted?): no read-your-writes guarantee here */
    PQclear(res);
}

static void
pool_poll_replay(struct dba_db_pool *p, int64_t now_ms)
{
    static const struct dba_db_stmt poll = { "SELECT pg_last_wal_replay_lsn()", NULL, 0 };
    struct dba_err err;

    if (!p->opts.replica || p->polling || p->closed || now_ms < p->next_poll_ms)
        return;
    p->next_poll_ms = now_ms + DBA_DB_REPLAY_POLL_MS;
    if (dba_db_query(p, &poll, 1, 0, now_ms + 2000, pool_on_replay, p, NULL,
                     &err) == DBA_EAGAIN)
        p->polling = true;
}

void
dba_db_pool_tick(struct dba_db_pool *p, int64_t now_ms)
{
    struct dba_err err;

    pool_free_retired(p); /* outside the loop's dispatch: no event can name them any more */
    db_err(&err, DBA_ETIMEOUT, DBA_DB_ERR_QUEUE_DEADLINE, "timed out waiting for the database");
    for (struct dba_db_job **pp = &p->q_head; *pp != NULL;) {
        struct dba_db_job *j = *pp;
        if (j->deadline_ms > now_ms) {
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        p->n_waiting--;
        p->stats.timeouts++;
        job_finish(j, NULL, &err);
    }
    p->q_tail = NULL;
    for (struct dba_db_job *j = p->q_head; j != NULL; j = j->next)
        p->q_tail = j;
    for (;;) {
        /* A callback may move any connection: look again from the head after each cut. */
        struct db_conn *c = p->conn_lists[DB_CONN_BUSY];
        while (c != NULL && (c->job == NULL || c->job->deadline_ms > now_ms))
            c = c->next;
        if (c == NULL)
            break;
        /* No non-blocking cancel in libpq 15: drop the connection; a new one replaces it. */
        struct dba_db_job *j = c->job;
        c->job = NULL;
        conn_close(c);
        p->stats.timeouts++;
        db_err(&err, DBA_ETIMEOUT, DBA_DB_ERR_RUN_DEADLINE,
               "canceling statement due to request timeout");
        PQclear(j->res);
        PQclear(j->err_res);
        j->res = NULL;
        job_finish(j, NULL, &err);
    }
    pool_pump(p);
    pool_poll_replay(p, now_ms);
}

/* Admission (dba_db_query's contract): DBA_OK, or the refusal in err. */
static int
pool_admit(struct dba_db_pool *p, struct dba_err *err)
{
    int open = p->n_slots - pool_count(p, DB_CONN_CLOSED);

    if (p->closed) {
        db_err(err, DBA_EIO, DBA_DB_ERR_SHUTDOWN, "server shutting down");
        return DBA_EIO;
    }
    if (open == 0 && dba_now_ms() < p->next_connect_ms) {
        p->stats.rejected++;
        db_err(err, DBA_EIO, DBA_DB_ERR_UNAVAILABLE, "database connection error");
        dba_err_detail(err, "%s", p->last_error);
        return DBA_EIO;
    }
    if (p->n_waiting >= p->opts.queue_limit && pool_find(p, DB_CONN_IDLE) == NULL) {
        p->stats.rejected++;
        db_err(err, DBA_EBUSY, DBA_DB_ERR_QUEUE_FULL,
               "too many requests waiting for a database connection");
        return DBA_EBUSY;
    }
    return DBA_OK;
}

/* Runs an admitted job on an idle connection, or queues it. */
static void
pool_start(struct dba_db_pool *p, struct dba_db_job *j)
{
    p->submitting++; /* from here on, a completion is deferred to the loop */
    struct db_conn *c = pool_find(p, DB_CONN_IDLE);
    if (c != NULL && p->q_head == NULL) {
        conn_run(c, j);
    } else {
        j->queued = true;
        if (p->q_tail != NULL)
            p->q_tail->next = j;
        else
            p->q_head = j;
        p->q_tail = j;
        p->n_waiting++;
        pool_pump(p);
    }
    p->submitting--;
}

int
dba_db_query(struct dba_db_pool *p, const struct dba_db_stmt *stmts, size_t n, size_t result_index,
             int64_t deadline_ms, dba_db_result_cb cb, void *arg, struct dba_db_job **jobp,
             struct dba_err *err)
{
    int rc = pool_admit(p, err);

    if (rc != DBA_OK)
        return rc;
    struct dba_db_job *j = db_job_new(p, stmts, n, result_index, deadline_ms, cb, arg);
    if (jobp != NULL)
        *jobp = j;
    pool_start(p, j);
    return DBA_EAGAIN;
}

int
dba_db_query_held(struct dba_db_pool *p, struct dba_db_held *held,
                  const struct dba_db_stmt *stmts, size_t n, int64_t deadline_ms,
                  dba_db_results_cb cb, void *arg, struct dba_db_job **jobp, struct dba_err *err)
{
    if (held == NULL) {
        int rc = pool_admit(p, err);
        if (rc != DBA_OK)
            return rc;
        struct dba_db_job *j = db_job_new(p, stmts, n, 0, deadline_ms, NULL, arg);
        j->cb_all = cb;
        j->all = dba_xcalloc(n ? n : 1, sizeof(*j->all));
        j->held = dba_xcalloc(1, sizeof(*j->held));
        if (jobp != NULL)
            *jobp = j;
        pool_start(p, j);
        return DBA_EAGAIN;
    }
    struct db_conn *c = held->conn;
    if (c == NULL || p->closed || c->job != NULL) {
        db_err(err, DBA_EIO, DBA_DB_ERR_LOST, "database connection lost");
        return DBA_EIO;
    }
    struct dba_db_job *j = db_job_new(p, stmts, n, 0, deadline_ms, NULL, arg);
    j->cb_all = cb;
    j->all = dba_xcalloc(n ? n : 1, sizeof(*j->all));
    j->held = held;
    c->held = NULL; /* the job holds it now */
    held->conn = NULL;
    if (jobp != NULL)
        *jobp = j;
    p->submitting++;
    conn_run(c, j);
    p->submitting--;
    return DBA_EAGAIN;
}

void
dba_db_held_release(struct dba_db_held *held)
{
    struct db_conn *c = held->conn;

    free(held);
    if (c == NULL)
        return;
    struct dba_db_pool *p = c->pool;
    c->held = NULL;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        static const struct dba_db_stmt rb = { "ROLLBACK", NULL, 0 };
        struct dba_db_job *cj = db_job_new(p, &rb, 1, 0, dba_now_ms() + 5000, NULL, NULL);
        cj->detached = true;
        conn_run(c, cj);
        return;
    }
    conn_set_state(c, DB_CONN_IDLE);
    if (pool_retire_if_over(c))
        return;
    conn_dispatch(c);
}

void
dba_db_job_capture(struct dba_db_job *j, size_t stmt_index, char *buf)
{
    j->capture = buf;
    j->capture_index = stmt_index;
}

void
dba_db_job_detach(struct dba_db_job *j)
{
    struct dba_db_pool *p = j->pool;

    if (!j->queued) {
        /* running: the connection finishes it and is reused; completed and not yet delivered
           (done): pool_deliver_done frees it */
        j->detached = true;
        return;
    }
    for (struct dba_db_job **pp = &p->q_head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    p->q_tail = NULL;
    for (struct dba_db_job *k = p->q_head; k != NULL; k = k->next)
        p->q_tail = k;
    p->n_waiting--;
    free(j);
}

void
dba_db_pool_stats_add(struct dba_db_pool_stats *sum, const struct dba_db_pool_stats *st)
{
    sum->size += st->size;
    sum->open += st->open;
    sum->idle += st->idle;
    sum->busy += st->busy;
    sum->waiting += st->waiting;
    sum->connects += st->connects;
    sum->errors += st->errors;
    sum->queries += st->queries;
    sum->round_trips += st->round_trips;
    sum->timeouts += st->timeouts;
    sum->rejected += st->rejected;
}
