/* test_backup_streams.c - GET /backup compressed (compress=gzip, Accept-Encoding: gzip), and
   POST /restore and POST /backup/validate bodies spooled as they arrive: the jsonl form
   (application/x-ndjson), gzip-encoded bodies, corrupt gzip, the body limit on the bytes received
   and on the bytes decompressed, and backup.max_restore_bytes. Databases of their own
   (dba_bs_src seeded, dba_bs_dst empty: tests/fixtures/backup.sql), made for each test; the
   gateway serves dba_bs_dst. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core.h"
#include "harness.h"

#define TOKEN "dbat-streams-token"
#define AUTH "Authorization: Bearer " TOKEN
#define LIMIT 20000 /* server.max_body_bytes of the limit suites */

static char dir[64];


/* Starts the gateway on dba_bs_dst with extra server lines and top-level groups. */
static void
start(const char *server_extra, const char *top_extra)
{
    char url[700];
    setenv("DB_ADAPTER_ADMIN_TOKEN", TOKEN, 1);
    snprintf(dir, sizeof(dir), "/tmp/dbat-bs-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    dbat_backup_db("dba_bs_src", true);
    dbat_backup_db("dba_bs_dst", false);
    snprintf(url, sizeof(url), "postgresql:///dba_bs_dst?host=%s&user=postgres", dbat_pg_sock());
    dbat_server_start_full(url, server_extra, NULL, NULL, top_extra);
}

static void
setup(void)
{
    start(NULL, NULL);
}

static void
setup_limit(void)
{
    char extra[64];
    snprintf(extra, sizeof(extra), "max_body_bytes = %d;", LIMIT);
    start(extra, NULL);
}

static void
setup_raised(void)
{
    char extra[64];
    snprintf(extra, sizeof(extra), "max_body_bytes = %d;", LIMIT);
    start(extra, "backup: { max_restore_bytes = 1000000; };");
}

static void
teardown(void)
{
    dbat_server_stop();
    dbat_sh("rm -rf %s", dir);
    dbat_sh("psql -X -q -h %s -U postgres -d postgres -c 'DROP DATABASE IF EXISTS dba_bs_src WITH "
       "(FORCE)' -c 'DROP DATABASE IF EXISTS dba_bs_dst WITH (FORCE)' >/dev/null 2>&1", dbat_pg_sock());
}

TestSuite(backup_streams, .init = setup, .fini = teardown);
TestSuite(backup_streams_limit, .init = setup_limit, .fini = teardown);
TestSuite(backup_streams_raised, .init = setup_raised, .fini = teardown);

/* ---- helpers ---- */

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    dba_buf_append(arg, p, size * n);
    return size * n;
}

/* A request with a body of any bytes (the harness's takes a C string). */
static struct dbat_resp *
req(const char *method, const char *path, const char *const *headers, const char *body,
    size_t len)
{
    struct dbat_resp *r = calloc(1, sizeof(*r));
    struct dba_buf hb, bb;
    char url[2048];
    struct curl_slist *hl = curl_slist_append(NULL, AUTH);
    CURL *c = curl_easy_init();

    dba_buf_init(&hb);
    dba_buf_init(&bb);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", dbat_port(), path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bb);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    dba_buf_putc(&hb, '\0');
    dba_buf_putc(&bb, '\0');
    r->headers = dba_buf_take(&hb);
    r->body_len = bb.len - 1;
    r->body = dba_buf_take(&bb);
    r->json = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, NULL);
    return r;
}

/* gzip-compressed copy of p[0..n) (one member), new heap buffer of *out bytes. */
static char *
gz(const char *p, size_t n, size_t *out)
{
    z_stream z = { 0 };
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    char *buf = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out = cap - z.avail_out;
    deflateEnd(&z);
    return buf;
}

