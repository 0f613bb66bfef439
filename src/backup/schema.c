/* schema.c - the backup schema: declared (config or the original's JSON) or derived from the
   schema cache's foreign keys, ordered parents first, with cycles reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup_int.h"

static void
table_cleanup(struct dba_backup_table *t)
{
    free(t->name);
    free(t->nsp);
    free(t->rel);
    free(t->pk);
    free(t->slug);
    free(t->user_field);
    free(t->parent.table);
    free(t->parent.field);
    for (size_t i = 0; i < t->n_opt; i++) {
        free(t->opt[i].table);
        free(t->opt[i].field);
    }
    free(t->opt);
}

void
dba_backup_schema_free(struct dba_backup_schema *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        table_cleanup(&s->tables[i]);
    free(s->tables);
    free(s);
}

int
dba_backup_schema_find(const struct dba_backup_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->tables[i].name, name) == 0)
            return (int)i;
    return -1;
}

static char *
opt_str(const json_t *o, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (json_is_null(json_object_get(o, key)))
        return NULL;
    return v != NULL ? dba_xstrdup(v) : def != NULL ? dba_xstrdup(def) : NULL;
}

/* Orders s parents first; frees it and returns NULL on a cycle. */
static struct dba_backup_schema *
schema_ordered(struct dba_backup_schema *s, struct dba_err *err)
{
    if (dba_backup_schema_order(s, err) != DBA_OK) {
        dba_backup_schema_free(s);
        return NULL;
    }
    return s;
}

static int
ref_from_json(const json_t *j, struct dba_backup_ref *r, const char *where, struct dba_err *err)
{
    const char *t = json_string_value(json_object_get(j, "table"));
    const char *f = json_string_value(json_object_get(j, "field"));
    if (!json_is_object(j) || t == NULL || f == NULL)
        return dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                           "backup schema: %s needs a table and a field", where);
    r->table = dba_xstrdup(t);
    r->field = dba_xstrdup(f);
    return DBA_OK;
}

static int
table_from_json(const json_t *j, struct dba_backup_table *t, struct dba_err *err)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!json_is_object(j) || name == NULL || name[0] == '\0')
        return dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                           "backup schema: every table needs a name");
    t->name = dba_xstrdup(name);
    t->pk = opt_str(j, "pk", "id");
    t->slug = opt_str(j, json_object_get(j, "slug") != NULL ? "slug" : "slug_field", "slug");
    t->user_field = opt_str(j, "user_field", NULL);
    if (t->pk == NULL)
        t->pk = dba_xstrdup("id");
    const json_t *p = json_object_get(j, "parent");
    if (p != NULL && !json_is_null(p) &&
        ref_from_json(p, &t->parent, "parent", err) != DBA_OK)
        return DBA_EINVAL;
    const json_t *refs = json_object_get(j, "optional_refs");
    size_t i;
    const json_t *r;
    t->opt = dba_xcalloc(json_array_size(refs) + 1, sizeof(*t->opt));
    json_array_foreach(refs, i, r) {
        if (ref_from_json(r, &t->opt[t->n_opt], "optional_refs entry", err) != DBA_OK)
            return DBA_EINVAL;
        t->n_opt++;
    }
    return DBA_OK;
}

struct dba_backup_schema *
dba_backup_schema_from_json(const json_t *doc, struct dba_err *err)
{
    const json_t *tables = json_object_get(doc, "tables");
    if (!json_is_array(tables) || json_array_size(tables) == 0) {
        dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                    "backup schema: \"tables\" must be a non-empty list");
        return NULL;
    }
    struct dba_backup_schema *s = dba_xcalloc(1, sizeof(*s));
    s->tables = dba_xcalloc(json_array_size(tables), sizeof(*s->tables));
    size_t i;
    const json_t *t;
    json_array_foreach(tables, i, t) {
        s->n++;
        if (table_from_json(t, &s->tables[i], err) != DBA_OK) {
            dba_backup_schema_free(s);
            return NULL;
        }
        if (dba_backup_schema_find(s, s->tables[i].name) != (int)i) {
            dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                        "backup schema: table '%s' is listed twice", s->tables[i].name);
            dba_backup_schema_free(s);
            return NULL;
        }
    }
    return schema_ordered(s, err);
}

static int
schema_from_file(const char *path, struct dba_backup_schema **out, struct dba_err *err)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (doc == NULL)
        return dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                           "cannot read backup schema %s: %s (line %d)", path, je.text, je.line);
    *out = dba_backup_schema_from_json(doc, err);
    json_decref(doc);
    return *out != NULL ? DBA_OK : DBA_EINVAL;
}

