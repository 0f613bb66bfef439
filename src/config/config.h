/* config.h - libconfig loading, database profiles, active-profile resolution and the lock file. */
#ifndef DBA_CONFIG_H
#define DBA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/*
 * The configuration is loaded once at start (every profile is parsed and checked then; connections
 * open lazily elsewhere) and is read-only afterwards, so it may be shared by every worker thread.
 *
 * Errors from loading carry code DBA_EINVAL, http_status 0 and the client code
 * DBA_CONFIG_CODE_INVALID; their message is "<file>:<line>: <key>: <what is wrong>" (or
 * "<file>:<line>: <libconfig text>" for syntax errors). The CLI exits 2 on them.
 * Profile-selection errors carry DBA_ENOTFOUND and DBA_CONFIG_CODE_PROFILE.
 */

#define DBA_CONFIG_DEFAULT_PATH "./db-adapter.conf" /* used when --config is not given */
#define DBA_CONFIG_LOCK_FILE ".db-profile"           /* lock file, in the current directory */
#define DBA_CONFIG_PLACEHOLDER "[YOUR-PASSWORD]"     /* replaced by the profile's password */
#define DBA_CONFIG_CODE_INVALID "DBA010"             /* err->pgrst: bad or unreadable config */
#define DBA_CONFIG_CODE_PROFILE "DBA011"             /* err->pgrst: no or unknown profile */

struct config_t;         /* libconfig's parsed tree (struct tag of its config_t typedef) */
struct config_setting_t; /* libconfig's setting (struct tag of its config_setting_t typedef) */

/* A NULL-free array of owned strings. */
struct dba_config_strv {
    char **v; /* owned strings, each owned */
    size_t n; /* number of strings */
};

/* The `server` group. */
/* server.tx_end (PostgREST's db-tx-end): how a request's transaction ends, and whether
   `Prefer: tx=commit|rollback` may choose. */
enum dba_tx_end {
    DBA_TX_COMMIT,                  /* "commit" (default): always commit */
    DBA_TX_COMMIT_ALLOW_OVERRIDE,   /* "commit-allow-override": commit unless Prefer: tx=rollback */
    DBA_TX_ROLLBACK,                /* "rollback": always roll back */
    DBA_TX_ROLLBACK_ALLOW_OVERRIDE, /* "rollback-allow-override": roll back unless tx=commit */
};

/* server.access_log: one line per request on standard output. */
enum dba_access_log {
    DBA_ACCESS_LOG_OFF,    /* "off" */
    DBA_ACCESS_LOG_COMMON, /* "common" (default): Common Log Format plus duration, id, profile, role */
    DBA_ACCESS_LOG_JSON,   /* "json": one JSON object a line */
};

/* Where an effective value came from (set by the env/flag overlay, config/env.c). */
struct dba_config_origin {
    char *key;    /* dotted key, e.g. "server.port", "profiles.prod.url" */
    char *source; /* "DBA_SERVER_PORT", "PGRST_DB_URI", "--set", ... */
};

/* server.openapi_mode (PostgREST's openapi-mode): what GET <base>/ and /openapi.json list. */
enum dba_openapi_mode {
    DBA_OPENAPI_FOLLOW_PRIVILEGES,  /* "follow-privileges" (default): what the caller's role may use */
    DBA_OPENAPI_IGNORE_PRIVILEGES,  /* "ignore-privileges": every relation and function */
    DBA_OPENAPI_DISABLED,           /* "disabled": GET <base>/ answers 404 PGRST126 */
};

