/* test_backup_render.c - the backup's rows, rendered by the client from a plain COPY, are
   byte for byte what PostgreSQL's row_to_json gives for the same rows: a table with a column of
   every kind of type (numbers with NaN and the infinities, booleans, strings with every escape,
   json and jsonb, dates and timestamps in several time zones and BC, arrays, composites, enums,
   domains, ranges), in the database's own DateStyle (ISO) and in another (SQL), as a JSON
   document and as jsonl; and the whole backup restores and validates. Database dba_bkr (own). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

static char dir[64];

static const char *
bkr_sock(void)
{
    static char s[512];
    snprintf(s, sizeof(s), "%s/sock", getenv("DBA_TEST_PG_DIR"));
    return s;
}

static void
bkr_sh(const char *cmd)
{
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

/* Runs the SQL text in db through psql (a file, so any quoting goes). */
static void
bkr_sql(const char *db, const char *sql)
{
    char path[128], cmd[1024];
    snprintf(path, sizeof(path), "%s/x.sql", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs("SET client_min_messages = warning;\n", f);
    fputs(sql, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "psql -X -q -v ON_ERROR_STOP=1 -h %s -U postgres -d %s -f %s "
             ">/dev/null", bkr_sock(), db, path);
    bkr_sh(cmd);
}

/* The single value of the query (psql unaligned, tuples only: its exact bytes), heap. */
static char *
bkr_value(const char *db, const char *sql)
{
    char path[128], cmd[1024], chunk[4096];
    snprintf(path, sizeof(path), "%s/q.sql", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs(sql, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "psql -X -q -t -A -v ON_ERROR_STOP=1 -h %s -U postgres -d %s "
             "-f %s", bkr_sock(), db, path);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    struct dba_buf b;
    size_t n;
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        dba_buf_append(&b, chunk, n);
    cr_assert_eq(pclose(p), 0);
    char *s = dba_buf_take(&b);
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '\n') /* psql's end of the row */
        s[len - 1] = '\0';
    return s;
}

static int
bkr_run(const char *db, const char *args, char **out)
{
    struct dba_buf env;
    dba_buf_init(&env);
    dba_buf_printf(&env, "DATABASE_URL='postgresql:///%s?host=%s&user=postgres'", db,
                   bkr_sock());
    int rc = dbat_cli(dir, env.data, args, out);
    dba_buf_cleanup(&env);
    return rc;
}

static char *
bkr_file(const char *name)
{
    char path[128];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *s = dba_file_read(path, &len);
    cr_assert(s != NULL, "%s", path);
    return s;
}

static void
bkr_setup(void)
{
    char cmd[2048];
    snprintf(dir, sizeof(dir), "/tmp/dbat-bkr-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof(cmd), "psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE IF "
             "EXISTS dba_bkr' -c 'DROP DATABASE IF EXISTS dba_bkr_dst' -c 'CREATE DATABASE "
             "dba_bkr' -c 'CREATE DATABASE dba_bkr_dst' >/dev/null 2>&1", bkr_sock());
    bkr_sh(cmd);
}

static void
bkr_teardown(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "rm -rf %s; psql -X -q -h %s -U postgres -d postgres -c 'DROP "
             "DATABASE IF EXISTS dba_bkr' -c 'DROP DATABASE IF EXISTS dba_bkr_dst' >/dev/null "
             "2>&1", dir, bkr_sock());
    bkr_sh(cmd);
}

TestSuite(backup_render, .init = bkr_setup, .fini = bkr_teardown, .timeout = 120);

