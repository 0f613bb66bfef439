/* keys.c - the one description of the configuration keys: group, name, type, bounds, where the
   value lives, and whether it is secret or can change at run time. The file reader, the
   environment mapping (env.c) and `db-adapter config` all walk this table. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const char *const tx_end_names[] = { "commit", "commit-allow-override", "rollback",
                                            "rollback-allow-override", NULL };
/* Index + DBA_LOG_CRIT is the level (crit = -1, error = 0, ...). */
static const char *const log_level_names[] = { "crit", "error", "warn", "info", "debug", NULL };
static const char *const access_log_names[] = { "off", "common", "json", NULL };
static const char *const openapi_mode_names[] = { "follow-privileges", "ignore-privileges",
                                                  "disabled", NULL };

#define CFG(f) offsetof(struct dba_config, f)
#define AUTH(f) offsetof(struct dba_config_auth, f)
#define PROF(f) offsetof(struct dba_profile, f)
#define I32 INT32_MAX

const struct dba__cfg_key dba__cfg_keys[] = {
    { DBA_CFGS_TOP, "default_profile", DBA_CFGT_STR, CFG(default_profile), 0, 0, NULL,
      DBA_CFGF_MANUAL, "profile used when none is selected" },
    { DBA_CFGS_TOP, "env_prefix", DBA_CFGT_STR, CFG(env_prefix), 0, 0, NULL, DBA_CFGF_MANUAL,
      "prefix of DB_PROFILE / DATABASE_URL" },

    { DBA_CFGS_SERVER, "listen", DBA_CFGT_STR, CFG(server.listen), 0, 0, NULL, 0,
      "address to bind" },
    { DBA_CFGS_SERVER, "port", DBA_CFGT_INT, CFG(server.port), 0, 65535, NULL, 0,
      "TCP port (0 = any free port)" },
    { DBA_CFGS_SERVER, "workers", DBA_CFGT_INT, CFG(server.workers), 0, 1024, NULL, 0,
      "worker threads (0 = one per CPU)" },
    { DBA_CFGS_SERVER, "max_body_bytes", DBA_CFGT_INT64, CFG(server.max_body_bytes), 1,
      INT64_MAX, NULL, 0, "request body cap" },
    { DBA_CFGS_SERVER, "max_transaction_operations", DBA_CFGT_INT64,
      CFG(server.max_transaction_operations), 1, 100000, NULL, 0,
      "operations in one POST /transaction" },
    { DBA_CFGS_SERVER, "max_rows", DBA_CFGT_INT64, CFG(server.max_rows), 0, INT64_MAX, NULL, 0,
      "cap on rows per read (0 = none)" },
    { DBA_CFGS_SERVER, "cors_allowed_origins", DBA_CFGT_STRV, CFG(server.cors_allowed_origins),
      0, 0, NULL, DBA_CFGF_EMPTY_OK | DBA_CFGF_RUNTIME, "CORS origins (empty = no CORS)" },
    { DBA_CFGS_SERVER, "allow_unfiltered_writes", DBA_CFGT_BOOL,
      CFG(server.allow_unfiltered_writes), 0, 0, NULL, 0, "PATCH/DELETE without filters" },
    { DBA_CFGS_SERVER, "plan_enabled", DBA_CFGT_BOOL, CFG(server.plan_enabled), 0, 0, NULL, 0,
      "serve EXPLAIN plans" },
    { DBA_CFGS_SERVER, "aggregates_enabled", DBA_CFGT_BOOL, CFG(server.aggregates_enabled), 0, 0,
      NULL, 0, "aggregate functions in select=" },
    { DBA_CFGS_SERVER, "request_timeout_ms", DBA_CFGT_INT, CFG(server.request_timeout_ms), 0, I32,
      NULL, 0, "per-request deadline (0 = none)" },
    { DBA_CFGS_SERVER, "queue_limit", DBA_CFGT_INT, CFG(server.queue_limit), 0, I32, NULL,
      DBA_CFGF_RUNTIME, "requests waiting for a connection" },
    { DBA_CFGS_SERVER, "task_threads", DBA_CFGT_INT, CFG(server.task_threads), 1, 64, NULL, 0,
      "background operation threads" },
    { DBA_CFGS_SERVER, "task_queue_limit", DBA_CFGT_INT, CFG(server.task_queue_limit), 0, 100000,
      NULL, 0, "background operations waiting" },
    { DBA_CFGS_SERVER, "shutdown_timeout_ms", DBA_CFGT_INT, CFG(server.shutdown_timeout_ms), 0,
      I32, NULL, 0, "grace period on SIGTERM" },
    { DBA_CFGS_SERVER, "base_path", DBA_CFGT_STR, CFG(server.base_path), 0, 0, NULL, 0,
      "table routes prefix (\"\" = root)" },
    { DBA_CFGS_SERVER, "server_timing", DBA_CFGT_BOOL, CFG(server.server_timing), 0, 0, NULL, 0,
      "send Server-Timing" },
    { DBA_CFGS_SERVER, "trace_header", DBA_CFGT_STR, CFG(server.trace_header), 0, 0, NULL, 0,
      "request id header echoed on the response" },
    { DBA_CFGS_SERVER, "tx_end", DBA_CFGT_ENUM, CFG(server.tx_end), 0, 0, tx_end_names, 0,
      "how a request's transaction ends" },
    { DBA_CFGS_SERVER, "log_level", DBA_CFGT_ENUM, CFG(server.log_level), 0, 0, log_level_names,
      DBA_CFGF_RUNTIME, "crit, error, warn, info or debug" },
    { DBA_CFGS_SERVER, "access_log", DBA_CFGT_ENUM, CFG(server.access_log), 0, 0,
      access_log_names, DBA_CFGF_RUNTIME, "off, common or json (standard output)" },
    { DBA_CFGS_SERVER, "openapi_mode", DBA_CFGT_ENUM, CFG(server.openapi_mode), 0, 0,
      openapi_mode_names, 0, "follow-privileges, ignore-privileges or disabled (GET <base>/)" },
    { DBA_CFGS_SERVER, "openapi_public_url", DBA_CFGT_STR, CFG(server.openapi_public_url), 0, 0,
      NULL, 0, "the gateway's root URL the OpenAPI documents name (unset: the request's Host)" },
    { DBA_CFGS_SERVER, "openapi_security_active", DBA_CFGT_BOOL,
      CFG(server.openapi_security_active), 0, 0, NULL, 0, "Swagger securityDefinitions (JWT)" },

    { DBA_CFGS_SCHEMA, "file", DBA_CFGT_STR, CFG(schema_file), 0, 0, NULL, 0,
      "expected schema (validate, fix)" },
    { DBA_CFGS_SCHEMA, "exclude_tables", DBA_CFGT_STRV, CFG(exclude_tables), 0, 0, NULL,
      DBA_CFGF_EMPTY_OK, "tables validate ignores" },
    { DBA_CFGS_SCHEMA, "validate_on_connect", DBA_CFGT_BOOL, CFG(validate_on_connect), 0, 0,
      NULL, 0, "validate on connect" },
    { DBA_CFGS_SCHEMA, "column_defs", DBA_CFGT_STR, CFG(column_defs), 0, 0, NULL, 0,
      "column definitions (JSON file)" },
    { DBA_CFGS_SCHEMA, "backup_schema", DBA_CFGT_STR, CFG(backup_schema), 0, 0, NULL, 0,
      "backup schema (JSON file)" },
    { DBA_CFGS_SCHEMA, "allowed_extensions", DBA_CFGT_STRV, CFG(allowed_extensions), 0, 0, NULL,
      DBA_CFGF_EMPTY_OK, "extensions an expected schema may create" },

    { DBA_CFGS_ADMIN, "token_env", DBA_CFGT_STR, CFG(admin_token_env), 0, 0, NULL, 0,
      "variable holding the admin token" },
    { DBA_CFGS_ADMIN, "public_metrics", DBA_CFGT_BOOL, CFG(admin.public_metrics), 0, 0, NULL, 0,
      "GET /metrics without a credential" },
    { DBA_CFGS_ADMIN, "listen", DBA_CFGT_STR, CFG(admin.listen), 0, 0, NULL, 0,
      "admin listener address" },
    { DBA_CFGS_ADMIN, "port", DBA_CFGT_INT, CFG(admin.port), 0, 65535, NULL, 0,
      "admin listener port (unset = none)" },

    { DBA_CFGS_AUTH, "jwt_secret", DBA_CFGT_STR, AUTH(jwt_secret), 0, 0, NULL,
      DBA_CFGF_SECRET | DBA_CFGF_MANUAL | DBA_CFGF_RUNTIME, "HS secret, JWK or JWKS" },
    { DBA_CFGS_AUTH, "jwt_secret_env", DBA_CFGT_STR, AUTH(jwt_secret_env), 0, 0, NULL,
      DBA_CFGF_MANUAL | DBA_CFGF_RUNTIME, "variable holding the secret" },
    { DBA_CFGS_AUTH, "jwt_secret_is_base64", DBA_CFGT_BOOL, AUTH(jwt_secret_is_base64), 0, 0,
      NULL, DBA_CFGF_RUNTIME, "secret is base64" },
    { DBA_CFGS_AUTH, "jwks_file", DBA_CFGT_STR, AUTH(jwks_file), 0, 0, NULL,
      DBA_CFGF_RUNTIME, "JWKS file" },
    { DBA_CFGS_AUTH, "jwt_aud", DBA_CFGT_STR, AUTH(jwt_aud), 0, 0, NULL,
      DBA_CFGF_RUNTIME, "required audience" },
    { DBA_CFGS_AUTH, "role_claim_key", DBA_CFGT_STR, AUTH(role_claim_key), 0, 0, NULL,
      DBA_CFGF_RUNTIME, "JSPath of the role claim" },
    { DBA_CFGS_AUTH, "anon_role", DBA_CFGT_STR, AUTH(anon_role), 0, 0, NULL,
      DBA_CFGF_RUNTIME, "role without a token" },
    { DBA_CFGS_AUTH, "pre_request", DBA_CFGT_STR, AUTH(pre_request), 0, 0, NULL,
      DBA_CFGF_RUNTIME, "function called before each request" },
    { DBA_CFGS_AUTH, "admin_roles", DBA_CFGT_STRV, AUTH(admin_roles), 0, 0, NULL,
      DBA_CFGF_EMPTY_OK | DBA_CFGF_RUNTIME, "JWT roles that are admins" },

    { DBA_CFGS_PROFILE, "url", DBA_CFGT_STR, PROF(url), 0, 0, NULL, DBA_CFGF_MANUAL,
      "connection string (password masked)" },
    { DBA_CFGS_PROFILE, "description", DBA_CFGT_STR, PROF(description), 0, 0, NULL, 0,
      "free text" },
    { DBA_CFGS_PROFILE, "db_password", DBA_CFGT_STR, PROF(password), 0, 0, NULL,
      DBA_CFGF_SECRET | DBA_CFGF_MANUAL, "password for the placeholder" },
    { DBA_CFGS_PROFILE, "password_env", DBA_CFGT_STR, PROF(password_env), 0, 0, NULL,
      DBA_CFGF_MANUAL, "variable holding the password" },
    { DBA_CFGS_PROFILE, "pool_size", DBA_CFGT_INT, PROF(pool_size), 1, 1000, NULL,
      DBA_CFGF_RUNTIME, "connections" },
    { DBA_CFGS_PROFILE, "schemas", DBA_CFGT_STRV, PROF(schemas), 0, 0, NULL, 0,
      "exposed schemas" },
    { DBA_CFGS_PROFILE, "prepared_statements", DBA_CFGT_BOOL, PROF(prepared_statements), 0, 0,
      NULL, 0, "cache prepared statements" },
    { DBA_CFGS_PROFILE, "read_only", DBA_CFGT_BOOL, PROF(read_only), 0, 0, NULL, 0,
      "refuse writes" },
    { DBA_CFGS_PROFILE, "statement_timeout_ms", DBA_CFGT_INT, PROF(statement_timeout_ms), 0, I32,
      NULL, 0, "statement timeout (0 = none)" },
    { DBA_CFGS_PROFILE, "listen_url", DBA_CFGT_STR, PROF(listen_url), 0, 0, NULL,
      DBA_CFGF_MANUAL, "the schema cache's own direct connection (default: url)" },
    { DBA_CFGS_PROFILE, "replicas", DBA_CFGT_STRV, PROF(replicas), 0, 0, NULL, DBA_CFGF_MANUAL,
      "read replicas' URLs (reads go round robin to healthy ones)" },

    { DBA_CFGS_BACKUP, "dir", DBA_CFGT_STR, CFG(backup.dir), 0, 0, NULL, DBA_CFGF_MANUAL,
      "backup directory" },
    { DBA_CFGS_BACKUP, "user_id_env", DBA_CFGT_STR, CFG(backup.user_id_env), 0, 0, NULL,
      DBA_CFGF_MANUAL, "environment variable holding the default --user-id / user_id=" },
    { DBA_CFGS_BACKUP, "max_restore_bytes", DBA_CFGT_INT64, CFG(backup.max_restore_bytes), 0,
      INT64_MAX, NULL, 0, "POST /restore body cap, decompressed (0 = server.max_body_bytes)" },
    { DBA_CFGS_SYNC, "tables", DBA_CFGT_STRV, CFG(sync.tables), 0, 0, NULL,
      DBA_CFGF_MANUAL | DBA_CFGF_EMPTY_OK, "tables sync copies" },
};
const size_t dba__cfg_n_keys = DBA_ARRAY_LEN(dba__cfg_keys);

