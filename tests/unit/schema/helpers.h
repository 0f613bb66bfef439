/* helpers.h - builds schema documents (as introspect.c makes them) for the schema unit tests. */
#ifndef DBAT_SCHEMA_HELPERS_H
#define DBAT_SCHEMA_HELPERS_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schema/schema.h"

/* A column: name, type, nullable, default (or NULL). */
static inline json_t *
col(const char *name, const char *type, bool nullable, const char *def)
{
    return json_pack("{s:s,s:s,s:b,s:s?,s:n,s:n,s:b}", "name", name, "type", type, "nullable",
                     nullable, "default", def, "identity", "generated", "serial", 0);
}

/* A table in schema public; extra (may be NULL) is JSON merged in (primary_key, lists...). */
static inline json_t *
tbl(const char *name, json_t *cols, const char *extra)
{
    json_t *t = json_pack("{s:s,s:s,s:s,s:o,s:n,s:[],s:[],s:[],s:[]}", "schema", "public", "name",
                          name, "kind", "table", "columns", cols, "primary_key", "uniques",
                          "foreign_keys", "checks", "indexes");
    if (extra != NULL) {
        json_error_t e;
        json_t *x = json_loads(extra, 0, &e);
        cr_assert(x != NULL, "bad extra JSON: %s (%s)", extra, e.text);
        json_object_update(t, x);
        json_decref(x);
    }
    return t;
}

/* A schema document from tables (steals them), NULL-terminated. */
static inline json_t *
sdoc(json_t *first, ...)
{
    json_t *tables = json_object();
    va_list ap;

    va_start(ap, first);
    for (json_t *t = first; t != NULL; t = va_arg(ap, json_t *)) {
        char key[256];
        snprintf(key, sizeof(key), "%s.%s", json_string_value(json_object_get(t, "schema")),
                 json_string_value(json_object_get(t, "name")));
        json_object_set_new(tables, key, t);
    }
    va_end(ap);
    return json_pack("{s:[s],s:o}", "schemas", "public", "tables", tables);
}

static inline json_t *
fk(const char *name, const char *col_name, const char *ref_table, const char *ref_col)
{
    char def[512];
    snprintf(def, sizeof(def), "FOREIGN KEY (%s) REFERENCES public.%s(%s)", col_name, ref_table,
             ref_col);
    return json_pack("{s:s,s:[s],s:s,s:s,s:[s],s:s,s:s,s:s}", "name", name, "columns", col_name,
                     "ref_schema", "public", "ref_table", ref_table, "ref_columns", ref_col,
                     "on_update", "NO ACTION", "on_delete", "NO ACTION", "definition", def);
}

static inline json_t *
with_fk(json_t *t, json_t *f)
{
    json_array_append_new(json_object_get(t, "foreign_keys"), f);
    return t;
}

#endif
