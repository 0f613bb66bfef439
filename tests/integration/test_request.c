/* test_request.c - issue 8, "wrong answers on the request path": a no-op PATCH, response GUCs
   with a body, long query strings, NUL bytes, client mistakes that were 500s, UTF-8-safe error
   bodies, CORS and base_path "". */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

/* ---- raw HTTP over a socket: for what libcurl will not send (NUL bytes, huge URLs) ---- */

struct raw_resp {
    int status;     /* status code of the first line, 0 when nothing came back */
    char *text;     /* everything received (NUL-terminated; may hold NULs) */
    size_t len;     /* bytes received */
    char *body;     /* points into text after the blank line, or NULL */
};

/* Sends n bytes on a fresh connection and reads until the server closes it. The request must
   carry "Connection: close". A reset after the answer (the server closing with unread input)
   ends the read too. */
static struct raw_resp
raw_send(const char *req, size_t n)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)dbat_port()) };
    struct raw_resp r = { 0 };
    struct dba_buf b;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert(fd >= 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server answered and closed before reading it all */
        off += (size_t)w;
    }
    dba_buf_init(&b);
    char chunk[65536];
    ssize_t got;
    while ((got = recv(fd, chunk, sizeof(chunk), 0)) > 0)
        dba_buf_append(&b, chunk, (size_t)got);
    close(fd);
    r.len = b.len;
    r.text = dba_buf_take(&b);
    sscanf(r.text, "HTTP/1.1 %d", &r.status);
    char *sep = strstr(r.text, "\r\n\r\n");
    r.body = sep ? sep + 4 : NULL;
    return r;
}

/* Length of header name's value in a raw response, or -1 when absent. */
static long
raw_header_len(const struct raw_resp *r, const char *name)
{
    size_t n = strlen(name);

    for (const char *line = r->text; line && (!r->body || line < r->body);
         line = strstr(line, "\r\n")) {
        if (line[0] == '\r')
            line += 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':')
            return (long)strcspn(line + n + 2, "\r\n");
    }
    return -1;
}

static char *
get_request(const char *path_and_query)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_printf(&b, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path_and_query);
    return dba_buf_take(&b);
}

/* "/tables/items?" followed by "id=gt.0&" repeated to about n bytes of query string. */
static char *
many_params(size_t n)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_puts(&b, "/tables/items?id=gt.0");
    while (b.len - strlen("/tables/items?") + 8 <= n)
        dba_buf_puts(&b, "&id=gt.0");
    return dba_buf_take(&b);
}

/* The error body is PostgREST's JSON shape (jansson refuses invalid UTF-8, so parsing it also
   proves the body is valid UTF-8). */
static void
expect_json_error(const char *body, const char *code)
{
    json_error_t je;
    json_t *o = json_loads(body ? body : "", 0, &je);

    cr_assert(json_is_object(o), "not a JSON error body (%s): %s", je.text, body ? body : "");
    cr_expect(json_is_string(json_object_get(o, "message")), "no message: %s", body);
    cr_expect(json_object_get(o, "details") != NULL && json_object_get(o, "hint") != NULL);
    if (code != NULL)
        cr_expect_str_eq(json_string_value(json_object_get(o, "code")), code);
    json_decref(o);
}

TestSuite(request, .init = dbat_server_start, .fini = dbat_server_stop);

static const char *const json_ct[] = { "Content-Type: application/json", NULL };
static const char *const repr[] = { "Content-Type: application/json",
                                    "Prefer: return=representation", NULL };

/* 1. PATCH {} with a filter was sent with the filter's parameter bound but not used: 08P01,
   answered 503 + Retry-After, so clients retried for ever. PostgREST: a no-op. */
Test(request, patch_empty_body_with_filter_is_a_noop)
{
    struct dbat_resp *r = dbat_req("PATCH", "/tables/items?id=eq.1", json_ct, "{}");
    cr_expect_eq(r->status, 204, "%ld %s", r->status, r->body);
    cr_expect_null(dbat_header(r, "Retry-After"));
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "*/*");
    dbat_resp_free(r);
    r = dbat_req("PATCH", "/tables/items?id=eq.1&name=like.a*", repr, "{}");
    cr_expect_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_expect(dbat_json_eq(r->json, "[]"), "%s", r->body);
    dbat_resp_free(r);
    char *v = dbat_sql("SELECT name FROM items WHERE id = 1");
    cr_expect_str_eq(v, "apple");
    free(v);
}

/* 2. response.headers / response.status set by a trigger were dropped when the response had a
   body: the body took the result over before they were read. */
