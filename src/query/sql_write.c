/* sql_write.c - SQL builder: POST (insert, upsert), PATCH, PUT and DELETE statements.
 *
 * Shape: WITH pgrst_source AS (<DML> RETURNING ...) SELECT <total>, count(*), <body>, <location>,
 * <inserted> FROM <rows> _t. The body is one bound parameter parsed by PostgreSQL with
 * json_populate_record[set](NULL::"s"."t", $n::json), so values convert with the column types;
 * the column list is the body keys (or columns=), so omitted columns take their DEFAULT.
 * Upserts tell inserted from updated rows with RETURNING (xmax = 0): a row version created by the
 * INSERT has no xmax, one rewritten by ON CONFLICT DO UPDATE has. This needs a base table (views
 * have no xmax), so on views the inserted column is NULL.
 *
 * Bulk update by key (PATCH, array body, no filters): WITH pgrst_body AS MATERIALIZED (one row
 * per element: the element as jsonb and its values as the table's record), pgrst_source AS
 * (UPDATE ... FROM pgrst_body WHERE key = key RETURNING ...); each element sets only the columns
 * it carries (CASE WHEN pgrst_js ? 'c'), and the inserted column counts the elements whose key
 * matched no updated row.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

/* What the outer SELECT needs from the RETURNING rows. */
struct write_plan {
    bool dml;      /* the CTE is a DML statement (false for the no-op PATCH) */
    bool repr;     /* return=representation: build the body from the rows */
    bool location; /* POST return=headers-only on a table with a primary key */
    bool inserted; /* upsert on a base table: count rows with xmax = 0 */
    bool bulk;     /* bulk update by key: the body is the CTE pgrst_body, joined on key */
    const char *const *key; /* bulk: the key columns (primary key or on_conflict=) */
    size_t n_key;           /* bulk: count */
};

/* The columns a write sets. */
struct write_cols {
    const struct dba_column **cols; /* cache entries */
    size_t n;                       /* count */
};

static bool
write_body_has(const struct dba_query *q, const char *name)
{
    for (size_t i = 0; i < q->n_body_keys; i++) {
        if (strcmp(q->body_keys[i], name) == 0)
            return true;
    }
    return false;
}

/* Columns from columns= (extra body keys are ignored) or from the body keys; each must exist.
 * drop_missing leaves out columns= entries absent from the (single-object) body, so they take
 * their DEFAULT. */
static int
write_columns(struct sql_ctx *c, struct write_cols *wc, bool drop_missing)
{
    const struct dba_query *q = c->q;
    const char **names = q->columns ? q->columns : q->body_keys;
    size_t n = q->columns ? q->n_columns : q->n_body_keys;
    /* with columns= the grammar's body keys are the columns: read the object's own keys */
    json_t *obj = drop_missing && q->columns && q->body
                      ? json_loadb(q->body, q->body_len ? q->body_len : strlen(q->body), 0, NULL)
                      : NULL;

    wc->cols = dba_arena_alloc(c->a, (n ? n : 1) * sizeof(*wc->cols));
    wc->n = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dba_column *col = dba__sql_column(c, names[i], SQL_REF_BODY);

        if (!col) {
            json_decref(obj);
            return c->err->code;
        }
        if (json_is_object(obj) && !json_object_get(obj, names[i]))
            continue;
        wc->cols[wc->n++] = col;
    }
    json_decref(obj);
    return DBA_OK;
}

static void
write_col_list(struct dba_buf *b, const struct write_cols *wc, const char *prefix)
{
    for (size_t i = 0; i < wc->n; i++) {
        if (i)
            dba_buf_puts(b, ", ");
        dba_buf_puts(b, prefix);
        dba_buf_put_ident(b, wc->cols[i]->name);
    }
}

/* Does a column of the table have a domain representation that parses JSON (CREATE CAST (json AS
 * domain))? Then the body's rows are read with json_to_record[set], declaring only the written
 * columns (json for a parsed one): json_populate_record would convert every key of the body with
 * its column's type, before the parser could, even keys columns= leaves out. */
