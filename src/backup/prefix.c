/* prefix.c - the pre-fix backup of a confirmed schema fix, written by the one streaming writer
   (dump.c): the touched tables, each read from its own schema, in one REPEATABLE READ READ ONLY
   snapshot, to backups/pre-fix-<profile>-<UTC time>.json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backup/backup_int.h"
#include "db/db.h"

/* The key column of t: its primary key's first column, else its first column, else "id". */
static char *
prefix_key(const struct dba_table *t)
{
    if (t != NULL && t->n_pk > 0)
        return dba_xstrdup(t->pk[0]);
    if (t != NULL && t->n_cols > 0)
        return dba_xstrdup(t->cols[0].name);
    return dba_xstrdup("id");
}

/* One backup-schema table per "schema.name" (split at the first dot), keyed by bare name in
   first_schema. The catalog gives each its key column. */
static struct dba_backup_schema *
prefix_schema(struct pg_conn *pg, const json_t *tables, const char *first_schema,
              struct dba_err *err)
{
    size_t n = json_array_size(tables);
    char **nsps = dba_xcalloc(n + 1, sizeof(char *));
    struct dba_backup_schema *s = dba_xcalloc(1, sizeof(*s));

    s->tables = dba_xcalloc(n + 1, sizeof(*s->tables));
    for (size_t i = 0; i < n; i++) {
        const char *q = json_string_value(json_array_get(tables, i));
        const char *dot = q != NULL ? strchr(q, '.') : NULL;
        struct dba_backup_table *t = &s->tables[s->n];
        if (dot == NULL)
            continue;
        t->nsp = dba_xstrndup(q, (size_t)(dot - q));
        t->rel = dba_xstrdup(dot + 1);
        t->name = dba_xstrdup(strcmp(t->nsp, first_schema) == 0 ? t->rel : q);
        nsps[s->n++] = t->nsp;
    }
    struct dba_catalog *c = dba_catalog_load(pg, (const char *const *)nsps, s->n, err);
    free(nsps);
    if (c == NULL) {
        dba_backup_schema_free(s);
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++)
        s->tables[i].pk = prefix_key(dba_catalog_table_find(c, s->tables[i].nsp,
                                                            s->tables[i].rel));
    dba_catalog_unref(c);
    return s;
}

static char *
prefix_path(const char *dir, const char *profile, struct dba_err *err)
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
dba_backup_prefix(void *arg, struct pg_conn *pg, const char *profile, const json_t *tables,
                  const char *first_schema, struct dba_err *err)
{
    const char *dir = arg != NULL ? arg : "backups";
    struct dba_backup_schema *s = prefix_schema(pg, tables, first_schema, err);
    char *path = s != NULL ? prefix_path(dir, profile, err) : NULL;

    if (path != NULL) {
        struct dba_backup_opts o = { .profile = profile, .nsp = first_schema,
                                     .backup_type = "pre-fix" };
        json_t *sum = dba_backup_dump_file(pg, s, &o, path, err);
        if (sum == NULL) {
            char why[sizeof(err->msg)];
            snprintf(why, sizeof(why), "%s", err->msg);
            dba_err_set(err, err->code ? err->code : DBA_EIO, 500, "DBA025",
                        "cannot write the pre-fix backup %s", path);
            dba_err_detail(err, "%s.", why);
            free(path);
            path = NULL;
        }
        json_decref(sum);
    }
    dba_backup_schema_free(s);
    return path;
}
