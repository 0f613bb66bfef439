/* restore.c - restore: one transaction for the whole document; parents first; rows matched by
   slug (+ user, + parent) or by pk; new keys drawn from the target's own sequences or identities,
   the old->new map rewriting children's parent fields and optional references. Any row error rolls
   everything back and names the table, row and PostgreSQL's message. A dry run does all of it and
   rolls back (sequences may still advance: nextval is not transactional). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup_int.h"
#include "db/db.h"

struct rs_table {
    const struct dba_backup_table *t; /* borrowed from the schema */
    const struct dba_table *st;       /* target table in the cache */
    json_t *map;                      /* old pk text -> new pk text */
    bool pk_generated;                /* pk comes from a sequence or identity */
    json_int_t inserted;              /* rows inserted */
    json_int_t updated;               /* rows overwritten */
    json_int_t skipped;               /* existing rows left alone, and orphans */
    json_int_t orphans;               /* rows skipped because their parent was not mapped */
    json_int_t unchanged;             /* existing rows already equal to the backup's */
    json_int_t rows;                  /* rows seen (next row index) */
};

struct restore {
    const char *raw;                         /* current row's exact text */
    size_t raw_len;                          /* its length */
    json_t *over;                            /* current row's rewritten fields */
    struct pg_conn *conn;                    /* borrowed */
    const struct dba_backup_schema *s;       /* borrowed */
    const struct dba_backup_restore_opts *o; /* borrowed */
    struct dba_catalog *cache;          /* target's cache (owned ref) */
    struct rs_table *tabs;                   /* one per schema table */
    size_t n_bound;                          /* tabs bound to a target table so far */
    json_t *failed;                          /* failing row report, or NULL */
    struct dba_err *err;                     /* out */
};

int
dba_backup_mode_parse(const char *s, enum dba_backup_mode *out, struct dba_err *err)
{
    static const char *const names[] = { "skip", "overwrite", "fail" };
    for (size_t i = 0; i < DBA_ARRAY_LEN(names); i++) {
        if (s != NULL && strcmp(s, names[i]) == 0) {
            *out = (enum dba_backup_mode)i;
            return DBA_OK;
        }
    }
    dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "unknown mode '%s'", s ? s : "");
    dba_err_hint(err, "Use skip, overwrite or fail.");
    return DBA_EINVAL;
}

static const char *
mode_name(enum dba_backup_mode m)
{
    switch (m) {
    case DBA_BACKUP_SKIP:
        return "skip";
    case DBA_BACKUP_OVERWRITE:
        return "overwrite";
    case DBA_BACKUP_FAIL:
        return "fail";
    }
    return "?";
}

static void
put_qname(struct dba_buf *b, const struct dba_table *st)
{
    dba_buf_put_ident(b, st->schema);
    dba_buf_putc(b, '.');
    dba_buf_put_ident(b, st->name);
}

static bool
col_generated(const struct dba_column *c)
{
    return c->identity ||
           (c->default_expr != NULL && strncmp(c->default_expr, "nextval(", 8) == 0);
}

static const char *
rs_nsp(const struct restore *rs)
{
    return rs->o->n_schemas > 0 ? rs->o->schemas[0] : "public";
}

/* Binds every table of the schema to the target's, before anything is written: a table or a
   pk column the target lacks is an error naming it (422). */
static int
rs_bind(struct restore *rs)
{
    const char *nsp = rs_nsp(rs);
    rs->tabs = dba_xcalloc(rs->s->n + 1, sizeof(*rs->tabs));
    for (size_t i = 0; i < rs->s->n; i++) {
        struct rs_table *rt = &rs->tabs[i];
        const struct dba_backup_table *t = &rs->s->tables[i];
        const struct dba_table *st = dba_catalog_table_find(rs->cache, nsp, t->name);
        if (st == NULL || st->is_view) {
            dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE,
                        "table '%s' of the backup does not exist in the target (schema '%s')",
                        t->name, nsp);
            dba_err_hint(rs->err, "Create the table in the target first (db-adapter fix), or "
                                  "leave it out of the backup (--tables).");
            return DBA_ENOTFOUND;
        }
        const struct dba_column *pk = dba_catalog_column_find(st, t->pk);
        if (pk == NULL)
            return dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE,
                               "table '%s' has no column '%s' (its pk) in the target "
                               "(schema '%s')", t->name, t->pk, nsp);
        rt->t = t;
        rt->st = st;
        rt->map = json_object();
        rt->pk_generated = col_generated(pk);
        rs->n_bound++;
    }
    return DBA_OK;
}

