/* env.c - configuration from the environment and from `--set key=value` flags.

   Every key of the table in keys.c can be set by DBA_<GROUP>_<KEY> (DBA_SERVER_PORT), a profile's
   keys by DBA_PROFILE_<NAME>_<KEY> (DBA_PROFILE_PROD_READ_ONLY; its auth keys by
   DBA_PROFILE_<NAME>_AUTH_<KEY>), and PostgREST's PGRST_* variables map onto the same keys.
   The values are written into the parsed libconfig tree before it is read, so one reader checks
   every source alike; each written setting carries a hook naming its variable, and
   dba_config_err_at puts that name in errors instead of a file line. Precedence, applied from the
   lowest: file, PGRST_*, DBA_*, --set. Lists are comma-separated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_int.h"

extern char **environ;

/* PostgREST's variables and the keys they set (PGRST_DB_* profile keys go to profile "default"). */
struct pgrst_map {
    const char *var;   /* PGRST_... */
    const char *key;   /* dotted key */
    enum dba__cfg_type type;
};

static const struct pgrst_map pgrst_vars[] = {
    { "PGRST_DB_URI", "profiles.default.url", DBA_CFGT_STR },
    { "PGRST_DB_SCHEMAS", "profiles.default.schemas", DBA_CFGT_STRV },
    { "PGRST_DB_POOL", "profiles.default.pool_size", DBA_CFGT_INT },
    { "PGRST_DB_ANON_ROLE", "auth.anon_role", DBA_CFGT_STR },
    { "PGRST_DB_MAX_ROWS", "server.max_rows", DBA_CFGT_INT64 },
    { "PGRST_DB_TX_END", "server.tx_end", DBA_CFGT_ENUM },
    { "PGRST_DB_PRE_REQUEST", "auth.pre_request", DBA_CFGT_STR },
    { "PGRST_DB_AGGREGATES_ENABLED", "server.aggregates_enabled", DBA_CFGT_BOOL },
    { "PGRST_JWT_SECRET", "auth.jwt_secret", DBA_CFGT_STR },
    { "PGRST_JWT_SECRET_IS_BASE64", "auth.jwt_secret_is_base64", DBA_CFGT_BOOL },
    { "PGRST_JWT_AUD", "auth.jwt_aud", DBA_CFGT_STR },
    { "PGRST_JWT_ROLE_CLAIM_KEY", "auth.role_claim_key", DBA_CFGT_STR },
    { "PGRST_SERVER_HOST", "server.listen", DBA_CFGT_STR },
    { "PGRST_SERVER_PORT", "server.port", DBA_CFGT_INT },
    { "PGRST_SERVER_CORS_ALLOWED_ORIGINS", "server.cors_allowed_origins", DBA_CFGT_STRV },
    { "PGRST_OPENAPI_MODE", "server.openapi_mode", DBA_CFGT_STR },
    { "PGRST_OPENAPI_SERVER_PROXY_URI", "server.openapi_public_url", DBA_CFGT_STR },
    { "PGRST_ADMIN_SERVER_PORT", "admin.port", DBA_CFGT_INT },
    { "PGRST_LOG_LEVEL", "server.log_level", DBA_CFGT_ENUM },
    { "PGRST_DB_PLAN_ENABLED", "server.plan_enabled", DBA_CFGT_BOOL },
    { "PGRST_SERVER_TIMING_ENABLED", "server.server_timing", DBA_CFGT_BOOL },
    { "PGRST_SERVER_TRACE_HEADER", "server.trace_header", DBA_CFGT_STR },
};

static void
origin_set(struct dba_config *c, const char *key, const char *source, config_setting_t *s)
{
    struct dba_config_origin *o = NULL;

    for (size_t i = 0; i < c->n_origins; i++)
        if (strcmp(c->origins[i].key, key) == 0)
            o = &c->origins[i];
    if (o == NULL) {
        c->origins = dba_xrealloc(c->origins, (c->n_origins + 1) * sizeof(*c->origins));
        o = &c->origins[c->n_origins++];
        o->key = dba_xstrdup(key);
    } else {
        free(o->source);
    }
    o->source = dba_xstrdup(source);
    /* The hook lives as long as the origin (origins are freed with the tree, never before). */
    config_setting_set_hook(s, o->source);
    for (int i = 0; config_setting_is_aggregate(s) && i < config_setting_length(s); i++)
        config_setting_set_hook(config_setting_get_elem(s, (unsigned)i), o->source);
}

const struct dba_config_origin *
dba__config_origin(const struct dba_config *c, const char *key)
{
    for (size_t i = 0; i < c->n_origins; i++)
        if (strcmp(c->origins[i].key, key) == 0)
            return &c->origins[i];
    return NULL;
}

