/* relationships.c - relationships between relations, derived from foreign keys when the catalog
   loads, and PostgREST's embedding resolution over them (with its exact errors).

   Derivation follows PostgREST's schema cache:
   - every foreign key gives a many-to-one from the table holding it, or a one-to-one when its
     columns are exactly the primary key or a unique constraint of that table;
   - through view dependencies (viewdeps.c) the same key also relates a view that shows all of
     its columns (either side, or both: view to view);
   - a relation with two different many-to-one keys whose columns all belong to its primary key is
     a junction: a many-to-many between the two referenced relations, in both directions;
   - every many-to-one has its one-to-many inverse, every one-to-one its mirror.
   Each relation's list is sorted as PostgREST orders it, so ambiguity errors list candidates in
   the same order. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"

#define REL_MAX_COMBOS 64 /* view column combinations per key and view (a column shown twice...) */

/* A foreign key seen from the relation holding it (a table, or a view showing its columns) to
   the referenced relation (or a view showing those). */
struct fkrel {
    const struct dba_table *t;  /* holds the key */
    const struct dba_table *ft; /* referenced */
    const char *cons;           /* constraint name */
    const char **cols;          /* n columns of t (owned array, borrowed names) */
    const char **fcols;         /* n columns of ft, same order (owned array) */
    size_t n;                   /* count */
    bool o2o;                   /* the columns are t's primary key or a unique constraint */
    bool self;                  /* t == ft for a table's own key, or the same view both sides */
};

struct build {
    struct dba_catalog *c;
    const struct dba__catalog_viewdep *deps;
    size_t n_deps;
    struct fkrel *fk;
    size_t n_fk;
    struct dba_relationship *rels;
    size_t n_rels;
};

static const char **
names_dup(const char *const *v, size_t n)
{
    const char **out = dba_xcalloc(n + 1, sizeof(*out));
    memcpy(out, v, n * sizeof(*out));
    return out;
}

static bool
names_has(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* Same set of names (each list without repeats). */
static bool
names_set_eq(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!names_has(b, nb, a[i]))
            return false;
    return true;
}

static bool
key_is_unique(const struct dba_table *t, const char *const *cols, size_t n)
{
    if (t->n_pk > 0 && names_set_eq(cols, n, (const char *const *)t->pk, t->n_pk))
        return true;
    for (size_t i = 0; i < t->n_uniques; i++)
        if (names_set_eq(cols, n, (const char *const *)t->uniques[i].cols, t->uniques[i].n_cols))
            return true;
    return false;
}

static void
fk_push(struct build *b, struct fkrel r)
{
    b->fk = dba_xrealloc(b->fk, (b->n_fk + 1) * sizeof(*b->fk));
    b->fk[b->n_fk++] = r;
}

/* The foreign keys of the tables themselves. */
static void
base_keys(struct build *b)
{
    for (size_t i = 0; i < b->c->n_tables; i++) {
        const struct dba_table *t = &b->c->tables[i];
        if (t->is_partition)
            continue;
        for (size_t k = 0; k < t->n_fkeys; k++) {
            const struct dba_fkey *f = &t->fkeys[k];
            const struct dba_table *ft =
                f->ref_schema && f->ref_table
                    ? dba_catalog_table_find(b->c, f->ref_schema, f->ref_table)
                    : NULL;
            if (ft == NULL || ft->is_partition || f->n_cols == 0)
                continue;
            const char *const *cols = (const char *const *)f->cols;
            fk_push(b, (struct fkrel){ t, ft, f->name, names_dup(cols, f->n_cols),
                                       names_dup((const char *const *)f->ref_cols, f->n_cols),
                                       f->n_cols, key_is_unique(t, cols, f->n_cols), t == ft });
        }
    }
}

