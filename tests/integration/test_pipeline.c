/* test_pipeline.c - a transaction per request: server.tx_end, Prefer: tx=commit|rollback and
   Preference-Applied, the settings sent in the request's transaction. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

static const char *const rollback_repr[] = { "Content-Type: application/json",
                                             "Prefer: tx=rollback, return=representation", NULL };
static const char *const commit_repr[] = { "Content-Type: application/json",
                                           "Prefer: tx=commit, return=representation", NULL };

/* A table with a deferred self reference: its violations only show at COMMIT, or when
   SET CONSTRAINTS ALL IMMEDIATE runs before a rollback. */
static void
tx_tables(void)
{
    free(dbat_sql("DROP TABLE IF EXISTS tx_deferred"));
    free(dbat_sql("CREATE TABLE tx_deferred (id int PRIMARY KEY, ref int REFERENCES tx_deferred "
                  "(id) DEFERRABLE INITIALLY DEFERRED)"));
}

static long
count_items(const char *name)
{
    char sql[256];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM items WHERE name = '%s'", name);
    char *v = dbat_sql(sql);
    long n = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return n;
}

static void
start_commit_override(void)
{
    tx_tables();
    dbat_server_start_with("tx_end = \"commit-allow-override\";", NULL);
}

static void
start_rollback_override(void)
{
    dbat_server_start_with("tx_end = \"rollback-allow-override\";", NULL);
}

static void
start_rollback(void)
{
    dbat_server_start_with("tx_end = \"rollback\";", NULL);
}

TestSuite(tx_override, .init = start_commit_override, .fini = dbat_server_stop);
TestSuite(tx_commit_only, .init = dbat_server_start, .fini = dbat_server_stop);
TestSuite(tx_rollback_override, .init = start_rollback_override, .fini = dbat_server_stop);
TestSuite(tx_rollback_only, .init = start_rollback, .fini = dbat_server_stop);

/* postgrest-js .rollback(): the client sees the representation, the table is unchanged. */
Test(tx_override, post_rollback_answers_and_leaves_the_table_unchanged)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name,qty", rollback_repr,
                                   "{\"name\":\"tx-rb\",\"qty\":7}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"tx-rb\",\"qty\":7}]"), "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation, tx=rollback");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-rb"), 0);
}

Test(tx_override, patch_and_delete_rollback_leave_rows)
{
    dbat_reset();
    struct dbat_resp *r = dbat_req("PATCH", "/tables/items?id=eq.1&select=qty", rollback_repr,
                                   "{\"qty\":4242}");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"qty\":4242}]"), "%s", r->body);
    dbat_resp_free(r);
    char *v = dbat_sql("SELECT qty FROM items WHERE id = 1");
    cr_expect_str_neq(v, "4242");
    free(v);
    r = dbat_req("DELETE", "/tables/items?id=eq.1&select=id", rollback_repr, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"id\":1}]"), "%s", r->body);
    dbat_resp_free(r);
    v = dbat_sql("SELECT count(*) FROM items WHERE id = 1");
    cr_expect_str_eq(v, "1");
    free(v);
}

Test(tx_override, commit_and_no_preference_commit)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", commit_repr,
                                   "{\"name\":\"tx-commit\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation, tx=commit");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-commit"), 1);
    const char *h[] = { "Content-Type: application/json", NULL };
    r = dbat_req("POST", "/tables/items", h, "{\"name\":\"tx-plain\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_null(dbat_header(r, "Preference-Applied"));
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-plain"), 1);
}

Test(tx_override, read_reports_tx_in_order)
{
    const char *h[] = { "Prefer: count=exact, tx=rollback, timezone=UTC", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?select=id&id=eq.1", h, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"),
                     "count=exact, tx=rollback, timezone=UTC");
    dbat_resp_free(r);
}

/* The time zone is a setting of the request's transaction: it shapes the answer and is gone
   afterwards, whichever way the transaction ends. */
Test(tx_override, timezone_setting_lives_in_the_transaction)
{
    dbat_reset();
    const char *h[] = { "Content-Type: application/json",
                        "Prefer: tx=rollback, return=representation, timezone=Asia/Tokyo", NULL };
    struct dbat_resp *r = dbat_req("PATCH", "/tables/items?id=eq.1&select=created_at", h,
                                   "{\"created_at\":\"2024-01-01T00:00:00+00:00\"}");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(r->body, "2024-01-01T09:00:00+09:00") != NULL, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=created_at&id=eq.1");
    cr_expect(strstr(r->body, "+09:00") == NULL, "%s", r->body);
    dbat_resp_free(r);
}

/* As PostgREST: SET CONSTRAINTS ALL IMMEDIATE before the rollback, so a deferred violation still
   reaches the client instead of vanishing with the rollback. */
