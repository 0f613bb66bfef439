/* backup_routes.c - GET /backup, POST /backup/validate, POST /restore and POST /sync. Backups,
   validations, restores and syncs run the CLI's blocking core operations (backup/backup.h) on a
   task thread so the worker loop never blocks (a validation parses a body of any size). A backup
   is written to a temp file unlinked right after it is created, then streamed from its
   descriptor: memory stays flat, and a failed backup answers a clean error instead of a truncated
   200. A backup is gzip-compressed while it is written when asked: compress=gzip answers the
   .gz file itself (application/gzip), Accept-Encoding: gzip answers the document with
   Content-Encoding: gzip. A restore's or a validation's body was spooled to an unlinked temp
   file as it arrived (spool.c; decompressed when gzip-encoded): the task reads it as the CLI
   reads a file, mapped (JSON) or line by line (jsonl), so memory stays flat there too. All four
   are operator routes: the route table (ops.c) has checked the admin credential before they
   run; validation reads only the body. A profile with read_only = true refuses restores and
   confirmed syncs (403).

   Restore and sync answer their report as JSON: 200 when it went through (or for a dry run / a
   plan); 400 when the backup is invalid or a parameter is wrong; 409 when mode=fail met an
   existing row; 422 when the target lacks a table or column of the backup, or refused a row
   (constraint, type, ...). A report that is not 200 also carries the error's code, message,
   details and hint. Nothing is written in any of the error cases: the restore is one
   transaction. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <strings.h>
#include <unistd.h>

#include <zlib.h>

#include "backup/backup.h"
#include "http/http_int.h"

enum bk_op {
    BK_OP_BACKUP,   /* GET /backup */
    BK_OP_VALIDATE, /* POST /backup/validate */
    BK_OP_RESTORE, /* POST /restore */
    BK_OP_SYNC,    /* POST /sync */
};

/* How GET /backup is compressed. */
enum bk_gzip {
    BK_GZIP_NONE,     /* the document as is */
    BK_GZIP_FILE,     /* compress=gzip: the .gz file (application/gzip) */
    BK_GZIP_ENCODING, /* Accept-Encoding: gzip: the document, Content-Encoding: gzip */
};

/* The backup's descriptor, shared by the task and the request: whichever lets go last closes
   it. Only touched on the worker thread, except fd, written by the task before it reports. */
struct bk_box {
    int refs;         /* task + request */
    int fd;           /* the written backup, or -1 (closed, or handed to MHD) */
    enum bk_gzip gz;  /* how it was compressed */
};

struct bk_task {
    enum bk_op op;                      /* which operation */
    const struct dba_config *cfg;       /* borrowed: lives as long as the server */
    const struct dba_profile *p;        /* active profile, idem */
    const struct dba_profile *from;     /* sync source, idem */
    const char *conninfo;               /* server's conninfo, idem; secret */
    char *tables;                       /* ?tables=, owned, or NULL */
    char *user_id;                      /* ?user_id=, owned, or NULL */
    bool jsonl;                         /* ?format=jsonl */
    enum dba_backup_mode mode;          /* ?mode= */
    bool dry_run;                       /* restore: ?dry_run=true */
    bool confirm;                       /* sync: ?confirm=true */
    char *body;                         /* request body, owned, or NULL */
    size_t len;                         /* its length */
    int fd;                             /* validate/restore: the spooled body (owned), or -1:
                                           then body holds it */
    enum bk_gzip gz;                    /* backup: compression */
    struct bk_box *box;                 /* backup: shared descriptor */
    struct dba_catalog *cache;     /* validate: the worker's cache (own ref), or NULL */
};

static void
bk_box_unref(void *arg)
{
    struct bk_box *b = arg;

    if (--b->refs > 0)
        return;
    if (b->fd >= 0)
        close(b->fd);
    free(b);
}

static void
bk_task_free(void *arg)
{
    struct bk_task *t = arg;

    if (t->box != NULL)
        bk_box_unref(t->box);
    free(t->tables);
    free(t->user_id);
    free(t->body);
    if (t->fd >= 0)
        close(t->fd);
    dba_catalog_unref(t->cache);
    free(t);
}

static int
bk_write(void *arg, const char *p, size_t n)
{
    return fwrite(p, 1, n, arg) == n ? 0 : -1;
}

