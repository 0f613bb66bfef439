/* report.c - status documents shared by the CLI and HTTP faces: profiles and row counts. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"
#include "schema/schema.h"

json_t *
dba_schema_profiles_json(const struct dba_config *cfg, const struct dba_profile *active)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < cfg->n_profiles; i++) {
        const struct dba_profile *p = &cfg->profiles[i];
        json_t *o = json_object();
        json_t *schemas = json_array();
        char *where = dba_config_profile_display(p);
        for (size_t k = 0; k < p->schemas.n; k++)
            json_array_append_new(schemas, json_string(p->schemas.v[k]));
        json_object_set_new(o, "name", json_string(p->name));
        json_object_set_new(o, "active", json_boolean(active != NULL && active == p));
        json_object_set_new(o, "description", json_string(p->description ? p->description : ""));
        json_object_set_new(o, "location", json_string(where));
        json_object_set_new(o, "schemas", schemas);
        json_object_set_new(o, "pool_size", json_integer(p->pool_size));
        json_object_set_new(o, "read_only", json_boolean(p->read_only));
        json_array_append_new(arr, o);
        free(where);
    }
    return arr;
}

char *
dba_schema_rowcount_sql(const struct dba_catalog *c, bool exact)
{
    struct dba_buf b;
    size_t n = 0;

    dba_buf_init(&b);
    dba_buf_puts(&b, "SELECT coalesce(json_object_agg(name, n ORDER BY name), '{}')::text FROM (");
    for (size_t i = 0; c != NULL && i < c->n_tables; i++) {
        const struct dba_table *t = &c->tables[i];
        if (t->is_view)
            continue;
        if (n++ > 0)
            dba_buf_puts(&b, " UNION ALL ");
        dba_buf_puts(&b, "SELECT ");
        struct dba_buf name;
        dba_buf_init(&name);
        if (strcmp(t->schema, c->schemas[0]) != 0)
            dba_buf_printf(&name, "%s.", t->schema);
        dba_buf_puts(&name, t->name);
        dba_buf_put_literal(&b, name.data);
        dba_buf_cleanup(&name);
        struct dba_buf qual;
        dba_buf_init(&qual);
        dba_buf_put_ident(&qual, t->schema);
        dba_buf_putc(&qual, '.');
        dba_buf_put_ident(&qual, t->name);
        if (exact) {
            dba_buf_printf(&b, " AS name, count(*) AS n FROM %s", qual.data);
        } else {
            /* The planner's estimate; -1 (never vacuumed or analyzed) is reported as null. */
            dba_buf_puts(&b, " AS name, (SELECT CASE WHEN c.reltuples >= 0 THEN "
                             "c.reltuples::bigint END FROM pg_catalog.pg_class c WHERE c.oid = ");
            dba_buf_put_literal(&b, qual.data);
            dba_buf_puts(&b, "::regclass) AS n");
        }
        dba_buf_cleanup(&qual);
    }
    if (n == 0)
        dba_buf_puts(&b, "SELECT NULL::text AS name, NULL::bigint AS n WHERE false");
    dba_buf_puts(&b, ") counts");
    return dba_buf_take(&b);
}

json_t *
dba_schema_status_probe(const struct dba_profile *p, const char *source, bool exact,
                        struct dba_err *err)
{
    char *conninfo = dba_config_profile_conninfo(p);
    char *where = dba_config_profile_display(p);
    json_t *o = json_pack("{s:s,s:s,s:s}", "profile", p->name, "source", source ? source : "",
                          "location", where);
    free(where);
    struct pg_conn *pg = dba_db_connect_blocking(conninfo, 10, err);
    free(conninfo);
    if (pg == NULL) {
        json_object_set_new(o, "reachable", json_false());
        json_object_set_new(o, "error", json_string(err->msg));
        json_object_set_new(o, "details", json_string(err->detail));
        return o;
    }
    json_object_set_new(o, "reachable", json_true());
    json_object_set_new(o, "server_version", json_string(dba_db_server_version(pg)));
    struct dba_catalog *cache = dba_catalog_load(
        pg, (const char *const *)p->schemas.v, p->schemas.n, err);
    if (cache != NULL) {
        char *sql = dba_schema_rowcount_sql(cache, exact);
        json_object_set_new(o, "row_counts", json_string(exact ? "exact" : "estimated"));
        struct pg_result *r = dba_db_exec(pg, sql, NULL, 0, err);
        free(sql);
        if (r != NULL) {
            json_t *counts = json_loads(dba_db_res_value(r, 0, 0), 0, NULL);
            json_object_set_new(o, "tables", counts ? counts : json_object());
            dba_db_res_clear(r);
        }
        dba_catalog_unref(cache);
    }
    if (json_object_get(o, "tables") == NULL)
        json_object_set_new(o, "error", json_string(err->msg));
    dba_db_close(pg);
    return o;
}

