/* test_rpc_more.c - the rest of /rpc on real PostgreSQL (fixture tests/fixtures/rpc_more.sql,
   schema rpc_more): scalar results read as a relation named after the function with the one
   column pgrst_scalar (select, filters, order, limit, counts), Prefer: max-affected on calls
   (PGRST124 with the function's writes rolled back, PGRST128), and bodies other than JSON
   (octet-stream, text/plain, text/xml to a single unnamed parameter; form and CSV bodies as
   named arguments; any other Content-Type 400 PGRST102 showing the header as PostgREST does),
   columns= naming a POST's arguments, a void function's Content-Range and Preference-Applied,
   and a set answered as one object checked before max-affected, all as PostgREST answers
   them. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void
start(void)
{
    dbat_fixture("rpc_more.sql");
    dbat_server_start_conf(NULL, NULL, "\"rpc_more\"", NULL);
}

TestSuite(rpc_more, .init = start, .fini = dbat_server_stop);

static struct dbat_resp *
call(const char *method, const char *path, const char *ctype, const char *body, const char *h1)
{
    char ct[128];
    const char *h[3] = { 0 };
    int n = 0;

    if (ctype != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        h[n++] = ct;
    }
    if (h1 != NULL)
        h[n++] = h1;
    return dbat_req(method, path, h, body);
}

static long
log_count(void)
{
    char *v = dbat_sql("SELECT count(*) FROM rpc_more.log");
    long n = strtol(v, NULL, 10);

    free(v);
    return n;
}

Test(rpc_more, setof_scalar_takes_select_filters_order_and_paging)
{
    dbat_expect(call("GET", "/tables/rpc/ret_setof_integers?pgrst_scalar=gt.1", NULL, NULL, NULL),
           200, "[2,3]");
    dbat_expect(call("GET", "/tables/rpc/ret_setof_integers?order=pgrst_scalar.desc", NULL, NULL,
                NULL), 200, "[3,2,1]");
    dbat_expect(call("GET", "/tables/rpc/ret_setof_integers?select=pgrst_scalar::text", NULL, NULL,
                NULL), 200, "[\"1\",\"2\",\"3\"]");
    dbat_expect(call("GET", "/tables/rpc/ret_setof_integers?or=(pgrst_scalar.eq.1,pgrst_scalar.eq.3)"
                "&order=pgrst_scalar.desc&limit=1", NULL, NULL, NULL), 200, "[3]");
    dbat_expect(call("POST", "/tables/rpc/ret_setof_integers?pgrst_scalar=lt.3&offset=1",
                "application/json", "{}", NULL), 200, "[2]");
    struct dbat_resp *r = call("GET", "/tables/rpc/ret_setof_integers?pgrst_scalar=gte.2", NULL,
                               NULL, "Prefer: count=exact");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-1/2");
    dbat_resp_free(r);
    dbat_expect(call("GET", "/tables/rpc/ret_setof_integers?pgrst_scalar=eq.2", NULL, NULL,
                "Accept: application/vnd.pgrst.object+json"), 200, "2");
    /* the function's name is no column of its result (PostgreSQL's error in PostgREST too) */
    dbat_expect(call("GET", "/tables/rpc/ret_setof_integers?ret_setof_integers=gt.1", NULL, NULL,
                NULL), 400,
           "{\"code\":\"42703\",\"details\":null,\"hint\":null,\"message\":"
           "\"column ret_setof_integers.ret_setof_integers does not exist\"}");
    dbat_expect(call("GET", "/tables/rpc/ret_setof_integers?select=nope", NULL, NULL, NULL), 400,
           NULL);
}

