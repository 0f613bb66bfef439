/* rpc.c - <base>/rpc/<fn>: function calls, answered through the table pipeline (policy step,
 * one unit in one round trip, tables.c's finish).
 *
 * Design notes.
 * - Arguments: POST takes a JSON object (an array of objects with the same keys: its first
 *   object), a form (application/x-www-form-urlencoded: every pair an argument, values as on
 *   GET) or CSV (text/csv: the header names the arguments, the first row gives them); text/plain,
 *   text/xml and application/octet-stream bodies only ever go whole to a single unnamed
 *   parameter; any other Content-Type is 400 PGRST102 before the function is looked for
 *   (PostgREST's payload rules; the message shows the type as PostgREST's toMime does). With a
 *   JSON body, columns= names the arguments instead of the body's keys and the body goes to
 *   PostgreSQL unparsed (an object, or an array's first element), as PostgREST sends it. GET
 *   and HEAD take the query string. On GET/HEAD a pair is an argument when its key is not
 *   reserved (select, columns, on_conflict, [x.]order/limit/offset/and/or) and its value is not an operator expression
 *   (`id=gt.1` filters the result, `id=1` is an argument), as PostgREST reads it; a repeated key
 *   feeds a VARIADIC parameter, else the last value wins. Every other pair is handed to the
 *   grammar and shapes the result as on a table.
 * - Overloads are resolved by the names given (PostgREST's findProc): a function matches when
 *   the names cover its required parameters and name nothing else; with no match, a POST whose
 *   function has one unnamed json/jsonb (application/json), text (text/plain), xml (text/xml)
 *   or bytea (application/octet-stream) parameter gets the whole body. None: 404 PGRST202; more
 *   than one: 300 PGRST203. Names are only ever compared with the catalog's; values are bound.
 * - GET/HEAD run READ ONLY; POST too unless the function is VOLATILE.
 * - Results are read like a relation's rows (sql_call.c); a scalar result is the relation named
 *   after the function with the one column pgrst_scalar. Prefer: handling=strict,
 *   max-affected=N: PGRST128 here for a function that does not return a set, PGRST124 from the
 *   statement when the answer has more than N rows (so the function's writes roll back); a set
 *   asked for as one object is checked first, in the statement too (PGRST116). A void call
 *   answers 204 with Content-Range and Preference-Applied (tables.c's finish).
 * - RAISE SQLSTATE 'PGRST' gives the function full control of the error answer (status,
 *   headers, body), as in PostgREST; malformed MESSAGE/DETAIL JSON is 500 PGRST121. */
#include <stdlib.h>
#include <string.h>

#include "http/grammar.h"
#include "http/grammar_int.h"
#include "http/http_int.h"

/* The body's media type (Content-Type without parameters), PostgREST's for /rpc. */
enum rpc_media {
    RPC_JSON,  /* application/json (or none): named arguments from an object */
    RPC_TEXT,  /* text/plain: the whole body to a single unnamed text parameter */
    RPC_XML,   /* text/xml: ... xml parameter */
    RPC_OCTET, /* application/octet-stream: ... bytea parameter */
    RPC_FORM,  /* application/x-www-form-urlencoded: named arguments, as a query string's */
    RPC_CSV,   /* text/csv: named arguments from the first row (the header names them) */
    RPC_OTHER, /* anything else: 400 PGRST102 on POST */
};

/* A decoded argument key of the request and its values (query string order). */
struct rpc_key {
    const char *name;    /* decoded key */
    const char **values; /* its values (GET); NULL for POST */
    size_t n;            /* count */
    size_t cap;          /* room */
};

/* What the request offers: argument names (sorted, unique), values, body. */
struct rpc_in {
    struct rpc_key *keys;   /* sorted by name */
    size_t n_keys;          /* count */
    size_t cap;             /* room */
    bool post;              /* POST (the body carries the arguments) */
    bool list;              /* the arguments are key/value lists (GET/HEAD, a form body) */
    enum rpc_media media;   /* the body's type (POST) */
    bool columns;           /* POST JSON with columns=: they name the arguments, the body goes
                               to PostgreSQL unparsed */
    const char *object;     /* POST JSON: the argument object's text (with columns=, the body
                               as sent), NULL when there is none */
    struct dba_buf rest;    /* GET/HEAD: the query string without the arguments (raw) */
    const char *rest_text;  /* rest, copied into the arena */
};

static void
rpc_json_decref_cb(void *p)
{
    json_decref(p);
}

