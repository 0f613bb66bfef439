/* test_catalog_rel.c - relationships derived from a real database: a scratch schema (rel_t) with
   every kind (many-to-one and its inverse, one-to-one, many-to-many through a junction, a table
   that is not a junction, a self-reference, two keys between the same tables, views showing key
   columns under other names, a view on a view), loaded by the one catalog reader, resolved as
   PostgREST resolves embeddings; then a new foreign key and a reload. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "db/db.h"
#include "harness.h"

static const char schema_sql[] =
    "SET client_min_messages = warning;"
    "DROP SCHEMA IF EXISTS rel_t CASCADE; CREATE SCHEMA rel_t; SET search_path = rel_t;"
    "CREATE TABLE authors (id int PRIMARY KEY, name text);"
    "CREATE TABLE books (id int PRIMARY KEY, title text,"
    "  author_id int REFERENCES authors (id),"
    "  editor_id int CONSTRAINT books_editor REFERENCES authors (id));"
    "CREATE TABLE profiles (author_id int PRIMARY KEY REFERENCES authors (id), bio text);"
    "CREATE TABLE tags (id int PRIMARY KEY, name text);"
    "CREATE TABLE book_tags (book_id int REFERENCES books (id), tag_id int REFERENCES tags (id),"
    "  PRIMARY KEY (book_id, tag_id));"
    "CREATE TABLE loose (book_id int REFERENCES books (id), tag_id int REFERENCES tags (id));"
    "CREATE TABLE employees (id int PRIMARY KEY, boss_id int REFERENCES employees (id));"
    "CREATE VIEW books_v AS SELECT id AS book_id, title, author_id AS writer, 1 AS one FROM books"
    "  WHERE id IN (SELECT id FROM books);"
    "CREATE VIEW books_vv AS SELECT writer AS \"by\", book_id FROM books_v;"
    "CREATE VIEW authors_v AS SELECT id, name FROM authors;";

static struct dba_catalog *
load(void)
{
    struct dba_err err;
    struct pg_conn *pg = dba_db_connect_blocking(getenv("DBA_TEST_DATABASE_URL"), 10, &err);
    cr_assert(pg != NULL, "%s", err.msg);
    const char *schemas[] = { "rel_t" };
    struct dba_catalog *c = dba_catalog_load(pg, schemas, 1, &err);
    cr_assert(c != NULL, "%s", err.msg);
    dba_db_close(pg);
    return c;
}

static void
setup(void)
{
    free(dbat_sql(schema_sql));
}

TestSuite(catalog_rel, .init = setup);

static const struct dba_table *
tbl(const struct dba_catalog *c, const char *name)
{
    const struct dba_table *t = dba_catalog_table_find(c, "rel_t", name);
    cr_assert(t != NULL, "%s is loaded", name);
    return t;
}

/* The one relationship from -> target[!hint]; fails the test when there is not exactly one. */
static const struct dba_relationship *
one(const struct dba_catalog *c, const char *from, const char *target, const char *hint)
{
    const struct dba_relationship *r = NULL;
    struct dba_err err;
    int rc = dba_catalog_relationship_find(c, tbl(c, from), target, hint, &r, &err);
    cr_assert_eq(rc, DBA_OK, "%s -> %s!%s: %s %s", from, target, hint ? hint : "", err.msg,
                 err.detail);
    return r;
}