/* Exact text of the current row's member field: a rewritten value (an id from a map, the
   user id) when there is one, else the row's own text (never through a double). Heap or NULL. */
static char *
rs_key(const struct restore *rs, const char *field)
{
    char kb[64];
    if (field == NULL)
        return NULL;
    const json_t *o = json_object_get(rs->over, field);
    if (o != NULL) {
        const char *k = dba__backup_key(o, kb, sizeof(kb));
        return k != NULL ? dba_xstrdup(k) : NULL;
    }
    return dba__backup_field(rs->raw, rs->raw_len, field);
}

/* Rewrites a reference through the parent's id map. Returns false when the value is non-null and
   cannot be mapped. */
static bool
remap(struct restore *rs, json_t *row, const struct dba_backup_ref *ref)
{
    char *k = rs_key(rs, ref->field);
    int p = dba_backup_schema_find(rs->s, ref->table);
    if (k == NULL)
        return true;
    json_t *to = p >= 0 ? json_object_get(rs->tabs[p].map, k) : NULL;
    free(k);
    if (to == NULL)
        return false;
    json_object_set(row, ref->field, to);
    json_object_set(rs->over, ref->field, to);
    return true;
}

/* Names of the row's columns other than the pk that the target takes, as a JSON array text
   (heap): the columns compared to tell an unchanged row. */
