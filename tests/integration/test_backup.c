/* test_backup.c - backup, validate-backup and restore through the real binary, on databases of
   their own (dba_bk_src, dba_bk_dst: categories -> products -> reviews, see
   tests/fixtures/backup.sql), created and dropped by each test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

static char dir[64];


static void
bk_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dbat-bk-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    dbat_backup_db("dba_bk_src", true);
    dbat_backup_db("dba_bk_dst", false);
}

static void
bk_teardown(void)
{
    dbat_sh("rm -rf %s", dir);
    dbat_sh("psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE IF EXISTS dba_bk_src' "
       "-c 'DROP DATABASE IF EXISTS dba_bk_dst' >/dev/null 2>&1", dbat_pg_sock());
}

TestSuite(backup, .init = bk_setup, .fini = bk_teardown, .timeout = 120);

/* Runs the binary against db in dir; returns its exit status, output in *out. */
static int
run(const char *db, const char *args, char **out)
{
    struct dba_buf env;

    dba_buf_init(&env);
    dba_buf_printf(&env, "DATABASE_URL='postgresql:///%s?host=%s&user=postgres'", db, dbat_pg_sock());
    int rc = dbat_cli(dir, env.data, args, out);
    dba_buf_cleanup(&env);
    return rc;
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
    char *a = dbat_psql("dba_bk_src", FINGERPRINT), *b = dbat_psql("dba_bk_dst", FINGERPRINT);
    cr_expect_str_eq(a, b);
    cr_expect(strstr(b, "12345678901234567890") != NULL, "%s", b);
    cr_expect(strstr(b, "2.50") != NULL && strstr(b, "|3.00|") != NULL, "%s", b);
    free(a);
    free(b);
    char *ids = dbat_psql("dba_bk_dst", "SELECT string_agg(id::text, ',' ORDER BY id) FROM products");
    cr_expect_str_eq(ids, "1,2,3,4"); /* new keys from the target's identity */
    free(ids);
    char *n = dbat_psql("dba_bk_dst", "INSERT INTO categories (slug, name) VALUES ('new', 'N') "
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
    char *a = dbat_psql("dba_bk_src", FINGERPRINT), *b = dbat_psql("dba_bk_dst", FINGERPRINT);
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
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_dst -c \"UPDATE categories SET name = 'X'\"",
       dbat_pg_sock());
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"skipped\": 3") != NULL, "%s", out);
    free(out);
    char *x = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories WHERE name = 'X'");
    cr_expect_str_eq(x, "3");
    free(x);
    cr_assert_eq(run("dba_bk_dst", "restore b.json --mode fail --yes", &out), 1, "%s", out);
    cr_expect(strstr(out, "already exists") != NULL, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --mode overwrite --yes", &out), 0,
                 "%s", out);
    cr_expect(strstr(out, "\"updated\": 3") != NULL, "%s", out);
    free(out);
    x = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories WHERE name = 'X'");
    cr_expect_str_eq(x, "0");
    free(x);
    x = dbat_psql("dba_bk_dst", "SELECT count(*) FROM reviews");
    cr_expect_str_eq(x, "4");
    free(x);
}

Test(backup, failing_row_leaves_target_untouched)
{
    char *out;
    backup_src("");
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_dst -c \"ALTER TABLE reviews ADD CONSTRAINT "
       "no_great CHECK (body <> 'great')\"", dbat_pg_sock());
    cr_assert_eq(run("dba_bk_dst", "restore b.json --yes", &out), 1, "%s", out);
    cr_expect(strstr(out, "reviews row 3 (pk=904)") != NULL, "%s", out);
    cr_expect(strstr(out, "no_great") != NULL, "%s", out);
    free(out);
    char *n = dbat_psql("dba_bk_dst", "SELECT (SELECT count(*) FROM categories) + "
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
    char *n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
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
    char *n = dbat_psql("dba_bk_dst", "SELECT string_agg(c.slug || ':' || c.user_id || ':' || p.slug, ',')"
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
    char *n = dbat_psql("dba_bk_dst", "SELECT concat_ws('|', c.slug, p.price, r.score, fc.slug) FROM "
                              "reviews r JOIN products p ON p.id = r.product_id JOIN categories c"
                              " ON c.id = p.category_id JOIN categories fc ON fc.id = "
                              "r.featured_category_id");
    cr_expect_str_eq(n, "tools|12.50|4.5|tools");
    free(n);
    n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM reviews");
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
    backup_src("");
    cr_expect_eq(run("dba_bk_dst", "restore b.json", &out), 1, "%s", out);
    cr_expect(strstr(out, "not a terminal") != NULL, "%s", out);
    free(out);
}

/* The validation runs beside the restore's writes: a document whose last row is invalid (the
   rows before it are written first) is still refused whole, reported as a validation. */
Test(backup, invalid_last_row_rolls_back_the_rows_written_before)
{
    char *out, path[128];
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_src -c \"INSERT INTO categories (slug, name) "
       "SELECT 'c' || g, 'n' FROM generate_series(1, 30000) g\"", dbat_pg_sock());
    backup_src("");
    snprintf(path, sizeof(path), "%s/b.json", dir);
    size_t len;
    char *text = dba_file_read(path, &len);
    cr_assert(text != NULL);
    char *end = strrchr(text, ']');
    cr_assert(end != NULL);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fwrite(text, 1, (size_t)(end - text), f);
    fputs(",{\"slug\": \"no-id\"}", f);
    fputs(end, f);
    fclose(f);
    free(text);
    cr_expect_eq(run("dba_bk_dst", "restore b.json --yes", &out), 1, "%s", out);
    cr_expect(strstr(out, "invalid backup") != NULL && strstr(out, "missing 'id'") != NULL,
              "%s", out);
    free(out);
    cr_expect_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 1, "%s", out);
    json_t *rep = json_loads(out, 0, NULL);
    cr_expect(json_is_false(json_object_get(rep, "ok")), "%s", out);
    cr_expect(json_is_false(json_object_get(json_object_get(rep, "validation"), "valid")), "%s",
              out);
    cr_expect(json_object_get(rep, "tables") == NULL, "%s", out);
    json_decref(rep);
    free(out);
    out = dbat_psql("dba_bk_dst", "SELECT (SELECT count(*) FROM categories) + (SELECT count(*) FROM "
                          "products) + (SELECT count(*) FROM reviews)");
    cr_expect_str_eq(out, "0");
    free(out);
}

/* A table empty when the restore begins is not looked up for rows whose slug no earlier row of
   the restore had; a later batch's row with an earlier row's slug (as written, escaped, or a
   number) is still matched - here with no unique constraint to catch it. */
Test(backup, slug_seen_in_an_earlier_batch_is_matched)
{
    char *out, path[128];
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_dst -c 'ALTER TABLE categories DROP CONSTRAINT "
       "categories_slug_key'", dbat_pg_sock());
    snprintf(path, sizeof(path), "%s/s.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs("{\"metadata\": {\"version\": \"1.1\", \"created_at\": \"x\", \"user_id\": null, "
          "\"backup_type\": \"full\", \"schema\": {\"tables\": [{\"name\": \"categories\", "
          "\"pk\": \"id\", \"slug\": \"slug\", \"optional_refs\": []}]}},\n\"categories\": [", f);
    for (int i = 1; i <= 6000; i++)
        fprintf(f, "%s{\"id\": %d, \"slug\": \"%s%d\", \"name\": \"n\"}\n", i > 1 ? "," : "",
                i, i == 77 ? "" : "s", i);
    fputs(",{\"id\": 7001, \"slug\": \"s10\", \"name\": \"n\"}\n"
          ",{\"id\": 7002, \"slug\": \"\\u0073\\u0031\\u0031\", \"name\": \"n\"}\n"
          ",{\"id\": 7003, \"slug\": \"s12\", \"name\": \"other\"}\n"
          ",{\"id\": 7004, \"slug\": 77, \"name\": \"n\"}\n"
          ",{\"id\": 7005, \"slug\": \"s6001\", \"name\": \"n\"}\n]}\n", f);
    fclose(f);
    cr_expect_eq(run("dba_bk_dst", "--json restore s.json --yes", &out), 0, "%s", out);
    json_t *rep = json_loads(out, 0, NULL);
    json_t *c = json_object_get(json_object_get(rep, "tables"), "categories");
    cr_expect_eq(json_integer_value(json_object_get(c, "inserted")), 6001, "%s", out);
    cr_expect_eq(json_integer_value(json_object_get(c, "unchanged")), 3, "%s", out);
    cr_expect_eq(json_integer_value(json_object_get(c, "skipped")), 1, "%s", out);
    json_decref(rep);
    free(out);
    out = dbat_psql("dba_bk_dst", "SELECT count(*) || ' ' || count(DISTINCT slug) || ' ' || "
                          "count(*) FILTER (WHERE name = 'other') FROM categories");
    cr_expect_str_eq(out, "6001 6001 0");
    free(out);
}