/* Dumps into a temp file unlinked at once; the box keeps the descriptor. */
static json_t *
bk_dump_tmp(struct bk_task *t, struct pg_conn *conn, const struct dba_backup_schema *s,
            struct dba_err *err)
{
    const char *dir = getenv("TMPDIR");
    char path[256];
    snprintf(path, sizeof(path), "%s/dba-backup-XXXXXX", dir != NULL && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    int wfd = fd >= 0 ? dup(fd) : -1;
    FILE *f = wfd >= 0 && t->gz == BK_GZIP_NONE ? fdopen(wfd, "w") : NULL;
    gzFile gz = wfd >= 0 && t->gz != BK_GZIP_NONE ? gzdopen(wfd, "wb6") : NULL;
    if (gz != NULL)
        gzbuffer(gz, 1u << 17);
    if (f == NULL && gz == NULL) {
        if (wfd >= 0)
            close(wfd);
        if (fd >= 0)
            close(fd);
        dba_err_set(err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot create a temp file");
        return NULL;
    }
    struct dba_backup_opts o = { .profile = t->p->name, .user_id = t->user_id, .jsonl = t->jsonl,
                                 .nsp = t->p->schemas.n > 0 ? t->p->schemas.v[0] : NULL,
                                 .write = gz != NULL ? dba_backup_write_gz : bk_write,
                                 .write_arg = gz != NULL ? (void *)gz : (void *)f };
    json_t *sum = dba_backup_dump(conn, s, &o, err);
    struct stat st;
    bool closed = gz != NULL ? gzclose(gz) == Z_OK : fclose(f) == 0;
    if ((!closed || fstat(fd, &st) != 0) && sum != NULL) {
        json_decref(sum);
        sum = NULL;
        dba_err_set(err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot write the backup");
    }
    if (sum == NULL) {
        close(fd);
        return NULL;
    }
    t->box->fd = fd;
    json_object_set_new(sum, "size", json_integer((json_int_t)st.st_size));
    return sum;
}

static json_t *
bk_run_backup(struct bk_task *t, struct dba_err *err)
{
    struct pg_conn *conn = dba_db_connect_blocking(t->conninfo, 10, err);
    if (conn == NULL)
        return NULL;
    json_t *sum = NULL;
    json_t *warnings = json_array();
    struct dba_backup_schema *s = dba_backup_schema_live(t->cfg, t->p, conn, err);
    if (s != NULL &&
        (t->tables == NULL || dba_backup_schema_filter(s, t->tables, warnings, err) == DBA_OK))
        sum = bk_dump_tmp(t, conn, s, err);
    if (sum != NULL)
        json_object_set(sum, "warnings", warnings);
    json_decref(warnings);
    dba_backup_schema_free(s);
    dba_db_close(conn);
    return sum;
}

/* The body a validation or a restore reads: the spooled file (a JSON document mapped, text
   set; jsonl read line by line from path, text NULL) or, when nothing was spooled (an empty
   body), the body in memory. */
struct bk_doc {
    const char *text; /* the JSON document, or NULL (jsonl: read from path) */
    size_t len;       /* its length */
    char *mapped;     /* text when mapped from the file (dba_backup_text_free), or NULL */
    char path[32];    /* the spooled file (unlinked: reopened through its descriptor) */
    json_t *meta;     /* its metadata */
};

static bool
bk_doc_open(const struct bk_task *t, struct bk_doc *d, struct dba_err *err)
{
    memset(d, 0, sizeof(*d));
    if (t->fd < 0) {
        d->text = t->body != NULL ? t->body : "";
        d->len = t->len;
        d->meta = dba_backup_text_metadata(d->text, d->len);
        return true;
    }
    snprintf(d->path, sizeof(d->path), "/proc/self/fd/%d", t->fd);
    d->meta = dba_backup_file_metadata(d->path, &d->mapped, &d->len, err);
    d->text = d->mapped;
    if (d->meta == NULL && err->msg[0] == '\0')
        dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "cannot read the backup's metadata");
    return d->meta != NULL;
}

static void
bk_doc_close(struct bk_doc *d)
{
    dba_backup_text_free(d->mapped);
    json_decref(d->meta);
}

/* POST /backup/validate, on the task thread (a big body takes a while to parse). */
static json_t *
bk_run_validate(struct bk_task *t)
{
    struct dba_err err;
    struct bk_doc d;
    struct dba_backup_schema *s = NULL;
    dba_err_clear(&err);
    if (bk_doc_open(t, &d, &err))
        s = dba_backup_schema_for(t->cfg, d.meta, d.text, d.len, t->cache,
                                  t->p->schemas.n > 0 ? t->p->schemas.v[0] : "public", &err);
    json_t *v = s == NULL ? json_pack("{s:b,s:[s],s:[]}", "valid", 0, "errors", err.msg,
                                      "warnings")
                : d.text != NULL ? dba_backup_validate_text(s, d.text, d.len)
                                 : dba_backup_validate_file(s, d.path);
    bk_doc_close(&d);
    dba_backup_schema_free(s);
    return v;
}

/* Status of a restore or sync report (see the top of the file). */
static unsigned
bk_report_status(const json_t *rep, const struct dba_err *err)
{
    if (json_is_true(json_object_get(rep, "ok")))
        return 200;
    if (json_object_get(rep, "validation") != NULL)
        return 400;
    if (json_object_get(rep, "failed") != NULL)
        return err->code == DBA_EINVAL && err->http_status == 409 ? 409 : 422;
    return dba__http_status(err, false, NULL);
}

static json_t *
bk_run_restore(struct bk_task *t, struct dba_err *err)
{
    struct pg_conn *conn = dba_db_connect_blocking(t->conninfo, 10, err);
    if (conn == NULL)
        return NULL;
    const char *const *nsp = (const char *const *)t->p->schemas.v;
    struct dba_backup_restore_opts o = { .mode = t->mode, .dry_run = t->dry_run,
                                         .user_id = t->user_id, .schemas = nsp,
                                         .n_schemas = t->p->schemas.n };
    json_t *rep = NULL;
    struct bk_doc d;
    bool opened = bk_doc_open(t, &d, err);
    struct dba_catalog *cache = opened ? dba_catalog_load(conn, nsp, o.n_schemas, err) : NULL;
    struct dba_backup_schema *s =
        cache != NULL ? dba_backup_schema_for(t->cfg, d.meta, d.text, d.len, cache, nsp[0], err)
                      : NULL;
    if (s != NULL)
        rep = d.text != NULL ? dba_backup_restore(conn, s, d.text, d.len, &o, err)
                             : dba_backup_restore_file(conn, s, d.path, &o, err);
    dba_backup_schema_free(s);
    dba_catalog_unref(cache);
    bk_doc_close(&d);
    dba_db_close(conn);
    return rep;
}

static json_t *
bk_task_run(void *arg, unsigned *status, struct dba_err *err)
{
    struct bk_task *t = arg;
    json_t *rep = NULL;

    switch (t->op) {
    case BK_OP_BACKUP:
        return bk_run_backup(t, err);
    case BK_OP_VALIDATE:
        return bk_run_validate(t);
    case BK_OP_RESTORE:
        rep = bk_run_restore(t, err);
        break;
    case BK_OP_SYNC: {
        struct dba_backup_sync_opts o = { .from = t->from, .to = t->p, .tables = t->tables,
                                          .user_id = t->user_id, .mode = t->mode,
                                          .confirm = t->confirm };
        rep = dba_backup_sync(t->cfg, &o, err);
        break;
    }
    }
    if (rep != NULL) {
        *status = bk_report_status(rep, err);
        if (*status != 200) { /* the error's own shape, next to the report */
            json_object_set_new(rep, "code", json_string(err->pgrst[0] ? err->pgrst
                                                                       : DBA_BACKUP_CODE));
            json_object_set_new(rep, "message", json_string(err->msg));
            json_object_set_new(rep, "details", err->detail[0] ? json_string(err->detail)
                                                               : json_null());
            json_object_set_new(rep, "hint", err->hint[0] ? json_string(err->hint) : json_null());
        }
    }
    return rep;
}


static enum MHD_Result
bk_backup_done(struct req *r)
{
    struct bk_box *box = r->ctx;
    if (r->failed)
        return dba__http_send_err(r, &r->err);
    json_int_t size = json_integer_value(json_object_get(r->task_result, "size"));
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)size, box->fd);
    if (resp == NULL)
        return dba__http_error(r, 500, "DBA500", "cannot stream the backup", NULL, NULL);
    box->fd = -1; /* MHD closes it with the response */
    const char *ext = strcmp(dba__http_query(r, "format") ? dba__http_query(r, "format") : "",
                             "jsonl") == 0 ? "jsonl" : "json";
    bool gz_file = box->gz == BK_GZIP_FILE;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    MHD_add_response_header(resp, "Content-Type", gz_file ? "application/gzip"
                                                  : strcmp(ext, "jsonl") == 0
                                                      ? "application/x-ndjson"
                                                      : "application/json; charset=utf-8");
    if (box->gz == BK_GZIP_ENCODING)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    MHD_add_response_header(resp, "Content-Disposition",
                            dba_arena_printf(r->a, "attachment; filename=\"%s-%s.%s%s\"",
                                             r->w->srv->active->name, ts, ext,
                                             gz_file ? ".gz" : ""));
    return dba__http_queue(r, 200, resp);
}

