/* grammar_select.c - select= (vertical filtering and resource embedding) and the column lists
 * columns= / on_conflict=.
 *
 * select= is a forest: items separated by ',' with optional spaces, each one of
 *   `...name[!hint][!inner|!left](forest)`            a spread embedding (no alias)
 *   `[alias:]name[!hint][!inner|!left](forest)`       an embedding; `name()` filters only
 *   `*`
 *   `[alias:]count()[::type]`                          an aggregate without argument
 *   `[alias:]name[json path][::type][.agg()[::type]]`  a column, optionally aggregated
 * tried in that order like PostgREST's pFieldForest. The two embedding heads are tried with
 * backtracking (Parsec's `try`): a head that fails restores the position but keeps its error,
 * so when every alternative fails without consuming, the furthest error is reported. Once a
 * head has matched, what is inside its parentheses is committed. Embeddings and aggregates are
 * only parsed here; relationships are resolved against the catalog by dba_query_resolve and
 * aggregates are refused there when server.aggregates_enabled is off (PGRST123). */
#include <string.h>

#include "http/grammar_int.h"

enum sel_head {
    SEL_HEAD_NO,  /* not this alternative: position restored, error kept */
    SEL_HEAD_OK,  /* the item was parsed */
    SEL_HEAD_ERR, /* committed syntax error in c->err */
};

static const char *const sel_aggs[] = { "sum", "avg", "count", "max", "min" };
static const enum dba_agg sel_agg_kinds[] = { DBA_AGG_SUM, DBA_AGG_AVG, DBA_AGG_COUNT,
                                              DBA_AGG_MAX, DBA_AGG_MIN };

static bool sel_forest(struct gram_cur *c, struct dba_rel *rel, bool top);

/* Optional `::type`; the type is an identifier (letters, digits, _, $, space). */
static bool
sel_cast(struct gram_cur *c, const char **cast)
{
    if (!dba__http_grammar_starts(c, c->pos, "::")) {
        dba__http_grammar_fail_str(c, c->pos, "::", "\"::\"");
        return true;
    }
    dba__http_grammar_adv(c, c->pos + 2);
    return dba__http_grammar_ident(c, cast);
}

/* After name[path][::cast]: an optional `.agg()`; anything else leaves expectations. */
static bool
sel_aggregate(struct gram_cur *c, struct dba_select_item *it)
{
    size_t p = c->pos;

    if (p >= c->len || c->s[p] != '.') {
        dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, "\".\"");
        return true;
    }
    for (size_t i = 0; i < DBA_ARRAY_LEN(sel_aggs); i++) {
        size_t r = p + 1 + strlen(sel_aggs[i]);

        if (!dba__http_grammar_starts(c, p + 1, sel_aggs[i])) {
            dba__http_grammar_fail_str(c, p + 1, sel_aggs[i], NULL);
            continue;
        }
        if (!dba__http_grammar_starts(c, r, "()")) {
            dba__http_grammar_fail_str(c, r, "()", "\"()\"");
            return true;
        }
        it->kind = DBA_ITEM_AGG;
        it->agg = sel_agg_kinds[i];
        dba__http_grammar_adv(c, r + 2);
        return sel_cast(c, &it->agg_cast);
    }
    for (size_t i = 0; i < DBA_ARRAY_LEN(sel_aggs); i++)
        dba__http_grammar_fail(c, p + 1, p + 1, GRAM_TOK_SYS,
                               dba_arena_printf(c->a, "\"%s\"", sel_aggs[i]));
    return true;
}

/* pEnd of an item: a ')', a ',' or the end of the parameter must follow (not consumed). A
 * successful look-ahead forgets the expectations collected before it, as Parsec's does. */
static bool
sel_end(struct gram_cur *c)
{
    size_t p = c->pos;

    if (p >= c->len || c->s[p] == ',' || c->s[p] == ')') {
        c->err.set = false;
        return true;
    }
    dba__http_grammar_fail_str(c, p, ")", "\")\"");
    dba__http_grammar_fail_str(c, p, ",", "\",\"");
    dba__http_grammar_fail(c, p, p, GRAM_TOK_UN, GRAM_L_EOF);
    return false;
}

/* `*` with nothing but spaces before the end of the item. */
static bool
sel_star(struct gram_cur *c, struct dba_select_item *it)
{
    dba__http_grammar_adv(c, c->pos + 1);
    dba__http_grammar_ws(c);
    if (!sel_end(c))
        return false;
    it->kind = DBA_ITEM_STAR;
    return true;
}

