/* test_admin.c - one admin model for the operator routes: every operator route refuses a request
   without a credential (401 + WWW-Authenticate) or with a wrong one (401) and serves the admin
   token; with no admin credential configured they answer 403 naming how to configure one; the
   public routes stay public; admin.public_metrics; the admin listener (admin.port). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config/config.h"
#include "core/core.h"
#include "harness.h"
#include "http/http.h"

#define WRONG "Authorization: Bearer not-the-admin-token"

/* One request per operator route, with what it needs to succeed once the caller is admin. */
struct op_route {
    const char *method;
    const char *path;
    const char *content_type; /* or NULL */
    const char *body;         /* or NULL; "@backup" = a backup taken with GET /backup */
};

static const struct op_route op_routes[] = {
    { "GET", "/schema", NULL, NULL },
    { "POST", "/schema/validate", "Content-Type: application/sql",
      "CREATE TABLE admin_t (id int PRIMARY KEY);" },
    { "POST", "/schema/fix", "Content-Type: application/sql",
      "CREATE TABLE admin_t (id int PRIMARY KEY);" },
    { "POST", "/schema/reload", NULL, "" },
    { "GET", "/profiles", NULL, NULL },
    { "GET", "/status", NULL, NULL },
    { "GET", "/pool", NULL, NULL },
    { "GET", "/metrics", NULL, NULL },
    { "GET", "/backup?tables=items", NULL, NULL },
    { "POST", "/backup/validate", NULL, "@backup" },
    { "POST", "/restore?dry_run=true", NULL, "@backup" },
    { "POST", "/sync?from=src&tables=items", NULL, NULL },
};

/* The public routes: anyone may call them. */
static const char *const public_paths[] = { "/healthz", "/readyz", "/openapi.json", "/tables/",
                                            "/tables/items?id=eq.1" };

/* Runs sql on database db of the test cluster (a fresh connection). */
static void
sql_on(const char *db, const char *sql)
{
    char url[1024];
    const char *t = getenv("DBA_TEST_DATABASE_URL"); /* postgresql:///dba_test?host=... */
    const char *q = strchr(t, '?');

    cr_assert(q != NULL);
    snprintf(url, sizeof(url), "postgresql:///%s%s", db, q);
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* Profile "test" is the test database; "src" a second database with an empty items table, the
   source of a sync plan. */
static void
start_admin(void)
{
    char more[1024];
    const char *t = getenv("DBA_TEST_DATABASE_URL");

    sql_on("postgres", "DROP DATABASE IF EXISTS dba_admin_src WITH (FORCE)");
    sql_on("postgres", "CREATE DATABASE dba_admin_src");
    sql_on("dba_admin_src", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, "
                            "qty int, price numeric(12, 2), tags text[], meta jsonb, "
                            "created_at timestamptz NOT NULL DEFAULT now(), uid uuid, data bytea, "
                            "active boolean NOT NULL DEFAULT true)");
    snprintf(more, sizeof(more), "src: { url = \"postgresql:///dba_admin_src%s\"; };",
             strchr(t, '?'));
    dbat_server_start_db(t, more, NULL);
}

static void
stop_admin(void)
{
    dbat_server_stop();
    sql_on("postgres", "DROP DATABASE IF EXISTS dba_admin_src WITH (FORCE)");
}

static void
start_no_admin(void)
{
    dbat_without_admin_token();
    start_admin();
}

/* Sends route rt with extra (an Authorization header, or NULL) on port; backup is the body for
   "@backup". */
static struct dbat_resp *
send_op(int port, const struct op_route *rt, const char *extra, const char *backup)
{
    const char *h[3] = { NULL, NULL, NULL };
    size_t n = 0;

    if (rt->content_type != NULL)
        h[n++] = rt->content_type;
    if (extra != NULL)
        h[n++] = extra;
    const char *body = rt->body != NULL && strcmp(rt->body, "@backup") == 0 ? backup : rt->body;
    return dbat_req_at(port, rt->method, rt->path, h, body);
}

static char *
take_backup(void)
{
    struct dbat_resp *r = dbat_admin_get("/backup?tables=items");
    cr_assert_eq(r->status, 200, "%s", r->body);
    char *doc = strdup(r->body);
    dbat_resp_free(r);
    return doc;
}

TestSuite(admin, .init = start_admin, .fini = stop_admin, .timeout = 120);

Test(admin, every_operator_route_needs_the_admin_credential)
{
    char auth[256];
    char *backup = take_backup();

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", DBAT_ADMIN_TOKEN);
    for (size_t i = 0; i < DBA_ARRAY_LEN(op_routes); i++) {
        const struct op_route *rt = &op_routes[i];
        struct dbat_resp *r = send_op(dbat_port(), rt, NULL, backup);
        cr_expect_eq(r->status, 401, "%s %s without a credential: %s", rt->method, rt->path,
                     r->body);
        const char *www = dbat_header(r, "WWW-Authenticate");
        cr_expect(www != NULL && strncmp(www, "Bearer", 6) == 0, "%s: WWW-Authenticate %s",
                  rt->path, www ? www : "(none)");
        cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"DBA401\""), "%s", r->body);
        dbat_resp_free(r);
        r = send_op(dbat_port(), rt, WRONG, backup);
        cr_expect_eq(r->status, 401, "%s %s with a wrong token: %s", rt->method, rt->path,
                     r->body);
        cr_expect(dbat_header(r, "WWW-Authenticate") != NULL, "%s", rt->path);
        dbat_resp_free(r);
        r = send_op(dbat_port(), rt, "apikey: not-the-admin-token", backup);
        cr_expect_eq(r->status, 401, "%s %s with an apikey: %s", rt->method, rt->path, r->body);
        dbat_resp_free(r);
        r = send_op(dbat_port(), rt, auth, backup);
        cr_expect(r->status >= 200 && r->status < 300, "%s %s with the admin token: %ld %s",
                  rt->method, rt->path, r->status, r->body);
        dbat_resp_free(r);
    }
    free(backup);
}

