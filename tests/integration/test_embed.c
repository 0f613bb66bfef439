/* test_embed.c - resource embedding and aggregates on real PostgreSQL (fixture
   tests/fixtures/embed.sql: one-to-many, many-to-one, one-to-one, many-to-many through a junction,
   a self-reference, two foreign keys between the same tables, a view).
   Suite embed_sql: hand-built resolved query trees (relationships filled in by hand over the
   loaded catalog) go through the SQL builder; the statement runs on the server and its body is
   compared with what PostgreSQL computes directly from hand-written SQL (values AND key order). */
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
    const char *src = getenv("DBA_TEST_SOURCE_DIR");
    char path[512];
    struct dba_buf b;
    char chunk[4096];
    size_t n;
    FILE *f;

    cr_assert(src != NULL);
    snprintf(path, sizeof(path), "%s/tests/fixtures/embed.sql", src);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dba_buf_append(&b, chunk, n);
    fclose(f);
    free(dbat_sql(b.data));
    dba_buf_cleanup(&b);
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
