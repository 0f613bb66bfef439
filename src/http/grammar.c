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
 * - Resource embedding: select= is a tree (grammar_select.c). Keys with an embedded path
 *   (`rel.col=`, `a.b.col=`, `rel.or=`, `rel.order=`, `rel.limit=`, `rel.offset=`) are attached,
 *   after every syntax check, to the child node found by name or alias along the path, in
 *   PostgREST's planner order (filters, orders, limits/offsets, logic trees; within one kind the
 *   last failing key is reported); a path naming no embed of select= is 400 PGRST108. What
 *   needs the catalog (relationships, related orders, filters on an embed itself, aggregates
 *   allowed or not) is dba_query_resolve's.
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
    enum gp_kind kind;     /* what the key means */
    const char *key;       /* decoded key */
    const char *val;       /* decoded value */
    bool dotted;           /* order/limit/offset key with a '.' (an embedded path) */
    const char **path;     /* embedded path, parsed from the key (none: the root) */
    size_t n_path;         /* its length */
    struct dba_rel *node;  /* the node the path names (set by gp_embeds) */
    struct dba_logic expr; /* GP_FILTER / GP_LOGIC with a path: the parsed filter or tree */
    struct dba_order_item *order; /* GP_ORDER: parsed items */
    size_t n_order;        /* count */
    long num;              /* GP_LIMIT / GP_OFFSET with a path: the value */
};

