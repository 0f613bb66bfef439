/* test_transaction.c - POST /transaction on the fixture tests/fixtures/tx.sql (schema txs):
   references, rollback on the n-th operation, tx=rollback, limits; and row-level security inside
   a transaction on tests/fixtures/auth.sql (suite tx_auth). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "core/core.h"
#include "harness.h"

void dbat_tx_fixture(void); /* test_bulk.c */

static void
start(void)
{
    dbat_tx_fixture();
    dbat_server_start_conf("tx_end = \"commit-allow-override\"; max_transaction_operations = 5;",
                           NULL, "\"txs\"", NULL);
}

TestSuite(transaction, .init = start, .fini = dbat_server_stop);

static struct dbat_resp *
tx(const char *doc, const char *extra)
{
    const char *h[3] = { "Content-Type: application/json", extra, NULL };
    return dbat_req("POST", "/transaction", h, doc);
}

static char *
value(const char *sql)
{
    return dbat_sql(sql);
}

static void
expect_value(const char *sql, const char *want)
{
    char *got = value(sql);
    cr_expect_str_eq(got ? got : "(null)", want, "%s", sql);
    free(got);
}

#define COUNTS "SELECT (SELECT count(*) FROM txs.authors) || '/' || (SELECT count(*) FROM txs.books)"

Test(transaction, references_between_operations)
{
    dbat_tx_fixture();
    struct dbat_resp *r = tx(
        "{\"operations\":["
        "{\"method\":\"POST\",\"path\":\"/tables/authors?select=id\","
        "\"headers\":{\"Prefer\":\"return=representation\"},\"body\":{\"name\":\"Kafka\"}},"
        "{\"method\":\"POST\",\"path\":\"/tables/books\",\"body\":{\"title\":\"The Castle\","
        "\"author_id\":{\"$ref\":\"0/0/id\"}}},"
        "{\"method\":\"PATCH\",\"path\":\"/tables/authors?id=eq.${0/0/id}\",\"body\":{\"born\":1883}},"
        "{\"method\":\"GET\",\"path\":\"/tables/authors?id=eq.${0/0/id}&select=name,born,books(title)\"}"
        "]}", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json,
        "{\"results\":[{\"status\":201,\"headers\":{\"Preference-Applied\":\"return=representation\"},\"body\":[{\"id\":2}]},"
        "{\"status\":201,\"headers\":{},\"body\":null},"
        "{\"status\":204,\"headers\":{\"Content-Range\":\"0-0/*\"},\"body\":null},"
        "{\"status\":200,\"headers\":{\"Content-Range\":\"0-0/*\"},\"body\":"
        "[{\"name\":\"Kafka\",\"born\":1883,\"books\":[{\"title\":\"The Castle\"}]}]}]}"),
        "%s", r->body);
    dbat_resp_free(r);
    expect_value(COUNTS, "2/1");
}

Test(transaction, bad_reference_runs_nothing)
{
    dbat_tx_fixture();
    /* to a later operation */
    struct dbat_resp *r = tx("{\"operations\":["
                             "{\"method\":\"POST\",\"path\":\"/tables/authors\",\"body\":{\"name\":\"A\"}},"
                             "{\"method\":\"POST\",\"path\":\"/tables/books\",\"body\":{\"title\":\"T\","
                             "\"author_id\":{\"$ref\":\"2/0/id\"}}},"
                             "{\"method\":\"GET\",\"path\":\"/tables/authors\"}]}", NULL);
    cr_expect_eq(r->status, 400, "%s", r->body);
    cr_expect(strstr(r->body, "operation 1") && strstr(r->body, "2/0/id"), "%s", r->body);
    dbat_resp_free(r);
    /* to a value the earlier body does not have: rolled back */
    r = tx("{\"operations\":["
           "{\"method\":\"POST\",\"path\":\"/tables/authors\",\"headers\":{\"Prefer\":"
           "\"return=representation\"},\"body\":{\"name\":\"A\"}},"
           "{\"method\":\"PATCH\",\"path\":\"/tables/authors?id=eq.${0/0/nope}\",\"body\":{\"born\":1}}]}",
           NULL);
    cr_expect_eq(r->status, 400, "%s", r->body);
    cr_expect(strstr(r->body, "0/0/nope") != NULL, "%s", r->body);
    cr_expect_eq(json_integer_value(json_object_get(r->json, "operation")), 1);
    dbat_resp_free(r);
    expect_value(COUNTS, "1/0");
}