Test(tx_override, deferred_violation_surfaces_on_rollback)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/tx_deferred", rollback_repr,
                                   "{\"id\":1,\"ref\":99}");
    cr_expect_eq(r->status, 409, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "23503");
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/tx_deferred", commit_repr, "{\"id\":2,\"ref\":99}");
    cr_expect_eq(r->status, 409, "%s", r->body); /* raised by COMMIT */
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "23503");
    dbat_resp_free(r);
    char *v = dbat_sql("SELECT count(*) FROM tx_deferred");
    cr_expect_str_eq(v, "0");
    free(v);
    /* The connection is clean afterwards: the next request works. */
    r = dbat_req("POST", "/tables/tx_deferred", commit_repr, "{\"id\":3,\"ref\":3}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    dbat_resp_free(r);
}

/* The default mode: the preference is a valid token but ignored, as PostgREST's db-tx-end. */
Test(tx_commit_only, rollback_preference_is_ignored)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", rollback_repr,
                                   "{\"name\":\"tx-ignored\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-ignored"), 1);
    const char *strict[] = { "Prefer: handling=strict, tx=rollback", NULL };
    r = dbat_req("GET", "/tables/items?select=id&id=eq.1", strict, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body); /* still a valid token under strict handling */
    dbat_resp_free(r);
}

Test(tx_rollback_override, default_rolls_back_and_commit_overrides)
{
    const char *h[] = { "Content-Type: application/json", "Prefer: return=representation", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", h,
                                   "{\"name\":\"tx-default-rb\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-default-rb"), 0);
    r = dbat_req("POST", "/tables/items?select=name", commit_repr, "{\"name\":\"tx-over\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation, tx=commit");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-over"), 1);
}

Test(tx_rollback_only, commit_preference_is_ignored)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", commit_repr,
                                   "{\"name\":\"tx-never\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-never"), 0);
}

/* ---- the policy step: one order of checks for every route ---- */

#define POLICY_TOKEN "pipeline-policy-token"

static void
start_read_only_with_token(void)
{
    setenv("DB_ADAPTER_ADMIN_TOKEN", POLICY_TOKEN, 1);
    dbat_server_start_with(NULL, "read_only = true;");
}

static void
stop_and_unset(void)
{
    dbat_server_stop();
    unsetenv("DB_ADAPTER_ADMIN_TOKEN");
}

TestSuite(policy, .init = start_read_only_with_token, .fini = stop_and_unset);

/* Who the caller is comes first (401 without the token), then whether the profile may be
   written (403), for the operator routes alike; table writes keep their 405. */
Test(policy, caller_then_read_only_for_every_write_route)
{
    static const char *const paths[] = { "/restore", "/sync?from=test&confirm=true",
                                         "/schema/fix?confirm=true" };
    const char *auth[] = { "Authorization: Bearer " POLICY_TOKEN, NULL };
    const char *wrong[] = { "Authorization: Bearer nope", NULL };

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct dbat_resp *r = dbat_req("POST", paths[i], wrong, "{}");
        cr_expect_eq(r->status, 401, "%s: %s", paths[i], r->body);
        cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "DBA401");
        dbat_resp_free(r);
        r = dbat_req("POST", paths[i], auth, "{}");
        cr_expect_eq(r->status, 403, "%s: %s", paths[i], r->body);
        const char *m = json_string_value(json_object_get(r->json, "message"));
        cr_expect(m != NULL && strstr(m, "read_only") != NULL, "%s", r->body);
        dbat_resp_free(r);
    }
    const char *h[] = { "Content-Type: application/json", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items", h, "{\"name\":\"ro\"}");
    cr_expect_eq(r->status, 405, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=id&id=eq.1");
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
}

/* ---- log lines carry the request id and the profile ---- */

static void
start_traced(void)
{
    dbat_server_start_with("trace_header = \"X-Request-Id\";", NULL);
}

TestSuite(req_log, .init = start_traced, .fini = dbat_server_stop);

/* Reads what the gateway logged at debug level while `path` was requested with `headers`. */
static char *
logged_for(const char *path, const char *const *headers)
{
    char tmpl[] = "/tmp/dbat-log-XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    dba_log_set_level(DBA_LOG_DEBUG);
    struct dbat_resp *r = dbat_req("GET", path, headers, NULL);
    dba_log_set_level(DBA_LOG_ERROR);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    char *log = calloc(1, 8192);
    ssize_t n = pread(fd, log, 8191, 0);
    log[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(tmpl);
    return log;
}

Test(req_log, lines_carry_request_id_and_profile)
{
    const char *h[] = { "X-Request-Id: trace-abc-123", NULL };
    char *log = logged_for("/tables/items?select=id&id=eq.1", h);
    cr_expect(strstr(log, "req trace-abc-123 profile test: GET /tables/items -> 200") != NULL,
              "log: %s", log);
    free(log);
    /* Without the trace header: <worker>.<number on that worker>. */
    log = logged_for("/healthz", NULL);
    const char *p = strstr(log, "req ");
    cr_expect(p != NULL && strstr(p, " profile test: GET /healthz -> 200") != NULL, "log: %s", log);
    cr_expect(p != NULL && p[4] >= '0' && p[4] <= '9' && strchr(p, '.') != NULL, "log: %s", log);
    free(log);
}