static bool
write_json_parsed(const struct sql_ctx *c)
{
    for (size_t i = 0; i < c->t->n_cols; i++) {
        if (c->t->cols[i].repr && c->t->cols[i].repr->from_json)
            return true;
    }
    return false;
}

/* The value written to col: pgrst_body."c", or through its representation's JSON parser. */
static void
write_value(struct dba_buf *b, const struct dba_column *col)
{
    const char *parser = col->repr ? col->repr->from_json : NULL;

    if (parser)
        dba_buf_printf(b, "%s(", parser);
    dba_buf_puts(b, "pgrst_body.");
    dba_buf_put_ident(b, col->name);
    if (parser)
        dba_buf_putc(b, ')');
}

/* The body as json: the object, or (first_only) the first element of an array. */
static void
write_body_param(struct sql_ctx *c, struct dba_buf *b, bool first_only)
{
    bool first = first_only && c->q->body_kind != DBA_BODY_OBJECT;

    if (first)
        dba_buf_putc(b, '(');
    dba__sql_param_put(c, b, c->q->body);
    dba_buf_puts(b, "::json");
    if (first)
        dba_buf_puts(b, ")->0");
}

/* The value of a missing key under Prefer: missing=default: the column DEFAULT (trusted catalog
 * text), the identity sequence, or NULL. */
static void
write_default(struct sql_ctx *c, struct dba_buf *b, const struct dba_column *col)
{
    if (col->default_expr) {
        dba_buf_printf(b, "(%s)", col->default_expr);
    } else if (col->identity) {
        dba_buf_puts(b, "nextval(pg_get_serial_sequence(");
        dba_buf_put_literal(b, c->qual);
        dba_buf_puts(b, ", ");
        dba_buf_put_literal(b, col->name);
        dba_buf_puts(b, "))");
    } else {
        dba_buf_puts(b, "NULL");
    }
}

/* The rows of the body as pgrst_body: json_populate_record[set](NULL::"s"."t", <body>), or
 * (write_json_parsed) json_to_record[set](<body>) AS pgrst_body("c" <type or json>, ...). */
static void
write_body_rows(struct sql_ctx *c, struct dba_buf *b, const struct write_cols *wc, bool object,
                bool first_only)
{
    bool parsed = write_json_parsed(c);

    if (!parsed)
        dba_buf_printf(b, "json_populate_record%s(NULL::%s, ", object ? "" : "set", c->qual);
    else
        dba_buf_printf(b, "json_to_record%s(", object ? "" : "set");
    write_body_param(c, b, first_only);
    dba_buf_puts(b, ") AS pgrst_body");
    if (!parsed)
        return;
    dba_buf_putc(b, '(');
    for (size_t i = 0; i < wc->n; i++) {
        const struct dba_column *col = wc->cols[i];

        if (i)
            dba_buf_puts(b, ", ");
        dba_buf_put_ident(b, col->name);
        dba_buf_printf(b, " %s", col->repr && col->repr->from_json ? "json" : col->type);
    }
    if (wc->n == 0)
        dba_buf_puts(b, "pgrst_none json"); /* a column definition list cannot be empty */
    dba_buf_putc(b, ')');
}

/* Array body with columns= and missing=default: per element, a missing key takes the DEFAULT. */
static void
write_rows_defaults(struct sql_ctx *c, struct dba_buf *b, const struct write_cols *wc)
{
    for (size_t i = 0; i < wc->n; i++) {
        const struct dba_column *col = wc->cols[i];

        if (i)
            dba_buf_puts(b, ", ");
        if (!col->default_expr && !col->identity) {
            dba_buf_puts(b, "pgrst_body.");
            dba_buf_put_ident(b, col->name);
            continue;
        }
        dba_buf_puts(b, "CASE WHEN pgrst_elem.js ? ");
        dba_buf_put_literal(b, col->name);
        dba_buf_puts(b, " THEN pgrst_body.");
        dba_buf_put_ident(b, col->name);
        dba_buf_puts(b, " ELSE ");
        write_default(c, b, col);
        dba_buf_puts(b, " END");
    }
    dba_buf_puts(b, " FROM jsonb_array_elements(");
    dba__sql_param_put(c, b, c->q->body);
    dba_buf_printf(b, "::jsonb) AS pgrst_elem(js), LATERAL jsonb_populate_record(NULL::%s, "
                      "pgrst_elem.js) AS pgrst_body", c->qual);
}