/* The method is checked before the credential, as for every route: a wrong method is 405. */
Test(admin, a_wrong_method_is_405_before_the_credential)
{
    struct dbat_resp *r = dbat_req("DELETE", "/status", NULL, NULL);
    cr_expect_eq(r->status, 405, "%s", r->body);
    dbat_resp_free(r);
}

Test(admin, public_routes_stay_public)
{
    for (size_t i = 0; i < DBA_ARRAY_LEN(public_paths); i++) {
        struct dbat_resp *r = dbat_get(public_paths[i]);
        cr_expect_eq(r->status, 200, "%s: %s", public_paths[i], r->body);
        dbat_resp_free(r);
        const char *wrong[] = { WRONG, NULL };
        r = dbat_req("GET", public_paths[i], wrong, NULL);
        cr_expect_neq(r->status, 401, "%s with a wrong admin token: %s", public_paths[i],
                      r->body);
        dbat_resp_free(r);
    }
}

/* A refused operator request runs nothing: no reload, no restore, no sync. */
Test(admin, a_refused_restore_writes_nothing)
{
    char *backup = take_backup();
    char *before = dbat_sql("SELECT count(*) FROM items");
    free(dbat_sql("DELETE FROM items WHERE id = 5"));
    struct dbat_resp *r = dbat_req("POST", "/restore?mode=skip", NULL, backup);
    cr_expect_eq(r->status, 401, "%s", r->body);
    dbat_resp_free(r);
    char *after = dbat_sql("SELECT count(*) FROM items");
    cr_expect_neq(strcmp(before, after), 0, "the deleted row was not restored");
    free(before);
    free(after);
    free(backup);
    dbat_reset();
}

TestSuite(admin_unconfigured, .init = start_no_admin, .fini = stop_admin, .timeout = 60);

Test(admin_unconfigured, operator_routes_are_403_naming_how_to_configure)
{
    const char *h[] = { WRONG, NULL };

    cr_assert_null(dbat_config()->admin_token);
    for (size_t i = 0; i < DBA_ARRAY_LEN(op_routes); i++) {
        const struct op_route *rt = &op_routes[i];
        for (int with = 0; with < 2; with++) {
            struct dbat_resp *r = send_op(dbat_port(), rt, with ? h[0] : NULL, "{}");
            cr_expect_eq(r->status, 403, "%s %s: %s", rt->method, rt->path, r->body);
            cr_expect(strstr(r->body, "DB_ADAPTER_ADMIN_TOKEN") != NULL, "%s", r->body);
            cr_expect(strstr(r->body, "admin.token_env") != NULL, "%s", r->body);
            dbat_resp_free(r);
        }
    }
    for (size_t i = 0; i < DBA_ARRAY_LEN(public_paths); i++) {
        struct dbat_resp *r = dbat_get(public_paths[i]);
        cr_expect_eq(r->status, 200, "%s: %s", public_paths[i], r->body);
        dbat_resp_free(r);
    }
}

static void
start_public_metrics(void)
{
    dbat_server_start_conf(NULL, NULL, NULL, "admin: { public_metrics = true; };");
}

Test(admin, public_metrics_opens_metrics_only, .init = start_public_metrics)
{
    struct dbat_resp *r = dbat_get("/metrics");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(r->body, "dba_http_requests_total") != NULL);
    dbat_resp_free(r);
    r = dbat_get("/pool");
    cr_expect_eq(r->status, 401, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/status");
    cr_expect_eq(r->status, 401, "%s", r->body);
    dbat_resp_free(r);
}