/* Distinct views showing columns of base, in dependency order: a new array, count in *n. */
static const struct dba_table **
views_of(const struct build *b, const struct dba_table *base, size_t *n)
{
    const struct dba_table **out = NULL;

    *n = 0;
    for (size_t i = 0; i < b->n_deps; i++) {
        if (b->deps[i].base != base)
            continue;
        bool seen = false;
        for (size_t k = 0; k < *n && !seen; k++)
            seen = out[k] == b->deps[i].view;
        if (seen)
            continue;
        out = dba_xrealloc(out, (*n + 1) * sizeof(*out));
        out[(*n)++] = b->deps[i].view;
    }
    return out;
}

/* Every way view shows all of base's columns keys[0..n): *n_out arrays of n view column names
   (each owned), or none when one of them is not shown. */
static const char ***
key_combos(const struct build *b, const struct dba_table *view, const struct dba_table *base,
           const char *const *keys, size_t n, size_t *n_out)
{
    const char ***lists = dba_xcalloc(n, sizeof(*lists));
    size_t *counts = dba_xcalloc(n, sizeof(*counts));
    size_t *at = dba_xcalloc(n, sizeof(*at));
    const char ***out = NULL;
    size_t total = 1;

    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < b->n_deps; d++) {
            const struct dba__catalog_viewdep *x = &b->deps[d];
            if (x->view == view && x->base == base && strcmp(x->base_col, keys[i]) == 0) {
                lists[i] = dba_xrealloc(lists[i], (counts[i] + 1) * sizeof(*lists[i]));
                lists[i][counts[i]++] = x->view_col;
            }
        }
        total *= counts[i];
        if (total > REL_MAX_COMBOS)
            total = REL_MAX_COMBOS;
    }
    for (size_t k = 0; k < total; k++) {
        const char **combo = dba_xcalloc(n + 1, sizeof(*combo));
        for (size_t i = 0; i < n; i++)
            combo[i] = lists[i][at[i]];
        out = dba_xrealloc(out, (*n_out + 1) * sizeof(*out));
        out[(*n_out)++] = combo;
        for (size_t i = n; i-- > 0;) { /* next combination, last column fastest */
            if (++at[i] < counts[i])
                break;
            at[i] = 0;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(lists[i]);
    free(lists);
    free(counts);
    free(at);
    return out;
}

static void
combos_free(const char ***v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The same keys seen through views: view to table, table to view, view to view. */
static void
view_keys(struct build *b)
{
    size_t n_base = b->n_fk;

    for (size_t i = 0; i < n_base; i++) {
        const struct fkrel r = b->fk[i]; /* a copy: fk_push moves the array */
        size_t n_vt = 0;
        size_t n_tv = 0;
        const struct dba_table **vt = views_of(b, r.t, &n_vt);
        const struct dba_table **tv = views_of(b, r.ft, &n_tv);
        for (size_t v = 0; v < n_vt; v++) {
            size_t nc = 0;
            const char ***cs = key_combos(b, vt[v], r.t, r.cols, r.n, &nc);
            for (size_t k = 0; k < nc; k++)
                fk_push(b, (struct fkrel){ vt[v], r.ft, r.cons, names_dup(cs[k], r.n),
                                           names_dup(r.fcols, r.n), r.n, r.o2o, false });
            for (size_t w = 0; w < n_tv; w++) {
                size_t nf = 0;
                const char ***fs = key_combos(b, tv[w], r.ft, r.fcols, r.n, &nf);
                for (size_t k = 0; k < nc; k++)
                    for (size_t m = 0; m < nf; m++)
                        fk_push(b, (struct fkrel){ vt[v], tv[w], r.cons, names_dup(cs[k], r.n),
                                                   names_dup(fs[m], r.n), r.n, r.o2o,
                                                   vt[v] == tv[w] });
                combos_free(fs, nf);
            }
            combos_free(cs, nc);
        }
        for (size_t w = 0; w < n_tv; w++) {
            size_t nf = 0;
            const char ***fs = key_combos(b, tv[w], r.ft, r.fcols, r.n, &nf);
            for (size_t m = 0; m < nf; m++)
                fk_push(b, (struct fkrel){ r.t, tv[w], r.cons, names_dup(r.cols, r.n),
                                           names_dup(fs[m], r.n), r.n, r.o2o, false });
            combos_free(fs, nf);
        }
        free(vt);
        free(tv);
    }
}

/* Whether col belongs to the primary key of t; a view's primary key is the first column showing
   each primary key column of a base table it shows whole. */
static bool
pk_has(const struct build *b, const struct dba_table *t, const char *col)
{
    if (!t->is_view)
        return names_has((const char *const *)t->pk, t->n_pk, col);
    size_t n_bases = 0;
    bool found = false;
    const struct dba_table **bases = NULL;
    for (size_t i = 0; i < b->n_deps; i++) {
        const struct dba_table *base = b->deps[i].base;
        bool seen = false;
        if (b->deps[i].view != t || base->n_pk == 0)
            continue;
        for (size_t k = 0; k < n_bases && !seen; k++)
            seen = bases[k] == base;
        if (seen)
            continue;
        bases = dba_xrealloc(bases, (n_bases + 1) * sizeof(*bases));
        bases[n_bases++] = base;
    }
    for (size_t k = 0; k < n_bases && !found; k++) {
        size_t nc = 0;
        const char ***cs = key_combos(b, t, bases[k], (const char *const *)bases[k]->pk,
                                      bases[k]->n_pk, &nc);
        found = nc > 0 && names_has(cs[0], bases[k]->n_pk, col);
        combos_free(cs, nc);
    }
    free(bases);
    return found;
}

static void
rel_push(struct build *b, const struct dba_relationship *r)
{
    b->rels = dba_xrealloc(b->rels, (b->n_rels + 1) * sizeof(*b->rels));
    b->rels[b->n_rels++] = *r;
}

/* The column arrays of a relationship in one allocation starting at cols (freed through it). */
static void
rel_cols(struct dba_relationship *r, const char *const *cols, const char *const *tcols, size_t n,
         const char *const *jcols, const char *const *jtcols, size_t m)
{
    const char **blk = dba_xcalloc(2 * n + 2 * m + 1, sizeof(*blk));

    r->cols = blk;
    memcpy(blk, cols, n * sizeof(*blk));
    r->n_cols = n;
    if (jcols == NULL) {
        r->target_cols = blk + n;
        memcpy(blk + n, tcols, n * sizeof(*blk));
        return;
    }
    r->junction_cols = blk + n;
    memcpy(blk + n, jcols, n * sizeof(*blk));
    r->target_cols = blk + 2 * n;
    memcpy(blk + 2 * n, tcols, m * sizeof(*blk));
    r->junction_target_cols = blk + 2 * n + m;
    memcpy(blk + 2 * n + m, jtcols, m * sizeof(*blk));
    r->n_target_cols = m;
}

static void
emit_fk(struct build *b, const struct fkrel *f)
{
    struct dba_relationship r;

    memset(&r, 0, sizeof(r)); /* from the holder: many-to-one or one-to-one */
    r.table = f->t;
    r.target = f->ft;
    r.card = f->o2o ? DBA_CARD_O2O : DBA_CARD_M2O;
    r.fk_here = true;
    r.self = f->self;
    r.constraint = f->cons;
    rel_cols(&r, f->cols, f->fcols, f->n, NULL, NULL, 0);
    rel_push(b, &r);
    memset(&r, 0, sizeof(r)); /* the inverse */
    r.table = f->ft;
    r.target = f->t;
    r.card = f->o2o ? DBA_CARD_O2O : DBA_CARD_O2M;
    r.fk_here = false;
    r.self = f->self;
    r.constraint = f->cons;
    rel_cols(&r, f->fcols, f->cols, f->n, NULL, NULL, 0);
    rel_push(b, &r);
}

static int
fk_by_holder(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t)((const struct fkrel *)x)->t;
    uintptr_t c = (uintptr_t)((const struct fkrel *)y)->t;
    return (a > c) - (a < c);
}

/* Many-to-many through every junction: two different many-to-one keys of one relation whose
   columns all belong to its primary key. */
static void
junctions(struct build *b)
{
    if (b->n_fk > 1)
        qsort(b->fk, b->n_fk, sizeof(*b->fk), fk_by_holder);
    for (size_t lo = 0, hi = 0; lo < b->n_fk; lo = hi) {
        for (hi = lo; hi < b->n_fk && b->fk[hi].t == b->fk[lo].t; hi++) {
        }
        for (size_t i = lo; i < hi; i++) {
            const struct fkrel *r1 = &b->fk[i];
            bool ok = !r1->o2o;
            for (size_t k = 0; ok && k < r1->n; k++)
                ok = pk_has(b, r1->t, r1->cols[k]);
            for (size_t j = lo; ok && j < hi; j++) {
                const struct fkrel *r2 = &b->fk[j];
                bool ok2 = j != i && !r2->o2o && strcmp(r1->cons, r2->cons) != 0;
                for (size_t k = 0; ok2 && k < r2->n; k++)
                    ok2 = pk_has(b, r2->t, r2->cols[k]);
                if (!ok2)
                    continue;
                struct dba_relationship r;
                memset(&r, 0, sizeof(r));
                r.table = r1->ft;
                r.target = r2->ft;
                r.card = DBA_CARD_M2M;
                r.self = r1->ft == r2->ft;
                r.constraint = r1->cons;
                r.junction = r1->t;
                r.target_constraint = r2->cons;
                rel_cols(&r, r1->fcols, r2->fcols, r1->n, r1->cols, r2->cols, r2->n);
                rel_push(b, &r);
            }
        }
    }
}

static int
card_rank(enum dba_card c)
{
    switch (c) { /* PostgREST's constructor order */
    case DBA_CARD_O2M:
        return 0;
    case DBA_CARD_M2O:
        return 1;
    case DBA_CARD_O2O:
        return 2;
    case DBA_CARD_M2M:
        return 3;
    }
    return 4;
}

/* Lists of column pairs (a[i], b[i]) in lexicographic order. */
static int
pairs_cmp(const char *const *a1, const char *const *b1, size_t n1, const char *const *a2,
          const char *const *b2, size_t n2)
{
    for (size_t i = 0; i < n1 && i < n2; i++) {
        int r = strcmp(a1[i], a2[i]);
        if (r == 0)
            r = strcmp(b1[i], b2[i]);
        if (r != 0)
            return r;
    }
    return (n1 > n2) - (n1 < n2);
}

static int
name_cmp(const struct dba_table *x, const struct dba_table *y)
{
    int r = strcmp(x->schema, y->schema);
    return r != 0 ? r : strcmp(x->name, y->name);
}

/* PostgREST's order of one relation's relationships. */
static int
rel_cmp(const void *x, const void *y)
{
    const struct dba_relationship *a = x;
    const struct dba_relationship *b = y;
    int r = name_cmp(a->target, b->target);

    if (r == 0)
        r = (int)a->self - (int)b->self;
    if (r == 0)
        r = card_rank(a->card) - card_rank(b->card);
    if (r != 0)
        return r;
    if (a->card != DBA_CARD_M2M) {
        r = strcmp(a->constraint, b->constraint);
        if (r == 0)
            r = pairs_cmp(a->cols, a->target_cols, a->n_cols, b->cols, b->target_cols, b->n_cols);
        if (r == 0) /* one-to-one: the child side (key here) first */
            r = (int)b->fk_here - (int)a->fk_here;
        return r;
    }
    r = name_cmp(a->junction, b->junction);
    if (r == 0)
        r = strcmp(a->constraint, b->constraint);
    if (r == 0)
        r = strcmp(a->target_constraint, b->target_constraint);
    if (r == 0)
        r = pairs_cmp(a->cols, a->junction_cols, a->n_cols, b->cols, b->junction_cols, b->n_cols);
    if (r == 0)
        r = pairs_cmp(a->target_cols, a->junction_target_cols, a->n_target_cols, b->target_cols,
                      b->junction_target_cols, b->n_target_cols);
    return r;
}

void
dba__catalog_relationships_build(struct dba_catalog *c, const struct dba__catalog_viewdep *deps,
                                 size_t n)
{
    struct build b = { c, deps, n, NULL, 0, NULL, 0 };

    base_keys(&b);
    view_keys(&b);
    for (size_t i = 0; i < b.n_fk; i++)
        emit_fk(&b, &b.fk[i]);
    junctions(&b);
    size_t *count = dba_xcalloc(c->n_tables + 1, sizeof(*count));
    for (size_t i = 0; i < b.n_rels; i++)
        count[b.rels[i].table - c->tables]++;
    for (size_t i = 0; i < c->n_tables; i++) {
        c->tables[i].rels = count[i] ? dba_xcalloc(count[i], sizeof(*c->tables[i].rels)) : NULL;
        c->tables[i].n_rels = 0;
    }
    for (size_t i = 0; i < b.n_rels; i++) {
        struct dba_table *t = &c->tables[b.rels[i].table - c->tables];
        t->rels[t->n_rels++] = b.rels[i];
    }
    for (size_t i = 0; i < c->n_tables; i++)
        if (c->tables[i].n_rels > 1)
            qsort(c->tables[i].rels, c->tables[i].n_rels, sizeof(*c->tables[i].rels), rel_cmp);
    for (size_t i = 0; i < b.n_fk; i++) {
        free(b.fk[i].cols);
        free(b.fk[i].fcols);
    }
    free(b.fk);
    free(b.rels);
    free(count);
}

void
dba__catalog_relationships_free(struct dba_table *t)
{
    for (size_t i = 0; i < t->n_rels; i++)
        free(t->rels[i].cols);
    free(t->rels);
    t->rels = NULL;
    t->n_rels = 0;
}

/* ---- resolution -------------------------------------------------------------------------- */

static bool
is_single(const struct dba_relationship *r)
{
    return r->card != DBA_CARD_M2M && r->n_cols == 1;
}

static bool
match_fk_col(const struct dba_relationship *r, const char *s)
{
    return is_single(r) && strcmp(r->cols[0], s) == 0;
}

static bool
match_ref_col(const struct dba_relationship *r, const char *s)
{
    return is_single(r) && strcmp(r->target_cols[0], s) == 0;
}

static bool
match_constraint(const struct dba_relationship *r, const char *s)
{
    return r->card != DBA_CARD_M2M && strcmp(r->constraint, s) == 0;
}

/* PostgREST's candidate test for `target[!hint]`. */
static bool
rel_matches(const struct dba_relationship *r, const char *target, const char *hint)
{
    bool by_name = strcmp(r->target->name, target) == 0;

    if (r->self) {
        /* a self-reference: the table name gives the one-to-many, a key column the many-to-one;
           with a hint, the one-to-many through the referencing column */
        if (hint == NULL)
            return (by_name && r->card == DBA_CARD_O2M) ||
                   (match_fk_col(r, target) && r->card == DBA_CARD_M2O);
        return by_name && r->card == DBA_CARD_O2M && match_ref_col(r, hint);
    }
    if (hint == NULL)
        return by_name || (match_constraint(r, target) && !r->target->is_view) ||
               (match_fk_col(r, target) && !r->target->is_view);
    return by_name && (match_constraint(r, hint) || match_fk_col(r, hint) ||
                       match_ref_col(r, hint) ||
                       (r->card == DBA_CARD_M2M && strcmp(r->junction->name, hint) == 0));
}

/* fuzzy: the closest name PostgREST's fuzzy set (n-grams of 3, then 2, prefiltered by cosine
   similarity, scored by normalized Levenshtein distance) would return, or NULL. */

#define FZ_LEN 64 /* names are identifiers: longer ones are not compared */

struct fz_gram {
    char g[4];
    int count;
};

static size_t
fz_lower(const char *s, char *out)
{
    size_t n = 0;
    for (; *s != '\0' && n < FZ_LEN; s++)
        out[n++] = (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
    out[n] = '\0';
    return n;
}

/* The n-gram counts of "-normalized-" (word characters, spaces and commas, lower case). */
static size_t
fz_grams(const char *lower, int size, struct fz_gram *out)
{
    char norm[FZ_LEN + 3];
    size_t len = 0;
    size_t n = 0;

    norm[len++] = '-';
    for (const unsigned char *p = (const unsigned char *)lower; *p != '\0'; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == ' ' || *p == ',' ||
            *p == '\t' || *p >= 0x80)
            norm[len++] = (char)*p;
    norm[len++] = '-';
    for (size_t i = 0; i + (size_t)size <= len; i++) {
        size_t k = 0;
        while (k < n && memcmp(out[k].g, norm + i, (size_t)size) != 0)
            k++;
        if (k == n) {
            memset(&out[n], 0, sizeof(out[n]));
            memcpy(out[n++].g, norm + i, (size_t)size);
        }
        out[k].count++;
    }
    return n;
}

static double
fz_levenshtein_norm(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);

    if (la == 0 && lb == 0)
        return 1.0;
    return 1.0 - (double)dba__catalog_edit_distance(a, b) / (double)(la > lb ? la : lb);
}

struct fz_hit {
    const char *name;
    double cosine;
    double score;
};

static int
fz_by_cosine(const void *x, const void *y)
{
    double a = ((const struct fz_hit *)x)->cosine;
    double b = ((const struct fz_hit *)y)->cosine;
    return (a < b) - (a > b);
}

static int
fz_by_score(const void *x, const void *y)
{
    double a = ((const struct fz_hit *)x)->score;
    double b = ((const struct fz_hit *)y)->score;
    return (a < b) - (a > b);
}

/* names[0..n) may repeat (first one kept). exact: what an exact (case-insensitive) match gives:
   itself, or NULL when the caller wants only non-exact suggestions. */
static const char *
fuzzy_best(const char *const *names, size_t n, const char *query, bool exact_ok)
{
    char key[FZ_LEN + 1];
    char low[FZ_LEN + 1];
    const char *best = NULL;

    if (strlen(query) > FZ_LEN)
        return NULL;
    fz_lower(query, key);
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) <= FZ_LEN && (fz_lower(names[i], low), strcmp(low, key) == 0))
            return exact_ok ? names[i] : NULL;
    }
    struct fz_hit *hits = dba_xcalloc(n + 1, sizeof(*hits));
    for (int size = 3; size >= 2 && best == NULL; size--) {
        struct fz_gram q[FZ_LEN + 3];
        struct fz_gram e[FZ_LEN + 3];
        size_t nq = fz_grams(key, size, q);
        size_t n_hits = 0;
        double qmag = 0;
        for (size_t k = 0; k < nq; k++)
            qmag += (double)(q[k].count * q[k].count);
        for (size_t i = 0; i < n; i++) {
            bool dup = false;
            for (size_t k = 0; k < i && !dup; k++)
                dup = strcmp(names[k], names[i]) == 0;
            if (dup || strlen(names[i]) > FZ_LEN)
                continue;
            fz_lower(names[i], low);
            size_t ne = fz_grams(low, size, e);
            double dot = 0;
            double emag = 0;
            for (size_t m = 0; m < ne; m++) {
                emag += (double)(e[m].count * e[m].count);
                for (size_t k = 0; k < nq; k++)
                    if (memcmp(q[k].g, e[m].g, (size_t)size) == 0)
                        dot += (double)(q[k].count * e[m].count);
            }
            if (dot <= 0)
                continue;
            hits[n_hits++] = (struct fz_hit){ names[i], dot / (sqrt(qmag) * sqrt(emag)), 0 };
        }
        qsort(hits, n_hits, sizeof(*hits), fz_by_cosine);
        if (n_hits > 50)
            n_hits = 50;
        for (size_t i = 0; i < n_hits; i++) {
            fz_lower(hits[i].name, low);
            hits[i].score = fz_levenshtein_norm(key, low);
        }
        qsort(hits, n_hits, sizeof(*hits), fz_by_score);
        if (n_hits > 0 && hits[0].score >= 0.33)
            best = hits[0].name;
    }
    free(hits);
    return best;
}