/* A document written on one line (minified) is told from jsonl by its start and restores. */
Test(backup, one_line_document_restores)
{
    char *out;
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_src -c \"INSERT INTO categories (slug, name) "
       "SELECT 'c' || g, repeat('n', 40) FROM generate_series(1, 3000) g\"", dbat_pg_sock());
    backup_src("");
    dbat_sh("cd %s && tr -d '\\n' < b.json > one.json && test $(wc -l < one.json) = 0 && "
       "test $(wc -c < one.json) -gt 200000", dir);
    cr_expect_eq(run("dba_bk_dst", "validate-backup one.json", &out), 0, "%s", out);
    free(out);
    cr_expect_eq(run("dba_bk_dst", "restore one.json --yes", &out), 0, "%s", out);
    free(out);
    out = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories WHERE slug LIKE 'c%'");
    cr_expect_str_eq(out, "3000");
    free(out);
}

Test(backup, killed_restore_leaves_target_unchanged)
{
    char *out, cmd[4096];
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_src -c \"INSERT INTO categories (slug, name) "
       "SELECT 'c' || g, 'n' FROM generate_series(1, 30000) g\"", dbat_pg_sock());
    backup_src("");
    snprintf(cmd, sizeof(cmd),
             "cd %s && DATABASE_URL='postgresql:///dba_bk_dst?host=%s&user=postgres' %s restore "
             "b.json --yes >/dev/null 2>&1 & echo $!", dir, dbat_pg_sock(), getenv("DBA_TEST_BIN"));
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    int pid = 0;
    cr_assert_eq(fscanf(p, "%d", &pid), 1);
    pclose(p);
    int seen = 0;
    for (int i = 0; i < 200 && !seen; i++) { /* wait until it is writing */
        out = dbat_psql("dba_bk_dst", "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = "
                              "l.relation WHERE c.relname = 'categories' AND l.mode = "
                              "'RowExclusiveLock' AND l.pid <> pg_backend_pid()");
        seen = strcmp(out, "0") != 0;
        free(out);
        usleep(20000);
    }
    cr_assert(seen, "the restore never started writing");
    dbat_sh("kill -9 %d", pid);
    for (int i = 0; i < 100; i++) { /* the server notices the lost client */
        out = dbat_psql("dba_bk_dst", "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                              "'dba_bk_dst' AND pid <> pg_backend_pid()");
        bool gone = strcmp(out, "0") == 0;
        free(out);
        if (gone)
            break;
        usleep(50000);
    }
    out = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(out, "0");
    free(out);
}

/* ---- sync through the CLI: profiles src (dba_bk_src) and dst (dba_bk_dst, active) ---- */

static void
sync_conf(const char *extra)
{
    FILE *f;
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fprintf(f, "default_profile = \"dst\";\nprofiles: {\n"
               "  src: { url = \"postgresql:///dba_bk_src?host=%s&user=postgres\"; };\n"
               "  dst: { url = \"postgresql:///dba_bk_dst?host=%s&user=postgres\"; };\n};\n%s\n",
            dbat_pg_sock(), dbat_pg_sock(), extra != NULL ? extra : "");
    fclose(f);
}

/* Integer member of plan[table][field] in a --json sync report. */
static long long
plan_num(const char *out, const char *table, const char *field)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    cr_assert(j != NULL, "not JSON: %s", out);
    long long v = json_integer_value(
        json_object_get(json_object_get(json_object_get(j, "plan"), table), field));
    json_decref(j);
    return v;
}

Test(backup, sync_moves_only_what_the_plan_said)
{
    char *out;
    sync_conf(NULL);
    /* dst already has one category equal to the source's and one that differs. */
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_dst -c \"INSERT INTO categories (slug, user_id, "
       "name, meta) VALUES ('toys', 'u1', 'Toys', NULL), ('books', 'u2', 'Old', NULL)\"", dbat_pg_sock());
    cr_assert_eq(run("dba_bk_dst", "--json sync --from src --mode overwrite", &out), 0, "%s", out);
    cr_expect_eq(plan_num(out, "categories", "source"), 3, "%s", out);
    cr_expect_eq(plan_num(out, "categories", "destination"), 2, "%s", out);
    cr_expect_eq(plan_num(out, "categories", "new"), 1, "%s", out);
    cr_expect_eq(plan_num(out, "categories", "update"), 1, "%s", out);
    cr_expect_eq(plan_num(out, "categories", "unchanged"), 1, "%s", out);
    cr_expect_eq(plan_num(out, "products", "new"), 4, "%s", out);
    cr_expect_eq(plan_num(out, "reviews", "new"), 4, "%s", out);
    cr_expect(strstr(out, "\"applied\": false") != NULL, "%s", out);
    free(out);
    char *n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM products");
    cr_expect_str_eq(n, "0"); /* the plan wrote nothing */
    free(n);
    cr_assert_eq(run("dba_bk_dst", "--json sync --from src --mode overwrite --confirm", &out), 0,
                 "%s", out);
    cr_expect_eq(plan_num(out, "categories", "new"), 1, "%s", out);
    cr_expect_eq(plan_num(out, "categories", "update"), 1, "%s", out);
    cr_expect_eq(plan_num(out, "products", "new"), 4, "%s", out);
    cr_expect(strstr(out, "\"applied\": true") != NULL, "%s", out);
    free(out);
    char *a = dbat_psql("dba_bk_src", FINGERPRINT), *b = dbat_psql("dba_bk_dst", FINGERPRINT);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    /* A second plan finds everything unchanged. */
    cr_assert_eq(run("dba_bk_dst", "--json sync --from src", &out), 0, "%s", out);
    cr_expect_eq(plan_num(out, "categories", "unchanged"), 3, "%s", out);
    cr_expect_eq(plan_num(out, "reviews", "unchanged"), 4, "%s", out);
    cr_expect_eq(plan_num(out, "reviews", "new"), 0, "%s", out);
    free(out);
}

Test(backup, sync_tables_from_config_and_same_profile_is_an_error)
{
    char *out;
    sync_conf("sync: { tables = [ \"categories\" ]; };");
    cr_assert_eq(run("dba_bk_dst", "sync --from src --confirm", &out), 0, "%s", out);
    cr_expect(strstr(out, "Synced src -> dst") != NULL, "%s", out);
    cr_expect(strstr(out, "products") == NULL, "%s", out);
    free(out);
    char *n = dbat_psql("dba_bk_dst", "SELECT (SELECT count(*) FROM categories) || '/' || "
                              "(SELECT count(*) FROM products)");
    cr_expect_str_eq(n, "3/0");
    free(n);
    /* Handled refusals, not usage errors: exit 1. */
    cr_expect_eq(run("dba_bk_dst", "sync --from dst", &out), 1, "%s", out);
    cr_expect(strstr(out, "same database") != NULL, "%s", out);
    free(out);
    cr_expect_eq(run("dba_bk_dst", "sync --from nope", &out), 1, "%s", out);
    cr_expect(strstr(out, "unknown profile 'nope'") != NULL, "%s", out);
    free(out);
}

/* ---- peak memory of a large backup ---- */

/* Peak RSS in kB of `db-adapter backup` of dba_bk_big. Under AddressSanitizer the quarantine
   (freed memory held back, up to 256 MB) would grow with the rows read, so it is turned off for
   the child: what is measured is the program's own memory. */
static long
backup_peak_kb(void)
{
    char cmd[4096];
    long kb = -1;
    char asan[512];
    const char *ao = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=0", ao ? ao : "", ao && *ao ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    if (access("/usr/bin/time", X_OK) == 0) {
        snprintf(cmd, sizeof(cmd), "cd %s && DATABASE_URL='postgresql:///dba_bk_big?host=%s&"
                 "user=postgres' /usr/bin/time -f %%M -o rss.txt %s backup -o big.json "
                 ">/dev/null 2>&1 && cat rss.txt", dir, dbat_pg_sock(), getenv("DBA_TEST_BIN"));
        FILE *p = popen(cmd, "r");
        cr_assert(p != NULL);
        cr_assert_eq(fscanf(p, "%ld", &kb), 1);
        pclose(p);
        return kb;
    }
    snprintf(cmd, sizeof(cmd), "cd %s && DATABASE_URL='postgresql:///dba_bk_big?host=%s&"
             "user=postgres' %s backup -o big.json >/dev/null 2>&1 & echo $!", dir, dbat_pg_sock(),
             getenv("DBA_TEST_BIN"));
    FILE *p = popen(cmd, "r");
    int pid = 0;
    cr_assert(p != NULL && fscanf(p, "%d", &pid) == 1);
    pclose(p);
    for (;;) { /* poll VmHWM until the process is gone */
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            return kb;
        while (fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "VmHWM:", 6) == 0)
                kb = strtol(line + 6, NULL, 10);
        fclose(f);
        usleep(20000);
    }
}

