/* test_grammar.c - the PostgREST query-string grammar: select, filters, logic trees, order,
   limit/offset, decoding, and the exact PGRST100 texts PostgREST produces. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http/grammar.h"

static struct dba_arena *arena;
static struct dba_query q;
static struct dba_err err;

static void
gr_setup(void)
{
    dba_mem_init();
    arena = dba_arena_new();
    memset(&q, 0, sizeof(q));
    dba_err_clear(&err);
}

static void
gr_teardown(void)
{
    dba_arena_free(arena);
    cr_expect_eq(dba_arena_live(), 0);
}

TestSuite(grammar, .init = gr_setup, .fini = gr_teardown);

/* Parses a GET with query string qs. */
static int
get(const char *qs)
{
    struct dba_http_req_in in = { .method = DBA_M_GET, .query = qs };

    return dba_http_grammar_parse(arena, &in, &q, &err);
}

/* Parses qs, requires success and one top-level child; returns its filter. */
static const struct dba_filter *
one_filter(const char *qs)
{
    int rc = get(qs);

    cr_assert_eq(rc, DBA_OK, "%s: %s / %s", qs, err.msg, err.detail);
    cr_assert_eq(q.rel.where.n_children, 1);
    cr_assert_eq(q.rel.where.children[0].kind, DBA_L_FILTER);
    return &q.rel.where.children[0].filter;
}

/* Requires a PGRST100 with exactly msg and detail. */
static void
expect_parse_error(const char *qs, const char *msg, const char *detail)
{
    cr_assert_eq(get(qs), DBA_EINVAL, "%s parsed", qs);
    cr_expect_eq(err.http_status, 400);
    cr_expect_str_eq(err.pgrst, "PGRST100");
    cr_expect_str_eq(err.msg, msg);
    cr_expect_str_eq(err.detail, detail);
    cr_expect_str_empty(err.hint);
}

/* ---- defaults and query-string decoding ---- */

Test(grammar, defaults_without_query)
{
    cr_assert_eq(get(NULL), DBA_OK);
    cr_expect_eq(q.method, DBA_M_GET);
    cr_assert_eq(q.rel.n_select, 1);
    cr_expect_eq(q.rel.select[0].kind, DBA_ITEM_STAR);
    cr_expect_eq(q.rel.where.kind, DBA_L_AND);
    cr_expect_eq(q.rel.where.n_children, 0);
    cr_expect_eq(q.rel.limit, -1);
    cr_expect_eq(q.rel.offset, 0);
    cr_expect_eq(q.range_from, -1);
    cr_expect_eq(q.range_to, -1);
    cr_expect_eq(q.prefer.max_affected, -1);
    cr_expect_eq(q.media, DBA_MEDIA_JSON);
    cr_expect_eq(q.body_kind, DBA_BODY_NONE);
    cr_expect_null(q.columns);
    cr_expect_null(q.on_conflict);
}

Test(grammar, percent_and_plus_decode_to_space)
{
    const struct dba_filter *f = one_filter("name=eq.parent%20v1-1");

    cr_expect_str_eq(f->value, "parent v1-1");
    f = one_filter("name=eq.parent+v1-1");
    cr_expect_str_eq(f->value, "parent v1-1");
}

Test(grammar, encoded_reserved_characters)
{
    cr_assert_eq(get("select=a%2Cb&a=in.%28%22x%2Cy%22%2C2%29"), DBA_OK, "%s", err.detail);
    cr_assert_eq(q.rel.n_select, 2);
    cr_expect_str_eq(q.rel.select[1].field.name, "b");
    cr_assert_eq(q.rel.where.children[0].filter.n_list, 2);
    cr_expect_str_eq(q.rel.where.children[0].filter.list[0], "x,y");
}

Test(grammar, repeated_filter_keys_all_apply)
{
    cr_assert_eq(get("a=gte.1&a=lte.5"), DBA_OK);
    cr_assert_eq(q.rel.where.n_children, 2);
    cr_expect_eq(q.rel.where.children[0].filter.op, DBA_OP_GTE);
    cr_expect_str_eq(q.rel.where.children[0].filter.value, "1");
    cr_expect_eq(q.rel.where.children[1].filter.op, DBA_OP_LTE);
    cr_expect_str_eq(q.rel.where.children[1].filter.value, "5");
}

Test(grammar, pairs_without_value_and_empty_pairs_are_ignored)
{
    cr_assert_eq(get("&&flag&a=eq.1&"), DBA_OK);
    cr_expect_eq(q.rel.where.n_children, 1);
}

Test(grammar, semicolon_separates_pairs_like_postgrest)
{
    cr_assert_eq(get("a=eq.1;b=eq.2"), DBA_OK);
    cr_expect_eq(q.rel.where.n_children, 2);
}

Test(grammar, value_without_operator_is_an_error)
{
    expect_parse_error("id=val", "\"failed to parse filter (val)\" (line 1, column 1)",
                       "unexpected \"v\" expecting \"not\" or operator (eq, gt, ...)");
}

/* ---- operators ---- */

Test(grammar, every_plain_operator)
{
    static const struct {
        const char *text;
        enum dba_op op;
    } ops[] = {
        { "eq", DBA_OP_EQ },     { "neq", DBA_OP_NEQ },     { "gt", DBA_OP_GT },
        { "gte", DBA_OP_GTE },   { "lt", DBA_OP_LT },       { "lte", DBA_OP_LTE },
        { "match", DBA_OP_MATCH }, { "imatch", DBA_OP_IMATCH }, { "isdistinct", DBA_OP_ISDISTINCT },
        { "cs", DBA_OP_CS },     { "cd", DBA_OP_CD },       { "ov", DBA_OP_OV },
        { "sl", DBA_OP_SL },     { "sr", DBA_OP_SR },       { "nxr", DBA_OP_NXR },
        { "nxl", DBA_OP_NXL },   { "adj", DBA_OP_ADJ },     { "fts", DBA_OP_FTS },
        { "plfts", DBA_OP_PLFTS }, { "phfts", DBA_OP_PHFTS }, { "wfts", DBA_OP_WFTS },
    };

    for (size_t i = 0; i < DBA_ARRAY_LEN(ops); i++) {
        char qs[64];
        const struct dba_filter *f;

        snprintf(qs, sizeof(qs), "col=%s.[1,5)", ops[i].text);
        memset(&q, 0, sizeof(q));
        f = one_filter(qs);
        cr_expect_eq(f->op, ops[i].op, "%s", ops[i].text);
        cr_expect_str_eq(f->value, "[1,5)", "%s", ops[i].text);
        cr_expect_not(f->negate);
        cr_expect_eq(f->quant, DBA_Q_NONE);
        cr_expect_null(f->lang);
        cr_expect_str_eq(f->field.name, "col");
    }
}

