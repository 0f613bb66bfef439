/* query_int.h - declarations shared by the SQL builder's files (sql*.c) only. */
#ifndef DBA_QUERY_INT_H
#define DBA_QUERY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "query/query.h"

/* Alias of the row source in every outer SELECT. */
#define SQL_ROW "_t"
/* The column of a scalar call's value (sql_call.c). */
#define SQL_CALL_SCALAR "pgrst_scalar"
/* Name of the CTE holding a call's result rows (sql_call.c). */
#define SQL_CALL_CTE "pgrst_call"
/* Name of the CTE holding the page (reads) or the RETURNING rows (writes). */
#define SQL_SOURCE "pgrst_source"
/* Name of the RETURNING column flagging rows inserted (not updated) by an upsert. */
#define SQL_INSERTED "pgrst_inserted"

/* How an unknown column is reported. */
enum sql_colref {
    SQL_REF_QUERY, /* select/filter/order/on_conflict: 400 42703 "column t.c does not exist" */
    SQL_REF_BODY,  /* body key or columns= entry: 400 PGRST204 "Could not find the 'c' column..." */
};

/* Deepest nesting of scopes (the root and its embedded children). */
#define SQL_MAX_SCOPES 16

/* One scope: a node of the query tree read from its relation under an alias. Column references
   in a scope are qualified by its alias, so a child scope can reference its parent's columns. */
struct sql_scope {
    const struct dba_rel *rel; /* the node */
    const struct dba_table *t; /* its relation */
    const char *qual;          /* the quoted relation name "schema"."table" */
    const char *alias;         /* the quoted alias the relation is read under, "table" or
                                  "name_<n>" for children */
};

/* State of one build; lives on dba_query_sql_build's stack. The current scope's fields are
   copied into rel/t/qual/alias; the enclosing ones wait on the stack outer[0..depth). */
struct sql_ctx {
    const struct dba_query *q; /* the request */
    struct dba_arena *a;       /* request arena: params and temporary strings */
    struct dba_err *err;       /* filled on failure */
    const struct dba_rel *rel; /* current scope: its node */
    const struct dba_table *t; /* current scope: its relation */
    const char *qual;          /* current scope: "schema"."table" */
    const char *alias;         /* current scope: quoted alias */
    struct sql_scope outer[SQL_MAX_SCOPES]; /* enclosing scopes, innermost last */
    size_t depth;              /* number of enclosing scopes */
    size_t n_aliases;          /* child aliases generated so far (name_1, name_2, ...) */
    const char **params;       /* bound values so far (arena) */
    size_t n_params;           /* count */
    size_t cap_params;         /* allocated slots */
    struct dba_buf pre;        /* a nested insert's first statement (sql_nested.c), or empty */
    const char **pre_params;   /* its parameters */
    size_t n_pre_params;       /* count */
    const char *count_plan;    /* see dba_sql.count_plan (sql_read.c) */
    size_t count_plan_params;  /* its parameters: the first ones */
    const char *with_cte;      /* a call's row source: "pgrst_call AS MATERIALIZED (...)", put
                                  first in the read's WITH list (sql_call.c), else NULL */
};

/* sql.c: scopes, parameters, column lookup, response body. */
const char *dba__sql_qual(struct dba_arena *a, const char *schema, const char *name);
const char *dba__sql_ident(struct dba_arena *a, const char *name);
void dba__sql_scope_enter(struct sql_ctx *c, const struct dba_rel *rel, const struct dba_table *t,
                          const char *alias);
void dba__sql_scope_leave(struct sql_ctx *c);
size_t dba__sql_param_add(struct sql_ctx *c, const char *v);
void dba__sql_param_put(struct sql_ctx *c, struct dba_buf *b, const char *v);
/* The column `name` of the current scope's relation; for select/filter/order (SQL_REF_QUERY) also
   a computed column (its `function` set). NULL with c->err when unknown. */
const struct dba_column *dba__sql_column(struct sql_ctx *c, const char *name, enum sql_colref ref);
/* Appends a reference to col of the current scope read under qual: qual."col", or for a computed
   column "s"."f"(<the scope's row>). */
void dba__sql_column_ref(struct sql_ctx *c, struct dba_buf *b, const struct dba_column *col,
                         const char *qual);
/* Appends the whole row of the scope read under alias from qual (relation t) as a value of t's
   row type: alias.*, or for a CTE (a call's rows, a write's RETURNING rows under SQL_SOURCE)
   ROW(alias."c1", ...)::"s"."t". */
void dba__sql_row_arg(struct dba_buf *b, const char *alias, const char *qual,
                      const struct dba_table *t);
bool dba__sql_type_is_json(const struct dba_column *col);
void dba__sql_body(struct sql_ctx *c, struct dba_buf *b);
void dba__sql_count_checks(struct dba_buf *b, bool singular, long max_affected);

/* Which conditions a node's WHERE holds besides its filters (a filter on an embed, `rel=is.null`,
   is always an EXISTS test on the embed's rows). */
