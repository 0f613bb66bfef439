/* test_embed.c - resource embedding and aggregates on real PostgreSQL (fixture
   tests/fixtures/embed.sql: one-to-many, many-to-one, one-to-one, many-to-many through a junction,
   a self-reference, two foreign keys between the same tables, a view).
   Suite embed_sql: hand-built resolved query trees (relationships filled in by hand over the
   loaded catalog) go through the SQL builder; the statement runs on the server and its body is
   compared with what PostgreSQL computes directly from hand-written SQL (values AND key order).
   Suites embed_http / embed_http_agg: the same through the in-process gateway over HTTP. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "core/core.h"
#include "db/db.h"
#include "harness.h"
#include "query/query.h"

static struct dba_arena *A;
static struct dba_catalog *CAT;
static struct pg_conn *PG;

/* Runs sql (a file's text or statements) on the test database as postgres. */
static void
load_fixture(void)
{
    dbat_fixture("embed.sql");
}

static void
setup(void)
{
    const char *url = getenv("DBA_TEST_DATABASE_URL");
    const char *schemas[] = { "embed" };
    struct dba_err err;

    cr_assert(url != NULL);
    load_fixture();
    A = dba_arena_new();
    PG = dba_db_connect_blocking(url, 10, &err);
    cr_assert(PG != NULL, "%s", err.msg);
    CAT = dba_catalog_load(PG, schemas, 1, &err);
    cr_assert(CAT != NULL, "%s", err.msg);
}

static void
teardown(void)
{
    dba_catalog_unref(CAT);
    dba_db_close(PG);
    dba_arena_free(A);
}

TestSuite(embed_sql, .init = setup, .fini = teardown);

/* ---- building trees ---- */

static const struct dba_table *
T(const char *name)
{
    const struct dba_table *t = dba_catalog_table_find(CAT, "embed", name);

    cr_assert_not_null(t, "embed.%s", name);
    return t;
}

static const char **
strs(const char *csv)
{
    const char **v = dba_arena_alloc(A, 8 * sizeof(*v));
    char *s = dba_arena_strdup(A, csv), *save = NULL;
    size_t n = 0;

    for (char *e = strtok_r(s, ",", &save); e; e = strtok_r(NULL, ",", &save))
        v[n++] = e;
    return v;
}

static size_t
count_csv(const char *csv)
{
    size_t n = 1;

    for (const char *p = csv; *p; p++)
        n += *p == ',';
    return n;
}

/* A relationship from `from` to `to`: from.cols[i] = to.tcols[i] (comma-separated lists). */
static struct dba_relationship *
rs(enum dba_card card, const char *from, const char *to, const char *cols, const char *tcols)
{
    struct dba_relationship *r = dba_arena_alloc(A, sizeof(*r));

    r->table = T(from);
    r->target = T(to);
    r->card = card;
    r->self = r->table == r->target;
    r->cols = strs(cols);
    r->target_cols = strs(tcols);
    r->n_cols = count_csv(cols);
    return r;
}

/* Many-to-many from `from` to `to` through junction j: j.jcols = from.cols, j.jtcols = to.tcols. */
static struct dba_relationship *
rs_m2m(const char *from, const char *to, const char *j, const char *cols, const char *jcols,
       const char *tcols, const char *jtcols)
{
    struct dba_relationship *r = rs(DBA_CARD_M2M, from, to, cols, tcols);

    r->junction = T(j);
    r->junction_cols = strs(jcols);
    r->junction_target_cols = strs(jtcols);
    r->n_target_cols = count_csv(tcols);
    return r;
}

