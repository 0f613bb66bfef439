/* test_bulk.c - bulk update by key (PATCH <base>/t with an array body and no filters) and
   nested inserts (POST with keys naming relationships), on the fixture tests/fixtures/tx.sql
   (schema txs), reloaded before every test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "harness.h"

/* Reloads tests/fixtures/tx.sql (drops and recreates schema txs). */
void dbat_tx_fixture(void);

void
dbat_tx_fixture(void)
{
    dbat_fixture("tx.sql");
}

static void
start(void)
{
    dbat_tx_fixture();
    dbat_server_start_conf(NULL, NULL, "\"txs\"", NULL);
}

TestSuite(bulk, .init = start, .fini = dbat_server_stop);

static struct dbat_resp *
send(const char *method, const char *path, const char *body, const char *prefer)
{
    const char *h[3] = { "Content-Type: application/json", prefer, NULL };
    return dbat_req(method, path, h, body);
}

/* The table as JSON text ordered by its key (heap). */
static char *
rows(const char *sql)
{
    return dbat_sql(sql);
}

static void
expect_rows(const char *sql, const char *want)
{
    char *got = rows(sql);
    json_t *j = json_loads(got ? got : "null", JSON_DECODE_ANY, NULL);
    cr_expect(dbat_json_eq(j, want), "got %s, want %s", got, want);
    json_decref(j);
    free(got);
}

#define STOCK "SELECT json_agg(s ORDER BY id) FROM txs.stock s"

Test(bulk, partial_columns_per_element)
{
    dbat_tx_fixture();
    struct dbat_resp *r = send("PATCH", "/tables/stock",
                               "[{\"id\":1,\"qty\":11},{\"id\":2,\"note\":null},"
                               "{\"id\":3,\"qty\":33,\"note\":\"x\"}]",
                               "Prefer: return=representation");
    cr_expect_str_eq(dbat_header(r, "Unmatched-Count"), "0");
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-2/*");
    dbat_expect(r, 200, NULL);
    /* absent = unchanged, null = NULL, every other column untouched */
    expect_rows(STOCK, "[{\"id\":1,\"code\":\"a\",\"qty\":11,\"note\":\"n1\"},"
                       "{\"id\":2,\"code\":\"b\",\"qty\":20,\"note\":null},"
                       "{\"id\":3,\"code\":\"c\",\"qty\":33,\"note\":\"x\"},"
                       "{\"id\":4,\"code\":\"d\",\"qty\":40,\"note\":null}]");
}

Test(bulk, representation_with_select)
{
    dbat_tx_fixture();
    dbat_expect(send("PATCH", "/tables/stock?select=id,qty",
                "[{\"id\":2,\"qty\":2},{\"id\":1,\"qty\":1}]", "Prefer: return=representation"),
           200, "[{\"id\":1,\"qty\":1},{\"id\":2,\"qty\":2}]");
}

Test(bulk, representation_with_embed)
{
    dbat_tx_fixture();
    dbat_expect(send("PATCH", "/tables/authors?select=name,publishers(name)",
                "[{\"id\":1,\"name\":\"Max Brod\"}]", "Prefer: return=representation"),
           200, "[{\"name\":\"Max Brod\",\"publishers\":{\"name\":\"Wolff\"}}]");
}

Test(bulk, on_conflict_key_and_columns)
{
    dbat_tx_fixture();
    /* the key is the unique code; columns= restricts the change to qty (note is ignored) */
    struct dbat_resp *r = send("PATCH", "/tables/stock?on_conflict=code&columns=qty",
                               "[{\"code\":\"c\",\"qty\":3,\"note\":\"ignored\"},"
                               "{\"code\":\"d\",\"qty\":4}]", NULL);
    dbat_expect(r, 204, NULL);
    expect_rows("SELECT json_agg(json_build_array(code, qty, note) ORDER BY id) FROM txs.stock",
                "[[\"a\",10,\"n1\"],[\"b\",20,\"n2\"],[\"c\",3,\"n3\"],[\"d\",4,null]]");
}

Test(bulk, non_matching_counted_not_inserted)
{
    dbat_tx_fixture();
    struct dbat_resp *r = send("PATCH", "/tables/stock",
                               "[{\"id\":1,\"qty\":7},{\"id\":98,\"qty\":1},{\"id\":99,\"qty\":1}]",
                               NULL);
    cr_expect_str_eq(dbat_header(r, "Unmatched-Count"), "2");
    cr_expect_str_eq(dbat_header(r, "Content-Range"), "0-0/*");
    dbat_expect(r, 204, NULL);
    expect_rows("SELECT json_agg(json_build_array(id, qty) ORDER BY id) FROM txs.stock",
                "[[1,7],[2,20],[3,30],[4,40]]");
}

Test(bulk, strict_refuses_and_changes_nothing)
{
    dbat_tx_fixture();
    struct dbat_resp *r = send("PATCH", "/tables/stock",
                               "[{\"id\":1,\"qty\":7},{\"id\":99,\"qty\":1}]",
                               "Prefer: handling=strict");
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "DBA404");
    dbat_expect(r, 404, NULL);
    expect_rows("SELECT json_agg(qty ORDER BY id) FROM txs.stock", "[10,20,30,40]");
}

