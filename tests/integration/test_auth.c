/* test_auth.c - the request's identity on real roles and row-level security (fixture
   tests/fixtures/auth.sql): the gateway connects as `authenticator` (LOGIN NOINHERIT) and each
   request runs as its JWT's role (or the anon role), with request.jwt.claims / request.headers
   visible to SQL, in one round trip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/core.h"
#include "harness.h"

#define SECRET "it-is-a-test-secret-of-32-bytes-or-more"

static char url[512];

/* Loads the roles and the authz schema, then starts the gateway as authenticator with auth. */
static void
start(const char *auth_group)
{
    const char *base = getenv("DBA_TEST_DATABASE_URL");
    cr_assert(base != NULL);
    dbat_fixture("auth.sql");
    const char *u = strstr(base, "user=postgres");
    cr_assert_not_null(u, "%s", base);
    snprintf(url, sizeof(url), "%.*suser=authenticator%s", (int)(u - base), base,
             u + strlen("user=postgres"));
    dbat_server_start_full(url, NULL, NULL, "\"authz\"", auth_group);
}

static void
start_anon(void)
{
    start("auth: { jwt_secret = \"" SECRET "\"; anon_role = \"web_anon\"; "
          "pre_request = \"authz.check_request\"; admin_roles = [ \"service_role\" ]; };");
}

static void
start_no_anon(void)
{
    start("auth: { jwt_secret = \"" SECRET "\"; };");
}

TestSuite(auth, .init = start_anon, .fini = dbat_server_stop);
TestSuite(auth_noanon, .init = start_no_anon, .fini = dbat_server_stop);

/* JWT admins only: no admin token configured, admin_roles lists service_role. */
static void
start_jwt_admin_only(void)
{
    dbat_without_admin_token();
    start_anon();
}

TestSuite(auth_jwt_admin, .init = start_jwt_admin_only, .fini = dbat_server_stop);

/* "Authorization: Bearer <token>" for role with claims (JSON object or NULL), expiring in ttl s
   (negative: expired that long ago). Heap. */
static char *
bearer(const char *role, const char *claims, long ttl)
{
    struct dba_config_auth c = { .present = true, .jwt_secret = (char *)SECRET };
    struct dba_auth *a = NULL;
    struct dba_err err;
    char *tok = NULL, *h = NULL;
    cr_assert_eq(dba_auth_new(&c, &a, &err), DBA_OK, "%s", err.msg);
    int64_t now = (int64_t)time(NULL);
    if (ttl < 0) /* iat and exp both in the past */
        now += ttl - 120;
    cr_assert_eq(dba_auth_mint(a, role, claims, now, ttl < 0 ? 60 : ttl, &tok, &err), DBA_OK,
                 "%s", err.msg);
    dba_auth_free(a);
    cr_assert(asprintf(&h, "Authorization: Bearer %s", tok) > 0);
    free(tok);
    return h;
}

static struct dbat_resp *
as(const char *auth, const char *method, const char *path, const char *body, const char *extra)
{
    const char *h[5] = { 0 };
    int n = 0;
    if (auth != NULL)
        h[n++] = auth;
    if (body != NULL)
        h[n++] = "Content-Type: application/json";
    if (extra != NULL)
        h[n++] = extra;
    return dbat_req(method, path, h, body);
}

Test(auth, each_user_sees_only_their_rows)
{
    char *alice = bearer("authenticated", "{\"sub\":\"alice\"}", 3600);
    char *bob = bearer("authenticated", "{\"sub\":\"bob\"}", 3600);
    dbat_expect(as(alice, "GET", "/tables/todos?select=id,task&order=id", NULL, NULL), 200,
           "[{\"id\":1,\"task\":\"a1\"},{\"id\":2,\"task\":\"a2\"}]");
    dbat_expect(as(bob, "GET", "/tables/todos?select=id,task", NULL, NULL), 200,
           "[{\"id\":3,\"task\":\"b1\"}]");
    /* a single row by primary key that is not yours: not there */
    dbat_expect(as(bob, "GET", "/tables/todos?id=eq.1", NULL, NULL), 200, "[]");
    /* the same token through the apikey header (supabase-js) */
    char apikey[1024];
    snprintf(apikey, sizeof(apikey), "apikey: %s", bob + strlen("Authorization: Bearer "));
    dbat_expect(as(apikey, "GET", "/tables/todos?select=id", NULL, NULL), 200, "[{\"id\":3}]");
    free(alice);
    free(bob);
}