enum sql_where {
    SQL_WHERE_FILTERS, /* the filters only (the WHERE of an UPDATE / DELETE) */
    SQL_WHERE_ROWS,    /* + EXISTS for !inner children that are not read (`rel!inner()`): the
                          others are INNER JOIN LATERAL subqueries of the same SELECT */
    SQL_WHERE_ALL,     /* + EXISTS for every !inner child (a node tested without reading it) */
};

/* A select list being written: entries, the LATERAL joins of children, and with aggregates the
   GROUP BY entries (output positions, or expressions for JSON values, which have no equality). */
struct sql_list {
    struct dba_buf *b;     /* the select list */
    struct dba_buf *joins; /* LATERAL joins of child nodes, placed after the FROM item */
    struct dba_buf *group; /* " GROUP BY ..." entries (grouped only) */
    bool grouped;          /* the node has aggregates: every entry is one column */
    size_t n;              /* entries written so far */
};

/* sql_expr.c: the pieces every statement shares; each returns DBA_OK or an error in c->err. */
DBA_MUSTCHECK int dba__sql_expr_field(struct sql_ctx *c, struct dba_buf *b,
                                      const struct dba_field *f, const char *qual, bool cmp);
DBA_MUSTCHECK int dba__sql_expr_where(struct sql_ctx *c, struct dba_buf *b, enum sql_where mode);
/* The select list of the current node over qual into l (l->b, l->joins, l->group set by the
   caller; the rest is filled here). expand_star lists the cached columns instead of qual.*. */
DBA_MUSTCHECK int dba__sql_expr_select(struct sql_ctx *c, struct sql_list *l, const char *qual,
                                       bool expand_star);
DBA_MUSTCHECK int dba__sql_expr_order(struct sql_ctx *c, struct dba_buf *b);
/* Output name of a select item (its alias, the last key of its JSON path, ...), or NULL when the
   column's own name is used. */
const char *dba__sql_item_name(const struct dba_select_item *it);
/* Starts the next entry of l (", " after the first); returns its output position (1-based). */
size_t dba__sql_list_next(struct sql_list *l);
/* Appends a GROUP BY entry: the position pos, or (expr != NULL) that expression. */
void dba__sql_list_group(struct sql_list *l, size_t pos, const char *expr);

/* sql_bulk.c: arrays of at least SQL_BULK_ROWS rows are inserted column-wise through unnest(). */
#define SQL_BULK_ROWS 64
/* Appends "unnest($i::text[])::<type>, ..." for the body's rows and
   binds one text[] per column; false (nothing appended or bound) when the body cannot take this
   path (escaped keys), so the caller falls back to json_populate_recordset. */
bool dba__sql_bulk_rows(struct sql_ctx *c, struct dba_buf *b, const struct dba_column *const *wc,
                        size_t n);

/* sql_read.c / sql_write.c: whole statements, and the reads of child nodes. */
DBA_MUSTCHECK int dba__sql_read_build(struct sql_ctx *c, struct dba_buf *b, long max_rows);
/* Appends the entries of a child node to l and its LATERAL join to l->joins. */
DBA_MUSTCHECK int dba__sql_read_child(struct sql_ctx *c, struct sql_list *l,
                                      const struct dba_select_item *it);
/* Appends "EXISTS (SELECT 1 FROM <child> WHERE <correlation> AND <its conditions>)" for the child
   node r of the current node. */
DBA_MUSTCHECK int dba__sql_read_exists(struct sql_ctx *c, struct dba_buf *b,
                                       const struct dba_rel *r);
/* Appends " AND EXISTS (...)" for the !inner children of the current node: those not read
   (filter_only) when unread is set, the read ones when read is set. */
DBA_MUSTCHECK int dba__sql_read_inner(struct sql_ctx *c, struct dba_buf *b, bool unread,
                                      bool read);
/* ORDER BY term of a related order (order=rel(col)): the to-one child's column. */
DBA_MUSTCHECK int dba__sql_read_related_order(struct sql_ctx *c, struct dba_buf *b,
                                              const struct dba_order_item *o);
DBA_MUSTCHECK int dba__sql_write_build(struct sql_ctx *c, struct dba_buf *b);
/* sql_nested.c: the nested insert of q->nested into c->pre / c->pre_params (every object one
   INSERT ... RETURNING CTE), and the main statement's row source: appends the SELECT reading
   the top-level rows back from pgrst.nested_rows to b. */
DBA_MUSTCHECK int dba__sql_nested_build(struct sql_ctx *c, struct dba_buf *b);
/* sql_nested.c: whether name is a relationship key of an object of table t in q->nested. */
bool dba__sql_nested_is_key(const struct dba_query *q, const struct dba_table *t,
                            const char *name);
/* sql_call.c: a function call (q->call), read as the root scope's row source. */
DBA_MUSTCHECK int dba__sql_call_build(struct sql_ctx *c, struct dba_buf *b, long max_rows);
/* sql_read.c: the page of q: offset and limit (-1 = none) from limit/offset, Range, max_rows. */
void dba__sql_read_range(const struct dba_query *q, long max_rows, long *off, long *lim);

#endif
