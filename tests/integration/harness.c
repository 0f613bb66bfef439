/* harness.c - see harness.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "config/config.h"
#include "core/core.h"
#include "harness.h"
#include "http/http.h"

static struct dba_config *cfg;
static struct dba_http_server *srv;
static char tmpdir[64];

static const char *
test_url(void)
{
    const char *u = getenv("DBA_TEST_DATABASE_URL");

    cr_assert(u != NULL, "DBA_TEST_DATABASE_URL is not set (run through ctest)");
    return u;
}

static bool no_admin_token;        /* the next start configures no admin token */
static const char *url_override;    /* profile "test"'s URL, or NULL for the test database */
static const char *profiles_extra;  /* more profiles inside the profiles group, or NULL */

void
dbat_server_start_db(const char *url, const char *more_profiles, const char *top_extra)
{
    url_override = url;
    profiles_extra = more_profiles;
    dbat_server_start_conf(NULL, NULL, "\"public\"", top_extra);
    url_override = NULL;
    profiles_extra = NULL;
}

void
dbat_server_start_full(const char *url, const char *server_extra, const char *profile_extra,
                       const char *schemas, const char *top_extra)
{
    url_override = url;
    dbat_server_start_conf(server_extra, profile_extra, schemas, top_extra);
    url_override = NULL;
}

void
dbat_server_start_url(const char *url, const char *server_extra, const char *profile_extra)
{
    url_override = url;
    dbat_server_start_conf(server_extra, profile_extra, "\"public\"", NULL);
    url_override = NULL;
}

