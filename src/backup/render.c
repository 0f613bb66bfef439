/* render.c - a table's rows as row_to_json renders them, built by the client from the text
   format of a plain COPY: the server only reads and prints the columns (as pg_dump's COPY does),
   the client writes the JSON. Each column has a kind chosen from its type (through domains) so
   the bytes are exactly PostgreSQL's (json.c's datum_to_json): numbers as printed (NaN and
   Infinity as strings), booleans true/false, json and jsonb text as is, date and timestamps in
   the XSD form row_to_json uses (from their ISO output), every other built-in scalar type its
   output text as a JSON string. Anything else (arrays, composites, ranges, enums and the other
   types of extensions, which may have casts to json) is sent by the server as to_json(col)::text
   and copied as is. */
#include <stdlib.h>
#include <string.h>

#include "backup/backup_int.h"

/* Built-in type oids (pg_type.h; stable across versions). */
enum {
    RENDER_BOOL = 16, RENDER_BYTEA = 17, RENDER_CHAR = 18, RENDER_NAME = 19, RENDER_INT8 = 20,
    RENDER_INT2 = 21, RENDER_INT4 = 23, RENDER_TEXT = 25, RENDER_OID = 26, RENDER_JSON = 114,
    RENDER_CIDR = 650, RENDER_FLOAT4 = 700, RENDER_FLOAT8 = 701, RENDER_MACADDR = 829,
    RENDER_INET = 869, RENDER_BPCHAR = 1042, RENDER_VARCHAR = 1043, RENDER_DATE = 1082,
    RENDER_TIME = 1083, RENDER_TIMESTAMP = 1114, RENDER_TIMESTAMPTZ = 1184,
    RENDER_INTERVAL = 1186, RENDER_TIMETZ = 1266, RENDER_NUMERIC = 1700, RENDER_UUID = 2950,
    RENDER_JSONB = 3802,
};

static int
render_scalar_kind(unsigned oid, bool iso_dates)
{
    switch (oid) {
    case RENDER_BOOL:
        return DBA__RENDER_BOOL;
    case RENDER_INT2: case RENDER_INT4: case RENDER_INT8: case RENDER_FLOAT4: case RENDER_FLOAT8:
    case RENDER_NUMERIC:
        return DBA__RENDER_NUMBER;
    case RENDER_JSON: case RENDER_JSONB:
        return DBA__RENDER_RAW;
    case RENDER_DATE:
        return iso_dates ? DBA__RENDER_DATE : DBA__RENDER_SERVER;
    case RENDER_TIMESTAMP:
        return iso_dates ? DBA__RENDER_TIMESTAMP : DBA__RENDER_SERVER;
    case RENDER_TIMESTAMPTZ:
        return iso_dates ? DBA__RENDER_TIMESTAMPTZ : DBA__RENDER_SERVER;
    case RENDER_TEXT: case RENDER_VARCHAR: case RENDER_BPCHAR: case RENDER_NAME: case RENDER_CHAR:
    case RENDER_UUID: case RENDER_BYTEA: case RENDER_OID: case RENDER_INTERVAL: case RENDER_TIME:
    case RENDER_TIMETZ: case RENDER_INET: case RENDER_CIDR: case RENDER_MACADDR:
        return DBA__RENDER_STRING;
    default:
        return DBA__RENDER_SERVER;
    }
}

int
dba__render_kind(unsigned base_oid, unsigned elem_oid, bool iso_dates, int *elem)
{
    *elem = DBA__RENDER_SERVER;
    if (elem_oid == 0)
        return render_scalar_kind(base_oid, iso_dates);
    *elem = render_scalar_kind(elem_oid, iso_dates);
    return *elem != DBA__RENDER_SERVER ? DBA__RENDER_ARRAY : DBA__RENDER_SERVER;
}

/* The JSON string escape of PostgreSQL's escape_json: \b \f \n \r \t \" \\, other bytes below
   0x20 as \u00xx (lower-case hex), everything else (UTF-8 included) as is. Returns the bytes
   written at o (at most 6). */
