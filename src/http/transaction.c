/* transaction.c - POST /transaction: several table operations in one transaction.
 *
 *   {"operations": [{"method": "POST", "path": "/tables/authors?select=id",
 *                    "headers": {"Prefer": "return=representation"}, "body": {...}}, ...]}
 *
 * Each operation is planned by the same step as a request of its own under the base path
 * (dba__http_tables_plan: grammar, resolution, nested inserts, the builder), so it has the same
 * grammar, Prefer options and errors; all of them run in ONE transaction on one held connection
 * (dba_db_query_held), as the caller's role with the identity settings of the policy step.
 * {"$ref": "i/<JSON pointer>"} as a body value and ${i/<JSON pointer>} in a path refer to the
 * response body of an earlier operation i (RFC 6901). Operations run in document order, in
 * waves: a wave is the longest run of the next operations whose references are all to
 * operations already answered, sent pipelined as one job (one round trip); the first wave opens
 * the transaction, the last one ends it (COMMIT, or ROLLBACK with Prefer: tx=rollback). The
 * first failure answers that operation's status with PostgREST's error body plus "operation": i
 * and rolls everything back (the held connection is released with ROLLBACK).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/grammar.h"
#include "http/http_int.h"
#include "query/query.h"

struct tx_op {
    enum dba_method m;      /* its method */
    const char *rel;        /* relation name from the path (decoded, arena) */
    const char *path;       /* the path as given: query string with ${...} references */
    json_t *headers;        /* its headers object, or NULL (borrowed from the document) */
    json_t *body;           /* its body, or NULL (borrowed) */
    long dep;               /* highest operation it refers to, -1 for none */
    struct tables_ctx tc;   /* its plan */
    size_t stmt;            /* index of its main statement in its wave */
    json_t *body_out;       /* its response body (parsed), once answered */
    json_t *result;         /* {"status", "headers", "body"}, once answered */
};

struct tx_ctx {
    json_t *doc;                    /* the request document (owned) */
    struct tx_op *ops;              /* operations (arena) */
    size_t n;                       /* count */
    size_t next;                    /* first operation not yet sent */
    size_t wave_end;                /* operations [next, wave_end) are in flight */
    const struct dba_catalog *c;    /* the request's catalog reference */
    struct dba_db_held *held;       /* the transaction's connection between waves, or NULL */
    struct pg_result **res;         /* the wave's results (array in the arena; results owned) */
    size_t n_res;                   /* count */
    size_t lsn_stmt;                /* the last wave's SELECT pg_current_wal_insert_lsn(), or
                                       SIZE_MAX (replicas: X-Db-Lsn, read-your-writes) */
    bool failed;                    /* the wave reported an error */
    struct dba_err err;             /* that error */
};

static const char *
tx_header(const struct tx_op *op, const char *name)
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
ref_value(struct req *r, struct tx_ctx *tx, size_t i, const char *ref, struct dba_err *err)
{
    long op;
    const char *ptr;
    json_t *v = NULL;

    if (ref_parse(r->a, ref, &op, &ptr))
        v = ref_resolve(r->a, tx->ops[op].body_out, ptr);
    if (v == NULL)
        ref_error(err, i, ref, "The earlier operation's response body has no such value.");
    return v;
}

