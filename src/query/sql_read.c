/* sql_read.c - SQL builder: GET and HEAD statements, and the reads of embedded child nodes.
 *
 * A read renders its node in a scope: the relation is always aliased (the root by its own name,
 * children by a generated name_<n>), every column reference is qualified by the scope's alias.
 * A child node (relationship resolved from the catalog, or join columns of a hand-built node)
 * becomes a correlated LATERAL subquery joined in its parent's FROM:
 *   to-many:  LEFT JOIN LATERAL (SELECT json_agg("c_1") AS pgrst_agg FROM (SELECT ... FROM
 *             "s"."c" AS "c_1" <its laterals> WHERE "c_1"."t_id" = "t"."id" AND (<filters>)
 *             ORDER BY ... LIMIT ...) AS "c_1") AS "c_1" ON TRUE, output
 *             coalesce("c_1".pgrst_agg, '[]'); !inner: INNER JOIN ... ON "c_1".pgrst_agg IS NOT NULL
 *   to-one:   (SELECT row_to_json("c_1") AS pgrst_agg FROM (...) AS "c_1"), output the object or
 *             NULL; no aggregate, so PostgreSQL pulls it up into a plain (hash) join
 *   M2M:      the child's FROM is "s"."c" AS "c_1" INNER JOIN "s"."junction" AS "j_2" ON
 *             "j_2"."c_id" = "c_1"."id", correlated by "j_2"."t_id" = "t"."id"
 *   spread:   to-one: the lateral is the child's rows and its columns are the parent's; to-many:
 *             one json_agg per column (HAVING count(*) > 0 for !inner)
 * Nested JSON stays json (never text or jsonb in between), so each level is serialised once.
 * `rel()` children are not read: `rel!inner()` and `rel=[not.]is.null` filters are [NOT] EXISTS
 * tests in the parent's WHERE. The count repeats the page's WHERE (same $n) plus an EXISTS for each
 * !inner child the page joins. Related order (order=rel(col), to-one only) is a correlated scalar
 * subquery in ORDER BY. Parameters are numbered in the order they are bound across all scopes. */
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
 * analysed; with filters (or on a view) the planner's estimate of the filtered rows, from
 * c->count_plan run beside the statement (its total is then NULL); everything else counts
 * exactly. */
