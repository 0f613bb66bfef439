/* copyrow.c - a backup row's JSON values as COPY text-format fields, so that a batch reaches
   PostgreSQL typed once (COPY into a staging table with the target's column types) instead of
   through jsonb_populate_record. Each conversion gives the text jsonb_populate_record would have
   fed to the column's input function; where the two could differ (numbers written with an
   exponent outside numeric columns, objects outside json columns, NUL characters) the
   conversion refuses and the caller writes that batch through jsonb_populate_record. */
#include <stdlib.h>
#include <string.h>

#include "backup/backup_int.h"

/* Appends p[0..n) escaped for COPY's text format. */
void
dba__copy_text(struct dba_buf *out, const char *p, size_t n)
{
    size_t s = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i], e;
        switch (c) {
        case '\\':
            e = '\\';
            break;
        case '\n':
            e = 'n';
            break;
        case '\r':
            e = 'r';
            break;
        case '\t':
            e = 't';
            break;
        default:
            continue;
        }
        dba_buf_append(out, p + s, i - s);
        dba_buf_putc(out, '\\');
        dba_buf_putc(out, e);
        s = i + 1;
    }
    dba_buf_append(out, p + s, n - s);
}

/* The decoded string span v[0..n) (quotes included) into tmp; false on NUL or bad escapes. */
static bool
copy_unescape(struct dba_buf *tmp, const char *v, size_t n)
{
    dba_buf_reset(tmp);
    if (!dba_json_unescape(tmp, v, n))
        return false;
    if (tmp->data == NULL)
        dba_buf_puts(tmp, "");
    return memchr(tmp->data, '\0', tmp->len) == NULL;
}

static bool
has_exponent(const char *v, size_t n)
{
    return memchr(v, 'e', n) != NULL || memchr(v, 'E', n) != NULL;
}

bool
dba__copy_key(struct dba_buf *out, const char *v, size_t n)
{
    enum dba_json_type t;
    size_t e = dba_json_value(v, n, 0, &t), s = dba_json_ws(v, n, 0);
    if (e == DBA_JSON_BAD)
        return false;
    switch (t) {
    case DBA_JSON_NULL:
        dba_buf_puts(out, "\\N");
        return true;
    case DBA_JSON_BOOL:
        dba_buf_append(out, v + s, e - s);
        return true;
    case DBA_JSON_NUMBER: {
        /* as dba__backup_scalar_text: "7.0" is the key 7 ("-0" and exponents: not here) */
        if (has_exponent(v + s, e - s) || (e - s >= 2 && v[s] == '-' && v[s + 1] == '0'))
            return false;
        char *k = dba__backup_scalar_text(v + s, e - s);
        dba_buf_puts(out, k);
        free(k);
        return true;
    }
    case DBA_JSON_STRING: {
        struct dba_buf tmp;
        dba_buf_init(&tmp);
        bool ok = copy_unescape(&tmp, v + s, e - s);
        if (ok)
            dba__copy_text(out, tmp.data, tmp.len);
        dba_buf_cleanup(&tmp);
        return ok;
    }
    case DBA_JSON_ARRAY:
    case DBA_JSON_OBJECT:
        break;
    }
    return false;
}

struct arr {
    struct dba_buf *lit; /* the array literal being built */
    struct dba_buf tmp;  /* scratch for strings */
    int kind;            /* DBA__COPY_* of the column */
    int n;               /* elements so far */
};

static int arr_elem(void *arg, const char *key, const char *v, size_t len);

/* The JSON array v[0..n) as an array literal {..} into lit. */
static bool
arr_literal(struct arr *a, const char *v, size_t n)
{
    int keep = a->n;
    a->n = 0;
    dba_buf_putc(a->lit, '{');
    bool ok = dba__backup_scan(v, n, false, arr_elem, a) == DBA_OK;
    dba_buf_putc(a->lit, '}');
    a->n = keep;
    return ok;
}