Test(catalog_rel, each_kind_from_the_foreign_keys)
{
    struct dba_catalog *c = load();

    const struct dba_relationship *r = one(c, "books", "authors", "author_id");
    cr_expect_eq(r->card, DBA_CARD_M2O);
    cr_expect_str_eq(r->constraint, "books_author_id_fkey");
    cr_expect_str_eq(r->cols[0], "author_id");
    cr_expect_str_eq(r->target_cols[0], "id");
    cr_expect_eq(r->target, tbl(c, "authors"));

    r = one(c, "authors", "books", "books_editor");
    cr_expect_eq(r->card, DBA_CARD_O2M);
    cr_expect_str_eq(r->cols[0], "id");
    cr_expect_str_eq(r->target_cols[0], "editor_id");

    r = one(c, "authors", "profiles", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2O, "a key that is the primary key");
    cr_expect(!r->fk_here);
    r = one(c, "profiles", "authors", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2O);
    cr_expect(r->fk_here);

    r = one(c, "books", "tags", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2M, "book_tags is a junction, loose is not");
    cr_expect_str_eq(r->junction->name, "book_tags");
    cr_expect_str_eq(r->constraint, "book_tags_book_id_fkey");
    cr_expect_str_eq(r->target_constraint, "book_tags_tag_id_fkey");
    cr_expect_str_eq(r->junction_cols[0], "book_id");
    cr_expect_str_eq(r->junction_target_cols[0], "tag_id");
    cr_expect_str_eq(r->cols[0], "id");
    cr_expect_str_eq(r->target_cols[0], "id");
    cr_expect_eq(one(c, "tags", "books", "book_tags")->card, DBA_CARD_M2M);
    cr_expect_eq(one(c, "books", "loose", NULL)->card, DBA_CARD_O2M);

    r = one(c, "employees", "employees", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2M, "a table name gives the children");
    cr_expect(r->self);
    cr_expect_eq(one(c, "employees", "boss_id", NULL)->card, DBA_CARD_M2O,
                 "a key column gives the parent");
    cr_expect_eq(one(c, "employees", "employees", "boss_id")->card, DBA_CARD_O2M);

    cr_expect_eq(one(c, "books", "author_id", NULL)->card, DBA_CARD_M2O, "a column as target");
    cr_expect_eq(one(c, "books", "books_editor", NULL)->card, DBA_CARD_M2O, "a key as target");
    dba_catalog_unref(c);
}

Test(catalog_rel, views_inherit_the_keys_they_show)
{
    struct dba_catalog *c = load();

    const struct dba_relationship *r = one(c, "books_v", "authors", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2O, "editor_id is not shown: one key");
    cr_expect_str_eq(r->constraint, "books_author_id_fkey");
    cr_expect_str_eq(r->cols[0], "writer");
    r = one(c, "authors", "books_v", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2M);
    cr_expect_str_eq(r->target_cols[0], "writer");
    r = one(c, "books_vv", "authors_v", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2O, "a view on a view, to a view");
    cr_expect_str_eq(r->cols[0], "by");
    cr_expect_str_eq(r->target_cols[0], "id");
    r = one(c, "books_v", "tags", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2M, "through the base junction, id shown as book_id");
    cr_expect_str_eq(r->cols[0], "book_id");
    r = one(c, "authors", "books_author_id_fkey", NULL);
    cr_expect_eq(r->target, tbl(c, "books"), "a key name as target never reaches a view");
    dba_catalog_unref(c);
}

Test(catalog_rel, ambiguity_and_no_match_are_postgrest_errors)
{
    struct dba_catalog *c = load();
    const struct dba_relationship *r = NULL;
    struct dba_err err;

    cr_assert_neq(dba_catalog_relationship_find(c, tbl(c, "authors"), "books", NULL, &r, &err),
                  DBA_OK);
    cr_expect_eq(err.http_status, 300);
    cr_expect_str_eq(err.pgrst, "PGRST201");
    cr_expect_str_eq(err.msg, "Could not embed because more than one relationship was found for "
                              "'authors' and 'books'");
    cr_expect_str_eq(err.hint, "Try changing 'books' to one of the following: "
                               "'books!books_author_id_fkey', 'books!books_editor'. Find the "
                               "desired relationship in the 'details' key.");
    cr_expect(err.detail_json);
    json_t *d = json_loads(err.detail, 0, NULL);
    cr_assert(d != NULL, "details are JSON: %s", err.detail);
    cr_expect(dbat_json_eq(
        d, "[{\"cardinality\":\"one-to-many\",\"embedding\":\"authors with books\","
           "\"relationship\":\"books_author_id_fkey using authors(id) and books(author_id)\"},"
           "{\"cardinality\":\"one-to-many\",\"embedding\":\"authors with books\","
           "\"relationship\":\"books_editor using authors(id) and books(editor_id)\"}]"),
              "%s", err.detail);
    json_decref(d);

    cr_assert_neq(dba_catalog_relationship_find(c, tbl(c, "books"), "tags", "nope", &r, &err),
                  DBA_OK);
    cr_expect_eq(err.http_status, 400);
    cr_expect_str_eq(err.pgrst, "PGRST200");
    cr_expect_str_eq(err.msg,
                     "Could not find a relationship between 'books' and 'tags' in the schema cache");
    cr_expect_str_eq(err.detail, "Searched for a foreign key relationship between 'books' and "
                                 "'tags' using the hint 'nope' in the schema 'rel_t', but no "
                                 "matches were found.");
    cr_expect_str_eq(err.hint, "", "both ends exist: no suggestion");
    cr_expect(!err.detail_json);

    cr_assert_neq(dba_catalog_relationship_find(c, tbl(c, "books"), "tag", NULL, &r, &err),
                  DBA_OK);
    cr_expect_str_eq(err.detail, "Searched for a foreign key relationship between 'books' and "
                                 "'tag' in the schema 'rel_t', but no matches were found.");
    cr_expect_str_eq(err.hint, "Perhaps you meant 'tags' instead of 'tag'.");
    dba_catalog_unref(c);
}

