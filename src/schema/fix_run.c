/* fix_run.c - the fix operation shared by `db-adapter fix` and POST /schema/fix: compare, plan,
   and when confirmed back up the touched tables (through the face's callback, backup/'s streaming
   writer), apply in one transaction and re-validate. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"
#include "schema/schema_int.h"

/* Tables receiving a column that needs a value, and that have rows (array of names). */
static json_t *
nonempty_tables(struct dba__schema_cmp *c, struct dba_err *err)
{
    json_t *out = json_array();
    size_t i;
    const json_t *m;

    json_array_foreach(json_object_get(c->report, "missing_columns"), i, m) {
        const char *key = json_string_value(json_object_get(m, "table"));
        const json_t *t = json_object_get(json_object_get(c->live, "tables"), key);
        struct dba_buf b;
        dba_buf_init(&b);
        dba_buf_puts(&b, "SELECT EXISTS (SELECT 1 FROM ");
        dba_buf_put_ident(&b, json_string_value(json_object_get(t, "schema")));
        dba_buf_putc(&b, '.');
        dba_buf_put_ident(&b, json_string_value(json_object_get(t, "name")));
        dba_buf_puts(&b, ")");
        struct pg_result *r = dba_db_exec(c->pg, b.data, NULL, 0, err);
        dba_buf_cleanup(&b);
        if (r == NULL) {
            json_decref(out);
            return NULL;
        }
        if (dba_db_res_value(r, 0, 0)[0] == 't')
            json_array_append_new(out, json_string(key));
        dba_db_res_clear(r);
    }
    return out;
}

static void
doc_error(json_t *doc, const struct dba_err *err)
{
    json_object_set_new(doc, "error", json_pack("{s:s,s:s,s:s?}", "code", err->pgrst, "message",
                                                err->msg, "details",
                                                err->detail[0] ? err->detail : NULL));
}

/* Backup (unless skipped), apply, re-validate. Fills doc; err set on failure. */
static int
fix_confirmed(const struct dba_profile *p, const struct dba_config *cfg,
              const struct dba_schema_fix_opts *o, struct dba__schema_cmp *c, json_t *doc,
              struct dba_err *err)
{
    const json_t *plan = json_object_get(doc, "plan");
    int failed = 0;

    if (json_array_size(json_object_get(plan, "statements")) == 0) {
        json_object_set_new(doc, "applied", json_true());
        json_object_set(doc, "after", c->report);
        return DBA_OK;
    }
    if (o->backup) {
        if (o->backup_cb == NULL) /* a face's mistake: never apply without the backup asked */
            return dba_err_set(err, DBA_EINVAL, 500, "DBA025", "no pre-fix backup writer");
        json_t *touched = dba_schema_fix_touched(plan, c->report);
        char *path = o->backup_cb(o->backup_arg, c->pg, p->name, touched, p->schemas.v[0], err);
        json_decref(touched);
        if (path == NULL)
            return err->code;
        json_object_set_new(doc, "backup", json_string(path));
        free(path);
    }
    if (dba_schema_fix_apply(c->pg, plan, &failed, err) != DBA_OK) {
        if (failed > 0)
            json_object_set_new(doc, "failed_statement", json_integer(failed));
        return err->code ? err->code : DBA_EDB;
    }
    json_object_set_new(doc, "applied", json_true());
    json_t *live = dba_schema_introspect(c->pg, (const char *const *)p->schemas.v, p->schemas.n,
                                         &cfg->exclude_tables, err);
    if (live == NULL)
        return err->code ? err->code : DBA_EDB;
    json_object_set_new(doc, "after", dba_schema_diff(c->expected, live));
    json_decref(live);
    return DBA_OK;
}

static int
fix_refused(const json_t *plan, struct dba_err *err)
{
    const json_t *r = json_array_get(json_object_get(plan, "refused"), 0);

    dba_err_set(err, DBA_EINVAL, 409, "DBA023", "fix refused: the plan cannot be applied safely");
    dba_err_detail(err, "Column %s.%s: %s.", json_string_value(json_object_get(r, "table")),
                   json_string_value(json_object_get(r, "column")),
                   json_string_value(json_object_get(r, "reason")));
    dba_err_hint(err, "See plan.refused for the choices.");
    return DBA_EINVAL;
}

json_t *
dba_schema_fix(const struct dba_config *cfg, const struct dba_profile *p,
               const struct dba_schema_fix_opts *o, struct dba_err *err)
{
    struct dba__schema_cmp c;

    if (o->confirm && dba_config_profile_writable(p, "a confirmed fix", err) != DBA_OK)
        return NULL;
    if (dba__schema_compare(cfg, p, &o->src, &c, err) != DBA_OK)
        return NULL;
    json_t *nonempty = nonempty_tables(&c, err);
    if (nonempty == NULL) {
        dba__schema_cmp_cleanup(&c);
        return NULL;
    }
    json_t *plan = dba_schema_fix_plan(c.report, c.expected, nonempty);
    json_decref(nonempty);
    json_t *doc = json_pack("{s:s,s:s,s:O,s:O,s:o,s:b,s:b}", "profile", p->name,
                            "schema_source", c.source, "skipped_statements", c.skipped, "report",
                            c.report, "plan", plan, "confirm", o->confirm, "applied", 0);
    int rc = DBA_OK;
    if (o->confirm && !json_is_true(json_object_get(plan, "ok")))
        rc = fix_refused(plan, err);
    else if (o->confirm)
        rc = fix_confirmed(p, cfg, o, &c, doc, err);
    if (rc != DBA_OK)
        doc_error(doc, err);
    dba__schema_cmp_cleanup(&c);
    return doc;
}
