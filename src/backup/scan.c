/* scan.c - finds the members of a JSON object and the elements of an array as byte spans without
   building a tree (core's json_scan.c validates each value), so each row can be handed to
   PostgreSQL exactly as written (numerics, big integers and nested jsonb keep their form) and a
   large document is not parsed whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup_int.h"

/* End of the string starting at p[i] ('"'), for text known to be valid JSON: the next quote
   not escaped (preceded by an even number of backslashes). */
static size_t
skip_string(const char *p, size_t n, size_t i)
{
    for (i++; i < n;) {
        const char *q = memchr(p + i, '"', n - i);
        if (q == NULL)
            return DBA_JSON_BAD;
        size_t e = (size_t)(q - p), k = e;
        while (k > i && p[k - 1] == '\\')
            k--;
        if ((e - k) % 2 == 0)
            return e + 1;
        i = e + 1;
    }
    return DBA_JSON_BAD;
}

/* End of the value starting at p[i], for text known to be valid JSON (an enclosing span went
   through dba_json_value): only strings and brackets are followed. */
static size_t
skip_value(const char *p, size_t n, size_t i)
{
    if (i >= n)
        return DBA_JSON_BAD;
    if (p[i] == '"')
        return skip_string(p, n, i);
    if (p[i] != '{' && p[i] != '[') {
        while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' &&
               p[i] != '\n' && p[i] != '\t' && p[i] != '\r')
            i++;
        return i;
    }
    size_t depth = 0;
    while (i < n) {
        switch (p[i]) {
        case '"':
            i = skip_string(p, n, i);
            if (i == DBA_JSON_BAD)
                return i;
            continue;
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            if (--depth == 0)
                return i + 1;
            break;
        default:
            break;
        }
        i++;
    }
    return DBA_JSON_BAD;
}

static int
scan(const char *p, size_t n, bool object, bool valid, dba__backup_scan_cb cb, void *arg)
{
    size_t i = dba_json_ws(p, n, 0);
    if (i >= n || p[i] != (object ? '{' : '['))
        return DBA_EINVAL;
    i = dba_json_ws(p, n, i + 1);
    if (i < n && p[i] == (object ? '}' : ']'))
        return DBA_OK;
    while (i < n) {
        char key[256] = "";
        if (object) {
            enum dba_json_type kt = DBA_JSON_STRING;
            size_t ke = valid ? skip_string(p, n, i) : dba_json_value(p, n, i, &kt);
            if (kt != DBA_JSON_STRING)
                ke = DBA_JSON_BAD;
            if (ke == DBA_JSON_BAD)
                return DBA_EINVAL;
            if (memchr(p + i, '\\', ke - i) == NULL) { /* no escape: the bytes are the name */
                size_t kl = ke - i - 2 < sizeof(key) - 1 ? ke - i - 2 : sizeof(key) - 1;
                memcpy(key, p + i + 1, kl);
                key[kl] = '\0';
            } else {
                json_t *k = json_loadb(p + i, ke - i, JSON_DECODE_ANY, NULL);
                snprintf(key, sizeof(key), "%s", json_string_value(k) ? json_string_value(k) : "");
                json_decref(k);
            }
            i = dba_json_ws(p, n, ke);
            if (i >= n || p[i] != ':')
                return DBA_EINVAL;
            i = dba_json_ws(p, n, i + 1);
        }
        size_t ve = valid ? skip_value(p, n, i) : dba_json_value(p, n, i, NULL);
        if (ve == DBA_JSON_BAD || ve == i)
            return DBA_EINVAL;
        int rc = cb(arg, key, p + i, ve - i);
        if (rc != DBA_OK)
            return rc;
        i = dba_json_ws(p, n, ve);
        if (i < n && p[i] == ',')
            i = dba_json_ws(p, n, i + 1);
        else if (i < n && p[i] == (object ? '}' : ']'))
            return DBA_OK;
        else
            return DBA_EINVAL;
    }
    return DBA_EINVAL;
}

int
dba__backup_scan(const char *p, size_t n, bool object, dba__backup_scan_cb cb, void *arg)
{
    return scan(p, n, object, false, cb, arg);
}

int
dba__backup_scan_valid(const char *p, size_t n, bool object, dba__backup_scan_cb cb, void *arg)
{
    return scan(p, n, object, true, cb, arg);
}

