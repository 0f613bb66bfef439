/* tx.c - the core of POST /transaction (tx.h): the document, references, planning each
 * operation with the planner of a request of its own, the statements of each wave, the answer.
 * No I/O and no output: the HTTP route (transaction.c) and the CLI (tx_blocking.c) drive it.
 *
 * {"$ref": "i/<JSON pointer>"} as a body value and ${i/<JSON pointer>} in a path refer to the
 * response body of an earlier operation i (RFC 6901). Operations run in document order, in
 * waves: a wave is the longest run of the next operations whose references are all to
 * operations already answered (the HTTP driver sends it pipelined as one job, one round trip).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/grammar.h"
#include "http/tx.h"
#include "query/query.h"

static const char *
tx_header(const struct http_tx_op *op, const char *name)
{
    const char *k;
    json_t *v;

    if (op->headers == NULL)
        return NULL;
    json_object_foreach(op->headers, k, v)
        if (strcasecmp(k, name) == 0 && json_is_string(v))
            return json_string_value(v);
    return NULL;
}

/* ---- references ---- */

/* Parses "i/<pointer>" into *op and *ptr (arena); false when malformed. */
static bool
ref_parse(struct dba_arena *a, const char *s, long *op, const char **ptr)
{
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return false;
    *op = strtol(s, &end, 10);
    if (*end != '\0' && *end != '/')
        return false;
    *ptr = dba_arena_strdup(a, end);
    return true;
}

/* RFC 6901: the value at pointer ptr ("" = the whole document) in v, or NULL. */
static json_t *
ref_resolve(struct dba_arena *a, json_t *v, const char *ptr)
{
    while (v != NULL && *ptr == '/') {
        size_t n = strcspn(ptr + 1, "/");
        char *tok = dba_arena_strndup(a, ptr + 1, n);
        char *o = tok;
        for (const char *p = tok; *p; p++) { /* ~1 -> '/', ~0 -> '~' */
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                *o++ = p[1] == '1' ? '/' : '~';
                p++;
            } else {
                *o++ = *p;
            }
        }
        *o = '\0';
        ptr += n + 1;
        if (json_is_object(v)) {
            v = json_object_get(v, tok);
        } else if (json_is_array(v)) {
            char *end;
            long i = strtol(tok, &end, 10);
            v = (*tok && isdigit((unsigned char)*tok) && *end == '\0' && i >= 0)
                    ? json_array_get(v, (size_t)i) : NULL;
        } else {
            v = NULL;
        }
    }
    return *ptr == '\0' ? v : NULL;
}

static int
ref_error(struct dba_err *err, size_t i, const char *ref, const char *why)
{
    dba_err_set(err, DBA_EINVAL, 400, "DBA400", "operation %zu: bad reference '%s'", i, ref);
    dba_err_detail(err, "%s", why);
    return DBA_EINVAL;
}

/* The $ref object's target text, or NULL when v is not {"$ref": "..."}. */
static const char *
ref_of(json_t *v)
{
    json_t *s = json_is_object(v) && json_object_size(v) == 1 ? json_object_get(v, "$ref") : NULL;

    return json_is_string(s) ? json_string_value(s) : NULL;
}

/* Checks one reference of operation i (static: before anything runs). */
static int
ref_check(struct dba_arena *a, size_t i, const char *ref, long *dep, struct dba_err *err)
{
    long op;
    const char *ptr;

    if (!ref_parse(a, ref, &op, &ptr))
        return ref_error(err, i, ref, "A reference is \"<operation>/<JSON pointer>\".");
    if (op < 0 || (size_t)op >= i)
        return ref_error(err, i, ref, "A reference names an earlier operation.");
    if (op > *dep)
        *dep = op;
    return DBA_OK;
}

