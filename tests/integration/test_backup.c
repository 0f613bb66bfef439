/* test_backup.c - backup, validate-backup and restore through the real binary, on databases of
   their own (dba_bk_src, dba_bk_dst: categories -> products -> reviews, see
   tests/fixtures/backup.sql), created and dropped by each test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"

static char dir[64];

static void
sh(const char *fmt, ...) DBA_PRINTF(1, 2);

static void
sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

static const char *
sock(void)
{
    static char s[512];
    snprintf(s, sizeof(s), "%s/sock", getenv("DBA_TEST_PG_DIR"));
    return s;
}

/* First value of sql run in db, as a new string ("" when no row). */
static char *
q(const char *db, const char *sql)
{
    char cmd[4096];
    struct dba_buf b;
    char chunk[4096];
    size_t n;
    snprintf(cmd, sizeof(cmd), "psql -X -q -t -A -h %s -U postgres -d %s -c \"%s\"", sock(), db,
             sql);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        dba_buf_append(&b, chunk, n);
    pclose(p);
    char *s = dba_buf_take(&b);
    s[strcspn(s, "\n")] = '\0';
    return s;
}

static void
mkdb(const char *db, bool seed)
{
    const char *src = getenv("DBA_TEST_SOURCE_DIR");
    sh("psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE IF EXISTS %s' "
       "-c 'CREATE DATABASE %s' >/dev/null 2>&1", sock(), db, db);
    sh("psql -X -q -v ON_ERROR_STOP=1 -h %s -U postgres -d %s -f %s/tests/fixtures/backup.sql "
       ">/dev/null", sock(), db, src);
    if (seed)
        sh("psql -X -q -v ON_ERROR_STOP=1 -h %s -U postgres -d %s "
           "-f %s/tests/fixtures/backup_seed.sql >/dev/null", sock(), db, src);
}

static void
bk_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dbat-bk-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    mkdb("dba_bk_src", true);
    mkdb("dba_bk_dst", false);
}

static void
bk_teardown(void)
{
    sh("rm -rf %s", dir);
    sh("psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE IF EXISTS dba_bk_src' "
       "-c 'DROP DATABASE IF EXISTS dba_bk_dst' >/dev/null 2>&1", sock());
}

TestSuite(backup, .init = bk_setup, .fini = bk_teardown, .timeout = 120);

/* Runs the binary against db in dir; returns its exit status, output in *out. */
static int
run(const char *db, const char *args, char **out)
{
    char cmd[4096];
    struct dba_buf b;
    char chunk[4096];
    size_t n;
    snprintf(cmd, sizeof(cmd),
             "cd %s && env -u DB_PROFILE DATABASE_URL='postgresql:///%s?host=%s&user=postgres' "
             "%s %s </dev/null 2>&1", dir, db, sock(), getenv("DBA_TEST_BIN"), args);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        dba_buf_append(&b, chunk, n);
    int st = pclose(p);
    *out = dba_buf_take(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Content of a database independent of its keys: every review with its product and categories. */
#define FINGERPRINT \
    "SELECT string_agg(concat_ws('|', c.slug, c.user_id, c.name, c.meta::text, p.slug, " \
    "p.price::text, p.tags::text, p.meta::text, r.slug, fc.slug, r.score::text, r.body), ';' " \
    "ORDER BY c.slug, p.slug, r.slug) FROM categories c JOIN products p ON p.category_id = c.id " \
    "LEFT JOIN reviews r ON r.product_id = p.id LEFT JOIN categories fc ON fc.id = " \
    "r.featured_category_id"

static void
backup_src(const char *args)
{
    char *out;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "backup -o b.json %s", args);
    int rc = run("dba_bk_src", cmd, &out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
}

Test(backup, roundtrip_remaps_keys_and_keeps_values)
{
    char *out;
    backup_src("");
    cr_assert_eq(run("dba_bk_dst", "restore b.json --yes", &out), 0, "%s", out);
    free(out);
    char *a = q("dba_bk_src", FINGERPRINT), *b = q("dba_bk_dst", FINGERPRINT);
    cr_expect_str_eq(a, b);
    cr_expect(strstr(b, "12345678901234567890") != NULL, "%s", b);
    cr_expect(strstr(b, "2.50") != NULL && strstr(b, "|3.00|") != NULL, "%s", b);
    free(a);
    free(b);
    char *ids = q("dba_bk_dst", "SELECT string_agg(id::text, ',' ORDER BY id) FROM products");
    cr_expect_str_eq(ids, "1,2,3,4"); /* new keys from the target's identity */
    free(ids);
    char *n = q("dba_bk_dst", "INSERT INTO categories (slug, name) VALUES ('new', 'N') "
                              "RETURNING id");
    cr_expect_str_eq(n, "4"); /* the sequence keeps working */
    free(n);
}

Test(backup, jsonl_roundtrip)
{
    char *out;
    cr_assert_eq(run("dba_bk_src", "backup --format jsonl -o b.jsonl", &out), 0, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "validate-backup b.jsonl", &out), 0, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "restore b.jsonl --yes", &out), 0, "%s", out);
    free(out);
    char *a = q("dba_bk_src", FINGERPRINT), *b = q("dba_bk_dst", FINGERPRINT);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
}

