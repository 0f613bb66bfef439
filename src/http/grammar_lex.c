/* grammar_lex.c - cursor, Parsec-style errors and the shared lexemes of the PostgREST grammar.
 *
 * PostgREST parses every query parameter with Parsec and puts Parsec's error text into the
 * response ("failed to parse order (id.ac)" (line 1, column 4) / unexpected "c" expecting ...).
 * Clients and test suites compare those texts, so this file reproduces the parts of Parsec's
 * error model the grammar exercises:
 *   - an error records a position, the unexpected token and what was expected there;
 *   - of two errors the one further right wins, equal positions merge their expectations;
 *   - consuming input forgets earlier errors (dba__http_grammar_adv);
 *   - a parser that succeeds still leaves "stop" expectations at the place it stopped (many1
 *     letter leaves "letter" and "digit"), which show up if the next step fails right there.
 * The lexemes below follow PostgREST's QueryParams.hs: field names, quoted values, identifiers
 * and JSON paths. */
#include <stdio.h>
#include <string.h>

#include "http/grammar_int.h"

void
dba__http_grammar_cur_init(struct gram_cur *c, struct dba_arena *a, const char *s)
{
    memset(c, 0, sizeof(*c));
    c->a = a;
    c->s = s ? s : "";
    c->len = strlen(c->s);
}

void
dba__http_grammar_adv(struct gram_cur *c, size_t to)
{
    if (to > c->pos)
        c->err.set = false;
    c->pos = to;
}

/* Decodes the UTF-8 character at s[pos]; returns its code point and stores its byte length. */
static unsigned
lex_utf8(const char *s, size_t len, size_t pos, size_t *n)
{
    const unsigned char *p = (const unsigned char *)s + pos;
    size_t need = 0;
    unsigned cp = p[0];

    if (cp >= 0xF0)
        need = 3, cp &= 0x07;
    else if (cp >= 0xE0)
        need = 2, cp &= 0x0F;
    else if (cp >= 0xC0)
        need = 1, cp &= 0x1F;
    *n = 1;
    for (size_t i = 1; i <= need && pos + i < len && (p[i] & 0xC0) == 0x80; i++) {
        cp = (cp << 6) | (p[i] & 0x3F);
        *n = i + 1;
    }
    return cp;
}

/* Haskell's escape of one character inside a shown literal quoted with q. */
static void
lex_show_char(unsigned cp, char q, char *out, size_t n)
{
    static const char *const ctl[] = {
        "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "a", "b", "t", "n", "v", "f", "r",
        "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM",
        "SUB", "ESC", "FS", "GS", "RS", "US",
    };

    if (cp == (unsigned)q || cp == '\\')
        snprintf(out, n, "\\%c", (char)cp);
    else if (cp >= 0x20 && cp < 0x7F)
        snprintf(out, n, "%c", (char)cp);
    else if (cp < 0x20)
        snprintf(out, n, "\\%s", ctl[cp]);
    else if (cp == 0x7F)
        snprintf(out, n, "\\DEL");
    else
        snprintf(out, n, "\\%u", cp);
}

/* The token at tokpos as Parsec shows it: "x" for GRAM_TOK_SYS, 'x' otherwise, "" at the end. */
static void
lex_show_tok(const struct gram_cur *c, size_t tokpos, enum gram_tok kind, char *out, size_t n)
{
    char q = kind == GRAM_TOK_SYS ? '"' : '\'';
    char body[16];
    size_t len;

    if (tokpos >= c->len) {
        out[0] = '\0';
        return;
    }
    lex_show_char(lex_utf8(c->s, c->len, tokpos, &len), q, body, sizeof(body));
    snprintf(out, n, "%c%s%c", q, body, q);
}

static void
lex_add_expect(struct gram_err *e, const char *expect)
{
    if (!expect || !*expect)
        return;
    for (size_t i = 0; i < e->n_expect; i++)
        if (strcmp(e->expect[i], expect) == 0)
            return;
    if (e->n_expect < GRAM_MAX_EXPECT)
        e->expect[e->n_expect++] = expect;
}

