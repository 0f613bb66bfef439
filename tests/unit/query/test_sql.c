/* test_sql.c - unit tests of the SQL builder: exact statement text and parameters. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "query/query.h"

/* ---- helpers: hand-built tables and queries (BEGIN HELPERS) ---- */

static struct dba_arena *A;

/* A table from "name:type[:pk][:default=expr][:identity]" entries separated by ';'. */
static struct dba_table *
mk_table(const char *schema, const char *name, const char *spec)
{
    struct dba_table *t = dba_arena_alloc(A, sizeof(*t));
    char *s = dba_arena_strdup(A, spec), *save = NULL;
    size_t n = 1;

    for (const char *p = spec; *p; p++)
        n += *p == ';';
    t->schema = dba_arena_strdup(A, schema);
    t->name = dba_arena_strdup(A, name);
    t->insertable = true;
    t->cols = dba_arena_alloc(A, n * sizeof(*t->cols));
    t->pk = dba_arena_alloc(A, n * sizeof(*t->pk));
    for (char *e = strtok_r(s, ";", &save); e; e = strtok_r(NULL, ";", &save)) {
        struct dba_column *c = &t->cols[t->n_cols];
        char *save2 = NULL;

        c->name = strtok_r(e, ":", &save2);
        c->type = strtok_r(NULL, ":", &save2);
        c->base_type = c->type;
        c->nullable = true;
        c->position = (int)++t->n_cols;
        for (char *o = strtok_r(NULL, ":", &save2); o; o = strtok_r(NULL, ":", &save2)) {
            if (strcmp(o, "pk") == 0) {
                c->is_pk = true;
                c->nullable = false;
                t->pk[t->n_pk++] = c->name;
            } else if (strncmp(o, "default=", 8) == 0) {
                c->default_expr = o + 8;
            } else if (strcmp(o, "identity") == 0) {
                c->identity = true;
            }
        }
    }
    return t;
}

/* A field from "col", "col->key->>key", "col->0". */
static struct dba_field
mk_field(const char *spec)
{
    struct dba_field f = { 0 };
    const char *p = strstr(spec, "->");

    f.name = p ? dba_arena_strndup(A, spec, (size_t)(p - spec)) : dba_arena_strdup(A, spec);
    f.path = dba_arena_alloc(A, 8 * sizeof(*f.path));
    while (p) {
        struct dba_jstep *s = &f.path[f.n_path++];
        const char *k = p + 2, *next;

        s->as_text = *k == '>';
        k += s->as_text;
        next = strstr(k, "->");
        s->key = next ? dba_arena_strndup(A, k, (size_t)(next - k)) : dba_arena_strdup(A, k);
        s->is_index = (s->key[0] >= '0' && s->key[0] <= '9') || s->key[0] == '-';
        p = next;
    }
    if (f.n_path == 0)
        f.path = NULL;
    return f;
}

static struct dba_query *
mk_query(enum dba_method m)
{
    struct dba_query *q = dba_arena_alloc(A, sizeof(*q));

    q->method = m;
    q->schema = "api";
    q->table = "items";
    q->rel.where.kind = DBA_L_AND;
    q->rel.limit = -1;
    q->range_from = -1;
    q->range_to = -1;
    q->prefer.max_affected = -1;
    q->media = DBA_MEDIA_JSON;
    return q;
}

static void
add_logic(struct dba_logic *parent, struct dba_logic child)
{
    struct dba_logic *k = dba_arena_alloc(A, (parent->n_children + 1) * sizeof(*k));

    if (parent->n_children)
        memcpy(k, parent->children, parent->n_children * sizeof(*k));
    k[parent->n_children++] = child;
    parent->children = k;
}

static struct dba_logic
leaf(const char *field, enum dba_op op, const char *value)
{
    struct dba_logic l = { .kind = DBA_L_FILTER };

    l.filter.field = mk_field(field);
    l.filter.op = op;
    l.filter.value = value;
    return l;
}

static struct dba_logic
nleaf(const char *field, enum dba_op op, const char *value)
{
    struct dba_logic l = leaf(field, op, value);

    l.filter.negate = true;
    return l;
}

static void
add_filter(struct dba_query *q, struct dba_logic l)
{
    add_logic(&q->rel.where, l);
}

/* in.(...) with the elements given as a NULL-terminated list. */
static struct dba_logic
in_leaf(const char *field, bool negate, ...)
{
    struct dba_logic l = leaf(field, DBA_OP_IN, NULL);
    const char **list = dba_arena_alloc(A, 16 * sizeof(*list));
    va_list ap;

    va_start(ap, negate);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        list[l.filter.n_list++] = s;
    va_end(ap);
    l.filter.list = list;
    l.filter.negate = negate;
    return l;
}

/* select= from "a,alias:b->>k::int,*" (no embeds). */
static void
set_select(struct dba_query *q, const char *spec)
{
    char *s = dba_arena_strdup(A, spec), *save = NULL;

    q->rel.select = dba_arena_alloc(A, 16 * sizeof(*q->rel.select));
    for (char *e = strtok_r(s, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        struct dba_select_item *it = &q->rel.select[q->rel.n_select++];
        char *colon = strchr(e, ':'), *cast = strstr(e, "::");

        if (strcmp(e, "*") == 0) {
            it->kind = DBA_ITEM_STAR;
            continue;
        }
        if (cast) {
            *cast = '\0';
            it->cast = cast + 2;
        }
        if (colon && colon != cast) {
            *colon = '\0';
            it->alias = e;
            e = colon + 1;
        }
        it->field = mk_field(e);
    }
}

static void
add_order(struct dba_query *q, const char *field, bool desc, enum dba_nulls nulls)
{
    struct dba_order_item *o = dba_arena_alloc(A, (q->rel.n_order + 1) * sizeof(*o));

    if (q->rel.n_order)
        memcpy(o, q->rel.order, q->rel.n_order * sizeof(*o));
    o[q->rel.n_order].field = mk_field(field);
    o[q->rel.n_order].desc = desc;
    o[q->rel.n_order].nulls = nulls;
    q->rel.order = o;
    q->rel.n_order++;
}

/* Splits "a,b" into a NULL-free array; *n gets the count. */
static const char **
mk_list(const char *spec, size_t *n)
{
    char *s = dba_arena_strdup(A, spec), *save = NULL;
    const char **v = dba_arena_alloc(A, 16 * sizeof(*v));

    *n = 0;
    for (char *e = strtok_r(s, ",", &save); e; e = strtok_r(NULL, ",", &save))
        v[(*n)++] = e;
    return v;
}

static void
set_body(struct dba_query *q, enum dba_body_kind kind, const char *json, const char *keys,
         size_t rows)
{
    q->body_kind = kind;
    q->body = json;
    q->body_len = strlen(json);
    q->body_keys = mk_list(keys, &q->n_body_keys);
    q->n_body_rows = rows;
}

/* ---- END HELPERS ---- */

static struct dba_table *ITEMS;   /* api.items(id integer pk, name text, price numeric) */
static struct dba_table *DOCS;    /* api.docs: json / jsonb / array / composite / tsvector */
static struct dba_sql S;
static struct dba_err E;

static void
setup(void)
{
    A = dba_arena_new();
    ITEMS = mk_table("api", "items", "id:integer:pk:default=nextval('api.items_id_seq'::regclass);"
                                     "name:text;price:numeric");
    DOCS = mk_table("api", "docs", "id:integer:pk;js:json;jb:jsonb;arr:integer[];cx:api.complex;"
                                   "tsv:tsvector;body:text");
    memset(&S, 0, sizeof(S));
    dba_err_clear(&E);
}

static void
teardown(void)
{
    dba_buf_cleanup(&S.text);
    dba_arena_free(A);
}

TestSuite(sql, .init = setup, .fini = teardown);

static int
build(const struct dba_query *q, const struct dba_table *t, long max_rows)
{
    return dba_query_sql_build(q, t, max_rows, A, &S, &E);
}

/* Builds q on t and checks the whole statement text. */
static void
expect_sql(const struct dba_query *q, const struct dba_table *t, long max_rows, const char *want)
{
    int rc = build(q, t, max_rows);

    cr_assert_eq(rc, DBA_OK, "build failed: %s %s", E.pgrst, E.msg);
    cr_expect_str_eq(S.text.data, want);
}

static void
expect_params(size_t n, ...)
{
    va_list ap;

    cr_assert_eq(S.n_params, n, "got %zu params", S.n_params);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);

        if (want == NULL)
            cr_expect_null(S.params[i], "param %zu should be NULL", i + 1);
        else
            cr_expect_str_eq(S.params[i], want, "param %zu", i + 1);
    }
    va_end(ap);
}

static void
expect_err(const struct dba_query *q, const struct dba_table *t, int status, const char *code,
           const char *msg)
{
    int rc = build(q, t, 0);

    cr_assert_lt(rc, 0, "build should fail");
    cr_expect_eq(E.http_status, status);
    cr_expect_str_eq(E.pgrst, code);
    if (msg)
        cr_expect_str_eq(E.msg, msg);
    cr_expect_null(S.text.data, "out must stay untouched");
}

/* The read statement around a source SELECT, with the plain JSON body. */
#define READ_HEAD "WITH pgrst_source AS (SELECT "
#define READ_TAIL ") SELECT NULL::bigint AS total, count(*) AS page_total, " \
    "coalesce(json_agg(_t), '[]')::text AS body, NULL::text AS location, " \
    "NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM pgrst_source _t"
#define READ(src) READ_HEAD src READ_TAIL
#define ITEMS_ALL "\"items\".*"
#define FROM_ITEMS " FROM \"api\".\"items\" AS \"items\""
#define COL(c) "\"items\".\"" c "\""
#define DCOL(c) "\"docs\".\"" c "\""
#define FROM_DOCS " FROM \"api\".\"docs\" AS \"docs\""

/* ---- reads: select list ---- */

Test(sql, read_default_star)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS));
    expect_params(0);
}

Test(sql, read_select_columns_alias_cast)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "id,label:name,price::text");
    expect_sql(q, ITEMS, 0, READ(COL("id") ", " COL("name") " AS \"label\", CAST(" COL("price")
                                 " AS text) AS \"price\"" FROM_ITEMS));
    expect_params(0);
}

Test(sql, read_select_star_and_column)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "*,x:id::character varying");
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL ", CAST(" COL("id") " AS character varying) AS \"x\""
                                 FROM_ITEMS));
}

Test(sql, read_select_json_path_binds_keys)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "jb->a->>b");
    expect_sql(q, DOCS, 0, READ(DCOL("jb") "->$1::text->>$2::text AS \"b\"" FROM_DOCS));
    expect_params(2, "a", "b");
}

