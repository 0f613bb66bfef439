/* test_roundtrip.c - one request, one round trip: the engine counts the pipeline syncs it sends
   (round_trips) and the jobs it completes (queries) per pool, /pool shows both, and a run of
   requests of every kind (reads, reads with a setup statement, writes returning their rows)
   moves both by exactly the number of requests. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

TestSuite(roundtrip, .init = dbat_server_start, .fini = dbat_server_stop);

struct counts {
    long long queries;     /* jobs completed */
    long long round_trips; /* pipeline syncs sent */
};

static struct counts
pool_counts(void)
{
    struct dbat_resp *r = dbat_admin_get("/pool");
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *p = json_array_get(json_object_get(r->json, "pools"), 0);
    json_t *q = json_object_get(p, "queries"), *rt = json_object_get(p, "round_trips");
    cr_assert(json_is_integer(q) && json_is_integer(rt), "%s", r->body);
    struct counts c = { json_integer_value(q), json_integer_value(rt) };
    dbat_resp_free(r);
    return c;
}

/* /pool shows each worker's figures as of its last tick (every 100 ms): read until they stop
   moving for several ticks. */
static struct counts
settled_counts(void)
{
    struct counts a = pool_counts();
    for (;;) {
        usleep(350 * 1000);
        struct counts b = pool_counts();
        if (a.queries == b.queries && a.round_trips == b.round_trips)
            return b;
        a = b;
    }
}

static void
expect_status(const char *method, const char *path, const char *const *h, const char *body,
              long status)
{
    struct dbat_resp *r = dbat_req(method, path, h, body);
    cr_expect_eq(r->status, status, "%s %s: %s", method, path, r->body);
    dbat_resp_free(r);
}

Test(roundtrip, every_request_is_one_round_trip)
{
    static const char *const tz[] = { "Prefer: timezone=America/Los_Angeles", NULL };
    static const char *const repr[] = { "Content-Type: application/json",
                                        "Prefer: return=representation", NULL };
    static const char *const json_ct[] = { "Content-Type: application/json", NULL };
    static const char *const count[] = { "Prefer: count=exact", NULL };
    const int rounds = 3;
    const int per_round = 7;

    struct counts before = settled_counts();
    for (int i = 0; i < rounds; i++) {
        expect_status("GET", "/tables/items?select=id,name&order=id", NULL, NULL, 200);
        expect_status("GET", "/tables/items?select=created_at&id=eq.1", tz, NULL, 200);
        expect_status("GET", "/tables/items?select=id&limit=2", count, NULL, 206);
        expect_status("POST", "/tables/items?select=id,name", repr, "{\"name\":\"rt\",\"qty\":1}",
                      201);
        expect_status("PATCH", "/tables/items?name=eq.rt", repr, "{\"qty\":2}", 200);
        expect_status("PATCH", "/tables/items?name=eq.rt", json_ct, "{\"qty\":3}", 204);
        expect_status("DELETE", "/tables/items?name=eq.rt", NULL, NULL, 204);
    }
    struct counts after = settled_counts();
    long long n = (long long)rounds * per_round;
    cr_expect_eq(after.queries - before.queries, n, "jobs: %lld for %lld requests",
                 after.queries - before.queries, n);
    cr_expect_eq(after.round_trips - before.round_trips, n, "round trips: %lld for %lld requests",
                 after.round_trips - before.round_trips, n);
}

/* Requests answered without the database (routing errors, bad filters) cost no round trip. */
Test(roundtrip, requests_refused_before_sql_cost_none)
{
    struct counts before = settled_counts();
    expect_status("GET", "/tables/no_such_table", NULL, NULL, 404);
    expect_status("GET", "/tables/items?id=zz.1", NULL, NULL, 400);
    expect_status("GET", "/healthz", NULL, NULL, 200);
    struct counts after = settled_counts();
    cr_expect_eq(after.round_trips - before.round_trips, 0);
    cr_expect_eq(after.queries - before.queries, 0);
}