Test(transaction, failure_in_the_third_operation_rolls_back_all)
{
    dbat_tx_fixture();
    struct dbat_resp *r = tx("{\"operations\":["
                             "{\"method\":\"POST\",\"path\":\"/tables/authors\",\"body\":{\"name\":\"A\"}},"
                             "{\"method\":\"PATCH\",\"path\":\"/tables/stock?id=eq.1\",\"body\":{\"qty\":0}},"
                             "{\"method\":\"POST\",\"path\":\"/tables/books\",\"body\":{\"title\":\"T\","
                             "\"author_id\":999}}]}", NULL);
    cr_expect_eq(r->status, 409, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "23503");
    cr_expect_eq(json_integer_value(json_object_get(r->json, "operation")), 2);
    dbat_resp_free(r);
    expect_value(COUNTS, "1/0");
    expect_value("SELECT qty FROM txs.stock WHERE id = 1", "10");
}

Test(transaction, planning_error_names_the_operation)
{
    dbat_tx_fixture();
    struct dbat_resp *r = tx("{\"operations\":["
                             "{\"method\":\"POST\",\"path\":\"/tables/authors\",\"body\":{\"name\":\"A\"}},"
                             "{\"method\":\"GET\",\"path\":\"/tables/nope\"}]}", NULL);
    cr_expect_eq(r->status, 404, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST205");
    cr_expect_eq(json_integer_value(json_object_get(r->json, "operation")), 1);
    dbat_resp_free(r);
    expect_value(COUNTS, "1/0");
}

Test(transaction, tx_rollback_is_a_dry_run)
{
    dbat_tx_fixture();
    struct dbat_resp *r = tx("{\"operations\":["
                             "{\"method\":\"POST\",\"path\":\"/tables/authors\",\"headers\":{\"Prefer\":"
                             "\"return=representation\"},\"body\":{\"name\":\"Dry\"}}]}",
                             "Prefer: tx=rollback");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(r->body, "\"Dry\"") != NULL, "%s", r->body);
    dbat_resp_free(r);
    expect_value(COUNTS, "1/0");
}

Test(transaction, limits_and_shape)
{
    struct dbat_resp *r = tx("{\"operations\":[{\"method\":\"GET\",\"path\":\"/tables/authors\"},"
                             "{\"method\":\"GET\",\"path\":\"/tables/authors\"},"
                             "{\"method\":\"GET\",\"path\":\"/tables/authors\"},"
                             "{\"method\":\"GET\",\"path\":\"/tables/authors\"},"
                             "{\"method\":\"GET\",\"path\":\"/tables/authors\"},"
                             "{\"method\":\"GET\",\"path\":\"/tables/authors\"}]}", NULL);
    cr_expect_eq(r->status, 400, "%s", r->body);
    dbat_resp_free(r);
    r = tx("{\"ops\":[]}", NULL);
    cr_expect_eq(r->status, 400, "%s", r->body);
    dbat_resp_free(r);
    r = tx("{\"operations\":[{\"method\":\"GET\",\"path\":\"/elsewhere/authors\"}]}", NULL);
    cr_expect_eq(r->status, 404, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_req("GET", "/transaction", NULL, NULL);
    cr_expect_eq(r->status, 405, "%s", r->body);
    dbat_resp_free(r);
}

Test(transaction, bulk_and_nested_inside)
{
    dbat_tx_fixture();
    struct dbat_resp *r = tx("{\"operations\":["
                             "{\"method\":\"POST\",\"path\":\"/tables/authors?select=id,books(title)\","
                             "\"headers\":{\"Prefer\":\"return=representation\"},"
                             "\"body\":{\"name\":\"K\",\"books\":[{\"title\":\"B\"}]}},"
                             "{\"method\":\"PATCH\",\"path\":\"/tables/stock\",\"body\":"
                             "[{\"id\":1,\"qty\":1},{\"id\":42,\"qty\":1}]}]}", NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json,
        "{\"results\":[{\"status\":201,\"headers\":{\"Preference-Applied\":\"return=representation\"},\"body\":[{\"id\":2,\"books\":[{\"title\":\"B\"}]}]},"
        "{\"status\":204,\"headers\":{\"Content-Range\":\"0-0/*\",\"Unmatched-Count\":\"1\"},"
        "\"body\":null}]}"), "%s", r->body);
    dbat_resp_free(r);
}

