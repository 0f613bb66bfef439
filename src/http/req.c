/* req.c - the request state machine. MHD calls the access handler several times per request;
   each call is one step (req_step): record the request, collect the body, route it (router.c),
   suspend while a database job or a background task runs, then let the handler's finish callback
   queue the response (response.c). Also the request's unit of work: the statements sent to
   PostgreSQL for it in one round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"


const char *
dba__http_header(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, name);
}

struct header_join {
    const char *name;   /* header wanted */
    struct dba_buf b;   /* values joined */
};

static enum MHD_Result
header_join_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct header_join *hj = cls;

    DBA_UNUSED(kind);
    if (strcasecmp(key, hj->name) == 0 && value != NULL) {
        if (hj->b.len > 0)
            dba_buf_puts(&hj->b, ", ");
        dba_buf_puts(&hj->b, value);
    }
    return MHD_YES;
}

const char *
dba__http_header_all(struct req *r, const char *name)
{
    struct header_join hj = { .name = name };

    dba_buf_init(&hj.b);
    MHD_get_connection_values(r->mc, MHD_HEADER_KIND, header_join_cb, &hj);
    const char *out = hj.b.data ? dba_arena_strndup(r->a, hj.b.data, hj.b.len) : NULL;
    dba_buf_cleanup(&hj.b);
    return out;
}

const char *
dba__http_query(struct req *r, const char *name)
{
    const char *s = r->raw_query;

    while (*s != '\0') {
        size_t n = strcspn(s, "&");
        const char *eq = memchr(s, '=', n);
        if (eq != NULL) {
            char *k = dba_arena_strndup(r->a, s, (size_t)(eq - s));
            size_t kn = dba_url_decode(k, k, strlen(k), true);
            if (kn == strlen(name) && strcmp(k, name) == 0) {
                char *v = dba_arena_strndup(r->a, eq + 1, n - (size_t)(eq - s) - 1);
                dba_url_decode(v, v, strlen(v), true);
                return v;
            }
        }
        s += n;
        if (*s == '&')
            s++;
    }
    return NULL;
}

bool
dba__http_query_flag(struct req *r, const char *name, bool *out)
{
    const char *v = dba__http_query(r, name);

    *out = v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
    return v == NULL || *out || strcmp(v, "false") == 0 || strcmp(v, "0") == 0;
}

void *
dba__http_on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    struct req *r = dba_xcalloc(1, sizeof(*r));
    char *q = strchr(uri, '?');

    r->w = cls;
    r->mc = mc;
    r->live = dba__http_live_pin(r->w);
    r->seq = ++r->w->n_seq;
    r->a = dba_arena_new();
    r->raw_query = dba_arena_strdup(r->a, q ? q + 1 : "");
    /* MHD (0.9.x) found the '?' before calling us and next splits the query into one record per
       parameter in the connection's fixed memory pool: a 16 KB query of short parameters fills
       it and the client gets an empty reply. The grammar and dba__http_query read our
       copy, so MHD is left an empty query to split (its own buffer, which it parses in place;
       the pointer it hands us is const only by declaration). */
    if (q != NULL && q[1] != '\0')
        q[1] = '\0';
    /* MHD decodes the path into a C string, so "%00" would silently cut it: remember it. */
    for (const char *p = uri; *p != '\0' && p != q; p++)
        if (p[0] == '%' && p[1] == '0' && p[2] == '0')
            r->path_has_nul = true;
    r->start_ms = dba_now_ms();
    r->start_us = dba_now_us();
    dba_buf_init(&r->body);
    return r;
}


static void on_job_done(void *arg, struct pg_result *res, const struct dba_err *err);