Test(auth, writes_follow_the_policies)
{
    char *alice = bearer("authenticated", "{\"sub\":\"alice\"}", 3600);
    char *bob = bearer("authenticated", "{\"sub\":\"bob\"}", 3600);
    /* insert: the owner comes from the claims; return=representation sees the new row */
    dbat_expect(as(alice, "POST", "/tables/todos?select=owner,task", "{\"task\":\"a3\"}",
              "Prefer: return=representation"), 201, "[{\"owner\":\"alice\",\"task\":\"a3\"}]");
    /* inserting a row for someone else: WITH CHECK refuses (42501 with a token: 403) */
    dbat_expect(as(alice, "POST", "/tables/todos", "{\"task\":\"x\",\"owner\":\"bob\"}", NULL), 403,
           NULL);
    /* bob cannot update or delete alice's row: nothing matches */
    dbat_expect(as(bob, "PATCH", "/tables/todos?id=eq.1&select=id", "{\"task\":\"stolen\"}",
              "Prefer: return=representation"), 200, "[]");
    dbat_expect(as(bob, "DELETE", "/tables/todos?id=eq.2", NULL, NULL), 204, NULL);
    char *v = dbat_sql("SELECT string_agg(task, ',' ORDER BY id) FROM authz.todos "
                       "WHERE owner = 'alice'");
    cr_expect_str_eq(v, "a1,a2,a3");
    free(v);
    /* alice can */
    dbat_expect(as(alice, "PATCH", "/tables/todos?id=eq.1&select=id,task", "{\"task\":\"mine\"}",
              "Prefer: return=representation"), 200, "[{\"id\":1,\"task\":\"mine\"}]");
    free(alice);
    free(bob);
}

Test(auth, anonymous_reads_but_cannot_write)
{
    dbat_expect(as(NULL, "GET", "/tables/todos?select=id&order=id", NULL, NULL), 200,
           "[{\"id\":1},{\"id\":2},{\"id\":3}]");
    struct dbat_resp *r = as(NULL, "POST", "/tables/todos", "{\"task\":\"anon\"}", NULL);
    cr_expect_eq(r->status, 401, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "42501");
    cr_expect_str_eq(dbat_header(r, "WWW-Authenticate"), "Bearer");
    dbat_resp_free(r);
}

