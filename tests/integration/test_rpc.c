/* test_rpc.c - function calls over <base>/rpc/<fn> on real PostgreSQL (fixtures
   tests/fixtures/auth.sql for the roles, then tests/fixtures/rpc.sql, schema fn): each call form,
   each result kind with select/filters/order on sets, overloads and their errors, volatility and
   READ ONLY transactions, raised errors with their status and headers, and a function under RLS
   called with a JWT role. The gateway connects as authenticator and runs as the caller's role. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "core/core.h"
#include "harness.h"

#define SECRET "it-is-a-test-secret-of-32-bytes-or-more"

static char url[512];

static void
load(const char *name)
{
    dbat_fixture(name);
}

static void
start(void)
{
    const char *base = getenv("DBA_TEST_DATABASE_URL");

    cr_assert(base != NULL);
    load("auth.sql");
    load("rpc.sql");
    const char *u = strstr(base, "user=postgres");
    cr_assert_not_null(u, "%s", base);
    snprintf(url, sizeof(url), "%.*suser=authenticator%s", (int)(u - base), base,
             u + strlen("user=postgres"));
    dbat_server_start_full(url, NULL, NULL, "\"fn\"",
                           "auth: { jwt_secret = \"" SECRET "\"; anon_role = \"web_anon\"; };");
}

TestSuite(rpc, .init = start, .fini = dbat_server_stop);

static char *
bearer(const char *role, const char *claims)
{
    struct dba_config_auth c = { .present = true, .jwt_secret = (char *)SECRET };
    struct dba_auth *a = NULL;
    struct dba_err err;
    char *tok = NULL, *h = NULL;

    cr_assert_eq(dba_auth_new(&c, &a, &err), DBA_OK, "%s", err.msg);
    cr_assert_eq(dba_auth_mint(a, role, claims, (int64_t)time(NULL), 3600, &tok, &err), DBA_OK,
                 "%s", err.msg);
    dba_auth_free(a);
    cr_assert(asprintf(&h, "Authorization: Bearer %s", tok) > 0);
    free(tok);
    return h;
}

Test(rpc, call_forms)
{
    dbat_expect(dbat_req_json("GET", "/tables/rpc/add?a=1&b=2", NULL, NULL, NULL), 200, "3");
    dbat_expect(dbat_req_json("POST", "/tables/rpc/add", "{\"a\":1,\"b\":2}", NULL, NULL), 200, "3");
    /* an array body: its first object */
    dbat_expect(dbat_req_json("POST", "/tables/rpc/add", "[{\"a\":5,\"b\":6},{\"a\":1,\"b\":1}]", NULL, NULL),
           200, "11");
    struct dbat_resp *r = dbat_req_json("HEAD", "/tables/rpc/add?a=1&b=2", NULL, NULL, NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_eq(r->body_len, 0);
    dbat_resp_free(r);
    /* defaults, no arguments, an empty body */
    dbat_expect(dbat_req_json("GET", "/tables/rpc/greet?name=Ann", NULL, NULL, NULL), 200, "\"Hello, Ann\"");
    dbat_expect(dbat_req_json("POST", "/tables/rpc/greet", "{\"name\":\"Ann\",\"greeting\":\"Hi\"}", NULL,
                NULL), 200, "\"Hi, Ann\"");
    dbat_expect(dbat_req_json("POST", "/tables/rpc/noargs", "", NULL, NULL), 200, "\"none\"");
    /* variadic: repeated keys on GET, an array on POST, none at all */
    dbat_expect(dbat_req_json("GET", "/tables/rpc/joined?parts=a&parts=b%20c", NULL, NULL, NULL), 200,
           "\"a+b c\"");
    dbat_expect(dbat_req_json("POST", "/tables/rpc/joined", "{\"parts\":[\"x\",\"y\"]}", NULL, NULL), 200,
           "\"x+y\"");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/joined", NULL, NULL, NULL), 200, "\"\"");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/sum_ints?v=1&v=2&v=3", NULL, NULL, NULL), 200, "6");
    /* JSON arrays convert to PostgreSQL arrays; a hostile value stays a value */
    dbat_expect(dbat_req_json("POST", "/tables/rpc/arr_len", "{\"a\":[1,2,3]}", NULL, NULL), 200, "3");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/greet?name=x'%3B%20DROP%20TABLE%20fn.books%3B--", NULL,
                NULL, NULL), 200, "\"Hello, x'; DROP TABLE fn.books;--\"");
    /* a single unnamed json / text parameter takes the whole body */
    dbat_expect(dbat_req_json("POST", "/tables/rpc/echo_json", "{\"k\":[1,2]}", NULL, NULL), 200,
           "{\"k\":[1,2]}");
    const char *text_h[] = { "Content-Type: text/plain", NULL };
    dbat_expect(dbat_req("POST", "/tables/rpc/echo_text", text_h, "plain words"), 200,
           "\"plain words\"");
}