static char *
rs_cmp_cols(const struct rs_table *rt, json_t *row)
{
    const char *k;
    const json_t *v;
    json_t *a = json_array();
    json_object_foreach(row, k, v) {
        const struct dba_column *c = dba_catalog_column_find(rt->st, k);
        if (c != NULL && !c->generated && strcmp(k, rt->t->pk) != 0)
            json_array_append_new(a, json_string(k));
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* "SELECT pk, same FROM t _t, <incoming row> _r WHERE": same is true when every compared column
   of the existing row equals the incoming one ($1 raw row, $2 rewritten fields, $3 columns). */
static void
rs_find_head(struct dba_buf *b, const struct rs_table *rt)
{
    dba_buf_puts(b, "SELECT _t.");
    dba_buf_put_ident(b, rt->t->pk);
    dba_buf_puts(b, "::text, coalesce((SELECT bool_and(to_jsonb(_t) -> _k IS NOT DISTINCT FROM "
                    "to_jsonb(_r) -> _k) FROM jsonb_array_elements_text($3::jsonb) _k), true) "
                    "FROM ");
    put_qname(b, rt->st);
    dba_buf_puts(b, " _t, jsonb_populate_record(NULL::");
    put_qname(b, rt->st);
    dba_buf_puts(b, ", $1::jsonb || $2::jsonb) _r WHERE _t.");
}

/* The existing target row's pk text for row (matched by slug (+ user, + parent) when the row has
   the slug, else by pk) into *out (heap, caller frees), *out NULL when there is none; *same tells
   whether its columns other than the pk already equal the row's. */
static int
rs_find(struct restore *rs, struct rs_table *rt, json_t *row, const char *old_pk,
        char **out, bool *same)
{
    const struct dba_backup_table *t = rt->t;
    char *slug = t->slug != NULL ? rs_key(rs, t->slug) : NULL;
    char *u = slug != NULL ? rs_key(rs, t->user_field) : NULL;
    char *pv = slug != NULL && t->parent.table != NULL ? rs_key(rs, t->parent.field) : NULL;
    char *raw = dba_xstrndup(rs->raw, rs->raw_len);
    char *over = json_dumps(rs->over, JSON_COMPACT);
    char *cols = rs_cmp_cols(rt, row);
    const char *params[6] = { raw, over, cols };
    int n = 3;
    struct dba_buf b;
    dba_buf_init(&b);
    rs_find_head(&b, rt);
    dba_buf_put_ident(&b, slug != NULL ? t->slug : t->pk);
    params[n++] = slug != NULL ? slug : old_pk;
    dba_buf_puts(&b, " = $4");
    for (int k = 0; k < 2; k++) {
        const char *v = k == 0 ? u : pv;
        if (v == NULL)
            continue;
        dba_buf_printf(&b, " AND _t.");
        dba_buf_put_ident(&b, k == 0 ? t->user_field : t->parent.field);
        params[n++] = v;
        dba_buf_printf(&b, " = $%d", n);
    }
    dba_buf_puts(&b, " LIMIT 1");
    struct pg_result *r = dba_db_exec(rs->conn, b.data, params, n, rs->err);
    dba_buf_cleanup(&b);
    free(raw);
    free(over);
    free(cols);
    free(slug);
    free(u);
    free(pv);
    if (r == NULL)
        return DBA_EDB;
    *out = dba_db_res_ntuples(r) > 0 ? dba_xstrdup(dba_db_res_value(r, 0, 0)) : NULL;
    *same = *out != NULL && strcmp(dba_db_res_value(r, 0, 1), "t") == 0;
    dba_db_res_clear(r);
    return DBA_OK;
}

/* Column list of the row's keys that the target can take (skip_pk leaves the pk out). */
static void
rs_cols(const struct rs_table *rt, json_t *row, bool skip_pk, const char *prefix,
        struct dba_buf *b, int *n)
{
    const char *k;
    const json_t *v;
    *n = 0;
    json_object_foreach(row, k, v) {
        const struct dba_column *c = dba_catalog_column_find(rt->st, k);
        if (c == NULL || c->generated || (skip_pk && strcmp(k, rt->t->pk) == 0))
            continue;
        if ((*n)++ > 0)
            dba_buf_puts(b, ", ");
        if (prefix != NULL) {
            dba_buf_put_ident(b, k);
            dba_buf_printf(b, " = %s.", prefix);
        }
        dba_buf_put_ident(b, k);
    }
}

static int
rs_insert(struct restore *rs, struct rs_table *rt, json_t *row, char **new_pk)
{
    struct dba_buf cols, b;
    int n;
    dba_buf_init(&cols);
    dba_buf_init(&b);
    rs_cols(rt, row, rt->pk_generated, NULL, &cols, &n);
    dba_buf_puts(&b, "INSERT INTO ");
    put_qname(&b, rt->st);
    if (n == 0) {
        dba_buf_puts(&b, " DEFAULT VALUES");
    } else {
        dba_buf_printf(&b, " (%s) SELECT %s FROM jsonb_populate_record(NULL::", cols.data,
                       cols.data);
        put_qname(&b, rt->st);
        dba_buf_puts(&b, ", $1::jsonb || $2::jsonb)");
    }
    dba_buf_puts(&b, " RETURNING ");
    dba_buf_put_ident(&b, rt->t->pk);
    dba_buf_puts(&b, "::text");
    char *raw = dba_xstrndup(rs->raw, rs->raw_len);
    char *over = json_dumps(rs->over, JSON_COMPACT);
    const char *params[2] = { raw, over };
    struct pg_result *r = dba_db_exec(rs->conn, b.data, params, n == 0 ? 0 : 2, rs->err);
    free(raw);
    free(over);
    dba_buf_cleanup(&cols);
    dba_buf_cleanup(&b);
    if (r == NULL)
        return DBA_EDB;
    *new_pk = dba_xstrdup(dba_db_res_value(r, 0, 0));
    dba_db_res_clear(r);
    return DBA_OK;
}

static int
rs_update(struct restore *rs, struct rs_table *rt, json_t *row, const char *pk)
{
    struct dba_buf sets, b;
    int n;
    dba_buf_init(&sets);
    dba_buf_init(&b);
    rs_cols(rt, row, true, "_r", &sets, &n);
    dba_buf_puts(&b, "UPDATE ");
    put_qname(&b, rt->st);
    dba_buf_printf(&b, " AS _t SET %s FROM jsonb_populate_record(NULL::", sets.data);
    put_qname(&b, rt->st);
    dba_buf_puts(&b, ", $1::jsonb || $2::jsonb) _r WHERE _t.");
    dba_buf_put_ident(&b, rt->t->pk);
    dba_buf_puts(&b, " = $3");
    char *raw = dba_xstrndup(rs->raw, rs->raw_len);
    char *over = json_dumps(rs->over, JSON_COMPACT);
    const char *params[3] = { raw, over, pk };
    struct pg_result *r = n == 0 ? NULL : dba_db_exec(rs->conn, b.data, params, 3, rs->err);
    free(raw);
    free(over);
    dba_buf_cleanup(&sets);
    dba_buf_cleanup(&b);
    if (n > 0 && r == NULL)
        return DBA_EDB;
    dba_db_res_clear(r);
    return DBA_OK;
}

static int
rs_fail(struct restore *rs, struct rs_table *rt, json_int_t idx, const char *old_pk,
        const char *why)
{
    json_decref(rs->failed);
    rs->failed = json_pack("{s:s,s:I,s:s,s:s,s:s}", "table", rt->t->name, "row_index", idx,
                           "old_pk", old_pk, "error", why, "sqlstate", rs->err->sqlstate);
    char msg[sizeof(rs->err->msg)];
    snprintf(msg, sizeof(msg), "%s", why);
    rs->err->code = rs->err->code ? rs->err->code : DBA_EDB;
    snprintf(rs->err->msg, sizeof(rs->err->msg), "restore failed at %s row %lld (pk=%.40s): %.400s",
             rt->t->name, (long long)idx, old_pk, msg);
    return rs->err->code;
}

/* Existing row: map it, then skip, overwrite or fail as the mode says. */
static int
rs_existing(struct restore *rs, struct rs_table *rt, json_t *row, json_int_t idx,
            const char *old_pk, const char *pk, bool same)
{
    json_object_set_new(rt->map, old_pk, json_string(pk));
    if (same && rs->o->mode != DBA_BACKUP_FAIL) {
        rt->unchanged++;
        return DBA_OK;
    }
    switch (rs->o->mode) {
    case DBA_BACKUP_SKIP:
        rt->skipped++;
        return DBA_OK;
    case DBA_BACKUP_FAIL:
        dba_err_set(rs->err, DBA_EINVAL, 409, DBA_BACKUP_CODE, "row already exists");
        return rs_fail(rs, rt, idx, old_pk, "row already exists (mode=fail)");
    case DBA_BACKUP_OVERWRITE:
        break;
    }
    if (rs_update(rs, rt, row, pk) != DBA_OK)
        return rs_fail(rs, rt, idx, old_pk, rs->err->msg);
    rt->updated++;
    return DBA_OK;
}

/* A column of the row the target's table does not have is an error, not a silent loss. */
static int
rs_check_cols(struct restore *rs, struct rs_table *rt, json_t *row, json_int_t idx,
              const char *old_pk)
{
    const char *k;
    const json_t *v;
    json_object_foreach(row, k, v) {
        if (dba_catalog_column_find(rt->st, k) != NULL)
            continue;
        char why[400];
        snprintf(why, sizeof(why), "table '%.100s' has no column '%.100s' in the target "
                 "(schema '%.100s')", rt->t->name, k, rt->st->schema);
        dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE, "%s", why);
        return rs_fail(rs, rt, idx, old_pk, why);
    }
    return DBA_OK;
}

static int
rs_row(struct restore *rs, struct rs_table *rt, json_t *row)
{
    json_int_t idx = rt->rows++;
    char *k = rs_key(rs, rt->t->pk);
    const char *old_pk = k != NULL ? k : "<unknown>";
    int rc = rs_check_cols(rs, rt, row, idx, old_pk);
    if (rc != DBA_OK) {
        free(k);
        return rc;
    }
    if (rs->o->user_id != NULL && rt->t->user_field != NULL)
    {
        json_object_set_new(row, rt->t->user_field, json_string(rs->o->user_id));
        json_object_set_new(rs->over, rt->t->user_field, json_string(rs->o->user_id));
    }
    if (rt->t->parent.table != NULL && !remap(rs, row, &rt->t->parent)) {
        rt->skipped++;
        rt->orphans++;
        free(k);
        return DBA_OK;
    }
    for (size_t i = 0; i < rt->t->n_opt; i++)
        if (!remap(rs, row, &rt->t->opt[i])) {
            json_object_set_new(row, rt->t->opt[i].field, json_null());
            json_object_set_new(rs->over, rt->t->opt[i].field, json_null());
        }
    char *pk = NULL;
    bool same = false;
    if (rs_find(rs, rt, row, old_pk, &pk, &same) != DBA_OK) {
        rc = rs_fail(rs, rt, idx, old_pk, rs->err->msg);
    } else if (pk != NULL) {
        rc = rs_existing(rs, rt, row, idx, old_pk, pk, same);
    } else if ((rc = rs_insert(rs, rt, row, &pk)) == DBA_OK) {
        json_object_set_new(rt->map, old_pk, json_string(pk));
        rt->inserted++;
    } else {
        rc = rs_fail(rs, rt, idx, old_pk, rs->err->msg);
    }
    free(pk);
    free(k);
    if (rc == DBA_OK && rs->o->progress != NULL && rt->rows % 1000 == 0)
        rs->o->progress(rs->o->progress_arg, rt->t->name, rt->rows, -1);
    return rc;
}

/* A table of the document the schema does not have is refused (nothing is written yet for a
   JSON document; a jsonl one is rolled back). */
static int
rs_table_seen(void *arg, const char *table)
{
    struct restore *rs = arg;
    if (dba_backup_schema_find(rs->s, table) >= 0)
        return DBA_OK;
    const char *nsp = rs_nsp(rs);
    if (dba_catalog_table_find(rs->cache, nsp, table) == NULL)
        dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE,
                    "table '%s' of the backup does not exist in the target (schema '%s')",
                    table, nsp);
    else
        dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE,
                    "table '%s' of the backup is not in the backup schema", table);
    dba_err_hint(rs->err, "Restore into a target that has the table, or declare it in "
                          "backup.tables.");
    return DBA_ENOTFOUND;
}