static long
big_backup(long rows)
{
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_big -c 'TRUNCATE big' -c \"INSERT INTO big (name, "
       "n, meta) SELECT 'row number ' || g, g, jsonb_build_object('g', g) FROM "
       "generate_series(1, %ld) g\"", dbat_pg_sock(), rows);
    long kb = backup_peak_kb();
    char *n = dbat_psql("dba_bk_big", "SELECT 1"); /* the server is still fine */
    free(n);
    return kb;
}

Test(backup, million_row_backup_keeps_memory_flat, .timeout = 300)
{
    dbat_sh("psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE IF EXISTS dba_bk_big' "
       "-c 'CREATE DATABASE dba_bk_big' >/dev/null 2>&1", dbat_pg_sock());
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_big -c 'CREATE TABLE big (id bigserial PRIMARY "
       "KEY, name text, n int, meta jsonb)'", dbat_pg_sock());
    long small = big_backup(100000);
    long large = big_backup(1000000);
    struct stat st;
    char path[128];
    snprintf(path, sizeof(path), "%s/big.json", dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_gt(st.st_size, 50 * 1000 * 1000, "the 1M-row backup is only %lld bytes",
                 (long long)st.st_size);
    dbat_sh("psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE dba_bk_big' >/dev/null",
       dbat_pg_sock());
    cr_assert(small > 0 && large > 0);
    cr_expect_lt(large, small * 3 / 2 + 5 * 1024, "peak RSS 100k rows: %ld kB, 1M rows: %ld kB",
                 small, large);
}

/* ---- over HTTP: the gateway in process, active profile "test" = dba_bk_dst, "src" =
   dba_bk_src ---- */

#define TOKEN "bk-t0ken"
#define AUTH "Authorization: Bearer " TOKEN

static void
http_start(bool token)
{
    char url[700], more[1200]; /* dbat_pg_sock() is up to 511 bytes */
    if (token) {
        setenv("DB_ADAPTER_ADMIN_TOKEN", TOKEN, 1);
    } else {
        unsetenv("DB_ADAPTER_ADMIN_TOKEN");
        dbat_without_admin_token();
    }
    bk_setup();
    snprintf(url, sizeof(url), "postgresql:///dba_bk_dst?host=%s&user=postgres", dbat_pg_sock());
    snprintf(more, sizeof(more), "src: { url = \"postgresql:///dba_bk_src?host=%s&"
             "user=postgres\"; };", dbat_pg_sock());
    dbat_server_start_db(url, more, NULL);
}

static void
http_setup(void)
{
    http_start(true);
}

static void
http_setup_no_token(void)
{
    http_start(false);
}

static void
http_teardown(void)
{
    dbat_server_stop();
    dbat_sh("rm -rf %s", dir);
    dbat_sh("psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE IF EXISTS dba_bk_src WITH "
       "(FORCE)' -c 'DROP DATABASE IF EXISTS dba_bk_dst WITH (FORCE)' >/dev/null 2>&1", dbat_pg_sock());
}

TestSuite(backup_http, .init = http_setup, .fini = http_teardown, .timeout = 120);
TestSuite(backup_http_off, .init = http_setup_no_token, .fini = http_teardown, .timeout = 60);

static long
status_of(const char *method, const char *path, const char *const *h, const char *body)
{
    struct dbat_resp *r = dbat_req(method, path, h, body);
    long s = r->status;
    dbat_resp_free(r);
    return s;
}

Test(backup_http_off, admin_routes_are_403_without_a_configured_token)
{
    struct dbat_resp *r = dbat_get("/backup");
    cr_expect_eq(r->status, 403);
    cr_expect(strstr(r->body, "DB_ADAPTER_ADMIN_TOKEN") != NULL, "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(status_of("POST", "/restore", NULL, "{}"), 403);
    cr_expect_eq(status_of("POST", "/sync?from=src&confirm=true", NULL, NULL), 403);
    /* The plan and validation are operator routes too. */
    cr_expect_eq(status_of("POST", "/sync?from=src", NULL, NULL), 403);
    cr_expect_eq(status_of("POST", "/backup/validate", NULL, "{\"metadata\": {\"version\": "
                                                             "\"1.1\"}, \"categories\": []}"),
                 403);
}

Test(backup_http, wrong_or_missing_token_is_401)
{
    const char *bad[] = { "Authorization: Bearer nope", NULL };
    struct dbat_resp *r = dbat_get("/backup");
    cr_expect_eq(r->status, 401);
    cr_expect(dbat_header(r, "WWW-Authenticate") != NULL);
    dbat_resp_free(r);
    cr_expect_eq(status_of("GET", "/backup", bad, NULL), 401);
    cr_expect_eq(status_of("POST", "/restore", bad, "{}"), 401);
    cr_expect_eq(status_of("POST", "/sync?from=src&confirm=true", NULL, NULL), 401);
    cr_expect_eq(status_of("POST", "/sync?from=src", NULL, NULL), 401);
    cr_expect_eq(status_of("POST", "/backup/validate", bad, "{}"), 401);
    cr_expect_eq(status_of("DELETE", "/backup", NULL, NULL), 405);
}

/* Fetches a backup of dba_bk_src with the CLI (the active profile here is empty). */
static char *
src_backup_text(void)
{
    char *out, path[128];
    backup_src("");
    snprintf(path, sizeof(path), "%s/b.json", dir);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL);
    struct dba_buf b;
    char chunk[4096];
    size_t n;
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dba_buf_append(&b, chunk, n);
    fclose(f);
    out = dba_buf_take(&b);
    return out;
}