Test(rpc, result_kinds)
{
    dbat_expect(dbat_req_json("GET", "/tables/rpc/book?id=2", NULL, NULL, NULL), 200,
           "{\"id\":2,\"title\":\"Trial\",\"year\":1925}");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/make_pair", NULL, NULL, NULL), 200, "{\"x\":1,\"y\":\"one\"}");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/split?n=5", NULL, NULL, NULL), 200,
           "{\"half\":2,\"rest\":1}");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/numbers?n=3", NULL, NULL, NULL), 200, "[1,2,3]");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/numbers?n=5&limit=2&offset=1", NULL, NULL, NULL), 200,
           "[2,3]");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/squares?n=3", NULL, NULL, NULL), 200,
           "[{\"i\":1,\"sq\":1},{\"i\":2,\"sq\":4},{\"i\":3,\"sq\":9}]");
    struct dbat_resp *r = dbat_req_json("POST", "/tables/rpc/nothing", "{}", NULL, NULL);
    cr_expect_eq(r->status, 204);
    cr_expect_eq(r->body_len, 0);
    cr_expect_null(dbat_header(r, "Content-Type"));
    dbat_resp_free(r);
}

Test(rpc, setof_takes_select_filters_order_and_counts)
{
    dbat_expect(dbat_req_json("GET", "/tables/rpc/search_books?q=castle&select=title", NULL, NULL, NULL), 200,
           "[{\"title\":\"Castle\"},{\"title\":\"Castle Rock\"}]");
    dbat_expect(dbat_req_json("POST", "/tables/rpc/all_books?select=id&year=lt.1926&order=year.desc", "{}",
                NULL, NULL), 200, "[{\"id\":2},{\"id\":5}]");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/squares?n=4&sq=gt.1&order=i.desc&limit=2", NULL, NULL, NULL),
           200, "[{\"i\":4,\"sq\":16},{\"i\":3,\"sq\":9}]");
    struct dbat_resp *r = dbat_req_json("GET", "/tables/rpc/all_books?select=id", NULL,
                               "Prefer: count=exact", "Range: 0-1");
    cr_expect_eq(r->status, 206);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-1/5");
    dbat_resp_free(r);
    r = dbat_req_json("HEAD", "/tables/rpc/all_books", NULL, "Prefer: count=exact", NULL);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-4/5");
    dbat_resp_free(r);
    dbat_expect(dbat_req_json("GET", "/tables/rpc/all_books?id=eq.3&select=title", NULL,
                "Accept: application/vnd.pgrst.object+json", NULL), 200,
           "{\"title\":\"Amerika\"}");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/all_books?id=gt.3", NULL,
                "Accept: application/vnd.pgrst.object+json", NULL), 406, NULL);
    /* a column the result does not have */
    dbat_expect(dbat_req_json("GET", "/tables/rpc/all_books?nope=eq.1", NULL, NULL, NULL), 400, NULL);
}

Test(rpc, overloads_and_resolution_errors)
{
    dbat_expect(dbat_req_json("GET", "/tables/rpc/over?a=1", NULL, NULL, NULL), 200, "\"int a\"");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/over?a=1&b=2", NULL, NULL, NULL), 200, "\"int a, int b\"");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/amb?a=1", NULL, NULL, NULL), 300,
           "{\"code\":\"PGRST203\",\"details\":null,\"hint\":\"Try renaming the parameters or the "
           "function itself in the database so function overloading can be resolved\","
           "\"message\":\"Could not choose the best candidate function between: "
           "fn.amb(a => integer), fn.amb(a => text)\"}");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/add?a=1&b=2&c=3", NULL, NULL, NULL), 404,
           "{\"code\":\"PGRST202\",\"details\":\"Searched for the function fn.add with parameters "
           "a, b, c, but no matches were found in the schema cache.\",\"hint\":\"Perhaps you meant "
           "to call the function fn.add(a, b)\",\"message\":\"Could not find the function "
           "fn.add(a, b, c) in the schema cache\"}");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/nosuch", NULL, NULL, NULL), 404, NULL);
    dbat_expect(dbat_req_json("DELETE", "/tables/rpc/add", NULL, NULL, NULL), 405,
           "{\"code\":\"PGRST101\",\"details\":null,\"hint\":null,"
           "\"message\":\"Cannot use the DELETE method on RPC\"}");
    dbat_expect(dbat_req_json("PATCH", "/tables/rpc/add", "{}", NULL, NULL), 405, NULL);
    dbat_expect(dbat_req_json("POST", "/tables/rpc/add", "{not json", NULL, NULL), 400, NULL);
}