/* PostgREST's PGRST200 hint: a close parent name when `from` has no relationship in the schema,
   else a close target among the relations it has relationships with (never the target itself). */
static const char *
no_rel_hint(const struct dba_catalog *c, const struct dba_table *from, const char *target,
            const char **instead_of)
{
    const char **names = dba_xcalloc(c->n_tables + from->n_rels + 1, sizeof(*names));
    size_t n = 0;
    const char *best;

    for (size_t i = 0; i < from->n_rels; i++)
        if (strcmp(from->rels[i].target->schema, from->schema) == 0)
            names[n++] = from->rels[i].target->name;
    if (n > 0) {
        *instead_of = target;
        best = fuzzy_best(names, n, target, false);
    } else {
        for (size_t i = 0; i < c->n_tables; i++) {
            const struct dba_table *t = &c->tables[i];
            for (size_t k = 0; k < t->n_rels; k++)
                if (strcmp(t->rels[k].target->schema, from->schema) == 0) {
                    names[n++] = t->name;
                    break;
                }
        }
        *instead_of = from->name;
        best = fuzzy_best(names, n, from->name, true);
    }
    free(names);
    return best;
}

static json_t *
cols_text(const char *rel, const char *const *cols, size_t n)
{
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, rel);
    dba_buf_puts(&b, "(");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            dba_buf_puts(&b, ", ");
        dba_buf_puts(&b, cols[i]);
    }
    dba_buf_puts(&b, ")");
    json_t *s = json_stringn(b.data, b.len);
    dba_buf_cleanup(&b);
    return s;
}

