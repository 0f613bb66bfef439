/* sql_expr.c - SQL builder: fields, JSON paths, filters, logic trees, select list and order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

static int
expr_bad(struct sql_ctx *c, const char *what, const char *text)
{
    return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST100", "invalid %s: %s", what, text);
}

/* A JSON array index must be an integer: it is written as a literal, never as text. */
static int
expr_index(struct sql_ctx *c, struct dba_buf *b, const char *key)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(key, &end, 10);
    if (errno || end == key || *end || !(key[0] == '-' || (key[0] >= '0' && key[0] <= '9')))
        return expr_bad(c, "json array index", key);
    dba_buf_printf(b, "%ld", v);
    return DBA_OK;
}

static int
expr_path(struct sql_ctx *c, struct dba_buf *b, const struct dba_field *f)
{
    for (size_t i = 0; i < f->n_path; i++) {
        const struct dba_jstep *s = &f->path[i];

        dba_buf_puts(b, s->as_text ? "->>" : "->");
        if (s->is_index) {
            if (expr_index(c, b, s->key) != DBA_OK)
                return c->err->code;
        } else {
            dba__sql_param_put(c, b, s->key);
            dba_buf_puts(b, "::text");
        }
    }
    return DBA_OK;
}

/* A column with its JSON path. Non-JSON columns (arrays, composites) go through to_jsonb first.
 * With cmp set (filters, order), a path ending in -> on a json column is cast to jsonb, since json
 * has neither equality nor ordering. */
int
dba__sql_expr_field(struct sql_ctx *c, struct dba_buf *b, const struct dba_field *f,
                    const char *qual, bool cmp)
{
    const struct dba_column *col = dba__sql_column(c, f->name, SQL_REF_QUERY);
    bool wrap;

    if (!col)
        return c->err->code;
    if (f->n_path == 0) {
        dba__sql_column_ref(c, b, col, qual);
        return DBA_OK;
    }
    wrap = cmp && !f->path[f->n_path - 1].as_text && col->type && strcmp(col->type, "json") == 0;
    if (wrap)
        dba_buf_putc(b, '(');
    if (!dba__sql_type_is_json(col))
        dba_buf_puts(b, "to_jsonb(");
    dba__sql_column_ref(c, b, col, qual);
    if (!dba__sql_type_is_json(col))
        dba_buf_putc(b, ')');
    if (expr_path(c, b, f) != DBA_OK)
        return c->err->code;
    if (wrap)
        dba_buf_puts(b, ")::jsonb");
    return DBA_OK;
}

/* Binary operators; NULL for the ones written by hand (in, is, full text search). */
static const char *
expr_binop(enum dba_op op)
{
    switch (op) {
    case DBA_OP_EQ: return "=";
    case DBA_OP_NEQ: return "<>";
    case DBA_OP_GT: return ">";
    case DBA_OP_GTE: return ">=";
    case DBA_OP_LT: return "<";
    case DBA_OP_LTE: return "<=";
    case DBA_OP_LIKE: return "LIKE";
    case DBA_OP_ILIKE: return "ILIKE";
    case DBA_OP_MATCH: return "~";
    case DBA_OP_IMATCH: return "~*";
    case DBA_OP_ISDISTINCT: return "IS DISTINCT FROM";
    case DBA_OP_CS: return "@>";
    case DBA_OP_CD: return "<@";
    case DBA_OP_OV: return "&&";
    case DBA_OP_SL: return "<<";
    case DBA_OP_SR: return ">>";
    case DBA_OP_NXR: return "&<";
    case DBA_OP_NXL: return "&>";
    case DBA_OP_ADJ: return "-|-";
    case DBA_OP_IN:
    case DBA_OP_IS:
    case DBA_OP_FTS:
    case DBA_OP_PLFTS:
    case DBA_OP_PHFTS:
    case DBA_OP_WFTS:
        break;
    }
    return NULL;
}