Test(backup_http, restore_dry_run_then_real_then_get_backup)
{
    const char *h[] = { AUTH, NULL };
    char *doc = src_backup_text();
    struct dbat_resp *r = dbat_req("POST", "/backup/validate", h, doc);
    cr_expect_eq(r->status, 200);
    cr_expect(json_is_true(json_object_get(r->json, "valid")), "%s", r->body);
    dbat_resp_free(r);
    r = dbat_req("POST", "/restore?dry_run=true", h, doc);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(r->body, "\"dry_run\":true") != NULL, "%s", r->body);
    dbat_resp_free(r);
    char *n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
    r = dbat_req("POST", "/restore?mode=skip", h, doc);
    cr_expect_eq(r->status, 200, "%s", r->body);
    json_t *c = json_object_get(json_object_get(r->json, "tables"), "reviews");
    cr_expect_eq(json_integer_value(json_object_get(c, "inserted")), 4, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_req("POST", "/restore?mode=fail", h, doc);
    cr_expect_eq(r->status, 409, "%s", r->body);
    cr_expect(json_object_get(r->json, "failed") != NULL, "%s", r->body);
    dbat_resp_free(r);
    free(doc);
    /* GET /backup of the restored target validates and restores into the (emptied) source. */
    r = dbat_req("GET", "/backup?format=json", h, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(dbat_header(r, "Content-Disposition"), "attachment; filename=\"test-") !=
              NULL);
    cr_expect(strstr(dbat_header(r, "Content-Type"), "application/json") != NULL);
    json_t *j = json_loads(r->body, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j != NULL, "%s", r->body);
    cr_expect_eq(json_array_size(json_object_get(j, "products")), 4);
    json_decref(j);
    struct dbat_resp *v = dbat_req("POST", "/backup/validate", h, r->body);
    cr_expect(json_is_true(json_object_get(v->json, "valid")), "%s", v->body);
    dbat_resp_free(v);
    char path[128];
    snprintf(path, sizeof(path), "%s/http.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fwrite(r->body, 1, r->body_len, f);
    fclose(f);
    dbat_resp_free(r);
    dbat_backup_db("dba_bk_src", false);
    char *out;
    cr_assert_eq(run("dba_bk_src", "restore http.json --yes", &out), 0, "%s", out);
    free(out);
    char *a = dbat_psql("dba_bk_src", FINGERPRINT), *b = dbat_psql("dba_bk_dst", FINGERPRINT);
    cr_expect_str_eq(a, b);
    cr_expect(strlen(a) > 20, "%s", a);
    free(a);
    free(b);
}

Test(backup_http, get_backup_jsonl_and_bad_requests)
{
    const char *h[] = { AUTH, NULL };
    struct dbat_resp *r = dbat_req("GET", "/backup?format=jsonl&tables=categories", h, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(dbat_header(r, "Content-Type"), "application/x-ndjson") != NULL);
    cr_expect(strncmp(r->body, "{\"metadata\": ", 13) == 0, "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(status_of("GET", "/backup?format=xml", h, NULL), 400);
    cr_expect_eq(status_of("GET", "/backup?tables=nope", h, NULL), 400);
    cr_expect_eq(status_of("POST", "/restore?mode=bogus", h, "{}"), 400);
    cr_expect_eq(status_of("POST", "/restore", h, "{\"metadata\": {\"version\": \"0.1\"}}"), 400);
    cr_expect_eq(status_of("POST", "/sync", h, NULL), 400);
    cr_expect_eq(status_of("POST", "/sync?from=test", h, NULL), 400);
    r = dbat_req("POST", "/backup/validate", h, "not json");
    cr_expect_eq(r->status, 200);
    cr_expect(json_is_false(json_object_get(r->json, "valid")), "%s", r->body);
    dbat_resp_free(r);
}

Test(backup_http, sync_plan_then_confirm)
{
    const char *h[] = { AUTH, NULL };
    struct dbat_resp *r = dbat_req("POST", "/sync?from=src&mode=overwrite", h, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *p = json_object_get(json_object_get(r->json, "plan"), "products");
    cr_expect_eq(json_integer_value(json_object_get(p, "new")), 4, "%s", r->body);
    cr_expect_eq(json_integer_value(json_object_get(p, "source")), 4, "%s", r->body);
    cr_expect(json_is_false(json_object_get(r->json, "applied")), "%s", r->body);
    dbat_resp_free(r);
    char *n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM products");
    cr_expect_str_eq(n, "0");
    free(n);
    r = dbat_req("POST", "/sync?from=src&confirm=true&tables=categories,products", h, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect(json_is_true(json_object_get(r->json, "applied")), "%s", r->body);
    cr_expect(json_object_get(json_object_get(r->json, "plan"), "reviews") == NULL, "%s",
              r->body);
    dbat_resp_free(r);
    n = dbat_psql("dba_bk_dst", "SELECT (SELECT count(*) FROM products) || '/' || "
                        "(SELECT count(*) FROM reviews)");
    cr_expect_str_eq(n, "4/0");
    free(n);
}

/* A database without slug columns: the derived schema matches rows by primary key, and the
   backup it writes (schema embedded with "slug": null) validates and restores. */
Test(backup, derived_schema_without_slugs_validates)
{
    char *out;
    dbat_sh("psql -X -q -v ON_ERROR_STOP=1 -h %s -U postgres -d dba_bk_src -c "
       "'CREATE TABLE plain_parent (id serial PRIMARY KEY, name text); "
       "CREATE TABLE plain_child (id serial PRIMARY KEY, parent_id int NOT NULL "
       "REFERENCES plain_parent(id), v numeric); "
       "INSERT INTO plain_parent (name) VALUES ($$a$$), ($$b$$); "
       "INSERT INTO plain_child (parent_id, v) VALUES (1, 1.50), (2, 2.00)' >/dev/null", dbat_pg_sock());
    int rc = run("dba_bk_src", "backup -o p.json --tables plain_parent,plain_child", &out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    rc = run("dba_bk_src", "validate-backup p.json", &out);
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
}

/* ---- issue 8: exact keys, schema-qualified SQL, missing tables, read_only, exit codes ---- */

/* Runs the SQL text in db (through a file: no shell quoting), stopping at the first error. */
static void
sqlf(const char *db, const char *sql)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/x.sql", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs("SET client_min_messages = warning;\n", f);
    fputs(sql, f);
    fclose(f);
    dbat_sh("psql -X -q -v ON_ERROR_STOP=1 -h %s -U postgres -d %s -f %s >/dev/null", dbat_pg_sock(), db,
       path);
}

/* bigcat (slug) -> bigprod (slug per category) -> bignote (no slug: matched by pk); every key
   near 2^63, where neighbouring integers are one and the same double. */
#define BIG_PLAIN \
    "CREATE TABLE bigcat (id bigint PRIMARY KEY, slug text NOT NULL UNIQUE, name text);\n" \
    "CREATE TABLE bigprod (id bigint PRIMARY KEY, cat_id bigint NOT NULL REFERENCES bigcat, " \
    "slug text NOT NULL, UNIQUE (cat_id, slug));\n" \
    "CREATE TABLE bignote (id bigint PRIMARY KEY, prod_id bigint NOT NULL REFERENCES bigprod, " \
    "body text);\n"
#define BIG_IDENTITY \
    "CREATE TABLE bigcat (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, " \
    "slug text NOT NULL UNIQUE, name text);\n" \
    "CREATE TABLE bigprod (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, " \
    "cat_id bigint NOT NULL REFERENCES bigcat, slug text NOT NULL, UNIQUE (cat_id, slug));\n" \
    "CREATE TABLE bignote (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, " \
    "prod_id bigint NOT NULL REFERENCES bigprod, body text);\n"
#define BIG_SEED \
    "INSERT INTO bigcat VALUES (9223372036854775001, 'a', 'A'), (9223372036854775002, 'b', 'B'),"\
    " (9223372036854775003, 'c', 'C');\n" \
    "INSERT INTO bigprod VALUES (9223372036854775101, 9223372036854775001, 'x'), " \
    "(9223372036854775102, 9223372036854775002, 'y'), (9223372036854775103, " \
    "9223372036854775003, 'z'), (9223372036854775104, 9223372036854775002, 'w');\n" \
    "INSERT INTO bignote VALUES (9223372036854775201, 9223372036854775101, 'n1'), " \
    "(9223372036854775202, 9223372036854775102, 'n2'), (9223372036854775203, " \
    "9223372036854775104, 'n3'), (9223372036854775807, 9223372036854775103, 'max');\n"
/* Every note with its product and category, with or without the keys. */
#define BIG_FP_IDS \
    "SELECT string_agg(concat_ws(':', c.id, c.slug, p.id, p.slug, n.id, n.body), ',' ORDER BY " \
    "n.body) FROM bignote n JOIN bigprod p ON p.id = n.prod_id JOIN bigcat c ON c.id = p.cat_id"
#define BIG_FP \
    "SELECT string_agg(concat_ws(':', c.slug, p.slug, n.body), ',' ORDER BY n.body) FROM " \
    "bignote n JOIN bigprod p ON p.id = n.prod_id JOIN bigcat c ON c.id = p.cat_id"

Test(backup, bigint_keys_near_2_63_restore_exactly)
{
    char *out;
    sqlf("dba_bk_src", BIG_PLAIN BIG_SEED);
    sqlf("dba_bk_dst", BIG_PLAIN);
    backup_src("--tables bigcat,bigprod,bignote");
    cr_assert_eq(run("dba_bk_dst", "validate-backup b.json", &out), 0, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "22P02") == NULL, "%s", out);
    free(out);
    char *a = dbat_psql("dba_bk_src", BIG_FP_IDS), *b = dbat_psql("dba_bk_dst", BIG_FP_IDS);
    cr_expect(strstr(a, "9223372036854775807:max") != NULL, "%s", a);
    cr_expect_str_eq(a, b); /* same keys, same parents */
    free(a);
    free(b);
    /* Again: every row is found by its exact key (slug, or pk for bignote) and left alone. */
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"inserted\": 0") != NULL && strstr(out, "\"inserted\": 1") == NULL,
              "%s", out);
    free(out);
    b = dbat_psql("dba_bk_dst", "SELECT count(*) FROM bignote");
    cr_expect_str_eq(b, "4");
    free(b);
}

/* The "a sync put a product under the wrong category": the destination draws new keys,
   and each child must land under the parent it had. */
Test(backup, sync_bigint_keys_land_under_the_right_parent)
{
    char *out;
    sync_conf(NULL);
    sqlf("dba_bk_src", BIG_PLAIN BIG_SEED);
    sqlf("dba_bk_dst", BIG_IDENTITY);
    /* Categories and products first: each product under its own category. */
    cr_assert_eq(run("dba_bk_dst", "--json sync --from src --tables bigcat,bigprod --confirm",
                     &out), 0, "%s", out);
    cr_expect_eq(plan_num(out, "bigprod", "new"), 4, "%s", out);
    free(out);
    char *b = dbat_psql("dba_bk_dst", "SELECT string_agg(c.slug || '/' || p.slug, ',' ORDER BY p.slug) "
                              "FROM bigprod p JOIN bigcat c ON c.id = p.cat_id");
    cr_expect_str_eq(b, "b/w,a/x,b/y,c/z");
    free(b);
    /* Then the notes, found under the products already there (pk matching, exact). */
    cr_assert_eq(run("dba_bk_dst", "--json sync --from src --tables bigcat,bigprod,bignote "
                                   "--confirm", &out), 0, "%s", out);
    cr_expect_eq(plan_num(out, "bigprod", "unchanged"), 4, "%s", out);
    cr_expect_eq(plan_num(out, "bignote", "new"), 4, "%s", out);
    free(out);
    char *a = dbat_psql("dba_bk_src", BIG_FP);
    b = dbat_psql("dba_bk_dst", BIG_FP);
    cr_expect_str_eq(a, "c:z:max,a:x:n1,b:y:n2,b:w:n3");
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
}

/* api.things and public.things: a profile exposing api backs up, restores and syncs api's. */
#define API_DDL \
    "CREATE SCHEMA api;\n" \
    "CREATE TABLE api.things (id serial PRIMARY KEY, slug text NOT NULL UNIQUE, v text);\n" \
    "CREATE TABLE public.things (id serial PRIMARY KEY, slug text NOT NULL UNIQUE, v text);\n"

static void
api_conf(const char *extra)
{
    FILE *f;
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fprintf(f, "default_profile = \"dstapi\";\nprofiles: {\n"
               "  srcapi: { url = \"postgresql:///dba_bk_src?host=%s&user=postgres\"; "
               "schemas = [\"api\"]; };\n"
               "  dstapi: { url = \"postgresql:///dba_bk_dst?host=%s&user=postgres\"; "
               "schemas = [\"api\"]; %s };\n};\n",
            dbat_pg_sock(), dbat_pg_sock(), extra != NULL ? extra : "");
    fclose(f);
}

static char *
file_text(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL, "%s", path);
    struct dba_buf b;
    char chunk[4096];
    size_t n;
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dba_buf_append(&b, chunk, n);
    fclose(f);
    return dba_buf_take(&b);
}