/* A column of each kind; the rows push every renderer to its edges. */
#define KINDS_TABLE \
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\n" \
    "CREATE TYPE pair AS (a int, b text);\n" \
    "CREATE DOMAIN dtext AS text;\n" \
    "CREATE DOMAIN dtext2 AS dtext;\n" \
    "CREATE DOMAIN dint AS int CHECK (VALUE > 0);\n" \
    "CREATE DOMAIN dts AS timestamptz;\n" \
    "CREATE DOMAIN dnum AS numeric;\n" \
    "CREATE TABLE kinds (id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double " \
    "precision, n numeric, n2 numeric(12, 2), b boolean, t text, vc varchar(20), ch char(5), " \
    "nm name, c1 \"char\", u uuid, by bytea, iv interval, tm time, ttz timetz, ip inet, " \
    "cid cidr, mac macaddr, o oid, j json, jb jsonb, d date, ts timestamp, tstz timestamptz, " \
    "ta text[], ia int[], na numeric[], ja jsonb[], ba boolean[], da date[], tsa timestamptz[], " \
    "m mood, p pair, dt dtext2, di dint, dts dts, dn dnum, r int4range, mo money, pt point, " \
    "\"we\"\"ird col\" text, \"ÄÖ\" int);\n" \
    "ALTER TABLE kinds DROP COLUMN mo;\n" \
    "ALTER TABLE kinds ADD COLUMN bya bytea[], ADD COLUMN iva interval[], " \
    "ADD COLUMN va varchar[], ADD COLUMN f8a float8[], ADD COLUMN jsa json[], " \
    "ADD COLUMN dia dint[], " \
    "ADD COLUMN ra int4range[], ADD COLUMN tsb timestamp[], ADD COLUMN ua uuid[], " \
    "ADD COLUMN ca \"char\"[], ADD COLUMN tza timetz[];\n"

#define KINDS_ROWS \
    "INSERT INTO kinds VALUES (1, -32768, 9223372036854775807, 'NaN', 'Infinity', 'NaN', 1.50, " \
    "true, E'tab\\there\\nnew\\rcr\\\\ \"q\" \\u00e9\\u2603 \\x01\\x1f\\x7f\\b\\f\\v /', " \
    "E'v\\\\N', 'ab', 'name', 'x', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', E'\\\\x00ff5c', " \
    "'1 year 2 mons 3 days 04:05:06.5', '23:59:59.999999', '10:00+05:30', '192.168.0.1/24', " \
    "'10.0.0.0/8', '08:00:2b:01:02:03', 4294967295, E'{\"a\":\\n [1, \"x\\\\ty\"],  \"b\": " \
    "\"\\\\u00e9\"}', '{\"k\": \"v\\\\n\\\\\\\"\", \"n\": null, \"a\": 1.50}', '2024-02-29', " \
    "'2024-01-01 12:00:00.123456', '2024-01-01 12:00:00+00', ARRAY['a,b', '{x}', " \
    "E'back\\\\slash', NULL, 'NULL', '', ' sp ', E'q\"uote', E'tab\\t'], '{{1,2},{3,4}}', " \
    "'{1.50,NaN,1e-5}', ARRAY['{\"a\": 1}'::jsonb, '\"s\"'], '{t,f,NULL}', " \
    "'{2024-01-01,infinity}', ARRAY['2024-06-01 00:00:00+00'::timestamptz, '-infinity'], " \
    "'happy', ROW(1, E'x\"y'), 'dom', 7, '2024-03-10 02:30:00+00', 12.5, '[1,10)', " \
    "'(1.5,2)', E'w\\\\', 42),\n" \
    "(2, 0, -1, 'Infinity', '-Infinity', 'Infinity', -0.01, false, '', '', '', '', ' ', " \
    "NULL, '', '0', '00:00', '00:00+00', '::1', '::/0', '00:00:00:00:00:00', 0, '[]', " \
    "'\"str\"', 'infinity', 'infinity', 'infinity', '{}', '{}', '{}', '{}', '{}', '{}', '{}', " \
    "'sad', ROW(NULL, NULL), '', 1, 'infinity', 'NaN', 'empty', '(0,0)', '', 0),\n" \
    "(3, NULL, NULL, '-Infinity', 1e300, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, " \
    "NULL, NULL, NULL, '-1 day', NULL, '23:00-09:30', NULL, NULL, NULL, NULL, 'null', 'null', " \
    "'-infinity', '-infinity', '-infinity', '{NULL}', '{{NULL}}', NULL, NULL, NULL, NULL, " \
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, '(,)', NULL, NULL, NULL),\n" \
    "(4, 1, 1, 1.5e-40, 2.2250738585072014e-308, 123456789012345678901234567890.123456789, " \
    "0, true, E'\\\\N', '\\N', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, " \
    "NULL, NULL, '  {\"sp\" : 1 }  ', '[1, \"a\", {\"b\": [true, null]}]', '0044-03-15 BC', " \
    "'0001-01-01 00:00:00 BC', '1900-01-01 00:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL, " \
    "NULL, NULL, NULL, NULL, NULL, '1900-06-01 12:00:00+00', 1e-20, NULL, NULL, NULL, -1),\n" \
    "(5, NULL, NULL, -0.0, -0.0, -0.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, " \
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '12024-01-01', '2024-07-01 " \
    "00:00:00', '2024-07-01 00:00:00.5+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, " \
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);\n" \
    "INSERT INTO kinds (id, t, tstz, f8, n) SELECT 100 + g, repeat(E'x\\t\\\\', g % 5), " \
    "timestamptz '2024-01-01 00:00:00+00' + g * interval '7 hours 1 second', g / 7.0, " \
    "g / 3.0 FROM generate_series(1, 3000) g;\n" \
    "UPDATE kinds SET bya = ARRAY['\\x00ff'::bytea, NULL, ''], iva = '{\"1 day\",-00:00:01}', " \
    "va = '[0:2]={a,\" b\",\"\\\\\\\"\"}', f8a = '{NaN,Infinity,-Infinity,1e-300,-0}', " \
    "jsa = ARRAY['{\"a\" :  1}'::json, 'null', '\"\\u00e9\\n\"'], dia = '{1,2}', " \
    "ra = '{\"[1,2)\",empty}', tsb = '{\"0001-01-01 00:00:00 BC\",\"2024-01-01 01:02:03.5\"}', " \
    "ua = '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', ca = '{a,\" \",\"\\\\\"}', " \
    "tza = '{\"10:00+05:30\"}' WHERE id = 1;\n" \
    "UPDATE kinds SET bya = '{}', iva = '{{\"1 day\"},{NULL}}', va = '{NULL,\"NULL\",null}', " \
    "f8a = '{}', jsa = '{}', dia = '{}', ra = '{}', tsb = '{infinity}', ua = '{NULL}', " \
    "ca = '{}', tza = '{}' WHERE id = 2;\n"

/* The rows as row_to_json gives them, joined as the backup joins them. */
#define KINDS_EXPECTED \
    "SELECT string_agg(row_to_json(_r)::text, E',\\n' ORDER BY id) FROM kinds _r"

/* The backup document's rows of table kinds (between its "[\n" and "\n]"), heap. */
static char *
bkr_doc_rows(const char *doc)
{
    const char *s = strstr(doc, "\n\"kinds\": [\n");
    cr_assert(s != NULL, "%.300s", doc);
    s += strlen("\n\"kinds\": [\n");
    const char *e = strstr(s, "\n]");
    cr_assert(e != NULL);
    return dba_xstrndup(s, (size_t)(e - s));
}

/* The rows of a jsonl backup ({"table": "kinds", "row": R}\n each), joined with ",\n". */
static char *
bkr_jsonl_rows(const char *doc)
{
    struct dba_buf b;
    const char *pre = "{\"table\": \"kinds\", \"row\": ";
    dba_buf_init(&b);
    for (const char *p = strstr(doc, pre); p != NULL; p = strstr(p, pre)) {
        p += strlen(pre);
        const char *e = strstr(p, "}\n{\"table\": ");
        if (e == NULL)
            e = doc + strlen(doc) - 2; /* the last line's "}\n" */
        if (b.len > 0)
            dba_buf_puts(&b, ",\n");
        dba_buf_append(&b, p, (size_t)(e - p));
        p = e;
    }
    return dba_buf_take(&b);
}

static void
bkr_check(const char *what)
{
    char *out;
    cr_assert_eq(bkr_run("dba_bkr", "backup -o b.json", &out), 0, "%s", out);
    free(out);
    cr_assert_eq(bkr_run("dba_bkr", "backup --format jsonl -o b.jsonl", &out), 0, "%s", out);
    free(out);
    char *want = bkr_value("dba_bkr", KINDS_EXPECTED);
    char *doc = bkr_file("b.json"), *got = bkr_doc_rows(doc);
    cr_expect(strlen(want) > 3000 * 20, "%s", what);
    cr_expect_str_eq(got, want, "%s: the document's rows differ from row_to_json's", what);
    if (strcmp(got, want) != 0) /* the first difference, for the log */
        for (size_t i = 0; got[i] != '\0'; i++)
            if (got[i] != want[i]) {
                cr_log_error("%s: at %zu: got [%.120s] want [%.120s]", what, i, got + i,
                             want + i);
                break;
            }
    cr_expect(strstr(doc, "\"kinds_count\":3005") != NULL, "%s", what);
    free(got);
    free(doc);
    doc = bkr_file("b.jsonl");
    got = bkr_jsonl_rows(doc);
    cr_expect_str_eq(got, want, "%s: the jsonl rows differ from row_to_json's", what);
    free(got);
    free(doc);
    free(want);
}

Test(backup_render, rows_are_row_to_json_byte_for_byte)
{
    bkr_sql("dba_bkr", KINDS_TABLE KINDS_ROWS
            "ALTER DATABASE dba_bkr SET timezone = 'Europe/Amsterdam';\n");
    bkr_check("ISO, Europe/Amsterdam");
    /* another time zone with half-hour offsets, and a DateStyle that is not ISO (dates then
       come from the server) */
    bkr_sql("dba_bkr", "ALTER DATABASE dba_bkr SET timezone = 'Asia/Kolkata';\n"
                       "ALTER DATABASE dba_bkr SET datestyle = 'SQL, DMY';\n");
    bkr_check("SQL DMY, Asia/Kolkata");
    bkr_sql("dba_bkr", "ALTER DATABASE dba_bkr SET datestyle = 'ISO, DMY';\n"
                       "ALTER DATABASE dba_bkr SET timezone = 'America/St_Johns';\n");
    bkr_check("ISO DMY, America/St_Johns");
    /* the document validates and restores into a database with the same table */
    char *out;
    bkr_sql("dba_bkr_dst", KINDS_TABLE);
    cr_assert_eq(bkr_run("dba_bkr", "--json validate-backup b.json", &out), 0, "%s", out);
    free(out);
    cr_assert_eq(bkr_run("dba_bkr_dst", "--json restore b.json --yes", &out), 0, "%s", out);
    cr_expect(strstr(out, "\"inserted\": 3005") != NULL, "%s", out);
    free(out);
    /* (restore stores a json value through jsonb, so j is compared as jsonb; a json null and
       SQL NULL are both null in the document) */
    const char *fp = "SET timezone = 'UTC';\nSELECT md5(string_agg((to_jsonb(_r) - 'j')::text "
                     "|| coalesce(nullif(j::jsonb, 'null')::text, 'N'), ',' ORDER BY id)) "
                     "FROM kinds _r";
    char *a = bkr_value("dba_bkr", fp), *b = bkr_value("dba_bkr_dst", fp);
    cr_expect_str_eq(a, b, "the restored rows equal the source's");
    free(a);
    free(b);
}

Test(backup_render, a_dropped_column_and_an_empty_table)
{
    bkr_sql("dba_bkr", "CREATE TABLE kinds (id int PRIMARY KEY, t text);\n"
                       "CREATE TABLE gone (id int PRIMARY KEY, x text);\n"
                       "INSERT INTO gone VALUES (1, 'a');\n"
                       "ALTER TABLE gone DROP COLUMN x;\n");
    char *out;
    cr_assert_eq(bkr_run("dba_bkr", "backup -o b.json", &out), 0, "%s", out);
    free(out);
    char *doc = bkr_file("b.json");
    cr_expect(strstr(doc, "\n\"kinds\": []") != NULL, "%s", doc);
    cr_expect(strstr(doc, "\n\"gone\": [\n{\"id\":1}\n]") != NULL, "%s", doc);
    free(doc);
}

/* A child row whose parent is missing is left out of the backup, as before; the condition on
   the parent is only dropped from the statements when an enforced foreign key guarantees it. */
Test(backup_render, orphans_are_left_out_unless_a_foreign_key_rules_them_out)
{
    bkr_sql("dba_bkr",
            "CREATE TABLE kinds (id int PRIMARY KEY);\n"
            "CREATE TABLE kids (id int PRIMARY KEY, kind_id int NOT NULL REFERENCES kinds);\n"
            "CREATE TABLE loose (id int PRIMARY KEY, kind_id int NOT NULL "
            "CONSTRAINT loose_fk REFERENCES kinds);\n"
            "CREATE TABLE late (id int PRIMARY KEY, kind_id int NOT NULL);\n"
            "INSERT INTO kinds VALUES (1), (2);\n"
            "INSERT INTO kids VALUES (10, 1), (11, 2);\n"
            /* orphans written while the key's triggers were off; a key added NOT VALID over one */
            "ALTER TABLE loose DISABLE TRIGGER ALL;\n"
            "INSERT INTO loose VALUES (20, 1), (21, 99);\n"
            "INSERT INTO late VALUES (30, 2), (31, 98);\n"
            "ALTER TABLE late ADD CONSTRAINT late_fk FOREIGN KEY (kind_id) REFERENCES kinds "
            "NOT VALID;\n");
    char *out;
    cr_assert_eq(bkr_run("dba_bkr", "backup -o b.json", &out), 0, "%s", out);
    free(out);
    char *doc = bkr_file("b.json");
    cr_expect(strstr(doc, "\n\"kids\": [\n{\"id\":10,\"kind_id\":1},\n{\"id\":11,\"kind_id\":2}"
                          "\n]") != NULL, "%s", doc);
    cr_expect(strstr(doc, "\n\"loose\": [\n{\"id\":20,\"kind_id\":1}\n]") != NULL, "%s", doc);
    cr_expect(strstr(doc, "\n\"late\": [\n{\"id\":30,\"kind_id\":2}\n]") != NULL, "%s", doc);
    cr_expect(strstr(doc, "\"loose_count\":1") != NULL, "%s", doc);
    cr_expect(strstr(doc, "\"late_count\":1") != NULL, "%s", doc);
    free(doc);
    /* the parent left out (--tables): only children without a parent would stay */
    cr_assert_eq(bkr_run("dba_bkr", "backup -o c.json --tables kids", &out), 0, "%s", out);
    free(out);
    doc = bkr_file("c.json");
    cr_expect(strstr(doc, "\n\"kids\": []") != NULL, "%s", doc);
    free(doc);
}