static char *
bk_dup(const char *s)
{
    return s != NULL && *s ? dba_xstrdup(s) : NULL;
}

/* Whether an Accept-Encoding value accepts gzip: "gzip" (or "x-gzip") listed with a q above 0,
   else "*" listed with one (RFC 9110 12.5.3). */
static bool
bk_accepts_gzip(const char *ae)
{
    int gzip = -1, star = -1; /* -1 not listed, 0 refused (q=0), 1 accepted */

    while (ae != NULL && *ae != '\0') {
        size_t n = strcspn(ae, ",");
        const char *p = ae, *end = ae + n;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        size_t k = 0;
        while (p + k < end && p[k] != ';' && p[k] != ' ' && p[k] != '\t')
            k++;
        const char *semi = memchr(p + k, ';', (size_t)(end - (p + k)));
        double q = 1;
        while (semi != NULL) { /* parameters: q=<value> is the one that counts */
            const char *v = semi + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            if (v + 1 < end && tolower((unsigned char)v[0]) == 'q' && v[1] == '=')
                q = strtod(v + 2, NULL);
            semi = memchr(v, ';', (size_t)(end - v));
        }
        int yes = q > 0 ? 1 : 0;
        if ((k == 4 && strncasecmp(p, "gzip", 4) == 0) ||
            (k == 6 && strncasecmp(p, "x-gzip", 6) == 0))
            gzip = gzip == 1 ? 1 : yes;
        else if (k == 1 && p[0] == '*')
            star = yes;
        ae = *end == ',' ? end + 1 : end;
    }
    return gzip >= 0 ? gzip == 1 : star == 1;
}

