/* describe.c - the effective configuration as JSON, each key with its value (secrets masked),
   its source and its variable, walking the key table (keys.c). Used by `db-adapter config` and
   by the SIGHUP reload to tell what changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/config_int.h"

#define MASK "****"

/* url with any password replaced by MASK: the userinfo of a URL, a password= query parameter or
   keyword. New heap string. */
static char *
mask_url(const char *url)
{
    struct dba_buf b;
    const char *p = url;

    dba_buf_init(&b);
    const char *scheme = strstr(url, "://");
    if (scheme != NULL) {
        const char *auth = scheme + 3;
        size_t alen = strcspn(auth, "/?");
        const char *at = memchr(auth, '@', alen);
        const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon != NULL) {
            dba_buf_append(&b, url, (size_t)(colon + 1 - url));
            dba_buf_puts(&b, MASK);
            p = at;
        }
    }
    while (*p != '\0') {
        const char *hit = strstr(p, "password=");
        if (hit == NULL) {
            dba_buf_puts(&b, p);
            break;
        }
        hit += strlen("password=");
        dba_buf_append(&b, p, (size_t)(hit - p));
        dba_buf_puts(&b, MASK);
        if (*hit == '\'') {
            const char *q = hit + 1;
            while (*q != '\0' && *q != '\'')
                q += (*q == '\\' && q[1] != '\0') ? 2 : 1;
            p = *q == '\'' ? q + 1 : q;
        } else {
            p = hit + strcspn(hit, "& ");
        }
    }
    return dba_buf_take(&b);
}

/* The value of k; raw (the reload's comparison, never printed): secrets and URLs unmasked. */
static json_t *
key_value(const struct dba__cfg_key *k, const char *base, bool raw)
{
    const void *p = base + k->off;

    switch (k->type) {
    case DBA_CFGT_STR: {
        const char *s = *(char *const *)p;
        if (s == NULL)
            return json_null();
        if (raw)
            return json_string(s);
        if ((k->flags & DBA_CFGF_SECRET) != 0)
            return json_string(MASK);
        if (k->scope == DBA_CFGS_PROFILE &&
            (strcmp(k->name, "url") == 0 || strcmp(k->name, "listen_url") == 0)) {
            char *m = mask_url(s);
            json_t *v = json_string(m);
            free(m);
            return v;
        }
        return json_string(s);
    }
    case DBA_CFGT_INT:
        return json_integer(*(const int *)p);
    case DBA_CFGT_INT64:
        return json_integer((json_int_t) * (const int64_t *)p);
    case DBA_CFGT_BOOL:
        return json_boolean(*(const bool *)p);
    case DBA_CFGT_STRV: {
        const struct dba_config_strv *v = p;
        json_t *a = json_array();
        bool urls = !raw && k->scope == DBA_CFGS_PROFILE && strcmp(k->name, "replicas") == 0;
        for (size_t i = 0; i < v->n; i++) {
            char *m = urls ? mask_url(v->v[i]) : NULL;
            json_array_append_new(a, json_string(m ? m : v->v[i]));
            free(m);
        }
        return a;
    }
    case DBA_CFGT_ENUM: {
        int i = *(const int *)p;
        if (strcmp(k->name, "log_level") == 0)
            i -= DBA_LOG_CRIT;
        return json_string(i >= 0 ? k->names[i] : "?");
    }
    }
    return json_null();
}

/* "file PATH:LINE", the variable or flag, or "default". */
static void
key_source(const struct dba_config *c, const char *key, const struct dba__cfg_key *k,
    const char *base, struct dba_buf *src)
{
    const struct dba_config_origin *o = dba__config_origin(c, key);

    if (o != NULL) {
        dba_buf_puts(src, o->source);
        return;
    }
    const config_setting_t *s = c->raw != NULL ? config_lookup(c->raw, key) : NULL;
    if (s != NULL && config_setting_source_line(s) > 0) {
        dba_buf_printf(src, "%s:%u", c->path != NULL ? c->path : "(config)",
                       config_setting_source_line(s));
        return;
    }
    /* Values the module reads from a variable the file names. */
    if (k->scope == DBA_CFGS_PROFILE && strcmp(k->name, "db_password") == 0) {
        const struct dba_profile *p = (const void *)base;
        if (p->password != NULL && p->password_env != NULL) {
            dba_buf_puts(src, p->password_env);
            return;
        }
    }
    if (k->scope == DBA_CFGS_AUTH && strcmp(k->name, "jwt_secret") == 0) {
        const struct dba_config_auth *a = (const void *)base;
        if (a->jwt_secret != NULL && a->jwt_secret_env != NULL) {
            dba_buf_puts(src, a->jwt_secret_env);
            return;
        }
    }
    dba_buf_puts(src, "default");
}