/* INSERT INTO "s"."t" ("a", "b") SELECT ... FROM <rows of the body>. */
static void
write_insert_into(struct sql_ctx *c, struct dba_buf *b, const struct write_cols *wc, bool single)
{
    const struct dba_query *q = c->q;
    bool object = single || q->body_kind == DBA_BODY_OBJECT;

    dba_buf_printf(b, "INSERT INTO %s AS %s", c->qual, c->alias);
    if (wc->n) {
        dba_buf_puts(b, " (");
        write_col_list(b, wc, "");
        dba_buf_putc(b, ')');
    }
    dba_buf_puts(b, wc->n ? " SELECT " : " SELECT");
    if (!object && q->columns && q->prefer.missing == DBA_MISSING_DEFAULT) {
        write_rows_defaults(c, b, wc);
        return;
    }
    if (!object && !single && q->n_body_rows >= SQL_BULK_ROWS && wc->n > 0 &&
        !write_json_parsed(c) && dba__sql_bulk_rows(c, b, wc->cols, wc->n))
        return;
    for (size_t i = 0; i < wc->n; i++) {
        if (i)
            dba_buf_puts(b, ", ");
        write_value(b, wc->cols[i]);
    }
    dba_buf_puts(b, " FROM ");
    write_body_rows(c, b, wc, object, single);
}

/* ON CONFLICT (target) DO UPDATE SET c = EXCLUDED.c ... / DO NOTHING. */
static void
write_on_conflict(struct dba_buf *b, const struct write_cols *wc, const char *const *target,
                  size_t n_target, bool merge)
{
    dba_buf_puts(b, " ON CONFLICT (");
    for (size_t i = 0; i < n_target; i++) {
        if (i)
            dba_buf_puts(b, ", ");
        dba_buf_put_ident(b, target[i]);
    }
    dba_buf_putc(b, ')');
    if (!merge || wc->n == 0) {
        dba_buf_puts(b, " DO NOTHING");
        return;
    }
    dba_buf_puts(b, " DO UPDATE SET ");
    for (size_t i = 0; i < wc->n; i++) {
        if (i)
            dba_buf_puts(b, ", ");
        dba_buf_put_ident(b, wc->cols[i]->name);
        dba_buf_puts(b, " = EXCLUDED.");
        dba_buf_put_ident(b, wc->cols[i]->name);
    }
}

/* POST: insert, or upsert when a resolution is asked and there is a conflict target (on_conflict
 * columns, else the primary key; without either the resolution is ignored). */
static int
write_insert(struct sql_ctx *c, struct dba_buf *b, struct write_plan *p)
{
    const struct dba_query *q = c->q;
    bool object = q->body_kind == DBA_BODY_OBJECT;
    const char *const *target = (const char *const *)c->t->pk;
    size_t n_target = c->t->n_pk;
    struct write_cols wc;

    if (write_columns(c, &wc, object && q->prefer.missing == DBA_MISSING_DEFAULT) != DBA_OK)
        return c->err->code;
    if (q->on_conflict) {
        for (size_t i = 0; i < q->n_on_conflict; i++) {
            if (!dba__sql_column(c, q->on_conflict[i], SQL_REF_QUERY))
                return c->err->code;
        }
        target = q->on_conflict;
        n_target = q->n_on_conflict;
    }
    write_insert_into(c, b, &wc, false);
    if (q->prefer.resolution != DBA_RES_NONE && n_target > 0) {
        write_on_conflict(b, &wc, target, n_target, q->prefer.resolution == DBA_RES_MERGE);
        p->inserted = q->prefer.resolution == DBA_RES_MERGE;
    }
    return DBA_OK;
}

/* PATCH: only the body keys (or columns=) are set; under missing=default a columns= entry absent
 * from the body is set to DEFAULT. An empty body updates nothing. */