static bool
expr_is_fts(enum dba_op op)
{
    return op == DBA_OP_FTS || op == DBA_OP_PLFTS || op == DBA_OP_PHFTS || op == DBA_OP_WFTS;
}

static const char *
expr_tsquery(enum dba_op op)
{
    if (op == DBA_OP_PLFTS)
        return "plainto_tsquery";
    if (op == DBA_OP_PHFTS)
        return "phraseto_tsquery";
    if (op == DBA_OP_WFTS)
        return "websearch_to_tsquery";
    return "to_tsquery";
}

static const char *
expr_is(enum dba_is_value v)
{
    switch (v) {
    case DBA_IS_NULL: return " IS NULL";
    case DBA_IS_NOT_NULL: return " IS NOT NULL";
    case DBA_IS_TRUE: return " IS TRUE";
    case DBA_IS_FALSE: return " IS FALSE";
    case DBA_IS_UNKNOWN: return " IS UNKNOWN";
    }
    return " IS NULL";
}

/* The in.(...) list as ONE PostgreSQL array literal, every element double-quoted, so the SQL text
 * does not depend on the list length: {"a","b \"c\""}. */
static const char *
expr_in_literal(struct sql_ctx *c, const struct dba_filter *f)
{
    struct dba_buf b;
    char *s;

    dba_buf_init(&b);
    dba_buf_put_text_array(&b, f->list, f->n_list);
    s = dba_arena_strdup(c->a, b.data);
    dba_buf_cleanup(&b);
    return s;
}

/* Full text search: the column is wrapped in to_tsvector unless it already is a tsvector. */
static int
expr_fts(struct sql_ctx *c, struct dba_buf *b, const struct dba_filter *f)
{
    const struct dba_column *col = dba__sql_column(c, f->field.name, SQL_REF_QUERY);
    size_t lang = 0;
    bool wrap;

    if (!col)
        return c->err->code;
    wrap = f->field.n_path > 0 || !col->type || strcmp(col->type, "tsvector") != 0;
    if (f->lang)
        lang = dba__sql_param_add(c, f->lang);
    if (wrap) {
        dba_buf_puts(b, "to_tsvector(");
        if (lang)
            dba_buf_printf(b, "$%zu::regconfig, ", lang);
    }
    if (dba__sql_expr_field(c, b, &f->field, c->alias, false) != DBA_OK)
        return c->err->code;
    dba_buf_printf(b, "%s @@ %s(", wrap ? ")" : "", expr_tsquery(f->op));
    if (lang)
        dba_buf_printf(b, "$%zu::regconfig, ", lang);
    dba__sql_param_put(c, b, f->value);
    dba_buf_putc(b, ')');
    return DBA_OK;
}

/* The text parser of a domain representation (CREATE CAST (text AS domain)) for the value of
 * filter f, or NULL. PostgREST applies it to the comparison operators and in; never to pattern
 * matches, is, isdistinct, full text search nor a JSON path. */
static const char *
expr_text_parser(struct sql_ctx *c, const struct dba_filter *f)
{
    const struct dba_column *col;

    if (f->field.n_path || f->op == DBA_OP_LIKE || f->op == DBA_OP_ILIKE
        || f->op == DBA_OP_ISDISTINCT || f->op == DBA_OP_IS || expr_is_fts(f->op))
        return NULL;
    col = dba__sql_column(c, f->field.name, SQL_REF_QUERY);
    return col && col->repr ? col->repr->from_text : NULL;
}

/* An array of values (in, any/all) as one bound text[]: `$n`, or through the text parser
 * `ARRAY(SELECT parser(unnest($n::text[])))`. */
static void
expr_array_value(struct sql_ctx *c, struct dba_buf *b, const char *literal, const char *parser)
{
    if (parser)
        dba_buf_printf(b, "ARRAY(SELECT %s(unnest(", parser);
    dba__sql_param_put(c, b, literal);
    if (parser)
        dba_buf_puts(b, "::text[])))");
}