Test(backup, modes_skip_overwrite_fail)
{
    char *out;
    backup_src("");
    cr_assert_eq(run("dba_bk_dst", "restore b.json --yes", &out), 0, "%s", out);
    free(out);
    sh("psql -X -q -h %s -U postgres -d dba_bk_dst -c \"UPDATE categories SET name = 'X'\"",
       sock());
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"skipped\": 3") != NULL, "%s", out);
    free(out);
    char *x = q("dba_bk_dst", "SELECT count(*) FROM categories WHERE name = 'X'");
    cr_expect_str_eq(x, "3");
    free(x);
    cr_assert_eq(run("dba_bk_dst", "restore b.json --mode fail --yes", &out), 1, "%s", out);
    cr_expect(strstr(out, "already exists") != NULL, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --mode overwrite --yes", &out), 0,
                 "%s", out);
    cr_expect(strstr(out, "\"updated\": 3") != NULL, "%s", out);
    free(out);
    x = q("dba_bk_dst", "SELECT count(*) FROM categories WHERE name = 'X'");
    cr_expect_str_eq(x, "0");
    free(x);
    x = q("dba_bk_dst", "SELECT count(*) FROM reviews");
    cr_expect_str_eq(x, "4");
    free(x);
}

Test(backup, failing_row_leaves_target_untouched)
{
    char *out;
    backup_src("");
    sh("psql -X -q -h %s -U postgres -d dba_bk_dst -c \"ALTER TABLE reviews ADD CONSTRAINT "
       "no_great CHECK (body <> 'great')\"", sock());
    cr_assert_eq(run("dba_bk_dst", "restore b.json --yes", &out), 1, "%s", out);
    cr_expect(strstr(out, "reviews row 3 (pk=904)") != NULL, "%s", out);
    cr_expect(strstr(out, "no_great") != NULL, "%s", out);
    free(out);
    char *n = q("dba_bk_dst", "SELECT (SELECT count(*) FROM categories) + "
                              "(SELECT count(*) FROM products)");
    cr_expect_str_eq(n, "0");
    free(n);
}

Test(backup, dry_run_writes_nothing)
{
    char *out;
    backup_src("");
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --dry-run", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"inserted\": 4") != NULL, "%s", out);
    cr_expect(strstr(out, "\"dry_run\": true") != NULL, "%s", out);
    free(out);
    char *n = q("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
}

Test(backup, user_scope_and_table_filter)
{
    char *out;
    backup_src("--user-id u2 --tables categories,products");
    cr_assert_eq(run("dba_bk_dst", "--json validate-backup b.json", &out), 0, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "restore b.json --yes --user-id u9", &out), 0, "%s", out);
    free(out);
    char *n = q("dba_bk_dst", "SELECT string_agg(c.slug || ':' || c.user_id || ':' || p.slug, ',')"
                              " FROM categories c JOIN products p ON p.category_id = c.id");
    cr_expect_str_eq(n, "books:u9:novel");
    free(n);
}

/* A document as the Python original wrote it: declared schema, Decimals as strings, local time,
   old keys. */
