/* dump.c - backup: every table read inside one REPEATABLE READ READ ONLY transaction (one
   consistent snapshot), rows rendered by PostgreSQL (row_to_json keeps numerics, jsonb and arrays
   exact) and streamed through the writer from a server-side cursor, so memory stays flat. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup_int.h"
#include "db/db.h"

#define DUMP_FETCH_ROWS 2000 /* rows per FETCH */

struct dump {
    struct pg_conn *conn;                /* borrowed */
    const struct dba_backup_schema *s;   /* borrowed */
    const struct dba_backup_opts *o;     /* borrowed */
    const char *params[1];               /* $1 = user id when scoped */
    int n_params;                        /* 0 or 1 */
    bool used;                           /* the statement being built refers to $1 */
    struct dba_err *err;                 /* out */
    int64_t *counts;                     /* rows per table */
};

/* The table's relation qualified with the schema it is read from: "nsp"."name". */
static void
dump_qname(const struct dump *d, const struct dba_backup_table *t, struct dba_buf *b)
{
    dba_buf_put_ident(b, t->nsp != NULL ? t->nsp : d->o->nsp != NULL ? d->o->nsp : "public");
    dba_buf_putc(b, '.');
    dba_buf_put_ident(b, t->rel != NULL ? t->rel : t->name);
}

/* WHERE condition selecting table i's rows: the user's, and (for children) those whose parent
   row is selected too (recursively), so children of rows left out are left out. */
static void
dump_where(struct dump *d, size_t i, struct dba_buf *b)
{
    const struct dba_backup_table *t = &d->s->tables[i];
    dba_buf_puts(b, "TRUE");
    if (d->n_params > 0 && t->user_field != NULL) {
        dba_buf_puts(b, " AND ");
        dba_buf_put_ident(b, t->user_field);
        dba_buf_puts(b, "::text = $1");
        d->used = true;
    }
    if (t->parent.table == NULL)
        return;
    int p = dba_backup_schema_find(d->s, t->parent.table);
    dba_buf_puts(b, " AND (");
    dba_buf_put_ident(b, t->parent.field);
    dba_buf_puts(b, " IS NULL");
    if (p >= 0) {
        dba_buf_puts(b, " OR ");
        dba_buf_put_ident(b, t->parent.field);
        dba_buf_puts(b, " IN (SELECT ");
        dba_buf_put_ident(b, d->s->tables[p].pk);
        dba_buf_puts(b, " FROM ");
        dump_qname(d, &d->s->tables[p], b);
        dba_buf_puts(b, " WHERE ");
        dump_where(d, (size_t)p, b);
        dba_buf_puts(b, ")");
    }
    dba_buf_puts(b, ")");
}

static int
dump_exec(struct dump *d, const char *sql, struct pg_result **out)
{
    struct pg_result *r = dba_db_exec(d->conn, sql, d->params, d->used ? d->n_params : 0, d->err);
    d->used = false;
    if (r == NULL)
        return DBA_EDB;
    if (out != NULL)
        *out = r;
    else
        dba_db_res_clear(r);
    return DBA_OK;
}

static int
dump_counts(struct dump *d)
{
    for (size_t i = 0; i < d->s->n; i++) {
        struct dba_buf b;
        struct pg_result *r;
        dba_buf_init(&b);
        dba_buf_puts(&b, "SELECT count(*) FROM ");
        dump_qname(d, &d->s->tables[i], &b);
        dba_buf_puts(&b, " WHERE ");
        dump_where(d, i, &b);
        int rc = dump_exec(d, b.data, &r);
        dba_buf_cleanup(&b);
        if (rc != DBA_OK)
            return rc;
        d->counts[i] = strtoll(dba_db_res_value(r, 0, 0), NULL, 10);
        dba_db_res_clear(r);
    }
    return DBA_OK;
}

