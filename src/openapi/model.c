/* model.c - the OpenAPI model of one catalog load: built once on the keeper thread, every
   relation's and function's pieces rendered as JSON text up front, immutable afterwards. */
#include <stdlib.h>
#include <string.h>

#include "openapi/openapi_int.h"

/* scheme://host[:port][/path] -> the parts (PostgREST's openapi-server-proxy-uri). */
static void
model_public_url(struct dba_openapi *m, const char *url)
{
    const char *sep = url ? strstr(url, "://") : NULL;

    if (sep == NULL || sep == url)
        return;
    const char *host = sep + 3;
    const char *slash = strchr(host, '/');
    size_t hlen = slash ? (size_t)(slash - host) : strlen(host);
    if (hlen == 0)
        return;
    m->pub_scheme = dba_xstrndup(url, (size_t)(sep - url));
    for (char *p = m->pub_scheme; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    m->pub_host = dba_xstrndup(host, hlen);
    m->pub_path = dba_xstrdup(slash && slash[1] ? slash : "/");
    m->pub_url = dba_xstrdup(url);
    size_t n = strlen(m->pub_url);
    while (n > 0 && m->pub_url[n - 1] == '/')
        m->pub_url[--n] = '\0';
}

/* The operator routes' paths and components, as members text. */
static void
model_operator_doc(struct dba_openapi *m, const char *text, size_t len)
{
    static const char *const kinds[4] = { "schemas", "responses", "parameters",
                                          "securitySchemes" };
    json_t *doc = text ? json_loadb(text, len, 0, NULL) : NULL;
    const char *key;
    json_t *v;
    struct dba_buf b;

    dba_buf_init(&b);
    json_object_foreach(json_object_get(doc, "paths"), key, v) {
        if (b.len)
            dba_buf_putc(&b, ',');
        dba__openapi_put_pair(&b, key, json_incref(v));
    }
    m->oas_op_paths = dba_buf_take(&b);
    for (int i = 0; i < 4; i++) {
        dba_buf_init(&b);
        json_object_foreach(json_object_get(json_object_get(doc, "components"), kinds[i]), key,
                            v) {
            if (b.len)
                dba_buf_putc(&b, ',');
            dba__openapi_put_pair(&b, key, json_incref(v));
        }
        m->oas_op_components[i] = dba_buf_take(&b);
    }
    json_decref(doc);
}

struct dba_openapi *
dba_openapi_new(const struct dba_catalog *c, const struct dba_openapi_opts *o)
{
    struct dba_openapi *m = dba_xcalloc(1, sizeof(*m));

    m->c = c;
    m->base_path = dba_xstrdup(o->base_path ? o->base_path : "");
    m->security_active = o->security_active;
    m->version = dba_xstrdup(o->version ? o->version : "");
    model_public_url(m, o->public_url);
    model_operator_doc(m, o->operator_doc, o->operator_doc_len);
    m->rels = dba_xcalloc(c->n_tables + 1, sizeof(*m->rels));
    for (size_t i = 0; i < c->n_tables; i++) {
        m->rels[i].t = &c->tables[i];
        if (c->tables[i].is_partition)
            continue;
        dba__openapi_swagger_rel(m, &m->rels[i]);
        dba__openapi_oas_rel(m, &m->rels[i], i);
    }
    m->fns = dba_xcalloc(c->n_functions + 1, sizeof(*m->fns));
    for (size_t i = 0; i < c->n_functions; i++) {
        m->fns[i].f = &c->functions[i];
        dba__openapi_swagger_fn(m, &m->fns[i]);
        dba__openapi_oas_fn(m, &m->fns[i], i);
    }
    return m;
}

void
dba_openapi_free(struct dba_openapi *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->c->n_tables; i++) {
        free(m->rels[i].sw_path);
        free(m->rels[i].sw_def);
        free(m->rels[i].sw_params);
        free(m->rels[i].oas_path);
        free(m->rels[i].oas_schemas);
    }
    free(m->rels);
    for (size_t i = 0; i < m->c->n_functions; i++) {
        free(m->fns[i].sw_path);
        free(m->fns[i].oas_path);
    }
    free(m->fns);
    free(m->oas_op_paths);
    for (int i = 0; i < 4; i++)
        free(m->oas_op_components[i]);
    free(m->base_path);
    free(m->pub_scheme);
    free(m->pub_host);
    free(m->pub_path);
    free(m->pub_url);
    free(m->version);
    free(m);
}