static int
expr_filter_body(struct sql_ctx *c, struct dba_buf *b, const struct dba_filter *f)
{
    const char *op = expr_binop(f->op);
    const char *parser;

    if (expr_is_fts(f->op))
        return expr_fts(c, b, f);
    if (dba__sql_expr_field(c, b, &f->field, c->alias, true) != DBA_OK)
        return c->err->code;
    parser = expr_text_parser(c, f);
    if (f->op == DBA_OP_IS) {
        dba_buf_puts(b, expr_is(f->is_value));
    } else if (f->op == DBA_OP_IN) {
        dba_buf_puts(b, " = ANY(");
        expr_array_value(c, b, expr_in_literal(c, f), parser);
        dba_buf_putc(b, ')');
    } else if (f->quant != DBA_Q_NONE) {
        if (f->op == DBA_OP_ISDISTINCT)
            return expr_bad(c, "operator modifier", "isdistinct does not accept any/all");
        dba_buf_printf(b, " %s %s(", op, f->quant == DBA_Q_ANY ? "ANY" : "ALL");
        expr_array_value(c, b, f->value, parser);
        dba_buf_putc(b, ')');
    } else if (parser) {
        dba_buf_printf(b, " %s %s(", op, parser);
        dba__sql_param_put(c, b, f->value);
        dba_buf_puts(b, "::text)");
    } else {
        dba_buf_printf(b, " %s ", op);
        dba__sql_param_put(c, b, f->value);
    }
    return DBA_OK;
}

/* A filter on an embed (`rel=is.null`, `rel=not.is.null`): does the embed have rows? */
static int
expr_embed_filter(struct sql_ctx *c, struct dba_buf *b, const struct dba_filter *f)
{
    if (f->op != DBA_OP_IS || (f->is_value != DBA_IS_NULL && f->is_value != DBA_IS_NOT_NULL)) {
        dba_err_set(c->err, DBA_EINVAL, 400, "PGRST120",
                    "Bad operator on the '%s' embedded resource", f->field.name ? f->field.name
                                                                                : "");
        dba_err_hint(c->err, "Only is null or not is null filters are allowed on embedded "
                             "resources");
        return DBA_EINVAL;
    }
    if (f->is_value == DBA_IS_NULL)
        dba_buf_puts(b, "NOT ");
    return dba__sql_read_exists(c, b, f->embed);
}

static int
expr_filter(struct sql_ctx *c, struct dba_buf *b, const struct dba_filter *f)
{
    if (f->embed) {
        if (f->negate)
            dba_buf_puts(b, "NOT (");
        if (expr_embed_filter(c, b, f) != DBA_OK)
            return c->err->code;
        if (f->negate)
            dba_buf_putc(b, ')');
        return DBA_OK;
    }
    if (f->negate)
        dba_buf_puts(b, "NOT (");
    if (expr_filter_body(c, b, f) != DBA_OK)
        return c->err->code;
    if (f->negate)
        dba_buf_putc(b, ')');
    return DBA_OK;
}

/* A logic node; `top` is the query string's implicit AND, written without parentheses. */
static int
expr_logic(struct sql_ctx *c, struct dba_buf *b, const struct dba_logic *l, bool top)
{
    const char *sep = l->kind == DBA_L_OR ? " OR " : " AND ";
    bool parens = !top || l->negate;

    if (l->negate)
        dba_buf_puts(b, "NOT ");
    if (l->kind == DBA_L_FILTER) {
        if (l->negate)
            dba_buf_putc(b, '(');
        if (expr_filter(c, b, &l->filter) != DBA_OK)
            return c->err->code;
        if (l->negate)
            dba_buf_putc(b, ')');
        return DBA_OK;
    }
    if (l->n_children == 0) {
        dba_buf_puts(b, l->kind == DBA_L_OR ? "FALSE" : "TRUE");
        return DBA_OK;
    }
    if (parens)
        dba_buf_putc(b, '(');
    for (size_t i = 0; i < l->n_children; i++) {
        if (i)
            dba_buf_puts(b, sep);
        if (expr_logic(c, b, &l->children[i], false) != DBA_OK)
            return c->err->code;
    }
    if (parens)
        dba_buf_putc(b, ')');
    return DBA_OK;
}

