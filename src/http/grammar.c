/* grammar.c - the PostgREST request grammar: a request's query string, Prefer, Accept, Range and
 * body become one struct dba_query.
 *
 * Design notes.
 * - The query string is split on '&' and ';' (as PostgREST's http-types does), each pair on its
 *   first '=', then key and value are percent-decoded with '+' as space. Pairs without '=' are
 *   ignored. Keys may repeat: every filter and every or=/and= applies; for select, columns and
 *   on_conflict the first pair counts, for order the first, for limit/offset the last.
 * - Reserved keys are select, columns, on_conflict (exact) and order, limit, offset, and, or
 *   (the last dot-separated word, so `actors.order` is recognised); everything else is a filter.
 * - Parameters are parsed in PostgREST's order (order, logic, columns, select, filters,
 *   on_conflict) so the same syntax error wins, with Parsec-compatible messages (grammar_lex.c).
 * - Resource embedding is not implemented. Dotted keys (`rel.col=`, `rel.order=`) get PostgREST's
 *   answer for an embed missing from select=, 400 PGRST108; embeds inside select= get 400
 *   PGRST127 "Feature not implemented"; aggregates get 400 PGRST123. These are raised after all
 *   syntax checks, as PostgREST raises them from its planner.
 * - Stricter than PostgREST on purpose: trailing text after a complete filter, tree, column list
 *   or filter key (e.g. a cast `col::text=eq.1`) is a 400 instead of being silently ignored, and
 *   a non-numeric limit/offset is a 400 PGRST100 instead of being ignored. */
#include <string.h>
#include <strings.h>

#include "http/grammar_int.h"

enum gp_kind {
    GP_SELECT,      /* select= */
    GP_COLUMNS,     /* columns= */
    GP_ON_CONFLICT, /* on_conflict= */
    GP_ORDER,       /* [embed.]order= */
    GP_LIMIT,       /* [embed.]limit= */
    GP_OFFSET,      /* [embed.]offset= */
    GP_LOGIC,       /* [embed.][not.]and= / or= */
    GP_FILTER,      /* anything else */
};

struct gp_param {
    enum gp_kind kind; /* what the key means */
    const char *key;   /* decoded key */
    const char *val;   /* decoded value */
    const char *embed; /* first segment of a dotted reserved key, else NULL */
};

/* State of one dba_http_grammar_parse call. */
struct gp {
    struct dba_arena *a;      /* request arena */
    struct gp_param *params;  /* decoded pairs in query-string order */
    size_t n_params;          /* count */
    size_t params_cap;        /* capacity */
    size_t where_cap;         /* capacity of q->rel.where.children */
    struct gram_sem sem;      /* first deferred non-syntax error */
    const char *limit;        /* last root limit= value, or NULL */
    const char *offset;       /* last root offset= value, or NULL */
};

const char *
dba_http_method_name(enum dba_method m)
{
    switch (m) {
    case DBA_M_GET: return "GET";
    case DBA_M_HEAD: return "HEAD";
    case DBA_M_POST: return "POST";
    case DBA_M_PATCH: return "PATCH";
    case DBA_M_PUT: return "PUT";
    case DBA_M_DELETE: return "DELETE";
    case DBA_M_OPTIONS: return "OPTIONS";
    }
    return "GET";
}

