/* swagger.c - PostgREST's Swagger 2.0 root document: one path and one definition per relation,
   row filter parameters per column, one path per function (GET too unless it is volatile), the
   shared parameters, and the document around them. Shapes follow PostgREST's (v14) answers. */
#include <stdlib.h>
#include <string.h>

#include "openapi/openapi_int.h"

static void
set_str(json_t *o, const char *key, const char *s)
{
    if (s != NULL)
        json_object_set_new(o, key, json_string(s));
}

/* "#/parameters/<name>" */
static json_t *
param_ref(const char *name)
{
    char *ref = dba_xcalloc(1, strlen(name) + 16);

    strcpy(ref, "#/parameters/");
    strcat(ref, name);
    json_t *o = json_pack("{s:s}", "$ref", ref);
    free(ref);
    return o;
}

/* The relationship giving column `col` of t its foreign key note: a many-to-one (or a one-to-one
   whose key is here) on that single column, tables before views. */
static const struct dba_relationship *
fk_of(const struct dba_table *t, const char *col)
{
    const struct dba_relationship *best = NULL;

    for (size_t i = 0; i < t->n_rels; i++) {
        const struct dba_relationship *r = &t->rels[i];
        bool m2o = r->card == DBA_CARD_M2O || (r->card == DBA_CARD_O2O && r->fk_here);
        if (!m2o || r->n_cols != 1 || strcmp(r->cols[0], col) != 0)
            continue;
        if (best == NULL || (best->target->is_view && !r->target->is_view))
            best = r;
    }
    return best;
}

static json_t *
type_schema(const char *type, char category, bool swagger)
{
    struct dba__openapi_type ty;
    json_t *o = json_object();

    dba__openapi_type_map(type, category, swagger, &ty);
    set_str(o, "format", ty.format);
    set_str(o, "type", ty.type);
    if (ty.type != NULL && strcmp(ty.type, "array") == 0) {
        json_t *items = json_object();
        set_str(items, "type", ty.item_type);
        json_object_set_new(o, "items", items);
    }
    return o;
}

static json_t *
column_property(const struct dba_table *t, const struct dba_column *col)
{
    json_t *p = type_schema(col->base_type, col->type_category, true);
    const char *jtype = json_string_value(json_object_get(p, "type"));
    json_t *def = dba__openapi_default(col->base_type, jtype, col->default_expr);
    const struct dba_relationship *fk = fk_of(t, col->name);
    bool pk = col->is_pk || col->view_key;

    if (def != NULL)
        json_object_set_new(p, "default", def);
    if (col->n_enum_labels > 0) {
        json_t *e = json_array();
        for (size_t i = 0; i < col->n_enum_labels; i++)
            json_array_append_new(e, json_string(col->enum_labels[i]));
        json_object_set_new(p, "enum", e);
    }
    if (col->max_len > 0)
        json_object_set_new(p, "maxLength", json_integer(col->max_len));
    if (pk || fk != NULL) {
        struct dba_buf b;
        dba_buf_init(&b);
        if (col->comment != NULL)
            dba_buf_printf(&b, "%s\n\n", col->comment);
        dba_buf_puts(&b, "Note:");
        if (pk)
            dba_buf_puts(&b, "\nThis is a Primary Key.<pk/>");
        if (fk != NULL)
            dba_buf_printf(&b, "\nThis is a Foreign Key to `%s.%s`.<fk table='%s' column='%s'/>",
                           fk->target->name, fk->target_cols[0], fk->target->name,
                           fk->target_cols[0]);
        json_object_set_new(p, "description", json_string(b.data));
        dba_buf_cleanup(&b);
    } else {
        set_str(p, "description", col->comment);
    }
    return p;
}

static void
sw_def(struct dba__openapi_rel *r)
{
    const struct dba_table *t = r->t;
    json_t *d = json_object();
    json_t *props = json_object();
    json_t *req = json_array();
    struct dba_buf b;

    set_str(d, "description", t->comment);
    json_object_set_new(d, "type", json_string("object"));
    for (size_t i = 0; i < t->n_cols; i++) {
        json_object_set_new(props, t->cols[i].name, column_property(t, &t->cols[i]));
        if (!t->cols[i].nullable)
            json_array_append_new(req, json_string(t->cols[i].name));
    }
    json_object_set_new(d, "properties", props);
    if (json_array_size(req) > 0)
        json_object_set_new(d, "required", req);
    else
        json_decref(req);
    dba_buf_init(&b);
    dba__openapi_put_pair(&b, t->name, d);
    r->sw_def = dba_buf_take(&b);
}

