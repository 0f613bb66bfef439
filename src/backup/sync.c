/* sync.c - cross-profile sync: the source profile is dumped (one REPEATABLE READ snapshot) into an
   temp jsonl file (removed afterwards), then fed to the restore machinery on the destination, so
   rows are matched, keys remapped and foreign keys followed exactly as for a restore, in one
   destination transaction. Without confirm the restore runs as a dry run and its counts are the
   plan; with confirm the same matching writes, so the result is what the plan said. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "backup/backup_int.h"
#include "db/db.h"

struct sync {
    const struct dba_config *cfg;        /* borrowed */
    const struct dba_backup_sync_opts *o; /* borrowed */
    struct pg_conn *src;                 /* source connection, owned */
    struct pg_conn *dst;                 /* destination connection, owned */
    struct dba_backup_schema *s;         /* schema of the synced tables, owned */
    json_t *dumped;                      /* dump summary (rows per table), owned */
    json_t *dst_counts;                  /* destination rows per table before, owned */
    char path[64];                       /* snapshot file, "" when none */
    struct dba_err *err;                 /* out */
};

/* sync.tables from the config as a comma-separated list (heap), or NULL when not set. */
static char *
sync_default_tables(const struct dba_config *cfg)
{
    const struct dba_config_strv *t = &cfg->sync.tables;
    struct dba_buf b;

    if (t->n == 0)
        return NULL;
    dba_buf_init(&b);
    for (size_t i = 0; i < t->n; i++)
        dba_buf_printf(&b, "%s%s", i > 0 ? "," : "", t->v[i]);
    return dba_buf_take(&b);
}

static struct pg_conn *
sync_connect(const struct dba_profile *p, struct dba_err *err)
{
    if (dba_config_profile_check(p, err) != DBA_OK)
        return NULL;
    char *ci = dba_config_profile_conninfo(p);
    struct pg_conn *c = dba_db_connect_blocking(ci, 10, err);
    free(ci);
    return c;
}

static int
sync_same(const struct dba_backup_sync_opts *o, struct dba_err *err)
{
    char *a = dba_config_profile_conninfo(o->from);
    char *b = dba_config_profile_conninfo(o->to);
    bool same = o->from == o->to || strcmp(o->from->name, o->to->name) == 0 || strcmp(a, b) == 0;
    free(a);
    free(b);
    if (!same)
        return DBA_OK;
    dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                "source and destination are the same database (profile '%s')", o->from->name);
    dba_err_hint(err, "Pick another profile with --from, or make the destination active with "
                      "--profile.");
    return DBA_EINVAL;
}

/* Connects to both ends and settles the table list. */
static int
sync_open(struct sync *y)
{
    if (sync_same(y->o, y->err) != DBA_OK)
        return DBA_EINVAL;
    y->src = sync_connect(y->o->from, y->err);
    if (y->src == NULL)
        return DBA_EDB;
    y->dst = sync_connect(y->o->to, y->err);
    if (y->dst == NULL)
        return DBA_EDB;
    y->s = dba_backup_schema_live(y->cfg, y->o->from, y->src, y->err);
    if (y->s == NULL)
        return DBA_EINVAL;
    char *def = y->o->tables == NULL ? sync_default_tables(y->cfg) : NULL;
    const char *list = y->o->tables != NULL ? y->o->tables : def;
    int rc = list != NULL ? dba_backup_schema_filter(y->s, list, NULL, y->err) : DBA_OK;
    free(def);
    return rc;
}

static int
sync_write(void *arg, const char *p, size_t n)
{
    return fwrite(p, 1, n, arg) == n ? 0 : -1;
}