Test(sql, read_select_json_index_uses_column_name)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "js->>0::int,jb->items->-1");
    expect_sql(q, DOCS, 0, READ("CAST(" DCOL("js") "->>0 AS int) AS \"js\", " DCOL("jb")
                                "->$1::text->-1 AS \"items\"" FROM_DOCS));
    expect_params(1, "items");
}

Test(sql, read_select_json_path_on_non_json_column)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "cx->re,first:arr->0");
    expect_sql(q, DOCS, 0, READ("to_jsonb(" DCOL("cx") ")->$1::text AS \"re\", to_jsonb("
                                DCOL("arr") ")->0 AS \"first\"" FROM_DOCS));
    expect_params(1, "re");
}

Test(sql, read_select_cast_type_is_checked)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "id::text);drop table x;--");
    expect_err(q, ITEMS, 400, "PGRST100", NULL);
}

Test(sql, read_select_cast_array_type)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "arr::text[]");
    expect_sql(q, DOCS, 0, READ("CAST(" DCOL("arr") " AS text[]) AS \"arr\"" FROM_DOCS));
}

Test(sql, read_select_bad_json_index)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "js->0");
    q->rel.select[0].field.path[0].key = "1x";
    expect_err(q, DOCS, 400, "PGRST100", NULL);
}

Test(sql, read_unknown_select_column)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "id,nope");
    expect_err(q, ITEMS, 400, "42703", "column items.nope does not exist");
    cr_expect_str_eq(E.sqlstate, "42703");
    cr_expect_eq(E.code, DBA_ENOTFOUND);
}

Test(sql, read_unknown_filter_and_order_columns)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, leaf("ghost", DBA_OP_EQ, "1"));
    expect_err(q, ITEMS, 400, "42703", "column items.ghost does not exist");
    q = mk_query(DBA_M_GET);
    add_order(q, "phantom", false, DBA_NULLS_DEFAULT);
    expect_err(q, ITEMS, 400, "42703", "column items.phantom does not exist");
}

/* ---- reads: filters ---- */

Test(sql, filter_eq)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, leaf("id", DBA_OP_EQ, "5"));
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE " COL("id") " = $1"));
    expect_params(1, "5");
}

Test(sql, filter_comparisons_are_anded)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, leaf("id", DBA_OP_GT, "1"));
    add_filter(q, leaf("id", DBA_OP_GTE, "2"));
    add_filter(q, leaf("id", DBA_OP_LT, "9"));
    add_filter(q, leaf("id", DBA_OP_LTE, "8"));
    add_filter(q, leaf("name", DBA_OP_NEQ, "x"));
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE " COL("id") " > $1 AND " COL("id")
                                 " >= $2 AND " COL("id") " < $3 AND " COL("id") " <= $4 AND "
                                 COL("name") " <> $5"));
    expect_params(5, "1", "2", "9", "8", "x");
}

Test(sql, filter_pattern_operators)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, leaf("name", DBA_OP_LIKE, "a%"));
    add_filter(q, leaf("name", DBA_OP_ILIKE, "%B"));
    add_filter(q, leaf("name", DBA_OP_MATCH, "^x"));
    add_filter(q, leaf("name", DBA_OP_IMATCH, "y$"));
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE " COL("name") " LIKE $1 AND "
                                 COL("name") " ILIKE $2 AND " COL("name") " ~ $3 AND "
                                 COL("name") " ~* $4"));
    expect_params(4, "a%", "%B", "^x", "y$");
}

Test(sql, filter_in_is_one_array_param)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, in_leaf("name", false, "a", "b,c", "d\"e\\f", "", NULL));
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE " COL("name") " = ANY($1)"));
    expect_params(1, "{\"a\",\"b,c\",\"d\\\"e\\\\f\",\"\"}");
}

Test(sql, filter_not_in_and_empty_in)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, in_leaf("id", true, "1", "3", NULL));
    add_filter(q, in_leaf("id", false, NULL));
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE NOT (" COL("id") " = ANY($1)) AND "
                                 COL("id") " = ANY($2)"));
    expect_params(2, "{\"1\",\"3\"}", "{}");
}

Test(sql, filter_is_literals)
{
    static const enum dba_is_value vals[] = { DBA_IS_NULL, DBA_IS_NOT_NULL, DBA_IS_TRUE,
                                              DBA_IS_FALSE, DBA_IS_UNKNOWN };
    struct dba_query *q = mk_query(DBA_M_GET);

    for (size_t i = 0; i < DBA_ARRAY_LEN(vals); i++) {
        struct dba_logic l = leaf(i < 2 ? "name" : "id", DBA_OP_IS, NULL);

        l.filter.is_value = vals[i];
        add_filter(q, l);
    }
    q->rel.where.children[0].filter.negate = true;
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE NOT (" COL("name") " IS NULL) AND "
                                 COL("name") " IS NOT NULL AND " COL("id") " IS TRUE AND "
                                 COL("id") " IS FALSE AND " COL("id") " IS UNKNOWN"));
    expect_params(0);
}

Test(sql, filter_isdistinct_and_negation)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, leaf("name", DBA_OP_ISDISTINCT, "a"));
    add_filter(q, nleaf("name", DBA_OP_ISDISTINCT, "b"));
    add_filter(q, nleaf("id", DBA_OP_EQ, "3"));
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE " COL("name")
                                 " IS DISTINCT FROM $1 AND NOT (" COL("name")
                                 " IS DISTINCT FROM $2) AND NOT (" COL("id") " = $3)"));
    expect_params(3, "a", "b", "3");
}

Test(sql, filter_any_all_modifiers)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_logic a = leaf("id", DBA_OP_EQ, "{3,4}");
    struct dba_logic b = leaf("id", DBA_OP_GT, "{1,2}");
    struct dba_logic c = leaf("name", DBA_OP_LIKE, "{O%,P%}");

    a.filter.quant = DBA_Q_ANY;
    b.filter.quant = DBA_Q_ALL;
    c.filter.quant = DBA_Q_ANY;
    c.filter.negate = true;
    add_filter(q, a);
    add_filter(q, b);
    add_filter(q, c);
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE " COL("id") " = ANY($1) AND "
                                 COL("id") " > ALL($2) AND NOT (" COL("name") " LIKE ANY($3))"));
    expect_params(3, "{3,4}", "{1,2}", "{O%,P%}");
}

Test(sql, filter_isdistinct_rejects_any)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_logic a = leaf("id", DBA_OP_ISDISTINCT, "{3,4}");

    a.filter.quant = DBA_Q_ANY;
    add_filter(q, a);
    expect_err(q, ITEMS, 400, "PGRST100", NULL);
}

Test(sql, filter_fts_on_tsvector_column_is_not_wrapped)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, leaf("tsv", DBA_OP_FTS, "fat & rat"));
    expect_sql(q, DOCS, 0, READ("\"docs\".*" FROM_DOCS " WHERE " DCOL("tsv")
                                " @@ to_tsquery($1)"));
    expect_params(1, "fat & rat");
}

Test(sql, filter_fts_language_on_text_column)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_logic l = leaf("body", DBA_OP_FTS, "amusant");

    l.filter.lang = "french";
    add_filter(q, l);
    expect_sql(q, DOCS, 0, READ("\"docs\".*" FROM_DOCS " WHERE to_tsvector($1::regconfig, "
                                DCOL("body") ") @@ to_tsquery($1::regconfig, $2)"));
    expect_params(2, "french", "amusant");
}

Test(sql, filter_fts_variants)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_logic l = leaf("tsv", DBA_OP_WFTS, "c");

    l.filter.lang = "english";
    add_filter(q, leaf("body", DBA_OP_PLFTS, "a b"));
    add_filter(q, nleaf("tsv", DBA_OP_PHFTS, "b c"));
    add_filter(q, l);
    expect_sql(q, DOCS, 0, READ("\"docs\".*" FROM_DOCS " WHERE to_tsvector(" DCOL("body")
                                ") @@ plainto_tsquery($1) AND NOT (" DCOL("tsv")
                                " @@ phraseto_tsquery($2)) AND " DCOL("tsv")
                                " @@ websearch_to_tsquery($3::regconfig, $4)"));
    expect_params(4, "a b", "b c", "english", "c");
}

Test(sql, filter_range_and_array_operators)
{
    static const enum dba_op ops[] = { DBA_OP_CS, DBA_OP_CD, DBA_OP_OV, DBA_OP_SL, DBA_OP_SR,
                                       DBA_OP_NXR, DBA_OP_NXL, DBA_OP_ADJ };
    struct dba_query *q = mk_query(DBA_M_GET);

    for (size_t i = 0; i < DBA_ARRAY_LEN(ops); i++)
        add_filter(q, leaf("arr", ops[i], "{1}"));
    expect_sql(q, DOCS, 0, READ("\"docs\".*" FROM_DOCS " WHERE " DCOL("arr") " @> $1 AND "
                                DCOL("arr") " <@ $2 AND " DCOL("arr") " && $3 AND " DCOL("arr")
                                " << $4 AND " DCOL("arr") " >> $5 AND " DCOL("arr") " &< $6 AND "
                                DCOL("arr") " &> $7 AND " DCOL("arr") " -|- $8"));
    cr_expect_eq(S.n_params, 8);
}

Test(sql, filter_json_text_path)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, leaf("jb->a->>b", DBA_OP_EQ, "foo"));
    add_filter(q, leaf("js->>-3", DBA_OP_EQ, "1"));
    expect_sql(q, DOCS, 0, READ("\"docs\".*" FROM_DOCS " WHERE " DCOL("jb")
                                "->$1::text->>$2::text = $3 AND " DCOL("js") "->>-3 = $4"));
    expect_params(4, "a", "b", "foo", "1");
}

Test(sql, filter_json_arrow_on_json_casts_to_jsonb)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_filter(q, leaf("js->a", DBA_OP_EQ, "{\"b\":2}"));
    add_filter(q, leaf("jb->a", DBA_OP_EQ, "{\"b\":2}"));
    expect_sql(q, DOCS, 0, READ("\"docs\".*" FROM_DOCS " WHERE (" DCOL("js")
                                "->$1::text)::jsonb = $2 AND " DCOL("jb") "->$3::text = $4"));
    expect_params(4, "a", "{\"b\":2}", "a", "{\"b\":2}");
}

