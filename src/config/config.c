/* config.c - loading db-adapter.conf (libconfig) into struct dba_config. */

/*
 * Design notes.
 * - The file is parsed once at start; every profile is checked then, so a typo in a profile that
 *   is not used today still fails the start. Connections are opened lazily by db/.
 * - Known groups (server, profiles, schema, admin) reject unknown keys, naming key and line.
 *   Unknown top-level groups are accepted so other modules (backup, sync) can own their group;
 *   they read it through dba_config_group_get. Unknown top-level scalars are rejected, because a
 *   misspelt `default_profile` would otherwise be ignored silently.
 * - Environment is read with getenv, here and in dba_config_active_profile only.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_int.h"

static const char *const cfg_top_keys[] = {
    "server", "default_profile", "env_prefix", "profiles", "schema", "admin", "auth", NULL,
};
/* Returns a group member, failing when it exists but is not a group. */
static int
cfg_group(const struct dba_config *c, const config_setting_t *root, const char *key,
    const config_setting_t **out, struct dba_err *err)
{
    const config_setting_t *s = config_setting_get_member(root, key);

    *out = NULL;
    if (s == NULL)
        return DBA_OK;
    if (!config_setting_is_group(s))
        return dba_config_err_at(err, c, s, "expected a group, like %s: { ... };", key);
    *out = s;
    return DBA_OK;
}

static void
cfg_defaults(struct dba_config *c)
{
    static const char *const star[] = { "*" };
    static const char *const extensions[] = { "pgcrypto", "uuid-ossp", "citext", "pg_trgm",
                                               "btree_gist" };

    c->server.listen = dba_xstrdup("0.0.0.0");
    c->server.port = 8080;
    c->server.workers = 0;
    c->server.max_body_bytes = 10485760;
    c->server.max_rows = 0;
    dba__config_strv_set(&c->server.cors_allowed_origins, star, 1);
    c->server.allow_unfiltered_writes = false;
    c->server.max_transaction_operations = 100;
    c->server.request_timeout_ms = 30000;
    c->server.queue_limit = 1024;
    c->server.task_threads = 2;
    c->server.task_queue_limit = 16;
    c->server.shutdown_timeout_ms = 10000;
    c->server.base_path = dba_xstrdup("/tables");
    c->server.log_level = DBA_LOG_INFO;
    c->server.access_log = DBA_ACCESS_LOG_COMMON;
    c->env_prefix = dba_xstrdup("");
    c->schema_file = dba_xstrdup("schema.sql");
    c->validate_on_connect = false;
    dba__config_strv_set(&c->allowed_extensions, extensions, DBA_ARRAY_LEN(extensions));
    c->admin_token_env = dba_xstrdup("DB_ADAPTER_ADMIN_TOKEN");
    c->admin.listen = dba_xstrdup("127.0.0.1");
    c->admin.port = -1;
}

static int
cfg_check_base_path(const struct dba_config *c, const config_setting_t *g, struct dba_err *err)
{
    const char *p = c->server.base_path;
    size_t len = strlen(p);

    if (len == 0)
        return DBA_OK;
    if (p[0] != '/' || p[len - 1] == '/' || strpbrk(p, "?# ") != NULL)
        return dba_config_err_at(err, c, config_setting_get_member(g, "base_path"),
            "must be empty or start with '/' and not end with '/', like \"/tables\"");
    return DBA_OK;
}

/* server.openapi_public_url: scheme://host[:port][/path]. */
static int
cfg_check_openapi_url(struct dba_config *c, const config_setting_t *g, struct dba_err *err)
{
    const char *u = c->server.openapi_public_url;

    if (u != NULL && ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
                      strpbrk(u, "?# \"\\") != NULL || strchr(u, ':')[3] == '\0' ||
                      strchr(u, ':')[3] == '/'))
        return dba_config_err_at(err, c, config_setting_get_member(g, "openapi_public_url"),
            "must be an http or https URL with a host, like \"https://api.example.com/tables\"");
    return DBA_OK;
}

