/* req.c - the request state machine: body collection, routing, suspend/resume around database jobs,
   and the response helpers every handler uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"


#define CORS_EXPOSE "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, " \
                    "Location, Server, Transfer-Encoding, Range-Unit"

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
dba__http_query_param(struct req *r, const char *name)
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

void *
dba__http_on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    struct req *r = dba_xcalloc(1, sizeof(*r));
    char *q = strchr(uri, '?');

    r->w = cls;
    r->mc = mc;
    r->a = dba_arena_new();
    r->raw_query = dba_arena_strdup(r->a, q ? q + 1 : "");
    /* MHD (0.9.x) found the '?' before calling us and next splits the query into one record per
       parameter in the connection's fixed memory pool: a 16 KB query of short parameters fills
       it and the client gets an empty reply. The grammar and dba__http_query_param read our
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

/* True when server.cors_allowed_origins allows every origin: an entry "*", or "" (PostgREST's
   empty setting). An empty list means no CORS at all. */
static bool
cors_any_origin(const struct dba_config *cfg)
{
    const struct dba_config_strv *o = &cfg->server.cors_allowed_origins;

    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->v[i], "*") == 0 || o->v[i][0] == '\0')
            return true;
    return false;
}

static bool
cors_origin_listed(const struct dba_config *cfg, const char *origin)
{
    const struct dba_config_strv *o = &cfg->server.cors_allowed_origins;

    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->v[i], origin) == 0)
            return true;
    return false;
}

/* CORS: any origin gets "*" and no credentials (a browser never sends cookies to "*"); with a
   list, only a listed origin is echoed, with credentials, and the answer varies by Origin. */
void
dba__http_add_common(struct req *r, struct MHD_Response *resp)
{
    const struct dba_config *cfg = r->w->srv->cfg;
    const char *origin = dba__http_header(r, "Origin");

    if (cfg->server.cors_allowed_origins.n == 0)
        return;
    if (cors_any_origin(cfg)) {
        if (origin != NULL) {
            MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
            MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE);
        }
        return;
    }
    MHD_add_response_header(resp, "Vary", "Origin");
    if (origin != NULL && cors_origin_listed(cfg, origin)) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE);
    }
}

/* Server-Timing in PostgREST's metric names; a phase that did not happen counts 0. */
static void
add_server_timing(struct req *r, struct MHD_Response *resp)
{
    int64_t start = r->start_us;
    int64_t now = dba_now_us();
    int64_t *t = r->t_us;
    double parse = t[REQ_T_PARSED] ? (double)(t[REQ_T_PARSED] - start) / 1000 : 0;
    double plan = t[REQ_T_PLANNED] ? (double)(t[REQ_T_PLANNED] - t[REQ_T_PARSED]) / 1000 : 0;
    double tx = t[REQ_T_RESULT] ? (double)(t[REQ_T_RESULT] - t[REQ_T_SENT]) / 1000 : 0;
    double resp_ms = (double)(now - (t[REQ_T_RESULT] ? t[REQ_T_RESULT] : start)) / 1000;
    char v[160];

    snprintf(v, sizeof(v), "jwt;dur=0.0, parse;dur=%.1f, plan;dur=%.1f, transaction;dur=%.1f, "
                           "response;dur=%.1f", parse, plan, tx, resp_ms);
    MHD_add_response_header(resp, "Server-Timing", v);
}

enum MHD_Result
dba__http_queue(struct req *r, unsigned status, struct MHD_Response *resp)
{
    struct dba_http_server *s = r->w->srv;
    const char *trace = s->cfg->server.trace_header;

    dba__http_add_common(r, resp);
    if (s->cfg->server.server_timing)
        add_server_timing(r, resp);
    if (trace != NULL && trace[0] != '\0') {
        const char *v = dba__http_header(r, trace);
        if (v != NULL)
            MHD_add_response_header(resp, trace, v);
    }
    enum MHD_Result ret = MHD_queue_response(r->mc, status, resp);
    MHD_destroy_response(resp);
    atomic_fetch_add_explicit(&s->n_requests, 1, memory_order_relaxed);
    if (status >= 500)
        atomic_fetch_add_explicit(&s->n_errors, 1, memory_order_relaxed);
    dba_log(DBA_LOG_DEBUG, "%s %s -> %u (%lld ms)", r->method, r->url, status,
            (long long)(dba_now_ms() - r->start_ms));
    return ret;
}

enum MHD_Result
dba__http_send_json(struct req *r, unsigned status, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);

    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    return dba__http_queue(r, status, resp);
}