/* The body's media type (PostgREST's decodeMediaType; NULL Content-Type is JSON). */
static enum rpc_media
rpc_media_of(struct dba_arena *a, const char *ct)
{
    switch (dba_http_content_type(a, ct)) {
    case DBA_CT_JSON:
        return RPC_JSON;
    case DBA_CT_CSV:
        return RPC_CSV;
    case DBA_CT_FORM:
        return RPC_FORM;
    case DBA_CT_TEXT:
        return RPC_TEXT;
    case DBA_CT_XML:
        return RPC_XML;
    case DBA_CT_OCTET:
        return RPC_OCTET;
    case DBA_CT_REFUSED:
    case DBA_CT_OTHER:
        break;
    }
    return RPC_OTHER;
}

/* A raw body goes whole to a single unnamed parameter of the media's type. */
static bool
rpc_media_raw(enum rpc_media m)
{
    return m == RPC_TEXT || m == RPC_XML || m == RPC_OCTET;
}

static struct rpc_key *
rpc_key_get(struct dba_arena *a, struct rpc_in *in, const char *name)
{
    size_t i = 0;

    while (i < in->n_keys && strcmp(in->keys[i].name, name) < 0)
        i++;
    if (i < in->n_keys && strcmp(in->keys[i].name, name) == 0)
        return &in->keys[i];
    if (in->n_keys == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 8;
        struct rpc_key *k = dba_arena_alloc(a, cap * sizeof(*k));
        if (in->n_keys)
            memcpy(k, in->keys, in->n_keys * sizeof(*k));
        in->keys = k;
        in->cap = cap;
    }
    memmove(&in->keys[i + 1], &in->keys[i], (in->n_keys - i) * sizeof(*in->keys));
    in->n_keys++;
    memset(&in->keys[i], 0, sizeof(in->keys[i]));
    in->keys[i].name = name;
    return &in->keys[i];
}

static void
rpc_key_add_value(struct dba_arena *a, struct rpc_key *k, const char *v)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 4;
        const char **p = dba_arena_alloc(a, cap * sizeof(*p));
        if (k->n)
            memcpy(p, k->values, k->n * sizeof(*p));
        k->values = p;
        k->cap = cap;
    }
    k->values[k->n++] = v;
}

/* Reserved keys of the grammar: never arguments. */
static bool
rpc_reserved(const char *key)
{
    static const char *const words[] = { "order", "limit", "offset", "and", "or" };
    const char *dot = strrchr(key, '.');
    const char *last = dot ? dot + 1 : key;

    if (strcmp(key, "select") == 0 || strcmp(key, "columns") == 0 ||
        strcmp(key, "on_conflict") == 0)
        return true;
    for (size_t i = 0; i < DBA_ARRAY_LEN(words); i++)
        if (strcmp(last, words[i]) == 0)
            return true;
    return false;
}

/* Whether a value is an operator expression: [not.]op[(...)].value. */
bool
dba__http_rpc_is_filter(const char *v)
{
    static const char *const ops[] = {
        "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "in", "is",
        "isdistinct", "fts", "plfts", "phfts", "wfts", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl",
        "adj",
    };
    size_t n;

    if (strncmp(v, "not.", 4) == 0)
        v += 4;
    n = strcspn(v, ".(");
    for (size_t i = 0; i < DBA_ARRAY_LEN(ops); i++) {
        if (strlen(ops[i]) != n || strncmp(v, ops[i], n) != 0)
            continue;
        v += n;
        if (*v == '(') {
            const char *close = strchr(v, ')');
            if (close == NULL)
                return false;
            v = close + 1;
        }
        return *v == '.';
    }
    return false;
}

/* GET/HEAD: splits the query string into arguments (in->keys) and the rest (in->rest). A form
   body (form): every pair is an argument (a pair without '=' has the empty value), as PostgREST
   reads application/x-www-form-urlencoded on /rpc. */
static int
rpc_split_query(struct dba_arena *a, const char *query, size_t len, bool form, struct rpc_in *in,
                struct dba_err *err)
{
    const char *s = query ? query : "", *end = s + (query ? len : 0);

    if (!form && s < end && *s == '?')
        s++;
    while (s < end) {
        size_t n = 0;
        while (s + n < end && s[n] != '&' && s[n] != ';')
            n++;
        const char *eq = memchr(s, '=', n);
        if (n && (eq != NULL || form)) {
            size_t kl = eq ? (size_t)(eq - s) : n;
            char *k = dba_arena_strndup(a, s, kl);
            char *v = eq ? dba_arena_strndup(a, eq + 1, n - kl - 1) : dba_arena_strdup(a, "");
            size_t kn = dba_url_decode(k, k, strlen(k), true);
            size_t vn = dba_url_decode(v, v, strlen(v), true);
            if (memchr(s, '\0', n) != NULL || kn != strlen(k) || vn != strlen(v))
                return dba_err_set(err, DBA_EINVAL, 400, form ? "PGRST102" : "PGRST100",
                                   form ? "Invalid form body"
                                        : "query string parameter contains a NUL byte");
            if (form || (!rpc_reserved(k) && !dba__http_rpc_is_filter(v))) {
                rpc_key_add_value(a, rpc_key_get(a, in, k), v);
            } else {
                if (in->rest.len)
                    dba_buf_putc(&in->rest, '&');
                dba_buf_append(&in->rest, s, n);
            }
        }
        s += n;
        if (s < end)
            s++;
    }
    return DBA_OK;
}

