/* test_read.c - GET/HEAD on /tables: select, filters, order, pagination, counts, media types. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

TestSuite(read, .init = dbat_server_start, .fini = dbat_server_stop);

#define EXPECT_GET(path_, status_, expected_)                                \
    do {                                                                     \
        struct dbat_resp *r_ = dbat_get(path_);                              \
        cr_expect_eq(r_->status, (status_), "%s: status %ld body %s", path_,  \
                     r_->status, r_->body);                                  \
        cr_expect(dbat_json_eq(r_->json, expected_), "%s", path_);           \
        dbat_resp_free(r_);                                                  \
    } while (0)

Test(read, all_rows_in_order)
{
    EXPECT_GET("/tables/items?select=id&order=id", 200, "[{\"id\":1},{\"id\":2},{\"id\":3},{\"id\":4},{\"id\":5}]");
}

Test(read, select_filter_order)
{
    EXPECT_GET("/tables/items?select=id,name&qty=gte.10&order=name.desc", 200,
               "[{\"id\":2,\"name\":\"banana\"},{\"id\":1,\"name\":\"apple\"}]");
}

Test(read, alias_cast_and_json_path)
{
    EXPECT_GET("/tables/items?select=n:name,q:qty::text,color:meta->>color&id=eq.1", 200,
               "[{\"n\":\"apple\",\"q\":\"10\",\"color\":\"red\"}]");
    EXPECT_GET("/tables/items?select=id,meta->size&id=eq.2", 200, "[{\"id\":2,\"size\":5}]");
}

Test(read, operators)
{
    EXPECT_GET("/tables/items?select=id&id=in.(1,3,9)&order=id", 200, "[{\"id\":1},{\"id\":3}]");
    EXPECT_GET("/tables/items?select=id&id=not.in.(1,2,3)&order=id", 200, "[{\"id\":4},{\"id\":5}]");
    EXPECT_GET("/tables/items?select=id&qty=is.null", 200, "[{\"id\":4}]");
    EXPECT_GET("/tables/items?select=id&name=like.*an*&order=id", 200, "[{\"id\":2},{\"id\":4},{\"id\":5}]");
    EXPECT_GET("/tables/items?select=id&name=ilike.APP*", 200, "[{\"id\":1}]");
    EXPECT_GET("/tables/items?select=id&name=match.^c", 200, "[{\"id\":3}]");
    EXPECT_GET("/tables/items?select=id&tags=cs.{fruit}&order=id", 200, "[{\"id\":1},{\"id\":2}]");
    EXPECT_GET("/tables/items?select=id&tags=ov.{red,vegetable}&order=id", 200, "[{\"id\":1},{\"id\":3}]");
    EXPECT_GET("/tables/items?select=id&meta=cs.{\"color\":\"red\"}", 200, "[{\"id\":1}]");
    EXPECT_GET("/tables/items?select=id&qty=isdistinct.10&order=id", 200,
               "[{\"id\":2},{\"id\":3},{\"id\":4},{\"id\":5}]");
    EXPECT_GET("/tables/items?select=id&active=is.false&order=id", 200, "[{\"id\":4},{\"id\":5}]");
    EXPECT_GET("/tables/items?select=id&name=like(any).{a*,c*}&order=id", 200, "[{\"id\":1},{\"id\":3}]");
    EXPECT_GET("/tables/items?select=id&id=gt.1&id=lt.4&order=id", 200, "[{\"id\":2},{\"id\":3}]");
}

Test(read, fts_and_ranges)
{
    EXPECT_GET("/tables/docs?select=id&body_tsv=fts.fox&order=id", 200, "[{\"id\":1},{\"id\":3}]");
    EXPECT_GET("/tables/docs?select=id&body=plfts(english).lazy+dog", 200, "[{\"id\":1}]");
    EXPECT_GET("/tables/docs?select=id&body_tsv=wfts(english).quick+-brown", 200, "[{\"id\":3}]");
    EXPECT_GET("/tables/ranges?select=id&ir=ov.[8,12)&order=id", 200, "[{\"id\":1},{\"id\":2}]");
    EXPECT_GET("/tables/ranges?select=id&ir=sl.[16,17)&order=id", 200, "[{\"id\":1},{\"id\":2}]");
    EXPECT_GET("/tables/ranges?select=id&ir=adj.[10,11)", 200, "[{\"id\":1}]");
}

Test(read, or_and_nesting)
{
    EXPECT_GET("/tables/items?select=id&or=(qty.lt.5,price.gt.10)&order=id", 200,
               "[{\"id\":3},{\"id\":4}]");
    EXPECT_GET("/tables/items?select=id&or=(id.eq.1,and(qty.gte.7,qty.lte.7))&order=id", 200,
               "[{\"id\":1},{\"id\":5}]");
    EXPECT_GET("/tables/items?select=id&not.or=(id.eq.1,id.eq.2)&order=id", 200,
               "[{\"id\":3},{\"id\":4},{\"id\":5}]");
}

Test(read, order_nulls)
{
    EXPECT_GET("/tables/items?select=id&order=qty.desc.nullslast,id", 200,
               "[{\"id\":2},{\"id\":1},{\"id\":5},{\"id\":3},{\"id\":4}]");
    EXPECT_GET("/tables/items?select=id&order=qty.asc.nullsfirst", 200,
               "[{\"id\":4},{\"id\":3},{\"id\":5},{\"id\":1},{\"id\":2}]");
}

Test(read, limit_offset_count)
{
    const char *h[] = { "Prefer: count=exact", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?select=id&order=id&limit=2&offset=1", h, NULL);
    cr_expect_eq(r->status, 206);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "1-2/5");
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "count=exact");
    cr_expect(dbat_json_eq(r->json, "[{\"id\":2},{\"id\":3}]"));
    dbat_resp_free(r);
    r = dbat_req("GET", "/tables/items?select=id", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-4/5");
    dbat_resp_free(r);
    r = dbat_req("GET", "/tables/items?offset=10", h, NULL);
    cr_expect_eq(r->status, 416);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "*/5");
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST103\""));
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=id&limit=2");
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-1/*");
    dbat_resp_free(r);
}

Test(read, range_header)
{
    const char *h[] = { "Range: 1-2", "Range-Unit: items", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?select=id&order=id", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "1-2/*");
    cr_expect(dbat_json_eq(r->json, "[{\"id\":2},{\"id\":3}]"));
    dbat_resp_free(r);
}

Test(read, head_has_no_body)
{
    const char *h[] = { "Prefer: count=exact", NULL };
    struct dbat_resp *r = dbat_req("HEAD", "/tables/items", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_eq(r->body_len, 0);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-4/5");
    dbat_resp_free(r);
}

Test(read, singular_object)
{
    const char *h[] = { "Accept: application/vnd.pgrst.object+json", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?select=id,name&id=eq.3", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "{\"id\":3,\"name\":\"carrot\"}"));
    cr_expect(strstr(dbat_header(r, "Content-Type"), "application/vnd.pgrst.object+json") != NULL);
    dbat_resp_free(r);
    r = dbat_req("GET", "/tables/items?select=id", h, NULL);
    cr_expect_eq(r->status, 406);
    cr_expect(dbat_json_eq(r->json, "{\"code\":\"PGRST116\",\"details\":\"The result contains 5 rows\","
                                    "\"hint\":null,\"message\":\"Cannot coerce the result to a single JSON object\"}"));
    dbat_resp_free(r);
}

Test(read, csv)
{
    const char *h[] = { "Accept: text/csv", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/people?select=id,name&id=lte.2&order=id", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(r->body, "id,name\n1,Alice\n2,Bob");
    cr_expect(strncmp(dbat_header(r, "Content-Type"), "text/csv", 8) == 0);
    dbat_resp_free(r);
}

Test(read, type_round_trips)
{
    EXPECT_GET("/tables/items?select=price,tags,meta,created_at,uid,data&id=eq.1", 200,
               "[{\"price\":1.50,\"tags\":[\"fruit\",\"red\"],\"meta\":{\"color\":\"red\",\"size\":3},"
               "\"created_at\":\"2024-01-01T10:00:00+00:00\","
               "\"uid\":\"00000000-0000-0000-0000-000000000001\",\"data\":\"\\\\x0102\"}]");
    struct dbat_resp *r = dbat_get("/tables/items?select=price&id=eq.1");
    cr_expect(strstr(r->body, "1.50") != NULL, "numeric lost its digits: %s", r->body);
    dbat_resp_free(r);
}

Test(read, profiles_and_schemas)
{
    const char *h[] = { "Accept-Profile: other", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/things?select=label&order=id", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "[{\"label\":\"thing one\"},{\"label\":\"thing two\"}]"));
    cr_expect_str_eq(dbat_header(r, "Content-Profile"), "other");
    dbat_resp_free(r);
    const char *bad[] = { "Accept-Profile: nope", NULL };
    r = dbat_req("GET", "/tables/things", bad, NULL);
    cr_expect_eq(r->status, 406);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST106\""));
    dbat_resp_free(r);
}

Test(read, quoted_identifiers)
{
    EXPECT_GET("/tables/Mixed%20Case?select=%22Some%20Col%22&order=id", 200,
               "[{\"Some Col\":\"one\"},{\"Some Col\":\"two\"}]");
    EXPECT_GET("/tables/Mixed%20Case?select=id&Some%20Col=eq.two", 200, "[{\"id\":2}]");
}

Test(read, plus_is_space_and_repeated_keys)
{
    EXPECT_GET("/tables/docs?select=id&title=eq.fox&body=like.The+quick*", 200, "[{\"id\":1}]");
}

Test(read, unknown_table_and_column)
{
    struct dbat_resp *r = dbat_get("/tables/itemz");
    cr_expect_eq(r->status, 404);
    cr_expect(dbat_json_eq(r->json, "{\"code\":\"PGRST205\",\"details\":null,"
                                    "\"hint\":\"Perhaps you meant the table 'public.items'\","
                                    "\"message\":\"Could not find the table 'public.itemz' in the schema cache\"}"));
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=nope");
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"42703\""));
    dbat_resp_free(r);
    r = dbat_get("/tables/items?nope=eq.1");
    cr_expect_eq(r->status, 400);
    dbat_resp_free(r);
}

Test(read, grammar_errors)
{
    struct dbat_resp *r = dbat_get("/tables/items?id=noop.1");
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST100\""));
    dbat_resp_free(r);
    r = dbat_get("/tables/items?limit=-1");
    cr_expect_eq(r->status, 416);
    dbat_resp_free(r);
    r = dbat_get("/tables/items?id=eq.abc");
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"22P02\""));
    dbat_resp_free(r);
    const char *h[] = { "Accept: text/html", NULL };
    r = dbat_req("GET", "/tables/items", h, NULL);
    cr_expect_eq(r->status, 406);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST107\""));
    dbat_resp_free(r);
}

Test(read, view_is_readable)
{
    EXPECT_GET("/tables/active_items?select=id&order=id", 200, "[{\"id\":1},{\"id\":2},{\"id\":3}]");
}

Test(read, prefer_timezone)
{
    const char *h[] = { "Prefer: timezone=America/Los_Angeles", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?select=created_at&id=eq.1", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "[{\"created_at\":\"2024-01-01T02:00:00-08:00\"}]"));
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "timezone=America/Los_Angeles");
    dbat_resp_free(r);
    /* The setting is local to that request's transaction: the next one is back to UTC. */
    r = dbat_get("/tables/items?select=created_at&id=eq.1");
    cr_expect(dbat_json_eq(r->json, "[{\"created_at\":\"2024-01-01T10:00:00+00:00\"}]"));
    dbat_resp_free(r);
    const char *bad[] = { "Prefer: timezone=Mars/Olympus", NULL };
    r = dbat_req("GET", "/tables/items?select=id&id=eq.1", bad, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_null(dbat_header(r, "Preference-Applied"));
    dbat_resp_free(r);
    const char *strict[] = { "Prefer: handling=strict, timezone=Mars/Olympus", NULL };
    r = dbat_req("GET", "/tables/items?select=id&id=eq.1", strict, NULL);
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST122\""));
    dbat_resp_free(r);
}
