/* grammar_logic.c - or=/and= trees: `or=(a.eq.1,not.and(b.gt.2,c.is.null))`.
 *
 * Like PostgREST the key's operator is glued in front of the value ("or" + "(...)") and the
 * result is parsed as one tree, so error columns count from the start of "or(...)". A node is a
 * filter `field[json path].[not.]op.value`, tried first, or `[not.](and|or)(node, ...)`. */
#include <string.h>

#include "http/grammar_int.h"

static bool logic_node(struct gram_cur *c, struct dba_logic *n);

/* pLogicFilter: field '.' op expr; the field may carry a JSON path but no embedded path. */
static bool
logic_filter(struct gram_cur *c, struct dba_logic *n)
{
    memset(n, 0, sizeof(*n));
    n->kind = DBA_L_FILTER;
    if (!dba__http_grammar_field(c, &n->filter.field))
        return false;
    if (c->pos >= c->len || c->s[c->pos] != '.') {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, GRAM_L_DELIM);
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 1);
    return dba__http_grammar_op_expr(c, true, &n->filter);
}

/* `[not.](and|or)`; false with the error recorded when neither operator is there. */
static bool
logic_head(struct gram_cur *c, struct dba_logic *n)
{
    size_t p = c->pos;

    if (dba__http_grammar_starts(c, p, "not.")) {
        n->negate = true;
        dba__http_grammar_adv(c, p + 4);
    } else if (dba__http_grammar_starts(c, p, "not")) {
        dba__http_grammar_fail(c, p + 3, p + 3, GRAM_TOK_SYS, "negation operator (not)");
    } else {
        dba__http_grammar_fail_str(c, p, "not", "negation operator (not)");
    }
    p = c->pos;
    if (dba__http_grammar_starts(c, p, "and")) {
        n->kind = DBA_L_AND;
        dba__http_grammar_adv(c, p + 3);
    } else if (dba__http_grammar_starts(c, p, "or")) {
        n->kind = DBA_L_OR;
        dba__http_grammar_adv(c, p + 2);
    } else {
        dba__http_grammar_fail_str(c, p, "and", "logic operator (and, or)");
        dba__http_grammar_fail_str(c, p, "or", "logic operator (and, or)");
        return false;
    }
    return true;
}

/* A lexeme(char ch): optional spaces, ch, optional spaces. */
static bool
logic_punct(struct gram_cur *c, char ch, const char *expect)
{
    dba__http_grammar_ws(c);
    if (c->pos >= c->len || c->s[c->pos] != ch) {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, expect);
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 1);
    dba__http_grammar_ws(c);
    return true;
}

/* `(node, node, ...)` after the operator. */
static bool
logic_children(struct gram_cur *c, struct dba_logic *n)
{
    size_t cap = 0;

    if (!logic_punct(c, '(', "\"(\""))
        return false;
    for (;;) {
        struct dba_logic *child = GRAM_PUSH(c->a, n->children, n->n_children, cap);

        if (!logic_node(c, child))
            return false;
        if (logic_punct(c, ',', "\",\""))
            continue;
        return logic_punct(c, ')', "\")\"");
    }
}

static bool
logic_node(struct gram_cur *c, struct dba_logic *n)
{
    size_t start = c->pos;
    bool ok;

    if (logic_filter(c, n))
        return true;
    c->pos = start;
    memset(n, 0, sizeof(*n));
    if (!logic_head(c, n))
        return false;
    if (++c->depth > GRAM_MAX_DEPTH) {
        dba__http_grammar_adv(c, c->pos);
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_UN, "a less deeply nested logic tree");
        return false;
    }
    ok = logic_children(c, n);
    c->depth--;
    return ok;
}

/* pLogicPath: the key is names separated by '.'; the last is the operator (and/or), a "not"
   anywhere negates it, the others are the embedded path. Returns the operator text to glue in
   front of the value, or NULL with err set when the key does not parse. */
static const char *
logic_key(struct dba_arena *a, const char *key, const char ***path, size_t *n_path,
          struct dba_err *err)
{
    struct gram_cur c;
    const char **names = NULL;
    size_t n = 0, cap = 0;
    bool neg = false;

    *path = NULL;
    *n_path = 0;
    dba__http_grammar_cur_init(&c, a, key);
    for (;;) {
        if (!dba__http_grammar_field_name(&c, GRAM_PUSH(a, names, n, cap))) {
            (void)dba__http_grammar_raise(&c, "logic path", key, err);
            return NULL;
        }
        if (c.pos >= c.len || c.s[c.pos] != '.')
            break;
        dba__http_grammar_adv(&c, c.pos + 1);
    }
    cap = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (strcmp(names[i], "not") == 0)
            neg = true;
        else
            *GRAM_PUSH(a, *path, *n_path, cap) = names[i];
    }
    return dba_arena_printf(a, "%s%s", neg ? "not." : "", names[n - 1]);
}

int
dba__http_grammar_logic(struct dba_arena *a, const char *key, const char *v,
                        struct dba_logic *out, const char ***path, size_t *n_path,
                        struct dba_err *err)
{
    struct gram_cur c;
    const char *op = logic_key(a, key, path, n_path, err);
    const char *text;

    if (op == NULL)
        return DBA_EINVAL;
    text = dba_arena_printf(a, "%s%s", op, v);
    dba__http_grammar_cur_init(&c, a, text);
    if (!logic_node(&c, out))
        return dba__http_grammar_raise(&c, "logic tree", v, err);
    if (c.pos < c.len) {
        /* PostgREST ignores trailing text after the closing parenthesis; we refuse it. */
        dba__http_grammar_fail(&c, c.pos, c.pos, GRAM_TOK_UN, GRAM_L_EOF);
        return dba__http_grammar_raise(&c, "logic tree", v, err);
    }
    return DBA_OK;
}