static int
dump_out(struct dump *d, const char *p, size_t n)
{
    if (d->o->write(d->o->write_arg, p, n) != 0)
        return dba_err_set(d->err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot write the backup");
    return DBA_OK;
}

static int
dump_outs(struct dump *d, const char *s)
{
    return dump_out(d, s, strlen(s));
}

static json_t *
dump_metadata(struct dump *d)
{
    char now[32];
    dba_utc_now(now, sizeof(now));
    json_t *m = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s,s:s,s:s}", "version", DBA_BACKUP_VERSION,
                          "created_at", now, "user_id", d->o->user_id, "backup_type",
                          d->o->backup_type != NULL ? d->o->backup_type
                          : d->o->user_id != NULL   ? "user"
                                                    : "full",
                          "profile",
                          d->o->profile != NULL ? d->o->profile : "",
                          "db_schema", d->o->nsp != NULL ? d->o->nsp : "public",
                          "server_version", dba_db_server_version(d->conn),
                          "format", d->o->jsonl ? "jsonl" : "json");
    for (size_t i = 0; i < d->s->n; i++) {
        char *key = dba_xmalloc(strlen(d->s->tables[i].name) + 8);
        strcpy(key, d->s->tables[i].name);
        strcat(key, "_count");
        json_object_set_new(m, key, json_integer(d->counts[i]));
        free(key);
    }
    json_t *sj = dba_backup_schema_json(d->s);
    json_object_set(m, "schema", sj);
    json_decref(sj);
    return m;
}

