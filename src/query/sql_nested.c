/* sql_nested.c - nested inserts: POST <base>/authors with {"name": .., "books": [{..}, ..]}.
 *
 * Resolution walks the body once (jansson) and resolves every key that is not a column of its
 * object's table as a relationship (dba_catalog_relationship_find: the rules and hints of
 * select=). The builder walks it again and gives every object of the body its own
 * data-modifying CTE, in dependency order:
 *     n1 AS (INSERT INTO "s"."authors" ("name") SELECT pgrst_r."name"
 *            FROM json_populate_record(NULL::"s"."authors", $1::json) AS pgrst_r RETURNING *),
 *     n2 AS (INSERT INTO "s"."books" ("title", "author_id") SELECT pgrst_r."title",
 *            (SELECT "id" FROM n1) FROM json_populate_record(NULL::"s"."books", $2::json) ...)
 * A to-one key (many-to-one, or one-to-one holding the key) inserts the referenced row first and
 * takes its key; a to-many key (one-to-many, one-to-one referenced) inserts the children after
 * their parent with the parent's key. Each object binds only its own column values, so values
 * convert with the column types as in a flat insert. The statement ends by keeping the
 * top-level rows (in body order) in the transaction-local setting pgrst.nested_rows; the main
 * statement, the next in the same unit and round trip, reads them back as its pgrst_source, so
 * return=representation and select= with embeds see the whole tree (a statement does not see
 * the rows its own CTEs insert).
 */
#include <jansson.h>
#include <string.h>

#include "query/query_int.h"

#define NESTED_ROWS_SETTING "pgrst.nested_rows"

static const struct dba_nested_key *
nested_find(const struct dba_query *q, const struct dba_table *t, const char *key)
{
    for (size_t i = 0; i < q->n_nested; i++)
        if (q->nested[i].from == t && strcmp(q->nested[i].key, key) == 0)
            return &q->nested[i];
    return NULL;
}

bool
dba__sql_nested_is_key(const struct dba_query *q, const struct dba_table *t, const char *name)
{
    return nested_find(q, t, name) != NULL;
}

/* ---- resolution ---- */

struct nested_res {
    struct dba_query *q;
    const struct dba_catalog *c;
    struct dba_arena *a;
    struct dba_err *err;
    size_t cap;
};

static int nested_resolve_value(struct nested_res *nr, const struct dba_table *t, json_t *v,
                                int depth);

static int
nested_resolve_object(struct nested_res *nr, const struct dba_table *t, json_t *o, int depth)
{
    const char *key;
    json_t *v;

    if (depth > SQL_MAX_SCOPES)
        return dba_err_set(nr->err, DBA_EINVAL, 400, "PGRST102", "Nested insert too deep");
    json_object_foreach(o, key, v) {
        if (dba_catalog_column_find(t, key))
            continue;
        const struct dba_nested_key *nk = nested_find(nr->q, t, key);
        if (nk == NULL) {
            const char *bang = strchr(key, '!');
            char *name = dba_arena_strndup(nr->a, key, bang ? (size_t)(bang - key) : strlen(key));
            const struct dba_relationship *rel = NULL;
            struct dba_err e;
            if (dba_catalog_relationship_find(nr->c, t, name, bang ? bang + 1 : NULL, &rel, &e)
                != DBA_OK) {
                if (strcmp(e.pgrst, "PGRST201") == 0) {
                    *nr->err = e;
                    return e.code;
                }
                return dba_err_set(nr->err, DBA_ENOTFOUND, 400, "PGRST204",
                                   "Could not find the '%s' column of '%s' in the schema cache",
                                   key, t->name);
            }
            if (rel->card == DBA_CARD_M2M)
                return dba_err_set(nr->err, DBA_EINVAL, 400, "PGRST102",
                                   "Nested insert through the many-to-many '%s' is not "
                                   "supported: insert into '%s' directly", key,
                                   rel->junction->name);
            if (nr->q->n_nested == nr->cap) {
                size_t cap = nr->cap ? nr->cap * 2 : 4;
                struct dba_nested_key *n = dba_arena_alloc(nr->a, cap * sizeof(*n));
                if (nr->q->n_nested)
                    memcpy(n, nr->q->nested, nr->q->n_nested * sizeof(*n));
                nr->q->nested = n;
                nr->cap = cap;
            }
            struct dba_nested_key *slot = &nr->q->nested[nr->q->n_nested++];
            *slot = (struct dba_nested_key){ t, dba_arena_strdup(nr->a, key), rel };
            nk = slot;
        }
        if (nested_resolve_value(nr, nk->rel->target, v, depth + 1) != DBA_OK)
            return nr->err->code;
    }
    return DBA_OK;
}

