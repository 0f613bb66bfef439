/* test_service.c - the gateway as an operator runs it: configured only by DBA_* or only by
   PGRST_* variables, `db-adapter config`, /metrics checked by promtool after traffic, the access
   log in each format, and a SIGHUP reload. Each server is a real process with a clean
   environment. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <jansson.h>

#include "auth/auth.h"
#include "core/core.h"

static char dir[64];
static pid_t child = -1;

static void
svc_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dbat-svc-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    curl_global_init(CURL_GLOBAL_ALL);
}

static void
svc_teardown(void)
{
    if (child > 0) {
        kill(child, SIGTERM);
        waitpid(child, NULL, 0);
        child = -1;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    curl_global_cleanup();
}

TestSuite(service, .init = svc_setup, .fini = svc_teardown);

static int
free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* Runs the binary in dir with only the variables env (NULL-terminated "K=V" list); stdout and
   stderr go to dir/out and dir/err. wait: wait for the exit and return its status, else return
   the pid (kept in child). */
static int
spawn(char *const *env, char *const *args, bool wait)
{
    const char *bin = getenv("DBA_TEST_BIN");
    cr_assert(bin != NULL, "DBA_TEST_BIN is not set");
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char path[128];
        if (chdir(dir) != 0)
            _exit(127);
        clearenv();
        for (size_t i = 0; env[i] != NULL; i++)
            putenv(env[i]);
        snprintf(path, sizeof(path), "%s/out", dir);
        if (freopen(path, "w", stdout) == NULL)
            _exit(127);
        snprintf(path, sizeof(path), "%s/err", dir);
        if (freopen(path, "w", stderr) == NULL)
            _exit(127);
        char *argv[16] = { dba_xstrdup(bin) };
        for (size_t i = 0; args[i] != NULL && i < 14; i++)
            argv[i + 1] = args[i];
        execv(bin, argv);
        _exit(127);
    }
    if (!wait) {
        child = pid;
        return pid;
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t
collect(char *p, size_t sz, size_t n, void *ud)
{
    dba_buf_append(ud, p, sz * n);
    return sz * n;
}

static size_t
collect_discard(char *p, size_t sz, size_t n, void *ud)
{
    DBA_UNUSED(p);
    DBA_UNUSED(ud);
    return sz * n;
}

/* GET http://127.0.0.1:port path; returns the status (0 = no answer), the body into *body
   (caller frees) when body is non-NULL. */
static long
get(int port, const char *path, char **body)
{
    char url[512];
    struct dba_buf b;
    long code = 0;
    CURL *h = curl_easy_init();

    dba_buf_init(&b);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    if (body != NULL)
        *body = b.data != NULL ? dba_buf_take(&b) : dba_xstrdup("");
    dba_buf_cleanup(&b);
    return code;
}

static void
wait_ready(int port)
{
    for (int i = 0; i < 300; i++) {
        if (get(port, "/readyz", NULL) == 200)
            return;
        usleep(50 * 1000);
    }
    cr_assert_fail("server on port %d never became ready", port);
}

static char *
slurp(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    struct dba_buf b;
    char chunk[4096];
    size_t n;

    dba_buf_init(&b);
    dba_buf_puts(&b, "");
    if (f == NULL)
        return dba_buf_take(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dba_buf_append(&b, chunk, n);
    fclose(f);
    return dba_buf_take(&b);
}

/* Waits until dir/name contains needle. */
static bool
wait_for(const char *name, const char *needle)
{
    for (int i = 0; i < 200; i++) {
        char *t = slurp(name);
        bool hit = strstr(t, needle) != NULL;
        free(t);
        if (hit)
            return true;
        usleep(50 * 1000);
    }
    return false;
}

static char *
envvar(const char *k, const char *v)
{
    char *s = dba_xmalloc(strlen(k) + strlen(v) + 2);
    sprintf(s, "%s=%s", k, v);
    return s;
}

static char *
envint(const char *k, int v)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", v);
    return envvar(k, n);
}

static void
free_env(char **env)
{
    for (size_t i = 0; env[i] != NULL; i++)
        free(env[i]);
}

static char serve_word[] = "serve";
static char *const serve_args[] = { serve_word, NULL };

Test(service, dba_variables_only_json_access_log_and_promtool)
{
    int port = free_port();
    char *env[] = {
        envvar("DBA_SERVER_LISTEN", "127.0.0.1"), envint("DBA_SERVER_PORT", port),
        envvar("DBA_SERVER_WORKERS", "2"), envvar("DBA_SERVER_ACCESS_LOG", "json"),
        envvar("DBA_SERVER_TRACE_HEADER", "X-Request-Id"),
        envvar("DBA_ADMIN_PUBLIC_METRICS", "true"),
        envvar("DBA_PROFILE_MAIN_URL", getenv("DBA_TEST_DATABASE_URL")),
        envvar("DBA_PROFILE_MAIN_POOL_SIZE", "2"), NULL,
    };
    spawn(env, serve_args, false);
    wait_ready(port);
    cr_expect_eq(get(port, "/tables/items?limit=1", NULL), 200);
    cr_expect_eq(get(port, "/tables/nope", NULL), 404);
    char *m1 = NULL, *m2 = NULL;
    cr_assert_eq(get(port, "/metrics", &m1), 200);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(get(port, "/tables/items?limit=1", NULL), 200);
    cr_assert_eq(get(port, "/metrics", &m2), 200);

    /* promtool on the text after traffic. */
    char path[128], cmd[256];
    snprintf(path, sizeof(path), "%s/metrics.txt", dir);
    FILE *f = fopen(path, "w");
    fputs(m2, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s/promtool.out 2>&1", path, dir);
    int rc = system(cmd);
    char *po = slurp("promtool.out");
    cr_expect_eq(rc, 0, "promtool: %s", po);
    free(po);
    cr_expect(strstr(m2, "dba_http_requests_total{route=\"table\",method=\"GET\",status=\"404\"} 1")
              != NULL);
    cr_expect(strstr(m2, "# TYPE dba_http_request_duration_seconds histogram") != NULL);
    cr_expect(strstr(m2, "pgrst_db_pool_max 2") != NULL, "%s", m2);
    /* The histogram moved: +Inf bucket of table routes went from 2 to 7. */
    cr_expect(strstr(m1, "dba_http_request_duration_seconds_bucket{route=\"table\",le=\"+Inf\"} 2\n")
              != NULL);
    cr_expect(strstr(m2, "dba_http_request_duration_seconds_bucket{route=\"table\",le=\"+Inf\"} 7\n")
              != NULL);
    cr_expect(strstr(m2, "dba_http_request_db_seconds_count{route=\"table\"} 6") != NULL);
    free(m1);
    free(m2);

    /* A JSON access line per request, with the trace header's value as the request id. */
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "X-Request-Id: trace-42");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/tables/items?id=eq.1", port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    struct dba_buf sink;
    dba_buf_init(&sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    cr_expect_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    curl_slist_free_all(hd);
    dba_buf_cleanup(&sink);
    cr_assert(wait_for("out", "trace-42"));
    char *out = slurp("out");
    char *line = strstr(out, "{\"time\"");
    bool found = false;
    while (line != NULL) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_t *o = json_loads(line, 0, NULL);
        cr_expect_not_null(o, "not JSON: %s", line);
        if (o != NULL && strcmp(json_string_value(json_object_get(o, "request_id")), "trace-42")
                             == 0) {
            found = true;
            cr_expect_str_eq(json_string_value(json_object_get(o, "method")), "GET");
            cr_expect_str_eq(json_string_value(json_object_get(o, "path")), "/tables/items");
            cr_expect_str_eq(json_string_value(json_object_get(o, "query")), "id=eq.1");
            cr_expect_eq(json_integer_value(json_object_get(o, "status")), 200);
            cr_expect(json_integer_value(json_object_get(o, "bytes")) > 0);
            cr_expect(json_is_real(json_object_get(o, "duration_ms")));
            cr_expect_str_eq(json_string_value(json_object_get(o, "profile")), "main");
            cr_expect_not_null(json_object_get(o, "time"));
        }
        json_decref(o);
        line = nl ? strstr(nl + 1, "{\"time\"") : NULL;
    }
    cr_expect(found);
    free(out);
    free_env(env);
}

Test(service, pgrst_variables_only_serve_at_root_with_common_log)
{
    int port = free_port();
    char *env[] = {
        envvar("PGRST_DB_URI", getenv("DBA_TEST_DATABASE_URL")), envint("PGRST_SERVER_PORT", port),
        envvar("PGRST_SERVER_HOST", "127.0.0.1"), envvar("PGRST_DB_SCHEMAS", "public"),
        envvar("PGRST_DB_MAX_ROWS", "2"), envvar("PGRST_DB_POOL", "2"), NULL,
    };
    spawn(env, serve_args, false);
    wait_ready(port);
    char *body = NULL;
    cr_expect_eq(get(port, "/items", &body), 200); /* at the root, as PostgREST */
    json_t *rows = json_loads(body, 0, NULL);
    cr_expect(json_is_array(rows));
    cr_expect_leq(json_array_size(rows), 2); /* PGRST_DB_MAX_ROWS */
    json_decref(rows);
    free(body);
    cr_expect_eq(get(port, "/tables/items", NULL), 404);
    /* Common Log Format line. */
    cr_assert(wait_for("out", "\"GET /items\" 200 "));
    char *out = slurp("out");
    char *l = strstr(out, "\"GET /items\" 200 ");
    while (l > out && l[-1] != '\n')
        l--;
    cr_expect(strncmp(l, "- - - [", 7) == 0, "%s", l);
    cr_expect(strstr(l, " rid=") != NULL && strstr(l, " profile=default") != NULL, "%s", l);
    free(out);
    free_env(env);
}

Test(service, config_command_sources_and_masking)
{
    char *env[] = {
        envvar("DATABASE_URL", "postgresql://app:s3cret@db.example:5432/app"),
        envvar("DBA_SERVER_PORT", "9001"), envvar("PGRST_SERVER_PORT", "9002"),
        envvar("PGRST_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        envvar("DBA_SERVER_MAX_ROWS", "10"), NULL,
    };
    char a0[] = "config", a1[] = "--json", a2[] = "--set", a3[] = "server.max_rows=11";
    char *args[] = { a0, a1, a2, a3, NULL };
    cr_assert_eq(spawn(env, args, true), 0);
    char *out = slurp("out");
    json_t *o = json_loads(out, 0, NULL);
    cr_assert_not_null(o, "%s", out);
    cr_expect(strstr(out, "s3cret") == NULL);
    cr_expect(strstr(out, "0123456789abcdef") == NULL);
    size_t i;
    json_t *e;
    int seen = 0;
    json_array_foreach(json_object_get(o, "keys"), i, e)
    {
        const char *k = json_string_value(json_object_get(e, "key"));
        const char *src = json_string_value(json_object_get(e, "source"));
        json_t *v = json_object_get(e, "value");
        if (strcmp(k, "server.port") == 0) {
            cr_expect_eq(json_integer_value(v), 9001);
            cr_expect_str_eq(src, "DBA_SERVER_PORT");
            seen++;
        } else if (strcmp(k, "server.max_rows") == 0) {
            cr_expect_eq(json_integer_value(v), 11);
            cr_expect_str_eq(src, "--set");
            seen++;
        } else if (strcmp(k, "auth.jwt_secret") == 0) {
            cr_expect_str_eq(json_string_value(v), "****");
            cr_expect_str_eq(src, "PGRST_JWT_SECRET");
            seen++;
        } else if (strcmp(k, "server.queue_limit") == 0) {
            cr_expect_str_eq(src, "default");
            seen++;
        } else if (strcmp(k, "profiles.default.url") == 0) {
            cr_expect_str_eq(json_string_value(v), "postgresql://app:****@db.example:5432/app");
            cr_expect_str_eq(src, "DATABASE_URL");
            seen++;
        }
    }
    cr_expect_eq(seen, 5);
    json_decref(o);
    free(out);
    /* A bad value names the variable, exit 2. */
    char *bad[] = { envvar("DBA_SERVER_WORKERS", "many"), NULL };
    char *cargs[] = { a0, NULL };
    cr_expect_eq(spawn(bad, cargs, true), 2);
    char *err = slurp("err");
    cr_expect(strstr(err, "DBA_SERVER_WORKERS: expected an integer") != NULL, "%s", err);
    free(err);
    free_env(bad);
    free_env(env);
}

Test(service, sighup_reloads_and_reports)
{
    int port = free_port();
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "server: { listen = \"127.0.0.1\"; port = %d; workers = 1; access_log = \"common\"; };\n"
               "profiles: { test: { url = \"%s\"; pool_size = 2; }; };\n",
            port, getenv("DBA_TEST_DATABASE_URL"));
    fclose(f);
    char *env[] = { envvar("DBA_SERVER_LOG_LEVEL", "info"), NULL };
    pid_t pid = spawn(env, serve_args, false);
    wait_ready(port);
    cr_expect_eq(get(port, "/tables/items?limit=3", NULL), 200);
    cr_assert(wait_for("out", "limit=3"));
    f = fopen(path, "w");
    fprintf(f, "server: { listen = \"127.0.0.1\"; port = %d; workers = 1; access_log = \"off\"; "
               "max_rows = 1; };\n"
               "profiles: { test: { url = \"%s\"; pool_size = 2; }; };\n",
            port + 1 == 65536 ? port - 1 : port + 1, getenv("DBA_TEST_DATABASE_URL"));
    fclose(f);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_expect(wait_for("err", "reload: server.access_log changed (applied)"));
    cr_expect(wait_for("err", "reload: server.port changed; needs a restart"));
    cr_expect(wait_for("err", "reload: server.max_rows changed; needs a restart"));
    /* Still serving on the old port; the access log is off now. */
    cr_expect_eq(get(port, "/tables/items?limit=4", NULL), 200);
    usleep(200 * 1000);
    char *out = slurp("out");
    cr_expect(strstr(out, "limit=4") == NULL, "%s", out);
    free(out);
    /* A bad file keeps the running configuration. */
    f = fopen(path, "w");
    fputs("server: { port = \"x\"; };\n", f);
    fclose(f);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_expect(wait_for("err", "keeping the running configuration"));
    cr_expect_eq(get(port, "/healthz", NULL), 200);
    free_env(env);
}

/* GET with extra request headers (NULL-terminated); the response headers into *hdrs (caller
   frees). Each call is a new connection, so the kernel spreads them over the workers. */
static long
get_hdrs(int port, const char *path, const char *const *extra, char **hdrs)
{
    char url[512];
    struct dba_buf b, h;
    long code = 0;
    CURL *c = curl_easy_init();
    struct curl_slist *l = NULL;

    dba_buf_init(&b);
    dba_buf_init(&h);
    dba_buf_puts(&h, "");
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        l = curl_slist_append(l, extra[i]);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(l);
    dba_buf_cleanup(&b);
    if (hdrs != NULL)
        *hdrs = dba_buf_take(&h);
    dba_buf_cleanup(&h);
    return code;
}

#define RELOAD_SECRET_A "reload-secret-a-0123456789abcdefghijklmnopqrstuvwxyz"
#define RELOAD_SECRET_B "reload-secret-b-0123456789abcdefghijklmnopqrstuvwxyz"

/* "Authorization: Bearer <HS256 token for role postgres signed with secret>". Heap. */
static char *
bearer_with(const char *secret)
{
    char *sec = dba_xstrdup(secret);
    struct dba_config_auth c = { .present = true, .jwt_secret = sec };
    struct dba_auth *a = NULL;
    struct dba_err err;
    char *tok = NULL, *h = NULL;

    cr_assert_eq(dba_auth_new(&c, &a, &err), DBA_OK, "%s", err.msg);
    cr_assert_eq(dba_auth_mint(a, "postgres", NULL, (int64_t)time(NULL), 600, &tok, &err), DBA_OK,
                 "%s", err.msg);
    dba_auth_free(a);
    free(sec);
    cr_assert(asprintf(&h, "Authorization: Bearer %s", tok) > 0);
    free(tok);
    return h;
}

static void
write_reload_conf(const char *path, int port, const char *origin, const char *secret, int pool,
                  const char *auth_extra)
{
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "server: { listen = \"127.0.0.1\"; port = %d; workers = 2; access_log = \"off\"; "
               "cors_allowed_origins = [ \"%s\" ]; };\n"
               "auth: { jwt_secret = \"%s\"; %s };\n"
               "profiles: { test: { url = \"%s\"; pool_size = %d; }; };\n",
            port, origin, secret, auth_extra, getenv("DBA_TEST_DATABASE_URL"), pool);
    fclose(f);
}

