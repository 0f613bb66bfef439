/* sql_read.c - SQL builder: GET and HEAD statements. */
#include <limits.h>

#include "query/query_int.h"

/* The page: limit/offset and the Range header intersect (PostgREST's RangeQuery), then
 * max_rows caps the size. *lim is -1 when unlimited. */
static void
read_range(const struct dba_query *q, long max_rows, long *off, long *lim)
{
    long lo = q->offset > 0 ? q->offset : 0;
    long hi = LONG_MAX; /* inclusive upper bound */

    if (q->limit >= 0)
        hi = q->limit > LONG_MAX - lo ? LONG_MAX : lo + q->limit - 1;
    if (q->range_from >= 0) {
        if (q->range_from > lo)
            lo = q->range_from;
        if (q->range_to >= 0 && q->range_to < hi)
            hi = q->range_to;
    }
    *off = lo;
    if (hi == LONG_MAX)
        *lim = -1;
    else
        *lim = hi < lo ? 0 : hi - lo + 1;
    if (max_rows > 0 && (*lim < 0 || *lim > max_rows))
        *lim = max_rows;
}

/* count=planned without a filter uses the planner's row count of the table when it has been
 * analysed; everything else counts exactly. */
static void
read_total(struct sql_ctx *c, struct dba_buf *b, const struct dba_buf *where)
{
    enum dba_count n = c->q->prefer.count;
    bool planned = n == DBA_COUNT_PLANNED && where->len == 0 && !c->t->is_view;

    if (n == DBA_COUNT_NONE) {
        dba_buf_puts(b, "NULL::bigint");
        return;
    }
    if (planned) {
        dba_buf_puts(b, "coalesce((SELECT CASE WHEN pgrst_c.reltuples >= 0 THEN "
                        "pgrst_c.reltuples::bigint END FROM pg_catalog.pg_class pgrst_c "
                        "WHERE pgrst_c.oid = ");
        dba_buf_put_literal(b, c->qual);
        dba_buf_puts(b, "::regclass), ");
    }
    dba_buf_printf(b, "(SELECT count(*) FROM %s", c->qual);
    if (where->len)
        dba_buf_printf(b, " WHERE %s", where->data);
    dba_buf_putc(b, ')');
    if (planned)
        dba_buf_putc(b, ')');
}

static int
read_source(struct sql_ctx *c, struct dba_buf *b, const struct dba_buf *where, long max_rows)
{
    long off, lim;

    dba_buf_puts(b, "WITH " SQL_SOURCE " AS (SELECT ");
    if (dba__sql_expr_select(c, b, c->qual, false) != DBA_OK)
        return c->err->code;
    dba_buf_printf(b, " FROM %s", c->qual);
    if (where->len)
        dba_buf_printf(b, " WHERE %s", where->data);
    if (c->q->n_order) {
        dba_buf_puts(b, " ORDER BY ");
        if (dba__sql_expr_order(c, b) != DBA_OK)
            return c->err->code;
    }
    read_range(c->q, max_rows, &off, &lim);
    if (lim >= 0)
        dba_buf_printf(b, " LIMIT %ld", lim);
    if (off > 0)
        dba_buf_printf(b, " OFFSET %ld", off);
    dba_buf_putc(b, ')');
    return DBA_OK;
}

int
dba__sql_read_build(struct sql_ctx *c, struct dba_buf *b, long max_rows)
{
    struct dba_buf where;
    int rc;

    /* The filters come first so the count subquery can repeat their text with the same $n. */
    dba_buf_init(&where);
    rc = dba__sql_expr_where(c, &where);
    if (rc == DBA_OK)
        rc = read_source(c, b, &where, max_rows);
    if (rc != DBA_OK) {
        dba_buf_cleanup(&where);
        return rc;
    }
    dba_buf_puts(b, " SELECT ");
    read_total(c, b, &where);
    dba_buf_puts(b, " AS total, count(*) AS page_total, ");
    dba__sql_body(c, b);
    dba_buf_puts(b, " AS body, NULL::text AS location, NULL::bigint AS inserted"
                    DBA_SQL_RESPONSE_GUCS " FROM "
                    SQL_SOURCE " " SQL_ROW);
    dba_buf_cleanup(&where);
    return DBA_OK;
}
