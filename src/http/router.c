/* router.c - which handler answers a request: requests refused before routing (a NUL in the path
   or a header, an oversize query string), the table routes under server.base_path, the
   operational routes (ops.c, which also holds each route's class: public or operator), the admin
   listener (operational routes only), CORS preflight and method checks. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

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

/* <base>/rpc/<fn>: GET, HEAD and POST call the function (rpc.c); other methods are refused as
   PostgREST refuses them. */
static enum MHD_Result
route_rpc(struct req *r, const char *fn)
{
    static const char *const ok[] = { "GET", "HEAD", "POST" };
    bool allowed = false;

    for (size_t i = 0; i < DBA_ARRAY_LEN(ok); i++)
        allowed = allowed || strcmp(r->method, ok[i]) == 0;
    if (!allowed)
        return dba__http_error(r, 405, "PGRST101",
                               dba_arena_printf(r->a, "Cannot use the %s method on RPC", r->method),
                               NULL, NULL);
    return dba__http_rpc(r, fn);
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

enum MHD_Result
dba__http_route(struct req *r)
{
    const struct dba_config *cfg = r->w->srv->cfg;
    const char *base = cfg->server.base_path ? cfg->server.base_path : "/tables";
    size_t blen = strlen(base);
    const char *url = r->url;
    bool admin = dba__http_on_admin_listener(r);
    bool handled = false;
    enum MHD_Result ret;

    if (req_malformed(r, &ret))
        return ret;
    dba__http_policy_begin(r); /* before any handler, so before any SQL */
    if (admin || blen == 0) {
        /* The admin listener serves the operational routes only. With the API at the root, the
           operational paths (/healthz, /readyz, /metrics, ...) come first and hide tables of the
           same names. */
        ret = dba__http_ops(r, url, admin, &handled);
        if (handled)
            return ret;
        if (admin)
            return dba__http_error(r, 404, "DBA404", "not found", NULL,
                                   "The admin listener serves the operational routes only; the "
                                   "API is on server.port.");
    }
    if (strcmp(url, "/transaction") == 0) /* several operations in one transaction */
        return dba__http_transaction(r);
    if (strncmp(url, base, blen) == 0 && (url[blen] == '/' || url[blen] == '\0')) {
        const char *rel = url[blen] == '/' ? url + blen + 1 : url + blen;
        if (strcmp(r->method, "OPTIONS") == 0)
            return route_options(r);
        if (rel[0] == '\0')
            return dba__http_openapi_root(r);
        if (strncmp(rel, "rpc/", 4) == 0)
            return route_rpc(r, rel + 4);
        if (strchr(rel, '/') != NULL || rel[0] == '\0')
            return dba__http_error(r, 404, "PGRST125", "Invalid path specified in request URL",
                                   NULL, NULL);
        return dba__http_tables(r, rel);
    }
    ret = dba__http_ops(r, url, false, &handled);
    if (handled)
        return ret;
    return dba__http_error(r, 404, "DBA404", "not found", NULL,
                           "The API lives under the base path; try GET /openapi.json");
}