/* Every element of array root is an object with the keys of the first (PostgREST's rule for
   JSON bodies, on /rpc too). */
static bool
rpc_uniform(json_t *root)
{
    json_t *first = json_array_get(root, 0), *e;
    size_t i;

    if (first == NULL)
        return true;
    json_array_foreach(root, i, e) {
        const char *k;
        json_t *v;
        if (!json_is_object(e) || json_object_size(e) != json_object_size(first))
            return false;
        json_object_foreach(e, k, v) {
            DBA_UNUSED(v);
            if (json_object_get(first, k) == NULL)
                return false;
        }
    }
    return true;
}

/* POST with a JSON body: columns= (its first occurrence, as PostgREST's lookupParam) names the
   arguments; the body is then not read here: PostgreSQL reads it (json_to_record of an object,
   the first element of an array), as PostgREST sends it. A form, CSV or raw body ignores
   columns=, as in PostgREST. */
static int
rpc_columns(struct dba_arena *a, const char *query, struct rpc_in *in, struct dba_err *err)
{
    const char *s = query ? query : "";

    if (*s == '?')
        s++;
    while (*s) {
        size_t n = strcspn(s, "&;");
        const char *eq = memchr(s, '=', n);
        if (eq != NULL) {
            char *k = dba_arena_strndup(a, s, (size_t)(eq - s));
            char *v = dba_arena_strndup(a, eq + 1, n - (size_t)(eq - s) - 1);
            size_t kn = dba_url_decode(k, k, strlen(k), true);
            if (kn == strlen(k) && strcmp(k, "columns") == 0) {
                const char **names;
                size_t n_names;
                if (dba_url_decode(v, v, strlen(v), true) != strlen(v))
                    return dba_err_set(err, DBA_EINVAL, 400, "PGRST100",
                                       "query string parameter contains a NUL byte");
                if (dba__http_grammar_columns(a, "columns parameter", v, &names, &n_names,
                                              err) != DBA_OK)
                    return err->code;
                in->columns = true;
                for (size_t i = 0; i < n_names; i++)
                    rpc_key_get(a, in, names[i]);
                return DBA_OK;
            }
        }
        s += n;
        if (*s)
            s++;
    }
    return DBA_OK;
}

/* POST: the argument names from the body: a JSON object, or an array's first object (a CSV
   body is read as the JSON array of its rows); a form body as a query string's pairs; with
   columns= the body as sent. */
static int
rpc_read_body(struct dba_arena *a, const char *body, size_t len, struct rpc_in *in,
              struct dba_err *err)
{
    json_error_t jerr;
    json_t *root, *obj;
    const char *k;
    json_t *v;

    if (in->columns) {
        if (len && memchr(body, '\0', len) != NULL) { /* PostgreSQL's answer to a NUL in json */
            dba_err_set(err, DBA_EINVAL, 400, "22021",
                        "invalid byte sequence for encoding \"UTF8\": 0x00");
            memcpy(err->sqlstate, "22021", 6);
            return err->code;
        }
        in->object = dba_arena_strndup(a, len ? body : "", len);
        return DBA_OK;
    }
    if (in->media == RPC_FORM)
        return rpc_split_query(a, body, len, true, in, err);
    if (in->media == RPC_CSV) {
        if (dba_http_body_csv_json(a, body, len, &body, &len, err) != DBA_OK)
            return err->code;
    } else if (in->media != RPC_JSON) {
        return DBA_OK;
    }
    if (len == 0) {
        in->object = "{}";
        return DBA_OK;
    }
    /* Integers stay integers when the first object of an array is sent on; one past 64 bits
       is read as a real. */
    root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        root = json_loadb(body, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL,
                          &jerr);
    if (root == NULL)
        return dba_err_set(err, DBA_EINVAL, 400, "PGRST102", "Empty or invalid json");
    dba_arena_defer(a, rpc_json_decref_cb, root);
    if (json_is_array(root) && !rpc_uniform(root))
        return dba_err_set(err, DBA_EINVAL, 400, "PGRST102", "All object keys must match");
    obj = json_is_array(root) ? json_array_get(root, 0) : root;
    if (!json_is_object(obj)) {
        in->object = json_is_array(root) ? "{}" : NULL;
        return DBA_OK;
    }
    if (obj == root) {
        in->object = dba_arena_strndup(a, body, len);
    } else {
        char *text = json_dumps(obj, JSON_COMPACT);
        in->object = dba_arena_strdup(a, text);
        free(text);
    }
    json_object_foreach(obj, k, v) {
        DBA_UNUSED(v);
        rpc_key_get(a, in, dba_arena_strdup(a, k));
    }
    return DBA_OK;
}