static int
env_err(struct dba_err *err, const char *var, const char *what, const char *value)
{
    return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID, "%s: %s, got '%s'", var, what,
                       value);
}

static bool
parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = { "true", "1", "yes", "on" };
    static const char *const no[] = { "false", "0", "no", "off" };

    for (size_t i = 0; i < DBA_ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, true;
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

/* The group at dotted path `group` ("server", "profiles.prod", "profiles.prod.auth"), created
   when missing; NULL when a non-group is in the way. */
static config_setting_t *
group_get(config_setting_t *root, const char *group)
{
    char part[256];
    config_setting_t *g = root;

    while (*group != '\0') {
        const char *dot = strchr(group, '.');
        size_t len = dot ? (size_t)(dot - group) : strlen(group);
        if (len >= sizeof(part))
            return NULL;
        memcpy(part, group, len);
        part[len] = '\0';
        config_setting_t *m = config_setting_get_member(g, part);
        if (m == NULL)
            m = config_setting_add(g, part, CONFIG_TYPE_GROUP);
        if (m == NULL || !config_setting_is_group(m))
            return NULL;
        g = m;
        group = dot ? dot + 1 : group + len;
    }
    return g;
}

/* Writes value (text from var) as key (dotted) of the given type into the tree. */
static int
put(struct dba_config *c, const char *key, enum dba__cfg_type type, const char *var,
    const char *value, struct dba_err *err)
{
    const char *dot = strrchr(key, '.');
    char group[256];
    config_setting_t *g, *s;
    int64_t n = 0;
    bool b = false;

    if (dot == NULL || (size_t)(dot - key) >= sizeof(group)) {
        g = config_root_setting(c->raw);
        dot = key - 1;
    } else {
        memcpy(group, key, (size_t)(dot - key));
        group[dot - key] = '\0';
        g = group_get(config_root_setting(c->raw), group);
    }
    if (g == NULL)
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                           "%s: the file's %.*s is not a group", var, (int)(dot - key), key);
    const char *name = dot + 1;
    if (type == DBA_CFGT_INT || type == DBA_CFGT_INT64) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (value[0] == '\0' || *end != '\0' || errno != 0)
            return env_err(err, var, "expected an integer", value);
        n = v;
    } else if (type == DBA_CFGT_BOOL && !parse_bool(value, &b)) {
        return env_err(err, var, "expected true or false", value);
    }
    if (config_setting_get_member(g, name) != NULL)
        config_setting_remove(g, name);
    switch (type) {
    case DBA_CFGT_INT:
    case DBA_CFGT_INT64:
        s = config_setting_add(g, name, CONFIG_TYPE_INT64);
        config_setting_set_int64(s, n);
        break;
    case DBA_CFGT_BOOL:
        s = config_setting_add(g, name, CONFIG_TYPE_BOOL);
        config_setting_set_bool(s, b);
        break;
    case DBA_CFGT_STRV: {
        s = config_setting_add(g, name, CONFIG_TYPE_ARRAY);
        const char *p = value;
        while (*p != '\0') {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char item[1024];
            char *raw = dba_xstrndup(p, len);
            size_t tl = dba__config_trim(item, sizeof(item), raw);
            free(raw);
            if (tl > 0)
                config_setting_set_string_elem(s, -1, item);
            p += len;
            if (*p == ',')
                p++;
        }
        break;
    }
    case DBA_CFGT_STR:
    case DBA_CFGT_ENUM:
    default:
        s = config_setting_add(g, name, CONFIG_TYPE_STRING);
        config_setting_set_string(s, value);
        break;
    }
    if (s == NULL)
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                           "%s: cannot set %s", var, key);
    origin_set(c, key, var, s);
    return DBA_OK;
}

static const struct dba__cfg_key *
key_find(enum dba__cfg_scope scope, const char *name)
{
    for (size_t i = 0; i < dba__cfg_n_keys; i++)
        if (dba__cfg_keys[i].scope == scope && strcmp(dba__cfg_keys[i].name, name) == 0)
            return &dba__cfg_keys[i];
    return NULL;
}

/* A dotted key of the table ("server.port", "profiles.x.auth.jwt_aud", "default_profile"); NULL
   when unknown. */
static const struct dba__cfg_key *
key_lookup(const char *key)
{
    const char *dot = strchr(key, '.');

    if (dot == NULL)
        return key_find(DBA_CFGS_TOP, key);
    if (strncmp(key, "profiles.", 9) == 0) {
        const char *rest = strchr(key + 9, '.');
        if (rest == NULL)
            return NULL;
        rest++;
        if (strncmp(rest, "auth.", 5) == 0)
            return key_find(DBA_CFGS_AUTH, rest + 5);
        return key_find(DBA_CFGS_PROFILE, rest);
    }
    for (int s = DBA_CFGS_SERVER; s <= DBA_CFGS_SYNC; s++) {
        const char *g = dba__cfg_scope_group((enum dba__cfg_scope)s);
        size_t gl = strlen(g);
        if (s != DBA_CFGS_PROFILE && (size_t)(dot - key) == gl && strncmp(key, g, gl) == 0)
            return key_find((enum dba__cfg_scope)s, dot + 1);
    }
    return NULL;
}

