/* grammar_body.c - request bodies of POST, PATCH and PUT.
 *
 * JSON is only validated here (jansson) and kept as the client sent it: the SQL builder passes
 * the text as one parameter and PostgreSQL does the real parsing. CSV and form bodies are
 * converted into JSON text, so the SQL builder only ever sees JSON. Like PostgREST, a JSON
 * scalar is read as an empty array, and without columns= every array element must be an object
 * with the same keys as the first. */
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "http/grammar_int.h"

static int
body_bad(struct dba_err *err, const char *msg)
{
    return dba_err_set(err, DBA_EINVAL, 400, "PGRST102", "%s", msg);
}

/* Stores the keys of object o (in document order) as the body keys. */
static void
body_keys_of(struct dba_arena *a, json_t *o, struct dba_query *q)
{
    const char *key;
    json_t *v;
    size_t cap = 0;

    q->body_keys = NULL;
    q->n_body_keys = 0;
    json_object_foreach(o, key, v)
        *GRAM_PUSH(a, q->body_keys, q->n_body_keys, cap) = dba_arena_strdup(a, key);
}

static bool
body_same_keys(json_t *first, json_t *e)
{
    const char *key;
    json_t *v;

    if (!json_is_object(e) || json_object_size(e) != json_object_size(first))
        return false;
    json_object_foreach(e, key, v)
        if (!json_object_get(first, key))
            return false;
    return true;
}

static bool
key_listed(const char *const *keys, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return true;
    return false;
}

/* PATCH with an array body (a bulk update by key): elements may carry different keys, each
   element changes only its own. body_keys becomes the union of the keys (in first-seen order),
   body_keys_every those present in every element. */
static int
body_patch_keys(struct dba_arena *a, json_t *root, struct dba_query *q, struct dba_err *err)
{
    size_t cap = 0, cap_every = 0;
    size_t i;
    json_t *e;

    q->body_keys = NULL;
    q->n_body_keys = 0;
    json_array_foreach(root, i, e) {
        const char *key;
        json_t *v;

        if (!json_is_object(e))
            return body_bad(err, "All object keys must match");
        json_object_foreach(e, key, v)
            if (!key_listed(q->body_keys, q->n_body_keys, key))
                *GRAM_PUSH(a, q->body_keys, q->n_body_keys, cap) = dba_arena_strdup(a, key);
    }
    for (size_t k = 0; k < q->n_body_keys; k++) {
        bool all = true;

        json_array_foreach(root, i, e)
            if (!json_object_get(e, q->body_keys[k])) {
                all = false;
                break;
            }
        if (all)
            *GRAM_PUSH(a, q->body_keys_every, q->n_body_keys_every, cap_every) = q->body_keys[k];
    }
    return DBA_OK;
}

/* Classifies a parsed JSON body; sets kind, rows and keys (keys only without columns=). */
static int
body_shape(struct dba_arena *a, json_t *root, struct dba_query *q, struct dba_err *err)
{
    json_t *first;

    if (json_is_object(root)) {
        q->body_kind = DBA_BODY_OBJECT;
        q->n_body_rows = 1;
        body_keys_of(a, root, q);
        return DBA_OK;
    }
    q->body_kind = DBA_BODY_ARRAY;
    if (!json_is_array(root)) {
        q->body = "[]"; /* PostgREST truncates any other JSON value to an empty array */
        q->body_len = 2;
        return DBA_OK;
    }
    q->n_body_rows = json_array_size(root);
    if (q->n_body_rows == 0)
        return DBA_OK;
    if (q->method == DBA_M_PATCH)
        return body_patch_keys(a, root, q, err);
    first = json_array_get(root, 0);
    if (!json_is_object(first))
        return body_bad(err, "All object keys must match");
    for (size_t i = 1; i < q->n_body_rows; i++) {
        json_t *e = json_array_get(root, i);

        if (q->columns ? !json_is_object(e) : !body_same_keys(first, e))
            return body_bad(err, "All object keys must match");
    }
    body_keys_of(a, first, q);
    return DBA_OK;
}

/* Bodies this large are checked by the streaming scanner instead of a jansson tree: a 15 MB bulk
   insert would otherwise cost a second of CPU and ten times its size in memory. */
#define BODY_SCAN_BYTES (64 * 1024)

struct body_span {
    const char *p; /* key text including its quotes */
    size_t len;    /* length */
};

