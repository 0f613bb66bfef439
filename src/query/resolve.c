/* resolve.c - resolution of a parsed query tree against the catalog: every embedded relation
 * gets its relationship, its relation and its join columns; related orders find their to-one
 * embed; filters naming an embed become "has rows" tests; aggregates are checked against the
 * configuration.
 *
 * The steps and their order are PostgREST's planner's (Plan.hs: addRels, addRelatedOrders,
 * addNullEmbedFilters, validateAggFunctions, the to-many spread check), so that of two errors
 * in one request the same one is reported. Each step walks the tree depth first, a node before
 * its children, children in select= order. Unknown columns are left to the SQL builder, which
 * reports them per scope (42703). No I/O: the catalog is the loaded schema cache. */
#include <string.h>

#include "query/query.h"

/* The child of r whose output key (alias, else name) is `key`: how PostgREST finds the embed of
   a related order or of a filter on the embed itself. */
static struct dba_rel *
resolve_child_by_key(const struct dba_rel *r, const char *key)
{
    for (size_t i = 0; i < r->n_select; i++) {
        struct dba_rel *ch = r->select[i].child;

        if (r->select[i].kind == DBA_ITEM_CHILD &&
            strcmp(ch->alias != NULL ? ch->alias : ch->name, key) == 0)
            return ch;
    }
    return NULL;
}

static const char *
resolve_key(const struct dba_rel *ch)
{
    return ch->alias != NULL ? ch->alias : ch->name;
}

