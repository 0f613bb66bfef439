/* dump.c - backup: every table read inside one REPEATABLE READ READ ONLY transaction (one
   consistent snapshot) and streamed through the writer with COPY (SELECT <columns> ...) TO
   STDOUT, so the server never waits for the client between batches and memory stays flat. The
   server only prints the columns (as pg_dump's plain COPY does); the client renders each line
   into the bytes row_to_json gives (render.c), the columns and their types read for all tables
   in one catalog query. The row counts of the metadata (written first) come from one query for
   all tables. The user id of a scoped backup is bound once as a parameter (set_config) and read
   by current_setting: COPY takes no parameters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup_int.h"
#include <libpq-fe.h>
#include <zlib.h>

#include "db/db.h"

#define DUMP_PROGRESS_ROWS 5000  /* rows between progress calls */
#define DUMP_FLUSH_BYTES (64 * 1024) /* rendered rows are written in chunks of about this */

struct dump {
    struct pg_conn *conn;                /* borrowed */
    const struct dba_backup_schema *s;   /* borrowed */
    const struct dba_backup_opts *o;     /* borrowed */
    int n_params;                        /* 1 when scoped to a user (dba.backup_user) */
    struct dba_err *err;                 /* out */
    int64_t *counts;                     /* rows per table */
    struct dba__render *render;          /* per table: its columns, owned */
    bool *fk;                            /* per table: an enforced foreign key holds its
                                            parent reference (see dump_all_rows), owned */
    struct dba_buf out;                  /* rendered rows not written yet */
};

/* The schema table t is read from. */
static const char *
dump_nsp(const struct dump *d, const struct dba_backup_table *t)
{
    return t->nsp != NULL ? t->nsp : d->o->nsp != NULL ? d->o->nsp : "public";
}

/* The table's relation qualified with the schema it is read from: "nsp"."name". */
static void
dump_qname(const struct dump *d, const struct dba_backup_table *t, struct dba_buf *b)
{
    dba_buf_put_ident(b, dump_nsp(d, t));
    dba_buf_putc(b, '.');
    dba_buf_put_ident(b, t->rel != NULL ? t->rel : t->name);
}

/* WHERE condition selecting table i's rows: the user's, and (for children) those whose parent
   row is selected too (recursively), so children of rows left out are left out. */
/* True when every row of table i is selected: no user scope on it and, for a child, its parent
   reference held by a validated, enforced foreign key to the parent's key (so no row points to
   a missing parent) whose parent has no row security and is selected whole too. The condition on
   the parent is then true for every row and is left out of the statements (it made the server
   join every child with its parent twice, for the count and for the COPY). */
static bool
dump_all_rows(const struct dump *d, size_t i)
{
    const struct dba_backup_table *t = &d->s->tables[i];
    if (d->n_params > 0 && t->user_field != NULL)
        return false;
    if (t->parent.table == NULL)
        return true;
    int p = dba_backup_schema_find(d->s, t->parent.table);
    return p >= 0 && (size_t)p != i && d->fk[i] && dump_all_rows(d, (size_t)p);
}

static void
dump_where(struct dump *d, size_t i, struct dba_buf *b)
{
    const struct dba_backup_table *t = &d->s->tables[i];
    dba_buf_puts(b, "TRUE");
    if (d->n_params > 0 && t->user_field != NULL) {
        dba_buf_puts(b, " AND ");
        dba_buf_put_ident(b, t->user_field);
        dba_buf_puts(b, "::text = current_setting('dba.backup_user')");
    }
    if (t->parent.table == NULL || dump_all_rows(d, i))
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
    struct pg_result *r = dba_db_exec(d->conn, sql, NULL, 0, d->err);
    if (r == NULL)
        return DBA_EDB;
    if (out != NULL)
        *out = r;
    else
        dba_db_res_clear(r);
    return DBA_OK;
}

/* The rows each table will give, from one statement for all tables:
   SELECT (SELECT count(*) FROM t1 WHERE ...), (SELECT count(*) FROM t2 WHERE ...), ... */
