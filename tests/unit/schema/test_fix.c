/* test_fix.c - the fix plan (src/schema/fix.c): order, exact statements, refusals. */
#include "helpers.h"

static json_t *
plan_for(json_t *e, json_t *l, const json_t *nonempty)
{
    json_t *r = dba_schema_diff(e, l);
    json_t *p = dba_schema_fix_plan(r, e, nonempty);
    json_decref(r);
    return p;
}

static const char *
sql_at(const json_t *plan, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(plan, "statements"), i), "sql"));
}

static size_t
n_stmts(const json_t *plan)
{
    return json_array_size(json_object_get(plan, "statements"));
}

static json_t *
idtable(const char *name)
{
    return tbl(name, json_pack("[o,o]", col("id", "integer", false, NULL),
                               col("ref", "integer", true, NULL)), NULL);
}

Test(fix, parents_are_created_before_children)
{
    /* a_child -> b_mid -> c_root: alphabetical order is the wrong order. */
    json_t *e = sdoc(with_fk(idtable("a_child"), fk("a_fk", "ref", "b_mid", "id")),
                     with_fk(idtable("b_mid"), fk("b_fk", "ref", "c_root", "id")),
                     idtable("c_root"), NULL);
    json_t *l = sdoc(NULL);
    json_t *p = plan_for(e, l, NULL);

    cr_assert_eq(n_stmts(p), 3);
    cr_expect(strncmp(sql_at(p, 0), "CREATE TABLE \"public\".\"c_root\"", 30) == 0, "%s", sql_at(p, 0));
    cr_expect(strncmp(sql_at(p, 1), "CREATE TABLE \"public\".\"b_mid\"", 29) == 0, "%s", sql_at(p, 1));
    cr_expect(strncmp(sql_at(p, 2), "CREATE TABLE \"public\".\"a_child\"", 31) == 0, "%s", sql_at(p, 2));
    cr_expect(strstr(sql_at(p, 2), "CONSTRAINT \"a_fk\" FOREIGN KEY (ref) REFERENCES public.b_mid(id)"));
    cr_expect(json_is_true(json_object_get(p, "ok")));
    json_decref(p);
    json_decref(e);
    json_decref(l);
}

Test(fix, exact_create_table_text)
{
    json_t *c = col("id", "integer", false, "nextval('public.t_id_seq'::regclass)");
    json_object_set_new(c, "serial", json_true());
    json_t *e = sdoc(tbl("t", json_pack("[o,o]", c, col("Name", "text", false, "'x'::text")),
                         "{\"primary_key\": {\"name\": \"t_pkey\", \"columns\": [\"id\"],"
                         " \"definition\": \"PRIMARY KEY (id)\"}}"), NULL);
    json_t *l = sdoc(NULL);
    json_t *p = plan_for(e, l, NULL);

    cr_assert_eq(n_stmts(p), 1);
    cr_expect_str_eq(sql_at(p, 0), "CREATE TABLE \"public\".\"t\" (\n    \"id\" serial,\n"
                                   "    \"Name\" text DEFAULT 'x'::text NOT NULL,\n"
                                   "    CONSTRAINT \"t_pkey\" PRIMARY KEY (id)\n)");
    json_decref(p);
    json_decref(e);
    json_decref(l);
}

Test(fix, a_foreign_key_cycle_is_closed_after_the_creates)
{
    json_t *e = sdoc(with_fk(idtable("x"), fk("x_fk", "ref", "y", "id")),
                     with_fk(idtable("y"), fk("y_fk", "ref", "x", "id")), NULL);
    json_t *l = sdoc(NULL);
    json_t *p = plan_for(e, l, NULL);

    cr_assert_eq(n_stmts(p), 3);
    cr_expect(strncmp(sql_at(p, 0), "CREATE TABLE", 12) == 0);
    cr_expect(strncmp(sql_at(p, 1), "CREATE TABLE", 12) == 0);
    cr_expect(strstr(sql_at(p, 2), "ALTER TABLE") == sql_at(p, 2), "%s", sql_at(p, 2));
    cr_expect(strstr(sql_at(p, 2), "ADD CONSTRAINT") != NULL);
    json_decref(p);
    json_decref(e);
    json_decref(l);
}

