/* grammar_select.c - select= (vertical filtering) and the column lists columns= / on_conflict=.
 *
 * One select item is `*`, or `[alias:]name[json path][::cast]`. Resource embedding
 * (`rel(...)`, `rel!hint(...)`, `...rel(...)`) is recognised but not implemented: its head is kept
 * as a child node of the tree and the request is reported as 400 PGRST127. Aggregates (`count()`,
 * `col.sum()`) are kept as aggregate items and reported as 400 PGRST123, which is what PostgREST
 * answers while db-aggregates-enabled is off (the builder can render them). */
#include <string.h>

#include "http/grammar_int.h"

enum sel_rc {
    SEL_OK,   /* item parsed */
    SEL_FAIL, /* syntax error in c->err */
    SEL_SEM,  /* embedding or aggregate: recorded in sem, stop parsing select */
};

static const char *const sel_aggs[] = { "sum", "avg", "count", "max", "min" };
static const enum dba_agg sel_agg_kinds[] = { DBA_AGG_SUM, DBA_AGG_AVG, DBA_AGG_COUNT,
                                              DBA_AGG_MAX, DBA_AGG_MIN };

/* The item text from start to the end of the parameter, for error details. */
static const char *
sel_rest(struct gram_cur *c, size_t start)
{
    return dba_arena_strdup(c->a, c->s + start);
}

/* After name[path][::cast]: `.agg()` is an aggregate (kept in the tree as such, then refused
 * with PGRST123); anything else leaves expectations. */
static enum sel_rc
sel_aggregate(struct gram_cur *c, struct dba_select_item *it, size_t start, struct gram_sem *sem)
{
    size_t p = c->pos;

    if (p >= c->len || c->s[p] != '.') {
        dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, "\".\"");
        return SEL_OK;
    }
    for (size_t i = 0; i < DBA_ARRAY_LEN(sel_aggs); i++) {
        size_t r = p + 1 + strlen(sel_aggs[i]);

        if (!dba__http_grammar_starts(c, p + 1, sel_aggs[i])) {
            dba__http_grammar_fail_str(c, p + 1, sel_aggs[i], NULL);
            continue;
        }
        if (!dba__http_grammar_starts(c, r, "()")) {
            dba__http_grammar_fail_str(c, r, "()", "\"()\"");
            return SEL_OK;
        }
        it->kind = DBA_ITEM_AGG;
        it->agg = sel_agg_kinds[i];
        dba__http_grammar_sem(sem, GRAM_SEM_AGGREGATE, sel_rest(c, start));
        return SEL_SEM;
    }
    for (size_t i = 0; i < DBA_ARRAY_LEN(sel_aggs); i++)
        dba__http_grammar_fail(c, p + 1, p + 1, GRAM_TOK_SYS,
                               dba_arena_printf(c->a, "\"%s\"", sel_aggs[i]));
    return SEL_OK;
}

/* Optional `::type` after a field; the type is an identifier (letters, digits, _, $, space). */
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

/* pEnd of an item: a ',' or the end of the parameter must follow. */
static bool
sel_end(struct gram_cur *c)
{
    size_t p = c->pos;

    if (p >= c->len || c->s[p] == ',')
        return true;
    dba__http_grammar_fail_str(c, p, ")", "\")\"");
    dba__http_grammar_fail_str(c, p, ",", "\",\"");
    dba__http_grammar_fail(c, p, p, GRAM_TOK_UN, GRAM_L_EOF);
    return false;
}

/* `*` with nothing but spaces before the next ',' or the end. */
static enum sel_rc
sel_star(struct gram_cur *c, struct dba_select_item *it)
{
    dba__http_grammar_adv(c, c->pos + 1);
    dba__http_grammar_ws(c);
    if (!sel_end(c))
        return SEL_FAIL;
    it->kind = DBA_ITEM_STAR;
    return SEL_OK;
}

/* Optional `alias:` (a single colon); backtracks when absent. */
static void
sel_alias(struct gram_cur *c, struct dba_select_item *it)
{
    size_t start = c->pos;
    struct gram_err saved = c->err;
    const char *name;

    if (dba__http_grammar_field_name(c, &name) && c->pos < c->len && c->s[c->pos] == ':' &&
        c->s[c->pos + 1] != ':') {
        it->alias = name;
        dba__http_grammar_adv(c, c->pos + 1);
        return;
    }
    c->pos = start;
    c->err = saved;
}

