/* fuzz_grammar.c - libFuzzer target: the PostgREST grammar parser on arbitrary query strings,
   Prefer/Accept/Range headers and bodies, the resolution of what parses (against a catalog of
   one table without relationships) and the SQL builder on what resolves. Input layout: fields
   separated by 0x01 bytes: method-byte, query, prefer, accept, range, content-type, body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "query/query.h"
#include "http/grammar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dba_column cols[] = {
    { .name = "id", .type = "integer", .base_type = "integer", .is_pk = true, .position = 1 },
    { .name = "name", .type = "text", .base_type = "text", .nullable = true, .position = 2 },
    { .name = "j", .type = "jsonb", .base_type = "jsonb", .nullable = true, .position = 3 },
    { .name = "tags", .type = "text[]", .base_type = "text[]", .nullable = true, .position = 4 },
    { .name = "a", .type = "integer", .base_type = "integer", .nullable = true,
      .default_expr = "0", .position = 5 },
};
static char *pk[] = { "id" };
static struct dba_table table = { .schema = "public", .name = "t", .insertable = true,
                                  .cols = cols, .n_cols = 5, .pk = pk, .n_pk = 1 };
static char public_schema[] = "public";
static char *schemas[] = { public_schema };
static struct dba_catalog catalog = { .schemas = schemas, .n_schemas = 1, .tables = &table,
                                      .n_tables = 1 };

static const char *
next_field(const char **p, const char *end, struct dba_arena *a)
{
    const char *s = *p;
    const char *e = memchr(s, 1, (size_t)(end - s));
    if (e == NULL)
        e = end;
    *p = e < end ? e + 1 : end;
    return dba_arena_strndup(a, s, (size_t)(e - s));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum dba_method methods[] = { DBA_M_GET, DBA_M_HEAD, DBA_M_POST,
                                               DBA_M_PATCH, DBA_M_PUT, DBA_M_DELETE };
    static bool init;
    if (!init) {
        dba_mem_init();
        init = true;
    }
    if (size < 1)
        return 0;
    struct dba_arena *a = dba_arena_new();
    const char *p = (const char *)data + 1;
    const char *end = (const char *)data + size;
    struct dba_http_req_in in = { .method = methods[data[0] % 6] };
    in.query = next_field(&p, end, a);
    in.prefer = next_field(&p, end, a);
    in.accept = next_field(&p, end, a);
    in.range = next_field(&p, end, a);
    in.content_type = next_field(&p, end, a);
    in.body = next_field(&p, end, a);
    in.body_len = strlen(in.body);
    struct dba_query q;
    struct dba_err err;
    memset(&q, 0, sizeof(q));
    if (dba_http_grammar_parse(a, &in, &q, &err) != DBA_OK) {
        DBA_ASSERT(err.http_status >= 400 && err.http_status < 500);
    } else {
        struct dba_sql sql;
        q.schema = "public";
        q.table = "t";
        if (dba_query_resolve(&q, &catalog, &table, data[0] & 16, &err) != DBA_OK)
            DBA_ASSERT(err.http_status >= 300 && err.http_status < 500);
        else if (dba_query_sql_build(&q, &table, data[0] & 8 ? 100 : 0, a, &sql, &err) == DBA_OK)
            dba_buf_cleanup(&sql.text);
        else
            DBA_ASSERT(err.http_status >= 400 && err.http_status < 500);
    }
    dba_arena_free(a);
    return 0;
}