static void
sw_params(struct dba__openapi_rel *r)
{
    const struct dba_table *t = r->t;
    struct dba_buf b;
    char *def = dba_xcalloc(1, strlen(t->name) + 16);

    strcpy(def, "#/definitions/");
    strcat(def, t->name);
    char *body = dba_xcalloc(1, strlen(t->name) + 8);
    strcpy(body, "body.");
    strcat(body, t->name);
    dba_buf_init(&b);
    dba__openapi_put_pair(&b, body,
                          json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", t->name, "description",
                                    t->name, "required", 0, "in", "body", "schema", "$ref", def));
    free(def);
    free(body);
    for (size_t i = 0; i < t->n_cols; i++) {
        json_t *p = json_pack("{s:s}", "name", t->cols[i].name);
        set_str(p, "description", t->cols[i].comment);
        json_object_set_new(p, "required", json_false());
        json_object_set_new(p, "in", json_string("query"));
        json_object_set_new(p, "type", json_string("string"));
        char *key = dba_xcalloc(1, strlen(t->name) + strlen(t->cols[i].name) + 16);
        strcpy(key, "rowFilter.");
        strcat(key, t->name);
        strcat(key, ".");
        strcat(key, t->cols[i].name);
        dba_buf_putc(&b, ',');
        dba__openapi_put_pair(&b, key, p);
        free(key);
    }
    r->sw_params = dba_buf_take(&b);
}

/* tags, summary, description of an operation from a COMMENT */
static json_t *
sw_op(const char *tag, const char *comment)
{
    char *sum, *desc;
    json_t *op = json_object();

    dba__openapi_comment_split(comment, &sum, &desc);
    json_object_set_new(op, "tags", json_pack("[s]", tag));
    set_str(op, "summary", sum);
    set_str(op, "description", desc);
    free(sum);
    free(desc);
    return op;
}

static json_t *
refs(const struct dba_table *t, const char *const *tail, size_t n_tail, bool filters)
{
    json_t *a = json_array();

    for (size_t i = 0; filters && i < t->n_cols; i++) {
        char *key = dba_xcalloc(1, strlen(t->name) + strlen(t->cols[i].name) + 16);
        strcpy(key, "rowFilter.");
        strcat(key, t->name);
        strcat(key, ".");
        strcat(key, t->cols[i].name);
        json_array_append_new(a, param_ref(key));
        free(key);
    }
    for (size_t i = 0; i < n_tail; i++)
        json_array_append_new(a, param_ref(tail[i]));
    return a;
}

static void
sw_path(struct dba__openapi_rel *r)
{
    const struct dba_table *t = r->t;
    json_t *item = json_object();
    char *body = dba_xcalloc(1, strlen(t->name) + 8);
    char *def = dba_xcalloc(1, strlen(t->name) + 16);
    struct dba_buf b;

    strcpy(body, "body.");
    strcat(body, t->name);
    strcpy(def, "#/definitions/");
    strcat(def, t->name);
    const char *get_tail[] = { "select", "order", "range", "rangeUnit", "offset", "limit",
                               "preferCount" };
    json_t *get = sw_op(t->name, t->comment);
    json_object_set_new(get, "parameters", refs(t, get_tail, DBA_ARRAY_LEN(get_tail), true));
    json_object_set_new(get, "responses",
                        json_pack("{s:{s:s,s:{s:s,s:{s:s}}},s:{s:s}}", "200", "description", "OK",
                                  "schema", "type", "array", "items", "$ref", def, "206",
                                  "description", "Partial Content"));
    json_object_set_new(item, "get", get);
    if (t->insertable) {
        const char *post_tail[] = { body, "select", "preferPost" };
        const char *patch_tail[] = { body, "preferReturn" };
        const char *del_tail[] = { "preferReturn" };
        json_t *post = sw_op(t->name, t->comment);
        json_object_set_new(post, "parameters", refs(t, post_tail, 3, false));
        json_object_set_new(post, "responses", json_pack("{s:{s:s}}", "201", "description",
                                                         "Created"));
        json_object_set_new(item, "post", post);
        json_t *patch = sw_op(t->name, t->comment);
        json_object_set_new(patch, "parameters", refs(t, patch_tail, 2, true));
        json_object_set_new(patch, "responses", json_pack("{s:{s:s}}", "204", "description",
                                                          "No Content"));
        json_object_set_new(item, "patch", patch);
        json_t *del = sw_op(t->name, t->comment);
        json_object_set_new(del, "parameters", refs(t, del_tail, 1, true));
        json_object_set_new(del, "responses", json_pack("{s:{s:s}}", "204", "description",
                                                        "No Content"));
        json_object_set_new(item, "delete", del);
    }
    free(body);
    free(def);
    dba_buf_init(&b);
    char *key = dba_xcalloc(1, strlen(t->name) + 2);
    key[0] = '/';
    strcat(key, t->name);
    dba__openapi_put_pair(&b, key, item);
    free(key);
    r->sw_path = dba_buf_take(&b);
}

