/* test_haproxy.c - the haproxy drill (docs/SCALING.md, "N processes"): two `db-adapter serve`
   processes behind haproxy (fixture haproxy: scripts/haproxy.sh, round robin, health check on
   /readyz), a read/write load through haproxy while one process is stopped with SIGTERM and
   started again. No request fails, the stopped process answers what it had in flight, every
   write answered is in the table exactly once, and haproxy takes the restarted process back. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/core.h"
#include "scale_util.h"

static char dir[64];

static int
env_port(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v != NULL && atoi(v) > 0, "%s is not set (run through ctest: fixture haproxy)", name);
    return atoi(v);
}

static void
hap_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dbat-hap-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    curl_global_init(CURL_GLOBAL_ALL);
}

/* Every process spawn_serve started, so the teardown can stop any still running (an assertion
   that ends a test early must not leave a server holding the suite's ports for the next tree). */
static pid_t spawned[16];
static int n_spawned;

static void
hap_teardown(void)
{
    char cmd[128];
    for (int i = 0; i < n_spawned; i++) {
        /* still our unreaped child (0: running), never a pid already reaped and reused */
        if (waitpid(spawned[i], NULL, WNOHANG) == 0) {
            kill(spawned[i], SIGKILL);
            waitpid(spawned[i], NULL, 0);
        }
    }
    n_spawned = 0;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    curl_global_cleanup();
}

TestSuite(haproxy, .init = hap_setup, .fini = hap_teardown);

/* Writes dir/<name>.conf for a process on port with n_workers workers. */
static void
write_conf_workers(const char *name, int port, int n_workers)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "server: { listen = \"127.0.0.1\"; port = %d; workers = %d; "
               "shutdown_timeout_ms = 10000; };\n"
               "default_profile = \"test\";\n"
               "profiles: { test: { url = \"%s\"; pool_size = 4; }; };\n",
            port, n_workers, getenv("DBA_TEST_DATABASE_URL"));
    fclose(f);
}

static void
write_conf(const char *name, int port)
{
    write_conf_workers(name, port, 2);
}

