/* test_ops.c - operational endpoints, routing, limits and recovery from a database outage. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "harness.h"

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

TestSuite(ops, .init = dbat_server_start, .fini = dbat_server_stop);

Test(ops, health_ready_status_pool)
{
    struct dbat_resp *r = dbat_get("/healthz");
    cr_expect_eq(r->status, 200);
    dbat_resp_free(r);
    r = dbat_get("/readyz");
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_admin_get("/status?exact=true");
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(json_object_get(r->json, "reachable"), "true"), "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(json_object_get(r->json, "tables"), "items"), "5"));
    cr_expect(strstr(r->body, "password") == NULL);
    dbat_resp_free(r);
    r = dbat_admin_get("/profiles");
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(json_object_get(json_array_get(r->json, 0), "name"), "\"test\""));
    dbat_resp_free(r);
    r = dbat_admin_get("/pool");
    cr_expect_eq(r->status, 200);
    cr_expect(json_object_get(json_array_get(json_object_get(r->json, "pools"), 0), "idle") != NULL);
    dbat_resp_free(r);
    r = dbat_admin_get("/metrics");
    cr_expect_eq(r->status, 200);
    cr_expect(strstr(r->body, "dba_http_requests_total") != NULL);
    dbat_resp_free(r);
    r = dbat_get("/openapi.json");
    cr_expect_eq(r->status, 200);
    cr_expect(json_object_get(r->json, "openapi") != NULL);
    dbat_resp_free(r);
}

Test(ops, routing_errors)
{
    struct dbat_resp *r = dbat_get("/nope");
    cr_expect_eq(r->status, 404);
    cr_expect(r->json != NULL);
    dbat_resp_free(r);
    r = dbat_req("POST", "/healthz", NULL, "{}");
    cr_expect_eq(r->status, 405);
    dbat_resp_free(r);
    r = dbat_get("/tables/a/b");
    cr_expect_eq(r->status, 404);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST125\""));
    dbat_resp_free(r);
    r = dbat_req("TRACE", "/tables/items", NULL, NULL);
    cr_expect_eq(r->status, 405);
    dbat_resp_free(r);
}

Test(ops, cors_and_options)
{
    const char *h[] = { "Origin: http://example.com", "Access-Control-Request-Method: POST", NULL };
    struct dbat_resp *r = dbat_req("OPTIONS", "/tables/items", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Access-Control-Allow-Origin"), "*"); /* default "*" */
    cr_expect(dbat_header(r, "Allow") != NULL);
    dbat_resp_free(r);
}

Test(ops, schema_reload_sees_new_table)
{
    free(dbat_sql("DROP TABLE IF EXISTS late_table; CREATE TABLE late_table (id int)"));
    struct dbat_resp *r = dbat_admin_req("POST", "/schema/reload", NULL, "");
    cr_expect_eq(r->status, 202);
    dbat_resp_free(r);
    long status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        usleep(50 * 1000);
        r = dbat_get("/tables/late_table");
        status = r->status;
        dbat_resp_free(r);
    }
    cr_expect_eq(status, 200);
    free(dbat_sql("DROP TABLE late_table; NOTIFY pgrst, 'reload schema'"));
}

static void
start_small_body(void)
{
    dbat_server_start_with("max_body_bytes = 64;", NULL);
}