static int
refs_body(struct dba_arena *a, size_t i, json_t *v, long *dep, struct dba_err *err)
{
    const char *ref = ref_of(v);
    const char *k;
    json_t *e;
    size_t n;

    if (ref != NULL)
        return ref_check(a, i, ref, dep, err);
    if (json_is_object(v)) {
        json_object_foreach(v, k, e)
            if (refs_body(a, i, e, dep, err) != DBA_OK)
                return DBA_EINVAL;
    } else if (json_is_array(v)) {
        json_array_foreach(v, n, e)
            if (refs_body(a, i, e, dep, err) != DBA_OK)
                return DBA_EINVAL;
    }
    return DBA_OK;
}

static int
refs_path(struct dba_arena *a, size_t i, const char *path, long *dep, struct dba_err *err)
{
    for (const char *p = strstr(path, "${"); p != NULL; p = strstr(p, "${")) {
        const char *end = strchr(p, '}');
        if (end == NULL)
            return ref_error(err, i, p, "A reference in a path is ${<operation>/<JSON pointer>}.");
        char *ref = dba_arena_strndup(a, p + 2, (size_t)(end - p - 2));
        if (ref_check(a, i, ref, dep, err) != DBA_OK)
            return DBA_EINVAL;
        p = end + 1;
    }
    return DBA_OK;
}

/* The value a reference names in an answered operation; NULL with err set when absent. */
static json_t *
ref_value(struct http_tx *tx, size_t i, const char *ref, struct dba_err *err)
{
    long op;
    const char *ptr;
    json_t *v = NULL;

    if (ref_parse(tx->a, ref, &op, &ptr))
        v = ref_resolve(tx->a, tx->ops[op].body_out, ptr);
    if (v == NULL)
        ref_error(err, i, ref, "The earlier operation's response body has no such value.");
    return v;
}

/* A copy of v with every {"$ref"} replaced by its value; NULL with err set. */
static json_t *
subst_body(struct http_tx *tx, size_t i, json_t *v, struct dba_err *err)
{
    const char *ref = ref_of(v);
    const char *k;
    json_t *e;
    size_t n;

    if (ref != NULL) {
        json_t *t = ref_value(tx, i, ref, err);
        return t ? json_deep_copy(t) : NULL;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        json_object_foreach(v, k, e) {
            json_t *c = subst_body(tx, i, e, err);
            if (c == NULL) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, k, c);
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *o = json_array();
        json_array_foreach(v, n, e) {
            json_t *c = subst_body(tx, i, e, err);
            if (c == NULL) {
                json_decref(o);
                return NULL;
            }
            json_array_append_new(o, c);
        }
        return o;
    }
    return json_incref(v);
}

/* The path with every ${ref} replaced by its value (strings as they are, other values as JSON
   text), percent-encoded; NULL with err set. */
static const char *
subst_path(struct http_tx *tx, size_t i, const char *path, struct dba_err *err)
{
    struct dba_buf b;
    const char *p = path, *s;

    dba_buf_init(&b);
    while ((s = strstr(p, "${")) != NULL) {
        const char *end = strchr(s, '}');
        dba_buf_append(&b, p, (size_t)(s - p));
        char *ref = dba_arena_strndup(tx->a, s + 2, (size_t)(end - s - 2));
        json_t *v = ref_value(tx, i, ref, err);
        if (v == NULL) {
            dba_buf_cleanup(&b);
            return NULL;
        }
        if (json_is_string(v)) {
            dba_url_encode(&b, json_string_value(v));
        } else {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            dba_url_encode(&b, t ? t : "");
            free(t);
        }
        p = end + 1;
    }
    dba_buf_puts(&b, p);
    const char *out = dba_arena_strndup(tx->a, b.data ? b.data : "", b.len);
    dba_buf_cleanup(&b);
    return out;
}

/* ---- the document ---- */

static int
tx_doc_error(struct dba_err *err, const char *msg)
{
    return dba_err_set(err, DBA_EINVAL, 400, "PGRST102", "%s", msg);
}

