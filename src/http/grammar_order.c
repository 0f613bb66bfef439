/* grammar_order.c - order=: comma separated `field[json path][.asc|.desc][.nullsfirst|.nullslast]`.
 *
 * `rel(field)...` orders by a column of an embedded to-one resource: the item keeps the name in
 * dba_order_item.rel; dba_query_resolve finds the embed (PGRST108 when it is not in select=,
 * PGRST118 when it is to-many). */
#include <string.h>

#include "http/grammar_int.h"

/* An optional `.a` or `.b`; returns 0 when absent, 1 for a, 2 for b. */
static int
ord_suffix(struct gram_cur *c, const char *a, const char *b)
{
    const char *words[2] = { a, b };
    size_t p = c->pos;

    if (p >= c->len || c->s[p] != '.') {
        dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, GRAM_L_DELIM);
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        if (dba__http_grammar_starts(c, p + 1, words[i])) {
            dba__http_grammar_adv(c, p + 1 + strlen(words[i]));
            return i + 1;
        }
        dba__http_grammar_fail_str(c, p + 1, words[i], dba_arena_printf(c->a, "\"%s\"", words[i]));
    }
    return 0;
}

/* Direction, nulls placement and the pEnd check shared by both kinds of term. */
static bool
ord_tail(struct gram_cur *c, struct dba_order_item *it)
{
    int nulls;

    it->desc = ord_suffix(c, "asc", "desc") == 2;
    nulls = ord_suffix(c, "nullsfirst", "nullslast");
    it->nulls = nulls == 1 ? DBA_NULLS_FIRST : nulls == 2 ? DBA_NULLS_LAST : DBA_NULLS_DEFAULT;
    dba__http_grammar_ws(c);
    if (c->pos >= c->len || c->s[c->pos] == ',')
        return true;
    dba__http_grammar_fail_str(c, c->pos, ",", "\",\"");
    dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_UN, GRAM_L_EOF);
    return false;
}

/* `rel(field)...`: true when the whole term parses that way. */
static bool
ord_relation(struct gram_cur *c, struct dba_order_item *it, const char **rel)
{
    if (!dba__http_grammar_field_name(c, rel))
        return false;
    if (c->pos >= c->len || c->s[c->pos] != '(') {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\"(\"");
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 1);
    if (!dba__http_grammar_field(c, &it->field))
        return false;
    if (c->pos >= c->len || c->s[c->pos] != ')') {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\")\"");
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 1);
    return ord_tail(c, it);
}

static bool
ord_term(struct gram_cur *c, struct dba_order_item *it)
{
    size_t start;
    const char *rel = NULL;

    dba__http_grammar_ws(c);
    start = c->pos;
    if (ord_relation(c, it, &rel)) {
        it->rel = rel;
        return true;
    }
    c->pos = start;
    memset(it, 0, sizeof(*it));
    if (!dba__http_grammar_field(c, &it->field))
        return false;
    return ord_tail(c, it);
}

int
dba__http_grammar_order(struct dba_arena *a, const char *v, struct dba_order_item **out,
                        size_t *n, struct dba_err *err)
{
    struct gram_cur c;
    size_t cap = 0;

    dba__http_grammar_cur_init(&c, a, v);
    *out = NULL;
    *n = 0;
    for (;;) {
        struct dba_order_item *it = GRAM_PUSH(a, *out, *n, cap);

        if (!ord_term(&c, it))
            return dba__http_grammar_raise(&c, "order", v, err);
        if (c.pos >= c.len)
            return DBA_OK;
        dba__http_grammar_adv(&c, c.pos + 1);
    }
}