static void
ref_copy(struct dba_backup_ref *dst, const struct dba_config_backup_ref *src)
{
    dst->table = src->table != NULL ? dba_xstrdup(src->table) : NULL;
    dst->field = src->field != NULL ? dba_xstrdup(src->field) : NULL;
}

/* The typed backup.tables (checked by config/ at load) as a backup schema, ordered; a reference
   cycle is a configuration error at backup.tables' line. */
static int
schema_from_typed(const struct dba_config *cfg, struct dba_backup_schema **out,
                  struct dba_err *err)
{
    const struct dba_config_backup *b = &cfg->backup;
    struct dba_backup_schema *s = dba_xcalloc(1, sizeof(*s));

    s->tables = dba_xcalloc(b->n_tables + 1, sizeof(*s->tables));
    for (size_t i = 0; i < b->n_tables; i++) {
        const struct dba_config_backup_table *ct = &b->tables[i];
        struct dba_backup_table *t = &s->tables[s->n++];
        t->name = dba_xstrdup(ct->name);
        t->pk = dba_xstrdup(ct->pk);
        t->slug = ct->slug != NULL ? dba_xstrdup(ct->slug) : NULL;
        t->user_field = ct->user_field != NULL ? dba_xstrdup(ct->user_field) : NULL;
        ref_copy(&t->parent, &ct->parent);
        t->opt = dba_xcalloc(ct->n_optional_refs + 1, sizeof(*t->opt));
        for (size_t k = 0; k < ct->n_optional_refs; k++)
            ref_copy(&t->opt[t->n_opt++], &ct->optional_refs[k]);
    }
    if (dba_backup_schema_order(s, err) != DBA_OK) {
        char why[sizeof(err->msg)];
        snprintf(why, sizeof(why), "%s", err->msg);
        dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID, "%s:%d: backup.tables: %s",
                    cfg->path != NULL ? cfg->path : "(config)", b->line, why);
        dba_backup_schema_free(s);
        return DBA_EINVAL;
    }
    *out = s;
    return DBA_OK;
}

int
dba_backup_schema_from_config(const struct dba_config *cfg, struct dba_backup_schema **out,
                              struct dba_err *err)
{
    *out = NULL;
    if (cfg->backup.n_tables > 0)
        return schema_from_typed(cfg, out, err);
    return cfg->backup_schema != NULL ? schema_from_file(cfg->backup_schema, out, err) : DBA_OK;
}

/* Index of the k-th dependency of t inside s (parent, then optional refs), or -1 for none,
   itself or a table outside s. */
static int
dep_at(const struct dba_backup_schema *s, const struct dba_backup_table *t, size_t k)
{
    const char *name = k == 0 ? t->parent.table : t->opt[k - 1].table;
    if (name == NULL || strcmp(name, t->name) == 0)
        return -1;
    return dba_backup_schema_find(s, name);
}

static bool
deps_placed(const struct dba_backup_schema *s, size_t i, const bool *placed)
{
    const struct dba_backup_table *t = &s->tables[i];
    for (size_t k = 0; k <= t->n_opt; k++) {
        int d = dep_at(s, t, k);
        if (d >= 0 && !placed[d])
            return false;
    }
    return true;
}

/* Walks unplaced dependencies from an unplaced table until one repeats; names the loop. */
static int
cycle_report(const struct dba_backup_schema *s, const bool *placed, struct dba_err *err)
{
    size_t *path = dba_xcalloc(s->n + 1, sizeof(*path));
    size_t n = 0, cur = 0;
    while (placed[cur])
        cur++;
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            if (path[i] != cur)
                continue;
            struct dba_buf b;
            dba_buf_init(&b);
            for (size_t j = i; j < n; j++)
                dba_buf_printf(&b, "%s -> ", s->tables[path[j]].name);
            dba_buf_puts(&b, s->tables[cur].name);
            dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                        "foreign-key cycle between tables: %s", b.data);
            dba_err_hint(err, "Declare backup.tables in the configuration in the order to use, "
                              "with the reference that closes the cycle left out.");
            dba_buf_cleanup(&b);
            free(path);
            return DBA_EINVAL;
        }
        path[n++] = cur;
        const struct dba_backup_table *t = &s->tables[cur];
        for (size_t k = 0; k <= t->n_opt; k++) {
            int d = dep_at(s, t, k);
            if (d >= 0 && !placed[d]) {
                cur = (size_t)d;
                break;
            }
        }
    }
}