Test(backup, exposed_schema_is_backed_up_restored_and_synced)
{
    char *out;
    api_conf(NULL);
    sqlf("dba_bk_src", API_DDL "INSERT INTO api.things (slug, v) VALUES ('a', 'api-a'), "
                       "('b', 'api-b');\nINSERT INTO public.things (slug, v) VALUES "
                       "('p', 'public-p');\n");
    sqlf("dba_bk_dst", API_DDL "INSERT INTO public.things (slug, v) VALUES ('keep', 'dst');\n");
    cr_assert_eq(run("dba_bk_dst", "--profile srcapi backup -o api.json", &out), 0, "%s", out);
    free(out);
    char *doc = file_text("api.json");
    cr_expect(strstr(doc, "api-a") != NULL && strstr(doc, "api-b") != NULL, "%s", doc);
    cr_expect(strstr(doc, "public-p") == NULL, "%s", doc);
    cr_expect(strstr(doc, "\"db_schema\":\"api\"") != NULL, "%s", doc);
    free(doc);
    cr_assert_eq(run("dba_bk_dst", "--json --profile dstapi restore api.json --yes", &out), 0,
                 "%s", out);
    cr_expect(strstr(out, "\"db_schema\": \"api\"") != NULL, "%s", out);
    free(out);
#define API_ROWS "SELECT (SELECT string_agg(v, ',' ORDER BY v) FROM api.things) || '|' || " \
                 "(SELECT string_agg(v, ',' ORDER BY v) FROM public.things)"
    char *n = dbat_psql("dba_bk_dst", API_ROWS);
    cr_expect_str_eq(n, "api-a,api-b|dst");
    free(n);
    sqlf("dba_bk_dst", "DELETE FROM api.things;");
    cr_assert_eq(run("dba_bk_dst", "--profile dstapi sync --from srcapi --confirm", &out), 0,
                 "%s", out);
    free(out);
    n = dbat_psql("dba_bk_dst", API_ROWS);
    cr_expect_str_eq(n, "api-a,api-b|dst");
    free(n);
    n = dbat_psql("dba_bk_src", API_ROWS);
    cr_expect_str_eq(n, "api-a,api-b|public-p"); /* the source is only read */
    free(n);
}

/* A target that lacks a table of the backup (the original crashed with SIGSEGV) or a column of it
   (the original dropped the values): a clear error naming it, exit 1, nothing written. */
Test(backup, target_without_a_table_or_column_is_refused)
{
    char *out;
    backup_src("");
    sqlf("dba_bk_dst", "DROP TABLE products CASCADE;"); /* a table in the middle of the order */
    for (int dry = 0; dry < 2; dry++) {
        int rc = run("dba_bk_dst", dry ? "restore b.json --dry-run" : "restore b.json --yes",
                     &out);
        cr_expect_eq(rc, 1, "%s", out);
        cr_expect(strstr(out, "table 'products' of the backup does not exist in the target") !=
                  NULL, "%s", out);
        free(out);
    }
    char *n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
    dbat_backup_db("dba_bk_dst", false);
    sqlf("dba_bk_dst", "ALTER TABLE products DROP COLUMN tags;");
    cr_expect_eq(run("dba_bk_dst", "restore b.json --yes", &out), 1, "%s", out);
    cr_expect(strstr(out, "table 'products' has no column 'tags'") != NULL, "%s", out);
    free(out);
    n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
    /* A table of the document that the target does not have at all. */
    FILE *f;
    char path[128];
    snprintf(path, sizeof(path), "%s/ghost.json", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fputs("{\"metadata\": {\"version\": \"1.1\", \"created_at\": \"x\", \"user_id\": null, "
          "\"backup_type\": \"full\", \"categories_count\": 1, \"ghost_count\": 1}, "
          "\"categories\": [{\"id\": 1, \"slug\": \"s\", \"name\": \"n\"}], "
          "\"ghost\": [{\"id\": 1}]}", f);
    fclose(f);
    cr_expect_eq(run("dba_bk_dst", "restore ghost.json --yes", &out), 1, "%s", out);
    cr_expect(strstr(out, "table 'ghost' of the backup does not exist in the target") != NULL,
              "%s", out);
    free(out);
    n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
}

Test(backup, read_only_profile_refuses_restore_and_confirmed_sync)
{
    char *out;
    backup_src("");
    sync_conf(NULL);
    /* Same profiles, dst read-only. */
    FILE *f;
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fprintf(f, "default_profile = \"dst\";\nprofiles: {\n"
               "  src: { url = \"postgresql:///dba_bk_src?host=%s&user=postgres\"; };\n"
               "  dst: { url = \"postgresql:///dba_bk_dst?host=%s&user=postgres\"; "
               "read_only = true; };\n};\n", dbat_pg_sock(), dbat_pg_sock());
    fclose(f);
    cr_expect_eq(run("dba_bk_dst", "restore b.json --yes", &out), 1, "%s", out);
    cr_expect(strstr(out, "read_only") != NULL, "%s", out);
    free(out);
    cr_expect_eq(run("dba_bk_dst", "sync --from src --confirm", &out), 1, "%s", out);
    cr_expect(strstr(out, "read_only") != NULL, "%s", out);
    free(out);
    char *n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
    /* Previews roll back: allowed. */
    cr_expect_eq(run("dba_bk_dst", "restore b.json --dry-run", &out), 0, "%s", out);
    free(out);
    cr_expect_eq(run("dba_bk_dst", "sync --from src", &out), 0, "%s", out);
    free(out);
    n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
}

/* Usage errors exit 2, handled refusals 1; restore checks its arguments before it asks. */
Test(backup, exit_codes_of_every_command)
{
    char *out;
    backup_src("");
    sync_conf(NULL);
    static const struct { const char *args; int rc; const char *says; } cases[] = {
        { "restore b.json --mode bogus", 2, "--mode" },
        { "restore b.json --confirm", 2, "unexpected argument --confirm" },
        { "restore b.json --tables categories", 2, "unexpected argument --tables" },
        { "restore", 2, "missing the backup FILE" },
        { "restore missing.json", 1, "not found" },
        { "restore notjson.json", 1, "Invalid JSON" },
        { "backup --mode skip", 2, "unexpected argument --mode" },
        { "backup --format xml", 2, "--format" },
        { "backup --yes", 2, "unexpected argument --yes" },
        { "validate-backup", 2, "missing the backup FILE" },
        { "validate-backup b.json --dry-run", 2, "unexpected argument --dry-run" },
        { "validate-backup missing.json", 1, "not found" },
        { "sync", 2, "missing --from" },
        { "sync --from src --mode fail", 2, "--mode" },
        { "sync --from src --mode bogus", 2, "--mode" },
        { "sync --from src extra", 2, "unexpected argument extra" },
        { "sync --from src --yes", 2, "unexpected argument --yes" },
        { "sync --from src --dry-run --confirm", 2, "exclude" },
        { "sync --from dst", 1, "same database" },
        { "sync --from nope", 1, "unknown profile 'nope'" },
    };
    char path[128];
    snprintf(path, sizeof(path), "%s/notjson.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs("{\"metadata\": {\"version\": \"1.1\"}, \"categories\": [", f);
    fclose(f);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(run("dba_bk_dst", cases[i].args, &out), cases[i].rc, "%s -> %s",
                     cases[i].args, out);
        cr_expect(strstr(out, cases[i].says) != NULL, "%s -> %s", cases[i].args, out);
        cr_expect(strstr(out, "not a terminal") == NULL, "%s asked first: %s", cases[i].args,
                  out);
        free(out);
    }
}

/* ---- over HTTP, issue 8 ---- */

Test(backup_http, restore_of_a_missing_table_is_422_and_the_gateway_lives)
{
    const char *h[] = { AUTH, NULL };
    char *doc = src_backup_text();
    sqlf("dba_bk_dst", "DROP TABLE products CASCADE;"); /* a table in the middle of the order */
    static const char *const paths[] = { "/restore?dry_run=true", "/restore" };
    for (size_t i = 0; i < 2; i++) {
        struct dbat_resp *r = dbat_req("POST", paths[i], h, doc);
        cr_expect_eq(r->status, 422, "%s: %s", paths[i], r->body);
        const char *m = json_string_value(json_object_get(r->json, "message"));
        cr_expect(m != NULL && strstr(m, "table 'products'") != NULL, "%s", r->body);
        cr_expect(json_object_get(r->json, "code") != NULL, "%s", r->body);
        dbat_resp_free(r);
        r = dbat_get("/healthz"); /* the gateway still answers */
        cr_expect_eq(r->status, 200, "%s", r->body);
        dbat_resp_free(r);
    }
    char *n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
    /* A column the target lacks. */
    sqlf("dba_bk_dst", "CREATE TABLE products (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                       "category_id int NOT NULL REFERENCES categories (id), slug text NOT NULL, "
                       "price numeric(12, 2), meta jsonb, UNIQUE (category_id, slug));");
    struct dbat_resp *r = dbat_req("POST", "/restore", h, doc);
    cr_expect_eq(r->status, 422, "%s", r->body);
    cr_expect(strstr(r->body, "table 'products' has no column 'tags'") != NULL, "%s", r->body);
    dbat_resp_free(r);
    n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "0");
    free(n);
    free(doc);
}

