/* test_call.c - unit tests of the SQL builder for function calls (src/query/sql_call.c): the
   statement for each result kind and each way arguments are passed, with exact parameters. */
#include <criterion/criterion.h>
#include <string.h>

#include "query/query.h"

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

TestSuite(call, .init = setup, .fini = teardown);

static struct dba_func_arg ARG_A = { .name = "a", .type = "integer", .required = true };
static struct dba_func_arg ARG_V = { .name = "v", .type = "text[]", .mode = DBA_ARG_VARIADIC };
static struct dba_func_arg ARG_J = { .name = "", .type = "json", .required = true };

static struct dba_column COLS[] = {
    { .name = "id", .type = "integer", .base_type = "integer", .nullable = true, .position = 1 },
    { .name = "title", .type = "text", .base_type = "text", .nullable = true, .position = 2 },
};
static struct dba_table BOOKS = { .schema = "api", .name = "books", .kind = 'r', .cols = COLS,
                                  .n_cols = 2 };
static struct dba_table FN_T = { .schema = "api", .name = "f", .kind = 'c' };

static struct dba_query *
mk_query(enum dba_method m, struct dba_function *fn)
{
    struct dba_query *q = dba_arena_alloc(A, sizeof(*q));
    struct dba_call *call = dba_arena_alloc(A, sizeof(*call));

    memset(q, 0, sizeof(*q));
    memset(call, 0, sizeof(*call));
    q->method = m;
    q->schema = "api";
    q->table = "rpc/f";
    q->rel.where.kind = DBA_L_AND;
    q->rel.limit = -1;
    q->range_from = -1;
    q->range_to = -1;
    q->prefer.max_affected = -1;
    q->media = DBA_MEDIA_JSON;
    call->fn = fn;
    call->schema = fn ? fn->schema : "api";
    call->name = fn ? fn->name : "f";
    q->call = call;
    return q;
}

static void
list_arg(struct dba_query *q, const struct dba_func_arg *p, const char *v)
{
    struct dba_call *c = q->call;
    struct dba_call_arg *n = dba_arena_alloc(A, (c->n_args + 1) * sizeof(*n));

    if (c->n_args)
        memcpy(n, c->args, c->n_args * sizeof(*n));
    memset(&n[c->n_args], 0, sizeof(*n));
    n[c->n_args].param = p;
    n[c->n_args].value = v;
    c->args = n;
    c->n_args++;
}

static const char *
build(struct dba_query *q, const struct dba_table *t, struct dba_sql *out)
{
    struct dba_err err;
    int rc = dba_query_sql_build(q, t, 0, A, out, &err);

    cr_assert_eq(rc, DBA_OK, "%s", err.msg);
    const char *s = dba_arena_strdup(A, out->text.data);
    dba_buf_cleanup(&out->text);
    return s;
}

Test(call, scalar_get_binds_casted_parameters)
{
    struct dba_func_arg args[2] = { ARG_A, ARG_A };
    struct dba_function fn = { .schema = "api", .name = "add", .args = args, .n_args = 2,
                               .n_in = 2, .ret_kind = DBA_FRET_SCALAR, .ret_table = &FN_T };
    args[1].name = "b";
    struct dba_query *q = mk_query(DBA_M_GET, &fn);
    struct dba_sql sql;

    list_arg(q, &args[0], "1");
    list_arg(q, &args[1], "2; DROP TABLE x");
    const char *s = build(q, &FN_T, &sql);
    /* a scalar is read like a relation named after the function with one column pgrst_scalar */
    cr_expect_str_eq(s, "WITH pgrst_call AS MATERIALIZED (SELECT pgrst_f.pgrst_scalar FROM "
                        "\"api\".\"add\"(\"a\" := $1::integer, \"b\" := $2::integer) AS "
                        "pgrst_f(pgrst_scalar)), pgrst_source AS (SELECT \"f\".* FROM pgrst_call "
                        "AS \"f\") SELECT NULL::bigint AS total, count(*) AS page_total, "
                        "coalesce((json_agg(_t.pgrst_scalar)->0)::text, 'null') AS body, NULL::text "
                        "AS location, NULL::bigint AS inserted" DBA_SQL_RESPONSE_GUCS
                        " FROM pgrst_source _t");
    cr_assert_eq(sql.n_params, 2);
    cr_expect_str_eq(sql.params[0], "1");
    cr_expect_str_eq(sql.params[1], "2; DROP TABLE x");
}

