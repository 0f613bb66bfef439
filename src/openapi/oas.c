/* oas.c - the OpenAPI 3.1 description (GET /openapi.json) for generated clients: every relation
   as a path under the base path with a typed read schema, an insert schema (the columns a row
   needs) and an update schema (all optional); each column as an optional query parameter taking
   a PostgREST filter string (e.g. "eq.1"), so a generic client serializes it as name=value;
   select, order, limit, offset, Prefer and Range; functions with their argument and result
   schemas; the operator routes of openapi/openapi.yaml; the error schema. */
#include <stdlib.h>
#include <string.h>

#include "openapi/openapi_int.h"

/* Query parameter names PostgREST reserves: a column of that name cannot be filtered. */
static const char *const reserved[] = { "select", "order", "limit", "offset", "on_conflict",
                                        "columns", "and", "or", "not" };

static bool
is_reserved(const char *name)
{
    for (size_t i = 0; i < DBA_ARRAY_LEN(reserved); i++)
        if (strcmp(reserved[i], name) == 0)
            return true;
    return false;
}

static void
set_str(json_t *o, const char *key, const char *s)
{
    if (s != NULL)
        json_object_set_new(o, key, json_string(s));
}

/* A component name for relation/function `name` (OpenAPI allows [A-Za-z0-9._-]): the name when
   it fits, else the name with '_' for the other bytes and "_<index>" appended, so two names
   never meet. */
static char *
component_name(const char *name, size_t index)
{
    struct dba_buf b;
    bool changed = name[0] == '\0';

    dba_buf_init(&b);
    for (const char *p = name; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '-' || ch == '.';
        dba_buf_putc(&b, ok ? ch : '_');
        changed = changed || !ok;
    }
    if (changed)
        dba_buf_printf(&b, "_%zu", index);
    return dba_buf_take(&b);
}

/* A path segment: the name percent-encoded outside [A-Za-z0-9._~-]. */
static void
put_segment(struct dba_buf *b, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.' || *p == '~';
        if (ok)
            dba_buf_putc(b, (char)*p);
        else
            dba_buf_printf(b, "%%%02X", *p);
    }
}

/* The paths entry "<base>/<prefix><name>": item, as text (heap). */
static char *
path_entry(const struct dba_openapi *m, const char *prefix, const char *name, json_t *item)
{
    struct dba_buf k, b;

    dba_buf_init(&k);
    dba_buf_printf(&k, "%s/%s", m->base_path, prefix);
    put_segment(&k, name);
    dba_buf_init(&b);
    dba__openapi_put_pair(&b, k.data, item);
    dba_buf_cleanup(&k);
    return dba_buf_take(&b);
}

static json_t *
ref(const char *kind, const char *name, const char *suffix)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_printf(&b, "#/components/%s/%s%s", kind, name, suffix ? suffix : "");
    json_t *o = json_pack("{s:s}", "$ref", b.data);
    dba_buf_cleanup(&b);
    return o;
}

/* The JSON Schema of a value of `type`; nullable adds null. */
static json_t *
value_schema(const char *type, char category, char **labels, size_t n_labels, bool nullable)
{
    struct dba__openapi_type ty;
    json_t *o = json_object();

    dba__openapi_type_map(type, category, false, &ty);
    if (ty.type != NULL)
        json_object_set_new(o, "type", nullable ? json_pack("[s,s]", ty.type, "null")
                                                : json_string(ty.type));
    set_str(o, "format", ty.format);
    if (ty.type != NULL && strcmp(ty.type, "array") == 0) {
        json_t *items = json_object();
        set_str(items, "type", ty.item_type);
        set_str(items, "format", ty.item_format);
        json_object_set_new(o, "items", items);
    }
    if (n_labels > 0) {
        json_t *e = json_array();
        for (size_t i = 0; i < n_labels; i++)
            json_array_append_new(e, json_string(labels[i]));
        if (nullable)
            json_array_append_new(e, json_null());
        json_object_set_new(o, "enum", e);
    }
    return o;
}

static const struct dba_relationship *
fk_of(const struct dba_table *t, const char *col)
{
    for (size_t i = 0; i < t->n_rels; i++) {
        const struct dba_relationship *r = &t->rels[i];
        bool m2o = r->card == DBA_CARD_M2O || (r->card == DBA_CARD_O2O && r->fk_here);
        if (m2o && r->n_cols == 1 && strcmp(r->cols[0], col) == 0 && !r->target->is_view)
            return r;
    }
    return NULL;
}

