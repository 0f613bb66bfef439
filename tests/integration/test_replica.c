/* test_replica.c - read replicas with a real streaming standby (CTest fixture replica:
   scripts/replica.sh, pg_basebackup of the fixture's PostgreSQL): reads observed on the
   replica, writes on the primary, read-your-writes under lag (replay paused), a replica stopped
   mid-load costs no request, and it is taken back once it is up again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "scale_util.h"

static const char *
env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v != NULL && v[0] != '\0', "%s is not set (run through ctest)", name);
    return v;
}

#define PRIMARY_URL() env("DBA_TEST_DATABASE_URL")
#define REPLICA_URL() env("DBA_TEST_REPLICA_URL")

/* Where a request's unit ran: a STABLE function (so GET and POST /rpc both are reads). */
static void
create_where_fn(void)
{
    free(scale_sql(PRIMARY_URL(),
                   "CREATE OR REPLACE FUNCTION scale_where() RETURNS text LANGUAGE sql STABLE AS "
                   "$$ SELECT CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END $$; "
                   "CREATE OR REPLACE VIEW scale_where_v AS SELECT scale_where() AS w; "
                   "NOTIFY pgrst"));
}

static void
start_with_replica(void)
{
    char extra[1024];
    create_where_fn();
    snprintf(extra, sizeof(extra), "replicas = [ \"%s\" ];", REPLICA_URL());
    dbat_server_start_url(NULL, "request_timeout_ms = 10000;", extra);
    /* The function reaches the replica and the gateway's catalog. */
    long status = 0;
    for (int i = 0; i < 200 && status != 200; i++) {
        struct dbat_resp *r = dbat_get("/tables/rpc/scale_where");
        status = r->status;
        dbat_resp_free(r);
        if (status != 200)
            usleep(50 * 1000);
    }
    cr_assert_eq(status, 200, "scale_where never became callable");
}

static void
stop(void)
{
    dbat_server_stop();
}

static char *
where(const char *method, const char *const *headers)
{
    struct dbat_resp *r = dbat_req(method, "/tables/rpc/scale_where", headers,
                                   strcmp(method, "POST") == 0 ? "{}" : NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    char *v = strdup(json_string_value(r->json) ? json_string_value(r->json) : r->body);
    dbat_resp_free(r);
    return v;
}

static bool
replaying(bool on)
{
    char *v = scale_sql(REPLICA_URL(), on ? "SELECT pg_wal_replay_resume()"
                                          : "SELECT pg_wal_replay_pause()");
    free(v);
    return true;
}

TestSuite(replica, .init = start_with_replica, .fini = stop);

Test(replica, reads_on_the_replica_writes_on_the_primary)
{
    const char *json[] = { "Content-Type: application/json", NULL };
    char *v = where("GET", NULL);
    cr_expect_str_eq(v, "replica");
    free(v);
    v = where("POST", json);
    cr_expect_str_eq(v, "replica", "a STABLE function called by POST is a read");
    free(v);
    /* A read-write transaction stays on the primary: a dry-run write, a write. */
    struct dbat_resp *r = dbat_req("POST", "/tables/items", json, "{\"name\":\"on primary\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    const char *lsn = dbat_header(r, "X-Db-Lsn");
    cr_expect(lsn != NULL && strchr(lsn, '/') != NULL, "a write answers X-Db-Lsn");
    dbat_resp_free(r);
    cr_expect_eq(scale_sql_long(PRIMARY_URL(), "SELECT count(*) FROM items WHERE name = "
                                               "'on primary'"), 1);
    /* /pool shows the replica and its figures (refreshed every tick: wait for one). */
    for (int i = 0; i < 100; i++) {
        r = dbat_admin_get("/metrics");
        bool seen = strstr(r->body, "dba_replica_queries_total{profile=\"test\",replica=\"replica1\"} 0") == NULL;
        dbat_resp_free(r);
        if (seen)
            break;
        usleep(20 * 1000);
    }
    r = dbat_admin_get("/pool");
    cr_expect_eq(r->status, 200);
    json_t *reps = json_object_get(json_array_get(json_object_get(r->json, "pools"), 0),
                                   "replicas");
    cr_expect_eq(json_array_size(reps), 1, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(reps, 0), "state")), "up");
    cr_expect_gt(json_integer_value(json_object_get(json_array_get(reps, 0), "queries")), 0);
    dbat_resp_free(r);
    r = dbat_admin_get("/metrics");
    cr_expect(strstr(r->body, "dba_replica_up{profile=\"test\",replica=\"replica1\"} 1") != NULL,
              "%s", r->body);
    dbat_resp_free(r);
}

/* POST /transaction holds one connection across its waves: always the primary, even when every
   operation reads; a write among them answers X-Db-Lsn as a single write does. */
