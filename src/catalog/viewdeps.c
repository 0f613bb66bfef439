/* viewdeps.c - which base columns a view shows: read from the view's rule (pg_rewrite.ev_action,
   a pg_node_tree printed as text), where PostgreSQL records for every output column of a query
   the table column it comes from unchanged (TargetEntry resorigtbl/resorigcol). Views on views
   are followed down to the base relation. Relationships reach views only through these.

   The text format: nodes are {NAME :field value ...}, lists (...), NULL is <>, and tokens escape
   whitespace, parentheses, braces and backslashes with a backslash. Only the top query's
   targetList is read; everything else is skipped by bracket depth. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"

#define VIEWDEPS_MAX_DEPTH 32 /* views on views followed at most this deep (cycles end here) */

static const char *
ws_skip(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static bool
is_delim(char ch)
{
    return ch == '\0' || ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '(' ||
           ch == ')' || ch == '{' || ch == '}';
}

/* Skips one value at p (a bracketed node or list, or one token); returns the end of it. */
static const char *
value_skip(const char *p)
{
    p = ws_skip(p);
    if (*p == '{' || *p == '(') {
        int depth = 0;
        for (; *p != '\0'; p++) {
            if (*p == '\\' && p[1] != '\0') {
                p++;
            } else if (*p == '{' || *p == '(') {
                depth++;
            } else if (*p == '}' || *p == ')') {
                if (--depth == 0)
                    return p + 1;
            }
        }
        return p;
    }
    while (!is_delim(*p)) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        p++;
    }
    return p;
}

/* Whether the token [p, end) is exactly word. */
static bool
tok_is(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) == n && memcmp(p, word, n) == 0;
}

/* Reads one TARGETENTRY node at p ('{'); returns the end of it with *o filled, or sets *keep =
   false when the node ends early (unreadable text). */
static const char *
entry_read(const char *p, struct dba__catalog_origin *o, bool *keep)
{
    bool junk = false;

    memset(o, 0, sizeof(*o));
    p = value_skip(p + 1); /* the node name */
    for (;;) {
        p = ws_skip(p);
        if (*p == '}') {
            if (junk)
                o->oid = 0; /* a helper column (ORDER BY ...), not shown */
            return p + 1;
        }
        if (*p == '\0' || *p == ')')
            break;
        const char *end = value_skip(p);
        if (end == p)
            break;
        if (tok_is(p, end, ":resno") || tok_is(p, end, ":resorigtbl") ||
            tok_is(p, end, ":resorigcol") || tok_is(p, end, ":resjunk")) {
            const char *v = ws_skip(end);
            const char *vend = value_skip(v);
            if (tok_is(p, end, ":resno"))
                o->resno = atoi(v);
            else if (tok_is(p, end, ":resorigtbl"))
                o->oid = strtoul(v, NULL, 10);
            else if (tok_is(p, end, ":resorigcol"))
                o->col = atoi(v);
            else
                junk = tok_is(v, vend, "true");
            end = vend;
        } else if (tok_is(p, end, ":resname")) {
            end = value_skip(end); /* a name may look like a field (":x") */
        }
        p = end;
    }
    *keep = false;
    return p;
}

struct dba__catalog_origin *
dba__catalog_view_origins(const char *tree, size_t *n)
{
    struct dba__catalog_origin *out = NULL;
    const char *p = tree ? ws_skip(tree) : "";

    *n = 0;
    if (*p != '(')
        return NULL;
    p = ws_skip(p + 1);
    if (*p != '{')
        return NULL;
    p = value_skip(p + 1); /* QUERY */
    for (;;) {
        p = ws_skip(p);
        if (*p == '\0' || *p == '}' || *p == ')')
            return NULL;
        const char *end = value_skip(p);
        if (end == p)
            return NULL;
        if (tok_is(p, end, ":targetList"))
            break;
        p = end;
    }
    p = ws_skip(value_skip(p));
    if (*p != '(')
        return NULL;
    for (p++;;) {
        p = ws_skip(p);
        if (*p != '{')
            break;
        struct dba__catalog_origin o;
        bool keep = true;
        const char *next = entry_read(p, &o, &keep);
        if (next == p)
            break;
        p = next;
        if (!keep)
            break; /* unreadable */
        if (o.oid == 0 || o.col <= 0 || o.resno <= 0)
            continue; /* computed, whole-row or junk */
        out = dba_xrealloc(out, (*n + 1) * sizeof(*out));
        out[(*n)++] = o;
    }
    return out;
}