void
dba__http_grammar_fail(struct gram_cur *c, size_t pos, size_t tokpos, enum gram_tok kind,
                       const char *expect)
{
    struct gram_err *e = &c->err;

    if (e->set && pos < e->pos)
        return;
    if (!e->set || pos > e->pos) {
        memset(e, 0, sizeof(*e));
        e->set = true;
        e->pos = pos;
    }
    if (kind == GRAM_TOK_SYS && !e->has_sys) {
        e->has_sys = true;
        lex_show_tok(c, tokpos, kind, e->sys, sizeof(e->sys));
    } else if (kind == GRAM_TOK_UN && !e->has_un) {
        e->has_un = true;
        lex_show_tok(c, tokpos, kind, e->un, sizeof(e->un));
    }
    lex_add_expect(e, expect);
}

bool
dba__http_grammar_starts(const struct gram_cur *c, size_t pos, const char *lit)
{
    size_t n = strlen(lit);

    return pos <= c->len && c->len - pos >= n && memcmp(c->s + pos, lit, n) == 0;
}

void
dba__http_grammar_fail_str(struct gram_cur *c, size_t pos, const char *lit, const char *expect)
{
    size_t k = 0;

    /* Parsec's string reports its failure at its start, showing the first mismatching char. */
    while (lit[k] && pos + k < c->len && c->s[pos + k] == lit[k])
        k++;
    dba__http_grammar_fail(c, pos, pos + k, GRAM_TOK_SYS, expect);
}

void
dba__http_grammar_err_merge(struct gram_err *first, const struct gram_err *second)
{
    struct gram_err out;

    if (!second->set || (first->set && first->pos > second->pos))
        return;
    if (!first->set || second->pos > first->pos) {
        *first = *second;
        return;
    }
    out = *first;
    if (!out.has_sys && second->has_sys) {
        out.has_sys = true;
        memcpy(out.sys, second->sys, sizeof(out.sys));
    }
    if (!out.has_un && second->has_un) {
        out.has_un = true;
        memcpy(out.un, second->un, sizeof(out.un));
    }
    for (size_t i = 0; i < second->n_expect; i++)
        lex_add_expect(&out, second->expect[i]);
    *first = out;
}

void
dba__http_grammar_err_relabel(struct gram_err *e, const char *label)
{
    if (!e->set)
        return;
    e->n_expect = 0;
    lex_add_expect(e, label);
}

/* Parsec's line/column: columns count characters, a tab advances to the next multiple of 8. */
static void
lex_linecol(const struct gram_cur *c, size_t pos, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos && i < c->len;) {
        size_t n;
        unsigned cp = lex_utf8(c->s, c->len, i, &n);

        if (cp == '\n') {
            (*line)++;
            *col = 1;
        } else if (cp == '\t') {
            *col += 8 - ((*col - 1) % 8);
        } else {
            (*col)++;
        }
        i += n;
    }
}

int
dba__http_grammar_raise(const struct gram_cur *c, const char *what, const char *shown,
                        struct dba_err *err)
{
    const struct gram_err *e = &c->err;
    struct dba_buf d;
    unsigned line, col;

    lex_linecol(c, e->set ? e->pos : c->pos, &line, &col);
    dba_err_set(err, DBA_EINVAL, 400, "PGRST100",
                "\"failed to parse %s (%s)\" (line %u, column %u)", what, shown, line, col);
    dba_buf_init(&d);
    if (e->has_un)
        dba_buf_printf(&d, "unexpected %s", e->un);
    else if (e->has_sys)
        dba_buf_printf(&d, "unexpected %s", e->sys[0] ? e->sys : GRAM_L_EOF);
    for (size_t i = 0; i < e->n_expect; i++) {
        const char *sep = i == 0 ? "expecting " : (i + 1 == e->n_expect ? " or " : ", ");

        if (i == 0 && d.len)
            dba_buf_putc(&d, ' ');
        dba_buf_printf(&d, "%s%s", sep, e->expect[i]);
    }
    dba_err_detail(err, "%s", d.len ? d.data : "unknown parse error");
    dba_buf_cleanup(&d);
    return DBA_EINVAL;
}