/* ---- overload resolution (PostgREST's findProc) ---- */

static bool
rpc_is_input(const struct dba_func_arg *p)
{
    return p->mode == DBA_ARG_IN || p->mode == DBA_ARG_INOUT || p->mode == DBA_ARG_VARIADIC;
}

static const struct dba_func_arg *
rpc_param(const struct dba_function *f, const char *name)
{
    for (size_t i = 0; i < f->n_args; i++)
        if (rpc_is_input(&f->args[i]) && strcmp(f->args[i].name, name) == 0)
            return &f->args[i];
    return NULL;
}

/* The names cover every required parameter and name nothing else. */
bool
dba__http_rpc_matches(const struct dba_function *f, const char *const *names, size_t n,
                      bool post_raw)
{
    size_t required = 0, covered = 0;

    if (f->n_in == 0)
        return n == 0 && !post_raw;
    for (size_t i = 0; i < n; i++) {
        const struct dba_func_arg *p = rpc_param(f, names[i]);
        if (p == NULL)
            return false;
        covered += p->required;
    }
    for (size_t i = 0; i < f->n_args; i++)
        required += rpc_is_input(&f->args[i]) && f->args[i].required;
    return covered == required;
}

/* One unnamed parameter of the type the body's media type carries. */
static bool
rpc_takes_body(const struct dba_function *f, bool post, enum rpc_media m)
{
    const struct dba_func_arg *p = NULL;

    if (!post || f->n_in != 1)
        return false;
    for (size_t i = 0; i < f->n_args; i++)
        if (rpc_is_input(&f->args[i]))
            p = &f->args[i];
    if (p->name[0] != '\0')
        return false;
    switch (m) {
    case RPC_JSON:
        return strcmp(p->type, "json") == 0 || strcmp(p->type, "jsonb") == 0;
    case RPC_TEXT:
        return strcmp(p->type, "text") == 0;
    case RPC_XML:
        return strcmp(p->type, "xml") == 0;
    case RPC_OCTET:
        return strcmp(p->type, "bytea") == 0;
    case RPC_FORM:
    case RPC_CSV:
    case RPC_OTHER:
        break;
    }
    return false;
}

/* "a, b, c" of names in a. */
static const char *
rpc_join(struct dba_arena *a, const char *const *names, size_t n)
{
    struct dba_buf b;
    const char *s;

    dba_buf_init(&b);
    dba_buf_puts(&b, "");
    for (size_t i = 0; i < n; i++)
        dba_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    s = dba_arena_strdup(a, b.data);
    dba_buf_cleanup(&b);
    return s;
}

static int
rpc_name_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* "(a, b)": the input parameter names of f, sorted. */
static const char *
rpc_param_list(struct dba_arena *a, const struct dba_function *f)
{
    const char **v = dba_arena_alloc(a, (f->n_args + 1) * sizeof(*v));
    size_t n = 0;

    for (size_t i = 0; i < f->n_args; i++)
        if (rpc_is_input(&f->args[i]))
            v[n++] = f->args[i].name;
    qsort(v, n, sizeof(*v), rpc_name_cmp);
    return dba_arena_printf(a, "(%s)", rpc_join(a, v, n));
}

/* PostgREST's hint: a close function name, or the overload whose parameters are closest. */
static const char *
rpc_hint(struct dba_arena *a, const struct dba_catalog *c, const char *schema, const char *name,
         const struct dba_function *fns, size_t n_fns, const char *given)
{
    const char *best = NULL;
    double best_score = 0.33; /* PostgREST's minimum for parameter lists */

    if (n_fns == 0) {
        const char *near = dba_catalog_function_suggest(c, schema, name);
        return near ? dba_arena_printf(a, "Perhaps you meant to call the function %s.%s", schema,
                                       near)
                    : NULL;
    }
    for (size_t i = 0; i < n_fns; i++) {
        const char *list = rpc_param_list(a, &fns[i]);
        double score = dba_catalog_similarity(given, list);
        if (score >= best_score && (best == NULL || score > best_score)) {
            best_score = score;
            best = list;
        }
    }
    return best ? dba_arena_printf(a, "Perhaps you meant to call the function %s.%s%s", schema,
                                   name, best)
                : NULL;
}