static void
write_update(struct sql_ctx *c, struct dba_buf *b, const struct write_cols *wc,
             const struct dba_buf *where)
{
    const struct dba_query *q = c->q;
    bool defaults = q->columns && q->prefer.missing == DBA_MISSING_DEFAULT;

    dba_buf_printf(b, "UPDATE %s AS %s SET ", c->qual, c->alias);
    for (size_t i = 0; i < wc->n; i++) {
        if (i)
            dba_buf_puts(b, ", ");
        dba_buf_put_ident(b, wc->cols[i]->name);
        if (defaults && !write_body_has(q, wc->cols[i]->name)) {
            dba_buf_puts(b, " = DEFAULT");
            continue;
        }
        dba_buf_puts(b, " = ");
        write_value(b, wc->cols[i]);
    }
    dba_buf_puts(b, " FROM ");
    write_body_rows(c, b, wc, true, true);
    if (where->len)
        dba_buf_printf(b, " WHERE %s", where->data);
}

static int
write_patch(struct sql_ctx *c, struct dba_buf *b, struct write_plan *p, const struct dba_buf *where)
{
    const struct dba_query *q = c->q;
    struct write_cols wc;

    if (write_columns(c, &wc, false) != DBA_OK)
        return c->err->code;
    if (wc.n == 0 || (q->body_kind != DBA_BODY_OBJECT && q->n_body_rows == 0)) {
        /* A no-op; the filters stay in the text so the parameters they bound are all used. */
        dba_buf_printf(b, "SELECT %s.* FROM %s AS %s WHERE false", c->alias, c->qual, c->alias);
        if (where->len)
            dba_buf_printf(b, " AND (%s)", where->data);
        p->dml = false;
        return DBA_OK;
    }
    write_update(c, b, &wc, where);
    return DBA_OK;
}

/* PATCH with an array body and no filters: a bulk update by key. */
static bool
write_is_bulk(const struct sql_ctx *c)
{
    const struct dba_query *q = c->q;
    const struct dba_logic *w = &q->rel.where;

    return q->method == DBA_M_PATCH && q->body_kind == DBA_BODY_ARRAY && q->n_body_rows > 0 &&
           w->kind != DBA_L_FILTER && w->n_children == 0;
}

static bool
write_names_have(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* The body as a record set, one row per element with the element itself (pgrst_js) next to its
 * values converted to the column types: "pgrst_body AS MATERIALIZED (...), ". */
static void
write_bulk_body(struct sql_ctx *c, struct dba_buf *b)
{
    dba_buf_puts(b, "pgrst_body AS MATERIALIZED (SELECT pgrst_e.js AS pgrst_js, pgrst_r.* FROM "
                    "jsonb_array_elements(");
    dba__sql_param_put(c, b, c->q->body);
    dba_buf_printf(b, "::jsonb) AS pgrst_e(js), LATERAL jsonb_populate_record(NULL::%s, "
                      "pgrst_e.js) AS pgrst_r), ", c->qual);
}

/* "<a>.k1 = <b>.k1 AND ..." over the bulk key. */
static void
write_bulk_match(struct dba_buf *b, const struct write_plan *p, const char *a, const char *bb)
{
    for (size_t i = 0; i < p->n_key; i++) {
        if (i)
            dba_buf_puts(b, " AND ");
        dba_buf_printf(b, "%s.", a);
        dba_buf_put_ident(b, p->key[i]);
        dba_buf_printf(b, " = %s.", bb);
        dba_buf_put_ident(b, p->key[i]);
    }
}

/* The key of the bulk update: on_conflict= columns, else the primary key; every element must
 * carry it (400 PGRST102). */
static int
write_bulk_key(struct sql_ctx *c, struct write_plan *p)
{
    const struct dba_query *q = c->q;

    p->key = (const char *const *)c->t->pk;
    p->n_key = c->t->n_pk;
    if (q->on_conflict) {
        for (size_t i = 0; i < q->n_on_conflict; i++) {
            if (!dba__sql_column(c, q->on_conflict[i], SQL_REF_QUERY))
                return c->err->code;
        }
        p->key = q->on_conflict;
        p->n_key = q->n_on_conflict;
    }
    if (p->n_key == 0)
        return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST102",
                           "A bulk update needs a key: '%s' has no primary key, name unique "
                           "columns with on_conflict=", c->t->name);
    for (size_t i = 0; i < p->n_key; i++) {
        if (!write_names_have(q->body_keys_every, q->n_body_keys_every, p->key[i]))
            return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST102",
                               "Every element of a bulk update must carry the key column '%s'",
                               p->key[i]);
    }
    return DBA_OK;
}