enum MHD_Result
dba__http_send_jsonv(struct req *r, unsigned status, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    enum MHD_Result ret = dba__http_send_json(r, status, text, strlen(text));

    free(text);
    json_decref(v);
    return ret;
}

/* Length of the UTF-8 sequence starting at s (n bytes left), or 0 when s does not start a valid
   one (a stray byte, overlong, a surrogate, above U+10FFFF, or cut short). */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* s as a JSON string, each byte that does not belong to valid UTF-8 replaced by U+FFFD, so an
   error body is always valid JSON with every member present (jansson refuses invalid UTF-8). */
static json_t *
json_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    struct dba_buf b;

    dba_buf_init(&b);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0) {
            dba_buf_puts(&b, "\xef\xbf\xbd");
            i++;
        } else {
            dba_buf_append(&b, p + i, k);
            i += k;
        }
    }
    json_t *v = json_stringn(b.data ? b.data : "", b.len);
    dba_buf_cleanup(&b);
    return v;
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_text(s) : json_null();
}

enum MHD_Result
dba__http_error(struct req *r, unsigned status, const char *code, const char *msg,
                const char *detail, const char *hint)
{
    json_t *o = json_object();
    char proxy[64];

    json_object_set_new(o, "code", json_text(code ? code : "DBA500"));
    json_object_set_new(o, "details", str_or_null(detail));
    json_object_set_new(o, "hint", str_or_null(hint));
    json_object_set_new(o, "message", json_text(msg ? msg : ""));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    snprintf(proxy, sizeof(proxy), "PostgREST; error=%s", code ? code : "DBA500");
    for (char *p = proxy; *p != '\0'; p++) /* header text: printable ASCII only */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    MHD_add_response_header(resp, "Proxy-Status", proxy);
    if (status == 503)
        MHD_add_response_header(resp, "Retry-After", "1");
    if (status == 401) /* RFC 9110: a 401 names the scheme it wants */
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    if (r->err_content_range != NULL)
        MHD_add_response_header(resp, "Content-Range", r->err_content_range);
    return dba__http_queue(r, status, resp);
}

enum MHD_Result
dba__http_send_err(struct req *r, const struct dba_err *e)
{
    unsigned status = e->http_status > 0 ? (unsigned)e->http_status : 500;
    const char *code = e->pgrst[0] ? e->pgrst : (e->sqlstate[0] ? e->sqlstate : "DBA500");

    if (status >= 500)
        dba_log(DBA_LOG_WARN, "%s %s -> %u %s: %s", r->method, r->url, status, code, e->msg);
    return dba__http_error(r, status, code, e->msg, e->detail, e->hint);
}

static void
on_job_done(void *arg, struct pg_result *res, const struct dba_err *err)
{
    struct req *r = arg;

    r->job = NULL;
    r->res = res;
    r->failed = res == NULL;
    r->t_us[REQ_T_RESULT] = dba_now_us();
    if (res == NULL)
        r->err = *err;
    r->state = REQ_READY;
    if (!r->dispatching) {
        /* The connection was suspended by dba__http_run: wake it so finish() runs. */
        r->w->inflight--;
        MHD_resume_connection(r->mc);
        r->w->mhd_due = true;
    }
}

