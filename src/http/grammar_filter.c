/* grammar_filter.c - horizontal filters: `key=[not.]op[(any|all)][(lang)].value`.
 *
 * Operators are tried in PostgREST's order (in, is, isdistinct, full text search, plain, then
 * those accepting any/all); within a group the first name that matches is taken. Values are
 * the rest of the parameter, or inside or=/and= trees a quoted string, a {...} array literal or
 * text up to ',' / ')'. like/ilike turn '*' into '%' here, so the SQL builder need not. */
#include <string.h>

#include "http/grammar_int.h"

enum op_kind {
    OPK_IN,     /* in.(a,b) */
    OPK_IS,     /* is.null */
    OPK_DIST,   /* isdistinct.v */
    OPK_FTS,    /* fts[(lang)].v */
    OPK_SIMPLE, /* neq.v and the range/array operators */
    OPK_QUANT,  /* eq[(any|all)].v and friends */
};

struct op_def {
    const char *name;  /* operator as written */
    enum dba_op op;    /* what it means */
    enum op_kind kind; /* syntax group */
};

/* Groups in trial order; within a group order matters ("gte" before "gt"). */
static const struct op_def op_defs[] = {
    { "in", DBA_OP_IN, OPK_IN },
    { "is", DBA_OP_IS, OPK_IS },
    { "isdistinct", DBA_OP_ISDISTINCT, OPK_DIST },
    { "fts", DBA_OP_FTS, OPK_FTS },
    { "plfts", DBA_OP_PLFTS, OPK_FTS },
    { "phfts", DBA_OP_PHFTS, OPK_FTS },
    { "wfts", DBA_OP_WFTS, OPK_FTS },
    { "neq", DBA_OP_NEQ, OPK_SIMPLE },
    { "cs", DBA_OP_CS, OPK_SIMPLE },
    { "cd", DBA_OP_CD, OPK_SIMPLE },
    { "ov", DBA_OP_OV, OPK_SIMPLE },
    { "sl", DBA_OP_SL, OPK_SIMPLE },
    { "sr", DBA_OP_SR, OPK_SIMPLE },
    { "nxr", DBA_OP_NXR, OPK_SIMPLE },
    { "nxl", DBA_OP_NXL, OPK_SIMPLE },
    { "adj", DBA_OP_ADJ, OPK_SIMPLE },
    { "eq", DBA_OP_EQ, OPK_QUANT },
    { "gte", DBA_OP_GTE, OPK_QUANT },
    { "gt", DBA_OP_GT, OPK_QUANT },
    { "lte", DBA_OP_LTE, OPK_QUANT },
    { "lt", DBA_OP_LT, OPK_QUANT },
    { "like", DBA_OP_LIKE, OPK_QUANT },
    { "ilike", DBA_OP_ILIKE, OPK_QUANT },
    { "match", DBA_OP_MATCH, OPK_QUANT },
    { "imatch", DBA_OP_IMATCH, OPK_QUANT },
};

static const struct {
    const char *word;        /* accepted case-insensitively */
    enum dba_is_value value; /* meaning */
} is_values[] = {
    { "null", DBA_IS_NULL },   { "not_null", DBA_IS_NOT_NULL }, { "true", DBA_IS_TRUE },
    { "false", DBA_IS_FALSE }, { "unknown", DBA_IS_UNKNOWN },
};

/* Requires the '.' that separates operator and value at p; consumes it. */
static bool
flt_delim(struct gram_cur *c, size_t p)
{
    if (p < c->len && c->s[p] == '.') {
        dba__http_grammar_adv(c, p + 1);
        return true;
    }
    dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, GRAM_L_DELIM);
    return false;
}

/* pLogicSingleVal: "quoted" (followed by , or )), {array literal}, or text up to , or ). */
static const char *
flt_logic_value(struct gram_cur *c)
{
    size_t start = c->pos, p;
    const char *v;

    if (start < c->len && c->s[start] == '"' && dba__http_grammar_quoted(c, &v) &&
        (c->pos >= c->len || c->s[c->pos] == ',' || c->s[c->pos] == ')'))
        return v;
    c->pos = start;
    if (start < c->len && c->s[start] == '{') {
        for (p = start + 1; p < c->len && c->s[p] != '{' && c->s[p] != '}'; p++)
            ;
        if (p < c->len && c->s[p] == '}') {
            dba__http_grammar_adv(c, p + 1);
            return dba_arena_strndup(c->a, c->s + start, p + 1 - start);
        }
    }
    for (p = start; p < c->len && c->s[p] != ',' && c->s[p] != ')'; p++)
        ;
    dba__http_grammar_adv(c, p);
    return dba_arena_strndup(c->a, c->s + start, p - start);
}

static const char *
flt_value(struct gram_cur *c, bool in_logic)
{
    const char *v;

    if (in_logic)
        return flt_logic_value(c);
    v = dba_arena_strdup(c->a, c->s + c->pos);
    dba__http_grammar_adv(c, c->len);
    return v;
}