Test(sql, filter_logic_tree_nesting)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_logic or = { .kind = DBA_L_OR };
    struct dba_logic and = { .kind = DBA_L_AND, .negate = true };

    add_logic(&and, leaf("id", DBA_OP_GTE, "11"));
    add_logic(&and, leaf("id", DBA_OP_LTE, "17"));
    add_logic(&or, leaf("id", DBA_OP_EQ, "14"));
    add_logic(&or, and);
    add_filter(q, leaf("name", DBA_OP_EQ, "x"));
    add_filter(q, or);
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE " COL("name") " = $1 AND (" COL("id")
                                 " = $2 OR NOT (" COL("id") " >= $3 AND " COL("id")
                                 " <= $4))"));
    expect_params(4, "x", "14", "11", "17");
}

Test(sql, filter_negated_or_at_top)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_logic or = { .kind = DBA_L_OR, .negate = true };

    add_logic(&or, leaf("id", DBA_OP_LT, "18"));
    add_logic(&or, leaf("id", DBA_OP_GT, "21"));
    add_filter(q, or);
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " WHERE NOT (" COL("id") " < $1 OR "
                                 COL("id") " > $2)"));
}

/* ---- reads: order, pagination, count ---- */

Test(sql, order_items)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    add_order(q, "id", true, DBA_NULLS_LAST);
    add_order(q, "js->a", false, DBA_NULLS_FIRST);
    add_order(q, "jb->>b", false, DBA_NULLS_DEFAULT);
    add_order(q, "cx->re", true, DBA_NULLS_DEFAULT);
    expect_sql(q, DOCS, 0, READ("\"docs\".*" FROM_DOCS " ORDER BY " DCOL("id")
                                " DESC NULLS LAST, (" DCOL("js") "->$1::text)::jsonb ASC NULLS "
                                "FIRST, "
                                DCOL("jb") "->>$2::text ASC, to_jsonb(" DCOL("cx")
                                ")->$3::text DESC"));
    expect_params(3, "a", "b", "re");
}

Test(sql, limit_and_offset)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->rel.limit = 5;
    q->rel.offset = 10;
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " LIMIT 5 OFFSET 10"));
}

Test(sql, negative_offset_is_ignored_and_limit_zero_kept)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->rel.limit = 0;
    q->rel.offset = -3;
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " LIMIT 0"));
}

Test(sql, range_intersects_limit)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->rel.limit = 5;
    q->range_from = 0;
    q->range_to = 9;
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " LIMIT 5"));
}

Test(sql, range_header_alone_and_with_offset)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->range_from = 10;
    q->range_to = 100;
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " LIMIT 91 OFFSET 10"));
    dba_buf_cleanup(&S.text);
    q->range_from = 0;
    q->range_to = 3;
    q->rel.limit = 3;
    q->rel.offset = 2;
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " LIMIT 2 OFFSET 2"));
    dba_buf_cleanup(&S.text);
    q->rel.limit = -1;
    q->rel.offset = 0;
    q->range_from = 4;
    q->range_to = -1;
    expect_sql(q, ITEMS, 0, READ(ITEMS_ALL FROM_ITEMS " OFFSET 4"));
}

Test(sql, max_rows_caps_reads)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    expect_sql(q, ITEMS, 100, READ(ITEMS_ALL FROM_ITEMS " LIMIT 100"));
    dba_buf_cleanup(&S.text);
    q->rel.limit = 500;
    expect_sql(q, ITEMS, 100, READ(ITEMS_ALL FROM_ITEMS " LIMIT 100"));
    dba_buf_cleanup(&S.text);
    q->rel.limit = 7;
    expect_sql(q, ITEMS, 100, READ(ITEMS_ALL FROM_ITEMS " LIMIT 7"));
}

#define READ_TOTAL(src, total) READ_HEAD src ") SELECT " total " AS total, count(*) AS " \
    "page_total, " \
    "coalesce(json_agg(_t), '[]')::text AS body, NULL::text AS location, " \
    "NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM pgrst_source _t"

Test(sql, count_exact_reuses_filter_params)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->prefer.count = DBA_COUNT_EXACT;
    q->rel.limit = 2;
    add_filter(q, leaf("id", DBA_OP_GT, "3"));
    expect_sql(q, ITEMS, 0, READ_TOTAL(ITEMS_ALL FROM_ITEMS " WHERE " COL("id") " > $1 LIMIT 2",
                                       "(SELECT count(*)" FROM_ITEMS " WHERE " COL("id")
                                       " > $1)"));
    expect_params(1, "3");
}

Test(sql, count_planned_without_filter_uses_reltuples)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->prefer.count = DBA_COUNT_PLANNED;
    expect_sql(q, ITEMS, 0, READ_TOTAL(ITEMS_ALL FROM_ITEMS,
        "coalesce((SELECT CASE WHEN pgrst_c.reltuples >= 0 THEN pgrst_c.reltuples::bigint END "
        "FROM pg_catalog.pg_class pgrst_c WHERE pgrst_c.oid = '\"api\".\"items\"'::regclass), "
        "(SELECT count(*)" FROM_ITEMS "))"));
}

Test(sql, count_planned_with_filter_or_view_explains_and_estimated_is_exact)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    /* filters: the planner's estimate, from an EXPLAIN of the filtered rows taking the filter
       parameters (the first ones); the statement's own total is NULL */
    q->prefer.count = DBA_COUNT_PLANNED;
    add_filter(q, leaf("id", DBA_OP_EQ, "1"));
    set_select(q, "name->k");
    expect_sql(q, ITEMS, 0, READ_TOTAL("to_jsonb(" COL("name") ")->$2::text AS \"k\""
                                       FROM_ITEMS " WHERE " COL("id") " = $1", "NULL::bigint"));
    cr_expect_str_eq(S.count_plan, "EXPLAIN (FORMAT JSON) SELECT 1" FROM_ITEMS " WHERE "
                                   COL("id") " = $1");
    cr_expect_eq(S.count_plan_params, 1);
    expect_params(2, "1", "k");
    dba_buf_cleanup(&S.text);
    memset(&S, 0, sizeof(S));
    q = mk_query(DBA_M_GET);
    q->prefer.count = DBA_COUNT_ESTIMATED;
    expect_sql(q, ITEMS, 0, READ_TOTAL(ITEMS_ALL FROM_ITEMS, "(SELECT count(*)" FROM_ITEMS ")"));
    cr_expect_null(S.count_plan);
    dba_buf_cleanup(&S.text);
    memset(&S, 0, sizeof(S));
    q->prefer.count = DBA_COUNT_PLANNED;
    ITEMS->is_view = true;
    expect_sql(q, ITEMS, 0, READ_TOTAL(ITEMS_ALL FROM_ITEMS, "NULL::bigint"));
    cr_expect_str_eq(S.count_plan, "EXPLAIN (FORMAT JSON) SELECT 1" FROM_ITEMS);
    cr_expect_eq(S.count_plan_params, 0);
}

/* ---- reads: media ---- */

#define READ_BODY(src, body) READ_HEAD src ") SELECT NULL::bigint AS total, count(*) AS " \
    "page_total, " \
    body " AS body, NULL::text AS location, NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM pgrst_source _t"

Test(sql, head_has_empty_body)
{
    struct dba_query *q = mk_query(DBA_M_HEAD);

    q->media = DBA_MEDIA_CSV;
    expect_sql(q, ITEMS, 0, READ_BODY(ITEMS_ALL FROM_ITEMS, "''"));
}

Test(sql, media_object_and_stripped)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->media = DBA_MEDIA_OBJECT;
    expect_sql(q, ITEMS, 0, READ_BODY(ITEMS_ALL FROM_ITEMS,
                                      "coalesce((json_agg(_t)->0)::text, 'null')"));
    dba_buf_cleanup(&S.text);
    q->media = DBA_MEDIA_OBJECT_STRIPPED;
    expect_sql(q, ITEMS, 0, READ_BODY(ITEMS_ALL FROM_ITEMS,
                                      "coalesce((json_strip_nulls(json_agg(_t))->0)::text, "
                                      "'null')"));
    dba_buf_cleanup(&S.text);
    q->media = DBA_MEDIA_ARRAY_STRIPPED;
    expect_sql(q, ITEMS, 0, READ_BODY(ITEMS_ALL FROM_ITEMS,
                                      "coalesce(json_strip_nulls(json_agg(_t)), '[]')::text"));
}

#define CSV_BODY "coalesce((SELECT string_agg(pgrst_k, ',') FROM " \
    "json_object_keys(json_agg(_t)->0) " \
    "AS pgrst_k), '') || chr(10) || coalesce(string_agg(substr(_t::text, 2, length(_t::text) - " \
    "2), " \
    "chr(10)), '')"

Test(sql, media_csv)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->media = DBA_MEDIA_CSV;
    set_select(q, "name");
    expect_sql(q, ITEMS, 0, READ_BODY(COL("name") FROM_ITEMS, CSV_BODY));
}

/* GeoJSON: PostGIS's ST_AsGeoJSON(record) of each row, qualified as the catalog found it, else
   unqualified (it then fails in PostgreSQL as in PostgREST) */
Test(sql, media_geojson)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->media = DBA_MEDIA_GEOJSON;
    q->geojson = "\"gis\".\"st_asgeojson\"";
    expect_sql(q, ITEMS, 0, READ_BODY(ITEMS_ALL FROM_ITEMS,
                                      "json_build_object('type', 'FeatureCollection', 'features', "
                                      "coalesce(json_agg(\"gis\".\"st_asgeojson\"(_t)::json), "
                                      "'[]'))::text"));
    dba_buf_cleanup(&S.text);
    q->geojson = NULL;
    expect_sql(q, ITEMS, 0, READ_BODY(ITEMS_ALL FROM_ITEMS,
                                      "json_build_object('type', 'FeatureCollection', 'features', "
                                      "coalesce(json_agg(st_asgeojson(_t)::json), '[]'))::text"));
}

/* ---- writes ---- */

#define W_HEAD "WITH pgrst_source AS ("
#define W_INS_ITEMS "INSERT INTO \"api\".\"items\" AS \"items\""
#define W_POP(fn) " FROM " fn "(NULL::\"api\".\"items\", $1::json) AS pgrst_body"
#define W_MIN_TAIL ") SELECT NULL::bigint AS total, count(*) AS page_total, '' AS body, " \
    "NULL::text AS location, NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM pgrst_source _t"
#define W_REPR_TAIL(proj) ") SELECT NULL::bigint AS total, count(*) AS page_total, " \
    "coalesce(json_agg(_t), '[]')::text AS body, NULL::text AS location, " \
    "NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT " proj " FROM pgrst_source) _t"

Test(sql, insert_object_minimal)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_OBJECT, "{\"name\":\"a\",\"price\":1}", "name,price", 1);
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"name\", \"price\") SELECT pgrst_body.\"name\", "
                            "pgrst_body.\"price\"" W_POP("json_populate_record") " RETURNING 1"
                            W_MIN_TAIL);
    expect_params(1, "{\"name\":\"a\",\"price\":1}");
}