Test(rpc, volatility_decides_the_transaction)
{
    /* GET runs READ ONLY: a volatile function that writes is refused (25006 -> 405) */
    dbat_expect(dbat_req_json("GET", "/tables/rpc/bump", NULL, NULL, NULL), 405, NULL);
    dbat_expect(dbat_req_json("GET", "/tables/rpc/tx_read_only", NULL, NULL, NULL), 200, "\"on\"");
    /* POST to a volatile function is read-write and commits */
    dbat_expect(dbat_req_json("POST", "/tables/rpc/tx_read_only", "{}", NULL, NULL), 200, "\"off\"");
    struct dbat_resp *r = dbat_req_json("POST", "/tables/rpc/bump", "{}", NULL, NULL);
    cr_expect_eq(r->status, 200);
    long n = strtol(r->body, NULL, 10);
    dbat_resp_free(r);
    r = dbat_req_json("GET", "/tables/rpc/peek", NULL, NULL, NULL);
    cr_expect_eq(strtol(r->body, NULL, 10), n);
    dbat_resp_free(r);
    /* Prefer: tx=rollback is honoured like on tables only when allowed; POST stable is READ
       ONLY */
    dbat_expect(dbat_req_json("POST", "/tables/rpc/noargs", "{}", NULL, NULL), 200, "\"none\"");
}

Test(rpc, raised_errors_set_status_and_headers)
{
    dbat_expect(dbat_req_json("GET", "/tables/rpc/pay", NULL, NULL, NULL), 402,
           "{\"code\":\"PT402\",\"details\":\"Quota exceeded\",\"hint\":\"Upgrade your plan\","
           "\"message\":\"Payment Required\"}");
    struct dbat_resp *r = dbat_req_json("POST", "/tables/rpc/teapot", "{}", NULL, NULL);
    cr_expect_eq(r->status, 418);
    cr_expect_str_eq(dbat_header(r, "X-Pot"), "tea");
    cr_expect(dbat_json_eq(r->json, "{\"code\":\"T418\",\"details\":\"d\",\"hint\":\"h\","
                                    "\"message\":\"short and stout\"}"), "%s", r->body);
    dbat_resp_free(r);
    dbat_expect(dbat_req_json("POST", "/tables/rpc/bad_raise", "{}", NULL, NULL), 500,
           "{\"code\":\"PGRST121\",\"details\":\"Invalid JSON value for MESSAGE: 'not json'\","
           "\"hint\":\"MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and "
           "optional keys: 'details', 'hint'.\",\"message\":\"Could not parse JSON in the "
           "\\\"RAISE SQLSTATE 'PGRST'\\\" error\"}");
    dbat_expect(dbat_req_json("POST", "/tables/rpc/no_detail", "{}", NULL, NULL), 500, NULL);
    /* response.status / response.headers set by the function */
    r = dbat_req_json("POST", "/tables/rpc/created", "{\"name\":\"z\"}", NULL, NULL);
    cr_expect_eq(r->status, 201);
    cr_expect_str_eq(dbat_header(r, "Location"), "/things/z");
    dbat_resp_free(r);
}

Test(rpc, functions_run_as_the_callers_role_under_rls)
{
    char *alice = bearer("authenticated", "{\"sub\":\"alice\"}");
    char *bob = bearer("authenticated", "{\"sub\":\"bob\"}");

    dbat_expect(dbat_req_json("GET", "/tables/rpc/my_notes?select=body", NULL, alice, NULL), 200,
           "[{\"body\":\"a1\"},{\"body\":\"a2\"}]");
    dbat_expect(dbat_req_json("POST", "/tables/rpc/my_notes?select=body", "{}", bob, NULL), 200,
           "[{\"body\":\"b1\"}]");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/whoami", NULL, bob, NULL), 200, "\"authenticated\"");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/whoami", NULL, NULL, NULL), 200, "\"web_anon\"");
    /* anon may not execute my_notes: 42501 without a token is 401 */
    dbat_expect(dbat_req_json("GET", "/tables/rpc/my_notes", NULL, NULL, NULL), 401, NULL);
    free(alice);
    free(bob);
}