/* One in.(...) element: "quoted" when followed by , or ), else raw text up to , or ). */
static const char *
flt_list_elem(struct gram_cur *c, bool *raw_empty)
{
    size_t start = c->pos, p;
    const char *v;

    *raw_empty = false;
    if (start < c->len && c->s[start] == '"' && dba__http_grammar_quoted(c, &v) &&
        (c->pos >= c->len || c->s[c->pos] == ',' || c->s[c->pos] == ')'))
        return v;
    c->pos = start;
    for (p = start; p < c->len && c->s[p] != ',' && c->s[p] != ')'; p++)
        ;
    dba__http_grammar_adv(c, p);
    *raw_empty = p == start;
    return dba_arena_strndup(c->a, c->s + start, p - start);
}

/* pListVal: `(` elem {`,` elem} `)` with optional spaces around the parentheses. */
static bool
flt_list(struct gram_cur *c, struct dba_filter *f)
{
    size_t cap = 0;
    bool raw_empty = false;

    dba__http_grammar_ws(c);
    if (c->pos >= c->len || c->s[c->pos] != '(') {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\"(\"");
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 1);
    dba__http_grammar_ws(c);
    for (;;) {
        const char **slot = GRAM_PUSH(c->a, f->list, f->n_list, cap);

        *slot = flt_list_elem(c, &raw_empty);
        if (c->pos >= c->len || c->s[c->pos] != ',')
            break;
        dba__http_grammar_adv(c, c->pos + 1);
    }
    dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\",\"");
    dba__http_grammar_ws(c);
    if (c->pos >= c->len || c->s[c->pos] != ')') {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\")\"");
        return false;
    }
    dba__http_grammar_adv(c, c->pos + 1);
    dba__http_grammar_ws(c);
    if (f->n_list == 1 && raw_empty)
        f->n_list = 0; /* in.() matches nothing */
    return true;
}

/* pIsVal: null, not_null, true, false or unknown in any letter case. */
static bool
flt_is_value(struct gram_cur *c, struct dba_filter *f)
{
    size_t p = c->pos;

    for (size_t i = 0; i < DBA_ARRAY_LEN(is_values); i++) {
        const char *w = is_values[i].word;
        size_t k = 0;

        while (w[k] && p + k < c->len &&
               (c->s[p + k] == w[k] || (w[k] >= 'a' && w[k] <= 'z' && c->s[p + k] == w[k] - 32)))
            k++;
        if (!w[k]) {
            f->is_value = is_values[i].value;
            dba__http_grammar_adv(c, p + k);
            return true;
        }
        dba__http_grammar_fail(c, p + k, p + k, GRAM_TOK_SYS, NULL);
    }
    dba__http_grammar_err_relabel(&c->err, GRAM_L_ISVAL);
    return false;
}

/* `(lang)` after an fts operator at p; returns where the '.' must be (p when absent). */
static size_t
flt_fts_lang(struct gram_cur *c, size_t p, struct dba_filter *f)
{
    size_t save = c->pos;
    const char *lang;

    if (p >= c->len || c->s[p] != '(')
        return p;
    c->pos = p + 1;
    if (dba__http_grammar_ident(c, &lang) && c->pos < c->len && c->s[c->pos] == ')') {
        f->lang = lang;
        p = c->pos + 1;
    } else if (c->pos > p + 1) {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\")\"");
    }
    c->pos = save;
    return p;
}

/* `(any)` / `(all)` after a quantifiable operator at p; returns where the '.' must be. */
static size_t
flt_quant(struct gram_cur *c, size_t p, struct dba_filter *f)
{
    static const char *const words[2] = { "any", "all" };

    if (p >= c->len || c->s[p] != '(')
        return p;
    for (int i = 0; i < 2; i++) {
        if (!dba__http_grammar_starts(c, p + 1, words[i])) {
            dba__http_grammar_fail_str(c, p + 1, words[i], NULL);
            continue;
        }
        if (c->s[p + 4] != ')') {
            dba__http_grammar_fail(c, p + 4, p + 4, GRAM_TOK_SYS, NULL);
            return p;
        }
        f->quant = i == 0 ? DBA_Q_ANY : DBA_Q_ALL;
        return p + 5;
    }
    return p;
}

/* Parses what follows the operator name d->name at p (already matched). */
static int
flt_after_op(struct gram_cur *c, const struct op_def *d, size_t p, bool in_logic,
             struct dba_filter *f)
{
    size_t r = p + strlen(d->name);

    f->quant = DBA_Q_NONE;
    f->lang = NULL;
    if (d->kind == OPK_FTS)
        r = flt_fts_lang(c, r, f);
    else if (d->kind == OPK_QUANT)
        r = flt_quant(c, r, f);
    if (!flt_delim(c, r))
        return -1; /* this group failed; later groups may match */
    f->op = d->op;
    switch (d->kind) {
    case OPK_IN:
        return flt_list(c, f) ? 1 : 0;
    case OPK_IS:
        return flt_is_value(c, f) ? 1 : 0;
    case OPK_DIST:
    case OPK_FTS:
    case OPK_SIMPLE:
    case OPK_QUANT:
        f->value = flt_value(c, in_logic);
        return 1;
    }
    return 0;
}