/* Reads and checks the document: shape, limits, methods, paths, static references. */
int
dba__http_tx_parse(struct http_tx *tx, const char *body, size_t len, struct dba_err *err)
{
    const struct dba_config *cfg = tx->cfg;
    const char *base = cfg->server.base_path ? cfg->server.base_path : "/tables";
    size_t blen = strlen(base);

    tx->doc = len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *ops = json_object_get(tx->doc, "operations");
    if (!json_is_array(ops))
        return tx_doc_error(err, "The body is {\"operations\": [{\"method\", \"path\", "
                                 "\"headers\", \"body\"}, ...]}");
    tx->n = json_array_size(ops);
    if (tx->n == 0)
        return tx_doc_error(err, "A transaction needs at least one operation");
    if ((int64_t)tx->n > cfg->server.max_transaction_operations) {
        dba_err_set(err, DBA_EINVAL, 400, "DBA400", "Too many operations: %zu", tx->n);
        dba_err_hint(err, "server.max_transaction_operations is %lld",
                     (long long)cfg->server.max_transaction_operations);
        return DBA_EINVAL;
    }
    tx->ops = dba_arena_alloc(tx->a, tx->n * sizeof(*tx->ops));
    memset(tx->ops, 0, tx->n * sizeof(*tx->ops));
    for (size_t i = 0; i < tx->n; i++) {
        struct http_tx_op *op = &tx->ops[i];
        json_t *o = json_array_get(ops, i);
        const char *m = json_string_value(json_object_get(o, "method"));
        const char *path = json_string_value(json_object_get(o, "path"));

        op->dep = -1;
        op->headers = json_object_get(o, "headers");
        op->body = json_object_get(o, "body");
        if (!json_is_object(o) || m == NULL || path == NULL ||
            (op->headers != NULL && !json_is_object(op->headers))) {
            dba_err_set(err, DBA_EINVAL, 400, "PGRST102",
                        "operation %zu: an operation is {\"method\", \"path\", \"headers\", "
                        "\"body\"}", i);
            return DBA_EINVAL;
        }
        if (!dba_http_method_from_name(m, &op->m) || op->m == DBA_M_OPTIONS) {
            dba_err_set(err, DBA_EINVAL, 405, "PGRST117",
                        "operation %zu: Unsupported HTTP method: %s", i, m);
            return DBA_EINVAL;
        }
        if (strncmp(path, base, blen) != 0 || path[blen] != '/') {
            dba_err_set(err, DBA_EINVAL, 404, "PGRST125",
                        "operation %zu: Invalid path specified in request URL", i);
            dba_err_hint(err, "Operation paths start with the base path %s/", base);
            return DBA_EINVAL;
        }
        const char *rel = path + blen + 1;
        op->rpc = strncmp(rel, "rpc/", 4) == 0; /* <base>/rpc/<fn>: a function call */
        if (op->rpc)
            rel += 4;
        size_t rn = strcspn(rel, "?");
        char *name = dba_arena_strndup(tx->a, rel, rn);
        dba_url_decode(name, name, strlen(name), false);
        if (name[0] == '\0' || strchr(name, '/') != NULL) {
            dba_err_set(err, DBA_EINVAL, 404, "PGRST125",
                        "operation %zu: Invalid path specified in request URL", i);
            return DBA_EINVAL;
        }
        op->rel = name;
        op->path = rel[rn] == '?' ? rel + rn + 1 : "";
        if (refs_path(tx->a, i, op->path, &op->dep, err) != DBA_OK ||
            (op->body != NULL && refs_body(tx->a, i, op->body, &op->dep, err) != DBA_OK))
            return DBA_EINVAL;
    }
    return DBA_OK;
}

static const char *
res_text(struct pg_result *res, int col)
{
    return dba_db_res_isnull(res, 0, col) ? NULL : dba_db_res_value(res, 0, col);
}

/* Preference-Applied and Content-Profile, where the request alone has them (tables.c). */
static void
tx_answer_headers(const struct http_tx_op *op, bool write, json_t *h)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba__http_tables_preference_applied(&op->tc, write, -1, &b);
    if (b.len > 0)
        json_object_set_new(h, "Preference-Applied", json_string(b.data));
    dba_buf_cleanup(&b);
    if (op->schema_echo)
        json_object_set_new(h, "Content-Profile", json_string(op->schema));
}

