/* cache.c - the catalog's lookups, its one relation filter, and its lifetime: immutable once
   loaded (load.c), shared between workers by reference count. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog_int.h"

int
dba__catalog_tz_cmp(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

const char *
dba_catalog_timezone(const struct dba_catalog *c, const char *name)
{
    const char *key = name;
    char **hit = c ? bsearch(&key, c->timezones, c->n_timezones, sizeof(char *), dba__catalog_tz_cmp) : NULL;

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

/* Whether exclude names t: "name", or "schema.name". */
static bool
excluded(const struct dba_table *t, const struct dba_config_strv *exclude)
{
    size_t ns = strlen(t->schema);

    for (size_t i = 0; exclude != NULL && i < exclude->n; i++) {
        const char *e = exclude->v[i];
        if (strcmp(e, t->name) == 0 ||
            (strncmp(e, t->schema, ns) == 0 && e[ns] == '.' && strcmp(e + ns + 1, t->name) == 0))
            return true;
    }
    return false;
}

bool
dba_catalog_table_managed(const struct dba_table *t, const struct dba_config_strv *exclude)
{
    return !t->is_partition && !excluded(t, exclude);
}

size_t
dba__catalog_edit_distance(const char *a, const char *b)
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
        size_t d = dba__catalog_edit_distance(name, c->tables[i].name);
        if (d < best_d) {
            best_d = d;
            best = c->tables[i].name;
        }
    }
    return best;
}

void
dba__catalog_names_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

struct dba_catalog *
dba_catalog_ref(struct dba_catalog *c)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

static void
uniques_free(struct dba_unique *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        dba__catalog_names_free(v[i].cols, v[i].n_cols);
        free(v[i].definition);
    }
    free(v);
}

static void
table_free(struct dba_table *t)
{
    for (size_t i = 0; i < t->n_cols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
        free(t->cols[i].base_type);
        free(t->cols[i].default_expr);
        free(t->cols[i].elem_type);
        dba__catalog_names_free(t->cols[i].enum_labels, t->cols[i].n_enum_labels);
        free(t->cols[i].comment);
    }
    free(t->cols);
    dba__catalog_names_free(t->pk, t->n_pk);
    uniques_free(t->pkey, t->pkey != NULL);
    uniques_free(t->uniques, t->n_uniques);
    uniques_free(t->checks, t->n_checks);
    for (size_t i = 0; i < t->n_indexes; i++) {
        struct dba_index *x = &t->indexes[i];
        free(x->name);
        free(x->method);
        dba__catalog_names_free(x->cols, x->n_cols);
        free(x->predicate);
        free(x->constraint);
        free(x->definition);
    }
    free(t->indexes);
    for (size_t i = 0; i < t->n_fkeys; i++) {
        struct dba_fkey *f = &t->fkeys[i];
        dba__catalog_names_free(f->ref_cols, f->n_cols);
        dba__catalog_names_free(f->cols, f->n_cols);
        free(f->name);
        free(f->ref_schema);
        free(f->ref_table);
        free(f->definition);
    }
    free(t->fkeys);
    dba__catalog_relationships_free(t);
    dba__catalog_triggers_free(t);
    free(t->schema);
    free(t->name);
    free(t->comment);
    free(t->owner);
    dba__catalog_names_free(t->grantees, t->n_grantees);
}

void
dba_catalog_unref(struct dba_catalog *c)
{
    if (c == NULL)
        return;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (c->ext != NULL)
        c->ext_free(c->ext);
    for (size_t i = 0; i < c->n_functions; i++) {
        free(c->functions[i].comment);
        free(c->functions[i].owner);
        dba__catalog_names_free(c->functions[i].grantees, c->functions[i].n_grantees);
    }
    for (size_t i = 0; i < c->n_roles; i++) {
        free(c->roles[i].name);
        dba__catalog_names_free(c->roles[i].inherits, c->roles[i].n_inherits);
    }
    dba__catalog_functions_free(c); /* it also frees the tables' computed lists */
    free(c->roles);
    free(c->login_role);
    dba__catalog_names_free(c->schema_comments, c->n_schemas);
    for (size_t i = 0; i < c->n_tables; i++)
        table_free(&c->tables[i]);
    free(c->tables);
    dba__catalog_reprs_free(c);
    dba__catalog_media_free(c);
    dba__catalog_names_free(c->schemas, c->n_schemas);
    dba__catalog_names_free(c->timezones, c->n_timezones);
    free(c->server_version);
    free(c);
}

static int
role_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct dba_role *)elem)->name);
}

const struct dba_role *
dba_catalog_role_find(const struct dba_catalog *c, const char *name)
{
    if (c == NULL || c->n_roles == 0 || name == NULL)
        return NULL;
    return bsearch(name, c->roles, c->n_roles, sizeof(*c->roles), role_cmp);
}