static int
cfg_parse_server(struct dba_config *c, const config_setting_t *g, struct dba_err *err)
{
    struct dba_config_server *s = &c->server;

    if (g == NULL)
        return DBA_OK;
    if (dba__config_keys_check_scope(c, g, DBA_CFGS_SERVER, NULL, err) != DBA_OK
        || dba__config_read_scope(c, g, DBA_CFGS_SERVER, c, err) != DBA_OK
        || cfg_check_openapi_url(c, g, err) != DBA_OK)
        return DBA_EINVAL;
    if (s->listen[0] == '\0')
        return dba_config_err_at(err, c, config_setting_get_member(g, "listen"),
            "must not be empty");
    return cfg_check_base_path(c, g, err);
}

static int
cfg_parse_schema(struct dba_config *c, const config_setting_t *g, struct dba_err *err)
{
    if (g == NULL)
        return DBA_OK;
    if (dba__config_keys_check_scope(c, g, DBA_CFGS_SCHEMA, NULL, err) != DBA_OK
        || dba__config_read_scope(c, g, DBA_CFGS_SCHEMA, c, err) != DBA_OK)
        return DBA_EINVAL;
    return DBA_OK;
}

/* admin.public_metrics, admin.listen, admin.port: the admin listener (a second port for the
   operator routes) and the one exception to "operator routes need an admin credential". */
static int
cfg_parse_admin_listener(struct dba_config *c, const config_setting_t *g, struct dba_err *err)
{
    const struct dba_config_admin *a = &c->admin;

    if (a->listen[0] == '\0')
        return dba_config_err_at(err, c, config_setting_get_member(g, "listen"),
            "must not be empty");
    bool overlap = strcmp(a->listen, c->server.listen) == 0 || strcmp(a->listen, "0.0.0.0") == 0
                   || strcmp(c->server.listen, "0.0.0.0") == 0;
    if (a->port > 0 && a->port == c->server.port && overlap)
        return dba_config_err_at(err, c, config_setting_get_member(g, "port"),
            "must differ from server.port (%d): the admin listener is a second port",
            c->server.port);
    return DBA_OK;
}

static int
cfg_parse_admin(struct dba_config *c, const config_setting_t *g, struct dba_err *err)
{
    if (g == NULL)
        return DBA_OK;
    if (dba__config_keys_check_scope(c, g, DBA_CFGS_ADMIN, NULL, err) != DBA_OK
        || dba__config_read_scope(c, g, DBA_CFGS_ADMIN, c, err) != DBA_OK
        || cfg_parse_admin_listener(c, g, err) != DBA_OK)
        return DBA_EINVAL;
    return DBA_OK;
}

/* Rejects unknown top-level scalars; unknown groups and lists belong to other modules. */
static int
cfg_check_top(const struct dba_config *c, const config_setting_t *root, struct dba_err *err)
{
    int n = config_setting_length(root);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);

        if (dba__config_key_allowed(config_setting_name(m), cfg_top_keys)
            || config_setting_is_aggregate(m))
            continue;
        dba_config_err_at(err, c, m, "unknown key");
        dba__config_keys_hint(err, cfg_top_keys);
        return DBA_EINVAL;
    }
    return DBA_OK;
}

static bool
cfg_prefix_valid(const char *p)
{
    for (; *p != '\0'; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                || *p == '_'))
            return false;
    return true;
}

static int
cfg_parse_prefix(struct dba_config *c, const config_setting_t *root, const char *override,
    struct dba_err *err)
{
    if (override != NULL) {
        free(c->env_prefix);
        c->env_prefix = dba_xstrdup(override);
        if (!cfg_prefix_valid(override))
            return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                "--env-prefix: '%s' may only hold letters, digits and '_'", override);
    } else if (root != NULL) {
        if (dba__config_read_string(c, root, "env_prefix", &c->env_prefix, err) != DBA_OK)
            return DBA_EINVAL;
        if (!cfg_prefix_valid(c->env_prefix))
            return dba_config_err_at(err, c, config_setting_get_member(root, "env_prefix"),
                "may only hold letters, digits and '_'");
    }
    c->profile_env_var = dba_xmalloc(strlen(c->env_prefix) + sizeof("DB_PROFILE"));
    strcpy(c->profile_env_var, c->env_prefix);
    strcat(c->profile_env_var, "DB_PROFILE");
    return DBA_OK;
}