/* The answer of one operation from its statement's row, as the request alone would answer. */
static int
tx_answer(struct http_tx *tx, struct http_tx_op *op, struct pg_result *res, struct dba_err *err)
{
    const struct dba_query *q = &op->tc.q;
    /* a call answers like a read (tables.c), a void one 204 without a body */
    bool read = q->method == DBA_M_GET || q->method == DBA_M_HEAD || op->tc.fn != NULL;
    bool repr = q->prefer.ret == DBA_RET_REPRESENTATION;

    if (dba_db_res_ntuples(res) != 1 || dba_db_res_nfields(res) < DBA_SQL_N_COLS)
        return dba_err_set(err, DBA_EINVAL, 500, "DBA500", "unexpected result shape");
    long n = strtol(dba_db_res_value(res, 0, DBA_SQL_COL_PAGE_TOTAL), NULL, 10);
    const char *total = res_text(res, DBA_SQL_COL_TOTAL);
    const char *body = dba_db_res_value(res, 0, DBA_SQL_COL_BODY);
    const char *inserted = res_text(res, DBA_SQL_COL_INSERTED);
    const char *loc = res_text(res, DBA_SQL_COL_LOCATION);
    unsigned status = 200;
    json_t *h = json_object();
    char cr[96];

    if (op->tc.fn != NULL && op->tc.fn->ret_kind == DBA_FRET_VOID) {
        tx_answer_headers(op, false, h);
        op->body_out = json_null();
        op->result = json_pack("{s:i, s:o, s:n}", "status", 204, "headers", h, "body");
        return DBA_OK;
    }
    if (read) {
        bool singular = q->media == DBA_MEDIA_OBJECT || q->media == DBA_MEDIA_OBJECT_STRIPPED;
        if (singular && n != 1) {
            json_decref(h);
            dba_err_set(err, DBA_EINVAL, 406, "PGRST116",
                        "Cannot coerce the result to a single JSON object");
            dba_err_detail(err, "The result contains %ld rows", n);
            return DBA_EINVAL;
        }
    } else {
        status = dba__http_tables_write_status(q, repr, inserted);
        if (q->method != DBA_M_PATCH)
            n = 0;
        if (!repr)
            body = "";
    }
    if (n <= 0)
        snprintf(cr, sizeof(cr), "*/%s", total ? total : "*");
    else
        snprintf(cr, sizeof(cr), "0-%ld/%s", n - 1, total ? total : "*");
    if (read || q->method == DBA_M_PATCH || total != NULL)
        json_object_set_new(h, "Content-Range", json_string(cr));
    if (loc != NULL && q->prefer.ret == DBA_RET_HEADERS_ONLY)
        json_object_set_new(h, "Location",
                            json_string(dba_arena_printf(tx->a, "/%s?%s", q->table, loc)));
    if (q->method == DBA_M_PATCH && inserted != NULL)
        json_object_set_new(h, "Unmatched-Count", json_string(inserted));
    tx_answer_headers(op, !read, h);
    json_t *b = body[0] ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
    if (b == NULL)
        b = body[0] ? json_string(body) : json_null(); /* CSV */
    op->body_out = json_incref(b);
    op->result = json_pack("{s:i, s:o, s:o}", "status", (int)status, "headers", h, "body", b);
    return DBA_OK;
}