static int
nested_resolve_value(struct nested_res *nr, const struct dba_table *t, json_t *v, int depth)
{
    size_t i;
    json_t *e;

    if (json_is_object(v))
        return nested_resolve_object(nr, t, v, depth);
    if (!json_is_array(v))
        return dba_err_set(nr->err, DBA_EINVAL, 400, "PGRST102",
                           "A nested insert into '%s' needs an object or an array of objects",
                           t->name);
    json_array_foreach(v, i, e) {
        if (!json_is_object(e))
            return dba_err_set(nr->err, DBA_EINVAL, 400, "PGRST102",
                               "A nested insert into '%s' needs an object or an array of objects",
                               t->name);
        if (nested_resolve_object(nr, t, e, depth) != DBA_OK)
            return nr->err->code;
    }
    return DBA_OK;
}

int
dba_query_nested_resolve(struct dba_query *q, const struct dba_catalog *c,
                         const struct dba_table *t, struct dba_arena *a, struct dba_err *err)
{
    struct nested_res nr = { q, c, a, err, 0 };
    bool flat = true;

    q->nested = NULL;
    q->n_nested = 0;
    if (q->method != DBA_M_POST || q->body == NULL || q->columns != NULL ||
        (q->body_kind != DBA_BODY_OBJECT && q->body_kind != DBA_BODY_ARRAY))
        return DBA_OK;
    for (size_t i = 0; flat && i < q->n_body_keys; i++)
        flat = dba_catalog_column_find(t, q->body_keys[i]) != NULL;
    if (flat)
        return DBA_OK;
    json_t *root = json_loadb(q->body, q->body_len, 0, NULL);
    int rc = root ? nested_resolve_value(&nr, t, root, 0)
                  : dba_err_set(err, DBA_EINVAL, 400, "PGRST102", "Empty or invalid json");
    json_decref(root);
    if (rc == DBA_OK && t->n_pk == 0)
        return dba_err_set(err, DBA_EINVAL, 400, "PGRST102",
                           "A nested insert needs a primary key on '%s'", t->name);
    return rc;
}

/* ---- the statement ---- */

struct nested_build {
    struct sql_ctx *c;
    struct dba_buf *b;  /* the pre statement */
    size_t n_cte;       /* CTEs so far (n1, n2, ...) */
    size_t *roots;      /* CTE numbers of the top-level objects (arena) */
    size_t n_roots;     /* count */
};

/* A column set from another CTE: col = (SELECT src_col FROM n<cte>). */
struct nested_fixed {
    const char *col;
    const char *src_col;
    size_t cte;
};

static int nested_object(struct nested_build *nb, const struct dba_table *t, json_t *o,
                         const struct nested_fixed *fixed, size_t n_fixed, size_t *out_cte);

static bool
rel_to_one(const struct dba_relationship *rel)
{
    return rel->card == DBA_CARD_M2O || (rel->card == DBA_CARD_O2O && rel->fk_here);
}

static bool
fixed_has(const struct nested_fixed *f, size_t n, const char *col)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].col, col) == 0)
            return true;
    return false;
}

