/* spool.c - the bodies of POST /restore and POST /backup/validate, written to a file as they
   arrive instead of gathered in memory. A backup may be far larger than any other body, so from
   an admin caller (the only one those routes serve; others keep the in-memory path and its
   server.max_body_bytes, and are refused by the route) each chunk MHD hands the access handler
   goes to a temporary file unlinked at once, gunzipped on the way when the body was sent with
   Content-Encoding: gzip. The route then hands the file's descriptor to its task, which reads the
   backup as the CLI reads a file (mapped, or line by line for jsonl), so memory stays flat
   whatever the size. The limit - server.max_body_bytes, or backup.max_restore_bytes for
   /restore - counts the bytes received and the bytes decompressed (a gzip bomb stops at the
   limit); a body over it is dropped as it comes and answered 413 at its end, as the in-memory
   path answers. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <zlib.h>

#include "http/http_int.h"

#define SPOOL_OUT_BYTES (64u * 1024u) /* inflate's output buffer */

enum spool_state {
    SPOOL_OK,        /* writing */
    SPOOL_TOO_BIG,   /* over the limit: the rest is dropped, 413 at the end */
    SPOOL_BAD_GZIP,  /* not a well-formed gzip stream: dropped, 400 */
    SPOOL_BAD_CODING, /* a Content-Encoding other than gzip or identity: dropped, 415 */
    SPOOL_IO,        /* the temporary file failed: dropped, 500 */
};

struct http_spool {
    int fd;                 /* the unlinked temporary file, or -1 (taken, or never made) */
    enum spool_state state; /* see enum */
    bool restore;           /* POST /restore (its own limit) */
    bool gzip;              /* Content-Encoding: gzip */
    bool z_live;            /* z was initialised */
    bool z_member_end;      /* the last gzip member ended (more input starts another) */
    z_stream z;             /* the inflater */
    char *out;              /* its output buffer (SPOOL_OUT_BYTES), or NULL */
    uint64_t max;           /* the limit, 0 = none */
    uint64_t in;            /* bytes received */
    uint64_t written;       /* bytes written to the file (decompressed) */
    char coding[64];        /* the refused Content-Encoding */
};

static void
spool_free(void *arg)
{
    struct http_spool *sp = arg;

    if (sp->fd >= 0)
        close(sp->fd);
    if (sp->z_live)
        inflateEnd(&sp->z);
    free(sp->out);
    free(sp);
}

/* Whether r is a POST /restore or /backup/validate the operational routes will serve (table
   routes under server.base_path come first on the public port, as router.c decides). */
static bool
spool_route(struct req *r, bool *restore)
{
    const struct dba_config *cfg = r->w->srv->cfg;
    const char *base = cfg->server.base_path ? cfg->server.base_path : "/tables";
    size_t blen = strlen(base);

    if (strcmp(r->method, "POST") != 0)
        return false;
    *restore = strcmp(r->url, "/restore") == 0;
    if (!*restore && strcmp(r->url, "/backup/validate") != 0)
        return false;
    if (!dba__http_on_admin_listener(r) && blen > 0 && strncmp(r->url, base, blen) == 0 &&
        (r->url[blen] == '/' || r->url[blen] == '\0'))
        return false;
    /* Only an admin caller's body is spooled: anyone else's is refused by the route, and must
       not reach the disk. The policy step runs again when the request is routed. */
    dba__http_policy_begin(r);
    return r->pol.caller == HTTP_CALLER_ADMIN;
}

/* Content-Encoding: none, identity or gzip (x-gzip); anything else is kept for the 415. */
static void
spool_coding(struct req *r, struct http_spool *sp)
{
    const char *ce = dba__http_header_all(r, "Content-Encoding");

    if (ce == NULL)
        return;
    ce += strspn(ce, " \t");
    size_t n = strlen(ce);
    while (n > 0 && (ce[n - 1] == ' ' || ce[n - 1] == '\t'))
        n--;
    if (n == 0 || (n == 8 && strncasecmp(ce, "identity", 8) == 0))
        return;
    if ((n == 4 && strncasecmp(ce, "gzip", 4) == 0) || (n == 6 && strncasecmp(ce, "x-gzip", 6) == 0)) {
        sp->gzip = true;
        return;
    }
    sp->state = SPOOL_BAD_CODING;
    snprintf(sp->coding, sizeof(sp->coding), "%.*s", (int)(n < 60 ? n : 60), ce);
}

static struct http_spool *
spool_new(struct req *r, bool restore)
{
    const struct dba_config *cfg = r->w->srv->cfg;
    struct http_spool *sp = dba_xcalloc(1, sizeof(*sp));
    int64_t max = restore && cfg->backup.max_restore_bytes > 0 ? cfg->backup.max_restore_bytes
                                                               : cfg->server.max_body_bytes;

    sp->fd = -1;
    sp->restore = restore;
    sp->max = max > 0 ? (uint64_t)max : 0;
    dba_arena_defer(r->a, spool_free, sp);
    spool_coding(r, sp);
    if (sp->state != SPOOL_OK)
        return sp;
    if (sp->gzip) {
        /* 16 + MAX_WBITS: a gzip header and trailer, checked (CRC-32 and length) */
        if (inflateInit2(&sp->z, 16 + MAX_WBITS) != Z_OK) {
            sp->state = SPOOL_IO;
            return sp;
        }
        sp->z_live = true;
        sp->out = dba_xmalloc(SPOOL_OUT_BYTES);
    }
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/dba-body-XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    sp->fd = mkostemp(path, O_CLOEXEC);
    if (sp->fd < 0) {
        dba_log(DBA_LOG_ERROR, "req %llu: cannot create a temporary file for the body: %s",
                (unsigned long long)r->seq, strerror(errno));
        sp->state = SPOOL_IO;
        return sp;
    }
    unlink(path);
    return sp;
}