struct dba_config_server {
    char *listen;                       /* address to bind, default "0.0.0.0" */
    int port;                           /* TCP port, default 8080; 0 = any free port */
    int workers;                        /* worker threads, default 0 = one per CPU */
    int64_t max_body_bytes;             /* request body cap, default 10485760 */
    int64_t max_rows;                   /* cap on rows per read, default 0 = no cap */
    struct dba_config_strv cors_allowed_origins; /* default [ "*" ]; empty = no CORS */
    bool allow_unfiltered_writes;       /* allow PATCH/DELETE without filters, default false */
    int64_t max_transaction_operations; /* operations in one POST /transaction, default 100 */
    bool plan_enabled;                  /* serve EXPLAIN plans (Accept: vnd.pgrst.plan), default false */
    bool aggregates_enabled;            /* allow count(), col.sum(), ... in select= (PostgREST's
                                           db-aggregates-enabled), default false: 400 PGRST123 */
    int request_timeout_ms;             /* per-request deadline, default 30000; 0 = none */
    int queue_limit;                    /* requests waiting for a connection, default 1024 */
    int task_threads;                   /* background operation threads (/status, schema, backup),
                                           default 2 */
    int task_queue_limit;               /* background operations waiting for a thread, default 16;
                                           more are answered 503 */
    int shutdown_timeout_ms;            /* on SIGTERM, wait this long for in-flight requests and
                                           background operations, default 10000 */
    char *base_path;                    /* table routes prefix, default "/tables"; "" = root */
    bool server_timing;                 /* send Server-Timing (parse, plan, transaction, response) */
    char *trace_header;                 /* request header echoed on the response (e.g. X-Request-Id),
                                           or NULL */
    enum dba_tx_end tx_end;             /* tx_end, default "commit" */
    enum dba_log_level log_level;       /* log_level: crit|error|warn|info|debug, default info
                                           (crit is stored as DBA_LOG_CRIT) */
    enum dba_access_log access_log;     /* access_log: off|common|json, default common */
    enum dba_openapi_mode openapi_mode; /* openapi_mode, default "follow-privileges" */
    char *openapi_public_url;           /* openapi_public_url (PostgREST's openapi-server-proxy-uri):
                                           scheme://host[:port][/path] the documents name as
                                           their server, or NULL (the request's Host) */
    bool openapi_security_active;       /* openapi_security_active: the Swagger document carries
                                           securityDefinitions (JWT), default false */
};

struct dba_config;
struct dba_profile;

/* The `auth` group (top level, or inside a profile where its keys win; config/auth.c). */
struct dba_config_auth {
    bool present;               /* an auth group applies: identity is checked on table routes */
    char *jwt_secret;           /* HS secret, or JWK / JWKS JSON text: jwt_secret, else
                                   getenv(jwt_secret_env); NULL if neither; secret */
    char *jwt_secret_env;       /* env var named by jwt_secret_env, or NULL */
    bool jwt_secret_is_base64;  /* jwt_secret is base64 (binary secret), default false */
    char *jwks_file;            /* JWKS file (public keys), or NULL */
    char *jwt_aud;              /* required audience, or NULL */
    char *role_claim_key;       /* PostgREST's JSPath of the role claim, default ".role" */
    char *anon_role;            /* role for requests without a token, or NULL (they get 401) */
    char *pre_request;          /* function called before the main statement, or NULL */
    struct dba_config_strv admin_roles; /* JWT roles that count as admin on operator routes */
    int line;                   /* line of the group, 0 when absent */
};

/* The auth rules for profile p: its own merged group when it has one, else the top-level one
   (present false when neither exists). Borrowed until dba_config_free. */
const struct dba_config_auth *dba_config_auth_for(const struct dba_config *c,
                                                  const struct dba_profile *p);

/* One entry of the `profiles` group (or the implicit one built from DATABASE_URL). */
struct dba_profile {
    char *name;                  /* group name in the file, or "default" for the implicit one */
    char *description;           /* free text, default "" */
    char *url;                   /* as written: URL or keyword string, may hold the placeholder */
    char *password;              /* db_password, or getenv(password_env); NULL if neither */
    char *password_env;          /* name of the env var given as password_env, or NULL */
    int pool_size;               /* connections per profile, default 8 */
    struct dba_config_strv schemas; /* exposed schemas, default [ "public" ] */
    bool prepared_statements;    /* cache prepared statements, default true (false for PgBouncer) */
    bool read_only;              /* refuse writes, default false */
    int statement_timeout_ms;    /* default server.request_timeout_ms; 0 = none. A startup
                                    option with prepared_statements, else set in each
                                    request's transaction (set_config; docs/SCALING.md) */
    char *listen_url;            /* listen_url: the schema keeper's own direct connection (catalog
                                    loads, LISTEN pgrst), or NULL = url; for a url that points
                                    at a transaction-mode pooler (docs/SCALING.md) */
    struct dba_config_strv replicas; /* replicas: read-only standbys' URLs (reads are spread
                                    over them, docs/SCALING.md), default empty */
    bool implicit;               /* built from ${PREFIX}DATABASE_URL / DATABASE_URL */
    int line;                    /* line of the profile in the file, 0 when implicit */
    struct dba_config_auth *auth; /* its `auth` group merged over the top-level one, or NULL */
};