Test(auth, bad_tokens_are_401)
{
    char *old = bearer("authenticated", "{\"sub\":\"alice\"}", -600);
    struct dbat_resp *r = as(old, "GET", "/tables/todos", NULL, NULL);
    cr_expect_eq(r->status, 401, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST303");
    cr_expect_str_eq(dbat_header(r, "WWW-Authenticate"),
                     "Bearer error=\"invalid_token\", error_description=\"JWT expired\"");
    dbat_resp_free(r);
    free(old);
    /* a forged signature: the payload changed to another role */
    char *good = bearer("authenticated", "{\"sub\":\"alice\"}", 3600);
    char *evil = bearer("service_role", "{\"sub\":\"alice\"}", 3600);
    char forged[2048];
    const char *g2 = strrchr(good, '.');
    const char *e1 = strrchr(evil, '.');
    snprintf(forged, sizeof(forged), "%.*s%s", (int)(e1 - evil), evil, g2);
    r = as(forged, "GET", "/tables/todos", NULL, NULL);
    cr_expect_eq(r->status, 401, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST301");
    cr_expect(strstr(dbat_header(r, "WWW-Authenticate"), "invalid_token") != NULL);
    dbat_resp_free(r);
    dbat_expect(as("Authorization: Bearer abc.def", "GET", "/tables/todos", NULL, NULL), 401,
           "{\"code\":\"PGRST301\",\"details\":null,\"hint\":null,"
           "\"message\":\"Expected 3 parts in JWT; got 2\"}");
    free(good);
    free(evil);
}

Test(auth, role_without_privilege_is_403)
{
    char *t = bearer("nopriv", NULL, 3600);
    struct dbat_resp *r = as(t, "GET", "/tables/todos", NULL, NULL);
    cr_expect_eq(r->status, 403, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "42501");
    /* never the row count */
    cr_expect_null(dbat_header(r, "Content-Range"));
    dbat_resp_free(r);
    free(t);
    /* a role that does not exist: PostgreSQL's answer, not a crash */
    t = bearer("no_such_role", NULL, 3600);
    r = as(t, "GET", "/tables/todos", NULL, NULL);
    cr_expect(r->status >= 400 && r->status < 500, "%ld %s", r->status, r->body);
    cr_expect(strstr(r->body, "no_such_role") != NULL, "%s", r->body);
    dbat_resp_free(r);
    free(t);
}

Test(auth, pre_request_can_refuse)
{
    dbat_expect(as(NULL, "GET", "/tables/todos", NULL, "X-Block: yes"), 402,
           "{\"code\":\"PT402\",\"details\":null,\"hint\":null,"
           "\"message\":\"blocked by pre_request\"}");
    char *alice = bearer("authenticated", "{\"sub\":\"alice\"}", 3600);
    dbat_expect(as(alice, "DELETE", "/tables/todos?id=eq.1", NULL, "X-Block: yes"), 402, NULL);
    char *v = dbat_sql("SELECT count(*) FROM authz.todos WHERE id = 1");
    cr_expect_str_eq(v, "1");
    free(v);
    free(alice);
    /* or let the request go on with a response header of its own */
    struct dbat_resp *r = as(NULL, "GET", "/tables/todos?select=id&id=eq.3", NULL, "X-Tag: seen");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "X-Pre"), "seen");
    dbat_resp_free(r);
}

Test(auth, sql_sees_the_request)
{
    char *alice = bearer("authenticated", "{\"sub\":\"alice\",\"team\":[1,2]}", 3600);
    const char *h[] = { alice, "X-Custom-Thing: Hello", "Cookie: sid=42; theme=dark", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/whoami", h, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *row = json_array_get(r->json, 0);
    cr_expect_str_eq(json_string_value(json_object_get(row, "role")), "authenticated");
    cr_expect_str_eq(json_string_value(json_object_get(row, "method")), "GET");
    cr_expect_str_eq(json_string_value(json_object_get(row, "path")), "/whoami");
    json_t *claims = json_loads(json_string_value(json_object_get(row, "claims")), 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(claims, "sub")), "alice");
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(claims, "team"), 1)), 2);
    json_decref(claims);
    json_t *hdrs = json_loads(json_string_value(json_object_get(row, "headers")), 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(hdrs, "x-custom-thing")), "Hello");
    json_decref(hdrs);
    json_t *ck = json_loads(json_string_value(json_object_get(row, "cookies")), 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(ck, "theme")), "dark");
    json_decref(ck);
    dbat_resp_free(r);
    /* anonymous: the anon role, its claims say so */
    r = dbat_get("/tables/whoami");
    row = json_array_get(r->json, 0);
    cr_expect_str_eq(json_string_value(json_object_get(row, "role")), "web_anon");
    cr_expect_str_eq(json_string_value(json_object_get(row, "claims")),
                     "{\"role\":\"web_anon\"}");
    dbat_resp_free(r);
    free(alice);
}