Test(rpc_more, single_scalar_is_filtered_like_a_one_row_relation)
{
    dbat_expect(call("GET", "/tables/rpc/add_them?a=1&b=2&pgrst_scalar=eq.3", NULL, NULL, NULL), 200,
           "3");
    /* filtered out: null, as PostgREST's json_agg(...)->0 of no row */
    dbat_expect(call("GET", "/tables/rpc/add_them?a=1&b=2&pgrst_scalar=gt.5", NULL, NULL, NULL), 200,
           "null");
    dbat_expect(call("POST", "/tables/rpc/add_them?select=pgrst_scalar::text", "application/json",
                "{\"a\":2,\"b\":2}", NULL), 200, "\"4\"");
    struct dbat_resp *r = call("GET", "/tables/rpc/add_them?a=3&b=4", NULL, NULL,
                               "Prefer: count=exact");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-0/1");
    dbat_resp_free(r);
}

Test(rpc_more, max_affected_on_a_set_rolls_the_call_back)
{
    long before = log_count();
    struct dbat_resp *r = call("POST", "/tables/rpc/log_many", "application/json", "{\"n\":3}",
                               "Prefer: handling=strict, max-affected=2");

    cr_expect_eq(r->status, 400, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "{\"code\":\"PGRST124\",\"details\":\"The query affects 3 "
                                    "rows\",\"hint\":null,\"message\":\"Query result exceeds "
                                    "max-affected preference constraint\"}"), "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before, "the function's inserts were rolled back");
    r = call("POST", "/tables/rpc/log_many_table", "application/json", "{\"n\":3}",
             "Prefer: handling=strict, max-affected=2");
    cr_expect_eq(r->status, 400, "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before);
    /* within the limit: committed, and the preference is echoed */
    r = call("POST", "/tables/rpc/log_many", "application/json", "{\"n\":2}",
             "Prefer: handling=strict, max-affected=2");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[1,2]"), "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "handling=strict, max-affected=2");
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before + 2);
    /* the rows counted are the page's (PostgREST's page total) */
    dbat_expect(call("POST", "/tables/rpc/log_many?limit=1", "application/json", "{\"n\":3}",
                "Prefer: handling=strict, max-affected=1"), 200, "[1]");
    cr_expect_eq(log_count(), before + 5);
    /* lenient (the default): no limit */
    r = call("POST", "/tables/rpc/log_many", "application/json", "{\"n\":3}",
             "Prefer: max-affected=1");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_null(dbat_header(r, "Preference-Applied"));
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before + 8);
}