Test(ops, oversized_body_is_413, .init = start_small_body)
{
    char body[256];
    memset(body, ' ', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    body[0] = '{';
    body[sizeof(body) - 2] = '}';
    const char *h[] = { "Content-Type: application/json", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items", h, body);
    cr_expect_eq(r->status, 413);
    dbat_resp_free(r);
}

static void
start_short_deadline(void)
{
    dbat_server_start_with("request_timeout_ms = 300;", NULL);
}

Test(ops, deadline_gives_504_and_the_gateway_carries_on, .init = start_short_deadline)
{
    struct dbat_resp *r = dbat_get("/tables/slow");
    cr_expect_eq(r->status, 504, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=id&id=eq.2");
    cr_expect_eq(r->status, 200);
    dbat_resp_free(r);
}

static void
start_tiny_pool(void)
{
    dbat_server_start_with("workers = 1; queue_limit = 1;", "pool_size = 1;");
}

/* One connection, one waiting slot: of four concurrent slow reads, at least one is refused at
   once with 503 and Retry-After, and the others complete. */
Test(ops, full_wait_queue_is_503, .init = start_tiny_pool, .timeout = 60)
{
    struct dbat_resp *warm = dbat_get("/tables/items?select=id&id=eq.1"); /* opens the connection */
    cr_assert_eq(warm->status, 200);
    dbat_resp_free(warm);
    CURLM *m = curl_multi_init();
    CURL *e[4];
    char url[128];
    long codes[4] = { 0 };
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/tables/slow", dbat_port());
    for (int i = 0; i < 4; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(m, e[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 100, NULL);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < 4; i++) {
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &codes[i]);
        ok += codes[i] == 200;
        busy += codes[i] == 503;
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(m);
    cr_expect_geq(busy, 1, "codes %ld %ld %ld %ld", codes[0], codes[1], codes[2], codes[3]);
    cr_expect_geq(ok, 2, "codes %ld %ld %ld %ld", codes[0], codes[1], codes[2], codes[3]);
    cr_expect_eq(ok + busy, 4);
}

/* ---- prepared statements, observed on the gateway's own backends (issue 8) ----
   Statement logging is switched on for the test database before the gateway connects, and the
   server log (DBA_TEST_PG_DIR/log) shows how each of the gateway's statements ran: "execute
   <unnamed>: ..." for an unnamed statement, "execute dbaN: ..." for a prepared one. A marker in
   the select list finds the test's own statements. (The original test looked at
   pg_prepared_statements of its own session, which is always empty.) */

static void
statement_log(bool on)
{
    free(dbat_sql(on ? "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET log_statement = "
                       "''all''', current_database()); END $$"
                     : "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET log_statement', "
                       "current_database()); END $$"));
}

static long
server_log_size(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/log", getenv("DBA_TEST_PG_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL, "cannot read the server log %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Runs three reads marked with marker, then counts the server log lines (written since from)
   that execute them: *unnamed as unnamed statements, *named as prepared ones. */
static void
run_marked_reads(const char *marker, long from, int *unnamed, int *named)
{
    char path[512], url[128];
    snprintf(url, sizeof(url), "/tables/items?select=%s:id&id=eq.3", marker);
    for (int i = 0; i < 3; i++) {
        struct dbat_resp *r = dbat_get(url);
        cr_expect_eq(r->status, 200, "%s", r->body);
        dbat_resp_free(r);
    }
    snprintf(path, sizeof(path), "%s/log", getenv("DBA_TEST_PG_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL);
    fseek(f, from, SEEK_SET);
    char line[8192];
    *unnamed = *named = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *x = strstr(line, "LOG:  execute ");
        if (x == NULL || strstr(line, marker) == NULL)
            continue;
        if (strncmp(x + 14, "<unnamed>", 9) == 0)
            (*unnamed)++;
        else
            (*named)++;
    }
    fclose(f);
}

static void
start_unprepared(void)
{
    statement_log(true);
    dbat_server_start_with(NULL, "prepared_statements = false;");
}

static void
start_prepared(void)
{
    statement_log(true);
    dbat_server_start_with(NULL, "prepared_statements = true;");
}

static void
stop_logged(void)
{
    dbat_server_stop();
    statement_log(false);
}

Test(ops, prepared_statements_off, .init = start_unprepared, .fini = stop_logged)
{
    char marker[32];
    int unnamed, named;
    long from = server_log_size();
    snprintf(marker, sizeof(marker), "pso_off_%d", (int)getpid());
    run_marked_reads(marker, from, &unnamed, &named);
    cr_expect_geq(unnamed, 3, "the gateway's statements are not in the server log");
    cr_expect_eq(named, 0, "prepared statements used with prepared_statements = false");
}

/* The same observation sees prepared statements when they are on, so the test above can fail. */
Test(ops, prepared_statements_on, .init = start_prepared, .fini = stop_logged)
{
    char marker[32];
    int unnamed, named;
    long from = server_log_size();
    snprintf(marker, sizeof(marker), "pso_on_%d", (int)getpid());
    run_marked_reads(marker, from, &unnamed, &named);
    cr_expect_geq(named, 3, "prepared statements are not used (%d unnamed)", unnamed);
    cr_expect_eq(unnamed, 0);
}

Test(ops, notify_reloads_schema_cache)
{
    free(dbat_sql("DROP TABLE IF EXISTS notified_table; CREATE TABLE notified_table (id int);"
                  "NOTIFY pgrst, 'reload schema'"));
    long status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        usleep(50 * 1000);
        struct dbat_resp *r = dbat_get("/tables/notified_table");
        status = r->status;
        dbat_resp_free(r);
    }
    cr_expect_eq(status, 200);
    free(dbat_sql("DROP TABLE notified_table; NOTIFY pgrst"));
}

static int
pg_ctl(const char *what)
{
    char cmd[1024];
    const char *dir = getenv("DBA_TEST_PG_DIR");
    const char *src = getenv("DBA_TEST_SOURCE_DIR");

    cr_assert(dir != NULL && src != NULL);
    snprintf(cmd, sizeof(cmd), "%s/scripts/pg.sh %s %s >/dev/null 2>&1", src, what, dir);
    return system(cmd);
}

/* Runs last (zz_): the database goes away and comes back; the gateway answers 503 meanwhile
   and recovers by itself. */
Test(ops, zz_database_outage_and_recovery, .timeout = 120)
{
    struct dbat_resp *r = dbat_get("/tables/items?select=id&id=eq.1");
    cr_assert_eq(r->status, 200);
    dbat_resp_free(r);
    cr_assert_eq(pg_ctl("stop"), 0);
    r = dbat_get("/tables/items?select=id&id=eq.1");
    cr_expect_eq(r->status, 503, "%s", r->body);
    cr_expect(dbat_header(r, "Retry-After") != NULL);
    dbat_resp_free(r);
    r = dbat_get("/readyz");
    cr_expect_eq(r->status, 503);
    dbat_resp_free(r);
    cr_assert_eq(pg_ctl("start"), 0);
    long status = 0;
    for (int i = 0; i < 200 && status != 200; i++) {
        usleep(100 * 1000);
        r = dbat_get("/tables/items?select=id&id=eq.1");
        status = r->status;
        dbat_resp_free(r);
    }
    cr_expect_eq(status, 200, "the gateway did not recover after the database came back");
}

/* One truth: every path the OpenAPI document lists is served (GET ones answer, others are at
   least routed: not 404), and every operational route the server has is in the document, as
   are the relations of the schema (generated from the schema cache, src/openapi/). */
Test(ops, openapi_matches_the_routes)
{
    struct dbat_resp *doc = dbat_get("/openapi.json");
    cr_assert_eq(doc->status, 200);
    json_t *paths = json_object_get(doc->json, "paths");
    cr_assert(json_is_object(paths));
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) {
        char url[256];
        snprintf(url, sizeof(url), "%s", path);
        const char *method = json_object_get(item, "get") ? "GET" : "POST";
        if (strcmp(method, "POST") == 0)
            continue; /* writes are exercised by their own tests */
        if (strncmp(url, "/tables/rpc/", 12) == 0)
            continue; /* a GET on a function needs its arguments (test_rpc.c calls them) */
        struct dbat_resp *r = dbat_admin_req(method, url, NULL, NULL);
        cr_expect_neq(r->status, 404, "%s %s is documented but not served", method, url);
        cr_expect_neq(r->status, 405, "%s %s is documented but not allowed", method, url);
        dbat_resp_free(r);
    }
    static const char *const served[] = { "/healthz", "/readyz", "/profiles", "/status", "/pool",
                                          "/metrics", "/openapi.json", "/schema/reload",
                                          "/tables", "/tables/items" };
    for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
        cr_expect(json_object_get(paths, served[i]) != NULL, "%s is served but not documented",
                  served[i]);
    dbat_resp_free(doc);
}

static void
start_observed(void)
{
    dbat_server_start_with("server_timing = true; trace_header = \"X-Request-Id\";", NULL);
}

Test(ops, server_timing_and_trace_header, .init = start_observed)
{
    const char *h[] = { "X-Request-Id: abc-123", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?select=id&id=eq.1", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "X-Request-Id"), "abc-123");
    const char *st = dbat_header(r, "Server-Timing");
    cr_assert(st != NULL);
    cr_expect(strstr(st, "parse;dur=") && strstr(st, "plan;dur=") &&
              strstr(st, "transaction;dur=") && strstr(st, "response;dur="), "%s", st);
    dbat_resp_free(r);
    /* OPTIONS plans nothing and runs no transaction (PostgREST: jwt, parse, response only) */
    r = dbat_req("OPTIONS", "/tables/items", NULL, NULL);
    st = dbat_header(r, "Server-Timing");
    cr_assert(st != NULL);
    cr_expect(strstr(st, "parse;dur=") && strstr(st, "response;dur=") && !strstr(st, "plan") &&
              !strstr(st, "transaction"), "%s", st);
    dbat_resp_free(r);
}

static void
start_read_only(void)
{
    dbat_server_start_with(NULL, "read_only = true;");
}

Test(ops, read_only_profile_refuses_writes, .init = start_read_only)
{
    const char *h[] = { "Content-Type: application/json", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items", h, "{\"name\":\"nope\"}");
    cr_expect_eq(r->status, 405, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=id&id=eq.1");
    cr_expect_eq(r->status, 200);
    dbat_resp_free(r);
    char *n = dbat_sql("SELECT count(*) FROM items WHERE name = 'nope'");
    cr_expect_str_eq(n, "0");
    free(n);
    /* The sessions themselves are read-only, so not even a function called by a read writes. */
    r = dbat_get("/tables/writer");
    cr_expect_eq(r->status, 405, "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"25006\""), "%s", r->body);
    dbat_resp_free(r);
    n = dbat_sql("SELECT count(*) FROM items WHERE name = 'touched'");
    cr_expect_str_eq(n, "0");
    free(n);
}

/* ---- background operations: a bounded pool (issue 8) ---- */

/* The test's own session holding an ACCESS EXCLUSIVE lock on items: every exact /status blocks on
   count(*) there until lock_release. */
static PGconn *
lock_items(void)
{
    PGconn *c = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *res = PQexec(c, "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return c;
}

static void
lock_release(PGconn *c)
{
    PQclear(PQexec(c, "COMMIT"));
    PQfinish(c);
}

/* First value of sql run on c (this test's own session). */
static long
sql_long(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
    long v = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

#define LOCK_WAITERS                                                                              \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "             \
    "wait_event_type = 'Lock' AND application_name LIKE 'db-adapter%'"
#define GATEWAY_BACKENDS                                                                          \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "             \
    "application_name LIKE 'db-adapter%'"

/* 30 concurrent exact /status requests while their count(*) cannot finish: only task_threads (2)
   run at once, 16 wait, the rest are refused at once; backends stay bounded. On the original
   every request got a thread and fresh connections (47 backends for 30 requests). */
Test(ops, status_requests_run_on_a_bounded_pool, .timeout = 120)
{
    PGconn *lk = lock_items();
    PGconn *obs = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(obs), CONNECTION_OK);
    CURLM *m = curl_multi_init();
    enum { N = 30 };
    CURL *e[N];
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/status?exact=true", dbat_port());
    struct curl_slist *auth = curl_slist_append(NULL, "Authorization: Bearer " DBAT_ADMIN_TOKEN);
    for (int i = 0; i < N; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, auth);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(m, e[i]);
    }
    /* Observe for a while (a window, not a deadline): every request has arrived long before. */
    int running = N, done = 0;
    long max_waiters = 0, max_backends = 0;
    for (int i = 0; i < 40; i++) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 50, NULL);
        long w = sql_long(obs, LOCK_WAITERS);
        long b = sql_long(obs, GATEWAY_BACKENDS);
        max_waiters = w > max_waiters ? w : max_waiters;
        max_backends = b > max_backends ? b : max_backends;
        done = N - running;
    }
    cr_expect_leq(max_waiters, 2, "%ld background operations ran at once", max_waiters);
    /* Pool (4) + schema keeper (at most 2) + 2 operations. */
    cr_expect_leq(max_backends, 4 + 2 + 2, "%ld backends", max_backends);
    cr_expect_eq(done, N - 2 - 16, "%d answered while the pool was busy", done);
    lock_release(lk);
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 100, NULL);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        long code = 0;
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &code);
        ok += code == 200;
        busy += code == 503;
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(auth);
    cr_expect_eq(ok, 18);
    cr_expect_eq(busy, N - 18);
    PQfinish(obs);
}

static void
start_one_task_thread(void)
{
    dbat_server_start_with("task_threads = 1; task_queue_limit = 0;", NULL);
}

/* One thread and no waiting room: while an operation runs, the next is refused at once with 503
   and Retry-After (on the original it started another thread and waited for the lock). */
Test(ops, full_task_queue_is_503, .init = start_one_task_thread, .timeout = 120)
{
    PGconn *lk = lock_items();
    PGconn *obs = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(obs), CONNECTION_OK);
    CURLM *m = curl_multi_init();
    CURL *e = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/status?exact=true", dbat_port());
    struct curl_slist *auth = curl_slist_append(NULL, "Authorization: Bearer " DBAT_ADMIN_TOKEN);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, auth);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_multi_add_handle(m, e);
    int running = 1;
    for (int i = 0; i < 600 && sql_long(obs, LOCK_WAITERS) == 0; i++) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 50, NULL);
    }
    cr_assert_eq(sql_long(obs, LOCK_WAITERS), 1, "the first operation is not running");
    struct dbat_resp *r = dbat_admin_get("/status");
    cr_expect_eq(r->status, 503, "%s", r->body);
    cr_expect(dbat_header(r, "Retry-After") != NULL);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"DBA503\""), "%s", r->body);
    dbat_resp_free(r);
    lock_release(lk);
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 100, NULL);
    }
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    cr_expect_eq(code, 200);
    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    curl_slist_free_all(auth);
    r = dbat_admin_get("/status");
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    PQfinish(obs);
}

