/* test_write.c - POST/PATCH/PUT/DELETE on /tables, statuses, headers and error mapping. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "harness.h"

TestSuite(write, .init = dbat_server_start, .fini = dbat_server_stop);

static const char *const json_ct[] = { "Content-Type: application/json", NULL };
static const char *const repr[] = { "Content-Type: application/json",
                                    "Prefer: return=representation", NULL };

Test(write, post_minimal_is_201_empty)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items", json_ct, "{\"name\":\"fig\",\"qty\":3}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_eq(r->body_len, 0);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "*/*");
    dbat_resp_free(r);
    char *v = dbat_sql("SELECT qty || ',' || active FROM items WHERE name = 'fig'");
    cr_expect_str_eq(v, "3,true"); /* omitted columns take their defaults */
    free(v);
}

Test(write, post_representation_round_trips_types)
{
    const char *body = "{\"name\":\"\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x8d\x89\",\"price\":1234567890.12,"
                       "\"tags\":[\"a\",\"b c\"],\"meta\":{\"n\":{\"deep\":[1,2.5,null,true]}},"
                       "\"created_at\":\"2024-05-06T07:08:09.123456+00:00\","
                       "\"uid\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"data\":\"\\\\xcafe\"}";
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name,price,tags,meta,created_at,uid,data",
                                   repr, body);
    cr_expect_eq(r->status, 201, "%s", r->body);
    char expected[1024];
    snprintf(expected, sizeof(expected), "[%s]", body);
    cr_expect(dbat_json_eq(r->json, expected));
    cr_expect(strstr(r->body, "1234567890.12") != NULL, "numeric rounded: %s", r->body);
    dbat_resp_free(r);
}

Test(write, post_headers_only_gives_location)
{
    const char *h[] = { "Content-Type: application/json", "Prefer: return=headers-only", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items", h, "{\"name\":\"kiwi\"}");
    cr_expect_eq(r->status, 201);
    cr_expect_str_eq(dbat_header(r, "Location"), "/items?id=eq.6");
    dbat_resp_free(r);
}

Test(write, post_bulk_and_columns)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/people?select=name,age&columns=name,age", repr,
                                   "[{\"name\":\"E\",\"age\":1,\"email\":\"x\"},{\"name\":\"F\"}]");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"E\",\"age\":1},{\"name\":\"F\",\"age\":null}]"));
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/people", json_ct, "[{\"name\":\"G\"},{\"age\":3}]");
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST102\""));
    dbat_resp_free(r);
}

Test(write, upsert_merge_and_ignore)
{
    const char *merge[] = { "Content-Type: application/json",
                            "Prefer: resolution=merge-duplicates, return=representation", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/people?on_conflict=name&select=name,age", merge,
                                   "{\"name\":\"Alice\",\"age\":31}");
    cr_expect_eq(r->status, 200, "%s", r->body); /* every row was an update */
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"Alice\",\"age\":31}]"));
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"),
                     "resolution=merge-duplicates, return=representation");
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/people?on_conflict=name&select=name", merge, "{\"name\":\"Zed\"}");
    cr_expect_eq(r->status, 201);
    dbat_resp_free(r);
    const char *ign[] = { "Content-Type: application/json",
                          "Prefer: resolution=ignore-duplicates, return=representation", NULL };
    r = dbat_req("POST", "/tables/people?on_conflict=name&select=name", ign,
                 "[{\"name\":\"Bob\"},{\"name\":\"Yan\"}]");
    cr_expect_eq(r->status, 201);
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"Yan\"}]"));
    dbat_resp_free(r);
}

Test(write, constraint_errors_map_to_statuses)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/people", json_ct, "{\"name\":\"Alice\"}");
    cr_expect_eq(r->status, 409);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"23505\""));
    cr_expect(json_string_value(json_object_get(r->json, "details")) != NULL);
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/children", json_ct, "{\"parent_id\":99,\"name\":\"x\"}");
    cr_expect_eq(r->status, 409);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"23503\""));
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/items", json_ct, "{\"qty\":1}");
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"23502\""));
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/items", json_ct, "{\"name\":\"x\",\"qty\":\"many\"}");
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"22P02\""));
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/items", json_ct, "{\"name\":\"x\",\"nope\":1}");
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST204\""));
    dbat_resp_free(r);
    char *n = dbat_sql("SELECT count(*) FROM items");
    cr_expect_str_eq(n, "5"); /* nothing was written by the failures */
    free(n);
}

Test(write, bad_bodies)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items", json_ct, "{\"name\":");
    cr_expect_eq(r->status, 400);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST102\""));
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/items", json_ct, "");
    cr_expect_eq(r->status, 400);
    dbat_resp_free(r);
}