Test(sql, insert_array_representation_with_select)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_ARRAY, "[{\"id\":1,\"name\":\"a\"},{\"id\":2,\"name\":\"b\"}]",
             "id,name", 2);
    set_select(q, "id,n:name");
    q->prefer.ret = DBA_RET_REPRESENTATION;
    q->prefer.count = DBA_COUNT_EXACT;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"id\", \"name\") SELECT pgrst_body.\"id\", "
                            "pgrst_body.\"name\"" W_POP("json_populate_recordset")
                            " RETURNING \"items\".*) SELECT count(*) AS total, count(*) AS "
                            "page_total, coalesce(json_agg(_t), '[]')::text AS body, NULL::text AS "
                            "location, NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT pgrst_source.\"id\", "
                            "pgrst_source.\"name\" AS \"n\" FROM pgrst_source) _t");
    expect_params(1, q->body);
}

Test(sql, insert_columns_param_ignores_other_keys)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_OBJECT, "{\"id\":1,\"name\":\"x\",\"junk\":3}", "id,name,junk", 1);
    q->columns = mk_list("id,name", &q->n_columns);
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"id\", \"name\") SELECT pgrst_body.\"id\", "
                            "pgrst_body.\"name\"" W_POP("json_populate_record")
                            " RETURNING \"items\".*" W_REPR_TAIL("pgrst_source.*"));
}

Test(sql, insert_unknown_body_key)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_OBJECT, "{\"id\":1,\"helicopter\":2}", "id,helicopter", 1);
    expect_err(q, ITEMS, 400, "PGRST204",
               "Could not find the 'helicopter' column of 'items' in the schema cache");
}

Test(sql, insert_unknown_columns_entry)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_OBJECT, "{\"id\":1}", "id", 1);
    q->columns = mk_list("id,helicopter", &q->n_columns);
    expect_err(q, ITEMS, 400, "PGRST204",
               "Could not find the 'helicopter' column of 'items' in the schema cache");
}

Test(sql, insert_empty_object_and_array)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_OBJECT, "{}", "", 1);
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " SELECT" W_POP("json_populate_record")
                            " RETURNING 1" W_MIN_TAIL);
    dba_buf_cleanup(&S.text);
    set_body(q, DBA_BODY_ARRAY, "[]", "", 0);
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " SELECT" W_POP("json_populate_recordset")
                            " RETURNING 1" W_MIN_TAIL);
}

Test(sql, insert_missing_default_array_uses_defaults_per_element)
{
    struct dba_query *q = mk_query(DBA_M_POST);
    struct dba_table *t = mk_table("api", "items", "id:integer:pk:identity;name:text;"
                                                   "price:numeric:default=0");

    set_body(q, DBA_BODY_ARRAY, "[{\"name\":\"a\"},{\"id\":9,\"price\":2}]", "name", 2);
    q->columns = mk_list("id,name,price", &q->n_columns);
    q->prefer.missing = DBA_MISSING_DEFAULT;
    expect_sql(q, t, 0, W_HEAD W_INS_ITEMS " (\"id\", \"name\", \"price\") SELECT CASE WHEN "
                        "pgrst_elem.js ? 'id' THEN pgrst_body.\"id\" ELSE nextval("
                        "pg_get_serial_sequence('\"api\".\"items\"', 'id')) END, "
                        "pgrst_body.\"name\", CASE WHEN pgrst_elem.js ? 'price' THEN "
                        "pgrst_body.\"price\" ELSE (0) END FROM jsonb_array_elements($1::jsonb) "
                        "AS pgrst_elem(js), LATERAL jsonb_populate_record(NULL::\"api\".\"items\", "
                        "pgrst_elem.js) AS pgrst_body RETURNING 1" W_MIN_TAIL);
}

Test(sql, insert_missing_default_object_drops_absent_columns)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_OBJECT, "{\"name\":\"a\"}", "name", 1);
    q->columns = mk_list("id,name,price", &q->n_columns);
    q->prefer.missing = DBA_MISSING_DEFAULT;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"name\") SELECT pgrst_body.\"name\""
                            W_POP("json_populate_record") " RETURNING 1" W_MIN_TAIL);
    dba_buf_cleanup(&S.text);
    q->prefer.missing = DBA_MISSING_NULL;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"id\", \"name\", \"price\") SELECT "
                            "pgrst_body.\"id\", pgrst_body.\"name\", pgrst_body.\"price\""
                            W_POP("json_populate_record") " RETURNING 1" W_MIN_TAIL);
}

#define W_INSERTED_TAIL(proj) ") SELECT NULL::bigint AS total, count(*) AS page_total, " \
    "coalesce(json_agg(_t), '[]')::text AS body, NULL::text AS location, (SELECT count(*) FROM " \
    "pgrst_source WHERE pgrst_inserted) AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT " proj " FROM pgrst_source) _t"

Test(sql, upsert_merge_on_primary_key)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_ARRAY, "[{\"id\":1,\"name\":\"a\"}]", "id,name", 1);
    q->prefer.resolution = DBA_RES_MERGE;
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"id\", \"name\") SELECT pgrst_body.\"id\", "
                            "pgrst_body.\"name\"" W_POP("json_populate_recordset")
                            " ON CONFLICT (\"id\") DO UPDATE SET \"id\" = EXCLUDED.\"id\", "
                            "\"name\" = EXCLUDED.\"name\" RETURNING \"items\".*, "
                            "(\"items\".xmax = 0) AS pgrst_inserted"
                            W_INSERTED_TAIL("pgrst_source.\"id\", pgrst_source.\"name\", "
                                            "pgrst_source.\"price\""));
}

Test(sql, upsert_merge_minimal_returns_only_the_flag)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_OBJECT, "{\"id\":1}", "id", 1);
    q->prefer.resolution = DBA_RES_MERGE;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"id\") SELECT pgrst_body.\"id\""
                            W_POP("json_populate_record") " ON CONFLICT (\"id\") DO UPDATE SET "
                            "\"id\" = EXCLUDED.\"id\" RETURNING (\"items\".xmax = 0) AS "
                            "pgrst_inserted) SELECT NULL::bigint AS total, count(*) AS page_total, "
                            "'' AS body, NULL::text AS location, (SELECT count(*) FROM "
                            "pgrst_source WHERE pgrst_inserted) AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM pgrst_source _t");
}

Test(sql, upsert_ignore_on_conflict_columns)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_ARRAY, "[{\"name\":\"a\",\"price\":1}]", "name,price", 1);
    q->prefer.resolution = DBA_RES_IGNORE;
    q->on_conflict = mk_list("name,price", &q->n_on_conflict);
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"name\", \"price\") SELECT pgrst_body.\"name\", "
                            "pgrst_body.\"price\"" W_POP("json_populate_recordset")
                            " ON CONFLICT (\"name\", \"price\") DO NOTHING RETURNING 1"
                            W_MIN_TAIL);
}

Test(sql, upsert_without_key_is_a_plain_insert)
{
    struct dba_query *q = mk_query(DBA_M_POST);
    struct dba_table *t = mk_table("api", "items", "a:text;b:text");

    set_body(q, DBA_BODY_ARRAY, "[{\"a\":\"1\"}]", "a", 1);
    q->prefer.resolution = DBA_RES_MERGE;
    expect_sql(q, t, 0, W_HEAD W_INS_ITEMS " (\"a\") SELECT pgrst_body.\"a\""
                        W_POP("json_populate_recordset") " RETURNING 1" W_MIN_TAIL);
}

Test(sql, upsert_on_view_has_no_inserted_count)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    ITEMS->is_view = true;
    set_body(q, DBA_BODY_OBJECT, "{\"id\":1}", "id", 1);
    q->prefer.resolution = DBA_RES_MERGE;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"id\") SELECT pgrst_body.\"id\""
                            W_POP("json_populate_record") " ON CONFLICT (\"id\") DO UPDATE SET "
                            "\"id\" = EXCLUDED.\"id\" RETURNING 1" W_MIN_TAIL);
}

Test(sql, upsert_unknown_on_conflict_column)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_OBJECT, "{\"id\":1}", "id", 1);
    q->prefer.resolution = DBA_RES_MERGE;
    q->on_conflict = mk_list("nope", &q->n_on_conflict);
    expect_err(q, ITEMS, 400, "42703", "column items.nope does not exist");
}

Test(sql, insert_headers_only_location)
{
    struct dba_query *q = mk_query(DBA_M_POST);
    struct dba_table *t = mk_table("api", "items", "name:text:pk;year:int:pk;x:text");

    set_body(q, DBA_BODY_OBJECT, "{\"name\":\"a b\",\"year\":1}", "name,year", 1);
    q->prefer.ret = DBA_RET_HEADERS_ONLY;
    cr_assert_eq(build(q, t, 0), DBA_OK);
    cr_expect(strstr(S.text.data, " RETURNING \"items\".*) SELECT NULL::bigint AS total, "
                                  "count(*) AS page_total, '' AS body, (SELECT 'name=eq.' || "
                                  "coalesce((SELECT string_agg(") != NULL, "%s", S.text.data);
    cr_expect(strstr(S.text.data, "convert_to(pgrst_source.\"name\"::text, 'UTF8')") != NULL);
    cr_expect(strstr(S.text.data, "'') || '&year=eq.' || coalesce(") != NULL);
    cr_expect(strstr(S.text.data, "convert_to(pgrst_source.\"year\"::text, 'UTF8')") != NULL);
    cr_expect(strstr(S.text.data, " FROM pgrst_source WHERE (SELECT count(*) FROM pgrst_source) "
                                  "= 1) AS location, NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM pgrst_source _t")
              != NULL);
    expect_params(1, q->body);
}

Test(sql, insert_headers_only_without_pk_has_no_location)
{
    struct dba_query *q = mk_query(DBA_M_POST);
    struct dba_table *t = mk_table("api", "items", "a:text");

    set_body(q, DBA_BODY_OBJECT, "{\"a\":\"x\"}", "a", 1);
    q->prefer.ret = DBA_RET_HEADERS_ONLY;
    expect_sql(q, t, 0, W_HEAD W_INS_ITEMS " (\"a\") SELECT pgrst_body.\"a\""
                        W_POP("json_populate_record") " RETURNING 1" W_MIN_TAIL);
}