/* write: an insert or update schema, where a default would make generators (openapi-typescript)
   treat the column as always sent; the read schema carries it. */
static json_t *
column_schema(const struct dba_table *t, const struct dba_column *col, bool nullable, bool write)
{
    json_t *s = value_schema(col->base_type, col->type_category, col->enum_labels,
                             col->n_enum_labels, nullable);
    struct dba__openapi_type ty;
    const struct dba_relationship *fk = fk_of(t, col->name);
    struct dba_buf b;

    dba__openapi_type_map(col->base_type, col->type_category, false, &ty);
    json_t *def = dba__openapi_default(col->base_type, ty.type, col->default_expr);
    if (def != NULL && !write)
        json_object_set_new(s, "default", def);
    else
        json_decref(def);
    if (col->max_len > 0)
        json_object_set_new(s, "maxLength", json_integer(col->max_len));
    dba_buf_init(&b);
    if (col->comment != NULL)
        dba_buf_puts(&b, col->comment);
    if (col->is_pk || col->view_key)
        dba_buf_printf(&b, "%sPrimary key.", b.len ? "\n\n" : "");
    if (fk != NULL)
        dba_buf_printf(&b, "%sForeign key to `%s.%s`.", b.len ? "\n\n" : "", fk->target->name,
                       fk->target_cols[0]);
    if (b.len)
        json_object_set_new(s, "description", json_string(b.data));
    dba_buf_cleanup(&b);
    if (col->generated || col->identity_kind == 'a')
        json_object_set_new(s, "readOnly", json_true());
    return s;
}

/* read, insert and update schemas of t under component name cn */
static char *
rel_schemas(const struct dba_table *t, const char *cn, bool writable)
{
    json_t *rd = json_pack("{s:s}", "type", "object");
    json_t *in = json_pack("{s:s}", "type", "object");
    json_t *up = json_pack("{s:s}", "type", "object");
    json_t *rp = json_object(), *ip = json_object(), *upp = json_object();
    json_t *rreq = json_array(), *ireq = json_array();
    char *sum, *desc;
    struct dba_buf b;

    dba__openapi_comment_split(t->comment, &sum, &desc);
    set_str(rd, "title", sum);
    set_str(rd, "description", desc);
    free(sum);
    free(desc);
    for (size_t i = 0; i < t->n_cols; i++) {
        const struct dba_column *col = &t->cols[i];
        json_object_set_new(rp, col->name, column_schema(t, col, col->nullable, false));
        json_array_append_new(rreq, json_string(col->name));
        if (col->generated || col->identity_kind == 'a')
            continue; /* never written */
        json_object_set_new(ip, col->name, column_schema(t, col, col->nullable, true));
        json_object_set_new(upp, col->name, column_schema(t, col, col->nullable, true));
        if (!col->nullable && col->default_expr == NULL && !col->identity && !col->serial)
            json_array_append_new(ireq, json_string(col->name));
    }
    json_object_set_new(rd, "properties", rp);
    json_object_set_new(rd, "required", rreq);
    json_object_set_new(in, "properties", ip);
    if (json_array_size(ireq) > 0)
        json_object_set_new(in, "required", ireq);
    else
        json_decref(ireq);
    json_object_set_new(up, "properties", upp);
    dba_buf_init(&b);
    char *k = dba_xcalloc(1, strlen(cn) + 16);
    dba__openapi_put_pair(&b, cn, rd);
    if (writable) {
        dba_buf_putc(&b, ',');
        sprintf(k, "%s.insert", cn);
        dba__openapi_put_pair(&b, k, in);
        dba_buf_putc(&b, ',');
        sprintf(k, "%s.update", cn);
        dba__openapi_put_pair(&b, k, up);
    } else {
        json_decref(in);
        json_decref(up);
    }
    free(k);
    return dba_buf_take(&b);
}

static json_t *
rows_content(const char *cn)
{
    return json_pack("{s:{s:{s:s,s:o}}}", "application/json", "schema", "type", "array", "items",
                     ref("schemas", cn, NULL));
}

