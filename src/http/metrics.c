/* metrics.c - per-worker request counters and histograms, the Prometheus text of /metrics, and
   the access log line of every request.

   Each worker owns its counters and is their only writer: an update is a relaxed load and store
   (no lock, no read-modify-write instruction). A scrape sums every worker's counters with relaxed
   loads; a figure may be one request behind, never torn. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http_int.h"

#ifndef DBA_COMMIT
#define DBA_COMMIT "unknown"
#endif

enum { M_TABLE, M_RPC, M_TRANSACTION, M_OPENAPI, M_ADMIN, M_OTHER, M_KINDS };
static const char *const kind_names[M_KINDS] = { "table", "rpc", "transaction", "openapi", "admin",
                                                 "other" };
enum { M_METHODS = 8 };
static const char *const method_names[M_METHODS] = { "GET", "HEAD", "POST", "PUT", "PATCH",
                                                     "DELETE", "OPTIONS", "other" };
#define M_STATUS_MIN 100
#define M_STATUS_N 500 /* 100..599 */
/* Upper bounds of the latency buckets, seconds; the last bucket is +Inf. */
static const double bucket_le[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                    2.5, 5, 10 };
#define M_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]) + 1)

struct hist {
    _Atomic uint64_t b[M_BUCKETS]; /* non-cumulative counts; cumulated at scrape */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
};

struct dba__http_metrics {
    _Atomic uint64_t req[M_KINDS][M_METHODS][M_STATUS_N];
    _Atomic uint64_t bytes[M_KINDS];
    struct hist latency[M_KINDS];
    struct hist db[M_KINDS];
    /* The access log's lines not yet written (the worker's own: no lock). Written when
       ACCESS_LOG_FLUSH_BYTES are pending, at each tick (100 ms) and when the worker stops. */
    struct dba_buf alog;
    int64_t alog_sec;   /* the second alog_ts was formatted for */
    char alog_ts[40];   /* that second in the Common Log Format */
};

#define ACCESS_LOG_FLUSH_BYTES 16384

/* Access log mode set by a reload (SIGHUP), or -1: server.access_log of the configuration. */
static atomic_int access_override = -1;

void
dba_http_access_log_set(int mode)
{
    atomic_store(&access_override, mode);
}

struct dba__http_metrics *
dba__http_metrics_new(void)
{
    return dba_xcalloc(1, sizeof(struct dba__http_metrics));
}

/* Writes the access log lines pending in m: whole lines in one write, so lines of different
   workers never interleave. */