/* One candidate as PostgREST lists it in PGRST201's details. */
static json_t *
candidate_json(const struct dba_relationship *r)
{
    static const char *const card_names[] = { "many-to-one", "one-to-many", "one-to-one",
                                              "many-to-many" };
    json_t *o = json_object();
    json_t *a;
    json_t *b;
    char emb[2 * 256 + 8];

    snprintf(emb, sizeof(emb), "%s with %s", r->table->name, r->target->name);
    json_object_set_new(o, "cardinality", json_string(card_names[r->card]));
    json_object_set_new(o, "embedding", json_string(emb));
    if (r->card == DBA_CARD_M2M) {
        a = cols_text(r->constraint, r->junction_cols, r->n_cols);
        b = cols_text(r->target_constraint, r->junction_target_cols, r->n_target_cols);
        json_object_set_new(o, "relationship",
                            json_sprintf("%s using %s and %s", r->junction->name,
                                         json_string_value(a), json_string_value(b)));
    } else {
        a = cols_text(r->table->name, r->cols, r->n_cols);
        b = cols_text(r->target->name, r->target_cols, r->n_cols);
        json_object_set_new(o, "relationship",
                            json_sprintf("%s using %s and %s", r->constraint,
                                         json_string_value(a), json_string_value(b)));
    }
    json_decref(a);
    json_decref(b);
    return o;
}