void
dba__http_grammar_ws(struct gram_cur *c)
{
    size_t p = c->pos;

    while (p < c->len && (c->s[p] == ' ' || c->s[p] == '\t'))
        p++;
    dba__http_grammar_adv(c, p);
}

/* Parsec's letter <|> digit <|> oneOf "_ $"; every non-ASCII byte counts as a letter. */
static bool
lex_is_ident(const struct gram_cur *c, size_t p)
{
    unsigned char ch = p < c->len ? (unsigned char)c->s[p] : 0;

    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == ' ' || ch == '$' || ch >= 0x80;
}

/* noneOf "(-:.,>)": what an unquoted JSON key may contain. */
static bool
lex_is_keych(const struct gram_cur *c, size_t p)
{
    return p < c->len && !strchr("(-:.,>)", c->s[p]);
}

/* Appends s[0..n) without leading and trailing spaces (T.strip) to buf at o; returns new o. */
static size_t
lex_put_stripped(char *buf, size_t o, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    memcpy(buf + o, s, n);
    return o + n;
}

bool
dba__http_grammar_quoted(struct gram_cur *c, const char **out)
{
    size_t p = c->pos + 1, o = 0;
    char *buf = dba_arena_alloc(c->a, c->len - c->pos + 1);

    while (p < c->len && c->s[p] != '"') {
        if (c->s[p] == '\\') {
            if (p + 1 >= c->len) {
                dba__http_grammar_adv(c, p + 1);
                dba__http_grammar_fail(c, p + 1, p + 1, GRAM_TOK_SYS, NULL);
                return false;
            }
            p++;
        }
        buf[o++] = c->s[p++];
    }
    if (p >= c->len) {
        dba__http_grammar_adv(c, p);
        dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, "\"\\\\\"");
        dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, "\"\\\"\"");
        return false;
    }
    buf[o] = '\0';
    dba__http_grammar_adv(c, p + 1);
    *out = buf;
    return true;
}

bool
dba__http_grammar_ident(struct gram_cur *c, const char **out)
{
    size_t p = c->pos, e = p;
    char *buf;

    while (lex_is_ident(c, e))
        e++;
    if (e == p) {
        dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, "letter");
        dba__http_grammar_fail(c, p, p, GRAM_TOK_SYS, "digit");
        return false;
    }
    buf = dba_arena_alloc(c->a, e - p + 1);
    buf[lex_put_stripped(buf, 0, c->s + p, e - p)] = '\0';
    dba__http_grammar_adv(c, e);
    dba__http_grammar_fail(c, e, e, GRAM_TOK_SYS, "letter");
    dba__http_grammar_fail(c, e, e, GRAM_TOK_SYS, "digit");
    *out = buf;
    return true;
}

/* sepByDash: runs of `is` characters joined by '-' that is not the start of "->". */
static bool
lex_dashed(struct gram_cur *c, bool (*is)(const struct gram_cur *, size_t), bool idents,
           const char **out)
{
    size_t p = c->pos, o = 0;
    char *buf = dba_arena_alloc(c->a, c->len - p + 1);

    for (;;) {
        size_t e = p;

        while (is(c, e))
            e++;
        o = lex_put_stripped(buf, o, c->s + p, e - p);
        dba__http_grammar_adv(c, e);
        if (e >= c->len || c->s[e] != '-' || c->s[e + 1] == '>')
            break;
        dba__http_grammar_adv(c, e + 1);
        if (!is(c, e + 1)) {
            dba__http_grammar_fail(c, e + 1, e + 1, GRAM_TOK_SYS, idents ? "letter" : NULL);
            if (idents)
                dba__http_grammar_fail(c, e + 1, e + 1, GRAM_TOK_SYS, "digit");
            return false;
        }
        buf[o++] = '-';
        p = e + 1;
    }
    buf[o] = '\0';
    if (idents) {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "letter");
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "digit");
    }
    if (c->pos >= c->len || c->s[c->pos] != '-')
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, "\"-\"");
    *out = buf;
    return true;
}