/* Dumps the source's snapshot of the tables into a temp jsonl file. */
static int
sync_snapshot(struct sync *y)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(y->path, sizeof(y->path), "%.40s/dba-sync-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(y->path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        y->path[0] = '\0';
        return dba_err_set(y->err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot create a temp file");
    }
    struct dba_backup_opts bo = { .progress = y->o->progress, .progress_arg = y->o->progress_arg,
                                  .profile = y->o->from->name, .user_id = y->o->user_id,
                                  .nsp = y->o->from->schemas.n > 0 ? y->o->from->schemas.v[0]
                                                                   : NULL,
                                  .jsonl = true, .write = sync_write, .write_arg = f };
    y->dumped = dba_backup_dump(y->src, y->s, &bo, y->err);
    if (fclose(f) != 0 && y->dumped != NULL) {
        json_decref(y->dumped);
        y->dumped = NULL;
        dba_err_set(y->err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot write the snapshot");
    }
    return y->dumped != NULL ? DBA_OK : DBA_EIO;
}

/* Destination rows per table before the sync. */
static int
sync_dst_counts(struct sync *y)
{
    const char *nsp = y->o->to->schemas.n > 0 ? y->o->to->schemas.v[0] : "public";
    y->dst_counts = json_object();
    for (size_t i = 0; i < y->s->n; i++) {
        struct dba_buf b;
        dba_buf_init(&b);
        dba_buf_puts(&b, "SELECT count(*) FROM ");
        dba_buf_put_ident(&b, nsp);
        dba_buf_putc(&b, '.');
        dba_buf_put_ident(&b, y->s->tables[i].name);
        struct pg_result *r = dba_db_exec(y->dst, b.data, NULL, 0, y->err);
        dba_buf_cleanup(&b);
        if (r == NULL)
            return DBA_EDB;
        json_object_set_new(y->dst_counts, y->s->tables[i].name,
                            json_integer(strtoll(dba_db_res_value(r, 0, 0), NULL, 10)));
        dba_db_res_clear(r);
    }
    return DBA_OK;
}

static json_int_t
num(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* Per table: source, destination, new, update, unchanged, skipped (from the restore's counts). */
static json_t *
sync_plan(struct sync *y, const json_t *rep)
{
    json_t *plan = json_object();
    for (size_t i = 0; i < y->s->n; i++) {
        const char *t = y->s->tables[i].name;
        const json_t *c = json_object_get(json_object_get(rep, "tables"), t);
        json_object_set_new(plan, t, json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I}", "source",
            num(json_object_get(y->dumped, "tables"), t), "destination",
            num(y->dst_counts, t), "new", num(c, "inserted"), "update", num(c, "updated"),
            "unchanged", num(c, "unchanged"), "skipped", num(c, "skipped")));
    }
    return plan;
}

static json_t *
sync_run(struct sync *y)
{
    if (sync_open(y) != DBA_OK || sync_snapshot(y) != DBA_OK || sync_dst_counts(y) != DBA_OK)
        return NULL;
    struct dba_backup_restore_opts ro = {
        .mode = y->o->mode, .dry_run = !y->o->confirm, .progress = y->o->progress,
        .progress_arg = y->o->progress_arg,
        .schemas = (const char *const *)y->o->to->schemas.v, .n_schemas = y->o->to->schemas.n };
    json_t *rep = dba_backup_restore_file(y->dst, y->s, y->path, &ro, y->err);
    if (rep == NULL)
        return NULL;
    bool ok = json_is_true(json_object_get(rep, "ok"));
    json_t *out = json_pack("{s:b,s:s,s:s,s:b,s:s,s:o}", "ok", ok, "from", y->o->from->name,
                            "to", y->o->to->name, "applied", ok && y->o->confirm, "mode",
                            json_string_value(json_object_get(rep, "mode")), "plan",
                            sync_plan(y, rep));
    if (json_object_get(rep, "failed") != NULL)
        json_object_set(out, "failed", json_object_get(rep, "failed"));
    if (json_object_get(rep, "validation") != NULL)
        json_object_set(out, "validation", json_object_get(rep, "validation"));
    json_decref(rep);
    return out;
}

json_t *
dba_backup_sync(const struct dba_config *cfg, const struct dba_backup_sync_opts *o,
                struct dba_err *err)
{
    struct sync y = { .cfg = cfg, .o = o, .err = err };
    if (o->mode == DBA_BACKUP_FAIL) {
        dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "sync mode must be skip or overwrite");
        return NULL;
    }
    json_t *out = sync_run(&y);
    if (y.path[0] != '\0')
        unlink(y.path);
    dba_db_close(y.src);
    dba_db_close(y.dst);
    dba_backup_schema_free(y.s);
    json_decref(y.dumped);
    json_decref(y.dst_counts);
    return out;
}
