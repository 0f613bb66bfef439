/* functions.c - the functions of the exposed schemas (pg_proc): arguments, result shape,
   volatility and overloads, loaded with the rest of the catalog in one more query and immutable
   afterwards. Calls over /rpc resolve their function here; nothing about functions is read per
   request.

   The result shape decides how a call answers (enum dba_func_ret). Every function gets a
   ret_table so the SQL builder can resolve select, filters and order on a call's rows exactly as
   on a relation: the catalog's relation when the function returns the row type of a relation of
   the exposed schemas (so embedding from it works like from the table), else a table owned by
   the function whose columns are the composite type's attributes or the OUT/INOUT/TABLE
   parameters (none for scalar and void results). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "catalog/catalog_int.h"

/* One row per function: arguments as a JSON array of [name, type, mode, category], the returned
   relation (typrelid) and the composite type's attributes as [name, type, "", category]. */
const char *const dba__catalog_sql_functions =
    "SELECT n.nspname, p.proname, p.provolatile::text, p.proretset, rt.typtype::text,"
    " format_type(p.prorettype, NULL), p.pronargdefaults,"
    " (SELECT json_agg(json_build_array(coalesce(p.proargnames[u.i], ''), format_type(u.t, NULL),"
    "   coalesce(p.proargmodes[u.i], 'i')::text, at.typcategory::text) ORDER BY u.i)"
    "   FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY u(t, i)"
    "   JOIN pg_type at ON at.oid = u.t)::text,"
    " rn.nspname, rc.relname, rc.relkind::text,"
    " (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod), '',"
    "   ct.typcategory::text) ORDER BY a.attnum)"
    "   FROM pg_attribute a JOIN pg_type ct ON ct.oid = a.atttypid"
    "   WHERE a.attrelid = rt.typrelid AND a.attnum > 0 AND NOT a.attisdropped)::text,"
    " l.lanname, p.prorows::float8, a0n.nspname, a0c.relname,"
    " pg_get_function_arguments(p.oid), pg_get_function_result(p.oid)"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " JOIN pg_type rt ON rt.oid = p.prorettype"
    " JOIN pg_language l ON l.oid = p.prolang"
    " LEFT JOIN pg_class rc ON rc.oid = rt.typrelid"
    " LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace"
    " LEFT JOIN pg_type a0t ON a0t.oid = p.proargtypes[0]"
    " LEFT JOIN pg_class a0c ON a0c.oid = a0t.typrelid AND a0c.relkind IN ('r','v','m','f','p')"
    " LEFT JOIN pg_namespace a0n ON a0n.oid = a0c.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND p.prokind = 'f'"
    " ORDER BY n.nspname COLLATE \"C\", p.proname COLLATE \"C\", p.oid";

enum {
    FN_SCHEMA, FN_NAME, FN_VOLATILE, FN_RETSET, FN_TYPTYPE, FN_RETTYPE, FN_NDEFAULTS, FN_ARGS,
    FN_REL_SCHEMA, FN_REL_NAME, FN_REL_KIND, FN_ATTRS, FN_LANGUAGE, FN_ROWS, FN_ARG0_SCHEMA,
    FN_ARG0_NAME, FN_ARGUMENTS, FN_RESULT,
};

static enum dba_arg_mode
fn_mode(const char *m)
{
    switch (m[0]) {
    case 'o': return DBA_ARG_OUT;
    case 'b': return DBA_ARG_INOUT;
    case 'v': return DBA_ARG_VARIADIC;
    case 't': return DBA_ARG_TABLE;
    default: return DBA_ARG_IN;
    }
}

static bool
fn_is_input(enum dba_arg_mode m)
{
    return m == DBA_ARG_IN || m == DBA_ARG_INOUT || m == DBA_ARG_VARIADIC;
}

static bool
fn_is_output(enum dba_arg_mode m)
{
    return m == DBA_ARG_OUT || m == DBA_ARG_INOUT || m == DBA_ARG_TABLE;
}

static const char *
json_str(json_t *a, size_t i)
{
    const char *s = json_string_value(json_array_get(a, i));

    return s ? s : "";
}

