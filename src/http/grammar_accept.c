/* grammar_accept.c - content negotiation on the Accept header.
 *
 * Follows PostgREST (http-types parseHttpAccept): spaces are dropped, ";q=" and what follows it
 * is cut off, entries are ordered by q-value and then by specificity (semicolons minus stars),
 * keeping the client's order on ties, and the first type we can produce wins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/grammar_int.h"

#define ACC_MAX 64

struct acc_item {
    char type[128]; /* media range without spaces and without ";q=..." */
    double q;       /* quality, 1.0 by default */
    int spec;       /* semicolons minus stars */
};

/* Copies s[0..n) without spaces into it->type and reads the q-value. */
static void
acc_item_parse(struct acc_item *it, const char *s, size_t n)
{
    size_t o = 0;
    char *qs;

    for (size_t i = 0; i < n && o + 1 < sizeof(it->type); i++)
        if (s[i] != ' ')
            it->type[o++] = s[i];
    it->type[o] = '\0';
    it->q = 1.0;
    qs = strstr(it->type, ";q=");
    if (qs) {
        const char *d = qs + 3;

        if ((d[0] >= '0' && d[0] <= '9') || (d[0] == '-' && d[1] >= '0' && d[1] <= '9'))
            it->q = strtod(d, NULL);
        *qs = '\0';
    }
    it->spec = 0;
    for (const char *p = it->type; *p; p++)
        it->spec += *p == ';' ? 1 : *p == '*' ? -1 : 0;
}

static bool
acc_has_param(const char *params, const char *want)
{
    while (params && *params) {
        size_t n = strcspn(params, ";");

        if (n == strlen(want) && strncasecmp(params, want, n) == 0)
            return true;
        params += n;
        if (*params == ';')
            params++;
    }
    return false;
}

/* The media type a range selects, or -1 when we cannot produce it. */
static int
acc_classify(const char *type)
{
    size_t n = strcspn(type, ";");
    const char *params = type[n] ? type + n + 1 : "";
    bool stripped = acc_has_param(params, "nulls=stripped");

#define ACC_IS(lit) (n == strlen(lit) && strncasecmp(type, (lit), n) == 0)
    if (ACC_IS("application/json") || ACC_IS("*/*") || ACC_IS("application/*"))
        return DBA_MEDIA_JSON;
    if (ACC_IS("text/csv"))
        return DBA_MEDIA_CSV;
    if (ACC_IS("application/geo+json"))
        return DBA_MEDIA_GEOJSON;
    if (ACC_IS("application/vnd.pgrst.object+json") || ACC_IS("application/vnd.pgrst.object"))
        return stripped ? DBA_MEDIA_OBJECT_STRIPPED : DBA_MEDIA_OBJECT;
    if (ACC_IS("application/vnd.pgrst.array+json") || ACC_IS("application/vnd.pgrst.array"))
        return stripped ? DBA_MEDIA_ARRAY_STRIPPED : DBA_MEDIA_JSON;
#undef ACC_IS
    return -1;
}

/* Stable insertion sort: higher q first, then higher specificity. */
static void
acc_sort(struct acc_item *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct acc_item t = items[i];
        size_t j = i;

        while (j > 0 && (items[j - 1].q < t.q ||
                         (items[j - 1].q == t.q && items[j - 1].spec < t.spec))) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = t;
    }
}

static int
acc_none(const struct acc_item *items, size_t n, struct dba_err *err)
{
    struct dba_buf b;

    dba_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        dba_buf_printf(&b, "%s%s", i ? ", " : "", items[i].type);
    dba_err_set(err, DBA_EINVAL, 406, "PGRST107", "None of these media types are available: %s",
                b.data ? b.data : "");
    dba_buf_cleanup(&b);
    return DBA_EINVAL;
}

/* A custom handler for range it (not for PostgREST's vendored types, which keep their meaning). */
static const void *
acc_lookup(const struct acc_item *it, dba_http_accept_lookup lookup, void *arg)
{
    char range[sizeof(it->type)];
    size_t n = strcspn(it->type, ";");

    if (!lookup || strncasecmp(it->type, "application/vnd.pgrst.", 22) == 0)
        return NULL;
    for (size_t i = 0; i < n; i++)
        range[i] = (char)((it->type[i] >= 'A' && it->type[i] <= 'Z') ? it->type[i] + 32
                                                                     : it->type[i]);
    range[n] = '\0';
    return lookup(arg, range);
}

static int
acc_negotiate(const char *accept, dba_http_accept_lookup lookup, void *arg, enum dba_media *out,
              const void **handler, struct dba_err *err)
{
    struct acc_item *items;
    size_t n = 0;
    int rc;

    *out = DBA_MEDIA_JSON;
    if (handler)
        *handler = NULL;
    if (!accept || accept[strspn(accept, " \t")] == '\0') {
        if (lookup)
            return acc_negotiate("*/*", lookup, arg, out, handler, err);
        return DBA_OK;
    }
    items = dba_xcalloc(ACC_MAX, sizeof(*items));
    for (const char *s = accept; *s && n < ACC_MAX;) {
        size_t len = strcspn(s, ",");

        acc_item_parse(&items[n], s, len);
        if (items[n].type[0])
            n++;
        s += len;
        if (*s == ',')
            s++;
    }
    acc_sort(items, n);
    rc = -1;
    for (size_t i = 0; i < n && rc < 0; i++) {
        const void *h = acc_lookup(&items[i], lookup, arg);

        if (h) {
            *handler = h;
            rc = DBA_MEDIA_JSON;
            break;
        }
        rc = acc_classify(items[i].type);
    }
    if (rc >= 0) {
        *out = (enum dba_media)rc;
        rc = DBA_OK;
    } else {
        rc = acc_none(items, n, err);
    }
    free(items);
    return rc;
}

int
dba_http_grammar_accept(const char *accept, enum dba_media *out, struct dba_err *err)
{
    return acc_negotiate(accept, NULL, NULL, out, NULL, err);
}

int
dba_http_grammar_accept_handlers(const char *accept, dba_http_accept_lookup lookup, void *arg,
                                 enum dba_media *out, const void **handler, struct dba_err *err)
{
    return acc_negotiate(accept, lookup, arg, out, handler, err);
}