int
dba_backup_schema_order(struct dba_backup_schema *s, struct dba_err *err)
{
    bool *placed = dba_xcalloc(s->n + 1, sizeof(*placed));
    size_t *order = dba_xcalloc(s->n + 1, sizeof(*order));
    size_t n = 0;

    while (n < s->n) {
        size_t i = 0;
        while (i < s->n && (placed[i] || !deps_placed(s, i, placed)))
            i++;
        if (i == s->n) {
            int rc = cycle_report(s, placed, err);
            free(placed);
            free(order);
            return rc;
        }
        placed[i] = true;
        order[n++] = i;
    }
    struct dba_backup_table *t = dba_xcalloc(s->n + 1, sizeof(*t));
    for (size_t i = 0; i < s->n; i++)
        t[i] = s->tables[order[i]];
    free(s->tables);
    s->tables = t;
    free(placed);
    free(order);
    return DBA_OK;
}

static bool
list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p != '\0';) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ",");
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

static int
filter_check_names(const struct dba_backup_schema *s, const char *list, struct dba_err *err)
{
    char *copy = dba_xstrdup(list), *save = NULL;
    int rc = DBA_OK;
    for (char *tok = strtok_r(copy, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (dba_backup_schema_find(s, tok) < 0) {
            rc = dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                             "unknown table '%s' in the table list", tok);
            break;
        }
    }
    free(copy);
    return rc;
}

int
dba_backup_schema_filter(struct dba_backup_schema *s, const char *list, json_t *warnings,
                         struct dba_err *err)
{
    if (filter_check_names(s, list, err) != DBA_OK)
        return DBA_EINVAL;
    size_t out = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (list_has(list, s->tables[i].name))
            s->tables[out++] = s->tables[i];
        else
            table_cleanup(&s->tables[i]);
    }
    s->n = out;
    for (size_t i = 0; i < s->n; i++) {
        const struct dba_backup_table *t = &s->tables[i];
        if (t->parent.table != NULL && dba_backup_schema_find(s, t->parent.table) < 0 &&
            warnings != NULL)
            json_array_append_new(warnings, json_sprintf(
                "table '%s' has parent '%s' which is not in the table list: its rows that "
                "point at a parent are left out", t->name, t->parent.table));
    }
    return DBA_OK;
}

static json_t *
ref_json(const struct dba_backup_ref *r)
{
    return json_pack("{s:s,s:s}", "table", r->table, "field", r->field);
}

json_t *
dba_backup_schema_json(const struct dba_backup_schema *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const struct dba_backup_table *t = &s->tables[i];
        /* slug is written even when there is none (null): a reader's default is "slug". */
        json_t *o = json_pack("{s:s,s:s,s:o,s:s*}", "name", t->name, "pk", t->pk, "slug",
                              t->slug ? json_string(t->slug) : json_null(), "user_field",
                              t->user_field);
        if (t->parent.table != NULL)
            json_object_set_new(o, "parent", ref_json(&t->parent));
        json_t *refs = json_array();
        for (size_t k = 0; k < t->n_opt; k++)
            json_array_append_new(refs, ref_json(&t->opt[k]));
        json_object_set_new(o, "optional_refs", refs);
        json_array_append_new(arr, o);
    }
    return json_pack("{s:o,s:b}", "tables", arr, "derived", s->derived);
}

/* The single column of fk when it references the single-column primary key of a table of nsp. */
static const char *
derive_fk_col(const struct dba_catalog *c, const char *nsp, const struct dba_fkey *fk)
{
    if (fk->n_cols != 1 || strcmp(fk->ref_schema, nsp) != 0)
        return NULL;
    const struct dba_table *p = dba_catalog_table_find(c, nsp, fk->ref_table);
    if (p == NULL || p->n_pk != 1 || strcmp(p->pk[0], fk->ref_cols[0]) != 0)
        return NULL;
    return fk->cols[0];
}

static char *
derive_slug(const struct dba_table *t)
{
    for (size_t u = 0; u < t->n_uniques; u++)
        for (size_t k = 0; k < t->uniques[u].n_cols; k++)
            if (strcmp(t->uniques[u].cols[k], "slug") == 0)
                return dba_xstrdup("slug");
    return NULL;
}