/* Arguments from the JSON array; the last n_defaults inputs are optional. */
static void
fn_args(struct dba_function *f, const char *text, long n_defaults)
{
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    size_t in_seen = 0;

    f->args = dba_xcalloc(n + 1, sizeof(*f->args));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        struct dba_func_arg *a = &f->args[f->n_args++];
        a->name = dba_xstrdup(json_str(e, 0));
        a->type = dba_xstrdup(json_str(e, 1));
        a->mode = fn_mode(json_str(e, 2));
        a->type_category = json_str(e, 3)[0];
        if (fn_is_input(a->mode))
            f->n_in++;
        f->variadic = f->variadic || a->mode == DBA_ARG_VARIADIC;
    }
    for (size_t i = 0; i < f->n_args; i++) {
        struct dba_func_arg *a = &f->args[i];
        if (!fn_is_input(a->mode))
            continue;
        a->required = (long)in_seen < (long)f->n_in - n_defaults;
        in_seen++;
    }
    json_decref(arr);
}

static void
own_col(struct dba_table *t, const char *name, const char *type, char category)
{
    struct dba_column *col = &t->cols[t->n_cols++];

    memset(col, 0, sizeof(*col));
    col->name = dba_xstrdup(name);
    col->type = dba_xstrdup(type);
    col->base_type = dba_xstrdup(type);
    col->nullable = true;
    col->position = (int)t->n_cols;
    col->type_category = category;
}

/* A table of the function's own named schema.name with room for n columns. */
static struct dba_table *
own_table(struct dba_function *f, const char *schema, const char *name, size_t n)
{
    struct dba_table *t = dba_xcalloc(1, sizeof(*t));

    t->schema = dba_xstrdup(schema);
    t->name = dba_xstrdup(name);
    t->kind = 'c';
    t->cols = dba_xcalloc(n + 1, sizeof(*t->cols));
    f->own_ret = t;
    f->ret_table = t;
    return t;
}

/* The result's columns: OUT/INOUT/TABLE parameters, a relation of the exposed schemas, or a
   composite type's attributes; none for scalar and void results. */
static void
fn_result(struct dba_catalog *c, struct dba_function *f, const PGresult *r, int i)
{
    size_t n_out = 0;

    for (size_t k = 0; k < f->n_args; k++)
        n_out += fn_is_output(f->args[k].mode);
    if (n_out > 0) {
        struct dba_table *t = own_table(f, f->schema, f->name, n_out);
        for (size_t k = 0; k < f->n_args; k++)
            if (fn_is_output(f->args[k].mode))
                own_col(t, f->args[k].name, f->args[k].type, f->args[k].type_category);
        f->ret_kind = DBA_FRET_COMPOSITE;
        return;
    }
    if (PQgetvalue(r, i, FN_TYPTYPE)[0] == 'c' && !PQgetisnull(r, i, FN_REL_NAME)) {
        const char *rs = PQgetvalue(r, i, FN_REL_SCHEMA);
        const char *rn = PQgetvalue(r, i, FN_REL_NAME);
        f->ret_kind = DBA_FRET_COMPOSITE;
        f->ret_table = PQgetvalue(r, i, FN_REL_KIND)[0] != 'c' ? dba_catalog_table_find(c, rs, rn)
                                                               : NULL;
        if (f->ret_table != NULL)
            return;
        json_t *attrs = PQgetisnull(r, i, FN_ATTRS) ? NULL
                            : json_loads(PQgetvalue(r, i, FN_ATTRS), 0, NULL);
        size_t n = json_is_array(attrs) ? json_array_size(attrs) : 0;
        struct dba_table *t = own_table(f, rs, rn, n);
        for (size_t k = 0; k < n; k++) {
            json_t *e = json_array_get(attrs, k);
            own_col(t, json_str(e, 0), json_str(e, 1), json_str(e, 3)[0]);
        }
        json_decref(attrs);
        return;
    }
    f->ret_kind = strcmp(f->ret_type, "void") == 0 ? DBA_FRET_VOID : DBA_FRET_SCALAR;
    own_table(f, f->schema, f->name, 0);
}

