/* test_pipeline.c - a transaction per request: server.tx_end, Prefer: tx=commit|rollback and
   Preference-Applied, the settings sent in the request's transaction. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

static const char *const rollback_repr[] = { "Content-Type: application/json",
                                             "Prefer: tx=rollback, return=representation", NULL };
static const char *const commit_repr[] = { "Content-Type: application/json",
                                           "Prefer: tx=commit, return=representation", NULL };

/* A table with a deferred self reference: its violations only show at COMMIT, or when
   SET CONSTRAINTS ALL IMMEDIATE runs before a rollback. */
static void
tx_tables(void)
{
    free(dbat_sql("DROP TABLE IF EXISTS tx_deferred"));
    free(dbat_sql("CREATE TABLE tx_deferred (id int PRIMARY KEY, ref int REFERENCES tx_deferred "
                  "(id) DEFERRABLE INITIALLY DEFERRED)"));
}

static long
count_items(const char *name)
{
    char sql[256];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM items WHERE name = '%s'", name);
    char *v = dbat_sql(sql);
    long n = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return n;
}

static void
start_commit_override(void)
{
    tx_tables();
    dbat_server_start_with("tx_end = \"commit-allow-override\";", NULL);
}

static void
start_rollback_override(void)
{
    dbat_server_start_with("tx_end = \"rollback-allow-override\";", NULL);
}

static void
start_rollback(void)
{
    dbat_server_start_with("tx_end = \"rollback\";", NULL);
}

TestSuite(tx_override, .init = start_commit_override, .fini = dbat_server_stop);
TestSuite(tx_commit_only, .init = dbat_server_start, .fini = dbat_server_stop);
TestSuite(tx_rollback_override, .init = start_rollback_override, .fini = dbat_server_stop);
TestSuite(tx_rollback_only, .init = start_rollback, .fini = dbat_server_stop);

/* postgrest-js .rollback(): the client sees the representation, the table is unchanged. */
Test(tx_override, post_rollback_answers_and_leaves_the_table_unchanged)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name,qty", rollback_repr,
                                   "{\"name\":\"tx-rb\",\"qty\":7}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"tx-rb\",\"qty\":7}]"), "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation, tx=rollback");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-rb"), 0);
}

Test(tx_override, patch_and_delete_rollback_leave_rows)
{
    dbat_reset();
    struct dbat_resp *r = dbat_req("PATCH", "/tables/items?id=eq.1&select=qty", rollback_repr,
                                   "{\"qty\":4242}");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"qty\":4242}]"), "%s", r->body);
    dbat_resp_free(r);
    char *v = dbat_sql("SELECT qty FROM items WHERE id = 1");
    cr_expect_str_neq(v, "4242");
    free(v);
    r = dbat_req("DELETE", "/tables/items?id=eq.1&select=id", rollback_repr, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"id\":1}]"), "%s", r->body);
    dbat_resp_free(r);
    v = dbat_sql("SELECT count(*) FROM items WHERE id = 1");
    cr_expect_str_eq(v, "1");
    free(v);
}

Test(tx_override, commit_and_no_preference_commit)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", commit_repr,
                                   "{\"name\":\"tx-commit\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation, tx=commit");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-commit"), 1);
    const char *h[] = { "Content-Type: application/json", NULL };
    r = dbat_req("POST", "/tables/items", h, "{\"name\":\"tx-plain\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_null(dbat_header(r, "Preference-Applied"));
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-plain"), 1);
}

Test(tx_override, read_reports_tx_in_order)
{
    const char *h[] = { "Prefer: count=exact, tx=rollback, timezone=UTC", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?select=id&id=eq.1", h, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"),
                     "count=exact, tx=rollback, timezone=UTC");
    dbat_resp_free(r);
}

/* The time zone is a setting of the request's transaction: it shapes the answer and is gone
   afterwards, whichever way the transaction ends. */