Test(grammar, value_keeps_dots_and_everything_after_operator)
{
    const struct dba_filter *f = one_filter("email=eq.a.b@c.d");

    cr_expect_str_eq(f->value, "a.b@c.d");
}

Test(grammar, like_and_ilike_turn_star_into_percent)
{
    const struct dba_filter *f = one_filter("k=like.*yx");

    cr_expect_eq(f->op, DBA_OP_LIKE);
    cr_expect_str_eq(f->value, "%yx");
    f = one_filter("k=ilike.xy*");
    cr_expect_eq(f->op, DBA_OP_ILIKE);
    cr_expect_str_eq(f->value, "xy%");
}

Test(grammar, not_prefix_negates)
{
    const struct dba_filter *f = one_filter("id=not.eq.5");

    cr_expect(f->negate);
    cr_expect_eq(f->op, DBA_OP_EQ);
    cr_expect_str_eq(f->value, "5");
    f = one_filter("k=not.like.*yx");
    cr_expect(f->negate);
    cr_expect_str_eq(f->value, "%yx");
}

Test(grammar, any_and_all_keep_the_array_literal)
{
    const struct dba_filter *f = one_filter("id=eq(any).{3,4,5}");

    cr_expect_eq(f->op, DBA_OP_EQ);
    cr_expect_eq(f->quant, DBA_Q_ANY);
    cr_expect_str_eq(f->value, "{3,4,5}");
    f = one_filter("id=gt(all).{4,3}");
    cr_expect_eq(f->op, DBA_OP_GT);
    cr_expect_eq(f->quant, DBA_Q_ALL);
    f = one_filter("body=ilike(all).{*plan*,*great*}");
    cr_expect_eq(f->quant, DBA_Q_ALL);
    cr_expect_str_eq(f->value, "{%plan%,%great%}");
    f = one_filter("body=not.match(any).{stop,thing}");
    cr_expect(f->negate);
    cr_expect_eq(f->op, DBA_OP_MATCH);
}