Test(sql, insert_singular_aborts_unless_one_row)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_ARRAY, "[{\"id\":1}]", "id", 1);
    q->media = DBA_MEDIA_OBJECT;
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"id\") SELECT pgrst_body.\"id\""
                            W_POP("json_populate_recordset") " RETURNING \"items\".*) "
                            "SELECT NULL::bigint AS total, count(*) AS page_total, CASE WHEN "
                            "count(*) <> 1 THEN ('" DBA_SQL_SINGULAR "' || "
                            "count(*))::integer::text "
                            "ELSE coalesce((json_agg(_t)->0)::text, 'null') END AS body, "
                            "NULL::text "
                            "AS location, NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT pgrst_source.* "
                            "FROM "
                            "pgrst_source) _t");
}

Test(sql, insert_csv_representation)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    set_body(q, DBA_BODY_CSV, "[{\"name\":\"a\"}]", "name", 1);
    q->media = DBA_MEDIA_CSV;
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"name\") SELECT pgrst_body.\"name\""
                            W_POP("json_populate_recordset") " RETURNING \"items\".*) "
                            "SELECT NULL::bigint AS total, count(*) AS page_total, " CSV_BODY
                            " AS body, NULL::text AS location, NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM "
                            "(SELECT pgrst_source.* FROM pgrst_source) _t");
}

Test(sql, insert_without_body_fails)
{
    struct dba_query *q = mk_query(DBA_M_POST);

    expect_err(q, ITEMS, 400, "PGRST102", "Empty or invalid json");
}

#define W_UPD_ITEMS "UPDATE \"api\".\"items\" AS \"items\" SET "

Test(sql, patch_sets_body_keys_only)
{
    struct dba_query *q = mk_query(DBA_M_PATCH);

    add_filter(q, leaf("id", DBA_OP_EQ, "1"));
    set_body(q, DBA_BODY_OBJECT, "{\"name\":\"z\"}", "name", 1);
    expect_sql(q, ITEMS, 0, W_HEAD W_UPD_ITEMS "\"name\" = pgrst_body.\"name\" FROM "
                            "json_populate_record(NULL::\"api\".\"items\", $2::json) AS pgrst_body "
                            "WHERE " COL("id") " = $1 RETURNING 1" W_MIN_TAIL);
    expect_params(2, "1", "{\"name\":\"z\"}");
}

Test(sql, patch_columns_with_missing_default)
{
    struct dba_query *q = mk_query(DBA_M_PATCH);

    /* filtered: an array body without filters is a bulk update by key (issue 15) */
    add_filter(q, leaf("id", DBA_OP_EQ, "1"));
    set_body(q, DBA_BODY_ARRAY, "[{\"name\":\"z\",\"junk\":1}]", "name,junk", 1);
    q->columns = mk_list("name,price", &q->n_columns);
    q->prefer.missing = DBA_MISSING_DEFAULT;
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_sql(q, ITEMS, 0, W_HEAD W_UPD_ITEMS "\"name\" = pgrst_body.\"name\", \"price\" = "
    "DEFAULT "
                            "FROM json_populate_record(NULL::\"api\".\"items\", ($2::json)->0) AS "
                            "pgrst_body WHERE " COL("id") " = $1 RETURNING "
                            "\"items\".*" W_REPR_TAIL("pgrst_source.*"));
}

Test(sql, patch_empty_body_updates_nothing)
{
    struct dba_query *q = mk_query(DBA_M_PATCH);

    add_filter(q, leaf("id", DBA_OP_EQ, "1"));
    set_body(q, DBA_BODY_OBJECT, "{}", "", 1);
    q->prefer.ret = DBA_RET_REPRESENTATION;
    /* The filter's parameter is bound, so the text must use it (issue 8: 08P01 otherwise). */
    expect_sql(q, ITEMS, 0, W_HEAD "SELECT \"items\".*" FROM_ITEMS " WHERE false AND ("
                            COL("id") " = $1)" W_REPR_TAIL("pgrst_source.*"));
    expect_params(1, "1");
}

Test(sql, patch_empty_body_without_filter)
{
    struct dba_query *q = mk_query(DBA_M_PATCH);

    set_body(q, DBA_BODY_OBJECT, "{}", "", 1);
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_sql(q, ITEMS, 0, W_HEAD "SELECT \"items\".*" FROM_ITEMS " WHERE false"
                            W_REPR_TAIL("pgrst_source.*"));
    expect_params(0);
}

Test(sql, patch_unknown_columns_entry)
{
    struct dba_query *q = mk_query(DBA_M_PATCH);

    set_body(q, DBA_BODY_OBJECT, "{\"name\":\"z\"}", "name", 1);
    q->columns = mk_list("helicopter", &q->n_columns);
    expect_err(q, ITEMS, 400, "PGRST204",
               "Could not find the 'helicopter' column of 'items' in the schema cache");
}

Test(sql, patch_max_affected_and_singular)
{
    struct dba_query *q = mk_query(DBA_M_PATCH);

    set_body(q, DBA_BODY_OBJECT, "{\"name\":\"z\"}", "name", 1);
    q->prefer.handling_strict = true;
    q->prefer.max_affected = 10;
    q->media = DBA_MEDIA_OBJECT;
    expect_sql(q, ITEMS, 0, W_HEAD W_UPD_ITEMS "\"name\" = pgrst_body.\"name\" FROM "
                            "json_populate_record(NULL::\"api\".\"items\", $1::json) AS pgrst_body "
                            "RETURNING 1) SELECT NULL::bigint AS total, count(*) AS page_total, "
                            "CASE WHEN count(*) <> 1 THEN ('DBA_SINGULAR:' || count(*))::integer::"
                            "text WHEN count(*) > 10 THEN ('DBA_MAX_AFFECTED:' || "
                            "count(*))::integer"
                            "::text ELSE '' END AS body, NULL::text AS location, NULL::bigint AS "
                            "inserted" DBA_SQL_RESPONSE_GUCS " FROM pgrst_source _t");
}

Test(sql, max_affected_needs_strict_handling)
{
    struct dba_query *q = mk_query(DBA_M_DELETE);

    q->prefer.max_affected = 10;
    expect_sql(q, ITEMS, 0, W_HEAD "DELETE" FROM_ITEMS " RETURNING 1" W_MIN_TAIL);
}

Test(sql, delete_with_filter_and_representation)
{
    struct dba_query *q = mk_query(DBA_M_DELETE);

    add_filter(q, leaf("id", DBA_OP_LT, "5"));
    set_select(q, "myid:id,id::text");
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_sql(q, ITEMS, 0, W_HEAD "DELETE" FROM_ITEMS " WHERE " COL("id") " < $1 RETURNING "
                            "\"items\".*" W_REPR_TAIL("pgrst_source.\"id\" AS \"myid\", "
                            "CAST(pgrst_source.\"id\" AS text) AS \"id\""));
    expect_params(1, "5");
}

Test(sql, delete_max_affected_sentinel)
{
    struct dba_query *q = mk_query(DBA_M_DELETE);

    add_filter(q, leaf("id", DBA_OP_LT, "15"));
    q->prefer.handling_strict = true;
    q->prefer.max_affected = 10;
    q->prefer.count = DBA_COUNT_EXACT;
    expect_sql(q, ITEMS, 0, W_HEAD "DELETE" FROM_ITEMS " WHERE " COL("id") " < $1 RETURNING 1) "
                            "SELECT count(*) AS total, count(*) AS page_total, CASE WHEN count(*) "
                            "> 10 THEN ('DBA_MAX_AFFECTED:' || count(*))::integer::text ELSE '' "
                            "END "
                            "AS body, NULL::text AS location, NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM "
                            "pgrst_source _t");
}

Test(sql, write_unknown_filter_column)
{
    struct dba_query *q = mk_query(DBA_M_DELETE);

    add_filter(q, leaf("nope", DBA_OP_EQ, "1"));
    expect_err(q, ITEMS, 400, "42703", "column items.nope does not exist");
}

/* ---- PUT ---- */

Test(sql, put_upserts_on_primary_key)
{
    struct dba_query *q = mk_query(DBA_M_PUT);

    add_filter(q, leaf("id", DBA_OP_EQ, "7"));
    set_body(q, DBA_BODY_ARRAY, "[{\"id\":7,\"name\":\"x\"}]", "id,name", 1);
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_sql(q, ITEMS, 0, W_HEAD W_INS_ITEMS " (\"id\", \"name\") SELECT pgrst_body.\"id\", "
                            "pgrst_body.\"name\" FROM "
                            "json_populate_record(NULL::\"api\".\"items\", "
                            "($1::json)->0) AS pgrst_body ON CONFLICT (\"id\") DO UPDATE SET "
                            "\"id\" "
                            "= EXCLUDED.\"id\", \"name\" = EXCLUDED.\"name\" RETURNING "
                            "\"items\".*, (\"items\".xmax = 0) AS pgrst_inserted"
                            W_INSERTED_TAIL("pgrst_source.\"id\", pgrst_source.\"name\", "
                                            "pgrst_source.\"price\""));
    expect_params(1, q->body);
}

Test(sql, put_rejects_limit_and_offset)
{
    struct dba_query *q = mk_query(DBA_M_PUT);

    set_body(q, DBA_BODY_OBJECT, "{\"id\":7}", "id", 1);
    q->rel.limit = 1;
    expect_err(q, ITEMS, 400, "PGRST114",
               "limit/offset querystring parameters are not allowed for PUT");
    q->rel.limit = -1;
    q->rel.offset = 2;
    expect_err(q, ITEMS, 400, "PGRST114", NULL);
}

Test(sql, put_filters_must_be_exactly_the_pk)
{
    static const char *msg =
        "Filters must include all and only primary key columns with 'eq' operators";
    struct dba_query *q = mk_query(DBA_M_PUT);
    struct dba_table *nopk = mk_table("api", "items", "a:text;b:text");

    set_body(q, DBA_BODY_OBJECT, "{\"id\":7}", "id", 1);
    expect_err(q, ITEMS, 405, "PGRST105", msg);                 /* no filter */
    add_filter(q, leaf("name", DBA_OP_EQ, "x"));
    expect_err(q, ITEMS, 405, "PGRST105", msg);                 /* non-pk filter */
    q = mk_query(DBA_M_PUT);
    set_body(q, DBA_BODY_OBJECT, "{\"id\":7}", "id", 1);
    add_filter(q, leaf("id", DBA_OP_GTE, "7"));
    expect_err(q, ITEMS, 405, "PGRST105", msg);                 /* not eq */
    q->rel.where.children[0].filter.op = DBA_OP_EQ;
    add_filter(q, leaf("name", DBA_OP_EQ, "x"));
    expect_err(q, ITEMS, 405, "PGRST105", msg);                 /* pk plus extra */
    q = mk_query(DBA_M_PUT);
    set_body(q, DBA_BODY_OBJECT, "{\"a\":\"x\"}", "a", 1);
    add_filter(q, leaf("a", DBA_OP_EQ, "x"));
    expect_err(q, nopk, 405, "PGRST105", msg);                  /* table without pk */
}