Test(transaction, calls_inside)
{
    dbat_tx_fixture();
    struct dbat_resp *r = tx("{\"operations\":["
                             "{\"method\":\"POST\",\"path\":\"/tables/rpc/add_author?select=id,name\","
                             "\"body\":{\"name\":\"Rilke\"}},"
                             "{\"method\":\"POST\",\"path\":\"/tables/books\",\"body\":{\"title\":\"Malte\","
                             "\"author_id\":{\"$ref\":\"0/id\"}}},"
                             "{\"method\":\"POST\",\"path\":\"/tables/rpc/restock\",\"body\":{\"sid\":1,"
                             "\"amount\":5}},"
                             "{\"method\":\"GET\",\"path\":\"/tables/rpc/author_count\"}]}", NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json,
        "{\"results\":[{\"status\":200,\"headers\":{\"Content-Range\":\"0-0/*\"},"
        "\"body\":{\"id\":2,\"name\":\"Rilke\"}},"
        "{\"status\":201,\"headers\":{},\"body\":null},"
        "{\"status\":204,\"headers\":{},\"body\":null},"
        "{\"status\":200,\"headers\":{\"Content-Range\":\"0-0/*\"},\"body\":2}]}"),
        "%s", r->body);
    dbat_resp_free(r);
    expect_value(COUNTS, "2/1");
    expect_value("SELECT qty FROM txs.stock WHERE id = 1", "15");
    /* a call that fails (unknown function) names its operation; everything rolls back */
    r = tx("{\"operations\":["
           "{\"method\":\"POST\",\"path\":\"/tables/rpc/restock\",\"body\":{\"sid\":1,\"amount\":5}},"
           "{\"method\":\"POST\",\"path\":\"/tables/rpc/nope\",\"body\":{}}]}", NULL);
    cr_expect_eq(r->status, 404, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST202", "%s",
                     r->body);
    cr_expect_eq(json_integer_value(json_object_get(r->json, "operation")), 1);
    dbat_resp_free(r);
    expect_value("SELECT qty FROM txs.stock WHERE id = 1", "15");
}

/* Each operation's Accept-Profile / Content-Profile as for a request alone: an exposed schema is
   echoed as Content-Profile, another one is 406 PGRST106 naming the operation. */
Test(transaction, per_operation_profiles)
{
    dbat_tx_fixture();
    struct dbat_resp *r = tx("{\"operations\":["
                             "{\"method\":\"PATCH\",\"path\":\"/tables/stock?id=eq.1\",\"headers\":"
                             "{\"Content-Profile\":\"txs\",\"Prefer\":\"count=exact\"},\"body\":{\"qty\":3}},"
                             "{\"method\":\"GET\",\"path\":\"/tables/stock?id=eq.1&select=qty\",\"headers\":"
                             "{\"Accept-Profile\":\"txs\"}}]}", NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json,
        "{\"results\":[{\"status\":204,\"headers\":{\"Content-Range\":\"0-0/1\","
        "\"Preference-Applied\":\"count=exact\",\"Content-Profile\":\"txs\"},\"body\":null},"
        "{\"status\":200,\"headers\":{\"Content-Range\":\"0-0/*\",\"Content-Profile\":\"txs\"},"
        "\"body\":[{\"qty\":3}]}]}"), "%s", r->body);
    dbat_resp_free(r);
    r = tx("{\"operations\":["
           "{\"method\":\"PATCH\",\"path\":\"/tables/stock?id=eq.1\",\"body\":{\"qty\":4}},"
           "{\"method\":\"GET\",\"path\":\"/tables/stock\",\"headers\":"
           "{\"Accept-Profile\":\"pg_catalog\"}}]}", NULL);
    cr_expect_eq(r->status, 406, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST106", "%s",
                     r->body);
    cr_expect_eq(json_integer_value(json_object_get(r->json, "operation")), 1);
    dbat_resp_free(r);
    expect_value("SELECT qty FROM txs.stock WHERE id = 1", "3");
}