Test(tx_override, timezone_setting_lives_in_the_transaction)
{
    dbat_reset();
    const char *h[] = { "Content-Type: application/json",
                        "Prefer: tx=rollback, return=representation, timezone=Asia/Tokyo", NULL };
    struct dbat_resp *r = dbat_req("PATCH", "/tables/items?id=eq.1&select=created_at", h,
                                   "{\"created_at\":\"2024-01-01T00:00:00+00:00\"}");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(r->body, "2024-01-01T09:00:00+09:00") != NULL, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=created_at&id=eq.1");
    cr_expect(strstr(r->body, "+09:00") == NULL, "%s", r->body);
    dbat_resp_free(r);
}

/* As PostgREST: SET CONSTRAINTS ALL IMMEDIATE before the rollback, so a deferred violation still
   reaches the client instead of vanishing with the rollback. */
Test(tx_override, deferred_violation_surfaces_on_rollback)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/tx_deferred", rollback_repr,
                                   "{\"id\":1,\"ref\":99}");
    cr_expect_eq(r->status, 409, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "23503");
    dbat_resp_free(r);
    r = dbat_req("POST", "/tables/tx_deferred", commit_repr, "{\"id\":2,\"ref\":99}");
    cr_expect_eq(r->status, 409, "%s", r->body); /* raised by COMMIT */
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "23503");
    dbat_resp_free(r);
    char *v = dbat_sql("SELECT count(*) FROM tx_deferred");
    cr_expect_str_eq(v, "0");
    free(v);
    /* The connection is clean afterwards: the next request works. */
    r = dbat_req("POST", "/tables/tx_deferred", commit_repr, "{\"id\":3,\"ref\":3}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    dbat_resp_free(r);
}

/* The default mode: the preference is a valid token but ignored, as PostgREST's db-tx-end. */
Test(tx_commit_only, rollback_preference_is_ignored)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", rollback_repr,
                                   "{\"name\":\"tx-ignored\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-ignored"), 1);
    const char *strict[] = { "Prefer: handling=strict, tx=rollback", NULL };
    r = dbat_req("GET", "/tables/items?select=id&id=eq.1", strict, NULL);
    cr_expect_eq(r->status, 200, "%s", r->body); /* still a valid token under strict handling */
    dbat_resp_free(r);
}

Test(tx_rollback_override, default_rolls_back_and_commit_overrides)
{
    const char *h[] = { "Content-Type: application/json", "Prefer: return=representation", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", h,
                                   "{\"name\":\"tx-default-rb\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-default-rb"), 0);
    r = dbat_req("POST", "/tables/items?select=name", commit_repr, "{\"name\":\"tx-over\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation, tx=commit");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-over"), 1);
}

Test(tx_rollback_only, commit_preference_is_ignored)
{
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", commit_repr,
                                   "{\"name\":\"tx-never\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "return=representation");
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-never"), 0);
}

/* ---- the policy step: one order of checks for every route ---- */

#define POLICY_TOKEN "pipeline-policy-token"

static void
start_read_only_with_token(void)
{
    setenv("DB_ADAPTER_ADMIN_TOKEN", POLICY_TOKEN, 1);
    dbat_server_start_with(NULL, "read_only = true;");
}

static void
stop_and_unset(void)
{
    dbat_server_stop();
    unsetenv("DB_ADAPTER_ADMIN_TOKEN");
}

TestSuite(policy, .init = start_read_only_with_token, .fini = stop_and_unset);

/* Who the caller is comes first (401 without the token), then whether the profile may be
   written (403), for the operator routes alike; table writes keep their 405. */