struct oid_idx {
    unsigned long oid;
    size_t idx;
};

static int
oid_idx_cmp(const void *a, const void *b)
{
    unsigned long x = ((const struct oid_idx *)a)->oid;
    unsigned long y = ((const struct oid_idx *)b)->oid;
    return (x > y) - (x < y);
}

struct resolver {
    const struct dba_catalog *c;
    struct oid_idx *by_oid;                /* sorted by oid */
    struct dba__catalog_origin **origins;  /* per table: parsed origins of a view, else NULL */
    size_t *n_origins;                     /* counts */
};

static const struct dba_column *
column_at(const struct dba_table *t, int attnum)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (t->cols[i].position == attnum)
            return &t->cols[i];
    return NULL;
}

/* The base table and column that column attnum of relation oid shows, or false. */
static bool
origin_resolve(const struct resolver *rs, unsigned long oid, int attnum, int depth,
               size_t *base, const struct dba_column **col)
{
    struct oid_idx key = { oid, 0 };
    const struct oid_idx *hit =
        bsearch(&key, rs->by_oid, rs->c->n_tables, sizeof(*rs->by_oid), oid_idx_cmp);

    if (hit == NULL || depth > VIEWDEPS_MAX_DEPTH)
        return false;
    const struct dba_table *t = &rs->c->tables[hit->idx];
    if (!t->is_view) {
        *base = hit->idx;
        *col = column_at(t, attnum);
        return *col != NULL;
    }
    for (size_t i = 0; i < rs->n_origins[hit->idx]; i++) {
        const struct dba__catalog_origin *o = &rs->origins[hit->idx][i];
        if (o->resno == attnum)
            return origin_resolve(rs, o->oid, o->col, depth + 1, base, col);
    }
    return false;
}

struct dba__catalog_viewdep *
dba__catalog_viewdeps(const struct dba_catalog *c, const unsigned long *oids,
                      const char *const *defs, size_t *n)
{
    struct dba__catalog_viewdep *out = NULL;
    struct resolver rs = { c, NULL, NULL, NULL };

    *n = 0;
    if (c->n_tables == 0)
        return NULL;
    rs.by_oid = dba_xcalloc(c->n_tables, sizeof(*rs.by_oid));
    rs.origins = dba_xcalloc(c->n_tables, sizeof(*rs.origins));
    rs.n_origins = dba_xcalloc(c->n_tables, sizeof(*rs.n_origins));
    for (size_t i = 0; i < c->n_tables; i++) {
        rs.by_oid[i].oid = oids[i];
        rs.by_oid[i].idx = i;
        if (c->tables[i].is_view && defs[i] != NULL)
            rs.origins[i] = dba__catalog_view_origins(defs[i], &rs.n_origins[i]);
    }
    qsort(rs.by_oid, c->n_tables, sizeof(*rs.by_oid), oid_idx_cmp);
    for (size_t i = 0; i < c->n_tables; i++) {
        const struct dba_table *v = &c->tables[i];
        for (size_t k = 0; k < rs.n_origins[i]; k++) {
            const struct dba__catalog_origin *o = &rs.origins[i][k];
            const struct dba_column *vcol = column_at(v, o->resno);
            const struct dba_column *bcol = NULL;
            size_t base = 0;
            if (vcol == NULL || !origin_resolve(&rs, o->oid, o->col, 0, &base, &bcol))
                continue;
            out = dba_xrealloc(out, (*n + 1) * sizeof(*out));
            out[(*n)++] = (struct dba__catalog_viewdep){ v, vcol->name, &c->tables[base],
                                                         bcol->name };
        }
    }
    for (size_t i = 0; i < c->n_tables; i++)
        free(rs.origins[i]);
    free(rs.origins);
    free(rs.n_origins);
    free(rs.by_oid);
    return out;
}