/* A copy of v with every {"$ref"} replaced by its value; NULL with err set. */
static json_t *
subst_body(struct req *r, struct tx_ctx *tx, size_t i, json_t *v, struct dba_err *err)
{
    const char *ref = ref_of(v);
    const char *k;
    json_t *e;
    size_t n;

    if (ref != NULL) {
        json_t *t = ref_value(r, tx, i, ref, err);
        return t ? json_deep_copy(t) : NULL;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        json_object_foreach(v, k, e) {
            json_t *c = subst_body(r, tx, i, e, err);
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
            json_t *c = subst_body(r, tx, i, e, err);
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
subst_path(struct req *r, struct tx_ctx *tx, size_t i, const char *path, struct dba_err *err)
{
    struct dba_buf b;
    const char *p = path, *s;

    dba_buf_init(&b);
    while ((s = strstr(p, "${")) != NULL) {
        const char *end = strchr(s, '}');
        dba_buf_append(&b, p, (size_t)(s - p));
        char *ref = dba_arena_strndup(r->a, s + 2, (size_t)(end - s - 2));
        json_t *v = ref_value(r, tx, i, ref, err);
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
    const char *out = dba_arena_strndup(r->a, b.data ? b.data : "", b.len);
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
static int
tx_parse(struct req *r, struct tx_ctx *tx, struct dba_err *err)
{
    const struct dba_config *cfg = r->w->srv->cfg;
    const char *base = cfg->server.base_path ? cfg->server.base_path : "/tables";
    size_t blen = strlen(base);

    tx->doc = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
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
    tx->ops = dba_arena_alloc(r->a, tx->n * sizeof(*tx->ops));
    memset(tx->ops, 0, tx->n * sizeof(*tx->ops));
    for (size_t i = 0; i < tx->n; i++) {
        struct tx_op *op = &tx->ops[i];
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
        size_t rn = strcspn(rel, "?");
        char *name = dba_arena_strndup(r->a, rel, rn);
        dba_url_decode(name, name, strlen(name), false);
        if (name[0] == '\0' || strchr(name, '/') != NULL || strncmp(rel, "rpc/", 4) == 0) {
            dba_err_set(err, DBA_EINVAL, 404, "PGRST125",
                        "operation %zu: Invalid path specified in request URL", i);
            if (strncmp(rel, "rpc/", 4) == 0)
                dba_err_hint(err, "Functions are not yet served inside /transaction");
            return DBA_EINVAL;
        }
        op->rel = name;
        op->path = rel[rn] == '?' ? rel + rn + 1 : "";
        if (refs_path(r->a, i, op->path, &op->dep, err) != DBA_OK ||
            (op->body != NULL && refs_body(r->a, i, op->body, &op->dep, err) != DBA_OK))
            return DBA_EINVAL;
    }
    return DBA_OK;
}

/* ---- answering ---- */

static enum MHD_Result
tx_fail(struct req *r, struct tx_ctx *tx, size_t i, const struct dba_err *e)
{
    const char *code;
    unsigned status = dba__http_status(e, r->pol.caller != HTTP_CALLER_ANON, &code);
    json_t *details = e->detail_json ? json_loads(e->detail, 0, NULL) : NULL;

    if (tx->held != NULL) { /* everything is rolled back */
        dba_db_held_release(tx->held);
        tx->held = NULL;
    }
    if (details == NULL)
        details = e->detail[0] ? json_string(e->detail) : json_null();
    json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:I}", "code", code ? code : "DBA500",
                          "details", details, "hint", e->hint[0] ? json_string(e->hint)
                                                                 : json_null(),
                          "message", e->msg, "operation", (json_int_t)i);
    return dba__http_send_jsonv(r, status, o);
}

static void
tx_cleanup(void *arg)
{
    struct tx_ctx *tx = arg;

    for (size_t i = 0; i < tx->n_res; i++)
        dba_db_res_clear(tx->res[i]);
    tx->n_res = 0;
    if (tx->held != NULL)
        dba_db_held_release(tx->held);
    tx->held = NULL;
    for (size_t i = 0; tx->ops != NULL && i < tx->n; i++) {
        json_decref(tx->ops[i].result);
        json_decref(tx->ops[i].body_out);
    }
    json_decref(tx->doc);
}

static const char *
res_text(struct pg_result *res, int col)
{
    return dba_db_res_isnull(res, 0, col) ? NULL : dba_db_res_value(res, 0, col);
}

/* The answer of one operation from its statement's row, as the request alone would answer. */
static int
tx_answer(struct req *r, struct tx_op *op, struct pg_result *res, struct dba_err *err)
{
    const struct dba_query *q = &op->tc.q;
    bool read = q->method == DBA_M_GET || q->method == DBA_M_HEAD;
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
                            json_string(dba_arena_printf(r->a, "/%s?%s", q->table, loc)));
    if (q->method == DBA_M_PATCH && inserted != NULL)
        json_object_set_new(h, "Unmatched-Count", json_string(inserted));
    json_t *b = body[0] ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
    if (b == NULL)
        b = body[0] ? json_string(body) : json_null(); /* CSV */
    op->body_out = json_incref(b);
    op->result = json_pack("{s:i, s:o, s:o}", "status", (int)status, "headers", h, "body", b);
    return DBA_OK;
}

static enum MHD_Result tx_send_wave(struct req *r, struct tx_ctx *tx);

static void
tx_on_wave(void *arg, struct dba_db_held *held, struct pg_result **res, size_t n,
           const struct dba_err *err)
{
    struct req *r = arg;
    struct tx_ctx *tx = r->ctx;

    r->job = NULL;
    tx->held = held;
    tx->res = dba_arena_alloc(r->a, (n ? n : 1) * sizeof(*tx->res));
    for (size_t i = 0; i < n; i++)
        tx->res[i] = res[i];
    tx->n_res = n;
    tx->failed = err != NULL;
    if (err != NULL)
        tx->err = *err;
    r->t_us[REQ_T_RESULT] = dba_now_us();
    r->state = REQ_READY;
    r->w->inflight--;
    MHD_resume_connection(r->mc);
    r->w->mhd_due = true;
}

static enum MHD_Result
tx_finish(struct req *r)
{
    struct tx_ctx *tx = r->ctx;
    enum MHD_Result ret = MHD_YES;
    bool done = false;

    for (size_t i = tx->next; i < tx->wave_end && !done; i++) {
        struct tx_op *op = &tx->ops[i];
        struct pg_result *res = op->stmt < tx->n_res ? tx->res[op->stmt] : NULL;
        struct dba_err e, mapped;

        if (res == NULL) {
            e = tx->failed ? tx->err : (struct dba_err){ 0 };
            if (!tx->failed)
                dba_err_set(&e, DBA_EIO, 500, "DBA500", "operation did not run");
            if (dba__http_tables_sentinel(r, &e, &mapped))
                e = mapped;
            ret = tx_fail(r, tx, i, &e);
            done = true;
        } else if (tx_answer(r, op, res, &e) != DBA_OK) {
            ret = tx_fail(r, tx, i, &e);
            done = true;
        }
    }
    if (!done && tx->lsn_stmt < tx->n_res && tx->res[tx->lsn_stmt] != NULL &&
        dba_db_res_ntuples(tx->res[tx->lsn_stmt]) == 1)
        snprintf(r->lsn, sizeof(r->lsn), "%s", dba_db_res_value(tx->res[tx->lsn_stmt], 0, 0));
    if (!done && tx->failed) { /* e.g. the COMMIT's deferred constraints */
        ret = tx_fail(r, tx, tx->wave_end - 1, &tx->err);
        done = true;
    }
    for (size_t i = 0; i < tx->n_res; i++)
        dba_db_res_clear(tx->res[i]);
    tx->n_res = 0;
    if (done)
        return ret;
    tx->next = tx->wave_end;
    if (tx->next < tx->n)
        return tx_send_wave(r, tx);
    json_t *results = json_array();
    for (size_t i = 0; i < tx->n; i++) {
        json_array_append(results, tx->ops[i].result);
    }
    if (tx->held != NULL) {
        dba_db_held_release(tx->held);
        tx->held = NULL;
    }
    return dba__http_send_jsonv(r, 200, json_pack("{s:o}", "results", results));
}

/* Plans operation i (its references are known now); DBA_OK or err. */
static int
tx_plan(struct req *r, struct tx_ctx *tx, size_t i, struct dba_err *err)
{
    struct tx_op *op = &tx->ops[i];
    const char *query = subst_path(r, tx, i, op->path, err);
    json_t *body = NULL;
    const char *body_text = NULL;
    size_t body_len = 0;
    const char *ct = tx_header(op, "Content-Type");

    if (query == NULL)
        return DBA_EINVAL;
    if (op->body != NULL && (body = subst_body(r, tx, i, op->body, err)) == NULL)
        return DBA_EINVAL;
    if (body != NULL) {
        if (json_is_string(body) && ct != NULL && strncasecmp(ct, "application/json", 16) != 0) {
            body_text = dba_arena_strdup(r->a, json_string_value(body)); /* CSV as a string */
        } else {
            char *t = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
            body_text = dba_arena_strdup(r->a, t ? t : "");
            free(t);
            ct = "application/json";
        }
        body_len = strlen(body_text);
        json_decref(body);
    }
    op->tc.t = dba_catalog_table_find(tx->c, r->pol.schema, op->rel);
    if (op->tc.t == NULL) {
        dba_err_set(err, DBA_ENOTFOUND, 404, "PGRST205",
                    "Could not find the table '%s.%s' in the schema cache", r->pol.schema,
                    op->rel);
        return DBA_ENOTFOUND;
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
    return dba__http_tables_plan(r, &op->tc, tx->c, &in, err);
}

static void
stmts_add(struct req *r, struct dba_db_stmt **v, size_t *n, size_t *cap, const char *sql,
          const char *const *params, int n_params)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct dba_db_stmt *nv = dba_arena_alloc(r->a, c * sizeof(*nv));
        if (*n)
            memcpy(nv, *v, *n * sizeof(*nv));
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = (struct dba_db_stmt){ sql, params, n_params };
}

/* Plans and sends the next wave: the operations from tx->next whose references are answered. */
static enum MHD_Result
tx_send_wave(struct req *r, struct tx_ctx *tx)
{
    struct dba_db_stmt *v = NULL;
    size_t n = 0, cap = 0;
    struct dba_err err;

    if (tx->next == 0) { /* BEGIN and the identity settings of the policy step */
        dba__http_unit_begin(r, REQ_ISO_DEFAULT, false);
        dba__http_policy_unit(r);
        for (size_t k = 0; k < r->unit.n; k++)
            stmts_add(r, &v, &n, &cap, r->unit.stmts[k].sql, r->unit.stmts[k].params,
                      r->unit.stmts[k].n_params);
    }
    size_t end = tx->next;
    while (end < tx->n && tx->ops[end].dep < (long)tx->next)
        end++;
    for (size_t i = tx->next; i < end; i++) {
        struct tx_op *op = &tx->ops[i];
        if (tx_plan(r, tx, i, &err) != DBA_OK)
            return tx_fail(r, tx, i, &err);
        if (op->tc.timezone != NULL) {
            const char **p = dba_arena_alloc(r->a, 2 * sizeof(*p));
            p[0] = "timezone";
            p[1] = op->tc.timezone;
            stmts_add(r, &v, &n, &cap, "SELECT set_config($1, $2, true)", p, 2);
        }
        if (op->tc.sql.pre.len > 0)
            stmts_add(r, &v, &n, &cap, op->tc.sql.pre.data, op->tc.sql.pre_params,
                      (int)op->tc.sql.n_pre_params);
        op->stmt = n;
        stmts_add(r, &v, &n, &cap, op->tc.sql.text.data, op->tc.sql.params,
                  (int)op->tc.sql.n_params);
    }
    if (end == tx->n) {
        if (r->pol.tx_rollback) {
            stmts_add(r, &v, &n, &cap, "SET CONSTRAINTS ALL IMMEDIATE", NULL, 0);
            stmts_add(r, &v, &n, &cap, "ROLLBACK", NULL, 0);
        } else {
            stmts_add(r, &v, &n, &cap, "COMMIT", NULL, 0);
            /* With replicas, the primary's WAL position after the commit (X-Db-Lsn), as a
               single write answers it (req.c). */
            if (r->w->n_replicas > 0) {
                tx->lsn_stmt = n;
                stmts_add(r, &v, &n, &cap, "SELECT pg_current_wal_insert_lsn()", NULL, 0);
            }
        }
    }
    tx->wave_end = end;
    struct dba_db_held *held = tx->held;
    tx->held = NULL; /* the job holds the connection now */
    r->finish = tx_finish;
    r->state = REQ_WAITING;
    r->t_us[REQ_T_SENT] = dba_now_us();
    /* Always the primary (r->pol.need_primary): the operations write, and their waves hold one
       connection of the primary pool across round trips. */
    int rc = dba_db_query_held(dba__http_pick_pool(r, false), held, v, n, r->pol.deadline_ms,
                               tx_on_wave, r, &r->job, &err);
    if (rc != DBA_EAGAIN) {
        r->job = NULL;
        r->state = REQ_ANSWERED;
        if (held != NULL)
            dba_db_held_release(held);
        return dba__http_send_err(r, &err);
    }
    r->w->inflight++;
    MHD_suspend_connection(r->mc);
    return MHD_YES;
}

enum MHD_Result
dba__http_transaction(struct req *r)
{
    struct tx_ctx *tx = dba_arena_alloc(r->a, sizeof(*tx));
    enum MHD_Result ret;
    struct dba_err err;

    memset(tx, 0, sizeof(*tx));
    tx->lsn_stmt = SIZE_MAX;
    r->ctx = tx;
    r->pol.need_primary = true; /* a multi-round-trip read-write transaction (replicas.c) */
    dba_arena_defer(r->a, tx_cleanup, tx);
    if (!dba__http_method_ok(r, "POST", "/transaction", &ret))
        return ret;
    struct dba_catalog *c = dba__http_cache(r);
    if (c == NULL)
        return dba__http_error(r, 503, "PGRST002",
                               "Could not query the database for the schema cache. Retrying.",
                               NULL, NULL);
    tx->c = c;
    if (!dba__http_policy_identity(r, &ret) || !dba__http_policy_schema(r, c, false, &ret) ||
        !dba__http_policy_table_write(r, &ret))
        return ret;
    if (tx_parse(r, tx, &err) != DBA_OK)
        return dba__http_send_err(r, &err);
    struct dba_prefer pf;
    dba_http_grammar_prefer(r->a, dba__http_header_all(r, "Prefer"), &pf);
    dba__http_policy_tx(r, pf.tx);
    return tx_send_wave(r, tx);
}
