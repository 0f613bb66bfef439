/* test_config.c - configuration loading, profiles, active-profile order and the lock file. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>
#include <libpq-fe.h>

#include "config/config.h"

static char tmpdir[64];

static void
cfg_setup(void)
{
    static const char *const vars[] = {
        "DATABASE_URL", "DB_PROFILE", "MC_DATABASE_URL", "MC_DB_PROFILE", "MCDB_PROFILE",
        "DB_PASSWORD", "DB_ADAPTER_ADMIN_TOKEN", "PGPASSWORD",
    };

    for (size_t i = 0; i < DBA_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
    strcpy(tmpdir, "/tmp/dba-config-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void
cfg_teardown(void)
{
    static const char *const files[] = { "db-adapter.conf", "other.conf", ".db-profile" };

    for (size_t i = 0; i < DBA_ARRAY_LEN(files); i++)
        unlink(files[i]);
    if (chdir("/") == 0)
        rmdir(tmpdir);
}

TestSuite(config, .init = cfg_setup, .fini = cfg_teardown);

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Writes db-adapter.conf and loads it implicitly (default path, not explicit). */
static struct dba_config *
load_ok(const char *text)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    dba_err_clear(&err);
    if (text != NULL)
        write_file("db-adapter.conf", text);
    cr_assert_eq(dba_config_load(NULL, false, NULL, &c, &err), DBA_OK, "load failed: %s",
        err.msg);
    cr_assert_not_null(c);
    return c;
}

/* Writes db-adapter.conf, expects the load to fail and returns the error. */
static struct dba_err
load_fail(const char *text)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    dba_err_clear(&err);
    write_file("db-adapter.conf", text);
    cr_assert_eq(dba_config_load("db-adapter.conf", true, NULL, &c, &err), DBA_EINVAL);
    cr_assert_null(c);
    cr_expect_eq(err.http_status, 0);
    cr_expect_eq(err.code, DBA_EINVAL);
    return err;
}

#define ONE_PROFILE "profiles: { local: { url = \"postgresql://app@localhost:5432/app\"; }; };\n"
#define TWO_PROFILES \
    "profiles: {\n" \
    "  a: { url = \"postgresql://localhost/a\"; };\n" \
    "  b: { url = \"postgresql://localhost/b\"; };\n" \
    "};\n"

static const struct dba_profile *
active(const struct dba_config *c, const char *cli, const char **source)
{
    const struct dba_profile *p = NULL;
    struct dba_err err;

    dba_err_clear(&err);
    cr_assert_eq(dba_config_active_profile(c, cli, &p, source, &err), DBA_OK, "%s", err.msg);
    cr_assert_not_null(p);
    return p;
}

/* ---- defaults and keys ---- */

Test(config, server_defaults)
{
    struct dba_config *c = load_ok(ONE_PROFILE);

    cr_expect_str_eq(c->server.listen, "0.0.0.0");
    cr_expect_eq(c->server.port, 8080);
    cr_expect_eq(c->server.workers, 0);
    cr_expect_eq(c->server.max_body_bytes, 10485760);
    cr_expect_eq(c->server.max_rows, 0);
    cr_assert_eq(c->server.cors_allowed_origins.n, 1);
    cr_expect_str_eq(c->server.cors_allowed_origins.v[0], "*");
    cr_expect_not(c->server.allow_unfiltered_writes);
    cr_expect_not(c->server.aggregates_enabled);
    cr_expect_eq(c->server.request_timeout_ms, 30000);
    cr_expect_eq(c->server.queue_limit, 1024);
    cr_expect_str_eq(c->server.base_path, "/tables");
    cr_expect_str_eq(c->path, "./db-adapter.conf");
    dba_config_free(c);
}

Test(config, profile_defaults)
{
    struct dba_config *c = load_ok(ONE_PROFILE);
    const struct dba_profile *p;

    cr_assert_eq(c->n_profiles, 1);
    p = &c->profiles[0];
    cr_expect_str_eq(p->name, "local");
    cr_expect_str_eq(p->description, "");
    cr_expect_str_eq(p->url, "postgresql://app@localhost:5432/app");
    cr_expect_null(p->password);
    cr_expect_null(p->password_env);
    cr_expect_eq(p->pool_size, 8);
    cr_assert_eq(p->schemas.n, 1);
    cr_expect_str_eq(p->schemas.v[0], "public");
    cr_expect(p->prepared_statements);
    cr_expect_not(p->read_only);
    cr_expect_eq(p->statement_timeout_ms, 30000);
    cr_expect_not(p->implicit);
    cr_expect_eq(p->line, 1);
    dba_config_free(c);
}

Test(config, other_defaults)
{
    struct dba_config *c = load_ok(ONE_PROFILE);

    cr_expect_null(c->default_profile);
    cr_expect_str_eq(c->env_prefix, "");
    cr_expect_str_eq(c->profile_env_var, "DB_PROFILE");
    cr_expect_null(c->implicit_var);
    cr_expect_str_eq(c->schema_file, "schema.sql");
    cr_expect_eq(c->exclude_tables.n, 0);
    cr_expect_not(c->validate_on_connect);
    cr_expect_null(c->column_defs);
    cr_expect_null(c->backup_schema);
    cr_expect_str_eq(c->admin_token_env, "DB_ADAPTER_ADMIN_TOKEN");
    cr_expect_null(c->admin_token);
    dba_config_free(c);
}

Test(config, statement_timeout_follows_request_timeout)
{
    struct dba_config *c = load_ok("server: { request_timeout_ms = 1234; };\n" ONE_PROFILE);

    cr_expect_eq(c->profiles[0].statement_timeout_ms, 1234);
    dba_config_free(c);
}