static size_t
render_esc(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    if (c >= 0x20 && c != '"' && c != '\\') {
        o[0] = (char)c;
        return 1;
    }
    o[0] = '\\';
    switch (c) {
    case '\b': o[1] = 'b'; return 2;
    case '\f': o[1] = 'f'; return 2;
    case '\n': o[1] = 'n'; return 2;
    case '\r': o[1] = 'r'; return 2;
    case '\t': o[1] = 't'; return 2;
    case '"': o[1] = '"'; return 2;
    case '\\': o[1] = '\\'; return 2;
    default:
        memcpy(o + 1, "u00", 3);
        o[4] = hex[c >> 4];
        o[5] = hex[c & 15];
        return 6;
    }
}

static int
render_hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes the COPY escape starting at p[*i] == '\\' (p[0..n)); returns the byte and leaves *i
   on its last character. COPY TO writes \b \f \n \r \t \v and \\ (and \<other> for the other
   itself); \ooo and \xhh are read as COPY FROM reads them. */
static unsigned char
render_unesc(const char *p, size_t n, size_t *i)
{
    size_t k = *i + 1;
    if (k == n) /* a lone trailing backslash: itself */
        return '\\';
    char c = p[k];
    *i = k;
    switch (c) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'v': return '\v';
    case 'x':
        if (k + 1 < n && render_hexval(p[k + 1]) >= 0) {
            int v = render_hexval(p[++k]);
            if (k + 1 < n && render_hexval(p[k + 1]) >= 0)
                v = v * 16 + render_hexval(p[++k]);
            *i = k;
            return (unsigned char)v;
        }
        return 'x';
    default:
        if (c >= '0' && c <= '7') {
            int v = c - '0';
            for (int d = 0; d < 2 && k + 1 < n && p[k + 1] >= '0' && p[k + 1] <= '7'; d++)
                v = v * 8 + (p[++k] - '0');
            *i = k;
            return (unsigned char)v;
        }
        return (unsigned char)c;
    }
}

/* COPY field p[0..n) unescaped into o; returns the length (never more than n). */
static size_t
render_copy_text(char *o, const char *p, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        o[w++] = p[i] != '\\' ? p[i] : (char)render_unesc(p, n, &i);
    return w;
}

/* COPY field p[0..n) as a JSON string (escape_json of its unescaped text) at o. */
static size_t
render_copy_string(char *o, const char *p, size_t n)
{
    size_t w = 0;
    o[w++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\\')
            c = render_unesc(p, n, &i);
        w += render_esc(o + w, c);
    }
    o[w++] = '"';
    return w;
}

bool
dba__render_json_number(const char *p, size_t n)
{
    size_t i = 0;
    if (i < n && p[i] == '-')
        i++;
    if (i < n && p[i] == '0') {
        i++;
    } else if (i < n && p[i] >= '1' && p[i] <= '9') {
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && p[i] == '.') {
        if (++i == n || p[i] < '0' || p[i] > '9')
            return false;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i == n || p[i] < '0' || p[i] > '9')
            return false;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    return i == n;
}

/* A timestamp's ISO text t[0..n) (already unescaped) in row_to_json's XSD form at o: 'T'
   between date and time and, with a time zone (tz), the offset always with minutes
   ("+05" -> "+05:00"); infinity and BC stay as they are. */
static size_t
render_timestamp(char *o, const char *t, size_t n, bool tz)
{
    size_t w = 0, i = 0;
    o[w++] = '"';
    while (i < n && t[i] != ' ')
        o[w++] = t[i++];
    if (i < n) {
        o[w++] = 'T';
        i++;
        while (i < n && ((t[i] >= '0' && t[i] <= '9') || t[i] == ':' || t[i] == '.'))
            o[w++] = t[i++];
        if (tz && i < n && (t[i] == '+' || t[i] == '-')) {
            size_t s = i;
            o[w++] = t[i++];
            while (i < n && t[i] >= '0' && t[i] <= '9')
                o[w++] = t[i++];
            if (i - s > 1 && (i == n || t[i] != ':')) {
                memcpy(o + w, ":00", 3);
                w += 3;
            }
        }
        while (i < n)
            o[w++] = t[i++];
    }
    o[w++] = '"';
    return w;
}