/* PostgREST's computed columns and relationships: a function of the relation's own schema whose
   single input is the relation's row type. One returning one value is a computed column; one
   returning [SETOF] the row type of a relation of the catalog is a computed relationship,
   to-one when it returns a single row (not SETOF, or SETOF declared ROWS 1). */
static bool
computed_of(const struct dba_function *f, const struct dba_table *t)
{
    return f->arg_table == t && f->n_in == 1 && f->n_args >= 1 && f->args[0].mode == DBA_ARG_IN &&
           strcmp(f->schema, t->schema) == 0;
}

static bool
computed_is_column(const struct dba_function *f)
{
    return !f->ret_set && f->ret_kind != DBA_FRET_VOID;
}

static bool
computed_is_rel(const struct dba_function *f)
{
    return f->ret_kind == DBA_FRET_COMPOSITE && f->own_ret == NULL && f->ret_table != NULL;
}

static void
computed_build(struct dba_catalog *c)
{
    for (size_t i = 0; i < c->n_functions; i++) {
        const struct dba_function *f = &c->functions[i];
        if (f->arg_table == NULL)
            continue;
        struct dba_table *t = &c->tables[f->arg_table - c->tables];
        if (!computed_of(f, t))
            continue;
        if (computed_is_column(f)) {
            t->computed = dba_xrealloc(t->computed, (t->n_computed + 1) * sizeof(*t->computed));
            struct dba_column *col = &t->computed[t->n_computed++];
            memset(col, 0, sizeof(*col));
            col->name = f->name;
            col->type = f->ret_type;
            col->base_type = f->ret_type;
            col->nullable = true;
            col->type_category = f->ret_kind == DBA_FRET_COMPOSITE ? 'C' : 'U';
            col->function = f;
        }
        if (computed_is_rel(f)) {
            t->crels = dba_xrealloc(t->crels, (t->n_crels + 1) * sizeof(*t->crels));
            struct dba_relationship *rel = &t->crels[t->n_crels++];
            memset(rel, 0, sizeof(*rel));
            rel->table = t;
            rel->target = f->ret_table;
            rel->self = rel->target == t;
            rel->card = !f->ret_set || f->rows == 1.0 ? DBA_CARD_M2O : DBA_CARD_O2M;
            rel->constraint = f->name;
            rel->function = f;
        }
    }
}

const struct dba_column *
dba_catalog_computed_find(const struct dba_table *t, const char *name)
{
    for (size_t i = 0; t != NULL && name != NULL && i < t->n_computed; i++)
        if (strcmp(t->computed[i].name, name) == 0)
            return &t->computed[i];
    return NULL;
}

void
dba__catalog_functions_load(struct dba_catalog *c, const void *pgresult)
{
    const PGresult *r = pgresult;
    int n = PQntuples(r);

    c->functions = dba_xcalloc((size_t)n + 1, sizeof(*c->functions));
    for (int i = 0; i < n; i++) {
        struct dba_function *f = &c->functions[c->n_functions++];
        f->schema = dba_xstrdup(PQgetvalue(r, i, FN_SCHEMA));
        f->name = dba_xstrdup(PQgetvalue(r, i, FN_NAME));
        f->volatility = PQgetvalue(r, i, FN_VOLATILE)[0];
        f->ret_set = PQgetvalue(r, i, FN_RETSET)[0] == 't';
        f->ret_type = dba_xstrdup(PQgetvalue(r, i, FN_RETTYPE));
        f->language = dba_xstrdup(PQgetvalue(r, i, FN_LANGUAGE));
        f->arguments = dba_xstrdup(PQgetvalue(r, i, FN_ARGUMENTS));
        f->result = dba_xstrdup(PQgetvalue(r, i, FN_RESULT));
        fn_args(f, PQgetisnull(r, i, FN_ARGS) ? NULL : PQgetvalue(r, i, FN_ARGS),
                strtol(PQgetvalue(r, i, FN_NDEFAULTS), NULL, 10));
        fn_result(c, f, r, i);
        f->rows = strtod(PQgetvalue(r, i, FN_ROWS), NULL);
        if (!PQgetisnull(r, i, FN_ARG0_NAME))
            f->arg_table = dba_catalog_table_find(c, PQgetvalue(r, i, FN_ARG0_SCHEMA),
                                                  PQgetvalue(r, i, FN_ARG0_NAME));
    }
    computed_build(c);
}