bool
dba_http_method_from_name(const char *name, enum dba_method *out)
{
    static const enum dba_method all[] = { DBA_M_GET, DBA_M_HEAD, DBA_M_POST, DBA_M_PATCH,
                                           DBA_M_PUT, DBA_M_DELETE, DBA_M_OPTIONS };

    for (size_t i = 0; name && i < DBA_ARRAY_LEN(all); i++) {
        if (strcmp(name, dba_http_method_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

/* The reserved-key class of a decoded key, and for dotted ones its first segment. */
static enum gp_kind
gp_classify(struct dba_arena *a, const char *key, const char **embed)
{
    static const struct {
        const char *word;  /* last dot-separated word */
        enum gp_kind kind; /* meaning */
    } words[] = { { "order", GP_ORDER }, { "limit", GP_LIMIT }, { "offset", GP_OFFSET },
                  { "and", GP_LOGIC },   { "or", GP_LOGIC } };
    const char *dot = strrchr(key, '.');
    const char *last = dot ? dot + 1 : key;

    *embed = NULL;
    if (strcmp(key, "select") == 0)
        return GP_SELECT;
    if (strcmp(key, "columns") == 0)
        return GP_COLUMNS;
    if (strcmp(key, "on_conflict") == 0)
        return GP_ON_CONFLICT;
    for (size_t i = 0; i < DBA_ARRAY_LEN(words); i++) {
        if (strcmp(last, words[i].word) != 0)
            continue;
        if (dot && words[i].kind != GP_LOGIC)
            *embed = dba_arena_strndup(a, key, strcspn(key, "."));
        return words[i].kind;
    }
    return GP_FILTER;
}

/* Decodes one "key=value" segment [s, s+n) and records it; segments without '=' are ignored. */
static int
gp_pair(struct gp *gp, const char *s, size_t n, struct dba_err *err)
{
    const char *eq = memchr(s, '=', n);
    struct gp_param *p;
    char *k, *v;
    size_t kn, vn;

    if (!eq)
        return DBA_OK;
    k = dba_arena_strndup(gp->a, s, (size_t)(eq - s));
    v = dba_arena_strndup(gp->a, eq + 1, n - (size_t)(eq - s) - 1);
    kn = dba_url_decode(k, k, strlen(k), true);
    vn = dba_url_decode(v, v, strlen(v), true);
    if (kn != strlen(k) || vn != strlen(v))
        return dba_err_set(err, DBA_EINVAL, 400, "PGRST100",
                           "query string parameter contains a NUL byte");
    p = GRAM_PUSH(gp->a, gp->params, gp->n_params, gp->params_cap);
    p->key = k;
    p->val = v;
    p->kind = gp_classify(gp->a, k, &p->embed);
    return DBA_OK;
}

static int
gp_split(struct gp *gp, const char *query, struct dba_err *err)
{
    const char *s = query ? query : "";

    if (*s == '?')
        s++;
    while (*s) {
        size_t n = strcspn(s, "&;");

        if (n && gp_pair(gp, s, n, err) != DBA_OK)
            return DBA_EINVAL;
        s += n;
        if (*s)
            s++;
    }
    return DBA_OK;
}

/* The first root parameter of a kind, or NULL. */
static const struct gp_param *
gp_first(const struct gp *gp, enum gp_kind kind)
{
    for (size_t i = 0; i < gp->n_params; i++)
        if (gp->params[i].kind == kind && !gp->params[i].embed)
            return &gp->params[i];
    return NULL;
}

static int
gp_orders(struct gp *gp, struct dba_query *q, struct dba_err *err)
{
    bool have = false;

    for (size_t i = 0; i < gp->n_params; i++) {
        const struct gp_param *p = &gp->params[i];
        struct dba_query scratch;

        if (p->kind != GP_ORDER)
            continue;
        memset(&scratch, 0, sizeof(scratch));
        if (dba__http_grammar_order(gp->a, p->val, (have || p->embed) ? &scratch : q, &gp->sem,
                                    err) != DBA_OK)
            return DBA_EINVAL;
        if (p->embed)
            dba__http_grammar_sem(&gp->sem, GRAM_SEM_EMBED, p->embed);
        else
            have = true;
    }
    return DBA_OK;
}

/* or=/and= trees and plain filters, each one child of the top-level AND. */
static int
gp_where(struct gp *gp, struct dba_query *q, enum gp_kind kind, struct dba_err *err)
{
    for (size_t i = 0; i < gp->n_params; i++) {
        const struct gp_param *p = &gp->params[i];
        struct dba_logic *n;
        int rc;

        if (p->kind != kind)
            continue;
        n = GRAM_PUSH(gp->a, q->rel.where.children, q->rel.where.n_children, gp->where_cap);
        if (kind == GP_LOGIC)
            rc = dba__http_grammar_logic(gp->a, p->key, p->val, n, &gp->sem, err);
        else
            rc = dba__http_grammar_filter(gp->a, p->key, p->val, n, &gp->sem, err);
        if (rc != DBA_OK)
            return rc;
    }
    return DBA_OK;
}

static int
gp_params(struct gp *gp, struct dba_query *q, struct dba_err *err)
{
    const struct gp_param *p;

    if (gp_orders(gp, q, err) != DBA_OK || gp_where(gp, q, GP_LOGIC, err) != DBA_OK)
        return DBA_EINVAL;
    p = gp_first(gp, GP_COLUMNS);
    if (p && dba__http_grammar_columns(gp->a, "columns parameter", p->val,
                                       &q->columns, &q->n_columns, err) != DBA_OK)
        return DBA_EINVAL;
    p = gp_first(gp, GP_SELECT);
    if (p && dba__http_grammar_select(gp->a, p->val, q, &gp->sem, err) != DBA_OK)
        return DBA_EINVAL;
    if (gp_where(gp, q, GP_FILTER, err) != DBA_OK)
        return DBA_EINVAL;
    p = gp_first(gp, GP_ON_CONFLICT);
    if (p && dba__http_grammar_columns(gp->a, "on_conflict parameter", p->val,
                                       &q->on_conflict, &q->n_on_conflict, err) != DBA_OK)
        return DBA_EINVAL;
    for (size_t i = 0; i < gp->n_params; i++) {
        p = &gp->params[i];
        if ((p->kind == GP_LIMIT || p->kind == GP_OFFSET) && p->embed)
            dba__http_grammar_sem(&gp->sem, GRAM_SEM_EMBED, p->embed);
        else if (p->kind == GP_LIMIT)
            gp->limit = p->val;
        else if (p->kind == GP_OFFSET)
            gp->offset = p->val;
    }
    return DBA_OK;
}

/* An integer limit/offset value: optional spaces, optional '-', 1 to 18 digits. */
static int
gp_long(struct dba_arena *a, const char *what, const char *v, long *out, struct dba_err *err)
{
    struct gram_cur c;
    size_t d;
    bool neg;

    dba__http_grammar_cur_init(&c, a, v);
    dba__http_grammar_ws(&c);
    neg = c.pos < c.len && c.s[c.pos] == '-';
    if (neg)
        dba__http_grammar_adv(&c, c.pos + 1);
    for (d = c.pos; d < c.len && d - c.pos < 18 && c.s[d] >= '0' && c.s[d] <= '9'; d++)
        ;
    if (d == c.pos) {
        dba__http_grammar_fail(&c, d, d, GRAM_TOK_SYS, "digit");
        return dba__http_grammar_raise(&c, what, v, err);
    }
    *out = 0;
    for (size_t i = c.pos; i < d; i++)
        *out = *out * 10 + (c.s[i] - '0');
    if (neg)
        *out = -*out;
    dba__http_grammar_adv(&c, d);
    dba__http_grammar_ws(&c);
    if (c.pos < c.len) {
        dba__http_grammar_fail(&c, c.pos, c.pos, GRAM_TOK_UN, GRAM_L_EOF);
        return dba__http_grammar_raise(&c, what, v, err);
    }
    return DBA_OK;
}

static int
gp_range_err(struct dba_err *err, const char *detail)
{
    dba_err_set(err, DBA_EINVAL, 416, "PGRST103", "Requested range not satisfiable");
    dba_err_detail(err, "%s", detail);
    return DBA_EINVAL;
}

static int
gp_limits(struct gp *gp, const struct dba_http_req_in *in, struct dba_query *q,
          struct dba_err *err)
{
    long v;

    if (gp->limit) {
        if (gp_long(gp->a, "limit parameter", gp->limit, &v, err) != DBA_OK)
            return DBA_EINVAL;
        if (v < 0)
            return gp_range_err(err, "Limit should be greater than or equal to zero.");
        q->rel.limit = v;
    }
    if (gp->offset) {
        if (gp_long(gp->a, "offset parameter", gp->offset, &v, err) != DBA_OK)
            return DBA_EINVAL;
        q->rel.offset = v < 0 ? 0 : v; /* PostgREST ignores a negative offset */
    }
    if (in->method == DBA_M_PUT && (gp->limit || q->rel.offset > 0))
        return dba_err_set(err, DBA_EINVAL, 400, "PGRST114",
                           "limit/offset querystring parameters are not allowed for PUT");
    return DBA_OK;
}

/* Reads up to 18 digits at *s; false when there are none. */
static bool
gp_digits(const char **s, long *out)
{
    size_t n = 0;

    *out = 0;
    while (n < 18 && (*s)[n] >= '0' && (*s)[n] <= '9') {
        *out = *out * 10 + ((*s)[n] - '0');
        n++;
    }
    *s += n;
    return n > 0;
}

/* Range: [items=]from-[to]; anything else is ignored, as PostgREST does. GET only. */
static int
gp_range(const struct dba_http_req_in *in, struct dba_query *q, struct dba_err *err)
{
    const char *s = in->range;
    long from, to = -1;

    if (in->method != DBA_M_GET || !s)
        return DBA_OK;
    s += strspn(s, " \t");
    if (strncasecmp(s, "items=", 6) == 0)
        s += 6;
    if (!gp_digits(&s, &from) || *s++ != '-')
        return DBA_OK;
    if (*s >= '0' && *s <= '9' && !gp_digits(&s, &to))
        return DBA_OK;
    s += strspn(s, " \t");
    if (*s)
        return DBA_OK;
    if (to >= 0 && to < from)
        return gp_range_err(err, "The lower boundary must be lower than or equal to the upper "
                                 "boundary in the Range header.");
    q->range_from = from;
    q->range_to = to;
    return DBA_OK;
}

static int
gp_prefer(struct dba_arena *a, const struct dba_http_req_in *in, struct dba_query *q,
          struct dba_err *err)
{
    struct dba_buf b;

    dba_http_grammar_prefer(a, in->prefer, &q->prefer);
    if (!q->prefer.handling_strict || q->prefer.n_invalid == 0)
        return DBA_OK;
    dba_buf_init(&b);
    for (size_t i = 0; i < q->prefer.n_invalid; i++)
        dba_buf_printf(&b, "%s%s", i ? ", " : "", q->prefer.invalid[i]);
    dba_err_set(err, DBA_EINVAL, 400, "PGRST122", "Invalid preferences given with handling=strict");
    dba_err_detail(err, "Invalid preferences: %s", b.data);
    dba_buf_cleanup(&b);
    return DBA_EINVAL;
}

static int
gp_check_field(const struct dba_field *f, struct dba_err *err)
{
    if (f->n_path <= GRAM_MAX_JSON_PATH)
        return DBA_OK;
    dba_err_set(err, DBA_EINVAL, 400, "PGRST100", "JSON path too deep");
    dba_err_detail(err, "The path on column '%s' has %zu steps; at most %d are accepted.",
                   f->name ? f->name : "", f->n_path, GRAM_MAX_JSON_PATH);
    return DBA_EINVAL;
}

/* A text search configuration is a name (regconfig), optionally schema-qualified in SQL but not
   here, where '.' ends it: a letter or '_' first, then letters, digits, '_' or '$'. Anything
   else (e.g. a number, which regconfig would take as an OID) is the client's mistake. */
static bool
gp_fts_config_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p >= 0x80))
        return false;
    for (p++; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '$' || *p >= 0x80))
            return false;
    }
    return true;
}

