/* test_geojson.c - Accept: application/geo+json with PostGIS on real PostgreSQL (fixture
   tests/fixtures/geo.sql, schema geo, PostGIS in schema geo_ext off the search_path, reloaded
   before each test): a FeatureCollection of ST_AsGeoJSON(record) for tables, views, embeds and
   calls (SETOF, one composite, a scalar), with select, filters, order, limit, Range and counts
   as for JSON; writes with return=representation; PostGIS's 22023 without a geometry column; a
   custom handler overriding it; PostgREST's answer without PostGIS (42883, 404). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "harness.h"

#define GEO "Accept: application/geo+json"
#define CT "application/geo+json; charset=utf-8"

/* The fixture's features, properties included. */
#define F1 "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[-71.10044," \
           "42.373695]},\"properties\":{\"id\":1,\"address\":\"1369 Cambridge St\","        \
           "\"district_id\":1}}"
#define F2 "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[-71.10543," \
           "42.366432]},\"properties\":{\"id\":2,\"address\":\"757 Massachusetts Ave\","    \
           "\"district_id\":1}}"
#define F3 "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[-71.081924," \
           "42.36437]},\"properties\":{\"id\":3,\"address\":\"605 W Kendall St\","           \
           "\"district_id\":2}}"
#define FC(features) "{\"type\":\"FeatureCollection\",\"features\":[" features "]}"

static void
start(void)
{
    dbat_fixture("geo.sql");
    dbat_server_start_full(NULL, NULL, NULL, "\"geo\"", NULL);
}

/* PostGIS must not outlive the suite: other suites pg_dump the whole test database. */
static void
stop(void)
{
    dbat_server_stop();
    free(dbat_sql("SET client_min_messages = warning; DROP SCHEMA IF EXISTS geo CASCADE;"
                  " DROP SCHEMA IF EXISTS geo_ov CASCADE; DROP EXTENSION IF EXISTS postgis"
                  " CASCADE; DROP SCHEMA IF EXISTS geo_ext CASCADE"));
}

TestSuite(geojson, .init = start, .fini = stop);

/* status, and when json is not NULL the body (semantically) and the GeoJSON Content-Type */
static void
expect(struct dbat_resp *r, long status, const char *json)
{
    cr_expect_eq(r->status, status, "status %ld: %s", r->status, r->body);
    if (json != NULL) {
        cr_expect(dbat_json_eq(r->json, json), "got %s, want %s", r->body, json);
        const char *ct = dbat_header(r, "Content-Type");
        cr_expect(ct != NULL && strcmp(ct, CT) == 0, "Content-Type %s", ct ? ct : "(none)");
    }
    dbat_resp_free(r);
}

static void
expect_error(struct dbat_resp *r, long status, const char *code, const char *message)
{
    cr_expect_eq(r->status, status, "status %ld: %s", r->status, r->body);
    json_t *c = json_object_get(r->json, "code"), *m = json_object_get(r->json, "message");
    cr_expect(c != NULL && strcmp(json_string_value(c), code) == 0, "%s", r->body);
    cr_expect(m != NULL && strcmp(json_string_value(m), message) == 0, "%s", r->body);
    const char *ct = dbat_header(r, "Content-Type");
    cr_expect(ct != NULL && strcmp(ct, "application/json; charset=utf-8") == 0, "%s", ct);
    dbat_resp_free(r);
}

Test(geojson, table_is_a_feature_collection)
{
    /* PostgREST's PostGISSpec: every row a Feature, the other columns its properties */
    expect(dbat_req_json("GET", "/tables/shops?order=id", NULL, GEO, NULL), 200, FC(F1 "," F2 "," F3));
    /* no rows: still a FeatureCollection */
    expect(dbat_req_json("GET", "/tables/shops?id=gt.3", NULL, GEO, NULL), 200, FC(""));
    /* negotiated like any type: q-values and fallbacks */
    expect(dbat_req_json("GET", "/tables/shops?id=eq.1", NULL,
               "Accept: text/csv;q=0.5, application/geo+json", NULL), 200, FC(F1));
    struct dbat_resp *r = dbat_req_json("GET", "/tables/shops?id=eq.1&select=id", NULL,
                              "Accept: application/json, application/geo+json", NULL);
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "[{\"id\":1}]"), "%s", r->body);
    dbat_resp_free(r);
    /* HEAD: the headers, no body */
    r = dbat_req_json("HEAD", "/tables/shops", NULL, GEO, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_eq(r->body_len, 0);
    cr_expect_str_eq(dbat_header(r, "Content-Type"), CT);
    dbat_resp_free(r);
}