/* Reads the members of the object at p[i] ('{'), checking its keys against first (or filling
   first when *n_first is 0 and record is set). Returns the index past the object, or
   DBA_JSON_BAD when malformed or the key set differs. *escaped is set when a key has escapes. */
static size_t
body_scan_object(const char *p, size_t n, size_t i, struct body_span *first, size_t *n_first,
                 size_t cap, bool record, bool check, bool *escaped)
{
    size_t count = 0;

    i = dba_json_ws(p, n, i + 1);
    if (i < n && p[i] == '}')
        return check && *n_first != 0 ? DBA_JSON_BAD : i + 1;
    while (i < n) {
        enum dba_json_type t;
        size_t kend = dba_json_value(p, n, i, &t);
        if (kend == DBA_JSON_BAD || t != DBA_JSON_STRING)
            return DBA_JSON_BAD;
        struct body_span key = { p + i, kend - i };
        *escaped = *escaped || memchr(key.p, '\\', key.len) != NULL;
        if (record) {
            if (count >= cap)
                return DBA_JSON_BAD;
            first[count] = key;
        } else if (check) {
            bool found = count < *n_first && first[count].len == key.len &&
                         memcmp(first[count].p, key.p, key.len) == 0;
            for (size_t k = 0; !found && k < *n_first; k++)
                found = first[k].len == key.len && memcmp(first[k].p, key.p, key.len) == 0;
            if (!found)
                return DBA_JSON_BAD;
        }
        count++;
        i = dba_json_ws(p, n, kend);
        if (i >= n || p[i] != ':' || (i = dba_json_value(p, n, i + 1, NULL)) == DBA_JSON_BAD)
            return DBA_JSON_BAD;
        i = dba_json_ws(p, n, i);
        if (i < n && p[i] == '}')
            break;
        if (i >= n || p[i] != ',')
            return DBA_JSON_BAD;
        i = dba_json_ws(p, n, i + 1);
    }
    if (i >= n)
        return DBA_JSON_BAD;
    if (record)
        *n_first = count;
    else if (check && count != *n_first)
        return DBA_JSON_BAD;
    return i + 1;
}

/* A large array body: validated in one pass, keys compared without building anything. Returns
   DBA_OK, DBA_EINVAL (err set), or DBA_EAGAIN when the jansson path must decide (escaped keys,
   very wide objects, not an array). */
static int
body_scan_array(struct dba_arena *a, const struct dba_http_req_in *in, struct dba_query *q,
                struct dba_err *err)
{
    const char *p = in->body;
    size_t n = in->body_len;
    struct body_span first[256];
    size_t n_first = 0;
    size_t rows = 0;
    bool escaped = false;
    size_t i = dba_json_ws(p, n, 0);

    if (i >= n || p[i] != '[')
        return DBA_EAGAIN;
    for (i = dba_json_ws(p, n, i + 1); i < n && p[i] != ']';) {
        if (p[i] != '{')
            return body_bad(err, "All object keys must match");
        /* PATCH: elements with other keys go to jansson (body_patch_keys) */
        i = body_scan_object(p, n, i, first, &n_first, DBA_ARRAY_LEN(first), rows == 0,
                             q->columns == NULL || q->method == DBA_M_PATCH, &escaped);
        if (i == DBA_JSON_BAD || escaped)
            return DBA_EAGAIN; /* let jansson tell bad JSON from mismatched keys */
        rows++;
        i = dba_json_ws(p, n, i);
        if (i < n && p[i] == ',')
            i = dba_json_ws(p, n, i + 1);
        else if (i >= n || p[i] != ']')
            return DBA_EAGAIN;
    }
    if (i >= n || dba_json_ws(p, n, i + 1) != n)
        return DBA_EAGAIN;
    q->body_kind = DBA_BODY_ARRAY;
    q->n_body_rows = rows;
    size_t cap = 0;
    for (size_t k = 0; k < n_first; k++)
        *GRAM_PUSH(a, q->body_keys, q->n_body_keys, cap) =
            dba_arena_strndup(a, first[k].p + 1, first[k].len - 2);
    q->body = p; /* the request's own buffer: it outlives the query */
    q->body_len = n;
    return DBA_OK;
}

static int
body_json(struct dba_arena *a, const struct dba_http_req_in *in, struct dba_query *q,
          struct dba_err *err)
{
    json_error_t jerr;
    json_t *root = NULL;
    int rc;