/* A validation of a big body (several MB) runs on a task thread; its answer is still exact: one
   orphan among 60,000 rows whose keys near 2^63 are all odd or even neighbours. (That /healthz
   is not stalled meanwhile is not tested: it could only be shown with timing.) */
Test(backup_http, validate_of_a_large_body_is_exact)
{
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, "{\"metadata\": {\"version\": \"1.1\", \"created_at\": \"x\", \"user_id\": "
                     "null, \"backup_type\": \"full\", \"categories_count\": 20000, "
                     "\"products_count\": 40000, \"reviews_count\": 0},\n\"categories\": [");
    for (int i = 0; i < 20000; i++)
        dba_buf_printf(&b, "%s{\"id\": %lld, \"slug\": \"c%d\", \"user_id\": null, \"name\": "
                           "\"category number %d\", \"meta\": {\"i\": %d}}", i ? ",\n" : "",
                       9223372036854000000LL + 2LL * i, i, i, i);
    dba_buf_puts(&b, "],\n\"products\": [");
    for (int i = 0; i < 40000; i++)
        dba_buf_printf(&b, "%s{\"id\": %d, \"category_id\": %lld, \"slug\": \"%s%d\", "
                           "\"price\": \"1.50\", \"tags\": [\"t\"], \"meta\": null}",
                       i ? ",\n" : "", i + 1,
                       9223372036854000000LL + 2LL * (i % 20000) + (i == 31234 ? 1 : 0),
                       i == 31234 ? "orphan" : "p", i);
    dba_buf_puts(&b, "],\n\"reviews\": []}\n");
    cr_assert_gt(b.len, 5 * 1000 * 1000);
    struct dbat_resp *r = dbat_admin_req("POST", "/backup/validate", NULL, b.data);
    dba_buf_cleanup(&b);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect(json_is_true(json_object_get(r->json, "valid")), "%s", r->body);
    json_t *t = json_object_get(r->json, "tables");
    cr_expect_eq(json_integer_value(json_object_get(t, "categories")), 20000, "%s", r->body);
    cr_expect_eq(json_integer_value(json_object_get(t, "products")), 40000, "%s", r->body);
    json_t *w = json_object_get(r->json, "warnings");
    cr_expect_eq(json_array_size(w), 1, "%s", r->body);
    cr_expect(strstr(json_string_value(json_array_get(w, 0)) ? json_string_value(
                  json_array_get(w, 0)) : "", "Orphaned products 'orphan31234'") != NULL,
              "%s", r->body);
    dbat_resp_free(r);
}

/* The active profile "test" (dba_test) with read_only = true. */
static void
http_ro_setup(void)
{
    setenv("DB_ADAPTER_ADMIN_TOKEN", TOKEN, 1);
    dbat_server_start_conf(NULL, "read_only = true;", "\"public\"", NULL);
}

static void
http_ro_teardown(void)
{
    dbat_server_stop();
}

TestSuite(backup_http_ro, .init = http_ro_setup, .fini = http_ro_teardown, .timeout = 60);

Test(backup_http_ro, restore_and_confirmed_sync_are_403)
{
    const char *h[] = { AUTH, NULL };
    char *before = dbat_sql("SELECT count(*) FROM items");
    static const char *const paths[] = { "/restore", "/restore?mode=overwrite",
                                         "/sync?from=test&confirm=true",
                                         "/sync?from=nope&confirm=true" };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct dbat_resp *r = dbat_req("POST", paths[i], h,
                                       "{\"metadata\": {\"version\": \"1.1\"}, \"items\": []}");
        cr_expect_eq(r->status, 403, "%s: %s", paths[i], r->body);
        const char *m = json_string_value(json_object_get(r->json, "message"));
        cr_expect(m != NULL && strstr(m, "read_only") != NULL, "%s", r->body);
        dbat_resp_free(r);
    }
    /* A dry run is not refused for read_only (whatever else it answers). */
    struct dbat_resp *r = dbat_req("POST", "/restore?dry_run=true", h, "{}");
    cr_expect_neq(r->status, 403, "%s", r->body);
    dbat_resp_free(r);
    char *after = dbat_sql("SELECT count(*) FROM items");
    cr_expect_str_eq(before, after);
    free(before);
    free(after);
}

/* ---- set-based restore (issue 14) ---- */

/* Every review with its product and categories, keyed by slugs, as one digest and a count. */
#define ROW_BY_ROW \
    "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', c.slug, c.name, c.meta::text, " \
    "p.slug, p.price::text, p.tags::text, r.slug, fc.slug, r.score::text, r.body), ';' ORDER BY " \
    "c.slug, p.slug, r.slug)) FROM reviews r JOIN products p ON p.id = r.product_id JOIN " \
    "categories c ON c.id = p.category_id LEFT JOIN categories fc ON fc.id = " \
    "r.featured_category_id"