Test(rpc_more, max_affected_needs_a_set_returning_function)
{
    static const char *const msg =
        "{\"code\":\"PGRST128\",\"details\":null,\"hint\":null,\"message\":\"Function must return "
        "SETOF or TABLE when max-affected preference is used with handling=strict\"}";
    long before = log_count();

    dbat_expect(call("POST", "/tables/rpc/log_one", "application/json", "{}",
                "Prefer: handling=strict, max-affected=20"), 400, msg);
    cr_expect_eq(log_count(), before, "refused before the call");
    dbat_expect(call("GET", "/tables/rpc/add_them?a=1&b=2", NULL, NULL,
                "Prefer: handling=strict, max-affected=20"), 400, msg);
    struct dbat_resp *r = call("POST", "/tables/rpc/log_one", "application/json", "{}",
                               "Prefer: max-affected=20");
    cr_expect_eq(r->status, 204, "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before + 1);
}

/* POST with a body of len bytes (NUL bytes included). */
static long
post_bytes(const char *path, const char *ctype, const char *body, size_t len, char **out)
{
    char url[256], ct[128];
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    long status = 0;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", dbat_port(), path);
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    h = curl_slist_append(h, ct);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(f);
    *out = buf;
    return status;
}

Test(rpc_more, raw_bodies_go_whole_to_a_single_unnamed_parameter)
{
    char *out = NULL;

    /* every byte arrives: NUL, high bytes, a backslash */
    cr_expect_eq(post_bytes("/tables/rpc/unnamed_bytea_param", "application/octet-stream",
                            "a\0\xff\\", 4, &out), 200);
    cr_expect_str_eq(out, "\"\\\\x6100ff5c\"");
    free(out);
    cr_expect_eq(post_bytes("/tables/rpc/bytea_len", "application/octet-stream", "\0\0\0", 3,
                            &out), 200);
    cr_expect_str_eq(out, "3");
    free(out);
    dbat_expect(call("POST", "/tables/rpc/unnamed_text_param", "text/plain; charset=utf-8",
                "unnamed text arg \\x", NULL), 200, "\"unnamed text arg \\\\x\"");
    dbat_expect(call("POST", "/tables/rpc/unnamed_xml_param", "text/xml", "<a><b>c</b></a>", NULL), 200,
           "\"<a><b>c</b></a>\"");
    dbat_expect(call("POST", "/tables/rpc/unnamed_xml_param", "text/xml", "<", NULL), 400, NULL);
    /* a text body cannot hold NUL (PostgreSQL's 22021) */
    cr_expect_eq(post_bytes("/tables/rpc/unnamed_text_param", "text/plain", "a\0b", 3, &out),
                 400);
    cr_expect(strstr(out, "22021") != NULL, "%s", out);
    free(out);
    /* the overload of the media's type is the fallback */
    dbat_expect(call("POST", "/tables/rpc/overloaded_unnamed_param", "text/plain", "txt", NULL), 200,
           "\"txt\"");
    dbat_expect(call("POST", "/tables/rpc/overloaded_unnamed_param", "application/json",
                "{\"A\":1}", NULL), 200, "{\"A\":1}");
    dbat_expect(call("POST", "/tables/rpc/overloaded_unnamed_param", "application/json",
                "{\"x\":1,\"y\":2}", NULL), 200, "3");
    cr_expect_eq(post_bytes("/tables/rpc/overloaded_unnamed_param", "application/octet-stream",
                            "\x01", 1, &out), 200);
    cr_expect_str_eq(out, "\"\\\\x01\"");
    free(out);
    /* GET ignores Content-Type: the function without parameters */
    dbat_expect(call("GET", "/tables/rpc/overloaded_unnamed_param", "text/plain", NULL, NULL), 200, "1");
    /* no function of that media's type: PostgREST's message, no hint */
    dbat_expect(call("POST", "/tables/rpc/unnamed_int_param", "text/plain", "a simple text", NULL), 404,
           "{\"code\":\"PGRST202\",\"details\":\"Searched for the function "
           "rpc_more.unnamed_int_param with a single unnamed text parameter, but no matches were "
           "found in the schema cache.\",\"hint\":null,\"message\":\"Could not find the function "
           "rpc_more.unnamed_int_param in the schema cache\"}");
    dbat_expect(call("POST", "/tables/rpc/unnamed_int_param", "application/octet-stream", "x", NULL),
           404, NULL);
}

Test(rpc_more, form_bodies_are_named_arguments)
{
    dbat_expect(call("POST", "/tables/rpc/varied", "application/x-www-form-urlencoded",
                "i=43&d=20190101&arr=%7Ba,b,c%7D", NULL), 200,
           "{\"i\":43,\"d\":\"2019-01-01\",\"arr\":[\"a\",\"b\",\"c\"],\"t\":\"dflt\"}");
    dbat_expect(call("POST", "/tables/rpc/varied", "application/x-www-form-urlencoded",
                "i=1&d=2020-02-02&arr=%7B%7D&t=a+b%26c", NULL), 200,
           "{\"i\":1,\"d\":\"2020-02-02\",\"arr\":[],\"t\":\"a b&c\"}");
    /* repeated keys feed a VARIADIC; none at all takes its default */
    dbat_expect(call("POST", "/tables/rpc/variadic_param", "application/x-www-form-urlencoded",
                "v=hi&v=there", NULL), 200, "[\"hi\",\"there\"]");
    dbat_expect(call("POST", "/tables/rpc/variadic_param", "application/x-www-form-urlencoded", "v=hi",
                NULL), 200, "[\"hi\"]");
    dbat_expect(call("POST", "/tables/rpc/variadic_param", "application/x-www-form-urlencoded", "",
                NULL), 200, "[]");
    /* overloads resolve by the form's names; the query string still shapes the result */
    dbat_expect(call("POST", "/tables/rpc/overloaded_unnamed_param", "application/x-www-form-urlencoded",
                "x=1&y=2", NULL), 200, "3");
    dbat_expect(call("POST", "/tables/rpc/overloaded_unnamed_param", "application/x-www-form-urlencoded",
                "", NULL), 200, "1");
    dbat_expect(call("POST", "/tables/rpc/ret_setof_integers?pgrst_scalar=gt.2",
                "application/x-www-form-urlencoded", "", NULL), 200, "[3]");
    /* a hostile value stays a value */
    dbat_expect(call("POST", "/tables/rpc/concat_ab", "application/x-www-form-urlencoded",
                "a=x'%3B%20DROP%20SCHEMA%20rpc_more%3B--&b=!", NULL), 200,
           "\"x'; DROP SCHEMA rpc_more;--!\"");
    dbat_expect(call("POST", "/tables/rpc/add_them", "application/x-www-form-urlencoded", "a=1&c=2",
                NULL), 404,
           "{\"code\":\"PGRST202\",\"details\":\"Searched for the function rpc_more.add_them "
           "with parameters a, c, but no matches were found in the schema cache.\",\"hint\":"
           "\"Perhaps you meant to call the function rpc_more.add_them(a, b)\",\"message\":"
           "\"Could not find the function rpc_more.add_them(a, c) in the schema cache\"}");
}

Test(rpc_more, csv_bodies_name_arguments_in_their_header)
{
    dbat_expect(call("POST", "/tables/rpc/concat_ab", "text/csv", "a,b\nx,y\nz,w\n", NULL), 200,
           "\"xy\"");
    /* PostgREST: CSV never goes to an unnamed parameter */
    dbat_expect(call("POST", "/tables/rpc/overloaded_unnamed_param", "text/csv", "a,b\n1,2\n", NULL),
           404, "{\"code\":\"PGRST202\",\"details\":\"Searched for the function "
           "rpc_more.overloaded_unnamed_param with parameters a, b, but no matches were found in "
           "the schema cache.\",\"hint\":\"Perhaps you meant to call the function "
           "rpc_more.overloaded_unnamed_param(x, y)\",\"message\":\"Could not find the function "
           "rpc_more.overloaded_unnamed_param(a, b) in the schema cache\"}");
    dbat_expect(call("POST", "/tables/rpc/concat_ab", "text/csv", "a,b\nx\n", NULL), 400, NULL);
}

Test(rpc_more, other_content_types_are_refused)
{
    dbat_expect(call("POST", "/tables/rpc/add_them", "application/pdf", "%PDF", NULL), 400,
           "{\"code\":\"PGRST102\",\"details\":null,\"hint\":null,"
           "\"message\":\"Content-Type not acceptable: application/pdf\"}");
    /* before the function is looked for, as in PostgREST */
    dbat_expect(call("POST", "/tables/rpc/nosuch", "application/xml; charset=utf-8", "<a/>", NULL), 400,
           "{\"code\":\"PGRST102\",\"details\":null,\"hint\":null,"
           "\"message\":\"Content-Type not acceptable: application/xml; charset=utf-8\"}");
    /* a JSON array's elements must be objects with the same keys */
    dbat_expect(call("POST", "/tables/rpc/add_them", "application/json",
                "[{\"a\":1,\"b\":2},{\"a\":1}]", NULL), 400,
           "{\"code\":\"PGRST102\",\"details\":null,\"hint\":null,"
           "\"message\":\"All object keys must match\"}");
    dbat_expect(call("POST", "/tables/rpc/add_them", "application/json",
                "[{\"a\":1,\"b\":2},{\"b\":1,\"a\":5}]", NULL), 200, "3");
}

Test(rpc_more, refused_content_types_show_what_postgrest_shows)
{
    /* any other type: the header value as sent; a type PostgREST knows: its name */
    dbat_expect(call("POST", "/tables/rpc/add_them", "Application/PDF; q=1", "%PDF", NULL), 400,
           "{\"code\":\"PGRST102\",\"details\":null,\"hint\":null,"
           "\"message\":\"Content-Type not acceptable: Application/PDF; q=1\"}");
    dbat_expect(call("POST", "/tables/rpc/add_them", "application/vnd.pgrst.object; nulls=stripped",
                "{}", NULL), 400,
           "{\"code\":\"PGRST102\",\"details\":null,\"hint\":null,\"message\":\"Content-Type not "
           "acceptable: application/vnd.pgrst.object+json;nulls=stripped\"}");
    /* tables too */
    dbat_expect(call("POST", "/tables/log", "Text/Plain; charset=utf-8", "1", NULL), 400,
           "{\"code\":\"PGRST102\",\"details\":null,\"hint\":null,"
           "\"message\":\"Content-Type not acceptable: text/plain\"}");
    dbat_expect(call("PATCH", "/tables/log?v=eq.-1", "application/xml; charset=utf-8", "<a/>", NULL),
           400, "{\"code\":\"PGRST102\",\"details\":null,\"hint\":null,"
           "\"message\":\"Content-Type not acceptable: application/xml; charset=utf-8\"}");
    /* application/vnd.pgrst.array+json is JSON to PostgREST */
    dbat_expect(call("POST", "/tables/rpc/add_them", "application/vnd.pgrst.array+json",
                "{\"a\":1,\"b\":2}", NULL), 200, "3");
}

Test(rpc_more, void_answers_content_range_and_preference_applied)
{
    long before = log_count();
    struct dbat_resp *r = call("POST", "/tables/rpc/log_one", "application/json", "{}", NULL);

    cr_expect_eq(r->status, 204, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-0/*");
    cr_expect_null(dbat_header(r, "Preference-Applied"));
    cr_expect_null(dbat_header(r, "Content-Type"));
    cr_expect_str_eq(r->body, "");
    dbat_resp_free(r);
    r = call("POST", "/tables/rpc/log_one", "application/json", "{}",
             "Prefer: count=exact, handling=lenient, max-affected=0");
    cr_expect_eq(r->status, 204, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-0/1");
    cr_expect_str_eq(dbat_header(r, "Preference-Applied"), "count=exact, handling=lenient");
    dbat_resp_free(r);
    /* the range starts at the offset asked for, as PostgREST's */
    r = call("POST", "/tables/rpc/log_one?offset=2", "application/json", "{}", NULL);
    cr_expect_eq(r->status, 204, "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "2-2/*");
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before + 3);
}

Test(rpc_more, columns_name_the_arguments_of_a_post)
{
    /* only the columns are arguments: other keys are ignored, a missing one is null */
    dbat_expect(call("POST", "/tables/rpc/with_defaults?columns=a,b", "application/json",
                "{\"a\":1,\"b\":2,\"c\":\"zz\"}", NULL), 200, "{\"a\":1,\"b\":2,\"c\":\"c\"}");
    dbat_expect(call("POST", "/tables/rpc/with_defaults?columns=%22a%22,c", "application/json",
                "{\"a\":1}", NULL), 200, "{\"a\":1,\"b\":10,\"c\":null}");
    /* they choose the overload */
    dbat_expect(call("POST", "/tables/rpc/overloaded_unnamed_param", "application/json",
                "{\"x\":1,\"y\":2,\"z\":3}", NULL), 200, "{\"x\":1,\"y\":2,\"z\":3}");
    dbat_expect(call("POST", "/tables/rpc/overloaded_unnamed_param?columns=x,y", "application/json",
                "{\"x\":1,\"y\":2,\"z\":3}", NULL), 200, "3");
    /* an array is no bulk call: its first element (other keys need not match) */
    dbat_expect(call("POST", "/tables/rpc/ab_pairs?columns=a,b", "application/json",
                "[{\"a\":1,\"b\":2},{\"a\":3}]", NULL), 200, "[{\"x\":1,\"y\":2}]");
    long before = log_count();
    struct dbat_resp *r = call("POST", "/tables/rpc/log_arg?columns=v", "application/json",
                               "[{\"v\":7},{\"v\":8}]", NULL);
    cr_expect_eq(r->status, 204, "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before + 1);
    char *v = dbat_sql("SELECT count(*) FROM rpc_more.log WHERE v = 7");
    cr_expect_str_eq(v, "1");
    free(v);
    /* an empty array: no call at all */
    r = call("POST", "/tables/rpc/log_arg?columns=v", "application/json", "[]", NULL);
    cr_expect_eq(r->status, 204, "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before + 1);
    /* a column that is no parameter: no such function */
    r = call("POST", "/tables/rpc/with_defaults?columns=a,nope", "application/json",
             "{\"a\":1}", NULL);
    cr_expect_eq(r->status, 404, "%s", r->body);
    cr_expect(strstr(r->body, "\"code\":\"PGRST202\"") != NULL, "%s", r->body);
    cr_expect(strstr(r->body, "\"message\":\"Could not find the function "
                              "rpc_more.with_defaults(a, nope) in the schema cache\"") != NULL,
              "%s", r->body);
    dbat_resp_free(r);
    /* the body is PostgreSQL's to read (PostgREST does not parse it) */
    r = call("POST", "/tables/rpc/with_defaults?columns=a", "application/json", "{\"a\":", NULL);
    cr_expect_eq(r->status, 400, "%s", r->body);
    cr_expect(strstr(r->body, "\"code\":\"22P02\"") != NULL, "%s", r->body);
    dbat_resp_free(r);
    dbat_expect(call("POST", "/tables/rpc/with_defaults?columns=", "application/json", "{\"a\":1}",
                NULL), 400, NULL);
    /* a form body and GET ignore columns= */
    dbat_expect(call("POST", "/tables/rpc/concat_ab?columns=a", "application/x-www-form-urlencoded",
                "a=x&b=y", NULL), 200, "\"xy\"");
    dbat_expect(call("GET", "/tables/rpc/add_them?a=1&b=2&columns=a", NULL, NULL, NULL), 200, "3");
}

Test(rpc_more, one_object_of_a_set_is_checked_before_max_affected)
{
    long before = log_count();
    struct dbat_resp *r = call("POST", "/tables/rpc/log_many", "application/json", "{\"n\":3}",
                               "Accept: application/vnd.pgrst.object+json");

    /* not one row: 406, and the function's writes are rolled back (PostgREST's condemn) */
    cr_expect_eq(r->status, 406, "%s", r->body);
    cr_expect(strstr(r->body, "\"PGRST116\"") != NULL, "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before, "rolled back");
    /* PostgREST checks the single object first; both roll the function's writes back */
    r = dbat_req("POST", "/tables/rpc/log_many",
                 (const char *const[]){ "Content-Type: application/json",
                                        "Accept: application/vnd.pgrst.object+json",
                                        "Prefer: handling=strict, max-affected=1", NULL },
                 "{\"n\":3}");
    cr_expect_eq(r->status, 406, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "{\"code\":\"PGRST116\",\"details\":\"The result contains 3 "
                                    "rows\",\"hint\":null,\"message\":\"Cannot coerce the result "
                                    "to a single JSON object\"}"), "%s", r->body);
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before, "rolled back");
    /* one row: the object */
    r = dbat_req("POST", "/tables/rpc/log_many",
                 (const char *const[]){ "Content-Type: application/json",
                                        "Accept: application/vnd.pgrst.object+json",
                                        "Prefer: handling=strict, max-affected=1", NULL },
                 "{\"n\":1}");
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect_str_eq(r->body, "1");
    dbat_resp_free(r);
    cr_expect_eq(log_count(), before + 1);
}