/* Sends r's statements to the pool dba__http_pick_pool chose; DBA_EAGAIN or refused (r->err). */
static int
req_send(struct req *r, bool replica_ok)
{
    struct dba_db_pool *pool = dba__http_pick_pool(r, replica_ok);
    int rc = dba_db_query(pool, r->sent, r->sent_n, r->sent_result, r->pol.deadline_ms,
                          on_job_done, r, &r->job, &r->err);
    if (rc != DBA_EAGAIN && dba__http_replica_retry(r, &r->err)) {
        r->retried = true; /* the replica refused at once: the primary */
        rc = dba_db_query(r->w->pool, r->sent, r->sent_n, r->sent_result, r->pol.deadline_ms,
                          on_job_done, r, &r->job, &r->err);
        r->on_replica = false;
    }
    return rc;
}

static void
on_job_done(void *arg, struct pg_result *res, const struct dba_err *err)
{
    struct req *r = arg;

    dba_db_res_clear(r->aux); /* a previous job's */
    r->aux = dba_db_job_take_aux(r->job);
    r->job = NULL;
    if (res == NULL && dba__http_replica_retry(r, err)) {
        /* The replica failed the read for a reason of its own: the primary answers it. */
        r->retried = true;
        r->on_replica = false;
        r->lsn[0] = '\0';
        if (dba_db_query(r->w->pool, r->sent, r->sent_n, r->sent_result, r->pol.deadline_ms,
                         on_job_done, r, &r->job, &r->err) == DBA_EAGAIN)
            return;
        err = &r->err;
    }
    r->res = res;
    r->failed = res == NULL;
    r->t_us[REQ_T_RESULT] = dba_now_us();
    if (res == NULL)
        r->err = *err;
    r->state = REQ_READY;
    /* dba_db_query never completes before it returns: the connection was suspended by
       http_submit; wake it so finish() runs. */
    r->w->inflight--;
    MHD_resume_connection(r->mc);
    r->w->mhd_due = true;
}

static enum MHD_Result
http_submit(struct req *r, const struct dba_db_stmt *stmts, size_t n, size_t result_index,
            req_finish_cb finish, bool replica_ok, size_t capture_index)
{
    r->finish = finish;
    r->state = REQ_WAITING;
    r->t_us[REQ_T_SENT] = dba_now_us();
    r->sent = stmts;
    r->sent_n = n;
    r->sent_result = result_index;
    int rc = req_send(r, replica_ok);
    if (rc == DBA_EAGAIN && capture_index < n)
        dba_db_job_capture(r->job, capture_index, r->lsn);
    if (rc != DBA_EAGAIN) {
        r->job = NULL;
        r->state = REQ_ANSWERED;
        return dba__http_send_err(r, &r->err);
    }
    /* ops: the request id on the engine's lines about this job (notices); at debug the SQL. */
    char rid[80];
    dba__http_request_id(r, rid, sizeof(rid));
    dba_db_job_set_tag(r->job, rid);
    if (DBA_LOG_DEBUG <= dba_log_level_current)
        dba__http_log_statements(r, stmts, n);
    r->w->inflight++;
    MHD_suspend_connection(r->mc);
    return MHD_YES;
}

enum MHD_Result
dba__http_run(struct req *r, const char *sql, const char *const *params, int n_params,
              req_finish_cb finish)
{
    struct dba_db_stmt *st = dba_arena_alloc(r->a, sizeof(*st));

    *st = (struct dba_db_stmt){ sql, params, n_params };
    return http_submit(r, st, 1, 0, finish, false, SIZE_MAX);
}

static void
unit_add(struct req *r, const char *sql, const char *const *params, int n_params)
{
    struct req_unit *u = &r->unit;

    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 6;
        struct dba_db_stmt *v = dba_arena_alloc(r->a, cap * sizeof(*v));
        if (u->n > 0)
            memcpy(v, u->stmts, u->n * sizeof(*v));
        u->stmts = v;
        u->cap = cap;
    }
    u->stmts[u->n++] = (struct dba_db_stmt){ sql, params, n_params };
}

