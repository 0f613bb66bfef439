/* sql.c - SQL builder: entry point, scopes, bound parameters, column lookup and response bodies.
 *
 * Design. Each request becomes ONE statement returning ONE row (see enum dba_sql_col), so the
 * engine runs a single round trip and a failing check (singular write, max-affected) aborts the
 * statement and with it the write. The row source is always a CTE named pgrst_source: the page
 * for reads, the RETURNING rows for writes; the outer SELECT aggregates it (json_agg, CSV text)
 * over the alias _t. Every user value is a bound parameter sent untyped, so PostgreSQL infers its
 * type from the context (column type, array of it for = ANY). Identifiers are always quoted and
 * checked against the schema cache first; the only literals in the text are integers we parsed,
 * fixed keywords and trusted catalog text (default expressions, names in pg_class lookups).
 *
 * The query tree (query.h: struct dba_rel nodes) is rendered with a stack of scopes (struct
 * sql_scope): each node is read from its relation under an alias ("s"."t" AS "t" for the root,
 * "s"."c" AS "c_<n>" for children) and every column reference is qualified by the alias of the
 * scope it belongs to, so a child's subquery can name its parent's columns (correlation). The
 * scopes live on the build's stack (SQL_MAX_SCOPES deep); strings come from the request arena,
 * so a build allocates nothing on the heap beyond the statement text and short-lived buffers.
 */
#include "query/query.h"

#include <string.h>

#include "query/query_int.h"

size_t
dba__sql_param_add(struct sql_ctx *c, const char *v)
{
    if (c->n_params == c->cap_params) {
        size_t cap = c->cap_params ? c->cap_params * 2 : 8;
        const char **p = dba_arena_alloc(c->a, cap * sizeof(*p));

        if (c->n_params)
            memcpy(p, c->params, c->n_params * sizeof(*p));
        c->params = p;
        c->cap_params = cap;
    }
    c->params[c->n_params++] = v;
    return c->n_params;
}

void
dba__sql_param_put(struct sql_ctx *c, struct dba_buf *b, const char *v)
{
    dba_buf_printf(b, "$%zu", dba__sql_param_add(c, v));
}

const struct dba_column *
dba__sql_column(struct sql_ctx *c, const char *name, enum sql_colref ref)
{
    const struct dba_column *col = name ? dba_catalog_column_find(c->t, name) : NULL;

    if (!col && name && ref == SQL_REF_QUERY)
        col = dba_catalog_computed_find(c->t, name); /* f(<row>) read like a column */
    if (col)
        return col;
    switch (ref) {
    case SQL_REF_QUERY:
        dba_err_set(c->err, DBA_ENOTFOUND, 400, "42703", "column %s.%s does not exist",
                    c->t->name, name ? name : "");
        memcpy(c->err->sqlstate, "42703", 6);
        break;
    case SQL_REF_BODY:
        dba_err_set(c->err, DBA_ENOTFOUND, 400, "PGRST204",
                    "Could not find the '%s' column of '%s' in the schema cache",
                    name ? name : "", c->t->name);
        break;
    }
    return NULL;
}

void
dba__sql_row_arg(struct dba_buf *b, const char *alias, const char *qual, const struct dba_table *t)
{
    /* the rows of a CTE (a call's result, a write's RETURNING) are anonymous records: their
       columns are the relation's, built back into its row type */
    if (strcmp(qual, SQL_CALL_CTE) == 0 || strcmp(alias, SQL_SOURCE) == 0) {
        dba_buf_puts(b, "ROW(");
        for (size_t i = 0; i < t->n_cols; i++) {
            dba_buf_printf(b, "%s%s.", i ? ", " : "", alias);
            dba_buf_put_ident(b, t->cols[i].name);
        }
        dba_buf_puts(b, ")::");
        dba_buf_put_ident(b, t->schema);
        dba_buf_putc(b, '.');
        dba_buf_put_ident(b, t->name);
        return;
    }
    dba_buf_printf(b, "%s.*", alias);
}

void
dba__sql_column_ref(struct sql_ctx *c, struct dba_buf *b, const struct dba_column *col,
                    const char *qual)
{
    if (col->function == NULL) {
        dba_buf_printf(b, "%s.", qual);
        dba_buf_put_ident(b, col->name);
        return;
    }
    dba_buf_put_ident(b, col->function->schema);
    dba_buf_putc(b, '.');
    dba_buf_put_ident(b, col->function->name);
    dba_buf_putc(b, '(');
    dba__sql_row_arg(b, qual, c->qual, c->t);
    dba_buf_putc(b, ')');
}

bool
dba__sql_type_is_json(const struct dba_column *col)
{
    return col->type && (strcmp(col->type, "json") == 0 || strcmp(col->type, "jsonb") == 0);
}

/* CSV: header = keys of the first row (empty without rows), newline, then each row's record
 * text without its parentheses, rows joined by newlines (PostgREST's format). */