/* Inserts every object of v (object or array) into the target of rel, with the parent's key. */
static int
nested_children(struct nested_build *nb, const struct dba_relationship *rel, json_t *v,
                size_t parent_cte)
{
    struct nested_fixed *f = dba_arena_alloc(nb->c->a, rel->n_cols * sizeof(*f));
    size_t i, cte;
    json_t *e;

    for (size_t k = 0; k < rel->n_cols; k++)
        f[k] = (struct nested_fixed){ rel->target_cols[k], rel->cols[k], parent_cte };
    if (json_is_object(v))
        return nested_object(nb, rel->target, v, f, rel->n_cols, &cte);
    json_array_foreach(v, i, e) {
        if (nested_object(nb, rel->target, e, f, rel->n_cols, &cte) != DBA_OK)
            return nb->c->err->code;
    }
    return DBA_OK;
}

static int
nested_object(struct nested_build *nb, const struct dba_table *t, json_t *o,
              const struct nested_fixed *fixed, size_t n_fixed, size_t *out_cte)
{
    struct sql_ctx *c = nb->c;
    const struct dba_query *q = c->q;
    size_t n_all = n_fixed;
    json_t *cols;
    const char *key;
    json_t *v;
    int rc = DBA_OK;

    json_object_foreach(o, key, v) {
        const struct dba_nested_key *nk =
            dba_catalog_column_find(t, key) ? NULL : nested_find(q, t, key);
        if (nk != NULL && rel_to_one(nk->rel))
            n_all += nk->rel->n_cols;
    }
    struct nested_fixed *all = dba_arena_alloc(c->a, (n_all ? n_all : 1) * sizeof(*all));
    if (n_fixed)
        memcpy(all, fixed, n_fixed * sizeof(*all));
    cols = json_object();
    n_all = n_fixed;
    /* to-one parents first: their keys become columns of this row */
    json_object_foreach(o, key, v) {
        const struct dba_nested_key *nk =
            dba_catalog_column_find(t, key) ? NULL : nested_find(q, t, key);
        size_t cte;

        if (nk == NULL || !rel_to_one(nk->rel))
            continue;
        if (!json_is_object(v)) {
            rc = dba_err_set(c->err, DBA_EINVAL, 400, "PGRST102",
                             "'%s' is a to-one relationship of '%s': its value is one object",
                             key, t->name);
            break;
        }
        if ((rc = nested_object(nb, nk->rel->target, v, NULL, 0, &cte)) != DBA_OK)
            break;
        for (size_t k = 0; k < nk->rel->n_cols; k++)
            all[n_all++] = (struct nested_fixed){ nk->rel->cols[k], nk->rel->target_cols[k], cte };
    }
    if (rc != DBA_OK) {
        json_decref(cols);
        return rc;
    }
    json_object_foreach(o, key, v) {
        if (dba_catalog_column_find(t, key) && !fixed_has(all, n_all, key))
            json_object_set(cols, key, v);
    }
    size_t me = ++nb->n_cte;
    struct dba_buf *b = nb->b;
    const char *qual = dba__sql_qual(c->a, t->schema, t->name);
    size_t n_list = 0;
    dba_buf_printf(b, "%sn%zu AS (INSERT INTO %s", me > 1 ? ", " : "WITH ", me, qual);
    if (json_object_size(cols) + n_all == 0) {
        dba_buf_puts(b, " DEFAULT VALUES RETURNING *)");
    } else {
        dba_buf_puts(b, " (");
        json_object_foreach(cols, key, v) {
            dba_buf_puts(b, n_list++ ? ", " : "");
            dba_buf_put_ident(b, key);
        }
        for (size_t k = 0; k < n_all; k++) {
            dba_buf_puts(b, n_list++ ? ", " : "");
            dba_buf_put_ident(b, all[k].col);
        }
        dba_buf_puts(b, ") SELECT ");
        n_list = 0;
        json_object_foreach(cols, key, v) {
            dba_buf_puts(b, n_list++ ? ", pgrst_r." : "pgrst_r.");
            dba_buf_put_ident(b, key);
        }
        for (size_t k = 0; k < n_all; k++) {
            dba_buf_puts(b, n_list++ ? ", (SELECT " : "(SELECT ");
            dba_buf_put_ident(b, all[k].src_col);
            dba_buf_printf(b, " FROM n%zu)", all[k].cte);
        }
        char *text = json_dumps(cols, JSON_COMPACT);
        const char *param = dba_arena_strdup(c->a, text ? text : "{}");
        free(text);
        dba_buf_printf(b, " FROM json_populate_record(NULL::%s, $%zu::json) AS pgrst_r "
                          "RETURNING *)", qual, dba__sql_param_add(c, param));
    }
    json_decref(cols);
    *out_cte = me;
    /* to-many children after their parent */
    json_object_foreach(o, key, v) {
        const struct dba_nested_key *nk =
            dba_catalog_column_find(t, key) ? NULL : nested_find(q, t, key);

        if (nk == NULL || rel_to_one(nk->rel))
            continue;
        if ((rc = nested_children(nb, nk->rel, v, me)) != DBA_OK)
            return rc;
    }
    return DBA_OK;
}