Test(write, patch)
{
    struct dbat_resp *r = dbat_req("PATCH", "/tables/items?id=eq.1", json_ct, "{\"qty\":11}");
    cr_expect_eq(r->status, 204, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-0/*");
    /* exactly one Content-Range (a bulk-update branch once added a second "*" "/" "*") */
    const char *cr1 = strcasestr(r->headers, "\nContent-Range:");
    cr_expect(cr1 != NULL && strcasestr(cr1 + 1, "\nContent-Range:") == NULL, "%s", r->headers);
    dbat_resp_free(r);
    r = dbat_req("PATCH", "/tables/items?qty=gte.12&select=id,qty", repr, "{\"qty\":1}");
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "[{\"id\":2,\"qty\":1}]"));
    dbat_resp_free(r);
    r = dbat_req("PATCH", "/tables/items", json_ct, "{\"qty\":0}");
    cr_expect_eq(r->status, 400, "unfiltered PATCH must be refused");
    dbat_resp_free(r);
    char *n = dbat_sql("SELECT count(*) FROM items WHERE qty = 0");
    cr_expect_str_eq(n, "1");
    free(n);
}

Test(write, put_upsert)
{
    struct dbat_resp *r = dbat_req("PUT", "/tables/items?id=eq.50&select=id,name", repr,
                                   "{\"id\":50,\"name\":\"new\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"id\":50,\"name\":\"new\"}]"));
    dbat_resp_free(r);
    r = dbat_req("PUT", "/tables/items?id=eq.50&select=id,name", repr, "{\"id\":50,\"name\":\"again\"}");
    cr_expect_eq(r->status, 200);
    dbat_resp_free(r);
    r = dbat_req("PUT", "/tables/items?name=eq.x", json_ct, "{\"id\":1,\"name\":\"x\"}");
    cr_expect_eq(r->status, 405);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST105\""));
    dbat_resp_free(r);
}

Test(write, delete)
{
    struct dbat_resp *r = dbat_req("DELETE", "/tables/children?id=eq.3", json_ct, NULL);
    cr_expect_eq(r->status, 204);
    dbat_resp_free(r);
    const char *h[] = { "Prefer: return=representation, count=exact", NULL };
    r = dbat_req("DELETE", "/tables/children?parent_id=eq.1&select=name&order=id", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"c1\"},{\"name\":\"c2\"}]"));
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "*/2");
    dbat_resp_free(r);
    r = dbat_req("DELETE", "/tables/parents?id=eq.1", NULL, NULL);
    cr_expect_eq(r->status, 204);
    dbat_resp_free(r);
    r = dbat_req("DELETE", "/tables/children", NULL, NULL);
    cr_expect_eq(r->status, 400);
    dbat_resp_free(r);
}

Test(write, singular_write_rolls_back)
{
    const char *h[] = { "Content-Type: application/json", "Prefer: return=representation",
                        "Accept: application/vnd.pgrst.object+json", NULL };
    struct dbat_resp *r = dbat_req("PATCH", "/tables/items?id=lte.2", h, "{\"qty\":99}");
    cr_expect_eq(r->status, 406);
    cr_expect(dbat_json_eq(json_object_get(r->json, "details"), "\"The result contains 2 rows\""));
    dbat_resp_free(r);
    char *n = dbat_sql("SELECT count(*) FROM items WHERE qty = 99");
    cr_expect_str_eq(n, "0");
    free(n);
    r = dbat_req("POST", "/tables/items?select=name", h, "{\"name\":\"solo\"}");
    cr_expect_eq(r->status, 201);
    cr_expect(dbat_json_eq(r->json, "{\"name\":\"solo\"}"));
    dbat_resp_free(r);
}