Test(call, variadic_get_is_one_array_parameter)
{
    struct dba_function fn = { .schema = "api", .name = "j", .args = &ARG_V, .n_args = 1,
                               .n_in = 1, .variadic = true, .ret_kind = DBA_FRET_SCALAR,
                               .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_GET, &fn);
    const char *vals[] = { "hi", "a\"b" };
    struct dba_sql sql;

    list_arg(q, &ARG_V, "a\"b");
    q->call->args[0].values = vals;
    q->call->args[0].n_values = 2;
    const char *s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "\"api\".\"j\"(VARIADIC \"v\" := $1::text[])") != NULL, "%s", s);
    cr_assert_eq(sql.n_params, 1);
    cr_expect_str_eq(sql.params[0], "{\"hi\",\"a\\\"b\"}");
}

Test(call, post_object_reads_the_body_with_json_to_record)
{
    struct dba_function fn = { .schema = "api", .name = "f", .args = &ARG_A, .n_args = 1,
                               .n_in = 1, .ret_kind = DBA_FRET_SCALAR, .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_POST, &fn);
    struct dba_sql sql;

    list_arg(q, &ARG_A, NULL);
    q->call->args_kind = DBA_CALL_ARGS_OBJECT;
    q->call->body = "{\"a\":5}";
    const char *s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "(SELECT pgrst_f.pgrst_scalar FROM json_to_record($1::json) AS "
                        "pgrst_body(\"a\" integer) CROSS JOIN LATERAL \"api\".\"f\"(\"a\" := "
                        "pgrst_body.\"a\") AS pgrst_f(pgrst_scalar))") != NULL, "%s", s);
    cr_assert_eq(sql.n_params, 1);
    cr_expect_str_eq(sql.params[0], "{\"a\":5}");
}

Test(call, post_body_other_than_an_object_gives_its_first_element)
{
    struct dba_func_arg args[2] = { ARG_A, ARG_V };
    struct dba_function fn = { .schema = "api", .name = "f", .args = args, .n_args = 2,
                               .n_in = 2, .ret_kind = DBA_FRET_SCALAR, .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_POST, &fn);
    struct dba_sql sql;

    list_arg(q, &args[0], NULL);
    list_arg(q, &args[1], NULL);
    q->call->args_kind = DBA_CALL_ARGS_OBJECT;
    q->call->body = " \n[{\"a\":5},{\"a\":6}]"; /* columns=: the body as sent */
    const char *s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "(SELECT pgrst_f.pgrst_scalar FROM (SELECT * FROM json_to_recordset("
                        "$1::json) AS _(\"a\" integer, \"v\" text[]) LIMIT 1) AS pgrst_body "
                        "CROSS JOIN LATERAL \"api\".\"f\"(\"a\" := pgrst_body.\"a\", VARIADIC "
                        "\"v\" := pgrst_body.\"v\") AS pgrst_f(pgrst_scalar))") != NULL, "%s", s);
    cr_assert_eq(sql.n_params, 1);
    cr_expect_str_eq(sql.params[0], " \n[{\"a\":5},{\"a\":6}]");
    /* an object after white space: json_to_record */
    q->call->body = "\t {\"a\":5}";
    s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "FROM json_to_record($1::json) AS pgrst_body(\"a\" integer, \"v\" "
                        "text[]) CROSS JOIN LATERAL") != NULL, "%s", s);
    /* a void function: the same source, the call once per row of it */
    fn.ret_kind = DBA_FRET_VOID;
    q->call->body = "[]";
    s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "(SELECT \"api\".\"f\"(\"a\" := pgrst_body.\"a\", VARIADIC \"v\" := "
                        "pgrst_body.\"v\") AS pgrst_scalar FROM (SELECT * FROM "
                        "json_to_recordset($1::json) AS _(\"a\" integer, \"v\" text[]) LIMIT 1) "
                        "AS pgrst_body)") != NULL, "%s", s);
}