static enum MHD_Result
http_submit(struct req *r, const struct dba_db_stmt *stmts, size_t n, size_t result_index,
            req_finish_cb finish)
{
    r->finish = finish;
    r->state = REQ_WAITING;
    r->t_us[REQ_T_SENT] = dba_now_us();
    r->dispatching = true; /* a synchronous completion must not resume */
    int rc = dba_db_query(r->w->pool, stmts, n, result_index, r->pol.deadline_ms, on_job_done, r,
                          &r->job, &r->err);
    r->dispatching = false;
    if (rc != DBA_EAGAIN) {
        r->job = NULL;
        r->state = REQ_READING;
        return dba__http_send_err(r, &r->err);
    }
    if (r->state == REQ_READY) {
        r->job = NULL;
        return finish(r); /* completed synchronously (e.g. refused while the database is down) */
    }
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
    return http_submit(r, st, 1, 0, finish);
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
    unit_add(r, begin[iso][read_only ? 1 : 0], NULL, 0);
    r->unit.tx = true;
    r->unit.read_only = read_only;
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
dba__http_unit_main(struct req *r, const char *sql, const char *const *params, int n_params)
{
    DBA_ASSERT(!r->unit.has_main);
    r->unit.result_index = r->unit.n;
    r->unit.has_main = true;
    unit_add(r, sql, params, n_params);
}

enum MHD_Result
dba__http_unit_run(struct req *r, req_finish_cb finish)
{
    struct req_unit *u = &r->unit;

    DBA_ASSERT(u->has_main);
    /* A plain read (READ ONLY, no setting, ending in COMMIT) is sent as its statement alone:
       one statement is its own transaction, and BEGIN READ ONLY + COMMIT cost about 5% more
       CPU per request (gateway + PostgreSQL: median 66 vs 63 us over 5 alternating wrk runs). */
    if (u->tx && u->read_only && u->n == 2 && !r->pol.tx_rollback)
        return http_submit(r, &u->stmts[1], 1, 0, finish);
    if (u->tx && r->pol.tx_rollback) {
        /* As PostgREST: deferred constraints are checked before the rollback, so their errors
           still reach the client. */
        unit_add(r, "SET CONSTRAINTS ALL IMMEDIATE", NULL, 0);
        unit_add(r, "ROLLBACK", NULL, 0);
    } else if (u->tx) {
        unit_add(r, "COMMIT", NULL, 0);
    }
    return http_submit(r, u->stmts, u->n, u->result_index, finish);
}

bool
dba__http_method_ok(struct req *r, const char *allowed, const char *path, enum MHD_Result *ret)
{
    if (strcmp(r->method, allowed) == 0 ||
        (strcmp(allowed, "GET") == 0 && strcmp(r->method, "HEAD") == 0))
        return true;
    *ret = dba__http_error(r, 405, "DBA405",
                           dba_arena_printf(r->a, "method %s not allowed on %s", r->method, path),
                           NULL, dba_arena_printf(r->a, "Use %s.", allowed));
    return false;
}

enum MHD_Result
dba__http_send_task_result(struct req *r)
{
    if (r->failed)
        return dba__http_send_err(r, &r->err);
    json_t *o = r->task_result;
    r->task_result = NULL;
    return dba__http_send_jsonv(r, r->task_status ? r->task_status : 200, o);
}

static enum MHD_Result
route_options(struct req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    const char *req_headers = dba__http_header(r, "Access-Control-Request-Headers");

    MHD_add_response_header(resp, "Allow", "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE");
    if (dba__http_header(r, "Origin") != NULL) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                                "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                req_headers ? req_headers : "Authorization, Content-Type, Accept, "
                                "Prefer, Range, Accept-Profile, Content-Profile");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
    }
    return dba__http_queue(r, 200, resp);
}

/* Functions are not served yet; answer as PostgREST does for what it would refuse anyway. */
static enum MHD_Result
route_rpc(struct req *r, const char *fn)
{
    static const char *const ok[] = { "GET", "HEAD", "POST", "OPTIONS" };
    bool allowed = false;

    for (size_t i = 0; i < DBA_ARRAY_LEN(ok); i++)
        allowed = allowed || strcmp(r->method, ok[i]) == 0;
    if (!allowed)
        return dba__http_error(r, 405, "PGRST101",
                               dba_arena_printf(r->a, "Cannot use the %s method on RPC", r->method),
                               NULL, NULL);
    return dba__http_error(r, 404, "PGRST202",
                           dba_arena_printf(r->a, "Could not find the function %s in the schema "
                                            "cache", fn),
                           "Calling functions (/rpc) is not supported by db-adapter yet.", NULL);
}

struct header_scan {
    bool bad;                /* a header hides bytes behind a NUL */
    const char *prev_end;    /* end of the previous header's value, or NULL */
};

/* MHD (0.9.x) parses the header block in place, ending each line with NUL bytes where its CR/LF
   were, and reports values by strlen: a NUL inside a value silently cuts it. What it cut off is
   still in the buffer, so a value must be followed by its line end only: one or two NULs, then
   the next header's name (or, after the last header, the blank line, also a NUL). A gap of more
   than two bytes holding anything but NULs is a NUL inside the line. Gaps of 1 KiB or more are
   not judged (MHD grows its read buffer by at least 1 KiB, so such a gap may be a move). An
   obsolete folded continuation line leaves the same trace and is refused too (RFC 9112 allows
   a 400 for it). */
static enum MHD_Result
header_scan_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
               const char *value, size_t value_size)
{
    struct header_scan *hs = cls;

    DBA_UNUSED(kind);
    if (key == NULL || value == NULL)
        return MHD_YES;
    if (hs->prev_end != NULL && key > hs->prev_end + 2 && key < hs->prev_end + 1024) {
        for (const char *p = hs->prev_end; p < key; p++)
            hs->bad = hs->bad || *p != '\0';
    }
    DBA_UNUSED(key_size);
    hs->prev_end = value + value_size;
    return MHD_YES;
}

