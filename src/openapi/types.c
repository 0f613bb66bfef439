/* types.c - PostgreSQL types as OpenAPI types, COMMENTs as summaries and descriptions, column
   defaults as JSON values, and the JSON output helpers of the module. */
#include <stdlib.h>
#include <string.h>

#include "openapi/openapi_int.h"

struct type_row {
    const char *name;   /* format_type() name */
    const char *type;   /* JSON type, NULL = any */
    const char *format; /* format, NULL = the name (Swagger) / none (3.1) */
};

/* PostgREST's table (Swagger), with its int32/int64 formats for the integers. */
static const struct type_row swagger_types[] = {
    { "character varying", "string", NULL }, { "character", "string", NULL },
    { "text", "string", NULL },              { "boolean", "boolean", NULL },
    { "smallint", "integer", "int32" },      { "integer", "integer", "int32" },
    { "bigint", "integer", "int64" },        { "numeric", "number", NULL },
    { "real", "number", NULL },              { "double precision", "number", NULL },
    { "json", NULL, NULL },                  { "jsonb", NULL, NULL },
};

/* OpenAPI 3.1 (JSON Schema formats where one fits). */
static const struct type_row oas_types[] = {
    { "character varying", "string", NULL },
    { "character", "string", NULL },
    { "text", "string", NULL },
    { "citext", "string", NULL },
    { "name", "string", NULL },
    { "boolean", "boolean", NULL },
    { "smallint", "integer", "int32" },
    { "integer", "integer", "int32" },
    { "bigint", "integer", "int64" },
    { "oid", "integer", "int64" },
    { "numeric", "number", NULL },
    { "real", "number", "float" },
    { "double precision", "number", "double" },
    { "money", "string", NULL },
    { "json", NULL, NULL },
    { "jsonb", NULL, NULL },
    { "uuid", "string", "uuid" },
    { "date", "string", "date" },
    { "timestamp with time zone", "string", "date-time" },
    { "timestamp without time zone", "string", NULL },
    { "time with time zone", "string", NULL },
    { "time without time zone", "string", NULL },
    { "interval", "string", NULL },
    { "bytea", "string", NULL },
    { "inet", "string", NULL },
};

static const struct type_row *
type_find(const struct type_row *v, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i].name) == len && strncmp(v[i].name, name, len) == 0)
            return &v[i];
    return NULL;
}

/* One scalar type (name[0..len)). */
static void
scalar_map(const char *name, size_t len, char category, bool swagger, const char **type,
           const char **format)
{
    const struct type_row *r = swagger
        ? type_find(swagger_types, DBA_ARRAY_LEN(swagger_types), name, len)
        : type_find(oas_types, DBA_ARRAY_LEN(oas_types), name, len);

    if (r != NULL) {
        *type = r->type;
        *format = r->format;
        return;
    }
    *format = NULL;
    if (swagger) {
        *type = "string";
        return;
    }
    switch (category) {
    case 'N': *type = "number"; break;
    case 'B': *type = "boolean"; break;
    default: *type = "string"; break;
    }
}

void
dba__openapi_type_map(const char *type, char category, bool swagger, struct dba__openapi_type *out)
{
    size_t len = strlen(type);
    bool array = len > 2 && strcmp(type + len - 2, "[]") == 0;

    memset(out, 0, sizeof(*out));
    if (!array) {
        scalar_map(type, len, category, swagger, &out->type, &out->format);
        if (swagger && out->format == NULL)
            out->format = type;
        return;
    }
    out->type = "array";
    out->format = swagger ? type : NULL;
    scalar_map(type, len - 2, 0, swagger, &out->item_type, &out->item_format);
    if (swagger)
        out->item_format = NULL; /* PostgREST gives the items a type only */
}

void
dba__openapi_comment_split(const char *comment, char **summary, char **description)
{
    *summary = NULL;
    *description = NULL;
    if (comment == NULL)
        return;
    const char *nl = strchr(comment, '\n');
    size_t n = nl ? (size_t)(nl - comment) : strlen(comment);
    *summary = n ? dba_xstrndup(comment, n) : NULL;
    if (nl == NULL)
        return;
    while (*nl == '\n')
        nl++;
    if (*nl != '\0')
        *description = dba_xstrdup(nl);
}

json_t *
dba__openapi_default(const char *type, const char *json_type, const char *expr)
{
    if (expr == NULL)
        return NULL;
    if (json_type != NULL && strcmp(json_type, "string") == 0) {
        size_t len = strlen(expr);
        size_t tl = strlen(type);
        /* 'text'::type: the literal without its cast and quotes ('' is one quote) */
        if (len > tl + 4 && expr[0] == '\'' && strcmp(expr + len - tl, type) == 0 &&
            strncmp(expr + len - tl - 3, "'::", 3) == 0) {
            struct dba_buf b;
            dba_buf_init(&b);
            for (size_t i = 1; i < len - tl - 3; i++) {
                dba_buf_putc(&b, expr[i]);
                if (expr[i] == '\'' && expr[i + 1] == '\'')
                    i++;
            }
            json_t *s = json_stringn(b.data ? b.data : "", b.len);
            dba_buf_cleanup(&b);
            return s;
        }
        return json_string(expr);
    }
    json_t *v = json_loads(expr, JSON_DECODE_ANY, NULL);
    if (v != NULL && (json_is_object(v) || json_is_array(v))) {
        json_decref(v); /* '{}'::json is a string literal, never JSON text */
        return NULL;
    }
    return v;
}

void
dba__openapi_put_json(struct dba_buf *b, json_t *v)
{
    if (v == NULL) { /* a text that was not UTF-8 */
        dba_buf_puts(b, "null");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

    if (s == NULL)
        dba_fatal("out of memory");
    dba_buf_puts(b, s);
    free(s);
    json_decref(v);
}

void
dba__openapi_put_pair(struct dba_buf *b, const char *key, json_t *v)
{
    dba__openapi_put_json(b, json_string(key));
    dba_buf_putc(b, ':');
    dba__openapi_put_json(b, v);
}