/* Adds the implicit profile from ${PREFIX}DATABASE_URL, else DATABASE_URL, when either is set. */
static int
cfg_implicit(struct dba_config *c, struct dba_err *err)
{
    struct dba_buf var;
    const char *url;
    int rc = DBA_OK;

    dba_buf_init(&var);
    dba_buf_printf(&var, "%sDATABASE_URL", c->env_prefix);
    url = getenv(var.data);
    if (url == NULL || url[0] == '\0') {
        dba_buf_reset(&var);
        dba_buf_puts(&var, "DATABASE_URL");
        url = getenv(var.data);
    }
    if (url != NULL && url[0] != '\0') {
        rc = dba__config_profile_add_implicit(c, var.data, url, err);
        if (rc == DBA_OK && c->default_profile == NULL)
            c->default_profile = dba_xstrdup("default");
    }
    dba_buf_cleanup(&var);
    return rc;
}

static void
cfg_admin_token(struct dba_config *c)
{
    const char *t = c->admin_token_env[0] != '\0' ? getenv(c->admin_token_env) : NULL;

    if (t != NULL && t[0] != '\0')
        c->admin_token = dba_xstrdup(t);
}

static int
cfg_check_default(const struct dba_config *c, const config_setting_t *root, struct dba_err *err)
{
    const config_setting_t *s;

    if (c->default_profile == NULL || dba_config_profile_get(c, c->default_profile) != NULL)
        return DBA_OK;
    s = config_setting_get_member(root, "default_profile");
    dba_config_err_at(err, c, s, "no profile named '%s'", c->default_profile);
    if (c->n_profiles > 0) {
        struct dba_buf b;
        dba_buf_init(&b);
        for (size_t i = 0; i < c->n_profiles; i++)
            dba_buf_printf(&b, "%s%s", i > 0 ? ", " : "", c->profiles[i].name);
        dba_err_hint(err, "available profiles: %s", b.data);
        dba_buf_cleanup(&b);
    }
    return DBA_EINVAL;
}

/* Parses the tree in c->raw into c. */
static int
cfg_parse(struct dba_config *c, const char *prefix_override, struct dba_err *err)
{
    const config_setting_t *root = config_root_setting(c->raw);
    const config_setting_t *server, *profiles, *schema, *admin;

    if (cfg_check_top(c, root, err) != DBA_OK
        || cfg_group(c, root, "server", &server, err) != DBA_OK
        || cfg_group(c, root, "profiles", &profiles, err) != DBA_OK
        || cfg_group(c, root, "schema", &schema, err) != DBA_OK
        || cfg_group(c, root, "admin", &admin, err) != DBA_OK
        || cfg_parse_prefix(c, root, prefix_override, err) != DBA_OK
        || cfg_parse_server(c, server, err) != DBA_OK
        || cfg_parse_schema(c, schema, err) != DBA_OK
        || cfg_parse_admin(c, admin, err) != DBA_OK
        || dba__config_read_string(c, root, "default_profile", &c->default_profile, err) != DBA_OK
        || dba__config_auth_parse(c, root, err) != DBA_OK
        || dba__config_profiles_parse(c, profiles, err) != DBA_OK
        || dba__config_backup_parse(c, root, err) != DBA_OK)
        return DBA_EINVAL;
    if (c->default_profile != NULL && c->default_profile[0] == '\0') {
        free(c->default_profile);
        c->default_profile = NULL;
    }
    if (c->n_profiles == 0 && cfg_implicit(c, err) != DBA_OK)
        return DBA_EINVAL;
    return cfg_check_default(c, root, err);
}