/* Whether the server group accepts key name (openapi_* keys come with the OpenAPI work). */
static bool
server_key_known(const char *key)
{
    return key_lookup(key) != NULL;
}

static bool
any_pgrst(void)
{
    for (char **e = environ; e != NULL && *e != NULL; e++)
        if (strncmp(*e, "PGRST_", 6) == 0)
            return true;
    return false;
}

/* PostgREST's server-host special values: "*", "*4", "!4" any IPv4; "*6", "!6" any IPv6. */
static const char *
pgrst_host(const char *v)
{
    if (strcmp(v, "*") == 0 || strcmp(v, "*4") == 0 || strcmp(v, "!4") == 0)
        return "0.0.0.0";
    if (strcmp(v, "*6") == 0 || strcmp(v, "!6") == 0)
        return "::";
    return v;
}

static int
overlay_pgrst(struct dba_config *c, struct dba_err *err)
{
    for (size_t i = 0; i < DBA_ARRAY_LEN(pgrst_vars); i++) {
        const struct pgrst_map *m = &pgrst_vars[i];
        const char *v = getenv(m->var);
        if (v == NULL || v[0] == '\0')
            continue;
        if (!server_key_known(m->key)) {
            dba_log(DBA_LOG_WARN, "%s: %s is not supported by this build; ignored", m->var,
                    m->key);
            continue;
        }
        if (strcmp(m->var, "PGRST_SERVER_HOST") == 0)
            v = pgrst_host(v);
        if (put(c, m->key, m->type, m->var, v, err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}

/* DBA_<GROUP>_<KEY> for every key outside profiles. */
static int
overlay_dba(struct dba_config *c, struct dba_err *err)
{
    struct dba_buf var, key;
    int rc = DBA_OK;

    dba_buf_init(&var);
    dba_buf_init(&key);
    for (size_t i = 0; i < dba__cfg_n_keys && rc == DBA_OK; i++) {
        const struct dba__cfg_key *k = &dba__cfg_keys[i];
        if (k->scope == DBA_CFGS_PROFILE)
            continue;
        dba_buf_reset(&var);
        dba__cfg_env_name(&var, k, NULL, false);
        const char *v = getenv(var.data);
        if (v == NULL)
            continue;
        dba_buf_reset(&key);
        if (k->scope != DBA_CFGS_TOP)
            dba_buf_printf(&key, "%s.", dba__cfg_scope_group(k->scope));
        dba_buf_puts(&key, k->name);
        rc = put(c, key.data, k->type, var.data, v, err);
    }
    dba_buf_cleanup(&var);
    dba_buf_cleanup(&key);
    return rc;
}

/* The profile group whose name matches upper-case NAME case-insensitively, else NAME lowered. */
static void
profile_name(const struct dba_config *c, const char *upper, size_t len, char *out, size_t n)
{
    const config_setting_t *ps = config_setting_get_member(config_root_setting(c->raw),
                                                           "profiles");
    for (int i = 0; ps != NULL && config_setting_is_group(ps) && i < config_setting_length(ps);
         i++) {
        const char *name = config_setting_name(config_setting_get_elem(ps, (unsigned)i));
        if (strlen(name) == len && strncasecmp(name, upper, len) == 0 && len < n) {
            strcpy(out, name);
            return;
        }
    }
    for (size_t i = 0; i < len && i + 1 < n; i++)
        out[i] = (char)(upper[i] >= 'A' && upper[i] <= 'Z' ? upper[i] - 'A' + 'a' : upper[i]);
    out[len < n ? len : n - 1] = '\0';
}

/* Matches the tail of a DBA_PROFILE_ variable against the profile and auth keys: the longest
   key suffix wins, the rest is the profile name. */
static const struct dba__cfg_key *
profile_key_match(const char *rest, size_t *name_len, bool *is_auth)
{
    const struct dba__cfg_key *best = NULL;
    size_t best_len = 0, rl = strlen(rest);
    struct dba_buf b;

    dba_buf_init(&b);
    for (size_t i = 0; i < dba__cfg_n_keys; i++) {
        const struct dba__cfg_key *k = &dba__cfg_keys[i];
        if (k->scope != DBA_CFGS_PROFILE && k->scope != DBA_CFGS_AUTH)
            continue;
        dba_buf_reset(&b);
        dba_buf_putc(&b, '_');
        if (k->scope == DBA_CFGS_AUTH)
            dba_buf_puts(&b, "AUTH_");
        for (const char *p = k->name; *p != '\0'; p++)
            dba_buf_putc(&b, (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p));
        if (b.len < rl && strcmp(rest + rl - b.len, b.data) == 0 && b.len > best_len) {
            best = k;
            best_len = b.len;
        }
    }
    dba_buf_cleanup(&b);
    *name_len = rl - best_len;
    *is_auth = best != NULL && best->scope == DBA_CFGS_AUTH;
    return best;
}

static int
overlay_profiles(struct dba_config *c, struct dba_err *err)
{
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, "DBA_PROFILE_", 12) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        char var[256], name[128];
        size_t vl = (size_t)(eq - *e), nl;
        bool is_auth;
        if (vl >= sizeof(var))
            continue;
        memcpy(var, *e, vl);
        var[vl] = '\0';
        const struct dba__cfg_key *k = profile_key_match(var + 12, &nl, &is_auth);
        if (k == NULL || nl == 0)
            return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                "%s: not a profile key; use DBA_PROFILE_<NAME>_<KEY>, like DBA_PROFILE_PROD_URL",
                var);
        profile_name(c, var + 12, nl, name, sizeof(name));
        struct dba_buf key;
        dba_buf_init(&key);
        dba_buf_printf(&key, "profiles.%s.%s%s", name, is_auth ? "auth." : "", k->name);
        int rc = put(c, key.data, k->type, var, eq + 1, err);
        dba_buf_cleanup(&key);
        if (rc != DBA_OK)
            return rc;
    }
    return DBA_OK;
}