/* /status reports the planner's estimates (pg_class.reltuples) unless ?exact=true; a table never
   analyzed is null (unknown), never -1. */
Test(ops, status_row_counts_estimated_or_exact)
{
    free(dbat_sql("DROP TABLE IF EXISTS est_a, est_n;"
                  "CREATE TABLE est_a (id int) WITH (autovacuum_enabled = false);"
                  "CREATE TABLE est_n (id int) WITH (autovacuum_enabled = false);"
                  "INSERT INTO est_a SELECT generate_series(1, 100); ANALYZE est_a;"
                  "INSERT INTO est_a SELECT generate_series(1, 50);"
                  "INSERT INTO est_n SELECT generate_series(1, 10)"));
    struct dbat_resp *r = dbat_admin_get("/status");
    cr_expect_eq(r->status, 200, "%s", r->body);
    json_t *t = json_object_get(r->json, "tables");
    cr_expect(dbat_json_eq(json_object_get(r->json, "row_counts"), "\"estimated\""), "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(t, "est_a"), "100"), "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(t, "est_n"), "null"), "%s", r->body);
    dbat_resp_free(r);
    r = dbat_admin_get("/status?exact=true");
    cr_expect_eq(r->status, 200, "%s", r->body);
    t = json_object_get(r->json, "tables");
    cr_expect(dbat_json_eq(json_object_get(r->json, "row_counts"), "\"exact\""), "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(t, "est_a"), "150"), "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(t, "est_n"), "10"), "%s", r->body);
    dbat_resp_free(r);
    r = dbat_admin_get("/status?exact=maybe");
    cr_expect_eq(r->status, 400, "%s", r->body);
    dbat_resp_free(r);
    free(dbat_sql("DROP TABLE est_a, est_n"));
}