/* GET /backup's compression: compress=gzip|none, else Accept-Encoding. Queues a 400 into *ret
   and returns false for another compress value. */
static bool
bk_parse_gzip(struct req *r, struct bk_task *t, enum MHD_Result *ret)
{
    const char *c = dba__http_query(r, "compress");

    if (c == NULL) {
        t->gz = bk_accepts_gzip(dba__http_header_all(r, "Accept-Encoding")) ? BK_GZIP_ENCODING
                                                                            : BK_GZIP_NONE;
        return true;
    }
    if (strcmp(c, "gzip") == 0 || strcmp(c, "none") == 0) {
        t->gz = c[0] == 'g' ? BK_GZIP_FILE : BK_GZIP_NONE;
        return true;
    }
    *ret = dba__http_error(r, 400, DBA_BACKUP_CODE, "compress must be gzip or none", NULL,
                           "Leave it out to follow Accept-Encoding.");
    return false;
}

/* Reads the query into t; queues a 400 into *ret and returns false when it is wrong. */
static bool
bk_parse_query(struct req *r, struct bk_task *t, enum MHD_Result *ret)
{
    struct dba_err err;
    const char *mode = dba__http_query(r, "mode");
    const char *format = dba__http_query(r, "format");

    dba_err_clear(&err);
    t->tables = bk_dup(dba__http_query(r, "tables"));
    t->user_id = bk_dup(dba__http_query(r, "user_id") != NULL ? dba__http_query(r, "user_id")
                                                               : t->cfg->backup.user_id);
    t->jsonl = format != NULL && strcmp(format, "jsonl") == 0;
    if (format != NULL && !t->jsonl && strcmp(format, "json") != 0) {
        *ret = dba__http_error(r, 400, DBA_BACKUP_CODE, "format must be json or jsonl", NULL, NULL);
        return false;
    }
    if (t->op == BK_OP_BACKUP && !bk_parse_gzip(r, t, ret))
        return false;
    if (dba_backup_mode_parse(mode != NULL ? mode : "skip", &t->mode, &err) != DBA_OK ||
        (t->op == BK_OP_SYNC && t->mode == DBA_BACKUP_FAIL)) {
        *ret = dba__http_error(r, 400, DBA_BACKUP_CODE, "unknown or unsupported mode", NULL,
                               t->op == BK_OP_SYNC ? "Use skip or overwrite."
                                                   : "Use skip, overwrite or fail.");
        return false;
    }
    if (!dba__http_query_flag(r, "dry_run", &t->dry_run) || !dba__http_query_flag(r, "confirm", &t->confirm)) {
        *ret = dba__http_error(r, 400, DBA_BACKUP_CODE, "dry_run and confirm take true or false",
                               NULL, NULL);
        return false;
    }
    return true;
}