/* Plans operation i (its references are known now); DBA_OK or err. */
static int
tx_plan(struct http_tx *tx, size_t i, struct dba_err *err)
{
    struct http_tx_op *op = &tx->ops[i];
    const char *query = subst_path(tx, i, op->path, err);
    json_t *body = NULL;
    const char *body_text = NULL;
    size_t body_len = 0;
    const char *ct = tx_header(op, "Content-Type");

    if (query == NULL)
        return DBA_EINVAL;
    if (op->body != NULL && (body = subst_body(tx, i, op->body, err)) == NULL)
        return DBA_EINVAL;
    if (body != NULL) {
        if (json_is_string(body) && ct != NULL && strncasecmp(ct, "application/json", 16) != 0) {
            body_text = dba_arena_strdup(tx->a, json_string_value(body)); /* CSV as a string */
        } else {
            char *t = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
            body_text = dba_arena_strdup(tx->a, t ? t : "");
            free(t);
            ct = "application/json";
        }
        body_len = strlen(body_text);
        json_decref(body);
    }
    struct dba_http_req_in in = {
        .method = op->m,
        .query = query,
        .prefer = tx_header(op, "Prefer"),
        .accept = tx_header(op, "Accept"),
        .range = tx_header(op, "Range"),
        .content_type = ct,
        .body = body_text,
        .body_len = body_len,
    };
    /* its schema, as policy.c chooses it for a request alone */
    bool read = op->m == DBA_M_GET || op->m == DBA_M_HEAD;
    const char *prof = tx_header(op, read ? "Accept-Profile" : "Content-Profile");
    op->schema = tx->schema;
    op->schema_echo = tx->schema_echo;
    if (prof != NULL) {
        if (!dba_catalog_has(tx->c, prof)) {
            struct dba_buf b;
            dba_buf_init(&b);
            for (size_t k = 0; k < tx->c->n_schemas; k++)
                dba_buf_printf(&b, "%s%s", k ? ", " : "", tx->c->schemas[k]);
            dba_err_set(err, DBA_EINVAL, 406, "PGRST106", "Invalid schema: %s", prof);
            dba_err_hint(err, "Only the following schemas are exposed: %s", b.data);
            dba_buf_cleanup(&b);
            return DBA_EINVAL;
        }
        op->schema = dba_arena_strdup(tx->a, prof);
        op->schema_echo = true;
    }
    struct http_plan_env env = { tx->a, tx->cfg, op->schema, tx->t_us };
    if (op->rpc) /* the call planning of <base>/rpc/<fn> (rpc.c) */
        return dba__http_rpc_plan_env(&env, &op->tc, tx->c, op->rel, &in, NULL, err);
    op->tc.t = dba_catalog_table_find(tx->c, op->schema, op->rel);
    if (op->tc.t == NULL) {
        dba_err_set(err, DBA_ENOTFOUND, 404, "PGRST205",
                    "Could not find the table '%s.%s' in the schema cache", op->schema,
                    op->rel);
        return DBA_ENOTFOUND;
    }
    /* With custom media type handlers Accept is negotiated by the planning step (tables.c). */
    op->tc.media_custom = tx->c->n_media > 0;
    op->tc.media_accept = in.accept;
    if (op->tc.media_custom)
        in.accept = NULL;
    return dba__http_tables_plan_env(&env, &op->tc, tx->c, &in, err);
}

/* ---- waves ---- */

bool
dba__http_tx_done(const struct http_tx *tx)
{
    return tx->next >= tx->n;
}

void
dba__http_tx_wave_begin(struct http_tx *tx)
{
    tx->stmts = NULL;
    tx->n_stmts = 0;
    tx->cap_stmts = 0;
}

void
dba__http_tx_stmt_add(struct http_tx *tx, const char *sql, const char *const *params,
                      int n_params)
{
    if (tx->n_stmts == tx->cap_stmts) {
        size_t c = tx->cap_stmts ? tx->cap_stmts * 2 : 16;
        struct dba_db_stmt *nv = dba_arena_alloc(tx->a, c * sizeof(*nv));
        if (tx->n_stmts)
            memcpy(nv, tx->stmts, tx->n_stmts * sizeof(*nv));
        tx->stmts = nv;
        tx->cap_stmts = c;
    }
    tx->stmts[tx->n_stmts++] = (struct dba_db_stmt){ sql, params, n_params };
}