static int
dump_counts(struct dump *d)
{
    if (d->s->n == 0)
        return DBA_OK;
    struct dba_buf b;
    struct pg_result *r;
    dba_buf_init(&b);
    dba_buf_puts(&b, "SELECT ");
    for (size_t i = 0; i < d->s->n; i++) {
        dba_buf_puts(&b, i > 0 ? ", (SELECT count(*) FROM " : "(SELECT count(*) FROM ");
        dump_qname(d, &d->s->tables[i], &b);
        dba_buf_puts(&b, " WHERE ");
        dump_where(d, i, &b);
        dba_buf_putc(&b, ')');
    }
    int rc = dump_exec(d, b.data, &r);
    dba_buf_cleanup(&b);
    if (rc != DBA_OK)
        return rc;
    for (size_t i = 0; i < d->s->n; i++)
        d->counts[i] = strtoll(dba_db_res_value(r, 0, (int)i), NULL, 10);
    dba_db_res_clear(r);
    return DBA_OK;
}

/* Every table's columns in order with their types through domains (and an array's element
   type when it is a base type with ',' between elements), and whether an enforced
   foreign key (validated, its triggers not disabled) holds the table's parent reference to the
   parent's key column, the parent without row security (dump_all_rows); one catalog query for
   all tables, named by bound parameters (arrays: schema, relation, parent field, parent schema,
   parent relation, parent key; '' without a parent). */
static const char DUMP_COLUMNS_SQL[] =
    "SELECT q.i, a.attname, b.oid, coalesce(el.oid, 0), EXISTS (SELECT FROM "
    "pg_catalog.pg_constraint k "
    "JOIN pg_catalog.pg_class pc ON pc.oid = k.confrelid "
    "JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace "
    "JOIN pg_catalog.pg_attribute fa ON fa.attrelid = c.oid AND fa.attname = q.pfield "
    "JOIN pg_catalog.pg_attribute pa ON pa.attrelid = pc.oid AND pa.attname = q.ppk "
    "WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.convalidated AND pn.nspname = q.pnsp "
    "AND pc.relname = q.prel AND NOT pc.relrowsecurity AND k.conkey = ARRAY[fa.attnum] "
    "AND k.confkey = ARRAY[pa.attnum] AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g "
    "WHERE g.tgconstraint = k.oid AND g.tgenabled NOT IN ('O', 'A'))) "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
    "WITH ORDINALITY AS q(nsp, rel, pfield, pnsp, prel, ppk, i) "
    "JOIN pg_catalog.pg_namespace n ON n.nspname = q.nsp "
    "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = q.rel "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
    "AND NOT a.attisdropped CROSS JOIN LATERAL (WITH RECURSIVE d(oid, typtype, base) AS "
    "(SELECT t.oid, t.typtype, t.typbasetype FROM pg_catalog.pg_type t WHERE t.oid = a.atttypid "
    "UNION ALL SELECT t.oid, t.typtype, t.typbasetype FROM pg_catalog.pg_type t JOIN d ON "
    "t.oid = d.base WHERE d.typtype = 'd') SELECT d.oid FROM d WHERE d.typtype <> 'd') b "
    "LEFT JOIN LATERAL (SELECT e.oid FROM pg_catalog.pg_type at JOIN pg_catalog.pg_type e ON "
    "e.oid = at.typelem AND e.typarray = at.oid AND e.typtype = 'b' AND e.typdelim = ',' "
    "WHERE at.oid = b.oid) el ON TRUE ORDER BY q.i, a.attnum";

static int
dump_columns(struct dump *d)
{
    enum { NSP, REL, PFIELD, PNSP, PREL, PPK, N_ARR };
    const char **v[N_ARR];
    for (int k = 0; k < N_ARR; k++)
        v[k] = dba_xcalloc(d->s->n + 1, sizeof(*v[k]));
    for (size_t i = 0; i < d->s->n; i++) {
        const struct dba_backup_table *t = &d->s->tables[i];
        int p = t->parent.table != NULL ? dba_backup_schema_find(d->s, t->parent.table) : -1;
        const struct dba_backup_table *pt = p >= 0 ? &d->s->tables[p] : NULL;
        v[NSP][i] = dump_nsp(d, t);
        v[REL][i] = t->rel != NULL ? t->rel : t->name;
        v[PFIELD][i] = pt != NULL ? t->parent.field : "";
        v[PNSP][i] = pt != NULL ? dump_nsp(d, pt) : "";
        v[PREL][i] = pt == NULL ? "" : pt->rel != NULL ? pt->rel : pt->name;
        v[PPK][i] = pt != NULL ? pt->pk : "";
    }
    struct dba_buf arr[N_ARR];
    const char *params[N_ARR];
    for (int k = 0; k < N_ARR; k++) {
        dba_buf_init(&arr[k]);
        dba_buf_put_text_array(&arr[k], v[k], d->s->n);
        params[k] = arr[k].data;
    }
    struct pg_result *r = dba_db_exec(d->conn, DUMP_COLUMNS_SQL, params, N_ARR, d->err);
    for (int k = 0; k < N_ARR; k++) {
        dba_buf_cleanup(&arr[k]);
        free(v[k]);
    }
    if (r == NULL)
        return DBA_EDB;
    const char *ds = PQparameterStatus((PGconn *)d->conn, "DateStyle");
    bool iso = ds != NULL && strncmp(ds, "ISO", 3) == 0;
    for (int k = 0; k < dba_db_res_ntuples(r); k++) {
        long i = strtol(dba_db_res_value(r, k, 0), NULL, 10) - 1;
        unsigned oid = (unsigned)strtoul(dba_db_res_value(r, k, 2), NULL, 10);
        if (i < 0 || (size_t)i >= d->s->n)
            continue;
        unsigned elem_oid = (unsigned)strtoul(dba_db_res_value(r, k, 3), NULL, 10);
        int elem, kind = dba__render_kind(oid, elem_oid, iso, &elem);
        dba__render_add(&d->render[i], dba_db_res_value(r, k, 1), kind, elem);
        d->fk[i] = strcmp(dba_db_res_value(r, k, 4), "t") == 0;
    }
    dba_db_res_clear(r);
    return DBA_OK;
}