/* Opening of the document (or the metadata line of jsonl). */
static int
dump_head(struct dump *d)
{
    json_t *m = dump_metadata(d);
    char *ms = json_dumps(m, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(m);
    int rc = dump_outs(d, "{\"metadata\": ");
    if (rc == DBA_OK)
        rc = dump_outs(d, ms);
    if (rc == DBA_OK && d->o->jsonl)
        rc = dump_outs(d, "}\n");
    free(ms);
    return rc;
}

/* Writes one fetched row: ",\n<row>" in a document, {"table":..,"row":..} in jsonl. */
static int
dump_row(struct dump *d, const char *qname, const char *row, int len, bool first)
{
    int rc;
    if (d->o->jsonl) {
        rc = dump_outs(d, "{\"table\": ");
        if (rc == DBA_OK)
            rc = dump_outs(d, qname);
        if (rc == DBA_OK)
            rc = dump_outs(d, ", \"row\": ");
        if (rc == DBA_OK)
            rc = dump_out(d, row, (size_t)len);
        return rc == DBA_OK ? dump_outs(d, "}\n") : rc;
    }
    rc = dump_outs(d, first ? "\n" : ",\n");
    return rc == DBA_OK ? dump_out(d, row, (size_t)len) : rc;
}

static int
dump_fetch_all(struct dump *d, size_t i, const char *qname)
{
    int64_t done = 0;
    for (;;) {
        struct pg_result *r;
        char sql[64];
        snprintf(sql, sizeof(sql), "FETCH FORWARD %d FROM dba_backup_cur", DUMP_FETCH_ROWS);
        int rc = dump_exec(d, sql, &r);
        if (rc != DBA_OK)
            return rc;
        int n = dba_db_res_ntuples(r);
        for (int k = 0; k < n && rc == DBA_OK; k++)
            rc = dump_row(d, qname, dba_db_res_value(r, k, 0), dba_db_res_len(r, k, 0),
                          done + k == 0);
        dba_db_res_clear(r);
        if (rc != DBA_OK)
            return rc;
        done += n;
        if (d->o->progress != NULL)
            d->o->progress(d->o->progress_arg, d->s->tables[i].name, done, d->counts[i]);
        if (n < DUMP_FETCH_ROWS)
            return DBA_OK;
    }
}

static int
dump_table(struct dump *d, size_t i)
{
    const struct dba_backup_table *t = &d->s->tables[i];
    json_t *jn = json_string(t->name);
    char *qname = json_dumps(jn, JSON_ENCODE_ANY);
    struct dba_buf b;
    json_decref(jn);
    dba_buf_init(&b);
    dba_buf_puts(&b, "DECLARE dba_backup_cur NO SCROLL CURSOR FOR SELECT row_to_json(_r)::text "
                     "FROM ");
    dump_qname(d, t, &b);
    dba_buf_puts(&b, " _r WHERE ");
    dump_where(d, i, &b);
    dba_buf_puts(&b, " ORDER BY ");
    dba_buf_put_ident(&b, t->pk);
    int rc = d->o->jsonl ? DBA_OK : dump_outs(d, ",\n");
    if (rc == DBA_OK && !d->o->jsonl)
        rc = dump_outs(d, qname);
    if (rc == DBA_OK && !d->o->jsonl)
        rc = dump_outs(d, ": [");
    if (rc == DBA_OK)
        rc = dump_exec(d, b.data, NULL);
    if (rc == DBA_OK)
        rc = dump_fetch_all(d, i, qname);
    if (rc == DBA_OK)
        rc = dump_exec(d, "CLOSE dba_backup_cur", NULL);
    if (rc == DBA_OK && !d->o->jsonl)
        rc = dump_outs(d, d->counts[i] > 0 ? "\n]" : "]");
    dba_buf_cleanup(&b);
    free(qname);
    return rc;
}

json_t *
dba_backup_dump(void *conn, const struct dba_backup_schema *s, const struct dba_backup_opts *o,
                struct dba_err *err)
{
    struct dump d = { .conn = conn, .s = s, .o = o, .err = err };
    d.counts = dba_xcalloc(s->n + 1, sizeof(*d.counts));
    d.params[0] = o->user_id;
    d.n_params = o->user_id != NULL ? 1 : 0;
    int rc = dump_exec(&d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL);
    if (rc == DBA_OK)
        rc = dump_counts(&d);
    if (rc == DBA_OK)
        rc = dump_head(&d);
    for (size_t i = 0; i < s->n && rc == DBA_OK; i++)
        rc = dump_table(&d, i);
    if (rc == DBA_OK && !o->jsonl)
        rc = dump_outs(&d, "\n}\n");
    struct dba_err end_err;
    struct pg_result *r = dba_db_exec(conn, rc == DBA_OK ? "COMMIT" : "ROLLBACK", NULL, 0,
                                      &end_err);
    dba_db_res_clear(r);
    json_t *sum = NULL;
    if (rc == DBA_OK) {
        json_t *tables = json_object();
        int64_t total = 0;
        for (size_t i = 0; i < s->n; i++) {
            json_object_set_new(tables, s->tables[i].name, json_integer(d.counts[i]));
            total += d.counts[i];
        }
        sum = json_pack("{s:o,s:I}", "tables", tables, "rows", (json_int_t)total);
    }
    free(d.counts);
    return sum;
}

static int
dump_write_file(void *arg, const char *p, size_t n)
{
    return fwrite(p, 1, n, arg) == n ? 0 : -1;
}

json_t *
dba_backup_dump_file(void *conn, const struct dba_backup_schema *s, struct dba_backup_opts *o,
                     const char *path, struct dba_err *err)
{
    size_t n = strlen(path) + 8;
    char *tmp = dba_xmalloc(n);
    snprintf(tmp, n, "%s.part", path);
    FILE *f = fopen(tmp, "w");
    json_t *sum = NULL;
    if (f == NULL) {
        dba_err_set(err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot write %s: %s", tmp,
                    strerror(errno));
        free(tmp);
        return NULL;
    }
    o->write = dump_write_file;
    o->write_arg = f;
    sum = dba_backup_dump(conn, s, o, err);
    bool flushed = fflush(f) == 0 && fsync(fileno(f)) == 0;
    if ((fclose(f) != 0 || !flushed) && sum != NULL) {
        json_decref(sum);
        sum = NULL;
        dba_err_set(err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot write %s", tmp);
    }
    if (sum != NULL && rename(tmp, path) != 0) {
        json_decref(sum);
        sum = NULL;
        dba_err_set(err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot rename to %s", path);
    }
    if (sum == NULL)
        unlink(tmp);
    free(tmp);
    return sum;
}
