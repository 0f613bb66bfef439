/* json_scan.c - a validating JSON scanner that builds nothing: used where a body may be large
   (bulk inserts) and a tree of it would cost more time and memory than the request itself. */
#include <string.h>

#include "core/core.h"

#define JSON_MAX_DEPTH 512

size_t
dba_json_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* p[i] is '"'; returns the index past the closing quote. */
static size_t
json_string(const char *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return DBA_JSON_BAD;
        if (c != '\\')
            continue;
        if (++i >= n)
            return DBA_JSON_BAD;
        if (p[i] == 'u') {
            if (i + 4 >= n)
                return DBA_JSON_BAD;
            for (int k = 1; k <= 4; k++)
                if (dba_hex_digit(p[i + k]) < 0)
                    return DBA_JSON_BAD;
            i += 4;
        } else if (strchr("\"\\/bfnrt", p[i]) == NULL || p[i] == '\0') {
            return DBA_JSON_BAD;
        }
    }
    return DBA_JSON_BAD;
}

static size_t
json_digits(const char *p, size_t n, size_t i)
{
    size_t start = i;

    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    return i > start ? i : DBA_JSON_BAD;
}

static size_t
json_number(const char *p, size_t n, size_t i)
{
    if (p[i] == '-')
        i++;
    if (i < n && p[i] == '0')
        i++;
    else if ((i = json_digits(p, n, i)) == DBA_JSON_BAD)
        return DBA_JSON_BAD;
    if (i < n && p[i] == '.' && (i = json_digits(p, n, i + 1)) == DBA_JSON_BAD)
        return DBA_JSON_BAD;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        i = json_digits(p, n, i);
    }
    return i;
}

static size_t
json_literal(const char *p, size_t n, size_t i, const char *word)
{
    size_t len = strlen(word);

    return n - i >= len && memcmp(p + i, word, len) == 0 ? i + len : DBA_JSON_BAD;
}

static size_t json_any(const char *p, size_t n, size_t i, int depth, enum dba_json_type *t);

/* Members of an object or elements of an array; p[i] is the opening bracket. */
static size_t
json_container(const char *p, size_t n, size_t i, int depth, bool object)
{
    char close = object ? '}' : ']';

    if (depth > JSON_MAX_DEPTH)
        return DBA_JSON_BAD;
    i = dba_json_ws(p, n, i + 1);
    if (i < n && p[i] == close)
        return i + 1;
    while (i < n) {
        if (object) {
            if (p[i] != '"' || (i = json_string(p, n, i)) == DBA_JSON_BAD)
                return DBA_JSON_BAD;
            i = dba_json_ws(p, n, i);
            if (i >= n || p[i] != ':')
                return DBA_JSON_BAD;
            i++;
        }
        if ((i = json_any(p, n, i, depth + 1, NULL)) == DBA_JSON_BAD)
            return DBA_JSON_BAD;
        i = dba_json_ws(p, n, i);
        if (i < n && p[i] == close)
            return i + 1;
        if (i >= n || p[i] != ',')
            return DBA_JSON_BAD;
        i = dba_json_ws(p, n, i + 1);
    }
    return DBA_JSON_BAD;
}

static size_t
json_any(const char *p, size_t n, size_t i, int depth, enum dba_json_type *t)
{
    enum dba_json_type dummy;

    if (t == NULL)
        t = &dummy;
    i = dba_json_ws(p, n, i);
    if (i >= n)
        return DBA_JSON_BAD;
    switch (p[i]) {
    case '{':
        *t = DBA_JSON_OBJECT;
        return json_container(p, n, i, depth, true);
    case '[':
        *t = DBA_JSON_ARRAY;
        return json_container(p, n, i, depth, false);
    case '"':
        *t = DBA_JSON_STRING;
        return json_string(p, n, i);
    case 't':
        *t = DBA_JSON_BOOL;
        return json_literal(p, n, i, "true");
    case 'f':
        *t = DBA_JSON_BOOL;
        return json_literal(p, n, i, "false");
    case 'n':
        *t = DBA_JSON_NULL;
        return json_literal(p, n, i, "null");
    default:
        *t = DBA_JSON_NUMBER;
        return (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')) ? json_number(p, n, i) : DBA_JSON_BAD;
    }
}

size_t
dba_json_value(const char *p, size_t n, size_t i, enum dba_json_type *type)
{
    return json_any(p, n, i, 0, type);
}

static void
json_put_utf8(struct dba_buf *b, unsigned cp)
{
    char o[4];
    size_t k;

    if (cp < 0x80) {
        o[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    dba_buf_append(b, o, k);
}

static unsigned
json_u4(const char *p)
{
    return (unsigned)(dba_hex_digit(p[0]) << 12 | dba_hex_digit(p[1]) << 8 | dba_hex_digit(p[2]) << 4 |
                      dba_hex_digit(p[3]));
}

bool
dba_json_unescape(struct dba_buf *b, const char *p, size_t len)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";

    for (size_t i = 1; i + 1 < len; i++) {
        size_t run = i;
        while (run + 1 < len && p[run] != '\\')
            run++;
        dba_buf_append(b, p + i, run - i);
        if ((i = run) + 1 >= len)
            break;
        char e = p[++i];
        if (e != 'u') {
            const char *k = strchr(from, e);
            if (k == NULL || e == '\0')
                return false;
            dba_buf_putc(b, to[k - from]);
            continue;
        }
        if (i + 4 >= len)
            return false;
        unsigned cp = json_u4(p + i + 1);
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < len && p[i + 1] == '\\' && p[i + 2] == 'u') {
            unsigned lo = json_u4(p + i + 3);
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
        }
        if (cp == 0 || (cp >= 0xD800 && cp < 0xE000))
            return false; /* PostgreSQL text cannot hold NUL or lone surrogates */
        json_put_utf8(b, cp);
    }
    return true;
}