    if (in->body && in->body_len >= BODY_SCAN_BYTES && in->body[in->body_len] == '\0') {
        rc = body_scan_array(a, in, q, err);
        if (rc != DBA_EAGAIN)
            return rc;
        q->body_keys = NULL;
        q->n_body_keys = 0;
    }
    if (in->body && in->body_len)
        root = json_loadb(in->body, in->body_len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!root)
        return body_bad(err, "Empty or invalid json");
    rc = body_shape(a, root, q, err);
    json_decref(root);
    if (rc == DBA_OK && !q->body) {
        q->body = dba_arena_strndup(a, in->body, in->body_len);
        q->body_len = in->body_len;
    }
    return rc;
}

/* Serialises v (compact) into the arena as the body text. */
static void
body_dump(struct dba_arena *a, json_t *v, struct dba_query *q)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
    char *buf = dba_arena_alloc(a, n + 1);

    json_dumpb(v, buf, n, JSON_COMPACT);
    buf[n] = '\0';
    q->body = buf;
    q->body_len = n;
}

struct csv_rd {
    const char *s; /* body */
    size_t len;    /* body length */
    size_t pos;    /* cursor */
};

enum csv_end {
    CSV_BAD = -1,  /* malformed quoting */
    CSV_FIELD = 1, /* field ended by ',' */
    CSV_LINE = 2,  /* field ended the record */
};

/* Reads one RFC 4180 field into b. */
static enum csv_end
csv_field(struct csv_rd *r, struct dba_buf *b)
{
    const char *s = r->s;

    dba_buf_reset(b);
    dba_buf_append(b, "", 0);
    if (r->pos < r->len && s[r->pos] == '"') {
        for (r->pos++;; r->pos++) {
            if (r->pos >= r->len)
                return CSV_BAD;
            if (s[r->pos] == '"' && (r->pos + 1 >= r->len || s[r->pos + 1] != '"'))
                break;
            if (s[r->pos] == '"')
                r->pos++;
            dba_buf_putc(b, s[r->pos]);
        }
        r->pos++;
    } else {
        while (r->pos < r->len && s[r->pos] != ',' && s[r->pos] != '\n' &&
               !(s[r->pos] == '\r' && r->pos + 1 < r->len && s[r->pos + 1] == '\n'))
            dba_buf_putc(b, s[r->pos++]);
    }
    if (r->pos >= r->len)
        return CSV_LINE;
    if (s[r->pos] == ',')
        return r->pos++, CSV_FIELD;
    if (s[r->pos] == '\r' && r->pos + 1 < r->len && s[r->pos + 1] == '\n')
        return r->pos += 2, CSV_LINE;
    if (s[r->pos] == '\n')
        return r->pos++, CSV_LINE;
    return CSV_BAD;
}

/* Reads one record: with hdr NULL the header (names appended to the array row), else a row
   object keyed by hdr. 0, -1 when malformed, -2 when the field count differs from hdr. */
static int
csv_record(struct csv_rd *r, struct dba_buf *b, json_t *hdr, json_t *row)
{
    enum csv_end end;
    size_t i = 0;

    do {
        end = csv_field(r, b);
        if (end == CSV_BAD)
            return -1;
        if (!hdr) {
            if (json_array_append_new(row, json_stringn(b->data, b->len)) != 0)
                return -1;
        } else {
            json_t *name = json_array_get(hdr, i++);
            bool null = b->len == 4 && memcmp(b->data, "NULL", 4) == 0;
            json_t *v = null ? json_null() : json_stringn(b->data, b->len);

            if (!name) {
                json_decref(v);
                return -2;
            }
            if (!v || json_object_set_new(row, json_string_value(name), v) != 0)
                return -1;
        }
    } while (end == CSV_FIELD);
    return hdr && i != json_array_size(hdr) ? -2 : 0;
}

/* True when only line breaks are left (trailing blank lines are not records). */
static bool
csv_blank_rest(const struct csv_rd *r)
{
    for (size_t i = r->pos; i < r->len; i++)
        if (r->s[i] != '\r' && r->s[i] != '\n')
            return false;
    return true;
}

static int
csv_rows(struct csv_rd *r, json_t *hdr, json_t *rows, struct dba_err *err)
{
    struct dba_buf b;
    int rc = 0;

    dba_buf_init(&b);
    while (rc == 0 && !csv_blank_rest(r)) {
        json_t *row = json_object();

        rc = csv_record(r, &b, hdr, row);
        if (rc == 0)
            json_array_append_new(rows, row);
        else
            json_decref(row);
    }
    dba_buf_cleanup(&b);
    if (rc == -2)
        return body_bad(err, "All lines must have same number of fields");
    return rc ? body_bad(err, "Empty or invalid csv") : DBA_OK;
}