/* Feeds one row of the named table. */
static int
rs_feed(void *arg, const char *table, json_t *row, const char *raw, size_t len)
{
    struct restore *rs = arg;
    int i = dba_backup_schema_find(rs->s, table);
    if (i < 0)
        return rs_table_seen(arg, table);
    rs->raw = raw;
    rs->raw_len = len;
    rs->over = json_object();
    int rc = rs_row(rs, &rs->tabs[i], row);
    json_decref(rs->over);
    rs->over = NULL;
    return rc;
}

static void
rs_meta(void *arg, const json_t *meta)
{
    DBA_UNUSED(arg);
    DBA_UNUSED(meta);
}

static const struct dba__backup_walk rs_walk = { rs_meta, rs_table_seen, rs_feed };

static json_t *
rs_report(struct restore *rs, bool ok)
{
    json_t *tables = json_object();
    for (size_t i = 0; i < rs->n_bound; i++) {
        struct rs_table *rt = &rs->tabs[i];
        json_object_set_new(tables, rt->t->name,
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "inserted", rt->inserted,
                                      "updated", rt->updated, "skipped", rt->skipped,
                                      "unchanged", rt->unchanged, "orphans", rt->orphans));
    }
    json_t *rep = json_pack("{s:b,s:b,s:s,s:s,s:o}", "ok", ok, "dry_run", rs->o->dry_run,
                            "mode", mode_name(rs->o->mode), "db_schema", rs_nsp(rs), "tables",
                            tables);
    if (rs->failed != NULL)
        json_object_set(rep, "failed", rs->failed);
    return rep;
}

