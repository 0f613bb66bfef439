/* query_int.h - declarations shared by the SQL builder's files (sql*.c) only. */
#ifndef DBA_QUERY_INT_H
#define DBA_QUERY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "query/query.h"

/* Alias of the row source in every outer SELECT. */
#define SQL_ROW "_t"
/* Name of the CTE holding the page (reads) or the RETURNING rows (writes). */
#define SQL_SOURCE "pgrst_source"
/* Name of the RETURNING column flagging rows inserted (not updated) by an upsert. */
#define SQL_INSERTED "pgrst_inserted"

/* How an unknown column is reported. */
enum sql_colref {
    SQL_REF_QUERY, /* select/filter/order/on_conflict: 400 42703 "column t.c does not exist" */
    SQL_REF_BODY,  /* body key or columns= entry: 400 PGRST204 "Could not find the 'c' column..." */
};

/* State of one build; lives on dba_query_sql_build's stack. */
struct sql_ctx {
    const struct dba_query *q; /* the request */
    const struct dba_table *t; /* its relation */
    struct dba_arena *a;       /* request arena: params and temporary strings */
    struct dba_err *err;       /* filled on failure */
    const char *qual;          /* the quoted relation name "schema"."table" */
    const char **params;       /* bound values so far (arena) */
    size_t n_params;           /* count */
    size_t cap_params;         /* allocated slots */
};

/* sql.c: parameters, column lookup, response body. */
size_t dba__sql_param_add(struct sql_ctx *c, const char *v);
void dba__sql_param_put(struct sql_ctx *c, struct dba_buf *b, const char *v);
const struct dba_column *dba__sql_column(struct sql_ctx *c, const char *name, enum sql_colref ref);
bool dba__sql_type_is_json(const struct dba_column *col);
void dba__sql_body(struct sql_ctx *c, struct dba_buf *b);

/* sql_expr.c: the pieces every statement shares; each returns DBA_OK or an error in c->err. */
DBA_MUSTCHECK int dba__sql_expr_field(struct sql_ctx *c, struct dba_buf *b,
                                      const struct dba_field *f, const char *qual, bool cmp);
DBA_MUSTCHECK int dba__sql_expr_where(struct sql_ctx *c, struct dba_buf *b);
DBA_MUSTCHECK int dba__sql_expr_select(struct sql_ctx *c, struct dba_buf *b, const char *qual,
                                       bool expand_star);
DBA_MUSTCHECK int dba__sql_expr_order(struct sql_ctx *c, struct dba_buf *b);

/* sql_bulk.c: arrays of at least SQL_BULK_ROWS rows are inserted column-wise through unnest(). */
#define SQL_BULK_ROWS 64
/* Appends "unnest($i::text[])::<type>, ..." for the body's rows and
   binds one text[] per column; false (nothing appended or bound) when the body cannot take this
   path (escaped keys), so the caller falls back to json_populate_recordset. */
bool dba__sql_bulk_rows(struct sql_ctx *c, struct dba_buf *b, const struct dba_column *const *wc,
                        size_t n);

/* sql_read.c / sql_write.c: whole statements. */
DBA_MUSTCHECK int dba__sql_read_build(struct sql_ctx *c, struct dba_buf *b, long max_rows);
DBA_MUSTCHECK int dba__sql_write_build(struct sql_ctx *c, struct dba_buf *b);

#endif