/* Decompressed copy of a gzip stream (NUL-terminated), or NULL when it is not one. */
static char *
gunzip(const char *p, size_t n, size_t *out)
{
    z_stream z = { 0 };
    struct dba_buf b;
    char chunk[16384];
    int rc;
    cr_assert_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    dba_buf_init(&b);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    do {
        z.next_out = (Bytef *)chunk;
        z.avail_out = sizeof(chunk);
        rc = inflate(&z, Z_NO_FLUSH);
        dba_buf_append(&b, chunk, sizeof(chunk) - z.avail_out);
    } while (rc == Z_OK);
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        dba_buf_cleanup(&b);
        return NULL;
    }
    *out = b.len;
    dba_buf_putc(&b, '\0');
    return dba_buf_take(&b);
}

static char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "%s", path);
    struct dba_buf b;
    char chunk[4096];
    size_t n;
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dba_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    dba_buf_putc(&b, '\0');
    return dba_buf_take(&b);
}

/* A backup of dba_bs_src written by the CLI (format json or jsonl). */
static char *
src_backup(const char *format, size_t *len)
{
    char env[700], args[128], path[128], *out;
    snprintf(env, sizeof(env), "DATABASE_URL='postgresql:///dba_bs_src?host=%s&user=postgres'",
             dbat_pg_sock());
    snprintf(args, sizeof(args), "backup -o b.%s --format %s", format, format);
    int rc = dbat_cli(dir, env, args, &out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    snprintf(path, sizeof(path), "%s/b.%s", dir, format);
    return read_all(path, len);
}

/* Content of a database independent of its keys. */
#define FINGERPRINT \
    "SELECT coalesce(string_agg(concat_ws('|', c.slug, c.user_id, c.name, c.meta::text, p.slug, " \
    "p.price::text, p.tags::text, p.meta::text, r.slug, fc.slug, r.score::text, r.body), ';' " \
    "ORDER BY c.slug, p.slug, r.slug), '') FROM categories c JOIN products p ON p.category_id = " \
    "c.id LEFT JOIN reviews r ON r.product_id = p.id LEFT JOIN categories fc ON fc.id = " \
    "r.featured_category_id"

static void
expect_dst_is_src(void)
{
    char *a = dbat_psql("dba_bs_src", FINGERPRINT), *b = dbat_psql("dba_bs_dst", FINGERPRINT);
    cr_expect_str_eq(b, a);
    cr_expect(strlen(a) > 20, "%s", a);
    free(a);
    free(b);
}

static void
expect_dst_empty(void)
{
    char *n = dbat_psql("dba_bs_dst", "SELECT (SELECT count(*) FROM categories) + (SELECT count(*) "
                              "FROM products) + (SELECT count(*) FROM reviews)");
    cr_expect_str_eq(n, "0");
    free(n);
}

/* The document without metadata.created_at (two backups of the same rows differ there only). */
static json_t *
doc_without_time(const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j != NULL, "%.*s", (int)(len < 400 ? len : 400), text);
    json_object_del(json_object_get(j, "metadata"), "created_at");
    return j;
}

/* Restores dba_bs_src's backup into dba_bs_dst (plain POST /restore). */
static void
restore_src(void)
{
    size_t len;
    char *doc = src_backup("json", &len);
    struct dbat_resp *r = req("POST", "/restore", NULL, doc, len);
    cr_assert_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    free(doc);
}

/* ---- GET /backup compressed ---- */