/* State of one dba_http_grammar_parse call. */
struct gp {
    struct dba_arena *a;      /* request arena */
    struct gp_param *params;  /* decoded pairs in query-string order */
    size_t n_params;          /* count */
    size_t params_cap;        /* capacity */
    size_t where_cap;         /* capacity of q->rel.where.children */
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

/* The reserved-key class of a decoded key; *dotted for an embedded order/limit/offset. */
static enum gp_kind
gp_classify(const char *key, bool *dotted)
{
    static const struct {
        const char *word;  /* last dot-separated word */
        enum gp_kind kind; /* meaning */
    } words[] = { { "order", GP_ORDER }, { "limit", GP_LIMIT }, { "offset", GP_OFFSET },
                  { "and", GP_LOGIC },   { "or", GP_LOGIC } };
    const char *dot = strrchr(key, '.');
    const char *last = dot ? dot + 1 : key;

    *dotted = false;
    if (strcmp(key, "select") == 0)
        return GP_SELECT;
    if (strcmp(key, "columns") == 0)
        return GP_COLUMNS;
    if (strcmp(key, "on_conflict") == 0)
        return GP_ON_CONFLICT;
    for (size_t i = 0; i < DBA_ARRAY_LEN(words); i++) {
        if (strcmp(last, words[i].word) != 0)
            continue;
        *dotted = dot != NULL && words[i].kind != GP_LOGIC;
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
    p->kind = gp_classify(k, &p->dotted);
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
        if (gp->params[i].kind == kind && !gp->params[i].dotted)
            return &gp->params[i];
    return NULL;
}

/* Every order= (syntax first, PostgREST's first parameter); the first root one is the root's. */
static int
gp_orders(struct gp *gp, struct dba_query *q, struct dba_err *err)
{
    bool have = false;

    for (size_t i = 0; i < gp->n_params; i++) {
        struct gp_param *p = &gp->params[i];

        if (p->kind != GP_ORDER)
            continue;
        if ((p->dotted &&
             dba__http_grammar_key_path(gp->a, p->key, &p->path, &p->n_path, err) != DBA_OK) ||
            dba__http_grammar_order(gp->a, p->val, &p->order, &p->n_order, err) != DBA_OK)
            return DBA_EINVAL;
        if (p->n_path == 0 && !have) {
            q->rel.order = p->order;
            q->rel.n_order = p->n_order;
            have = true;
        }
    }
    return DBA_OK;
}

/* or=/and= trees and plain filters: root ones become children of the top-level AND, those with
   an embedded path wait in their parameter for gp_embeds. */
static int
gp_where(struct gp *gp, struct dba_query *q, enum gp_kind kind, struct dba_err *err)
{
    for (size_t i = 0; i < gp->n_params; i++) {
        struct gp_param *p = &gp->params[i];
        struct dba_logic n;
        int rc;

        if (p->kind != kind)
            continue;
        if (kind == GP_LOGIC)
            rc = dba__http_grammar_logic(gp->a, p->key, p->val, &n, &p->path, &p->n_path, err);
        else
            rc = dba__http_grammar_filter(gp->a, p->key, p->val, &n, &p->path, &p->n_path, err);
        if (rc != DBA_OK)
            return rc;
        if (p->n_path > 0)
            p->expr = n;
        else
            *GRAM_PUSH(gp->a, q->rel.where.children, q->rel.where.n_children, gp->where_cap) = n;
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
    if (p && dba__http_grammar_select(gp->a, p->val, &q->rel, err) != DBA_OK)
        return DBA_EINVAL;
    if (gp_where(gp, q, GP_FILTER, err) != DBA_OK)
        return DBA_EINVAL;
    p = gp_first(gp, GP_ON_CONFLICT);
    if (p && dba__http_grammar_columns(gp->a, "on_conflict parameter", p->val,
                                       &q->on_conflict, &q->n_on_conflict, err) != DBA_OK)
        return DBA_EINVAL;
    for (size_t i = 0; i < gp->n_params; i++) {
        p = &gp->params[i];
        if (p->dotted)
            continue;
        if (p->kind == GP_LIMIT)
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

/* A limit value: an integer, not negative (416 PGRST103). */
static int
gp_limit_value(struct dba_arena *a, const char *v, long *out, struct dba_err *err)
{
    if (gp_long(a, "limit parameter", v, out, err) != DBA_OK)
        return DBA_EINVAL;
    if (*out < 0)
        return gp_range_err(err, "Limit should be greater than or equal to zero.");
    return DBA_OK;
}

static int
gp_limits(struct gp *gp, const struct dba_http_req_in *in, struct dba_query *q,
          struct dba_err *err)
{
    long v;

    if (gp->limit) {
        if (gp_limit_value(gp->a, gp->limit, &v, err) != DBA_OK)
            return DBA_EINVAL;
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
    for (size_t i = 0; i < gp->n_params; i++) {
        struct gp_param *p = &gp->params[i];

        if ((p->kind != GP_LIMIT && p->kind != GP_OFFSET) || !p->dotted)
            continue;
        if (dba__http_grammar_key_path(gp->a, p->key, &p->path, &p->n_path, err) != DBA_OK)
            return DBA_EINVAL;
        if (p->kind == GP_LIMIT && gp_limit_value(gp->a, p->val, &p->num, err) != DBA_OK)
            return DBA_EINVAL;
        if (p->kind == GP_OFFSET) {
            if (gp_long(gp->a, "offset parameter", p->val, &p->num, err) != DBA_OK)
                return DBA_EINVAL;
            if (p->num < 0)
                p->num = 0;
        }
    }
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

/* Limits checked on the parsed tree: fts configurations and JSON path depth, on every node. */
static int
gp_check(const struct dba_rel *r, struct dba_err *err)
{
    for (size_t i = 0; i < r->n_select; i++) {
        const struct dba_select_item *it = &r->select[i];

        if ((it->kind == DBA_ITEM_COLUMN || it->kind == DBA_ITEM_AGG) &&
            gp_check_field(&it->field, err) != DBA_OK)
            return DBA_EINVAL;
        if (it->kind == DBA_ITEM_CHILD && gp_check(it->child, err) != DBA_OK)
            return DBA_EINVAL;
    }
    for (size_t i = 0; i < r->n_order; i++)
        if (gp_check_field(&r->order[i].field, err) != DBA_OK)
            return DBA_EINVAL;
    return gp_check_logic(&r->where, err);
}

/* The embedded child of r named `name`: by its name or its alias, first in select= order (as
   PostgREST finds the node of an embedded parameter). */
static struct dba_rel *
gp_child(const struct dba_rel *r, const char *name)
{
    for (size_t i = 0; i < r->n_select; i++) {
        struct dba_rel *ch = r->select[i].child;

        if (r->select[i].kind == DBA_ITEM_CHILD &&
            (strcmp(ch->name, name) == 0 || (ch->alias && strcmp(ch->alias, name) == 0)))
            return ch;
    }
    return NULL;
}

/* Finds p's node along its path from the root; 400 PGRST108 for the first name not embedded. */
static int
gp_find_node(struct dba_rel *root, struct gp_param *p, struct dba_err *err)
{
    struct dba_rel *n = root;

    for (size_t i = 0; i < p->n_path; i++) {
        n = gp_child(n, p->path[i]);
        if (n == NULL) {
            dba_err_set(err, DBA_EINVAL, 400, "PGRST108",
                        "'%s' is not an embedded resource in this request", p->path[i]);
            dba_err_hint(err, "Verify that '%s' is included in the 'select' query parameter.",
                         p->path[i]);
            return DBA_EINVAL;
        }
    }
    p->node = n;
    return DBA_OK;
}

static bool
gp_is_kind(const struct gp_param *p, enum gp_kind k)
{
    return p->kind == k || (k == GP_LIMIT && p->kind == GP_OFFSET);
}

/* Attaches the parameters with an embedded path to their nodes. PostgREST's planner order
   decides which PGRST108 is reported: filters, orders, limits/offsets, logic trees, and within
   one kind the last parameter (its folds run from the right). */
static int
gp_embeds(struct gp *gp, struct dba_query *q, struct dba_err *err)
{
    static const enum gp_kind kinds[] = { GP_FILTER, GP_ORDER, GP_LIMIT, GP_LOGIC };

    for (size_t k = 0; k < DBA_ARRAY_LEN(kinds); k++)
        for (size_t i = gp->n_params; i-- > 0;) {
            struct gp_param *p = &gp->params[i];

            if (gp_is_kind(p, kinds[k]) && p->n_path > 0 &&
                gp_find_node(&q->rel, p, err) != DBA_OK)
                return DBA_EINVAL;
        }
    /* Filters and trees: count per node first (children nodes start with an empty AND), then
       allocate each node's array once at its first attachment and fill it. */
    for (size_t i = 0; i < gp->n_params; i++) {
        const struct gp_param *p = &gp->params[i];

        if ((p->kind == GP_FILTER || p->kind == GP_LOGIC) && p->n_path > 0)
            p->node->where.n_children++;
    }
    for (size_t i = 0; i < gp->n_params; i++) {
        struct gp_param *p = &gp->params[i];
        struct dba_rel *n = p->node;

        if (p->n_path == 0)
            continue;
        switch (p->kind) {
        case GP_FILTER:
        case GP_LOGIC:
            if (n->where.children == NULL) {
                n->where.children = dba_arena_alloc(gp->a, n->where.n_children *
                                                               sizeof(*n->where.children));
                n->where.n_children = 0;
            }
            n->where.children[n->where.n_children++] = p->expr;
            break;
        case GP_ORDER:
            if (n->n_order == 0) { /* the first order= of a node counts */
                n->order = p->order;
                n->n_order = p->n_order;
            }
            break;
        case GP_LIMIT:
            n->limit = p->num; /* the last one counts */
            break;
        case GP_OFFSET:
            n->offset = p->num;
            break;
        case GP_SELECT:
        case GP_COLUMNS:
        case GP_ON_CONFLICT:
            break;
        }
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
        gp_embeds(&gp, q, err) != DBA_OK || gp_check(&q->rel, err) != DBA_OK)
        return DBA_EINVAL;
    return dba_http_grammar_accept(in->accept, &q->media, err);
}