/* Several requests (new connections, so both workers answer some): each must get status want,
   and, with want_acao, Access-Control-Allow-Origin: want_acao, else none. */
static void
expect_answers(int port, const char *auth, const char *origin, long want, const char *want_acao)
{
    char o[128];
    snprintf(o, sizeof(o), "Origin: %s", origin);
    const char *h[] = { auth, o, NULL };
    for (int i = 0; i < 8; i++) {
        char *hdrs = NULL;
        cr_expect_eq(get_hdrs(port, "/tables/items?limit=1", h, &hdrs), want, "%s %s", auth, origin);
        char *acao = strcasestr(hdrs, "Access-Control-Allow-Origin:");
        if (want_acao == NULL) {
            cr_expect(acao == NULL, "%s", hdrs);
        } else {
            cr_expect(acao != NULL && strstr(acao, want_acao) != NULL, "%s", hdrs);
        }
        free(hdrs);
    }
}

/* SIGHUP applies server.cors_allowed_origins and the auth group at run time on every worker:
   the new origin is allowed and the old refused, a token signed with the new secret is accepted
   and one with the old refused (the JWT caches were cleared); the log names each change without
   its value; pool_size is applied too (sighup_resizes_the_pool tests the pool itself). */
Test(service, sighup_applies_cors_and_jwt_keys)
{
    int port = free_port();
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    write_reload_conf(path, port, "https://old.example", RELOAD_SECRET_A, 2, "");
    char *env[] = { envvar("DBA_SERVER_LOG_LEVEL", "info"), NULL };
    pid_t pid = spawn(env, serve_args, false);
    wait_ready(port);
    char *tok_a = bearer_with(RELOAD_SECRET_A), *tok_b = bearer_with(RELOAD_SECRET_B);
    /* Twice each: the second answer of a token comes from the JWT cache. */
    expect_answers(port, tok_a, "https://old.example", 200, "https://old.example");
    expect_answers(port, tok_a, "https://new.example", 200, NULL);
    expect_answers(port, tok_b, "https://old.example", 401, "https://old.example");

    write_reload_conf(path, port, "https://new.example", RELOAD_SECRET_B, 3, "");
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert(wait_for("err", "run-time settings in effect (generation 1)"));
    char *err = slurp("err");
    cr_expect(strstr(err, "reload: server.cors_allowed_origins changed (applied)") != NULL, "%s",
              err);
    cr_expect(strstr(err, "reload: auth.jwt_secret changed (applied)") != NULL, "%s", err);
    cr_expect(strstr(err, "reload: profiles.test.pool_size changed (applied)") != NULL, "%s", err);
    cr_expect(strstr(err, "reload: pool size 2 -> 3 for profile 'test'") != NULL, "%s", err);
    cr_expect(strstr(err, "reload-secret") == NULL, "a secret in the log: %s", err);
    free(err);
    expect_answers(port, tok_b, "https://new.example", 200, "https://new.example");
    expect_answers(port, tok_b, "https://old.example", 200, NULL);
    expect_answers(port, tok_a, "https://new.example", 401, "https://new.example");

    /* The same file again: compared with what was applied, nothing changed. (A second later:
       the logger prints a line repeated within a second once.) */
    usleep(1100 * 1000);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert(wait_for("err", "run-time settings in effect (generation 2)"));
    err = slurp("err");
    const char *second = strstr(err, "(generation 1)");
    cr_assert(second != NULL);
    cr_expect(strstr(second, "reload: auth.jwt_secret changed") == NULL, "%s", second);
    cr_expect(strstr(second, "reload: server.cors_allowed_origins changed") == NULL, "%s", second);
    cr_expect(strstr(second, "pool_size changed") == NULL, "%s", second);
    cr_expect(strstr(second, "reload: configuration unchanged") != NULL, "%s", second);
    free(err);

    /* Keys that cannot be loaded (a JWKS file that is not there) keep everything as it runs. */
    write_reload_conf(path, port, "https://third.example", RELOAD_SECRET_A, 2,
                      "jwks_file = \"/nonexistent/jwks.json\";");
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_expect(wait_for("err", "keeping the running configuration"));
    expect_answers(port, tok_b, "https://new.example", 200, "https://new.example");
    expect_answers(port, tok_b, "https://third.example", 200, NULL);
    free(tok_a);
    free(tok_b);
    free_env(env);
}