/* A reference from a child column to a parent table (backup.tables[].parent, optional_refs). */
struct dba_config_backup_ref {
    char *table; /* referenced (parent) table, or NULL = none */
    char *field; /* referencing column of the child */
};

/* One entry of backup.tables (the original's TableDef). */
struct dba_config_backup_table {
    char *name;                            /* table name, non-empty */
    char *pk;                              /* primary key column, default "id" */
    char *slug;                            /* matching column (slug, or slug_field), default "slug" */
    char *user_field;                      /* user scoping column, or NULL */
    struct dba_config_backup_ref parent;   /* required parent, table NULL = none */
    struct dba_config_backup_ref *optional_refs; /* optional references */
    size_t n_optional_refs;                /* count */
};

/* The `backup` group. */
struct dba_config_backup {
    struct dba_config_backup_table *tables; /* backup.tables in file order (names unique), or
                                               NULL when not declared */
    size_t n_tables;                        /* count */
    char *dir;                              /* backup.dir, or NULL */
    char *user_id_env;                      /* backup.user_id_env, or NULL */
    int64_t max_restore_bytes;              /* backup.max_restore_bytes: POST /restore's body
                                               cap (received and decompressed), 0 = that of
                                               server.max_body_bytes */
    char *user_id;                          /* its value when set and non-empty at load: the
                                               default --user-id / user_id= (the flag or
                                               parameter wins), or NULL */
    int line;                               /* line of backup.tables (errors found later, e.g. a
                                               reference cycle), 0 when absent */
};

/* The `sync` group. */
struct dba_config_sync {
    struct dba_config_strv tables; /* sync.tables: names, or one comma-separated string; empty =
                                      unset (then every table of the backup schema) */
};

/* The admin group's listener and route keys (the token is admin_token below). */
struct dba_config_admin {
    bool public_metrics;         /* admin.public_metrics: GET /metrics needs no credential */
    char *listen;                /* admin.listen, default "127.0.0.1" */
    int port;                    /* admin.port: a second listener serving the operator routes
                                    (0 = any free port), or -1 = none (they stay on server.port) */
};

/* The whole configuration. */
struct dba_config {
    char *path;                  /* file loaded, or NULL when implicit (no file) */
    struct dba_config_server server; /* the `server` group */
    struct dba_profile *profiles; /* profiles in file order; owned */
    size_t n_profiles;           /* number of profiles, may be 0 */
    char *default_profile;       /* default_profile, or NULL */
    char *env_prefix;            /* effective: CLI override, else file, else ""; never NULL */
    char *profile_env_var;       /* env_prefix + "DB_PROFILE" */
    char *implicit_var;          /* env var the implicit profile came from, or NULL */
    char *schema_file;           /* schema.file, default "schema.sql" (relative to the CWD) */
    struct dba_config_strv exclude_tables; /* schema.exclude_tables, default empty */
    bool validate_on_connect;    /* schema.validate_on_connect, default false */
    char *column_defs;           /* schema.column_defs (JSON file), or NULL */
    char *backup_schema;         /* schema.backup_schema (JSON file), or NULL */
    struct dba_config_strv allowed_extensions; /* schema.allowed_extensions: CREATE EXTENSION IF
                                           NOT EXISTS an expected schema may run, default pgcrypto,
                                           uuid-ossp, citext, pg_trgm, btree_gist */
    char *admin_token_env;       /* admin.token_env, default "DB_ADAPTER_ADMIN_TOKEN" */
    char *admin_token;           /* getenv(admin_token_env) if non-empty, else NULL; secret */
    struct dba_config_admin admin; /* admin.public_metrics, admin.listen, admin.port */
    struct dba_config_backup backup; /* the `backup` group */
    struct dba_config_sync sync; /* the `sync` group */
    struct dba_config_auth auth; /* the top-level `auth` group */
    struct dba_config_origin *origins; /* keys set by flags or environment variables; owned */
    size_t n_origins;            /* count */
    bool pgrst;                  /* some PGRST_* variable was applied */
    /* internal */
    struct config_t *raw;        /* parsed tree kept for other modules' groups, or NULL */
};

