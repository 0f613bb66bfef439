/* mem.c - allocation that never returns NULL, growable buffers. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/core.h"

void *
dba_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        dba_fatal("out of memory (%zu bytes)", n);
    return p;
}

void *
dba_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        dba_fatal("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *
dba_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        dba_fatal("out of memory (%zu bytes)", n);
    return q;
}

char *
dba_xstrdup(const char *s)
{
    return dba_xstrndup(s, strlen(s));
}

char *
dba_xstrndup(const char *s, size_t n)
{
    char *p = dba_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void
mem_free(void *p)
{
    free(p);
}

void
dba_mem_init(void)
{
    json_set_alloc_funcs(dba_xmalloc, mem_free);
}

void
dba_buf_init(struct dba_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
dba_buf_cleanup(struct dba_buf *b)
{
    free(b->data);
    dba_buf_init(b);
}

void
dba_buf_reset(struct dba_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static void
buf_reserve(struct dba_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;

    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = dba_xrealloc(b->data, cap);
    b->cap = cap;
}

void
dba_buf_append(struct dba_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
dba_buf_puts(struct dba_buf *b, const char *s)
{
    dba_buf_append(b, s, strlen(s));
}

void
dba_buf_putc(struct dba_buf *b, char c)
{
    dba_buf_append(b, &c, 1);
}

void
dba_buf_printf(struct dba_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_list ap2;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

static void
buf_put_quoted(struct dba_buf *b, const char *s, char q)
{
    dba_buf_putc(b, q);
    for (const char *p = s; *p; p++) {
        if (*p == q)
            dba_buf_putc(b, q);
        dba_buf_putc(b, *p);
    }
    dba_buf_putc(b, q);
}

void
dba_buf_put_ident(struct dba_buf *b, const char *s)
{
    buf_put_quoted(b, s, '"');
}

void
dba_buf_put_literal(struct dba_buf *b, const char *s)
{
    /* standard_conforming_strings is on in every supported server: backslashes are plain. */
    buf_put_quoted(b, s, '\'');
}

void
dba_buf_put_text_array(struct dba_buf *b, const char *const *v, size_t n)
{
    dba_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            dba_buf_putc(b, ',');
        dba_buf_putc(b, '"');
        for (const char *p = v[i] ? v[i] : ""; *p; p++) {
            if (*p == '"' || *p == '\\')
                dba_buf_putc(b, '\\');
            dba_buf_putc(b, *p);
        }
        dba_buf_putc(b, '"');
    }
    dba_buf_putc(b, '}');
}

char *
dba_buf_take(struct dba_buf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = dba_xstrdup("");
    dba_buf_init(b);
    return p;
}

char *
dba_file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct dba_buf b;
    char chunk[65536];
    size_t n;

    if (f == NULL)
        return NULL;
    dba_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dba_buf_append(&b, chunk, n);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        dba_buf_cleanup(&b);
        errno = EIO;
        return NULL;
    }
    *len = b.len;
    return dba_buf_take(&b);
}