Test(geojson, select_filters_order_limits)
{
    /* the properties are the selected columns (with renames and casts) */
    expect(dbat_req_json("GET", "/tables/shops?select=shop_geom,name:address&id=eq.3", NULL, GEO, NULL), 200,
           FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
              "[-71.081924,42.36437]},\"properties\":{\"name\":\"605 W Kendall St\"}}"));
    expect(dbat_req_json("GET", "/tables/shops?select=id::text,shop_geom&id=eq.1", NULL, GEO, NULL), 200,
           FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
              "[-71.10044,42.373695]},\"properties\":{\"id\":\"1\"}}"));
    expect(dbat_req_json("GET", "/tables/shops?district_id=eq.1&order=id.desc", NULL, GEO, NULL), 200,
           FC(F2 "," F1));
    expect(dbat_req_json("GET", "/tables/shops?or=(id.eq.1,id.eq.3)&order=id", NULL, GEO, NULL), 200,
           FC(F1 "," F3));
    expect(dbat_req_json("GET", "/tables/shops?order=id&limit=1&offset=1", NULL, GEO, NULL), 200, FC(F2));
    /* Range and counts as for JSON */
    struct dbat_resp *r = dbat_req_json("GET", "/tables/shops?order=id", NULL, GEO, "Range: 1-2");
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, FC(F2 "," F3)), "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "1-2/*");
    dbat_resp_free(r);
    r = dbat_req_json("GET", "/tables/shops?order=id&limit=1", NULL, GEO, "Prefer: count=exact");
    cr_expect_eq(r->status, 206, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, FC(F1)), "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-0/3");
    dbat_resp_free(r);
    /* an embed is a property */
    expect(dbat_req_json("GET", "/tables/shops?select=id,shop_geom,districts(name)&id=eq.3", NULL, GEO,
               NULL), 200,
           FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
              "[-71.081924,42.36437]},\"properties\":{\"id\":3,"
              "\"districts\":{\"name\":\"Kendall\"}}}"));
}

Test(geojson, views_and_calls)
{
    expect(dbat_req_json("GET", "/tables/shop_points?order=id", NULL, GEO, NULL), 200,
           FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
              "[-71.10044,42.373695]},\"properties\":{\"id\":1}},"
              "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
              "[-71.10543,42.366432]},\"properties\":{\"id\":2}}"));
    /* SETOF a table: filters and order apply to its rows */
    expect(dbat_req_json("GET", "/tables/rpc/all_shops?district_id=eq.1&order=id.desc", NULL, GEO, NULL),
           200, FC(F2 "," F1));
    expect(dbat_req_json("POST", "/tables/rpc/all_shops?id=eq.3", "{}", GEO, NULL), 200, FC(F3));
    /* one composite: a collection of one feature (not a bare object as for JSON) */
    expect(dbat_req_json("GET", "/tables/rpc/one_shop?shop=2", NULL, GEO, NULL), 200, FC(F2));
    /* a scalar geometry: its row's only column is the geometry */
    expect(dbat_req_json("GET", "/tables/rpc/shop_pos?shop=1", NULL, GEO, NULL), 200,
           FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
              "[-71.10044,42.373695]},\"properties\":{}}"));
}