Test(request, response_gucs_survive_a_body)
{
    free(dbat_sql("CREATE OR REPLACE FUNCTION dbat_guc_trg() RETURNS trigger LANGUAGE plpgsql AS $$"
                  "BEGIN PERFORM set_config('response.headers', "
                  "'[{\"X-Guc\": \"from-trigger\"}]', true);"
                  "PERFORM set_config('response.status', '202', true); RETURN NEW; END $$;"
                  "DROP TRIGGER IF EXISTS dbat_guc ON items;"
                  "CREATE TRIGGER dbat_guc BEFORE INSERT OR UPDATE ON items FOR EACH ROW "
                  "WHEN (NEW.name LIKE 'guc-%') EXECUTE FUNCTION dbat_guc_trg();"));
    struct dbat_resp *r = dbat_req("POST", "/tables/items?select=name", repr,
                                   "{\"name\":\"guc-post\"}");
    cr_expect_eq(r->status, 202, "%ld %s", r->status, r->body);
    cr_expect_str_eq(dbat_header(r, "X-Guc"), "from-trigger");
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"guc-post\"}]"), "%s", r->body);
    dbat_resp_free(r);
    r = dbat_req("PATCH", "/tables/items?id=eq.2&select=id,name", repr, "{\"name\":\"guc-patch\"}");
    cr_expect_eq(r->status, 202, "%ld %s", r->status, r->body);
    cr_expect_str_eq(dbat_header(r, "X-Guc"), "from-trigger");
    cr_expect(dbat_json_eq(r->json, "[{\"id\":2,\"name\":\"guc-patch\"}]"), "%s", r->body);
    dbat_resp_free(r);
    /* Without a body they were applied already; still so. */
    r = dbat_req("POST", "/tables/items", json_ct, "{\"name\":\"guc-minimal\"}");
    cr_expect_eq(r->status, 202, "%ld %s", r->status, r->body);
    cr_expect_str_eq(dbat_header(r, "X-Guc"), "from-trigger");
    dbat_resp_free(r);
    free(dbat_sql("DROP TRIGGER dbat_guc ON items; DROP FUNCTION dbat_guc_trg();"));
    dbat_reset();
}

/* 3. A 7-16 KB query string got an empty reply: MHD's 16 KiB per connection held the request
   line, one record per query parameter and the Content-Location echo. */
Test(request, long_query_strings_are_answered)
{
    /* Up to 8 KiB of short parameters is served (it was an empty reply from 7 KB on). */
    static const size_t sizes[] = { 2 * 1024, 7 * 1024, 8 * 1024 };

    for (size_t i = 0; i < DBA_ARRAY_LEN(sizes); i++) {
        char *path = many_params(sizes[i]);
        char *req = get_request(path);
        struct raw_resp r = raw_send(req, strlen(req));
        cr_expect_eq(r.status, 200, "%zu bytes: status %d, %zu bytes back", sizes[i], r.status,
                     r.len);
        /* The echo is the whole query (sorted), after "/items?", while it is short enough to
           fit the connection's memory; then it is left out. */
        cr_expect_eq(raw_header_len(&r, "Content-Location"),
                     sizes[i] <= 2 * 1024 ? (long)(strlen(path) - strlen("/tables")) : -1L,
                     "%zu bytes", sizes[i]);
        cr_expect(r.body != NULL && r.body[0] == '[', "%zu bytes: no rows", sizes[i]);
        free(r.text);
        free(req);
        free(path);
    }
}

Test(request, too_long_query_string_is_414_json)
{
    char *path = many_params(9 * 1024);
    char *req = get_request(path);
    struct raw_resp r = raw_send(req, strlen(req));
    cr_expect_eq(r.status, 414, "status %d", r.status);
    expect_json_error(r.body, "DBA414");
    free(r.text);
    free(req);
    free(path);

    /* One 12 KB value: the request line still fits the connection's memory, so still our
       JSON. */
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, "/tables/items?name=eq.");
    for (int i = 0; i < 12 * 1024; i++)
        dba_buf_putc(&b, 'x');
    req = get_request(b.data);
    r = raw_send(req, strlen(req));
    cr_expect_eq(r.status, 414, "status %d", r.status);
    expect_json_error(r.body, "DBA414");
    free(r.text);
    free(req);
    dba_buf_cleanup(&b);
}

/* Past the connection's memory MHD answers by itself (414, its own HTML body); that is now
   logged through MHD_OPTION_EXTERNAL_LOGGER instead of vanishing. */