Test(sql, put_payload_must_match_url)
{
    static const char *msg = "Payload values do not match URL in primary key column(s)";
    struct dba_query *q = mk_query(DBA_M_PUT);

    add_filter(q, leaf("id", DBA_OP_EQ, "7"));
    set_body(q, DBA_BODY_ARRAY, "[{\"id\":8,\"name\":\"x\"}]", "id,name", 1);
    expect_err(q, ITEMS, 400, "PGRST115", msg);
    set_body(q, DBA_BODY_OBJECT, "{\"name\":\"x\"}", "name", 1);
    expect_err(q, ITEMS, 400, "PGRST115", msg);                 /* pk missing from the body */
    set_body(q, DBA_BODY_OBJECT, "{\"id\":\"7\"}", "id", 1);    /* a string "7" matches */
    cr_expect_eq(build(q, ITEMS, 0), DBA_OK);
}

Test(sql, put_compound_pk_text_values)
{
    struct dba_query *q = mk_query(DBA_M_PUT);
    struct dba_table *t = mk_table("api", "items", "k:text:pk;n:integer:pk;v:text");

    add_filter(q, leaf("n", DBA_OP_EQ, "2"));
    add_filter(q, leaf("k", DBA_OP_EQ, "Java"));
    set_body(q, DBA_BODY_OBJECT, "{\"k\":\"Java\",\"n\":2,\"v\":\"x\"}", "k,n,v", 1);
    expect_sql(q, t, 0, W_HEAD W_INS_ITEMS " (\"k\", \"n\", \"v\") SELECT pgrst_body.\"k\", "
                        "pgrst_body.\"n\", pgrst_body.\"v\"" W_POP("json_populate_record")
                        " ON CONFLICT (\"k\", \"n\") DO UPDATE SET \"k\" = EXCLUDED.\"k\", \"n\" = "
                        "EXCLUDED.\"n\", \"v\" = EXCLUDED.\"v\" RETURNING (\"items\".xmax "
                        "= 0) AS pgrst_inserted) SELECT NULL::bigint AS total, count(*) AS "
                        "page_total, '' AS body, NULL::text AS location, (SELECT count(*) FROM "
                        "pgrst_source WHERE pgrst_inserted) AS inserted, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM pgrst_source _t");
    dba_buf_cleanup(&S.text);
    set_body(q, DBA_BODY_OBJECT, "{\"k\":\"java\",\"n\":2}", "k,n", 1);
    expect_err(q, t, 400, "PGRST115", NULL);
}

/* ---- misc ---- */

Test(sql, options_is_not_a_statement)
{
    struct dba_query *q = mk_query(DBA_M_OPTIONS);

    expect_err(q, ITEMS, 405, "PGRST117", NULL);
}

Test(sql, cleanup_callback_releases_text)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_sql *s = dba_arena_alloc(A, sizeof(*s));
    struct dba_arena *a = dba_arena_new();

    cr_assert_eq(dba_query_sql_build(q, ITEMS, 0, a, s, &E), DBA_OK);
    dba_arena_defer(a, dba_query_sql_cleanup_cb, s);
    dba_arena_free(a);
    cr_expect_null(s->text.data);
}

/* Arrays of SQL_BULK_ROWS (64) rows or more are inserted column-wise through unnest(): one text[]
   parameter per column holding each value as written (json columns: JSON text; array columns:
   a PostgreSQL array literal; missing keys: NULL). */
Test(sql, bulk_insert_is_column_wise)
{
    struct dba_query *q = mk_query(DBA_M_POST);
    struct dba_buf b;
    static const char *keys[] = { "id", "js", "arr", "body" };

    q->table = "docs";
    dba_buf_init(&b);
    dba_buf_putc(&b, '[');
    for (int i = 0; i < 64; i++)
        dba_buf_printf(&b, "%s{\"id\":%d,\"js\":{\"a\":[1,\"x\"]},\"arr\":[1,null,3],"
                           "\"body\":\"q\\\"\\u00e9\"}", i ? "," : "", i);
    dba_buf_puts(&b, ",{\"id\":64}]");
    q->body = dba_arena_strdup(A, b.data);
    q->body_len = b.len;
    dba_buf_cleanup(&b);
    q->body_kind = DBA_BODY_ARRAY;
    q->n_body_rows = 65;
    q->columns = keys;
    q->n_columns = 4;
    q->body_keys = keys;
    q->n_body_keys = 4;
    cr_assert_eq(dba_query_sql_build(q, DOCS, 0, A, &S, &E), DBA_OK, "%s", E.msg);
    cr_expect(strstr(S.text.data, "INSERT INTO \"api\".\"docs\" AS \"docs\" (\"id\", \"js\", \"arr\", \"body\") "
                                  "SELECT unnest($1::text[])::integer, unnest($2::text[])::json, "
                                  "unnest($3::text[])::integer[], unnest($4::text[])::text "
                                  "ON CONFLICT") == NULL &&
              strstr(S.text.data, "SELECT unnest($1::text[])::integer, unnest($2::text[])::json, "
                                  "unnest($3::text[])::integer[], unnest($4::text[])::text") != NULL,
              "%s", S.text.data);
    cr_assert_eq(S.n_params, 4);
    cr_expect(strncmp(S.params[0], "{\"0\",\"1\",", strlen("{\"0\",\"1\",")) == 0, "%s", S.params[0]);
    cr_expect(strstr(S.params[0], ",\"64\"}") != NULL);
    cr_expect(strncmp(S.params[1], "{\"{\\\"a\\\":[1,\\\"x\\\"]}\",", strlen("{\"{\\\"a\\\":[1,\\\"x\\\"]}\",")) == 0, "%s", S.params[1]);
    cr_expect(strncmp(S.params[2], "{\"{\\\"1\\\",NULL,\\\"3\\\"}\",", strlen("{\"{\\\"1\\\",NULL,\\\"3\\\"}\",")) == 0, "%s", S.params[2]);
    cr_expect(strncmp(S.params[3], "{\"q\\\"\xc3\xa9\",", strlen("{\"q\\\"\xc3\xa9\",")) == 0, "%s", S.params[3]);
    cr_expect(strstr(S.params[1], ",NULL}") != NULL, "missing key is NULL: %s", S.params[1]);
}

/* ---- the query tree: nested scopes with hand-built child nodes ---- */

/* api.reviews(id pk, item_id, author_id, stars, note jsonb) and api.authors(id pk, name). */
static struct dba_table *
reviews_table(void)
{
    return mk_table("api", "reviews", "id:integer:pk;item_id:integer;author_id:integer;"
                                      "stars:integer;note:jsonb");
}

static struct dba_table *
authors_table(void)
{
    return mk_table("api", "authors", "id:integer:pk;name:text");
}

/* A child node on t joined by child_col = parent_col, with select items from spec (as
   set_select), no filters, no limit. */
static struct dba_rel *
mk_child(const struct dba_table *t, const char *alias, const char *child_col,
         const char *parent_col, const char *spec)
{
    struct dba_query tmp = { 0 };
    struct dba_rel *r = dba_arena_alloc(A, sizeof(*r));
    const char **cc = dba_arena_alloc(A, sizeof(*cc)), **pc = dba_arena_alloc(A, sizeof(*pc));

    set_select(&tmp, spec);
    *r = tmp.rel;
    r->schema = t->schema;
    r->name = t->name;
    r->alias = alias;
    r->table = t;
    cc[0] = child_col;
    pc[0] = parent_col;
    r->child_cols = cc;
    r->parent_cols = pc;
    r->n_join = 1;
    r->where.kind = DBA_L_AND;
    r->limit = -1;
    return r;
}

/* Appends a child item to a node's select list (set_select leaves room for 16 items). */
static void
add_child(struct dba_rel *parent, struct dba_rel *child)
{
    struct dba_select_item *it = &parent->select[parent->n_select++];

    it->kind = DBA_ITEM_CHILD;
    it->child = child;
}

#define LAT_LEFT(a) " LEFT JOIN LATERAL (SELECT json_agg(\"" a "\") AS pgrst_agg FROM ("
#define LAT_END(a) ") AS \"" a "\") AS \"" a "\" ON TRUE"

Test(sql, tree_child_is_a_correlated_lateral_subquery)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_table *rev = reviews_table();

    set_select(q, "id");
    add_child(&q->rel, mk_child(rev, NULL, "item_id", "id", "stars"));
    expect_sql(q, ITEMS, 0,
               READ(COL("id") ", coalesce(\"reviews_1\".pgrst_agg, '[]') AS \"reviews\""
                    FROM_ITEMS LAT_LEFT("reviews_1")
                    "SELECT \"reviews_1\".\"stars\" FROM \"api\".\"reviews\" AS \"reviews_1\" "
                    "WHERE \"reviews_1\".\"item_id\" = \"items\".\"id\"" LAT_END("reviews_1")));
    expect_params(0);
}

/* Filters, order and limit/offset inside the child stay in the child's scope; parameters are
   numbered across scopes in the order they are bound (the root's filters first, shared with the
   count; then the select list, a child's filters before its own select list). */