Test(rpc, computed_columns)
{
    /* selectable (named after the function, with alias and cast), never part of '*' */
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id,upper_name&order=id&limit=2", NULL, NULL, NULL),
           200, "[{\"id\":1,\"upper_name\":\"KAFKA\"},{\"id\":2,\"upper_name\":\"KING\"}]");
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=n:work_count::text&id=eq.1", NULL, NULL, NULL),
           200, "[{\"n\":\"2\"}]");
    dbat_expect(dbat_req_json("GET", "/tables/writers?id=eq.3", NULL, NULL, NULL), 200,
           "[{\"id\":3,\"name\":\"Nobody\"}]");
    /* filterable (also inside or=) and orderable */
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id&work_count=eq.0", NULL, NULL, NULL), 200,
           "[{\"id\":3}]");
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id&or=(upper_name.eq.KING,work_count.eq.0)"
                "&order=id", NULL, NULL, NULL), 200, "[{\"id\":2},{\"id\":3}]");
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id&order=work_count.desc,id.desc", NULL, NULL,
                NULL), 200, "[{\"id\":2},{\"id\":1},{\"id\":3}]");
    /* in an embedded child, on a function's rows and in a write's representation */
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id,works(title,title_len)&id=eq.1", NULL, NULL,
                NULL), 200, "[{\"id\":1,\"works\":[{\"title\":\"Trial\",\"title_len\":5},"
                "{\"title\":\"Castle\",\"title_len\":6}]}]");
    dbat_expect(dbat_req_json("GET", "/tables/rpc/all_writers?select=upper_name&work_count=gt.0", NULL, NULL,
                NULL), 200, "[{\"upper_name\":\"KAFKA\"},{\"upper_name\":\"KING\"}]");
    dbat_expect(dbat_req_json("POST", "/tables/writers?select=id,upper_name", "{\"id\":9,\"name\":\"Woolf\"}",
                "Prefer: return=representation, tx=rollback", NULL), 201,
           "[{\"id\":9,\"upper_name\":\"WOOLF\"}]");
    /* an unknown name is still an unknown column; a computed column is not writable */
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=nope", NULL, NULL, NULL), 400, NULL);
    dbat_expect(dbat_req_json("POST", "/tables/writers", "{\"id\":8,\"name\":\"x\",\"upper_name\":\"X\"}",
                "Prefer: tx=rollback", NULL), 400, NULL);
}