static void
read_total(struct sql_ctx *c, struct dba_buf *b, const struct dba_buf *where)
{
    enum dba_count n = c->q->prefer.count;
    bool planned = n == DBA_COUNT_PLANNED && where->len == 0 && !c->t->is_view &&
                   c->with_cte == NULL; /* a call's rows have no planner count */

    if (n == DBA_COUNT_NONE || c->count_plan) {
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

/* How a child node's rows relate to its parent's: parent.pcols[i] = child.ccols[i], or for a
 * many-to-many relationship through a junction: parent.pcols[i] = junction.jcols[i] and
 * junction.jtcols[j] = child.tcols[j]. */
struct read_link {
    const char *const *pcols;  /* parent columns */
    const char *const *ccols;  /* child columns (not M2M) */
    size_t n;                  /* count of pcols (and ccols / jcols) */
    const struct dba_table *junction; /* M2M: the junction relation, else NULL */
    const char *const *jcols;  /* M2M: junction columns equal to pcols */
    const char *const *jtcols; /* M2M: junction columns equal to tcols */
    const char *const *tcols;  /* M2M: child columns */
    size_t nt;                 /* M2M: count of jtcols / tcols */
    bool to_one;               /* the child is one object (many-to-one, one-to-one) */
    const struct dba_function *fn; /* a computed relationship: the child's rows are fn(<the
                                      parent's row>), no columns to correlate */
};

static int
read_child_error(struct sql_ctx *c, const struct dba_rel *r)
{
    dba_err_set(c->err, DBA_EINVAL, 400, "PGRST200",
                "Could not find a relationship between '%s' and '%s' in the schema cache",
                c->t->name, r && r->name ? r->name : "");
    return DBA_EINVAL;
}

/* The child's relation: the resolved one, else the relationship's target. */
static const struct dba_table *
read_child_table(const struct dba_rel *r)
{
    if (r->table)
        return r->table;
    return r->relationship ? r->relationship->target : NULL;
}

/* The link of child r of the current scope: from its resolved relationship, else from the join
 * columns of a hand-built node. */
static int
read_link_of(struct sql_ctx *c, const struct dba_rel *r, struct read_link *k)
{
    const struct dba_relationship *rs = r ? r->relationship : NULL;

    memset(k, 0, sizeof(*k));
    if (!r || !read_child_table(r))
        return read_child_error(c, r);
    if (rs && rs->function) {
        k->fn = rs->function;
        k->to_one = rs->card == DBA_CARD_M2O || rs->card == DBA_CARD_O2O;
        return DBA_OK;
    }
    if (rs) {
        k->pcols = rs->cols;
        k->n = rs->n_cols;
        k->to_one = rs->card == DBA_CARD_M2O || rs->card == DBA_CARD_O2O;
        if (rs->card == DBA_CARD_M2M) {
            k->junction = rs->junction;
            k->jcols = rs->junction_cols;
            k->jtcols = rs->junction_target_cols;
            k->tcols = rs->target_cols;
            k->nt = rs->n_target_cols;
            if (!k->junction || !k->jcols || !k->jtcols || !k->tcols || k->nt == 0)
                return read_child_error(c, r);
        } else {
            k->ccols = rs->target_cols;
        }
    } else {
        k->pcols = r->parent_cols;
        k->ccols = r->child_cols;
        k->n = r->n_join;
        k->to_one = r->to_one;
    }
    if (k->n == 0 || !k->pcols || (!k->junction && !k->ccols))
        return read_child_error(c, r);
    return DBA_OK;
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

/* Checks the link of child r, then enters its scope under a new alias. */
static int
read_enter(struct sql_ctx *c, const struct dba_rel *r, struct read_link *k)
{
    const struct dba_table *t;

    if (read_link_of(c, r, k) != DBA_OK)
        return c->err->code;
    if (c->depth + 1 >= SQL_MAX_SCOPES)
        return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST100",
                           "embedded resources nest deeper than %d levels", SQL_MAX_SCOPES - 1);
    t = read_child_table(r);
    dba__sql_scope_enter(c, r, t, read_child_alias(c, t->name));
    return DBA_OK;
}

static int
read_no_column(struct sql_ctx *c, const struct dba_table *t, const char *name)
{
    dba_err_set(c->err, DBA_ENOTFOUND, 400, "42703", "column %s.%s does not exist", t->name,
                name ? name : "");
    memcpy(c->err->sqlstate, "42703", 6);
    return DBA_ENOTFOUND;
}

/* "<qual> AS <alias>" of the current (child) scope; for M2M followed by the junction:
 * " INNER JOIN <junction> AS <jalias> ON <jalias>.jt = <alias>.t ...". *jalias is the junction's
 * alias, or NULL. */
static int
read_from(struct sql_ctx *c, struct dba_buf *b, const struct read_link *k, const char **jalias)
{
    *jalias = NULL;
    if (k->fn) {
        const struct sql_scope *parent = &c->outer[c->depth - 1];

        dba_buf_printf(b, "%s(", dba__sql_qual(c->a, k->fn->schema, k->fn->name));
        dba__sql_row_arg(b, parent->alias, parent->qual, parent->t);
        dba_buf_printf(b, ") AS %s", c->alias);
        return DBA_OK;
    }
    dba_buf_printf(b, "%s AS %s", c->qual, c->alias);
    if (!k->junction)
        return DBA_OK;
    *jalias = read_child_alias(c, k->junction->name);
    dba_buf_printf(b, " INNER JOIN %s AS %s ON ",
                   dba__sql_qual(c->a, k->junction->schema, k->junction->name), *jalias);
    for (size_t i = 0; i < k->nt; i++) {
        const struct dba_column *jc = k->jtcols[i] ? dba_catalog_column_find(k->junction,
                                                                             k->jtcols[i])
                                                   : NULL;
        const struct dba_column *tc = dba__sql_column(c, k->tcols[i], SQL_REF_QUERY);

        if (!tc)
            return c->err->code;
        if (!jc)
            return read_no_column(c, k->junction, k->jtcols[i]);
        dba_buf_printf(b, "%s%s.", i ? " AND " : "", *jalias);
        dba_buf_put_ident(b, jc->name);
        dba_buf_printf(b, " = %s.", c->alias);
        dba_buf_put_ident(b, tc->name);
    }
    return DBA_OK;
}

/* A child's correlation with its parent scope: "c_1"."fk" = "t"."id" [AND ...] (for M2M the
 * junction's columns). */
static int
read_join_cond(struct sql_ctx *c, struct dba_buf *b, const struct read_link *k,
               const char *jalias)
{
    const struct sql_scope *parent = &c->outer[c->depth - 1];

    if (k->fn) {
        /* the function's argument is the correlation; a function returning one row (not SETOF)
           gives a row of NULLs when it finds none, which is no row */
        if (k->fn->ret_set)
            dba_buf_puts(b, "TRUE");
        else
            dba_buf_printf(b, "NOT (%s IS NULL)", c->alias);
        return DBA_OK;
    }
    for (size_t i = 0; i < k->n; i++) {
        const char *cn = k->junction ? k->jcols[i] : k->ccols[i];
        const struct dba_column *cc, *pc;

        if (k->junction) {
            cc = cn ? dba_catalog_column_find(k->junction, cn) : NULL;
            if (!cc)
                return read_no_column(c, k->junction, cn);
        } else if (!(cc = dba__sql_column(c, cn, SQL_REF_QUERY))) {
            return c->err->code;
        }
        pc = k->pcols[i] ? dba_catalog_column_find(parent->t, k->pcols[i]) : NULL;
        if (!pc)
            return read_no_column(c, parent->t, k->pcols[i]);
        dba_buf_printf(b, "%s%s.", i ? " AND " : "", jalias ? jalias : c->alias);
        dba_buf_put_ident(b, cc->name);
        dba_buf_printf(b, " = %s.", parent->alias);
        dba_buf_put_ident(b, pc->name);
    }
    return DBA_OK;
}

/* FROM and WHERE of the current child scope: "<from> WHERE <correlation> [AND (<cond>)]", the
 * node's conditions rendered in the given mode; joins (LATERAL joins of its own children, or
 * NULL) go between the two. */
static int
read_child_from_where(struct sql_ctx *c, struct dba_buf *b, const struct read_link *k,
                      const struct dba_buf *joins, const struct dba_buf *where)
{
    const char *jalias;

    dba_buf_puts(b, " FROM ");
    if (read_from(c, b, k, &jalias) != DBA_OK)
        return c->err->code;
    if (joins && joins->len)
        dba_buf_puts(b, joins->data);
    dba_buf_puts(b, " WHERE ");
    if (read_join_cond(c, b, k, jalias) != DBA_OK)
        return c->err->code;
    if (where->len)
        dba_buf_printf(b, " AND (%s)", where->data);
    return DBA_OK;
}

/* The rows of the current scope's node: SELECT <items> FROM <qual> AS <alias> <laterals>
 * [WHERE <correlation> AND (<filters>)] [GROUP BY] [ORDER BY] [LIMIT] [OFFSET].
 * k is the link of a child scope (NULL for the root). where holds the node's conditions already
 * rendered (the root shares them with the count), or is NULL to render them here; either way they
 * are bound before the select list. */
static int
read_rows(struct sql_ctx *c, struct dba_buf *b, const struct read_link *k,
          const struct dba_buf *where, long lim, long off)
{
    struct dba_buf own, joins, group;
    struct sql_list l = { .joins = &joins, .group = &group };
    int rc;

    dba_buf_init(&own);
    dba_buf_init(&joins);
    dba_buf_init(&group);
    rc = where ? DBA_OK : dba__sql_expr_where(c, &own, SQL_WHERE_ROWS);
    if (!where)
        where = &own;
    if (rc == DBA_OK) {
        dba_buf_puts(b, "SELECT ");
        l.b = b;
        rc = dba__sql_expr_select(c, &l, c->alias, false);
    }
    if (rc == DBA_OK && k) {
        rc = read_child_from_where(c, b, k, &joins, where);
    } else if (rc == DBA_OK) {
        dba_buf_printf(b, " FROM %s AS %s", c->qual, c->alias);
        if (joins.len)
            dba_buf_puts(b, joins.data);
        if (where->len)
            dba_buf_printf(b, " WHERE %s", where->data);
    }
    if (rc == DBA_OK && group.len)
        dba_buf_puts(b, group.data);
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
    dba_buf_cleanup(&group);
    return rc;
}

/* Output names of node r read from t, in order (a spread child lifts these into its parent). */
static void
read_names(const struct dba_rel *r, const struct dba_table *t, const char ***names, size_t *n,
           size_t *cap, struct dba_arena *a)
{
    const struct dba_select_item *items = r->select;
    size_t n_items = r->n_select;
    struct dba_select_item star = { .kind = DBA_ITEM_STAR };

    if (n_items == 0) {
        items = &star;
        n_items = 1;
    }
    for (size_t i = 0; i < n_items; i++) {
        const struct dba_select_item *it = &items[i];
        const char *one = NULL;
        size_t add = 1;

        switch (it->kind) {
        case DBA_ITEM_STAR:
            add = t->n_cols;
            break;
        case DBA_ITEM_COLUMN:
            one = dba__sql_item_name(it);
            one = one ? one : it->field.name;
            break;
        case DBA_ITEM_AGG:
            one = it->alias ? it->alias
                            : (const char *const[]){ "count", "sum", "avg", "min", "max" }[it->agg];
            break;
        case DBA_ITEM_CHILD:
            if (!it->child || it->child->filter_only)
                continue;
            if (it->child->spread && read_child_table(it->child)) {
                read_names(it->child, read_child_table(it->child), names, n, cap, a);
                continue;
            }
            one = it->child->alias ? it->child->alias : it->child->name;
            if (!one && read_child_table(it->child))
                one = read_child_table(it->child)->name;
            break;
        }
        if (*n + add > *cap) {
            size_t ncap = (*n + add) * 2;
            const char **p = dba_arena_alloc(a, ncap * sizeof(*p));

            if (*n)
                memcpy(p, *names, *n * sizeof(*p));
            *names = p;
            *cap = ncap;
        }
        if (it->kind == DBA_ITEM_STAR) {
            for (size_t j = 0; j < t->n_cols; j++)
                (*names)[(*n)++] = t->cols[j].name;
        } else {
            (*names)[(*n)++] = one ? one : "";
        }
    }
}

/* The parent's entries of a child read under alias: key is the output key, names the spread
 * child's output names. */
static void
read_child_entries(struct sql_ctx *c, struct sql_list *l, const struct dba_rel *r, bool to_one,
                   const char *alias, const char **names, size_t n_names)
{
    const char *key = r->alias ? r->alias : r->name ? r->name : read_child_table(r)->name;
    size_t pos;

    if (!r->spread) {
        pos = dba__sql_list_next(l);
        if (l->grouped)
            dba_buf_printf(l->b, to_one ? "%s.pgrst_agg::text::json AS "
                                        : "coalesce(%s.pgrst_agg::text, '[]')::json AS ", alias);
        else
            dba_buf_printf(l->b, to_one ? "%s.pgrst_agg AS " : "coalesce(%s.pgrst_agg, '[]') AS ",
                           alias);
        dba_buf_put_ident(l->b, key);
        if (l->grouped)
            dba__sql_list_group(l, pos, dba_arena_printf(c->a, "%s.pgrst_agg::text", alias));
        return;
    }
    for (size_t i = 0; i < n_names; i++) {
        const char *col = dba__sql_ident(c->a, names[i]);

        pos = dba__sql_list_next(l);
        if (to_one) {
            dba_buf_printf(l->b, "%s.%s", alias, col);
            if (l->grouped)
                dba__sql_list_group(l, pos, NULL);
            continue;
        }
        if (l->grouped)
            dba_buf_printf(l->b, "coalesce(%s.%s::text, '[]')::json AS %s", alias, col, col);
        else
            dba_buf_printf(l->b, "coalesce(%s.%s, '[]') AS %s", alias, col, col);
        if (l->grouped)
            dba__sql_list_group(l, pos, dba_arena_printf(c->a, "%s.%s::text", alias, col));
    }
}

int
dba__sql_read_child(struct sql_ctx *c, struct sql_list *l, const struct dba_select_item *it)
{
    const struct dba_rel *r = it->child;
    const char **names = NULL;
    size_t n_names = 0, cap = 0;
    struct read_link k;
    bool inner;
    const char *alias;
    int rc;

    /* rel() is not read: its !inner and is.null tests are EXISTS conditions of the parent. A
       rel() that is neither changes nothing, but its filters are still checked (42703 for an
       unknown column, as PostgREST's unused join would report): built, then discarded. */
    if (r && r->filter_only) {
        size_t n_params = c->n_params, n_aliases = c->n_aliases;
        struct dba_buf scratch;

        if (r->join == DBA_JOIN_INNER)
            return DBA_OK;
        dba_buf_init(&scratch);
        rc = dba__sql_read_exists(c, &scratch, r);
        dba_buf_cleanup(&scratch);
        c->n_params = n_params;
        c->n_aliases = n_aliases;
        return rc;
    }
    if (!l->joins) {
        dba_err_set(c->err, DBA_EINVAL, 400, "PGRST100", "embedded resources are not allowed "
                                                         "here: %s", r && r->name ? r->name : "");
        return DBA_EINVAL;
    }
    if (read_enter(c, r, &k) != DBA_OK)
        return c->err->code;
    alias = c->alias;
    inner = r->join == DBA_JOIN_INNER;
    if (r->spread)
        read_names(r, c->t, &names, &n_names, &cap, c->a);
    dba_buf_printf(l->joins, " %s JOIN LATERAL (", inner ? "INNER" : "LEFT");
    if (!r->spread) {
        dba_buf_printf(l->joins, k.to_one ? "SELECT row_to_json(%s) AS pgrst_agg FROM ("
                                          : "SELECT json_agg(%s) AS pgrst_agg FROM (", alias);
    } else if (!k.to_one) {
        dba_buf_puts(l->joins, "SELECT ");
        for (size_t i = 0; i < n_names; i++) {
            const char *col = dba__sql_ident(c->a, names[i]);

            dba_buf_printf(l->joins, "%sjson_agg(%s.%s) AS %s", i ? ", " : "", alias, col, col);
        }
        dba_buf_puts(l->joins, " FROM (");
    }
    rc = read_rows(c, l->joins, &k, NULL, r->limit, r->offset > 0 ? r->offset : 0);
    dba__sql_scope_leave(c);
    if (rc != DBA_OK)
        return rc;
    if (!r->spread || !k.to_one)
        dba_buf_printf(l->joins, ") AS %s", alias);
    if (r->spread && !k.to_one && inner)
        dba_buf_puts(l->joins, " HAVING count(*) > 0");
    dba_buf_printf(l->joins, ") AS %s ON ", alias);
    if (inner && !r->spread && !k.to_one)
        dba_buf_printf(l->joins, "%s.pgrst_agg IS NOT NULL", alias);
    else
        dba_buf_puts(l->joins, "TRUE");
    read_child_entries(c, l, r, k.to_one, alias, names, n_names);
    return DBA_OK;
}

static int
read_not_embedded(struct sql_ctx *c, const char *name)
{
    dba_err_set(c->err, DBA_EINVAL, 400, "PGRST108",
                "'%s' is not an embedded resource in this request", name ? name : "");
    dba_err_hint(c->err, "Verify that '%s' is included in the 'select' query parameter.",
                 name ? name : "");
    return DBA_EINVAL;
}

/* Child r of the current node, or (r NULL) the child whose output key or name is `name`. */
static const struct dba_rel *
read_find_child(const struct sql_ctx *c, const struct dba_rel *r, const char *name)
{
    for (size_t i = 0; i < c->rel->n_select; i++) {
        const struct dba_select_item *it = &c->rel->select[i];

        if (it->kind != DBA_ITEM_CHILD || !it->child)
            continue;
        if (r ? it->child == r
              : name && ((it->child->alias && strcmp(it->child->alias, name) == 0)
                         || (it->child->name && strcmp(it->child->name, name) == 0)))
            return it->child;
    }
    return NULL;
}

int
dba__sql_read_exists(struct sql_ctx *c, struct dba_buf *b, const struct dba_rel *r)
{
    struct dba_buf where;
    struct read_link k;
    int rc;

    if (!r || !read_find_child(c, r, NULL))
        return read_not_embedded(c, r ? (r->alias ? r->alias : r->name) : NULL);
    if (read_enter(c, r, &k) != DBA_OK)
        return c->err->code;
    dba_buf_init(&where);
    rc = dba__sql_expr_where(c, &where, SQL_WHERE_ALL);
    if (rc == DBA_OK) {
        dba_buf_puts(b, "EXISTS (SELECT 1");
        rc = read_child_from_where(c, b, &k, NULL, &where);
    }
    /* An offset (or limit 0) can leave the embed empty; a positive limit cannot. */
    if (rc == DBA_OK && (r->limit == 0 || r->offset > 0)) {
        if (r->limit >= 0)
            dba_buf_printf(b, " LIMIT %ld", r->limit);
        if (r->offset > 0)
            dba_buf_printf(b, " OFFSET %ld", r->offset);
    }
    if (rc == DBA_OK)
        dba_buf_putc(b, ')');
    dba__sql_scope_leave(c);
    dba_buf_cleanup(&where);
    return rc;
}

int
dba__sql_read_inner(struct sql_ctx *c, struct dba_buf *b, bool unread, bool read)
{
    for (size_t i = 0; i < c->rel->n_select; i++) {
        const struct dba_rel *r = c->rel->select[i].child;

        if (c->rel->select[i].kind != DBA_ITEM_CHILD || !r || r->join != DBA_JOIN_INNER)
            continue;
        if (!(r->filter_only ? unread : read))
            continue;
        dba_buf_puts(b, " AND ");
        if (dba__sql_read_exists(c, b, r) != DBA_OK)
            return c->err->code;
    }
    return DBA_OK;
}

int
dba__sql_read_related_order(struct sql_ctx *c, struct dba_buf *b, const struct dba_order_item *o)
{
    const struct dba_rel *r = read_find_child(c, o->rel_node, o->rel);
    struct dba_buf where;
    struct read_link k;
    int rc;

    if (!r)
        return read_not_embedded(c, o->rel);
    if (read_link_of(c, r, &k) != DBA_OK)
        return c->err->code;
    if (!k.to_one) {
        const char *name = o->rel ? o->rel : r->alias ? r->alias : r->name;

        dba_err_set(c->err, DBA_EINVAL, 400, "PGRST118",
                    "A related order on '%s' is not possible", name ? name : "");
        dba_err_detail(c->err, "'%s' and '%s' do not form a many-to-one or one-to-one "
                               "relationship", c->t->name, r->name ? r->name : "");
        return DBA_EINVAL;
    }
    if (read_enter(c, r, &k) != DBA_OK)
        return c->err->code;
    dba_buf_init(&where);
    /* The child's own row (its filters, not its limit) under the parent's correlation. */
    rc = dba__sql_expr_where(c, &where, SQL_WHERE_ALL);
    if (rc == DBA_OK) {
        dba_buf_puts(b, "(SELECT ");
        rc = dba__sql_expr_field(c, b, &o->field, c->alias, true);
    }
    if (rc == DBA_OK)
        rc = read_child_from_where(c, b, &k, NULL, &where);
    if (rc == DBA_OK)
        dba_buf_puts(b, " LIMIT 1)");
    dba__sql_scope_leave(c);
    dba_buf_cleanup(&where);
    return rc;
}

/* Has node r a read !inner child (whose EXISTS test the count adds to the filters)? */
static bool
read_has_inner(const struct dba_rel *r)
{
    for (size_t i = 0; i < r->n_select; i++) {
        const struct dba_rel *k = r->select[i].kind == DBA_ITEM_CHILD ? r->select[i].child : NULL;

        if (k && k->join == DBA_JOIN_INNER && !k->filter_only)
            return true;
    }
    return false;
}

int
dba__sql_read_build(struct sql_ctx *c, struct dba_buf *b, long max_rows)
{
    struct dba_buf where, count;
    long off, lim;
    int rc;

    /* The filters come first so the count subquery can repeat their text with the same $n (and
       a planned count's EXPLAIN can take the first parameters only). */
    dba_buf_init(&where);
    dba_buf_init(&count);
    rc = dba__sql_expr_where(c, &where, SQL_WHERE_ROWS);
    if (rc == DBA_OK && c->q->prefer.count == DBA_COUNT_PLANNED && c->with_cte == NULL &&
        (where.len || c->t->is_view) && !read_has_inner(c->rel)) {
        c->count_plan = dba_arena_printf(c->a, "EXPLAIN (FORMAT JSON) SELECT 1 FROM %s AS %s%s%s",
                                         c->qual, c->alias, where.len ? " WHERE " : "",
                                         where.len ? where.data : "");
        c->count_plan_params = c->n_params;
    }
    if (rc == DBA_OK) {
        dba__sql_read_range(c->q, max_rows, &off, &lim);
        dba_buf_puts(b, "WITH ");
        if (c->with_cte) {
            dba_buf_puts(b, c->with_cte);
            dba_buf_puts(b, ", ");
        }
        dba_buf_puts(b, SQL_SOURCE " AS (");
        rc = read_rows(c, b, NULL, &where, lim, off);
        dba_buf_putc(b, ')');
    }
    /* The count holds the !inner children the page joins as EXISTS tests. */
    if (rc == DBA_OK && c->q->prefer.count != DBA_COUNT_NONE)
        rc = dba__sql_read_inner(c, &count, false, true);
    if (rc != DBA_OK) {
        dba_buf_cleanup(&where);
        dba_buf_cleanup(&count);
        return rc;
    }
    if (count.len) {
        struct dba_buf both;

        dba_buf_init(&both);
        if (where.len)
            dba_buf_printf(&both, c->rel->where.kind == DBA_L_OR && !c->rel->where.negate
                                      ? "(%s)%s" : "%s%s", where.data, count.data);
        else
            dba_buf_puts(&both, count.data + 5); /* without the leading " AND " */
        dba_buf_cleanup(&count);
        count = both;
    }
    dba_buf_puts(b, " SELECT ");
    read_total(c, b, count.len ? &count : &where);
    dba_buf_puts(b, " AS total, count(*) AS page_total, ");
    dba__sql_body(c, b);
    dba_buf_puts(b, " AS body, NULL::text AS location, NULL::bigint AS inserted"
                    DBA_SQL_RESPONSE_GUCS " FROM "
                    SQL_SOURCE " " SQL_ROW);
    dba_buf_cleanup(&where);
    dba_buf_cleanup(&count);
    return DBA_OK;
}
