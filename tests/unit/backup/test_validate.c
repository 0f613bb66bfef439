/* test_validate.c - validate-backup rules on documents. */
#include <criterion/criterion.h>
#include <string.h>

#include "backup/backup.h"

static struct dba_backup_schema *s;

static void
setup(void)
{
    struct dba_err err;
    json_t *j = json_loads("{\"tables\":[{\"name\":\"p\"},{\"name\":\"c\",\"parent\":"
                           "{\"table\":\"p\",\"field\":\"p_id\"}}]}", 0, NULL);
    s = dba_backup_schema_from_json(j, &err);
    json_decref(j);
    cr_assert(s != NULL);
}

static void
teardown(void)
{
    dba_backup_schema_free(s);
}

TestSuite(backup_validate, .init = setup, .fini = teardown);

static json_t *
check(const char *doc)
{
    return dba_backup_validate_text(s, doc, strlen(doc));
}

static bool
has(json_t *v, const char *list, const char *needle)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(v, list), i, e)
        if (strstr(json_string_value(e), needle) != NULL)
            return true;
    return false;
}

Test(backup_validate, valid_document)
{
    json_t *v = check("{\"metadata\":{\"version\":\"1.1\",\"created_at\":\"x\",\"user_id\":null,"
                      "\"backup_type\":\"full\"},\"p\":[{\"id\":1,\"slug\":\"a\"}],"
                      "\"c\":[{\"id\":12345678901234567890,\"slug\":\"b\",\"p_id\":1}]}");
    cr_expect(json_is_true(json_object_get(v, "valid")));
    cr_expect_eq(json_array_size(json_object_get(v, "warnings")), 0);
    json_decref(v);
}

Test(backup_validate, errors_and_warnings)
{
    json_t *v = check("{\"metadata\":{\"version\":\"1.0\"},\"p\":[{\"slug\":\"a\"},{\"id\":0,"
                      "\"slug\":\"z\"},{\"id\":2}],\"c\":[{\"id\":5,\"slug\":\"o\",\"p_id\":9}]}");
    cr_expect(!json_is_true(json_object_get(v, "valid")));
    cr_expect(has(v, "errors", "Unsupported backup version '1.0'"));
    cr_expect(has(v, "errors", "p row missing 'id' field: a"));
    cr_expect(has(v, "errors", "p row has empty 'id': z"));
    cr_expect(has(v, "errors", "p row missing 'slug' field"));
    cr_expect(has(v, "warnings", "Orphaned c 'o': p_id not in backup"));
    cr_expect(has(v, "warnings", "Missing metadata field: created_at"));
    json_decref(v);
}

Test(backup_validate, missing_keys_and_bad_json)
{
    json_t *v = check("{\"p\":[]}");
    cr_expect(has(v, "errors", "Missing required key: metadata"));
    cr_expect(has(v, "errors", "Missing required key: c"));
    json_decref(v);
    v = check("{\"metadata\": {}, \"p\": [ {\"id\": 1,]");
    cr_expect(has(v, "errors", "Invalid JSON"));
    json_decref(v);
}

/* Keys near 2^63 are compared exactly: as doubles, 9223372036854775001 and ...003 are the same
   number and the orphan below would go unnoticed. */
Test(backup_validate, bigint_keys_are_exact)
{
    json_t *v = check("{\"metadata\":{\"version\":\"1.1\",\"created_at\":\"x\",\"user_id\":null,"
                      "\"backup_type\":\"full\"},\"p\":[{\"id\":9223372036854775001,"
                      "\"slug\":\"a\"},{\"id\":9223372036854775002,\"slug\":\"b\"}],"
                      "\"c\":[{\"id\":1,\"slug\":\"ok\",\"p_id\":9223372036854775002},"
                      "{\"id\":2,\"slug\":\"lost\",\"p_id\":9223372036854775003}]}");
    cr_expect(json_is_true(json_object_get(v, "valid")));
    cr_expect(has(v, "warnings", "Orphaned c 'lost'"));
    cr_expect(!has(v, "warnings", "Orphaned c 'ok'"));
    cr_expect_eq(json_array_size(json_object_get(v, "warnings")), 1);
    json_decref(v);
}

/* A table of the document that the schema does not have is reported, not silently dropped. */
Test(backup_validate, unknown_table_is_reported)
{
    json_t *v = check("{\"metadata\":{\"version\":\"1.1\",\"created_at\":\"x\",\"user_id\":null,"
                      "\"backup_type\":\"full\"},\"p\":[],\"c\":[],\"ghost\":[{\"id\":1}]}");
    cr_expect(has(v, "warnings", "Table 'ghost' is not in the backup schema"));
    json_decref(v);
}

/* A parent key written as 7.0 (a float in some writers' output) is the key 7. */
Test(backup_validate, integral_float_key_matches_its_integer)
{
    json_t *v = check("{\"metadata\":{\"version\":\"1.1\",\"created_at\":\"x\",\"user_id\":null,"
                      "\"backup_type\":\"full\"},\"p\":[{\"id\":7.0,\"slug\":\"a\"}],"
                      "\"c\":[{\"id\":1,\"slug\":\"ok\",\"p_id\":7},{\"id\":2,\"slug\":\"ok2\","
                      "\"p_id\":7.00}]}");
    cr_expect(json_is_true(json_object_get(v, "valid")));
    cr_expect_eq(json_array_size(json_object_get(v, "warnings")), 0);
    json_decref(v);
}

#include "backup/backup_int.h"

struct spans {
    char out[512]; /* "key=value|" for each member */
};

static int
span_cb(void *arg, const char *key, const char *v, size_t len)
{
    struct spans *sp = arg;
    size_t n = strlen(sp->out);
    snprintf(sp->out + n, sizeof(sp->out) - n, "%s=%.*s|", key, (int)len, v);
    return DBA_OK;
}

/* The scan of text known to be valid delimits every member exactly as the validating scan:
   escaped quotes and backslashes in strings and names, nesting, numbers, spaces. */
Test(backup_validate, scan_of_valid_text_delimits_as_the_validating_scan)
{
    static const char *const docs[] = {
        "{\"a\": \"x\\\\\", \"b\": \"q\\\"}]\\\\\\\"\", \"c\": [1, {\"d\": \"]}\"}, [ ]], "
        "\"e\":-1.5e3 , \"f\" : true,\"g\":null, \"h\\\"k\": {\"i\": {}}}",
        "{}",
        "{\"only\": 12345678901234567890}",
        "[ 1, \"two\", [3], {\"4\": 4} ,null ]",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct spans a = { "" }, b = { "" };
        bool object = docs[i][0] == '{';
        cr_assert_eq(dba__backup_scan(docs[i], strlen(docs[i]), object, span_cb, &a), DBA_OK);
        cr_assert_eq(dba__backup_scan_valid(docs[i], strlen(docs[i]), object, span_cb, &b),
                     DBA_OK);
        cr_expect_str_eq(b.out, a.out, "%s", docs[i]);
    }
}