/* `db-adapter health` (the image's HEALTHCHECK) asks the port the configuration names:
   PGRST_SERVER_PORT here, DBA_SERVER_PORT winning over it; exit 1 when nothing answers. */
Test(service, health_command_follows_the_configured_port)
{
    int port = free_port();
    char *env[] = {
        envvar("PGRST_DB_URI", getenv("DBA_TEST_DATABASE_URL")), envint("PGRST_SERVER_PORT", port),
        envvar("PGRST_SERVER_HOST", "127.0.0.1"), envvar("PGRST_DB_SCHEMAS", "public"),
        envvar("DBA_SERVER_ACCESS_LOG", "off"), NULL,
    };
    spawn(env, serve_args, false);
    wait_ready(port);
    char health[] = "health";
    char *hargs[] = { health, NULL };
    char *henv[] = { envint("PGRST_SERVER_PORT", port), NULL };
    cr_expect_eq(spawn(henv, hargs, true), 0);
    /* Listening on 127.0.0.1 explicitly: asked there. */
    char *henv2[] = { envint("DBA_SERVER_PORT", port), envvar("DBA_SERVER_LISTEN", "127.0.0.1"),
                      NULL };
    cr_expect_eq(spawn(henv2, hargs, true), 0);
    /* DBA_SERVER_PORT wins over PGRST_SERVER_PORT: a port nobody listens on. */
    int other = free_port();
    char *henv3[] = { envint("PGRST_SERVER_PORT", port), envint("DBA_SERVER_PORT", other), NULL };
    cr_expect_eq(spawn(henv3, hargs, true), 1);
    char *err = slurp("err");
    cr_expect(strstr(err, "db-adapter health: unhealthy: cannot connect to 127.0.0.1 port") != NULL,
              "%s", err);
    free(err);
    /* --path: a route answering 404 is unhealthy; a bad option is a usage error. */
    char o1[] = "--path", o2[] = "/nope", o3[] = "--bogus";
    char *pargs[] = { health, o1, o2, NULL };
    cr_expect_eq(spawn(henv, pargs, true), 1);
    char *bargs[] = { health, o3, NULL };
    cr_expect_eq(spawn(henv, bargs, true), 2);
    free_env(henv3);
    free_env(henv2);
    free_env(henv);
    free_env(env);
}