void
dba__http_metrics_flush(struct dba__http_metrics *m)
{
    if (m == NULL || m->alog.len == 0)
        return;
    const char *at = m->alog.data;
    size_t left = m->alog.len;
    while (left > 0) {
        ssize_t n = write(STDOUT_FILENO, at, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* stdout gone: the lines are dropped, the requests are not held up */
        at += n;
        left -= (size_t)n;
    }
    dba_buf_reset(&m->alog);
}

void
dba__http_metrics_free(struct dba__http_metrics *m)
{
    if (m != NULL) {
        dba__http_metrics_flush(m);
        dba_buf_cleanup(&m->alog);
    }
    free(m);
}

/* Single writer: a relaxed load and store. */
static inline void
bump(_Atomic uint64_t *x, uint64_t by)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

static void
hist_add(struct hist *h, int64_t us)
{
    double s = (double)us / 1e6;
    size_t i = 0;

    if (us < 0)
        us = 0;
    while (i < M_BUCKETS - 1 && s > bucket_le[i])
        i++;
    bump(&h->b[i], 1);
    bump(&h->sum_us, (uint64_t)us);
    bump(&h->count, 1);
}

static int
method_index(const char *m)
{
    for (int i = 0; i < M_METHODS - 1; i++)
        if (strcmp(m, method_names[i]) == 0)
            return i;
    return M_METHODS - 1;
}

/* The route kind of r, from its path (the router's own decision is not kept on the request). */
static int
route_kind(struct req *r)
{
    const char *url = r->url != NULL ? r->url : "";
    const char *base = r->w->srv->cfg->server.base_path;
    size_t bl = base != NULL ? strlen(base) : 0;

    if (dba__http_is_ops_path(url))
        return strcmp(url, "/openapi.json") == 0 ? M_OPENAPI : M_ADMIN;
    if (bl > 0 && (strncmp(url, base, bl) != 0 || (url[bl] != '/' && url[bl] != '\0')))
        return M_OTHER;
    const char *rest = url + bl;
    if (strncmp(rest, "/rpc/", 5) == 0)
        return M_RPC;
    if (strncmp(rest, "/transaction", 12) == 0)
        return M_TRANSACTION;
    if (rest[0] == '\0' || strcmp(rest, "/") == 0)
        return M_OPENAPI;
    return M_TABLE;
}

/* Appends s for a log line: printable ASCII kept, '"', '\\' and anything else as \xHH. */
static void
put_escaped(struct dba_buf *b, const char *s, size_t max)
{
    for (size_t i = 0; s != NULL && s[i] != '\0' && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
            dba_buf_printf(b, "\\x%02x", ch);
        else
            dba_buf_putc(b, (char)ch);
    }
}

void
dba__http_log_statements(struct req *r, const struct dba_db_stmt *stmts, size_t n)
{
    char id[80];
    const struct dba_profile *p = r->pol.profile ? r->pol.profile : r->w->srv->active;

    dba__http_request_id(r, id, sizeof(id));
    for (size_t i = 0; i < n; i++) {
        struct dba_buf b;
        dba_buf_init(&b);
        const char *sql = stmts[i].sql != NULL ? stmts[i].sql : "";
        size_t k0 = 0;
        for (; sql[k0] != '\0' && k0 < 2000; k0++) { /* SQL as is, control bytes as spaces */
            unsigned char ch = (unsigned char)sql[k0];
            if (ch < 0x20 || ch == 0x7f)
                dba_buf_putc(&b, ' ');
            else if (ch > 0x7f)
                dba_buf_printf(&b, "\\x%02x", ch);
            else
                dba_buf_putc(&b, (char)ch);
        }
        if (sql[k0] != '\0')
            dba_buf_puts(&b, "...");
        for (int k = 0; k < stmts[i].n_params; k++) {
            const char *v = stmts[i].params[k];
            if (v == NULL)
                dba_buf_printf(&b, "%s$%d=NULL", k == 0 ? " -- " : ", ", k + 1);
            else
                dba_buf_printf(&b, "%s$%d=<%zu bytes>", k == 0 ? " -- " : ", ", k + 1, strlen(v));
        }
        dba_log_write(DBA_LOG_DEBUG, "req %s profile %s: sql %zu/%zu: %s", id, p->name, i + 1, n,
                      b.data != NULL ? b.data : "");
        dba_buf_cleanup(&b);
    }
}

/* Appends the request's access log line to the worker's pending lines (m), or writes it at once
   when the worker keeps no metrics. */
static void
access_log(struct req *r, struct dba__http_metrics *m, int mode, unsigned status, int64_t bytes,
           int64_t us)
{
    char id[80], ts[40];
    struct dba_buf local;
    struct dba_buf *bp = m != NULL ? &m->alog : &local;
    const struct dba_profile *p = r->pol.profile ? r->pol.profile : r->w->srv->active;
    const char *role = r->pol.role;
    struct timespec now;
    struct tm tm = { 0 };

    dba__http_request_id(r, id, sizeof(id));
    clock_gettime(CLOCK_REALTIME, &now);
    if (m == NULL || mode == DBA_ACCESS_LOG_JSON || now.tv_sec != m->alog_sec)
        gmtime_r(&now.tv_sec, &tm);
    if (m == NULL)
        dba_buf_init(&local);
    if (mode == DBA_ACCESS_LOG_JSON) {
        char day[32];
        strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts, sizeof(ts), "%s.%03dZ", day, (int)(now.tv_nsec / 1000000));
        /* Escaped first: the path is the client's bytes, maybe not UTF-8. */
        struct dba_buf path, query, meth, rl;
        dba_buf_init(&path);
        dba_buf_init(&query);
        dba_buf_init(&meth);
        dba_buf_init(&rl);
        put_escaped(&path, r->url, 2048);
        put_escaped(&query, r->raw_query, 2048);
        put_escaped(&meth, r->method, 16);
        if (role != NULL)
            put_escaped(&rl, role, 64);
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:f,s:s,s:s,s:s?}", "time", ts, "method",
                              meth.data ? meth.data : "", "path", path.data ? path.data : "",
                              "query", query.data ? query.data : "", "status", (int)status, "bytes",
                              (json_int_t)bytes, "duration_ms", (double)us / 1000.0,
                              "request_id", id, "profile", p->name, "role",
                              role != NULL ? rl.data : NULL);
        dba_buf_cleanup(&path);
        dba_buf_cleanup(&query);
        dba_buf_cleanup(&meth);
        dba_buf_cleanup(&rl);
        if (o != NULL) {
            char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            dba_buf_puts(bp, text);
            free(text);
            json_decref(o);
        }
    } else {
        /* Common Log Format, then the duration, request id and profile. */
        if (m == NULL || now.tv_sec != m->alog_sec) { /* formatted once a second */
            strftime(ts, sizeof(ts), "%d/%b/%Y:%H:%M:%S +0000", &tm);
            if (m != NULL) {
                memcpy(m->alog_ts, ts, sizeof(ts));
                m->alog_sec = now.tv_sec;
            }
        } else {
            memcpy(ts, m->alog_ts, sizeof(ts));
        }
        dba_buf_puts(bp, "- - ");
        put_escaped(bp, role != NULL ? role : "-", 64);
        dba_buf_printf(bp, " [%s] \"", ts);
        put_escaped(bp, r->method, 16);
        dba_buf_putc(bp, ' ');
        put_escaped(bp, r->url, 2048);
        if (r->raw_query != NULL && r->raw_query[0] != '\0') {
            dba_buf_putc(bp, '?');
            put_escaped(bp, r->raw_query, 2048);
        }
        dba_buf_printf(bp, "\" %u ", status);
        if (bytes >= 0)
            dba_buf_printf(bp, "%lld", (long long)bytes);
        else
            dba_buf_putc(bp, '-');
        dba_buf_printf(bp, " %.3f rid=", (double)us / 1e6);
        put_escaped(bp, id, 64);
        dba_buf_printf(bp, " profile=%s", p->name);
    }
    dba_buf_putc(bp, '\n');
    if (m != NULL) {
        if (m->alog.len >= ACCESS_LOG_FLUSH_BYTES)
            dba__http_metrics_flush(m);
        return;
    }
    for (size_t off = 0; off < local.len;) { /* one write per line */
        ssize_t n = write(STDOUT_FILENO, local.data + off, local.len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    dba_buf_cleanup(&local);
}

void
dba__http_metrics_record(struct req *r, unsigned status, int64_t bytes)
{
    struct dba__http_metrics *m = r->w->metrics;
    int64_t us = dba_now_us() - r->start_us;
    int kind = route_kind(r);

    if (m != NULL) {
        unsigned st = status < M_STATUS_MIN ? M_STATUS_MIN : status > 599 ? 599 : status;
        bump(&m->req[kind][method_index(r->method)][st - M_STATUS_MIN], 1);
        if (bytes > 0)
            bump(&m->bytes[kind], (uint64_t)bytes);
        hist_add(&m->latency[kind], us);
        if (r->t_us[2] > 0 && r->t_us[3] >= r->t_us[2])
            hist_add(&m->db[kind], r->t_us[3] - r->t_us[2]);
    }
    int mode = atomic_load_explicit(&access_override, memory_order_relaxed);
    if (mode < 0)
        mode = (int)r->w->srv->cfg->server.access_log;
    if (mode != DBA_ACCESS_LOG_OFF)
        access_log(r, m, mode, status, bytes, us);
}

static uint64_t
ld(const _Atomic uint64_t *x)
{
    return atomic_load_explicit(x, memory_order_relaxed);
}

static void
help(struct dba_buf *b, const char *name, const char *type, const char *text)
{
    dba_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void
hist_render(struct dba_buf *b, const char *name, struct dba_http_server *s, bool db)
{
    for (int k = 0; k < M_KINDS; k++) {
        uint64_t cum = 0, sum = 0, count = 0, bk[M_BUCKETS] = { 0 };
        for (int w = 0; w < s->n_workers; w++) {
            const struct dba__http_metrics *m = s->workers[w].metrics;
            if (m == NULL)
                continue;
            const struct hist *h = db ? &m->db[k] : &m->latency[k];
            for (size_t i = 0; i < M_BUCKETS; i++)
                bk[i] += ld(&h->b[i]);
            sum += ld(&h->sum_us);
            count += ld(&h->count);
        }
        for (size_t i = 0; i < M_BUCKETS; i++) {
            cum += bk[i];
            if (i + 1 < M_BUCKETS)
                dba_buf_printf(b, "%s_bucket{route=\"%s\",le=\"%g\"} %llu\n", name, kind_names[k],
                               bucket_le[i], (unsigned long long)cum);
            else
                dba_buf_printf(b, "%s_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", name,
                               kind_names[k], (unsigned long long)cum);
        }
        dba_buf_printf(b, "%s_sum{route=\"%s\"} %.6f\n%s_count{route=\"%s\"} %llu\n", name,
                       kind_names[k], (double)sum / 1e6, name, kind_names[k],
                       (unsigned long long)count);
    }
}

/* Label value: \, " and newline escaped (profile names come from the operator's file). */
static void
put_label(struct dba_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            dba_buf_putc(b, '\\');
        if (*s == '\n') {
            dba_buf_puts(b, "\\n");
            continue;
        }
        dba_buf_putc(b, *s);
    }
}

void
dba__http_metrics_render(struct dba_http_server *s, const struct dba_db_pool_stats *st,
                         struct dba_buf *b)
{
    struct dba_buf prof;
    uint64_t total = 0, errors = 0;

    dba_buf_init(&prof);
    put_label(&prof, s->active->name);
    const char *pn = prof.data;

    help(b, "dba_build_info", "gauge", "Version and commit of the running build.");
    dba_buf_printf(b, "dba_build_info{version=\"%s\",commit=\"%s\"} 1\n", DBA_VERSION,
                   DBA_COMMIT);
    help(b, "dba_uptime_seconds", "gauge", "Seconds since the server started.");
    dba_buf_printf(b, "dba_uptime_seconds %.3f\n", (double)(dba_now_ms() - s->started_ms) / 1e3);

    help(b, "dba_http_requests_total", "counter",
         "HTTP requests answered, by route kind, method and status code.");
    for (int k = 0; k < M_KINDS; k++)
        for (int me = 0; me < M_METHODS; me++)
            for (int st_i = 0; st_i < M_STATUS_N; st_i++) {
                uint64_t n = 0;
                for (int w = 0; w < s->n_workers; w++)
                    if (s->workers[w].metrics != NULL)
                        n += ld(&s->workers[w].metrics->req[k][me][st_i]);
                if (n == 0)
                    continue;
                total += n;
                if (st_i + M_STATUS_MIN >= 500)
                    errors += n;
                dba_buf_printf(b, "dba_http_requests_total{route=\"%s\",method=\"%s\","
                               "status=\"%d\"} %llu\n", kind_names[k], method_names[me],
                               st_i + M_STATUS_MIN, (unsigned long long)n);
            }
    help(b, "dba_http_server_errors_total", "counter", "HTTP answers with a 5xx status.");
    dba_buf_printf(b, "dba_http_server_errors_total %llu\n", (unsigned long long)errors);
    help(b, "dba_http_response_bytes_total", "counter",
         "Response body bytes, by route kind (bodies of known length).");
    for (int k = 0; k < M_KINDS; k++) {
        uint64_t n = 0;
        for (int w = 0; w < s->n_workers; w++)
            if (s->workers[w].metrics != NULL)
                n += ld(&s->workers[w].metrics->bytes[k]);
        dba_buf_printf(b, "dba_http_response_bytes_total{route=\"%s\"} %llu\n", kind_names[k],
                       (unsigned long long)n);
    }
    help(b, "dba_http_request_duration_seconds", "histogram",
         "Time from a request's arrival to its response, by route kind.");
    hist_render(b, "dba_http_request_duration_seconds", s, false);
    help(b, "dba_http_request_db_seconds", "histogram",
         "Database time of a request (its unit sent to its result), by route kind.");
    hist_render(b, "dba_http_request_db_seconds", s, true);

    help(b, "dba_db_pool_connections", "gauge",
         "Connections of the profile's pool by state (size = configured maximum).");
    dba_buf_printf(b,
                   "dba_db_pool_connections{profile=\"%s\",state=\"size\"} %d\n"
                   "dba_db_pool_connections{profile=\"%s\",state=\"open\"} %d\n"
                   "dba_db_pool_connections{profile=\"%s\",state=\"idle\"} %d\n"
                   "dba_db_pool_connections{profile=\"%s\",state=\"busy\"} %d\n",
                   pn, st->size, pn, st->open, pn, st->idle, pn, st->busy);
    help(b, "dba_db_pool_waiting", "gauge", "Jobs waiting for a connection.");
    dba_buf_printf(b, "dba_db_pool_waiting{profile=\"%s\"} %d\n", pn, st->waiting);
    static const struct {
        const char *name, *text;
        size_t off;
    } ctr[] = {
        { "dba_db_pool_connects_total", "Connections made.",
          offsetof(struct dba_db_pool_stats, connects) },
        { "dba_db_pool_errors_total", "Failed connects and lost connections.",
          offsetof(struct dba_db_pool_stats, errors) },
        { "dba_db_pool_timeouts_total", "Jobs cut by their deadline.",
          offsetof(struct dba_db_pool_stats, timeouts) },
        { "dba_db_pool_rejected_total", "Jobs refused: queue full or database down.",
          offsetof(struct dba_db_pool_stats, rejected) },
        { "dba_db_pool_queries_total", "Jobs completed.",
          offsetof(struct dba_db_pool_stats, queries) },
        { "dba_db_pool_round_trips_total", "Pipeline syncs sent.",
          offsetof(struct dba_db_pool_stats, round_trips) },
    };
    for (size_t i = 0; i < DBA_ARRAY_LEN(ctr); i++) {
        help(b, ctr[i].name, "counter", ctr[i].text);
        dba_buf_printf(b, "%s{profile=\"%s\"} %llu\n", ctr[i].name, pn,
                       (unsigned long long)*(const uint64_t *)(const void *)((const char *)st +
                                                                             ctr[i].off));
    }
    /* PostgREST's names for the same figures. */
    help(b, "pgrst_db_pool_max", "gauge", "Maximum connections of the pool (PostgREST's name).");
    dba_buf_printf(b, "pgrst_db_pool_max %d\n", st->size);
    help(b, "pgrst_db_pool_available", "gauge", "Idle connections (PostgREST's name).");
    dba_buf_printf(b, "pgrst_db_pool_available %d\n", st->idle);
    help(b, "pgrst_db_pool_waiting", "gauge", "Requests waiting (PostgREST's name).");
    dba_buf_printf(b, "pgrst_db_pool_waiting %d\n", st->waiting);
    help(b, "pgrst_db_pool_timeouts_total", "counter",
         "Requests cut by their deadline (PostgREST's name).");
    dba_buf_printf(b, "pgrst_db_pool_timeouts_total %llu\n", (unsigned long long)st->timeouts);

    struct dba_catalog_keeper_stats ks;
    dba_catalog_keeper_stats(s->keeper, &ks);
    help(b, "dba_schema_cache_loads_total", "counter", "Schema cache loads, by result.");
    dba_buf_printf(b, "dba_schema_cache_loads_total{result=\"ok\"} %llu\n"
                   "dba_schema_cache_loads_total{result=\"error\"} %llu\n",
                   (unsigned long long)ks.loads, (unsigned long long)ks.failures);
    help(b, "dba_schema_cache_load_seconds", "gauge", "Duration of the last schema cache load.");
    dba_buf_printf(b, "dba_schema_cache_load_seconds %.6f\n", (double)ks.last_load_us / 1e6);
    help(b, "dba_schema_cache_reloads_total", "counter",
         "Schema cache reloads asked for (NOTIFY pgrst, SIGHUP, POST /schema/reload).");
    dba_buf_printf(b, "dba_schema_cache_reloads_total %llu\n", (unsigned long long)ks.reloads);
    help(b, "pgrst_schema_cache_loads_total", "counter",
         "Schema cache loads, by status (PostgREST's name).");
    dba_buf_printf(b, "pgrst_schema_cache_loads_total{status=\"SUCCESS\"} %llu\n"
                   "pgrst_schema_cache_loads_total{status=\"FAIL\"} %llu\n",
                   (unsigned long long)ks.loads, (unsigned long long)ks.failures);
    help(b, "pgrst_schema_cache_query_time_seconds", "gauge",
         "Duration of the last schema cache load (PostgREST's name).");
    dba_buf_printf(b, "pgrst_schema_cache_query_time_seconds %.6f\n",
                   (double)ks.last_load_us / 1e6);

    uint64_t hits = 0, misses = 0;
    for (int w = 0; w < s->n_workers; w++) {
        if (s->workers[w].auth_cache == NULL)
            continue;
        uint64_t h, m;
        dba_auth_cache_stats(s->workers[w].auth_cache, &h, &m);
        hits += h;
        misses += m;
    }
    help(b, "dba_jwt_cache_hits_total", "counter", "Verified JWTs found in the token cache.");
    dba_buf_printf(b, "dba_jwt_cache_hits_total %llu\n", (unsigned long long)hits);
    help(b, "dba_jwt_cache_misses_total", "counter", "JWTs not in the token cache.");
    dba_buf_printf(b, "dba_jwt_cache_misses_total %llu\n", (unsigned long long)misses);
    DBA_UNUSED(total);
    dba_buf_cleanup(&prof);
}