Test(sql, tree_child_filters_order_limit_and_param_numbering)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_table *rev = reviews_table();
    struct dba_rel *r = mk_child(rev, "top", "item_id", "id", "stars,note->>by");

    set_select(q, "id,name");
    add_filter(q, leaf("price", DBA_OP_GT, "10"));
    add_logic(&r->where, leaf("stars", DBA_OP_GTE, "3"));
    add_logic(&r->where, leaf("note->>lang", DBA_OP_EQ, "en"));
    r->order = dba_arena_alloc(A, sizeof(*r->order));
    r->order[0].field = mk_field("stars");
    r->order[0].desc = true;
    r->n_order = 1;
    r->limit = 2;
    r->offset = 1;
    r->join = DBA_JOIN_INNER;
    add_child(&q->rel, r);
    q->prefer.count = DBA_COUNT_EXACT;
    expect_sql(q, ITEMS, 0,
               "WITH pgrst_source AS (SELECT " COL("id") ", " COL("name") ", "
               "coalesce(\"reviews_1\".pgrst_agg, '[]') AS \"top\"" FROM_ITEMS
               " INNER JOIN LATERAL (SELECT json_agg(\"reviews_1\") AS pgrst_agg FROM ("
               "SELECT \"reviews_1\".\"stars\", \"reviews_1\".\"note\"->>$5::text AS \"by\" "
               "FROM \"api\".\"reviews\" AS \"reviews_1\" "
               "WHERE \"reviews_1\".\"item_id\" = \"items\".\"id\" AND (\"reviews_1\".\"stars\" "
               ">= $2 AND \"reviews_1\".\"note\"->>$3::text = $4) "
               "ORDER BY \"reviews_1\".\"stars\" DESC LIMIT 2 OFFSET 1) AS \"reviews_1\") "
               "AS \"reviews_1\" ON \"reviews_1\".pgrst_agg IS NOT NULL"
               " WHERE " COL("price") " > $1) SELECT (SELECT count(*)" FROM_ITEMS " WHERE "
               COL("price") " > $1 AND EXISTS (SELECT 1 FROM \"api\".\"reviews\" AS "
               "\"reviews_2\" WHERE \"reviews_2\".\"item_id\" = \"items\".\"id\" AND "
               "(\"reviews_2\".\"stars\" >= $6 AND \"reviews_2\".\"note\"->>$7::text = $8) "
               "LIMIT 2 OFFSET 1)) AS total, count(*) AS page_total, "
               "coalesce(json_agg(_t), '[]')::text AS body, NULL::text AS location, "
               "NULL::bigint AS inserted, nullif(current_setting('response.headers', true), '') "
               "AS response_headers, nullif(current_setting('response.status', true), '') AS "
               "response_status FROM pgrst_source _t");
    expect_params(8, "10", "3", "lang", "en", "by", "3", "lang", "en");
}

/* Two levels: the grandchild correlates with the child's alias, not the root's; every relation
   gets its own alias even when a name repeats. */
Test(sql, tree_two_levels_deep_and_to_one)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_table *rev = reviews_table(), *aut = authors_table();
    struct dba_rel *r = mk_child(rev, NULL, "item_id", "id", "stars");
    struct dba_rel *au = mk_child(aut, "author", "id", "author_id", "name");
    struct dba_rel *r2 = mk_child(rev, "again", "item_id", "id", "id");

    au->to_one = true;
    add_logic(&au->where, leaf("name", DBA_OP_LIKE, "A%"));
    add_child(r, au);
    set_select(q, "id");
    add_child(&q->rel, r);
    add_child(&q->rel, r2);
    expect_sql(q, ITEMS, 0,
               READ(COL("id") ", coalesce(\"reviews_1\".pgrst_agg, '[]') AS \"reviews\", "
                    "coalesce(\"reviews_3\".pgrst_agg, '[]') AS \"again\"" FROM_ITEMS
                    LAT_LEFT("reviews_1")
                    "SELECT \"reviews_1\".\"stars\", \"authors_2\".pgrst_agg AS \"author\" "
                    "FROM \"api\".\"reviews\" AS \"reviews_1\" LEFT JOIN LATERAL (SELECT "
                    "row_to_json(\"authors_2\") AS pgrst_agg FROM (SELECT \"authors_2\".\"name\" "
                    "FROM \"api\".\"authors\" AS \"authors_2\" WHERE \"authors_2\".\"id\" = "
                    "\"reviews_1\".\"author_id\" AND (\"authors_2\".\"name\" LIKE $1))"
                    " AS \"authors_2\") AS \"authors_2\" ON TRUE"
                    " WHERE \"reviews_1\".\"item_id\" = \"items\".\"id\"" LAT_END("reviews_1")
                    LAT_LEFT("reviews_3")
                    "SELECT \"reviews_3\".\"id\" FROM \"api\".\"reviews\" AS \"reviews_3\" "
                    "WHERE \"reviews_3\".\"item_id\" = \"items\".\"id\"" LAT_END("reviews_3")));
    expect_params(1, "A%");
}

/* The prepared-statement property holds through the scopes: other values, same text. */
Test(sql, tree_text_does_not_vary_with_values)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_rel *r = mk_child(reviews_table(), NULL, "item_id", "id", "*");
    char *first;

    add_logic(&r->where, leaf("stars", DBA_OP_EQ, "1"));
    add_logic(&r->where, in_leaf("id", false, "1", "2", NULL));
    set_select(q, "*");
    add_child(&q->rel, r);
    add_filter(q, leaf("name", DBA_OP_EQ, "a"));
    cr_assert_eq(build(q, ITEMS, 0), DBA_OK, "%s", E.msg);
    first = dba_arena_strdup(A, S.text.data);
    dba_buf_cleanup(&S.text);
    r->where.children[0].filter.value = "5";
    r->where.children[1].filter.list[1] = "9";
    r->where.children[1].filter.list[2] = "10";
    r->where.children[1].filter.n_list = 3;
    q->rel.where.children[0].filter.value = "zzz";
    cr_assert_eq(build(q, ITEMS, 0), DBA_OK, "%s", E.msg);
    cr_expect_str_eq(S.text.data, first);
    expect_params(3, "zzz", "5", "{\"1\",\"9\",\"10\"}");
}

Test(sql, tree_child_errors)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_rel *r = mk_child(reviews_table(), NULL, "item_id", "id", "stars");

    set_select(q, "id");
    add_child(&q->rel, r);
    r->table = NULL; /* not resolved: relationships come with embedding */
    expect_err(q, ITEMS, 400, "PGRST200",
               "Could not find a relationship between 'items' and 'reviews' in the schema cache");
    dba_err_clear(&E);
    r->table = reviews_table();
    r->parent_cols[0] = "nope";
    expect_err(q, ITEMS, 400, "42703", "column items.nope does not exist");
    dba_err_clear(&E);
    r->parent_cols[0] = "id";
    r->child_cols[0] = "nope";
    expect_err(q, ITEMS, 400, "42703", "column reviews.nope does not exist");
}

Test(sql, tree_nesting_is_bounded)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_table *rev = reviews_table();
    struct dba_rel *parent = &q->rel;

    set_select(q, "id");
    for (int i = 0; i < 20; i++) {
        struct dba_rel *r = mk_child(rev, NULL, "id", "id", "id");

        add_child(parent, r);
        parent = r;
    }
    q->rel.select[0].field.name = "id";
    expect_err(q, ITEMS, 400, "PGRST100", NULL);
}

Test(sql, tree_call_node_is_not_supported_yet)
{
    struct dba_query *q = mk_query(DBA_M_POST);
    struct dba_call call = { .schema = "api", .name = "fn" };

    q->call = &call;
    cr_expect_eq(dba_query_kind(q), DBA_NODE_CALL);
    expect_err(q, ITEMS, 400, "PGRST127", "Feature not implemented");
    q->call = NULL;
    cr_expect_eq(dba_query_kind(q), DBA_NODE_WRITE);
    q->method = DBA_M_HEAD;
    cr_expect_eq(dba_query_kind(q), DBA_NODE_READ);
}

/* ---- aggregates in the tree (the grammar still answers PGRST123 for them) ---- */

static struct dba_select_item *
add_agg(struct dba_rel *r, enum dba_agg fn, const char *col, const char *alias,
        const char *cast, const char *agg_cast)
{
    struct dba_select_item *it = &r->select[r->n_select++];

    it->kind = DBA_ITEM_AGG;
    it->agg = fn;
    it->alias = alias;
    it->cast = cast;
    it->agg_cast = agg_cast;
    if (col)
        it->field = mk_field(col);
    return it;
}

Test(sql, tree_aggregates_group_by_the_other_items)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "name");
    add_agg(&q->rel, DBA_AGG_COUNT, NULL, NULL, NULL, NULL);
    add_agg(&q->rel, DBA_AGG_SUM, "price", "total", NULL, "int");
    add_agg(&q->rel, DBA_AGG_MAX, "id", NULL, "text", NULL);
    add_order(q, "name", false, DBA_NULLS_DEFAULT);
    expect_sql(q, ITEMS, 0, READ(COL("name") ", count(*) AS \"count\", CAST(sum(" COL("price")
                                 ") AS int) AS \"total\", max(CAST(" COL("id") " AS text)) AS "
                                 "\"max\"" FROM_ITEMS " GROUP BY 1 ORDER BY " COL("name")
                                 " ASC"));
}

Test(sql, tree_aggregate_alone_and_errors)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    q->rel.select = dba_arena_alloc(A, 4 * sizeof(*q->rel.select));
    add_agg(&q->rel, DBA_AGG_AVG, "price", "mean", NULL, NULL);
    expect_sql(q, ITEMS, 0, READ("avg(" COL("price") ") AS \"mean\"" FROM_ITEMS));
    dba_buf_cleanup(&S.text);
    q->rel.select[0].agg = DBA_AGG_MIN;
    q->rel.select[0].field.name = NULL;
    expect_err(q, ITEMS, 400, "PGRST100", "invalid aggregate: min() needs a column");
    dba_err_clear(&E);
    q->rel.select[0].field.name = "price";
    q->rel.select[0].agg_cast = "int; drop";
    expect_err(q, ITEMS, 400, "PGRST100", NULL);
    dba_err_clear(&E);
    q->rel.select[0].agg_cast = NULL;
    q->rel.select[q->rel.n_select++].kind = DBA_ITEM_STAR;
    /* with '*', every column is a group */
    expect_sql(q, ITEMS, 0, READ("min(" COL("price") ") AS \"mean\", " COL("id") ", " COL("name")
                                 ", " COL("price") FROM_ITEMS " GROUP BY 2, 3, 4"));
}

/* Generated aliases stay unique under PostgreSQL's 63-byte identifier limit: a long name is cut
   to 48 bytes, backing off to a character boundary (here the 2-byte e-acute at bytes 47-48). */
Test(sql, tree_child_alias_of_a_long_name_keeps_its_counter)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    char name[64], want[64];
    struct dba_table *t;

    memset(name, 'a', 47);
    memcpy(name + 47, "\xc3\xa9zzzzzz", 9);
    t = mk_table("api", name, "id:integer:pk;item_id:integer");
    set_select(q, "id");
    add_child(&q->rel, mk_child(t, "a", "item_id", "id", "id"));
    add_child(&q->rel, mk_child(t, "b", "item_id", "id", "id"));
    cr_assert_eq(build(q, ITEMS, 0), DBA_OK, "%s", E.msg);
    for (int i = 1; i <= 2; i++) {
        snprintf(want, sizeof(want), " AS \"%.47s_%d\" ON TRUE", name, i);
        cr_expect(strstr(S.text.data, want) != NULL, "%s in %s", want, S.text.data);
    }
}

/* ---- resolved trees: relationships from the catalog (hand-filled here) ---- */