/* Sync's source profile; queues a 400 into *ret and returns false when missing or unknown. */
static bool
bk_sync_from(struct req *r, struct bk_task *t, enum MHD_Result *ret)
{
    const char *from = dba__http_query(r, "from");

    t->from = from != NULL ? dba_config_profile_get(t->cfg, from) : NULL;
    if (t->from != NULL)
        return true;
    *ret = dba__http_error(r, 400, DBA_BACKUP_CODE,
                           from == NULL ? "missing the source profile"
                                        : dba_arena_printf(r->a, "unknown profile '%s'", from),
                           NULL, "Pass ?from=<profile> naming a profile of the configuration.");
    return false;
}

/* The policy step (the admin credential was checked by the route table, ops.c): restores and
   confirmed syncs write, so a read_only profile refuses them (403). Dry runs and sync plans roll
   back, so they are allowed. */
static bool
bk_checks(struct req *r, struct bk_task *t, enum MHD_Result *ret)
{
    struct http_policy_need need = { 0 };

    if (t->op == BK_OP_VALIDATE)
        return true; /* no parameters */
    if (!bk_parse_query(r, t, ret))
        return false;
    switch (t->op) {
    case BK_OP_BACKUP:
    case BK_OP_VALIDATE:
        break;
    case BK_OP_RESTORE:
        need.writes = t->dry_run ? NULL : "a restore into it";
        break;
    case BK_OP_SYNC:
        need.writes = t->confirm ? "a sync into it" : NULL;
        break;
    }
    if (!dba__http_policy_check(r, &need, ret))
        return false;
    return t->op != BK_OP_SYNC || bk_sync_from(r, t, ret);
}

static enum MHD_Result
bk_start(struct req *r, enum bk_op op)
{
    struct bk_task *t = dba_xcalloc(1, sizeof(*t));
    enum MHD_Result ret;

    t->op = op;
    t->fd = -1;
    t->cfg = r->w->srv->cfg;
    t->p = r->pol.profile;
    t->conninfo = r->w->srv->conninfo;
    if (!bk_checks(r, t, &ret)) {
        bk_task_free(t);
        return ret;
    }
    if (op == BK_OP_VALIDATE)
        t->cache = dba_catalog_ref(dba__http_cache(r));
    t->len = r->body.len;
    if (op == BK_OP_RESTORE || op == BK_OP_VALIDATE) { /* the body moves to the task */
        t->fd = dba__http_spool_take(r);
        t->body = dba_buf_take(&r->body);
    }
    if (op != BK_OP_BACKUP)
        return dba__http_task(r, bk_task_run, t, bk_task_free, dba__http_send_task_result);
    t->box = dba_xcalloc(1, sizeof(*t->box));
    t->box->fd = -1;
    t->box->gz = t->gz;
    t->box->refs = 2;
    r->ctx = t->box;
    dba_arena_defer(r->a, bk_box_unref, t->box);
    return dba__http_task(r, bk_task_run, t, bk_task_free, bk_backup_done);
}

enum MHD_Result
dba__http_backup_get(struct req *r)
{
    return bk_start(r, BK_OP_BACKUP);
}

enum MHD_Result
dba__http_backup_validate(struct req *r)
{
    return bk_start(r, BK_OP_VALIDATE); /* parsed on a task thread: no database */
}

enum MHD_Result
dba__http_restore(struct req *r)
{
    return bk_start(r, BK_OP_RESTORE);
}

enum MHD_Result
dba__http_sync(struct req *r)
{
    return bk_start(r, BK_OP_SYNC);
}