/* Optional `alias:` (a single colon); backtracks when absent. */
static void
sel_alias(struct gram_cur *c, const char **alias)
{
    size_t start = c->pos;
    struct gram_err saved = c->err;
    const char *name;

    *alias = NULL;
    if (dba__http_grammar_field_name(c, &name) && c->pos < c->len && c->s[c->pos] == ':' &&
        c->s[c->pos + 1] != ':') {
        *alias = name;
        dba__http_grammar_adv(c, c->pos + 1);
        return;
    }
    /* A name that failed where it starts leaves its expectation, as Parsec's try does; one that
       was read (no ':' after it) is read again by the caller, which forgets this error. */
    if (c->pos != start)
        c->err = saved;
    c->pos = start;
}

/* pEmbedParams: up to two `!left`, `!inner` or `!hint`; the first hint and the first join type
 * count. Like PostgREST, `left`/`inner` win as soon as they prefix the parameter. */
static bool
sel_embed_params(struct gram_cur *c, struct dba_rel *r)
{
    for (int i = 0; i < 2; i++) {
        size_t p = c->pos;
        const char *hint;

        if (p >= c->len || c->s[p] != '!') {
            dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, "\"!\"");
            return true;
        }
        dba__http_grammar_adv(c, p + 1);
        if (dba__http_grammar_starts(c, p + 1, "left") ||
            dba__http_grammar_starts(c, p + 1, "inner")) {
            bool inner = c->s[p + 1] == 'i';

            dba__http_grammar_adv(c, p + 1 + (inner ? 5 : 4));
            if (!r->join_set) {
                r->join_set = true;
                r->join = inner ? DBA_JOIN_INNER : DBA_JOIN_LEFT;
            }
            continue;
        }
        dba__http_grammar_fail_str(c, p + 1, "left", "\"left\"");
        dba__http_grammar_fail_str(c, p + 1, "inner", "\"inner\"");
        if (!dba__http_grammar_field_name(c, &hint))
            return false;
        if (!r->hint)
            r->hint = hint;
    }
    return true;
}

/* `(forest)` after an embedding head: committed. */
static bool
sel_children(struct gram_cur *c, struct dba_select_item *it, struct dba_rel *r)
{
    if (++c->depth > GRAM_MAX_DEPTH) {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_UN, "a less deeply nested select");
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 1); /* '(' */
    if (!sel_forest(c, r, false))
        return false;
    if (c->pos >= c->len || c->s[c->pos] != ')') {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\")\"");
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 1);
    c->depth--;
    r->filter_only = r->n_select == 0;
    it->kind = DBA_ITEM_CHILD;
    it->child = r;
    return true;
}

/* pSpreadRelationSelect / pRelationSelect: `...name` or `[alias:]name`, the embed parameters
 * and a '(' right after them; then the children. */
static enum sel_head
sel_embedding(struct gram_cur *c, struct dba_select_item *it, bool spread)
{
    size_t start = c->pos;
    struct dba_rel head, *r = &head; /* copied to the arena once the head matched */
    const char *alias = NULL;

    memset(&head, 0, sizeof(head));
    head.join = DBA_JOIN_LEFT;
    head.where.kind = DBA_L_AND;
    head.limit = -1;

    dba__http_grammar_ws(c);
    if (spread) {
        if (!dba__http_grammar_starts(c, c->pos, "...")) {
            dba__http_grammar_fail_str(c, c->pos, "...", "\"...\"");
            c->pos = start;
            return SEL_HEAD_NO;
        }
        dba__http_grammar_adv(c, c->pos + 3);
        r->spread = true;
    } else {
        sel_alias(c, &alias);
    }
    if (!dba__http_grammar_field_name(c, &r->name) ||
        (!spread && strcmp(r->name, "count") == 0) || !sel_embed_params(c, r)) {
        c->pos = start;
        return SEL_HEAD_NO;
    }
    if (c->pos >= c->len || c->s[c->pos] != '(') {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\"(\"");
        c->pos = start;
        return SEL_HEAD_NO;
    }
    head.alias = alias;
    r = dba_arena_alloc(c->a, sizeof(*r));
    *r = head;
    return sel_children(c, it, r) ? SEL_HEAD_OK : SEL_HEAD_ERR;
}

/* `[alias:]count()[::type]` and its end; backtracks (keeping its error) when it does not fit. */
static bool
sel_count(struct gram_cur *c, struct dba_select_item *it)
{
    size_t start = c->pos;
    const char *alias;

    sel_alias(c, &alias);
    if (!dba__http_grammar_starts(c, c->pos, "count()")) {
        dba__http_grammar_fail_str(c, c->pos, "count()", "\"count()\"");
        c->pos = start;
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 7);
    it->kind = DBA_ITEM_AGG;
    it->agg = DBA_AGG_COUNT;
    it->alias = alias;
    if (sel_cast(c, &it->agg_cast) && sel_end(c))
        return true;
    memset(it, 0, sizeof(*it));
    c->pos = start;
    return false;
}