Test(catalog_rel, a_reload_picks_up_a_new_foreign_key)
{
    struct dba_catalog *c = load();
    const struct dba_relationship *r = NULL;
    struct dba_err err;

    cr_expect_neq(dba_catalog_relationship_find(c, tbl(c, "tags"), "authors", NULL, &r, &err),
                  DBA_OK);
    dba_catalog_unref(c);
    free(dbat_sql("ALTER TABLE rel_t.tags ADD COLUMN owner_id int REFERENCES rel_t.authors (id)"));
    c = load();
    r = one(c, "tags", "authors", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2O);
    cr_expect_str_eq(r->cols[0], "owner_id");
    cr_expect_eq(one(c, "authors", "tags", NULL)->card, DBA_CARD_O2M);
    dba_catalog_unref(c);
}

/* Views of the same names in another exposed schema over the junction (and its ends) give
   many-to-many candidates a client cannot tell apart (same details, same !junction hint): they
   count once, through the junction of the embedding relation's schema. A junction of another
   name still is a second candidate. */
Test(catalog_rel, same_junction_seen_from_another_schema_counts_once)
{
    struct dba_err err;
    const struct dba_relationship *r = NULL;

    free(dbat_sql("SET client_min_messages = warning;"
                  "DROP SCHEMA IF EXISTS rel_m CASCADE; CREATE SCHEMA rel_m;"
                  "CREATE VIEW rel_m.books AS SELECT * FROM rel_t.books;"
                  "CREATE VIEW rel_m.tags AS SELECT * FROM rel_t.tags;"
                  "CREATE VIEW rel_m.book_tags AS SELECT * FROM rel_t.book_tags;"));
    struct pg_conn *pg = dba_db_connect_blocking(getenv("DBA_TEST_DATABASE_URL"), 10, &err);
    cr_assert(pg != NULL, "%s", err.msg);
    const char *schemas[] = { "rel_m", "rel_t" };
    struct dba_catalog *c = dba_catalog_load(pg, schemas, 2, &err);
    cr_assert(c != NULL, "%s", err.msg);

    r = one(c, "books", "tags", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2M);
    cr_expect_str_eq(r->junction->schema, "rel_t");
    cr_expect(!r->junction->is_view);
    r = one(c, "books", "tags", "book_tags");
    cr_expect_str_eq(r->junction->schema, "rel_t");
    const struct dba_table *mb = dba_catalog_table_find(c, "rel_m", "books");
    cr_assert(mb != NULL);
    cr_assert_eq(dba_catalog_relationship_find(c, mb, "tags", NULL, &r, &err), DBA_OK, "%s %s",
                 err.msg, err.detail);
    cr_expect_str_eq(r->junction->schema, "rel_m", "the view junction of the same schema");
    cr_expect_str_eq(r->target->schema, "rel_m");

    /* a junction of another name is a real alternative */
    dba_catalog_unref(c);
    free(dbat_sql("CREATE VIEW rel_t.book_tags_v AS SELECT * FROM rel_t.book_tags"));
    c = dba_catalog_load(pg, schemas, 2, &err);
    cr_assert(c != NULL, "%s", err.msg);
    cr_expect_neq(dba_catalog_relationship_find(c, tbl(c, "books"), "tags", NULL, &r, &err),
                  DBA_OK);
    cr_expect_eq(err.http_status, 300);
    json_t *d = json_loads(err.detail, 0, NULL);
    cr_assert(d != NULL, "%s", err.detail);
    cr_expect_eq(json_array_size(d), 2, "%s", err.detail);
    json_decref(d);
    cr_expect_str_eq(err.hint, "Try changing 'tags' to one of the following: 'tags!book_tags', "
                               "'tags!book_tags_v'. Find the desired relationship in the "
                               "'details' key.");
    dba_catalog_unref(c);
    dba_db_close(pg);
    free(dbat_sql("DROP VIEW rel_t.book_tags_v; DROP SCHEMA rel_m CASCADE"));
}