Test(backup_streams, get_gzip_round_trip)
{
    restore_src();
    struct dbat_resp *plain = req("GET", "/backup", NULL, NULL, 0);
    cr_assert_eq(plain->status, 200, "%s", plain->body);
    cr_expect(dbat_header(plain, "Content-Encoding") == NULL);
    struct dbat_resp *r = req("GET", "/backup?compress=gzip", NULL, NULL, 0);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Type"), "application/gzip");
    cr_expect(dbat_header(r, "Content-Encoding") == NULL, "the .gz file itself, not an encoding");
    const char *cd = dbat_header(r, "Content-Disposition");
    cr_assert(cd != NULL);
    cr_expect(strstr(cd, ".json.gz\"") != NULL, "%s", cd);
    cr_expect_eq((unsigned char)r->body[0], 0x1f);
    cr_expect_eq((unsigned char)r->body[1], 0x8b);
    cr_expect_lt(r->body_len, plain->body_len);
    size_t n;
    char *text = gunzip(r->body, r->body_len, &n);
    cr_assert(text != NULL, "not a gzip stream");
    json_t *a = doc_without_time(text, n), *b = doc_without_time(plain->body, plain->body_len);
    cr_expect(json_equal(a, b), "the decompressed backup differs from the plain one");
    cr_expect_eq(json_array_size(json_object_get(a, "reviews")), 4);
    json_decref(a);
    json_decref(b);
    free(text);
    dbat_resp_free(r);
    dbat_resp_free(plain);
    /* jsonl */
    r = req("GET", "/backup?compress=gzip&format=jsonl", NULL, NULL, 0);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(dbat_header(r, "Content-Disposition"), ".jsonl.gz\"") != NULL);
    text = gunzip(r->body, r->body_len, &n);
    cr_assert(text != NULL);
    cr_expect(strncmp(text, "{\"metadata\": ", 13) == 0, "%s", text);
    free(text);
    dbat_resp_free(r);
    r = req("GET", "/backup?compress=zip", NULL, NULL, 0);
    cr_expect_eq(r->status, 400, "%s", r->body);
    cr_expect(strstr(r->body, "compress") != NULL, "%s", r->body);
    dbat_resp_free(r);
}

/* Fetches GET /backup with Accept-Encoding ae; whether it came gzip-encoded. */
static bool
get_encoded(const char *path, const char *ae)
{
    char h[128];
    snprintf(h, sizeof(h), "Accept-Encoding: %s", ae);
    const char *hs[] = { h, NULL };
    struct dbat_resp *r = req("GET", path, hs, NULL, 0);
    cr_assert_eq(r->status, 200, "%s", r->body);
    const char *vary = dbat_header(r, "Vary");
    cr_expect(vary != NULL && strstr(vary, "Accept-Encoding") != NULL, "%s", r->headers);
    const char *ce = dbat_header(r, "Content-Encoding");
    bool enc = ce != NULL && strcmp(ce, "gzip") == 0;
    cr_expect(strstr(dbat_header(r, "Content-Type"), "application/json") != NULL, "%s",
              r->headers);
    cr_expect(strstr(dbat_header(r, "Content-Disposition"), ".json\"") != NULL, "%s",
              r->headers);
    size_t n = r->body_len;
    char *text = enc ? gunzip(r->body, r->body_len, &n) : NULL;
    cr_assert(!enc || text != NULL, "Content-Encoding: gzip on a body that is not gzip");
    json_t *j = doc_without_time(enc ? text : r->body, n);
    cr_expect_eq(json_array_size(json_object_get(j, "products")), 4);
    json_decref(j);
    free(text);
    dbat_resp_free(r);
    return enc;
}

Test(backup_streams, accept_encoding_negotiation)
{
    restore_src();
    cr_expect(get_encoded("/backup", "gzip"));
    cr_expect(get_encoded("/backup", "deflate, gzip;q=0.5"));
    cr_expect(get_encoded("/backup", "*"));
    cr_expect(get_encoded("/backup", "x-gzip"));
    cr_expect(!get_encoded("/backup", "gzip;q=0, identity"));
    cr_expect(!get_encoded("/backup", "*;q=0"));
    cr_expect(!get_encoded("/backup", "br"));
    cr_expect(!get_encoded("/backup", "identity"));
    cr_expect(!get_encoded("/backup?compress=none", "gzip"));
    /* compress=gzip wins: the .gz file, never also Content-Encoding */
    const char *hs[] = { "Accept-Encoding: gzip", NULL };
    struct dbat_resp *r = req("GET", "/backup?compress=gzip", hs, NULL, 0);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Content-Type"), "application/gzip");
    cr_expect(dbat_header(r, "Content-Encoding") == NULL);
    dbat_resp_free(r);
}

/* ---- POST /restore and /backup/validate bodies ---- */