/* addRels: the relationship of every embed, from the relation of its parent. */
static int
resolve_rels(const struct dba_catalog *c, struct dba_rel *r, const struct dba_table *t,
             struct dba_err *err)
{
    for (size_t i = 0; i < r->n_select; i++) {
        struct dba_rel *ch = r->select[i].child;
        const struct dba_relationship *rel;

        if (r->select[i].kind != DBA_ITEM_CHILD)
            continue;
        if (dba_catalog_relationship_find(c, t, ch->name, ch->hint, &rel, err) != DBA_OK)
            return DBA_EINVAL;
        ch->relationship = rel;
        ch->table = rel->target;
        ch->schema = rel->target->schema;
        ch->to_one = rel->card == DBA_CARD_M2O || rel->card == DBA_CARD_O2O;
        if (rel->card == DBA_CARD_M2M || rel->function != NULL) {
            ch->parent_cols = NULL;
            ch->child_cols = NULL;
            ch->n_join = 0;
        } else {
            ch->parent_cols = rel->cols;
            ch->child_cols = rel->target_cols;
            ch->n_join = rel->n_cols;
        }
        if (resolve_rels(c, ch, rel->target, err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}

/* addRelatedOrders: order=rel(col) needs rel embedded (PGRST108) and to-one (PGRST118). */
static int
resolve_orders(struct dba_rel *r, const struct dba_table *t, struct dba_err *err)
{
    for (size_t i = 0; i < r->n_order; i++) {
        struct dba_order_item *o = &r->order[i];
        const struct dba_rel *ch;

        if (o->rel == NULL)
            continue;
        ch = resolve_child_by_key(r, o->rel);
        if (ch == NULL) {
            dba_err_set(err, DBA_EINVAL, 400, "PGRST108",
                        "'%s' is not an embedded resource in this request", o->rel);
            dba_err_hint(err, "Verify that '%s' is included in the 'select' query parameter.",
                         o->rel);
            return DBA_EINVAL;
        }
        if (!ch->to_one) {
            dba_err_set(err, DBA_EINVAL, 400, "PGRST118",
                        "A related order on '%s' is not possible", resolve_key(ch));
            dba_err_detail(err, "'%s' and '%s' do not form a many-to-one or one-to-one "
                                "relationship", t->name, resolve_key(ch));
            return DBA_EINVAL;
        }
        o->rel_node = ch;
    }
    for (size_t i = 0; i < r->n_select; i++)
        if (r->select[i].kind == DBA_ITEM_CHILD &&
            resolve_orders(r->select[i].child, r->select[i].child->table, err) != DBA_OK)
            return DBA_EINVAL;
    return DBA_OK;
}

/* One leaf filter of node r: a field without JSON path naming an embed of r. `top` is true for
   a leaf directly under r's top-level AND. */
static int
resolve_embed_filter(struct dba_rel *r, const struct dba_table *t, struct dba_filter *f, bool top,
                     struct dba_err *err)
{
    struct dba_rel *ch;

    if (f->field.name == NULL || f->field.n_path > 0)
        return DBA_OK;
    ch = resolve_child_by_key(r, f->field.name);
    if (ch == NULL)
        return DBA_OK;
    if (f->op == DBA_OP_IS && f->is_value == DBA_IS_NULL) {
        f->embed = ch;
        if (top && f->negate)
            ch->join = DBA_JOIN_INNER; /* rel=not.is.null keeps parents with rows: !inner */
        return DBA_OK;
    }
    if (dba_catalog_column_find(t, f->field.name) != NULL)
        return DBA_OK; /* a column of the same name: an ordinary filter, as in PostgREST */
    dba_err_set(err, DBA_EINVAL, 400, "PGRST120", "Bad operator on the '%s' embedded resource",
                f->field.name);
    dba_err_detail(err, "Only is null or not is null filters are allowed on embedded resources");
    return DBA_EINVAL;
}

static int
resolve_embed_logic(struct dba_rel *r, const struct dba_table *t, struct dba_logic *l, bool top,
                    struct dba_err *err)
{
    if (l->kind == DBA_L_FILTER)
        return resolve_embed_filter(r, t, &l->filter, top, err);
    for (size_t i = 0; i < l->n_children; i++)
        if (resolve_embed_logic(r, t, &l->children[i], false, err) != DBA_OK)
            return DBA_EINVAL;
    return DBA_OK;
}

/* addNullEmbedFilters: `rel=is.null`, `rel=not.is.null`, also inside or=/and= trees. */
static int
resolve_embed_filters(struct dba_rel *r, const struct dba_table *t, struct dba_err *err)
{
    if (r->where.kind == DBA_L_FILTER) {
        if (resolve_embed_filter(r, t, &r->where.filter, !r->where.negate, err) != DBA_OK)
            return DBA_EINVAL;
    } else {
        for (size_t i = 0; i < r->where.n_children; i++) {
            struct dba_logic *l = &r->where.children[i];
            bool top = r->where.kind == DBA_L_AND && !r->where.negate;

            if (resolve_embed_logic(r, t, l, top, err) != DBA_OK)
                return DBA_EINVAL;
        }
    }
    for (size_t i = 0; i < r->n_select; i++)
        if (r->select[i].kind == DBA_ITEM_CHILD &&
            resolve_embed_filters(r->select[i].child, r->select[i].child->table, err) != DBA_OK)
            return DBA_EINVAL;
    return DBA_OK;
}

static bool
resolve_has_agg(const struct dba_rel *r)
{
    for (size_t i = 0; i < r->n_select; i++)
        if (r->select[i].kind == DBA_ITEM_AGG)
            return true;
    return false;
}

/* validateAggFunctions: aggregates anywhere need server.aggregates_enabled (PGRST123). */
static int
resolve_aggs(const struct dba_rel *r, bool enabled, struct dba_err *err)
{
    if (!enabled && resolve_has_agg(r))
        return dba_err_set(err, DBA_EINVAL, 400, "PGRST123",
                           "Use of aggregate functions is not allowed");
    for (size_t i = 0; i < r->n_select; i++)
        if (r->select[i].kind == DBA_ITEM_CHILD &&
            resolve_aggs(r->select[i].child, enabled, err) != DBA_OK)
            return DBA_EINVAL;
    return DBA_OK;
}

/* An aggregate in r or in the to-one spreads below it (whose columns, aggregates included, are
   lifted into r). */
static bool
resolve_spread_has_agg(const struct dba_rel *r)
{
    if (resolve_has_agg(r))
        return true;
    for (size_t i = 0; i < r->n_select; i++) {
        const struct dba_rel *ch = r->select[i].child;

        if (r->select[i].kind == DBA_ITEM_CHILD && ch->spread && ch->to_one &&
            resolve_spread_has_agg(ch))
            return true;
    }
    return false;
}

/* A to-many spread gives one array per column; aggregates there are not implemented (PostgREST
   answers 400 PGRST127 too). */
static int
resolve_spreads(const struct dba_rel *r, struct dba_err *err)
{
    for (size_t i = 0; i < r->n_select; i++) {
        const struct dba_rel *ch = r->select[i].child;

        if (r->select[i].kind != DBA_ITEM_CHILD)
            continue;
        if (ch->spread && !ch->to_one && resolve_spread_has_agg(ch)) {
            dba_err_set(err, DBA_EINVAL, 400, "PGRST127", "Feature not implemented");
            dba_err_detail(err, "Aggregates are not implemented for one-to-many or many-to-many "
                                "spreads.");
            return DBA_EINVAL;
        }
        if (resolve_spreads(ch, err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}

int
dba_query_resolve(struct dba_query *q, const struct dba_catalog *c, const struct dba_table *root,
                  bool aggregates_enabled, struct dba_err *err)
{
    if (resolve_rels(c, &q->rel, root, err) != DBA_OK ||
        resolve_orders(&q->rel, root, err) != DBA_OK ||
        resolve_embed_filters(&q->rel, root, err) != DBA_OK ||
        resolve_aggs(&q->rel, aggregates_enabled, err) != DBA_OK ||
        resolve_spreads(&q->rel, err) != DBA_OK)
        return DBA_EINVAL;
    return DBA_OK;
}