/*
 * Loads the configuration. path NULL means DBA_CONFIG_DEFAULT_PATH. When the file does not exist
 * and path_explicit is false, the config is implicit: one profile "default" from
 * ${PREFIX}DATABASE_URL, else DATABASE_URL (empty values count as unset), or no profile at all.
 * A file that defines no profiles gets the same DATABASE_URL fallback. env_prefix_override (the
 * CLI's --env-prefix), when non-NULL, replaces the file's env_prefix. Passwords and the admin
 * token are read from the environment here, once.
 * Returns DBA_OK and a new config in *out (free with dba_config_free), or DBA_EINVAL (*out
 * untouched).
 */
DBA_MUSTCHECK int dba_config_load(const char *path, bool path_explicit,
    const char *env_prefix_override, struct dba_config **out, struct dba_err *err);

/*
 * dba_config_load with the environment's DBA_* and PGRST_* variables and `--set key=value` flags
 * (sets, n_sets) applied over the file: flag -> DBA_* -> PGRST_* -> file -> default, the same for
 * every key (config/env.c). Errors from a variable or flag name it instead of a file line.
 * dba_config_load is this with no flags.
 */
DBA_MUSTCHECK int dba_config_load_ex(const char *path, bool path_explicit,
    const char *env_prefix_override, const char *const *sets, size_t n_sets,
    struct dba_config **out, struct dba_err *err);

/*
 * The effective configuration as JSON: {"file": path|null, "keys": [{"key", "value", "source",
 * "variable", "reload"}]} for every key of every group and profile; secrets and passwords are
 * "****", URLs have their password masked. source is "--set", the variable's name, "path:line" or
 * "default"; reload is true for keys a SIGHUP applies without a restart. New reference.
 */
struct json_t *dba_config_describe(const struct dba_config *c);

/*
 * SIGHUP: compares new_cfg (just loaded) key by key with what runs - a run-time key ([reload])
 * with applied (the configuration of the last reload, or started), any other key with started
 * (the configuration the server started with: it still runs) - and logs each change by name,
 * never its value (secrets are compared, not shown), saying whether it is applied now or needs a
 * restart. Applies server.log_level itself. Returns the number of changed keys.
 */
int dba_config_reload_report(const struct dba_config *started, const struct dba_config *applied,
                             const struct dba_config *new_cfg);

/* Frees everything loaded; NULL is a no-op. */
void dba_config_free(struct dba_config *c);

/* Worker threads to start: server.workers, or the number of online CPUs when it is 0. */
int dba_config_workers(const struct dba_config *c);

/* The profile called name, or NULL. Borrowed until dba_config_free. */
const struct dba_profile *dba_config_profile_get(const struct dba_config *c, const char *name);

/*
 * Picks the active profile. One order for every command: cli_profile (--profile) -> env
 * ${PREFIX}DB_PROFILE -> lock file .db-profile in the CWD -> default_profile -> the only profile.
 * Empty or blank values at any step count as unset. *out is borrowed until dba_config_free; *source
 * (may be NULL) names the step: "--profile", c->profile_env_var, ".db-profile", "default_profile",
 * "only profile", or c->implicit_var when the implicit profile was reached by the last two steps;
 * it lives as long as c. Returns DBA_OK, or DBA_ENOTFOUND when the name is unknown ("unknown
 * profile 'x' (from <source>); available: a, b"), when there is no profile at all, or when several
 * exist and none is selected; the error's hint says what to do.
 */
