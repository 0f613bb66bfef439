/* ops.c - operational endpoints: /healthz, /readyz, /profiles, /status, /pool, /metrics,
   /schema/reload and the OpenAPI document, and the table of every operational route (including
   the schema and backup routes) with its class: public, or operator (admin credential). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

static enum MHD_Result
ops_health(struct req *r)
{
    return dba__http_send_jsonv(r, 200, json_pack("{s:s}", "status", "ok"));
}

static enum MHD_Result
ops_ready_done(struct req *r)
{
    struct dba_http_server *s = r->w->srv;

    if (r->failed)
        return dba__http_send_jsonv(r, 503, json_pack("{s:s,s:s,s:s,s:s}", "status", "unavailable",
                                                     "profile", s->active->name, "error",
                                                     r->err.msg, "details", r->err.detail));
    return dba__http_send_jsonv(r, 200, json_pack("{s:s,s:s}", "status", "ready", "profile",
                                                 s->active->name));
}

static enum MHD_Result
ops_ready(struct req *r)
{
    if (dba__http_cache(r) == NULL) {
        char why[512];
        dba_catalog_keeper_last_error(r->w->srv->keeper, why, sizeof(why));
        return dba__http_send_jsonv(r, 503, json_pack("{s:s,s:s,s:s}", "status", "unavailable",
                                                     "profile", r->w->srv->active->name,
                                                     "error", why));
    }
    return dba__http_run(r, "SELECT 1", NULL, 0, ops_ready_done);
}

static enum MHD_Result
ops_profiles(struct req *r)
{
    struct dba_http_server *s = r->w->srv;

    return dba__http_send_jsonv(r, 200, dba_schema_profiles_json(s->cfg, s->active));
}

struct status_arg {
    const struct dba_profile *profile; /* borrowed: lives as long as the server */
    const char *source;                /* borrowed, idem */
    bool exact;                        /* count(*) every table instead of the estimates */
};

static json_t *
status_task(void *arg, unsigned *status, struct dba_err *err)
{
    struct status_arg *sa = arg;

    DBA_UNUSED(status);
    return dba_schema_status_probe(sa->profile, sa->source, sa->exact, err);
}

static enum MHD_Result
ops_status_done(struct req *r)
{
    struct dba_http_server *s = r->w->srv;
    json_t *o = r->task_result;

    if (r->failed)
        return dba__http_send_err(r, &r->err);
    r->task_result = NULL;
    json_object_set_new(o, "version", json_string(DBA_VERSION));
    json_object_set_new(o, "uptime_s", json_integer((dba_now_ms() - s->started_ms) / 1000));
    return dba__http_send_jsonv(r, 200, o);
}

/* The same core operation as `db-adapter status`, on the background operation pool. Row counts
   are the planner's estimates unless ?exact=true. */
static enum MHD_Result
ops_status(struct req *r)
{
    bool exact;

    if (!dba__http_query_flag(r, "exact", &exact))
        return dba__http_error(r, 400, "DBA400", "exact must be true or false", NULL, NULL);
    struct status_arg *sa = dba_xcalloc(1, sizeof(*sa));
    sa->exact = exact;
    sa->profile = r->pol.profile;
    sa->source = r->w->srv->active_source;
    return dba__http_task(r, status_task, sa, free, ops_status_done);
}

static void
pool_sum(struct dba_http_server *s, struct dba_db_pool_stats *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < s->n_workers; i++) {
        struct worker *w = &s->workers[i];
        struct dba_db_pool_stats st;
        pthread_mutex_lock(&w->stats_lock);
        st = w->stats_snap;
        pthread_mutex_unlock(&w->stats_lock);
        dba_db_pool_stats_add(sum, &st);
    }
}

static enum MHD_Result
ops_pool(struct req *r)
{
    struct dba_http_server *s = r->w->srv;
    struct dba_db_pool_stats st;

    pool_sum(s, &st);
    json_t *p = json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I}", "profile",
                          s->active->name, "workers", s->n_workers, "size", st.size, "open",
                          st.open, "idle", st.idle, "busy", st.busy, "waiting", st.waiting,
                          "connects", (json_int_t)st.connects, "errors", (json_int_t)st.errors,
                          "queries", (json_int_t)st.queries, "timeouts", (json_int_t)st.timeouts,
                          "rejected", (json_int_t)st.rejected, "round_trips",
                          (json_int_t)st.round_trips);
    if (s->active->replicas.n > 0)
        json_object_set_new(p, "replicas", dba__http_replicas_json(s));
    return dba__http_send_jsonv(r, 200, json_pack("{s:[o]}", "pools", p));
}