Test(backup_streams, ndjson_restore)
{
    size_t len;
    char *doc = src_backup("jsonl", &len);
    const char *hs[] = { "Content-Type: application/x-ndjson", NULL };
    struct dbat_resp *r = req("POST", "/backup/validate", hs, doc, len);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(json_is_true(json_object_get(r->json, "valid")), "%s", r->body);
    dbat_resp_free(r);
    r = req("POST", "/restore?dry_run=true", hs, doc, len);
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_empty();
    r = req("POST", "/restore", hs, doc, len);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *t = json_object_get(json_object_get(r->json, "tables"), "reviews");
    cr_expect_eq(json_integer_value(json_object_get(t, "inserted")), 4, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_is_src();
    free(doc);
}

Test(backup_streams, gzip_restore)
{
    size_t len, zlen;
    char *doc = src_backup("json", &len);
    char *z = gz(doc, len, &zlen);
    const char *hs[] = { "Content-Type: application/json", "Content-Encoding: gzip", NULL };
    struct dbat_resp *r = req("POST", "/backup/validate", hs, z, zlen);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(json_is_true(json_object_get(r->json, "valid")), "%s", r->body);
    dbat_resp_free(r);
    r = req("POST", "/restore", hs, z, zlen);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *t = json_object_get(json_object_get(r->json, "tables"), "products");
    cr_expect_eq(json_integer_value(json_object_get(t, "inserted")), 4, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_is_src();
    /* Two gzip members one after the other (gzip -c a b) are one body; all skipped now. */
    size_t z1len, z2len;
    char *z1 = gz(doc, len / 2, &z1len), *z2 = gz(doc + len / 2, len - len / 2, &z2len);
    char *both = malloc(z1len + z2len);
    memcpy(both, z1, z1len);
    memcpy(both + z1len, z2, z2len);
    r = req("POST", "/restore?mode=skip", hs, both, z1len + z2len);
    cr_expect_eq(r->status, 200, "%s", r->body);
    t = json_object_get(json_object_get(r->json, "tables"), "products");
    cr_expect_eq(json_integer_value(json_object_get(t, "inserted")), 0, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_is_src();
    free(both);
    free(z1);
    free(z2);
    free(z);
    free(doc);
}

Test(backup_streams, gzip_ndjson_restore)
{
    size_t len, zlen;
    char *doc = src_backup("jsonl", &len);
    char *z = gz(doc, len, &zlen);
    const char *hs[] = { "Content-Type: application/x-ndjson", "Content-Encoding: gzip", NULL };
    struct dbat_resp *r = req("POST", "/backup/validate", hs, z, zlen);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(json_is_true(json_object_get(r->json, "valid")), "%s", r->body);
    dbat_resp_free(r);
    r = req("POST", "/restore", hs, z, zlen);
    cr_assert_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_is_src();
    free(z);
    free(doc);
}

/* A corrupt or truncated gzip body is 400 PGRST102 and nothing is restored; an unknown
   Content-Encoding is 415. */
Test(backup_streams, corrupt_gzip_is_400_and_nothing_changes)
{
    size_t len, zlen;
    char *doc = src_backup("json", &len);
    char *z = gz(doc, len, &zlen);
    const char *hs[] = { "Content-Encoding: gzip", NULL };
    char *bad = malloc(zlen);
    memcpy(bad, z, zlen);
    for (size_t i = zlen / 3; i < zlen / 3 + 16 && i < zlen - 8; i++)
        bad[i] ^= 0x5a;
    const char *paths[] = { "/restore", "/backup/validate" };
    for (size_t i = 0; i < 2; i++) {
        struct dbat_resp *r = req("POST", paths[i], hs, bad, zlen);
        cr_expect_eq(r->status, 400, "%s %s", paths[i], r->body);
        cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST102", "%s",
                         r->body);
        cr_expect(strstr(r->body, "gzip") != NULL, "%s", r->body);
        cr_expect(json_object_get(r->json, "hint") != NULL, "%s", r->body);
        dbat_resp_free(r);
        /* cut short: a gzip stream without its end */
        r = req("POST", paths[i], hs, z, zlen - 20);
        cr_expect_eq(r->status, 400, "%s %s", paths[i], r->body);
        cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST102", "%s",
                         r->body);
        dbat_resp_free(r);
        /* not gzip at all */
        r = req("POST", paths[i], hs, doc, len);
        cr_expect_eq(r->status, 400, "%s %s", paths[i], r->body);
        dbat_resp_free(r);
    }
    expect_dst_empty();
    const char *br[] = { "Content-Encoding: br", NULL };
    struct dbat_resp *r = req("POST", "/restore", br, doc, len);
    cr_expect_eq(r->status, 415, "%s", r->body);
    cr_expect(strstr(r->body, "br") != NULL, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_empty();
    /* A caller without the admin credential is refused as before, its body never spooled. */
    struct dbat_resp *anon = dbat_req("POST", "/restore", hs, "not gzip");
    cr_expect_eq(anon->status, 401, "%s", anon->body);
    dbat_resp_free(anon);
    expect_dst_empty();
    free(bad);
    free(z);
    free(doc);
}

/* ---- the limits ---- */

/* The backup padded with whitespace to pad bytes (still valid JSON; compresses to little). */
static char *
padded_doc(size_t pad, size_t *len)
{
    size_t n;
    char *doc = src_backup("json", &n);
    cr_assert(n < LIMIT, "the seed's backup (%zu bytes) must fit the limit", n);
    char *p = malloc(n + pad + 1);
    p[0] = '{';
    memset(p + 1, ' ', pad);
    memcpy(p + 1 + pad, doc + 1, n - 1);
    p[n + pad] = '\0';
    *len = n + pad;
    free(doc);
    return p;
}

static void
expect_413(const char *path, const char *const *hs, const char *body, size_t len)
{
    struct dbat_resp *r = req("POST", path, hs, body, len);
    cr_expect_eq(r->status, 413, "%s %s", path, r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "DBA413", "%s",
                     r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "message")),
                     "request body too large", "%s", r->body);
    dbat_resp_free(r);
}

