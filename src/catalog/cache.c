/* cache.c - the schema cache: loaded from pg_catalog in two queries, immutable once built,
   shared between workers by reference count. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "db/db.h"
#include "catalog/catalog.h"

static const char *const sql_columns =
    "SELECT n.nspname, c.relname, c.relkind::text, a.attname,"
    " format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL),"
    " NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '',"
    " a.attgenerated <> '', a.attnum, c.reltuples::float8,"
    " c.relkind IN ('r','p') OR (pg_relation_is_updatable(c.oid, true) & 8) = 8"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    " LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum"
    " WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','v','m','f','p')"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", a.attnum";

static const char *const sql_constraints =
    "SELECT n.nspname, c.relname, con.conname, con.contype::text,"
    " (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.conkey) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n)::text,"
    " fn.nspname, fc.relname,"
    " (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.confkey) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n)::text"
    " FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_class fc ON fc.oid = con.confrelid"
    " LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND con.contype IN ('p', 'u', 'f')"
    " ORDER BY n.nspname, c.relname, con.contype, con.conname";

static const char *const sql_timezones =
    "SELECT coalesce(json_agg(name ORDER BY lower(name), name), '[]')::text FROM pg_timezone_names";

static int
tz_cmp(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

const char *
dba_catalog_timezone(const struct dba_catalog *c, const char *name)
{
    const char *key = name;
    char **hit = c ? bsearch(&key, c->timezones, c->n_timezones, sizeof(char *), tz_cmp) : NULL;

    return hit ? *hit : NULL;
}

static int
table_cmp(const char *s1, const char *n1, const char *s2, const char *n2)
{
    int r = strcmp(s1, s2);

    return r != 0 ? r : strcmp(n1, n2);
}

const struct dba_table *
dba_catalog_table_find(const struct dba_catalog *c, const char *schema, const char *name)
{
    size_t lo = 0;
    size_t hi = c ? c->n_tables : 0;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct dba_table *t = &c->tables[mid];
        int r = table_cmp(schema, name, t->schema, t->name);
        if (r == 0)
            return t;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct dba_column *
dba_catalog_column_find(const struct dba_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

bool
dba_catalog_has(const struct dba_catalog *c, const char *schema)
{
    for (size_t i = 0; i < c->n_schemas; i++)
        if (strcmp(c->schemas[i], schema) == 0)
            return true;
    return false;
}

static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *
dba_catalog_table_suggest(const struct dba_catalog *c, const char *schema, const char *name)
{
    const char *best = NULL;
    size_t best_d = 2 + strlen(name) / 5; /* only close names: one edit per five characters */

    for (size_t i = 0; c != NULL && i < c->n_tables; i++) {
        if (strcmp(c->tables[i].schema, schema) != 0)
            continue;
        size_t d = edit_distance(name, c->tables[i].name);
        if (d < best_d) {
            best_d = d;
            best = c->tables[i].name;
        }
    }
    return best;
}

static char **
json_names(const char *text, size_t *n)
{
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
    size_t len = json_is_array(arr) ? json_array_size(arr) : 0;
    char **out = dba_xcalloc(len + 1, sizeof(char *));

    for (size_t i = 0; i < len; i++)
        out[i] = dba_xstrdup(json_string_value(json_array_get(arr, i)) ?: "");
    json_decref(arr);
    *n = len;
    return out;
}

static void
names_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

static char *
opt_dup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : dba_xstrdup(PQgetvalue(r, row, col));
}

static void
cache_add_columns(struct dba_catalog *c, const PGresult *r)
{
    int n = PQntuples(r);

    c->tables = dba_xcalloc((size_t)n + 1, sizeof(*c->tables));
    for (int i = 0; i < n; i++) {
        struct dba_table *t = c->n_tables ? &c->tables[c->n_tables - 1] : NULL;
        if (t == NULL || strcmp(t->schema, PQgetvalue(r, i, 0)) != 0 ||
            strcmp(t->name, PQgetvalue(r, i, 1)) != 0) {
            t = &c->tables[c->n_tables++];
            t->schema = dba_xstrdup(PQgetvalue(r, i, 0));
            t->name = dba_xstrdup(PQgetvalue(r, i, 1));
            char kind = PQgetvalue(r, i, 2)[0];
            t->is_view = kind == 'v' || kind == 'm';
            t->insertable = PQgetvalue(r, i, 12)[0] == 't';
            t->est_rows = atof(PQgetvalue(r, i, 11));
            t->cols = dba_xcalloc(1, sizeof(*t->cols));
        }
        t->cols = dba_xrealloc(t->cols, (t->n_cols + 1) * sizeof(*t->cols));
        struct dba_column *col = &t->cols[t->n_cols++];
        memset(col, 0, sizeof(*col));
        col->name = dba_xstrdup(PQgetvalue(r, i, 3));
        col->type = dba_xstrdup(PQgetvalue(r, i, 4));
        col->base_type = dba_xstrdup(PQgetvalue(r, i, 5));
        col->nullable = PQgetvalue(r, i, 6)[0] == 't';
        col->default_expr = opt_dup(r, i, 7);
        col->identity = PQgetvalue(r, i, 8)[0] == 't';
        col->generated = PQgetvalue(r, i, 9)[0] == 't';
        col->position = atoi(PQgetvalue(r, i, 10));
    }
}

