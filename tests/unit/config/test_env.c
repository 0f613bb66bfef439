/* test_env.c - configuration from the environment (DBA_*, DBA_PROFILE_*, PGRST_*) and --set:
   every key kind, precedence flag -> DBA_* -> PGRST_* -> file -> default, bad values. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_int.h"

extern char **environ;
static char tmpdir[64];

/* Removes every DBA_*, PGRST_* and DATABASE_URL variable the test runner may have. */
static void
env_clear(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "DBA_", 4) == 0 || strncmp(*e, "PGRST_", 6) == 0
                || strncmp(*e, "DATABASE_URL=", 13) == 0 || strncmp(*e, "DB_PROFILE=", 11) == 0) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof(name)) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        }
        if (name[0] == '\0')
            return;
        unsetenv(name);
    }
}

static void
setup(void)
{
    env_clear();
    strcpy(tmpdir, "/tmp/dba-env-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void
teardown(void)
{
    env_clear();
    unlink("db-adapter.conf");
    unlink(".db-profile");
    if (chdir("/") == 0)
        rmdir(tmpdir);
}

TestSuite(env, .init = setup, .fini = teardown);

static void
write_conf(const char *text)
{
    FILE *f = fopen("db-adapter.conf", "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static struct dba_config *
load_sets(const char *const *sets, size_t n)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    dba_err_clear(&err);
    cr_assert_eq(dba_config_load_ex(NULL, false, NULL, sets, n, &c, &err), DBA_OK, "load: %s",
                 err.msg);
    return c;
}

static struct dba_config *
load(void)
{
    return load_sets(NULL, 0);
}

static struct dba_err
load_fail_sets(const char *const *sets, size_t n)
{
    struct dba_config *c = NULL;
    struct dba_err err;

    dba_err_clear(&err);
    cr_assert_eq(dba_config_load_ex(NULL, false, NULL, sets, n, &c, &err), DBA_EINVAL,
                 "load should fail");
    cr_assert_null(c);
    return err;
}

static struct dba_err
load_fail(void)
{
    return load_fail_sets(NULL, 0);
}

static const char *
source_of(const struct dba_config *c, const char *key)
{
    const struct dba_config_origin *o = dba__config_origin(c, key);
    return o != NULL ? o->source : NULL;
}

Test(env, every_key_kind_without_a_file)
{
    setenv("DATABASE_URL", "postgresql://localhost/app", 1);
    setenv("DBA_SERVER_LISTEN", "127.0.0.1", 1);                      /* string */
    setenv("DBA_SERVER_PORT", "9001", 1);                             /* int */
    setenv("DBA_SERVER_MAX_BODY_BYTES", "1000", 1);                   /* int64 */
    setenv("DBA_SERVER_PLAN_ENABLED", "true", 1);                     /* bool */
    setenv("DBA_SERVER_SERVER_TIMING", "0", 1);                       /* bool, other spelling */
    setenv("DBA_SERVER_CORS_ALLOWED_ORIGINS", "https://a.test, https://b.test", 1); /* list */
    setenv("DBA_SERVER_TX_END", "rollback-allow-override", 1);        /* enum */
    setenv("DBA_SERVER_LOG_LEVEL", "warn", 1);
    setenv("DBA_SERVER_ACCESS_LOG", "json", 1);
    setenv("DBA_SCHEMA_EXCLUDE_TABLES", "", 1);                       /* empty list */
    setenv("DBA_ADMIN_PORT", "9002", 1);
    setenv("DBA_AUTH_ANON_ROLE", "web_anon", 1);
    setenv("DBA_AUTH_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    setenv("DBA_DEFAULT_PROFILE", "default", 1);
    struct dba_config *c = load();

    cr_expect_null(c->path);
    cr_expect_str_eq(c->server.listen, "127.0.0.1");
    cr_expect_eq(c->server.port, 9001);
    cr_expect_eq(c->server.max_body_bytes, 1000);
    cr_expect(c->server.plan_enabled);
    cr_expect_not(c->server.server_timing);
    cr_assert_eq(c->server.cors_allowed_origins.n, 2);
    cr_expect_str_eq(c->server.cors_allowed_origins.v[0], "https://a.test");
    cr_expect_str_eq(c->server.cors_allowed_origins.v[1], "https://b.test");
    cr_expect_eq(c->server.tx_end, DBA_TX_ROLLBACK_ALLOW_OVERRIDE);
    cr_expect_eq(c->server.log_level, DBA_LOG_WARN);
    cr_expect_eq(c->server.access_log, DBA_ACCESS_LOG_JSON);
    cr_expect_eq(c->exclude_tables.n, 0);
    cr_expect_eq(c->admin.port, 9002);
    cr_expect(c->auth.present);
    cr_expect_str_eq(c->auth.anon_role, "web_anon");
    cr_expect_str_eq(c->auth.jwt_secret, "0123456789abcdef0123456789abcdef");
    cr_expect_str_eq(c->server.base_path, "/tables"); /* no PGRST_*: default kept */
    cr_expect_str_eq(source_of(c, "server.port"), "DBA_SERVER_PORT");
    cr_assert_eq(c->n_profiles, 1);
    cr_expect(c->profiles[0].implicit);
    dba_config_free(c);
}

Test(env, profile_keys)
{
    write_conf("profiles: { prod: { url = \"postgresql://db/prod\"; pool_size = 4; }; };\n");
    setenv("DBA_PROFILE_PROD_POOL_SIZE", "12", 1);
    setenv("DBA_PROFILE_PROD_READ_ONLY", "yes", 1);
    setenv("DBA_PROFILE_PROD_SCHEMAS", "api,public", 1);
    setenv("DBA_PROFILE_PROD_AUTH_JWT_AUD", "aud1", 1);
    setenv("DBA_PROFILE_MY_STAGE_URL", "postgresql://db/stage", 1); /* name with '_' */
    setenv("DBA_PROFILE_MY_STAGE_STATEMENT_TIMEOUT_MS", "500", 1);
    struct dba_config *c = load();
    const struct dba_profile *p = dba_config_profile_get(c, "prod");

    cr_assert_not_null(p);
    cr_expect_eq(p->pool_size, 12);
    cr_expect(p->read_only);
    cr_assert_eq(p->schemas.n, 2);
    cr_expect_str_eq(p->schemas.v[0], "api");
    cr_assert_not_null(p->auth);
    cr_expect_str_eq(p->auth->jwt_aud, "aud1");
    const struct dba_profile *s = dba_config_profile_get(c, "my_stage");
    cr_assert_not_null(s);
    cr_expect_str_eq(s->url, "postgresql://db/stage");
    cr_expect_eq(s->statement_timeout_ms, 500);
    cr_expect_str_eq(source_of(c, "profiles.prod.pool_size"), "DBA_PROFILE_PROD_POOL_SIZE");
    dba_config_free(c);
}

Test(env, precedence_flag_env_pgrst_file_default)
{
    write_conf("server: { port = 7000; workers = 3; max_rows = 5; request_timeout_ms = 11; };\n"
               "profiles: { default: { url = \"postgresql://db/x\"; }; };\n");
    setenv("PGRST_SERVER_PORT", "7001", 1);
    setenv("PGRST_DB_MAX_ROWS", "6", 1);
    setenv("DBA_SERVER_PORT", "7002", 1);
    setenv("DBA_SERVER_WORKERS", "4", 1);
    const char *sets[] = { "server.port=7003" };
    struct dba_config *c = load_sets(sets, 1);

    cr_expect_eq(c->server.port, 7003);           /* flag */
    cr_expect_eq(c->server.workers, 4);           /* DBA_* over the file */
    cr_expect_eq(c->server.max_rows, 6);          /* PGRST_* over the file */
    cr_expect_eq(c->server.request_timeout_ms, 11); /* file over the default */
    cr_expect_eq(c->server.queue_limit, 1024);    /* default */
    cr_expect_str_eq(source_of(c, "server.port"), "--set");
    cr_expect_str_eq(source_of(c, "server.workers"), "DBA_SERVER_WORKERS");
    cr_expect_null(source_of(c, "server.request_timeout_ms"));
    /* PGRST_* present, base_path not configured: served at the root. */
    cr_expect_str_eq(c->server.base_path, "");
    dba_config_free(c);
}

Test(env, pgrst_names)
{
    setenv("PGRST_DB_URI", "postgresql://u@db:5432/app", 1);
    setenv("PGRST_DB_SCHEMAS", "api, public", 1);
    setenv("PGRST_DB_ANON_ROLE", "anon", 1);
    setenv("PGRST_DB_POOL", "7", 1);
    setenv("PGRST_DB_MAX_ROWS", "100", 1);
    setenv("PGRST_DB_TX_END", "commit-allow-override", 1);
    setenv("PGRST_DB_PRE_REQUEST", "api.check", 1);
    setenv("PGRST_DB_AGGREGATES_ENABLED", "true", 1);
    setenv("PGRST_JWT_SECRET", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", 1);
    setenv("PGRST_JWT_SECRET_IS_BASE64", "true", 1);
    setenv("PGRST_JWT_AUD", "myaud", 1);
    setenv("PGRST_JWT_ROLE_CLAIM_KEY", ".app.role", 1);
    setenv("PGRST_SERVER_HOST", "*4", 1);
    setenv("PGRST_SERVER_PORT", "3000", 1);
    setenv("PGRST_SERVER_CORS_ALLOWED_ORIGINS", "https://x.test", 1);
    setenv("PGRST_ADMIN_SERVER_PORT", "3001", 1);
    setenv("PGRST_LOG_LEVEL", "crit", 1);
    struct dba_config *c = load();

    cr_assert_eq(c->n_profiles, 1);
    const struct dba_profile *p = &c->profiles[0];
    cr_expect_str_eq(p->name, "default");
    cr_expect_str_eq(p->url, "postgresql://u@db:5432/app");
    cr_assert_eq(p->schemas.n, 2);
    cr_expect_str_eq(p->schemas.v[1], "public");
    cr_expect_eq(p->pool_size, 7);
    cr_expect_str_eq(c->auth.anon_role, "anon");
    cr_expect_eq(c->server.max_rows, 100);
    cr_expect_eq(c->server.tx_end, DBA_TX_COMMIT_ALLOW_OVERRIDE);
    cr_expect_str_eq(c->auth.pre_request, "api.check");
    cr_expect(c->server.aggregates_enabled);
    cr_expect(c->auth.jwt_secret_is_base64);
    cr_expect_str_eq(c->auth.jwt_aud, "myaud");
    cr_expect_str_eq(c->auth.role_claim_key, ".app.role");
    cr_expect_str_eq(c->server.listen, "0.0.0.0");
    cr_expect_eq(c->server.port, 3000);
    cr_expect_str_eq(c->server.cors_allowed_origins.v[0], "https://x.test");
    cr_expect_eq(c->admin.port, 3001);
    cr_expect_eq(c->server.log_level, DBA_LOG_CRIT);
    cr_expect_str_eq(c->server.base_path, "");
    cr_expect(c->pgrst);
    dba_config_free(c);
}

/* PostgREST's db-plan-enabled, server-timing-enabled and server-trace-header. */
Test(env, pgrst_plan_timing_trace)
{
    setenv("PGRST_DB_URI", "postgresql://db/app", 1);
    setenv("PGRST_DB_PLAN_ENABLED", "true", 1);
    setenv("PGRST_SERVER_TIMING_ENABLED", "true", 1);
    setenv("PGRST_SERVER_TRACE_HEADER", "X-Request-Id", 1);
    struct dba_config *c = load();
    cr_expect(c->server.plan_enabled);
    cr_expect(c->server.server_timing);
    cr_expect_str_eq(c->server.trace_header, "X-Request-Id");
    cr_expect_str_eq(source_of(c, "server.trace_header"), "PGRST_SERVER_TRACE_HEADER");
    dba_config_free(c);
}

Test(env, base_path_wins_over_pgrst_root)
{
    setenv("PGRST_DB_URI", "postgresql://db/app", 1);
    setenv("DBA_SERVER_BASE_PATH", "/api", 1);
    struct dba_config *c = load();
    cr_expect_str_eq(c->server.base_path, "/api");
    dba_config_free(c);
}

Test(env, bad_values_name_the_variable)
{
    static const struct {
        const char *var, *value, *expect;
    } cases[] = {
        { "DBA_SERVER_PORT", "80x", "DBA_SERVER_PORT: expected an integer, got '80x'" },
        { "DBA_SERVER_PORT", "70000", "DBA_SERVER_PORT (server.port): 70000 is out of range" },
        { "DBA_SERVER_PLAN_ENABLED", "maybe", "DBA_SERVER_PLAN_ENABLED: expected true or false" },
        { "DBA_SERVER_TX_END", "sometimes", "DBA_SERVER_TX_END (server.tx_end): must be" },
        { "DBA_SERVER_LOG_LEVEL", "loud", "DBA_SERVER_LOG_LEVEL (server.log_level): must be" },
        { "DBA_SERVER_BASE_PATH", "api/", "DBA_SERVER_BASE_PATH (server.base_path): must be" },
        { "PGRST_DB_POOL", "0", "PGRST_DB_POOL (profiles.default.pool_size): 0 is out of range" },
        { "DBA_PROFILE_X_COLOUR", "red", "DBA_PROFILE_X_COLOUR: not a profile key" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_clear();
        setenv("DATABASE_URL", "postgresql://db/app", 1);
        setenv(cases[i].var, cases[i].value, 1);
        struct dba_err err = load_fail();
        cr_expect(strstr(err.msg, cases[i].expect) != NULL, "%s=%s: got '%s'", cases[i].var,
                  cases[i].value, err.msg);
    }
}

Test(env, set_flag_errors)
{
    const char *unknown[] = { "server.colour=red" };
    struct dba_err err = load_fail_sets(unknown, 1);
    cr_expect(strstr(err.msg, "--set server.colour: unknown key") != NULL, "%s", err.msg);
    const char *bad[] = { "server.port=x" };
    err = load_fail_sets(bad, 1);
    cr_expect(strstr(err.msg, "--set: expected an integer") != NULL, "%s", err.msg);
}

Test(env, profile_from_variables_takes_database_url)
{
    setenv("DATABASE_URL", "postgresql://db/app", 1);
    setenv("DBA_PROFILE_DEFAULT_READ_ONLY", "true", 1);
    struct dba_config *c = load();
    cr_assert_eq(c->n_profiles, 1);
    cr_expect_str_eq(c->profiles[0].url, "postgresql://db/app");
    cr_expect(c->profiles[0].read_only);
    dba_config_free(c);
}

Test(env, every_table_key_has_a_variable)
{
    /* Each key of the table, set through its variable, reaches the tree with that origin. */
    for (size_t i = 0; i < dba__cfg_n_keys; i++) {
        const struct dba__cfg_key *k = &dba__cfg_keys[i];
        struct dba_buf var;
        dba_buf_init(&var);
        dba__cfg_env_name(&var, k, k->scope == DBA_CFGS_PROFILE ? "p1" : NULL, false);
        cr_expect(strncmp(var.data, "DBA_", 4) == 0);
        for (const char *s = var.data; *s != '\0'; s++)
            cr_expect((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_',
                      "%s", var.data);
        dba_buf_cleanup(&var);
    }
}