/* UPDATE "s"."t" AS "t" SET c = CASE WHEN pgrst_body.pgrst_js ? 'c' THEN pgrst_body.c ELSE
 * "t".c END, ... FROM pgrst_body WHERE "t".k = pgrst_body.k: each element changes the columns it
 * carries (a column every element carries is set without the test); the key is not set. */
static int
write_bulk_update(struct sql_ctx *c, struct dba_buf *b, struct write_plan *p)
{
    const struct dba_query *q = c->q;
    struct write_cols wc;
    size_t n_set = 0;

    if (write_bulk_key(c, p) != DBA_OK || write_columns(c, &wc, false) != DBA_OK)
        return c->err->code;
    p->bulk = true;
    dba_buf_printf(b, "UPDATE %s AS %s SET ", c->qual, c->alias);
    for (size_t i = 0; i < wc.n; i++) {
        const char *name = wc.cols[i]->name;

        if (write_names_have(p->key, p->n_key, name))
            continue;
        if (n_set++)
            dba_buf_puts(b, ", ");
        dba_buf_put_ident(b, name);
        if (write_names_have(q->body_keys_every, q->n_body_keys_every, name)) {
            dba_buf_puts(b, " = pgrst_body.");
            dba_buf_put_ident(b, name);
            continue;
        }
        dba_buf_puts(b, " = CASE WHEN pgrst_body.pgrst_js ? ");
        dba_buf_put_literal(b, name);
        dba_buf_puts(b, " THEN pgrst_body.");
        dba_buf_put_ident(b, name);
        dba_buf_printf(b, " ELSE %s.", c->alias);
        dba_buf_put_ident(b, name);
        dba_buf_puts(b, " END");
    }
    if (n_set == 0) { /* only keys: the matched rows are "updated" to themselves */
        dba_buf_put_ident(b, p->key[0]);
        dba_buf_printf(b, " = %s.", c->alias);
        dba_buf_put_ident(b, p->key[0]);
    }
    dba_buf_puts(b, " FROM pgrst_body WHERE ");
    write_bulk_match(b, p, c->alias, "pgrst_body");
    return DBA_OK;
}

/* Elements of the bulk update that matched no row. */
static void
write_bulk_unmatched(struct dba_buf *b, const struct write_plan *p)
{
    dba_buf_puts(b, "(SELECT count(*) FROM pgrst_body WHERE NOT EXISTS (SELECT 1 FROM "
                    SQL_SOURCE " AS pgrst_m WHERE ");
    write_bulk_match(b, p, "pgrst_m", "pgrst_body");
    dba_buf_puts(b, "))");
}

static int
write_put_error(struct sql_ctx *c)
{
    return dba_err_set(c->err, DBA_EINVAL, 405, "PGRST105",
                       "Filters must include all and only primary key columns with 'eq' operators");
}

/* The PUT filter on primary key column i of the table, or NULL. Filters must be exactly one
 * plain eq per key column. */
static const struct dba_filter *
write_put_filter(const struct sql_ctx *c, size_t i)
{
    const struct dba_logic *w = &c->rel->where;
    const struct dba_logic *kids = w->kind == DBA_L_FILTER ? w : w->children;
    size_t n = w->kind == DBA_L_FILTER ? (w->filter.field.name ? 1 : 0) : w->n_children;
    const struct dba_filter *found = NULL;

    if (w->negate || w->kind == DBA_L_OR || n != c->t->n_pk)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        const struct dba_filter *f = &kids[k].filter;

        if (kids[k].kind != DBA_L_FILTER || kids[k].negate || f->negate || f->op != DBA_OP_EQ
            || f->quant != DBA_Q_NONE || f->field.n_path || !f->field.name || !f->value)
            return NULL;
        if (strcmp(f->field.name, c->t->pk[i]) == 0) {
            if (found)
                return NULL;
            found = f;
        }
    }
    return found;
}