int
dba__sql_nested_build(struct sql_ctx *c, struct dba_buf *b)
{
    const struct dba_query *q = c->q;
    json_t *root = json_loadb(q->body, q->body_len, 0, NULL);
    struct nested_build nb = { .c = c, .b = &c->pre };
    const char **saved = c->params;
    size_t saved_n = c->n_params, saved_cap = c->cap_params;
    size_t i, cap = json_is_array(root) ? json_array_size(root) : 1;
    json_t *e;
    int rc = DBA_OK;

    if (root == NULL)
        return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST102", "Empty or invalid json");
    /* the pre statement numbers its own parameters */
    c->params = NULL;
    c->n_params = c->cap_params = 0;
    nb.roots = dba_arena_alloc(c->a, (cap ? cap : 1) * sizeof(*nb.roots));
    if (json_is_object(root)) {
        rc = nested_object(&nb, c->t, root, NULL, 0, &nb.roots[nb.n_roots++]);
    } else {
        json_array_foreach(root, i, e) {
            if ((rc = nested_object(&nb, c->t, e, NULL, 0, &nb.roots[nb.n_roots])) != DBA_OK)
                break;
            nb.n_roots++;
        }
    }
    json_decref(root);
    if (rc == DBA_OK) {
        if (nb.n_cte == 0)
            dba_buf_puts(&c->pre, "SELECT set_config('" NESTED_ROWS_SETTING "', '[]', true)");
        else
            dba_buf_puts(&c->pre, " SELECT set_config('" NESTED_ROWS_SETTING "', coalesce(("
                                  "SELECT json_agg(pgrst_k.j ORDER BY pgrst_k.o) FROM (");
        for (size_t k = 0; k < nb.n_roots; k++)
            dba_buf_printf(&c->pre, "%sSELECT %zu AS o, to_json(n%zu) AS j FROM n%zu",
                           k ? " UNION ALL " : "", k, nb.roots[k], nb.roots[k]);
        if (nb.n_cte > 0)
            dba_buf_puts(&c->pre, ") pgrst_k)::text, '[]'), true)");
    }
    c->pre_params = c->params;
    c->n_pre_params = c->n_params;
    c->params = saved;
    c->n_params = saved_n;
    c->cap_params = saved_cap;
    if (rc != DBA_OK)
        return rc;
    dba_buf_printf(b, "SELECT pgrst_n.* FROM json_populate_recordset(NULL::%s, "
                      "current_setting('" NESTED_ROWS_SETTING "')::json) AS pgrst_n", c->qual);
    return DBA_OK;
}
