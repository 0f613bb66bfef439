/* test_repr.c - unit tests of the SQL builder for domain representations (dba_column.repr): the
   cast to json around represented columns in the select list ('*' expanded, renamed, under a
   cast, grouped by the column itself, not in CSV), the text parser around filter values (eq, in,
   any; not like nor is), and the JSON parser over body values (json_to_record with the written
   columns declared). */
#include <criterion/criterion.h>
#include <string.h>

#include "query/query.h"

static struct dba_arena *A;
static struct dba_sql S;
static struct dba_err E;

static struct dba_repr RGB = { .type = "api.rgb", .to_json = "\"api\".\"rgb_json\"",
                               .from_json = "\"api\".\"rgb_of_json\"",
                               .from_text = "\"api\".\"rgb_of_text\"" };
static struct dba_repr ZTS = { .type = "api.zts", .to_json = "\"api\".\"zts_json\"" };

static struct dba_column COLS[] = {
    { .name = "id", .type = "integer", .base_type = "integer", .position = 1, .is_pk = true },
    { .name = "color", .type = "api.rgb", .base_type = "api.rgb", .nullable = true, .position = 2,
      .repr = &RGB },
    { .name = "made", .type = "api.zts", .base_type = "api.zts", .nullable = true, .position = 3,
      .repr = &ZTS },
};
static char *PK[] = { "id" };
static struct dba_table PAINTS = { .schema = "api", .name = "paints", .kind = 'r',
                                   .insertable = true, .cols = COLS, .n_cols = 3, .pk = PK,
                                   .n_pk = 1 };

static void
setup(void)
{
    dba_mem_init();
    A = dba_arena_new();
    memset(&S, 0, sizeof(S));
    dba_err_clear(&E);
}

static void
teardown(void)
{
    dba_buf_cleanup(&S.text);
    dba_arena_free(A);
}

TestSuite(repr, .init = setup, .fini = teardown);

static struct dba_query *
query(enum dba_method m)
{
    struct dba_query *q = dba_arena_alloc(A, sizeof(*q));

    q->method = m;
    q->schema = "api";
    q->table = "paints";
    q->rel.where.kind = DBA_L_AND;
    q->rel.limit = -1;
    q->range_from = -1;
    q->range_to = -1;
    q->prefer.max_affected = -1;
    q->media = DBA_MEDIA_JSON;
    return q;
}

static struct dba_select_item
column(const char *name, const char *alias, const char *cast)
{
    struct dba_select_item it = { .kind = DBA_ITEM_COLUMN, .alias = alias, .cast = cast };

    it.field.name = name;
    return it;
}

static void
filter(struct dba_query *q, const char *col, enum dba_op op, const char *value)
{
    struct dba_logic *l = dba_arena_alloc(A, sizeof(*l));

    l->kind = DBA_L_FILTER;
    l->filter.field.name = col;
    l->filter.op = op;
    l->filter.value = value;
    q->rel.where.children = l;
    q->rel.where.n_children = 1;
}

/* The source SELECT of the statement (between "pgrst_source AS (" and ") SELECT"). */
static const char *
built(const struct dba_query *q)
{
    int rc = dba_query_sql_build(q, &PAINTS, 0, A, &S, &E);

    cr_assert_eq(rc, DBA_OK, "build failed: %s %s", E.pgrst, E.msg);
    return S.text.data;
}

static void
expect_in(const char *sql, const char *part)
{
    cr_expect(strstr(sql, part) != NULL, "missing %s in %s", part, sql);
}

Test(repr, select_star_expands_through_the_casts)
{
    const char *sql = built(query(DBA_M_GET));

    expect_in(sql, "SELECT \"paints\".\"id\", \"api\".\"rgb_json\"(\"paints\".\"color\") AS "
                   "\"color\", \"api\".\"zts_json\"(\"paints\".\"made\") AS \"made\" FROM");
}

Test(repr, select_column_renamed_and_cast_on_top)
{
    struct dba_query *q = query(DBA_M_GET);
    struct dba_select_item items[] = { column("color", NULL, NULL), column("color", "c", "text") };

    q->rel.select = items;
    q->rel.n_select = 2;
    expect_in(built(q), "SELECT \"api\".\"rgb_json\"(\"paints\".\"color\") AS \"color\", "
                        "CAST(\"api\".\"rgb_json\"(\"paints\".\"color\") AS text) AS \"c\" FROM");
}

Test(repr, csv_shows_the_columns_own_text)
{
    struct dba_query *q = query(DBA_M_GET);

    q->media = DBA_MEDIA_CSV;
    expect_in(built(q), "SELECT \"paints\".* FROM");
}

Test(repr, grouped_by_the_column_itself)
{
    struct dba_query *q = query(DBA_M_GET);
    struct dba_select_item items[] = { column("color", NULL, NULL),
                                       { .kind = DBA_ITEM_AGG, .agg = DBA_AGG_COUNT } };

    q->rel.select = items;
    q->rel.n_select = 2;
    expect_in(built(q), "count(*) AS \"count\" FROM \"api\".\"paints\" AS \"paints\" "
                        "GROUP BY \"paints\".\"color\"");
}

Test(repr, filter_values_go_through_the_text_parser)
{
    struct dba_query *q = query(DBA_M_GET);

    filter(q, "color", DBA_OP_EQ, "00FF00");
    expect_in(built(q), "WHERE \"paints\".\"color\" = \"api\".\"rgb_of_text\"($1::text)");
    cr_expect_str_eq(S.params[0], "00FF00");
}

Test(repr, in_list_is_mapped_element_by_element)
{
    struct dba_query *q = query(DBA_M_GET);
    const char *list[] = { "FF", "00" };

    filter(q, "color", DBA_OP_IN, NULL);
    q->rel.where.children[0].filter.list = list;
    q->rel.where.children[0].filter.n_list = 2;
    expect_in(built(q), "WHERE \"paints\".\"color\" = ANY(ARRAY(SELECT "
                        "\"api\".\"rgb_of_text\"(unnest($1::text[]))))");
    cr_expect_str_eq(S.params[0], "{\"FF\",\"00\"}");
}

Test(repr, no_parser_for_patterns_nor_without_a_text_cast)
{
    struct dba_query *q = query(DBA_M_GET);

    filter(q, "made", DBA_OP_EQ, "2020-01-01");
    expect_in(built(q), "WHERE \"paints\".\"made\" = $1)");
    dba_buf_cleanup(&S.text);
    memset(&S, 0, sizeof(S));
    q = query(DBA_M_GET);
    filter(q, "color", DBA_OP_LIKE, "1*");
    expect_in(built(q), "WHERE \"paints\".\"color\" LIKE $1)");
}

Test(repr, body_values_go_through_the_json_parser)
{
    struct dba_query *q = query(DBA_M_POST);
    const char *keys[] = { "id", "color", "made" };

    q->body_kind = DBA_BODY_OBJECT;
    q->body = "{\"id\":1,\"color\":\"#FF\",\"made\":\"2020-01-01Z\"}";
    q->body_len = strlen(q->body);
    q->body_keys = keys;
    q->n_body_keys = 3;
    q->n_body_rows = 1;
    expect_in(built(q), "INSERT INTO \"api\".\"paints\" AS \"paints\" (\"id\", \"color\", "
                        "\"made\") SELECT pgrst_body.\"id\", \"api\".\"rgb_of_json\"("
                        "pgrst_body.\"color\"), pgrst_body.\"made\" FROM json_to_record($1::json) "
                        "AS pgrst_body(\"id\" integer, \"color\" json, \"made\" api.zts)");
}