const char *
dba__cfg_scope_group(enum dba__cfg_scope s)
{
    static const char *const groups[] = { "", "server", "schema", "admin", "auth", "profiles",
                                          "backup", "sync" };
    return groups[s];
}

int
dba__config_keys_check_scope(const struct dba_config *c, const config_setting_t *g,
    enum dba__cfg_scope scope, const char *const *extra, struct dba_err *err)
{
    const char *names[64];
    size_t n = 0;

    for (size_t i = 0; i < dba__cfg_n_keys && n + 1 < DBA_ARRAY_LEN(names); i++)
        if (dba__cfg_keys[i].scope == scope)
            names[n++] = dba__cfg_keys[i].name;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n + 1 < DBA_ARRAY_LEN(names); i++)
        names[n++] = extra[i];
    names[n] = NULL;
    return dba_config_keys_check(c, g, names, err);
}

static int
read_enum(const struct dba_config *c, const config_setting_t *g, const struct dba__cfg_key *k,
    int *out, struct dba_err *err)
{
    char *v = NULL;

    if (dba__config_read_string(c, g, k->name, &v, err) != DBA_OK)
        return DBA_EINVAL;
    if (v == NULL)
        return DBA_OK;
    for (int i = 0; k->names[i] != NULL; i++) {
        if (strcmp(v, k->names[i]) == 0) {
            *out = k->names == log_level_names ? i + DBA_LOG_CRIT : i;
            free(v);
            return DBA_OK;
        }
    }
    free(v);
    struct dba_buf b;
    dba_buf_init(&b);
    for (int i = 0; k->names[i] != NULL; i++)
        dba_buf_printf(&b, "%s\"%s\"", i == 0 ? "" : k->names[i + 1] == NULL ? " or " : ", ",
                       k->names[i]);
    dba_config_err_at(err, c, config_setting_get_member(g, k->name), "must be %s", b.data);
    dba_buf_cleanup(&b);
    return DBA_EINVAL;
}