DBA_MUSTCHECK int dba_config_active_profile(const struct dba_config *c, const char *cli_profile,
    const struct dba_profile **out, const char **source, struct dba_err *err);

/*
 * Connection string for PQconnectdb; new heap string, caller frees. The placeholder is replaced:
 * - postgres:// and postgresql:// URLs: by the password percent-encoded (RFC 3986 unreserved kept);
 *   without a placeholder, a configured password is appended as a `password` query parameter
 *   unless the URL already has one.
 * - keyword strings (host=... dbname=...): by the raw password quoted as a libpq value ('...'
 *   with \' and \\); inside quotes already ('[YOUR-PASSWORD]') only the escapes are added. Without
 *   a placeholder, a configured password is appended as " password='...'" unless a password key
 *   is present.
 * With no password configured the placeholder is removed (libpq then falls back to PGPASSWORD or
 * ~/.pgpass); dba_config_profile_check reports that case first. The result holds the secret: never
 * log it.
 */
char *dba_config_profile_conninfo(const struct dba_profile *p);
/* The same for another URL of the profile (listen_url, a replica): the profile's password is
   put in the same way. Newly allocated. */
char *dba_config_profile_conninfo_url(const struct dba_profile *p, const char *url);

/*
 * Redacted location for display and logs: "host:port/dbname", or "socket:/dir/dbname" for a Unix
 * socket directory ("socket:default/dbname" when no host is given). Never contains the password or
 * the user name. New heap string, caller frees; never NULL.
 */
char *dba_config_profile_display(const struct dba_profile *p);

/*
 * Checks that the profile can build a usable conninfo: the connection string parses, and a
 * placeholder has a password to replace it. Returns DBA_OK or DBA_EINVAL (message names the profile
 * and the env var to set; never the secret).
 */
DBA_MUSTCHECK int dba_config_profile_check(const struct dba_profile *p, struct dba_err *err);

/*
 * The one read_only check for operator writes (restore, confirmed sync, confirmed fix): DBA_OK
 * when the profile may be written, else DBA_EINVAL with a 403 "DBA403" error naming the profile,
 * the setting and what was refused (`what`, e.g. "a restore into it"). Nothing else is checked.
 */
DBA_MUSTCHECK int dba_config_profile_writable(const struct dba_profile *p, const char *what,
                                              struct dba_err *err);

/*
 * Reads the lock file .db-profile in the CWD into buf (size n), trimmed of surrounding whitespace.
 * Returns the name's length (> 0), or 0 when the file is missing, unreadable, empty or blank, or
 * the name does not fit in buf; buf is always NUL-terminated when n > 0.
 */
int dba_config_lock_read(char *buf, size_t n);

/* Writes name (no newline) to .db-profile atomically (temp file, then rename). DBA_OK or DBA_EIO
 * (DBA_EINVAL for an empty name or one with control characters). */
DBA_MUSTCHECK int dba_config_lock_write(const char *name, struct dba_err *err);

/* Removes .db-profile; a missing file is fine. DBA_OK or DBA_EIO. */
DBA_MUSTCHECK int dba_config_lock_clear(struct dba_err *err);

/*
 * For modules that own a top-level group (backup, sync, ...): the group called name, or NULL when
 * absent or when the config is implicit. Borrowed until dba_config_free.
 */
const struct config_setting_t *dba_config_group_get(const struct dba_config *c, const char *name);

/*
 * Formats a config error at setting s: "<file>:<line>: <dotted.key>: <fmt...>" with DBA_EINVAL,
 * http_status 0 and DBA_CONFIG_CODE_INVALID. Returns DBA_EINVAL.
 */
int dba_config_err_at(struct dba_err *err, const struct dba_config *c,
    const struct config_setting_t *s, const char *fmt, ...) DBA_PRINTF(4, 5);

/*
 * Fails (DBA_EINVAL, via dba_config_err_at) when group has a member whose name is not in the
 * NULL-terminated list allowed; the hint lists the allowed keys.
 */
DBA_MUSTCHECK int dba_config_keys_check(const struct dba_config *c,
    const struct config_setting_t *group, const char *const *allowed, struct dba_err *err);

#endif