static void
rs_cleanup(struct restore *rs)
{
    for (size_t i = 0; i < rs->n_bound; i++)
        json_decref(rs->tabs[i].map);
    free(rs->tabs);
    json_decref(rs->failed);
    dba_catalog_unref(rs->cache);
}

static int
rs_exec(struct restore *rs, const char *sql)
{
    struct pg_result *r = dba_db_exec(rs->conn, sql, NULL, 0, rs->err);
    dba_db_res_clear(r);
    return r != NULL ? DBA_OK : DBA_EDB;
}

/* Runs feed inside one transaction; commits unless it failed or this is a dry run. */
static json_t *
rs_run(struct restore *rs, int (*feed)(struct restore *, const void *), const void *src)
{
    struct dba_err end_err;
    rs->cache = dba_catalog_load(rs->conn, rs->o->schemas, rs->o->n_schemas, rs->err);
    int rc = rs->cache != NULL ? rs_bind(rs) : DBA_EDB;
    if (rc == DBA_OK)
        rc = rs_exec(rs, "BEGIN");
    bool begun = rc == DBA_OK;
    if (rc == DBA_OK)
        rc = feed(rs, src);
    bool commit = rc == DBA_OK && !rs->o->dry_run;
    if (begun) {
        struct dba_err *keep = rs->err;
        rs->err = &end_err;
        int end = rs_exec(rs, commit ? "COMMIT" : "ROLLBACK");
        rs->err = keep;
        if (rc == DBA_OK && end != DBA_OK) {
            *rs->err = end_err;
            rc = end;
        }
    }
    json_t *rep = rs_report(rs, rc == DBA_OK);
    rs_cleanup(rs);
    return rep;
}