/* The value t[0..n) (plain text, no COPY escapes) of a scalar kind at o. */
static size_t
render_plain(char *o, int kind, const char *t, size_t n)
{
    size_t w = 0;
    switch (kind) {
    case DBA__RENDER_BOOL:
        if (n == 1 && (t[0] == 't' || t[0] == 'f')) {
            memcpy(o, t[0] == 't' ? "true" : "false", t[0] == 't' ? 4 : 5);
            return t[0] == 't' ? 4 : 5;
        }
        break; /* not boolean output: keep the bytes visible as a string */
    case DBA__RENDER_NUMBER:
        if (!dba__render_json_number(t, n))
            break;
        /* fall through */
    case DBA__RENDER_RAW:
        memcpy(o, t, n);
        return n;
    case DBA__RENDER_DATE:
        o[0] = '"';
        memcpy(o + 1, t, n);
        o[n + 1] = '"';
        return n + 2;
    case DBA__RENDER_TIMESTAMP:
    case DBA__RENDER_TIMESTAMPTZ:
        return render_timestamp(o, t, n, kind == DBA__RENDER_TIMESTAMPTZ);
    default:
        break;
    }
    o[w++] = '"';
    for (size_t i = 0; i < n; i++)
        w += render_esc(o + w, (unsigned char)t[i]);
    o[w++] = '"';
    return w;
}

/* An array's output text t[0..n) (array_out's: optional "[lo:hi]=" bounds, nested braces,
   elements separated by commas, NULL, elements in double quotes with \" and \\ when they need
   them) as array_to_json writes it, elements of kind elem, at o. t is changed (quoted elements
   are unescaped in place). (size_t)-1 when t is not an array's text. */
static size_t
render_array(char *o, int elem, char *t, size_t n)
{
    size_t w = 0, i = 0;
    int depth = 0;
    if (i < n && t[i] == '[') { /* bounds: array_to_json leaves them out */
        while (i < n && t[i] != '=')
            i++;
        i++;
    }
    if (i >= n || t[i] != '{')
        return (size_t)-1;
    while (i < n) {
        char c = t[i];
        if (c == '{') {
            o[w++] = '[';
            depth++;
            i++;
        } else if (c == '}') {
            o[w++] = ']';
            i++;
            if (--depth == 0)
                break;
        } else if (c == ',') {
            o[w++] = ',';
            i++;
        } else if (c == '"') {
            size_t s = ++i, m = s;
            while (i < n && t[i] != '"') {
                if (t[i] == '\\' && i + 1 < n)
                    i++;
                t[m++] = t[i++];
            }
            if (i == n)
                return (size_t)-1;
            i++;
            w += render_plain(o + w, elem, t + s, m - s);
        } else {
            size_t s = i;
            while (i < n && t[i] != ',' && t[i] != '}')
                i++;
            if (i - s == 4 && memcmp(t + s, "NULL", 4) == 0) {
                memcpy(o + w, "null", 4);
                w += 4;
            } else {
                w += render_plain(o + w, elem, t + s, i - s);
            }
        }
    }
    return depth == 0 && i == n ? w : (size_t)-1;
}

void
dba__render_init(struct dba__render *r)
{
    memset(r, 0, sizeof(*r));
}

void
dba__render_cleanup(struct dba__render *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->cols[i].name);
        free(r->cols[i].head);
    }
    free(r->cols);
    free(r->scratch);
    memset(r, 0, sizeof(*r));
}

void
dba__render_add(struct dba__render *r, const char *name, int kind, int elem)
{
    size_t n = strlen(name);
    char *h = dba_xmalloc(6 * n + 4);
    size_t w = 0;
    h[w++] = r->n == 0 ? '{' : ',';
    h[w++] = '"';
    for (size_t i = 0; i < n; i++)
        w += render_esc(h + w, (unsigned char)name[i]);
    h[w++] = '"';
    h[w++] = ':';
    r->cols = dba_xrealloc(r->cols, (r->n + 1) * sizeof(*r->cols));
    r->cols[r->n].name = dba_xstrdup(name);
    r->cols[r->n].head = h;
    r->cols[r->n].head_len = w;
    r->cols[r->n].kind = kind;
    r->cols[r->n].elem = elem;
    r->heads_len += w;
    r->n++;
}