Test(auth, admin_roles_count_as_admin)
{
    char *admin = bearer("service_role", NULL, 3600);
    char *user = bearer("authenticated", "{\"sub\":\"alice\"}", 3600);
    /* an admin-only route: an admin-role JWT passes the admin check, another JWT does not
       (no admin token is configured here, so the refusal is 403) */
    struct dbat_resp *r = as(admin, "GET", "/backup", NULL, NULL);
    const char *code = json_string_value(json_object_get(r->json, "code"));
    /* past the admin check (the backup itself then meets PostgreSQL's privileges) */
    cr_expect(code == NULL || (strcmp(code, "DBA403") != 0 && strcmp(code, "DBA401") != 0),
              "%ld %s", r->status, r->body);
    dbat_resp_free(r);
    r = as(user, "GET", "/backup", NULL, NULL);
    cr_expect_eq(r->status, 403, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "DBA403");
    dbat_resp_free(r);
    dbat_expect(as(admin, "GET", "/status", NULL, NULL), 200, NULL);
    /* on the tables it still runs as its role (service_role's policy sees every row) */
    dbat_expect(as(admin, "GET", "/tables/todos?select=id&order=id", NULL, NULL), 200,
           "[{\"id\":1},{\"id\":2},{\"id\":3}]");
    free(admin);
    free(user);
}

/* /pool as the admin role: jobs and pipeline syncs so far. */
static void
pool_counts(const char *admin, long long *q, long long *rt)
{
    struct dbat_resp *r = as(admin, "GET", "/pool", NULL, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *p = json_array_get(json_object_get(r->json, "pools"), 0);
    *q = json_integer_value(json_object_get(p, "queries"));
    *rt = json_integer_value(json_object_get(p, "round_trips"));
    dbat_resp_free(r);
}

static void
settled(const char *admin, long long *q, long long *rt)
{
    pool_counts(admin, q, rt);
    for (;;) {
        long long q2, rt2;
        usleep(350 * 1000);
        pool_counts(admin, &q2, &rt2);
        if (q2 == *q && rt2 == *rt)
            return;
        *q = q2;
        *rt = rt2;
    }
}

Test(auth, one_round_trip_with_a_jwt)
{
    char *admin = bearer("service_role", NULL, 3600);
    char *alice = bearer("authenticated", "{\"sub\":\"alice\"}", 3600);
    long long q0, rt0, q1, rt1;
    settled(admin, &q0, &rt0);
    for (int i = 0; i < 4; i++) {
        dbat_expect(as(alice, "GET", "/tables/todos?id=eq.1", NULL, NULL), 200, NULL);
        dbat_expect(as(NULL, "GET", "/tables/todos?id=eq.1", NULL, NULL), 200, NULL);
        dbat_expect(as(alice, "POST", "/tables/todos?select=id", "{\"task\":\"rt\"}",
                  "Prefer: return=representation"), 201, NULL);
    }
    settled(admin, &q1, &rt1);
    cr_expect_eq(q1 - q0, 12, "jobs: %lld", q1 - q0);
    cr_expect_eq(rt1 - rt0, 12, "round trips: %lld", rt1 - rt0);
    free(admin);
    free(alice);
}

Test(auth_noanon, no_token_no_anon_role_is_401)
{
    struct dbat_resp *r = dbat_get("/tables/todos");
    cr_expect_eq(r->status, 401, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST302");
    cr_expect_str_eq(dbat_header(r, "WWW-Authenticate"), "Bearer");
    dbat_resp_free(r);
    char *alice = bearer("authenticated", "{\"sub\":\"alice\"}", 3600);
    dbat_expect(as(alice, "GET", "/tables/todos?select=id", NULL, NULL), 200, "[{\"id\":1},{\"id\":2}]");
    free(alice);
    /* a token without a role claim and no anon role: 401 as well */
    char *norole = bearer(NULL, "{\"sub\":\"alice\"}", 3600);
    dbat_expect(as(norole, "GET", "/tables/todos", NULL, NULL), 401, NULL);
    free(norole);
}

/* Writes text as db-adapter.conf into a new temporary directory (path in dir). */
static void
conf_dir(char *dir, const char *text)
{
    char path[128];
    strcpy(dir, "/tmp/dbat-token-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void
conf_dir_rm(const char *dir)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    unlink(path);
    rmdir(dir);
}

Test(auth, token_command_mints_a_usable_token)
{
    char dir[64], *out = NULL;
    conf_dir(dir, "profiles: { p: { url = \"postgresql://localhost/x\"; }; };\n"
                  "auth: { jwt_secret_env = \"DBAT_TOKEN_SECRET\"; };\n");
    int rc = dbat_cli(dir, "DBAT_TOKEN_SECRET=" SECRET,
                      "token --role authenticated --claims '{\"sub\":\"bob\"}' --exp 10m", &out);
    cr_assert_eq(rc, 0, "%s", out);
    out[strcspn(out, "\n")] = '\0';
    cr_expect_null(strstr(out, SECRET));
    char h[2048];
    snprintf(h, sizeof(h), "Authorization: Bearer %s", out);
    dbat_expect(as(h, "GET", "/tables/todos?select=id", NULL, NULL), 200, "[{\"id\":3}]");
    free(out);
    /* a wrong secret mints a token the server refuses */
    rc = dbat_cli(dir, "DBAT_TOKEN_SECRET=another-secret-another-secret-another",
                  "token --role authenticated", &out);
    cr_assert_eq(rc, 0, "%s", out);
    out[strcspn(out, "\n")] = '\0';
    snprintf(h, sizeof(h), "Authorization: Bearer %s", out);
    dbat_expect(as(h, "GET", "/tables/todos", NULL, NULL), 401, NULL);
    free(out);
    /* bad arguments */
    rc = dbat_cli(dir, "DBAT_TOKEN_SECRET=" SECRET, "token --claims '{}'", &out);
    cr_expect_eq(rc, 2, "%s", out);
    free(out);
    conf_dir_rm(dir);
    /* only a public key: refused */
    conf_dir(dir, "profiles: { p: { url = \"postgresql://localhost/x\"; }; };\n"
                  "auth: { jwt_secret = \"{\\\"kty\\\":\\\"OKP\\\",\\\"crv\\\":\\\"Ed25519\\\","
                  "\\\"x\\\":\\\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\\\"}\"; };\n");
    rc = dbat_cli(dir, NULL, "token --role authenticated", &out);
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "HS256") != NULL, "%s", out);
    free(out);
    conf_dir_rm(dir);
}

Test(auth, token_without_role_claim_is_anonymous)
{
    char *t = bearer(NULL, "{\"sub\":\"carol\"}", 3600);
    struct dbat_resp *r = as(t, "GET", "/tables/whoami?select=role", NULL, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"role\":\"web_anon\"}]"), "%s", r->body);
    dbat_resp_free(r);
    /* the anon role may not write: 401, as for no token */
    dbat_expect(as(t, "POST", "/tables/todos", "{\"task\":\"c\"}", NULL), 401, NULL);
    free(t);
}