void
dbat_server_start_conf(const char *server_extra, const char *profile_extra, const char *schemas,
                       const char *top_extra)
{
    char path[128];
    struct dba_err err;
    const struct dba_profile *p;

    dba_mem_init();
    dba_log_set_level(DBA_LOG_ERROR);
    dbat_reset();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dbat-XXXXXX");
    cr_assert(mkdtemp(tmpdir) != NULL);
    snprintf(path, sizeof(path), "%s/db-adapter.conf", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    bool own_workers = server_extra != NULL && strstr(server_extra, "workers") != NULL;
    /* No access lines on the test runner's stdout unless the test asks for an access log. */
    bool own_access_log = server_extra != NULL && strstr(server_extra, "access_log") != NULL;
    fprintf(f, "server: { listen = \"127.0.0.1\"; port = 0; %s%s %s };\n"
               "default_profile = \"test\";\n"
               "profiles: { test: { url = \"%s\"; schemas = [ %s ]; "
               "%s %s }; %s };\n%s\n",
            own_workers ? "" : "workers = 2;", own_access_log ? "" : " access_log = \"off\";",
            server_extra ? server_extra : "",
            url_override ? url_override : test_url(), schemas ? schemas : "\"public\", \"other\"",
            profile_extra != NULL && strstr(profile_extra, "pool_size") ? "" : "pool_size = 4;",
            profile_extra ? profile_extra : "", profiles_extra ? profiles_extra : "",
            top_extra ? top_extra : "");
    fclose(f);
    /* Operator routes need an admin credential: configure the harness's token unless the test
       chose one (or none) itself. Set for the load only, so that CLI runs do not inherit it. */
    bool set_token = !no_admin_token && getenv("DB_ADAPTER_ADMIN_TOKEN") == NULL;
    bool unset_token = no_admin_token && getenv("DB_ADAPTER_ADMIN_TOKEN") != NULL;
    char *saved = unset_token ? strdup(getenv("DB_ADAPTER_ADMIN_TOKEN")) : NULL;
    if (set_token)
        setenv("DB_ADAPTER_ADMIN_TOKEN", DBAT_ADMIN_TOKEN, 1);
    if (unset_token)
        unsetenv("DB_ADAPTER_ADMIN_TOKEN");
    no_admin_token = false;
    int rc = dba_config_load(path, true, NULL, &cfg, &err);
    if (set_token)
        unsetenv("DB_ADAPTER_ADMIN_TOKEN");
    if (saved != NULL)
        setenv("DB_ADAPTER_ADMIN_TOKEN", saved, 1);
    free(saved);
    cr_assert_eq(rc, DBA_OK, "%s", err.msg);
    cr_assert_eq(dba_config_active_profile(cfg, NULL, &p, NULL, &err), DBA_OK, "%s", err.msg);
    struct dba_http_opts o = { .port = 0, .listen = NULL, .workers = 0 };
    srv = dba_http_server_start(cfg, p, "test", &o, &err);
    cr_assert(srv != NULL, "%s", err.msg);
    cr_assert(dba_http_server_wait_ready(srv, 10000), "schema cache did not load");
    curl_global_init(CURL_GLOBAL_ALL);
}

void
dbat_without_admin_token(void)
{
    no_admin_token = true;
}

void
dbat_server_start_with(const char *server_extra, const char *profile_extra)
{
    dbat_server_start_conf(server_extra, profile_extra, NULL, NULL);
}

void
dbat_server_start(void)
{
    dbat_server_start_with(NULL, NULL);
}

void
dbat_server_stop(void)
{
    char path[128];

    dba_http_server_stop(srv);
    srv = NULL;
    dba_config_free(cfg);
    cfg = NULL;
    snprintf(path, sizeof(path), "%s/db-adapter.conf", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    curl_global_cleanup();
    cr_expect_eq(dba_arena_live(), 0, "request arenas leaked: %ld", dba_arena_live());
}

const struct dba_config *
dbat_config(void)
{
    return cfg;
}

int
dbat_port(void)
{
    return dba_http_server_port(srv);
}

int
dbat_admin_port(void)
{
    return dba_http_server_admin_port(srv);
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    dba_buf_append(arg, p, size * n);
    return size * n;
}

struct dbat_resp *
dbat_req(const char *method, const char *path, const char *const *headers, const char *body)
{
    return dbat_req_at(dbat_port(), method, path, headers, body);
}

struct dbat_resp *
dbat_admin_req(const char *method, const char *path, const char *const *headers, const char *body)
{
    const char *h[32];
    char auth[512];
    size_t n = 0;

    for (; headers != NULL && headers[n] != NULL; n++) {
        cr_assert_lt(n, DBA_ARRAY_LEN(h) - 2);
        h[n] = headers[n];
    }
    if (cfg->admin_token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->admin_token);
        h[n++] = auth;
    }
    h[n] = NULL;
    return dbat_req(method, path, h, body);
}

struct dbat_resp *
dbat_req_at(int port, const char *method, const char *path, const char *const *headers,
            const char *body)
{
    struct dbat_resp *r = calloc(1, sizeof(*r));
    struct dba_buf hb, bb;
    char url[2048];
    struct curl_slist *hl = NULL;
    CURL *c = curl_easy_init();

    dba_buf_init(&hb);
    dba_buf_init(&bb);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bb);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r->headers = dba_buf_take(&hb);
    r->body_len = bb.len;
    r->body = dba_buf_take(&bb);
    r->json = json_loads(r->body, JSON_DECODE_ANY, NULL);
    return r;
}

const char *
dbat_header(const struct dbat_resp *r, const char *name)
{
    static char value[1024];
    size_t n = strlen(name);

    for (const char *line = r->headers; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(value, sizeof(value), "%.*s", (int)len, v);
            return value;
        }
    }
    return NULL;
}

void
dbat_resp_free(struct dbat_resp *r)
{
    if (r == NULL)
        return;
    json_decref(r->json);
    free(r->headers);
    free(r->body);
    free(r);
}