/* `--set key=value`. */
static int
overlay_sets(struct dba_config *c, const char *const *sets, size_t n, struct dba_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(sets[i], '=');
        char key[256];
        size_t kl = eq ? (size_t)(eq - sets[i]) : 0;
        if (eq == NULL || kl == 0 || kl >= sizeof(key))
            return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                               "--set %s: expected key=value, like server.port=8080", sets[i]);
        memcpy(key, sets[i], kl);
        key[kl] = '\0';
        const struct dba__cfg_key *k = key_lookup(key);
        if (k == NULL)
            return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                               "--set %s: unknown key", key);
        if (put(c, key, k->type, "--set", eq + 1, err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}

/* A profile made by variables without a url takes ${PREFIX}DATABASE_URL / DATABASE_URL. */
static int
overlay_urls(struct dba_config *c, const char *prefix, struct dba_err *err)
{
    config_setting_t *ps = config_setting_get_member(config_root_setting(c->raw), "profiles");

    for (int i = 0; ps != NULL && config_setting_is_group(ps) && i < config_setting_length(ps);
         i++) {
        config_setting_t *p = config_setting_get_elem(ps, (unsigned)i);
        if (!config_setting_is_group(p) || config_setting_get_member(p, "url") != NULL
            || config_setting_source_line(p) != 0)
            continue;
        char var[160];
        snprintf(var, sizeof(var), "%sDATABASE_URL", prefix);
        const char *url = getenv(var);
        if (url == NULL || url[0] == '\0') {
            snprintf(var, sizeof(var), "DATABASE_URL");
            url = getenv(var);
        }
        if (url == NULL || url[0] == '\0')
            continue; /* the profile reader says the url is missing */
        char key[256];
        snprintf(key, sizeof(key), "profiles.%s.url", config_setting_name(p));
        if (put(c, key, DBA_CFGT_STR, var, url, err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}

int
dba__config_overlay(struct dba_config *c, const char *prefix_override, const char *const *sets,
    size_t n_sets, struct dba_err *err)
{
    const char *prefix = prefix_override;
    bool pgrst = any_pgrst();

    if (c->raw == NULL) {
        c->raw = dba_xmalloc(sizeof(*c->raw));
        config_init(c->raw);
    }
    if (pgrst && overlay_pgrst(c, err) != DBA_OK)
        return DBA_EINVAL;
    if (overlay_dba(c, err) != DBA_OK || overlay_profiles(c, err) != DBA_OK
        || overlay_sets(c, sets, n_sets, err) != DBA_OK)
        return DBA_EINVAL;
    if (prefix == NULL) {
        const char *p = NULL;
        prefix = config_lookup_string(c->raw, "env_prefix", &p) == CONFIG_TRUE ? p : "";
    }
    if (overlay_urls(c, prefix, err) != DBA_OK)
        return DBA_EINVAL;
    if (pgrst) {
        /* PostgREST serves its API at the root. */
        const config_setting_t *bp = config_lookup(c->raw, "server.base_path");
        c->pgrst = true;
        if (bp == NULL && put(c, "server.base_path", DBA_CFGT_STR, "PGRST_*", "", err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}