/* The one admin model with JWTs (issue 10): an operator route needs an admin credential; a JWT
   whose role is in admin_roles is one, another valid JWT is a caller that is not admin (403), no
   credential is 401 — also when admin_roles is the only admin credential configured. */
static void
operator_route_by_credential(void)
{
    char *admin = bearer("service_role", NULL, 3600);
    char *user = bearer("authenticated", "{\"sub\":\"alice\"}", 3600);
    static const char *const routes[] = { "/status", "/pool", "/profiles", "/schema" };

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        struct dbat_resp *r = as(admin, "GET", routes[i], NULL, NULL);
        cr_expect_eq(r->status, 200, "%s as admin JWT: %ld %s", routes[i], r->status, r->body);
        dbat_resp_free(r);
        r = as(user, "GET", routes[i], NULL, NULL);
        cr_expect_eq(r->status, 403, "%s as a non-admin JWT: %ld %s", routes[i], r->status,
                     r->body);
        /* "not an admin", not "no admin credential is configured" */
        cr_expect(strstr(r->body, "no admin credential is configured") == NULL, "%s: %s",
                  routes[i], r->body);
        dbat_resp_free(r);
        r = as(NULL, "GET", routes[i], NULL, NULL);
        cr_expect_eq(r->status, 401, "%s without credential: %ld %s", routes[i], r->status,
                     r->body);
        cr_expect_not_null(dbat_header(r, "WWW-Authenticate"), "%s", routes[i]);
        dbat_resp_free(r);
    }
    free(admin);
    free(user);
}

Test(auth, operator_routes_by_credential)
{
    operator_route_by_credential();
}

Test(auth_jwt_admin, admin_roles_alone_are_an_admin_credential)
{
    operator_route_by_credential();
}