/* GET with one extra header line; returns the status. */
static long
get_h(int port, const char *path, const char *header)
{
    char url[512];
    struct dba_buf b;
    long code = 0;
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, header);

    dba_buf_init(&b);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    curl_slist_free_all(hd);
    dba_buf_cleanup(&b);
    return code;
}

static void
db_exec(const char *sql)
{
    PGconn *c = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *res = PQexec(c, sql);
    cr_expect_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
}

static size_t
count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* log_level = debug: each statement with the request id and its parameters masked; the
   server's WARNING and NOTICE through our logger at their level, with the request id, their
   text unable to forge a line. */
Test(service, debug_sql_masked_and_notices_through_the_logger)
{
    db_exec("CREATE OR REPLACE FUNCTION public.svc_notice(v text) RETURNS int LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE WARNING 'svc-warning %', v; RAISE NOTICE 'svc-notice'; "
            "RETURN 1; END $$");
    int port = free_port();
    char *env[] = {
        envvar("PGRST_DB_URI", getenv("DBA_TEST_DATABASE_URL")), envint("PGRST_SERVER_PORT", port),
        envvar("PGRST_SERVER_HOST", "127.0.0.1"), envvar("PGRST_DB_SCHEMAS", "public"),
        envvar("DBA_SERVER_LOG_LEVEL", "debug"), envvar("DBA_SERVER_ACCESS_LOG", "off"),
        envvar("DBA_SERVER_TRACE_HEADER", "X-Request-Id"), envvar("DBA_SERVER_WORKERS", "1"),
        NULL,
    };
    spawn(env, serve_args, false);
    wait_ready(port);
    cr_expect_eq(get_h(port, "/items?name=eq.SECRETVALUE", "X-Request-Id: rid-sql"), 200);
    /* The read's statement is the last of its unit (a statement timeout may come first). */
    cr_expect(wait_for("err", "SELECT \"items\".* FROM"));
    cr_expect_eq(get_h(port, "/rpc/svc_notice?v=forged%0A2026-01-01%20error%20x",
                       "X-Request-Id: rid-notice"), 200);
    cr_expect(wait_for("err", "NOTICE: svc-notice"));
    char *err = slurp("err");
    const char *l = strstr(err, "WITH pgrst_source AS (SELECT \"items\".*");
    cr_assert(l != NULL, "%s", err);
    cr_expect(strstr(err, "req rid-sql profile default: sql ") != NULL, "%s", err);
    cr_expect(strstr(l, "\"items\"") != NULL && strstr(l, "$1=<11 bytes>") != NULL, "%s", l);
    cr_expect(strstr(err, "SECRETVALUE") == NULL, "%s", err);
    cr_expect(strstr(err, " warn req rid-notice pool default conn ") != NULL, "%s", err);
    cr_expect(strstr(err, ": WARNING: svc-warning forged 2026-01-01 error x") != NULL, "%s", err);
    cr_expect(strstr(err, "\n2026-01-01 error x") == NULL, "%s", err);
    cr_expect(strstr(err, " info req rid-notice pool default conn ") != NULL, "%s", err);
    free(err);
    free_env(env);
    db_exec("DROP FUNCTION public.svc_notice(text)");
}