static void
body_csv(struct dba_buf *b)
{
    dba_buf_puts(b, "coalesce((SELECT string_agg(pgrst_k, ',') FROM json_object_keys(json_agg("
                    SQL_ROW ")->0) AS pgrst_k), '') || chr(10) || coalesce(string_agg(substr("
                    SQL_ROW "::text, 2, length(" SQL_ROW "::text) - 2), chr(10)), '')");
}

/* A custom media type handler's body (text; a bytea's hex form, decoded by the caller): a
 * function returning the media domain answers its value; an aggregate aggregates the rows (as
 * the relation's row type when it is the relation's own, the values of a scalar call). */
static void
body_handler(struct sql_ctx *c, struct dba_buf *b, const struct dba_media_handler *h)
{
    bool scalar = c->q->call != NULL && c->q->call->fn->ret_kind == DBA_FRET_SCALAR;

    if (h->agg == NULL) {
        dba_buf_puts(b, "coalesce(((array_agg(" SQL_ROW "." SQL_CALL_SCALAR "))[1])::text, '')");
        return;
    }
    dba_buf_printf(b, "coalesce(%s(", h->agg);
    if (scalar)
        dba_buf_puts(b, SQL_ROW "." SQL_CALL_SCALAR);
    else if (h->name != NULL)
        dba_buf_printf(b, SQL_ROW "::%s", dba__sql_qual(c->a, h->schema, h->name));
    else
        dba_buf_puts(b, SQL_ROW);
    dba_buf_puts(b, ")::text, '')");
}

/* GeoJSON: a FeatureCollection of PostGIS's ST_AsGeoJSON(record) of each row (its first
 * geometry column is the feature's geometry, the other columns its properties; a row without one
 * fails with PostGIS's 22023 "geometry column is missing"), as PostgREST renders it. */
static void
body_geojson(struct sql_ctx *c, struct dba_buf *b)
{
    dba_buf_puts(b, "json_build_object('type', 'FeatureCollection', 'features', "
                    "coalesce(json_agg(");
    dba_buf_puts(b, c->q->geojson ? c->q->geojson : "st_asgeojson");
    dba_buf_puts(b, "(" SQL_ROW ")::json), '[]'))::text");
}

/* The body of the rows under SQL_ROW by media type; a call's scalar result aggregates its
   values (SQL_ROW.pgrst_scalar), a single scalar's first value. */
static void
body_media(struct sql_ctx *c, struct dba_buf *b)
{
    const struct dba_function *fn = c->q->call ? c->q->call->fn : NULL;
    bool scalar = fn != NULL && fn->ret_kind == DBA_FRET_SCALAR;
    const char *row = scalar ? SQL_ROW "." SQL_CALL_SCALAR : SQL_ROW;
    enum dba_media m = c->q->media;

    if (c->q->method == DBA_M_HEAD) {
        dba_buf_puts(b, "''");
        return;
    }
    if (c->q->handler) {
        body_handler(c, b, c->q->handler);
        return;
    }
    if (scalar && !fn->ret_set && m == DBA_MEDIA_JSON)
        m = DBA_MEDIA_OBJECT;
    else if (scalar && !fn->ret_set && m == DBA_MEDIA_ARRAY_STRIPPED)
        m = DBA_MEDIA_OBJECT_STRIPPED;
    switch (m) {
    case DBA_MEDIA_JSON:
        dba_buf_printf(b, "coalesce(json_agg(%s), '[]')::text", row);
        break;
    case DBA_MEDIA_ARRAY_STRIPPED:
        dba_buf_printf(b, "coalesce(json_strip_nulls(json_agg(%s)), '[]')::text", row);
        break;
    case DBA_MEDIA_OBJECT:
        dba_buf_printf(b, "coalesce((json_agg(%s)->0)::text, 'null')", row);
        break;
    case DBA_MEDIA_OBJECT_STRIPPED:
        dba_buf_printf(b, "coalesce((json_strip_nulls(json_agg(%s))->0)::text, 'null')", row);
        break;
    case DBA_MEDIA_CSV:
        body_csv(b);
        break;
    case DBA_MEDIA_GEOJSON:
        body_geojson(c, b);
        break;
    }
}

void
dba__sql_body(struct sql_ctx *c, struct dba_buf *b)
{
    const struct dba_query *q = c->q;
    /* A call's checks abort the statement, so what the function wrote is rolled back, in
       PostgREST's order: a set answered as one object (Accept: vnd.pgrst.object) with other
       than one row in the page (PGRST116), then Prefer: handling=strict, max-affected=N with
       more than N rows (PGRST124). A single result always counts one row there. */
    bool singular = q->call != NULL && q->call->fn != NULL && q->call->fn->ret_set &&
                    (q->media == DBA_MEDIA_OBJECT || q->media == DBA_MEDIA_OBJECT_STRIPPED);
    bool max = q->call != NULL && q->prefer.handling_strict && q->prefer.max_affected >= 0;

    if (singular || max)
        dba_buf_puts(b, "CASE");
    dba__sql_count_checks(b, singular, max ? q->prefer.max_affected : -1);
    if (singular || max)
        dba_buf_puts(b, " ELSE ");
    body_media(c, b);
    if (singular || max)
        dba_buf_puts(b, " END");
}