/* 404 PGRST202 with PostgREST's message, details and hint. */
static int
rpc_not_found(struct dba_arena *a, const struct dba_catalog *c, const char *schema,
              const char *name, const struct dba_function *fns, size_t n_fns,
              const struct rpc_in *in, struct dba_err *err)
{
    const char **names = dba_arena_alloc(a, (in->n_keys + 1) * sizeof(*names));
    bool raw = in->post && rpc_media_raw(in->media);
    const char *list, *det;

    for (size_t i = 0; i < in->n_keys; i++)
        names[i] = in->keys[i].name;
    list = rpc_join(a, names, in->n_keys);
    if (raw)
        dba_err_set(err, DBA_ENOTFOUND, 404, "PGRST202",
                    "Could not find the function %s.%s in the schema cache", schema, name);
    else if (in->n_keys == 0)
        dba_err_set(err, DBA_ENOTFOUND, 404, "PGRST202",
                    "Could not find the function %s.%s without parameters in the schema cache",
                    schema, name);
    else
        dba_err_set(err, DBA_ENOTFOUND, 404, "PGRST202",
                    "Could not find the function %s.%s(%s) in the schema cache", schema, name,
                    list);
    if (raw)
        det = in->media == RPC_TEXT ? " with a single unnamed text parameter"
              : in->media == RPC_XML ? " with a single unnamed xml parameter"
                                     : " with a single unnamed bytea parameter";
    else if (in->n_keys == 0)
        det = " without parameters";
    else
        det = dba_arena_printf(a, " with parameter%s %s", in->n_keys > 1 ? "s" : "", list);
    dba_err_detail(err, "Searched for the function %s.%s%s%s, but no matches were found in the "
                   "schema cache.", schema, name, det,
                   in->post && in->media == RPC_JSON
                       ? " or with a single unnamed json/jsonb parameter" : "");
    if (!raw) {
        const char *h = rpc_hint(a, c, schema, name, fns, n_fns,
                                 dba_arena_printf(a, "(%s)", list));
        if (h != NULL)
            dba_err_hint(err, "%s", h);
    }
    return DBA_ENOTFOUND;
}

/* 300 PGRST203 naming the candidates. */
static int
rpc_ambiguous(struct dba_arena *a, const struct dba_function *const *v, size_t n,
              struct dba_err *err)
{
    struct dba_buf b;

    dba_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        dba_buf_printf(&b, "%s%s.%s(", i ? ", " : "", v[i]->schema, v[i]->name);
        for (size_t k = 0; k < v[i]->n_args; k++) {
            if (!rpc_is_input(&v[i]->args[k]))
                continue;
            dba_buf_printf(&b, "%s%s => %s", first ? "" : ", ", v[i]->args[k].name,
                           v[i]->args[k].type);
            first = false;
        }
        dba_buf_putc(&b, ')');
    }
    dba_err_set(err, DBA_EINVAL, 300, "PGRST203",
                "Could not choose the best candidate function between: %s", b.data);
    dba_err_hint(err, "Try renaming the parameters or the function itself in the database so "
                      "function overloading can be resolved");
    dba_buf_cleanup(&b);
    DBA_UNUSED(a);
    return DBA_EINVAL;
}

/* PostgREST's findProc over the overloads of schema.name. *whole: the body goes whole. */
static int
rpc_resolve(struct dba_arena *a, const struct dba_catalog *c, const char *schema,
            const char *name, const struct rpc_in *in, const struct dba_function **out,
            bool *whole, struct dba_err *err)
{
    size_t n_fns = 0, n_match = 0, n_fall = 0;
    const struct dba_function *fns = dba_catalog_function_find(c, schema, name, &n_fns);
    const struct dba_function **match = dba_arena_alloc(a, (n_fns + 1) * sizeof(*match));
    const struct dba_function **fall = dba_arena_alloc(a, (n_fns + 1) * sizeof(*fall));
    const char **names = dba_arena_alloc(a, (in->n_keys + 1) * sizeof(*names));
    bool raw = in->post && rpc_media_raw(in->media);

    for (size_t i = 0; i < in->n_keys; i++)
        names[i] = in->keys[i].name;
    for (size_t i = 0; i < n_fns; i++) {
        if (dba__http_rpc_matches(&fns[i], names, in->n_keys, raw))
            match[n_match++] = &fns[i];
        else if (rpc_takes_body(&fns[i], in->post, in->media))
            fall[n_fall++] = &fns[i];
    }
    *whole = n_match == 0 && n_fall == 1;
    if (n_match == 1 || *whole) {
        *out = n_match == 1 ? match[0] : fall[0];
        return DBA_OK;
    }
    if (n_match > 1)
        return rpc_ambiguous(a, match, n_match, err);
    if (n_fall > 1)
        return rpc_ambiguous(a, fall, n_fall, err);
    return rpc_not_found(a, c, schema, name, fns, n_fns, in, err);
}