struct rs_text {
    const char *p; /* document text */
    size_t n;      /* its length */
};

static int
feed_text(struct restore *rs, const void *src)
{
    const struct rs_text *t = src;
    return dba__backup_walk_text(t->p, t->n, rs->s, &rs_walk, rs, rs->err);
}

static int
feed_jsonl(struct restore *rs, const void *path)
{
    return dba__backup_walk_jsonl(path, &rs_walk, rs, rs->err);
}

/* Fails with the validation report attached when v says the backup is invalid. */
static json_t *
rs_invalid(const struct dba_backup_restore_opts *o, json_t *v, struct dba_err *err)
{
    struct dba_buf b;
    size_t i;
    json_t *e;
    dba_buf_init(&b);
    json_array_foreach(json_object_get(v, "errors"), i, e) {
        if (i >= 5)
            break;
        dba_buf_printf(&b, "%s%s", i ? "; " : "", json_string_value(e));
    }
    dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "invalid backup: %s", b.data ? b.data : "");
    dba_buf_cleanup(&b);
    return json_pack("{s:b,s:b,s:s,s:o}", "ok", 0, "dry_run", o->dry_run, "mode",
                     mode_name(o->mode), "validation", v);
}

json_t *
dba_backup_restore(void *conn, const struct dba_backup_schema *s, const char *text, size_t len,
                   const struct dba_backup_restore_opts *o, struct dba_err *err)
{
    json_t *v = dba_backup_validate_text(s, text, len);
    if (!json_is_true(json_object_get(v, "valid")))
        return rs_invalid(o, v, err);
    json_decref(v);
    struct restore rs = { .conn = conn, .s = s, .o = o, .err = err };
    struct rs_text t = { text, len };
    return rs_run(&rs, feed_text, &t);
}

json_t *
dba_backup_restore_file(void *conn, const struct dba_backup_schema *s, const char *path,
                        const struct dba_backup_restore_opts *o, struct dba_err *err)
{
    if (!dba__backup_is_jsonl(path)) {
        size_t len;
        char *text = dba__backup_read_file(path, &len, err);
        if (text == NULL)
            return NULL;
        json_t *rep = dba_backup_restore(conn, s, text, len, o, err);
        free(text);
        return rep;
    }
    json_t *v = dba_backup_validate_file(s, path);
    if (!json_is_true(json_object_get(v, "valid")))
        return rs_invalid(o, v, err);
    json_decref(v);
    struct restore rs = { .conn = conn, .s = s, .o = o, .err = err };
    return rs_run(&rs, feed_jsonl, path);
}