static void
arr_quoted(struct dba_buf *lit, const char *p, size_t n)
{
    dba_buf_putc(lit, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            dba_buf_putc(lit, '\\');
        dba_buf_putc(lit, p[i]);
    }
    dba_buf_putc(lit, '"');
}

static int
arr_elem(void *arg, const char *key, const char *v, size_t len)
{
    struct arr *a = arg;
    enum dba_json_type t;
    DBA_UNUSED(key);
    size_t e = dba_json_value(v, len, 0, &t), s = dba_json_ws(v, len, 0);
    if (e == DBA_JSON_BAD)
        return DBA_EINVAL;
    if (a->n++ > 0)
        dba_buf_putc(a->lit, ',');
    switch (t) {
    case DBA_JSON_NULL:
        dba_buf_puts(a->lit, "NULL");
        return DBA_OK;
    case DBA_JSON_BOOL:
        dba_buf_append(a->lit, v + s, e - s);
        return DBA_OK;
    case DBA_JSON_NUMBER:
        if (a->kind != DBA__COPY_ARRAY_NUMERIC && has_exponent(v + s, e - s))
            return DBA_EINVAL;
        dba_buf_append(a->lit, v + s, e - s);
        return DBA_OK;
    case DBA_JSON_STRING:
        if (a->kind == DBA__COPY_ARRAY_JSONB) {
            arr_quoted(a->lit, v + s, e - s); /* a JSON string element of jsonb[] */
            return DBA_OK;
        }
        if (!copy_unescape(&a->tmp, v + s, e - s))
            return DBA_EINVAL;
        arr_quoted(a->lit, a->tmp.data, a->tmp.len);
        return DBA_OK;
    case DBA_JSON_ARRAY:
        return arr_literal(a, v + s, e - s) ? DBA_OK : DBA_EINVAL;
    case DBA_JSON_OBJECT:
        if (a->kind != DBA__COPY_ARRAY_JSONB)
            return DBA_EINVAL;
        arr_quoted(a->lit, v + s, e - s);
        return DBA_OK;
    }
    return DBA_EINVAL;
}

bool
dba__copy_value(struct dba_buf *out, const char *v, size_t n, int kind)
{
    enum dba_json_type t;
    size_t e = dba_json_value(v, n, 0, &t), s = dba_json_ws(v, n, 0);
    if (e == DBA_JSON_BAD)
        return false;
    if (t == DBA_JSON_NULL) {
        dba_buf_puts(out, "\\N");
        return true;
    }
    if (kind == DBA__COPY_JSON) {
        dba__copy_text(out, v + s, e - s);
        return true;
    }
    switch (t) {
    case DBA_JSON_NULL:
    case DBA_JSON_BOOL:
        dba_buf_append(out, v + s, e - s);
        return true;
    case DBA_JSON_NUMBER:
        if (kind != DBA__COPY_NUMERIC && has_exponent(v + s, e - s))
            return false;
        dba_buf_append(out, v + s, e - s);
        return true;
    case DBA_JSON_STRING: {
        struct dba_buf tmp;
        dba_buf_init(&tmp);
        bool ok = copy_unescape(&tmp, v + s, e - s);
        if (ok)
            dba__copy_text(out, tmp.data, tmp.len);
        dba_buf_cleanup(&tmp);
        return ok;
    }
    case DBA_JSON_ARRAY: {
        if (kind != DBA__COPY_ARRAY && kind != DBA__COPY_ARRAY_JSONB &&
            kind != DBA__COPY_ARRAY_NUMERIC)
            return false;
        struct dba_buf lit;
        dba_buf_init(&lit);
        struct arr a = { .lit = &lit, .kind = kind };
        dba_buf_init(&a.tmp);
        bool ok = arr_literal(&a, v + s, e - s);
        if (ok)
            dba__copy_text(out, lit.data, lit.len);
        dba_buf_cleanup(&a.tmp);
        dba_buf_cleanup(&lit);
        return ok;
    }
    case DBA_JSON_OBJECT:
        break;
    }
    return false;
}