static int
gp_check_logic(const struct dba_logic *l, struct dba_err *err)
{
    if (l->kind == DBA_L_FILTER) {
        const struct dba_filter *f = &l->filter;
        if (f->lang != NULL && !gp_fts_config_ok(f->lang)) {
            dba_err_set(err, DBA_EINVAL, 400, "PGRST100",
                        "invalid text search configuration \"%s\"", f->lang);
            dba_err_detail(err, "A text search configuration is a name such as english or "
                                "simple: a letter or '_' first, then letters, digits or '_'.");
            return DBA_EINVAL;
        }
        return f->field.name != NULL ? gp_check_field(&f->field, err) : DBA_OK;
    }
    for (size_t i = 0; i < l->n_children; i++)
        if (gp_check_logic(&l->children[i], err) != DBA_OK)
            return DBA_EINVAL;
    return DBA_OK;
}

/* Limits checked on the parsed request: fts configurations and JSON path depth. */
static int
gp_check(const struct dba_query *q, struct dba_err *err)
{
    for (size_t i = 0; i < q->rel.n_select; i++)
        if (q->rel.select[i].kind == DBA_ITEM_COLUMN &&
            gp_check_field(&q->rel.select[i].field, err) != DBA_OK)
            return DBA_EINVAL;
    for (size_t i = 0; i < q->rel.n_order; i++)
        if (gp_check_field(&q->rel.order[i].field, err) != DBA_OK)
            return DBA_EINVAL;
    return gp_check_logic(&q->rel.where, err);
}

