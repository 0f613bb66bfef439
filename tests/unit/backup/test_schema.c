/* test_schema.c - backup schema: parsing the original's JSON shape, ordering, cycles, filter. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The typed `backup` group (config/ checks it at load): ordered here, a cycle is a config error
   at backup.tables' line. */
static struct dba_config *
config_from(const char *text)
{
    char path[] = "/tmp/dba-backup-conf-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct dba_config *c = NULL;
    struct dba_err err;
    int rc = dba_config_load(path, true, NULL, &c, &err);
    unlink(path);
    cr_assert_eq(rc, DBA_OK, "%s", err.msg);
    return c;
}

Test(backup_schema, from_typed_config_ordered_and_cycles_named)
{
    struct dba_config *c = config_from(
        "profiles: { a: { url = \"postgresql://localhost/a\"; }; };\n"
        "backup: { tables = (\n"
        "  { name = \"posts\"; parent = { table = \"users\"; field = \"user_id\"; }; },\n"
        "  { name = \"users\"; slug = \"handle\"; } ); };\n");
    struct dba_backup_schema *s = NULL;
    struct dba_err err;
    cr_assert_eq(dba_backup_schema_from_config(c, &s, &err), DBA_OK, "%s", err.msg);
    cr_assert_eq(s->n, 2);
    cr_expect_str_eq(s->tables[0].name, "users");
    cr_expect_str_eq(s->tables[0].slug, "handle");
    cr_expect_str_eq(s->tables[1].parent.field, "user_id");
    dba_backup_schema_free(s);
    dba_config_free(c);

    c = config_from("profiles: { a: { url = \"postgresql://localhost/a\"; }; };\n"
                    "backup: {\n tables = (\n"
                    "  { name = \"a\"; parent = { table = \"b\"; field = \"b_id\"; }; },\n"
                    "  { name = \"b\"; parent = { table = \"a\"; field = \"a_id\"; }; } ); };\n");
    cr_expect_eq(dba_backup_schema_from_config(c, &s, &err), DBA_EINVAL);
    cr_expect_null(s);
    cr_expect(strstr(err.msg, ":3: backup.tables: ") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "a -> b -> a") != NULL || strstr(err.msg, "b -> a -> b") != NULL,
              "%s", err.msg);
    dba_config_free(c);
}