/* Does the body's JSON value equal the URL's eq value? */
static bool
write_put_value_eq(const json_t *v, const char *url)
{
    char *end;

    switch (json_typeof(v)) {
    case JSON_STRING:
        return strcmp(json_string_value(v), url) == 0;
    case JSON_INTEGER:
        errno = 0;
        return *url && strtoll(url, &end, 10) == json_integer_value(v) && !*end && !errno;
    case JSON_REAL:
        return *url && strtod(url, &end) == json_real_value(v) && !*end;
    case JSON_TRUE:
        return strcmp(url, "true") == 0;
    case JSON_FALSE:
        return strcmp(url, "false") == 0;
    case JSON_NULL:
    case JSON_OBJECT:
    case JSON_ARRAY:
        break;
    }
    return false;
}

static int
write_put_body(struct sql_ctx *c, const struct dba_filter **pkf)
{
    const struct dba_query *q = c->q;
    json_t *root = json_loadb(q->body, q->body_len ? q->body_len : strlen(q->body), 0, NULL);
    json_t *obj = json_is_array(root) ? json_array_get(root, 0) : root;
    bool ok = json_is_object(obj);

    for (size_t i = 0; ok && i < c->t->n_pk; i++) {
        json_t *v = json_object_get(obj, c->t->pk[i]);

        ok = v && write_put_value_eq(v, pkf[i]->value);
    }
    json_decref(root);
    if (!root)
        return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST102", "Empty or invalid json");
    if (!ok)
        return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST115",
                           "Payload values do not match URL in primary key column(s)");
    return DBA_OK;
}

/* PUT: a single-row upsert on the primary key named by the filters. */
static int
write_put(struct sql_ctx *c, struct dba_buf *b, struct write_plan *p)
{
    const struct dba_query *q = c->q;
    const struct dba_filter **pkf;
    struct write_cols wc;

    if (q->rel.limit >= 0 || q->rel.offset > 0)
        return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST114",
                           "limit/offset querystring parameters are not allowed for PUT");
    if (c->t->n_pk == 0)
        return write_put_error(c);
    pkf = dba_arena_alloc(c->a, c->t->n_pk * sizeof(*pkf));
    for (size_t i = 0; i < c->t->n_pk; i++) {
        if (!(pkf[i] = write_put_filter(c, i)))
            return write_put_error(c);
    }
    if (write_put_body(c, pkf) != DBA_OK || write_columns(c, &wc, false) != DBA_OK)
        return c->err->code;
    write_insert_into(c, b, &wc, true);
    write_on_conflict(b, &wc, (const char *const *)c->t->pk, c->t->n_pk, true);
    p->inserted = true;
    return DBA_OK;
}

/* Percent-encodes (RFC 3986 unreserved kept) the text expression `expr` in SQL. */
static void
write_urlencode(struct dba_buf *b, const char *expr)
{
    dba_buf_puts(b, "coalesce((SELECT string_agg(CASE WHEN pgrst_e.b BETWEEN 48 AND 57 "
                    "OR pgrst_e.b BETWEEN 65 AND 90 OR pgrst_e.b BETWEEN 97 AND 122 "
                    "OR pgrst_e.b IN (45, 46, 95, 126) THEN chr(pgrst_e.b) "
                    "ELSE '%' || lpad(upper(to_hex(pgrst_e.b)), 2, '0') END, '' "
                    "ORDER BY pgrst_e.i) "
                    "FROM (SELECT pgrst_i.i, get_byte(pgrst_v.v, pgrst_i.i) AS b "
                    "FROM (SELECT convert_to(");
    dba_buf_puts(b, expr);
    dba_buf_puts(b, ", 'UTF8') AS v) AS pgrst_v, generate_series(0, length(pgrst_v.v) - 1) "
                    "AS pgrst_i(i)) AS pgrst_e), '')");
}

