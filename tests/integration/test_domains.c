/* test_domains.c - PostgREST's domain representations on real PostgreSQL (fixture
   tests/fixtures/domains.sql, schema dom, reloaded before each test): a domain's implicit casts
   to json (reading: columns, '*', renamed, under a cast, views, computed columns, embeds, calls,
   aggregates; not CSV), from text (filter values: eq, in, any) and from json (body values of
   POST, PATCH and PUT, with columns=), and a domain without casts (its base type, its DEFAULT). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "harness.h"

static void
load(const char *name)
{
    dbat_fixture(name);
}

static void
start(void)
{
    load("domains.sql");
    dbat_server_start_full(NULL, "aggregates_enabled = true;", NULL, "\"dom\"", NULL);
}

/* The casts must not outlive the suite: other suites pg_dump the whole test database, and an
   expected schema may not create casts. */
static void
stop(void)
{
    dbat_server_stop();
    free(dbat_sql("SET client_min_messages = warning; DROP SCHEMA IF EXISTS dom CASCADE"));
}

TestSuite(domains, .init = start, .fini = stop);

static struct dbat_resp *
req(const char *method, const char *path, const char *body, const char *h1)
{
    const char *h[4] = { 0 };
    int n = 0;

    if (body != NULL)
        h[n++] = "Content-Type: application/json";
    if (h1 != NULL)
        h[n++] = h1;
    return dbat_req(method, path, h, body);
}

Test(domains, read_formats_columns)
{
    /* one column, '*' (every represented column, NULL through the cast), a rename */
    dbat_expect(req("GET", "/tables/paints?select=id,color&id=lt.3", NULL, NULL), 200,
           "[{\"id\":1,\"color\":\"#000000\"},{\"id\":2,\"color\":\"#0000FF\"}]");
    dbat_expect(req("GET", "/tables/paints?order=id", NULL, NULL), 200,
           "[{\"id\":1,\"name\":\"black\",\"color\":\"#000000\","
           "\"made\":\"2020-01-02T00:00:00Z\",\"n\":1},"
           "{\"id\":2,\"name\":\"blue\",\"color\":\"#0000FF\","
           "\"made\":\"2020-01-03T10:00:00Z\",\"n\":2},"
           "{\"id\":3,\"name\":\"none\",\"color\":\"\",\"made\":null,\"n\":3}]");
    dbat_expect(req("GET", "/tables/paints?select=c:color&id=eq.2", NULL, NULL), 200,
           "[{\"c\":\"#0000FF\"}]");
    /* a cast applies on top of the representation (the JSON text) */
    dbat_expect(req("GET", "/tables/paints?select=c:color::text&id=eq.2", NULL, NULL), 200,
           "[{\"c\":\"\\\"#0000FF\\\"\"}]");
    /* views (a computed view column of the domain too) and computed columns */
    dbat_expect(req("GET", "/tables/paints_view?id=eq.2", NULL, NULL), 200,
           "[{\"id\":2,\"color\":\"#0000FF\",\"half\":\"#00007F\"}]");
    dbat_expect(req("GET", "/tables/paints?select=id,inverse&id=eq.2", NULL, NULL), 200,
           "[{\"id\":2,\"inverse\":\"#FFFF00\"}]");
}