Test(grammar, neq_does_not_take_a_quantifier)
{
    cr_expect_eq(get("a=neq(any).{1}"), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST100");
}

Test(grammar, in_list_plain_and_quoted)
{
    const struct dba_filter *f =
        one_filter("name=in.(David White,\"Hebdon, John\",\"a\\\"b\\\\c\")");

    cr_expect_eq(f->op, DBA_OP_IN);
    cr_assert_eq(f->n_list, 3);
    cr_expect_str_eq(f->list[0], "David White");
    cr_expect_str_eq(f->list[1], "Hebdon, John");
    cr_expect_str_eq(f->list[2], "a\"b\\c");
}

Test(grammar, in_empty_list_and_not_in)
{
    const struct dba_filter *f = one_filter("id=in.()");

    cr_expect_eq(f->n_list, 0);
    f = one_filter("id=not.in.(2,4)");
    cr_expect(f->negate);
    cr_expect_eq(f->n_list, 2);
    f = one_filter("id=in.(\"\")");
    cr_assert_eq(f->n_list, 1);
    cr_expect_str_eq(f->list[0], "");
}

Test(grammar, in_without_parenthesis_is_an_error)
{
    expect_parse_error("id=in.1,2", "\"failed to parse filter (in.1,2)\" (line 1, column 4)",
                       "unexpected \"1\" expecting \"(\"");
}

Test(grammar, is_values_case_insensitive)
{
    static const struct {
        const char *text;
        enum dba_is_value v;
    } vals[] = {
        { "null", DBA_IS_NULL },         { "NULL", DBA_IS_NULL },   { "not_null", DBA_IS_NOT_NULL },
        { "NoT_NuLl", DBA_IS_NOT_NULL }, { "true", DBA_IS_TRUE },   { "FALSE", DBA_IS_FALSE },
        { "unknown", DBA_IS_UNKNOWN },
    };

    for (size_t i = 0; i < DBA_ARRAY_LEN(vals); i++) {
        char qs[64];
        const struct dba_filter *f;

        snprintf(qs, sizeof(qs), "a=is.%s", vals[i].text);
        memset(&q, 0, sizeof(q));
        f = one_filter(qs);
        cr_expect_eq(f->op, DBA_OP_IS);
        cr_expect_eq(f->is_value, vals[i].v, "%s", vals[i].text);
    }
}

Test(grammar, is_invalid_value)
{
    expect_parse_error("done=is.nil", "\"failed to parse filter (is.nil)\" (line 1, column 5)",
                       "unexpected \"i\" expecting isVal: (null, not_null, true, false, unknown)");
    cr_expect_eq(get("done=is.nullx"), DBA_EINVAL);
}

Test(grammar, not_is_null)
{
    const struct dba_filter *f = one_filter("a=not.is.null");

    cr_expect(f->negate);
    cr_expect_eq(f->is_value, DBA_IS_NULL);
}

Test(grammar, fts_language)
{
    const struct dba_filter *f = one_filter("tsv=fts(french).amusant");

    cr_expect_eq(f->op, DBA_OP_FTS);
    cr_expect_str_eq(f->lang, "french");
    cr_expect_str_eq(f->value, "amusant");
    f = one_filter("tsv=wfts(english).fat+%26+cat");
    cr_expect_eq(f->op, DBA_OP_WFTS);
    cr_expect_str_eq(f->value, "fat & cat");
    f = one_filter("tsv=not.plfts.The%20Fat%20Rats");
    cr_expect(f->negate);
    cr_expect_eq(f->op, DBA_OP_PLFTS);
    cr_expect_null(f->lang);
}

Test(grammar, json_path_filters)
{
    const struct dba_filter *f = one_filter("data->foo->>bar=eq.baz");

    cr_expect_str_eq(f->field.name, "data");
    cr_assert_eq(f->field.n_path, 2);
    cr_expect_str_eq(f->field.path[0].key, "foo");
    cr_expect_not(f->field.path[0].as_text);
    cr_expect_str_eq(f->field.path[1].key, "bar");
    cr_expect(f->field.path[1].as_text);
    f = one_filter("data->>-3=eq.1");
    cr_assert_eq(f->field.n_path, 1);
    cr_expect(f->field.path[0].is_index);
    cr_expect_str_eq(f->field.path[0].key, "-3");
    f = one_filter("data->a=eq.{\"b\":2}");
    cr_expect_str_eq(f->value, "{\"b\":2}");
}

Test(grammar, quoted_filter_column)
{
    const struct dba_filter *f = one_filter("%22my.col%22=eq.1");

    cr_expect_str_eq(f->field.name, "my.col");
}

Test(grammar, cast_in_filter_key_is_refused)
{
    expect_parse_error("id::text=eq.1",
                       "\"failed to parse tree path (id::text)\" (line 1, column 3)",
                       "unexpected ':' expecting letter, digit, \"-\", delimiter (.), \"->>\", "
                       "\"->\" or end of input");
}

Test(grammar, unknown_operator_messages)
{
    expect_parse_error("a=noop.0", "\"failed to parse filter (noop.0)\" (line 1, column 1)",
                       "unexpected \"o\" expecting \"not\" or operator (eq, gt, ...)");
    expect_parse_error("a=fts().value",
                       "\"failed to parse filter (fts().value)\" (line 1, column 5)",
                       "unexpected \")\" expecting operator (eq, gt, ...)");
    expect_parse_error("a=eq().value", "\"failed to parse filter (eq().value)\" (line 1, column 4)",
                       "unexpected \")\" expecting operator (eq, gt, ...)");
    expect_parse_error("a=is().value", "\"failed to parse filter (is().value)\" (line 1, column 3)",
                       "unexpected \"(\" expecting operator (eq, gt, ...)");
    expect_parse_error("a=in().value", "\"failed to parse filter (in().value)\" (line 1, column 3)",
                       "unexpected \"(\" expecting operator (eq, gt, ...)");
    expect_parse_error("a=not.xx.1", "\"failed to parse filter (not.xx.1)\" (line 1, column 5)",
                       "unexpected \"x\" expecting operator (eq, gt, ...)");
}

Test(grammar, embedded_filter_is_pgrst108)
{
    cr_assert_eq(get("select=*&non_existent_children.id=eq.1"), DBA_EINVAL);
    cr_expect_eq(err.http_status, 400);
    cr_expect_str_eq(err.pgrst, "PGRST108");
    cr_expect_str_eq(err.msg,
                     "'non_existent_children' is not an embedded resource in this request");
    cr_expect_str_eq(err.hint, "Verify that 'non_existent_children' is included in the 'select' "
                               "query parameter.");
    cr_expect_str_empty(err.detail);
}

Test(grammar, syntax_errors_win_over_embed_errors)
{
    cr_assert_eq(get("x.id=eq.1&y=bad"), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST100");
}

/* ---- logic trees ---- */

Test(grammar, or_tree)
{
    const struct dba_logic *t;

    cr_assert_eq(get("or=(id.eq.1,id.eq.2)&name=eq.entity 1"), DBA_OK, "%s", err.detail);
    cr_assert_eq(q.rel.where.n_children, 2);
    t = &q.rel.where.children[0];
    cr_expect_eq(t->kind, DBA_L_OR);
    cr_expect_not(t->negate);
    cr_assert_eq(t->n_children, 2);
    cr_expect_eq(t->children[0].kind, DBA_L_FILTER);
    cr_expect_str_eq(t->children[0].filter.field.name, "id");
    cr_expect_str_eq(t->children[1].filter.value, "2");
    cr_expect_str_eq(q.rel.where.children[1].filter.value, "entity 1");
}

Test(grammar, not_or_and_nested_trees)
{
    const struct dba_logic *t;

    cr_assert_eq(get("not.or=(id.eq.1,not.and(age.gte.11,age.lte.17),or(a.is.null))"), DBA_OK,
                 "%s", err.detail);
    t = &q.rel.where.children[0];
    cr_expect_eq(t->kind, DBA_L_OR);
    cr_expect(t->negate);
    cr_assert_eq(t->n_children, 3);
    cr_expect_eq(t->children[1].kind, DBA_L_AND);
    cr_expect(t->children[1].negate);
    cr_assert_eq(t->children[1].n_children, 2);
    cr_expect_eq(t->children[1].children[0].filter.op, DBA_OP_GTE);
    cr_expect_eq(t->children[2].kind, DBA_L_OR);
    cr_expect_eq(t->children[2].children[0].filter.is_value, DBA_IS_NULL);
}

Test(grammar, and_tree_with_negated_leaves)
{
    const struct dba_logic *t;

    cr_assert_eq(get("and=(arr.not.cs.{1,2,3},and(id.not.in.(1,3),name.not.like.*3))"), DBA_OK,
                 "%s", err.detail);
    t = &q.rel.where.children[0];
    cr_expect_eq(t->kind, DBA_L_AND);
    cr_expect(t->children[0].filter.negate);
    cr_expect_eq(t->children[0].filter.op, DBA_OP_CS);
    cr_expect_str_eq(t->children[0].filter.value, "{1,2,3}");
    cr_expect_eq(t->children[1].children[0].filter.n_list, 2);
    cr_expect_str_eq(t->children[1].children[1].filter.value, "%3");
}

Test(grammar, tree_quoted_values_and_in_lists)
{
    const struct dba_logic *t;

    cr_assert_eq(get("or=(name.eq.\"(a,b)\",name.like.\"*ity,4*\",id.in.(\"1\",\"2\"))"), DBA_OK,
                 "%s", err.detail);
    t = &q.rel.where.children[0];
    cr_expect_str_eq(t->children[0].filter.value, "(a,b)");
    cr_expect_str_eq(t->children[1].filter.value, "%ity,4%");
    cr_assert_eq(t->children[2].filter.n_list, 2);
    cr_expect_str_eq(t->children[2].filter.list[1], "2");
}

Test(grammar, tree_whitespace_json_paths_and_reserved_word_columns)
{
    const struct dba_logic *t;

    cr_assert_eq(get("and=( and ( id.in.( 1, 2, 3 ) , id.eq.3 ) , or ( id.eq.2 , id.eq.3 ) )"),
                 DBA_OK, "%s", err.detail);
    t = &q.rel.where.children[0];
    cr_assert_eq(t->n_children, 2);
    cr_expect_eq(t->children[0].children[0].filter.n_list, 3);
    cr_expect_eq(t->children[1].kind, DBA_L_OR);
    memset(&q, 0, sizeof(q));
    cr_assert_eq(get("or=(jsonb_col->a->>b.eq.foo, or_col.eq.x, and_col.eq.y)"), DBA_OK,
                 "%s", err.detail);
    t = &q.rel.where.children[0];
    cr_expect_eq(t->children[0].filter.field.n_path, 2);
    cr_expect_str_eq(t->children[1].filter.field.name, "or_col");
    cr_expect_str_eq(t->children[2].filter.field.name, "and_col");
}

Test(grammar, tree_zero_conditions_error)
{
    expect_parse_error("or=()", "\"failed to parse logic tree (())\" (line 1, column 4)",
                       "unexpected \")\" expecting field name (* or [a..z0..9_$]), negation "
                       "operator (not) or logic operator (and, or)");
}

Test(grammar, tree_error_messages)
{
    expect_parse_error("or=(id.in.1,2,id.eq.3)",
                       "\"failed to parse logic tree ((id.in.1,2,id.eq.3))\" (line 1, column 10)",
                       "unexpected \"1\" expecting \"(\"");
    expect_parse_error("or=)(", "\"failed to parse logic tree ()()\" (line 1, column 3)",
                       "unexpected \")\" expecting \"(\"");
    expect_parse_error("and=(ord(id.eq.1,id.eq.1),id.eq.2)",
                       "\"failed to parse logic tree ((ord(id.eq.1,id.eq.1),id.eq.2))\" "
                       "(line 1, column 7)",
                       "unexpected \"d\" expecting \"(\"");
    expect_parse_error("or=(id.eq.1,not.xor(id.eq.2,id.eq.3))",
                       "\"failed to parse logic tree ((id.eq.1,not.xor(id.eq.2,id.eq.3)))\" "
                       "(line 1, column 16)",
                       "unexpected \"x\" expecting logic operator (and, or)");
}

Test(grammar, embedded_logic_key_is_pgrst108)
{
    cr_assert_eq(get("child_entities.or=(id.eq.1,name.eq.x)"), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST108");
    cr_expect_str_eq(err.msg, "'child_entities' is not an embedded resource in this request");
}

Test(grammar, deep_nesting_is_refused)
{
    char qs[2048] = "or=(";

    for (int i = 0; i < 100; i++)
        strcat(qs, "or(");
    strcat(qs, "a.eq.1");
    for (int i = 0; i < 101; i++)
        strcat(qs, ")");
    cr_expect_eq(get(qs), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST100");
}

/* ---- select ---- */

Test(grammar, select_columns_alias_cast)
{
    cr_assert_eq(get("select=id, myId:id::text ,\"quoted col\",field-with_sep"), DBA_OK,
                 "%s", err.detail);
    cr_assert_eq(q.rel.n_select, 4);
    cr_expect_str_eq(q.rel.select[0].field.name, "id");
    cr_expect_null(q.rel.select[0].alias);
    cr_expect_null(q.rel.select[0].cast);
    cr_expect_str_eq(q.rel.select[1].alias, "myId");
    cr_expect_str_eq(q.rel.select[1].field.name, "id");
    cr_expect_str_eq(q.rel.select[1].cast, "text");
    cr_expect_str_eq(q.rel.select[2].field.name, "quoted col");
    cr_expect_str_eq(q.rel.select[3].field.name, "field-with_sep");
}

Test(grammar, select_star_mixed)
{
    cr_assert_eq(get("select=*,id"), DBA_OK);
    cr_assert_eq(q.rel.n_select, 2);
    cr_expect_eq(q.rel.select[0].kind, DBA_ITEM_STAR);
    cr_expect_neq(q.rel.select[1].kind, DBA_ITEM_STAR);
}

Test(grammar, select_json_paths)
{
    const struct dba_select_item *it;

    cr_assert_eq(get("select=myBar:settings->foo->>bar,data->>0::int,data->-1,j->\"a.b\""),
                 DBA_OK, "%s", err.detail);
    cr_assert_eq(q.rel.n_select, 4);
    it = &q.rel.select[0];
    cr_expect_str_eq(it->alias, "myBar");
    cr_expect_str_eq(it->field.name, "settings");
    cr_assert_eq(it->field.n_path, 2);
    cr_expect_str_eq(it->field.path[1].key, "bar");
    cr_expect(it->field.path[1].as_text);
    it = &q.rel.select[1];
    cr_expect(it->field.path[0].is_index);
    cr_expect_str_eq(it->field.path[0].key, "0");
    cr_expect_str_eq(it->cast, "int");
    cr_expect_str_eq(q.rel.select[2].field.path[0].key, "-1");
    cr_expect_str_eq(q.rel.select[3].field.path[0].key, "a.b");
    cr_expect_not(q.rel.select[3].field.path[0].is_index);
}

Test(grammar, select_quoted_name_with_escapes)
{
    cr_assert_eq(get("select=%22a%5C%22b%22"), DBA_OK, "%s", err.detail);
    cr_expect_str_eq(q.rel.select[0].field.name, "a\"b");
}

Test(grammar, select_empty_means_star)
{
    cr_assert_eq(get("select="), DBA_OK);
    cr_assert_eq(q.rel.n_select, 1);
    cr_expect_eq(q.rel.select[0].kind, DBA_ITEM_STAR);
}

Test(grammar, select_json_syntax_errors)
{
    expect_parse_error("select=data->>--34",
                       "\"failed to parse select parameter (data->>--34)\" (line 1, column 9)",
                       "unexpected \"-\" expecting digit");
    expect_parse_error("select=data->>-78xy",
                       "\"failed to parse select parameter (data->>-78xy)\" (line 1, column 11)",
                       "unexpected 'x' expecting digit, \"->\", \"::\", \".\", \",\" or end "
                       "of input");
}

Test(grammar, select_other_syntax_errors)
{
    expect_parse_error("select=name::",
                       "\"failed to parse select parameter (name::)\" (line 1, column 7)",
                       "unexpected end of input expecting letter or digit");
    expect_parse_error("select=*!hint",
                       "\"failed to parse select parameter (*!hint)\" (line 1, column 2)",
                       "unexpected '!' expecting \")\", \",\" or end of input");
    expect_parse_error("select=id,na%25me",
                       "\"failed to parse select parameter (id,na%me)\" (line 1, column 6)",
                       "unexpected '%' expecting letter, digit, \"-\", \"->>\", \"->\", \"::\", "
                       "\".\", \")\", \",\" or end of input");
}

/* ---- select: embedding and aggregates ---- */

static const struct dba_rel *
child_at(const struct dba_rel *r, size_t i)
{
    cr_assert_lt(i, r->n_select);
    cr_assert_eq(r->select[i].kind, DBA_ITEM_CHILD, "item %zu is not an embed", i);
    cr_assert_not_null(r->select[i].child);
    return r->select[i].child;
}

Test(grammar, select_embedding_alias_and_nesting)
{
    const struct dba_rel *r, *c2, *c3;

    cr_assert_eq(get("select=*,author:authors(name,books(id,genres(*)))"), DBA_OK, "%s",
                 err.detail);
    cr_assert_eq(q.rel.n_select, 2);
    cr_expect_eq(q.rel.select[0].kind, DBA_ITEM_STAR);
    r = child_at(&q.rel, 1);
    cr_expect_str_eq(r->name, "authors");
    cr_expect_str_eq(r->alias, "author");
    cr_expect_null(r->hint);
    cr_expect_not(r->spread);
    cr_expect_not(r->join_set);
    cr_expect_eq(r->join, DBA_JOIN_LEFT);
    cr_expect_not(r->filter_only);
    cr_expect_eq(r->where.kind, DBA_L_AND);
    cr_expect_eq(r->limit, -1);
    cr_expect_null(r->table);
    cr_assert_eq(r->n_select, 2);
    cr_expect_str_eq(r->select[0].field.name, "name");
    c2 = child_at(r, 1);
    cr_expect_str_eq(c2->name, "books");
    cr_expect_null(c2->alias);
    c3 = child_at(c2, 1);
    cr_expect_str_eq(c3->name, "genres");
    cr_assert_eq(c3->n_select, 1);
    cr_expect_eq(c3->select[0].kind, DBA_ITEM_STAR);
}

Test(grammar, select_embedding_hints_and_join_types)
{
    const struct dba_rel *r;

    cr_assert_eq(get("select=c:clients!fk_cl!inner(id),x!inner!h(*),y!left(*),z!client_id(*),"
                     "w!a!b(*)"),
                 DBA_OK, "%s", err.detail);
    r = child_at(&q.rel, 0);
    cr_expect_str_eq(r->alias, "c");
    cr_expect_str_eq(r->hint, "fk_cl");
    cr_expect(r->join_set);
    cr_expect_eq(r->join, DBA_JOIN_INNER);
    r = child_at(&q.rel, 1);
    cr_expect_str_eq(r->hint, "h");
    cr_expect_eq(r->join, DBA_JOIN_INNER);
    r = child_at(&q.rel, 2);
    cr_expect_null(r->hint);
    cr_expect(r->join_set);
    cr_expect_eq(r->join, DBA_JOIN_LEFT);
    r = child_at(&q.rel, 3);
    cr_expect_str_eq(r->hint, "client_id");
    cr_expect_not(r->join_set);
    r = child_at(&q.rel, 4);
    cr_expect_str_eq(r->hint, "a", "the first hint counts");
}

Test(grammar, select_empty_embed_and_spread)
{
    const struct dba_rel *r;

    cr_assert_eq(get("select=name,child_entities(),...clients(client_name:name),"
                     "...tasks!tk!inner(*)"),
                 DBA_OK, "%s", err.detail);
    r = child_at(&q.rel, 1);
    cr_expect(r->filter_only);
    cr_expect_eq(r->n_select, 0);
    r = child_at(&q.rel, 2);
    cr_expect(r->spread);
    cr_expect_null(r->alias);
    cr_expect_str_eq(r->name, "clients");
    cr_expect_str_eq(r->select[0].alias, "client_name");
    r = child_at(&q.rel, 3);
    cr_expect(r->spread);
    cr_expect_str_eq(r->hint, "tk");
    cr_expect_eq(r->join, DBA_JOIN_INNER);
    cr_assert_eq(get("select=a( b , c ),d(e) ,f"), DBA_OK, "%s", err.detail);
    cr_expect_eq(child_at(&q.rel, 0)->n_select, 2);
    cr_expect_eq(q.rel.n_select, 3);
}

Test(grammar, select_aggregates_are_kept_in_the_tree)
{
    const struct dba_select_item *it;

    cr_assert_eq(get("select=count(),n:count()::int,t:total.max()::text,amount::numeric.sum()::int,"
                     "x.avg(),y.min(),id,rel(v.sum())"),
                 DBA_OK, "%s", err.detail);
    cr_assert_eq(q.rel.n_select, 8);
    it = &q.rel.select[0];
    cr_expect_eq(it->kind, DBA_ITEM_AGG);
    cr_expect_eq(it->agg, DBA_AGG_COUNT);
    cr_expect_null(it->field.name);
    it = &q.rel.select[1];
    cr_expect_str_eq(it->alias, "n");
    cr_expect_str_eq(it->agg_cast, "int");
    it = &q.rel.select[2];
    cr_expect_eq(it->agg, DBA_AGG_MAX);
    cr_expect_str_eq(it->field.name, "total");
    cr_expect_str_eq(it->alias, "t");
    cr_expect_str_eq(it->agg_cast, "text");
    it = &q.rel.select[3];
    cr_expect_eq(it->agg, DBA_AGG_SUM);
    cr_expect_str_eq(it->cast, "numeric");
    cr_expect_str_eq(it->agg_cast, "int");
    cr_expect_eq(q.rel.select[4].agg, DBA_AGG_AVG);
    cr_expect_eq(q.rel.select[5].agg, DBA_AGG_MIN);
    cr_expect_eq(q.rel.select[6].kind, DBA_ITEM_COLUMN);
    cr_expect_eq(child_at(&q.rel, 7)->select[0].kind, DBA_ITEM_AGG);
    cr_assert_eq(get("select=count"), DBA_OK, "a column named count is fine");
    cr_expect_eq(q.rel.select[0].kind, DBA_ITEM_COLUMN);
}

Test(grammar, select_embedding_syntax_errors)
{
    expect_parse_error("select=id,clients(name[])",
                       "\"failed to parse select parameter (id,clients(name[]))\" "
                       "(line 1, column 16)",
                       "unexpected '[' expecting letter, digit, \"-\", \"->>\", \"->\", \"::\", "
                       "\".\", \")\", \",\" or end of input");
    expect_parse_error("select=name!hint",
                       "\"failed to parse select parameter (name!hint)\" (line 1, column 5)",
                       "unexpected '!' expecting letter, digit, \"-\", \"->>\", \"->\", \"::\", "
                       "\".\", \")\", \",\" or end of input");
    expect_parse_error("select=count(*)",
                       "\"failed to parse select parameter (count(*))\" (line 1, column 6)",
                       "unexpected '(' expecting letter, digit, \"-\", \"->>\", \"->\", \"::\", "
                       "\".\", \")\", \",\" or end of input");
    expect_parse_error("select=alias:...rel(*)",
                       "\"failed to parse select parameter (alias:...rel(*))\" "
                       "(line 1, column 7)",
                       "unexpected \".\" expecting field name (* or [a..z0..9_$])");
    expect_parse_error("select=...x",
                       "\"failed to parse select parameter (...x)\" (line 1, column 5)",
                       "unexpected end of input expecting letter, digit, \"-\", \"!\" or \"(\"");
    expect_parse_error("select=rel(id",
                       "\"failed to parse select parameter (rel(id)\" (line 1, column 7)",
                       "unexpected end of input expecting \",\" or \")\"");
    expect_parse_error("select=rel(id,)",
                       "\"failed to parse select parameter (rel(id,))\" (line 1, column 8)",
                       "unexpected \")\" expecting \"...\", field name (* or [a..z0..9_$]), "
                       "\"*\" or \"count()\"");
    expect_parse_error("select=rel(#)",
                       "\"failed to parse select parameter (rel(#))\" (line 1, column 5)",
                       "unexpected \"#\" expecting \"...\", field name (* or [a..z0..9_$]), "
                       "\"*\", \"count()\" or \")\"");
    expect_parse_error("select=a(b)c",
                       "\"failed to parse select parameter (a(b)c)\" (line 1, column 5)",
                       "unexpected 'c' expecting \",\" or end of input");
    expect_parse_error("select=id)",
                       "\"failed to parse select parameter (id))\" (line 1, column 3)",
                       "unexpected ')' expecting \",\" or end of input");
}

Test(grammar, select_nesting_depth_is_bounded)
{
    char qs[1024] = "select=";

    for (int i = 0; i < 70; i++)
        strcat(qs, "a(");
    strcat(qs, "id");
    for (int i = 0; i < 70; i++)
        strcat(qs, ")");
    cr_expect_eq(get(qs), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST100");
    dba_err_clear(&err);
    strcpy(qs, "select=");
    for (int i = 0; i < 60; i++)
        strcat(qs, "a(");
    strcat(qs, "id");
    for (int i = 0; i < 60; i++)
        strcat(qs, ")");
    cr_expect_eq(get(qs), DBA_OK, "%s", err.detail);
}

/* ---- embedded parameters ---- */

Test(grammar, embedded_parameters_attach_to_their_node)
{
    const struct dba_rel *r;

    cr_assert_eq(get("select=a(b)&a.c=eq.1&a.order=c.desc&a.order=d&a.limit=5&a.limit=2"
                     "&a.offset=1&a.or=(c.eq.1,d.eq.2)&id=gt.0"),
                 DBA_OK, "%s", err.detail);
    cr_assert_eq(q.rel.where.n_children, 1, "root keeps its own filter only");
    r = child_at(&q.rel, 0);
    cr_assert_eq(r->where.n_children, 2);
    cr_expect_eq(r->where.children[0].kind, DBA_L_FILTER);
    cr_expect_str_eq(r->where.children[0].filter.field.name, "c");
    cr_expect_eq(r->where.children[1].kind, DBA_L_OR);
    cr_assert_eq(r->n_order, 1, "the first order= of a node counts");
    cr_expect_str_eq(r->order[0].field.name, "c");
    cr_expect(r->order[0].desc);
    cr_expect_eq(r->limit, 2, "the last limit= counts");
    cr_expect_eq(r->offset, 1);
    cr_expect_eq(q.rel.limit, -1);
}

Test(grammar, embedded_parameters_by_alias_or_name_and_nested_paths)
{
    const struct dba_rel *r, *b;

    cr_assert_eq(get("select=x:a(b(c))&a.d=eq.1&x.e=eq.2&a.b.c=eq.1&x.b.limit=3"
                     "&not.a.b.or=(c.eq.1,c.eq.2)&a.b.order=c.desc"),
                 DBA_OK, "%s", err.detail);
    r = child_at(&q.rel, 0);
    cr_expect_eq(r->where.n_children, 2);
    b = child_at(r, 0);
    cr_assert_eq(b->where.n_children, 2);
    cr_expect_eq(b->where.children[1].kind, DBA_L_OR);
    cr_expect(b->where.children[1].negate);
    cr_expect_eq(b->limit, 3);
    cr_expect_eq(b->n_order, 1);
}

Test(grammar, embedded_parameter_finds_the_first_embed_by_name_or_alias)
{
    /* As PostgREST's updateNode: the first embed whose name or alias is the path segment. */
    cr_assert_eq(get("select=act:actors(),actors(first_name)&act.first_name=eq.John"
                     "&actors.id=eq.1"),
                 DBA_OK, "%s", err.detail);
    cr_assert_eq(child_at(&q.rel, 0)->where.n_children, 2);
    cr_expect_str_eq(child_at(&q.rel, 0)->where.children[0].filter.value, "John");
    cr_expect_str_eq(child_at(&q.rel, 0)->where.children[1].filter.field.name, "id");
    cr_expect_eq(child_at(&q.rel, 1)->where.n_children, 0);
}

static void
expect_not_embedded(const char *qs, const char *name)
{
    char msg[128], hint[160];

    cr_assert_eq(get(qs), DBA_EINVAL, "%s parsed", qs);
    cr_expect_eq(err.http_status, 400);
    cr_expect_str_eq(err.pgrst, "PGRST108", "%s", qs);
    snprintf(msg, sizeof(msg), "'%s' is not an embedded resource in this request", name);
    snprintf(hint, sizeof(hint), "Verify that '%s' is included in the 'select' query parameter.",
             name);
    cr_expect_str_eq(err.msg, msg, "%s", qs);
    cr_expect_str_eq(err.hint, hint, "%s", qs);
    cr_expect_str_empty(err.detail);
    dba_err_clear(&err);
}

Test(grammar, embedded_parameter_without_embed_is_pgrst108)
{
    expect_not_embedded("select=a(*)&a.c.d=eq.1", "c");
    expect_not_embedded("select=a(*)&z.order=x&b.c=eq.1", "b");
    expect_not_embedded("select=a(*)&z.order=x&y.limit=1&w.or=(c.eq.1)", "z");
    expect_not_embedded("select=a(*)&y.limit=1&w.or=(c.eq.1)", "y");
    expect_not_embedded("select=a(*)&w.or=(c.eq.1)", "w");
    expect_not_embedded("select=a(*)&b.c=eq.1&d.c=eq.1", "d"); /* the last filter is reported */
    expect_not_embedded("select=*,...a(*)&b.c=eq.1", "b");
}

/* ---- order ---- */

Test(grammar, order_forms)
{
    cr_assert_eq(get("order=a,b.desc,c.asc.nullslast,d.nullsfirst,data->>lat.desc,\"x y\""),
                 DBA_OK, "%s", err.detail);
    cr_assert_eq(q.rel.n_order, 6);
    cr_expect_not(q.rel.order[0].desc);
    cr_expect_eq(q.rel.order[0].nulls, DBA_NULLS_DEFAULT);
    cr_expect(q.rel.order[1].desc);
    cr_expect_not(q.rel.order[2].desc);
    cr_expect_eq(q.rel.order[2].nulls, DBA_NULLS_LAST);
    cr_expect_eq(q.rel.order[3].nulls, DBA_NULLS_FIRST);
    cr_expect_str_eq(q.rel.order[4].field.name, "data");
    cr_expect_str_eq(q.rel.order[4].field.path[0].key, "lat");
    cr_expect(q.rel.order[4].desc);
    cr_expect_str_eq(q.rel.order[5].field.name, "x y");
}

Test(grammar, order_json_index_and_nested)
{
    cr_assert_eq(get("order=data->foo->>bar.nullsfirst,arr->0.desc"), DBA_OK, "%s", err.detail);
    cr_expect_eq(q.rel.order[0].field.n_path, 2);
    cr_expect_eq(q.rel.order[0].nulls, DBA_NULLS_FIRST);
    cr_expect(q.rel.order[1].field.path[0].is_index);
    cr_expect(q.rel.order[1].desc);
}

Test(grammar, order_syntax_errors)
{
    static const struct {
        const char *v;
        unsigned col;
        const char *detail;
    } cases[] = {
        { "id.asc.nullslasttt", 17, "unexpected 't' expecting \",\" or end of input" },
        { "id.ac", 4,
          "unexpected \"c\" expecting \"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"" },
        { "id.descc", 8, "unexpected 'c' expecting delimiter (.), \",\" or end of input" },
        { "id.nulsfist", 4,
          "unexpected \"n\" expecting \"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"" },
        { "id.nullslasttt", 13, "unexpected 't' expecting \",\" or end of input" },
        { "id.asc.nlsfst", 8, "unexpected \"l\" expecting \"nullsfirst\" or \"nullslast\"" },
        { "id.asc.smth34", 8, "unexpected \"s\" expecting \"nullsfirst\" or \"nullslast\"" },
        { "clients(name,id)", 8, "unexpected '(' expecting letter, digit, \"-\", \"->>\", \"->\", "
                                 "delimiter (.), \",\" or end of input" },
    };

    for (size_t i = 0; i < DBA_ARRAY_LEN(cases); i++) {
        char qs[64], msg[128];

        snprintf(qs, sizeof(qs), "order=%s", cases[i].v);
        snprintf(msg, sizeof(msg), "\"failed to parse order (%s)\" (line 1, column %u)", cases[i].v,
                 cases[i].col);
        expect_parse_error(qs, msg, cases[i].detail);
    }
}

Test(grammar, order_by_embedded_resource)
{
    cr_assert_eq(get("order=clientsx(name).nullsfirst,id.desc,c(data->>k).desc"), DBA_OK, "%s",
                 err.detail);
    cr_assert_eq(q.rel.n_order, 3);
    cr_expect_str_eq(q.rel.order[0].rel, "clientsx", "checked by resolution (PGRST108)");
    cr_expect_str_eq(q.rel.order[0].field.name, "name");
    cr_expect_eq(q.rel.order[0].nulls, DBA_NULLS_FIRST);
    cr_expect_null(q.rel.order[1].rel);
    cr_expect_str_eq(q.rel.order[2].rel, "c");
    cr_expect_str_eq(q.rel.order[2].field.path[0].key, "k");
    cr_expect(q.rel.order[2].desc);
    cr_assert_eq(get("tasks.order=name.asc"), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST108");
    cr_expect_str_eq(err.msg, "'tasks' is not an embedded resource in this request");
}

Test(grammar, first_order_parameter_wins)
{
    cr_assert_eq(get("order=a.desc&order=b"), DBA_OK);
    cr_assert_eq(q.rel.n_order, 1);
    cr_expect_str_eq(q.rel.order[0].field.name, "a");
}

/* ---- limit / offset ---- */

Test(grammar, limit_and_offset)
{
    cr_assert_eq(get("limit=10&offset=20"), DBA_OK);
    cr_expect_eq(q.rel.limit, 10);
    cr_expect_eq(q.rel.offset, 20);
    cr_assert_eq(get("limit=0"), DBA_OK);
    cr_expect_eq(q.rel.limit, 0);
    cr_assert_eq(get("limit=1&limit=3"), DBA_OK);
    cr_expect_eq(q.rel.limit, 3, "the last limit wins");
}

Test(grammar, negative_limit_is_416)
{
    cr_assert_eq(get("select=id&limit=-1"), DBA_EINVAL);
    cr_expect_eq(err.http_status, 416);
    cr_expect_str_eq(err.pgrst, "PGRST103");
    cr_expect_str_eq(err.msg, "Requested range not satisfiable");
    cr_expect_str_eq(err.detail, "Limit should be greater than or equal to zero.");
}

Test(grammar, negative_offset_is_ignored)
{
    cr_assert_eq(get("offset=-4"), DBA_OK);
    cr_expect_eq(q.rel.offset, 0);
}

Test(grammar, non_numeric_limit_is_pgrst100)
{
    expect_parse_error("limit=abc", "\"failed to parse limit parameter (abc)\" (line 1, column 1)",
                       "unexpected \"a\" expecting digit");
    cr_expect_eq(get("offset=5x"), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST100");
}

Test(grammar, put_with_limit_is_pgrst114)
{
    struct dba_http_req_in in = { .method = DBA_M_PUT, .query = "id=eq.1&limit=1",
                                  .body = "{\"id\":1}", .body_len = 8 };

    cr_assert_eq(dba_http_grammar_parse(arena, &in, &q, &err), DBA_EINVAL);
    cr_expect_eq(err.http_status, 400);
    cr_expect_str_eq(err.pgrst, "PGRST114");
    cr_expect_str_eq(err.msg, "limit/offset querystring parameters are not allowed for PUT");
}

/* ---- columns / on_conflict ---- */

Test(grammar, columns_plain_and_quoted)
{
    cr_assert_eq(get("columns=%22a%22,%22b%20c%22, d"), DBA_OK, "%s", err.detail);
    cr_assert_eq(q.n_columns, 3);
    cr_expect_str_eq(q.columns[0], "a");
    cr_expect_str_eq(q.columns[1], "b c");
    cr_expect_str_eq(q.columns[2], "d");
}

Test(grammar, blank_columns_is_pgrst100)
{
    expect_parse_error("columns=", "\"failed to parse columns parameter ()\" (line 1, column 1)",
                       "unexpected end of input expecting field name (* or [a..z0..9_$])");
}

Test(grammar, on_conflict_list)
{
    cr_assert_eq(get("on_conflict=a,b"), DBA_OK);
    cr_assert_eq(q.n_on_conflict, 2);
    cr_expect_str_eq(q.on_conflict[1], "b");
    cr_expect_eq(get("on_conflict=a,"), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST100");
}

/* ---- helpers ---- */

Test(grammar, method_names)
{
    enum dba_method m;

    cr_expect_str_eq(dba_http_method_name(DBA_M_PATCH), "PATCH");
    cr_expect_str_eq(dba_http_method_name(DBA_M_OPTIONS), "OPTIONS");
    cr_assert(dba_http_method_from_name("DELETE", &m));
    cr_expect_eq(m, DBA_M_DELETE);
    cr_expect_not(dba_http_method_from_name("TRACE", &m));
    cr_expect_not(dba_http_method_from_name(NULL, &m));
}

Test(grammar, embedded_limit_and_offset_are_pgrst108)
{
    cr_assert_eq(get("projects.limit=2"), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST108");
    cr_expect_str_eq(err.msg, "'projects' is not an embedded resource in this request");
    cr_assert_eq(get("projects.tasks.offset=1"), DBA_EINVAL);
    cr_expect_str_eq(err.msg, "'projects' is not an embedded resource in this request");
}

Test(grammar, not_and_key_and_unicode_names)
{
    cr_assert_eq(get("not.and=(a.eq.1,b.eq.2)&select=%D8%AA%D8%B3%D8%AA,j->!@%23$%25^%26*_a"),
                 DBA_OK, "%s", err.detail);
    cr_expect_eq(q.rel.where.children[0].kind, DBA_L_AND);
    cr_expect(q.rel.where.children[0].negate);
    cr_assert_eq(q.rel.n_select, 2);
    cr_expect_str_eq(q.rel.select[0].field.name, "\xd8\xaa\xd8\xb3\xd8\xaa");
    cr_expect_str_eq(q.rel.select[1].field.path[0].key, "!@#$%^&*_a");
}

Test(grammar, unicode_token_is_shown_like_haskell)
{
    expect_parse_error("a=%C3%A9", "\"failed to parse filter (\xc3\xa9)\" (line 1, column 1)",
                       "unexpected \"\\233\" expecting \"not\" or operator (eq, gt, ...)");
}

Test(grammar, nul_byte_in_query_is_refused)
{
    cr_assert_eq(get("a=eq.x%00y"), DBA_EINVAL);
    cr_expect_eq(err.http_status, 400);
    cr_expect_str_eq(err.pgrst, "PGRST100");
}

Test(grammar, trailing_text_after_complete_values_is_refused)
{
    expect_parse_error("a=in.(1,2)x", "\"failed to parse filter (in.(1,2)x)\" (line 1, column 9)",
                       "unexpected 'x' expecting end of input");
    expect_parse_error("or=(a.eq.1))",
                       "\"failed to parse logic tree ((a.eq.1)))\" (line 1, column 11)",
                       "unexpected ')' expecting end of input");
}

/* Issue 8: regconfig takes a number as an OID ("cache lookup failed", a 500); the configuration
   must be a name. */
Test(grammar, fts_config_must_be_a_name)
{
    static const char *const bad[] = { "email=phfts(30).x", "email=fts(1abc).x",
                                       "or=(email.wfts(007).x)", "email=not.plfts($x).y" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(get(bad[i]), DBA_EINVAL, "%s parsed", bad[i]);
        cr_expect_eq(err.http_status, 400, "%s", bad[i]);
        cr_expect_str_eq(err.pgrst, "PGRST100");
        cr_expect(strstr(err.msg, "invalid text search configuration") != NULL, "%s", err.msg);
        dba_err_clear(&err);
    }
    cr_expect_str_eq(one_filter("tsv=fts(pg_catalog_english2).x")->lang, "pg_catalog_english2");
    cr_expect_str_eq(one_filter("tsv=fts(_x$1).x")->lang, "_x$1");
}

static char *
json_path(const char *head, int steps, const char *tail)
{
    size_t n = strlen(head) + (size_t)steps * 3 + strlen(tail) + 1;
    char *s = dba_arena_alloc(arena, n);
    size_t o = (size_t)snprintf(s, n, "%s", head);

    for (int i = 0; i < steps; i++)
        o += (size_t)snprintf(s + o, n - o, "->a");
    snprintf(s + o, n - o, "%s", tail);
    return s;
}

/* Issue 8: a 5,000-step JSON path ran PostgreSQL out of stack (a 500); 100 steps are the limit
   (GRAM_MAX_JSON_PATH), in select=, filters, logic trees and order=. */
Test(grammar, json_path_depth_is_bounded)
{
    const char *bad[] = { json_path("select=data", 5000, ""), json_path("select=data", 101, ""),
                          json_path("data", 101, "=eq.1"), json_path("or=(data", 101, ".eq.1)"),
                          json_path("order=data", 101, ".desc") };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(get(bad[i]), DBA_EINVAL, "case %zu parsed", i);
        cr_expect_eq(err.http_status, 400);
        cr_expect_str_eq(err.msg, "JSON path too deep");
        dba_err_clear(&err);
    }
    cr_expect_eq(get(json_path("select=data", 100, "")), DBA_OK, "%s", err.msg);
    cr_expect_eq(q.rel.select[0].field.n_path, 100);
}