/* Column filters, then the shared parameters named in tail. */
static json_t *
rel_params(const struct dba_table *t, const char *const *tail, size_t n_tail, bool filters)
{
    json_t *a = json_array();

    for (size_t i = 0; filters && i < t->n_cols; i++) {
        const struct dba_column *col = &t->cols[i];
        if (is_reserved(col->name))
            continue;
        char *d = dba_xcalloc(1, strlen(col->name) + strlen(col->type) + 96);
        sprintf(d, "Filter on %s (%s): a PostgREST operator and value, e.g. eq.1, in.(1,2), "
                   "is.null", col->name, col->type);
        json_array_append_new(a, json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", col->name, "in",
                                           "query", "required", 0, "description", d, "schema",
                                           "type", "string"));
        free(d);
    }
    for (size_t i = 0; i < n_tail; i++)
        json_array_append_new(a, ref("parameters", tail[i], NULL));
    return a;
}

static json_t *
op_new(const char *tag, const char *summary, const char *comment, const char *op_id)
{
    char *sum, *desc;
    json_t *op = json_pack("{s:[s]}", "tags", tag);

    dba__openapi_comment_split(comment, &sum, &desc);
    json_object_set_new(op, "summary", json_string(summary));
    if (sum != NULL || desc != NULL) {
        struct dba_buf b;
        dba_buf_init(&b);
        dba_buf_printf(&b, "%s%s%s", sum ? sum : "", sum && desc ? "\n\n" : "", desc ? desc : "");
        json_object_set_new(op, "description", json_string(b.data));
        dba_buf_cleanup(&b);
    }
    free(sum);
    free(desc);
    json_object_set_new(op, "operationId", json_string(op_id));
    return op;
}

/* A write's answers: X-Db-Lsn (only sent when the profile has replicas, docs/SCALING.md). */
static void
op_lsn(json_t *responses)
{
    const char *k;
    json_t *v;

    json_object_foreach(responses, k, v)
        json_object_set_new(v, "headers", json_pack("{s:{s:s,s:{s:s}}}", "X-Db-Lsn",
            "description", "The primary's WAL position after this write's commit (a profile "
            "with replicas only); send it back as X-Db-Min-Lsn to read your write", "schema",
            "type", "string"));
}

static void
op_errors(json_t *responses)
{
    json_object_set_new(responses, "4XX", ref("responses", "Error", NULL));
    json_object_set_new(responses, "5XX", ref("responses", "Error", NULL));
}