static int
pg_ctl(const char *what)
{
    char cmd[1024];
    const char *pgdir = getenv("DBA_TEST_PG_DIR");
    const char *src = getenv("DBA_TEST_SOURCE_DIR");

    cr_assert(pgdir != NULL && src != NULL);
    snprintf(cmd, sizeof(cmd), "%s/scripts/pg.sh %s %s >/dev/null 2>&1", src, what, pgdir);
    return system(cmd);
}

/* Runs last in the suite (zz_): the database goes away and comes back; the log says so once each
   way, however many workers and connections notice. */
Test(service, zz_outage_logged_once_each_way)
{
    int port = free_port();
    char *env[] = {
        envvar("DBA_SERVER_LISTEN", "127.0.0.1"), envint("DBA_SERVER_PORT", port),
        envvar("DBA_SERVER_WORKERS", "2"), envvar("DBA_SERVER_ACCESS_LOG", "off"),
        envvar("DBA_PROFILE_MAIN_URL", getenv("DBA_TEST_DATABASE_URL")),
        envvar("DBA_PROFILE_MAIN_POOL_SIZE", "4"), NULL,
    };
    spawn(env, serve_args, false);
    wait_ready(port);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(get(port, "/tables/items?limit=1", NULL), 200);
    cr_assert_eq(pg_ctl("stop"), 0);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(get(port, "/tables/items?limit=1", NULL), 503);
    cr_assert_eq(pg_ctl("start"), 0);
    long status = 0;
    for (int i = 0; i < 200 && status != 200; i++) {
        usleep(100 * 1000);
        status = get(port, "/tables/items?limit=1", NULL);
    }
    cr_expect_eq(status, 200);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(get(port, "/tables/items?limit=1", NULL), 200);
    cr_expect(wait_for("err", "database available again after"));
    char *err = slurp("err");
    cr_expect_eq(count_of(err, "profile main: database unavailable: "), 1, "%s", err);
    cr_expect_eq(count_of(err, "profile main: database available again after "), 1, "%s", err);
    cr_expect(strstr(err, " error profile main: database unavailable: ") != NULL, "%s", err);
    cr_expect(strstr(err, "-> 503") == NULL, "%s", err); /* the 503s: access log and debug */
    free(err);
    free_env(env);
}

