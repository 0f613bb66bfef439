/* validate.c - the live schema and its comparison with the expected one, for both faces. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"
#include "schema/schema_int.h"

json_t *
dba_schema_live(const struct dba_config *cfg, const struct dba_profile *p, struct dba_err *err)
{
    char *conninfo = dba_config_profile_conninfo(p);
    struct pg_conn *pg = dba_db_connect_blocking(conninfo, 10, err);

    free(conninfo);
    if (pg == NULL)
        return NULL;
    json_t *live = dba_schema_introspect(pg, (const char *const *)p->schemas.v, p->schemas.n,
                                         &cfg->exclude_tables, err);
    dba_db_close(pg);
    if (live != NULL)
        json_object_set_new(live, "profile", json_string(p->name));
    return live;
}

void
dba__schema_cmp_cleanup(struct dba__schema_cmp *c)
{
    dba_db_close(c->pg);
    json_decref(c->expected);
    json_decref(c->live);
    json_decref(c->report);
    json_decref(c->skipped);
    memset(c, 0, sizeof(*c));
}

static char *
source_sql(const struct dba_config *cfg, const struct dba_schema_src *src, const char **name,
           struct dba_err *err)
{
    if (src->sql != NULL) {
        *name = "request body";
        return dba_xstrdup(src->sql);
    }
    *name = src->path ? src->path : cfg->schema_file;
    return dba_schema_file_read(*name, err);
}

int
dba__schema_compare(const struct dba_config *cfg, const struct dba_profile *p,
                    const struct dba_schema_src *src, struct dba__schema_cmp *out,
                    struct dba_err *err)
{
    const char *const *schemas = (const char *const *)p->schemas.v;

    memset(out, 0, sizeof(*out));
    char *sql = source_sql(cfg, src, &out->source, err);
    if (sql == NULL)
        return err->code;
    char *conninfo = dba_config_profile_conninfo(p);
    out->pg = dba_db_connect_blocking(conninfo, 10, err);
    if (out->pg != NULL)
        out->expected = dba_schema_expected(out->pg, conninfo, sql, schemas, p->schemas.n,
                                            &cfg->exclude_tables, &cfg->allowed_extensions,
                                            &out->skipped, err);
    free(conninfo);
    free(sql);
    if (out->expected != NULL)
        out->live = dba_schema_introspect(out->pg, schemas, p->schemas.n, &cfg->exclude_tables,
                                          err);
    if (out->live == NULL) {
        int code = err->code ? err->code : DBA_EDB;
        dba__schema_cmp_cleanup(out);
        return code;
    }
    if (out->skipped == NULL)
        out->skipped = json_array();
    out->report = dba_schema_diff(out->expected, out->live);
    return DBA_OK;
}

json_t *
dba_schema_validate(const struct dba_config *cfg, const struct dba_profile *p,
                    const struct dba_schema_src *src, struct dba_err *err)
{
    struct dba__schema_cmp c;

    if (dba__schema_compare(cfg, p, src, &c, err) != DBA_OK)
        return NULL;
    json_t *rep = json_incref(c.report);
    json_object_set_new(rep, "profile", json_string(p->name));
    json_object_set_new(rep, "schema_source", json_string(c.source));
    json_object_set(rep, "skipped_statements", c.skipped);
    dba__schema_cmp_cleanup(&c);
    return rep;
}