Test(backup, hundred_thousand_rows_three_levels_remapped_row_by_row, .timeout = 300)
{
    char *out;
    dbat_sh("psql -X -q -v ON_ERROR_STOP=1 -h %s -U postgres -d dba_bk_src -c \"INSERT INTO "
       "categories (slug, name, meta) SELECT 'bc' || g, 'n' || g, jsonb_build_object('g', g) "
       "FROM generate_series(1, 1000) g\" -c \"INSERT INTO products (category_id, slug, price, "
       "tags) SELECT c.id, 'bp' || g, g / 100.0, ARRAY['t' || g] FROM generate_series(1, 19000) "
       "g JOIN categories c ON c.slug = 'bc' || (1 + g %% 1000)\" -c \"INSERT INTO reviews "
       "(product_id, slug, featured_category_id, score, body) SELECT p.id, 'br' || g, CASE WHEN "
       "g %% 3 = 0 THEN NULL ELSE (SELECT id FROM categories WHERE slug = 'bc' || (1 + g %% 997))"
       " END, g %% 50, 'b' || g FROM generate_series(1, 80000) g JOIN products p ON p.slug = 'bp'"
       " || (1 + g %% 19000)\" >/dev/null", dbat_pg_sock());
    /* the destination already has other rows, so every new key differs from the source's */
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_dst -c \"INSERT INTO categories (slug, name) "
       "SELECT 'other' || g, 'o' FROM generate_series(1, 7) g\" >/dev/null", dbat_pg_sock());
    backup_src("");
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    free(out);
    char *n = dbat_psql("dba_bk_src", "SELECT (SELECT count(*) FROM categories) + (SELECT count(*) FROM "
                              "products) + (SELECT count(*) FROM reviews)");
    cr_expect(atoi(n) >= 100000, "%s", n);
    free(n);
    char *a = dbat_psql("dba_bk_src", ROW_BY_ROW), *b = dbat_psql("dba_bk_dst", ROW_BY_ROW);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    /* and each review, by its own key, names the same product and featured category */
    a = dbat_psql("dba_bk_src", "SELECT md5(string_agg(r.slug || p.slug || coalesce(f.slug, '-'), ',' "
                        "ORDER BY r.id)) FROM reviews r JOIN products p ON p.id = r.product_id "
                        "LEFT JOIN categories f ON f.id = r.featured_category_id");
    b = dbat_psql("dba_bk_dst", "SELECT md5(string_agg(r.slug || p.slug || coalesce(f.slug, '-'), ',' "
                        "ORDER BY r.id)) FROM reviews r JOIN products p ON p.id = r.product_id "
                        "LEFT JOIN categories f ON f.id = r.featured_category_id");
    cr_expect_str_eq(a, b); /* new keys drawn in the backup's order */
    free(a);
    free(b);
    n = dbat_psql("dba_bk_dst", "SELECT min(id) FROM categories WHERE slug = 'tools'");
    cr_expect_str_eq(n, "8");
    free(n);
    /* again: everything is found and unchanged */
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"inserted\": 0") != NULL && strstr(out, "\"unchanged\": 80004") !=
              NULL, "%s", out);
    free(out);
}

#define SEQS "SELECT string_agg(sequencename || '=' || coalesce(last_value::text, 'null'), ',' " \
             "ORDER BY sequencename) FROM pg_sequences"

Test(backup, dry_run_leaves_the_sequences_alone)
{
    char *out;
    backup_src("");
    char *before = dbat_psql("dba_bk_dst", SEQS);
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --dry-run", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"inserted\": 4") != NULL, "%s", out);
    free(out);
    char *after = dbat_psql("dba_bk_dst", SEQS);
    cr_expect_str_eq(before, after);
    free(before);
    free(after);
    /* after a real restore, a dry run of more rows plans keys past the sequence, unchanged */
    cr_assert_eq(run("dba_bk_dst", "restore b.json --yes", &out), 0, "%s", out);
    free(out);
    dbat_sh("psql -X -q -h %s -U postgres -d dba_bk_src -c \"INSERT INTO categories (slug, name) "
       "VALUES ('extra', 'E')\"", dbat_pg_sock());
    backup_src("");
    before = dbat_psql("dba_bk_dst", SEQS);
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --dry-run", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"inserted\": 1") != NULL, "%s", out);
    free(out);
    after = dbat_psql("dba_bk_dst", SEQS);
    cr_expect_str_eq(before, after);
    cr_expect(strstr(after, "categories_id_seq=3") != NULL, "%s", after);
    free(before);
    free(after);
}

/* Progress on standard error on a terminal (script gives the command a pseudo-terminal), one
   summary line per table; nothing of it when not a terminal or with --json. */
Test(backup, restore_progress_only_on_a_terminal)
{
    char cmd[2048], *out;
    backup_src("");
    snprintf(cmd, sizeof(cmd), "cd %s && script -qc \"DATABASE_URL='postgresql:///dba_bk_dst?"
             "host=%s&user=postgres' %s restore b.json --yes\" /dev/null > tty.txt 2>&1",
             dir, dbat_pg_sock(), getenv("DBA_TEST_BIN"));
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/tty.txt", dir);
    size_t len;
    out = dba_file_read(cmd, &len);
    cr_assert(out != NULL);
    cr_expect(strstr(out, "reviews") != NULL && strstr(out, "4 / 4") != NULL &&
              strstr(out, "rows/s") != NULL, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "rows/s") == NULL, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "rows/s") == NULL, "%s", out);
    free(out);
}

/* Runs "<bin> args" in dir with a shell (pipes and redirections of its own) against db. */
static void
sh_bin(const char *db, const char *args)
{
    dbat_sh("cd %s && env -u DB_PROFILE DATABASE_URL='postgresql:///%s?host=%s&user=postgres' "
       "%s %s", dir, db, dbat_pg_sock(), getenv("DBA_TEST_BIN"), args);
}

Test(backup, stdout_stdin_and_gzip_roundtrips)
{
    char *out;
    /* -o - writes the document on stdout, nothing else there; restore - reads stdin */
    sh_bin("dba_bk_src", "backup -o - -q > s.json 2>s.err");
    dbat_sh("test ! -s %s/s.err && head -c 13 %s/s.json | grep -q '^{\"metadata\"'", dir, dir);
    sh_bin("dba_bk_dst", "validate-backup - < s.json > /dev/null");
    sh_bin("dba_bk_dst", "restore - --yes < s.json > /dev/null");
    char *a = dbat_psql("dba_bk_src", FINGERPRINT), *b = dbat_psql("dba_bk_dst", FINGERPRINT);
    cr_expect_str_eq(a, b);
    free(b);
    /* without --yes standard input cannot confirm: refused, nothing read */
    dbat_backup_db("dba_bk_dst", false);
    dbat_sh("cd %s && ! env -u DB_PROFILE DATABASE_URL='postgresql:///dba_bk_dst?host=%s&user=postgres' "
       "%s restore - < s.json > r.out 2>&1 && grep -q 'without --yes' r.out", dir, dbat_pg_sock(),
       getenv("DBA_TEST_BIN"));
    /* a .gz name is written gzip-compressed and read back, from a file and from stdin */
    cr_assert_eq(run("dba_bk_src", "backup -o b.json.gz", &out), 0, "%s", out);
    free(out);
    dbat_sh("gzip -t %s/b.json.gz && zcat %s/b.json.gz | head -c 13 | grep -q '^{\"metadata\"'", dir,
       dir);
    cr_assert_eq(run("dba_bk_dst", "validate-backup b.json.gz", &out), 0, "%s", out);
    free(out);
    cr_assert_eq(run("dba_bk_dst", "restore b.json.gz --yes", &out), 0, "%s", out);
    free(out);
    b = dbat_psql("dba_bk_dst", FINGERPRINT);
    cr_expect_str_eq(a, b);
    free(b);
    dbat_backup_db("dba_bk_dst", false);
    cr_assert_eq(run("dba_bk_src", "backup --format jsonl -o b.jsonl.gz", &out), 0, "%s", out);
    free(out);
    sh_bin("dba_bk_dst", "restore - --yes < b.jsonl.gz > /dev/null");
    b = dbat_psql("dba_bk_dst", FINGERPRINT);
    cr_expect_str_eq(a, b);
    free(b);
    free(a);
    /* a truncated gzip stream is an error, not a partial restore */
    dbat_sh("head -c 200 %s/b.json.gz > %s/t.json.gz", dir, dir);
    cr_expect_neq(run("dba_bk_dst", "validate-backup t.json.gz", &out), 0, "%s", out);
    free(out);
}

