/* sql_read.c - SQL builder: GET and HEAD statements, and the reads of embedded child nodes.
 *
 * A read renders its node in a scope: the relation is always aliased (the root by its own name,
 * children by a generated name_<n>), every column reference is qualified by the scope's alias.
 * A child node becomes a correlated LATERAL subquery joined in its parent's FROM:
 *   SELECT ..., coalesce("c_1".pgrst_agg, '[]') AS "c" FROM "s"."t" AS "t"
 *     LEFT JOIN LATERAL (SELECT json_agg("c_1") AS pgrst_agg FROM (SELECT ... FROM "s"."c" AS "c_1"
 *       WHERE "c_1"."t_id" = "t"."id" AND (<child filters>) ORDER BY ... LIMIT ...) AS "c_1")
 *     AS "c_1" ON TRUE
 * (INNER JOIN ... ON "c_1".pgrst_agg IS NOT NULL for !inner; json_agg(...)->0 for a to-one
 * child). Parameters are numbered in the order they are bound across all scopes. */
#include <limits.h>
#include <string.h>

#include "query/query_int.h"

/* Bytes of a relation name kept in a child's generated alias (PostgreSQL's limit is 63). */
#define SQL_ALIAS_NAME_MAX 48

/* The page: limit/offset and the Range header intersect (PostgREST's RangeQuery), then
 * max_rows caps the size. *lim is -1 when unlimited. */
void
dba__sql_read_range(const struct dba_query *q, long max_rows, long *off, long *lim)
{
    long lo = q->rel.offset > 0 ? q->rel.offset : 0;
    long hi = LONG_MAX; /* inclusive upper bound */

    if (q->rel.limit >= 0)
        hi = q->rel.limit > LONG_MAX - lo ? LONG_MAX : lo + q->rel.limit - 1;
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
    bool planned = n == DBA_COUNT_PLANNED && where->len == 0 && !c->t->is_view &&
                   c->with_cte == NULL; /* a call's rows have no planner count */

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
    dba_buf_printf(b, "(SELECT count(*) FROM %s AS %s", c->qual, c->alias);
    if (where->len)
        dba_buf_printf(b, " WHERE %s", where->data);
    dba_buf_putc(b, ')');
    if (planned)
        dba_buf_putc(b, ')');
}

/* A child's correlation with its parent scope: "c_1"."fk" = "t"."id" [AND ...]. */
static int
read_join_cond(struct sql_ctx *c, struct dba_buf *b)
{
    const struct sql_scope *parent = &c->outer[c->depth - 1];

    for (size_t i = 0; i < c->rel->n_join; i++) {
        const struct dba_column *cc = dba__sql_column(c, c->rel->child_cols[i], SQL_REF_QUERY);
        const struct dba_column *pc = c->rel->parent_cols[i]
                                          ? dba_catalog_column_find(parent->t,
                                                                    c->rel->parent_cols[i])
                                          : NULL;

        if (!cc)
            return c->err->code;
        if (!pc)
            return dba_err_set(c->err, DBA_ENOTFOUND, 400, "42703", "column %s.%s does not exist",
                               parent->t->name,
                               c->rel->parent_cols[i] ? c->rel->parent_cols[i] : "");
        dba_buf_printf(b, "%s%s.", i ? " AND " : "", c->alias);
        dba_buf_put_ident(b, cc->name);
        dba_buf_printf(b, " = %s.", parent->alias);
        dba_buf_put_ident(b, pc->name);
    }
    return DBA_OK;
}

/* The rows of the current scope's node: SELECT <items> FROM <qual> AS <alias> <laterals>
 * [WHERE <correlation> AND (<filters>)] [GROUP BY] [ORDER BY] [LIMIT] [OFFSET].
 * where holds the node's filters already rendered (the root shares them with the count), or is
 * NULL to render them here; either way they are bound before the select list. */