static int
ambiguous(const struct dba_table *from, const char *target,
          const struct dba_relationship *const *cands, size_t n, struct dba_err *err)
{
    json_t *arr = json_array();
    struct dba_buf hint;

    dba_err_set(err, DBA_EINVAL, 300, "PGRST201",
                "Could not embed because more than one relationship was found for '%s' and '%s'",
                from->name, target);
    dba_buf_init(&hint);
    for (size_t i = 0; i < n; i++) {
        const struct dba_relationship *r = cands[i];
        json_array_append_new(arr, candidate_json(r));
        char *text = json_dumps(arr, JSON_COMPACT);
        bool fits = strlen(text) < sizeof(err->detail);
        if (fits)
            memcpy(err->detail, text, strlen(text) + 1);
        free(text);
        if (!fits)
            break; /* the list stays valid JSON: the candidates that fit */
        dba_buf_printf(&hint, "%s'%s!%s'", i > 0 ? ", " : "", r->target->name,
                       r->card == DBA_CARD_M2M ? r->junction->name : r->constraint);
    }
    json_decref(arr);
    err->detail_json = true;
    dba_err_hint(err,
                 "Try changing '%s' to one of the following: %s. Find the desired relationship "
                 "in the 'details' key.",
                 target, hint.data ? hint.data : "");
    dba_buf_cleanup(&hint);
    return DBA_EINVAL;
}