static bool
expr_where_empty(const struct dba_logic *w)
{
    /* No filter: an empty AND, or a zeroed node (a leaf without a column nor an embed). */
    return w->kind == DBA_L_FILTER ? w->filter.field.name == NULL && w->filter.embed == NULL
                                   : w->n_children == 0 && !w->negate;
}

/* Appends the condition of the current node's filters (without "WHERE") and, by mode, the EXISTS
 * tests of its !inner children; appends nothing when there is none. */
int
dba__sql_expr_where(struct sql_ctx *c, struct dba_buf *b, enum sql_where mode)
{
    const struct dba_logic *w = &c->rel->where;
    /* a top-level OR binds looser than the AND of the EXISTS tests that follow */
    bool parens = w->kind == DBA_L_OR && !w->negate;
    struct dba_buf f, extra;
    int rc = DBA_OK;

    if (mode == SQL_WHERE_FILTERS)
        return expr_where_empty(w) ? DBA_OK : expr_logic(c, b, w, true);
    dba_buf_init(&f);
    dba_buf_init(&extra);
    if (!expr_where_empty(w))
        rc = expr_logic(c, &f, w, true);
    if (rc == DBA_OK)
        rc = dba__sql_read_inner(c, &extra, true, mode == SQL_WHERE_ALL);
    if (rc == DBA_OK && !extra.len && f.len) {
        dba_buf_puts(b, f.data);
    } else if (rc == DBA_OK && extra.len && !f.len) {
        dba_buf_puts(b, extra.data + 5); /* without the leading " AND " */
    } else if (rc == DBA_OK && extra.len) {
        dba_buf_printf(b, parens ? "(%s)%s" : "%s%s", f.data, extra.data);
    }
    dba_buf_cleanup(&f);
    dba_buf_cleanup(&extra);
    return rc;
}

/* Type names in casts are written into the SQL text, so they must look like a type name. */
static bool
expr_cast_ok(const char *s)
{
    size_t n = strlen(s);

    if (n >= 2 && s[n - 2] == '[' && s[n - 1] == ']')
        n -= 2;
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || ch == '_' || ch == ' '))
            return false;
    }
    return true;
}

/* Output name of a select item: the alias, else for a JSON path its last key (PostgREST). */
const char *
dba__sql_item_name(const struct dba_select_item *it)
{
    if (it->alias)
        return it->alias;
    for (size_t i = it->field.n_path; i > 0; i--) {
        if (!it->field.path[i - 1].is_index)
            return it->field.path[i - 1].key;
    }
    return it->field.n_path || it->cast ? it->field.name : NULL;
}

size_t
dba__sql_list_next(struct sql_list *l)
{
    if (l->n)
        dba_buf_puts(l->b, ", ");
    return ++l->n;
}

void
dba__sql_list_group(struct sql_list *l, size_t pos, const char *expr)
{
    dba_buf_puts(l->group, l->group->len ? ", " : " GROUP BY ");
    if (expr)
        dba_buf_puts(l->group, expr);
    else
        dba_buf_printf(l->group, "%zu", pos);
}

/* The function rendering col in a JSON body (its domain representation's cast to json), or NULL:
 * none, or the body is not built-in JSON (CSV shows the column's own text, a media type handler
 * gets the relation's own rows). */
static const char *
expr_repr_out(const struct sql_ctx *c, const struct dba_column *col)
{
    return col && col->repr && c->q->media != DBA_MEDIA_CSV && c->q->handler == NULL
               ? col->repr->to_json : NULL;
}

static bool
expr_table_has_repr(const struct sql_ctx *c)
{
    for (size_t i = 0; i < c->t->n_cols; i++) {
        if (expr_repr_out(c, &c->t->cols[i]))
            return true;
    }
    return false;
}