int
dba__http_tx_wave_plan(struct http_tx *tx, size_t *opi, struct dba_err *err)
{
    size_t end = tx->next;

    while (end < tx->n && tx->ops[end].dep < (long)tx->next)
        end++;
    for (size_t i = tx->next; i < end; i++) {
        struct http_tx_op *op = &tx->ops[i];
        if (tx_plan(tx, i, err) != DBA_OK) {
            *opi = i;
            return err->code ? err->code : DBA_EINVAL;
        }
        if (op->tc.timezone != NULL) {
            const char **p = dba_arena_alloc(tx->a, 2 * sizeof(*p));
            p[0] = "timezone";
            p[1] = op->tc.timezone;
            dba__http_tx_stmt_add(tx, "SELECT set_config($1, $2, true)", p, 2);
        }
        if (op->tc.sql.pre.len > 0)
            dba__http_tx_stmt_add(tx, op->tc.sql.pre.data, op->tc.sql.pre_params,
                                  (int)op->tc.sql.n_pre_params);
        op->stmt = tx->n_stmts;
        dba__http_tx_stmt_add(tx, op->tc.sql.text.data, op->tc.sql.params,
                              (int)op->tc.sql.n_params);
    }
    tx->wave_end = end;
    return DBA_OK;
}

bool
dba__http_tx_wave_end(struct http_tx *tx, bool rollback)
{
    if (tx->wave_end < tx->n)
        return false;
    if (rollback) {
        /* As a single request: deferred constraints are checked before the rollback. */
        dba__http_tx_stmt_add(tx, "SET CONSTRAINTS ALL IMMEDIATE", NULL, 0);
        dba__http_tx_stmt_add(tx, "ROLLBACK", NULL, 0);
    } else {
        dba__http_tx_stmt_add(tx, "COMMIT", NULL, 0);
    }
    return true;
}

int
dba__http_tx_wave_results(struct http_tx *tx, struct pg_result *const *res, size_t n_res,
                          const struct dba_err *wave_err, size_t *opi, struct dba_err *err)
{
    for (size_t i = tx->next; i < tx->wave_end; i++) {
        struct http_tx_op *op = &tx->ops[i];
        struct pg_result *r = op->stmt < n_res ? res[op->stmt] : NULL;
        struct dba_err mapped;

        *opi = i;
        if (r == NULL) {
            if (wave_err != NULL)
                *err = *wave_err;
            else
                dba_err_set(err, DBA_EIO, 500, "DBA500", "operation did not run");
            if (dba__http_tables_sentinel(err, &mapped))
                *err = mapped;
            return DBA_EINVAL;
        }
        if (tx_answer(tx, op, r, err) != DBA_OK)
            return DBA_EINVAL;
    }
    if (wave_err != NULL) { /* e.g. the COMMIT's deferred constraints */
        *opi = tx->wave_end - 1;
        *err = *wave_err;
        return DBA_EINVAL;
    }
    tx->next = tx->wave_end;
    return DBA_OK;
}

/* ---- answers ---- */

json_t *
dba__http_tx_results_json(const struct http_tx *tx)
{
    json_t *results = json_array();

    for (size_t i = 0; i < tx->n; i++)
        json_array_append(results, tx->ops[i].result);
    return json_pack("{s:o}", "results", results);
}

json_t *
dba__http_tx_error_json(const struct dba_err *e, size_t op, bool authenticated,
                        unsigned *status)
{
    const char *code;
    json_t *details = e->detail_json ? json_loads(e->detail, 0, NULL) : NULL;

    *status = dba__http_status(e, authenticated, &code);
    if (details == NULL)
        details = e->detail[0] ? json_string(e->detail) : json_null();
    json_t *o = json_pack("{s:s, s:o, s:o, s:s}", "code", code ? code : "DBA500", "details",
                          details, "hint", e->hint[0] ? json_string(e->hint) : json_null(),
                          "message", e->msg);
    if (op != SIZE_MAX)
        json_object_set_new(o, "operation", json_integer((json_int_t)op));
    return o;
}

void
dba__http_tx_cleanup(struct http_tx *tx)
{
    for (size_t i = 0; tx->ops != NULL && i < tx->n; i++) {
        json_decref(tx->ops[i].result);
        json_decref(tx->ops[i].body_out);
        tx->ops[i].result = NULL;
        tx->ops[i].body_out = NULL;
    }
    json_decref(tx->doc);
    tx->doc = NULL;
}
