/* test_rpc.c - unit tests of src/http/rpc.c: which GET pairs are arguments, argument binding
   into the call node, and overload resolution with PostgREST's errors (PGRST202, PGRST203).
   The source is included to reach its statics. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../src/http/rpc.c"

static struct dba_arena *A;

static void
setup(void)
{
    dba_mem_init();
    A = dba_arena_new();
}

static void
teardown(void)
{
    dba_arena_free(A);
}

TestSuite(rpc, .init = setup, .fini = teardown);

/* A function from "name:type[=]" inputs (a trailing '=' marks a default, '*' VARIADIC, an empty
   name an unnamed parameter) separated by ','. */
static struct dba_function
mk_fn(const char *name, const char *spec)
{
    struct dba_function f = { .schema = "test", .ret_type = "integer" };
    char *s = dba_arena_strdup(A, spec), *save = NULL;

    f.name = dba_arena_strdup(A, name);
    f.args = dba_arena_alloc(A, 8 * sizeof(*f.args));
    for (char *e = strtok_r(s, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        struct dba_func_arg *a = &f.args[f.n_args++];
        char *colon = strchr(e, ':');
        size_t tl;
        *colon = '\0';
        a->name = e;
        a->type = colon + 1;
        a->required = true;
        tl = strlen(a->type);
        if (tl && a->type[tl - 1] == '=') {
            a->type[tl - 1] = '\0';
            a->required = false;
        }
        if (a->type[0] == '*') {
            a->type++;
            a->mode = DBA_ARG_VARIADIC;
            f.variadic = true;
        }
        f.n_in++;
    }
    return f;
}

/* A catalog holding the functions (sorted by the caller). */
static struct dba_catalog *
mk_cat(struct dba_function *fns, size_t n)
{
    struct dba_catalog *c = dba_arena_alloc(A, sizeof(*c));

    c->functions = fns;
    c->n_functions = n;
    return c;
}

static void
in_keys(struct rpc_in *in, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rpc_key_add_value(A, rpc_key_get(A, in, names[i]), "1");
}

Test(rpc, filter_values_are_not_arguments)
{
    cr_expect(dba__http_rpc_is_filter("eq.1"));
    cr_expect(dba__http_rpc_is_filter("not.in.(1,2)"));
    cr_expect(dba__http_rpc_is_filter("fts(english).cat"));
    cr_expect(dba__http_rpc_is_filter("like(any).{a*,b*}"));
    cr_expect(dba__http_rpc_is_filter("is.null"));
    cr_expect_not(dba__http_rpc_is_filter("1"));
    cr_expect_not(dba__http_rpc_is_filter("hello.world"));
    cr_expect_not(dba__http_rpc_is_filter("eq"));
    cr_expect_not(dba__http_rpc_is_filter("equal.1"));
    cr_expect_not(dba__http_rpc_is_filter("fts(english"));
}

Test(rpc, query_split_arguments_filters_and_reserved)
{
    struct rpc_in in = { 0 };
    struct dba_err err;

    dba_buf_init(&in.rest);
    const char *qs = "b=2&a=1&id=gt.1&select=id&order=id&v=x&v=y%20z&limit=2";

    cr_assert_eq(rpc_split_query(A, qs, strlen(qs), false, &in, &err), DBA_OK);
    cr_assert_eq(in.n_keys, 3);
    cr_expect_str_eq(in.keys[0].name, "a"); /* sorted */
    cr_expect_str_eq(in.keys[1].name, "b");
    cr_expect_str_eq(in.keys[2].name, "v");
    cr_expect_eq(in.keys[2].n, 2);
    cr_expect_str_eq(in.keys[2].values[1], "y z");
    cr_expect_str_eq(in.rest.data, "id=gt.1&select=id&order=id&limit=2");
    dba_buf_cleanup(&in.rest);
}

Test(rpc, matches_required_and_optional)
{
    struct dba_function f = mk_fn("f", "a:integer,b:integer=,c:text=");
    const char *ab[] = { "a", "b" }, *a[] = { "a" }, *b[] = { "b" }, *ax[] = { "a", "x" };

    cr_expect(dba__http_rpc_matches(&f, a, 1, false));
    cr_expect(dba__http_rpc_matches(&f, ab, 2, false));
    cr_expect_not(dba__http_rpc_matches(&f, b, 1, false));  /* a is required */
    cr_expect_not(dba__http_rpc_matches(&f, ax, 2, false)); /* x is no parameter */
    struct dba_function none = mk_fn("g", "");
    cr_expect(dba__http_rpc_matches(&none, NULL, 0, false));
    cr_expect_not(dba__http_rpc_matches(&none, a, 1, false));
    cr_expect_not(dba__http_rpc_matches(&none, NULL, 0, true)); /* a text body to no params */
    struct dba_function opt = mk_fn("h", "a:int=,b:int=");
    cr_expect(dba__http_rpc_matches(&opt, NULL, 0, false));
    cr_expect(dba__http_rpc_matches(&opt, b, 1, false));
}

Test(rpc, overloads_resolve_by_names)
{
    struct dba_function fns[3] = { mk_fn("over", ""), mk_fn("over", "a:integer,b:integer"),
                                   mk_fn("over", "a:text,b:text,c:text") };
    struct dba_catalog *c = mk_cat(fns, 3);
    const char *abc[] = { "a", "b", "c" };
    const struct dba_function *out = NULL;
    struct rpc_in in = { 0 };
    struct dba_err err;
    bool whole;

    cr_assert_eq(rpc_resolve(A, c, "test", "over", &in, &out, &whole, &err), DBA_OK);
    cr_expect_eq(out, &fns[0]);
    in_keys(&in, abc, 2);
    cr_assert_eq(rpc_resolve(A, c, "test", "over", &in, &out, &whole, &err), DBA_OK);
    cr_expect_eq(out, &fns[1]);
    in_keys(&in, abc + 2, 1);
    cr_assert_eq(rpc_resolve(A, c, "test", "over", &in, &out, &whole, &err), DBA_OK);
    cr_expect_eq(out, &fns[2]);
    cr_expect_not(whole);
}

Test(rpc, unknown_names_are_pgrst202_with_hint)
{
    struct dba_function fns[1] = { mk_fn("add_them", "a:integer,b:integer") };
    struct dba_catalog *c = mk_cat(fns, 1);
    const char *k[] = { "a", "b", "smthelse" };
    const struct dba_function *out = NULL;
    struct rpc_in in = { 0 };
    struct dba_err err;
    bool whole;

    in_keys(&in, k, 3);
    cr_assert_eq(rpc_resolve(A, c, "test", "add_them", &in, &out, &whole, &err), DBA_ENOTFOUND);
    cr_expect_eq(err.http_status, 404);
    cr_expect_str_eq(err.pgrst, "PGRST202");
    cr_expect_str_eq(err.msg, "Could not find the function test.add_them(a, b, smthelse) in the "
                              "schema cache");
    cr_expect_str_eq(err.detail, "Searched for the function test.add_them with parameters a, b, "
                                 "smthelse, but no matches were found in the schema cache.");
    cr_expect_str_eq(err.hint, "Perhaps you meant to call the function test.add_them(a, b)");
}

Test(rpc, unknown_function_without_parameters)
{
    struct dba_function fns[1] = { mk_fn("sayhello", "name:text") };
    struct dba_catalog *c = mk_cat(fns, 1);
    const struct dba_function *out = NULL;
    struct rpc_in in = { 0 };
    struct dba_err err;
    bool whole;

    cr_assert_eq(rpc_resolve(A, c, "test", "sayhell", &in, &out, &whole, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.msg, "Could not find the function test.sayhell without parameters in the "
                              "schema cache");
    cr_expect_str_eq(err.hint, "Perhaps you meant to call the function test.sayhello");
    cr_assert_eq(rpc_resolve(A, c, "test", "fake", &in, &out, &whole, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.hint, "");
}

Test(rpc, single_unnamed_json_parameter_takes_the_body)
{
    struct dba_function fns[2] = { mk_fn("named", "data:json"), mk_fn("unnamed", ":json") };
    struct dba_catalog *c = mk_cat(fns, 2);
    const char *k[] = { "A", "B", "C" };
    const struct dba_function *out = NULL;
    struct rpc_in in = { .post = true, .media = RPC_JSON };
    struct dba_err err;
    bool whole = false;

    in_keys(&in, k, 3);
    cr_assert_eq(rpc_resolve(A, c, "test", "unnamed", &in, &out, &whole, &err), DBA_OK);
    cr_expect(whole);
    cr_assert_eq(rpc_resolve(A, c, "test", "named", &in, &out, &whole, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.msg, "Could not find the function test.named(A, B, C) in the schema "
                              "cache");
    cr_expect_str_eq(err.detail, "Searched for the function test.named with parameters A, B, C or "
                                 "with a single unnamed json/jsonb parameter, but no matches were "
                                 "found in the schema cache.");
    cr_expect_str_eq(err.hint, "");
    in.media = RPC_TEXT; /* a text body does not go to a json parameter */
    cr_assert_eq(rpc_resolve(A, c, "test", "unnamed", &in, &out, &whole, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.msg, "Could not find the function test.unnamed in the schema cache");
}

Test(rpc, ambiguous_overloads_are_pgrst203)
{
    struct dba_function fns[2] = { mk_fn("amb", "a:integer"), mk_fn("amb", "a:text") };
    struct dba_catalog *c = mk_cat(fns, 2);
    const char *k[] = { "a" };
    const struct dba_function *out = NULL;
    struct rpc_in in = { 0 };
    struct dba_err err;
    bool whole;

    in_keys(&in, k, 1);
    cr_assert_eq(rpc_resolve(A, c, "test", "amb", &in, &out, &whole, &err), DBA_EINVAL);
    cr_expect_eq(err.http_status, 300);
    cr_expect_str_eq(err.pgrst, "PGRST203");
    cr_expect_str_eq(err.msg, "Could not choose the best candidate function between: "
                              "test.amb(a => integer), test.amb(a => text)");
}

Test(rpc, call_node_binds_given_arguments_in_parameter_order)
{
    struct dba_function f = mk_fn("f", "a:integer,b:integer=,v:*text[]=");
    const char *k[] = { "v", "a", "v" };
    struct dba_call call = { .fn = &f };
    struct rpc_in in = { .list = true };

    in_keys(&in, k, 3);
    rpc_call_fill(A, &call, &in, false, "");
    cr_assert_eq(call.args_kind, DBA_CALL_ARGS_LIST);
    cr_assert_eq(call.n_args, 2);
    cr_expect_str_eq(call.args[0].param->name, "a");
    cr_expect_str_eq(call.args[1].param->name, "v");
    cr_expect_eq(call.args[1].n_values, 2); /* the repeated key feeds the VARIADIC */
    in.post = true;
    in.list = false;
    in.object = "{\"a\":1}";
    rpc_call_fill(A, &call, &in, false, "");
    cr_expect_eq(call.args_kind, DBA_CALL_ARGS_OBJECT);
    cr_expect_str_eq(call.body, "{\"a\":1}");
    rpc_call_fill(A, &call, &in, true, "[1,2]");
    cr_expect_eq(call.args_kind, DBA_CALL_ARGS_WHOLE);
    cr_expect_str_eq(call.body, "[1,2]");
}

Test(rpc, body_media_types_are_postgrests)
{
    cr_expect_eq(rpc_media_of(A, NULL), RPC_JSON);
    cr_expect_eq(rpc_media_of(A, "Application/JSON; charset=utf-8"), RPC_JSON);
    cr_expect_eq(rpc_media_of(A, "application/vnd.pgrst.array+json"), RPC_JSON);
    cr_expect_eq(rpc_media_of(A, "application/json@x"), RPC_JSON); /* the rest is ignored */
    cr_expect_eq(rpc_media_of(A, "text/plain ;charset=utf-8"), RPC_TEXT);
    cr_expect_eq(rpc_media_of(A, "text/xml"), RPC_XML);
    cr_expect_eq(rpc_media_of(A, "application/octet-stream"), RPC_OCTET);
    cr_expect_eq(rpc_media_of(A, "application/x-www-form-urlencoded"), RPC_FORM);
    cr_expect_eq(rpc_media_of(A, "text/csv"), RPC_CSV);
    /* not PostgREST's: application/xml, longer subtypes, an empty header, stripped arrays */
    cr_expect_eq(rpc_media_of(A, "application/xml; charset=utf-8"), RPC_OTHER);
    cr_expect_eq(rpc_media_of(A, "text/plainish"), RPC_OTHER);
    cr_expect_eq(rpc_media_of(A, ""), RPC_OTHER);
    cr_expect_eq(rpc_media_of(A, "application/vnd.pgrst.array+json;nulls=stripped"), RPC_OTHER);
    cr_expect(!rpc_media_raw(RPC_FORM) && !rpc_media_raw(RPC_CSV) && rpc_media_raw(RPC_OCTET));
}

/* The message of a refused Content-Type: PostgREST's toMime of what it decoded. */
static const char *
refused(const char *ct)
{
    struct dba_err err;

    cr_assert_eq(dba_http_content_type_refuse(A, ct, &err), DBA_EINVAL);
    cr_expect_eq(err.http_status, 400);
    cr_expect_str_eq(err.pgrst, "PGRST102");
    return dba_arena_strdup(A, err.msg + strlen("Content-Type not acceptable: "));
}

Test(rpc, refused_content_types_are_shown_as_postgrest_shows_them)
{
    /* any other type: the header value as sent, parameters and case included */
    cr_expect_str_eq(refused("application/xml; charset=utf-8"), "application/xml; charset=utf-8");
    cr_expect_str_eq(refused("Application/PDF"), "Application/PDF");
    cr_expect_str_eq(refused("x-bad type"), "x-bad type"); /* not a media type at all */
    cr_expect_str_eq(refused(""), "");
    cr_expect_str_eq(refused("text/\xe9t\xe9"), "text/\xc3\xa9t\xc3\xa9"); /* Latin-1 */
    /* a known type: its canonical name */
    cr_expect_str_eq(refused("Text/Plain; charset=utf-8"), "text/plain");
    cr_expect_str_eq(refused("application/GEO+json"), "application/geo+json");
    cr_expect_str_eq(refused("application/vnd.pgrst.object"), "application/vnd.pgrst.object+json");
    cr_expect_str_eq(refused("application/vnd.pgrst.object+json; nulls=stripped"),
                     "application/vnd.pgrst.object+json;nulls=stripped");
    cr_expect_str_eq(refused("application/vnd.pgrst.array;NULLS=stripped"),
                     "application/vnd.pgrst.array+json;nulls=stripped");
    cr_expect_str_eq(refused("*/*"), "*/*");
    cr_expect_str_eq(refused("application/vnd.pgrst.plan+json; for=\"text/csv\"; "
                             "options=wal|analyze"),
                     "application/vnd.pgrst.plan+json; for=\"text/csv\"; options=analyze|wal");
    cr_expect_str_eq(refused("application/vnd.pgrst.plan"),
                     "application/vnd.pgrst.plan+text; for=\"application/json\"");
    /* long values are cut at a character, never inside one */
    char big[1200];
    memset(big, '\xe9', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *s = refused(big);
    cr_expect_eq(strlen(s), 400);
    cr_expect_eq((unsigned char)s[398], 0xc3);
}

Test(rpc, form_body_pairs_are_all_arguments)
{
    struct rpc_in in = { .post = true, .list = true, .media = RPC_FORM };
    const char *body = "v=hi&select=x&v=there+you&flag&n=%31";
    struct dba_err err;

    dba_buf_init(&in.rest);
    cr_assert_eq(rpc_read_body(A, body, strlen(body), &in, &err), DBA_OK);
    cr_assert_eq(in.n_keys, 4);
    cr_expect_str_eq(in.keys[0].name, "flag");
    cr_expect_str_eq(in.keys[0].values[0], ""); /* no '=': the empty value */
    cr_expect_str_eq(in.keys[1].name, "n");
    cr_expect_str_eq(in.keys[1].values[0], "1");
    cr_expect_str_eq(in.keys[2].name, "select"); /* a form names arguments only */
    cr_expect_str_eq(in.keys[3].name, "v");
    cr_assert_eq(in.keys[3].n, 2);
    cr_expect_str_eq(in.keys[3].values[1], "there you");
    cr_expect_eq(in.rest.len, 0);
    /* a NUL byte is refused */
    in.n_keys = 0;
    cr_expect_eq(rpc_read_body(A, "a=1\0b", 5, &in, &err), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST102");
    dba_buf_cleanup(&in.rest);
}

Test(rpc, csv_body_names_arguments_from_its_header)
{
    struct rpc_in in = { .post = true, .media = RPC_CSV };
    const char *body = "a,b\n1,2\n4,6\n";
    struct dba_err err;

    cr_assert_eq(rpc_read_body(A, body, strlen(body), &in, &err), DBA_OK, "%s", err.msg);
    cr_assert_eq(in.n_keys, 2);
    cr_expect_str_eq(in.keys[0].name, "a");
    cr_expect_str_eq(in.keys[1].name, "b");
    cr_expect_str_eq(in.object, "{\"a\":\"1\",\"b\":\"2\"}"); /* the first row */
    in.n_keys = 0;
    cr_expect_eq(rpc_read_body(A, "a,b\n1\n", 6, &in, &err), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST102");
}

Test(rpc, json_array_body_needs_uniform_keys)
{
    struct rpc_in in = { .post = true, .media = RPC_JSON };
    const char *ok = "[{\"a\":1,\"b\":2},{\"b\":3,\"a\":4}]";
    const char *bad = "[{\"a\":1},{\"b\":2}]";
    const char *scalars = "[1,2]";
    struct dba_err err;

    cr_assert_eq(rpc_read_body(A, ok, strlen(ok), &in, &err), DBA_OK);
    cr_expect_eq(in.n_keys, 2);
    cr_expect_eq(rpc_read_body(A, bad, strlen(bad), &in, &err), DBA_EINVAL);
    cr_expect_str_eq(err.msg, "All object keys must match");
    cr_expect_eq(rpc_read_body(A, scalars, strlen(scalars), &in, &err), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST102");
}

Test(rpc, whole_bodies_bytea_as_hex_text_refused_with_nul)
{
    struct rpc_in in = { .post = true, .media = RPC_OCTET };
    const char *out = NULL;
    struct dba_err err;

    cr_assert_eq(rpc_whole_body(A, &in, "a\0\xff\\", 4, &out, &err), DBA_OK);
    cr_expect_str_eq(out, "\\x6100ff5c");
    cr_assert_eq(rpc_whole_body(A, &in, NULL, 0, &out, &err), DBA_OK);
    cr_expect_str_eq(out, "\\x");
    in.media = RPC_TEXT;
    cr_assert_eq(rpc_whole_body(A, &in, "a\\b", 3, &out, &err), DBA_OK);
    cr_expect_str_eq(out, "a\\b");
    cr_expect_eq(rpc_whole_body(A, &in, "a\0b", 3, &out, &err), DBA_EINVAL);
    cr_expect_eq(err.http_status, 400);
    cr_expect_str_eq(err.pgrst, "22021");
}

Test(rpc, raw_bodies_and_forms_resolve_like_postgrest)
{
    struct dba_function fns[3] = { mk_fn("f", ""), mk_fn("f", "a:integer,b:integer"),
                                   mk_fn("f", ":bytea") };
    struct dba_catalog *c;
    const char *k[] = { "a", "b" };
    const struct dba_function *out = NULL;
    struct rpc_in in = { .post = true, .list = true, .media = RPC_FORM };
    struct dba_err err;
    bool whole = true;

    fns[0].n_args = 0;
    fns[0].n_in = 0;
    c = mk_cat(fns, 3);
    in_keys(&in, k, 2);
    cr_assert_eq(rpc_resolve(A, c, "test", "f", &in, &out, &whole, &err), DBA_OK);
    cr_expect_eq(out, &fns[1]);
    cr_expect_not(whole);
    in.n_keys = 0; /* an empty form calls f() */
    cr_assert_eq(rpc_resolve(A, c, "test", "f", &in, &out, &whole, &err), DBA_OK);
    cr_expect_eq(out, &fns[0]);
    in.media = RPC_OCTET; /* raw bytes never call f(): the unnamed bytea one */
    cr_assert_eq(rpc_resolve(A, c, "test", "f", &in, &out, &whole, &err), DBA_OK);
    cr_expect_eq(out, &fns[2]);
    cr_expect(whole);
}