/* Location query string of the single inserted row: "id=eq.5&k=eq.x". */
static void
write_location(struct sql_ctx *c, struct dba_buf *b)
{
    struct dba_buf key, col;

    dba_buf_init(&key);
    dba_buf_init(&col);
    dba_buf_puts(b, "(SELECT ");
    for (size_t i = 0; i < c->t->n_pk; i++) {
        dba_buf_reset(&key);
        dba_buf_reset(&col);
        if (i)
            dba_buf_putc(&key, '&');
        dba_url_encode(&key, c->t->pk[i]);
        dba_buf_puts(&key, "=eq.");
        dba_buf_puts(&col, SQL_SOURCE ".");
        dba_buf_put_ident(&col, c->t->pk[i]);
        dba_buf_puts(&col, "::text");
        if (i)
            dba_buf_puts(b, " || ");
        dba_buf_put_literal(b, key.data);
        dba_buf_puts(b, " || ");
        write_urlencode(b, col.data);
    }
    dba_buf_puts(b, " FROM " SQL_SOURCE " WHERE (SELECT count(*) FROM " SQL_SOURCE ") = 1)");
    dba_buf_cleanup(&key);
    dba_buf_cleanup(&col);
}

/* The body, behind the checks that abort the statement (see DBA_SQL_SINGULAR in sql.h). */
static void
write_body(struct sql_ctx *c, struct dba_buf *b, const struct write_plan *p)
{
    const struct dba_query *q = c->q;
    bool singular = q->media == DBA_MEDIA_OBJECT || q->media == DBA_MEDIA_OBJECT_STRIPPED;
    bool max = (q->method == DBA_M_PATCH || q->method == DBA_M_DELETE)
               && q->prefer.handling_strict && q->prefer.max_affected >= 0;
    bool unmatched = p->bulk && q->prefer.handling_strict;

    if (singular || max || unmatched)
        dba_buf_puts(b, "CASE");
    if (unmatched) {
        dba_buf_puts(b, " WHEN ");
        write_bulk_unmatched(b, p);
        dba_buf_puts(b, " > 0 THEN (");
        dba_buf_put_literal(b, DBA_SQL_UNMATCHED);
        dba_buf_puts(b, " || ");
        write_bulk_unmatched(b, p);
        dba_buf_puts(b, ")::integer::text");
    }
    dba__sql_count_checks(b, singular, max ? q->prefer.max_affected : -1);
    if (singular || max || unmatched)
        dba_buf_puts(b, " ELSE ");
    if (p->repr)
        dba__sql_body(c, b);
    else
        dba_buf_puts(b, "''");
    if (singular || max || unmatched)
        dba_buf_puts(b, " END");
}

static void
write_returning(struct sql_ctx *c, struct dba_buf *b, const struct write_plan *p)
{
    if (!p->dml)
        return;
    dba_buf_puts(b, " RETURNING ");
    if (p->repr || p->location)
        dba_buf_printf(b, "%s.*%s", c->alias, p->inserted ? ", " : "");
    if (p->inserted) {
        dba_buf_printf(b, "(%s.xmax = 0) AS " SQL_INSERTED, c->alias);
    } else if (p->bulk && !p->repr) {
        for (size_t i = 0; i < p->n_key; i++) { /* for the unmatched count */
            dba_buf_printf(b, "%s%s.", i ? ", " : "", c->alias);
            dba_buf_put_ident(b, p->key[i]);
        }
    } else if (!p->repr && !p->location) {
        dba_buf_putc(b, '1');
    }
}

/* return=representation: the select list over the written rows, which are the root scope (embedded
 * children correlate with pgrst_source). */