static void
add_key(const struct dba_config *c, json_t *keys, const struct dba__cfg_key *k, const char *base,
    const char *key, const char *profile, bool profile_auth, const char *force_source, bool raw)
{
    struct dba_buf src, var;

    dba_buf_init(&src);
    dba_buf_init(&var);
    if (force_source != NULL)
        dba_buf_puts(&src, force_source);
    else
        key_source(c, key, k, base, &src);
    dba__cfg_env_name(&var, k, profile, profile_auth);
    json_array_append_new(keys, json_pack("{s:s,s:o,s:s,s:s,s:b}", "key", key, "value",
                                          key_value(k, base, raw), "source", src.data, "variable",
                                          var.data, "reload",
                                          (k->flags & DBA_CFGF_RUNTIME) != 0));
    dba_buf_cleanup(&src);
    dba_buf_cleanup(&var);
}

static void
add_scope(const struct dba_config *c, json_t *keys, enum dba__cfg_scope scope, const char *base,
    const char *prefix, const char *profile, bool profile_auth, const char *force_source, bool raw)
{
    struct dba_buf key;

    dba_buf_init(&key);
    for (size_t i = 0; i < dba__cfg_n_keys; i++) {
        const struct dba__cfg_key *k = &dba__cfg_keys[i];
        if (k->scope != scope)
            continue;
        dba_buf_reset(&key);
        dba_buf_printf(&key, "%s%s", prefix, k->name);
        add_key(c, keys, k, base, key.data, profile, profile_auth,
                force_source != NULL && strcmp(k->name, "url") == 0 ? force_source : NULL, raw);
    }
    dba_buf_cleanup(&key);
}

static json_t *
describe(const struct dba_config *c, bool raw)
{
    json_t *keys = json_array();
    const char *base = (const char *)c;
    struct dba_buf pre;

    dba_buf_init(&pre);
    for (int s = DBA_CFGS_TOP; s <= DBA_CFGS_SYNC; s++) {
        if (s == DBA_CFGS_PROFILE)
            continue;
        dba_buf_reset(&pre);
        if (s != DBA_CFGS_TOP)
            dba_buf_printf(&pre, "%s.", dba__cfg_scope_group((enum dba__cfg_scope)s));
        add_scope(c, keys, (enum dba__cfg_scope)s,
                  s == DBA_CFGS_AUTH ? (const char *)&c->auth : base, pre.data != NULL ? pre.data : "",
                  NULL, false, NULL, raw);
    }
    for (size_t i = 0; i < c->n_profiles; i++) {
        const struct dba_profile *p = &c->profiles[i];
        dba_buf_reset(&pre);
        dba_buf_printf(&pre, "profiles.%s.", p->name);
        add_scope(c, keys, DBA_CFGS_PROFILE, (const char *)p, pre.data, p->name, false,
                  p->implicit ? c->implicit_var : NULL, raw);
        if (p->auth != NULL) {
            dba_buf_printf(&pre, "auth.");
            add_scope(c, keys, DBA_CFGS_AUTH, (const char *)p->auth, pre.data, p->name, true,
                      NULL, raw);
        }
    }
    dba_buf_cleanup(&pre);
    return json_pack("{s:s?,s:o}", "file", c->path, "keys", keys);
}

json_t *
dba_config_describe(const struct dba_config *c)
{
    return describe(c, false);
}


/* key -> entry of describe(c, raw). */
static json_t *
keys_by_name(json_t *d)
{
    json_t *byk = json_object();
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(d, "keys"), i, e)
        json_object_set(byk, json_string_value(json_object_get(e, "key")), e);
    return byk;
}

int
dba_config_reload_report(const struct dba_config *started, const struct dba_config *applied,
                         const struct dba_config *new_cfg)
{
    json_t *ds = describe(started, true), *da = describe(applied, true);
    json_t *dn = describe(new_cfg, true);
    json_t *ks = keys_by_name(ds), *ka = keys_by_name(da), *kn = keys_by_name(dn);
    const char *key;
    json_t *e;
    int changed = 0;

    json_object_foreach(kn, key, e)
    {
        bool runtime = json_is_true(json_object_get(e, "reload"));
        json_t *prev = json_object_get(runtime ? ka : ks, key);
        if (prev != NULL && json_equal(json_object_get(prev, "value"), json_object_get(e, "value")))
            continue;
        changed++;
        if (runtime)
            dba_log(DBA_LOG_INFO, "reload: %s changed (applied)", key);
        else
            dba_log(DBA_LOG_WARN, "reload: %s changed; needs a restart to apply", key);
    }
    json_object_foreach(ks, key, e)
    {
        if (json_object_get(kn, key) == NULL) {
            changed++;
            dba_log(DBA_LOG_WARN, "reload: %s removed; needs a restart to apply", key);
        }
    }
    if (new_cfg->server.log_level != applied->server.log_level)
        dba_log_set_level(new_cfg->server.log_level);
    json_decref(ks);
    json_decref(ka);
    json_decref(kn);
    json_decref(ds);
    json_decref(da);
    json_decref(dn);
    return changed;
}