/* ---- the call node ---- */

/* The text bound for a body that goes whole to the function: a bytea parameter gets the bytes'
   hex form (\x...: any byte, NUL included, arrives as sent); text, xml and json the body itself,
   which PostgreSQL text cannot hold with a NUL byte (its 22021, as PostgreSQL would answer). */
static int
rpc_whole_body(struct dba_arena *a, const struct rpc_in *in, const char *body, size_t len,
               const char **out, struct dba_err *err)
{
    static const char hex[] = "0123456789abcdef";

    if (body == NULL)
        len = 0;
    if (in->media == RPC_OCTET) {
        char *h = dba_arena_alloc(a, 2 * len + 3);
        h[0] = '\\';
        h[1] = 'x';
        for (size_t i = 0; i < len; i++) {
            h[2 + 2 * i] = hex[(unsigned char)body[i] >> 4];
            h[3 + 2 * i] = hex[(unsigned char)body[i] & 15];
        }
        h[2 + 2 * len] = '\0';
        *out = h;
        return DBA_OK;
    }
    if (len && memchr(body, '\0', len) != NULL) {
        dba_err_set(err, DBA_EINVAL, 400, "22021",
                    "invalid byte sequence for encoding \"UTF8\": 0x00");
        memcpy(err->sqlstate, "22021", 6);
        return err->code;
    }
    *out = dba_arena_strndup(a, len ? body : "", len);
    return DBA_OK;
}

static void
rpc_call_fill(struct dba_arena *a, struct dba_call *call, const struct rpc_in *in, bool whole,
              const char *body)
{
    const struct dba_function *f = call->fn;

    call->args = dba_arena_alloc(a, (f->n_args + 1) * sizeof(*call->args));
    call->n_args = 0;
    if (whole) {
        call->args_kind = DBA_CALL_ARGS_WHOLE;
        call->body = body;
        return;
    }
    call->args_kind = in->list ? DBA_CALL_ARGS_LIST : DBA_CALL_ARGS_OBJECT;
    call->body = in->list ? NULL : in->object;
    for (size_t i = 0; i < f->n_args; i++) {
        const struct dba_func_arg *p = &f->args[i];
        struct dba_call_arg *ca;
        size_t k = 0;

        if (!rpc_is_input(p) || p->name[0] == '\0')
            continue;
        while (k < in->n_keys && strcmp(in->keys[k].name, p->name) != 0)
            k++;
        if (k == in->n_keys)
            continue;
        ca = &call->args[call->n_args++];
        memset(ca, 0, sizeof(*ca));
        ca->param = p;
        if (in->list) {
            ca->values = in->keys[k].values;
            ca->n_values = in->keys[k].n;
            ca->value = in->keys[k].n ? in->keys[k].values[in->keys[k].n - 1] : NULL;
        }
    }
}

static bool
rpc_method(enum dba_method m)
{
    return m == DBA_M_GET || m == DBA_M_HEAD || m == DBA_M_POST;
}

int
dba__http_rpc_plan_env(const struct http_plan_env *env, struct tables_ctx *tc,
                       const struct dba_catalog *c, const char *fn,
                       const struct dba_http_req_in *hin, const char *read_only_profile,
                       struct dba_err *err)
{
    struct dba_arena *a = env->a;
    struct dba_call *call = dba_arena_alloc(a, sizeof(*call));
    enum dba_method m = hin->method;
    struct rpc_in in;
    bool whole = false;