Test(config, every_server_key)
{
    struct dba_config *c = load_ok(
        "server: { listen = \"127.0.0.1\"; port = 9090; workers = 3;\n"
        "  max_body_bytes = 5000000000L; max_rows = 1000;\n"
        "  cors_allowed_origins = [ \"https://a.example\", \"https://b.example\" ];\n"
        "  allow_unfiltered_writes = true; request_timeout_ms = 5000; queue_limit = 16;\n"
        "  base_path = \"/api\"; aggregates_enabled = true; };\n" ONE_PROFILE);

    cr_expect_str_eq(c->server.listen, "127.0.0.1");
    cr_expect_eq(c->server.port, 9090);
    cr_expect_eq(c->server.workers, 3);
    cr_expect_eq(c->server.max_body_bytes, 5000000000LL);
    cr_expect_eq(c->server.max_rows, 1000);
    cr_assert_eq(c->server.cors_allowed_origins.n, 2);
    cr_expect_str_eq(c->server.cors_allowed_origins.v[1], "https://b.example");
    cr_expect(c->server.allow_unfiltered_writes);
    cr_expect_eq(c->server.request_timeout_ms, 5000);
    cr_expect_eq(c->server.queue_limit, 16);
    cr_expect_str_eq(c->server.base_path, "/api");
    cr_expect(c->server.aggregates_enabled);
    cr_expect_eq(dba_config_workers(c), 3);
    dba_config_free(c);
}

Test(config, empty_cors_list_allowed)
{
    struct dba_config *c = load_ok("server: { cors_allowed_origins = [ ]; };\n" ONE_PROFILE);

    cr_expect_eq(c->server.cors_allowed_origins.n, 0);
    dba_config_free(c);
}

Test(config, every_profile_key)
{
    struct dba_config *c = load_ok(
        "profiles: {\n"
        "  local: { url = \"postgresql://app:[YOUR-PASSWORD]@localhost:5432/app\";\n"
        "    db_password = \"pw\"; description = \"Local development\"; pool_size = 4;\n"
        "    schemas = ( \"public\", \"api\" ); prepared_statements = false; read_only = true;\n"
        "    statement_timeout_ms = 777; listen_url = \"postgresql://app@db:5432/app\";\n"
        "    replicas = [ \"postgresql://app@r1/app\", \"host=r2 dbname=app\" ]; };\n"
        "};\n");
    const struct dba_profile *p = &c->profiles[0];

    cr_expect_str_eq(p->description, "Local development");
    cr_expect_str_eq(p->password, "pw");
    cr_expect_eq(p->pool_size, 4);
    cr_assert_eq(p->schemas.n, 2);
    cr_expect_str_eq(p->schemas.v[1], "api");
    cr_expect_not(p->prepared_statements);
    cr_expect(p->read_only);
    cr_expect_eq(p->statement_timeout_ms, 777);
    cr_expect_str_eq(p->listen_url, "postgresql://app@db:5432/app");
    cr_assert_eq(p->replicas.n, 2);
    cr_expect_str_eq(p->replicas.v[1], "host=r2 dbname=app");
    char *ci = dba_config_profile_conninfo_url(p, p->replicas.v[0]);
    cr_expect_str_eq(ci, "postgresql://app@r1/app?password=pw", "the profile's password");
    free(ci);
    cr_expect_eq(p->line, 2);
    dba_config_free(c);
}

Test(config, schema_admin_prefix_keys)
{
    struct dba_config *c;

    setenv("MY_TOKEN", "s3cret", 1);
    c = load_ok("default_profile = \"local\"; env_prefix = \"MC_\";\n"
        "schema: { file = \"db/schema.sql\"; exclude_tables = [ \"schema_migrations\" ];\n"
        "  validate_on_connect = true; column_defs = \"defs.json\";\n"
        "  backup_schema = \"b.json\"; };\n"
        "admin: { token_env = \"MY_TOKEN\"; };\n" ONE_PROFILE);
    cr_expect_str_eq(c->default_profile, "local");
    cr_expect_str_eq(c->env_prefix, "MC_");
    cr_expect_str_eq(c->schema_file, "db/schema.sql");
    cr_assert_eq(c->exclude_tables.n, 1);
    cr_expect_str_eq(c->exclude_tables.v[0], "schema_migrations");
    cr_expect(c->validate_on_connect);
    cr_expect_str_eq(c->column_defs, "defs.json");
    cr_expect_str_eq(c->backup_schema, "b.json");
    cr_expect_str_eq(c->admin_token_env, "MY_TOKEN");
    cr_expect_str_eq(c->admin_token, "s3cret");
    dba_config_free(c);
}

Test(config, admin_token_from_default_env)
{
    struct dba_config *c;

    setenv("DB_ADAPTER_ADMIN_TOKEN", "tok", 1);
    c = load_ok(ONE_PROFILE);
    cr_expect_str_eq(c->admin_token, "tok");
    dba_config_free(c);
}

Test(config, admin_listener_and_public_metrics)
{
    struct dba_config *c = load_ok(ONE_PROFILE);

    cr_expect_not(c->admin.public_metrics);
    cr_expect_str_eq(c->admin.listen, "127.0.0.1");
    cr_expect_eq(c->admin.port, -1, "no admin listener unless admin.port is set");
    dba_config_free(c);
    c = load_ok("admin: { public_metrics = true; listen = \"0.0.0.0\"; port = 9090; };\n"
        ONE_PROFILE);
    cr_expect(c->admin.public_metrics);
    cr_expect_str_eq(c->admin.listen, "0.0.0.0");
    cr_expect_eq(c->admin.port, 9090);
    dba_config_free(c);
    c = load_ok("admin: { port = 0; };\n" ONE_PROFILE);
    cr_expect_eq(c->admin.port, 0, "0 = any free port");
    dba_config_free(c);
}