/* ---- pool_size is the profile's total (issue 8) ---- */

static void
start_two_connections_four_workers(void)
{
    dbat_server_start_with("workers = 4;", "pool_size = 2;");
}

#define POOL_BACKENDS                                                                             \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "             \
    "application_name LIKE 'db-adapter%' AND pid <> pg_backend_pid()"

/* pool_size = 2 with 4 workers: never more than 2 connections serve requests, under concurrent
   load. The original gave each worker ceil(2/4) = 1: 4 connections. */
Test(ops, pool_size_is_the_total, .init = start_two_connections_four_workers, .timeout = 120)
{
    PGconn *obs = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(obs), CONNECTION_OK);
    CURLM *m = curl_multi_init();
    enum { N = 8 };
    CURL *e[N];
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/tables/slow", dbat_port());
    for (int i = 0; i < N; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e[i], CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(m, e[i]);
    }
    int running = N;
    long max_pool = 0, max_all = 0;
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 50, NULL);
        long p = sql_long(obs, POOL_BACKENDS " AND application_name = 'db-adapter pool'");
        long a = sql_long(obs, POOL_BACKENDS " AND query LIKE '%\"slow\"%'");
        max_pool = p > max_pool ? p : max_pool;
        max_all = a > max_all ? a : max_all;
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        long code = 0;
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &code);
        ok += code == 200;
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(m);
    cr_expect_eq(ok, N, "every request is served, whichever worker takes it");
    cr_expect_leq(max_pool, 2, "%ld pool connections", max_pool);
    cr_expect_leq(max_all, 2, "%ld gateway backends read the view", max_all);
    struct dbat_resp *r = dbat_admin_get("/pool");
    json_t *p = json_array_get(json_object_get(r->json, "pools"), 0);
    cr_expect(dbat_json_eq(json_object_get(p, "size"), "2"), "%s", r->body);
    dbat_resp_free(r);
    PQfinish(obs);
}

