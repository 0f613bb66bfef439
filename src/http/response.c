/* response.c - the leaf helpers every handler answers with: common headers (CORS, Server-Timing,
   the trace header), JSON bodies, and the one error choke point (dba__http_error, reached by
   dba__http_send_err for a struct dba_err) that shapes every error as PostgREST does. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

#define CORS_EXPOSE "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, " \
                    "Location, Server, Transfer-Encoding, Range-Unit"

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
    if (r->lsn[0] != '\0') /* a write, with replicas: read-your-writes (replicas.c) */
        MHD_add_response_header(resp, "X-Db-Lsn", r->lsn);
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
    dba__http_metrics_record(r, status, r->resp_len_known ? r->resp_len : -1);
    req_log(DBA_LOG_DEBUG, r, "%s %s -> %u (%lld ms)", r->method, r->url, status,
            (long long)(dba_now_ms() - r->start_ms));
    return ret;
}

enum MHD_Result
dba__http_send_json(struct req *r, unsigned status, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);

    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    r->resp_len = (int64_t)len;
    r->resp_len_known = true;
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

/* The error body with details given as JSON (stolen). */
static enum MHD_Result
http_error_json(struct req *r, unsigned status, const char *code, const char *msg,
                json_t *details, const char *hint)
{
    json_t *o = json_object();
    char proxy[64];

    json_object_set_new(o, "code", json_text(code ? code : "DBA500"));
    json_object_set_new(o, "details", details);
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
        MHD_add_response_header(resp, "WWW-Authenticate",
                                r->www_authenticate ? r->www_authenticate : "Bearer");
    if (r->err_content_range != NULL)
        MHD_add_response_header(resp, "Content-Range", r->err_content_range);
    return dba__http_queue(r, status, resp);
}

enum MHD_Result
dba__http_error(struct req *r, unsigned status, const char *code, const char *msg,
                const char *detail, const char *hint)
{
    return http_error_json(r, status, code, msg, str_or_null(detail), hint);
}

enum MHD_Result
dba__http_send_err(struct req *r, const struct dba_err *e)
{
    const char *code;
    /* 42501 is 401 for an anonymous caller, 403 for one with credentials (http/status.c). */
    unsigned status = dba__http_status(e, r->pol.caller != HTTP_CALLER_ANON, &code);

    if (status == 503) /* an outage is logged once by the engine (db/conn_log.c); each 503 is
                          in the access log, and here at debug */
        req_log(DBA_LOG_DEBUG, r, "%s %s -> %u %s: %s", r->method, r->url, status, code, e->msg);
    else if (status >= 500)
        req_log(DBA_LOG_WARN, r, "%s %s -> %u %s: %s", r->method, r->url, status, code, e->msg);
    json_t *details = e->detail_json ? json_loads(e->detail, 0, NULL) : NULL; /* PGRST201 */
    return http_error_json(r, status, code, e->msg, details ? details : str_or_null(e->detail),
                           e->hint);
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

void
dba__http_request_id(struct req *r, char *buf, size_t n)
{
    const char *trace = r->w->srv->cfg->server.trace_header;
    const char *id = trace != NULL && trace[0] != '\0' ? dba__http_header(r, trace) : NULL;

    if (n == 0)
        return;
    if (id == NULL) {
        snprintf(buf, n, "%d.%llu", r->w->index, (unsigned long long)r->seq);
        return;
    }
    /* A client's id is kept up to 64 printable ASCII bytes (control bytes as '?'). */
    snprintf(buf, n, "%.64s", id);
    for (char *p = buf; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
}

void
dba__http_log(int level, struct req *r, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char idbuf[80];
    dba__http_request_id(r, idbuf, sizeof(idbuf));
    const struct dba_profile *p = r->pol.profile ? r->pol.profile : r->w->srv->active;
    dba_log_write(level, "req %s profile %s: %s", idbuf, p->name, msg);
}
