/* diff.c - compares an expected schema document with a live one (both from introspect.c).

   Errors (they make the schema invalid): missing tables, missing columns, column type
   mismatches. Warnings: extra tables and columns, nullability and default differences, missing
   constraints (primary key, unique, foreign key, check) and missing indexes. Constraints and
   indexes are matched by what they do (columns, referenced table, definition), not by name, so a
   constraint PostgreSQL named differently is not reported. Pure code. */
#include <string.h>

#include <jansson.h>

#include "schema/schema.h"

static const char *
str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool
str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static const json_t *
column_find(const json_t *table, const char *name)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(table, "columns"), i, c)
        if (str_eq(str(c, "name"), name))
            return c;
    return NULL;
}

static void
push(json_t *report, const char *list, json_t *item)
{
    json_array_append_new(json_object_get(report, list), item);
}

/* Column-level comparison of one table present on both sides. */
static void
diff_columns(json_t *rep, const char *key, const json_t *exp, const json_t *live)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(exp, "columns"), i, c) {
        const char *name = str(c, "name");
        const json_t *lc = column_find(live, name);
        if (lc == NULL) {
            json_t *m = json_deep_copy(c);
            json_object_set_new(m, "table", json_string(key));
            json_object_set_new(m, "column", json_string(name));
            json_object_del(m, "name");
            push(rep, "missing_columns", m);
            continue;
        }
        if (!str_eq(str(c, "type"), str(lc, "type")))
            push(rep, "type_mismatches",
                 json_pack("{s:s,s:s,s:s?,s:s?}", "table", key, "column", name, "expected",
                           str(c, "type"), "actual", str(lc, "type")));
        bool en = json_is_true(json_object_get(c, "nullable"));
        if (en != json_is_true(json_object_get(lc, "nullable")))
            push(rep, "nullability_differences",
                 json_pack("{s:s,s:s,s:s,s:s}", "table", key, "column", name, "expected",
                           en ? "NULL" : "NOT NULL", "actual", en ? "NOT NULL" : "NULL"));
        if (!str_eq(str(c, "default"), str(lc, "default")))
            push(rep, "default_differences",
                 json_pack("{s:s,s:s,s:s?,s:s?}", "table", key, "column", name, "expected",
                           str(c, "default"), "actual", str(lc, "default")));
    }
    json_array_foreach(json_object_get(live, "columns"), i, c)
        if (column_find(exp, str(c, "name")) == NULL)
            push(rep, "extra_columns", json_pack("{s:s,s:s?,s:s?}", "table", key, "column",
                                                 str(c, "name"), "type", str(c, "type")));
}

/* Same effect: same columns (and for foreign keys the same target), same check text. */
static bool
same_member(const json_t *a, const json_t *b, const char *kind)
{
    if (strcmp(kind, "checks") == 0)
        return str_eq(str(a, "definition"), str(b, "definition"));
    if (!json_equal(json_object_get(a, "columns"), json_object_get(b, "columns")))
        return false;
    if (strcmp(kind, "foreign_keys") == 0)
        return str_eq(str(a, "ref_schema"), str(b, "ref_schema")) &&
               str_eq(str(a, "ref_table"), str(b, "ref_table")) &&
               json_equal(json_object_get(a, "ref_columns"), json_object_get(b, "ref_columns"));
    if (strcmp(kind, "indexes") == 0)
        return str_eq(str(a, "method"), str(b, "method")) &&
               str_eq(str(a, "predicate"), str(b, "predicate")) &&
               json_is_true(json_object_get(a, "unique")) ==
                   json_is_true(json_object_get(b, "unique"));
    return true;
}

static bool
has_member(const json_t *list, const json_t *m, const char *kind)
{
    size_t i;
    const json_t *x;

    json_array_foreach(list, i, x)
        if (same_member(m, x, kind))
            return true;
    return false;
}

static json_t *
member_item(const char *key, const char *type, const json_t *m)
{
    json_t *o = json_deep_copy(m);

    json_object_set_new(o, "table", json_string(key));
    if (type != NULL)
        json_object_set_new(o, "type", json_string(type));
    return o;
}

static void
diff_members(json_t *rep, const char *key, const json_t *exp, const json_t *live)
{
    static const struct {
        const char *list;   /* member list in the table document */
        const char *type;   /* constraint type in the report, NULL for indexes */
    } kinds[] = { { "uniques", "unique" }, { "foreign_keys", "foreign key" },
                  { "checks", "check" }, { "indexes", NULL } };
    const json_t *epk = json_object_get(exp, "primary_key");
    const json_t *lpk = json_object_get(live, "primary_key");

    if (json_is_object(epk) && (!json_is_object(lpk) || !same_member(epk, lpk, "primary_key"))) {
        json_t *o = member_item(key, "primary key", epk);
        if (json_is_object(lpk))
            json_object_set_new(o, "conflicts_with", json_string(str(lpk, "name")));
        push(rep, "missing_constraints", o);
    }
    for (size_t k = 0; k < DBA_ARRAY_LEN(kinds); k++) {
        size_t i;
        const json_t *m;
        json_array_foreach(json_object_get(exp, kinds[k].list), i, m) {
            if (kinds[k].type == NULL && !json_is_null(json_object_get(m, "constraint")))
                continue; /* an index behind a constraint comes with the constraint */
            if (!has_member(json_object_get(live, kinds[k].list), m, kinds[k].list))
                push(rep, kinds[k].type ? "missing_constraints" : "missing_indexes",
                     member_item(key, kinds[k].type, m));
        }
    }
}

static json_t *
report_new(void)
{
    static const char *const lists[] = {
        "missing_tables", "missing_columns", "type_mismatches", "extra_tables", "extra_columns",
        "nullability_differences", "default_differences", "missing_constraints",
        "missing_indexes",
    };
    json_t *r = json_object();

    for (size_t i = 0; i < DBA_ARRAY_LEN(lists); i++)
        json_object_set_new(r, lists[i], json_array());
    return r;
}

static size_t
count(const json_t *rep, const char *const *lists, size_t n)
{
    size_t total = 0;

    for (size_t i = 0; i < n; i++)
        total += json_array_size(json_object_get(rep, lists[i]));
    return total;
}

json_t *
dba_schema_diff(const json_t *expected, const json_t *live)
{
    static const char *const errors[] = { "missing_tables", "missing_columns",
                                          "type_mismatches" };
    static const char *const warnings[] = { "extra_tables", "extra_columns",
                                            "nullability_differences", "default_differences",
                                            "missing_constraints", "missing_indexes" };
    const json_t *et = json_object_get(expected, "tables");
    const json_t *lt = json_object_get(live, "tables");
    json_t *rep = report_new();
    const char *key;
    json_t *t;

    json_object_foreach((json_t *)(uintptr_t)et, key, t) {
        const json_t *l = json_object_get(lt, key);
        if (l == NULL) {
            push(rep, "missing_tables", json_string(key));
            continue;
        }
        diff_columns(rep, key, t, l);
        diff_members(rep, key, t, l);
    }
    json_object_foreach((json_t *)(uintptr_t)lt, key, t)
        if (json_object_get(et, key) == NULL)
            push(rep, "extra_tables", json_string(key));
    size_t n_err = count(rep, errors, DBA_ARRAY_LEN(errors));
    json_object_set_new(rep, "valid", json_boolean(n_err == 0));
    json_object_set_new(rep, "error_count", json_integer((json_int_t)n_err));
    json_object_set_new(rep, "warning_count",
                        json_integer((json_int_t)count(rep, warnings, DBA_ARRAY_LEN(warnings))));
    return rep;
}
