/* test_openapi.c - the documents built from the schema cache, on real roles (fixture
   tests/fixtures/auth.sql plus a table and a function only `authenticated` may use): the Swagger
   2.0 root document and the OpenAPI 3.1 description for two roles, their media types, HEAD and
   406; server.openapi_mode (follow-privileges, ignore-privileges, disabled); base path and
   public URL changes; a cache reload updating the documents. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "harness.h"

#define SECRET "it-is-a-test-secret-of-32-bytes-or-more"

static char url[512];

static void
load_fixture(void)
{
    const char *base = getenv("DBA_TEST_DATABASE_URL");
    cr_assert(base != NULL);
    dbat_fixture("auth.sql");
    free(dbat_sql("DROP TABLE IF EXISTS authz.oa_private;"
                  "CREATE TABLE authz.oa_private (id int PRIMARY KEY, secret text NOT NULL);"
                  "COMMENT ON TABLE authz.oa_private IS 'Private rows\n\nfor members only';"
                  "COMMENT ON COLUMN authz.oa_private.secret IS 'the secret';"
                  "GRANT SELECT ON authz.oa_private TO authenticated;"
                  "CREATE OR REPLACE FUNCTION authz.oa_hello(who text) RETURNS text"
                  " LANGUAGE sql STABLE AS $$ SELECT 'hello ' || who $$;"
                  "REVOKE EXECUTE ON FUNCTION authz.oa_hello(text) FROM PUBLIC;"
                  "GRANT EXECUTE ON FUNCTION authz.oa_hello(text) TO authenticated;"));
    const char *u = strstr(base, "user=postgres");
    cr_assert_not_null(u, "%s", base);
    snprintf(url, sizeof(url), "%.*suser=authenticator%s", (int)(u - base), base,
             u + strlen("user=postgres"));
}

static void
start(const char *server_extra)
{
    load_fixture();
    dbat_server_start_full(url, server_extra, NULL, "\"authz\"",
                           "auth: { jwt_secret = \"" SECRET "\"; anon_role = \"web_anon\"; };");
}

static void start_default(void) { start(NULL); }
static void start_ignore(void) { start("openapi_mode = \"ignore-privileges\";"); }
static void start_disabled(void) { start("openapi_mode = \"disabled\";"); }
static void
start_moved(void)
{
    start("base_path = \"/api/v1\"; openapi_public_url = \"https://gw.example.org/edge\"; "
          "openapi_security_active = true;");
}

TestSuite(openapi, .init = start_default, .fini = dbat_server_stop);
TestSuite(openapi_ignore, .init = start_ignore, .fini = dbat_server_stop);
TestSuite(openapi_disabled, .init = start_disabled, .fini = dbat_server_stop);
TestSuite(openapi_moved, .init = start_moved, .fini = dbat_server_stop);

static char *
bearer(const char *role)
{
    struct dba_config_auth c = { .present = true, .jwt_secret = (char *)SECRET };
    struct dba_auth *a = NULL;
    struct dba_err err;
    char *tok = NULL, *h = NULL;
    cr_assert_eq(dba_auth_new(&c, &a, &err), DBA_OK, "%s", err.msg);
    cr_assert_eq(dba_auth_mint(a, role, NULL, (int64_t)time(NULL), 600, &tok, &err), DBA_OK);
    dba_auth_free(a);
    cr_assert(asprintf(&h, "Authorization: Bearer %s", tok) > 0);
    free(tok);
    return h;
}

/* GET path as role (NULL = anonymous) with Accept accept (NULL = none). */
static struct dbat_resp *
get_as(const char *role, const char *path, const char *accept)
{
    char *auth = role ? bearer(role) : NULL;
    char acc[128];
    const char *h[3] = { 0 };
    int n = 0;
    if (auth != NULL)
        h[n++] = auth;
    if (accept != NULL) {
        snprintf(acc, sizeof(acc), "Accept: %s", accept);
        h[n++] = acc;
    }
    struct dbat_resp *r = dbat_req("GET", path, h, NULL);
    free(auth);
    return r;
}