static int
read_key(const struct dba_config *c, const config_setting_t *g, const struct dba__cfg_key *k,
    char *p, struct dba_err *err)
{
    int64_t v;

    switch (k->type) {
    case DBA_CFGT_STR:
        return dba__config_read_string(c, g, k->name, (char **)(void *)p, err);
    case DBA_CFGT_INT:
        v = *(int *)(void *)p;
        if (dba__config_read_int(c, g, k->name, k->min, k->max, &v, err) != DBA_OK)
            return DBA_EINVAL;
        *(int *)(void *)p = (int)v;
        return DBA_OK;
    case DBA_CFGT_INT64:
        return dba__config_read_int(c, g, k->name, k->min, k->max, (int64_t *)(void *)p, err);
    case DBA_CFGT_BOOL:
        return dba__config_read_bool(c, g, k->name, (bool *)(void *)p, err);
    case DBA_CFGT_STRV:
        return dba__config_read_strv(c, g, k->name, (k->flags & DBA_CFGF_EMPTY_OK) != 0,
                                     (struct dba_config_strv *)(void *)p, err);
    case DBA_CFGT_ENUM:
        return read_enum(c, g, k, (int *)(void *)p, err);
    }
    return DBA_OK;
}

int
dba__config_read_scope(const struct dba_config *c, const config_setting_t *g,
    enum dba__cfg_scope scope, void *base, struct dba_err *err)
{
    if (g == NULL)
        return DBA_OK;
    for (size_t i = 0; i < dba__cfg_n_keys; i++) {
        const struct dba__cfg_key *k = &dba__cfg_keys[i];
        if (k->scope != scope || (k->flags & DBA_CFGF_MANUAL) != 0)
            continue;
        if (read_key(c, g, k, (char *)base + k->off, err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}

static void
put_upper(struct dba_buf *b, const char *s)
{
    for (; *s != '\0'; s++)
        dba_buf_putc(b, *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s == '-' ? '_' : *s);
}

void
dba__cfg_env_name(struct dba_buf *b, const struct dba__cfg_key *k, const char *profile,
    bool profile_auth)
{
    dba_buf_puts(b, "DBA_");
    if (profile != NULL) {
        dba_buf_puts(b, "PROFILE_");
        put_upper(b, profile);
        dba_buf_putc(b, '_');
        if (profile_auth)
            dba_buf_puts(b, "AUTH_");
    } else if (k->scope != DBA_CFGS_TOP) {
        put_upper(b, dba__cfg_scope_group(k->scope));
        dba_buf_putc(b, '_');
    }
    put_upper(b, k->name);
}