void
dba__openapi_swagger_rel(const struct dba_openapi *m, struct dba__openapi_rel *r)
{
    DBA_UNUSED(m);
    sw_def(r);
    sw_params(r);
    sw_path(r);
}

static bool
arg_is_input(const struct dba_func_arg *a)
{
    return (a->mode == DBA_ARG_IN || a->mode == DBA_ARG_INOUT || a->mode == DBA_ARG_VARIADIC) &&
           a->name[0] != '\0';
}

static json_t *
fn_get_param(const struct dba_func_arg *a)
{
    struct dba__openapi_type ty;
    bool variadic = a->mode == DBA_ARG_VARIADIC;

    dba__openapi_type_map(a->type, a->type_category, true, &ty);
    json_t *p = json_pack("{s:s,s:b,s:s}", "name", a->name, "required",
                          a->required && !variadic, "in", "query");
    if (variadic) {
        size_t len = strlen(a->type);
        char *elem = dba_xstrndup(a->type, len > 2 ? len - 2 : len);
        json_object_set_new(p, "type", json_string(ty.type ? ty.type : "string"));
        json_object_set_new(p, "collectionFormat", json_string("multi"));
        json_t *items = json_pack("{s:s}", "format", elem);
        set_str(items, "type", ty.item_type);
        json_object_set_new(p, "items", items);
        free(elem);
        return p;
    }
    json_object_set_new(p, "format", json_string(ty.format));
    bool plain = ty.type != NULL && strcmp(ty.type, "array") != 0;
    json_object_set_new(p, "type", json_string(plain ? ty.type : "string"));
    return p;
}

void
dba__openapi_swagger_fn(const struct dba_openapi *m, struct dba__openapi_fn *fn)
{
    const struct dba_function *f = fn->f;
    char *tag = dba_xcalloc(1, strlen(f->name) + 8);
    json_t *get_params = json_array();
    json_t *props = json_object();
    json_t *req = json_array();
    struct dba_buf b;

    DBA_UNUSED(m);
    strcpy(tag, "(rpc) ");
    strcat(tag, f->name);
    for (size_t i = 0; i < f->n_args; i++) {
        const struct dba_func_arg *a = &f->args[i];
        if (!arg_is_input(a))
            continue;
        json_array_append_new(get_params, fn_get_param(a));
        json_object_set_new(props, a->name, type_schema(a->type, a->type_category, true));
        if (a->required && a->mode != DBA_ARG_VARIADIC)
            json_array_append_new(req, json_string(a->name));
    }
    json_t *schema = json_object();
    set_str(schema, "description", f->comment);
    json_object_set_new(schema, "type", json_string("object"));
    json_object_set_new(schema, "properties", props);
    if (json_array_size(req) > 0)
        json_object_set_new(schema, "required", req);
    else
        json_decref(req);
    json_t *item = json_object();
    json_t *post = sw_op(tag, f->comment);
    json_object_set_new(post, "produces",
                        json_pack("[s,s,s]", "application/json",
                                  "application/vnd.pgrst.object+json;nulls=stripped",
                                  "application/vnd.pgrst.object+json"));
    json_object_set_new(post, "responses", json_pack("{s:{s:s}}", "200", "description", "OK"));
    if (f->volatility != 'v') {
        json_t *get = json_deep_copy(post);
        json_object_set_new(get, "parameters", get_params);
        json_object_set_new(item, "get", get);
    } else {
        json_decref(get_params);
    }
    json_object_set_new(post, "parameters",
                        json_pack("[{s:s,s:b,s:s,s:o},o]", "name", "args", "required", 1, "in",
                                  "body", "schema", schema, param_ref("preferParams")));
    json_object_set_new(item, "post", post);
    free(tag);
    dba_buf_init(&b);
    char *key = dba_xcalloc(1, strlen(f->name) + 8);
    strcpy(key, "/rpc/");
    strcat(key, f->name);
    dba__openapi_put_pair(&b, key, item);
    free(key);
    fn->sw_path = dba_buf_take(&b);
}

