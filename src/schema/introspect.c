/* introspect.c - the live schema as JSON, read with three catalog queries for the whole database.

   Every query runs with search_path = pg_catalog (SET LOCAL in a read-only transaction), so
   format_type(), pg_get_expr() and pg_get_constraintdef() print every user type, sequence and
   referenced table schema-qualified. The expected schema (expected.c) is read by the same code,
   so both sides print alike and the fix plan (fix.c) can reuse the texts verbatim. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "db/db.h"
#include "schema/schema.h"

/* Relations and their columns. $1 schemas, $2 excluded names. */
static const char *const sql_relations =
    "SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'name', c.relname,"
    " 'kind', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'"
    "   WHEN 'f' THEN 'foreign table' ELSE 'table' END,"
    " 'columns', (SELECT coalesce(json_agg(json_build_object('name', a.attname,"
    "   'type', format_type(a.atttypid, a.atttypmod), 'nullable', NOT a.attnotnull,"
    "   'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,"
    "   'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,"
    "   'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,"
    "   'serial', a.attidentity = '' AND EXISTS (SELECT 1 FROM pg_depend dep"
    "     JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'"
    "     WHERE dep.refobjid = c.oid AND dep.refobjsubid = a.attnum AND dep.deptype = 'a'))"
    "   ORDER BY a.attnum), '[]') FROM pg_attribute a"
    "   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"), '[]')::text"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','p','v','m','f')"
    " AND NOT c.relispartition"
    " AND NOT (c.relname = ANY($2::text[]) OR n.nspname || '.' || c.relname = ANY($2::text[]))";

static const char *const sql_constraints =
    "SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'table', c.relname,"
    " 'name', con.conname, 'type', con.contype::text,"
    " 'columns', (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.conkey)"
    "   WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.conrelid"
    "   AND a.attnum = k.n),"
    " 'ref_schema', fn.nspname, 'ref_table', fc.relname,"
    " 'ref_columns', (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.confkey)"
    "   WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.confrelid"
    "   AND a.attnum = k.n),"
    " 'on_update', CASE WHEN con.contype = 'f' THEN CASE con.confupdtype WHEN 'r' THEN 'RESTRICT'"
    "   WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT'"
    "   ELSE 'NO ACTION' END END,"
    " 'on_delete', CASE WHEN con.contype = 'f' THEN CASE con.confdeltype WHEN 'r' THEN 'RESTRICT'"
    "   WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT'"
    "   ELSE 'NO ACTION' END END,"
    " 'definition', pg_get_constraintdef(con.oid))"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", con.conname COLLATE \"C\"),"
    " '[]')::text"
    " FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_class fc ON fc.oid = con.confrelid"
    " LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND con.contype IN ('p', 'u', 'f', 'c')";

static const char *const sql_indexes =
    "SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'table', c.relname,"
    " 'name', ic.relname, 'unique', i.indisunique, 'method', am.amname,"
    " 'columns', (SELECT json_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)"
    "   FROM generate_series(1, i.indnkeyatts) k),"
    " 'predicate', pg_get_expr(i.indpred, i.indrelid), 'constraint', con.conname,"
    " 'definition', pg_get_indexdef(i.indexrelid))"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", ic.relname COLLATE \"C\"),"
    " '[]')::text"
    " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
    " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_am am ON am.oid = ic.relam"
    " LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid"
    "   AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')"
    " WHERE n.nspname = ANY($1::text[])";

/* A PostgreSQL text[] literal of the strings. New heap string. */
static char *
text_array(const char *const *v, size_t n)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_put_text_array(&b, v, n);
    return dba_buf_take(&b);
}

/* Runs one of the queries above and parses its single JSON text value. */
static json_t *
query_json(struct pg_conn *pg, const char *sql, const char *const *params, int n,
           struct dba_err *err)
{
    struct pg_result *r = dba_db_exec(pg, sql, params, n, err);

    if (r == NULL)
        return NULL;
    json_t *v = json_loads(dba_db_res_value(r, 0, 0), 0, NULL);
    dba_db_res_clear(r);
    if (!json_is_array(v)) {
        json_decref(v);
        dba_err_set(err, DBA_EDB, 500, "DBA500", "catalog query returned unreadable JSON");
        return NULL;
    }
    return v;
}