/* Writes what is buffered. */
static int
dump_flush(struct dump *d)
{
    int rc = DBA_OK;
    if (d->out.len > 0 && d->o->write(d->o->write_arg, d->out.data, d->out.len) != 0)
        rc = dba_err_set(d->err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot write the backup");
    dba_buf_reset(&d->out);
    return rc;
}

/* Buffers p[0..n) for the writer, written in chunks of about DUMP_FLUSH_BYTES. */
static int
dump_out(struct dump *d, const char *p, size_t n)
{
    dba_buf_append(&d->out, p, n);
    return d->out.len >= DUMP_FLUSH_BYTES ? dump_flush(d) : DBA_OK;
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

/* Writes one COPY line (without its newline) of table i as its JSON object: ",\n<row>" in a
   document, {"table":..,"row":..} in jsonl. */
static int
dump_row(struct dump *d, size_t i, const char *qname, const char *line, size_t len, bool first)
{
    if (d->o->jsonl) {
        dba_buf_puts(&d->out, "{\"table\": ");
        dba_buf_puts(&d->out, qname);
        dba_buf_puts(&d->out, ", \"row\": ");
    } else {
        dba_buf_puts(&d->out, first ? "\n" : ",\n");
    }
    if (!dba__render_row(&d->render[i], &d->out, line, len))
        return dba_err_set(d->err, DBA_EDB, 500, DBA_BACKUP_CODE,
                           "backup of %s failed: a row does not have the table's %zu columns",
                           d->s->tables[i].name, d->render[i].n);
    if (d->o->jsonl)
        dba_buf_puts(&d->out, "}\n");
    return d->out.len >= DUMP_FLUSH_BYTES ? dump_flush(d) : DBA_OK;
}

/* Streams the rows of the COPY started on d->conn through the writer; the COPY's final result
   decides success. */
static int
dump_copy_rows(struct dump *d, size_t i, const char *qname)
{
    PGconn *pg = (PGconn *)d->conn;
    int64_t done = 0;
    int rc = DBA_OK;
    char *line;
    int n;
    while ((n = PQgetCopyData(pg, &line, 0)) > 0) {
        size_t len = (size_t)n;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (rc == DBA_OK) /* after a failure, drain the COPY */
            rc = dump_row(d, i, qname, line, len, done == 0);
        PQfreemem(line);
        done++;
        if (rc == DBA_OK && d->o->progress != NULL && done % DUMP_PROGRESS_ROWS == 0)
            d->o->progress(d->o->progress_arg, d->s->tables[i].name, done, d->counts[i]);
    }
    PGresult *r = PQgetResult(pg);
    bool ok = n == -1 && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok && rc == DBA_OK) {
        const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        rc = dba_err_set(d->err, DBA_EDB, 500, DBA_BACKUP_CODE, "backup of %s failed: %s",
                         d->s->tables[i].name, m != NULL ? m : PQerrorMessage(pg));
        if (st != NULL)
            snprintf(d->err->sqlstate, sizeof(d->err->sqlstate), "%s", st);
    }
    PQclear(r);
    while ((r = PQgetResult(pg)) != NULL)
        PQclear(r);
    if (rc == DBA_OK && d->o->progress != NULL)
        d->o->progress(d->o->progress_arg, d->s->tables[i].name, done, d->counts[i]);
    return rc;
}

/* Starts the COPY (status PGRES_COPY_OUT) and streams its rows. */
static int
dump_copy(struct dump *d, size_t i, const char *sql, const char *qname)
{
    PGconn *pg = (PGconn *)d->conn;
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        dba_err_set(d->err, DBA_EDB, 500, DBA_BACKUP_CODE, "backup of %s failed: %s",
                    d->s->tables[i].name, m != NULL ? m : PQerrorMessage(pg));
        if (st != NULL)
            snprintf(d->err->sqlstate, sizeof(d->err->sqlstate), "%s", st);
        PQclear(r);
        return DBA_EDB;
    }
    PQclear(r);
    return dump_copy_rows(d, i, qname);
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
    dba_buf_puts(&b, "COPY (SELECT ");
    for (size_t c = 0; c < d->render[i].n; c++) {
        const struct dba__render_col *col = &d->render[i].cols[c];
        bool server = col->kind == DBA__RENDER_SERVER;
        if (c > 0)
            dba_buf_puts(&b, ", ");
        dba_buf_puts(&b, server ? "to_json(_r." : "_r.");
        dba_buf_put_ident(&b, col->name);
        if (server)
            dba_buf_puts(&b, ")::text");
    }
    dba_buf_puts(&b, " FROM ");
    dump_qname(d, t, &b);
    dba_buf_puts(&b, " _r WHERE ");
    dump_where(d, i, &b);
    dba_buf_puts(&b, " ORDER BY ");
    dba_buf_put_ident(&b, t->pk);
    dba_buf_puts(&b, ") TO STDOUT");
    int rc = d->o->jsonl ? DBA_OK : dump_outs(d, ",\n");
    if (rc == DBA_OK && !d->o->jsonl)
        rc = dump_outs(d, qname);
    if (rc == DBA_OK && !d->o->jsonl)
        rc = dump_outs(d, ": [");
    if (rc == DBA_OK)
        rc = dump_copy(d, i, b.data, qname);
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
    d.render = dba_xcalloc(s->n + 1, sizeof(*d.render));
    d.fk = dba_xcalloc(s->n + 1, sizeof(*d.fk));
    for (size_t i = 0; i < s->n; i++)
        dba__render_init(&d.render[i]);
    dba_buf_init(&d.out);
    d.n_params = o->user_id != NULL ? 1 : 0;
    int rc = dump_exec(&d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL);
    if (rc == DBA_OK && o->user_id != NULL) {
        const char *p[1] = { o->user_id };
        struct pg_result *r = dba_db_exec(conn, "SELECT set_config('dba.backup_user', $1, true)",
                                          p, 1, err);
        dba_db_res_clear(r);
        rc = r != NULL ? DBA_OK : DBA_EDB;
    }
    if (rc == DBA_OK)
        rc = dump_columns(&d);
    if (rc == DBA_OK)
        rc = dump_counts(&d);
    if (rc == DBA_OK)
        rc = dump_head(&d);
    for (size_t i = 0; i < s->n && rc == DBA_OK; i++)
        rc = dump_table(&d, i);
    if (rc == DBA_OK && !o->jsonl)
        rc = dump_outs(&d, "\n}\n");
    if (rc == DBA_OK)
        rc = dump_flush(&d);
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
    for (size_t i = 0; i < s->n; i++)
        dba__render_cleanup(&d.render[i]);
    free(d.render);
    free(d.fk);
    dba_buf_cleanup(&d.out);
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
    gzFile gz = NULL;
    if (dba_backup_path_gz(path)) {
        int fd2 = dup(fileno(f));
        gz = fd2 >= 0 ? gzdopen(fd2, "wb6") : NULL;
        if (gz == NULL && fd2 >= 0)
            close(fd2);
    }
    o->write = gz != NULL ? dba_backup_write_gz : dump_write_file;
    o->write_arg = gz != NULL ? (void *)gz : (void *)f;
    if (gz != NULL || !dba_backup_path_gz(path))
        sum = dba_backup_dump(conn, s, o, err);
    else
        dba_err_set(err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot compress %s", tmp);
    if (gz != NULL && gzclose(gz) != Z_OK && sum != NULL) {
        json_decref(sum);
        sum = NULL;
        dba_err_set(err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot write %s", tmp);
    }
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