    memset(call, 0, sizeof(*call));
    memset(&in, 0, sizeof(in));
    if (!rpc_method(m))
        return dba_err_set(err, DBA_EINVAL, 405, "PGRST101", "Cannot use the %s method on RPC",
                           dba_http_method_name(m));
    in.post = m == DBA_M_POST;
    in.media = in.post ? rpc_media_of(a, hin->content_type) : RPC_JSON;
    in.list = !in.post || in.media == RPC_FORM;
    if (in.media == RPC_OTHER) /* the body is read before the function is looked for */
        return dba_http_content_type_refuse(a, hin->content_type, err);
    dba_buf_init(&in.rest);
    int rc = DBA_OK;
    if (in.post && in.media == RPC_JSON)
        rc = rpc_columns(a, hin->query, &in, err);
    if (rc == DBA_OK)
        rc = in.post ? rpc_read_body(a, hin->body, hin->body_len, &in, err)
                     : rpc_split_query(a, hin->query, hin->query ? strlen(hin->query) : 0,
                                       false, &in, err);
    in.rest_text = dba_arena_strdup(a, in.rest.data ? in.rest.data : "");
    dba_buf_cleanup(&in.rest);
    if (rc == DBA_OK)
        rc = rpc_resolve(a, c, env->schema, fn, &in, &call->fn, &whole, err);
    if (rc != DBA_OK)
        return rc;
    if (read_only_profile != NULL && m == DBA_M_POST && call->fn->volatility == 'v') {
        dba_err_set(err, DBA_EINVAL, 405, "DBA405", "profile '%s' is read-only",
                    read_only_profile);
        dba_err_hint(err, "Writes are disabled by read_only = true in the profile.");
        return err->code;
    }
    call->schema = call->fn->schema;
    call->name = call->fn->name;
    const char *whole_body = NULL;
    if (whole && rpc_whole_body(a, &in, hin->body, hin->body_len, &whole_body, err) != DBA_OK)
        return err->code;
    rpc_call_fill(a, call, &in, whole, whole_body);
    /* The grammar reads the rest of the request: select, filters, order, limit, Prefer, Accept
       (with custom media type handlers, Accept is negotiated against them afterwards). */
    bool custom = c->n_media > 0;
    struct dba_http_req_in gin = {
        .method = m == DBA_M_POST ? DBA_M_GET : m,
        .query = in.post ? hin->query : in.rest_text,
        .prefer = hin->prefer,
        .accept = custom ? NULL : hin->accept,
        .range = m == DBA_M_GET ? hin->range : NULL,
    };
    if (dba_http_grammar_parse(a, &gin, &tc->q, err) != DBA_OK)
        return err->code;
    tc->q.method = m;
    /* Prefer: handling=strict, max-affected=N counts the rows of a set (PGRST124 when exceeded,
       checked by the statement); on a function returning one value it is refused up front. */
    if (tc->q.prefer.handling_strict && tc->q.prefer.max_affected >= 0 && !call->fn->ret_set)
        return dba_err_set(err, DBA_EINVAL, 400, "PGRST128",
                           "Function must return SETOF or TABLE when max-affected preference is "
                           "used with handling=strict");
    if (custom && dba__http_media_negotiate(c, hin->accept, call->fn->schema, call->fn->name,
                                            true, &tc->q, err) != DBA_OK)
        return err->code;
    tc->q.geojson = c->geojson;
    if (env->t_us != NULL)
        env->t_us[REQ_T_PARSED] = dba_now_us();
    tc->fn = call->fn;
    tc->t = call->fn->ret_table;
    tc->q.schema = env->schema;
    tc->q.table = dba_arena_printf(a, "rpc/%s", call->fn->name);
    tc->q.call = call;
    /* embeds (also computed relationships) and related orders on the result's relation */
    if (dba_query_resolve(&tc->q, c, tc->t, env->cfg->server.aggregates_enabled, err) != DBA_OK)
        return err->code;
    if (tc->q.prefer.count == DBA_COUNT_PLANNED) /* no planner estimate for a call's rows */
        tc->q.prefer.count = DBA_COUNT_NONE;
    /* A single row is sent as an object (PostgREST); the media type stays the one negotiated. */
    enum dba_media media = tc->q.media;
    if (!tc->fn->ret_set && tc->fn->ret_kind == DBA_FRET_COMPOSITE) {
        if (media == DBA_MEDIA_JSON)
            tc->q.media = DBA_MEDIA_OBJECT;
        else if (media == DBA_MEDIA_ARRAY_STRIPPED)
            tc->q.media = DBA_MEDIA_OBJECT_STRIPPED;
    }
    rc = dba_query_sql_build(&tc->q, tc->t, (long)env->cfg->server.max_rows, a, &tc->sql, err);
    tc->q.media = media;
    if (rc != DBA_OK)
        return rc;
    dba_arena_defer(a, dba_query_sql_cleanup_cb, &tc->sql);
    if (env->t_us != NULL)
        env->t_us[REQ_T_PLANNED] = dba_now_us();
    return DBA_OK;
}