Test(rpc, computed_relationships)
{
    /* SETOF: to-many; SETOF ... ROWS 1 and a single row: to-one */
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=name,works_of(title)&id=eq.2", NULL, NULL, NULL),
           200, "[{\"name\":\"King\",\"works_of\":[{\"title\":\"Carrie\"},{\"title\":\"Draft\"}]}]");
    dbat_expect(dbat_req_json("GET", "/tables/works?select=title,by:writer_of(name)&id=in.(1,3)&order=id", NULL,
                NULL, NULL), 200, "[{\"title\":\"Trial\",\"by\":{\"name\":\"Kafka\"}},"
                "{\"title\":\"Carrie\",\"by\":{\"name\":\"King\"}}]");
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id,first_work(title)&order=id", NULL, NULL, NULL),
           200, "[{\"id\":1,\"first_work\":{\"title\":\"Trial\"}},{\"id\":2,\"first_work\":"
           "{\"title\":\"Carrie\"}},{\"id\":3,\"first_work\":null}]");
    /* it overrides the foreign key relationship of the same name */
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=works(title)&id=eq.2", NULL, NULL, NULL), 200,
           "[{\"works\":[{\"title\":\"Carrie\"}]}]");
    /* !inner with an embedded filter, counts, related order, rel() filters */
    struct dbat_resp *r = dbat_req_json("GET", "/tables/works?select=title,w:writer_of!inner(name)"
                               "&w.name=eq.Kafka&order=id", NULL, "Prefer: count=exact", NULL);
    cr_expect_eq(r->status, 200, "%s", r->body);
    cr_expect(dbat_json_eq(r->json, "[{\"title\":\"Trial\",\"w\":{\"name\":\"Kafka\"}},"
                                    "{\"title\":\"Castle\",\"w\":{\"name\":\"Kafka\"}}]"),
              "%s", r->body);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-1/2");
    dbat_resp_free(r);
    dbat_expect(dbat_req_json("GET", "/tables/works?select=id,writer_of(name)&order=writer_of(name).desc,id",
                NULL, NULL, NULL), 200, "[{\"id\":3,\"writer_of\":{\"name\":\"King\"}},"
                "{\"id\":4,\"writer_of\":{\"name\":\"King\"}},{\"id\":1,\"writer_of\":"
                "{\"name\":\"Kafka\"}},{\"id\":2,\"writer_of\":{\"name\":\"Kafka\"}}]");
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id,works_of()&works_of=is.null", NULL, NULL,
                NULL), 200, "[{\"id\":3}]");
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id,works_of(title,title_len)&works_of.title_len=gt.5"
                "&id=eq.1", NULL, NULL, NULL), 200,
           "[{\"id\":1,\"works_of\":[{\"title\":\"Castle\",\"title_len\":6}]}]");
    /* from a function's rows; a related order on a to-many one is refused */
    dbat_expect(dbat_req_json("GET", "/tables/rpc/all_writers?select=name,works_of(title)&id=eq.1", NULL, NULL,
                NULL), 200, "[{\"name\":\"Kafka\",\"works_of\":[{\"title\":\"Trial\"},"
                "{\"title\":\"Castle\"}]}]");
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=id,works_of(title)&order=works_of(title)", NULL,
                NULL, NULL), 400, NULL);
    /* a function of another table's row is no relationship of this one */
    dbat_expect(dbat_req_json("GET", "/tables/writers?select=writer_of(name)", NULL, NULL, NULL), 400, NULL);
}

Test(rpc, schema_lists_functions_and_triggers)
{
    struct dbat_resp *r = dbat_admin_get("/schema");
    cr_assert_eq(r->status, 200, "%s", r->body);
    const json_t *fns = json_object_get(r->json, "functions");
    const json_t *f, *add = NULL, *squares = NULL;
    size_t i;
    json_array_foreach(fns, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (name && strcmp(name, "add") == 0)
            add = f;
        if (name && strcmp(name, "squares") == 0)
            squares = f;
    }
    cr_assert_not_null(add, "%s", r->body);
    cr_expect(dbat_json_eq(add, "{\"schema\":\"fn\",\"name\":\"add\",\"arguments\":"
                                "\"a integer, b integer\",\"returns\":\"integer\",\"volatility\":"
                                "\"immutable\",\"language\":\"sql\"}"));
    cr_assert_not_null(squares);
    cr_expect_str_eq(json_string_value(json_object_get(squares, "returns")),
                     "TABLE(i integer, sq integer)");
    const json_t *w = json_object_get(json_object_get(r->json, "tables"), "fn.writers");
    cr_assert_not_null(w, "%s", r->body);
    cr_assert_eq(json_array_size(json_object_get(w, "triggers")), 1);
    const json_t *t = json_array_get(json_object_get(w, "triggers"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(t, "name")), "writers_stamp");
    cr_expect_str_eq(json_string_value(json_object_get(t, "timing")), "BEFORE");
    cr_expect_str_eq(json_string_value(json_object_get(t, "events")), "INSERT OR UPDATE");
    cr_expect_str_eq(json_string_value(json_object_get(t, "level")), "row");
    cr_expect_str_eq(json_string_value(json_object_get(t, "function")), "fn.writers_stamp");
    /* foreign keys' internal triggers are not listed */
    const json_t *works = json_object_get(json_object_get(r->json, "tables"), "fn.works");
    cr_expect_eq(json_array_size(json_object_get(works, "triggers")), 0);
    dbat_resp_free(r);
}

Test(rpc, a_table_without_columns_is_in_the_cache)
{
    dbat_expect(dbat_req_json("GET", "/tables/nocols", NULL, NULL, NULL), 200, "[]");
    struct dbat_resp *r = dbat_admin_get("/schema");
    const json_t *t = json_object_get(json_object_get(r->json, "tables"), "fn.nocols");
    cr_assert_not_null(t, "%s", r->body);
    cr_expect_eq(json_array_size(json_object_get(t, "columns")), 0);
    dbat_resp_free(r);
}