/* Reads the file; DBA_ENOTFOUND when it is missing (the caller decides), else OK or EINVAL. */
static int
cfg_load_file(struct dba_config *c, const char *path, struct dba_err *err)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return DBA_ENOTFOUND;
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
            "%s: cannot read config file: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
            "%s: is a directory, not a config file", path);
    c->raw = dba_xmalloc(sizeof(*c->raw));
    config_init(c->raw);
    errno = 0;
    if (config_read_file(c->raw, path) == CONFIG_TRUE) {
        c->path = dba_xstrdup(path);
        return DBA_OK;
    }
    if (config_error_type(c->raw) == CONFIG_ERR_FILE_IO)
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
            "%s: cannot read config file: %s", path,
            errno != 0 ? strerror(errno) : config_error_text(c->raw));
    return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID, "%s:%d: %s", path,
        config_error_line(c->raw), config_error_text(c->raw));
}

int
dba_config_load(const char *path, bool path_explicit, const char *env_prefix_override,
    struct dba_config **out, struct dba_err *err)
{
    return dba_config_load_ex(path, path_explicit, env_prefix_override, NULL, 0, out, err);
}

int
dba_config_load_ex(const char *path, bool path_explicit, const char *env_prefix_override,
    const char *const *sets, size_t n_sets, struct dba_config **out, struct dba_err *err)
{
    struct dba_config *c = dba_xcalloc(1, sizeof(*c));
    int rc;

    cfg_defaults(c);
    if (path == NULL)
        path = DBA_CONFIG_DEFAULT_PATH;
    rc = cfg_load_file(c, path, err);
    if (rc == DBA_ENOTFOUND && path_explicit)
        rc = dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
            "%s: config file not found", path);
    if (rc == DBA_ENOTFOUND)
        rc = DBA_OK; /* no file: an empty tree, then the environment and the flags */
    if (rc == DBA_OK)
        rc = dba__config_overlay(c, env_prefix_override, sets, n_sets, err);
    if (rc == DBA_OK)
        rc = cfg_parse(c, env_prefix_override, err);
    if (rc != DBA_OK) {
        dba_config_free(c);
        return rc;
    }
    cfg_admin_token(c);
    *out = c;
    return DBA_OK;
}

void
dba_config_free(struct dba_config *c)
{
    if (c == NULL)
        return;
    free(c->path);
    free(c->server.listen);
    dba__config_strv_cleanup(&c->server.cors_allowed_origins);
    free(c->server.base_path);
    free(c->server.openapi_public_url);
    free(c->server.trace_header);
    for (size_t i = 0; i < c->n_profiles; i++)
        dba__config_profile_cleanup(&c->profiles[i]);
    free(c->profiles);
    free(c->default_profile);
    free(c->env_prefix);
    free(c->profile_env_var);
    free(c->implicit_var);
    free(c->schema_file);
    dba__config_strv_cleanup(&c->exclude_tables);
    dba__config_strv_cleanup(&c->allowed_extensions);
    free(c->column_defs);
    free(c->backup_schema);
    free(c->admin_token_env);
    free(c->admin_token);
    free(c->admin.listen);
    dba__config_backup_cleanup(c);
    dba__config_auth_cleanup(&c->auth);
    for (size_t i = 0; i < c->n_origins; i++) {
        free(c->origins[i].key);
        free(c->origins[i].source);
    }
    free(c->origins);
    if (c->raw != NULL) {
        config_destroy(c->raw);
        free(c->raw);
    }
    free(c);
}

int
dba_config_workers(const struct dba_config *c)
{
    long n;

    if (c->server.workers > 0)
        return c->server.workers;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
}

const config_setting_t *
dba_config_group_get(const struct dba_config *c, const char *name)
{
    const config_setting_t *s;

    if (c->raw == NULL)
        return NULL;
    s = config_setting_get_member(config_root_setting(c->raw), name);
    return s != NULL && config_setting_is_group(s) ? s : NULL;
}