Test(request, mhd_errors_reach_the_log)
{
    char tmpl[] = "/tmp/dbat-log-XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    dba_log_set_level(DBA_LOG_WARN);

    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, "/tables/items?name=eq.");
    for (int i = 0; i < 300 * 1024; i++)
        dba_buf_putc(&b, 'x');
    char *req = get_request(b.data);
    struct raw_resp r = raw_send(req, strlen(req));

    dba_log_set_level(DBA_LOG_ERROR);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_expect_eq(r.status, 414, "status %d", r.status);
    char log[4096] = "";
    ssize_t n = pread(fd, log, sizeof(log) - 1, 0);
    log[n > 0 ? n : 0] = '\0';
    cr_expect(strstr(log, "warn http: ") != NULL, "log: %s", log);
    close(fd);
    unlink(tmpl);
    free(r.text);
    free(req);
    dba_buf_cleanup(&b);
}

/* 4. %00 in the path cut the table name (items%00junk served items); a NUL in a header was
   accepted. */
Test(request, nul_in_path_is_400)
{
    static const char *const paths[] = { "/tables/items%00junk", "/tables/items%00",
                                         "/tables/it%00ems?id=eq.1" };

    for (size_t i = 0; i < DBA_ARRAY_LEN(paths); i++) {
        struct dbat_resp *r = dbat_get(paths[i]);
        cr_expect_eq(r->status, 400, "%s: %ld", paths[i], r->status);
        expect_json_error(r->body, "DBA400");
        dbat_resp_free(r);
    }
}

Test(request, nul_in_header_is_400)
{
    static const char a[] = "GET /tables/items?id=eq.1 HTTP/1.1\r\nHost: t\r\n"
                            "Accept: application/json\0junk\r\nConnection: close\r\n\r\n";
    static const char b[] = "GET /tables/items?id=eq.1 HTTP/1.1\r\nHost: t\r\n"
                            "Connection: close\r\nX-Last: ab\0cd\r\n\r\n";
    static const char ok[] = "GET /tables/items?id=eq.1 HTTP/1.1\nHost: t\n"
                             "Accept: application/json\nConnection: close\n\n";
    struct raw_resp r = raw_send(a, sizeof(a) - 1);
    cr_expect_eq(r.status, 400, "status %d", r.status);
    expect_json_error(r.body, "DBA400");
    free(r.text);
    r = raw_send(b, sizeof(b) - 1);
    cr_expect_eq(r.status, 400, "status %d", r.status);
    expect_json_error(r.body, "DBA400");
    free(r.text);
    r = raw_send(ok, sizeof(ok) - 1); /* bare LF line ends are still fine */
    cr_expect_eq(r.status, 200, "status %d", r.status);
    free(r.text);
}

/* 5. Client mistakes that were 500s. */
Test(request, numeric_fts_config_is_400)
{
    struct dbat_resp *r = dbat_get("/tables/people?email=phfts(30).x");
    cr_expect_eq(r->status, 400, "%ld %s", r->status, r->body);
    expect_json_error(r->body, "PGRST100");
    dbat_resp_free(r);
    r = dbat_get("/tables/people?email=phfts(simple).x");
    cr_expect_eq(r->status, 200, "%ld %s", r->status, r->body);
    dbat_resp_free(r);
}

/* 2,500 steps (7.5 KB: the query-length limit is 8 KiB) where at most 100 are allowed. */
Test(request, deep_json_path_is_400)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_puts(&b, "GET /tables/items?select=meta");
    for (int i = 0; i < 2500; i++)
        dba_buf_puts(&b, "->a");
    dba_buf_puts(&b, " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    struct raw_resp r = raw_send(b.data, b.len);
    cr_expect_eq(r.status, 400, "status %d: %s", r.status, r.body ? r.body : "");
    expect_json_error(r.body, "PGRST100");
    free(r.text);
    dba_buf_cleanup(&b);
}

/* 6. An error message quoting invalid UTF-8 lost "message" (jansson refused the string). */
Test(request, error_bodies_are_valid_utf8)
{
    static const char *const paths[] = { "/tables/items?select=na%FFme", "/tables/items?na%C3me=eq.1",
                                         "/tables/items?order=%ED%A0%80" };

    for (size_t i = 0; i < DBA_ARRAY_LEN(paths); i++) {
        struct dbat_resp *r = dbat_get(paths[i]);
        cr_expect_eq(r->status / 100, 4, "%s: %ld", paths[i], r->status);
        expect_json_error(r->body, NULL);
        /* The bad byte became U+FFFD. */
        cr_expect(strstr(r->body, "\xef\xbf\xbd") != NULL, "%s: %s", paths[i], r->body);
        dbat_resp_free(r);
    }
}