enum MHD_Result
dba__http_rpc(struct req *r, const char *fn)
{
    struct tables_ctx *tc = dba_arena_alloc(r->a, sizeof(*tc));
    enum dba_method m = DBA_M_GET;
    enum MHD_Result ret;
    struct dba_err err;

    memset(tc, 0, sizeof(*tc));
    r->ctx = tc;
    if (!dba_http_method_from_name(r->method, &m) || !rpc_method(m))
        return dba__http_error(r, 405, "PGRST101",
                               dba_arena_printf(r->a, "Cannot use the %s method on RPC", r->method),
                               NULL, NULL);
    struct dba_catalog *c = dba__http_cache(r);
    if (c == NULL)
        return dba__http_error(r, 503, "PGRST002",
                               "Could not query the database for the schema cache. Retrying.",
                               NULL, NULL);
    if (!dba__http_policy_identity(r, &ret))
        return ret;
    if (!dba__http_policy_schema(r, c, m != DBA_M_POST, &ret))
        return ret;
    struct dba_http_req_in in = {
        .method = m,
        .query = r->raw_query,
        .prefer = dba__http_header_all(r, "Prefer"),
        .accept = dba__http_header(r, "Accept"),
        .range = dba__http_header(r, "Range"),
        .content_type = dba__http_header(r, "Content-Type"),
        .body = r->body.data,
        .body_len = r->body.len,
    };
    struct http_plan_env env = { r->a, r->w->srv->cfg, r->pol.schema, r->t_us };
    if (dba__http_rpc_plan_env(&env, tc, c, fn, &in,
                               r->pol.read_only ? r->pol.profile->name : NULL, &err) != DBA_OK)
        return dba__http_send_err(r, &err);
    bool read_only = m != DBA_M_POST || tc->fn->volatility != 'v';
    dba__http_policy_tx(r, tc->q.prefer.tx);
    dba__http_unit_begin(r, REQ_ISO_DEFAULT, read_only);
    r->unit.keep_tx = true; /* a function may write: READ ONLY must hold */
    dba__http_policy_unit(r); /* the caller's role, claims and request.*, pre_request */
    dba__http_unit_main(r, tc->sql.text.data, tc->sql.params, (int)tc->sql.n_params);
    return dba__http_unit_run(r, dba__http_tables_finish);
}

/* ---- RAISE SQLSTATE 'PGRST' ---- */

static enum MHD_Result
rpc_raise_parse_error(struct req *r, const char *what, const char *text)
{
    static const char *const msg_hint =
        "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional "
        "keys: 'details', 'hint'.";
    static const char *const det_hint =
        "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional "
        "key: 'status_text'.";
    const char *det = text == NULL ? "DETAIL is missing in the RAISE statement"
                                   : dba_arena_printf(r->a, "Invalid JSON value for %s: '%s'",
                                                      what, text);

    return dba__http_error(r, 500, "PGRST121",
                           "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error", det,
                           strcmp(what, "MESSAGE") == 0 ? msg_hint : det_hint);
}

static json_t *
rpc_str_or_null(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_incref(v) : json_null();
}

bool
dba__http_rpc_raised(struct req *r, enum MHD_Result *ret)
{
    const struct dba_err *e = &r->err;
    json_t *msg, *det, *st, *hdrs;

    if (e->kind != DBA_DB_ERR_SQL || strcmp(e->sqlstate, "PGRST") != 0)
        return false;
    msg = json_loads(e->msg, 0, NULL);
    if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "code")) ||
        !json_is_string(json_object_get(msg, "message"))) {
        json_decref(msg);
        *ret = rpc_raise_parse_error(r, "MESSAGE", e->msg);
        return true;
    }
    det = e->detail[0] ? json_loads(e->detail, 0, NULL) : NULL;
    st = json_object_get(det, "status");
    hdrs = json_object_get(det, "headers");
    if (!json_is_object(det) || !json_is_integer(st) || !json_is_object(hdrs) ||
        json_integer_value(st) < 100 || json_integer_value(st) > 999) {
        json_decref(msg);
        json_decref(det);
        *ret = rpc_raise_parse_error(r, "DETAIL", e->detail[0] ? e->detail : NULL);
        return true;
    }
    json_t *o = json_object();
    json_object_set_new(o, "code", rpc_str_or_null(msg, "code"));
    json_object_set_new(o, "details", rpc_str_or_null(msg, "details"));
    json_object_set_new(o, "hint", rpc_str_or_null(msg, "hint"));
    json_object_set_new(o, "message", rpc_str_or_null(msg, "message"));
    char *text = json_dumps(o, JSON_COMPACT);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    const char *k;
    json_t *v;
    json_object_foreach(hdrs, k, v) {
        if (json_is_string(v) && strpbrk(k, "\r\n") == NULL &&
            strpbrk(json_string_value(v), "\r\n") == NULL)
            MHD_add_response_header(resp, k, json_string_value(v));
    }
    unsigned status = (unsigned)json_integer_value(st);
    json_decref(o);
    json_decref(msg);
    json_decref(det);
    *ret = dba__http_queue(r, status, resp);
    return true;
}