/* `[alias:]name[!hint|!inner|!left](`: an embedded relation. Its head goes into the tree as a
 * child node; its own select list and the relationship are the embedding issue's (until then the
 * request is refused with PGRST127). */
static void
sel_child(struct gram_cur *c, struct dba_select_item *it)
{
    struct dba_rel *r = dba_arena_alloc(c->a, sizeof(*r));
    const char *name = it->field.name;
    size_t p = c->pos;

    r->name = name;
    r->alias = it->alias;
    r->join = DBA_JOIN_LEFT;
    r->where.kind = DBA_L_AND;
    r->limit = -1;
    while (p < c->len && c->s[p] == '!') {
        size_t q = ++p;

        while (p < c->len && c->s[p] != '!' && c->s[p] != '(' && c->s[p] != ',')
            p++;
        if (p - q == 5 && strncmp(c->s + q, "inner", 5) == 0)
            r->join = DBA_JOIN_INNER;
        else if (!(p - q == 4 && strncmp(c->s + q, "left", 4) == 0) && p > q)
            r->hint = dba_arena_strndup(c->a, c->s + q, p - q);
    }
    it->kind = DBA_ITEM_CHILD;
    it->field.name = NULL;
    it->child = r;
}

static enum sel_rc
sel_item(struct gram_cur *c, struct dba_select_item *it, struct gram_sem *sem)
{
    size_t start;

    dba__http_grammar_ws(c);
    start = c->pos;
    if (dba__http_grammar_starts(c, start, "...")) {
        dba__http_grammar_sem(sem, GRAM_SEM_EMBEDDING, sel_rest(c, start));
        return SEL_SEM;
    }
    if (start < c->len && c->s[start] == '*')
        return sel_star(c, it);
    sel_alias(c, it);
    if (dba__http_grammar_starts(c, c->pos, "count()")) {
        it->kind = DBA_ITEM_AGG;
        it->agg = DBA_AGG_COUNT;
        dba__http_grammar_sem(sem, GRAM_SEM_AGGREGATE, sel_rest(c, start));
        return SEL_SEM;
    }
    if (!it->alias) {
        dba__http_grammar_fail(c, start, start, GRAM_TOK_SYS, "\"...\"");
        dba__http_grammar_fail(c, start, start, GRAM_TOK_SYS, GRAM_L_FIELD);
        dba__http_grammar_fail_str(c, start, "*", "\"*\"");
        dba__http_grammar_fail_str(c, start, "count()", "\"count()\"");
    }
    if (!dba__http_grammar_field_name(c, &it->field.name))
        return SEL_FAIL;
    if (c->pos < c->len && (c->s[c->pos] == '(' || c->s[c->pos] == '!')) {
        sel_child(c, it);
        dba__http_grammar_sem(sem, GRAM_SEM_EMBEDDING, sel_rest(c, start));
        return SEL_SEM;
    }
    if (!dba__http_grammar_json_path(c, &it->field))
        return SEL_FAIL;
    dba__http_grammar_ws(c);
    if (!sel_cast(c, &it->cast))
        return SEL_FAIL;
    if (sel_aggregate(c, it, start, sem) == SEL_SEM)
        return SEL_SEM;
    dba__http_grammar_ws(c);
    return sel_end(c) ? SEL_OK : SEL_FAIL;
}

int
dba__http_grammar_select(struct dba_arena *a, const char *v, struct dba_query *q,
                         struct gram_sem *sem, struct dba_err *err)
{
    struct gram_cur c;
    size_t cap = 0;

    dba__http_grammar_cur_init(&c, a, v);
    q->rel.select = NULL;
    q->rel.n_select = 0;
    dba__http_grammar_ws(&c);
    if (c.pos >= c.len) {
        /* An empty select= parses to no items in PostgREST; we read it as the default `*`. */
        GRAM_PUSH(a, q->rel.select, q->rel.n_select, cap)->kind = DBA_ITEM_STAR;
        return DBA_OK;
    }
    for (;;) {
        struct dba_select_item *it = GRAM_PUSH(a, q->rel.select, q->rel.n_select, cap);

        switch (sel_item(&c, it, sem)) {
        case SEL_OK:
            break;
        case SEL_FAIL:
            return dba__http_grammar_raise(&c, "select parameter", v, err);
        case SEL_SEM:
            return DBA_OK;
        }
        if (c.pos >= c.len)
            return DBA_OK;
        dba__http_grammar_adv(&c, c.pos + 1);
        dba__http_grammar_ws(&c);
    }
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