static void
start_one_task_thread_short_wait(void)
{
    dbat_server_start_with("task_threads = 1; task_queue_limit = 1; request_timeout_ms = 300;",
                           NULL);
}

/* An operation that waits for a thread longer than request_timeout_ms is answered 504 without
   running (the one running is not cut: its libpq calls block). */
Test(ops, task_waiting_past_its_deadline_is_504, .init = start_one_task_thread_short_wait,
     .timeout = 120)
{
    PGconn *lk = lock_items();
    PGconn *obs = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(obs), CONNECTION_OK);
    CURLM *m = curl_multi_init();
    CURL *e = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/status?exact=true", dbat_port());
    struct curl_slist *auth = curl_slist_append(NULL, "Authorization: Bearer " DBAT_ADMIN_TOKEN);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, auth);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_multi_add_handle(m, e);
    int running = 1;
    for (int i = 0; i < 600 && sql_long(obs, LOCK_WAITERS) == 0; i++) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 50, NULL);
    }
    cr_assert_eq(sql_long(obs, LOCK_WAITERS), 1, "the first operation is not running");
    struct dbat_resp *r = dbat_admin_get("/status");
    cr_expect_eq(r->status, 504, "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"DBA504\""), "%s", r->body);
    dbat_resp_free(r);
    lock_release(lk);
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 100, NULL);
    }
    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    curl_slist_free_all(auth);
    PQfinish(obs);
}