void
dba__openapi_oas_rel(const struct dba_openapi *m, struct dba__openapi_rel *r, size_t index)
{
    const struct dba_table *t = r->t;
    char *cn = component_name(t->name, index);
    char *id = dba_xcalloc(1, strlen(cn) + 16);
    char *sum = dba_xcalloc(1, strlen(t->name) + 64);
    json_t *item = json_object();

    r->oas_schemas = rel_schemas(t, cn, t->insertable);
    const char *get_tail[] = { "select", "order", "limit", "offset", "range", "preferRead",
                               "minLsn" };
    sprintf(id, "%s.get", cn);
    sprintf(sum, "Read rows of %s", t->name);
    json_t *get = op_new(t->name, sum, t->comment, id);
    json_object_set_new(get, "parameters", rel_params(t, get_tail, DBA_ARRAY_LEN(get_tail), true));
    json_t *gr = json_pack("{s:{s:s,s:o},s:{s:s,s:o}}", "200", "description", "OK", "content",
                           rows_content(cn), "206", "description", "Partial Content", "content",
                           rows_content(cn));
    op_errors(gr);
    json_object_set_new(get, "responses", gr);
    json_object_set_new(item, "get", get);
    if (t->insertable) {
        char *ins = dba_xcalloc(1, strlen(cn) + 16), *upd = dba_xcalloc(1, strlen(cn) + 16);
        sprintf(ins, "%s.insert", cn);
        sprintf(upd, "%s.update", cn);
        const char *post_tail[] = { "select", "onConflict", "preferWrite" };
        const char *write_tail[] = { "select", "preferWrite" };
        sprintf(id, "%s.post", cn);
        sprintf(sum, "Insert rows into %s", t->name);
        json_t *post = op_new(t->name, sum, t->comment, id);
        json_object_set_new(post, "parameters", rel_params(t, post_tail, 3, false));
        json_object_set_new(post, "requestBody",
                            json_pack("{s:b,s:{s:{s:{s:[o,{s:s,s:o}]}}}}", "required", 1,
                                      "content", "application/json", "schema", "oneOf",
                                      ref("schemas", ins, NULL), "type", "array", "items",
                                      ref("schemas", ins, NULL)));
        json_t *pr = json_pack("{s:{s:s,s:o}}", "201",
                               "description", "Created (rows with Prefer: return=representation)",
                               "content", rows_content(cn));
        op_lsn(pr);
        op_errors(pr);
        json_object_set_new(post, "responses", pr);
        json_object_set_new(item, "post", post);

        sprintf(id, "%s.patch", cn);
        sprintf(sum, "Update rows of %s", t->name);
        json_t *patch = op_new(t->name, sum, t->comment, id);
        json_object_set_new(patch, "parameters", rel_params(t, write_tail, 2, true));
        json_object_set_new(patch, "requestBody",
                            json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
                                      "application/json", "schema", ref("schemas", upd, NULL)));
        json_t *ur = json_pack("{s:{s:s,s:o},s:{s:s}}", "200", "description",
                               "Updated rows (Prefer: return=representation)", "content",
                               rows_content(cn), "204", "description", "No Content");
        op_lsn(ur);
        op_errors(ur);
        json_object_set_new(patch, "responses", ur);
        json_object_set_new(item, "patch", patch);

        sprintf(id, "%s.delete", cn);
        sprintf(sum, "Delete rows of %s", t->name);
        json_t *del = op_new(t->name, sum, t->comment, id);
        json_object_set_new(del, "parameters", rel_params(t, write_tail, 2, true));
        json_t *dr = json_pack("{s:{s:s,s:o},s:{s:s}}", "200", "description",
                               "Deleted rows (Prefer: return=representation)", "content",
                               rows_content(cn), "204", "description", "No Content");
        op_lsn(dr);
        op_errors(dr);
        json_object_set_new(del, "responses", dr);
        json_object_set_new(item, "delete", del);
        free(ins);
        free(upd);
    }
    r->oas_path = path_entry(m, "", t->name, item);
    free(id);
    free(sum);
    free(cn);
}

static bool
arg_is_input(const struct dba_func_arg *a)
{
    return (a->mode == DBA_ARG_IN || a->mode == DBA_ARG_INOUT || a->mode == DBA_ARG_VARIADIC) &&
           a->name[0] != '\0';
}

/* What a call answers. */
static json_t *
result_schema(const struct dba_function *f)
{
    json_t *one;

    if (f->ret_kind == DBA_FRET_COMPOSITE) {
        json_t *props = json_object();
        const struct dba_table *t = f->ret_table;
        for (size_t i = 0; i < t->n_cols; i++)
            json_object_set_new(props, t->cols[i].name,
                                value_schema(t->cols[i].base_type ? t->cols[i].base_type
                                                                  : t->cols[i].type,
                                             t->cols[i].type_category, NULL, 0, true));
        one = json_pack("{s:s,s:o}", "type", "object", "properties", props);
    } else {
        one = value_schema(f->ret_type, 0, NULL, 0, true);
    }
    return f->ret_set ? json_pack("{s:s,s:o}", "type", "array", "items", one) : one;
}

