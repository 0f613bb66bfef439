/* auth.c - the `auth` group: JWT keys, the role claim, the anonymous role, pre_request and the
   JWT roles that count as admin. At top level and inside a profile (a profile's keys win, key by
   key). jwt_secret_env is read here, once. The secret is never printed: errors name the key only. */
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static void
str_wipe(char *s)
{
    if (s == NULL)
        return;
    volatile char *v = s;
    while (*v != '\0')
        *v++ = '\0';
    free(s);
}

void
dba__config_auth_cleanup(struct dba_config_auth *a)
{
    str_wipe(a->jwt_secret);
    free(a->jwt_secret_env);
    free(a->jwks_file);
    free(a->jwt_aud);
    free(a->role_claim_key);
    free(a->anon_role);
    free(a->pre_request);
    dba__config_strv_cleanup(&a->admin_roles);
    memset(a, 0, sizeof(*a));
}

static char *
dup_or_null(const char *s)
{
    return s ? dba_xstrdup(s) : NULL;
}

static void
auth_copy(struct dba_config_auth *dst, const struct dba_config_auth *src)
{
    *dst = *src;
    dst->jwt_secret = dup_or_null(src->jwt_secret);
    dst->jwt_secret_env = dup_or_null(src->jwt_secret_env);
    dst->jwks_file = dup_or_null(src->jwks_file);
    dst->jwt_aud = dup_or_null(src->jwt_aud);
    dst->role_claim_key = dup_or_null(src->role_claim_key);
    dst->anon_role = dup_or_null(src->anon_role);
    dst->pre_request = dup_or_null(src->pre_request);
    memset(&dst->admin_roles, 0, sizeof(dst->admin_roles));
    dba__config_strv_set(&dst->admin_roles, (const char *const *)src->admin_roles.v,
                         src->admin_roles.n);
}

/* Empty strings count as unset. */
static void
empty_null(char **s)
{
    if (*s != NULL && (*s)[0] == '\0') {
        free(*s);
        *s = NULL;
    }
}

/* Reads group g over a (which holds the defaults or the inherited values). */
static int
auth_read(const struct dba_config *c, const config_setting_t *g, struct dba_config_auth *a,
          struct dba_err *err)
{
    char *env = NULL;

    if (!config_setting_is_group(g))
        return dba_config_err_at(err, c, g, "expected a group, like auth: { jwt_secret_env = "
                                            "\"JWT_SECRET\"; anon_role = \"web_anon\"; };");
    /* A secret given here replaces an inherited one, whatever its form. */
    if (config_setting_get_member(g, "jwt_secret") != NULL ||
        config_setting_get_member(g, "jwt_secret_env") != NULL) {
        str_wipe(a->jwt_secret);
        a->jwt_secret = NULL;
    }
    if (dba__config_keys_check_scope(c, g, DBA_CFGS_AUTH, NULL, err) != DBA_OK
        || dba__config_read_string(c, g, "jwt_secret", &a->jwt_secret, err) != DBA_OK
        || dba__config_read_string(c, g, "jwt_secret_env", &env, err) != DBA_OK
        || dba__config_read_scope(c, g, DBA_CFGS_AUTH, a, err) != DBA_OK) {
        free(env);
        return DBA_EINVAL;
    }
    if (env != NULL) {
        free(a->jwt_secret_env);
        a->jwt_secret_env = env;
        const char *v = env[0] != '\0' ? getenv(env) : NULL;
        if (a->jwt_secret == NULL && v != NULL && v[0] != '\0')
            a->jwt_secret = dba_xstrdup(v);
    }
    empty_null(&a->jwt_secret);
    empty_null(&a->jwks_file);
    empty_null(&a->jwt_aud);
    empty_null(&a->anon_role);
    empty_null(&a->pre_request);
    if (a->role_claim_key == NULL || a->role_claim_key[0] == '\0') {
        free(a->role_claim_key);
        a->role_claim_key = dba_xstrdup(".role");
    }
    a->present = true;
    a->line = (int)config_setting_source_line(g);
    return DBA_OK;
}

int
dba__config_auth_parse(struct dba_config *c, const config_setting_t *root, struct dba_err *err)
{
    const config_setting_t *g = config_setting_get_member(root, "auth");

    if (g == NULL)
        return DBA_OK;
    return auth_read(c, g, &c->auth, err);
}

int
dba__config_auth_profile(const struct dba_config *c, const config_setting_t *g,
                         struct dba_profile *p, struct dba_err *err)
{
    if (g == NULL)
        return DBA_OK;
    p->auth = dba_xcalloc(1, sizeof(*p->auth));
    auth_copy(p->auth, &c->auth);
    return auth_read(c, g, p->auth, err);
}

const struct dba_config_auth *
dba_config_auth_for(const struct dba_config *c, const struct dba_profile *p)
{
    return p != NULL && p->auth != NULL ? p->auth : &c->auth;
}