Test(bulk, max_affected_applies)
{
    dbat_tx_fixture();
    struct dbat_resp *r = send("PATCH", "/tables/stock",
                               "[{\"id\":1,\"qty\":7},{\"id\":2,\"qty\":7}]",
                               "Prefer: handling=strict, max-affected=1");
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST124");
    dbat_expect(r, 400, NULL);
    expect_rows("SELECT json_agg(qty ORDER BY id) FROM txs.stock", "[10,20,30,40]");
}

Test(bulk, every_element_carries_the_key)
{
    dbat_tx_fixture();
    struct dbat_resp *r = send("PATCH", "/tables/stock", "[{\"id\":1,\"qty\":7},{\"qty\":1}]",
                               NULL);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST102");
    dbat_expect(r, 400, NULL);
    r = send("PATCH", "/tables/stock?on_conflict=code", "[{\"id\":1,\"qty\":7}]", NULL);
    dbat_expect(r, 400, NULL);
    expect_rows("SELECT json_agg(qty ORDER BY id) FROM txs.stock", "[10,20,30,40]");
}

Test(bulk, object_body_unfiltered_still_refused)
{
    dbat_tx_fixture();
    dbat_expect(send("PATCH", "/tables/stock", "{\"qty\":1}", NULL), 400,
           "{\"code\":\"21000\",\"details\":null,\"hint\":null,"
           "\"message\":\"UPDATE requires a WHERE clause\"}");
}

Test(bulk, unknown_column_is_pgrst204)
{
    dbat_tx_fixture();
    struct dbat_resp *r = send("PATCH", "/tables/stock", "[{\"id\":1,\"nope\":7}]", NULL);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST204");
    dbat_expect(r, 400, NULL);
}

/* ---- nested inserts ---- */

TestSuite(nested, .init = start, .fini = dbat_server_stop);

Test(nested, to_many_children_get_the_generated_key)
{
    dbat_tx_fixture();
    dbat_expect(send("POST", "/tables/authors?select=name,books(title)&books.order=title",
                "{\"name\":\"Kafka\",\"books\":[{\"title\":\"The Castle\"},{\"title\":\"Amerika\"}]}",
                "Prefer: return=representation"),
           201, "[{\"name\":\"Kafka\",\"books\":[{\"title\":\"Amerika\"},{\"title\":\"The Castle\"}]}]");
    expect_rows("SELECT json_agg(json_build_array(a.name, b.title) ORDER BY b.title) FROM "
                "txs.books b JOIN txs.authors a ON a.id = b.author_id",
                "[[\"Kafka\",\"Amerika\"],[\"Kafka\",\"The Castle\"]]");
}

Test(nested, to_one_parent_first)
{
    dbat_tx_fixture();
    dbat_expect(send("POST", "/tables/books?select=title,authors(name)",
                "{\"title\":\"Amerika\",\"authors\":{\"name\":\"Kafka\"}}",
                "Prefer: return=representation"),
           201, "[{\"title\":\"Amerika\",\"authors\":{\"name\":\"Kafka\"}}]");
}

Test(nested, three_levels_and_arrays_of_parents)
{
    dbat_tx_fixture();
    dbat_expect(send("POST", "/tables/publishers?select=name,authors(name,books(title,chapters(no)))",
                "[{\"name\":\"P1\",\"authors\":[{\"name\":\"A1\",\"books\":[{\"title\":\"B1\","
                "\"chapters\":[{\"no\":1}]}]}]},{\"name\":\"P2\",\"authors\":[]}]",
                "Prefer: return=representation"),
           201, "[{\"name\":\"P1\",\"authors\":[{\"name\":\"A1\",\"books\":[{\"title\":\"B1\","
                "\"chapters\":[{\"no\":1}]}]}]},{\"name\":\"P2\",\"authors\":[]}]");
}

Test(nested, hint_names_the_foreign_key)
{
    dbat_tx_fixture();
    dbat_expect(send("POST", "/tables/authors",
                "{\"name\":\"K\",\"books!books_author_id_fkey\":[{\"title\":\"T\"}]}", NULL),
           201, NULL);
    expect_rows("SELECT json_agg(title) FROM txs.books", "[\"T\"]");
}

Test(nested, failure_rolls_back_the_tree)
{
    dbat_tx_fixture();
    struct dbat_resp *r = send("POST", "/tables/authors",
                               "{\"name\":\"K\",\"books\":[{\"title\":\"ok\"},"
                               "{\"title\":\"bad\",\"pages\":-1}]}", NULL);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "23514");
    dbat_expect(r, 400, NULL);
    expect_rows("SELECT json_build_array((SELECT count(*) FROM txs.authors), "
                "(SELECT count(*) FROM txs.books))", "[1,0]");
}

Test(nested, unknown_key_is_still_pgrst204)
{
    dbat_tx_fixture();
    struct dbat_resp *r = send("POST", "/tables/authors",
                               "{\"name\":\"K\",\"nope\":[{\"title\":\"T\"}]}", NULL);
    cr_expect_str_eq(json_string_value(json_object_get(r->json, "code")), "PGRST204");
    dbat_expect(r, 400, NULL);
}