Test(call, whole_body_goes_to_the_unnamed_parameter)
{
    struct dba_function fn = { .schema = "api", .name = "f", .args = &ARG_J, .n_args = 1,
                               .n_in = 1, .ret_kind = DBA_FRET_SCALAR, .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_POST, &fn);
    struct dba_sql sql;

    q->call->args_kind = DBA_CALL_ARGS_WHOLE;
    q->call->body = "[1,2]";
    const char *s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "\"api\".\"f\"($1::json) AS pgrst_f(pgrst_scalar)") != NULL, "%s", s);
    cr_expect_str_eq(sql.params[0], "[1,2]");
}

Test(call, void_has_an_empty_body)
{
    struct dba_function fn = { .schema = "api", .name = "f", .ret_kind = DBA_FRET_VOID,
                               .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_POST, &fn);
    struct dba_sql sql;

    q->call->args_kind = DBA_CALL_ARGS_OBJECT;
    const char *s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "(SELECT \"api\".\"f\"() AS pgrst_scalar)") != NULL, "%s", s);
    cr_expect(strstr(s, "count(*) AS page_total, '' AS body") != NULL, "%s", s);
    cr_expect_eq(sql.n_params, 0);
}

Test(call, setof_scalar_is_paged)
{
    struct dba_function fn = { .schema = "api", .name = "n", .ret_set = true,
                               .ret_kind = DBA_FRET_SCALAR, .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_GET, &fn);
    struct dba_sql sql;

    q->rel.limit = 2;
    q->rel.offset = 1;
    q->prefer.count = DBA_COUNT_EXACT;
    const char *s = build(q, &FN_T, &sql);
    cr_expect_str_eq(s, "WITH pgrst_call AS MATERIALIZED (SELECT pgrst_f.pgrst_scalar FROM "
                        "\"api\".\"n\"() AS pgrst_f(pgrst_scalar)), pgrst_source AS (SELECT "
                        "\"f\".* FROM pgrst_call AS \"f\" LIMIT 2 OFFSET 1) SELECT (SELECT "
                        "count(*) FROM pgrst_call AS \"f\") AS total, count(*) AS page_total, "
                        "coalesce(json_agg(_t.pgrst_scalar), '[]')::text AS body, NULL::text AS "
                        "location, NULL::bigint AS inserted" DBA_SQL_RESPONSE_GUCS
                        " FROM pgrst_source _t");
}

Test(call, scalar_results_take_select_filters_and_order_on_pgrst_scalar)
{
    struct dba_function fn = { .schema = "api", .name = "n", .ret_type = "integer", .ret_set = true,
                               .ret_kind = DBA_FRET_SCALAR, .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_GET, &fn);
    struct dba_logic f = { .kind = DBA_L_FILTER };
    struct dba_order_item o = { .field = { .name = "pgrst_scalar" }, .desc = true };
    struct dba_select_item it = { .kind = DBA_ITEM_COLUMN, .field = { .name = "pgrst_scalar" },
                                  .cast = "text" };
    struct dba_sql sql;

    f.filter.field.name = "pgrst_scalar";
    f.filter.op = DBA_OP_GT;
    f.filter.value = "1";
    q->rel.where.children = &f;
    q->rel.where.n_children = 1;
    q->rel.order = &o;
    q->rel.n_order = 1;
    q->rel.select = &it;
    q->rel.n_select = 1;
    const char *s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "pgrst_source AS (SELECT CAST(\"f\".\"pgrst_scalar\" AS text) AS "
                        "\"pgrst_scalar\" FROM pgrst_call AS \"f\" WHERE \"f\".\"pgrst_scalar\" > $1 "
                        "ORDER BY \"f\".\"pgrst_scalar\" DESC)") != NULL, "%s", s);
    cr_expect(strstr(s, "coalesce(json_agg(_t.pgrst_scalar), '[]')::text AS body") != NULL, "%s",
              s);
    cr_assert_eq(sql.n_params, 1);
    cr_expect_str_eq(sql.params[0], "1");
}