Test(replica, transaction_on_the_primary)
{
    const char *json[] = { "Content-Type: application/json", NULL };
    struct dbat_resp *r = dbat_req("POST", "/transaction", json,
        "{\"operations\": [{\"method\": \"GET\", \"path\": \"/tables/scale_where_v\"}]}");
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *b = json_object_get(json_array_get(json_object_get(r->json, "results"), 0), "body");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(b, 0), "w")), "primary",
                     "%s", r->body);
    dbat_resp_free(r);
    r = dbat_req("POST", "/transaction", json,
        "{\"operations\": [{\"method\": \"POST\", \"path\": \"/tables/items\", "
        "\"body\": {\"name\": \"tx on primary\"}}, "
        "{\"method\": \"GET\", \"path\": \"/tables/scale_where_v\"}]}");
    cr_assert_eq(r->status, 200, "%s", r->body);
    b = json_object_get(json_array_get(json_object_get(r->json, "results"), 1), "body");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(b, 0), "w")), "primary");
    const char *lsn = dbat_header(r, "X-Db-Lsn");
    cr_expect(lsn != NULL && strchr(lsn, '/') != NULL, "a transaction answers X-Db-Lsn");
    dbat_resp_free(r);
}

Test(replica, read_your_writes_under_lag)
{
    const char *json[] = { "Content-Type: application/json", NULL };
    replaying(false);
    struct dbat_resp *r = dbat_req("POST", "/tables/items", json, "{\"name\":\"ryw\"}");
    cr_assert_eq(r->status, 201, "%s", r->body);
    char hdr[96];
    const char *lsn = dbat_header(r, "X-Db-Lsn");
    cr_assert(lsn != NULL);
    snprintf(hdr, sizeof(hdr), "X-Db-Min-Lsn: %s", lsn);
    dbat_resp_free(r);
    const char *ryw[] = { hdr, NULL };
    /* Without the header the paused replica answers: it has not seen the row. */
    r = dbat_get("/tables/items?select=name&name=eq.ryw");
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "[]"), "the replica was expected to lag: %s", r->body);
    dbat_resp_free(r);
    /* With it, the primary does. */
    r = dbat_req("GET", "/tables/items?select=name&name=eq.ryw", ryw, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"ryw\"}]"), "%s", r->body);
    dbat_resp_free(r);
    char *v = where("GET", ryw);
    cr_expect_str_eq(v, "primary");
    free(v);
    /* Once replay goes on, the replica serves such reads again. */
    replaying(true);
    v = NULL;
    for (int i = 0; i < 200; i++) {
        free(v);
        v = where("GET", ryw);
        if (strcmp(v, "replica") == 0)
            break;
        usleep(20 * 1000);
    }
    cr_expect_str_eq(v, "replica");
    free(v);
}

static int
replica_ctl(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/scripts/pg.sh %s %s >/dev/null 2>&1",
             env("DBA_TEST_SOURCE_DIR"), what, env("DBA_TEST_REPLICA_DIR"));
    return system(cmd);
}

Test(replica, a_stopped_replica_costs_no_request)
{
    struct scale_load l = { .port = dbat_port(), .n_threads = 4, .n_requests = 400,
                            .writes = true, .tag = "replica",
                            .read_path = "/tables/items?select=id,name&id=eq.1" };
    scale_load_start(&l);
    usleep(300 * 1000); /* let the load run on the replica for a while */
    cr_expect_eq(replica_ctl("stop"), 0);
    scale_load_join(&l);
    cr_expect_eq(l.failed, 0, "%ld of %ld failed; first: %s", l.failed, l.ok + l.failed,
                 l.first_error);
    char *v = where("GET", NULL);
    cr_expect_str_eq(v, "primary", "with the replica down, reads go to the primary");
    free(v);
    /* /pool shows it down (its figures are refreshed every tick: look a few times). */
    const char *state = NULL;
    for (int i = 0; i < 100; i++) {
        struct dbat_resp *r = dbat_admin_get("/pool");
        json_t *rep = json_array_get(
            json_object_get(json_array_get(json_object_get(r->json, "pools"), 0), "replicas"), 0);
        state = strcmp(json_string_value(json_object_get(rep, "state")), "down") == 0 ? "down"
                                                                                       : "up";
        dbat_resp_free(r);
        if (strcmp(state, "down") == 0)
            break;
        usleep(20 * 1000);
    }
    cr_expect_str_eq(state, "down");
    struct dbat_resp *r;
    /* Started again, it is taken back (the pool retries it with back-off). */
    cr_expect_eq(replica_ctl("start"), 0);
    v = NULL;
    for (int i = 0; i < 400; i++) {
        free(v);
        v = where("GET", NULL);
        if (strcmp(v, "replica") == 0)
            break;
        usleep(25 * 1000);
    }
    cr_expect_str_eq(v, "replica");
    free(v);
    r = dbat_get("/readyz");
    cr_expect_eq(r->status, 200);
    dbat_resp_free(r);
}