Test(backup, python_original_format_restores)
{
    char *out;
    FILE *f;
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fputs("backup: { tables = ( { name = \"categories\"; user_field = \"user_id\"; },\n"
          "  { name = \"products\"; parent = { table = \"categories\"; field = \"category_id\"; }; },"
          "\n  { name = \"reviews\"; parent = { table = \"products\"; field = \"product_id\"; };\n"
          "    optional_refs = ( { table = \"categories\"; field = \"featured_category_id\"; } );"
          " } ); };\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/py.json", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fputs("{\n  \"metadata\": {\n    \"created_at\": \"2026-03-13T12:15:00.123456\",\n"
          "    \"user_id\": \"u1\",\n    \"backup_type\": \"full\",\n    \"version\": \"1.1\",\n"
          "    \"categories_count\": 1,\n    \"products_count\": 1,\n    \"reviews_count\": 2\n"
          "  },\n  \"categories\": [\n    {\"id\": 7, \"slug\": \"tools\", \"user_id\": \"u1\", "
          "\"name\": \"Tools\", \"meta\": {\"k\": [1, 2]}}\n  ],\n  \"products\": [\n"
          "    {\"id\": 70, \"category_id\": 7, \"slug\": \"hammer\", \"price\": \"12.50\", "
          "\"tags\": [\"a\"], \"meta\": null}\n  ],\n  \"reviews\": [\n"
          "    {\"id\": 700, \"product_id\": 70, \"slug\": \"r1\", \"featured_category_id\": 7, "
          "\"score\": \"4.5\", \"body\": \"ok\"},\n    {\"id\": 701, \"product_id\": 71, "
          "\"slug\": \"orphan\", \"featured_category_id\": null, \"score\": null, \"body\": null}"
          "\n  ]\n}\n", f);
    fclose(f);
    cr_assert_eq(run("dba_bk_dst", "validate-backup py.json", &out), 0, "%s", out);
    cr_expect(strstr(out, "Orphaned reviews 'orphan'") != NULL, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "--json restore py.json --yes", &out), 0, "%s", out);
    free(out);
    char *n = q("dba_bk_dst", "SELECT concat_ws('|', c.slug, p.price, r.score, fc.slug) FROM "
                              "reviews r JOIN products p ON p.id = r.product_id JOIN categories c"
                              " ON c.id = p.category_id JOIN categories fc ON fc.id = "
                              "r.featured_category_id");
    cr_expect_str_eq(n, "tools|12.50|4.5|tools");
    free(n);
    n = q("dba_bk_dst", "SELECT count(*) FROM reviews");
    cr_expect_str_eq(n, "1"); /* the orphan was skipped */
    free(n);
}

Test(backup, invalid_backup_is_reported)
{
    char *out;
    FILE *f;
    char path[128];
    snprintf(path, sizeof(path), "%s/bad.json", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fputs("{\"metadata\": {\"version\": \"1.0\"}, \"categories\": [{\"slug\": \"x\"}]}", f);
    fclose(f);
    cr_expect_eq(run("dba_bk_dst", "validate-backup bad.json", &out), 1, "%s", out);
    cr_expect(strstr(out, "Unsupported backup version '1.0'") != NULL, "%s", out);
    cr_expect(strstr(out, "missing 'id'") != NULL, "%s", out);
    free(out);
    cr_expect_eq(run("dba_bk_dst", "restore bad.json --yes", &out), 1, "%s", out);
    free(out);
    cr_expect_eq(run("dba_bk_dst", "restore b.json", &out), 1, "%s", out);
    cr_expect(strstr(out, "not a terminal") != NULL, "%s", out);
    free(out);
}

Test(backup, killed_restore_leaves_target_unchanged)
{
    char *out, cmd[4096];
    sh("psql -X -q -h %s -U postgres -d dba_bk_src -c \"INSERT INTO categories (slug, name) "
       "SELECT 'c' || g, 'n' FROM generate_series(1, 30000) g\"", sock());
    backup_src("");
    snprintf(cmd, sizeof(cmd),
             "cd %s && DATABASE_URL='postgresql:///dba_bk_dst?host=%s&user=postgres' %s restore "
             "b.json --yes >/dev/null 2>&1 & echo $!", dir, sock(), getenv("DBA_TEST_BIN"));
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    int pid = 0;
    cr_assert_eq(fscanf(p, "%d", &pid), 1);
    pclose(p);
    int seen = 0;
    for (int i = 0; i < 200 && !seen; i++) { /* wait until it is writing */
        out = q("dba_bk_dst", "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = "
                              "l.relation WHERE c.relname = 'categories' AND l.mode = "
                              "'RowExclusiveLock' AND l.pid <> pg_backend_pid()");
        seen = strcmp(out, "0") != 0;
        free(out);
        usleep(20000);
    }
    cr_assert(seen, "the restore never started writing");
    sh("kill -9 %d", pid);
    for (int i = 0; i < 100; i++) { /* the server notices the lost client */
        out = q("dba_bk_dst", "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                              "'dba_bk_dst' AND pid <> pg_backend_pid()");
        bool gone = strcmp(out, "0") == 0;
        free(out);
        if (gone)
            break;
        usleep(50000);
    }
    out = q("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(out, "0");
    free(out);
}