Test(domains, read_through_embeds_calls_aggregates)
{
    dbat_expect(req("GET", "/tables/cans?select=id,paints(color,made)", NULL, NULL), 200,
           "[{\"id\":10,\"paints\":{\"color\":\"#0000FF\",\"made\":\"2020-01-03T10:00:00Z\"}}]");
    dbat_expect(req("GET", "/tables/cans?select=id,...paints(color)", NULL, NULL), 200,
           "[{\"id\":10,\"color\":\"#0000FF\"}]");
    dbat_expect(req("GET", "/tables/rpc/all_paints?select=id,color&id=lt.3", NULL, NULL), 200,
           "[{\"id\":1,\"color\":\"#000000\"},{\"id\":2,\"color\":\"#0000FF\"}]");
    /* grouped by the column itself (json has no equality), shown through the cast */
    dbat_expect(req("GET", "/tables/paints?select=color,count()&id=lt.3&order=color", NULL, NULL),
           200, "[{\"color\":\"#000000\",\"count\":1},{\"color\":\"#0000FF\",\"count\":1}]");
    /* CSV shows the column's own text */
    const char *csv[] = { "Accept: text/csv", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/paints?select=id,color&id=eq.2", csv, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(r->body, "id,color\n2,255");
    dbat_resp_free(r);
}

Test(domains, filters_use_the_text_parser)
{
    dbat_expect(req("GET", "/tables/paints?select=id&color=eq.0000FF", NULL, NULL), 200,
           "[{\"id\":2}]");
    dbat_expect(req("GET", "/tables/paints?select=id&color=eq.%23FF", NULL, NULL), 200, "[{\"id\":2}]");
    dbat_expect(req("GET", "/tables/paints?select=id&color=in.(0000FF,%23000000)&order=id", NULL,
               NULL), 200, "[{\"id\":1},{\"id\":2}]");
    dbat_expect(req("GET", "/tables/paints?select=id&color=gt(any).{FF,0}&order=id", NULL, NULL), 200,
           "[{\"id\":2}]");
    dbat_expect(req("GET", "/tables/paints?select=id&color=neq.0", NULL, NULL), 200, "[{\"id\":2}]");
    /* a hostile value stays a value */
    dbat_expect(req("GET", "/tables/paints?select=id&color=eq.'%3B%20DROP%20TABLE%20dom.paints%3B--",
               NULL, NULL), 400, NULL);
    /* without a text cast the base type parses the value (no JSON parser fallback) */
    dbat_expect(req("GET", "/tables/paints?select=id&made=eq.2020-01-02T00:00:00%2B00", NULL, NULL),
           200, "[{\"id\":1}]");
    struct dbat_resp *r = req("GET", "/tables/paints?select=id&made=eq.Z", NULL, NULL);
    cr_expect_eq(r->status, 400);
    cr_expect(strstr(r->body, "22007") != NULL, "%s", r->body);
    dbat_resp_free(r);
}

Test(domains, writes_use_the_json_parser)
{
    const char *repr = "Prefer: return=representation";

    dbat_expect(req("POST", "/tables/paints",
               "{\"id\":4,\"name\":\"grey\",\"color\":\"#0A0A0A\",\"made\":\"2021-01-01T00:00:00Z\"}",
               repr), 201,
           "[{\"id\":4,\"name\":\"grey\",\"color\":\"#0A0A0A\",\"made\":\"2021-01-01T00:00:00Z\","
           "\"n\":7}]");
    /* an array body; columns= leaves the other keys (even invalid ones) unparsed */
    dbat_expect(req("POST", "/tables/paints?columns=id,color&select=id,color,made",
               "[{\"id\":5,\"color\":\"#000010\",\"made\":\"junk\"},{\"id\":6,\"color\":null}]",
               repr), 201,
           "[{\"id\":5,\"color\":\"#000010\",\"made\":\"2020-01-01T00:00:00Z\"},"
           "{\"id\":6,\"color\":\"\",\"made\":\"2020-01-01T00:00:00Z\"}]");
    dbat_expect(req("PATCH", "/tables/paints?id=eq.3", "{\"color\":\"#00FF00\"}", repr), 200,
           "[{\"id\":3,\"name\":\"none\",\"color\":\"#00FF00\",\"made\":null,\"n\":3}]");
    dbat_expect(req("PUT", "/tables/paints?id=eq.7", "{\"id\":7,\"color\":\"#000001\"}", repr), 201,
           "[{\"id\":7,\"name\":null,\"color\":\"#000001\",\"made\":\"2020-01-01T00:00:00Z\","
           "\"n\":7}]");
    char *v = dbat_sql("SELECT string_agg(color::text, ',' ORDER BY id) FROM dom.paints");
    cr_expect_str_eq(v, "0,255,65280,657930,16,1");
    free(v);
    /* the parser's own errors (the domain's CHECK) reach the client */
    dbat_expect(req("POST", "/tables/paints", "{\"id\":8,\"color\":\"#1000000\"}", repr), 400, NULL);
}

Test(domains, domain_without_casts)
{
    /* the base type's JSON; the domain DEFAULT under missing=default with columns= */
    dbat_expect(req("POST", "/tables/paints?columns=id,n&select=id,n", "{\"id\":9}",
               "Prefer: return=representation, missing=default"), 201, "[{\"id\":9,\"n\":7}]");
    dbat_expect(req("GET", "/tables/paints?select=n&id=eq.1", NULL, NULL), 200, "[{\"n\":1}]");
}

Test(domains, media_type_handlers)
{
    /* an aggregate over the relation's row type, for the default select only */
    const char *plain[] = { "Accept: text/plain", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/paints?order=id", plain, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Type"), "text/plain; charset=utf-8");
    cr_expect_str_eq(r->body, "black,blue,none");
    dbat_resp_free(r);
    r = dbat_req("GET", "/tables/paints?select=id", plain, NULL);
    cr_expect_eq(r->status, 406, "%s", r->body);
    cr_expect(strstr(r->body, "PGRST107") != NULL, "%s", r->body);
    dbat_resp_free(r);
    /* an aggregate over anyelement applies to any relation and select; no charset */
    const char *count[] = { "Accept: application/vnd.count", NULL };
    r = dbat_req("GET", "/tables/paints?select=id&id=lt.3", count, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Type"), "application/vnd.count");
    cr_expect_str_eq(r->body, "2");
    dbat_resp_free(r);
    /* the first acceptable range wins; JSON stays the default */
    const char *both[] = { "Accept: application/vnd.unknown, text/plain;q=0.5, */*;q=0.1", NULL };
    r = dbat_req("GET", "/tables/paints?order=id", both, NULL);
    cr_expect_str_eq(r->body, "black,blue,none");
    dbat_resp_free(r);
    r = dbat_get("/tables/paints?select=id&id=eq.1");
    cr_expect_str_eq(dbat_header(r, "Content-Type"), "application/json; charset=utf-8");
    dbat_resp_free(r);
    /* a function returning the media domain: its bytes, whatever the select */
    const char *octet[] = { "Accept: application/octet-stream", NULL };
    r = dbat_req("GET", "/tables/rpc/logo", octet, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Type"), "application/octet-stream");
    cr_expect_eq(r->body_len, 3);
    cr_expect(memcmp(r->body, "\x00\xff" "A", 3) == 0);
    dbat_resp_free(r);
    /* a relation without a handler for the type */
    r = dbat_req("GET", "/tables/cans", octet, NULL);
    cr_expect_eq(r->status, 406, "%s", r->body);
    dbat_resp_free(r);
}