static void
derive_table(const struct dba_catalog *c, const char *nsp, const struct dba_table *st,
             struct dba_backup_table *t)
{
    t->name = dba_xstrdup(st->name);
    t->pk = dba_xstrdup(st->pk[0]);
    t->slug = derive_slug(st);
    if (dba_catalog_column_find(st, "user_id") != NULL)
        t->user_field = dba_xstrdup("user_id");
    t->opt = dba_xcalloc(st->n_fkeys + 1, sizeof(*t->opt));
    for (size_t k = 0; k < st->n_fkeys; k++) {
        const char *col = derive_fk_col(c, nsp, &st->fkeys[k]);
        if (col == NULL)
            continue;
        const struct dba_column *cd = dba_catalog_column_find(st, col);
        bool self = strcmp(st->fkeys[k].ref_table, st->name) == 0;
        struct dba_backup_ref *r = &t->opt[t->n_opt];
        if (t->parent.table == NULL && cd != NULL && !cd->nullable && !self)
            r = &t->parent;
        else
            t->n_opt++;
        r->table = dba_xstrdup(st->fkeys[k].ref_table);
        r->field = dba_xstrdup(col);
    }
}

struct dba_backup_schema *
dba_backup_schema_derive(const struct dba_catalog *c, const char *nsp, struct dba_err *err)
{
    struct dba_backup_schema *s = dba_xcalloc(1, sizeof(*s));
    s->derived = true;
    s->tables = dba_xcalloc(c->n_tables + 1, sizeof(*s->tables));
    for (size_t i = 0; i < c->n_tables; i++) {
        const struct dba_table *st = &c->tables[i];
        if (st->is_view || strcmp(st->schema, nsp) != 0)
            continue;
        if (st->n_pk != 1) {
            dba_log(DBA_LOG_WARN, "backup: table %s has no single-column primary key; left out",
                    st->name);
            continue;
        }
        derive_table(c, nsp, st, &s->tables[s->n++]);
    }
    if (s->n == 0) {
        dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                    "no table with a primary key in schema '%s' to back up", nsp);
        dba_backup_schema_free(s);
        return NULL;
    }
    return schema_ordered(s, err);
}

static int
keys_member(void *arg, const char *key, const char *v, size_t len)
{
    DBA_UNUSED(len);
    if (v[0] == '[')
        json_array_append_new(arg, json_pack("{s:s,s:n}", "name", key, "slug"));
    return DBA_OK;
}

/* One table per top-level array of the document, matched by "id" (no parents known). */
static struct dba_backup_schema *
schema_from_keys(const char *text, size_t len, struct dba_err *err)
{
    json_t *tables = json_array();
    if (dba__backup_scan(text, len, true, keys_member, tables) != DBA_OK) {
        json_decref(tables);
        dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                    "Invalid JSON: the backup is not a well-formed JSON object");
        return NULL;
    }
    json_t *j = json_pack("{s:o}", "tables", tables);
    struct dba_backup_schema *s = dba_backup_schema_from_json(j, err);
    json_decref(j);
    return s;
}

/* Narrows a derived schema to the tables the metadata counts (<table>_count keys). */
static void
schema_narrow(struct dba_backup_schema *s, const json_t *meta)
{
    size_t out = 0;
    for (size_t i = 0; i < s->n; i++) {
        char key[300];
        snprintf(key, sizeof(key), "%s_count", s->tables[i].name);
        if (json_object_get(meta, key) != NULL)
            s->tables[out++] = s->tables[i];
        else
            table_cleanup(&s->tables[i]);
    }
    s->n = out;
}

struct dba_backup_schema *
dba_backup_schema_for(const struct dba_config *cfg, const json_t *meta, const char *text,
                      size_t len, const struct dba_catalog *cache, const char *nsp, struct dba_err *err)
{
    struct dba_backup_schema *s = NULL;
    if (cfg != NULL && dba_backup_schema_from_config(cfg, &s, err) != DBA_OK)
        return NULL;
    if (s != NULL)
        return s;
    const json_t *emb = json_object_get(meta, "schema");
    if (emb != NULL)
        return dba_backup_schema_from_json(emb, err);
    if (cache != NULL) {
        s = dba_backup_schema_derive(cache, nsp, err);
        if (s != NULL)
            schema_narrow(s, meta);
        return s;
    }
    if (text != NULL)
        return schema_from_keys(text, len, err);
    dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "no backup schema to check this backup");
    dba_err_hint(err, "Declare backup.tables in the configuration.");
    return NULL;
}

struct dba_backup_schema *
dba_backup_schema_live(const struct dba_config *cfg, const struct dba_profile *p, void *conn,
                       struct dba_err *err)
{
    struct dba_backup_schema *s = NULL;
    if (dba_backup_schema_from_config(cfg, &s, err) != DBA_OK)
        return NULL;
    if (s != NULL)
        return s;
    struct dba_catalog *cache = dba_catalog_load(
        conn, (const char *const *)p->schemas.v, p->schemas.n, err);
    if (cache != NULL)
        s = dba_backup_schema_derive(cache, p->schemas.v[0], err);
    dba_catalog_unref(cache);
    return s;
}
