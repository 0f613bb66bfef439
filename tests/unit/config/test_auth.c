/* test_auth.c - the `auth` config group: keys, defaults, jwt_secret_env, a profile's group over
   the top-level one, unknown keys, and no group at all. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static char tmpdir[64];

static void
setup(void)
{
    dba_mem_init();
    unsetenv("DATABASE_URL");
    unsetenv("DB_PROFILE");
    unsetenv("DBAT_JWT");
    strcpy(tmpdir, "/tmp/dba-cfgauth-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void
teardown(void)
{
    unlink("db-adapter.conf");
    if (chdir("/") == 0)
        rmdir(tmpdir);
}

TestSuite(config_auth, .init = setup, .fini = teardown);

static struct dba_config *
load(const char *text, struct dba_err *err)
{
    FILE *f = fopen("db-adapter.conf", "w");
    struct dba_config *c = NULL;
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    if (dba_config_load(NULL, false, NULL, &c, err) != DBA_OK)
        return NULL;
    return c;
}

#define PROFILES "profiles: { a: { url = \"postgresql://h/db\"; }; " \
                 "b: { url = \"postgresql://h/db\"; auth: { anon_role = \"b_anon\"; " \
                 "jwt_aud = \"b-api\"; admin_roles = [ \"b_admin\" ]; }; }; };\n"

Test(config_auth, top_level_and_profile_merge)
{
    struct dba_err err;
    struct dba_config *c = load(PROFILES
                                "auth: { jwt_secret = \"reallyreallyreallyreallyverysafe\"; "
                                "anon_role = \"web_anon\"; pre_request = \"auth.check\"; "
                                "role_claim_key = \".app.role\"; "
                                "admin_roles = [ \"service_role\" ]; };\n", &err);
    cr_assert_not_null(c, "%s", err.msg);
    const struct dba_config_auth *a = dba_config_auth_for(c, dba_config_profile_get(c, "a"));
    cr_expect(a->present);
    cr_expect_str_eq(a->jwt_secret, "reallyreallyreallyreallyverysafe");
    cr_expect_str_eq(a->anon_role, "web_anon");
    cr_expect_str_eq(a->pre_request, "auth.check");
    cr_expect_str_eq(a->role_claim_key, ".app.role");
    cr_expect_null(a->jwt_aud);
    cr_assert_eq(a->admin_roles.n, 1);
    cr_expect_str_eq(a->admin_roles.v[0], "service_role");
    /* profile b: its keys win, the others are inherited */
    const struct dba_config_auth *b = dba_config_auth_for(c, dba_config_profile_get(c, "b"));
    cr_expect(b->present);
    cr_expect_str_eq(b->jwt_secret, "reallyreallyreallyreallyverysafe");
    cr_expect_str_eq(b->anon_role, "b_anon");
    cr_expect_str_eq(b->jwt_aud, "b-api");
    cr_expect_str_eq(b->pre_request, "auth.check");
    cr_assert_eq(b->admin_roles.n, 1);
    cr_expect_str_eq(b->admin_roles.v[0], "b_admin");
    dba_config_free(c);
}

Test(config_auth, absent_means_off_and_defaults)
{
    struct dba_err err;
    struct dba_config *c = load("profiles: { a: { url = \"postgresql://h/db\"; }; };\n", &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_expect(!dba_config_auth_for(c, dba_config_profile_get(c, "a"))->present);
    dba_config_free(c);
    c = load("profiles: { a: { url = \"postgresql://h/db\"; auth: { anon_role = \"x\"; }; }; };\n",
             &err);
    cr_assert_not_null(c, "%s", err.msg);
    const struct dba_config_auth *a = dba_config_auth_for(c, dba_config_profile_get(c, "a"));
    cr_expect(a->present);
    cr_expect_str_eq(a->role_claim_key, ".role");
    cr_expect_null(a->jwt_secret);
    cr_expect(!dba_config_auth_for(c, NULL)->present);
    dba_config_free(c);
}

Test(config_auth, secret_from_env)
{
    struct dba_err err;
    setenv("DBAT_JWT", "from-the-environment-0123456789abcdef", 1);
    struct dba_config *c = load("profiles: { a: { url = \"postgresql://h/db\"; }; };\n"
                                "auth: { jwt_secret_env = \"DBAT_JWT\"; };\n", &err);
    cr_assert_not_null(c, "%s", err.msg);
    const struct dba_config_auth *a = dba_config_auth_for(c, NULL);
    cr_expect_str_eq(a->jwt_secret, "from-the-environment-0123456789abcdef");
    cr_expect_str_eq(a->jwt_secret_env, "DBAT_JWT");
    dba_config_free(c);
    unsetenv("DBAT_JWT");
}

Test(config_auth, unknown_key_and_bad_types)
{
    struct dba_err err;
    cr_expect_null(load("profiles: { a: { url = \"postgresql://h/db\"; }; };\n"
                        "auth: { jwt_secret = \"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\"; "
                        "anon_rol = \"x\"; };\n", &err));
    cr_expect(strstr(err.msg, "anon_rol") != NULL, "%s", err.msg);
    cr_expect_null(strstr(err.msg, "s3cr3t"), "secret in: %s", err.msg);
    cr_expect_null(load("profiles: { a: { url = \"postgresql://h/db\"; }; };\n"
                        "auth: { admin_roles = 3; };\n", &err));
    cr_expect(strstr(err.msg, "admin_roles") != NULL, "%s", err.msg);
    cr_expect_null(load("profiles: { a: { url = \"postgresql://h/db\"; }; };\nauth = 1;\n", &err));
}