/* ---- row-level security inside a transaction (tests/fixtures/auth.sql) ---- */

#define SECRET "it-is-a-test-secret-of-32-bytes-or-more"

static void
start_auth(void)
{
    const char *src = getenv("DBA_TEST_SOURCE_DIR");
    const char *base = getenv("DBA_TEST_DATABASE_URL");
    char path[512], url[512], chunk[4096];
    struct dba_buf b;
    size_t n;

    cr_assert(src != NULL && base != NULL);
    snprintf(path, sizeof(path), "%s/tests/fixtures/auth.sql", src);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dba_buf_append(&b, chunk, n);
    fclose(f);
    free(dbat_sql(b.data));
    dba_buf_cleanup(&b);
    const char *u = strstr(base, "user=postgres");
    cr_assert_not_null(u, "%s", base);
    snprintf(url, sizeof(url), "%.*suser=authenticator%s", (int)(u - base), base,
             u + strlen("user=postgres"));
    dbat_server_start_full(url, NULL, NULL, "\"authz\"",
                           "auth: { jwt_secret = \"" SECRET "\"; anon_role = \"web_anon\"; };");
}

TestSuite(tx_auth, .init = start_auth, .fini = dbat_server_stop);

static char *
bearer(const char *role, const char *claims)
{
    struct dba_config_auth c = { .present = true, .jwt_secret = (char *)SECRET };
    struct dba_auth *a = NULL;
    struct dba_err err;
    char *tok = NULL, *h = NULL;
    cr_assert_eq(dba_auth_new(&c, &a, &err), DBA_OK, "%s", err.msg);
    cr_assert_eq(dba_auth_mint(a, role, claims, (int64_t)time(NULL), 3600, &tok, &err), DBA_OK,
                 "%s", err.msg);
    dba_auth_free(a);
    cr_assert(asprintf(&h, "Authorization: Bearer %s", tok) > 0);
    free(tok);
    return h;
}

Test(tx_auth, another_users_row_in_operation_two_rolls_back_all)
{
    char *alice = bearer("authenticated", "{\"sub\":\"alice\"}");
    const char *h[3] = { "Content-Type: application/json", alice, NULL };
    /* operation 1 inserts alice's row; operation 2 tries to write bob's: RLS refuses it */
    struct dbat_resp *r = dbat_req("POST", "/transaction", h,
        "{\"operations\":["
        "{\"method\":\"POST\",\"path\":\"/tables/todos\",\"body\":{\"task\":\"tx-a\"}},"
        "{\"method\":\"POST\",\"path\":\"/tables/todos\",\"body\":{\"task\":\"tx-b\","
        "\"owner\":\"bob\"}}]}");
    cr_expect_eq(r->status, 403, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "42501");
    cr_expect_eq(json_integer_value(json_object_get(r->json, "operation")), 1);
    dbat_resp_free(r);
    expect_value("SELECT count(*) FROM authz.todos WHERE task LIKE 'tx-%'", "0");
    /* an update of bob's row matches nothing for alice */
    r = dbat_req("POST", "/transaction", h,
                 "{\"operations\":[{\"method\":\"PATCH\",\"path\":\"/tables/todos?id=eq.3\","
                 "\"headers\":{\"Prefer\":\"return=representation\"},\"body\":{\"task\":\"x\"}}]}");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(r->body, "\"body\":[]") != NULL, "%s", r->body);
    dbat_resp_free(r);
    expect_value("SELECT task FROM authz.todos WHERE id = 3", "b1");
    free(alice);
}

/* ---- db-adapter transaction: the same document through the CLI (blocking driver) ---- */

static char cli_dir[64];

static void
cli_start(void)
{
    dbat_tx_fixture();
    snprintf(cli_dir, sizeof(cli_dir), "/tmp/dbat-txcli-XXXXXX");
    cr_assert(mkdtemp(cli_dir) != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", cli_dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "server: { max_transaction_operations = 5; };\n"
               "profiles: { t: { url = \"%s\"; schemas = [ \"txs\" ]; }; };\n",
            getenv("DBA_TEST_DATABASE_URL"));
    fclose(f);
}

