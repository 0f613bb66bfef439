/* backup.c - the `backup` and `sync` groups as typed structs, checked at load with errors naming
   file, line and key (exit 2), so backup/ never walks libconfig trees. */
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const char *const backup_keys[] = { "tables", "dir", "user_id_env", "max_restore_bytes",
                                            NULL };
static const char *const backup_table_keys[] = {
    "name", "pk", "slug", "slug_field", "user_field", "parent", "optional_refs", NULL,
};
static const char *const backup_ref_keys[] = { "table", "field", NULL };
static const char *const sync_keys[] = { "tables", NULL };

/* A group member that must be a group; absent is fine (*out NULL). */
static int
backup_group(const struct dba_config *c, const config_setting_t *g, const char *key,
    const config_setting_t **out, struct dba_err *err)
{
    const config_setting_t *s = config_setting_get_member(g, key);

    *out = s;
    if (s != NULL && !config_setting_is_group(s))
        return dba_config_err_at(err, c, s, "expected a group, like %s: { ... }", key);
    return DBA_OK;
}

/* { table = "..."; field = "..."; }: both non-empty strings. */
static int
backup_ref_parse(const struct dba_config *c, const config_setting_t *s,
    struct dba_config_backup_ref *r, struct dba_err *err)
{
    if (!config_setting_is_group(s))
        return dba_config_err_at(err, c, s, "expected a group, like { table = \"t\"; field = \"f\"; }");
    if (dba_config_keys_check(c, s, backup_ref_keys, err) != DBA_OK
        || dba__config_read_string(c, s, "table", &r->table, err) != DBA_OK
        || dba__config_read_string(c, s, "field", &r->field, err) != DBA_OK)
        return DBA_EINVAL;
    if (r->table == NULL || r->table[0] == '\0' || r->field == NULL || r->field[0] == '\0')
        return dba_config_err_at(err, c, s, "needs a table and a field");
    return DBA_OK;
}

static int
backup_table_parse(const struct dba_config *c, const config_setting_t *s,
    struct dba_config_backup_table *t, struct dba_err *err)
{
    const config_setting_t *parent, *refs;