static int
read_rows(struct sql_ctx *c, struct dba_buf *b, const struct dba_buf *where, long lim, long off)
{
    bool child = c->depth > 0, grouped = false;
    struct dba_buf own, joins;
    int rc;

    dba_buf_init(&own);
    dba_buf_init(&joins);
    rc = where ? DBA_OK : dba__sql_expr_where(c, &own);
    if (!where)
        where = &own;
    if (rc == DBA_OK) {
        dba_buf_puts(b, "SELECT ");
        rc = dba__sql_expr_select(c, b, c->alias, false, &joins, &grouped);
    }
    if (rc == DBA_OK) {
        dba_buf_printf(b, " FROM %s AS %s", c->qual, c->alias);
        if (joins.len)
            dba_buf_puts(b, joins.data);
        if (child) {
            dba_buf_puts(b, " WHERE ");
            rc = read_join_cond(c, b);
            if (where->len)
                dba_buf_printf(b, " AND (%s)", where->data);
        } else if (where->len) {
            dba_buf_printf(b, " WHERE %s", where->data);
        }
    }
    if (rc == DBA_OK && grouped)
        rc = dba__sql_expr_group_by(c, b);
    if (rc == DBA_OK && c->rel->n_order) {
        dba_buf_puts(b, " ORDER BY ");
        rc = dba__sql_expr_order(c, b);
    }
    if (rc == DBA_OK && lim >= 0)
        dba_buf_printf(b, " LIMIT %ld", lim);
    if (rc == DBA_OK && off > 0)
        dba_buf_printf(b, " OFFSET %ld", off);
    dba_buf_cleanup(&own);
    dba_buf_cleanup(&joins);
    return rc;
}

static int
read_child_error(struct sql_ctx *c, const struct dba_rel *r)
{
    dba_err_set(c->err, DBA_EINVAL, 400, "PGRST200",
                "Could not find a relationship between '%s' and '%s' in the schema cache",
                c->t->name, r && r->name ? r->name : "");
    return DBA_EINVAL;
}

/* "name_<n>", unique in the statement. PostgreSQL cuts identifiers at 63 bytes, so a long name is
 * shortened first (at a UTF-8 character boundary) to keep the counter. */
static const char *
read_child_alias(struct sql_ctx *c, const char *name)
{
    size_t n = strlen(name);

    if (n > SQL_ALIAS_NAME_MAX) {
        n = SQL_ALIAS_NAME_MAX;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    }
    return dba__sql_ident(c->a, dba_arena_printf(c->a, "%.*s_%zu", (int)n, name,
                                                 ++c->n_aliases));
}

int
dba__sql_read_child(struct sql_ctx *c, struct dba_buf *b, struct dba_buf *joins,
                    const struct dba_select_item *it)
{
    const struct dba_rel *r = it->child;
    bool inner;
    const char *alias;
    int rc;

    /* Until relationships are resolved from foreign keys, a child needs its relation and join
       columns filled in by hand. */
    if (!r || !r->table || r->n_join == 0 || !r->parent_cols || !r->child_cols)
        return read_child_error(c, r);
    if (c->depth + 1 >= SQL_MAX_SCOPES)
        return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST100",
                           "embedded resources nest deeper than %d levels", SQL_MAX_SCOPES - 1);
    inner = r->join == DBA_JOIN_INNER;
    alias = read_child_alias(c, r->table->name);
    dba_buf_printf(b, r->to_one ? "%s.pgrst_agg AS " : "coalesce(%s.pgrst_agg, '[]') AS ", alias);
    dba_buf_put_ident(b, r->alias ? r->alias : r->name ? r->name : r->table->name);
    dba_buf_printf(joins, " %s JOIN LATERAL (SELECT json_agg(%s)%s AS pgrst_agg FROM (",
                   inner ? "INNER" : "LEFT", alias, r->to_one ? "->0" : "");
    dba__sql_scope_enter(c, r, r->table, alias);
    rc = read_rows(c, joins, NULL, r->limit, r->offset > 0 ? r->offset : 0);
    dba__sql_scope_leave(c);
    if (rc != DBA_OK)
        return rc;
    dba_buf_printf(joins, ") AS %s) AS %s ON ", alias, alias);
    if (inner)
        dba_buf_printf(joins, "%s.pgrst_agg IS NOT NULL", alias);
    else
        dba_buf_puts(joins, "TRUE");
    return DBA_OK;
}

int
dba__sql_read_build(struct sql_ctx *c, struct dba_buf *b, long max_rows)
{
    struct dba_buf where;
    long off, lim;
    int rc;

    /* The filters come first so the count subquery can repeat their text with the same $n. */
    dba_buf_init(&where);
    rc = dba__sql_expr_where(c, &where);
    if (rc == DBA_OK) {
        dba__sql_read_range(c->q, max_rows, &off, &lim);
        dba_buf_puts(b, "WITH ");
        if (c->with_cte) {
            dba_buf_puts(b, c->with_cte);
            dba_buf_puts(b, ", ");
        }
        dba_buf_puts(b, SQL_SOURCE " AS (");
        rc = read_rows(c, b, &where, lim, off);
        dba_buf_putc(b, ')');
    }
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