char *
dba__backup_scalar_text(const char *v, size_t n)
{
    enum dba_json_type t;
    size_t e = dba_json_value(v, n, 0, &t);
    if (e == DBA_JSON_BAD)
        return NULL;
    size_t s = dba_json_ws(v, n, 0);
    switch (t) {
    case DBA_JSON_STRING: {
        struct dba_buf b;
        dba_buf_init(&b);
        if (!dba_json_unescape(&b, v + s, e - s)) {
            dba_buf_cleanup(&b);
            return NULL;
        }
        return dba_buf_take(&b);
    }
    case DBA_JSON_NUMBER: {
        /* "7.0" (a writer's float) is the key 7: an integer column would refuse "7.0". */
        size_t dot = s;
        while (dot < e && v[dot] != '.')
            dot++;
        size_t z = dot + 1;
        while (dot < e && z < e && v[z] == '0')
            z++;
        return dba_xstrndup(v + s, (dot < e && z == e ? dot : e) - s);
    }
    case DBA_JSON_BOOL:
        return dba_xstrndup(v + s, e - s);
    case DBA_JSON_NULL:
    case DBA_JSON_ARRAY:
    case DBA_JSON_OBJECT:
        break;
    }
    return NULL;
}

struct field_find {
    const char *name; /* member wanted */
    const char *v;    /* its bytes, or NULL */
    size_t len;       /* their length */
};

static int
field_member(void *arg, const char *key, const char *v, size_t len)
{
    struct field_find *f = arg;
    if (strcmp(key, f->name) == 0) {
        f->v = v;
        f->len = len;
    }
    return DBA_OK;
}

char *
dba__backup_field(const char *raw, size_t len, const char *name)
{
    struct field_find f = { .name = name };
    if (raw == NULL || name == NULL ||
        dba__backup_scan(raw, len, true, field_member, &f) != DBA_OK || f.v == NULL)
        return NULL;
    return dba__backup_scalar_text(f.v, f.len);
}

struct walk_member {
    char key[256];   /* member name */
    const char *v;   /* value bytes */
    size_t len;      /* their length */
};

struct walk {
    struct walk_member *m; /* top-level members */
    size_t n, cap;         /* count, allocated */
    const char *table;     /* table whose rows are being walked */
    const struct dba__backup_walk *cbs; /* callbacks */
    void *arg;             /* their argument */
    bool cb_failed;        /* the row callback stopped the walk (its err is already set) */
};

static int
walk_member(void *arg, const char *key, const char *v, size_t len)
{
    struct walk *w = arg;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->m = dba_xrealloc(w->m, w->cap * sizeof(*w->m));
    }
    snprintf(w->m[w->n].key, sizeof(w->m[w->n].key), "%s", key);
    w->m[w->n].v = v;
    w->m[w->n++].len = len;
    return DBA_OK;
}

static int
walk_row(void *arg, const char *key, const char *v, size_t len)
{
    struct walk *w = arg;
    DBA_UNUSED(key);
    if (w->cbs->raw_only) {
        bool ok = len > 0 && (v[0] == '{' || w->cbs->raw_any);
        int rc = ok ? w->cbs->row(w->arg, w->table, NULL, v, len) : DBA_EINVAL;
        w->cb_failed = ok && rc != DBA_OK;
        return rc;
    }
    json_t *row = json_loadb(v, len, DBA__BACKUP_JSON_FLAGS, NULL);
    int rc = row != NULL ? w->cbs->row(w->arg, w->table, row, v, len) : DBA_EINVAL;
    w->cb_failed = row != NULL && rc != DBA_OK;
    json_decref(row);
    return rc;
}

static const struct walk_member *
walk_find(const struct walk *w, const char *key)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->m[i].key, key) == 0)
            return &w->m[i];
    return NULL;
}

int
dba__backup_walk_text(const char *p, size_t n, const struct dba_backup_schema *s,
                      const struct dba__backup_walk *cbs, void *arg, struct dba_err *err)
{
    struct walk w = { .cbs = cbs, .arg = arg };
    int rc = scan(p, n, true, cbs->trusted, walk_member, &w);
    if (rc != DBA_OK) {
        free(w.m);
        return dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                           "Invalid JSON: the backup is not a well-formed JSON object");
    }
    const struct walk_member *m = walk_find(&w, "metadata");
    if (m != NULL) {
        json_t *meta = json_loadb(m->v, m->len, DBA__BACKUP_JSON_FLAGS, NULL);
        cbs->meta(arg, meta);
        json_decref(meta);
    }
    for (size_t i = 0; i < w.n && rc == DBA_OK; i++) /* tables the schema does not have */
        if (strcmp(w.m[i].key, "metadata") != 0 && w.m[i].len > 0 && w.m[i].v[0] == '[' &&
            dba_backup_schema_find(s, w.m[i].key) < 0)
            rc = cbs->table(arg, w.m[i].key);
    for (size_t i = 0; i < s->n && rc == DBA_OK; i++) {
        m = walk_find(&w, s->tables[i].name);
        if (m == NULL)
            continue;
        w.table = s->tables[i].name;
        rc = cbs->table(arg, w.table);
        if (rc != DBA_OK)
            break;
        rc = scan(m->v, m->len, false, true, walk_row, &w); /* validated just above */
        if (rc == DBA_EINVAL && !w.cb_failed)
            dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                        "Invalid JSON: \"%s\" is not an array of row objects", w.table);
    }
    free(w.m);
    return rc;
}