/* Makes room for extra more bytes in out (plus the NUL dba_buf keeps). */
static void
render_reserve(struct dba_buf *out, size_t extra)
{
    size_t need = out->len + extra + 1;
    if (need <= out->cap)
        return;
    size_t cap = out->cap > 0 ? out->cap : 64;
    while (cap < need)
        cap *= 2;
    out->data = dba_xrealloc(out->data, cap);
    out->cap = cap;
}

/* One field (not NULL) of kind at o; returns the bytes written. */
static size_t
render_field(struct dba__render *r, char *o, const struct dba__render_col *col, const char *f,
             size_t n)
{
    size_t m;
    int kind = col->kind;
    switch (kind) {
    case DBA__RENDER_ARRAY:
        m = render_copy_text(r->scratch, f, n);
        m = render_array(o, col->elem, r->scratch, m);
        if (m != (size_t)-1)
            return m;
        return render_copy_string(o, f, n); /* not an array's text: keep it visible */
    case DBA__RENDER_BOOL:
        if (n == 1 && (f[0] == 't' || f[0] == 'f')) {
            memcpy(o, f[0] == 't' ? "true" : "false", f[0] == 't' ? 4 : 5);
            return f[0] == 't' ? 4 : 5;
        }
        return render_copy_string(o, f, n); /* not boolean output: keep the bytes visible */
    case DBA__RENDER_NUMBER:
        if (memchr(f, '\\', n) == NULL) {
            if (dba__render_json_number(f, n)) {
                memcpy(o, f, n);
                return n;
            }
            return render_copy_string(o, f, n);
        }
        m = render_copy_text(r->scratch, f, n);
        if (dba__render_json_number(r->scratch, m)) {
            memcpy(o, r->scratch, m);
            return m;
        }
        return render_copy_string(o, f, n);
    case DBA__RENDER_DATE:
        o[0] = '"';
        m = render_copy_text(o + 1, f, n);
        o[m + 1] = '"';
        return m + 2;
    case DBA__RENDER_TIMESTAMP:
    case DBA__RENDER_TIMESTAMPTZ:
        m = render_copy_text(r->scratch, f, n);
        return render_timestamp(o, r->scratch, m, kind == DBA__RENDER_TIMESTAMPTZ);
    case DBA__RENDER_STRING:
        return render_copy_string(o, f, n);
    default: /* RAW, SERVER: JSON text */
        return render_copy_text(o, f, n);
    }
}

bool
dba__render_row(struct dba__render *r, struct dba_buf *out, const char *line, size_t len)
{
    /* the most a field can grow: 6 bytes per byte (a control character as \u00xx), plus quotes
       and the ":00" of a time zone; "null" for the 2 bytes of \N */
    render_reserve(out, 6 * len + 8 * r->n + r->heads_len + 2);
    if (r->scratch_cap < len + 1) {
        free(r->scratch);
        r->scratch_cap = len + 1;
        r->scratch = dba_xmalloc(r->scratch_cap);
    }
    char *o = out->data + out->len;
    size_t w = 0, pos = 0;
    if (r->n == 0) {
        if (len != 0)
            return false;
        memcpy(o, "{}", 2);
        w = 2;
    }
    for (size_t c = 0; c < r->n; c++) {
        if (pos > len)
            return false; /* fewer fields than columns */
        const char *f = line + pos;
        const char *tab = memchr(f, '\t', len - pos);
        size_t n = tab != NULL ? (size_t)(tab - f) : len - pos;
        if ((tab != NULL) != (c + 1 < r->n))
            return false; /* more or fewer fields than columns */
        memcpy(o + w, r->cols[c].head, r->cols[c].head_len);
        w += r->cols[c].head_len;
        if (n == 2 && f[0] == '\\' && f[1] == 'N') {
            memcpy(o + w, "null", 4);
            w += 4;
        } else {
            w += render_field(r, o + w, &r->cols[c], f, n);
        }
        pos += n + 1;
    }
    if (r->n > 0)
        o[w++] = '}';
    out->len += w;
    out->data[out->len] = '\0';
    return true;
}
