/* arena.c - request-lifetime memory: bump allocation in chunks, deferred cleanups. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define ARENA_CHUNK 8192

struct arena_chunk {
    struct arena_chunk *next; /* older chunk */
    size_t used;              /* bytes handed out from data */
    size_t cap;               /* bytes available in data */
    _Alignas(16) unsigned char data[]; /* the memory */
};

struct arena_cleanup {
    struct arena_cleanup *next; /* registered earlier */
    dba_arena_cleanup_cb cb;    /* what to call */
    void *p;                    /* its argument */
};

struct dba_arena {
    struct arena_chunk *chunks;     /* newest first */
    struct arena_cleanup *cleanups; /* newest first */
};

static atomic_long arena_live;

struct dba_arena *
dba_arena_new(void)
{
    struct dba_arena *a = dba_xcalloc(1, sizeof(*a));

    atomic_fetch_add(&arena_live, 1);
    return a;
}

void
dba_arena_free(struct dba_arena *a)
{
    if (a == NULL)
        return;
    while (a->cleanups != NULL) {
        struct arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->cb(c->p);
    }
    while (a->chunks != NULL) {
        struct arena_chunk *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
    free(a);
    atomic_fetch_sub(&arena_live, 1);
}

long
dba_arena_live(void)
{
    return atomic_load(&arena_live);
}

void *
dba_arena_alloc(struct dba_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_chunk *c = a->chunks;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK / 2 ? n : ARENA_CHUNK;
        c = dba_xmalloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        if (n > ARENA_CHUNK / 2 && a->chunks != NULL) {
            /* A big block goes behind the current chunk so its free space stays usable. */
            c->next = a->chunks->next;
            a->chunks->next = c;
        } else {
            c->next = a->chunks;
            a->chunks = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *
dba_arena_strndup(struct dba_arena *a, const char *s, size_t n)
{
    char *p = dba_arena_alloc(a, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
dba_arena_strdup(struct dba_arena *a, const char *s)
{
    return s ? dba_arena_strndup(a, s, strlen(s)) : NULL;
}

char *
dba_arena_printf(struct dba_arena *a, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return dba_arena_strdup(a, "");
    char *p = dba_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void
dba_arena_defer(struct dba_arena *a, dba_arena_cleanup_cb cb, void *p)
{
    struct arena_cleanup *c = dba_arena_alloc(a, sizeof(*c));

    c->cb = cb;
    c->p = p;
    c->next = a->cleanups;
    a->cleanups = c;
}
