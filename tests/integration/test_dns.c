/* test_dns.c - host names are resolved off the worker loop, every address is tried, and the name
   is resolved again on reconnect.

   The test PostgreSQL listens on a Unix socket only, so a small TCP proxy in this process forwards
   127.0.0.1:<port> to it. The name "gate.dba.test" is answered by this file's getaddrinfo, which
   takes precedence over the C library's in this executable (the gateway's own code and libpq's
   both call it): it returns ::1 (nobody listens there) then 127.0.0.1, like localhost, and it can
   be held closed (a "slow DNS server") so the test can see whether a worker loop blocks on it.
   Every other name goes to the real getaddrinfo. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "core/core.h"
#include "harness.h"

#define GATE_NAME "gate.dba.test"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_closed;       /* lookups of GATE_NAME wait while set */
static bool gate_forced;       /* the safety timer had to open the gate */
static atomic_int gate_lookups; /* lookups of GATE_NAME started */
static atomic_int gate_waiting; /* lookups of GATE_NAME waiting at the gate */

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
            struct addrinfo **res)
{
    gai_fn real = (gai_fn)(uintptr_t)dlsym(RTLD_NEXT, "getaddrinfo");

    if (node == NULL || strcmp(node, GATE_NAME) != 0)
        return real(node, service, hints, res);
    atomic_fetch_add(&gate_lookups, 1);
    pthread_mutex_lock(&gate_lock);
    atomic_fetch_add(&gate_waiting, 1);
    while (gate_closed)
        pthread_cond_wait(&gate_cond, &gate_lock);
    atomic_fetch_sub(&gate_waiting, 1);
    pthread_mutex_unlock(&gate_lock);
    /* Two numeric lookups (no DNS) chained: each node stays freeable by freeaddrinfo. */
    struct addrinfo h = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
    struct addrinfo *v6 = NULL, *v4 = NULL;
    h.ai_family = AF_INET6;
    if (real("::1", service, &h, &v6) != 0)
        v6 = NULL;
    h.ai_family = AF_INET;
    int rc = real("127.0.0.1", service, &h, &v4);
    if (rc != 0) {
        if (v6 != NULL)
            freeaddrinfo(v6);
        return rc;
    }
    if (v6 == NULL) {
        *res = v4;
        return 0;
    }
    struct addrinfo *last = v6;
    while (last->ai_next != NULL)
        last = last->ai_next;
    last->ai_next = v4;
    *res = v6;
    return 0;
}