Test(geojson, writes_with_representation)
{
    expect(dbat_req_json("POST", "/tables/shops",
               "{\"id\":4,\"address\":\"1 Main St\",\"shop_geom\":\"SRID=4326;POINT(1 2)\"}",
               GEO, "Prefer: return=representation"), 201,
           FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]},"
              "\"properties\":{\"id\":4,\"address\":\"1 Main St\",\"district_id\":null}}"));
    expect(dbat_req_json("PATCH", "/tables/shops?id=eq.4&select=id,shop_geom",
               "{\"shop_geom\":\"SRID=4326;POINT(3 4)\"}", GEO, "Prefer: return=representation"),
           200,
           FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[3,4]},"
              "\"properties\":{\"id\":4}}"));
    /* without representation: no body */
    struct dbat_resp *r = dbat_req_json("PATCH", "/tables/shops?id=eq.4", "{\"address\":\"2 Main St\"}",
                              GEO, NULL);
    cr_expect_eq(r->status, 204, "%s", r->body);
    cr_expect_eq(r->body_len, 0);
    dbat_resp_free(r);
    expect(dbat_req_json("DELETE", "/tables/shops?id=eq.4&select=address,shop_geom", NULL, GEO,
               "Prefer: return=representation"), 200,
           FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[3,4]},"
              "\"properties\":{\"address\":\"2 Main St\"}}"));
    char *n = dbat_sql("SELECT count(*) FROM geo.shops");
    cr_expect_str_eq(n, "3");
    free(n);
}

Test(geojson, missing_geometry_column)
{
    /* PostGIS's own error (PostgREST's PostGISSpec): 400, SQLSTATE 22023 */
    expect_error(dbat_req_json("GET", "/tables/projects", NULL, GEO, NULL), 400, "22023",
                 "geometry column is missing");
    expect_error(dbat_req_json("GET", "/tables/shops?select=id,address", NULL, GEO, NULL), 400, "22023",
                 "geometry column is missing");
    /* a failed write is rolled back */
    expect_error(dbat_req_json("POST", "/tables/projects?select=id", "{\"id\":3,\"name\":\"x\"}", GEO,
                     "Prefer: return=representation"), 400, "22023",
                 "geometry column is missing");
    char *n = dbat_sql("SELECT count(*) FROM geo.projects");
    cr_expect_str_eq(n, "2");
    free(n);
}

Test(geojson, custom_handler_overrides)
{
    dbat_server_stop();
    dbat_server_start_full(NULL, NULL, NULL, "\"geo\", \"geo_ov\"", NULL);
    struct dbat_resp *r = dbat_req_json("GET", "/tables/zones", NULL, GEO, "Accept-Profile: geo_ov");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "{\"custom\":true}"), "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Type"), CT);
    dbat_resp_free(r);
    /* other relations keep the built-in handler, also when negotiated against handlers */
    expect(dbat_req_json("GET", "/tables/shops?id=eq.1", NULL, GEO, NULL), 200, FC(F1));
}

Test(geojson, without_postgis)
{
    /* PostgREST offers application/geo+json whatever the database has; without PostGIS the
       statement fails on the missing function: 42883, 404 */
    dbat_server_stop();
    free(dbat_sql("SET client_min_messages = warning; DROP EXTENSION postgis CASCADE"));
    dbat_server_start_full(NULL, NULL, NULL, "\"geo\"", NULL);
    struct dbat_resp *r = dbat_req_json("GET", "/tables/projects", NULL, GEO, NULL);
    cr_expect_eq(r->status, 404, "%s", r->body);
    json_t *c = json_object_get(r->json, "code");
    cr_expect(c != NULL && strcmp(json_string_value(c), "42883") == 0, "%s", r->body);
    cr_expect(strstr(r->body, "st_asgeojson") != NULL, "%s", r->body);
    dbat_resp_free(r);
    /* JSON is unaffected */
    r = dbat_req_json("GET", "/tables/projects?id=eq.1", NULL, NULL, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect(dbat_json_eq(r->json, "[{\"id\":1,\"name\":\"Windows 7\"}]"), "%s", r->body);
    dbat_resp_free(r);
}