/* Groups by the column itself: its representation (json) has no equality. */
static void
expr_group_column(struct sql_ctx *c, struct sql_list *l, const struct dba_column *col,
                  const char *qual)
{
    struct dba_buf e;

    dba_buf_init(&e);
    dba__sql_column_ref(c, &e, col, qual);
    dba__sql_list_group(l, 0, e.data);
    dba_buf_cleanup(&e);
}

/* '*': qual.*, or (expand, and always when grouped or when a column has a domain representation)
 * the cached columns one by one, a represented one as `to_json(qual."c") AS "c"`. */
static void
expr_star(struct sql_ctx *c, struct sql_list *l, const char *qual, bool expand)
{
    if (!expand && !l->grouped && !expr_table_has_repr(c)) {
        dba__sql_list_next(l);
        dba_buf_printf(l->b, "%s.*", qual);
        return;
    }
    for (size_t i = 0; i < c->t->n_cols; i++) {
        const char *fn = expr_repr_out(c, &c->t->cols[i]);
        size_t pos = dba__sql_list_next(l);

        if (fn)
            dba_buf_printf(l->b, "%s(", fn);
        dba_buf_printf(l->b, "%s.", qual);
        dba_buf_put_ident(l->b, c->t->cols[i].name);
        if (fn) {
            dba_buf_puts(l->b, ") AS ");
            dba_buf_put_ident(l->b, c->t->cols[i].name);
        }
        if (l->grouped && fn)
            expr_group_column(c, l, &c->t->cols[i], qual);
        else if (l->grouped)
            dba__sql_list_group(l, pos, NULL);
    }
}

/* The item's column (with its JSON path) under the item's cast, if any: CAST(col AS type); with
 * repr (a column without a JSON path) through that function first (a domain representation, the
 * cast applied on top of it as PostgREST does). */
static int
expr_cast_field(struct sql_ctx *c, struct dba_buf *b, const struct dba_select_item *it,
                const char *qual, const char *repr)
{
    if (it->cast && !expr_cast_ok(it->cast))
        return expr_bad(c, "type name in cast", it->cast);
    if (it->cast)
        dba_buf_puts(b, "CAST(");
    if (repr)
        dba_buf_printf(b, "%s(", repr);
    if (dba__sql_expr_field(c, b, &it->field, qual, false) != DBA_OK)
        return c->err->code;
    if (repr)
        dba_buf_putc(b, ')');
    if (it->cast)
        dba_buf_printf(b, " AS %s)", it->cast);
    return DBA_OK;
}

/* The column of a select item shown through its representation (no JSON path), or NULL. */
static const struct dba_column *
expr_item_repr(struct sql_ctx *c, const struct dba_select_item *it)
{
    const struct dba_column *col;

    if (it->field.n_path || !it->field.name)
        return NULL;
    col = dba_catalog_column_find(c->t, it->field.name);
    if (!col)
        col = dba_catalog_computed_find(c->t, it->field.name);
    return expr_repr_out(c, col) ? col : NULL;
}

static int
expr_item(struct sql_ctx *c, struct dba_buf *b, const struct dba_select_item *it, const char *qual)
{
    const char *name = dba__sql_item_name(it);
    const struct dba_column *rcol = expr_item_repr(c, it);
    const char *repr = rcol ? expr_repr_out(c, rcol) : NULL;
    /* a computed column is named after its function, a represented one after itself */
    if (!name && it->field.name && (repr || !dba_catalog_column_find(c->t, it->field.name)))
        name = it->field.name;
    if (expr_cast_field(c, b, it, qual, repr) != DBA_OK)
        return c->err->code;
    if (name) {
        dba_buf_puts(b, " AS ");
        dba_buf_put_ident(b, name);
    }
    return DBA_OK;
}

static const char *const expr_agg_names[] = { "count", "sum", "avg", "min", "max" };

/* An aggregate: count(*), count(col), sum(col), ... with the argument's and the result's casts.
 * Named by its alias, else by the function (PostgREST). */
