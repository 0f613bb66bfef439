/* test_pgbouncer.c - the gateway behind a real PgBouncer (Debian's 1.18) in transaction pooling
   mode (CTest fixture pgbouncer: scripts/pgbouncer.sh, 4 server connections for the gateway's
   pool of 4 and the other clients): nothing the gateway sends needs a session. */
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

#define BOUNCER_URL() env("DBA_TEST_PGBOUNCER_URL")
#define BOUNCER_ADMIN() env("DBA_TEST_PGBOUNCER_ADMIN_URL")
#define DIRECT_URL() env("DBA_TEST_DATABASE_URL")

/* Transactions PgBouncer has carried for database dba_test so far. */
static long
bouncer_xacts(void)
{
    /* SHOW STATS of PgBouncer's admin console, read with psql (one row per database). */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "psql -X -A -t -F '|' -d '%s' -c 'SHOW STATS' | awk -F'|' '$1==\"dba_test\"{print $2}'",
             BOUNCER_ADMIN());
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    long n = -1;
    if (fscanf(p, "%ld", &n) != 1)
        n = -1;
    pclose(p);
    cr_assert_geq(n, 0, "no dba_test row in PgBouncer's SHOW STATS");
    return n;
}

static void
start_behind_bouncer(void)
{
    char extra[1024];
    snprintf(extra, sizeof(extra),
             "prepared_statements = false; statement_timeout_ms = 400; listen_url = \"%s\";",
             DIRECT_URL());
    dbat_server_start_url(BOUNCER_URL(), "request_timeout_ms = 5000;", extra);
}

static void
stop(void)
{
    dbat_server_stop();
}

TestSuite(pgbouncer, .init = start_behind_bouncer, .fini = stop);

/* Reads and writes go through PgBouncer (its transaction count grows by at least one per
   request) and come back right. */
Test(pgbouncer, reads_and_writes_through_transaction_pooling)
{
    long before = bouncer_xacts();
    const char *h[] = { "Content-Type: application/json", "Prefer: return=representation",
                        NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items", h, "{\"name\":\"via bouncer\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=name&name=eq.via%20bouncer");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"via bouncer\"}]"), "%s", r->body);
    dbat_resp_free(r);
    r = dbat_req("PATCH", "/tables/items?name=eq.via%20bouncer", h, "{\"name\":\"via bouncer 2\"}");
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_req("DELETE", "/tables/items?name=eq.via%20bouncer%202", NULL, NULL);
    cr_expect_eq(r->status, 204, "%s", r->body);
    dbat_resp_free(r);
    cr_expect_geq(bouncer_xacts() - before, 4, "the requests did not go through PgBouncer");
}

/* statement_timeout_ms travels inside the request's transaction: PostgreSQL's own timeout
   fires (its message, not the gateway's deadline), for the plain read sent without BEGIN too. */
Test(pgbouncer, statement_timeout_is_set_per_transaction)
{
    struct dbat_resp *r = dbat_get("/tables/slow");
    cr_expect_eq(r->status, 504, "%s", r->body);
    cr_expect(strstr(r->body, "statement timeout") != NULL, "not PostgreSQL's timeout: %s",
              r->body);
    dbat_resp_free(r);
    /* ... and it does not stay on PgBouncer's server connections (SET LOCAL, not SET). */
    for (int i = 0; i < 8; i++) {
        char *v = scale_sql(BOUNCER_URL(), "SELECT current_setting('statement_timeout')");
        cr_expect_str_eq(v, "0", "a setting leaked into PgBouncer's server connection");
        free(v);
    }
}

/* The schema keeper LISTENs on listen_url (direct): a NOTIFY reaches it. */
Test(pgbouncer, schema_reload_through_listen_url)
{
    free(scale_sql(DIRECT_URL(), "DROP TABLE IF EXISTS bouncer_late; "
                                 "CREATE TABLE bouncer_late (id int); NOTIFY pgrst"));
    long status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        usleep(50 * 1000);
        struct dbat_resp *r = dbat_get("/tables/bouncer_late");
        status = r->status;
        dbat_resp_free(r);
    }
    cr_expect_eq(status, 200);
    free(scale_sql(DIRECT_URL(), "DROP TABLE bouncer_late; NOTIFY pgrst"));
}

/* A read/write load of 8 clients over PgBouncer's 4 server connections: no error at all. */
Test(pgbouncer, read_write_load_has_no_error)
{
    struct scale_load l = { .port = dbat_port(), .n_threads = 8, .n_requests = 150,
                            .writes = true, .tag = "bouncer" };
    scale_load_run(&l);
    cr_expect_eq(l.failed, 0, "%ld of %ld failed; first: %s", l.failed, l.ok + l.failed,
                 l.first_error);
    cr_expect_eq(l.ok, 8 * 150);
    long rows = scale_sql_long(DIRECT_URL(), "SELECT count(*) FROM items WHERE name LIKE "
                                             "'load_bouncer_%'");
    cr_expect_eq(rows, 8 * 50, "every insert landed once");
}

/* With an identity (role, claims, request.* settings), the unit's settings ride in the same
   transaction and never reach the next client's. */
static void
start_behind_bouncer_auth(void)
{
    char extra[1024];
    snprintf(extra, sizeof(extra),
             "prepared_statements = false; statement_timeout_ms = 400; listen_url = \"%s\";",
             DIRECT_URL());
    dbat_server_start_full(BOUNCER_URL(), NULL, extra, "\"public\"",
                           "auth: { jwt_secret = \"bouncer-test-secret-at-least-32-bytes\"; "
                           "anon_role = \"postgres\"; };");
}

Test(pgbouncer, identity_settings_stay_in_their_transaction, .init = start_behind_bouncer_auth)
{
    struct dbat_resp *r = dbat_get("/tables/items?select=id&id=eq.1");
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/tables/slow");
    cr_expect_eq(r->status, 504, "%s", r->body);
    cr_expect(strstr(r->body, "statement timeout") != NULL, "%s", r->body);
    dbat_resp_free(r);
    for (int i = 0; i < 8; i++) {
        char *v = scale_sql(BOUNCER_URL(), "SELECT coalesce(current_setting('request.method', "
                                           "true), '') || '/' || current_setting('statement_timeout')");
        cr_expect_str_eq(v, "/0", "a request setting leaked into a server connection");
        free(v);
    }
}