    if (!config_setting_is_group(s))
        return dba_config_err_at(err, c, s, "expected a group, like { name = \"t\"; }");
    t->pk = dba_xstrdup("id");
    t->slug = dba_xstrdup("slug");
    if (dba_config_keys_check(c, s, backup_table_keys, err) != DBA_OK
        || dba__config_read_string(c, s, "name", &t->name, err) != DBA_OK
        || dba__config_read_string(c, s, "pk", &t->pk, err) != DBA_OK
        || dba__config_read_string(c, s, "slug_field", &t->slug, err) != DBA_OK
        || dba__config_read_string(c, s, "slug", &t->slug, err) != DBA_OK
        || dba__config_read_string(c, s, "user_field", &t->user_field, err) != DBA_OK
        || backup_group(c, s, "parent", &parent, err) != DBA_OK)
        return DBA_EINVAL;
    if (t->name == NULL || t->name[0] == '\0')
        return dba_config_err_at(err, c, s, "every table needs a name");
    if (parent != NULL && backup_ref_parse(c, parent, &t->parent, err) != DBA_OK)
        return DBA_EINVAL;
    refs = config_setting_get_member(s, "optional_refs");
    if (refs == NULL)
        return DBA_OK;
    if (!config_setting_is_list(refs))
        return dba_config_err_at(err, c, refs,
            "expected a list of groups, like ( { table = \"t\"; field = \"f\"; } )");
    int n = config_setting_length(refs);
    t->optional_refs = dba_xcalloc((size_t)n + 1, sizeof(*t->optional_refs));
    for (int i = 0; i < n; i++) {
        if (backup_ref_parse(c, config_setting_get_elem(refs, (unsigned)i),
                &t->optional_refs[t->n_optional_refs++], err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}

static int
backup_tables_parse(struct dba_config *c, const config_setting_t *s, struct dba_err *err)
{
    struct dba_config_backup *b = &c->backup;

    if (!config_setting_is_list(s))
        return dba_config_err_at(err, c, s,
            "expected a list of groups, like ( { name = \"t\"; } )");
    int n = config_setting_length(s);
    if (n == 0)
        return dba_config_err_at(err, c, s, "must not be empty");
    b->line = (int)config_setting_source_line(s);
    b->tables = dba_xcalloc((size_t)n + 1, sizeof(*b->tables));
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct dba_config_backup_table *t = &b->tables[b->n_tables++];
        if (backup_table_parse(c, e, t, err) != DBA_OK)
            return DBA_EINVAL;
        for (size_t k = 0; k + 1 < b->n_tables; k++)
            if (strcmp(b->tables[k].name, t->name) == 0)
                return dba_config_err_at(err, c, e, "table '%s' is listed twice", t->name);
    }
    return DBA_OK;
}

/* sync.tables: a list of strings, or one comma-separated string (kept as one entry). */
static int
sync_parse(struct dba_config *c, const config_setting_t *g, struct dba_err *err)
{
    const config_setting_t *t;

    if (dba_config_keys_check(c, g, sync_keys, err) != DBA_OK)
        return DBA_EINVAL;
    t = config_setting_get_member(g, "tables");
    if (t != NULL && config_setting_type(t) == CONFIG_TYPE_STRING) {
        const char *v = config_setting_get_string(t);
        dba__config_strv_set(&c->sync.tables, &v, v[0] != '\0' ? 1 : 0);
        return DBA_OK;
    }
    return dba__config_read_strv(c, g, "tables", true, &c->sync.tables, err);
}

int
dba__config_backup_parse(struct dba_config *c, const config_setting_t *root, struct dba_err *err)
{
    const config_setting_t *g, *t;

    if (backup_group(c, root, "backup", &g, err) != DBA_OK)
        return DBA_EINVAL;
    if (g != NULL) {
        if (dba_config_keys_check(c, g, backup_keys, err) != DBA_OK
            || dba__config_read_string(c, g, "dir", &c->backup.dir, err) != DBA_OK
            || dba__config_read_string(c, g, "user_id_env", &c->backup.user_id_env, err) != DBA_OK
            || dba__config_read_scope(c, g, DBA_CFGS_BACKUP, c, err) != DBA_OK)
            return DBA_EINVAL;
        const char *u = c->backup.user_id_env != NULL && c->backup.user_id_env[0] != '\0'
                            ? getenv(c->backup.user_id_env) : NULL;
        free(c->backup.user_id);
        c->backup.user_id = u != NULL && u[0] != '\0' ? dba_xstrdup(u) : NULL;
        t = config_setting_get_member(g, "tables");
        if (t != NULL && backup_tables_parse(c, t, err) != DBA_OK)
            return DBA_EINVAL;
    }
    if (backup_group(c, root, "sync", &g, err) != DBA_OK)
        return DBA_EINVAL;
    return g != NULL ? sync_parse(c, g, err) : DBA_OK;
}

static void
backup_ref_cleanup(struct dba_config_backup_ref *r)
{
    free(r->table);
    free(r->field);
}

void
dba__config_backup_cleanup(struct dba_config *c)
{
    for (size_t i = 0; i < c->backup.n_tables; i++) {
        struct dba_config_backup_table *t = &c->backup.tables[i];
        free(t->name);
        free(t->pk);
        free(t->slug);
        free(t->user_field);
        backup_ref_cleanup(&t->parent);
        for (size_t k = 0; k < t->n_optional_refs; k++)
            backup_ref_cleanup(&t->optional_refs[k]);
        free(t->optional_refs);
    }
    free(c->backup.tables);
    free(c->backup.dir);
    free(c->backup.user_id_env);
    free(c->backup.user_id);
    dba__config_strv_cleanup(&c->sync.tables);
}