/* '*' means '%' for like/ilike, also inside any/all array literals. */
static void
flt_like_stars(struct gram_cur *c, struct dba_filter *f)
{
    char *v;

    if ((f->op != DBA_OP_LIKE && f->op != DBA_OP_ILIKE) || !f->value)
        return;
    v = dba_arena_strdup(c->a, f->value);
    for (char *p = v; *p; p++)
        if (*p == '*')
            *p = '%';
    f->value = v;
}

/* pOperation: the groups in order; errors of groups that failed without consuming are merged
   and relabelled "operator (eq, gt, ...)" as PostgREST's `<?>` does. */
static bool
flt_operation(struct gram_cur *c, bool in_logic, struct dba_filter *f)
{
    size_t p = c->pos;
    bool group_done = false;

    for (size_t i = 0; i < DBA_ARRAY_LEN(op_defs); i++) {
        const struct op_def *d = &op_defs[i];
        int rc;

        if (i == 0 || d->kind != op_defs[i - 1].kind)
            group_done = false; /* a new group starts */
        if (group_done)
            continue;
        if (!dba__http_grammar_starts(c, p, d->name)) {
            dba__http_grammar_fail_str(c, p, d->name, NULL);
            continue;
        }
        group_done = true;
        rc = flt_after_op(c, d, p, in_logic, f);
        if (rc >= 0) {
            flt_like_stars(c, f);
            return rc == 1;
        }
    }
    dba__http_grammar_err_relabel(&c->err, GRAM_L_OPERATOR);
    return false;
}

bool
dba__http_grammar_op_expr(struct gram_cur *c, bool in_logic, struct dba_filter *f)
{
    size_t p = c->pos;
    struct gram_err not_err;

    f->negate = false;
    if (dba__http_grammar_starts(c, p, "not.")) {
        f->negate = true;
        dba__http_grammar_adv(c, p + 4);
        return flt_operation(c, in_logic, f);
    }
    if (dba__http_grammar_starts(c, p, "not"))
        dba__http_grammar_fail(c, p + 3, p + 3, GRAM_TOK_SYS, GRAM_L_DELIM);
    else
        dba__http_grammar_fail_str(c, p, "not", "\"not\"");
    not_err = c->err;
    c->err.set = false;
    if (flt_operation(c, in_logic, f))
        return true;
    dba__http_grammar_err_merge(&not_err, &c->err);
    c->err = not_err;
    return false;
}

/* pTreePath: name{.name}[json path]; names before the last one are the embedded path. */
static bool
flt_tree_path(struct gram_cur *c, struct dba_field *fld, const char ***path, size_t *n_path)
{
    size_t cap = 0;

    *path = NULL;
    *n_path = 0;
    if (!dba__http_grammar_field_name(c, &fld->name))
        return false;
    while (c->pos < c->len && c->s[c->pos] == '.') {
        *GRAM_PUSH(c->a, *path, *n_path, cap) = fld->name;
        dba__http_grammar_adv(c, c->pos + 1);
        if (!dba__http_grammar_field_name(c, &fld->name))
            return false;
    }
    dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, GRAM_L_DELIM);
    if (!dba__http_grammar_json_path(c, fld))
        return false;
    if (c->pos >= c->len)
        return true;
    /* PostgREST ignores what follows (e.g. a cast, which filters do not allow); we refuse it. */
    dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_UN, GRAM_L_EOF);
    return false;
}

int
dba__http_grammar_key_path(struct dba_arena *a, const char *key, const char ***path,
                           size_t *n_path, struct dba_err *err)
{
    struct gram_cur c;
    struct dba_field f;

    memset(&f, 0, sizeof(f));
    dba__http_grammar_cur_init(&c, a, key);
    if (!flt_tree_path(&c, &f, path, n_path))
        return dba__http_grammar_raise(&c, "tree path", key, err);
    return DBA_OK;
}

int
dba__http_grammar_filter(struct dba_arena *a, const char *key, const char *v,
                         struct dba_logic *out, const char ***path, size_t *n_path,
                         struct dba_err *err)
{
    struct gram_cur c;

    memset(out, 0, sizeof(*out));
    out->kind = DBA_L_FILTER;
    dba__http_grammar_cur_init(&c, a, key);
    if (!flt_tree_path(&c, &out->filter.field, path, n_path))
        return dba__http_grammar_raise(&c, "tree path", key, err);
    dba__http_grammar_cur_init(&c, a, v);
    if (!dba__http_grammar_op_expr(&c, false, &out->filter))
        return dba__http_grammar_raise(&c, "filter", v, err);
    if (c.pos < c.len) {
        /* Only in.(...) and is.x can stop early; PostgREST ignores the rest, we refuse it. */
        dba__http_grammar_fail(&c, c.pos, c.pos, GRAM_TOK_UN, GRAM_L_EOF);
        return dba__http_grammar_raise(&c, "filter", v, err);
    }
    return DBA_OK;
}