/* api.tags(id pk, label) and the junction api.item_tags(item_id, tag_id). */
static struct dba_relationship *
m2m_items_tags(void)
{
    struct dba_relationship *r = dba_arena_alloc(A, sizeof(*r));
    static const char *cols[] = { "id" }, *jcols[] = { "item_id" }, *tcols[] = { "id" },
                      *jtcols[] = { "tag_id" };

    r->table = ITEMS;
    r->target = mk_table("api", "tags", "id:integer:pk;label:text");
    r->card = DBA_CARD_M2M;
    r->cols = cols;
    r->n_cols = 1;
    r->target_cols = tcols;
    r->n_target_cols = 1;
    r->junction = mk_table("api", "item_tags", "item_id:integer;tag_id:integer");
    r->junction_cols = jcols;
    r->junction_target_cols = jtcols;
    return r;
}

/* A child over a resolved relationship only (no join columns on the node). */
static struct dba_rel *
mk_rs_child(const struct dba_relationship *rs, const char *spec)
{
    struct dba_query tmp = { 0 };
    struct dba_rel *r = dba_arena_alloc(A, sizeof(*r));

    set_select(&tmp, spec);
    *r = tmp.rel;
    r->name = rs->target->name;
    r->table = rs->target;
    r->relationship = rs;
    r->where.kind = DBA_L_AND;
    r->limit = -1;
    return r;
}

/* The parent's key column is taken from the relationship; the junction is joined inside the
   child's subquery and correlated with the parent. */
Test(sql, tree_many_to_many_through_the_junction)
{
    struct dba_query *q = mk_query(DBA_M_GET);

    set_select(q, "id");
    add_child(&q->rel, mk_rs_child(m2m_items_tags(), "label"));
    expect_sql(q, ITEMS, 0,
               READ(COL("id") ", coalesce(\"tags_1\".pgrst_agg, '[]') AS \"tags\"" FROM_ITEMS
                    LAT_LEFT("tags_1")
                    "SELECT \"tags_1\".\"label\" FROM \"api\".\"tags\" AS \"tags_1\" INNER JOIN "
                    "\"api\".\"item_tags\" AS \"item_tags_2\" ON \"item_tags_2\".\"tag_id\" = "
                    "\"tags_1\".\"id\" WHERE \"item_tags_2\".\"item_id\" = \"items\".\"id\""
                    LAT_END("tags_1")));
}

/* rel!inner() is an EXISTS test of the parent (no lateral, no output key); rel=is.null a NOT
   EXISTS; the count repeats the same condition with the same parameters. */
Test(sql, tree_filter_only_inner_and_null_filter_are_exists)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_rel *r = mk_child(reviews_table(), NULL, "item_id", "id", "");
    struct dba_rel *a = mk_child(authors_table(), NULL, "id", "id", "");
    struct dba_logic l = leaf("authors", DBA_OP_IS, NULL);

    r->filter_only = true;
    r->join = DBA_JOIN_INNER;
    add_logic(&r->where, leaf("stars", DBA_OP_EQ, "5"));
    a->filter_only = true;
    set_select(q, "id");
    add_child(&q->rel, r);
    add_child(&q->rel, a);
    l.filter.embed = a;
    l.filter.is_value = DBA_IS_NULL;
    add_filter(q, l);
    q->prefer.count = DBA_COUNT_EXACT;
    cr_assert_eq(build(q, ITEMS, 0), DBA_OK, "%s", E.msg);
    cr_expect_str_eq(S.text.data,
        "WITH pgrst_source AS (SELECT " COL("id") FROM_ITEMS " WHERE NOT EXISTS (SELECT 1 FROM "
        "\"api\".\"authors\" AS \"authors_1\" WHERE \"authors_1\".\"id\" = \"items\".\"id\") AND "
        "EXISTS (SELECT 1 FROM \"api\".\"reviews\" AS \"reviews_2\" WHERE \"reviews_2\".\"item_id\""
        " = \"items\".\"id\" AND (\"reviews_2\".\"stars\" = $1))) SELECT (SELECT count(*)"
        FROM_ITEMS " WHERE NOT EXISTS (SELECT 1 FROM \"api\".\"authors\" AS \"authors_1\" WHERE "
        "\"authors_1\".\"id\" = \"items\".\"id\") AND EXISTS (SELECT 1 FROM \"api\".\"reviews\" AS "
        "\"reviews_2\" WHERE \"reviews_2\".\"item_id\" = \"items\".\"id\" AND (\"reviews_2\"."
        "\"stars\" = $1))) AS total, count(*) AS page_total, coalesce(json_agg(_t), '[]')::text "
        "AS body, NULL::text AS location, NULL::bigint AS inserted, nullif(current_setting("
        "'response.headers', true), '') AS response_headers, nullif(current_setting("
        "'response.status', true), '') AS response_status FROM pgrst_source _t");
    expect_params(1, "5");
    /* only is null / not is null on an embed */
    q->rel.where.children[0].filter.is_value = DBA_IS_TRUE;
    dba_buf_cleanup(&S.text);
    memset(&S, 0, sizeof(S));
    expect_err(q, ITEMS, 400, "PGRST120", NULL);
}

/* Spread: a to-one child's columns are the parent's (the lateral is the child's rows); a to-many
   child gives one json_agg per column. */
Test(sql, tree_spread_to_one_and_to_many)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_rel *au = mk_child(authors_table(), NULL, "id", "id", "who:name");
    struct dba_rel *rv = mk_child(reviews_table(), NULL, "item_id", "id", "stars");

    au->to_one = true;
    au->spread = true;
    rv->spread = true;
    rv->join = DBA_JOIN_INNER;
    set_select(q, "id");
    add_child(&q->rel, au);
    add_child(&q->rel, rv);
    expect_sql(q, ITEMS, 0,
               READ(COL("id") ", \"authors_1\".\"who\", coalesce(\"reviews_2\".\"stars\", '[]') AS "
                    "\"stars\"" FROM_ITEMS " LEFT JOIN LATERAL (SELECT \"authors_1\".\"name\" AS "
                    "\"who\" FROM \"api\".\"authors\" AS \"authors_1\" WHERE \"authors_1\".\"id\" = "
                    "\"items\".\"id\") AS \"authors_1\" ON TRUE INNER JOIN LATERAL (SELECT json_agg("
                    "\"reviews_2\".\"stars\") AS \"stars\" FROM (SELECT \"reviews_2\".\"stars\" FROM "
                    "\"api\".\"reviews\" AS \"reviews_2\" WHERE \"reviews_2\".\"item_id\" = "
                    "\"items\".\"id\") AS \"reviews_2\" HAVING count(*) > 0) AS \"reviews_2\" ON "
                    "TRUE"));
}

/* order=author(name): the to-one child's column in the parent's ORDER BY; to-many: PGRST118;
   not embedded: PGRST108. */
Test(sql, tree_related_order)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_rel *au = mk_child(authors_table(), "author", "id", "id", "name");

    au->to_one = true;
    set_select(q, "id");
    add_child(&q->rel, au);
    add_order(q, "name", true, DBA_NULLS_LAST);
    q->rel.order[0].rel = "author";
    expect_sql(q, ITEMS, 0,
               READ(COL("id") ", \"authors_1\".pgrst_agg AS \"author\"" FROM_ITEMS
                    " LEFT JOIN LATERAL (SELECT row_to_json(\"authors_1\") AS pgrst_agg FROM ("
                    "SELECT \"authors_1\".\"name\" FROM \"api\".\"authors\" AS \"authors_1\" WHERE "
                    "\"authors_1\".\"id\" = \"items\".\"id\") AS \"authors_1\") AS \"authors_1\" ON "
                    "TRUE ORDER BY (SELECT \"authors_2\".\"name\" FROM \"api\".\"authors\" AS "
                    "\"authors_2\" WHERE \"authors_2\".\"id\" = \"items\".\"id\" LIMIT 1) DESC "
                    "NULLS LAST"));
    dba_buf_cleanup(&S.text);
    memset(&S, 0, sizeof(S));
    au->to_one = false;
    expect_err(q, ITEMS, 400, "PGRST118", "A related order on 'author' is not possible");
    cr_expect_str_eq(E.detail, "'items' and 'authors' do not form a many-to-one or one-to-one "
                               "relationship");
    dba_err_clear(&E);
    q->rel.order[0].rel = "nope";
    expect_err(q, ITEMS, 400, "PGRST108", "'nope' is not an embedded resource in this request");
}

/* With aggregates, an embed is a group too: JSON has no equality, so it is grouped by its text. */
Test(sql, tree_aggregate_next_to_an_embed)
{
    struct dba_query *q = mk_query(DBA_M_GET);
    struct dba_rel *au = mk_child(authors_table(), NULL, "id", "id", "name");

    au->to_one = true;
    q->rel.select = dba_arena_alloc(A, 4 * sizeof(*q->rel.select));
    add_child(&q->rel, au);
    add_agg(&q->rel, DBA_AGG_COUNT, NULL, NULL, NULL, NULL);
    expect_sql(q, ITEMS, 0,
               READ("\"authors_1\".pgrst_agg::text::json AS \"authors\", count(*) AS \"count\""
                    FROM_ITEMS " LEFT JOIN LATERAL (SELECT row_to_json(\"authors_1\") AS pgrst_agg "
                    "FROM (SELECT \"authors_1\".\"name\" FROM \"api\".\"authors\" AS \"authors_1\" "
                    "WHERE \"authors_1\".\"id\" = \"items\".\"id\") AS \"authors_1\") AS "
                    "\"authors_1\" ON TRUE GROUP BY \"authors_1\".pgrst_agg::text"));
}

/* return=representation: the RETURNING rows are the root scope the embed correlates with. */
Test(sql, tree_embed_in_a_write_representation)
{
    struct dba_query *q = mk_query(DBA_M_DELETE);

    set_select(q, "id");
    add_child(&q->rel, mk_child(reviews_table(), NULL, "item_id", "id", "stars"));
    q->prefer.ret = DBA_RET_REPRESENTATION;
    cr_assert_eq(build(q, ITEMS, 0), DBA_OK, "%s", E.msg);
    cr_expect(strstr(S.text.data,
                     "FROM (SELECT pgrst_source.\"id\", coalesce(\"reviews_1\".pgrst_agg, '[]') AS "
                     "\"reviews\" FROM pgrst_source LEFT JOIN LATERAL (SELECT json_agg("
                     "\"reviews_1\") AS pgrst_agg FROM (SELECT \"reviews_1\".\"stars\" FROM "
                     "\"api\".\"reviews\" AS \"reviews_1\" WHERE \"reviews_1\".\"item_id\" = "
                     "pgrst_source.\"id\") AS \"reviews_1\") AS \"reviews_1\" ON TRUE) _t") != NULL,
              "%s", S.text.data);
}