/* ---- the admin listener ---- */

static void
start_listener(void)
{
    dbat_server_start_conf(NULL, NULL, NULL, "admin: { listen = \"127.0.0.1\"; port = 0; };");
}

TestSuite(admin_listener, .init = start_listener, .fini = dbat_server_stop, .timeout = 60);

static long
status_at(int port, const char *method, const char *path, const char *const *h)
{
    struct dbat_resp *r = dbat_req_at(port, method, path, h, method[0] == 'P' ? "" : NULL);
    long st = r->status;
    dbat_resp_free(r);
    return st;
}

Test(admin_listener, operator_routes_move_to_the_admin_port)
{
    char auth[256];
    const char *h[] = { auth, NULL };
    int pub = dbat_port(), adm = dbat_admin_port();

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", DBAT_ADMIN_TOKEN);
    cr_assert_gt(adm, 0);
    cr_assert_neq(adm, pub);
    static const char *const moved[] = { "/status", "/pool", "/profiles", "/schema" };
    for (size_t i = 0; i < DBA_ARRAY_LEN(moved); i++) {
        cr_expect_eq(status_at(adm, "GET", moved[i], h), 200, "%s on the admin port", moved[i]);
        cr_expect_eq(status_at(adm, "GET", moved[i], NULL), 401, "%s: the credential is still "
                     "required on the admin port", moved[i]);
        cr_expect_eq(status_at(pub, "GET", moved[i], h), 404, "%s on the public port", moved[i]);
        cr_expect_eq(status_at(pub, "GET", moved[i], NULL), 404, "%s on the public port",
                     moved[i]);
    }
    cr_expect_eq(status_at(adm, "POST", "/schema/reload", h), 202);
    cr_expect_eq(status_at(pub, "POST", "/schema/reload", h), 404);
    cr_expect_eq(status_at(pub, "POST", "/restore", h), 404);
}

Test(admin_listener, health_ready_and_metrics_are_on_both)
{
    char auth[256];
    const char *h[] = { auth, NULL };
    int ports[] = { dbat_port(), dbat_admin_port() };

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", DBAT_ADMIN_TOKEN);
    for (size_t i = 0; i < DBA_ARRAY_LEN(ports); i++) {
        cr_expect_eq(status_at(ports[i], "GET", "/healthz", NULL), 200);
        cr_expect_eq(status_at(ports[i], "GET", "/readyz", NULL), 200);
        cr_expect_eq(status_at(ports[i], "GET", "/metrics", h), 200);
        cr_expect_eq(status_at(ports[i], "GET", "/metrics", NULL), 401);
    }
}

Test(admin_listener, the_api_stays_on_the_public_port)
{
    int pub = dbat_port(), adm = dbat_admin_port();

    cr_expect_eq(status_at(pub, "GET", "/tables/items?id=eq.1", NULL), 200);
    cr_expect_eq(status_at(pub, "GET", "/openapi.json", NULL), 200);
    struct dbat_resp *r = dbat_req_at(adm, "GET", "/tables/items?id=eq.1", NULL, NULL);
    cr_expect_eq(r->status, 404, "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"DBA404\""), "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(status_at(adm, "GET", "/openapi.json", NULL), 404);
}

/* The admin port is claimed like the public one: a port another socket holds fails the start
   with "port N is in use" naming admin.port. */
Test(admin_listener_port, a_used_admin_port_fails_the_start)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char dir[] = "/tmp/dbat-admin-XXXXXX", path[128];
    struct dba_config *cfg;
    const struct dba_profile *p;
    struct dba_err err;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 1) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "server: { listen = \"127.0.0.1\"; port = 0; workers = 1; };\n"
               "admin: { port = %d; };\nprofiles: { test: { url = \"%s\"; }; };\n",
            ntohs(sa.sin_port), getenv("DBA_TEST_DATABASE_URL"));
    fclose(f);
    dba_mem_init();
    cr_assert_eq(dba_config_load(path, true, NULL, &cfg, &err), DBA_OK, "%s", err.msg);
    cr_assert_eq(dba_config_active_profile(cfg, NULL, &p, NULL, &err), DBA_OK, "%s", err.msg);
    struct dba_http_opts o = { .port = 0, .listen = NULL, .workers = 0 };
    struct dba_http_server *s = dba_http_server_start(cfg, p, "test", &o, &err);
    cr_expect_null(s);
    cr_expect(strstr(err.msg, "is in use") != NULL, "%s", err.msg);
    cr_expect(strstr(err.hint, "admin.port") != NULL, "%s", err.hint);
    if (s != NULL)
        dba_http_server_stop(s);
    dba_config_free(cfg);
    unlink(path);
    rmdir(dir);
    close(fd);
}