void
dba__openapi_oas_fn(const struct dba_openapi *m, struct dba__openapi_fn *fn, size_t index)
{
    const struct dba_function *f = fn->f;
    char *cn = component_name(f->name, index);
    char *id = dba_xcalloc(1, strlen(cn) + 16);
    char *sum = dba_xcalloc(1, strlen(f->name) + 32);
    char *tag = dba_xcalloc(1, strlen(f->name) + 8);
    json_t *props = json_object(), *req = json_array(), *qp = json_array();
    json_t *item = json_object();

    sprintf(tag, "(rpc) %s", f->name);
    sprintf(sum, "Call %s", f->name);
    for (size_t i = 0; i < f->n_args; i++) {
        const struct dba_func_arg *a = &f->args[i];
        if (!arg_is_input(a))
            continue;
        bool required = a->required && a->mode != DBA_ARG_VARIADIC;
        json_object_set_new(props, a->name, value_schema(a->type, a->type_category, NULL, 0,
                                                         false));
        if (required)
            json_array_append_new(req, json_string(a->name));
        struct dba__openapi_type ty;
        dba__openapi_type_map(a->type, a->type_category, false, &ty);
        bool plain = ty.type != NULL && strcmp(ty.type, "array") != 0;
        json_t *ps = json_pack("{s:s}", "type", plain ? ty.type : "string");
        if (plain)
            set_str(ps, "format", ty.format);
        json_array_append_new(qp, json_pack("{s:s,s:s,s:b,s:o}", "name", a->name, "in", "query",
                                            "required", required, "schema", ps));
    }
    json_t *ok = f->ret_kind == DBA_FRET_VOID
                     ? json_pack("{s:{s:s}}", "204", "description", "No Content")
                     : json_pack("{s:{s:s,s:{s:{s:o}}}}", "200", "description", "OK", "content",
                                 "application/json", "schema", result_schema(f));
    op_errors(ok);
    if (f->volatility != 'v') {
        sprintf(id, "rpc.%s.get", cn);
        json_t *get = op_new(tag, sum, f->comment, id);
        json_object_set_new(get, "parameters", json_incref(qp));
        json_object_set_new(get, "responses", json_deep_copy(ok));
        json_object_set_new(item, "get", get);
    }
    sprintf(id, "rpc.%s.post", cn);
    json_t *post = op_new(tag, sum, f->comment, id);
    json_t *args = json_pack("{s:s,s:o}", "type", "object", "properties", props);
    if (json_array_size(req) > 0)
        json_object_set_new(args, "required", json_incref(req));
    /* the same named arguments as a form (every value a string, cast by PostgreSQL) */
    json_t *form = json_pack("{s:s,s:o}", "type", "object", "properties",
                             json_deep_copy(json_object_get(args, "properties")));
    if (json_array_size(req) > 0)
        json_object_set_new(form, "required", json_incref(req));
    json_object_set_new(post, "requestBody",
                        json_pack("{s:b,s:{s:{s:o},s:{s:o}}}", "required", json_array_size(req) > 0,
                                  "content", "application/json", "schema", args,
                                  "application/x-www-form-urlencoded", "schema", form));
    json_object_set_new(post, "responses", ok);
    json_object_set_new(item, "post", post);
    json_decref(req);
    json_decref(qp);
    fn->oas_path = path_entry(m, "rpc/", f->name, item);
    free(tag);
    free(id);
    free(sum);
    free(cn);
}

/* The shared parameters and the error response. */
static void
oas_common_params(struct dba_buf *b)
{
    dba__openapi_put_pair(b, "select", json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", "select",
        "in", "query", "required", 0, "description",
        "Columns to return, PostgREST's select syntax (e.g. id,name or *,other(*))", "schema",
        "type", "string"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "order", json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", "order",
        "in", "query", "required", 0, "description",
        "Ordering, e.g. id.desc,name.asc.nullslast", "schema", "type", "string"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "limit", json_pack("{s:s,s:s,s:b,s:s,s:{s:s,s:i}}", "name", "limit",
        "in", "query", "required", 0, "description", "At most this many rows", "schema", "type",
        "integer", "minimum", 0));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "offset", json_pack("{s:s,s:s,s:b,s:s,s:{s:s,s:i}}", "name",
        "offset", "in", "query", "required", 0, "description", "Skip this many rows", "schema",
        "type", "integer", "minimum", 0));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "onConflict", json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name",
        "on_conflict", "in", "query", "required", 0, "description",
        "Columns of the unique constraint an upsert resolves on", "schema", "type", "string"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "range", json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", "Range",
        "in", "header", "required", 0, "description", "Rows to return, e.g. 0-24", "schema",
        "type", "string"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "preferRead", json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name",
        "Prefer", "in", "header", "required", 0, "description",
        "Preferences, e.g. count=exact, timezone=UTC", "schema", "type", "string"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "minLsn", json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name",
        "X-Db-Min-Lsn", "in", "header", "required", 0, "description",
        "Read your writes with replicas: served by a replica that has replayed this WAL position "
        "(a write's X-Db-Lsn), else by the primary", "schema", "type", "string"));
    dba_buf_putc(b, ',');
    dba__openapi_put_pair(b, "preferWrite", json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name",
        "Prefer", "in", "header", "required", 0, "description",
        "Preferences, e.g. return=representation, resolution=merge-duplicates, missing=default",
        "schema", "type", "string"));
}