static bool
names_eq(const char *const *a, const char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* Two many-to-many candidates a client cannot tell apart: the same description in PGRST201's
   details and the same `!junction` hint (junctions of one name in several schemas, e.g. views in
   other exposed schemas over the same junction table, with the same keys). */
static bool
m2m_twins(const struct dba_relationship *a, const struct dba_relationship *b)
{
    return a->card == DBA_CARD_M2M && b->card == DBA_CARD_M2M && a->target == b->target &&
           strcmp(a->junction->name, b->junction->name) == 0 &&
           strcmp(a->constraint, b->constraint) == 0 &&
           strcmp(a->target_constraint, b->target_constraint) == 0 && a->n_cols == b->n_cols &&
           a->n_target_cols == b->n_target_cols &&
           names_eq(a->junction_cols, b->junction_cols, a->n_cols) &&
           names_eq(a->junction_target_cols, b->junction_target_cols, a->n_target_cols);
}

/* Which of two twins is kept: the junction in the embedding relation's schema, else a table
   before a view. */
static int
m2m_rank(const struct dba_table *from, const struct dba_relationship *r)
{
    int same_schema = strcmp(r->junction->schema, from->schema) == 0;

    return 2 * same_schema + (r->junction->is_view ? 0 : 1);
}

/* Collapses twins into one candidate (at the first one's place); returns the new count. */
static size_t
collapse_twins(const struct dba_table *from, const struct dba_relationship **cands, size_t n)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < kept && !m2m_twins(cands[j], cands[i]))
            j++;
        if (j == kept)
            cands[kept++] = cands[i];
        else if (m2m_rank(from, cands[i]) > m2m_rank(from, cands[j]))
            cands[j] = cands[i];
    }
    return kept;
}