Test(policy, caller_then_read_only_for_every_write_route)
{
    static const char *const paths[] = { "/restore", "/sync?from=test&confirm=true",
                                         "/schema/fix?confirm=true" };
    const char *auth[] = { "Authorization: Bearer " POLICY_TOKEN, NULL };
    const char *wrong[] = { "Authorization: Bearer nope", NULL };

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct dbat_resp *r = dbat_req("POST", paths[i], wrong, "{}");
        cr_expect_eq(r->status, 401, "%s: %s", paths[i], r->body);
        cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "DBA401");
        dbat_resp_free(r);
        r = dbat_req("POST", paths[i], auth, "{}");
        cr_expect_eq(r->status, 403, "%s: %s", paths[i], r->body);
        const char *m = json_string_value(json_object_get(r->json, "message"));
        cr_expect(m != NULL && strstr(m, "read_only") != NULL, "%s", r->body);
        dbat_resp_free(r);
    }
    const char *h[] = { "Content-Type: application/json", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items", h, "{\"name\":\"ro\"}");
    cr_expect_eq(r->status, 405, "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/tables/items?select=id&id=eq.1");
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
}

/* ---- log lines carry the request id and the profile ---- */

static void
start_traced(void)
{
    dbat_server_start_with("trace_header = \"X-Request-Id\";", NULL);
}

TestSuite(req_log, .init = start_traced, .fini = dbat_server_stop);