Test(backup_streams_limit, over_the_limit_plain_or_decompressed_is_413)
{
    size_t len, zlen, plen;
    char *doc = src_backup("json", &len);
    char *pad = padded_doc(4 * LIMIT, &plen);
    char *zpad = gz(pad, plen, &zlen);
    cr_assert_lt(zlen, LIMIT, "the compressed body fits: only its decompressed size is over");
    const char *gzh[] = { "Content-Encoding: gzip", NULL };
    const char *paths[] = { "/restore", "/backup/validate" };
    for (size_t i = 0; i < 2; i++) {
        expect_413(paths[i], NULL, pad, plen);
        expect_413(paths[i], gzh, zpad, zlen);
    }
    expect_dst_empty();
    /* the same document without the padding goes through, plain or compressed */
    size_t dzlen;
    char *dz = gz(doc, len, &dzlen);
    struct dbat_resp *r = req("POST", "/restore", gzh, dz, dzlen);
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_is_src();
    free(dz);
    free(zpad);
    free(pad);
    free(doc);
}

/* backup.max_restore_bytes raises the limit for POST /restore only. */
Test(backup_streams_raised, max_restore_bytes_raises_the_limit_for_restore_only)
{
    size_t plen, zlen;
    char *pad = padded_doc(4 * LIMIT, &plen);
    char *zpad = gz(pad, plen, &zlen);
    const char *gzh[] = { "Content-Encoding: gzip", NULL };
    expect_413("/backup/validate", NULL, pad, plen);
    expect_413("/backup/validate", gzh, zpad, zlen);
    /* a table write still has server.max_body_bytes */
    const char *json[] = { "Content-Type: application/json", NULL };
    expect_413("/tables/categories", json, pad, plen);
    expect_dst_empty();
    struct dbat_resp *r = req("POST", "/restore?dry_run=true", gzh, zpad, zlen);
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_empty();
    r = req("POST", "/restore", NULL, pad, plen);
    cr_expect_eq(r->status, 200, "%s", r->body);
    dbat_resp_free(r);
    expect_dst_is_src();
    /* over max_restore_bytes, decompressed: 413 */
    size_t blen, bzlen;
    char *big = padded_doc(1100000, &blen);
    char *bz = gz(big, blen, &bzlen);
    expect_413("/restore", gzh, bz, bzlen);
    free(bz);
    free(big);
    free(zpad);
    free(pad);
}