static json_t *
at(json_t *doc, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(doc, a);
    if (b != NULL)
        v = json_object_get(v, b);
    if (c != NULL)
        v = json_object_get(v, c);
    return v;
}

Test(openapi, swagger_for_two_roles)
{
    struct dbat_resp *anon = get_as(NULL, "/tables/", "application/openapi+json");
    cr_assert_eq(anon->status, 200, "%s", anon->body);
    cr_expect_str_eq(dbat_header(anon, "Content-Type"), "application/openapi+json; charset=utf-8");
    cr_expect_str_eq(json_string_value(json_object_get(anon->json, "swagger")), "2.0");
    cr_expect_not_null(at(anon->json, "paths", "/todos", "get"));
    cr_expect_null(at(anon->json, "paths", "/oa_private", NULL), "web_anon has no privilege");
    cr_expect_null(at(anon->json, "paths", "/rpc/oa_hello", NULL));
    cr_expect_str_eq(json_string_value(json_object_get(anon->json, "basePath")), "/tables");
    dbat_resp_free(anon);

    struct dbat_resp *member = get_as("authenticated", "/tables/", "application/json");
    cr_assert_eq(member->status, 200, "%s", member->body);
    cr_expect_str_eq(dbat_header(member, "Content-Type"), "application/json; charset=utf-8");
    cr_expect_str_eq(json_string_value(at(member->json, "paths", "/oa_private", "get") ?
                                       json_object_get(at(member->json, "paths", "/oa_private",
                                                          "get"), "summary") : NULL),
                     "Private rows");
    cr_expect_str_eq(json_string_value(at(at(member->json, "definitions", "oa_private",
                                             "properties"), "secret", "description", NULL)),
                     "the secret");
    cr_expect_not_null(at(member->json, "paths", "/rpc/oa_hello", "get"), "stable: GET too");
    cr_expect_null(at(member->json, "securityDefinitions", NULL, NULL));
    dbat_resp_free(member);
}

Test(openapi, oas31_for_two_roles)
{
    struct dbat_resp *anon = get_as(NULL, "/openapi.json", NULL);
    cr_assert_eq(anon->status, 200, "%s", anon->body);
    cr_expect_str_eq(json_string_value(json_object_get(anon->json, "openapi")), "3.1.0");
    cr_expect_not_null(at(anon->json, "paths", "/tables/todos", "get"));
    cr_expect_null(at(anon->json, "paths", "/tables/oa_private", NULL));
    cr_expect_not_null(at(anon->json, "paths", "/schema", "get"), "operator routes are merged");
    char want[64];
    snprintf(want, sizeof(want), "http://127.0.0.1:%d", dbat_port());
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(
                         json_object_get(anon->json, "servers"), 0), "url")), want);
    dbat_resp_free(anon);

    struct dbat_resp *member = get_as("authenticated", "/openapi.json", NULL);
    cr_assert_eq(member->status, 200);
    json_t *s = at(member->json, "components", "schemas", "oa_private.insert");
    cr_expect_eq(json_array_size(json_object_get(s, "required")), 2);
    cr_expect_not_null(at(member->json, "paths", "/tables/rpc/oa_hello", "post"));
    cr_expect_not_null(at(member->json, "components", "securitySchemes", "adminBearer"));
    /* Read-your-writes with replicas: X-Db-Min-Lsn on table reads, X-Db-Lsn on writes. */
    json_t *ml = at(member->json, "components", "parameters", "minLsn");
    cr_expect_str_eq(json_string_value(json_object_get(ml, "name")), "X-Db-Min-Lsn");
    bool listed = false;
    json_t *gp = json_object_get(at(member->json, "paths", "/tables/todos", "get"), "parameters");
    for (size_t i = 0; i < json_array_size(gp); i++) {
        const char *ref = json_string_value(json_object_get(json_array_get(gp, i), "$ref"));
        listed |= ref != NULL && strcmp(ref, "#/components/parameters/minLsn") == 0;
    }
    cr_expect(listed, "GET /tables/todos lists no X-Db-Min-Lsn");
    json_t *pr = json_object_get(at(member->json, "paths", "/tables/todos", "post"), "responses");
    cr_expect_not_null(at(json_object_get(pr, "201"), "headers", "X-Db-Lsn", NULL));
    dbat_resp_free(member);
}

