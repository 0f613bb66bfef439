/* openapi_routes.c - the documents built from the schema cache (openapi/): PostgREST's Swagger
   2.0 root document at GET <base>/ and the OpenAPI 3.1 description at GET /openapi.json. Both are
   assembled from the model the keeper built with the catalog (no query, no catalog walk beyond
   choosing the relations the role may see). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"
#include "openapi/openapi.h"

/* The media type the root document answers with for Accept `accept`, or NULL (406). PostgREST
   serves application/openapi+json (also for * / * and no Accept) and application/json. */
static const char *
root_media_type(const char *accept)
{
    const char *p = accept;

    if (accept == NULL || accept[0] == '\0')
        return "application/openapi+json";
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p + strcspn(p, ",;");
        size_t n = (size_t)(end - p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        const char *params = *end == ';' ? end : NULL;
        bool q0 = params != NULL && strstr(params, "q=0") != NULL &&
                  strcspn(params, ",") > (size_t)(strstr(params, "q=0") - params) &&
                  strncmp(strstr(params, "q=0"), "q=0.", 4) != 0;
        if (!q0) {
            if ((n == 24 && strncasecmp(p, "application/openapi+json", n) == 0) ||
                (n == 3 && strncmp(p, "*/*", 3) == 0) ||
                (n == 13 && strncasecmp(p, "application/*", n) == 0))
                return "application/openapi+json";
            if (n == 16 && strncasecmp(p, "application/json", n) == 0)
                return "application/json";
        }
        p = end;
        while (*p != '\0' && *p != ',')
            p++;
    }
    return NULL;
}

static const struct dba_openapi *
openapi_model(struct req *r, enum MHD_Result *ret)
{
    const struct dba_catalog *c = dba__http_cache(r);

    if (c == NULL || c->ext == NULL) {
        *ret = dba__http_error(r, 503, "PGRST002",
                               "Could not query the database for the schema cache. Retrying.",
                               NULL, NULL);
        return NULL;
    }
    return c->ext;
}

/* The role whose privileges decide what is listed (NULL: everything). */
static const char *
openapi_role(struct req *r, const struct dba_catalog *c)
{
    if (r->w->srv->cfg->server.openapi_mode == DBA_OPENAPI_IGNORE_PRIVILEGES)
        return NULL;
    return r->pol.role ? r->pol.role : c->login_role;
}

static ssize_t
openapi_no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    DBA_UNUSED(cls);
    DBA_UNUSED(pos);
    DBA_UNUSED(buf);
    DBA_UNUSED(max);
    return MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result
openapi_send(struct req *r, char *doc, size_t len, const char *media)
{
    struct MHD_Response *resp;

    if (strcmp(r->method, "HEAD") == 0) {
        /* PostgREST answers HEAD / without a body length. */
        free(doc);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, openapi_no_body, NULL,
                                                 NULL);
        /* no chunked framing (MHD would send its last chunk even to HEAD): the length is
           left unsaid and the connection closes after the headers */
        MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    } else {
        resp = MHD_create_response_from_buffer(len, doc, MHD_RESPMEM_MUST_FREE);
    }
    char ct[64];
    snprintf(ct, sizeof(ct), "%s; charset=utf-8", media);
    MHD_add_response_header(resp, "Content-Type", ct);
    if (r->pol.schema_echo && r->pol.schema != NULL)
        MHD_add_response_header(resp, "Content-Profile", r->pol.schema);
    return dba__http_queue(r, 200, resp);
}

enum MHD_Result
dba__http_openapi_root(struct req *r)
{
    enum MHD_Result ret;
    const struct dba_config *cfg = r->w->srv->cfg;

    if (!dba__http_method_ok(r, "GET", r->url, &ret))
        return ret;
    if (cfg->server.openapi_mode == DBA_OPENAPI_DISABLED)
        return dba__http_error(r, 404, "PGRST126", "Root endpoint metadata is disabled", NULL,
                               NULL);
    if (!dba__http_policy_identity(r, &ret))
        return ret;
    const char *accept = dba__http_header(r, "Accept");
    const char *media = root_media_type(accept);
    if (media == NULL)
        return dba__http_error(r, 406, "PGRST107",
                               dba_arena_printf(r->a, "None of these media types are available: %s",
                                                accept),
                               NULL, NULL);
    const struct dba_openapi *m = openapi_model(r, &ret);
    if (m == NULL)
        return ret;
    const struct dba_catalog *c = r->cache;
    if (!dba__http_policy_schema(r, c, true, &ret))
        return ret;
    struct dba_openapi_req q = { .schema = r->pol.schema, .role = openapi_role(r, c),
                                 .host = dba__http_header(r, "Host") };
    size_t len;
    char *doc = dba_openapi_swagger(m, &q, &len);
    return openapi_send(r, doc, len, media);
}

enum MHD_Result
dba__http_openapi_json(struct req *r)
{
    enum MHD_Result ret;
    const struct dba_openapi *m = openapi_model(r, &ret);

    if (m == NULL)
        return ret;
    const struct dba_catalog *c = r->cache;
    if (!dba__http_policy_schema(r, c, true, &ret))
        return ret;
    struct dba_openapi_req q = { .schema = r->pol.schema, .role = openapi_role(r, c),
                                 .host = dba__http_header(r, "Host") };
    size_t len;
    char *doc = dba_openapi_oas31(m, &q, &len);
    return openapi_send(r, doc, len, "application/openapi+json");
}
