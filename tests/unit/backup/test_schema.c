/* test_schema.c - backup schema: parsing the original's JSON shape, ordering, cycles, filter. */
#include <criterion/criterion.h>
#include <string.h>

#include "backup/backup.h"

static struct dba_backup_schema *
parse(const char *text, struct dba_err *err)
{
    json_t *j = json_loads(text, 0, NULL);
    cr_assert(j != NULL);
    struct dba_backup_schema *s = dba_backup_schema_from_json(j, err);
    json_decref(j);
    return s;
}

Test(backup_schema, defaults_of_the_original)
{
    struct dba_err err;
    struct dba_backup_schema *s = parse("{\"tables\":[{\"name\":\"categories\"}]}", &err);
    cr_assert(s != NULL, "%s", err.msg);
    cr_expect_str_eq(s->tables[0].pk, "id");
    cr_expect_str_eq(s->tables[0].slug, "slug");
    cr_expect_null(s->tables[0].user_field);
    dba_backup_schema_free(s);
}

Test(backup_schema, children_are_moved_after_parents_stably)
{
    struct dba_err err;
    struct dba_backup_schema *s = parse(
        "{\"tables\":[{\"name\":\"c\",\"parent\":{\"table\":\"b\",\"field\":\"b_id\"}},"
        "{\"name\":\"x\"},{\"name\":\"b\",\"optional_refs\":[{\"table\":\"a\",\"field\":\"a\"}]},"
        "{\"name\":\"a\",\"optional_refs\":[{\"table\":\"a\",\"field\":\"self\"}]}]}", &err);
    cr_assert(s != NULL, "%s", err.msg);
    cr_expect_str_eq(s->tables[0].name, "x");
    cr_expect_str_eq(s->tables[1].name, "a");
    cr_expect_str_eq(s->tables[2].name, "b");
    cr_expect_str_eq(s->tables[3].name, "c");
    dba_backup_schema_free(s);
}

Test(backup_schema, cycle_is_named)
{
    struct dba_err err;
    struct dba_backup_schema *s = parse(
        "{\"tables\":[{\"name\":\"a\",\"parent\":{\"table\":\"b\",\"field\":\"b\"}},"
        "{\"name\":\"b\",\"parent\":{\"table\":\"a\",\"field\":\"a\"}}]}", &err);
    cr_assert_null(s);
    cr_expect(strstr(err.msg, "a -> b -> a") != NULL, "%s", err.msg);
}

Test(backup_schema, filter_warns_about_missing_parent)
{
    struct dba_err err;
    struct dba_backup_schema *s = parse(
        "{\"tables\":[{\"name\":\"p\"},{\"name\":\"c\",\"parent\":{\"table\":\"p\",\"field\":"
        "\"p_id\"}}]}", &err);
    json_t *w = json_array();
    cr_assert_eq(dba_backup_schema_filter(s, "c", w, &err), DBA_OK);
    cr_expect_eq(s->n, 1);
    cr_expect_eq(json_array_size(w), 1);
    cr_expect_eq(dba_backup_schema_filter(s, "nope", w, &err), DBA_EINVAL);
    json_decref(w);
    dba_backup_schema_free(s);
}