int
dbat_cli(const char *dir, const char *env, const char *args, char **out)
{
    const char *bin = getenv("DBA_TEST_BIN");
    struct dba_buf b;
    char chunk[4096];
    size_t n;

    cr_assert(bin != NULL, "DBA_TEST_BIN is not set");
    dba_buf_init(&b);
    dba_buf_printf(&b, "cd %s && env -u DATABASE_URL -u DB_PROFILE %s %s %s </dev/null 2>&1", dir,
                   env ? env : "", bin, args);
    FILE *p = popen(b.data, "r");
    cr_assert(p != NULL);
    dba_buf_reset(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        dba_buf_append(&b, chunk, n);
    int st = pclose(p);
    *out = dba_buf_take(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *
dbat_sql(const char *sql)
{
    PGconn *c = PQconnectdb(test_url());
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    char *out = NULL;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return out;
}

void
dbat_reset(void)
{
    static const char *const tables[] = { "items", "people", "parents", "children" };
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_puts(&b, "DO $$ BEGIN IF to_regnamespace('dbat_snap') IS NULL THEN "
                     "CREATE SCHEMA dbat_snap;");
    for (size_t i = 0; i < DBA_ARRAY_LEN(tables); i++)
        dba_buf_printf(&b, "CREATE TABLE dbat_snap.%s AS SELECT * FROM public.%s;", tables[i],
                       tables[i]);
    dba_buf_puts(&b, "END IF; END $$;"
                     "TRUNCATE items, people, parents, children RESTART IDENTITY CASCADE;");
    for (size_t i = 0; i < DBA_ARRAY_LEN(tables); i++)
        dba_buf_printf(&b, "INSERT INTO public.%s OVERRIDING SYSTEM VALUE "
                           "SELECT * FROM dbat_snap.%s;", tables[i], tables[i]);
    dba_buf_puts(&b, "SELECT setval('items_id_seq', 5); SELECT setval('parents_id_seq', 3);"
                     "SELECT setval('children_id_seq', 3);"
                     "ALTER TABLE people ALTER COLUMN id RESTART WITH 5;");
    free(dbat_sql(b.data));
    dba_buf_cleanup(&b);
}

bool
dbat_json_eq(const json_t *a, const char *b)
{
    json_error_t e;
    json_t *jb = json_loads(b, JSON_DECODE_ANY, &e);

    cr_assert(jb != NULL, "bad expected JSON: %s", b);
    bool eq = a != NULL && json_equal(a, jb);
    if (!eq) {
        char *s = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        cr_log_error("got %s, expected %s", s ? s : "(not JSON)", b);
        free(s);
    }
    json_decref(jb);
    return eq;
}

void
dbat_fixture(const char *name)
{
    const char *src = getenv("DBA_TEST_SOURCE_DIR");
    char path[512];
    size_t len;

    cr_assert(src != NULL);
    snprintf(path, sizeof(path), "%s/tests/fixtures/%s", src, name);
    char *text = dba_file_read(path, &len);
    cr_assert_not_null(text, "%s", path);
    free(dbat_sql(text));
    free(text);
}

void
dbat_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

const char *
dbat_pg_sock(void)
{
    static char s[512];

    snprintf(s, sizeof(s), "%s/sock", getenv("DBA_TEST_PG_DIR"));
    return s;
}

char *
dbat_psql(const char *db, const char *sql)
{
    char cmd[4096], chunk[4096];
    struct dba_buf b;
    size_t n;

    snprintf(cmd, sizeof(cmd), "psql -X -q -t -A -h %s -U postgres -d %s -c \"%s\"",
             dbat_pg_sock(), db, sql);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        dba_buf_append(&b, chunk, n);
    pclose(p);
    char *s = dba_buf_take(&b);
    s[strcspn(s, "\n")] = '\0';
    return s;
}

void
dbat_backup_db(const char *db, bool seed)
{
    const char *src = getenv("DBA_TEST_SOURCE_DIR");

    dbat_sh("psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE IF EXISTS %s WITH (FORCE)' "
            "-c 'CREATE DATABASE %s' >/dev/null 2>&1", dbat_pg_sock(), db, db);
    dbat_sh("psql -X -q -v ON_ERROR_STOP=1 -h %s -U postgres -d %s "
            "-f %s/tests/fixtures/backup.sql >/dev/null", dbat_pg_sock(), db, src);
    if (seed)
        dbat_sh("psql -X -q -v ON_ERROR_STOP=1 -h %s -U postgres -d %s "
                "-f %s/tests/fixtures/backup_seed.sql >/dev/null", dbat_pg_sock(), db, src);
}

struct dbat_resp *
dbat_req_json(const char *method, const char *path, const char *body, const char *h1,
              const char *h2)
{
    const char *h[4] = { 0 };
    int n = 0;

    if (body != NULL)
        h[n++] = "Content-Type: application/json";
    if (h1 != NULL)
        h[n++] = h1;
    if (h2 != NULL)
        h[n++] = h2;
    return dbat_req(method, path, h, body);
}

void
dbat_expect(struct dbat_resp *r, long status, const char *json)
{
    cr_expect_eq(r->status, status, "status %ld: %s", r->status, r->body);
    if (json != NULL)
        cr_expect(dbat_json_eq(r->json, json), "got %s, want %s", r->body, json);
    dbat_resp_free(r);
}