static void
gate_set(bool closed, bool forced)
{
    pthread_mutex_lock(&gate_lock);
    if (!closed && forced && gate_closed)
        gate_forced = true;
    gate_closed = closed;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

/* Safety net only: opens the gate after a while so that a blocked loop ends the test with a
   failure instead of a hang. */
static void *
gate_timer(void *arg)
{
    DBA_UNUSED(arg);
    sleep(10);
    gate_set(false, true);
    return NULL;
}

/* ---- a TCP proxy 127.0.0.1:<port> -> the test cluster's Unix socket ---- */

static int proxy_fd = -1;
static struct sockaddr_un proxy_target = { .sun_family = AF_UNIX };

static void *
proxy_pump(void *arg)
{
    int a = (int)(intptr_t)arg;
    int b = socket(AF_UNIX, SOCK_STREAM, 0);
    if (b < 0 || connect(b, (struct sockaddr *)&proxy_target, sizeof(proxy_target)) != 0) {
        close(a);
        if (b >= 0)
            close(b);
        return NULL;
    }
    struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
    char buf[16384];
    for (;;) {
        if (poll(p, 2, -1) < 0)
            break;
        int from = (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 0 : 1;
        if (!(p[from].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(p[from].fd, buf, sizeof(buf));
        if (n <= 0 || write(p[1 - from].fd, buf, (size_t)n) != n)
            break;
    }
    close(a);
    close(b);
    return NULL;
}

static void *
proxy_main(void *arg)
{
    DBA_UNUSED(arg);
    for (;;) {
        int c = accept(proxy_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        pthread_t th;
        if (pthread_create(&th, NULL, proxy_pump, (void *)(intptr_t)c) == 0)
            pthread_detach(th);
        else
            close(c);
    }
}

/* Starts the proxy; returns its port. */
static int
proxy_start(void)
{
    const char *dir = getenv("DBA_TEST_PG_DIR");
    char path[300];
    int pg_port = 5432;

    cr_assert(dir != NULL);
    snprintf(path, sizeof(path), "%s/port", dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &pg_port) != 1)
            pg_port = 5432;
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/sock/.s.PGSQL.%d", dir, pg_port);
    cr_assert_lt(strlen(path), sizeof(proxy_target.sun_path), "socket path too long: %s", path);
    memcpy(proxy_target.sun_path, path, strlen(path) + 1);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    proxy_fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(proxy_fd >= 0);
    cr_assert_eq(bind(proxy_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(proxy_fd, 64), 0);
    cr_assert_eq(getsockname(proxy_fd, (struct sockaddr *)&sa, &len), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, proxy_main, NULL), 0);
    pthread_detach(th);
    return ntohs(sa.sin_port);
}

static void
start_by_name(void)
{
    char url[256];
    int port = proxy_start();
    snprintf(url, sizeof(url), "postgresql://postgres@" GATE_NAME ":%d/dba_test", port);
    /* One worker with one connection: a lookup on the loop would stall everything. */
    dbat_server_start_url(url, "workers = 1;", "pool_size = 1;");
}

TestSuite(dns, .init = start_by_name, .fini = dbat_server_stop);

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* Waits until /pool reports `open` connections (its figures are refreshed every tick). */
static bool
pool_open_is(const char *open)
{
    for (int i = 0; i < 400; i++) {
        struct dbat_resp *r = dbat_admin_get("/pool");
        json_t *p = json_array_get(json_object_get(r->json, "pools"), 0);
        json_t *want = json_loads(open, JSON_DECODE_ANY, NULL);
        bool eq = json_equal(json_object_get(p, "open"), want);
        json_decref(want);
        dbat_resp_free(r);
        if (eq)
            return true;
        usleep(25 * 1000);
    }
    return false;
}

/* A name with two addresses (the first refused) serves requests over TCP; when the connection is
   lost the name is resolved again, and while that lookup hangs the worker loop still answers.
   On the original, libpq's blocking lookup ran on the loop: /healthz waited for the gate. */
Test(dns, name_resolved_off_the_loop_and_again_on_reconnect, .timeout = 120)
{
    struct dbat_resp *r = dbat_get("/tables/items?select=id&id=eq.1");
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"id\":1}]"));
    dbat_resp_free(r);
    int lookups = atomic_load(&gate_lookups);
    cr_expect_geq(lookups, 1);

    cr_assert(pool_open_is("1"), "the gateway's connection is not counted");
    /* Drop the gateway's pool connection, and make the next lookup hang. */
    gate_set(true, false);
    char *n = dbat_sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                       "application_name LIKE 'db-adapter%' AND query LIKE '%\"items\"%'");
    cr_expect_str_eq(n, "1");
    free(n);
    cr_assert(pool_open_is("0"), "the gateway did not notice its connection was terminated");
    pthread_t timer;
    cr_assert_eq(pthread_create(&timer, NULL, gate_timer, NULL), 0);
    pthread_detach(timer);

    CURLM *m = curl_multi_init();
    CURL *e = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/tables/items?select=id&id=eq.2", dbat_port());
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_multi_add_handle(m, e);
    int running = 1;
    /* Wait until the gateway's new lookup is held at the gate (or the safety timer fired). */
    for (int i = 0; i < 400 && atomic_load(&gate_waiting) == 0 && running; i++) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 25, NULL);
    }
    r = dbat_get("/healthz");
    pthread_mutex_lock(&gate_lock);
    bool forced = gate_forced;
    pthread_mutex_unlock(&gate_lock);
    cr_expect_eq(r->status, 200);
    cr_expect(!forced, "/healthz was answered only after the lookup ended: the loop blocked");
    dbat_resp_free(r);
    cr_expect_gt(atomic_load(&gate_lookups), lookups, "the name was not resolved again");

    gate_set(false, false);
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_wait(m, NULL, 0, 100, NULL);
    }
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    cr_expect_eq(code, 200);
    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
}