Test(call, a_scalar_result_has_no_other_column)
{
    struct dba_function fn = { .schema = "api", .name = "n", .ret_type = "integer",
                               .ret_kind = DBA_FRET_SCALAR, .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_GET, &fn);
    struct dba_logic f = { .kind = DBA_L_FILTER };
    struct dba_sql sql;
    struct dba_err err;

    f.filter.field.name = "n"; /* the function's name is no column (PostgreSQL's 42703 too) */
    f.filter.value = "1";
    q->rel.where.children = &f;
    q->rel.where.n_children = 1;
    cr_expect_eq(dba_query_sql_build(q, &FN_T, 0, A, &sql, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.pgrst, "42703");
    cr_expect_str_eq(err.msg, "column f.n does not exist");
}

Test(call, max_affected_aborts_the_statement_past_n_rows)
{
    struct dba_function fn = { .schema = "api", .name = "search", .ret_set = true,
                               .ret_kind = DBA_FRET_COMPOSITE, .ret_table = &BOOKS };
    struct dba_query *q = mk_query(DBA_M_POST, &fn);
    struct dba_sql sql;

    q->call->args_kind = DBA_CALL_ARGS_OBJECT;
    q->prefer.handling_strict = true;
    q->prefer.max_affected = 3;
    const char *s = build(q, &BOOKS, &sql);
    cr_expect(strstr(s, "count(*) AS page_total, CASE WHEN count(*) > 3 THEN ('"
                        DBA_SQL_MAX_AFFECTED "' || count(*))::integer::text ELSE "
                        "coalesce(json_agg(_t), '[]')::text END AS body") != NULL, "%s", s);
    /* lenient: no check */
    q->prefer.handling_strict = false;
    s = build(q, &BOOKS, &sql);
    cr_expect(strstr(s, DBA_SQL_MAX_AFFECTED) == NULL, "%s", s);
}

Test(call, a_set_as_one_object_checks_one_row_before_max_affected)
{
    struct dba_function fn = { .schema = "api", .name = "search", .ret_set = true,
                               .ret_kind = DBA_FRET_COMPOSITE, .ret_table = &BOOKS };
    struct dba_query *q = mk_query(DBA_M_POST, &fn);
    struct dba_sql sql;

    q->call->args_kind = DBA_CALL_ARGS_OBJECT;
    q->media = DBA_MEDIA_OBJECT;
    q->prefer.handling_strict = true;
    q->prefer.max_affected = 3;
    const char *s = build(q, &BOOKS, &sql);
    cr_expect(strstr(s, "count(*) AS page_total, CASE WHEN count(*) <> 1 THEN ('"
                        DBA_SQL_SINGULAR "' || count(*))::integer::text WHEN count(*) > 3 THEN ('"
                        DBA_SQL_MAX_AFFECTED "' || count(*))::integer::text ELSE "
                        "coalesce((json_agg(_t)->0)::text, 'null') END AS body") != NULL, "%s", s);
    /* without max-affected: the one-row check alone (the function's writes roll back) */
    q->prefer.handling_strict = false;
    q->media = DBA_MEDIA_OBJECT_STRIPPED;
    s = build(q, &BOOKS, &sql);
    cr_expect(strstr(s, "CASE WHEN count(*) <> 1 THEN ('" DBA_SQL_SINGULAR "' || count(*))"
                        "::integer::text ELSE coalesce((json_strip_nulls(json_agg(_t))->0)"
                        "::text, 'null') END AS body") != NULL, "%s", s);
    /* an array, or a single result (one row by definition): no check */
    q->media = DBA_MEDIA_JSON;
    s = build(q, &BOOKS, &sql);
    cr_expect(strstr(s, DBA_SQL_SINGULAR) == NULL, "%s", s);
    fn.ret_set = false;
    q->media = DBA_MEDIA_OBJECT;
    s = build(q, &BOOKS, &sql);
    cr_expect(strstr(s, DBA_SQL_SINGULAR) == NULL, "%s", s);
}

Test(call, whole_bytea_body_is_cast_from_its_hex_text)
{
    struct dba_func_arg b = { .name = "", .type = "bytea", .required = true };
    struct dba_function fn = { .schema = "api", .name = "f", .args = &b, .n_args = 1,
                               .n_in = 1, .ret_type = "bytea", .ret_kind = DBA_FRET_SCALAR,
                               .ret_table = &FN_T };
    struct dba_query *q = mk_query(DBA_M_POST, &fn);
    struct dba_sql sql;

    q->call->args_kind = DBA_CALL_ARGS_WHOLE;
    q->call->body = "\\x00ff";
    const char *s = build(q, &FN_T, &sql);
    cr_expect(strstr(s, "\"api\".\"f\"($1::bytea)") != NULL, "%s", s);
    cr_expect_str_eq(sql.params[0], "\\x00ff");
}

Test(call, setof_table_is_read_like_the_table)
{
    struct dba_function fn = { .schema = "api", .name = "search", .args = &ARG_A, .n_args = 1,
                               .n_in = 1, .ret_set = true, .ret_kind = DBA_FRET_COMPOSITE,
                               .ret_table = &BOOKS };
    struct dba_query *q = mk_query(DBA_M_GET, &fn);
    struct dba_logic f = { .kind = DBA_L_FILTER };
    struct dba_sql sql;

    list_arg(q, &ARG_A, "7");
    f.filter.field.name = "id";
    f.filter.op = DBA_OP_GT;
    f.filter.value = "1";
    q->rel.where.children = &f;
    q->rel.where.n_children = 1;
    q->rel.limit = 10;
    const char *s = build(q, &BOOKS, &sql);
    const char *head = "WITH pgrst_call AS MATERIALIZED (SELECT pgrst_f.* FROM "
                       "\"api\".\"search\"(\"a\" := $1::integer) AS pgrst_f), pgrst_source AS "
                       "(SELECT ";
    cr_expect(strncmp(s, head, strlen(head)) == 0, "%s", s);
    cr_expect(strstr(s, " FROM pgrst_call AS \"books\" WHERE \"books\".\"id\" > $2 LIMIT 10)")
              != NULL, "%s", s);
    cr_assert_eq(sql.n_params, 2);
    cr_expect_str_eq(sql.params[0], "7");
    cr_expect_str_eq(sql.params[1], "1");
}

Test(call, unknown_column_on_a_call_is_42703)
{
    struct dba_function fn = { .schema = "api", .name = "search", .ret_set = true,
                               .ret_kind = DBA_FRET_COMPOSITE, .ret_table = &BOOKS };
    struct dba_query *q = mk_query(DBA_M_GET, &fn);
    struct dba_logic f = { .kind = DBA_L_FILTER };
    struct dba_sql sql;
    struct dba_err err;

    f.filter.field.name = "nope";
    f.filter.value = "1";
    q->rel.where.children = &f;
    q->rel.where.n_children = 1;
    cr_expect_eq(dba_query_sql_build(q, &BOOKS, 0, A, &sql, &err), DBA_ENOTFOUND);
    cr_expect_str_eq(err.pgrst, "42703");
}

Test(call, unresolved_call_is_refused)
{
    struct dba_query *q = mk_query(DBA_M_POST, NULL);
    struct dba_sql sql;
    struct dba_err err;

    cr_expect_eq(dba_query_kind(q), DBA_NODE_CALL);
    cr_expect_eq(dba_query_sql_build(q, &FN_T, 0, A, &sql, &err), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST127");
}

/* ---- computed columns and relationships (the function of a row; sql.c, sql_read.c) ---- */

static struct dba_query *
mk_read(void)
{
    struct dba_query *q = mk_query(DBA_M_GET, NULL);

    q->call = NULL;
    q->table = "books";
    return q;
}

Test(call, computed_column_is_the_function_of_the_row)
{
    struct dba_function fn = { .schema = "api", .name = "shout", .ret_kind = DBA_FRET_SCALAR,
                               .ret_type = "text", .ret_table = &FN_T };
    struct dba_column cc = { .name = "shout", .type = "text", .base_type = "text",
                             .function = &fn };
    struct dba_table t = BOOKS;
    struct dba_select_item items[2] = { { .kind = DBA_ITEM_COLUMN }, { .kind = DBA_ITEM_COLUMN } };
    struct dba_order_item o = { .desc = true };
    struct dba_logic f = { .kind = DBA_L_FILTER };
    struct dba_query *q = mk_read();
    struct dba_sql sql;

    t.computed = &cc;
    t.n_computed = 1;
    items[0].field.name = "id";
    items[1].field.name = "shout";
    q->rel.select = items;
    q->rel.n_select = 2;
    f.filter.field.name = "shout";
    f.filter.value = "X";
    q->rel.where.children = &f;
    q->rel.where.n_children = 1;
    o.field.name = "shout";
    q->rel.order = &o;
    q->rel.n_order = 1;
    const char *s = build(q, &t, &sql);
    cr_expect(strstr(s, "(SELECT \"books\".\"id\", \"api\".\"shout\"(\"books\".*) AS \"shout\" "
                        "FROM \"api\".\"books\" AS \"books\" WHERE \"api\".\"shout\"(\"books\".*)"
                        " = $1 ORDER BY \"api\".\"shout\"(\"books\".*) DESC)") != NULL, "%s", s);
    /* '*' stays the relation's own columns */
    q = mk_read();
    s = build(q, &t, &sql);
    cr_expect(strstr(s, "shout") == NULL, "%s", s);
}

Test(call, computed_column_on_a_call_rebuilds_the_row)
{
    struct dba_function cf = { .schema = "api", .name = "shout", .ret_kind = DBA_FRET_SCALAR,
                               .ret_type = "text", .ret_table = &FN_T };
    struct dba_column cc = { .name = "shout", .type = "text", .base_type = "text",
                             .function = &cf };
    struct dba_table t = BOOKS;
    struct dba_function fn = { .schema = "api", .name = "all", .ret_set = true,
                               .ret_kind = DBA_FRET_COMPOSITE, .ret_table = &t };
    struct dba_select_item item = { .kind = DBA_ITEM_COLUMN };
    struct dba_query *q = mk_query(DBA_M_GET, &fn);
    struct dba_sql sql;

    t.computed = &cc;
    t.n_computed = 1;
    item.field.name = "shout";
    q->rel.select = &item;
    q->rel.n_select = 1;
    const char *s = build(q, &t, &sql);
    cr_expect(strstr(s, "\"api\".\"shout\"(ROW(\"books\".\"id\", \"books\".\"title\")::\"api\"."
                        "\"books\") AS \"shout\" FROM pgrst_call AS \"books\"") != NULL, "%s", s);
}

Test(call, computed_relationship_reads_the_function_of_the_parent_row)
{
    struct dba_table authors = { .schema = "api", .name = "authors", .kind = 'r', .cols = COLS,
                                 .n_cols = 1 };
    struct dba_function many = { .schema = "api", .name = "books_of", .ret_set = true,
                                 .ret_kind = DBA_FRET_COMPOSITE, .ret_table = &BOOKS };
    struct dba_function one = { .schema = "api", .name = "best_book", .ret_set = false,
                                .ret_kind = DBA_FRET_COMPOSITE, .ret_table = &BOOKS };
    struct dba_relationship rels[2] = {
        { .table = &authors, .target = &BOOKS, .card = DBA_CARD_O2M, .function = &many },
        { .table = &authors, .target = &BOOKS, .card = DBA_CARD_M2O, .function = &one },
    };
    struct dba_rel ch[2];
    struct dba_select_item items[2] = { { .kind = DBA_ITEM_CHILD, .child = &ch[0] },
                                        { .kind = DBA_ITEM_CHILD, .child = &ch[1] } };
    struct dba_query *q = mk_read();
    struct dba_sql sql;

    memset(ch, 0, sizeof(ch));
    for (int i = 0; i < 2; i++) {
        ch[i].name = rels[i].function->name;
        ch[i].table = &BOOKS;
        ch[i].relationship = &rels[i];
        ch[i].to_one = i == 1;
        ch[i].limit = -1;
        ch[i].where.kind = DBA_L_AND;
    }
    ch[0].join = DBA_JOIN_INNER;
    q->table = "authors";
    q->rel.select = items;
    q->rel.n_select = 2;
    const char *s = build(q, &authors, &sql);
    cr_expect(strstr(s, " INNER JOIN LATERAL (SELECT json_agg(\"books_1\") AS pgrst_agg FROM "
                        "(SELECT \"books_1\".* FROM \"api\".\"books_of\"(\"authors\".*) AS "
                        "\"books_1\" WHERE TRUE) AS \"books_1\") AS \"books_1\" ON "
                        "\"books_1\".pgrst_agg IS NOT NULL") != NULL, "%s", s);
    /* one row (not SETOF): a row of NULLs is no row */
    cr_expect(strstr(s, "FROM \"api\".\"best_book\"(\"authors\".*) AS \"books_2\" WHERE NOT "
                        "(\"books_2\" IS NULL)") != NULL, "%s", s);
}