Test(write, content_profile)
{
    const char *h[] = { "Content-Type: application/json", "Content-Profile: other", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/things", h, "{\"label\":\"three\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    dbat_resp_free(r);
    char *n = dbat_sql("SELECT count(*) FROM other.things WHERE label = 'three'");
    cr_expect_str_eq(n, "1");
    free(n);
    free(dbat_sql("DELETE FROM other.things WHERE label = 'three'"));
}

/* Arrays of 64 rows and more take the column-wise path (unnest); what comes back must be exactly
   what the small-array path gives: every type, escapes, unicode, nulls, nested arrays. */
static char *
bulk_body(int rows, int first_id, bool with_nulls, int bad_row)
{
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_putc(&b, '[');
    for (int i = 0; i < rows; i++) {
        bool nul = with_nulls && i % 7 == 3;
        dba_buf_printf(&b, "%s{\"id\":%d,\"name\":\"row \\\"%d\\\" \\\\ \\u00e9\\ud83c\\udf49\\n\","
                       "\"qty\":%s,\"price\":%s,\"tags\":%s,\"meta\":%s,"
                       "\"created_at\":\"2024-05-06T07:08:09.%06d+00:00\","
                       "\"uid\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd38%04d\",\"data\":\"\\\\x%02x\","
                       "\"active\":%s}",
                       i ? "," : "", first_id + i, i, i == bad_row ? "\"x\"" : nul ? "null" : "7",
                       nul ? "null" : "1234567890.10",
                       nul ? "null" : "[\"a\",\"b \\\"c\\\"\",null,\"{x}\"]",
                       nul ? "null" : "{\"k\":[1,2.50,{\"z\":null}],\"s\":\"q\\\"\"}",
                       i, i, i & 0xff, i % 2 ? "true" : "false");
    }
    dba_buf_putc(&b, ']');
    return dba_buf_take(&b);
}

Test(write, bulk_insert_round_trips_exactly)
{
    const char *cols = "name,qty,price,tags,meta,created_at,uid,data,active";
    char *big = bulk_body(250, 1000, true, -1); /* > 64 KB: the streaming validator's path too */
    cr_assert_gt(strlen(big), 64 * 1024);
    char *small = bulk_body(10, 2000, true, -1);
    struct dbat_resp *r = dbat_req("POST", "/tables/items", json_ct, big);
    cr_expect_eq(r->status, 201, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/items", json_ct, small);
    cr_expect_eq(r->status, 201, "%s", r->body);
    dbat_resp_free(r);
    char url[256];
    snprintf(url, sizeof(url), "/tables/items?select=%s&id=gte.1000&id=lt.1010&order=id", cols);
    struct dbat_resp *a = dbat_get(url);
    snprintf(url, sizeof(url), "/tables/items?select=%s&id=gte.2000&id=lt.2010&order=id", cols);
    struct dbat_resp *b = dbat_get(url);
    cr_expect_eq(a->status, 200);
    /* Column-wise and JSON-document inserts store byte-identical values. */
    cr_expect_str_eq(a->body, b->body);
    cr_expect(strstr(a->body, "\"price\":1234567890.10") != NULL, "%s", a->body);
    cr_expect(strstr(a->body, "\"tags\":[\"a\",\"b \\\"c\\\"\",null,\"{x}\"]") != NULL, "%s",
              a->body);
    dbat_resp_free(a);
    dbat_resp_free(b);
    char *n = dbat_sql("SELECT count(*) FROM items WHERE id >= 1000 AND id < 1250");
    cr_expect_str_eq(n, "250");
    free(n);
    /* A large body whose last element has other keys is refused like a small one. */
    size_t len = strlen(big);
    big = realloc(big, len + 32);
    cr_assert(big != NULL);
    strcpy(big + len - 1, ",{\"other\":1}]");
    r = dbat_req("POST", "/tables/items", json_ct, big);
    cr_expect_eq(r->status, 400, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "{\"code\":\"PGRST102\",\"details\":null,\"hint\":null,"
                                    "\"message\":\"All object keys must match\"}"), "%s", r->body);
    dbat_resp_free(r);
    free(big);
    free(small);
}

Test(write, bulk_insert_columns_upsert_and_errors)
{
    char *body = bulk_body(100, 3000, false, -1);
    const char *merge[] = { "Content-Type: application/json",
                            "Prefer: resolution=merge-duplicates, return=representation, count=exact",
                            NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items?columns=id,name,qty&select=id", merge, body);
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_eq(json_array_size(r->json), 100);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "*/100");
    dbat_resp_free(r);
    char *v = dbat_sql("SELECT count(*) || ',' || count(price) FROM items WHERE id >= 3000");
    cr_expect_str_eq(v, "100,0"); /* only columns= were written */
    free(v);
    r = dbat_req("POST", "/tables/items?columns=id,name,qty&select=id", merge, body);
    cr_expect_eq(r->status, 200, "every row was an update: %s", r->body);
    dbat_resp_free(r);
    free(body);
    /* A bad value in row 80 fails the whole statement: nothing of the batch is written. */
    body = bulk_body(100, 4000, false, 80);
    r = dbat_req("POST", "/tables/items", json_ct, body);
    cr_expect_eq(r->status, 400, "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"22P02\""), "%s", r->body);
    dbat_resp_free(r);
    v = dbat_sql("SELECT count(*) FROM items WHERE id >= 4000");
    cr_expect_str_eq(v, "0");
    free(v);
    free(body);
}