/* Reads what the gateway logged at debug level while `path` was requested with `headers`. */
static char *
logged_for(const char *path, const char *const *headers)
{
    char tmpl[] = "/tmp/dbat-log-XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    dba_log_set_level(DBA_LOG_DEBUG);
    struct dbat_resp *r = dbat_req("GET", path, headers, NULL);
    dba_log_set_level(DBA_LOG_ERROR);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    char *log = calloc(1, 8192);
    ssize_t n = pread(fd, log, 8191, 0);
    log[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(tmpl);
    return log;
}

Test(req_log, lines_carry_request_id_and_profile)
{
    const char *h[] = { "X-Request-Id: trace-abc-123", NULL };
    char *log = logged_for("/tables/items?select=id&id=eq.1", h);
    cr_expect(strstr(log, "req trace-abc-123 profile test: GET /tables/items -> 200") != NULL,
              "log: %s", log);
    free(log);
    /* Without the trace header: <worker>.<number on that worker>. */
    log = logged_for("/healthz", NULL);
    const char *p = strstr(log, "req ");
    cr_expect(p != NULL && strstr(p, " profile test: GET /healthz -> 200") != NULL, "log: %s", log);
    cr_expect(p != NULL && p[4] >= '0' && p[4] <= '9' && strchr(p, '.') != NULL, "log: %s", log);
    free(log);
}

/* ---- one round trip per request: a relay between the gateway and PostgreSQL counts turns ---- */

#define RELAY_MAX 16

/* A Unix-socket relay in front of the test server. On the gateway's pool connections
   (application_name "db-adapter pool" in the startup packet) it counts turns: a turn is the
   client sending after PostgreSQL has answered, so a pipeline sent in several writes before any
   answer is one turn, and a second round trip for the same request would be a second turn. It
   also counts the statements run (Execute messages) and notes whether the pool's startup packet
   carried `options`. */
struct relay {
    char dir[64];                 /* socket directory (the gateway's host=) */
    char upstream[256];           /* the test server's socket path */
    int lfd;                      /* listening socket */
    int n;                        /* pairs in use */
    int cfd[RELAY_MAX];           /* client side (the gateway) */
    int sfd[RELAY_MAX];           /* server side (PostgreSQL) */
    bool pool[RELAY_MAX];         /* a pool connection: its turns are counted */
    bool seen_start[RELAY_MAX];   /* the startup packet was read */
    bool answered[RELAY_MAX];     /* the server sent since the client's last send */
    unsigned char hdr[RELAY_MAX][5]; /* a client message's type and length, as far as read */
    int hdr_n[RELAY_MAX];         /* bytes of hdr read */
    long skip[RELAY_MAX];         /* bytes of the current message's body still to pass */
    atomic_long turns;            /* counted turns */
    atomic_long executes;         /* Execute messages on pool connections */
    atomic_bool startup_options;  /* a pool connection's startup packet had an `options` key */
    atomic_bool startup_timeout;  /* ... carrying statement_timeout */
    atomic_bool stop;             /* asked to stop */
    pthread_t thread;             /* the relay loop */
};

static struct relay relay;

static int
unix_connect(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (strlen(path) >= sizeof(a.sun_path)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
relay_close(struct relay *rl, int i)
{
    close(rl->cfd[i]);
    close(rl->sfd[i]);
    rl->n--;
    rl->cfd[i] = rl->cfd[rl->n];
    rl->sfd[i] = rl->sfd[rl->n];
    rl->pool[i] = rl->pool[rl->n];
    rl->seen_start[i] = rl->seen_start[rl->n];
    rl->answered[i] = rl->answered[rl->n];
    memcpy(rl->hdr[i], rl->hdr[rl->n], sizeof(rl->hdr[i]));
    rl->hdr_n[i] = rl->hdr_n[rl->n];
    rl->skip[i] = rl->skip[rl->n];
}

/* Walks the client's messages (type byte, 4-byte length including itself, body) across reads
   and counts the Execute ('E') ones. */
static void
relay_count(struct relay *rl, int i, const unsigned char *buf, ssize_t n)
{
    for (ssize_t off = 0; off < n;) {
        if (rl->skip[i] > 0) {
            long k = n - off < rl->skip[i] ? (long)(n - off) : rl->skip[i];
            rl->skip[i] -= k;
            off += k;
            continue;
        }
        rl->hdr[i][rl->hdr_n[i]++] = buf[off++];
        if (rl->hdr_n[i] < 5)
            continue;
        const unsigned char *h = rl->hdr[i];
        if (h[0] == 'E')
            atomic_fetch_add(&rl->executes, 1);
        rl->skip[i] = (long)(((unsigned long)h[1] << 24 | (unsigned long)h[2] << 16 |
                              (unsigned long)h[3] << 8 | h[4]) - 4);
        rl->hdr_n[i] = 0;
    }
}

/* Moves what fd `from` has to `to`; false when either side is closed. */
static bool
relay_move(struct relay *rl, int i, bool from_client)
{
    char buf[65536];
    ssize_t n = read(from_client ? rl->cfd[i] : rl->sfd[i], buf, sizeof(buf));

    if (n <= 0)
        return false;
    if (from_client) {
        if (!rl->seen_start[i]) {
            rl->seen_start[i] = true;
            rl->pool[i] = memmem(buf, (size_t)n, "db-adapter pool", 15) != NULL;
            if (rl->pool[i] && memmem(buf, (size_t)n, "options", 8) != NULL)
                atomic_store(&rl->startup_options, true);
            if (rl->pool[i] && memmem(buf, (size_t)n, "statement_timeout=", 18) != NULL)
                atomic_store(&rl->startup_timeout, true);
        } else if (rl->pool[i]) {
            if (rl->answered[i])
                atomic_fetch_add(&rl->turns, 1);
            relay_count(rl, i, (const unsigned char *)buf, n);
        }
        rl->answered[i] = false;
    } else {
        rl->answered[i] = true;
    }
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(from_client ? rl->sfd[i] : rl->cfd[i], buf + off, (size_t)(n - off));
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

static void *
relay_main(void *arg)
{
    struct relay *rl = arg;

    while (!atomic_load(&rl->stop)) {
        struct pollfd p[1 + 2 * RELAY_MAX];
        p[0] = (struct pollfd){ .fd = rl->lfd, .events = POLLIN };
        for (int i = 0; i < rl->n; i++) {
            p[1 + 2 * i] = (struct pollfd){ .fd = rl->cfd[i], .events = POLLIN };
            p[2 + 2 * i] = (struct pollfd){ .fd = rl->sfd[i], .events = POLLIN };
        }
        if (poll(p, (nfds_t)(1 + 2 * rl->n), 50) <= 0)
            continue;
        for (int i = rl->n - 1; i >= 0; i--) {
            bool ok = true;
            if (p[1 + 2 * i].revents != 0)
                ok = relay_move(rl, i, true);
            if (ok && p[2 + 2 * i].revents != 0)
                ok = relay_move(rl, i, false);
            if (!ok)
                relay_close(rl, i);
        }
        if ((p[0].revents & POLLIN) != 0 && rl->n < RELAY_MAX) {
            int c = accept(rl->lfd, NULL, NULL);
            int s = c >= 0 ? unix_connect(rl->upstream) : -1;
            if (s >= 0) {
                rl->cfd[rl->n] = c;
                rl->sfd[rl->n] = s;
                rl->pool[rl->n] = rl->seen_start[rl->n] = rl->answered[rl->n] = false;
                rl->hdr_n[rl->n] = 0;
                rl->skip[rl->n] = 0;
                rl->n++;
            } else if (c >= 0) {
                close(c);
            }
        }
    }
    while (rl->n > 0)
        relay_close(rl, 0);
    return NULL;
}

/* host=<dir of the test server's socket> from DBA_TEST_DATABASE_URL. */
static void
relay_upstream(char *out, size_t n)
{
    const char *url = getenv("DBA_TEST_DATABASE_URL");
    const char *h = url ? strstr(url, "host=") : NULL;

    cr_assert_not_null(h, "DBA_TEST_DATABASE_URL has no host=");
    h += 5;
    snprintf(out, n, "%.*s/.s.PGSQL.5432", (int)strcspn(h, "&"), h);
}

/* Starts the relay and the gateway behind it (config lines as for dbat_server_start_full). */
static void
relay_start_with(const char *profile_extra, const char *schemas, const char *top_extra)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    static char url[256]; /* the harness keeps the pointer while the server runs */

    memset(&relay, 0, sizeof(relay));
    snprintf(relay.dir, sizeof(relay.dir), "/tmp/dbat-relay-XXXXXX");
    cr_assert_not_null(mkdtemp(relay.dir));
    relay_upstream(relay.upstream, sizeof(relay.upstream));
    relay.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/.s.PGSQL.5432", relay.dir);
    cr_assert_eq(bind(relay.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(relay.lfd, 16), 0);
    cr_assert_eq(pthread_create(&relay.thread, NULL, relay_main, &relay), 0);
    snprintf(url, sizeof(url), "postgresql:///dba_test?host=%s&user=postgres", relay.dir);
    dbat_server_start_full(url, "tx_end = \"commit-allow-override\";", profile_extra, schemas,
                           top_extra);
}

static void
relay_start(void)
{
    relay_start_with("pool_size = 1;", "\"public\"", NULL);
}

static void
relay_stop(void)
{
    char path[128];

    dbat_server_stop();
    atomic_store(&relay.stop, true);
    pthread_join(relay.thread, NULL);
    close(relay.lfd);
    snprintf(path, sizeof(path), "%s/.s.PGSQL.5432", relay.dir);
    unlink(path);
    rmdir(relay.dir);
}

/* Each test names its own init: Criterion runs a suite's .init AND a test's .init, and two relay
   starts would reset the relay under its running thread. */
TestSuite(round_trips, .fini = relay_stop);

/* Every kind of request - a plain read, a read with a setting, writes in BEGIN ... COMMIT, a
   rollback with SET CONSTRAINTS - costs exactly one turn between the gateway and PostgreSQL,
   including the first time a statement is prepared on the connection. */
Test(round_trips, one_turn_per_request, .init = relay_start)
{
    static const struct {
        const char *method, *path, *prefer, *body;
        long status;
    } reqs[] = {
        { "GET", "/tables/items?select=id&id=eq.1", NULL, NULL, 200 },
        { "GET", "/tables/items?select=id&id=eq.2", "Prefer: timezone=Asia/Tokyo", NULL, 200 },
        { "POST", "/tables/items", "Prefer: return=representation", "{\"name\":\"rt1\"}", 201 },
        { "PATCH", "/tables/items?name=eq.rt1", "Prefer: tx=rollback", "{\"qty\":1}", 204 },
        { "DELETE", "/tables/items?name=eq.rt1", "Prefer: tx=commit", NULL, 204 },
        { "GET", "/tables/items?select=name&limit=2", "Prefer: count=exact", NULL, 206 },
    };
    /* Warm up: the pool's connection is opened (startup and settings are not requests). */
    struct dbat_resp *r = dbat_get("/tables/items?select=id&limit=1");
    cr_assert_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    for (int round = 0; round < 2; round++) { /* the first round also prepares statements */
        for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
            const char *h[] = { "Content-Type: application/json", reqs[i].prefer, NULL };
            long before = atomic_load(&relay.turns);
            r = dbat_req(reqs[i].method, reqs[i].path, h, reqs[i].body);
            cr_expect_eq(r->status, reqs[i].status, "%s %s: %s", reqs[i].method, reqs[i].path,
                         r->body);
            dbat_resp_free(r);
            long turns = atomic_load(&relay.turns) - before;
            cr_expect_eq(turns, 1, "%s %s (round %d): %ld round trips", reqs[i].method,
                         reqs[i].path, round, turns);
        }
    }
}

/* Statements (Execute messages) and turns one request costs through the relay. */
static void
relay_expect(const char *path, long status, long executes, const char *what)
{
    long e0 = atomic_load(&relay.executes), t0 = atomic_load(&relay.turns);
    struct dbat_resp *r = dbat_get(path);
    cr_expect_eq(r->status, status, "%s: %s", path, r->body);
    dbat_resp_free(r);
    long e = atomic_load(&relay.executes) - e0, t = atomic_load(&relay.turns) - t0;
    cr_expect_eq(e, executes, "%s: %ld statements, expected %ld (%s)", path, e, executes, what);
    cr_expect_eq(t, 1, "%s: %ld round trips", path, t);
}

static void
relay_warm_up(void)
{
    struct dbat_resp *r = dbat_get("/tables/items?select=id&limit=1");
    cr_assert_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
}

/* A direct profile (prepared_statements = true, the default) sends statement_timeout as a
   startup option, so a plain read stays one statement on the wire. */
Test(round_trips, direct_plain_read_is_one_statement, .init = relay_start)
{
    relay_warm_up();
    cr_expect(atomic_load(&relay.startup_timeout), "no statement_timeout in the startup packet");
    for (int round = 0; round < 2; round++)
        relay_expect("/tables/items?select=id&id=eq.1", 200, 1, "direct: the read alone");
}

static void
relay_start_pooled(void)
{
    relay_start_with("pool_size = 1; prepared_statements = false; statement_timeout_ms = 400;",
                     "\"public\"", NULL);
}

/* As behind PgBouncer (prepared_statements = false): no startup options; the plain read carries
   set_config('statement_timeout') in the same pipeline (two statements, one round trip), and
   PostgreSQL's own timeout fires. */
Test(round_trips, pooled_plain_read_sets_the_timeout_in_its_unit, .init = relay_start_pooled)
{
    relay_warm_up();
    cr_expect_not(atomic_load(&relay.startup_options), "startup options sent to a pooler");
    relay_expect("/tables/items?select=id&id=eq.1", 200, 2, "set_config + the read");
    struct dbat_resp *r = dbat_get("/tables/slow");
    cr_expect_eq(r->status, 504, "%s", r->body);
    cr_expect(strstr(r->body, "statement timeout") != NULL, "%s", r->body);
    dbat_resp_free(r);
}

static void
relay_start_pooled_auth(void)
{
    relay_start_with("pool_size = 1; prepared_statements = false; statement_timeout_ms = 400;",
                     "\"public\"", "auth: { jwt_secret = \"relay-test-secret-at-least-32-bytes\"; "
                                  "anon_role = \"postgres\"; };");
}

/* With an auth group the timeout is folded into the identity statement: BEGIN READ ONLY, the
   identity (with statement_timeout), the read, COMMIT - no statement more than a direct
   profile's, and the timeout still fires. */
Test(round_trips, pooled_auth_folds_the_timeout_into_the_identity, .init = relay_start_pooled_auth)
{
    relay_warm_up();
    cr_expect_not(atomic_load(&relay.startup_options), "startup options sent to a pooler");
    relay_expect("/tables/items?select=id&id=eq.1", 200, 4, "BEGIN, identity, read, COMMIT");
    struct dbat_resp *r = dbat_get("/tables/slow");
    cr_expect_eq(r->status, 504, "%s", r->body);
    cr_expect(strstr(r->body, "statement timeout") != NULL, "%s", r->body);
    dbat_resp_free(r);
}

/* An unknown tx value is an unknown preference: ignored (the default end, commit), not reported,
   never a 5xx; with handling=strict it is refused (PGRST122) and nothing is written. */
Test(tx_override, unknown_tx_value_is_ignored_or_refused_when_strict)
{
    const char *h[] = { "Content-Type: application/json", "Prefer: tx=bogus", NULL };
    struct dbat_resp *r = dbat_req("POST", "/tables/items", h, "{\"name\":\"tx-bogus\"}");
    cr_expect_eq(r->status, 201, "%s", r->body);
    cr_expect_null(dbat_header(r, "Preference-Applied"));
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-bogus"), 1);
    const char *strict[] = { "Content-Type: application/json", "Prefer: handling=strict, tx=bogus",
                             NULL };
    r = dbat_req("POST", "/tables/items", strict, "{\"name\":\"tx-bogus-strict\"}");
    cr_expect_eq(r->status, 400, "%s", r->body);
    cr_expect(dbat_json_eq(json_object_get(r->json, "code"), "\"PGRST122\""), "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(count_items("tx-bogus-strict"), 0);
}

/* count=planned with filters answers the planner's estimate, from an EXPLAIN sent in the same
   unit (one round trip): column v has no statistics, so `v = 1` is estimated at PostgreSQL's
   default selectivity (0.5% of 1000 rows: 5) while all 1000 rows match. */
Test(tx_override, count_planned_with_filters_is_the_planners_estimate)
{
    free(dbat_sql("DROP TABLE IF EXISTS plan_rows"));
    free(dbat_sql("CREATE TABLE plan_rows AS SELECT g AS id, 1 AS v FROM generate_series(1, 1000) "
                  "g"));
    free(dbat_sql("ALTER TABLE plan_rows ALTER COLUMN v SET STATISTICS 0"));
    free(dbat_sql("ANALYZE plan_rows"));
    free(dbat_sql("NOTIFY pgrst, 'reload schema'"));
    const char *h[] = { "Prefer: count=planned", NULL };
    struct dbat_resp *r = NULL;
    for (int i = 0; i < 100; i++) { /* the cache reloads in the background */
        dbat_resp_free(r);
        r = dbat_req("GET", "/tables/plan_rows?select=id&v=eq.1&limit=2&order=id", h, NULL);
        if (r->status != 404)
            break;
        usleep(50000);
    }
    cr_expect_eq(r->status, 206, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-1/5");
    cr_expect(dbat_json_eq(r->json, "[{\"id\":1},{\"id\":2}]"), "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "count=planned");
    dbat_resp_free(r);
    /* exact counts all the rows; planned without a filter is the table's row count */
    const char *hx[] = { "Prefer: count=exact", NULL };
    r = dbat_req("GET", "/tables/plan_rows?select=id&v=eq.1&limit=2", hx, NULL);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-1/1000");
    dbat_resp_free(r);
    r = dbat_req("GET", "/tables/plan_rows?select=id&limit=2", h, NULL);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-1/1000");
    dbat_resp_free(r);
    free(dbat_sql("DROP TABLE plan_rows"));
}