static void
cli_stop(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", cli_dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(tx_cli, .init = cli_start, .fini = cli_stop);

/* Writes doc to a file in the directory and runs `db-adapter transaction <file> <args>`. */
static int
tx_cli(const char *doc, const char *args, char **out)
{
    char path[128], cmd[256];
    snprintf(path, sizeof(path), "%s/doc.json", cli_dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs(doc, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "transaction doc.json %s", args);
    return dbat_cli(cli_dir, NULL, cmd, out);
}

#define KAFKA_DOC                                                                                  \
    "{\"operations\":["                                                                            \
    "{\"method\":\"POST\",\"path\":\"/tables/authors?select=id\","                                 \
    "\"headers\":{\"Prefer\":\"return=representation\"},\"body\":{\"name\":\"Kafka\"}},"           \
    "{\"method\":\"POST\",\"path\":\"/tables/books\",\"body\":{\"title\":\"The Castle\","          \
    "\"author_id\":{\"$ref\":\"0/0/id\"}}},"                                                       \
    "{\"method\":\"PATCH\",\"path\":\"/tables/authors?id=eq.${0/0/id}\",\"body\":{\"born\":1883}}" \
    "]}"

Test(tx_cli, json_answer_is_the_routes)
{
    char *out = NULL;
    int rc = tx_cli(KAFKA_DOC, "--json", &out);
    cr_expect_eq(rc, 0, "%s", out);
    json_t *j = json_loads(out, 0, NULL);
    cr_expect(dbat_json_eq(j,
        "{\"results\":[{\"status\":201,\"headers\":{\"Preference-Applied\":\"return=representation\"},\"body\":[{\"id\":2}]},"
        "{\"status\":201,\"headers\":{},\"body\":null},"
        "{\"status\":204,\"headers\":{\"Content-Range\":\"0-0/*\"},\"body\":null}]}"),
        "%s", out);
    json_decref(j);
    free(out);
    expect_value(COUNTS, "2/1");
    expect_value("SELECT born FROM txs.authors WHERE name = 'Kafka'", "1883");
}

Test(tx_cli, failure_rolls_back_exit_1)
{
    char *out = NULL;
    int rc = tx_cli("{\"operations\":["
                    "{\"method\":\"POST\",\"path\":\"/tables/authors\",\"body\":{\"name\":\"A\"}},"
                    "{\"method\":\"POST\",\"path\":\"/tables/books\",\"body\":{\"title\":\"T\","
                    "\"author_id\":999}}]}", "", &out);
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "0 POST /tables/authors -> rolled back") != NULL, "%s", out);
    cr_expect(strstr(out, "1 POST /tables/books -> 409 23503") != NULL, "%s", out);
    cr_expect(strstr(out, "failed at operation 1") != NULL, "%s", out);
    free(out);
    expect_value(COUNTS, "1/0");
    /* --json: the route's error body with the operation */
    rc = tx_cli("{\"operations\":[{\"method\":\"GET\",\"path\":\"/tables/nope\"}]}", "--json", &out);
    cr_expect_eq(rc, 1, "%s", out);
    json_t *j = json_loads(out, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(j, "code")), "PGRST205", "%s", out);
    cr_expect_eq(json_integer_value(json_object_get(j, "operation")), 0, "%s", out);
    json_decref(j);
    free(out);
    /* a refused document: nothing runs, no operation named; the limit is the server's */
    rc = tx_cli("{\"operations\":[{},{},{},{},{},{}]}", "--json", &out);
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "Too many operations") != NULL, "%s", out);
    cr_expect(strstr(out, "\"operation\"") == NULL, "%s", out);
    free(out);
}

Test(tx_cli, rollback_and_stdin)
{
    char *out = NULL;
    int rc = tx_cli(KAFKA_DOC, "--rollback", &out);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "2 PATCH /tables/authors?id=eq.${0/0/id} -> 204") != NULL, "%s", out);
    cr_expect(strstr(out, "ok: 3 operations") != NULL, "%s", out);
    free(out);
    expect_value(COUNTS, "1/0");
    /* stdin */
    rc = dbat_cli(cli_dir, "sh -c 'exec \"$0\" \"$@\" < doc.json'", "transaction -", &out);
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
    expect_value(COUNTS, "2/1");
    /* usage */
    rc = dbat_cli(cli_dir, NULL, "transaction", &out);
    cr_expect_eq(rc, 2, "%s", out);
    free(out);
}
