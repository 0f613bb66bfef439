/* test_process.c - the gateway as a real process: one port per process, and SIGTERM while
   requests are in flight. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "core/core.h"

#define PROCESS_ADMIN_TOKEN "process-admin-token"

static char dir[64];

static void
proc_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dbat-proc-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    curl_global_init(CURL_GLOBAL_ALL);
}

static void
proc_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    curl_global_cleanup();
}

TestSuite(process, .init = proc_setup, .fini = proc_teardown);

/* A port nobody listens on (bound to 0, read back, closed). */
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

static void
write_conf(int port, const char *server_extra)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/db-adapter.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "server: { listen = \"127.0.0.1\"; port = %d; workers = 2; %s };\n"
               "default_profile = \"test\";\n"
               "profiles: { test: { url = \"%s\"; pool_size = 4; }; };\n",
            port, server_extra ? server_extra : "", getenv("DBA_TEST_DATABASE_URL"));
    fclose(f);
}

/* Starts `db-adapter serve` in dir, its output into dir/<log>. */
static pid_t
spawn_serve(const char *log)
{
    const char *bin = getenv("DBA_TEST_BIN");
    cr_assert(bin != NULL, "DBA_TEST_BIN is not set");
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, log);
        if (chdir(dir) != 0 || freopen(path, "w", stdout) == NULL ||
            dup2(fileno(stdout), 2) < 0)
            _exit(99);
        unsetenv("DATABASE_URL");
        unsetenv("DB_PROFILE");
        setenv("DB_ADAPTER_ADMIN_TOKEN", PROCESS_ADMIN_TOKEN, 1); /* for /status */
        execl(bin, bin, "serve", (char *)NULL);
        _exit(98);
    }
    return pid;
}

static char *
read_log(const char *log)
{
    char path[128], buf[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, log);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
    dba_buf_append(arg, p, size * n);
    return size * n;
}

/* GET url on the port; returns the status (0 when no HTTP response) and the body in *body. */
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
    struct curl_slist *auth = NULL;
    if (strncmp(path, "/status", 7) == 0) /* an operator route */
        auth = curl_slist_append(NULL, "Authorization: Bearer " PROCESS_ADMIN_TOKEN);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, auth);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L); /* a safety net against a hang, not a check */
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(auth);
    dba_buf_putc(&b, '\0');
    if (body != NULL)
        *body = dba_buf_take(&b);
    else
        dba_buf_cleanup(&b);
    return code;
}

/* Waits until the server on port is ready: schema cache loaded, database answering (or its
   process ended). */
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
    kill(pid, SIGKILL); /* never leave a server behind */
    waitpid(pid, NULL, 0);
    return false;
}

/* Waits for pid to exit (no time is asserted: the loop only bounds a hang); returns its wait
   status, or -1 when it still runs (it is then killed). */
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

/* A second server on a port already served refuses to start (exit 1: a handled failure, the
   configuration is fine) instead of silently splitting the traffic with the first. */
Test(process, second_server_on_a_used_port_fails, .timeout = 180)
{
    int port = free_port();
    write_conf(port, NULL);
    pid_t first = spawn_serve("first.log");
    cr_assert(wait_serving(first, port), "the first server did not start");
    pid_t second = spawn_serve("second.log"); /* its exit is waited for (or it is killed) */
    int st = wait_exit(second);
    char *log = read_log("second.log");
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "second server: status %d: %s",
              st, log);
    char want[64];
    snprintf(want, sizeof(want), "port %d is in use", port);
    cr_expect(strstr(log, want) != NULL, "%s", log);
    free(log);
    for (int i = 0; i < 20; i++)
        cr_expect_eq(http_get(port, "/healthz", NULL), 200);
    kill(first, SIGTERM);
    st = wait_exit(first);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "first server: status %d", st);
}

struct inflight {
    int port;         /* server port */
    const char *path; /* request */
    long code;        /* status received, 0 = no HTTP response */
    char *body;       /* body received */
};

static void *
inflight_main(void *arg)
{
    struct inflight *f = arg;
    f->code = http_get(f->port, f->path, &f->body);
    return NULL;
}

static long
sql_long(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
    long v = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

/* SIGTERM with a database read and a background operation in flight, the operation stuck past
   the shutdown deadline: the read is answered (it finishes within the deadline), the operation's
   client gets a complete 503 response, and the process exits. The original busy-waited for the
   operation and its client never got an answer. */
Test(process, sigterm_answers_in_flight_requests, .timeout = 300)
{
    int port = free_port();
    write_conf(port, "shutdown_timeout_ms = 3000;");
    pid_t pid = spawn_serve("serve.log");
    cr_assert(wait_serving(pid, port), "the server did not start");
    PGconn *lk = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(lk), CONNECTION_OK);
    PQclear(PQexec(lk, "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE"));
    PGconn *obs = PQconnectdb(getenv("DBA_TEST_DATABASE_URL"));
    cr_assert_eq(PQstatus(obs), CONNECTION_OK);

    struct inflight task = { .port = port, .path = "/status?exact=true" };
    struct inflight read = { .port = port, .path = "/tables/slow" };
    pthread_t th_task, th_read;
    cr_assert_eq(pthread_create(&th_task, NULL, inflight_main, &task), 0);
    cr_assert_eq(pthread_create(&th_read, NULL, inflight_main, &read), 0);
    /* Both are in the database: the operation waits on the lock, the read sleeps. */
    bool both = false;
    for (int i = 0; i < 600 && !both; i++) {
        both = sql_long(obs, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                             "'Lock' AND datname = current_database() AND "
                             "application_name LIKE 'db-adapter%'") >= 1 &&
               sql_long(obs, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                             "'%slow%' AND state = 'active' AND pid <> pg_backend_pid()") >= 1;
        if (!both)
            usleep(20 * 1000);
    }
    kill(pid, SIGTERM);
    pthread_join(th_read, NULL);
    pthread_join(th_task, NULL);
    int st = wait_exit(pid);
    PQclear(PQexec(lk, "COMMIT"));
    PQfinish(lk);
    PQfinish(obs);
    char *log = read_log("serve.log");
    cr_expect(both, "the requests did not reach the database");
    cr_expect_eq(read.code, 200, "read: %ld %s", read.code, read.body);
    cr_expect_eq(task.code, 503, "operation: %ld %s", task.code, task.body);
    cr_expect(task.body != NULL && strstr(task.body, "shutting down") != NULL, "%s", task.body);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, log);
    free(log);
    free(task.body);
    free(read.body);
}