/* Gives the file's blocks back once the body is refused. */
static void
spool_drop(struct http_spool *sp, enum spool_state why)
{
    sp->state = why;
    if (sp->fd >= 0 && ftruncate(sp->fd, 0) != 0) {
        close(sp->fd);
        sp->fd = -1;
    }
}

static void
spool_write(struct http_spool *sp, const char *p, size_t n)
{
    if (sp->max > 0 && n > sp->max - sp->written) {
        spool_drop(sp, SPOOL_TOO_BIG);
        return;
    }
    sp->written += n;
    while (n > 0) {
        ssize_t k = write(sp->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            dba_log(DBA_LOG_ERROR, "cannot spool a request body: %s",
                    k < 0 ? strerror(errno) : "short write");
            spool_drop(sp, SPOOL_IO);
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

/* Inflates p[0..n) into the file; gzip members may follow one another (as gzip -c a b). */
static void
spool_inflate(struct http_spool *sp, const char *p, size_t n)
{
    z_stream *z = &sp->z;

    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = (uInt)n;
    while (sp->state == SPOOL_OK) {
        if (sp->z_member_end) {
            if (z->avail_in == 0)
                return;
            if (inflateReset(z) != Z_OK) {
                spool_drop(sp, SPOOL_BAD_GZIP);
                return;
            }
            sp->z_member_end = false;
        }
        z->next_out = (Bytef *)sp->out;
        z->avail_out = SPOOL_OUT_BYTES;
        int rc = inflate(z, Z_NO_FLUSH);
        size_t got = SPOOL_OUT_BYTES - z->avail_out;
        if (got > 0)
            spool_write(sp, sp->out, got);
        if (rc == Z_STREAM_END) {
            sp->z_member_end = true;
            continue;
        }
        if (rc == Z_BUF_ERROR && z->avail_in == 0)
            return; /* all input used: the next chunk continues */
        if (rc != Z_OK) {
            spool_drop(sp, SPOOL_BAD_GZIP);
            return;
        }
        if (z->avail_in == 0 && z->avail_out > 0)
            return;
    }
}

bool
dba__http_spool_chunk(struct req *r, const char *p, size_t n)
{
    bool restore = false;

    if (!r->spool_decided) {
        r->spool_decided = true;
        if (spool_route(r, &restore))
            r->spool = spool_new(r, restore);
    }
    struct http_spool *sp = r->spool;
    if (sp == NULL)
        return false;
    if (sp->state != SPOOL_OK)
        return true; /* refused: the rest is dropped */
    if (sp->max > 0 && n > sp->max - sp->in) {
        spool_drop(sp, SPOOL_TOO_BIG);
        return true;
    }
    sp->in += n;
    if (sp->gzip)
        spool_inflate(sp, p, n);
    else
        spool_write(sp, p, n);
    return true;
}

bool
dba__http_spool_end(struct req *r, enum MHD_Result *ret)
{
    struct http_spool *sp = r->spool;

    if (sp == NULL)
        return true;
    /* A gzip stream must end with a whole member (header, data, CRC-32 and length). */
    if (sp->state == SPOOL_OK && sp->gzip && !sp->z_member_end)
        spool_drop(sp, SPOOL_BAD_GZIP);
    if (sp->state == SPOOL_OK && lseek(sp->fd, 0, SEEK_SET) != 0)
        spool_drop(sp, SPOOL_IO);
    switch (sp->state) {
    case SPOOL_OK:
        return true;
    case SPOOL_TOO_BIG:
        *ret = dba__http_error(
            r, 413, "DBA413", "request body too large",
            dba_arena_printf(r->a, "The body%s is limited to %llu bytes.",
                             sp->gzip ? ", and its decompressed size," : "",
                             (unsigned long long)sp->max),
            sp->restore ? "Raise backup.max_restore_bytes (or server.max_body_bytes)."
                        : "Raise server.max_body_bytes.");
        return false;
    case SPOOL_BAD_GZIP:
        *ret = dba__http_error(r, 400, "PGRST102",
                               "the request body is not a well-formed gzip stream", NULL,
                               "Send the body gzip-compressed whole, or without "
                               "Content-Encoding: gzip.");
        return false;
    case SPOOL_BAD_CODING:
        *ret = dba__http_error(r, 415, "DBA415",
                               dba_arena_printf(r->a, "unsupported Content-Encoding: %s",
                                                sp->coding),
                               NULL, "Send the body as is or gzip-compressed "
                                     "(Content-Encoding: gzip).");
        return false;
    case SPOOL_IO:
        *ret = dba__http_error(r, 500, "DBA500", "cannot spool the request body", NULL,
                               "Check the free space of $TMPDIR (/tmp).");
        return false;
    }
    return true;
}

int
dba__http_spool_take(struct req *r)
{
    struct http_spool *sp = r->spool;
    int fd = sp != NULL ? sp->fd : -1;

    if (sp != NULL)
        sp->fd = -1;
    return fd;
}