Test(config, admin_listener_errors)
{
    struct dba_err err = load_fail("admin: { port = 70000; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "admin.port") != NULL, "%s", err.msg);
    err = load_fail("admin: { listen = \"\"; port = 9090; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "admin.listen: must not be empty") != NULL, "%s", err.msg);
    err = load_fail("server: { port = 9090; };\nadmin: { port = 9090; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "admin.port: must differ from server.port") != NULL, "%s",
              err.msg);
    err = load_fail("admin: { public_metrics = 1; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "admin.public_metrics: expected true or false") != NULL, "%s",
              err.msg);
    err = load_fail("admin: { prot = 9090; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "unknown key") != NULL, "%s", err.msg);
}

Test(config, workers_zero_means_cpus)
{
    struct dba_config *c = load_ok(ONE_PROFILE);

    cr_expect_geq(dba_config_workers(c), 1);
    dba_config_free(c);
    dba_config_free(NULL);
}

/* ---- errors ---- */

Test(config, syntax_error_names_file_and_line)
{
    struct dba_err err = load_fail("server: { port = 8080; };\nprofiles: { a: { url = ; }; };\n");

    cr_expect(strncmp(err.msg, "db-adapter.conf:2: ", 19) == 0, "msg: %s", err.msg);
    cr_expect_str_eq(err.pgrst, DBA_CONFIG_CODE_INVALID);
}

Test(config, wrong_type_int)
{
    struct dba_err err = load_fail("\nserver: { port = \"8080\"; };\n" ONE_PROFILE);

    cr_expect_str_eq(err.msg, "db-adapter.conf:2: server.port: expected an integer");
}

Test(config, wrong_type_bool)
{
    struct dba_err err = load_fail("profiles: { a: { url = \"postgresql:///a\";\n"
        "  read_only = 1; }; };\n");

    cr_expect_str_eq(err.msg, "db-adapter.conf:2: profiles.a.read_only: expected true or false");
}

Test(config, wrong_type_string)
{
    struct dba_err err = load_fail("profiles: { a: { url = 5; }; };\n");

    cr_expect_str_eq(err.msg, "db-adapter.conf:1: profiles.a.url: expected a string");
}

Test(config, wrong_type_list_element)
{
    struct dba_err err = load_fail("profiles: { a: { url = \"postgresql:///a\";\n"
        "  schemas = ( \"public\", 3 ); }; };\n");

    cr_expect_str_eq(err.msg, "db-adapter.conf:2: profiles.a.schemas[1]: expected a string");
}

Test(config, wrong_type_group)
{
    struct dba_err err = load_fail("server = 5;\n" ONE_PROFILE);

    cr_expect(strstr(err.msg, "db-adapter.conf:1: server: expected a group") != NULL, "%s",
        err.msg);
}

Test(config, out_of_range)
{
    struct dba_err err = load_fail("server: { port = 70000; };\n" ONE_PROFILE);

    cr_expect(strstr(err.msg, "db-adapter.conf:1: server.port: 70000 is out of range") != NULL,
        "%s", err.msg);
}

Test(config, empty_schemas_rejected)
{
    struct dba_err err = load_fail("profiles: { a: { url = \"postgresql:///a\";\n"
        "  schemas = [ ]; }; };");

    cr_expect(strstr(err.msg, "profiles.a.schemas: must not be empty") != NULL, "%s", err.msg);
}

Test(config, bad_base_path)
{
    struct dba_err err = load_fail("server: { base_path = \"tables/\"; };\n" ONE_PROFILE);

    cr_expect(strstr(err.msg, "server.base_path") != NULL, "%s", err.msg);
}

Test(config, unknown_server_key)
{
    struct dba_err err = load_fail("server: {\n  port = 1;\n  prot = 2;\n};\n" ONE_PROFILE);

    cr_expect_str_eq(err.msg, "db-adapter.conf:3: server.prot: unknown key");
    cr_expect(strstr(err.hint, "port") != NULL, "%s", err.hint);
}

Test(config, unknown_profile_key)
{
    struct dba_err err = load_fail("profiles: {\n  a: { url = \"postgresql:///a\";\n"
        "    pasword_env = \"X\"; };\n};\n");

    cr_expect_str_eq(err.msg, "db-adapter.conf:3: profiles.a.pasword_env: unknown key");
}

Test(config, unknown_top_level_group_accepted)
{
    struct dba_config *c = load_ok("backup: { tables = ( { name = \"x\"; } ); };\n"
        "sync: { tables = [ \"a\" ]; };\n" ONE_PROFILE);
    const config_setting_t *g = dba_config_group_get(c, "backup");

    cr_assert_not_null(g);
    cr_expect_not_null(config_setting_get_member(g, "tables"));
    cr_expect_not_null(dba_config_group_get(c, "sync"));
    cr_expect_null(dba_config_group_get(c, "nope"));
    cr_expect_eq(c->backup.n_tables, 1);
    cr_expect_eq(c->sync.tables.n, 1);
    dba_config_free(c);
}

Test(config, unknown_top_level_scalar_rejected)
{
    struct dba_err err = load_fail(ONE_PROFILE "defualt_profile = \"local\";\n");

    cr_expect_str_eq(err.msg, "db-adapter.conf:2: defualt_profile: unknown key");
}

Test(config, missing_url)
{
    struct dba_err err = load_fail("profiles: {\n  a: { description = \"x\"; };\n};\n");

    cr_expect_str_eq(err.msg, "db-adapter.conf:2: profiles.a: missing required key 'url'");
}

Test(config, invalid_url_hides_text)
{
    struct dba_err err = load_fail("profiles: { a: {\n"
        "  url = \"postgresql://u:pw@h:5432/d?bogus=%zz\"; }; };");

    cr_expect(strstr(err.msg, "profiles.a.url: invalid connection string") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "pw") == NULL, "%s", err.msg);
}

Test(config, profile_not_a_group)
{
    struct dba_err err = load_fail("profiles: { a = \"postgresql:///a\"; };\n");

    cr_expect(strstr(err.msg, "db-adapter.conf:1: profiles.a: expected a group") != NULL, "%s",
        err.msg);
}

Test(config, default_profile_unknown)
{
    struct dba_err err = load_fail("default_profile = \"prod\";\n" TWO_PROFILES);

    cr_expect_str_eq(err.msg, "db-adapter.conf:1: default_profile: no profile named 'prod'");
    cr_expect_str_eq(err.hint, "available profiles: a, b");
}

Test(config, both_password_sources_rejected)
{
    struct dba_err err = load_fail("profiles: { a: { url = \"postgresql:///a\";\n"
        "  db_password = \"x\";"
        " password_env = \"DB_PASSWORD\"; }; };\n");

    cr_expect(strstr(err.msg, "mutually exclusive") != NULL, "%s", err.msg);
}

Test(config, explicit_missing_file)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    setenv("DATABASE_URL", "postgresql:///x", 1);
    cr_assert_eq(dba_config_load("nope.conf", true, NULL, &c, &err), DBA_EINVAL);
    cr_expect_null(c);
    cr_expect_str_eq(err.msg, "nope.conf: config file not found");
    cr_expect_eq(err.http_status, 0);
}

Test(config, explicit_path_loaded)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    write_file("other.conf", ONE_PROFILE);
    cr_assert_eq(dba_config_load("other.conf", true, NULL, &c, &err), DBA_OK, "%s", err.msg);
    cr_expect_str_eq(c->path, "other.conf");
    dba_config_free(c);
}