Test(fix, columns_then_constraints_then_indexes_never_a_drop)
{
    json_t *et = with_fk(tbl("t", json_pack("[o,o,o]", col("id", "integer", false, NULL),
                                            col("p", "integer", true, NULL),
                                            col("flag", "boolean", false, "true")),
                             "{\"indexes\": [{\"name\": \"t_p_idx\", \"unique\": false,"
                             " \"method\": \"btree\", \"columns\": [\"p\"], \"predicate\": null,"
                             " \"constraint\": null,"
                             " \"definition\": \"CREATE INDEX t_p_idx ON public.t USING btree (p)\"}]}"),
                         fk("t_p_fkey", "p", "parent", "id"));
    json_t *e = sdoc(et, idtable("parent"), NULL);
    json_t *l = sdoc(tbl("t", json_pack("[o,o]", col("id", "integer", false, NULL),
                                        col("extra", "text", true, NULL)), NULL),
                     idtable("parent"), NULL);
    json_t *ne = json_pack("[s]", "public.t");
    json_t *p = plan_for(e, l, ne);

    cr_assert_eq(n_stmts(p), 4);
    cr_expect_str_eq(sql_at(p, 0), "ALTER TABLE \"public\".\"t\" ADD COLUMN \"p\" integer");
    cr_expect_str_eq(sql_at(p, 1),
                     "ALTER TABLE \"public\".\"t\" ADD COLUMN \"flag\" boolean DEFAULT true NOT NULL");
    cr_expect_str_eq(sql_at(p, 2), "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_p_fkey\" "
                                   "FOREIGN KEY (p) REFERENCES public.parent(id)");
    cr_expect_str_eq(sql_at(p, 3), "CREATE INDEX t_p_idx ON public.t USING btree (p)");
    for (size_t i = 0; i < n_stmts(p); i++)
        cr_expect(strstr(sql_at(p, i), "DROP") == NULL);
    cr_expect_eq(json_array_size(json_object_get(p, "not_fixed")), 1, "the extra column is kept");
    json_t *touched = dba_schema_fix_touched(p, json_object_get(p, "report"));
    cr_expect_eq(json_array_size(touched), 1);
    json_decref(touched);
    json_decref(p);
    json_decref(ne);
    json_decref(e);
    json_decref(l);
}

Test(fix, not_null_without_default_on_a_table_with_rows_is_refused)
{
    json_t *e = sdoc(tbl("t", json_pack("[o,o]", col("id", "integer", false, NULL),
                                        col("must", "text", false, NULL)), NULL), NULL);
    json_t *l = sdoc(tbl("t", json_pack("[o]", col("id", "integer", false, NULL)), NULL), NULL);
    json_t *ne = json_pack("[s]", "public.t");
    json_t *p = plan_for(e, l, ne);

    cr_expect(json_is_false(json_object_get(p, "ok")));
    cr_expect_eq(n_stmts(p), 0);
    const json_t *r = json_array_get(json_object_get(p, "refused"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(r, "column")), "must");
    cr_expect_eq(json_array_size(json_object_get(r, "choices")), 3);
    json_decref(p);
    /* The same column on an empty table is fine. */
    p = plan_for(e, l, NULL);
    cr_expect(json_is_true(json_object_get(p, "ok")));
    cr_expect_str_eq(sql_at(p, 0), "ALTER TABLE \"public\".\"t\" ADD COLUMN \"must\" text NOT NULL");
    json_decref(p);
    json_decref(ne);
    json_decref(e);
    json_decref(l);
}

Test(fix, type_mismatch_is_reported_not_changed)
{
    json_t *e = sdoc(tbl("t", json_pack("[o]", col("a", "integer", true, NULL)), NULL), NULL);
    json_t *l = sdoc(tbl("t", json_pack("[o]", col("a", "text", true, NULL)), NULL), NULL);
    json_t *p = plan_for(e, l, NULL);

    cr_expect_eq(n_stmts(p), 0);
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(p, "not_fixed"), 0), "what")),
                     "type mismatch");
    json_decref(p);
    json_decref(e);
    json_decref(l);
}
