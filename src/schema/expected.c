/* expected.c - the expected schema, read by PostgreSQL's own parser.

   The schema file is run, as one simple-query string, in a scratch database created from
   template0 next to the live one (the "dev database" technique of schema tools such as Atlas)
   and introspected with the same code as the live database; the scratch database is dropped
   whatever happens (WITH (FORCE)). We chose a scratch database over a rolled-back transaction on
   a scratch schema of the live database because only an empty database gives the file's own
   meaning: `CREATE TABLE IF NOT EXISTS public.t` in a transaction on the live database would be
   a no-op against the live table, schema-qualified names and user types would land in (and lock)
   live schemas, and REFERENCES would point at live tables. The price is that the role must be
   allowed to CREATE DATABASE; without it the error says so.

   Unqualified names in the file land in the profile's first exposed schema (created in the
   scratch database when it is not public), which is what they mean for the gateway. A file that
   PostgreSQL rejects gives PostgreSQL's message and the line, computed from the error position
   (a character offset into the file). psql meta-commands (\connect, COPY FROM stdin) are not
   SQL and are rejected the same way. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "db/db.h"
#include "schema/schema.h"

char *
dba_schema_file_read(const char *path, struct dba_err *err)
{
    FILE *f = fopen(path, "rb");
    struct dba_buf b;
    char chunk[8192];
    size_t n;

    if (f == NULL) {
        dba_err_set(err, DBA_ENOTFOUND, 404, "DBA021", "schema file not found: %s", path);
        dba_err_detail(err, "%s.", strerror(errno));
        dba_err_hint(err, "Set schema.file in the configuration or pass --schema-file.");
        return NULL;
    }
    dba_buf_init(&b);
    dba_buf_puts(&b, "");
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dba_buf_append(&b, chunk, n);
    fclose(f);
    return dba_buf_take(&b);
}

/* 1-based line of the 1-based character position pos (UTF-8) in sql; *start gets its start. */
static int
line_of(const char *sql, long pos, const char **start)
{
    int line = 1;
    long chars = 0;

    *start = sql;
    for (const char *p = sql; *p && chars < pos - 1; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80)
            chars++;
        if (*p == '\n') {
            line++;
            *start = p + 1;
        }
    }
    return line;
}

/* The file was rejected: PostgreSQL's message, the line and its text. */
static void
rejected(const PGresult *r, const char *sql, struct dba_err *err)
{
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    msg = msg ? msg : "unknown error";
    if (pos == NULL) {
        dba_err_set(err, DBA_EINVAL, 422, "DBA020", "schema file rejected by PostgreSQL: %s", msg);
        dba_err_detail(err, "PostgreSQL gave no position for this error (SQLSTATE %s).",
                       state ? state : "?");
        return;
    }
    const char *start;
    int line = line_of(sql, atol(pos), &start);
    dba_err_set(err, DBA_EINVAL, 422, "DBA020", "schema file rejected by PostgreSQL at line %d: %s",
                line, msg);
    dba_err_detail(err, "line %d: %.*s", line, (int)strcspn(start, "\n"), start);
}

/* Opens the scratch database: conninfo with its dbname replaced. */
static PGconn *
scratch_connect(const char *conninfo, const char *name, struct dba_err *err)
{
    const char *keys[] = { "dbname", "connect_timeout", "application_name", "dbname", NULL };
    const char *vals[] = { conninfo, "10", "db-adapter scratch", name, NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        dba_err_set(err, DBA_EIO, 503, "DBA022", "could not connect to the scratch database");
        dba_err_detail(err, "%s", c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    return c;
}

static bool
db_exec(PGconn *c, const char *sql, struct dba_err *err)
{
    struct pg_result *r = dba_db_exec(c, sql, NULL, 0, err);

    dba_db_res_clear(r);
    return r != NULL;
}

/* Creates the first exposed schema when needed and points unqualified names at it. */
static bool
scratch_prepare(PGconn *c, const char *first, struct dba_err *err)
{
    struct dba_buf b;
    bool ok = db_exec(c, "SET client_min_messages = warning", err);

    dba_buf_init(&b);
    if (ok && strcmp(first, "public") != 0) {
        dba_buf_puts(&b, "CREATE SCHEMA ");
        dba_buf_put_ident(&b, first);
        ok = db_exec(c, b.data, err);
        dba_buf_reset(&b);
    }
    dba_buf_puts(&b, "SET search_path = ");
    dba_buf_put_ident(&b, first);
    dba_buf_puts(&b, ", public");
    ok = ok && db_exec(c, b.data, err);
    dba_buf_cleanup(&b);
    return ok;
}

/* Applies the file in the scratch database and introspects it. */
static json_t *
scratch_run(PGconn *c, const char *sql, const char *const *schemas, size_t n,
            const struct dba_config_strv *exclude, struct dba_err *err)
{
    if (!scratch_prepare(c, schemas[0], err))
        return NULL;
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        if (r != NULL && PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) != NULL)
            rejected(r, sql, err);
        else
            dba_err_set(err, DBA_EIO, 503, "DBA022", "scratch database connection lost");
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    /* The file may have left a transaction open or aborted; start clean. */
    if (PQtransactionStatus(c) != PQTRANS_IDLE && !db_exec(c, "ROLLBACK", err))
        return NULL;
    return dba_schema_introspect(c, schemas, n, exclude, err);
}

static void
scratch_drop(PGconn *live, const char *name)
{
    struct dba_buf b;
    struct dba_err ignored;

    dba_buf_init(&b);
    dba_buf_puts(&b, "DROP DATABASE IF EXISTS ");
    dba_buf_put_ident(&b, name);
    dba_buf_puts(&b, " WITH (FORCE)");
    if (!db_exec(live, b.data, &ignored))
        dba_log(DBA_LOG_WARN, "could not drop scratch database %s: %s", name, ignored.msg);
    dba_buf_cleanup(&b);
}

static bool
scratch_create(PGconn *live, const char *name, struct dba_err *err)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_puts(&b, "CREATE DATABASE ");
    dba_buf_put_ident(&b, name);
    dba_buf_puts(&b, " TEMPLATE template0");
    bool ok = db_exec(live, b.data, err);
    dba_buf_cleanup(&b);
    if (!ok) {
        char pg[sizeof(err->msg)];
        snprintf(pg, sizeof(pg), "%s", err->msg);
        dba_err_set(err, DBA_EDB, 503, "DBA022",
                    "cannot create the scratch database used to read the schema file");
        dba_err_detail(err, "PostgreSQL said: %s", pg);
        dba_err_hint(err, "The expected schema is read by applying the file to an empty scratch "
                          "database; grant the role CREATEDB (ALTER ROLE ... CREATEDB).");
    }
    return ok;
}

json_t *
dba_schema_expected(struct pg_conn *live, const char *conninfo, const char *sql,
                    const char *const *schemas, size_t n, const struct dba_config_strv *exclude,
                    struct dba_err *err)
{
    static atomic_uint seq;
    char name[64];

    DBA_ASSERT(n > 0);
    snprintf(name, sizeof(name), "dba_scratch_%ld_%u", (long)getpid(),
             atomic_fetch_add(&seq, 1));
    if (!scratch_create(live, name, err))
        return NULL;
    json_t *out = NULL;
    PGconn *c = scratch_connect(conninfo, name, err);
    if (c != NULL) {
        out = scratch_run(c, sql, schemas, n, exclude, err);
        PQfinish(c);
    }
    scratch_drop(live, name);
    return out;
}