static int
expr_agg(struct sql_ctx *c, struct dba_buf *b, const struct dba_select_item *it, const char *qual)
{
    const char *fn = expr_agg_names[it->agg];

    if (it->cast && !expr_cast_ok(it->cast))
        return expr_bad(c, "type name in cast", it->cast);
    if (it->agg_cast && !expr_cast_ok(it->agg_cast))
        return expr_bad(c, "type name in cast", it->agg_cast);
    if (!it->field.name && it->agg != DBA_AGG_COUNT)
        return expr_bad(c, "aggregate", dba_arena_printf(c->a, "%s() needs a column", fn));
    if (it->agg_cast)
        dba_buf_puts(b, "CAST(");
    dba_buf_printf(b, "%s(", fn);
    if (!it->field.name) {
        dba_buf_putc(b, '*');
    } else if (expr_cast_field(c, b, it, qual, NULL) != DBA_OK) {
        return c->err->code;
    }
    dba_buf_putc(b, ')');
    if (it->agg_cast)
        dba_buf_printf(b, " AS %s)", it->agg_cast);
    dba_buf_puts(b, " AS ");
    dba_buf_put_ident(b, it->alias ? it->alias : fn);
    return DBA_OK;
}

/* The select list of the current node over qual. With aggregates, the other items are the groups:
 * GROUP BY their output positions (a position, not the expression again, which would bind its
 * JSON keys a second time under new $n); '*' is then expanded so each column has a position. */
int
dba__sql_expr_select(struct sql_ctx *c, struct sql_list *l, const char *qual, bool expand_star)
{
    const struct dba_rel *r = c->rel;

    l->grouped = false;
    l->n = 0;
    for (size_t i = 0; i < r->n_select; i++)
        l->grouped = l->grouped || r->select[i].kind == DBA_ITEM_AGG;
    if (r->n_select == 0) {
        expr_star(c, l, qual, expand_star);
        return DBA_OK;
    }
    for (size_t i = 0; i < r->n_select; i++) {
        const struct dba_select_item *it = &r->select[i];
        size_t pos;
        int rc = DBA_OK;

        switch (it->kind) {
        case DBA_ITEM_STAR:
            expr_star(c, l, qual, expand_star);
            break;
        case DBA_ITEM_COLUMN:
            pos = dba__sql_list_next(l);
            rc = expr_item(c, l->b, it, qual);
            if (rc == DBA_OK && l->grouped && expr_item_repr(c, it))
                expr_group_column(c, l, expr_item_repr(c, it), qual);
            else if (l->grouped)
                dba__sql_list_group(l, pos, NULL);
            break;
        case DBA_ITEM_AGG:
            dba__sql_list_next(l);
            rc = expr_agg(c, l->b, it, qual);
            break;
        case DBA_ITEM_CHILD:
            rc = dba__sql_read_child(c, l, it);
            break;
        }
        if (rc != DBA_OK)
            return rc;
    }
    return DBA_OK;
}

/* The ORDER BY list (without "ORDER BY"). */
int
dba__sql_expr_order(struct sql_ctx *c, struct dba_buf *b)
{
    for (size_t i = 0; i < c->rel->n_order; i++) {
        const struct dba_order_item *o = &c->rel->order[i];

        if (i)
            dba_buf_puts(b, ", ");
        if (o->rel || o->rel_node) {
            if (dba__sql_read_related_order(c, b, o) != DBA_OK)
                return c->err->code;
        } else if (dba__sql_expr_field(c, b, &o->field, c->alias, true) != DBA_OK) {
            return c->err->code;
        }
        dba_buf_puts(b, o->desc ? " DESC" : " ASC");
        if (o->nulls == DBA_NULLS_FIRST)
            dba_buf_puts(b, " NULLS FIRST");
        else if (o->nulls == DBA_NULLS_LAST)
            dba_buf_puts(b, " NULLS LAST");
    }
    return DBA_OK;
}