/* The CASE branches that abort a statement over count(*) rows: other than one row when one
   object is asked for (PGRST116), more than max_affected when >= 0 (PGRST124); the error text
   cast to integer fails, and the status mapping reads it back. */
void
dba__sql_count_checks(struct dba_buf *b, bool singular, long max_affected)
{
    if (singular) {
        dba_buf_puts(b, " WHEN count(*) <> 1 THEN (");
        dba_buf_put_literal(b, DBA_SQL_SINGULAR);
        dba_buf_puts(b, " || count(*))::integer::text");
    }
    if (max_affected >= 0) {
        dba_buf_printf(b, " WHEN count(*) > %ld THEN (", max_affected);
        dba_buf_put_literal(b, DBA_SQL_MAX_AFFECTED);
        dba_buf_puts(b, " || count(*))::integer::text");
    }
}

const char *
dba__sql_ident(struct dba_arena *a, const char *name)
{
    struct dba_buf b;
    const char *s;

    dba_buf_init(&b);
    dba_buf_put_ident(&b, name);
    s = dba_arena_strdup(a, b.data);
    dba_buf_cleanup(&b);
    return s;
}

const char *
dba__sql_qual(struct dba_arena *a, const char *schema, const char *name)
{
    struct dba_buf b;
    const char *s;

    dba_buf_init(&b);
    dba_buf_put_ident(&b, schema);
    dba_buf_putc(&b, '.');
    dba_buf_put_ident(&b, name);
    s = dba_arena_strdup(a, b.data);
    dba_buf_cleanup(&b);
    return s;
}

/* Enters the scope of node rel read from t under the quoted alias; the current scope waits on
   the stack (the caller checked c->depth < SQL_MAX_SCOPES). */
void
dba__sql_scope_enter(struct sql_ctx *c, const struct dba_rel *rel, const struct dba_table *t,
                     const char *alias)
{
    struct sql_scope *o = &c->outer[c->depth++];

    o->rel = c->rel;
    o->t = c->t;
    o->qual = c->qual;
    o->alias = c->alias;
    c->rel = rel;
    c->t = t;
    c->qual = dba__sql_qual(c->a, t->schema, t->name);
    c->alias = alias;
}

void
dba__sql_scope_leave(struct sql_ctx *c)
{
    const struct sql_scope *o = &c->outer[--c->depth];

    c->rel = o->rel;
    c->t = o->t;
    c->qual = o->qual;
    c->alias = o->alias;
}

enum dba_node_kind
dba_query_kind(const struct dba_query *q)
{
    if (q->call)
        return DBA_NODE_CALL;
    return q->method == DBA_M_GET || q->method == DBA_M_HEAD ? DBA_NODE_READ : DBA_NODE_WRITE;
}

int
dba_query_sql_build(const struct dba_query *q, const struct dba_table *t, long max_rows,
                 struct dba_arena *a, struct dba_sql *out, struct dba_err *err)
{
    /* The root scope: the request's relation, aliased by its own name. */
    struct sql_ctx c = { .q = q, .a = a, .err = err, .rel = &q->rel, .t = t };
    struct dba_buf b;
    size_t n;
    int rc;

    /* qual and alias through one scratch buffer: no more heap traffic than before aliasing. */
    dba_buf_init(&b);
    dba_buf_put_ident(&b, t->schema);
    dba_buf_putc(&b, '.');
    dba_buf_put_ident(&b, t->name);
    n = b.len;
    dba_buf_put_ident(&b, t->name);
    c.qual = dba_arena_strndup(a, b.data, n);
    c.alias = dba_arena_strdup(a, b.data + n);
    dba_buf_reset(&b);
    if (dba_query_kind(q) == DBA_NODE_CALL) {
        rc = dba__sql_call_build(&c, &b, max_rows);
    } else {
        switch (q->method) {
        case DBA_M_GET:
        case DBA_M_HEAD:
            rc = dba__sql_read_build(&c, &b, max_rows);
            break;
        case DBA_M_POST:
        case DBA_M_PATCH:
        case DBA_M_PUT:
        case DBA_M_DELETE:
            rc = dba__sql_write_build(&c, &b);
            break;
        case DBA_M_OPTIONS:
        default:
            rc = dba_err_set(err, DBA_EINVAL, 405, "PGRST117", "Unsupported HTTP method");
            break;
        }
    }
    if (rc != DBA_OK) {
        dba_buf_cleanup(&b);
        dba_buf_cleanup(&c.pre);
        return rc;
    }
    out->text = b;
    out->params = c.params;
    out->n_params = c.n_params;
    out->pre = c.pre;
    out->pre_params = c.pre_params;
    out->n_pre_params = c.n_pre_params;
    out->count_plan = c.count_plan;
    out->count_plan_params = c.count_plan_params;
    return DBA_OK;
}

void
dba_query_sql_cleanup_cb(void *sql)
{
    dba_buf_cleanup(&((struct dba_sql *)sql)->text);
    dba_buf_cleanup(&((struct dba_sql *)sql)->pre);
}