Test(openapi, media_types_head_and_406)
{
    struct dbat_resp *r = get_as(NULL, "/tables/", "text/csv");
    cr_expect_eq(r->status, 406);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST107");
    dbat_resp_free(r);
    r = get_as(NULL, "/tables/", "*/*");
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Content-Type"), "application/openapi+json; charset=utf-8");
    dbat_resp_free(r);
    const char *h[] = { "Accept: application/openapi+json", NULL };
    r = dbat_req("HEAD", "/tables/", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_null(dbat_header(r, "Content-Length"));
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/", NULL, "{}");
    cr_expect_eq(r->status, 405);
    dbat_resp_free(r);
}

Test(openapi, a_reload_updates_the_documents)
{
    free(dbat_sql("DROP TABLE IF EXISTS authz.oa_late; CREATE TABLE authz.oa_late (id int);"
                  "GRANT SELECT ON authz.oa_late TO web_anon; NOTIFY pgrst, 'reload schema'"));
    bool seen = false;
    for (int i = 0; i < 200 && !seen; i++) {
        struct dbat_resp *r = get_as(NULL, "/openapi.json", NULL);
        seen = at(r->json, "paths", "/tables/oa_late", NULL) != NULL;
        dbat_resp_free(r);
        if (!seen)
            usleep(50 * 1000);
    }
    cr_expect(seen, "the new table never appeared in /openapi.json");
    struct dbat_resp *r = get_as(NULL, "/tables/", NULL);
    cr_expect_not_null(at(r->json, "paths", "/oa_late", NULL));
    dbat_resp_free(r);
    free(dbat_sql("DROP TABLE authz.oa_late; NOTIFY pgrst, 'reload schema'"));
}

Test(openapi_ignore, every_relation_listed)
{
    struct dbat_resp *r = get_as(NULL, "/tables/", NULL);
    cr_assert_eq(r->status, 200);
    cr_expect_not_null(at(r->json, "paths", "/oa_private", NULL));
    cr_expect_not_null(at(r->json, "paths", "/rpc/oa_hello", NULL));
    dbat_resp_free(r);
}

Test(openapi_disabled, root_is_404)
{
    struct dbat_resp *r = get_as(NULL, "/tables/", "application/openapi+json");
    cr_expect_eq(r->status, 404);
    cr_expect(dbat_json_eq(r->json, "{\"code\":\"PGRST126\",\"details\":null,\"hint\":null,"
                                    "\"message\":\"Root endpoint metadata is disabled\"}"),
              "%s", r->body);
    dbat_resp_free(r);
    r = get_as(NULL, "/openapi.json", NULL);
    cr_expect_eq(r->status, 200, "the gateway's own description stays");
    dbat_resp_free(r);
}

Test(openapi_moved, base_path_and_public_url)
{
    struct dbat_resp *r = get_as(NULL, "/api/v1/", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "host")), "gw.example.org");
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "basePath")), "/edge/api/v1");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(r->json, "schemes"), 0)),
                     "https");
    cr_expect_not_null(at(r->json, "securityDefinitions", "JWT", NULL));
    dbat_resp_free(r);
    r = get_as(NULL, "/openapi.json", NULL);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(
                         json_object_get(r->json, "servers"), 0), "url")),
                     "https://gw.example.org/edge");
    cr_expect_not_null(at(r->json, "paths", "/api/v1/todos", NULL));
    cr_expect_null(at(r->json, "paths", "/tables/todos", NULL));
    dbat_resp_free(r);
}