static int
write_repr(struct sql_ctx *c, struct dba_buf *b, const struct write_plan *p)
{
    struct dba_buf joins, group;
    struct sql_list l = { .b = b, .joins = &joins, .group = &group };
    const char *alias = c->alias;
    int rc;

    dba_buf_init(&joins);
    dba_buf_init(&group);
    c->alias = SQL_SOURCE;
    dba_buf_puts(b, "(SELECT ");
    rc = dba__sql_expr_select(c, &l, SQL_SOURCE, p->inserted);
    c->alias = alias;
    if (rc == DBA_OK) {
        dba_buf_puts(b, " FROM " SQL_SOURCE);
        if (joins.len)
            dba_buf_puts(b, joins.data);
        if (group.len)
            dba_buf_puts(b, group.data);
        dba_buf_puts(b, ") " SQL_ROW);
    }
    dba_buf_cleanup(&joins);
    dba_buf_cleanup(&group);
    return rc;
}

static int
write_outer(struct sql_ctx *c, struct dba_buf *b, const struct write_plan *p)
{
    write_returning(c, b, p);
    dba_buf_printf(b, ") SELECT %s AS total, count(*) AS page_total, ",
                   c->q->prefer.count != DBA_COUNT_NONE ? "count(*)" : "NULL::bigint");
    write_body(c, b, p);
    dba_buf_puts(b, " AS body, ");
    if (p->location)
        write_location(c, b);
    else
        dba_buf_puts(b, "NULL::text");
    dba_buf_puts(b, " AS location, ");
    if (p->inserted)
        dba_buf_puts(b, "(SELECT count(*) FROM " SQL_SOURCE " WHERE " SQL_INSERTED ")");
    else if (p->bulk)
        write_bulk_unmatched(b, p);
    else
        dba_buf_puts(b, "NULL::bigint");
    dba_buf_puts(b, " AS inserted" DBA_SQL_RESPONSE_GUCS " FROM ");
    if (!p->repr) {
        dba_buf_puts(b, SQL_SOURCE " " SQL_ROW);
        return DBA_OK;
    }
    return write_repr(c, b, p);
}

static int
write_statement(struct sql_ctx *c, struct dba_buf *b, struct write_plan *p)
{
    struct dba_buf where;
    int rc = DBA_OK;

    dba_buf_init(&where);
    switch (c->q->method) {
    case DBA_M_POST:
        if (c->q->n_nested > 0) { /* the rows the nested insert's statement kept */
            rc = dba__sql_nested_build(c, b);
            p->dml = false;
            break;
        }
        rc = write_insert(c, b, p);
        break;
    case DBA_M_PUT:
        rc = write_put(c, b, p);
        break;
    case DBA_M_PATCH:
        if (write_is_bulk(c)) {
            rc = write_bulk_update(c, b, p);
            break;
        }
        rc = dba__sql_expr_where(c, &where, SQL_WHERE_FILTERS);
        if (rc == DBA_OK)
            rc = write_patch(c, b, p, &where);
        break;
    case DBA_M_DELETE:
        rc = dba__sql_expr_where(c, &where, SQL_WHERE_FILTERS);
        dba_buf_printf(b, "DELETE FROM %s AS %s", c->qual, c->alias);
        if (rc == DBA_OK && where.len)
            dba_buf_printf(b, " WHERE %s", where.data);
        break;
    case DBA_M_GET:
    case DBA_M_HEAD:
    case DBA_M_OPTIONS:
        rc = dba_err_set(c->err, DBA_EINVAL, 405, "PGRST117", "Unsupported HTTP method");
        break;
    }
    dba_buf_cleanup(&where);
    return rc;
}

int
dba__sql_write_build(struct sql_ctx *c, struct dba_buf *b)
{
    const struct dba_query *q = c->q;
    struct write_plan p = { .dml = true };

    if (q->method != DBA_M_DELETE && !q->body)
        return dba_err_set(c->err, DBA_EINVAL, 400, "PGRST102", "Empty or invalid json");
    p.repr = q->prefer.ret == DBA_RET_REPRESENTATION;
    p.location = q->method == DBA_M_POST && q->prefer.ret == DBA_RET_HEADERS_ONLY && c->t->n_pk;
    dba_buf_puts(b, "WITH ");
    if (write_is_bulk(c))
        write_bulk_body(c, b);
    dba_buf_puts(b, SQL_SOURCE " AS (");
    if (write_statement(c, b, &p) != DBA_OK)
        return c->err->code;
    p.inserted = p.inserted && !c->t->is_view;
    return write_outer(c, b, &p);
}
