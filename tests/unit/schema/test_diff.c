/* test_diff.c - the comparison of an expected schema with a live one (src/schema/diff.c). */
#include "helpers.h"

static json_t *
items(bool with_qty)
{
    json_t *cols = json_pack("[o,o]", col("id", "integer", false, NULL),
                             col("name", "text", false, NULL));
    if (with_qty)
        json_array_append_new(cols, col("qty", "integer", true, "0"));
    return tbl("items", cols, "{\"primary_key\": {\"name\": \"items_pkey\", \"columns\": [\"id\"],"
                              " \"definition\": \"PRIMARY KEY (id)\"}}");
}

static long
n(const json_t *rep, const char *list)
{
    return (long)json_array_size(json_object_get(rep, list));
}

static void
expect_json(const json_t *v, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert(w != NULL, "bad expected JSON %s", want);
    cr_expect(json_equal(v, w), "got %s, want %s", got, want);
    free(got);
    json_decref(w);
}

Test(diff, identical_is_valid_without_warnings)
{
    json_t *e = sdoc(items(true), NULL);
    json_t *l = sdoc(items(true), NULL);
    json_t *r = dba_schema_diff(e, l);

    cr_expect(json_is_true(json_object_get(r, "valid")));
    cr_expect_eq(json_integer_value(json_object_get(r, "error_count")), 0);
    cr_expect_eq(json_integer_value(json_object_get(r, "warning_count")), 0);
    json_decref(r);
    json_decref(e);
    json_decref(l);
}

Test(diff, missing_table_and_column_are_errors_extra_are_warnings)
{
    json_t *e = sdoc(items(true), tbl("tags", json_pack("[o]", col("id", "integer", false, NULL)),
                                      NULL), NULL);
    json_t *live_items = items(false);
    json_array_append_new(json_object_get(live_items, "columns"), col("old", "text", true, NULL));
    json_t *l = sdoc(live_items, tbl("legacy", json_pack("[]"), NULL), NULL);
    json_t *r = dba_schema_diff(e, l);

    cr_expect(json_is_false(json_object_get(r, "valid")));
    expect_json(json_object_get(r, "missing_tables"), "[\"public.tags\"]");
    cr_expect_eq(n(r, "missing_columns"), 1);
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(r, "missing_columns"), 0), "column")),
                     "qty");
    expect_json(json_object_get(r, "extra_tables"), "[\"public.legacy\"]");
    expect_json(json_object_get(r, "extra_columns"),
                "[{\"table\": \"public.items\", \"column\": \"old\", \"type\": \"text\"}]");
    cr_expect_eq(json_integer_value(json_object_get(r, "error_count")), 2);
    cr_expect_eq(json_integer_value(json_object_get(r, "warning_count")), 2);
    json_decref(r);
    json_decref(e);
    json_decref(l);
}

Test(diff, type_is_an_error_nullability_and_default_are_warnings)
{
    json_t *e = sdoc(tbl("t", json_pack("[o,o,o]", col("a", "integer", true, NULL),
                                        col("b", "text", false, NULL),
                                        col("c", "text", true, "'x'::text")), NULL), NULL);
    json_t *l = sdoc(tbl("t", json_pack("[o,o,o]", col("a", "bigint", true, NULL),
                                        col("b", "text", true, NULL), col("c", "text", true, NULL)),
                         NULL), NULL);
    json_t *r = dba_schema_diff(e, l);

    cr_expect(json_is_false(json_object_get(r, "valid")));
    expect_json(json_object_get(r, "type_mismatches"),
                "[{\"table\": \"public.t\", \"column\": \"a\", \"expected\": \"integer\","
                " \"actual\": \"bigint\"}]");
    expect_json(json_object_get(r, "nullability_differences"),
                "[{\"table\": \"public.t\", \"column\": \"b\", \"expected\": \"NOT NULL\","
                " \"actual\": \"NULL\"}]");
    expect_json(json_object_get(r, "default_differences"),
                "[{\"table\": \"public.t\", \"column\": \"c\", \"expected\": \"'x'::text\", \"actual\": null}]");
    json_decref(r);
    json_decref(e);
    json_decref(l);
}

Test(diff, constraints_match_by_effect_not_name)
{
    json_t *e = sdoc(with_fk(items(false), fk("items_a_fkey", "name", "p", "id")), NULL);
    json_t *l = sdoc(with_fk(items(false), fk("other_name", "name", "p", "id")), NULL);
    json_t *r = dba_schema_diff(e, l);

    cr_expect_eq(n(r, "missing_constraints"), 0);
    json_decref(r);
    json_decref(l);
    l = sdoc(with_fk(items(false), fk("items_a_fkey", "name", "q", "id")), NULL);
    r = dba_schema_diff(e, l);
    cr_expect_eq(n(r, "missing_constraints"), 1);
    cr_expect(json_is_true(json_object_get(r, "valid")), "a missing constraint is a warning");
    json_decref(r);
    json_decref(e);
    json_decref(l);
}

Test(diff, missing_primary_key_and_indexes)
{
    const char *ix = "{\"indexes\": [{\"name\": \"t_a_idx\", \"unique\": false, \"method\": \"btree\","
                     " \"columns\": [\"a\"], \"predicate\": null, \"constraint\": null,"
                     " \"definition\": \"CREATE INDEX t_a_idx ON public.t USING btree (a)\"},"
                     " {\"name\": \"t_pkey\", \"unique\": true, \"method\": \"btree\","
                     " \"columns\": [\"id\"], \"predicate\": null, \"constraint\": \"t_pkey\","
                     " \"definition\": \"x\"}],"
                     " \"primary_key\": {\"name\": \"t_pkey\", \"columns\": [\"id\"],"
                     " \"definition\": \"PRIMARY KEY (id)\"}}";
    json_t *e = sdoc(tbl("t", json_pack("[o]", col("a", "integer", true, NULL)), ix), NULL);
    json_t *l = sdoc(tbl("t", json_pack("[o]", col("a", "integer", true, NULL)), NULL), NULL);
    json_t *r = dba_schema_diff(e, l);

    cr_expect_eq(n(r, "missing_indexes"), 1, "the constraint's own index is not reported");
    cr_expect_eq(n(r, "missing_constraints"), 1);
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(r, "missing_constraints"), 0), "type")),
                     "primary key");
    json_decref(r);
    json_decref(e);
    json_decref(l);
}

Test(diff, empty_expected_is_valid)
{
    json_t *e = sdoc(NULL);
    json_t *l = sdoc(items(true), NULL);
    json_t *r = dba_schema_diff(e, l);

    cr_expect(json_is_true(json_object_get(r, "valid")));
    cr_expect_eq(n(r, "extra_tables"), 1);
    json_decref(r);
    json_decref(e);
    json_decref(l);
}