static int
body_csv(struct dba_arena *a, const struct dba_http_req_in *in, struct dba_query *q,
         struct dba_err *err)
{
    struct csv_rd r = { in->body ? in->body : "", in->body ? in->body_len : 0, 0 };
    json_t *hdr = json_array(), *rows = json_array();
    struct dba_buf b;
    int rc;

    dba_buf_init(&b);
    rc = r.len ? csv_record(&r, &b, NULL, hdr) : -1;
    dba_buf_cleanup(&b);
    rc = rc ? body_bad(err, "Empty or invalid csv") : csv_rows(&r, hdr, rows, err);
    if (rc == DBA_OK) {
        q->body_kind = DBA_BODY_ARRAY;
        q->n_body_rows = json_array_size(rows);
        if (q->n_body_rows)
            body_keys_of(a, json_array_get(rows, 0), q);
        body_dump(a, rows, q);
    }
    json_decref(hdr);
    json_decref(rows);
    return rc;
}

int
dba_http_body_csv_json(struct dba_arena *a, const char *body, size_t len, const char **json,
                       size_t *json_len, struct dba_err *err)
{
    struct dba_http_req_in in = { .method = DBA_M_POST, .body = body, .body_len = len };
    struct dba_query q;

    memset(&q, 0, sizeof(q));
    if (body_csv(a, &in, &q, err) != DBA_OK)
        return err->code;
    *json = q.body;
    *json_len = q.body_len;
    return DBA_OK;
}

/* application/x-www-form-urlencoded: one row whose values are all strings. */
static int
body_form(struct dba_arena *a, const struct dba_http_req_in *in, struct dba_query *q,
          struct dba_err *err)
{
    const char *s = in->body ? in->body : "", *end = s + (in->body ? in->body_len : 0);
    json_t *o = json_object();
    int rc = DBA_OK;

    while (s < end && rc == DBA_OK) {
        size_t n = 0, k;
        char *pair, *eq;

        while (s + n < end && s[n] != '&' && s[n] != ';')
            n++;
        pair = dba_arena_strndup(a, s, n);
        s += n + (s + n < end);
        if (!n)
            continue;
        eq = strchr(pair, '=');
        if (eq)
            *eq++ = '\0';
        k = dba_url_decode(pair, pair, strlen(pair), true);
        n = eq ? dba_url_decode(eq, eq, strlen(eq), true) : 0;
        if (strlen(pair) != k || json_object_set_new(o, pair, json_stringn(eq ? eq : "", n)) != 0)
            rc = body_bad(err, "Invalid form body");
    }
    if (rc == DBA_OK) {
        q->body_kind = DBA_BODY_OBJECT;
        q->n_body_rows = 1;
        body_keys_of(a, o, q);
        body_dump(a, o, q);
    }
    json_decref(o);
    return rc;
}

/* ---- Content-Type as PostgREST decodes it (MediaType.decodeMediaType) ----
 * The header is read as PostgREST's tokenizer reads it: a type of letters, digits, '.' and '*',
 * '/', a subtype of those and '+', '-', then ';'-separated key=value parameters (a value quoted
 * or of letters, digits, '|' and '-'; keys lower-cased); whatever follows is ignored. Types
 * compare without case. A header the tokenizer cannot read is a type of its own. The text a
 * refusal shows is PostgREST's toMime: a known type's canonical name (with nulls=stripped or a
 * plan's for/options where they apply), any other type the header value as sent (as Latin-1). */

static bool
ct_alnum(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch >= 0x80;
}