Test(config, bad_env_prefix)
{
    struct dba_err err = load_fail("env_prefix = \"MC-\";\n" ONE_PROFILE);

    cr_expect(strstr(err.msg, "db-adapter.conf:1: env_prefix:") != NULL, "%s", err.msg);
}

/* ---- implicit config ---- */

Test(config, implicit_nothing)
{
    struct dba_config *c = load_ok(NULL);
    const struct dba_profile *p = NULL;
    struct dba_err err;

    cr_expect_null(c->path);
    cr_expect_eq(c->n_profiles, 0);
    cr_expect_eq(dba_config_active_profile(c, NULL, &p, NULL, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.msg, "no database profile configured");
    cr_expect(strstr(err.hint, "db-adapter.conf") != NULL, "%s", err.hint);
    cr_expect(strstr(err.hint, "DATABASE_URL") != NULL, "%s", err.hint);
    dba_config_free(c);
}

Test(config, implicit_database_url)
{
    struct dba_config *c;
    const char *src = NULL;
    const struct dba_profile *p;

    setenv("DATABASE_URL", "postgresql://u:pw@db:5433/app", 1);
    c = load_ok(NULL);
    cr_assert_eq(c->n_profiles, 1);
    cr_expect_str_eq(c->profiles[0].name, "default");
    cr_expect_str_eq(c->profiles[0].description, "from DATABASE_URL");
    cr_expect(c->profiles[0].implicit);
    cr_expect_str_eq(c->default_profile, "default");
    p = active(c, NULL, &src);
    cr_expect_str_eq(p->name, "default");
    cr_expect_str_eq(src, "DATABASE_URL");
    dba_config_free(c);
}

Test(config, implicit_prefixed_url_wins)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    setenv("DATABASE_URL", "postgresql:///plain", 1);
    setenv("MC_DATABASE_URL", "postgresql:///prefixed", 1);
    cr_assert_eq(dba_config_load(NULL, false, "MC_", &c, &err), DBA_OK);
    cr_assert_eq(c->n_profiles, 1);
    cr_expect_str_eq(c->profiles[0].url, "postgresql:///prefixed");
    cr_expect_str_eq(c->profiles[0].description, "from MC_DATABASE_URL");
    cr_expect_str_eq(c->implicit_var, "MC_DATABASE_URL");
    dba_config_free(c);
}

Test(config, implicit_prefix_falls_back_to_plain)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    setenv("DATABASE_URL", "postgresql:///plain", 1);
    setenv("MC_DATABASE_URL", "", 1);
    cr_assert_eq(dba_config_load(NULL, false, "MC_", &c, &err), DBA_OK);
    cr_assert_eq(c->n_profiles, 1);
    cr_expect_str_eq(c->profiles[0].url, "postgresql:///plain");
    cr_expect_str_eq(c->profiles[0].description, "from DATABASE_URL");
    dba_config_free(c);
}

Test(config, implicit_empty_url_is_unset)
{
    struct dba_config *c;

    setenv("DATABASE_URL", "", 1);
    c = load_ok(NULL);
    cr_expect_eq(c->n_profiles, 0);
    dba_config_free(c);
}

Test(config, implicit_invalid_url)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    setenv("DATABASE_URL", "postgresql://h/d?x=%zz", 1);
    cr_expect_eq(dba_config_load(NULL, false, NULL, &c, &err), DBA_EINVAL);
    cr_expect_str_eq(err.msg, "DATABASE_URL: invalid connection string");
}

Test(config, file_without_profiles_uses_database_url)
{
    struct dba_config *c;

    setenv("DATABASE_URL", "postgresql:///x", 1);
    c = load_ok("server: { port = 1; };\n");
    cr_expect_str_eq(c->path, "./db-adapter.conf");
    cr_assert_eq(c->n_profiles, 1);
    cr_expect_str_eq(c->profiles[0].name, "default");
    cr_expect_eq(c->profiles[0].statement_timeout_ms, 30000);
    dba_config_free(c);
}

Test(config, file_profiles_ignore_database_url)
{
    struct dba_config *c;

    setenv("DATABASE_URL", "postgresql:///x", 1);
    c = load_ok(ONE_PROFILE);
    cr_expect_eq(c->n_profiles, 1);
    cr_expect_str_eq(c->profiles[0].name, "local");
    dba_config_free(c);
}

/* ---- active profile order ---- */

Test(config, active_cli_beats_everything)
{
    struct dba_config *c = load_ok("default_profile = \"a\";\n" TWO_PROFILES);
    struct dba_err err;
    const char *src;

    setenv("DB_PROFILE", "a", 1);
    cr_assert_eq(dba_config_lock_write("a", &err), DBA_OK);
    cr_expect_str_eq(active(c, "b", &src)->name, "b");
    cr_expect_str_eq(src, "--profile");
    dba_config_free(c);
}

Test(config, active_env_beats_lock)
{
    struct dba_config *c = load_ok("default_profile = \"a\";\n" TWO_PROFILES);
    struct dba_err err;
    const char *src;

    setenv("DB_PROFILE", " b ", 1);
    cr_assert_eq(dba_config_lock_write("a", &err), DBA_OK);
    cr_expect_str_eq(active(c, NULL, &src)->name, "b");
    cr_expect_str_eq(src, "DB_PROFILE");
    dba_config_free(c);
}

Test(config, active_lock_beats_default)
{
    struct dba_config *c = load_ok("default_profile = \"a\";\n" TWO_PROFILES);
    struct dba_err err;
    const char *src;

    cr_assert_eq(dba_config_lock_write("b", &err), DBA_OK);
    cr_expect_str_eq(active(c, NULL, &src)->name, "b");
    cr_expect_str_eq(src, ".db-profile");
    dba_config_free(c);
}

Test(config, active_default_profile)
{
    struct dba_config *c = load_ok("default_profile = \"b\";\n" TWO_PROFILES);
    const char *src;

    cr_expect_str_eq(active(c, NULL, &src)->name, "b");
    cr_expect_str_eq(src, "default_profile");
    dba_config_free(c);
}