/* Backends of the gateway's pools (application_name "db-adapter pool"; one server runs at a
   time), with an extra condition (may be ""). */
static long
pool_backends(const char *extra)
{
    char sql[512];
    PGconn *c = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             "'db-adapter pool' AND pid <> pg_backend_pid() %s", extra);
    PGresult *res = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(c);
    return n;
}

/* Polls pool_backends(extra) until it is want; the last count. */
static long
wait_backends(const char *extra, long want)
{
    long n = -1;
    for (int i = 0; i < 300 && (n = pool_backends(extra)) != want; i++)
        usleep(50 * 1000);
    return n;
}

/* Polls /metrics until it contains needle. */
static bool
wait_metric(int port, const char *needle)
{
    for (int i = 0; i < 200; i++) {
        char *m = NULL;
        bool hit = get(port, "/metrics", &m) == 200 && strstr(m, needle) != NULL;
        free(m);
        if (hit)
            return true;
        usleep(50 * 1000);
    }
    return false;
}

/* n PATCH /tables/svc_lockme?id=eq.1 at once, on their own thread: each waits for the row lock
   the test holds (lock_row), so they stay busy until it lets go. */
struct burst {
    int port;
    int n;
    long codes[16];
    pthread_t th;
};

static void *
burst_main(void *arg)
{
    struct burst *b = arg;
    CURLM *m = curl_multi_init();
    CURL *h[16];
    char url[128];
    int running = 0;
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/tables/svc_lockme?id=eq.1", b->port);
    for (int i = 0; i < b->n; i++) {
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_CUSTOMREQUEST, "PATCH");
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, "{\"n\": 1}");
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, collect_discard);
        curl_multi_add_handle(m, h[i]);
    }
    do {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 50, NULL);
    } while (running > 0);
    for (int i = 0; i < b->n; i++) {
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &b->codes[i]);
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hd);
    return NULL;
}