/* pFieldSelect: `*`, `count()` or a column, each followed by pEnd. */
static bool
sel_field(struct gram_cur *c, struct dba_select_item *it)
{
    dba__http_grammar_ws(c);
    if (c->pos < c->len && c->s[c->pos] == '*')
        return sel_star(c, it);
    dba__http_grammar_fail_str(c, c->pos, "*", "\"*\"");
    if (sel_count(c, it)) {
        dba__http_grammar_ws(c);
        return true;
    }
    sel_alias(c, &it->alias);
    it->kind = DBA_ITEM_COLUMN;
    if (!dba__http_grammar_field(c, &it->field) || !sel_cast(c, &it->cast) ||
        !sel_aggregate(c, it))
        return false;
    dba__http_grammar_ws(c);
    return sel_end(c);
}

static bool
sel_item(struct gram_cur *c, struct dba_select_item *it)
{
    enum sel_head h = sel_embedding(c, it, true);

    if (h == SEL_HEAD_NO)
        h = sel_embedding(c, it, false);
    if (h != SEL_HEAD_NO)
        return h == SEL_HEAD_OK;
    return sel_field(c, it);
}

/* pFieldForest: items separated by lexeme(','). Inside parentheses the forest may be empty
 * (its first item failing without consuming); the caller then requires the ')'. */
static bool
sel_forest(struct gram_cur *c, struct dba_rel *rel, bool top)
{
    size_t cap = 0;

    rel->select = NULL;
    rel->n_select = 0;
    for (;;) {
        size_t start = c->pos, p;
        struct dba_select_item *it = GRAM_PUSH(c->a, rel->select, rel->n_select, cap);

        if (!sel_item(c, it)) {
            if (!top && rel->n_select == 1 && c->pos == start) {
                rel->n_select = 0;
                return true;
            }
            return false;
        }
        p = c->pos;
        dba__http_grammar_ws(c);
        if (c->pos < c->len && c->s[c->pos] == ',') {
            dba__http_grammar_adv(c, c->pos + 1);
            dba__http_grammar_ws(c);
            continue;
        }
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\",\"");
        return c->pos == p; /* spaces then no ',' is a consumed failure, as in Parsec */
    }
}

int
dba__http_grammar_select(struct dba_arena *a, const char *v, struct dba_rel *rel,
                         struct dba_err *err)
{
    struct gram_cur c;

    dba__http_grammar_cur_init(&c, a, v);
    dba__http_grammar_ws(&c);
    if (c.pos >= c.len) {
        /* An empty select= parses to no items in PostgREST; we read it as the default `*`. */
        rel->select = dba_arena_alloc(a, sizeof(*rel->select));
        rel->select->kind = DBA_ITEM_STAR;
        rel->n_select = 1;
        return DBA_OK;
    }
    if (!sel_forest(&c, rel, true))
        return dba__http_grammar_raise(&c, "select parameter", v, err);
    if (c.pos < c.len) {
        /* PostgREST ignores what follows a complete forest (e.g. a stray ')'); we refuse it. */
        dba__http_grammar_fail(&c, c.pos, c.pos, GRAM_TOK_UN, GRAM_L_EOF);
        return dba__http_grammar_raise(&c, "select parameter", v, err);
    }
    return DBA_OK;
}

/* pColumns: field names separated by ',' with optional spaces; the whole value must be used. */
int
dba__http_grammar_columns(struct dba_arena *a, const char *what, const char *v,
                          const char ***out, size_t *n, struct dba_err *err)
{
    struct gram_cur c;
    size_t cap = 0;

    dba__http_grammar_cur_init(&c, a, v);
    *out = NULL;
    *n = 0;
    for (;;) {
        const char **slot = GRAM_PUSH(a, *out, *n, cap);

        if (!dba__http_grammar_field_name(&c, slot))
            return dba__http_grammar_raise(&c, what, v, err);
        dba__http_grammar_ws(&c);
        if (c.pos < c.len && c.s[c.pos] == ',') {
            dba__http_grammar_adv(&c, c.pos + 1);
            dba__http_grammar_ws(&c);
            continue;
        }
        if (c.pos >= c.len)
            return DBA_OK;
        dba__http_grammar_fail_str(&c, c.pos, ",", "\",\"");
        dba__http_grammar_fail(&c, c.pos, c.pos, GRAM_TOK_UN, GRAM_L_EOF);
        return dba__http_grammar_raise(&c, what, v, err);
    }
}