static void
put_members(struct dba_buf *b, bool *first, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return;
    if (!*first)
        dba_buf_putc(b, ',');
    dba_buf_puts(b, text);
    *first = false;
}

char *
dba_openapi_oas31(const struct dba_openapi *m, const struct dba_openapi_req *q, size_t *len)
{
    const struct dba_catalog *c = m->c;
    struct dba__openapi_vis vis;
    struct dba_buf b;
    bool first = true;

    dba__openapi_vis_init(&vis, c, q->role);
    dba_buf_init(&b);
    dba_buf_puts(&b, "{\"openapi\":\"3.1.0\",\"info\":");
    dba__openapi_put_json(&b, json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "title", "db-adapter",
        "version", m->version, "description",
        "PostgreSQL behind a PostgREST-compatible HTTP/JSON API, described from the live schema "
        "(the relations and functions the caller's role may use). Column parameters take "
        "PostgREST filters such as eq.1; errors use PostgREST's shape {code, message, details, "
        "hint}. Operator routes need an admin credential (adminBearer).",
        "license", "name", "Proprietary", "identifier", "LicenseRef-Proprietary"));
    dba_buf_puts(&b, ",\"servers\":[{\"url\":");
    if (m->pub_url != NULL) {
        dba__openapi_put_json(&b, json_string(m->pub_url));
    } else if (q->host != NULL && q->host[0] != '\0') {
        char *u = dba_xcalloc(1, strlen(q->host) + 8);
        sprintf(u, "http://%s", q->host);
        dba__openapi_put_json(&b, json_string(u));
        free(u);
    } else {
        dba_buf_puts(&b, "\"/\"");
    }
    dba_buf_puts(&b, "}],\"security\":[{},{\"jwt\":[]},{\"apikey\":[]}],\"paths\":{");
    /* the Swagger root document */
    dba__openapi_put_pair(&b, m->base_path[0] ? m->base_path : "/",
        json_pack("{s:{s:[s],s:s,s:s,s:{s:{s:s,s:{s:{s:{s:s}},s:{s:{s:s}}}},s:o}}}",
                  "get", "tags", "Introspection", "summary",
                  "PostgREST's Swagger 2.0 description of the relations and functions",
                  "operationId", "root.get", "responses", "200", "description", "OK", "content",
                  "application/openapi+json", "schema", "type", "object", "application/json",
                  "schema", "type", "object", "406", ref("responses", "Error", NULL)));
    first = false;
    for (size_t i = 0; i < c->n_tables; i++)
        if (dba__openapi_rel_listed(&vis, &c->tables[i], q->schema))
            put_members(&b, &first, m->rels[i].oas_path);
    for (size_t i = 0; i < c->n_functions; i++) {
        const struct dba_function *f = &c->functions[i];
        if (!dba__openapi_fn_listed(&vis, f, q->schema))
            continue;
        bool dup = false;
        for (size_t k = i; k > 0 && !dup && strcmp(c->functions[k - 1].name, f->name) == 0; k--)
            dup = dba__openapi_fn_listed(&vis, &c->functions[k - 1], q->schema);
        if (!dup)
            put_members(&b, &first, m->fns[i].oas_path);
    }
    put_members(&b, &first, m->oas_op_paths);
    dba_buf_puts(&b, "},\"components\":{\"schemas\":{");
    first = true;
    put_members(&b, &first, m->oas_op_components[0]);
    for (size_t i = 0; i < c->n_tables; i++)
        if (dba__openapi_rel_listed(&vis, &c->tables[i], q->schema))
            put_members(&b, &first, m->rels[i].oas_schemas);
    dba_buf_puts(&b, "},\"responses\":{\"Error\":{\"description\":\"An error in PostgREST's shape"
                     "\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":"
                     "\"#/components/schemas/Error\"}}}}");
    first = false;
    put_members(&b, &first, m->oas_op_components[1]);
    dba_buf_puts(&b, "},\"parameters\":{");
    oas_common_params(&b);
    put_members(&b, &first, m->oas_op_components[2]);
    dba_buf_puts(&b, "},\"securitySchemes\":{");
    first = true;
    put_members(&b, &first, m->oas_op_components[3]);
    dba_buf_puts(&b, "}}}");
    dba__openapi_vis_cleanup(&vis);
    *len = b.len;
    return dba_buf_take(&b);
}