bool
dba__http_grammar_field_name(struct gram_cur *c, const char **out)
{
    if (c->pos < c->len && c->s[c->pos] == '"')
        return dba__http_grammar_quoted(c, out);
    if (!lex_is_ident(c, c->pos)) {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, GRAM_L_FIELD);
        return false;
    }
    return lex_dashed(c, lex_is_ident, true, out);
}

static bool
lex_json_key(struct gram_cur *c, const char **out)
{
    if (c->pos < c->len && c->s[c->pos] == '"')
        return dba__http_grammar_quoted(c, out);
    if (!lex_is_keych(c, c->pos)) {
        dba__http_grammar_fail(c, c->pos, c->pos, GRAM_TOK_SYS, GRAM_L_JSONKEY);
        return false;
    }
    return lex_dashed(c, lex_is_keych, false, out);
}

/* pEnd after an array index: lookAhead of "->", "::", ".", "," or the end of input. */
static bool
lex_index_end(const struct gram_cur *c, size_t k)
{
    return k >= c->len || dba__http_grammar_starts(c, k, "->") ||
           dba__http_grammar_starts(c, k, "::") || c->s[k] == '.' || c->s[k] == ',';
}

/* One operand after an arrow: an integer index (pJIdx) is tried before a key (pJKey). */
static bool
lex_json_operand(struct gram_cur *c, struct dba_jstep *st)
{
    size_t q = c->pos, j = q, k;

    if (c->s[j] == '-')
        j++;
    for (k = j; k < c->len && c->s[k] >= '0' && c->s[k] <= '9'; k++)
        ;
    if (k == j) {
        if (j == q)
            dba__http_grammar_fail(c, q, q, GRAM_TOK_SYS, "\"-\"");
        dba__http_grammar_fail(c, j, j, GRAM_TOK_SYS, "digit");
    } else if (lex_index_end(c, k)) {
        st->key = dba_arena_strndup(c->a, c->s + q, k - q);
        st->is_index = true;
        dba__http_grammar_adv(c, k);
        dba__http_grammar_fail(c, k, k, GRAM_TOK_SYS, "digit");
        return true;
    } else {
        dba__http_grammar_fail(c, k, k, GRAM_TOK_SYS, "digit");
        dba__http_grammar_fail_str(c, k, "->", "\"->\"");
        dba__http_grammar_fail_str(c, k, "::", "\"::\"");
        dba__http_grammar_fail_str(c, k, ".", "\".\"");
        dba__http_grammar_fail_str(c, k, ",", "\",\"");
        dba__http_grammar_fail(c, k, k, GRAM_TOK_UN, GRAM_L_EOF);
    }
    st->is_index = false;
    return lex_json_key(c, &st->key);
}

bool
dba__http_grammar_json_path(struct gram_cur *c, struct dba_field *f)
{
    size_t cap = f->n_path;

    for (;;) {
        size_t p = c->pos;
        struct dba_jstep *st;
        bool text;

        if (dba__http_grammar_starts(c, p, "->>")) {
            text = true;
        } else if (dba__http_grammar_starts(c, p, "->")) {
            text = false;
        } else {
            dba__http_grammar_fail_str(c, p, "->>", "\"->>\"");
            dba__http_grammar_fail_str(c, p, "->", "\"->\"");
            return true;
        }
        dba__http_grammar_adv(c, p + (text ? 3 : 2));
        st = GRAM_PUSH(c->a, f->path, f->n_path, cap);
        st->as_text = text;
        if (!lex_json_operand(c, st))
            return false;
    }
}

bool
dba__http_grammar_field(struct gram_cur *c, struct dba_field *f)
{
    dba__http_grammar_ws(c);
    if (!dba__http_grammar_field_name(c, &f->name))
        return false;
    if (!dba__http_grammar_json_path(c, f))
        return false;
    dba__http_grammar_ws(c);
    return true;
}

void *
dba__http_grammar_grow(struct dba_arena *a, void *arr, size_t n, size_t *cap, size_t size)
{
    void *grown;

    if (n < *cap)
        return arr;
    *cap = *cap ? *cap * 2 : 4;
    grown = dba_arena_alloc(a, *cap * size);
    if (n)
        memcpy(grown, arr, n * size);
    return grown;
}