/* Starts `db-adapter serve --config dir/<name>.conf`, its output appended to dir/<name>.log. */
static pid_t
spawn_serve(const char *name)
{
    const char *bin = getenv("DBA_TEST_BIN");
    cr_assert(bin != NULL, "DBA_TEST_BIN is not set");
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char conf[128], log[128];
        snprintf(conf, sizeof(conf), "%s/%s.conf", dir, name);
        snprintf(log, sizeof(log), "%s/%s.log", dir, name);
        if (freopen(log, "a", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
            _exit(99);
        unsetenv("DATABASE_URL");
        unsetenv("DB_PROFILE");
        execl(bin, bin, "serve", "--config", conf, (char *)NULL);
        _exit(98);
    }
    if (n_spawned < (int)(sizeof(spawned) / sizeof(spawned[0])))
        spawned[n_spawned++] = pid;
    return pid;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
    dba_buf_append(arg, p, size * n);
    return size * n;
}

/* GET http://127.0.0.1:port/path: the status (0 = no HTTP answer), the body in *body. */
static long
http_get(int port, const char *path, char **body)
{
    char url[256];
    struct dba_buf b;
    long code = 0;
    CURL *c = curl_easy_init();

    dba_buf_init(&b);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    dba_buf_putc(&b, '\0');
    if (body != NULL)
        *body = dba_buf_take(&b);
    else
        dba_buf_cleanup(&b);
    return code;
}

/* Waits until the process on port answers /readyz 200 (false when it exited first). */
static bool
wait_serving(pid_t pid, int port)
{
    for (int i = 0; i < 600; i++) {
        if (http_get(port, "/readyz", NULL) == 200)
            return true;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return false;
        usleep(50 * 1000);
    }
    return false;
}

/* Waits for pid to exit; its wait status, or -1 when it still runs (then killed). The loop only
   bounds a hang; no duration is asserted. */
static int
wait_exit(pid_t pid)
{
    int st;
    for (int i = 0; i < 1200; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* One server's row of haproxy's stats: its status ("UP", "DOWN", ...) and 2xx answers. */
struct hap_server {
    char status[32];
    long ok;
};

/* The column index of name in the CSV header line, or -1. */
static int
csv_column(const char *header, const char *name)
{
    int col = 0;
    size_t n = strlen(name);
    for (const char *p = header; *p != '\0' && *p != '\n'; col++) {
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\n'))
            return col;
        p += strcspn(p, ",\n");
        if (*p == ',')
            p++;
    }
    return -1;
}

/* The field col of line (a copy into out). */
static void
csv_field(const char *line, int col, char *out, size_t size)
{
    for (int i = 0; i < col && line != NULL; i++) {
        line = strchr(line, ',');
        if (line != NULL)
            line++;
    }
    size_t n = line ? strcspn(line, ",\n") : 0;
    snprintf(out, size, "%.*s", (int)n, line ? line : "");
}

static struct hap_server
hap_server(const char *name)
{
    struct hap_server s = { "?", 0 };
    char *body = NULL, want[64], v[32];
    long code = http_get(env_port("DBA_TEST_HAPROXY_STATS_PORT"), "/stats;csv", &body);
    cr_assert_eq(code, 200, "haproxy stats: %ld", code);
    int c_status = csv_column(body + 2, "status"), c_ok = csv_column(body + 2, "hrsp_2xx");
    cr_assert(c_status > 0 && c_ok > 0, "stats header: %.200s", body);
    snprintf(want, sizeof(want), "\ngateways,%s,", name);
    const char *line = strstr(body, want);
    cr_assert_not_null(line, "no %s in the stats", name);
    csv_field(line + 1, c_status, s.status, sizeof(s.status));
    csv_field(line + 1, c_ok, v, sizeof(v));
    s.ok = atol(v);
    free(body);
    return s;
}

/* Waits until haproxy shows server name with status (a bounded wait, not a timing check). */
static bool
hap_wait_status(const char *name, const char *status)
{
    for (int i = 0; i < 600; i++) {
        if (strcmp(hap_server(name).status, status) == 0)
            return true;
        usleep(20 * 1000);
    }
    return false;
}

/* Waits until server name has answered more than `more` requests beyond `base`. */
static bool
hap_wait_served(const char *name, long base, long more)
{
    for (int i = 0; i < 1000; i++) {
        if (hap_server(name).ok > base + more)
            return true;
        usleep(20 * 1000);
    }
    return false;
}

struct inflight {
    int port;
    const char *path;
    long code;
    char *body;
};

static void *
inflight_main(void *arg)
{
    struct inflight *f = arg;
    f->code = http_get(f->port, f->path, &f->body);
    return NULL;
}

/* The drill. s1 = process A (stopped and restarted), s2 = process B. */
Test(haproxy, sigterm_and_restart_under_load_fails_no_request)
{
    const char *db = getenv("DBA_TEST_DATABASE_URL");
    int port_a = env_port("DBA_TEST_HAPROXY_BACKEND1"), port_b = env_port("DBA_TEST_HAPROXY_BACKEND2");
    free(scale_sql(db, "DELETE FROM items WHERE name LIKE 'load_hap_%'"));
    write_conf("a", port_a);
    write_conf("b", port_b);
    pid_t a = spawn_serve("a"), b = spawn_serve("b");
    cr_assert(wait_serving(a, port_a), "process A did not start");
    cr_assert(wait_serving(b, port_b), "process B did not start");
    cr_assert(hap_wait_status("s1", "UP") && hap_wait_status("s2", "UP"), "haproxy: not both up");

    /* The load through haproxy: reads by key and inserts, until told to stop. */
    struct scale_load l = { .port = env_port("DBA_TEST_HAPROXY_PORT"), .n_threads = 4,
                            .n_requests = 0, .writes = true, .tag = "hap" };
    long a0 = hap_server("s1").ok, b0 = hap_server("s2").ok;
    scale_load_start(&l);
    cr_assert(hap_wait_served("s1", a0, 100) && hap_wait_served("s2", b0, 100),
              "the load does not reach both processes");

    /* A request in flight on A (a one-second read), then SIGTERM. */
    struct inflight slow = { .port = port_a, .path = "/tables/slow" };
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, inflight_main, &slow), 0);
    for (int i = 0; i < 500; i++) {
        long n = scale_sql_long(db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                    "'%slow%' AND state = 'active' AND pid <> pg_backend_pid()");
        if (n > 0)
            break;
        usleep(10 * 1000);
    }
    kill(a, SIGTERM);
    pthread_join(th, NULL);
    cr_expect_eq(slow.code, 200, "the stopped process did not answer its request in flight: "
                                 "%ld %s", slow.code, slow.body ? slow.body : "");
    free(slow.body);
    int st = wait_exit(a);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "process A: status %d", st);
    cr_expect(hap_wait_status("s1", "DOWN"), "haproxy did not take A out");
    long b1 = hap_server("s2").ok;
    cr_expect(hap_wait_served("s2", b1, 100), "B does not carry the load alone");

    /* A again: haproxy takes it back and the load reaches it. */
    a = spawn_serve("a");
    cr_assert(wait_serving(a, port_a), "process A did not start again");
    cr_expect(hap_wait_status("s1", "UP"), "haproxy did not take A back");
    long a1 = hap_server("s1").ok;
    cr_expect(hap_wait_served("s1", a1, 100), "the load does not reach A again");

    atomic_store(&l.stop, true);
    scale_load_join(&l);
    cr_log_info("haproxy drill: %ld requests answered (%ld inserts), %ld failed", l.ok,
                l.ok_writes, l.failed);
    cr_expect_gt(l.ok, 400, "ok %ld", l.ok);
    cr_expect_eq(l.failed, 0, "%ld of %ld requests failed (%ld without an answer); first: %s",
                 l.failed, l.ok + l.failed, l.lost, l.first_error);
    /* Every insert answered 201 is in the table once: nothing lost, nothing sent twice. */
    long rows = scale_sql_long(db, "SELECT count(*) FROM items WHERE name LIKE 'load_hap_%'");
    long distinct = scale_sql_long(db, "SELECT count(DISTINCT name) FROM items "
                                       "WHERE name LIKE 'load_hap_%'");
    cr_expect_eq(rows, l.ok_writes, "%ld rows for %ld answered inserts", rows, l.ok_writes);
    cr_expect_eq(distinct, rows, "an insert ran twice");
    free(scale_sql(db, "DELETE FROM items WHERE name LIKE 'load_hap_%'"));

    kill(a, SIGTERM);
    kill(b, SIGTERM);
    /* Exit 0 (under the sanitizers: no leak either, LeakSanitizer would change the status). */
    st = wait_exit(a);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "process A: status %d", st);
    st = wait_exit(b);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "process B: status %d", st);
}