/* A connection holding svc_lockme's row 1 locked (an open transaction); PQfinish lets go. */
static PGconn *
lock_row(void)
{
    PGconn *c = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *res = PQexec(c, "BEGIN; SELECT 1 FROM svc_lockme WHERE id = 1 FOR UPDATE");
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    PQclear(res);
    return c;
}

static void
write_pool_conf(const char *path, int port, int pool)
{
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "server: { listen = \"127.0.0.1\"; port = %d; workers = 1; access_log = \"off\"; "
               "queue_limit = 100; };\n"
               "admin: { public_metrics = true; };\n"
               "profiles: { test: { url = \"%s\"; pool_size = %d; }; };\n",
            port, getenv("DBA_TEST_DATABASE_URL"), pool);
    fclose(f);
}

#define LOCK_WAITING "AND wait_event_type = 'Lock' AND query LIKE '%svc_lockme%'"

/* SIGHUP applies profiles.X.pool_size: growing lets more requests run at once than the old
   size did and /metrics shows the new maximum; shrinking closes the idle connections at once and
   a busy one only when its request ends (each request still succeeds). Requests are kept busy
   by a row lock the test holds, so nothing depends on timing. */
Test(service, sighup_resizes_the_pool)
{
    db_exec("DROP TABLE IF EXISTS public.svc_lockme; "
            "CREATE TABLE public.svc_lockme (id int PRIMARY KEY, n int); "
            "INSERT INTO public.svc_lockme VALUES (1, 0)");
    int port = free_port();
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    cr_assert_eq(wait_backends("", 0), 0, "a pool of another server is still connected");
    write_pool_conf(path, port, 2);
    char *env[] = { envvar("DBA_SERVER_LOG_LEVEL", "debug"), NULL };
    pid_t pid = spawn(env, serve_args, false);
    wait_ready(port);
    cr_expect(wait_metric(port, "\npgrst_db_pool_max 2\n"));

    /* Grow 2 -> 6: six writes wait on the lock at once (two at most before). */
    write_pool_conf(path, port, 6);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert(wait_for("err", "run-time settings in effect (generation 1)"));
    char *err = slurp("err");
    cr_expect(strstr(err, "reload: profiles.test.pool_size changed (applied)") != NULL, "%s", err);
    cr_expect(strstr(err, "reload: pool size 2 -> 6 for profile 'test'") != NULL, "%s", err);
    cr_expect(strstr(err, "needs a restart") == NULL, "%s", err);
    free(err);
    cr_expect(wait_metric(port, "\npgrst_db_pool_max 6\n"));
    cr_expect(wait_metric(port, "dba_db_pool_connections{profile=\"test\",state=\"size\"} 6"));
    PGconn *lk = lock_row();
    struct burst b6 = { .port = port, .n = 6 };
    cr_assert_eq(pthread_create(&b6.th, NULL, burst_main, &b6), 0);
    cr_expect_eq(wait_backends(LOCK_WAITING, 6), 6, "six requests at once after growing to 6");
    cr_expect(wait_metric(port, "\npgrst_db_pool_waiting 0\n"));
    PQfinish(lk);
    pthread_join(b6.th, NULL);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(b6.codes[i], 204, "write %d", i);
    cr_expect_eq(wait_backends("", 6), 6);

    /* Shrink 6 -> 1 while two writes wait on the lock: the four idle connections close at once,
       the two busy ones stay until their requests end, then one of them closes. */
    lk = lock_row();
    struct burst b2 = { .port = port, .n = 2 };
    cr_assert_eq(pthread_create(&b2.th, NULL, burst_main, &b2), 0);
    cr_expect_eq(wait_backends(LOCK_WAITING, 2), 2);
    write_pool_conf(path, port, 1);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert(wait_for("err", "run-time settings in effect (generation 2)"));
    cr_expect(wait_for("err", "reload: pool size 6 -> 1 for profile 'test'"));
    cr_expect(wait_metric(port, "\npgrst_db_pool_max 1\n"));
    cr_expect_eq(wait_backends("", 2), 2, "the idle connections were not closed");
    cr_expect_eq(pool_backends(LOCK_WAITING), 2, "a running request was cut");
    cr_expect(wait_metric(port, "dba_db_pool_connections{profile=\"test\",state=\"open\"} 2"));
    PQfinish(lk);
    pthread_join(b2.th, NULL);
    cr_expect_eq(b2.codes[0], 204);
    cr_expect_eq(b2.codes[1], 204);
    cr_expect(wait_for("err", "closed on release (pool size 1)"));
    cr_expect_eq(wait_backends("", 1), 1);
    cr_expect(wait_metric(port, "dba_db_pool_connections{profile=\"test\",state=\"open\"} 1"));
    /* Still serving, on the one connection left. */
    for (int i = 0; i < 3; i++)
        cr_expect_eq(get(port, "/tables/items?limit=1", NULL), 200);
    cr_expect_eq(pool_backends(""), 1);
    free_env(env);
    db_exec("DROP TABLE public.svc_lockme");
}