/* Progress on a terminal for sync too; --quiet silences it, on a terminal and for restore. */
Test(backup, sync_progress_on_a_terminal_and_quiet)
{
    char cmd[2048], *out;
    size_t len;
    sync_conf(NULL);
    snprintf(cmd, sizeof(cmd), "cd %s && script -qc \"%s sync --from src --confirm\" /dev/null "
             "> tty.txt 2>&1", dir, getenv("DBA_TEST_BIN"));
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/tty.txt", dir);
    out = dba_file_read(cmd, &len);
    cr_assert(out != NULL);
    cr_expect(strstr(out, "reviews") != NULL && strstr(out, "rows/s") != NULL, "%s", out);
    free(out);
    backup_src("");
    snprintf(cmd, sizeof(cmd), "cd %s && script -qc \"%s restore b.json --yes --quiet && %s "
             "sync --from src --confirm -q\" /dev/null > tty.txt 2>&1", dir,
             getenv("DBA_TEST_BIN"), getenv("DBA_TEST_BIN"));
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/tty.txt", dir);
    out = dba_file_read(cmd, &len);
    cr_assert(out != NULL);
    cr_expect(strstr(out, "rows/s") == NULL && strstr(out, "Restore complete") != NULL, "%s",
              out);
    free(out);
}

/* backup.user_id_env names the variable holding the default --user-id; the flag wins. */
Test(backup, user_id_env_is_the_default_user_and_the_flag_wins)
{
    sync_conf("backup: { user_id_env = \"DBA_TEST_BK_USER\"; };");
    dbat_sh("cd %s && DBA_TEST_BK_USER=u2 %s --profile src backup -q -o u.json --tables "
       "categories,products > /dev/null", dir, getenv("DBA_TEST_BIN"));
    dbat_sh("grep -q '\"user_id\":\"u2\"' %s/u.json", dir);
    dbat_sh("cd %s && DBA_TEST_BK_USER=u9 %s restore u.json --yes > /dev/null", dir,
       getenv("DBA_TEST_BIN"));
    char *n = dbat_psql("dba_bk_dst", "SELECT string_agg(c.slug || ':' || c.user_id || ':' || p.slug, ',')"
                              " FROM categories c JOIN products p ON p.category_id = c.id");
    cr_expect_str_eq(n, "books:u9:novel");
    free(n);
    dbat_sh("cd %s && DBA_TEST_BK_USER=u9 %s --profile src backup -q --user-id u2 -o v.json > /dev/null "
       "&& grep -q '\"user_id\":\"u2\"' v.json", dir, getenv("DBA_TEST_BIN"));
}

/* The rows reach the target through COPY into a typed table: every value must land exactly as
   the row-by-row restore (jsonb_populate_record) put it - text with tabs, newlines, backslashes
   and quotes, arrays with commas, braces, NULL elements and two dimensions, json (as jsonb reads
   it), jsonb[], numbers with exponents, bytea, empty strings and arrays, NULLs. (A JSON null -
   a json column's or a jsonb[] element's - is SQL NULL after a restore, either way.) */
#define VALS_TABLE \
    "CREATE TABLE vals (id bigserial PRIMARY KEY, slug text NOT NULL UNIQUE, t text, " \
    "arr text[], nums numeric[], grid int[], j json, jb jsonb, jbs jsonb[], n numeric, " \
    "f double precision, b boolean, d date, ts timestamptz, u uuid, by bytea);\n"
#define VALS_FP \
    "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', slug, coalesce(t, '<null>'), " \
    "arr::text, nums::text, grid::text, j::jsonb::text, jb::text, jbs::text, n::text, " \
    "f::text, b::text, d::text, ts::text, u::text, by::text), ';' ORDER BY slug)) FROM vals"

Test(backup, copy_path_keeps_every_value_exact)
{
    char *out;
    sqlf("dba_bk_src", VALS_TABLE
         "INSERT INTO vals (slug, t, arr, nums, grid, j, jb, jbs, n, f, b, d, ts, u, by) VALUES "
         "('a', E'tab\\there\\nnew\\rcr back\\\\slash \"q\" \\u00e9 \\u2603', "
         "ARRAY['a,b', '{x}', E'back\\\\slash', NULL, 'NULL', '', ' sp ', E'q\"uote'], "
         "ARRAY[1.50, 1e-5, NULL]::numeric[], '{{1,2},{3,4}}', '{\"b\": 1,  \"a\": [1, 2]}', "
         "'{\"k\": \"v\\\\n\\\\\\\"\", \"n\": null}', "
         "ARRAY['{\"a\": 1}'::jsonb, '\"s\"', '2.50', '[1, \"x\"]'], "
         "12345678901234567890.123, 1e300, true, '2024-02-29', "
         "'2024-01-01 12:00:00.123456+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
         "E'\\\\x00ff5c'),\n"
         "('b', '', '{}', '{}', NULL, '[]', '\"str\"', '{}', -0.0, -1.5e-10, false, NULL, NULL, "
         "NULL, ''),\n"
         "('c', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
         "NULL);\n"
         "INSERT INTO vals (slug, t, n) SELECT 'g' || g, repeat(E'x\\t', g % 7), g / 7.0 "
         "FROM generate_series(1, 12000) g;\n");
    sqlf("dba_bk_dst", VALS_TABLE);
    backup_src("--tables vals");
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"inserted\": 12003") != NULL, "%s", out);
    free(out);
    char *a = dbat_psql("dba_bk_src", VALS_FP), *b = dbat_psql("dba_bk_dst", VALS_FP);
    cr_expect(strncmp(a, "12003:", 6) == 0, "%s", a);
    cr_expect_str_eq(a, b);
    free(b);
    /* again: every row is found and equal to the backup's (unchanged), nothing written */
    cr_assert_eq(run("dba_bk_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"unchanged\": 12003") != NULL, "%s", out);
    free(out);
    b = dbat_psql("dba_bk_dst", VALS_FP);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
}

/* Rows of a backup that meet each other: two rows with one slug in the same batch, and an old
   key that comes again in a later batch (5,000 rows a batch). The batch statements cannot see
   their own rows, so such batches are replayed row by row: the second twin finds the first
   (skip: counted as skipped, its children go under the first), and the key that comes again is
   a second row whose children go under it. */
Test(backup, rows_meeting_in_a_batch_or_across_batches)
{
    char *out;
    FILE *f;
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fputs("backup: { tables = ( { name = \"categories\"; },\n"
          "  { name = \"products\"; parent = { table = \"categories\"; field = \"category_id\"; }; }"
          " ); };\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/dup.json", dir);
    cr_assert((f = fopen(path, "w")) != NULL);
    fputs("{\"metadata\": {\"version\": \"1.1\", \"categories_count\": 6003, "
          "\"products_count\": 3},\n\"categories\": [\n", f);
    for (int i = 1; i <= 6000; i++) {
        fprintf(f, "{\"id\": %d, \"slug\": \"c%d\", \"name\": \"n%d\"},\n", i, i, i);
        if (i == 10)
            fputs("{\"id\": 7001, \"slug\": \"twin\", \"name\": \"first\"},\n"
                  "{\"id\": 7002, \"slug\": \"twin\", \"name\": \"second\"},\n", f);
        if (i == 5500)
            fputs("{\"id\": 3, \"slug\": \"again\", \"name\": \"key 3 again\"},\n", f);
    }
    fputs("{\"id\": 9000, \"slug\": \"last\", \"name\": \"last\"}],\n\"products\": [\n"
          "{\"id\": 1, \"category_id\": 3, \"slug\": \"p-of-3\"},\n"
          "{\"id\": 2, \"category_id\": 7002, \"slug\": \"p-of-twin\"},\n"
          "{\"id\": 3, \"category_id\": 7001, \"slug\": \"p-of-first\"}]}\n", f);
    fclose(f);
    cr_assert_eq(run("dba_bk_dst", "--json restore dup.json --yes", &out), 0, "%s", out);
    size_t k = 0; /* the report without its blanks */
    for (size_t i = 0; out[i] != '\0'; i++)
        if (out[i] != ' ' && out[i] != '\n')
            out[k++] = out[i];
    out[k] = '\0';
    cr_expect(strstr(out, "\"categories\":{\"inserted\":6003,\"updated\":0,\"skipped\":1,"
                          "\"unchanged\":0,\"orphans\":0}") != NULL, "%s", out);
    cr_expect(strstr(out, "\"products\":{\"inserted\":3,") != NULL, "%s", out);
    free(out);
    char *n = dbat_psql("dba_bk_dst", "SELECT string_agg(p.slug || '>' || c.slug || '/' || c.name, ' ' "
                              "ORDER BY p.slug) FROM products p JOIN categories c ON c.id = "
                              "p.category_id");
    cr_expect_str_eq(n, "p-of-3>again/key 3 again p-of-first>twin/first p-of-twin>twin/first");
    free(n);
    n = dbat_psql("dba_bk_dst", "SELECT count(*) FROM categories");
    cr_expect_str_eq(n, "6003");
    free(n);
}