/* The shared parameters (PostgREST's names). */
static void
sw_common_params(struct dba_buf *b)
{
    static const struct {
        const char *key, *name, *desc, *in;
    } plain[] = {
        { "select", "select", "Filtering Columns", "query" },
        { "on_conflict", "on_conflict", "On Conflict", "query" },
        { "order", "order", "Ordering", "query" },
        { "range", "Range", "Limiting and Pagination", "header" },
        { "offset", "offset", "Limiting and Pagination", "query" },
        { "limit", "limit", "Limiting and Pagination", "query" },
    };

    dba__openapi_put_pair(b, "preferParams",
                          json_pack("{s:s,s:s,s:b,s:s,s:s,s:[s]}", "name", "Prefer", "description",
                                    "Preference", "required", 0, "in", "header", "type", "string",
                                    "enum", "params=single-object"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "preferReturn",
                          json_pack("{s:s,s:s,s:b,s:s,s:s,s:[s,s,s]}", "name", "Prefer",
                                    "description", "Preference", "required", 0, "in", "header",
                                    "type", "string", "enum", "return=representation",
                                    "return=minimal", "return=none"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "preferCount",
                          json_pack("{s:s,s:s,s:b,s:s,s:s,s:[s]}", "name", "Prefer", "description",
                                    "Preference", "required", 0, "in", "header", "type", "string",
                                    "enum", "count=none"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "preferPost",
                          json_pack("{s:s,s:s,s:b,s:s,s:s,s:[s,s,s,s,s]}", "name", "Prefer",
                                    "description", "Preference", "required", 0, "in", "header",
                                    "type", "string", "enum", "return=representation",
                                    "return=minimal", "return=none",
                                    "resolution=ignore-duplicates",
                                    "resolution=merge-duplicates"));
    for (size_t i = 0; i < DBA_ARRAY_LEN(plain); i++) {
        dba_buf_putc(b, ',');
        dba__openapi_put_pair(b, plain[i].key,
                              json_pack("{s:s,s:s,s:b,s:s,s:s}", "name", plain[i].name,
                                        "description", plain[i].desc, "required", 0, "in",
                                        plain[i].in, "type", "string"));
    }
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "rangeUnit",
                          json_pack("{s:s,s:s,s:b,s:s,s:s,s:s}", "name", "Range-Unit",
                                    "description", "Limiting and Pagination", "required", 0, "in",
                                    "header", "type", "string", "default", "items"));
}

static const char *
schema_comment(const struct dba_catalog *c, const char *schema)
{
    for (size_t i = 0; c->schema_comments != NULL && i < c->n_schemas; i++)
        if (strcmp(c->schemas[i], schema) == 0)
            return c->schema_comments[i];
    return NULL;
}

static void
put_list(struct dba_buf *b, const char *key, const char **frags, size_t n)
{
    bool first = true;

    dba_buf_printf(b, ",\"%s\":{", key);
    for (size_t i = 0; i < n; i++) {
        if (frags[i] == NULL)
            continue;
        if (!first)
            dba_buf_putc(b, ',');
        dba_buf_puts(b, frags[i]);
        first = false;
    }
    dba_buf_putc(b, '}');
}

char *
dba_openapi_swagger(const struct dba_openapi *m, const struct dba_openapi_req *q, size_t *len)
{
    const struct dba_catalog *c = m->c;
    struct dba__openapi_vis vis;
    struct dba_buf b;
    char *title, *desc;
    const char **paths = dba_xcalloc(c->n_tables + c->n_functions + 2, sizeof(char *));
    const char **defs = dba_xcalloc(c->n_tables + 1, sizeof(char *));
    const char **params = dba_xcalloc(c->n_tables + 1, sizeof(char *));
    size_t n_paths = 0;

    dba__openapi_vis_init(&vis, c, q->role);
    dba__openapi_comment_split(schema_comment(c, q->schema), &title, &desc);
    dba_buf_init(&b);
    dba_buf_puts(&b, "{\"swagger\":\"2.0\",\"info\":");
    dba__openapi_put_json(&b, json_pack("{s:s,s:s,s:s}", "version", m->version, "title",
                                        title ? title : "PostgREST API", "description",
                                        desc ? desc : (title ? "" :
                                        "This is a dynamic API generated by PostgREST")));
    free(title);
    free(desc);
    dba_buf_puts(&b, ",\"externalDocs\":{\"description\":\"PostgREST Documentation\",\"url\":"
                     "\"https://postgrest.org/en/v14/references/api.html\"}");
    const char *host = m->pub_host ? m->pub_host : q->host;
    if (host != NULL) {
        dba_buf_puts(&b, ",\"host\":");
        dba__openapi_put_json(&b, json_string(host));
    }
    /* the public URL names where the gateway's root is reachable; the API is below base_path */
    struct dba_buf bp;
    dba_buf_init(&bp);
    if (m->pub_path != NULL && strcmp(m->pub_path, "/") != 0)
        dba_buf_append(&bp, m->pub_path, strlen(m->pub_path) - (m->pub_path[strlen(m->pub_path) - 1] == '/'));
    dba_buf_puts(&bp, m->base_path);
    dba_buf_puts(&b, ",\"basePath\":");
    dba__openapi_put_json(&b, json_string(bp.len ? bp.data : "/"));
    dba_buf_cleanup(&bp);
    dba_buf_puts(&b, ",\"schemes\":");
    dba__openapi_put_json(&b, json_pack("[s]", m->pub_scheme ? m->pub_scheme : "http"));
    dba_buf_puts(&b, ",\"consumes\":[\"application/json\","
                     "\"application/vnd.pgrst.object+json;nulls=stripped\","
                     "\"application/vnd.pgrst.object+json\",\"text/csv\"]"
                     ",\"produces\":[\"application/json\","
                     "\"application/vnd.pgrst.object+json;nulls=stripped\","
                     "\"application/vnd.pgrst.object+json\",\"text/csv\"]");
    paths[n_paths++] = "\"/\":{\"get\":{\"tags\":[\"Introspection\"],\"summary\":"
                       "\"OpenAPI description (this document)\",\"produces\":"
                       "[\"application/openapi+json\",\"application/json\"],\"responses\":"
                       "{\"200\":{\"description\":\"OK\"}}}}";
    for (size_t i = 0; i < c->n_tables; i++) {
        if (!dba__openapi_rel_listed(&vis, &c->tables[i], q->schema))
            continue;
        paths[n_paths++] = m->rels[i].sw_path;
        defs[i] = m->rels[i].sw_def;
        params[i] = m->rels[i].sw_params;
    }
    for (size_t i = 0; i < c->n_functions; i++) {
        const struct dba_function *f = &c->functions[i];
        if (!dba__openapi_fn_listed(&vis, f, q->schema))
            continue;
        bool dup = false; /* an overload of a name already listed */
        for (size_t k = i; k > 0 && !dup && strcmp(c->functions[k - 1].name, f->name) == 0; k--)
            dup = dba__openapi_fn_listed(&vis, &c->functions[k - 1], q->schema);
        if (!dup)
            paths[n_paths++] = m->fns[i].sw_path;
    }
    put_list(&b, "paths", paths, n_paths);
    put_list(&b, "definitions", defs, c->n_tables);
    dba_buf_puts(&b, ",\"parameters\":{");
    sw_common_params(&b);
    for (size_t i = 0; i < c->n_tables; i++) {
        if (params[i] == NULL)
            continue;
        dba_buf_putc(&b, ',');
        dba_buf_puts(&b, params[i]);
    }
    dba_buf_putc(&b, '}');
    if (m->security_active)
        dba_buf_puts(&b, ",\"securityDefinitions\":{\"JWT\":{\"type\":\"apiKey\",\"in\":\"header\","
                         "\"name\":\"Authorization\",\"description\":\"Add the token prepending "
                         "\\\"Bearer \\\" (without quotes) to it\"}},\"security\":[{\"JWT\":[]}]");
    dba_buf_putc(&b, '}');
    dba__openapi_vis_cleanup(&vis);
    free(paths);
    free(defs);
    free(params);
    *len = b.len;
    return dba_buf_take(&b);
}