/* 7. CORS. Default "*": any origin gets "*" and never credentials. */
Test(request, cors_any_origin_is_star_without_credentials)
{
    const char *h[] = { "Origin: http://evil.example", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?id=eq.1", h, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Access-Control-Allow-Origin"), "*");
    cr_expect_null(dbat_header(r, "Access-Control-Allow-Credentials"));
    const char *exp = dbat_header(r, "Access-Control-Expose-Headers");
    cr_expect(exp != NULL && strstr(exp, "Content-Range") != NULL &&
              strstr(exp, "X-Db-Lsn") != NULL, "%s", exp ? exp : "(none)");
    dbat_resp_free(r);
    const char *pre[] = { "Origin: http://evil.example", "Access-Control-Request-Method: POST",
                          NULL };
    r = dbat_req("OPTIONS", "/tables/items", pre, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Access-Control-Allow-Origin"), "*");
    cr_expect_null(dbat_header(r, "Access-Control-Allow-Credentials"));
    dbat_resp_free(r);
}

static void
start_cors_list(void)
{
    dbat_server_start_with("cors_allowed_origins = [ \"http://a.example\", \"http://b.example\" ];",
                           NULL);
}

TestSuite(request_cors_list, .init = start_cors_list, .fini = dbat_server_stop);

/* A list: only a listed origin is echoed (with credentials, as PostgREST does), and every answer
   says it varies by Origin. */
Test(request_cors_list, only_listed_origins_are_echoed)
{
    const char *ok[] = { "Origin: http://b.example", NULL };
    struct dbat_resp *r = dbat_req("GET", "/tables/items?id=eq.1", ok, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Access-Control-Allow-Origin"), "http://b.example");
    cr_expect_str_eq(dbat_header(r, "Access-Control-Allow-Credentials"), "true");
    cr_expect_str_eq(dbat_header(r, "Vary"), "Origin");
    dbat_resp_free(r);
    const char *bad[] = { "Origin: http://evil.example", NULL };
    r = dbat_req("GET", "/tables/items?id=eq.1", bad, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_null(dbat_header(r, "Access-Control-Allow-Origin"));
    cr_expect_null(dbat_header(r, "Access-Control-Allow-Credentials"));
    cr_expect_str_eq(dbat_header(r, "Vary"), "Origin");
    dbat_resp_free(r);
    const char *pre[] = { "Origin: http://a.example", "Access-Control-Request-Method: POST", NULL };
    r = dbat_req("OPTIONS", "/tables/items", pre, NULL);
    cr_expect_str_eq(dbat_header(r, "Access-Control-Allow-Origin"), "http://a.example");
    cr_expect_str_eq(dbat_header(r, "Vary"), "Origin");
    dbat_resp_free(r);
}

static void
start_cors_empty_entry(void)
{
    dbat_server_start_with("cors_allowed_origins = [ \"\" ];", NULL);
}

TestSuite(request_cors_empty, .init = start_cors_empty_entry, .fini = dbat_server_stop);

/* An empty entry means any origin (PostgREST conformance case 1703). */
Test(request_cors_empty, empty_entry_means_any_origin)
{
    const char *pre[] = { "Origin: http://anyorigin.com", "Access-Control-Request-Method: POST",
                          "Access-Control-Request-Headers: Content-Type", NULL };
    struct dbat_resp *r = dbat_req("OPTIONS", "/tables/items", pre, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Access-Control-Allow-Origin"), "*");
    cr_expect_null(dbat_header(r, "Access-Control-Allow-Credentials"));
    dbat_resp_free(r);
}

static void
start_root(void)
{
    dbat_server_start_with("base_path = \"\";", NULL);
}

TestSuite(request_root, .init = start_root, .fini = dbat_server_stop);

/* 8. base_path "" (the API at the root) made /healthz, /readyz and /metrics 404. */
Test(request_root, ops_and_tables_at_the_root)
{
    static const char *const ops[] = { "/healthz", "/readyz", "/metrics" };

    for (size_t i = 0; i < DBA_ARRAY_LEN(ops); i++) {
        struct dbat_resp *r = dbat_admin_get(ops[i]); /* /metrics is an operator route */
        cr_expect_eq(r->status, 200, "%s: %ld %s", ops[i], r->status, r->body);
        dbat_resp_free(r);
    }
    struct dbat_resp *r = dbat_get("/items?id=eq.1&select=name");
    cr_expect_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"name\":\"apple\"}]"), "%s", r->body);
    dbat_resp_free(r);
    r = dbat_get("/no_such_table");
    cr_expect_eq(r->status, 404);
    dbat_resp_free(r);
}