/* What a load balancer relies on while a process stops (one worker, a read in flight keeps it in
   its grace period): a new connection is refused at once (the listener is closed, not left to
   fill its backlog), and a request on a connection kept alive from before is still answered,
   with Connection: close, so the balancer moves that connection elsewhere. */
Test(haproxy, stopping_process_refuses_connections_and_closes_keepalive)
{
    const char *db = getenv("DBA_TEST_DATABASE_URL");
    int port = env_port("DBA_TEST_HAPROXY_BACKEND1");
    char url[128];
    write_conf_workers("one", port, 1);
    pid_t pid = spawn_serve("one");
    cr_assert(wait_serving(pid, port), "the process did not start");

    /* A connection kept alive: one request before the signal. */
    CURL *keep = curl_easy_init();
    struct dba_buf hdr;
    dba_buf_init(&hdr);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/tables/items?select=id&id=eq.1", port);
    curl_easy_setopt(keep, CURLOPT_URL, url);
    curl_easy_setopt(keep, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(keep, CURLOPT_WRITEDATA, &hdr);
    cr_assert_eq(curl_easy_perform(keep), CURLE_OK);

    struct inflight slow = { .port = port, .path = "/tables/slow" };
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, inflight_main, &slow), 0);
    for (int i = 0; i < 500; i++) {
        if (scale_sql_long(db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                               "'%slow%' AND state = 'active' AND pid <> pg_backend_pid()") > 0)
            break;
        usleep(10 * 1000);
    }
    kill(pid, SIGTERM);
    /* Refused, not left waiting: once the worker has seen the signal, a connect fails at once. */
    CURLcode rc = CURLE_OK;
    for (int i = 0; i < 500 && rc != CURLE_COULDNT_CONNECT; i++) {
        CURL *c = curl_easy_init();
        char u[64];
        snprintf(u, sizeof(u), "http://127.0.0.1:%d/healthz", port);
        curl_easy_setopt(c, CURLOPT_URL, u);
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        rc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        if (rc != CURLE_COULDNT_CONNECT)
            usleep(5 * 1000);
    }
    cr_expect_eq(rc, CURLE_COULDNT_CONNECT, "a new connection was not refused: %s",
                 curl_easy_strerror(rc));
    /* The kept-alive connection is still served, and told to close. */
    dba_buf_cleanup(&hdr);
    dba_buf_init(&hdr);
    curl_easy_setopt(keep, CURLOPT_WRITEFUNCTION, NULL);
    curl_easy_setopt(keep, CURLOPT_WRITEDATA, stdout);
    curl_easy_setopt(keep, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(keep, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(keep, CURLOPT_HEADERDATA, &hdr);
    long code = 0, reused = 0;
    cr_expect_eq(curl_easy_perform(keep), CURLE_OK);
    curl_easy_getinfo(keep, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(keep, CURLINFO_NUM_CONNECTS, &reused);
    dba_buf_putc(&hdr, '\0');
    cr_expect_eq(code, 200, "%s", hdr.data);
    cr_expect_eq(reused, 0, "not the kept-alive connection");
    cr_expect(strcasestr(hdr.data, "Connection: close") != NULL, "%s", hdr.data);
    dba_buf_cleanup(&hdr);
    curl_easy_cleanup(keep);

    pthread_join(th, NULL);
    cr_expect_eq(slow.code, 200, "%ld %s", slow.code, slow.body ? slow.body : "");
    free(slow.body);
    int st = wait_exit(pid);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
