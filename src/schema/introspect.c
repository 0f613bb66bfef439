/* introspect.c - the live schema as JSON: a rendering of the catalog (catalog/catalog.h, the one
   reader of pg_catalog), filtered by the catalog's one relation filter (dba_catalog_table_managed).

   The catalog prints every type, default and definition with search_path = pg_catalog, so user
   types, sequences and referenced tables come schema-qualified. The expected schema (expected.c)
   is read by the same code, so both sides print alike and the fix plan (fix.c) can reuse the
   texts verbatim. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"
#include "schema/schema.h"

static json_t *
names_json(char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* A column list as the catalog query printed it: an array, or null when empty (json_agg). */
static json_t *
cols_json(char *const *v, size_t n)
{
    return n > 0 ? names_json(v, n) : json_null();
}

static const char *
rel_kind(char kind)
{
    switch (kind) {
    case 'v':
        return "view";
    case 'm':
        return "materialized view";
    case 'f':
        return "foreign table";
    default:
        return "table";
    }
}

static const char *
fk_action(char a)
{
    switch (a) {
    case 'r':
        return "RESTRICT";
    case 'c':
        return "CASCADE";
    case 'n':
        return "SET NULL";
    case 'd':
        return "SET DEFAULT";
    default:
        return "NO ACTION";
    }
}

static json_t *
column_json(const struct dba_column *c)
{
    const char *identity = c->identity_kind == 'a'   ? "always"
                           : c->identity_kind == 'd' ? "by default"
                                                     : NULL;

    return json_pack("{s:s,s:s,s:b,s:s?,s:s?,s:s?,s:b}", "name", c->name, "type", c->type,
                     "nullable", c->nullable, "default", c->generated ? NULL : c->default_expr,
                     "identity", identity, "generated", c->generated ? c->default_expr : NULL,
                     "serial", c->serial);
}

static json_t *
constraint_json(const struct dba_unique *u)
{
    return json_pack("{s:s,s:o,s:s}", "name", u->name, "columns", cols_json(u->cols, u->n_cols),
                     "definition", u->definition);
}

static json_t *
constraints_json(const struct dba_unique *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, constraint_json(&v[i]));
    return a;
}

static json_t *
fkey_json(const struct dba_fkey *f)
{
    size_t n_ref = 0;

    while (f->ref_cols != NULL && f->ref_cols[n_ref] != NULL)
        n_ref++;
    return json_pack("{s:s,s:o,s:s?,s:s?,s:o,s:s,s:s,s:s}", "name", f->name, "columns",
                     cols_json(f->cols, f->n_cols), "ref_schema", f->ref_schema, "ref_table",
                     f->ref_table, "ref_columns", cols_json(f->ref_cols, n_ref), "on_update",
                     fk_action(f->on_update), "on_delete", fk_action(f->on_delete), "definition",
                     f->definition);
}

static json_t *
index_json(const struct dba_index *x)
{
    return json_pack("{s:s,s:b,s:s,s:o,s:s?,s:s?,s:s}", "name", x->name, "unique", x->unique,
                     "method", x->method, "columns", cols_json(x->cols, x->n_cols), "predicate",
                     x->predicate, "constraint", x->constraint, "definition", x->definition);
}

static json_t *
trigger_json(const struct dba_trigger *g)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s}", "name", g->name, "timing", g->timing,
                     "events", g->events, "level", g->for_each_row ? "row" : "statement",
                     "enabled", g->enabled, "function", g->function, "definition",
                     g->definition);
}

static const char *
volatility_name(char v)
{
    return v == 'i' ? "immutable" : v == 's' ? "stable" : "volatile";
}

/* Every function of the exposed schemas: signature, result, volatility, language. */
static json_t *
functions_json(const struct dba_catalog *c)
{
    json_t *a = json_array();

    for (size_t i = 0; i < c->n_functions; i++) {
        const struct dba_function *f = &c->functions[i];
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "schema", f->schema, "name", f->name,
                         "arguments", f->arguments ? f->arguments : "", "returns",
                         f->result ? f->result : f->ret_type, "volatility",
                         volatility_name(f->volatility), "language", f->language));
    }
    return a;
}

static json_t *
table_json(const struct dba_table *t)
{
    json_t *trg = json_array();
    for (size_t i = 0; i < t->n_triggers; i++)
        json_array_append_new(trg, trigger_json(&t->triggers[i]));
    json_t *cols = json_array();
    json_t *fks = json_array();
    json_t *idx = json_array();

    for (size_t i = 0; i < t->n_cols; i++)
        json_array_append_new(cols, column_json(&t->cols[i]));
    for (size_t i = 0; i < t->n_fkeys; i++)
        json_array_append_new(fks, fkey_json(&t->fkeys[i]));
    for (size_t i = 0; i < t->n_indexes; i++)
        json_array_append_new(idx, index_json(&t->indexes[i]));
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "schema", t->schema, "name",
                     t->name, "kind", rel_kind(t->kind), "columns", cols, "primary_key",
                     t->pkey ? constraint_json(t->pkey) : json_null(), "uniques",
                     constraints_json(t->uniques, t->n_uniques), "foreign_keys", fks, "checks",
                     constraints_json(t->checks, t->n_checks), "indexes", idx, "triggers", trg);
}

json_t *
dba_schema_catalog_json(const struct dba_catalog *c, const struct dba_config_strv *exclude)
{
    json_t *tables = json_object();

    for (size_t i = 0; i < c->n_tables; i++) {
        const struct dba_table *t = &c->tables[i];
        if (!dba_catalog_table_managed(t, exclude))
            continue;
        struct dba_buf key;
        dba_buf_init(&key);
        dba_buf_printf(&key, "%s.%s", t->schema, t->name);
        json_object_set_new(tables, key.data, table_json(t));
        dba_buf_cleanup(&key);
    }
    return json_pack("{s:s,s:o,s:o,s:o}", "server_version", c->server_version, "schemas",
                     names_json(c->schemas, c->n_schemas), "tables", tables, "functions",
                     functions_json(c));
}

json_t *
dba_schema_introspect(struct pg_conn *pg, const char *const *schemas, size_t n,
                      const struct dba_config_strv *exclude, struct dba_err *err)
{
    struct dba_catalog *c = dba_catalog_load(pg, schemas, n, err);

    if (c == NULL)
        return NULL;
    json_t *doc = dba_schema_catalog_json(c, exclude);
    dba_catalog_unref(c);
    return doc;
}
