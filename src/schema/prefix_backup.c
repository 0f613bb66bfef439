/* prefix_backup.c - the backup written before a confirmed fix: the rows of the tables the plan
   touches, read in one REPEATABLE READ READ ONLY transaction (a consistent snapshot), in the
   Python original's backup document format:
       {"metadata": {"version": "1.1", "created_at": "<UTC>", "backup_type": "pre-fix",
                     "profile": ..., "server_version": ..., "<table>_count": n, ...},
        "<table>": [ {row}, ... ], ...}
   Rows are PostgreSQL's own JSON (json_agg), copied through as text so numerics, jsonb and
   arrays keep their exact form. Tables outside the first exposed schema are keyed
   "schema.table". Each table is held in memory once while it is written; the full backup module
   (issue 4) streams. The file is written under a temporary name, flushed to disk and renamed,
   so a failed backup leaves nothing behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "db/db.h"
#include "schema/schema.h"

static bool
run(struct pg_conn *pg, const char *sql, struct dba_err *err)
{
    struct pg_result *r = dba_db_exec(pg, sql, NULL, 0, err);

    dba_db_res_clear(r);
    return r != NULL;
}

/* Key of a table in the document: its name, schema-qualified outside the first schema. */
static char *
doc_key(const char *qualified, const char *first_schema)
{
    size_t n = strlen(first_schema);

    if (strncmp(qualified, first_schema, n) == 0 && qualified[n] == '.')
        return dba_xstrdup(qualified + n + 1);
    return dba_xstrdup(qualified);
}

/* "SELECT count(*), json_agg(t) FROM "s"."t" t" for a "s.t" name split at its first dot. */
static char *
table_sql(const char *qualified)
{
    struct dba_buf b;
    const char *dot = strchr(qualified, '.');
    char *schema = dba_xstrndup(qualified, (size_t)(dot - qualified));

    dba_buf_init(&b);
    dba_buf_puts(&b, "SELECT count(*)::text, coalesce(json_agg(t), '[]')::text FROM ");
    dba_buf_put_ident(&b, schema);
    dba_buf_putc(&b, '.');
    dba_buf_put_ident(&b, dot + 1);
    dba_buf_puts(&b, " t");
    free(schema);
    return dba_buf_take(&b);
}

static void
put_json_string(struct dba_buf *b, const char *s)
{
    json_t *j = json_string(s);
    char *t = json_dumps(j, JSON_ENCODE_ANY);

    dba_buf_puts(b, t);
    free(t);
    json_decref(j);
}

/* Reads every table into rows (the document's table members) and counts into meta. */
static bool
read_tables(struct pg_conn *pg, const json_t *tables, const char *first_schema, json_t *meta,
            struct dba_buf *rows, struct dba_err *err)
{
    size_t i;
    const json_t *t;

    json_array_foreach(tables, i, t) {
        char *sql = table_sql(json_string_value(t));
        struct pg_result *r = dba_db_exec(pg, sql, NULL, 0, err);
        free(sql);
        if (r == NULL)
            return false;
        char *key = doc_key(json_string_value(t), first_schema);
        char *count_key = dba_xmalloc(strlen(key) + 8);
        sprintf(count_key, "%s_count", key);
        json_object_set_new(meta, count_key, json_integer(atoll(dba_db_res_value(r, 0, 0))));
        dba_buf_puts(rows, ",\n");
        put_json_string(rows, key);
        dba_buf_puts(rows, ": ");
        dba_buf_puts(rows, dba_db_res_value(r, 0, 1));
        free(count_key);
        free(key);
        dba_db_res_clear(r);
    }
    return true;
}

static bool
write_file(const char *path, const struct dba_buf *doc, struct dba_err *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL && fwrite(doc->data, 1, doc->len, f) == doc->len && fflush(f) == 0 &&
              fsync(fileno(f)) == 0;
    int e = errno;

    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0) {
        e = errno;
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        dba_err_set(err, DBA_EIO, 500, "DBA025", "cannot write the pre-fix backup %s", path);
        dba_err_detail(err, "%s.", strerror(e));
    }
    return ok;
}

static char *
backup_path(const char *dir, const char *profile, struct dba_err *err)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        dba_err_set(err, DBA_EIO, 500, "DBA025", "cannot create the backup directory %s", dir);
        dba_err_detail(err, "%s.", strerror(errno));
        return NULL;
    }
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_printf(&b, "%s/pre-fix-%s-%s.json", dir, profile, stamp);
    return dba_buf_take(&b);
}

char *
dba_schema_prefix_backup(struct pg_conn *pg, const char *profile, const json_t *tables,
                         const char *first_schema, const char *dir, struct dba_err *err)
{
    char created[32];
    struct dba_buf rows;
    struct dba_err ignored;

    dba_utc_now(created, sizeof(created));
    json_t *meta = json_pack("{s:s,s:s,s:s,s:s,s:s}", "version", "1.1", "created_at", created,
                             "backup_type", "pre-fix", "profile", profile, "server_version",
                             dba_db_server_version(pg));
    dba_buf_init(&rows);
    bool ok = run(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    ok = ok && read_tables(pg, tables, first_schema, meta, &rows, err);
    run(pg, ok ? "COMMIT" : "ROLLBACK", ok ? err : &ignored);
    char *path = ok ? backup_path(dir, profile, err) : NULL;
    if (path != NULL) {
        struct dba_buf doc;
        char *m = json_dumps(meta, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        dba_buf_init(&doc);
        dba_buf_printf(&doc, "{\n\"metadata\": %s%s\n}\n", m, rows.data ? rows.data : "");
        free(m);
        if (!write_file(path, &doc, err)) {
            free(path);
            path = NULL;
        }
        dba_buf_cleanup(&doc);
    }
    json_decref(meta);
    dba_buf_cleanup(&rows);
    return path;
}
