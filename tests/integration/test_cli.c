/* test_cli.c - the command line, run as a real process against the test database: profiles,
   connect (and its lock file), status, exit codes, and that secrets never show. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/core.h"
#include "harness.h"

static char dir[64];

static void
cli_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dbat-cli-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
}

static void
cli_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(cli, .init = cli_setup, .fini = cli_teardown);

/* Runs `db-adapter <args>` in dir with extra environment; returns the exit status. */
static int
run(const char *env, const char *args, char **out)
{
    return dbat_cli(dir, env, args, out);
}

static void
write_conf(const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

static char *
lock_file(void)
{
    char path[128], buf[128] = "";
    snprintf(path, sizeof(path), "%s/.db-profile", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* Two profiles: "good" (the test database, with a password that must never be printed) and
   "down" (nothing listens there). */
static void
two_profiles(void)
{
    char text[2048];
    const char *url = getenv("DBA_TEST_DATABASE_URL");
    cr_assert(url != NULL);
    snprintf(text, sizeof(text),
             "profiles: {\n"
             "  good: { url = \"%s&password=[YOUR-PASSWORD]\"; db_password = \"s3cr3t-p@ss/w0rd\";\n"
             "          description = \"the test database\"; };\n"
             "  down: { url = \"postgresql://nobody@127.0.0.1:1/none?connect_timeout=2\";\n"
             "          description = \"nothing there\"; };\n"
             "};\n", url);
    write_conf(text);
}

Test(cli, help_version_and_usage_errors)
{
    char *out;
    cr_expect_eq(run(NULL, "--help", &out), 0);
    cr_expect(strstr(out, "usage: db-adapter") != NULL);
    free(out);
    cr_expect_eq(run(NULL, "--version", &out), 0);
    cr_expect(strstr(out, DBA_VERSION) != NULL);
    free(out);
    cr_expect_eq(run(NULL, "frobnicate", &out), 2);
    free(out);
    cr_expect_eq(run(NULL, "", &out), 2);
    free(out);
    cr_expect_eq(run(NULL, "serve --bogus", &out), 2);
    free(out);
}

Test(cli, bad_config_names_file_and_line)
{
    char *out;
    write_conf("server: { port = 8080; };\nprofiles: { x: { url = 12; }; };\n");
    cr_expect_eq(run(NULL, "profiles", &out), 2);
    cr_expect(strstr(out, "db-adapter.conf:2") != NULL, "%s", out);
    free(out);
    write_conf("server: { port = ; };\n");
    cr_expect_eq(run(NULL, "profiles", &out), 2);
    cr_expect(strstr(out, "db-adapter.conf:1") != NULL, "%s", out);
    free(out);
}

Test(cli, profiles_table_and_json)
{
    char *out;
    two_profiles();
    cr_expect_eq(run(NULL, "profiles --profile down", &out), 0);
    cr_expect(strstr(out, "* down") != NULL, "%s", out);
    cr_expect(strstr(out, "s3cr3t") == NULL);
    free(out);
    cr_expect_eq(run(NULL, "--json profiles", &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    cr_expect(json_is_array(j) && json_array_size(j) == 2, "%s", out);
    cr_expect(strstr(out, "s3cr3t") == NULL && strstr(out, "password") == NULL);
    json_decref(j);
    free(out);
}

Test(cli, connect_writes_lock_only_on_success)
{
    char *out;
    two_profiles();
    cr_expect_eq(run(NULL, "connect --profile down", &out), 1);
    cr_expect(strstr(out, "reachable: no") != NULL, "%s", out);
    char *lock = lock_file();
    cr_expect_null(lock);
    free(out);
    cr_expect_eq(run(NULL, "connect --profile good", &out), 0);
    cr_expect(strstr(out, "PostgreSQL 15") != NULL, "%s", out);
    cr_expect(strstr(out, "items") != NULL, "%s", out);
    cr_expect(strstr(out, "s3cr3t") == NULL);
    free(out);
    lock = lock_file();
    cr_expect_str_eq(lock, "good");
    free(lock);
    /* A failed connect leaves the lock as it was. */
    cr_expect_eq(run(NULL, "connect --profile down", &out), 1);
    free(out);
    lock = lock_file();
    cr_expect_str_eq(lock, "good");
    free(lock);
    /* status now picks the profile from the lock file; the env var beats it; --profile beats both. */
    cr_expect_eq(run(NULL, "status --json --exact", &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(j, "source")), ".db-profile", "%s", out);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "tables"), "items")), 5);
    json_decref(j);
    free(out);
    cr_expect_eq(run("DB_PROFILE=down", "status", &out), 1);
    cr_expect(strstr(out, "DB_PROFILE") != NULL, "%s", out);
    free(out);
    cr_expect_eq(run("DB_PROFILE=down", "status --profile good", &out), 0);
    free(out);
}

Test(cli, unknown_profile_lists_the_others)
{
    char *out;
    two_profiles();
    cr_expect_eq(run(NULL, "status --profile nope", &out), 1);
    cr_expect(strstr(out, "nope") != NULL && strstr(out, "down") != NULL &&
              strstr(out, "good") != NULL, "%s", out);
    free(out);
}

Test(cli, database_url_without_config)
{
    char *out;
    char env[1024];
    snprintf(env, sizeof(env), "DATABASE_URL='%s'", getenv("DBA_TEST_DATABASE_URL"));
    cr_expect_eq(run(env, "status --json", &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(j, "profile")), "default", "%s", out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "source")), "DATABASE_URL");
    json_decref(j);
    free(out);
    snprintf(env, sizeof(env), "APP_DATABASE_URL='%s'", getenv("DBA_TEST_DATABASE_URL"));
    cr_expect_eq(run(env, "--env-prefix APP_ status --json", &out), 0);
    cr_expect(strstr(out, "APP_DATABASE_URL") != NULL, "%s", out);
    free(out);
    cr_expect_eq(run(NULL, "status", &out), 1);
    cr_expect(strstr(out, "DATABASE_URL") != NULL, "no hint on how to configure: %s", out);
    free(out);
}
