/* privs.c - which relations and functions a role may see (openapi_mode follow-privileges),
   decided from the grantees, owners and role graph loaded with the catalog: no query per
   request. PostgreSQL's rule, as has_table_privilege() applies it: a superuser holds every
   privilege; another role holds the privileges granted to itself, to PUBLIC, and to every role
   it inherits from (transitively); an owner holds every privilege of its objects. */
#include <stdlib.h>
#include <string.h>

#include "openapi/openapi_int.h"

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
in_set(const char *const *v, size_t n, const char *name)
{
    return bsearch(&name, v, n, sizeof(char *), name_cmp) != NULL;
}

const char **
dba__openapi_role_closure(const struct dba_catalog *c, const char *role, size_t *n, bool *super)
{
    size_t cap = 8;
    const char **v = dba_xcalloc(cap, sizeof(char *));
    const struct dba_role *r = dba_catalog_role_find(c, role);

    *n = 0;
    *super = r != NULL && r->super;
    v[(*n)++] = role;
    /* breadth-first over the inherits edges; v doubles as the queue */
    for (size_t i = 0; i < *n; i++) {
        const struct dba_role *cur = dba_catalog_role_find(c, v[i]);
        for (size_t k = 0; cur != NULL && k < cur->n_inherits; k++) {
            bool seen = false;
            for (size_t j = 0; j < *n && !seen; j++)
                seen = strcmp(v[j], cur->inherits[k]) == 0;
            if (seen)
                continue;
            if (*n == cap) {
                cap *= 2;
                v = dba_xrealloc(v, cap * sizeof(char *));
            }
            v[(*n)++] = cur->inherits[k];
        }
    }
    qsort(v, *n, sizeof(char *), name_cmp);
    return v;
}

bool
dba__openapi_visible(const char *const *v, size_t n, bool super, const char *owner,
                     char *const *grantees, size_t n_grantees)
{
    if (super || (owner != NULL && in_set(v, n, owner)))
        return true;
    for (size_t i = 0; i < n_grantees; i++)
        if (grantees[i][0] == '\0' || in_set(v, n, grantees[i]))
            return true;
    return false;
}

bool
dba_openapi_table_visible(const struct dba_catalog *c, const struct dba_table *t, const char *role)
{
    size_t n;
    bool super;
    const char **v = dba__openapi_role_closure(c, role, &n, &super);
    bool ok = dba__openapi_visible(v, n, super, t->owner, t->grantees, t->n_grantees);

    free(v);
    return ok;
}

bool
dba_openapi_function_visible(const struct dba_catalog *c, const struct dba_function *f,
                             const char *role)
{
    size_t n;
    bool super;
    const char **v = dba__openapi_role_closure(c, role, &n, &super);
    bool ok = dba__openapi_visible(v, n, super, f->owner, f->grantees, f->n_grantees);

    free(v);
    return ok;
}

void
dba__openapi_vis_init(struct dba__openapi_vis *v, const struct dba_catalog *c, const char *role)
{
    memset(v, 0, sizeof(*v));
    if (role != NULL)
        v->closure = dba__openapi_role_closure(c, role, &v->n, &v->super);
}

void
dba__openapi_vis_cleanup(struct dba__openapi_vis *v)
{
    free(v->closure);
}

bool
dba__openapi_rel_listed(const struct dba__openapi_vis *v, const struct dba_table *t,
                        const char *schema)
{
    if (strcmp(t->schema, schema) != 0 || t->is_partition)
        return false;
    return v->closure == NULL ||
           dba__openapi_visible(v->closure, v->n, v->super, t->owner, t->grantees, t->n_grantees);
}

bool
dba__openapi_fn_listed(const struct dba__openapi_vis *v, const struct dba_function *f,
                       const char *schema)
{
    if (strcmp(f->schema, schema) != 0 || strcmp(f->ret_type, "trigger") == 0 ||
        strcmp(f->ret_type, "event_trigger") == 0)
        return false;
    return v->closure == NULL ||
           dba__openapi_visible(v->closure, v->n, v->super, f->owner, f->grantees, f->n_grantees);
}