void
dba__http_unit_begin(struct req *r, enum req_iso iso, bool read_only)
{
    /* Fixed texts, so that each is prepared once per connection. */
    static const char *const begin[][2] = {
        [REQ_ISO_DEFAULT] = { "BEGIN", "BEGIN READ ONLY" },
        [REQ_ISO_READ_COMMITTED] = { "BEGIN ISOLATION LEVEL READ COMMITTED",
                                     "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY" },
        [REQ_ISO_REPEATABLE_READ] = { "BEGIN ISOLATION LEVEL REPEATABLE READ",
                                      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" },
        [REQ_ISO_SERIALIZABLE] = { "BEGIN ISOLATION LEVEL SERIALIZABLE",
                                   "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY" },
    };

    DBA_ASSERT(r->unit.n == 0);
    /* A read-only profile: every unit is READ ONLY. When the sessions are not read-only by
       default (no startup options: a transaction-mode pooler) it also keeps its BEGIN, so not
       even a function called by a read writes. */
    if (r->pol.read_only) {
        read_only = true;
        r->unit.keep_tx = !r->pol.profile->prepared_statements;
    }
    unit_add(r, begin[iso][read_only ? 1 : 0], NULL, 0);
    r->unit.tx = true;
    r->unit.read_only = read_only;
    /* Behind a pooler statement_timeout travels in the unit (SET LOCAL through set_config): in
       the identity statement when there is one (policy.c), else in a statement of its own - no
       extra round trip either way. */
    const char *ms = dba__http_unit_timeout(r);
    if (ms != NULL && r->live->auth == NULL) {
        const char **p = dba_arena_alloc(r->a, sizeof(*p));
        p[0] = ms;
        unit_add(r, "SELECT set_config('statement_timeout', $1, true)", p, 1);
        r->unit.n_pre = 1;
    }
}

void
dba__http_unit_pool_opts(const struct dba_profile *p, struct dba_db_pool_opts *po)
{
    bool at_startup = p->prepared_statements;

    po->statement_timeout_ms = at_startup ? p->statement_timeout_ms : 0;
    po->read_only = at_startup && p->read_only;
}

const char *
dba__http_unit_timeout(struct req *r)
{
    const struct dba_profile *p = r->pol.profile;

    if (p->prepared_statements || p->statement_timeout_ms <= 0)
        return NULL;
    return dba_arena_printf(r->a, "%d", p->statement_timeout_ms);
}

void
dba__http_unit_set(struct req *r, const char *name, const char *value)
{
    const char **p = dba_arena_alloc(r->a, 2 * sizeof(*p));

    DBA_ASSERT(r->unit.tx && !r->unit.has_main);
    p[0] = name;
    p[1] = value;
    unit_add(r, "SELECT set_config($1, $2, true)", p, 2);
}

void
dba__http_unit_setup(struct req *r, const char *sql, const char *const *params, int n_params)
{
    DBA_ASSERT(r->unit.tx && !r->unit.has_main);
    unit_add(r, sql, params, n_params);
}

void
dba__http_unit_main(struct req *r, const char *sql, const char *const *params, int n_params)
{
    DBA_ASSERT(!r->unit.has_main);
    r->unit.result_index = r->unit.n;
    r->unit.has_main = true;
    unit_add(r, sql, params, n_params);
}

void
dba__http_unit_aux(struct req *r, const char *sql, const char *const *params, int n_params)
{
    DBA_ASSERT(r->unit.has_main && !r->unit.has_aux);
    r->unit.aux_index = r->unit.n;
    r->unit.has_aux = true;
    unit_add(r, sql, params, n_params);
}

enum MHD_Result
dba__http_unit_run(struct req *r, req_finish_cb finish)
{
    struct req_unit *u = &r->unit;

    DBA_ASSERT(u->has_main);
    /* A plain read (READ ONLY, no setting, ending in COMMIT) is sent as its statement alone:
       one statement is its own transaction. Measured on a one-row read by primary key: BEGIN
       READ ONLY + COMMIT cost ~13% more at PostgreSQL (pgbench, pipelined, prepared) and ~5%
       more CPU per HTTP request (gateway + PostgreSQL, wrk). */
    /* Behind a pooler, the statement_timeout set_config and the statement go without
       BEGIN/COMMIT: the statements of one pipeline sync run as one implicit transaction, so
       SET LOCAL holds. With a direct connection the timeout is a startup option: one statement. */
    /* A read-only unit may go to a replica (replicas.c); the rest goes to the primary. */
    bool replica_ok = u->tx && u->read_only;
    if (u->tx && u->read_only && u->n == 2 + u->n_pre && !r->pol.tx_rollback && !u->keep_tx)
        return http_submit(r, &u->stmts[1], 1 + u->n_pre, u->n_pre, finish, replica_ok,
                           SIZE_MAX);
    size_t capture = SIZE_MAX;
    if (u->tx && r->pol.tx_rollback) {
        /* As PostgREST: deferred constraints are checked before the rollback, so their errors
           still reach the client. */
        unit_add(r, "SET CONSTRAINTS ALL IMMEDIATE", NULL, 0);
        unit_add(r, "ROLLBACK", NULL, 0);
    } else if (u->tx) {
        unit_add(r, "COMMIT", NULL, 0);
        /* With replicas, a write answers the primary's WAL position after its commit (X-Db-Lsn),
           read in the same round trip, for read-your-writes (X-Db-Min-Lsn). */
        if (!u->read_only && r->w->n_replicas > 0) {
            capture = u->n;
            unit_add(r, "SELECT pg_current_wal_insert_lsn()", NULL, 0);
        }
    }
    return http_submit(r, u->stmts, u->n,
                       u->has_aux ? DBA_DB_WITH_AUX(u->result_index, u->aux_index)
                                  : u->result_index,
                       finish, replica_ok, capture);
}


/* One step of the request's state machine (see enum req_state). Returns what the access handler
   returns to MHD: MHD_YES after queueing a response, collecting a body chunk or suspending. */
static enum MHD_Result
req_step(struct req *r, const char *upload, size_t *upload_size)
{
    switch (r->state) {
    case REQ_NEW:
        r->state = REQ_READING; /* headers seen; the body (if any) comes next */
        return MHD_YES;
    case REQ_READING:
        if (*upload_size > 0) {
            if (dba__http_spool_chunk(r, upload, *upload_size)) {
                *upload_size = 0;
                return MHD_YES;
            }
            size_t max = (size_t)r->w->srv->cfg->server.max_body_bytes;
            if (max > 0 && r->body.len + *upload_size > max)
                r->body_too_big = true;
            else
                dba_buf_append(&r->body, upload, *upload_size);
            *upload_size = 0;
            return MHD_YES;
        }
        r->state = REQ_ANSWERED; /* unless the handler suspends (REQ_WAITING) */
        enum MHD_Result ret;
        if (!dba__http_spool_end(r, &ret))
            return ret;
        if (r->body_too_big)
            return dba__http_error(r, 413, "DBA413", "request body too large", NULL,
                                   "Raise server.max_body_bytes or send fewer rows per request.");
        return dba__http_route(r);
    case REQ_WAITING:
        return MHD_YES;
    case REQ_READY:
        r->state = REQ_ANSWERED; /* unless finish starts another job */
        return r->finish(r);
    case REQ_ANSWERED:
        break;
    }
    return MHD_YES;
}

enum MHD_Result
dba__http_on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                     const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct req *r = *con_cls;

    DBA_UNUSED(version);
    if (r == NULL) {
        r = dba__http_on_uri(cls, url, mc);
        *con_cls = r;
    }
    if (r->state == REQ_NEW) {
        r->method = method;
        r->url = url;
        /* Past the grace period the pool is closed: a request a keep-alive connection sends
           now gets its connection closed unanswered, as if it had raced an idle close, so a
           load balancer or client sends it again elsewhere (docs/SCALING.md). */
        if (r->w->draining)
            return MHD_NO;
    }
    return req_step(r, upload, upload_size);
}

/* MHD's own diagnostics (MHD_OPTION_EXTERNAL_LOGGER): a request it refuses or a connection it
   drops (e.g. out of per-connection memory) would otherwise leave no trace. */
void
dba__http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    DBA_UNUSED(cls);
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    dba_log(DBA_LOG_WARN, "http: %s", line);
}