static char *
qualified(const json_t *o, const char *table_key)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_printf(&b, "%s.%s", json_string_value(json_object_get(o, "schema")),
                   json_string_value(json_object_get(o, table_key)));
    return dba_buf_take(&b);
}

/* Moves each relation into tables{"schema.name"} with empty constraint lists. */
static void
add_relations(json_t *tables, json_t *rels)
{
    size_t i;
    json_t *rel;

    json_array_foreach(rels, i, rel) {
        char *key = qualified(rel, "name");
        json_object_set_new(rel, "primary_key", json_null());
        json_object_set_new(rel, "uniques", json_array());
        json_object_set_new(rel, "foreign_keys", json_array());
        json_object_set_new(rel, "checks", json_array());
        json_object_set_new(rel, "indexes", json_array());
        json_object_set(tables, key, rel);
        free(key);
    }
}

static const char *
constraint_list(const char *type)
{
    switch (type[0]) {
    case 'u':
        return "uniques";
    case 'f':
        return "foreign_keys";
    case 'c':
        return "checks";
    default:
        return NULL;
    }
}

/* Files each constraint or index under its table; drops the now redundant table fields. */
static void
add_members(json_t *tables, json_t *items, bool are_indexes)
{
    size_t i;
    json_t *it;

    json_array_foreach(items, i, it) {
        char *key = qualified(it, "table");
        json_t *t = json_object_get(tables, key);
        free(key);
        if (t == NULL)
            continue;
        json_object_del(it, "schema");
        json_object_del(it, "table");
        if (are_indexes) {
            json_array_append(json_object_get(t, "indexes"), it);
            continue;
        }
        const char *type = json_string_value(json_object_get(it, "type"));
        const char *list = constraint_list(type);
        if (strcmp(type, "f") != 0) {
            json_object_del(it, "ref_schema");
            json_object_del(it, "ref_table");
            json_object_del(it, "ref_columns");
            json_object_del(it, "on_update");
            json_object_del(it, "on_delete");
        }
        json_object_del(it, "type");
        if (list == NULL)
            json_object_set(t, "primary_key", it);
        else
            json_array_append(json_object_get(t, list), it);
    }
}

static json_t *
introspect_run(struct pg_conn *pg, const char *const *params, struct dba_err *err)
{
    json_t *rels = query_json(pg, sql_relations, params, 2, err);
    json_t *cons = rels ? query_json(pg, sql_constraints, params, 1, err) : NULL;
    json_t *idx = cons ? query_json(pg, sql_indexes, params, 1, err) : NULL;

    if (idx == NULL) {
        json_decref(rels);
        json_decref(cons);
        return NULL;
    }
    json_t *tables = json_object();
    add_relations(tables, rels);
    add_members(tables, cons, false);
    add_members(tables, idx, true);
    json_decref(rels);
    json_decref(cons);
    json_decref(idx);
    return tables;
}

static bool
exec_ok(struct pg_conn *pg, const char *sql, struct dba_err *err)
{
    struct pg_result *r = dba_db_exec(pg, sql, NULL, 0, err);

    dba_db_res_clear(r);
    return r != NULL;
}

json_t *
dba_schema_introspect(struct pg_conn *pg, const char *const *schemas, size_t n,
                      const struct dba_config_strv *exclude, struct dba_err *err)
{
    char *lit = text_array(schemas, n);
    char *ex = text_array(exclude ? (const char *const *)exclude->v : NULL,
                          exclude ? exclude->n : 0);
    const char *params[2] = { lit, ex };
    json_t *tables = NULL;

    if (exec_ok(pg, "BEGIN READ ONLY", err)) {
        if (exec_ok(pg, "SET LOCAL search_path TO pg_catalog", err))
            tables = introspect_run(pg, params, err);
        struct dba_err ignored;
        exec_ok(pg, "ROLLBACK", &ignored);
    }
    free(lit);
    free(ex);
    if (tables == NULL)
        return NULL;
    json_t *sv = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(sv, json_string(schemas[i]));
    return json_pack("{s:s,s:o,s:o}", "server_version", dba_db_server_version(pg), "schemas", sv,
                     "tables", tables);
}