static int
gp_sem_raise(const struct gram_sem *sem, struct dba_err *err)
{
    switch (sem->kind) {
    case GRAM_SEM_NONE:
        return DBA_OK;
    case GRAM_SEM_EMBED:
        dba_err_set(err, DBA_EINVAL, 400, "PGRST108",
                    "'%s' is not an embedded resource in this request", sem->name);
        dba_err_hint(err, "Verify that '%s' is included in the 'select' query parameter.",
                     sem->name);
        return DBA_EINVAL;
    case GRAM_SEM_EMBEDDING:
        dba_err_set(err, DBA_EINVAL, 400, "PGRST127", "Feature not implemented");
        dba_err_detail(err, "Resource embedding is not supported: %s", sem->name);
        return DBA_EINVAL;
    case GRAM_SEM_AGGREGATE:
        return dba_err_set(err, DBA_EINVAL, 400, "PGRST123",
                           "Use of aggregate functions is not allowed");
    }
    return DBA_OK;
}

static void
gp_defaults(struct dba_arena *a, const struct dba_http_req_in *in, struct dba_query *q)
{
    memset(q, 0, sizeof(*q));
    q->method = in->method;
    q->rel.select = dba_arena_alloc(a, sizeof(*q->rel.select));
    q->rel.select->kind = DBA_ITEM_STAR;
    q->rel.n_select = 1;
    q->rel.where.kind = DBA_L_AND;
    q->rel.limit = -1;
    q->rel.offset = 0;
    q->range_from = -1;
    q->range_to = -1;
    q->prefer.max_affected = -1;
    q->media = DBA_MEDIA_JSON;
    q->body_kind = DBA_BODY_NONE;
}

int
dba_http_grammar_parse(struct dba_arena *a, const struct dba_http_req_in *in,
                       struct dba_query *q, struct dba_err *err)
{
    struct gp gp;

    memset(&gp, 0, sizeof(gp));
    gp.a = a;
    gp_defaults(a, in, q);
    if (gp_split(&gp, in->query, err) != DBA_OK || gp_params(&gp, q, err) != DBA_OK ||
        gp_limits(&gp, in, q, err) != DBA_OK || gp_range(in, q, err) != DBA_OK ||
        gp_prefer(a, in, q, err) != DBA_OK || dba__http_grammar_body(a, in, q, err) != DBA_OK ||
        gp_sem_raise(&gp.sem, err) != DBA_OK || gp_check(q, err) != DBA_OK)
        return DBA_EINVAL;
    return dba_http_grammar_accept(in->accept, &q->media, err);
}