static void
cache_add_constraint(struct dba_catalog *c, const PGresult *r, int i)
{
    struct dba_table *t = (struct dba_table *)(uintptr_t)dba_catalog_table_find(
        c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    char kind = PQgetvalue(r, i, 3)[0];
    size_t n = 0;

    if (t == NULL)
        return;
    char **cols = json_names(PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4), &n);
    if (kind == 'p') {
        names_free(t->pk, t->n_pk);
        t->pk = cols;
        t->n_pk = n;
        for (size_t k = 0; k < n; k++)
            for (size_t m = 0; m < t->n_cols; m++)
                if (strcmp(t->cols[m].name, cols[k]) == 0)
                    t->cols[m].is_pk = true;
    } else if (kind == 'u') {
        t->uniques = dba_xrealloc(t->uniques, (t->n_uniques + 1) * sizeof(*t->uniques));
        struct dba_unique *u = &t->uniques[t->n_uniques++];
        u->name = dba_xstrdup(PQgetvalue(r, i, 2));
        u->cols = cols;
        u->n_cols = n;
    } else {
        t->fkeys = dba_xrealloc(t->fkeys, (t->n_fkeys + 1) * sizeof(*t->fkeys));
        struct dba_fkey *f = &t->fkeys[t->n_fkeys++];
        size_t m = 0;
        f->name = dba_xstrdup(PQgetvalue(r, i, 2));
        f->cols = cols;
        f->n_cols = n;
        f->ref_schema = opt_dup(r, i, 5);
        f->ref_table = opt_dup(r, i, 6);
        f->ref_cols = json_names(PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7), &m);
    }
}

static char *
schemas_array_literal(const char *const *schemas, size_t n)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_put_text_array(&b, schemas, n);
    return dba_buf_take(&b);
}

struct dba_catalog *
dba_catalog_load(void *pgconn, const char *const *schemas, size_t n_schemas,
                      struct dba_err *err)
{
    PGconn *pg = pgconn;
    char *lit = schemas_array_literal(schemas, n_schemas);
    const char *params[1] = { lit };
    struct dba_catalog *c = NULL;

    PGresult *cols = dba_db_exec(pg, sql_columns, params, 1, err);
    PGresult *cons = cols ? dba_db_exec(pg, sql_constraints, params, 1, err) : NULL;
    PGresult *tzs = cons ? dba_db_exec(pg, sql_timezones, NULL, 0, err) : NULL;
    free(lit);
    if (cols == NULL || cons == NULL || tzs == NULL) {
        PQclear(cols);
        PQclear(cons);
        return NULL;
    }
    c = dba_xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->n_schemas = n_schemas;
    c->schemas = dba_xcalloc(n_schemas + 1, sizeof(char *));
    for (size_t i = 0; i < n_schemas; i++)
        c->schemas[i] = dba_xstrdup(schemas[i]);
    c->server_version = dba_xstrdup(dba_db_server_version(pg));
    cache_add_columns(c, cols);
    for (int i = 0; i < PQntuples(cons); i++)
        cache_add_constraint(c, cons, i);
    c->timezones = json_names(PQgetvalue(tzs, 0, 0), &c->n_timezones);
    qsort(c->timezones, c->n_timezones, sizeof(char *), tz_cmp);
    PQclear(cols);
    PQclear(cons);
    PQclear(tzs);
    return c;
}

struct dba_catalog *
dba_catalog_ref(struct dba_catalog *c)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

static void
table_free(struct dba_table *t)
{
    for (size_t i = 0; i < t->n_cols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
        free(t->cols[i].base_type);
        free(t->cols[i].default_expr);
    }
    free(t->cols);
    names_free(t->pk, t->n_pk);
    for (size_t i = 0; i < t->n_uniques; i++) {
        free(t->uniques[i].name);
        names_free(t->uniques[i].cols, t->uniques[i].n_cols);
    }
    free(t->uniques);
    for (size_t i = 0; i < t->n_fkeys; i++) {
        struct dba_fkey *f = &t->fkeys[i];
        names_free(f->ref_cols, f->n_cols);
        names_free(f->cols, f->n_cols);
        free(f->name);
        free(f->ref_schema);
        free(f->ref_table);
    }
    free(t->fkeys);
    free(t->schema);
    free(t->name);
}

void
dba_catalog_unref(struct dba_catalog *c)
{
    if (c == NULL)
        return;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < c->n_tables; i++)
        table_free(&c->tables[i]);
    free(c->tables);
    names_free(c->schemas, c->n_schemas);
    names_free(c->timezones, c->n_timezones);
    free(c->server_version);
    free(c);
}