static void
own_table_free(struct dba_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_cols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
        free(t->cols[i].base_type);
    }
    free(t->cols);
    free(t->schema);
    free(t->name);
    free(t);
}

void
dba__catalog_functions_free(struct dba_catalog *c)
{
    /* the computed lists borrow the functions' strings: only their arrays are owned */
    for (size_t i = 0; i < c->n_tables; i++) {
        free(c->tables[i].computed);
        free(c->tables[i].crels);
        c->tables[i].computed = NULL;
        c->tables[i].crels = NULL;
        c->tables[i].n_computed = c->tables[i].n_crels = 0;
    }
    for (size_t i = 0; i < c->n_functions; i++) {
        struct dba_function *f = &c->functions[i];
        for (size_t k = 0; k < f->n_args; k++) {
            free(f->args[k].name);
            free(f->args[k].type);
        }
        free(f->args);
        free(f->schema);
        free(f->name);
        free(f->ret_type);
        free(f->language);
        free(f->arguments);
        free(f->result);
        own_table_free(f->own_ret);
    }
    free(c->functions);
}

static int
fn_cmp(const char *s1, const char *n1, const struct dba_function *f)
{
    int r = strcmp(s1, f->schema);

    return r != 0 ? r : strcmp(n1, f->name);
}

const struct dba_function *
dba_catalog_function_find(const struct dba_catalog *c, const char *schema, const char *name,
                          size_t *n)
{
    size_t lo = 0;
    size_t hi = c ? c->n_functions : 0;

    *n = 0;
    /* The first overload: lower bound of (schema, name). */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (fn_cmp(schema, name, &c->functions[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (c == NULL || lo >= c->n_functions || fn_cmp(schema, name, &c->functions[lo]) != 0)
        return NULL;
    while (lo + *n < c->n_functions && fn_cmp(schema, name, &c->functions[lo + *n]) == 0)
        (*n)++;
    return &c->functions[lo];
}

const char *
dba_catalog_function_suggest(const struct dba_catalog *c, const char *schema, const char *name)
{
    const char *best = NULL;
    double best_score = 0.75; /* PostgREST's minimum similarity for a function name */

    for (size_t i = 0; c != NULL && i < c->n_functions; i++) {
        if (strcmp(c->functions[i].schema, schema) != 0)
            continue;
        double score = dba_catalog_similarity(name, c->functions[i].name);
        if (score >= best_score && (best == NULL || score > best_score)) {
            best_score = score;
            best = c->functions[i].name;
        }
    }
    return best;
}

double
dba_catalog_similarity(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t m = la > lb ? la : lb;

    if (m == 0)
        return 1.0;
    return 1.0 - (double)dba__catalog_edit_distance(a, b) / (double)m;
}

/* ---- Media type handlers (PostgREST's custom media types) ---- */

/* Domains named like a media type (or the any type, star slash star); aggregates over a relation's row type or anyelement
   returning one, and functions (not SETOF) returning one, in the exposed schemas. One row each:
   media type, content type, base type, aggregate schema and name (NULL for a function), target
   schema and name (NULL for anyelement).
   Last, at most one row with a NULL media type: the schema and name of PostGIS's
   ST_AsGeoJSON(record) (PostGIS 3+; the function of extension postgis, in whatever schema it was
   installed), which renders application/geo+json. */
const char *const dba__catalog_sql_media =
    "WITH media AS (SELECT t.oid, lower(t.typname) AS mt,"
    "   CASE WHEN t.typname = '*/*' THEN 'application/octet-stream' ELSE t.typname END AS ct,"
    "   b.typname AS base"
    " FROM pg_type t JOIN pg_type b ON b.oid = t.typbasetype"
    " WHERE t.typtype = 'd' AND (t.typname ~ '^[A-Za-z0-9.-]+/[A-Za-z0-9.+-]+$'"
    "   OR t.typname = '*/*'))"
    " SELECT m.mt, m.ct, m.base::text, hn.nspname, p.proname, rn.nspname, rc.relname"
    " FROM media m JOIN pg_proc p ON p.prorettype = m.oid"
    " JOIN pg_namespace hn ON hn.oid = p.pronamespace"
    " JOIN pg_aggregate a ON a.aggfnoid = p.oid"
    " JOIN pg_type at ON at.oid = p.proargtypes[0]"
    " LEFT JOIN pg_class rc ON rc.oid = at.typrelid AND rc.relkind IN ('r','v','m','f','p')"
    " LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace"
    " WHERE hn.nspname = ANY($1::text[]) AND p.pronargs = 1"
    " AND (rc.oid IS NOT NULL OR at.oid = 'anyelement'::regtype)"
    " UNION ALL"
    " SELECT m.mt, m.ct, m.base::text, NULL, NULL, pn.nspname, p.proname"
    " FROM media m JOIN pg_proc p ON p.prorettype = m.oid"
    " JOIN pg_namespace pn ON pn.oid = p.pronamespace"
    " WHERE pn.nspname = ANY($1::text[]) AND NOT p.proretset AND p.prokind = 'f'"
    " UNION ALL"
    " SELECT NULL, NULL, NULL, gn.nspname, g.proname, NULL, NULL"
    " FROM pg_proc g JOIN pg_namespace gn ON gn.oid = g.pronamespace"
    " JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = g.oid AND d.deptype = 'e'"
    " JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'postgis'"
    " WHERE g.proname = 'st_asgeojson' AND g.pronargs >= 1"
    " AND g.proargtypes[0] = 'record'::regtype AND g.pronargs - g.pronargdefaults = 1";

static char *
media_opt(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : dba_xstrdup(PQgetvalue(r, row, col));
}

/* The quoted "schema"."name" of columns col and col + 1. */
static char *
media_qual(const PGresult *r, int row, int col)
{
    struct dba_buf q;
    char *s;

    dba_buf_init(&q);
    dba_buf_put_ident(&q, PQgetvalue(r, row, col));
    dba_buf_putc(&q, '.');
    dba_buf_put_ident(&q, PQgetvalue(r, row, col + 1));
    s = dba_xstrdup(q.data);
    dba_buf_cleanup(&q);
    return s;
}

void
dba__catalog_media_load(struct dba_catalog *c, const void *pgresult)
{
    const PGresult *r = pgresult;
    int n = PQntuples(r);

    c->media = dba_xcalloc((size_t)n + 1, sizeof(*c->media));
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(r, i, 0)) { /* PostGIS's ST_AsGeoJSON(record) */
            if (c->geojson == NULL)
                c->geojson = media_qual(r, i, 3);
            continue;
        }
        struct dba_media_handler *h = &c->media[c->n_media++];

        h->media_type = dba_xstrdup(PQgetvalue(r, i, 0));
        h->content_type = dba_xstrdup(PQgetvalue(r, i, 1));
        h->base = dba_xstrdup(PQgetvalue(r, i, 2));
        if (!PQgetisnull(r, i, 3))
            h->agg = media_qual(r, i, 3);
        h->schema = media_opt(r, i, 5);
        h->name = media_opt(r, i, 6);
    }
}

void
dba__catalog_media_free(struct dba_catalog *c)
{
    for (size_t i = 0; i < c->n_media; i++) {
        free(c->media[i].media_type);
        free(c->media[i].content_type);
        free(c->media[i].base);
        free(c->media[i].agg);
        free(c->media[i].schema);
        free(c->media[i].name);
    }
    free(c->media);
    c->media = NULL;
    c->n_media = 0;
    free(c->geojson);
    c->geojson = NULL;
}

static bool
media_same(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

const struct dba_media_handler *
dba_catalog_media_find(const struct dba_catalog *c, const char *schema, const char *name,
                       const char *media_type)
{
    for (size_t i = 0; c && i < c->n_media; i++) {
        const struct dba_media_handler *h = &c->media[i];

        if (media_same(h->schema, schema) && media_same(h->name, name) &&
            strcmp(h->media_type, media_type) == 0)
            return h;
    }
    return NULL;
}