static bool
ct_space(unsigned char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* Length of the run at s of alphanumerics and the bytes of extra. */
static size_t
ct_run(const char *s, const char *extra)
{
    size_t n = 0;

    while (s[n] != '\0' && (ct_alnum((unsigned char)s[n]) || strchr(extra, s[n]) != NULL))
        n++;
    return n;
}

/* The parameters PostgREST's media types read (the last one of a name wins). */
struct ct_parsed {
    const char *main, *sub; /* type and subtype (arena), "" when the tokenizer failed */
    const char *nulls;      /* nulls=, or NULL */
    const char *for_;       /* for=, or NULL */
    const char *options;    /* options=, or NULL */
};

static void
ct_tokenize(struct dba_arena *a, const char *s, struct ct_parsed *out)
{
    size_t mn = ct_run(s, ".*"), sn;
    const char *p;

    memset(out, 0, sizeof(*out));
    out->main = out->sub = "";
    if (mn == 0 || s[mn] != '/' || (sn = ct_run(s + mn + 1, ".*+-")) == 0)
        return;
    out->main = dba_arena_strndup(a, s, mn);
    out->sub = dba_arena_strndup(a, s + mn + 1, sn);
    p = s + mn + 1 + sn;
    for (;;) { /* many (try (spaces ';' spaces key spaces '=' spaces value)) */
        const char *q = p, *key, *val;
        size_t kn, vn;

        while (ct_space((unsigned char)*q))
            q++;
        if (*q++ != ';')
            return;
        while (ct_space((unsigned char)*q))
            q++;
        key = q;
        if ((kn = ct_run(q, "-")) == 0)
            return;
        q += kn;
        while (ct_space((unsigned char)*q))
            q++;
        if (*q++ != '=')
            return;
        while (ct_space((unsigned char)*q))
            q++;
        if (*q == '"' && strchr(q + 1, '"') != NULL) {
            val = q + 1;
            vn = (size_t)(strchr(q + 1, '"') - val);
            q = val + vn + 1;
        } else if ((vn = ct_run(q, "|-")) > 0) {
            val = q;
            q += vn;
        } else {
            return;
        }
        char *k = dba_arena_strndup(a, key, kn);
        for (char *c = k; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        if (strcmp(k, "nulls") == 0)
            out->nulls = dba_arena_strndup(a, val, vn);
        else if (strcmp(k, "for") == 0)
            out->for_ = dba_arena_strndup(a, val, vn);
        else if (strcmp(k, "options") == 0)
            out->options = dba_arena_strndup(a, val, vn);
        p = q;
    }
}

/* s (Latin-1, as PostgREST decodes a header) as UTF-8, at most max bytes, in a. */
static const char *
ct_latin1(struct dba_arena *a, const char *s, size_t max)
{
    size_t n = 0;
    char *o = dba_arena_alloc(a, 2 * strlen(s) + 1);

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (n + (ch >= 0x80 ? 2 : 1) > max)
            break;
        if (ch >= 0x80) {
            o[n++] = (char)(0xC0 | (ch >> 6));
            o[n++] = (char)(0x80 | (ch & 0x3F));
        } else {
            o[n++] = (char)ch;
        }
    }
    o[n] = '\0';
    return o;
}

#define CT_SHOWN_MAX 400 /* bytes of a header value a message shows */

/* Decodes ct; *shown (when shown is not NULL) is PostgREST's toMime of it. */
static enum dba_http_ctype
ct_decode(struct dba_arena *a, const char *ct, const char **shown, int depth)
{
    static const struct {
        const char *main, *sub, *mime;
        enum dba_http_ctype t;
    } known[] = {
        { "application", "json", "application/json", DBA_CT_JSON },
        { "application", "geo+json", "application/geo+json", DBA_CT_REFUSED },
        { "text", "csv", "text/csv", DBA_CT_CSV },
        { "text", "plain", "text/plain", DBA_CT_TEXT },
        { "text", "xml", "text/xml", DBA_CT_XML },
        { "application", "openapi+json", "application/openapi+json", DBA_CT_REFUSED },
        { "application", "x-www-form-urlencoded", "application/x-www-form-urlencoded",
          DBA_CT_FORM },
        { "application", "octet-stream", "application/octet-stream", DBA_CT_OCTET },
        { "*", "*", "*/*", DBA_CT_REFUSED },
    };
    struct ct_parsed t;
    const char *dummy;

    if (shown == NULL)
        shown = &dummy;
    ct_tokenize(a, ct, &t);
    for (size_t i = 0; i < DBA_ARRAY_LEN(known); i++) {
        if (strcasecmp(t.main, known[i].main) == 0 && strcasecmp(t.sub, known[i].sub) == 0) {
            *shown = known[i].mime;
            return known[i].t;
        }
    }
    bool stripped = t.nulls != NULL && strcmp(t.nulls, "stripped") == 0;
    if (strcasecmp(t.main, "application") == 0 &&
        (strcasecmp(t.sub, "vnd.pgrst.object+json") == 0 ||
         strcasecmp(t.sub, "vnd.pgrst.object") == 0)) {
        *shown = stripped ? "application/vnd.pgrst.object+json;nulls=stripped"
                          : "application/vnd.pgrst.object+json";
        return DBA_CT_REFUSED;
    }
    if (strcasecmp(t.main, "application") == 0 &&
        (strcasecmp(t.sub, "vnd.pgrst.array+json") == 0 ||
         strcasecmp(t.sub, "vnd.pgrst.array") == 0)) {
        *shown = stripped ? "application/vnd.pgrst.array+json;nulls=stripped" : "application/json";
        return stripped ? DBA_CT_REFUSED : DBA_CT_JSON;
    }
    if (strcasecmp(t.main, "application") == 0 && depth < 2 &&
        (strcasecmp(t.sub, "vnd.pgrst.plan") == 0 || strcasecmp(t.sub, "vnd.pgrst.plan+text") == 0 ||
         strcasecmp(t.sub, "vnd.pgrst.plan+json") == 0)) {
        static const char *const opts[] = { "analyze", "verbose", "settings", "buffers", "wal" };
        const char *for_mime = "application/json";
        struct dba_buf b;
        bool first = true;

        if (t.for_ != NULL)
            ct_decode(a, t.for_, &for_mime, depth + 1);
        dba_buf_init(&b);
        dba_buf_printf(&b, "application/vnd.pgrst.plan+%s; for=\"%s\"",
                       strcasecmp(t.sub, "vnd.pgrst.plan+json") == 0 ? "json" : "text", for_mime);
        for (size_t i = 0; i < DBA_ARRAY_LEN(opts); i++) {
            bool on = false;
            for (const char *o = t.options; o != NULL && !on; o = strchr(o, '|')) {
                o += *o == '|';
                on = strncmp(o, opts[i], strlen(opts[i])) == 0 &&
                     (o[strlen(opts[i])] == '|' || o[strlen(opts[i])] == '\0');
            }
            if (on) {
                dba_buf_printf(&b, "%s%s", first ? "; options=" : "|", opts[i]);
                first = false;
            }
        }
        *shown = dba_arena_strdup(a, b.data);
        dba_buf_cleanup(&b);
        return DBA_CT_REFUSED;
    }
    *shown = ct_latin1(a, ct, CT_SHOWN_MAX);
    return DBA_CT_OTHER;
}

enum dba_http_ctype
dba_http_content_type(struct dba_arena *a, const char *ct)
{
    return ct == NULL ? DBA_CT_JSON : ct_decode(a, ct, NULL, 0);
}

int
dba_http_content_type_refuse(struct dba_arena *a, const char *ct, struct dba_err *err)
{
    const char *shown = "application/json";

    if (ct != NULL)
        ct_decode(a, ct, &shown, 0);
    return dba_err_set(err, DBA_EINVAL, 400, "PGRST102", "Content-Type not acceptable: %s",
                       shown);
}

int
dba__http_grammar_body(struct dba_arena *a, const struct dba_http_req_in *in,
                       struct dba_query *q, struct dba_err *err)
{
    int rc;

    switch (in->method) {
    case DBA_M_POST:
    case DBA_M_PATCH:
    case DBA_M_PUT:
        break;
    case DBA_M_GET:
    case DBA_M_HEAD:
    case DBA_M_DELETE:
    case DBA_M_OPTIONS:
        return DBA_OK;
    }
    enum dba_http_ctype t = dba_http_content_type(a, in->content_type);
    if (t == DBA_CT_JSON)
        rc = body_json(a, in, q, err);
    else if (t == DBA_CT_CSV)
        rc = body_csv(a, in, q, err);
    else if (t == DBA_CT_FORM)
        rc = body_form(a, in, q, err);
    else /* PostgREST's payload rules for tables: text, xml and bytes only go to a function */
        return dba_http_content_type_refuse(a, in->content_type, err);
    if (rc == DBA_OK && q->method == DBA_M_PATCH && q->body_kind == DBA_BODY_ARRAY &&
        !q->body_keys_every) {
        q->body_keys_every = q->body_keys; /* every element has the same keys */
        q->n_body_keys_every = q->n_body_keys;
    }
    if (rc == DBA_OK && q->columns) {
        q->body_keys = q->columns;
        q->n_body_keys = q->n_columns;
    }
    return rc;
}