static bool
headers_have_nul(struct req *r)
{
    struct header_scan hs = { 0 };

    MHD_get_connection_values_n(r->mc, MHD_HEADER_KIND, header_scan_cb, &hs);
    /* After the last value: its line end (NUL), then the blank line (NUL) for LF-only input or
       the LF of its CRLF (NUL). Anything else was cut off by a NUL. */
    if (!hs.bad && hs.prev_end != NULL && hs.prev_end[0] == '\0' && hs.prev_end[1] != '\0')
        hs.bad = true;
    return hs.bad;
}

/* Requests refused before routing: a NUL in the path or a header, an oversize query string. */
static bool
req_malformed(struct req *r, enum MHD_Result *ret)
{
    if (r->path_has_nul) {
        *ret = dba__http_error(r, 400, "DBA400", "the request path contains a NUL byte (%00)",
                               NULL, NULL);
        return true;
    }
    if (headers_have_nul(r)) {
        *ret = dba__http_error(r, 400, "DBA400", "malformed request header",
                               "A header value contains a NUL byte or continues on a folded "
                               "line (obsolete line folding, RFC 9112 5.2).", NULL);
        return true;
    }
    if (strlen(r->raw_query) > DBA_HTTP_MAX_QUERY_BYTES) {
        *ret = dba__http_error(r, 414, "DBA414", "query string too long",
                               dba_arena_printf(r->a, "The query string has %zu bytes; at most "
                                                "%d are accepted.", strlen(r->raw_query),
                                                DBA_HTTP_MAX_QUERY_BYTES),
                               "Send fewer or shorter filters, e.g. one in.(...) list instead of "
                               "many parameters.");
        return true;
    }
    return false;
}

static enum MHD_Result
route(struct req *r)
{
    const struct dba_config *cfg = r->w->srv->cfg;
    const char *base = cfg->server.base_path ? cfg->server.base_path : "/tables";
    size_t blen = strlen(base);
    const char *url = r->url;
    enum MHD_Result ret;

    if (req_malformed(r, &ret))
        return ret;
    dba__http_policy_begin(r); /* before any handler, so before any SQL */
    if (blen == 0) {
        /* API at the root: the operational paths (/healthz, /readyz, /metrics, ...) come first
           and hide tables of the same names. */
        bool handled = false;
        ret = dba__http_ops(r, url, &handled);
        if (handled)
            return ret;
    }
    if (strncmp(url, base, blen) == 0 && (url[blen] == '/' || url[blen] == '\0')) {
        const char *rel = url[blen] == '/' ? url + blen + 1 : url + blen;
        if (strcmp(r->method, "OPTIONS") == 0)
            return route_options(r);
        if (rel[0] == '\0') {
            bool handled = false;
            ret = dba__http_ops(r, "/openapi.json", &handled);
            if (handled)
                return ret;
        }
        if (strncmp(rel, "rpc/", 4) == 0)
            return route_rpc(r, rel + 4);
        if (strchr(rel, '/') != NULL || rel[0] == '\0')
            return dba__http_error(r, 404, "PGRST125", "Invalid path specified in request URL",
                                   NULL, NULL);
        return dba__http_tables(r, rel);
    }
    bool handled = false;
    ret = dba__http_ops(r, url, &handled);
    if (handled)
        return ret;
    return dba__http_error(r, 404, "DBA404", "not found", NULL,
                           "The API lives under the base path; try GET /openapi.json");
}

enum MHD_Result
dba__http_on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                     const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct worker *w = cls;
    struct req *r = *con_cls;

    DBA_UNUSED(version);
    if (r == NULL) {
        r = dba__http_on_uri(w, url, mc);
        *con_cls = r;
    }
    if (!r->started) {
        r->started = true;
        r->method = method;
        r->url = url;
        return MHD_YES;
    }
    if (r->state == REQ_READY)
        return r->finish(r);
    if (r->state == REQ_WAITING)
        return MHD_YES;
    if (*upload_size > 0) {
        size_t max = (size_t)w->srv->cfg->server.max_body_bytes;
        if (max > 0 && r->body.len + *upload_size > max)
            r->body_too_big = true;
        else
            dba_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->body_too_big)
        return dba__http_error(r, 413, "DBA413", "request body too large", NULL,
                               "Raise server.max_body_bytes or send fewer rows per request.");
    return route(r);
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