/* Select items from "a,alias:b,*" (columns and stars); room for 16 items. */
static void
set_items(struct dba_rel *r, const char *spec)
{
    char *s = dba_arena_strdup(A, spec), *save = NULL;

    r->select = dba_arena_alloc(A, 16 * sizeof(*r->select));
    r->n_select = 0;
    if (!*spec)
        return;
    for (char *e = strtok_r(s, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        struct dba_select_item *it = &r->select[r->n_select++];
        char *colon = strchr(e, ':');

        if (strcmp(e, "*") == 0) {
            it->kind = DBA_ITEM_STAR;
            continue;
        }
        it->kind = DBA_ITEM_COLUMN;
        if (colon) {
            *colon = '\0';
            it->alias = e;
            e = colon + 1;
        }
        it->field.name = e;
    }
}

/* A child node over relationship r (its target), with output key alias (or NULL). */
static struct dba_rel *
child(struct dba_rel *parent, const struct dba_relationship *r, const char *alias,
      const char *items)
{
    struct dba_rel *c = dba_arena_alloc(A, sizeof(*c));
    struct dba_select_item *it = &parent->select[parent->n_select++];

    c->schema = "embed";
    c->name = r->target->name;
    c->alias = alias;
    c->table = r->target;
    c->relationship = r;
    c->to_one = r->card == DBA_CARD_M2O || r->card == DBA_CARD_O2O;
    c->where.kind = DBA_L_AND;
    c->limit = -1;
    set_items(c, items);
    it->kind = DBA_ITEM_CHILD;
    it->child = c;
    return c;
}

static struct dba_query *
query(enum dba_method m, const char *table, const char *items)
{
    struct dba_query *q = dba_arena_alloc(A, sizeof(*q));

    q->method = m;
    q->schema = "embed";
    q->table = table;
    q->rel.where.kind = DBA_L_AND;
    q->rel.limit = -1;
    q->range_from = -1;
    q->range_to = -1;
    q->prefer.max_affected = -1;
    q->media = DBA_MEDIA_JSON;
    set_items(&q->rel, items);
    return q;
}

static struct dba_logic *
add_leaf(struct dba_logic *parent, const char *col, enum dba_op op, const char *value)
{
    struct dba_logic *k = dba_arena_alloc(A, (parent->n_children + 1) * sizeof(*k));
    struct dba_logic *l;

    if (parent->n_children)
        memcpy(k, parent->children, parent->n_children * sizeof(*k));
    parent->children = k;
    l = &k[parent->n_children++];
    l->kind = DBA_L_FILTER;
    l->filter.field.name = col;
    l->filter.op = op;
    l->filter.value = value;
    return l;
}

/* `rel=is.null` / `rel=not.is.null` on child c of the node whose filters are parent. */
static struct dba_logic *
add_embed_null(struct dba_logic *parent, const struct dba_rel *c, bool is_null)
{
    struct dba_logic *l = add_leaf(parent, c->alias ? c->alias : c->name, DBA_OP_IS, NULL);

    l->filter.is_value = is_null ? DBA_IS_NULL : DBA_IS_NOT_NULL;
    l->filter.embed = c;
    return l;
}

static struct dba_logic *
add_or(struct dba_logic *parent)
{
    struct dba_logic *l = add_leaf(parent, NULL, DBA_OP_EQ, NULL);

    l->kind = DBA_L_OR;
    return l;
}

static void
add_order(struct dba_rel *r, const char *rel, const char *col, bool desc, enum dba_nulls nulls)
{
    struct dba_order_item *o = dba_arena_alloc(A, (r->n_order + 1) * sizeof(*o));

    if (r->n_order)
        memcpy(o, r->order, r->n_order * sizeof(*o));
    r->order = o;
    o = &o[r->n_order++];
    o->rel = rel;
    o->field.name = col;
    o->desc = desc;
    o->nulls = nulls;
}

static struct dba_select_item *
add_agg(struct dba_rel *r, enum dba_agg fn, const char *col, const char *alias, const char *cast)
{
    struct dba_select_item *it = &r->select[r->n_select++];

    it->kind = DBA_ITEM_AGG;
    it->agg = fn;
    it->field.name = col;
    it->alias = alias;
    it->agg_cast = cast;
    return it;
}

/* ---- running and comparing ---- */

static long TOTAL, PAGE;

/* Builds q on its table, runs it; returns the body (arena). Fails the test on any error. */
static const char *
run(const struct dba_query *q)
{
    struct dba_sql s = { 0 };
    struct dba_err err = { 0 };
    struct pg_result *r;
    const char *body;

    cr_assert_eq(dba_query_sql_build(q, T(q->table), 0, A, &s, &err), DBA_OK, "%s %s", err.pgrst,
                 err.msg);
    r = dba_db_exec(PG, s.text.data, s.params, (int)s.n_params, &err);
    cr_assert_not_null(r, "%s\n%s", err.msg, s.text.data);
    cr_assert_eq(dba_db_res_ntuples(r), 1);
    TOTAL = dba_db_res_isnull(r, 0, DBA_SQL_COL_TOTAL)
                ? -1 : atol(dba_db_res_value(r, 0, DBA_SQL_COL_TOTAL));
    PAGE = atol(dba_db_res_value(r, 0, DBA_SQL_COL_PAGE_TOTAL));
    body = dba_arena_strdup(A, dba_db_res_value(r, 0, DBA_SQL_COL_BODY));
    dba_db_res_clear(r);
    dba_buf_cleanup(&s.text);
    return body;
}

/* Builds q and expects the build to fail with code. */
static void
run_err(const struct dba_query *q, int status, const char *code, const char *msg)
{
    struct dba_sql s = { 0 };
    struct dba_err err = { 0 };

    cr_assert_neq(dba_query_sql_build(q, T(q->table), 0, A, &s, &err), DBA_OK);
    cr_expect_eq(err.http_status, status);
    cr_expect_str_eq(err.pgrst, code);
    if (msg)
        cr_expect_str_eq(err.msg, msg);
}

/* JSON text normalised (compact, key order kept). */
static char *
norm(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    char *s;

    cr_assert_not_null(j, "not JSON: %s", text);
    s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(j);
    return s;
}

/* got equals the JSON PostgreSQL computes with want_sql, values and key order. */
static void
expect_same(const char *got, const char *want_sql)
{
    char *want = dbat_sql(want_sql);
    char *a, *b;

    cr_assert_not_null(want, "%s", want_sql);
    a = norm(got);
    b = norm(want);
    cr_expect_str_eq(a, b, "\n got: %s\nwant: %s", a, b);
    free(a);
    free(b);
    free(want);
}

/* got equals the literal JSON want, values and key order. */
static void
expect_json(const char *got, const char *want)
{
    char *a = norm(got), *b = norm(want);

    cr_expect_str_eq(a, b);
    free(a);
    free(b);
}

/* ---- relationships of the fixture ---- */

#define BOOKS_AUTHOR rs(DBA_CARD_M2O, "books", "authors", "author_id", "id")
#define BOOKS_EDITOR rs(DBA_CARD_M2O, "books", "authors", "editor_id", "id")
#define AUTHOR_BOOKS rs(DBA_CARD_O2M, "authors", "books", "id", "author_id")
#define AUTHOR_BIO rs(DBA_CARD_O2O, "authors", "author_bios", "id", "author_id")
#define MENTOR rs(DBA_CARD_M2O, "authors", "authors", "mentor_id", "id")
#define MENTEES rs(DBA_CARD_O2M, "authors", "authors", "id", "mentor_id")
#define BOOK_TAGS rs_m2m("books", "tags", "book_tags", "id", "book_id", "id", "tag_id")
#define PUB_BOOKS rs(DBA_CARD_O2M, "publishers", "books", "id", "publisher_id")
#define BOOK_PUB rs(DBA_CARD_M2O, "books", "publishers", "publisher_id", "id")

/* ---- tests ---- */

/* One-to-many: an array per parent, '[]' without children; the child's order and columns. */
Test(embed_sql, one_to_many_arrays)
{
    struct dba_query *q = query(DBA_M_GET, "authors", "id,name");
    struct dba_rel *b = child(&q->rel, AUTHOR_BOOKS, NULL, "id,title");

    add_order(b, NULL, "id", false, DBA_NULLS_DEFAULT);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(x ORDER BY x.id) FROM (SELECT a.id, a.name, "
                        "coalesce((SELECT json_agg(b ORDER BY b.id) FROM (SELECT id, title FROM "
                        "embed.books WHERE author_id = a.id) b), '[]') AS books "
                        "FROM embed.authors a) x");
}

/* Many-to-one: an object or null; two foreign keys to the same table under two aliases. */
Test(embed_sql, many_to_one_objects_and_two_fks)
{
    struct dba_query *q = query(DBA_M_GET, "books", "title");

    child(&q->rel, BOOKS_AUTHOR, "author", "name,id");
    child(&q->rel, BOOKS_EDITOR, "editor", "name");
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('title', b.title, 'author', "
                        "(SELECT row_to_json(a) FROM (SELECT name, id FROM embed.authors "
                        "WHERE id = b.author_id) a), 'editor', "
                        "(SELECT row_to_json(a) FROM (SELECT name FROM embed.authors "
                        "WHERE id = b.editor_id) a)) ORDER BY b.id) FROM embed.books b");
}

/* One-to-one (the child's key is the foreign key): an object or null, never an array. */
Test(embed_sql, one_to_one_object)
{
    struct dba_query *q = query(DBA_M_GET, "authors", "name");

    child(&q->rel, AUTHOR_BIO, NULL, "bio");
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('name', a.name, 'author_bios', "
                        "(SELECT json_build_object('bio', bio) FROM embed.author_bios "
                        "WHERE author_id = a.id)) ORDER BY a.id) FROM embed.authors a");
}

/* Many-to-many through the junction, correlated on the parent; tags without books are absent. */
Test(embed_sql, many_to_many_through_junction)
{
    struct dba_query *q = query(DBA_M_GET, "books", "id");
    struct dba_rel *t = child(&q->rel, BOOK_TAGS, NULL, "label");

    add_order(t, NULL, "id", true, DBA_NULLS_DEFAULT);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('id', b.id, 'tags', coalesce(("
                        "SELECT json_agg(json_build_object('label', t.label) ORDER BY t.id DESC) "
                        "FROM embed.tags t JOIN embed.book_tags j ON j.tag_id = t.id "
                        "WHERE j.book_id = b.id), '[]')) ORDER BY b.id) FROM embed.books b");
}

/* A self-reference both ways (mentor: to-one, mentees: to-many), nested two levels. */
Test(embed_sql, self_reference_both_ways_nested)
{
    struct dba_query *q = query(DBA_M_GET, "authors", "name");
    struct dba_rel *m = child(&q->rel, MENTEES, "mentees", "name");

    child(&q->rel, MENTOR, "mentor", "name");
    child(m, AUTHOR_BOOKS, NULL, "title");
    add_order(m, NULL, "id", false, DBA_NULLS_DEFAULT);
    add_order(m->select[1].child, NULL, "id", false, DBA_NULLS_DEFAULT);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q),
                "SELECT json_agg(json_build_object('name', a.name, 'mentees', coalesce(("
                "SELECT json_agg(json_build_object('name', m.name, 'books', coalesce(("
                "SELECT json_agg(json_build_object('title', b.title) ORDER BY b.id) FROM "
                "embed.books b WHERE b.author_id = m.id), '[]')) ORDER BY m.id) FROM "
                "embed.authors m WHERE m.mentor_id = a.id), '[]'), 'mentor', (SELECT "
                "json_build_object('name', p.name) FROM embed.authors p WHERE p.id = "
                "a.mentor_id)) ORDER BY a.id) FROM embed.authors a");
}

/* A view over a table embeds through the base table's key columns. */
Test(embed_sql, view_embeds)
{
    struct dba_query *q = query(DBA_M_GET, "books_view", "title");

    child(&q->rel, rs(DBA_CARD_M2O, "books_view", "authors", "author_id", "id"), NULL, "name");
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('title', v.title, 'authors', (SELECT "
                        "json_build_object('name', name) FROM embed.authors WHERE id = "
                        "v.author_id)) ORDER BY v.id) FROM embed.books_view v");
}

/* !inner with an embedded filter drops parents without a match, in the page and in the count;
   without !inner the same filter only empties the embed. */
Test(embed_sql, inner_filters_the_parent_and_the_count)
{
    struct dba_query *q = query(DBA_M_GET, "authors", "name");
    struct dba_rel *b = child(&q->rel, AUTHOR_BOOKS, NULL, "title");

    add_leaf(&b->where, "year", DBA_OP_GT, "2006");
    add_order(b, NULL, "id", false, DBA_NULLS_DEFAULT);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    q->prefer.count = DBA_COUNT_EXACT;
    expect_same(run(q), "SELECT json_agg(json_build_object('name', a.name, 'books', coalesce(("
                        "SELECT json_agg(json_build_object('title', title) ORDER BY id) FROM "
                        "embed.books WHERE author_id = a.id AND year > 2006), '[]')) ORDER BY a.id) "
                        "FROM embed.authors a");
    cr_expect_eq(TOTAL, 5);
    b->join = DBA_JOIN_INNER;
    expect_same(run(q), "SELECT json_agg(json_build_object('name', a.name, 'books', (SELECT "
                        "json_agg(json_build_object('title', title) ORDER BY id) FROM embed.books "
                        "WHERE author_id = a.id AND year > 2006)) ORDER BY a.id) "
                        "FROM embed.authors a WHERE EXISTS (SELECT 1 FROM embed.books "
                        "WHERE author_id = a.id AND year > 2006)");
    cr_expect_eq(TOTAL, 2, "the count holds the inner join");
    cr_expect_eq(PAGE, 2);
    /* a to-one !inner */
    q = query(DBA_M_GET, "books", "id");
    b = child(&q->rel, BOOKS_AUTHOR, NULL, "name");
    b->join = DBA_JOIN_INNER;
    add_leaf(&b->where, "name", DBA_OP_LIKE, "%o%");
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    q->prefer.count = DBA_COUNT_EXACT;
    expect_json(run(q), "[{\"id\":3,\"authors\":{\"name\":\"Brook\"}},"
                        "{\"id\":6,\"authors\":{\"name\":\"Brook\"}}]");
    cr_expect_eq(TOTAL, 2);
}

/* rel() is joined and filtered but not output; rel=is.null is an anti-join, rel=not.is.null a
   semi-join, also inside or=(...). */
Test(embed_sql, filter_only_and_null_filters_on_embeds)
{
    struct dba_query *q = query(DBA_M_GET, "authors", "name");
    struct dba_rel *b = child(&q->rel, AUTHOR_BOOKS, NULL, "");
    struct dba_rel *bio;
    struct dba_logic *or;

    b->filter_only = true;
    b->join = DBA_JOIN_INNER;
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    q->prefer.count = DBA_COUNT_EXACT;
    expect_json(run(q), "[{\"name\":\"Ada\"},{\"name\":\"Brook\"},{\"name\":\"Cyd\"}]");
    cr_expect_eq(TOTAL, 3);
    b->join = DBA_JOIN_LEFT;
    add_embed_null(&q->rel.where, b, true);
    expect_json(run(q), "[{\"name\":\"Dee \\\"quoted\\\", comma\"},{\"name\":\"Eve\"}]");
    cr_expect_eq(TOTAL, 2);
    /* or=(books.is.null,author_bios.not.is.null) with a filtered books embed */
    q = query(DBA_M_GET, "authors", "id");
    b = child(&q->rel, AUTHOR_BOOKS, NULL, "id");
    bio = child(&q->rel, AUTHOR_BIO, NULL, "");
    bio->filter_only = true;
    add_leaf(&b->where, "year", DBA_OP_GTE, "2010");
    add_order(b, NULL, "id", false, DBA_NULLS_DEFAULT);
    or = add_or(&q->rel.where);
    add_embed_null(or, b, true);
    add_embed_null(or, bio, false);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('id', a.id, 'books', coalesce(("
                        "SELECT json_agg(json_build_object('id', id) ORDER BY id) FROM embed.books WHERE "
                        "author_id = a.id AND year >= 2010), '[]')) ORDER BY a.id) FROM "
                        "embed.authors a WHERE NOT EXISTS (SELECT 1 FROM embed.books WHERE "
                        "author_id = a.id AND year >= 2010) OR EXISTS (SELECT 1 FROM "
                        "embed.author_bios WHERE author_id = a.id)");
    /* only is.null / not.is.null on an embed */
    or->children[0].filter.op = DBA_OP_EQ;
    or->children[0].filter.value = "1";
    run_err(q, 400, "PGRST120", NULL);
}

/* Embedded order, limit and offset apply per parent. */
Test(embed_sql, embedded_order_limit_offset)
{
    struct dba_query *q = query(DBA_M_GET, "authors", "id");
    struct dba_rel *b = child(&q->rel, AUTHOR_BOOKS, NULL, "id");

    add_order(b, NULL, "year", true, DBA_NULLS_LAST);
    b->limit = 1;
    b->offset = 1;
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    q->rel.limit = 3;
    expect_json(run(q), "[{\"id\":1,\"books\":[{\"id\":1}]},{\"id\":2,\"books\":[{\"id\":3}]},"
                        "{\"id\":3,\"books\":[]}]");
}

/* Related order: order=rel(col) on a to-one child orders the parent by the child's column;
   a to-many child cannot, an unknown one is not embedded. */
Test(embed_sql, related_order)
{
    struct dba_query *q = query(DBA_M_GET, "books", "id");

    child(&q->rel, BOOKS_AUTHOR, "author", "name");
    add_order(&q->rel, "author", "name", true, DBA_NULLS_FIRST);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('id', b.id, 'author', (SELECT "
                        "json_build_object('name', name) FROM embed.authors WHERE id = "
                        "b.author_id)) ORDER BY a.name DESC NULLS FIRST, b.id) FROM embed.books "
                        "b LEFT JOIN embed.authors a ON a.id = b.author_id");
    q = query(DBA_M_GET, "authors", "id");
    child(&q->rel, AUTHOR_BOOKS, NULL, "id");
    add_order(&q->rel, "books", "id", false, DBA_NULLS_DEFAULT);
    run_err(q, 400, "PGRST118", "A related order on 'books' is not possible");
    q->rel.order[0].rel = "nope";
    run_err(q, 400, "PGRST108", "'nope' is not an embedded resource in this request");
}

/* Spread: a to-one child's columns are lifted into the parent (null without a match); a to-many
   child gives one array per column. */
Test(embed_sql, spread_to_one_and_to_many)
{
    struct dba_query *q = query(DBA_M_GET, "books", "title");
    struct dba_rel *p = child(&q->rel, BOOK_PUB, NULL, "publisher:name,pid:id");
    struct dba_rel *b;

    p->spread = true;
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('title', b.title, 'publisher', p.name, "
                        "'pid', p.id) ORDER BY b.id) FROM embed.books b LEFT JOIN "
                        "embed.publishers p ON p.id = b.publisher_id");
    q = query(DBA_M_GET, "publishers", "name");
    b = child(&q->rel, PUB_BOOKS, NULL, "titles:title,year");
    b->spread = true;
    add_order(b, NULL, "id", false, DBA_NULLS_DEFAULT);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('name', p.name, 'titles', coalesce(("
                        "SELECT json_agg(title ORDER BY id) FROM embed.books WHERE publisher_id "
                        "= p.id), '[]'), 'year', coalesce((SELECT json_agg(year ORDER BY id) "
                        "FROM embed.books WHERE publisher_id = p.id), '[]')) ORDER BY p.id) "
                        "FROM embed.publishers p");
    /* a junction embed with the far side spread inside drops the junction's columns */
    q = query(DBA_M_GET, "books", "id");
    b = child(&q->rel, rs(DBA_CARD_O2M, "books", "book_tags", "id", "book_id"), "tags", "");
    p = child(b, rs(DBA_CARD_M2O, "book_tags", "tags", "tag_id", "id"), NULL, "*");
    p->spread = true;
    add_order(b, NULL, "tag_id", false, DBA_NULLS_DEFAULT);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    q->rel.limit = 1;
    expect_json(run(q), "[{\"id\":1,\"tags\":[{\"id\":1,\"label\":\"fiction\"},"
                        "{\"id\":2,\"label\":\"history\"}]}]");
}

/* Aggregates: groups from the other columns, inside an embed, and next to an embed. */
Test(embed_sql, aggregates)
{
    struct dba_query *q = query(DBA_M_GET, "books", "author_id");
    struct dba_rel *b;

    add_agg(&q->rel, DBA_AGG_COUNT, NULL, NULL, NULL);
    add_agg(&q->rel, DBA_AGG_SUM, "price", "total", NULL);
    add_agg(&q->rel, DBA_AGG_MAX, "year", NULL, "text");
    add_order(&q->rel, NULL, "author_id", false, DBA_NULLS_FIRST);
    expect_same(run(q), "SELECT json_agg(x) FROM (SELECT author_id, count(*) AS count, "
                        "sum(price) AS total, max(year)::text AS max FROM embed.books GROUP BY "
                        "author_id ORDER BY author_id NULLS FIRST) x");
    /* inside an embed: one aggregated object per parent ({"count":0} without children) */
    q = query(DBA_M_GET, "publishers", "name");
    b = child(&q->rel, PUB_BOOKS, NULL, "");
    add_agg(b, DBA_AGG_COUNT, NULL, NULL, NULL);
    add_agg(b, DBA_AGG_AVG, "price", "mean", "int");
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(json_build_object('name', p.name, 'books', "
                        "json_build_array((SELECT json_build_object('count', count(*), 'mean', "
                        "avg(price)::int) FROM embed.books WHERE publisher_id = p.id)))"
                        " ORDER BY p.id) FROM embed.publishers p");
    /* next to a to-one embed, which then is a group too */
    q = query(DBA_M_GET, "books", "");
    child(&q->rel, BOOKS_AUTHOR, NULL, "name");
    add_agg(&q->rel, DBA_AGG_COUNT, NULL, "n", NULL);
    q->rel.where.kind = DBA_L_AND;
    add_leaf(&q->rel.where, "author_id", DBA_OP_EQ, "2");
    expect_json(run(q), "[{\"authors\":{\"name\":\"Brook\"},\"n\":2}]");
}

/* GETAllEmbed's shape: every row with its children and their to-one grandchildren. */
Test(embed_sql, three_levels_with_stars)
{
    struct dba_query *q = query(DBA_M_GET, "publishers", "*");
    struct dba_rel *b = child(&q->rel, PUB_BOOKS, NULL, "*");

    child(b, BOOKS_AUTHOR, NULL, "*");
    add_order(b, NULL, "id", false, DBA_NULLS_DEFAULT);
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    expect_same(run(q), "SELECT json_agg(x ORDER BY x.id) FROM (SELECT p.*, coalesce((SELECT "
                        "json_agg(y ORDER BY y.id) FROM (SELECT b.*, (SELECT row_to_json(a) FROM "
                        "embed.authors a WHERE a.id = b.author_id) AS authors FROM embed.books b "
                        "WHERE b.publisher_id = p.id) y), '[]') AS books FROM embed.publishers p) "
                        "x");
}

/* CSV: nested values are their JSON text, quoted by the record rules (as PostgREST). */
Test(embed_sql, csv_with_nested_values)
{
    struct dba_query *q = query(DBA_M_GET, "authors", "id");

    child(&q->rel, AUTHOR_BIO, "bio", "bio");
    add_leaf(&q->rel.where, "id", DBA_OP_LTE, "2");
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    q->media = DBA_MEDIA_CSV;
    cr_expect_str_eq(run(q), "id,bio\n1,\"{\"\"bio\"\":\"\"first\"\"}\"\n2,");
}

/* Accept: vnd.pgrst.object+json and a Range with embeds. */
Test(embed_sql, object_and_range)
{
    struct dba_query *q = query(DBA_M_GET, "books", "id");

    child(&q->rel, BOOK_TAGS, NULL, "label");
    add_leaf(&q->rel.where, "id", DBA_OP_EQ, "2");
    q->media = DBA_MEDIA_OBJECT;
    expect_json(run(q), "{\"id\":2,\"tags\":[{\"label\":\"fiction\"}]}");
    q = query(DBA_M_GET, "books", "id");
    child(&q->rel, BOOK_TAGS, NULL, "label");
    add_order(&q->rel, NULL, "id", false, DBA_NULLS_DEFAULT);
    q->range_from = 2;
    q->range_to = 3;
    q->prefer.count = DBA_COUNT_EXACT;
    expect_json(run(q), "[{\"id\":3,\"tags\":[{\"label\":\"history\"}]},{\"id\":4,\"tags\":[]}]");
    cr_expect_eq(TOTAL, 6);
    cr_expect_eq(PAGE, 2);
}

/* Writes with return=representation embed from the written rows (rolled back after). */
Test(embed_sql, embeds_in_write_representations)
{
    struct dba_query *q = query(DBA_M_POST, "books", "id,title");
    struct dba_err err;

    child(&q->rel, BOOKS_AUTHOR, "author", "name");
    child(&q->rel, BOOK_TAGS, NULL, "label");
    q->prefer.ret = DBA_RET_REPRESENTATION;
    q->body = "{\"id\": 50, \"title\": \"New\", \"author_id\": 3}";
    q->body_kind = DBA_BODY_OBJECT;
    q->body_keys = strs("id,title,author_id");
    q->n_body_keys = 3;
    q->n_body_rows = 1;
    dba_db_res_clear(dba_db_exec(PG, "BEGIN", NULL, 0, &err));
    expect_json(run(q), "[{\"id\":50,\"title\":\"New\",\"author\":{\"name\":\"Cyd\"},"
                        "\"tags\":[]}]");
    /* PATCH: the updated rows; the embed sees the new foreign key */
    q = query(DBA_M_PATCH, "books", "id");
    child(&q->rel, BOOKS_AUTHOR, NULL, "name");
    add_leaf(&q->rel.where, "id", DBA_OP_EQ, "50");
    q->prefer.ret = DBA_RET_REPRESENTATION;
    q->body = "{\"author_id\": 1}";
    q->body_kind = DBA_BODY_OBJECT;
    q->body_keys = strs("author_id");
    q->n_body_keys = 1;
    q->n_body_rows = 1;
    expect_json(run(q), "[{\"id\":50,\"authors\":{\"name\":\"Ada\"}}]");
    /* DELETE: the deleted row's embeds still resolve in the statement's snapshot */
    q = query(DBA_M_DELETE, "books", "title");
    child(&q->rel, BOOK_TAGS, NULL, "label");
    add_leaf(&q->rel.where, "id", DBA_OP_EQ, "50");
    q->prefer.ret = DBA_RET_REPRESENTATION;
    expect_json(run(q), "[{\"title\":\"New\",\"tags\":[]}]");
    dba_db_res_clear(dba_db_exec(PG, "ROLLBACK", NULL, 0, &err));
}

/* Unknown columns in an embed are 42703 in the embed's scope; the statement text does not vary
   with the values. */
Test(embed_sql, identifiers_checked_per_scope_and_text_stable)
{
    struct dba_query *q = query(DBA_M_GET, "books", "id");
    struct dba_rel *a = child(&q->rel, BOOKS_AUTHOR, NULL, "title");
    struct dba_sql s1 = { 0 }, s2 = { 0 };
    struct dba_err err = { 0 };
    struct dba_logic *l;

    run_err(q, 400, "42703", "column authors.title does not exist");
    set_items(a, "name");
    l = add_leaf(&a->where, "name", DBA_OP_EQ, "Ada");
    cr_assert_eq(dba_query_sql_build(q, T("books"), 0, A, &s1, &err), DBA_OK);
    l->filter.value = "a much longer value'; --";
    cr_assert_eq(dba_query_sql_build(q, T("books"), 0, A, &s2, &err), DBA_OK);
    cr_expect_str_eq(s1.text.data, s2.text.data);
    dba_buf_cleanup(&s1.text);
    dba_buf_cleanup(&s2.text);
}

/* ==== Suite embed_http: the same features end to end, through the in-process gateway (profile
   schemas ["embed"]): the grammar, the resolution against the loaded relationships, the builder
   and the response, each result compared with what PostgreSQL computes directly. Suite
   embed_http_agg: the same gateway with server.aggregates_enabled on. ==== */

static void
http_setup(void)
{
    load_fixture();
    A = dba_arena_new();
    dbat_server_start_conf(NULL, NULL, "\"embed\"", NULL);
}

static void
http_setup_agg(void)
{
    load_fixture();
    A = dba_arena_new();
    dbat_server_start_conf("aggregates_enabled = true;", NULL, "\"embed\"", NULL);
}

static void
http_teardown(void)
{
    dba_arena_free(A); /* before the gateway's check that no arena is left */
    dbat_server_stop();
}

TestSuite(embed_http, .init = http_setup, .fini = http_teardown);
TestSuite(embed_http_agg, .init = http_setup_agg, .fini = http_teardown);

/* method path (under /tables/) with headers and body; expects status; returns the response. */
static struct dbat_resp *
call(const char *method, const char *path, const char *const *h, const char *body, long status)
{
    char *url = dba_arena_printf(A, "/tables/%s", path);
    struct dbat_resp *r = dbat_req(method, url, h, body);

    cr_expect_eq(r->status, status, "%s %s: status %ld, body %s", method, path, r->status,
                 r->body);
    return r;
}

/* GET path answers 200 with what PostgreSQL computes with want_sql (values and key order). */
static void
get_same(const char *path, const char *want_sql)
{
    struct dbat_resp *r = call("GET", path, NULL, NULL, 200);

    expect_same(r->body, want_sql);
    dbat_resp_free(r);
}

/* GET path answers 200 with the literal JSON want (values and key order). */
static void
get_json(const char *path, const char *want)
{
    struct dbat_resp *r = call("GET", path, NULL, NULL, 200);

    expect_json(r->body, want);
    dbat_resp_free(r);
}

/* GET path fails with status, PostgREST's code and message (and hint/details when not NULL). */
static struct dbat_resp *
get_err(const char *path, long status, const char *code, const char *msg)
{
    struct dbat_resp *r = call("GET", path, NULL, NULL, status);

    cr_assert_not_null(r->json, "%s: not JSON: %s", path, r->body);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), code, "%s: %s", path,
                     r->body);
    if (msg)
        cr_expect_str_eq(json_string_value(json_object_get(r->json, "message")), msg, "%s", path);
    return r;
}

static const char *
jstr(const struct dbat_resp *r, const char *key)
{
    return json_string_value(json_object_get(r->json, key));
}

/* Many-to-one (hinted by column: books has two keys to authors), one-to-many, aliases. */
Test(embed_http, many_to_one_and_one_to_many)
{
    get_same("books?select=id,title,author:authors!author_id(id,name),publishers(name)&order=id",
             "SELECT json_agg(json_build_object('id', b.id, 'title', b.title, 'author', (SELECT "
             "json_build_object('id', a.id, 'name', a.name) FROM embed.authors a WHERE a.id = "
             "b.author_id), 'publishers', (SELECT json_build_object('name', p.name) FROM "
             "embed.publishers p WHERE p.id = b.publisher_id)) ORDER BY b.id) FROM embed.books b");
    get_same("publishers?select=name,books(title,year)&order=id&books.order=id",
             "SELECT json_agg(json_build_object('name', p.name, 'books', coalesce((SELECT "
             "json_agg(json_build_object('title', b.title, 'year', b.year) ORDER BY b.id) FROM "
             "embed.books b WHERE b.publisher_id = p.id), '[]')) ORDER BY p.id) "
             "FROM embed.publishers p");
    /* a star in the embed: the relation's columns in their order */
    get_same("books?select=id,publishers(*)&id=lte.3&order=id",
             "SELECT json_agg(json_build_object('id', b.id, 'publishers', (SELECT row_to_json(p) "
             "FROM embed.publishers p WHERE p.id = b.publisher_id)) ORDER BY b.id) FROM "
             "embed.books b WHERE b.id <= 3");
}

/* One-to-one both ways: an object (or null), never an array. */
Test(embed_http, one_to_one)
{
    get_same("authors?select=name,author_bios(bio)&order=id",
             "SELECT json_agg(json_build_object('name', a.name, 'author_bios', (SELECT "
             "json_build_object('bio', x.bio) FROM embed.author_bios x WHERE x.author_id = a.id)) "
             "ORDER BY a.id) FROM embed.authors a");
    get_json("author_bios?select=bio,authors(name)&author_id=eq.4",
             "[{\"bio\":\"fourth\",\"authors\":{\"name\":\"Dee \\\"quoted\\\", comma\"}}]");
}

/* Many-to-many through the junction, plain and hinted by the junction's name; the junction
   itself as a one-to-many. */
Test(embed_http, many_to_many)
{
    const char *want =
        "SELECT json_agg(json_build_object('id', b.id, 'tags', coalesce((SELECT "
        "json_agg(json_build_object('label', t.label) ORDER BY t.label DESC) FROM embed.tags t "
        "JOIN embed.book_tags j ON j.tag_id = t.id WHERE j.book_id = b.id), '[]')) ORDER BY b.id) "
        "FROM embed.books b";

    get_same("books?select=id,tags(label)&order=id&tags.order=label.desc", want);
    get_same("books?select=id,tags!book_tags(label)&order=id&tags.order=label.desc", want);
    get_same("tags?select=label,books(id)&order=id&books.order=id",
             "SELECT json_agg(json_build_object('label', t.label, 'books', coalesce((SELECT "
             "json_agg(json_build_object('id', b.id) ORDER BY b.id) FROM embed.books b JOIN "
             "embed.book_tags j ON j.book_id = b.id WHERE j.tag_id = t.id), '[]')) ORDER BY t.id) "
             "FROM embed.tags t");
    get_json("books?select=id,book_tags(tag_id)&id=eq.1&book_tags.order=tag_id",
             "[{\"id\":1,\"book_tags\":[{\"tag_id\":1},{\"tag_id\":2}]}]");
}

/* A self-reference: the key column gives the parent, the table name the children. */
Test(embed_http, self_reference)
{
    get_same("authors?select=name,mentor:mentor_id(name),mentees:authors(name)&order=id"
             "&mentees.order=id",
             "SELECT json_agg(json_build_object('name', a.name, 'mentor', (SELECT "
             "json_build_object('name', m.name) FROM embed.authors m WHERE m.id = a.mentor_id), "
             "'mentees', coalesce((SELECT json_agg(json_build_object('name', c.name) ORDER BY "
             "c.id) FROM embed.authors c WHERE c.mentor_id = a.id), '[]')) ORDER BY a.id) FROM "
             "embed.authors a");
}

/* Nesting three levels; hints by foreign key name; a view over books. */
Test(embed_http, nesting_hints_and_views)
{
    get_same("publishers?select=name,books(title,editor:authors!books_editor_id_fkey(name,"
             "author_bios(bio)))&order=id&books.order=id",
             "SELECT json_agg(json_build_object('name', p.name, 'books', coalesce((SELECT "
             "json_agg(json_build_object('title', b.title, 'editor', (SELECT json_build_object("
             "'name', a.name, 'author_bios', (SELECT json_build_object('bio', x.bio) FROM "
             "embed.author_bios x WHERE x.author_id = a.id)) FROM embed.authors a WHERE a.id = "
             "b.editor_id)) ORDER BY b.id) FROM embed.books b WHERE b.publisher_id = p.id), "
             "'[]')) ORDER BY p.id) FROM embed.publishers p");
    get_same("books_view?select=title,authors(name)&order=id",
             "SELECT json_agg(json_build_object('title', v.title, 'authors', (SELECT "
             "json_build_object('name', a.name) FROM embed.authors a WHERE a.id = v.author_id)) "
             "ORDER BY v.id) FROM embed.books_view v");
    get_same("authors?select=id,books_view(title)&order=id&books_view.order=id",
             "SELECT json_agg(json_build_object('id', a.id, 'books_view', coalesce((SELECT "
             "json_agg(json_build_object('title', v.title) ORDER BY v.id) FROM embed.books_view v "
             "WHERE v.author_id = a.id), '[]')) ORDER BY a.id) FROM embed.authors a");
}

/* !inner filters the parent (and the count), !left (the default) only the embed. */
Test(embed_http, inner_and_left)
{
    const char *h[] = { "Prefer: count=exact", NULL };
    struct dbat_resp *r;

    r = call("GET", "authors?select=name,books!author_id!inner(title)&books.year=gt.2006"
                    "&order=id&books.order=id", h, NULL, 200);
    expect_same(r->body,
                "SELECT json_agg(json_build_object('name', a.name, 'books', (SELECT "
                "json_agg(json_build_object('title', b.title) ORDER BY b.id) FROM embed.books b "
                "WHERE b.author_id = a.id AND b.year > 2006)) ORDER BY a.id) FROM embed.authors a "
                "WHERE EXISTS (SELECT 1 FROM embed.books b WHERE b.author_id = a.id AND "
                "b.year > 2006)");
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-1/2");
    dbat_resp_free(r);
    r = call("GET", "authors?select=name,books!author_id!left(title)&books.year=gt.2006"
                    "&order=id&books.order=id", h, NULL, 200);
    expect_same(r->body,
                "SELECT json_agg(json_build_object('name', a.name, 'books', coalesce((SELECT "
                "json_agg(json_build_object('title', b.title) ORDER BY b.id) FROM embed.books b "
                "WHERE b.author_id = a.id AND b.year > 2006), '[]')) ORDER BY a.id) FROM "
                "embed.authors a");
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-4/5");
    dbat_resp_free(r);
    /* a to-one !inner: books without an author (or a matching one) are gone */
    get_same("books?select=id,authors!author_id!inner(name)&authors.name=like.*o*&order=id",
             "SELECT json_agg(json_build_object('id', b.id, 'authors', json_build_object('name', "
             "a.name)) ORDER BY b.id) FROM embed.books b JOIN embed.authors a ON a.id = "
             "b.author_id WHERE a.name LIKE '%o%'");
    /* the same through the fk name hint with !inner after it */
    get_json("books?select=id,authors!books_editor_id_fkey!inner(name)&authors.id=eq.4",
             "[{\"id\":6,\"authors\":{\"name\":\"Dee \\\"quoted\\\", comma\"}}]");
}

/* rel() filters without selecting; rel=not.is.null / rel=is.null test for rows. */
Test(embed_http, empty_embed_and_null_filters)
{
    get_json("authors?select=name,author_bios()&author_bios=not.is.null&order=id",
             "[{\"name\":\"Ada\"},{\"name\":\"Cyd\"},{\"name\":\"Dee \\\"quoted\\\", comma\"}]");
    get_json("authors?select=name,author_bios()&author_bios=is.null&order=id",
             "[{\"name\":\"Brook\"},{\"name\":\"Eve\"}]");
    get_same("authors?select=id,books!author_id!inner()&books.year=lt.2006&order=id",
             "SELECT json_agg(json_build_object('id', a.id) ORDER BY a.id) FROM embed.authors a "
             "WHERE EXISTS (SELECT 1 FROM embed.books b WHERE b.author_id = a.id AND "
             "b.year < 2006)");
    /* without !inner nor a null test, rel() changes nothing */
    get_same("authors?select=id,books!author_id()&books.year=lt.2006&order=id",
             "SELECT json_agg(json_build_object('id', a.id) ORDER BY a.id) FROM embed.authors a");
    /* rel=not.is.null on a filtered, selected embed: parents whose embed is not empty */
    get_same("publishers?select=id,books(id)&books.price=gt.11&books=not.is.null&order=id"
             "&books.order=id",
             "SELECT json_agg(json_build_object('id', p.id, 'books', (SELECT json_agg("
             "json_build_object('id', b.id) ORDER BY b.id) FROM embed.books b WHERE "
             "b.publisher_id = p.id AND b.price > 11)) ORDER BY p.id) FROM embed.publishers p "
             "WHERE EXISTS (SELECT 1 FROM embed.books b WHERE b.publisher_id = p.id AND "
             "b.price > 11)");
    /* or= across embeds, one of them empty */
    get_same("authors?select=id,author_bios(bio),books!author_id(id)&books.year=gte.2010"
             "&or=(books.is.null,author_bios.not.is.null)&order=id&books.order=id",
             "SELECT json_agg(json_build_object('id', a.id, 'author_bios', (SELECT "
             "json_build_object('bio', x.bio) FROM embed.author_bios x WHERE x.author_id = a.id), "
             "'books', coalesce((SELECT json_agg(json_build_object('id', b.id) ORDER BY b.id) "
             "FROM embed.books b WHERE b.author_id = a.id AND b.year >= 2010), '[]')) ORDER BY "
             "a.id) FROM embed.authors a WHERE NOT EXISTS (SELECT 1 FROM embed.books b WHERE "
             "b.author_id = a.id AND b.year >= 2010) OR EXISTS (SELECT 1 FROM embed.author_bios "
             "x WHERE x.author_id = a.id)");
}

/* Spread: to-one lifts columns into the parent, to-many gives one array per column. */
Test(embed_http, spread)
{
    get_same("books?select=title,...publishers(publisher:name)&order=id",
             "SELECT json_agg(json_build_object('title', b.title, 'publisher', p.name) ORDER BY "
             "b.id) FROM embed.books b LEFT JOIN embed.publishers p ON p.id = b.publisher_id");
    get_same("publishers?select=name,...books(titles:title,year)&order=id&books.order=id",
             "SELECT json_agg(json_build_object('name', p.name, 'titles', coalesce((SELECT "
             "json_agg(b.title ORDER BY b.id) FROM embed.books b WHERE b.publisher_id = p.id), "
             "'[]'), 'year', coalesce((SELECT json_agg(b.year ORDER BY b.id) FROM embed.books b "
             "WHERE b.publisher_id = p.id), '[]')) ORDER BY p.id) FROM embed.publishers p");
    /* the junction spread away: the far side's columns per book */
    get_json("books?select=id,book_tags(...tags(label))&id=eq.1&book_tags.order=tag_id",
             "[{\"id\":1,\"book_tags\":[{\"label\":\"fiction\"},{\"label\":\"history\"}]}]");
}

/* Embedded filters, or=, order, limit and offset per parent; a nested path a.b.col. */
Test(embed_http, embedded_filters_order_limit_offset)
{
    get_same("authors?select=id,books!author_id(id,year)&books.or=(year.lt.2000,year.gt.2006)"
             "&books.order=year.desc&books.limit=1&books.offset=0&order=id",
             "SELECT json_agg(json_build_object('id', a.id, 'books', coalesce((SELECT "
             "json_agg(json_build_object('id', x.id, 'year', x.year)) FROM (SELECT b.id, b.year "
             "FROM embed.books b WHERE b.author_id = a.id AND (b.year < 2000 OR b.year > 2006) "
             "ORDER BY b.year DESC LIMIT 1) x), '[]')) ORDER BY a.id) FROM embed.authors a");
    get_same("publishers?select=id,books(id)&books.order=id&books.limit=2&books.offset=1"
             "&order=id",
             "SELECT json_agg(json_build_object('id', p.id, 'books', coalesce((SELECT "
             "json_agg(json_build_object('id', x.id) ORDER BY x.id) FROM (SELECT b.id FROM "
             "embed.books b WHERE b.publisher_id = p.id ORDER BY b.id LIMIT 2 OFFSET 1) x), "
             "'[]')) ORDER BY p.id) FROM embed.publishers p");
    get_same("publishers?select=name,books(title,tags(label))&books.tags.label=eq.history"
             "&books.order=id&order=id",
             "SELECT json_agg(json_build_object('name', p.name, 'books', coalesce((SELECT "
             "json_agg(json_build_object('title', b.title, 'tags', coalesce((SELECT "
             "json_agg(json_build_object('label', t.label)) FROM embed.tags t JOIN "
             "embed.book_tags j ON j.tag_id = t.id WHERE j.book_id = b.id AND t.label = "
             "'history'), '[]')) ORDER BY b.id) FROM embed.books b WHERE b.publisher_id = p.id), "
             "'[]')) ORDER BY p.id) FROM embed.publishers p");
    /* filters by alias */
    get_json("books?select=id,a:authors!author_id(name)&a.name=eq.Cyd&id=lte.4&order=id",
             "[{\"id\":1,\"a\":null},{\"id\":2,\"a\":null},{\"id\":3,\"a\":null},"
             "{\"id\":4,\"a\":{\"name\":\"Cyd\"}}]");
}

/* order=rel(col) orders the parent by a to-one embed's column. */
Test(embed_http, related_order)
{
    get_same("books?select=id,author:authors!author_id(name)&order=author(name).desc.nullslast,id",
             "SELECT json_agg(json_build_object('id', b.id, 'author', (SELECT json_build_object("
             "'name', a.name) FROM embed.authors a WHERE a.id = b.author_id)) ORDER BY a.name "
             "DESC NULLS LAST, b.id) FROM embed.books b LEFT JOIN embed.authors a ON a.id = "
             "b.author_id");
}

/* No relationship: 400 PGRST200 with PostgREST's details and hint. */
Test(embed_http, error_no_relationship)
{
    struct dbat_resp *r = get_err("books?select=*,tag(*)", 400, "PGRST200",
                                  "Could not find a relationship between 'books' and 'tag' in "
                                  "the schema cache");

    cr_expect_str_eq(jstr(r, "details"), "Searched for a foreign key relationship between "
                                         "'books' and 'tag' in the schema 'embed', but no "
                                         "matches were found.");
    cr_expect_str_eq(jstr(r, "hint"), "Perhaps you meant 'tags' instead of 'tag'.");
    dbat_resp_free(r);
    r = get_err("books?select=*,tags!nope(*)", 400, "PGRST200", NULL);
    cr_expect_str_eq(jstr(r, "details"), "Searched for a foreign key relationship between "
                                         "'books' and 'tags' using the hint 'nope' in the schema "
                                         "'embed', but no matches were found.");
    dbat_resp_free(r);
}

/* Ambiguity: 300 PGRST201, details a JSON array (sent raw, not as a string). */
Test(embed_http, error_ambiguous_300)
{
    struct dbat_resp *r = get_err("books?select=*,authors(*)", 300, "PGRST201",
                                  "Could not embed because more than one relationship was found "
                                  "for 'books' and 'authors'");
    json_t *d = json_object_get(r->json, "details");

    cr_expect(strncmp(dbat_header(r, "Content-Type"), "application/json", 16) == 0);
    cr_assert(json_is_array(d), "details is an array: %s", r->body);
    cr_expect(dbat_json_eq(d, "[{\"cardinality\":\"many-to-one\",\"embedding\":\"books with "
                              "authors\",\"relationship\":\"books_author_id_fkey using "
                              "books(author_id) and authors(id)\"},{\"cardinality\":"
                              "\"many-to-one\",\"embedding\":\"books with authors\","
                              "\"relationship\":\"books_editor_id_fkey using books(editor_id) "
                              "and authors(id)\"}]"), "%s", r->body);
    cr_expect_str_eq(jstr(r, "hint"), "Try changing 'authors' to one of the following: "
                                      "'authors!books_author_id_fkey', "
                                      "'authors!books_editor_id_fkey'. Find the desired "
                                      "relationship in the 'details' key.");
    dbat_resp_free(r);
    /* the same inside a write's representation, before anything is written */
    const char *h[] = { "Prefer: return=representation", "Content-Type: application/json", NULL };
    r = call("POST", "books?select=id,authors(name)", h, "{\"id\": 99, \"title\": \"x\"}", 300);
    cr_expect(json_is_array(json_object_get(r->json, "details")), "%s", r->body);
    dbat_resp_free(r);
    char *n = dbat_sql("SELECT count(*) FROM embed.books WHERE id = 99");
    cr_expect_str_eq(n, "0");
    free(n);
}

/* PGRST108 (not embedded), PGRST118 (related order on to-many), PGRST120 (bad operator on an
   embed), 42703 (unknown column in an embed, also in rel()), PGRST123 (aggregates off). */
Test(embed_http, errors_108_118_120_42703_123)
{
    struct dbat_resp *r;

    r = get_err("books?select=id&publishers.name=eq.North", 400, "PGRST108",
                "'publishers' is not an embedded resource in this request");
    cr_expect_str_eq(jstr(r, "hint"),
                     "Verify that 'publishers' is included in the 'select' query parameter.");
    dbat_resp_free(r);
    dbat_resp_free(get_err("books?select=id&order=publishers(name)", 400, "PGRST108",
                           "'publishers' is not an embedded resource in this request"));
    dbat_resp_free(get_err("books?select=id&publishers.limit=1", 400, "PGRST108", NULL));
    r = get_err("publishers?select=id,books(id)&order=books(id)", 400, "PGRST118",
                "A related order on 'books' is not possible");
    cr_expect_str_eq(jstr(r, "details"),
                     "'publishers' and 'books' do not form a many-to-one or one-to-one "
                     "relationship");
    dbat_resp_free(r);
    r = get_err("authors?select=id,books!author_id(id)&books=eq.1", 400, "PGRST120",
                "Bad operator on the 'books' embedded resource");
    cr_expect_str_eq(jstr(r, "details"),
                     "Only is null or not is null filters are allowed on embedded resources");
    dbat_resp_free(r);
    dbat_resp_free(get_err("authors?select=id,author_bios(nope)", 400, "42703",
                           "column author_bios.nope does not exist"));
    dbat_resp_free(get_err("authors?select=id,author_bios(bio)&author_bios.nope=eq.1", 400,
                           "42703", "column author_bios.nope does not exist"));
    /* rel() neither !inner nor null-tested: its filters are still checked */
    dbat_resp_free(get_err("authors?select=id,author_bios()&author_bios.nope=eq.1", 400,
                           "42703", "column author_bios.nope does not exist"));
    dbat_resp_free(get_err("authors?select=id,author_bios()&author_bios.or=(nope.eq.1,bio.eq.x)",
                           400, "42703", "column author_bios.nope does not exist"));
    r = get_err("books?select=count()", 400, "PGRST123",
                "Use of aggregate functions is not allowed");
    dbat_resp_free(r);
    dbat_resp_free(get_err("publishers?select=name,books(price.sum())", 400, "PGRST123", NULL));
}

/* Embeds in write responses: POST, PUT, PATCH, DELETE with return=representation. */
Test(embed_http, embeds_in_write_representations)
{
    const char *h[] = { "Prefer: return=representation", "Content-Type: application/json", NULL };
    struct dbat_resp *r;

    r = call("POST", "books?select=id,title,author:authors!author_id(name),tags(label)", h,
             "{\"id\": 90, \"title\": \"New\", \"author_id\": 3}", 201);
    expect_json(r->body, "[{\"id\":90,\"title\":\"New\",\"author\":{\"name\":\"Cyd\"},"
                         "\"tags\":[]}]");
    dbat_resp_free(r);
    free(dbat_sql("INSERT INTO embed.book_tags VALUES (90, 2)"));
    r = call("PATCH", "books?id=eq.90&select=id,authors!author_id(name),tags(label)", h,
             "{\"author_id\": 1}", 200);
    expect_json(r->body, "[{\"id\":90,\"authors\":{\"name\":\"Ada\"},"
                         "\"tags\":[{\"label\":\"history\"}]}]");
    dbat_resp_free(r);
    r = call("PUT", "books?id=eq.90&select=title,...publishers(publisher:name)", h,
             "{\"id\": 90, \"title\": \"Newer\", \"publisher_id\": 2}", 200);
    expect_json(r->body, "[{\"title\":\"Newer\",\"publisher\":\"South\"}]");
    dbat_resp_free(r);
    /* Accept object with an embed on a write */
    const char *ho[] = { "Prefer: return=representation", "Content-Type: application/json",
                         "Accept: application/vnd.pgrst.object+json", NULL };
    r = call("PATCH", "books?id=eq.90&select=year,publishers(name)", ho, "{\"year\": 2024}", 200);
    expect_json(r->body, "{\"year\":2024,\"publishers\":{\"name\":\"South\"}}");
    dbat_resp_free(r);
    free(dbat_sql("DELETE FROM embed.book_tags WHERE book_id = 90"));
    r = call("DELETE", "books?id=eq.90&select=title,publishers(name),tags(label)", h, NULL, 200);
    expect_json(r->body, "[{\"title\":\"Newer\",\"publishers\":{\"name\":\"South\"},"
                         "\"tags\":[]}]");
    dbat_resp_free(r);
    char *n = dbat_sql("SELECT count(*) FROM embed.books WHERE id = 90");
    cr_expect_str_eq(n, "0");
    free(n);
    /* a bulk insert: each row with its embeds */
    r = call("POST", "books?select=id,authors!author_id(name)&order=id", h,
             "[{\"id\": 91, \"title\": \"a\", \"author_id\": 5}, "
             "{\"id\": 92, \"title\": \"b\", \"author_id\": null}]",
             201);
    expect_json(r->body, "[{\"id\":91,\"authors\":{\"name\":\"Eve\"}},{\"id\":92,\"authors\":null}]");
    dbat_resp_free(r);
    free(dbat_sql("DELETE FROM embed.books WHERE id IN (91, 92)"));
}

/* Accept: the object media type, CSV (nested values as JSON text), Range and counts. */
Test(embed_http, object_csv_range_count)
{
    const char *ho[] = { "Accept: application/vnd.pgrst.object+json", NULL };
    const char *hc[] = { "Accept: text/csv", NULL };
    const char *hr[] = { "Range: 1-2", "Prefer: count=exact", NULL };
    struct dbat_resp *r;

    r = call("GET", "books?select=id,tags(label)&id=eq.1&tags.order=id", ho, NULL, 200);
    expect_json(r->body, "{\"id\":1,\"tags\":[{\"label\":\"fiction\"},{\"label\":\"history\"}]}");
    dbat_resp_free(r);
    r = call("GET", "books?select=id,tags(label)&id=lte.2", ho, NULL, 406);
    cr_expect_str_eq(jstr(r, "code"), "PGRST116");
    dbat_resp_free(r);
    r = call("GET", "authors?select=id,bio:author_bios(bio),mentor:mentor_id(name)&id=lte.4"
                    "&order=id", hc, NULL, 200);
    cr_expect(strncmp(dbat_header(r, "Content-Type"), "text/csv", 8) == 0);
    cr_expect_str_eq(r->body, "id,bio,mentor\n"
                              "1,\"{\"\"bio\"\":\"\"first\"\"}\",\n"
                              "2,,\"{\"\"name\"\":\"\"Ada\"\"}\"\n"
                              "3,\"{\"\"bio\"\":null}\",\"{\"\"name\"\":\"\"Ada\"\"}\"\n"
                              "4,\"{\"\"bio\"\":\"\"fourth\"\"}\",\"{\"\"name\"\":\"\"Brook\"\"}\"");
    dbat_resp_free(r);
    r = call("GET", "publishers?select=id,books(id)&order=id&books.order=id", hr, NULL, 206);
    expect_json(r->body, "[{\"id\":2,\"books\":[{\"id\":3},{\"id\":5}]},{\"id\":3,\"books\":[]}]");
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "1-2/3");
    dbat_resp_free(r);
    /* the count holds an !inner embed's filter */
    r = call("GET", "publishers?select=id,books!inner(id)&books.year=gte.2010&order=id", hr, NULL,
             206);
    expect_json(r->body, "[{\"id\":2,\"books\":[{\"id\":3}]}]");
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "1-1/2");
    dbat_resp_free(r);
    /* HEAD with an embed: the count only */
    const char *hh[] = { "Prefer: count=exact", NULL };
    r = call("HEAD", "authors?select=id,books!author_id!inner(id)", hh, NULL, 200);
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-2/3");
    dbat_resp_free(r);
}

/* Aggregates with server.aggregates_enabled: groups from the other columns, alias and cast,
   inside an embed, next to a to-one embed. */
Test(embed_http_agg, aggregates)
{
    get_same("books?select=publisher_id,count(),total:price.sum(),year.max()::text"
             "&order=publisher_id.nullsfirst",
             "SELECT json_agg(x) FROM (SELECT publisher_id, count(*) AS count, sum(price) AS "
             "total, max(year)::text AS max FROM embed.books GROUP BY publisher_id ORDER BY "
             "publisher_id NULLS FIRST) x");
    get_same("books?select=price.avg(),id.count()",
             "SELECT json_agg(x) FROM (SELECT avg(price) AS avg, count(id) AS count FROM "
             "embed.books) x");
    get_same("publishers?select=name,books(count(),price.min())&order=id",
             "SELECT json_agg(json_build_object('name', p.name, 'books', json_build_array(("
             "SELECT json_build_object('count', count(*), 'min', min(b.price)) FROM embed.books b "
             "WHERE b.publisher_id = p.id))) ORDER BY p.id) FROM embed.publishers p");
    get_json("books?select=publishers(name),count()&publisher_id=eq.2",
             "[{\"publishers\":{\"name\":\"South\"},\"count\":2}]");
    /* a to-one spread with an aggregate: the parent is grouped by the lifted column */
    get_json("books?select=...publishers(name),n:count()&publisher_id=eq.1",
             "[{\"name\":\"North\",\"n\":3}]");
}