int
dba_catalog_relationship_find(const struct dba_catalog *c, const struct dba_table *from,
                              const char *target, const char *hint,
                              const struct dba_relationship **out, struct dba_err *err)
{
    const struct dba_relationship **cands =
        dba_xcalloc(from->n_rels + 1, sizeof(*cands));
    size_t n = 0;

    *out = NULL;
    /* A computed relationship (a function f(from) named `target`) wins over the foreign keys, as
       PostgREST lets it override a detected relationship of the same name. */
    for (size_t i = 0; hint == NULL && i < from->n_crels; i++) {
        if (strcmp(from->crels[i].function->name, target) == 0) {
            *out = &from->crels[i];
            free(cands);
            return DBA_OK;
        }
    }
    for (size_t i = 0; i < from->n_rels; i++) {
        const struct dba_relationship *r = &from->rels[i];
        if (strcmp(r->target->schema, from->schema) == 0 && rel_matches(r, target, hint))
            cands[n++] = r;
    }
    n = collapse_twins(from, cands, n);
    if (n == 1) {
        *out = cands[0];
        free(cands);
        return DBA_OK;
    }
    if (n > 1) {
        int rc = ambiguous(from, target, cands, n, err);
        free(cands);
        return rc;
    }
    free(cands);
    dba_err_set(err, DBA_EINVAL, 400, "PGRST200",
                "Could not find a relationship between '%s' and '%s' in the schema cache",
                from->name, target);
    if (hint != NULL)
        dba_err_detail(err,
                       "Searched for a foreign key relationship between '%s' and '%s' using the "
                       "hint '%s' in the schema '%s', but no matches were found.",
                       from->name, target, hint, from->schema);
    else
        dba_err_detail(err,
                       "Searched for a foreign key relationship between '%s' and '%s' in the "
                       "schema '%s', but no matches were found.",
                       from->name, target, from->schema);
    const char *instead_of = NULL;
    const char *near = no_rel_hint(c, from, target, &instead_of);
    if (near != NULL)
        dba_err_hint(err, "Perhaps you meant '%s' instead of '%s'.", near, instead_of);
    return DBA_EINVAL;
}