static enum MHD_Result
ops_metrics(struct req *r)
{
    struct dba_http_server *s = r->w->srv;
    struct dba_db_pool_stats st;
    struct dba_buf b;

    pool_sum(s, &st);
    dba_buf_init(&b);
    dba__http_metrics_render(s, &st, &b);
    dba__http_replicas_metrics(s, &b);
    size_t len = b.len;
    r->resp_len = (int64_t)len;
    r->resp_len_known = true;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, dba_buf_take(&b), MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    return dba__http_queue(r, 200, resp);
}

static enum MHD_Result
ops_reload(struct req *r)
{
    dba_http_server_reload(r->w->srv);
    return dba__http_send_jsonv(r, 202, json_pack("{s:s}", "status", "reloading"));
}

/* The route classes: who may call a route, decided here once for every operational route
   (handlers never check the caller themselves). */
enum ops_access {
    OPS_PUBLIC,  /* anyone */
    OPS_ADMIN,   /* an admin credential (admin.c) */
    OPS_METRICS, /* an admin credential, unless admin.public_metrics = true */
};

struct ops_route {
    const char *path;                     /* exact path */
    const char *method;                   /* allowed method (HEAD allowed with GET) */
    enum ops_access access;               /* see enum */
    bool both;                            /* served on both listeners; otherwise an OPS_ADMIN route
                                             is served on the admin listener when one is
                                             configured, and a public one on the public port */
    enum MHD_Result (*fn)(struct req *r); /* handler */
};

static const struct ops_route ops_routes[] = {
    { "/healthz", "GET", OPS_PUBLIC, true, ops_health },
    { "/readyz", "GET", OPS_PUBLIC, true, ops_ready },
    { "/metrics", "GET", OPS_METRICS, true, ops_metrics },
    { "/openapi.json", "GET", OPS_PUBLIC, false, dba__http_openapi_json },
    { "/profiles", "GET", OPS_ADMIN, false, ops_profiles },
    { "/status", "GET", OPS_ADMIN, false, ops_status },
    { "/pool", "GET", OPS_ADMIN, false, ops_pool },
    { "/schema", "GET", OPS_ADMIN, false, dba__http_schema_get },
    { "/schema/reload", "POST", OPS_ADMIN, false, ops_reload },
    { "/schema/validate", "POST", OPS_ADMIN, false, dba__http_schema_validate },
    { "/schema/fix", "POST", OPS_ADMIN, false, dba__http_schema_fix },
    { "/backup", "GET", OPS_ADMIN, false, dba__http_backup_get },
    { "/backup/validate", "POST", OPS_ADMIN, false, dba__http_backup_validate },
    { "/restore", "POST", OPS_ADMIN, false, dba__http_restore },
    { "/sync", "POST", OPS_ADMIN, false, dba__http_sync },
};

bool
dba__http_is_ops_path(const char *path)
{
    for (size_t i = 0; i < DBA_ARRAY_LEN(ops_routes); i++)
        if (strcmp(path, ops_routes[i].path) == 0)
            return true;
    return false;
}

/* Whether route rt is served on the listener r arrived on. */
static bool
ops_served(struct req *r, const struct ops_route *rt, bool admin_listener)
{
    if (rt->both)
        return true;
    if (admin_listener)
        return rt->access != OPS_PUBLIC;
    return rt->access == OPS_PUBLIC || r->w->srv->admin_port < 0;
}

enum MHD_Result
dba__http_ops(struct req *r, const char *path, bool admin_listener, bool *handled)
{
    for (size_t i = 0; i < DBA_ARRAY_LEN(ops_routes); i++) {
        const struct ops_route *rt = &ops_routes[i];
        if (strcmp(path, rt->path) != 0)
            continue;
        if (!ops_served(r, rt, admin_listener))
            break; /* on the other listener only: not found here */
        *handled = true;
        enum MHD_Result ret;
        if (!dba__http_method_ok(r, rt->method, path, &ret))
            return ret;
        bool open = rt->access == OPS_PUBLIC ||
                    (rt->access == OPS_METRICS && r->w->srv->cfg->admin.public_metrics);
        if (!open && !dba__http_admin_check(r, &ret))
            return ret;
        return rt->fn(r);
    }
    *handled = false;
    return MHD_NO;
}