Test(config, active_only_profile)
{
    struct dba_config *c = load_ok(ONE_PROFILE);
    const char *src;

    cr_expect_str_eq(active(c, NULL, &src)->name, "local");
    cr_expect_str_eq(src, "only profile");
    dba_config_free(c);
}

Test(config, active_blank_values_fall_through)
{
    struct dba_config *c = load_ok("default_profile = \"a\";\n" TWO_PROFILES);
    const char *src;

    setenv("DB_PROFILE", "  ", 1);
    write_file(".db-profile", " \n");
    cr_expect_str_eq(active(c, "", &src)->name, "a");
    cr_expect_str_eq(src, "default_profile");
    dba_config_free(c);
}

Test(config, active_none_selected)
{
    struct dba_config *c = load_ok(TWO_PROFILES);
    const struct dba_profile *p = NULL;
    struct dba_err err;

    cr_expect_eq(dba_config_active_profile(c, NULL, &p, NULL, &err), DBA_ENOTFOUND);
    cr_expect_null(p);
    cr_expect(strstr(err.msg, "no active profile") != NULL, "%s", err.msg);
    cr_expect(strstr(err.hint, "--profile") != NULL, "%s", err.hint);
    dba_config_free(c);
}

Test(config, active_unknown_lists_available)
{
    struct dba_config *c = load_ok(TWO_PROFILES);
    const struct dba_profile *p = NULL;
    struct dba_err err;

    cr_expect_eq(dba_config_active_profile(c, "x", &p, NULL, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.msg, "unknown profile 'x' (from --profile); available: a, b");
    cr_expect_str_eq(err.pgrst, DBA_CONFIG_CODE_PROFILE);
    cr_expect_eq(err.http_status, 0);
    dba_config_free(c);
}

Test(config, active_unknown_from_lock)
{
    struct dba_config *c = load_ok(TWO_PROFILES);
    const struct dba_profile *p = NULL;
    struct dba_err err;

    write_file(".db-profile", "gone\n");
    cr_expect_eq(dba_config_active_profile(c, NULL, &p, NULL, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.msg, "unknown profile 'gone' (from .db-profile); available: a, b");
    dba_config_free(c);
}

Test(config, env_prefix_literal_concatenation)
{
    struct dba_config *c = load_ok("env_prefix = \"MC_\";\n" TWO_PROFILES);
    const struct dba_profile *p = NULL;
    struct dba_err err;
    const char *src;

    setenv("DB_PROFILE", "a", 1);
    setenv("MC_DB_PROFILE", "b", 1);
    cr_expect_str_eq(c->profile_env_var, "MC_DB_PROFILE");
    cr_expect_str_eq(active(c, NULL, &src)->name, "b");
    cr_expect_str_eq(src, "MC_DB_PROFILE");
    setenv("MC_DB_PROFILE", "zz", 1);
    cr_expect_eq(dba_config_active_profile(c, NULL, &p, &src, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.msg, "unknown profile 'zz' (from MC_DB_PROFILE); available: a, b");
    dba_config_free(c);
}

Test(config, env_prefix_without_underscore)
{
    struct dba_config *c = NULL;
    struct dba_err err;
    const char *src;

    write_file("db-adapter.conf", TWO_PROFILES);
    setenv("MC_DB_PROFILE", "a", 1);
    setenv("MCDB_PROFILE", "b", 1);
    cr_assert_eq(dba_config_load(NULL, false, "MC", &c, &err), DBA_OK);
    cr_expect_str_eq(c->profile_env_var, "MCDB_PROFILE");
    cr_expect_str_eq(active(c, NULL, &src)->name, "b");
    dba_config_free(c);
}

Test(config, env_prefix_cli_overrides_file)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    write_file("db-adapter.conf", "env_prefix = \"MC_\";\n" TWO_PROFILES);
    cr_assert_eq(dba_config_load(NULL, false, "", &c, &err), DBA_OK);
    cr_expect_str_eq(c->env_prefix, "");
    cr_expect_str_eq(c->profile_env_var, "DB_PROFILE");
    dba_config_free(c);
}

/* ---- lock file ---- */

Test(config, lock_missing)
{
    char buf[64] = "junk";

    cr_expect_eq(dba_config_lock_read(buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "");
}

Test(config, lock_write_read)
{
    char buf[64];
    struct dba_err err;
    struct stat st;

    cr_assert_eq(dba_config_lock_write("prod", &err), DBA_OK);
    cr_assert_eq(stat(".db-profile", &st), 0);
    cr_expect_eq(st.st_size, 4, "no newline expected");
    cr_expect_eq(dba_config_lock_read(buf, sizeof(buf)), 4);
    cr_expect_str_eq(buf, "prod");
    cr_assert_eq(dba_config_lock_write("dev", &err), DBA_OK);
    cr_expect_eq(dba_config_lock_read(buf, sizeof(buf)), 3);
    cr_expect_str_eq(buf, "dev");
}

Test(config, lock_write_leaves_no_temp)
{
    struct dba_err err;
    char tmp[64];

    cr_assert_eq(dba_config_lock_write("prod", &err), DBA_OK);
    snprintf(tmp, sizeof(tmp), ".db-profile.tmp.%ld", (long)getpid());
    cr_expect_neq(access(tmp, F_OK), 0);
}

Test(config, lock_trimmed)
{
    char buf[64];

    write_file(".db-profile", "  staging \r\n");
    cr_expect_eq(dba_config_lock_read(buf, sizeof(buf)), 7);
    cr_expect_str_eq(buf, "staging");
}

Test(config, lock_empty)
{
    char buf[64];

    write_file(".db-profile", "");
    cr_expect_eq(dba_config_lock_read(buf, sizeof(buf)), 0);
    write_file(".db-profile", "\n\t \n");
    cr_expect_eq(dba_config_lock_read(buf, sizeof(buf)), 0);
}

Test(config, lock_too_long_for_buffer)
{
    char buf[4];

    write_file(".db-profile", "staging");
    cr_expect_eq(dba_config_lock_read(buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "");
}

Test(config, lock_write_rejects_bad_names)
{
    struct dba_err err;

    cr_expect_eq(dba_config_lock_write("", &err), DBA_EINVAL);
    cr_expect_eq(dba_config_lock_write("a\nb", &err), DBA_EINVAL);
    cr_expect_neq(access(".db-profile", F_OK), 0);
}

Test(config, lock_clear)
{
    struct dba_err err;
    char buf[64];

    cr_assert_eq(dba_config_lock_write("prod", &err), DBA_OK);
    cr_expect_eq(dba_config_lock_clear(&err), DBA_OK);
    cr_expect_eq(dba_config_lock_read(buf, sizeof(buf)), 0);
    cr_expect_eq(dba_config_lock_clear(&err), DBA_OK);
}

/* ---- passwords and connection strings ---- */

static struct dba_profile
profile_with(const char *url, const char *password)
{
    struct dba_profile p;

    memset(&p, 0, sizeof(p));
    p.name = (char *)(uintptr_t)"t";
    p.url = (char *)(uintptr_t)url;
    p.password = (char *)(uintptr_t)password;
    return p;
}

/* The password libpq would see for conninfo s. */
static char *
libpq_password(const char *s)
{
    PQconninfoOption *o = PQconninfoParse(s, NULL);
    char *pw = NULL;

    cr_assert_not_null(o, "libpq rejects: %s", s);
    for (PQconninfoOption *i = o; i->keyword != NULL; i++)
        if (strcmp(i->keyword, "password") == 0 && i->val != NULL)
            pw = strdup(i->val);
    PQconninfoFree(o);
    return pw;
}

Test(config, placeholder_url_encoded)
{
    struct dba_config *c = load_ok("profiles: { a: {\n"
        "  url = \"postgresql://app:[YOUR-PASSWORD]@localhost:5432/app\";\n"
        "  db_password = \"p@ss/w0rd\"; }; };\n");
    char *s = dba_config_profile_conninfo(&c->profiles[0]);
    char *pw = libpq_password(s);

    cr_expect_str_eq(s, "postgresql://app:p%40ss%2Fw0rd@localhost:5432/app");
    cr_expect_str_eq(pw, "p@ss/w0rd");
    free(pw);
    free(s);
    dba_config_free(c);
}

Test(config, placeholder_encodes_non_unreserved)
{
    struct dba_profile p = profile_with("postgres://u:[YOUR-PASSWORD]@h/d", "a-b_c.d~e f:%é");
    char *s = dba_config_profile_conninfo(&p);

    cr_expect_str_eq(s, "postgres://u:a-b_c.d~e%20f%3A%25%C3%A9@h/d");
    free(s);
}

Test(config, password_env_resolved)
{
    struct dba_config *c;
    struct dba_err err;
    char *s;

    setenv("DB_PASSWORD", "from env", 1);
    c = load_ok("profiles: { a: { url = \"postgresql://u:[YOUR-PASSWORD]@h/d\";\n"
        "  password_env = \"DB_PASSWORD\"; }; };\n");
    cr_expect_str_eq(c->profiles[0].password_env, "DB_PASSWORD");
    cr_expect_str_eq(c->profiles[0].password, "from env");
    cr_expect_eq(dba_config_profile_check(&c->profiles[0], &err), DBA_OK);
    s = dba_config_profile_conninfo(&c->profiles[0]);
    cr_expect_str_eq(s, "postgresql://u:from%20env@h/d");
    free(s);
    dba_config_free(c);
}

Test(config, password_env_unset)
{
    struct dba_config *c = load_ok("profiles: { a: {\n"
        "  url = \"postgresql://u:[YOUR-PASSWORD]@h/d\"; password_env = \"DB_PASSWORD\"; }; };\n");
    struct dba_err err;
    char *s;

    cr_expect_null(c->profiles[0].password);
    cr_expect_eq(dba_config_profile_check(&c->profiles[0], &err), DBA_EINVAL);
    cr_expect(strstr(err.msg, "DB_PASSWORD is not set") != NULL, "%s", err.msg);
    s = dba_config_profile_conninfo(&c->profiles[0]);
    cr_expect_str_eq(s, "postgresql://u:@h/d");
    free(s);
    dba_config_free(c);
}

Test(config, db_password_literal_not_env_name)
{
    struct dba_config *c;

    setenv("DB_PASSWORD", "env-value", 1);
    c = load_ok("profiles: { a: { url = \"postgresql:///d\"; db_password = \"DB_PASSWORD\"; }; };");
    cr_expect_str_eq(c->profiles[0].password, "DB_PASSWORD");
    dba_config_free(c);
}

Test(config, url_without_placeholder_gets_password_param)
{
    struct dba_profile p = profile_with("postgresql://u@h/d", "p@ss");
    struct dba_profile q = profile_with("postgresql://u@h/d?sslmode=require", "p@ss");
    struct dba_profile r = profile_with("postgresql://u:own@h/d", "p@ss");
    char *s = dba_config_profile_conninfo(&p), *t = dba_config_profile_conninfo(&q);
    char *u = dba_config_profile_conninfo(&r), *pw = libpq_password(t);

    cr_expect_str_eq(s, "postgresql://u@h/d?password=p%40ss");
    cr_expect_str_eq(t, "postgresql://u@h/d?sslmode=require&password=p%40ss");
    cr_expect_str_eq(pw, "p@ss");
    cr_expect_str_eq(u, "postgresql://u:own@h/d");
    free(s);
    free(t);
    free(u);
    free(pw);
}

Test(config, url_without_password_unchanged)
{
    struct dba_profile p = profile_with("postgresql://u@h/d", NULL);
    char *s = dba_config_profile_conninfo(&p);

    cr_expect_str_eq(s, "postgresql://u@h/d");
    free(s);
}

Test(config, keyword_placeholder_quoted)
{
    struct dba_profile p = profile_with("host=h dbname=d password=[YOUR-PASSWORD]", "it's a \\ pw");
    char *s = dba_config_profile_conninfo(&p);
    char *pw = libpq_password(s);

    cr_expect_str_eq(s, "host=h dbname=d password='it\\'s a \\\\ pw'");
    cr_expect_str_eq(pw, "it's a \\ pw");
    free(pw);
    free(s);
}

Test(config, keyword_placeholder_already_quoted)
{
    struct dba_profile p = profile_with("host=h password='[YOUR-PASSWORD]' dbname=d", "a'b");
    char *s = dba_config_profile_conninfo(&p);
    char *pw = libpq_password(s);

    cr_expect_str_eq(s, "host=h password='a\\'b' dbname=d");
    cr_expect_str_eq(pw, "a'b");
    free(pw);
    free(s);
}

Test(config, keyword_password_appended)
{
    struct dba_profile p = profile_with("host=h dbname=d", "p w");
    struct dba_profile q = profile_with("host=h password=own dbname=d", "p w");
    char *s = dba_config_profile_conninfo(&p), *t = dba_config_profile_conninfo(&q);
    char *pw = libpq_password(s);

    cr_expect_str_eq(s, "host=h dbname=d password='p w'");
    cr_expect_str_eq(pw, "p w");
    cr_expect_str_eq(t, "host=h password=own dbname=d");
    free(pw);
    free(s);
    free(t);
}

Test(config, check_placeholder_without_any_password)
{
    struct dba_profile p = profile_with("postgresql://u:[YOUR-PASSWORD]@h/d", NULL);
    struct dba_profile q = profile_with("postgresql://u@h/d", NULL);
    struct dba_err err;

    cr_expect_eq(dba_config_profile_check(&p, &err), DBA_EINVAL);
    cr_expect(strstr(err.msg, "no password is configured") != NULL, "%s", err.msg);
    cr_expect_eq(dba_config_profile_check(&q, &err), DBA_OK);
}

/* ---- display ---- */

Test(config, display_url)
{
    struct dba_profile p = profile_with("postgresql://app:[YOUR-PASSWORD]@db.example:6543/shop",
        "p@ss/w0rd");
    char *s = dba_config_profile_display(&p);

    cr_expect_str_eq(s, "db.example:6543/shop");
    cr_expect(strstr(s, "p@ss") == NULL && strstr(s, "p%40") == NULL);
    cr_expect(strstr(s, "app") == NULL);
    free(s);
}

Test(config, display_never_shows_password)
{
    struct dba_profile p = profile_with("postgresql://admin:hunter2@h/d?password=hunter2", NULL);
    struct dba_profile q = profile_with("host=h user=admin password=hunter2 dbname=d", "x");
    char *s = dba_config_profile_display(&p), *t = dba_config_profile_display(&q);

    cr_expect_str_eq(s, "h:5432/d");
    cr_expect_str_eq(t, "h:5432/d");
    cr_expect(strstr(s, "hunter2") == NULL && strstr(t, "hunter2") == NULL);
    cr_expect(strstr(s, "admin") == NULL && strstr(t, "admin") == NULL);
    free(s);
    free(t);
}

Test(config, display_socket_and_defaults)
{
    struct dba_profile a = profile_with("host=/var/run/postgresql dbname=app", NULL);
    struct dba_profile b =
        profile_with("postgresql:///dba_test?host=/tmp/pg/sock&user=postgres", NULL);
    struct dba_profile c = profile_with("dbname=app", NULL);
    struct dba_profile d = profile_with("postgresql://[::1]:5433/app", NULL);
    struct dba_profile e = profile_with("not a = valid ' string", NULL);
    char *s[5] = {
        dba_config_profile_display(&a), dba_config_profile_display(&b),
        dba_config_profile_display(&c), dba_config_profile_display(&d),
        dba_config_profile_display(&e),
    };

    cr_expect_str_eq(s[0], "socket:/var/run/postgresql/app");
    cr_expect_str_eq(s[1], "socket:/tmp/pg/sock/dba_test");
    cr_expect_str_eq(s[2], "socket:default/app");
    cr_expect_str_eq(s[3], "[::1]:5433/app");
    cr_expect_str_eq(s[4], "(invalid connection string)");
    for (int i = 0; i < 5; i++)
        free(s[i]);
}

Test(config, profile_get)
{
    struct dba_config *c = load_ok(TWO_PROFILES);

    cr_expect_str_eq(dba_config_profile_get(c, "b")->url, "postgresql://localhost/b");
    cr_expect_null(dba_config_profile_get(c, "c"));
    dba_config_free(c);
}

Test(config, err_at_for_other_modules)
{
    /* backup and sync are typed since issue 9; a future module's group is read the old way. */
    struct dba_config *c = load_ok("future: {\n  tables = 5;\n  extra = 1;\n};\n" ONE_PROFILE);
    const config_setting_t *g = dba_config_group_get(c, "future");
    static const char *const allowed[] = { "tables", NULL };
    struct dba_err err;

    cr_expect_eq(dba_config_err_at(&err, c, config_setting_get_member(g, "tables"),
        "expected a list"), DBA_EINVAL);
    cr_expect_str_eq(err.msg, "./db-adapter.conf:2: future.tables: expected a list");
    cr_expect_eq(dba_config_keys_check(c, g, allowed, &err), DBA_EINVAL);
    cr_expect_str_eq(err.msg, "./db-adapter.conf:3: future.extra: unknown key");
    dba_config_free(c);
}

/* Background operations and shutdown (issue 8). */
Test(config, task_and_shutdown_keys)
{
    struct dba_config *c = load_ok(ONE_PROFILE);
    cr_expect_eq(c->server.task_threads, 2);
    cr_expect_eq(c->server.task_queue_limit, 16);
    cr_expect_eq(c->server.shutdown_timeout_ms, 10000);
    dba_config_free(c);
    c = load_ok("server: { task_threads = 4; task_queue_limit = 0; shutdown_timeout_ms = 0; };\n"
                ONE_PROFILE);
    cr_expect_eq(c->server.task_threads, 4);
    cr_expect_eq(c->server.task_queue_limit, 0);
    cr_expect_eq(c->server.shutdown_timeout_ms, 0);
    dba_config_free(c);
    struct dba_err err = load_fail("server: { task_threads = 0; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "server.task_threads: 0 is out of range") != NULL, "%s", err.msg);
}

/* The backup and sync groups as typed structs (issue 9). */
Test(config, backup_group_typed)
{
    struct dba_config *c = load_ok("backup: {\n  dir = \"bk\";\n  tables = (\n"
        "    { name = \"users\"; slug = \"handle\"; },\n"
        "    { name = \"posts\"; pk = \"pid\"; user_field = \"user_id\";\n"
        "      parent = { table = \"users\"; field = \"author\"; };\n"
        "      optional_refs = ( { table = \"posts\"; field = \"reply_to\"; } ); },\n"
        "    { name = \"tags\"; slug_field = \"label\"; }\n  );\n};\n" ONE_PROFILE);
    const struct dba_config_backup *b = &c->backup;

    cr_assert_eq(b->n_tables, 3);
    cr_expect_str_eq(b->dir, "bk");
    cr_expect_eq(b->line, 3);
    cr_expect_str_eq(b->tables[0].name, "users");
    cr_expect_str_eq(b->tables[0].pk, "id", "default pk");
    cr_expect_str_eq(b->tables[0].slug, "handle");
    cr_expect_null(b->tables[0].parent.table);
    cr_expect_str_eq(b->tables[1].pk, "pid");
    cr_expect_str_eq(b->tables[1].slug, "slug", "default slug");
    cr_expect_str_eq(b->tables[1].user_field, "user_id");
    cr_expect_str_eq(b->tables[1].parent.table, "users");
    cr_expect_str_eq(b->tables[1].parent.field, "author");
    cr_assert_eq(b->tables[1].n_optional_refs, 1);
    cr_expect_str_eq(b->tables[1].optional_refs[0].field, "reply_to");
    cr_expect_str_eq(b->tables[2].slug, "label", "slug_field is the original's spelling");
    cr_expect_eq(c->sync.tables.n, 0);
    dba_config_free(c);
}

Test(config, sync_group_typed)
{
    struct dba_config *c = load_ok("sync: { tables = [ \"a\", \"b\" ]; };\n" ONE_PROFILE);

    cr_assert_eq(c->sync.tables.n, 2);
    cr_expect_str_eq(c->sync.tables.v[1], "b");
    cr_expect_null(c->backup.tables);
    dba_config_free(c);
    c = load_ok("sync: { tables = \"a,b\"; };\n" ONE_PROFILE);
    cr_assert_eq(c->sync.tables.n, 1);
    cr_expect_str_eq(c->sync.tables.v[0], "a,b");
    dba_config_free(c);
}

Test(config, bad_backup_and_sync_values_name_file_and_line)
{
    struct dba_err err = load_fail("backup: {\n  tables = 5;\n};\n" ONE_PROFILE);
    cr_expect_str_eq(err.msg, "db-adapter.conf:2: backup.tables: expected a list of groups, like "
        "( { name = \"t\"; } )");
    err = load_fail("backup: {\n  extra = 1;\n};\n" ONE_PROFILE);
    cr_expect_str_eq(err.msg, "db-adapter.conf:2: backup.extra: unknown key");
    err = load_fail("backup: { tables = (\n { pk = \"id\"; }\n); };\n" ONE_PROFILE);
    cr_expect_str_eq(err.msg, "db-adapter.conf:2: backup.tables[0]: every table needs a name");
    err = load_fail("backup: { tables = (\n { name = \"a\"; },\n { name = \"a\"; }\n); };\n"
        ONE_PROFILE);
    cr_expect(strstr(err.msg, "db-adapter.conf:3: ") == err.msg, "%s", err.msg);
    cr_expect(strstr(err.msg, "table 'a' is listed twice") != NULL, "%s", err.msg);
    err = load_fail("backup: { tables = ( { name = \"a\";\n pk = 7; } ); };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, ":2: ") != NULL && strstr(err.msg, "pk: expected a string") != NULL,
        "%s", err.msg);
    err = load_fail("backup: { tables = ( { name = \"a\";\n parent = { table = \"b\"; }; } ); };\n"
        ONE_PROFILE);
    cr_expect(strstr(err.msg, "needs a table and a field") != NULL, "%s", err.msg);
    err = load_fail("backup: { tables = ( ); };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "backup.tables: must not be empty") != NULL, "%s", err.msg);
    err = load_fail("sync: {\n tables = [ 1 ];\n};\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, ":2: sync.tables") != NULL, "%s", err.msg);
    err = load_fail("sync: {\n tabels = [ \"a\" ];\n};\n" ONE_PROFILE);
    cr_expect_str_eq(err.msg, "db-adapter.conf:2: sync.tabels: unknown key");
}

Test(config, tx_end_modes)
{
    static const char *const names[] = { "commit", "commit-allow-override", "rollback",
                                         "rollback-allow-override" };
    struct dba_config *c = load_ok(ONE_PROFILE);

    cr_expect_eq(c->server.tx_end, DBA_TX_COMMIT);
    dba_config_free(c);
    for (size_t i = 0; i < 4; i++) {
        char text[256];
        snprintf(text, sizeof(text), "server: { tx_end = \"%s\"; };\n" ONE_PROFILE, names[i]);
        c = load_ok(text);
        cr_expect_eq((int)c->server.tx_end, (int)i, "%s", names[i]);
        dba_config_free(c);
    }
    struct dba_err err = load_fail("server: { tx_end = \"abort\"; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "server.tx_end: must be \"commit\"") != NULL, "%s", err.msg);
}

Test(config, openapi_keys)
{
    static const char *const modes[] = { "follow-privileges", "ignore-privileges", "disabled" };
    struct dba_config *c = load_ok(ONE_PROFILE);

    cr_expect_eq(c->server.openapi_mode, DBA_OPENAPI_FOLLOW_PRIVILEGES);
    cr_expect_null(c->server.openapi_public_url);
    cr_expect_not(c->server.openapi_security_active);
    dba_config_free(c);
    for (size_t i = 0; i < 3; i++) {
        char text[512];
        snprintf(text, sizeof(text), "server: { openapi_mode = \"%s\"; openapi_public_url = "
                 "\"https://api.example.com/gw\"; openapi_security_active = true; };\n"
                 ONE_PROFILE, modes[i]);
        c = load_ok(text);
        cr_expect_eq((int)c->server.openapi_mode, (int)i, "%s", modes[i]);
        cr_expect_str_eq(c->server.openapi_public_url, "https://api.example.com/gw");
        cr_expect(c->server.openapi_security_active);
        dba_config_free(c);
    }
    struct dba_err err = load_fail("server: { openapi_mode = \"hidden\"; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "server.openapi_mode: must be") != NULL, "%s", err.msg);
    err = load_fail("server: { openapi_public_url = \"ftp://x\"; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "openapi_public_url: must be an http") != NULL, "%s", err.msg);
    err = load_fail("server: { openapi_public_url = \"https://\"; };\n" ONE_PROFILE);
    cr_expect(strstr(err.msg, "openapi_public_url") != NULL, "%s", err.msg);
}
