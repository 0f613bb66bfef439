/* expected.c - the expected schema, read by PostgreSQL's own parser.

   The schema file is first sorted statement by statement (ddl_filter.c): a refused statement
   refuses the file and nothing runs. The statements that may run are then applied one by one in
   a scratch database created from template0 next to the live one (the "dev database" technique of schema tools such as Atlas)
   and introspected with the same code as the live database; the scratch database is dropped
   whatever happens (WITH (FORCE)). We chose a scratch database over a rolled-back transaction on
   a scratch schema of the live database because only an empty database gives the file's own
   meaning: `CREATE TABLE IF NOT EXISTS public.t` in a transaction on the live database would be
   a no-op against the live table, schema-qualified names and user types would land in (and lock)
   live schemas, and REFERENCES would point at live tables. The price is that the role must be
   allowed to CREATE DATABASE and CREATE ROLE; without them the error says so.

   The scratch work never runs with the profile's rights. The gateway creates a NOLOGIN,
   NOSUPERUSER, NOCREATEROLE role with a unique name, makes it the owner of the scratch database,
   and the scratch session does SET ROLE to it. Each statement then runs through EXECUTE inside a
   SECURITY DEFINER function owned by that role: within a security-definer function PostgreSQL
   refuses any change of role or session authorization, so even a function of the file that
   PostgreSQL evaluates while creating something (a fast column default, a partition bound)
   cannot RESET ROLE back to the profile's role. Such a function could try to leave code to run
   after its statement, outside that call: the apply function is checked to be unchanged before
   each statement, fires deferred triggers and closes WITH HOLD cursors before it returns, and
   temporary objects are discarded before the introspection. A gap in the filter is therefore
   not a breach: the role can do nothing outside its own empty database. Database and role are
   dropped whatever happens.

   Unqualified names in the file land in the profile's first exposed schema (created in the
   scratch database when it is not public), which is what they mean for the gateway. A file that
   PostgreSQL rejects gives PostgreSQL's message and the line, computed from the statement's line
   and the error position inside it (a character offset). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
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

/* The statement s (of the filtered text t) was rejected: PostgreSQL's message and the line,
   from the position inside the statement when PostgreSQL gave one. */
static void
rejected(const PGresult *r, const char *t, const struct dba_schema_stmt *s, struct dba_err *err)
{
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *pos = PQresultErrorField(r, PG_DIAG_INTERNAL_POSITION);
    const char *query = PQresultErrorField(r, PG_DIAG_INTERNAL_QUERY);
    size_t off = s->off;
    int line = s->line;

    msg = msg ? msg : "unknown error";
    /* The position counts in the statement itself only when the failing query is the statement
       (not a query its own functions ran). */
    if (pos != NULL && atol(pos) > 0 && query != NULL && strlen(query) == s->len &&
        strncmp(query, t + s->off, s->len) == 0) {
        long want = atol(pos), chars = 0;
        for (size_t i = s->off; i < s->off + s->len; i++) {
            if (((unsigned char)t[i] & 0xC0) != 0x80 && ++chars == want) {
                off = i;
                break;
            }
        }
        line = 1;
        for (size_t i = 0; i < off; i++)
            line += t[i] == '\n';
    }
    /* The start of that line (the statement's text may begin before its first token). */
    const char *start = t;
    for (int l = 1; l < line && strchr(start, '\n') != NULL; l++)
        start = strchr(start, '\n') + 1;
    dba_err_set(err, DBA_EINVAL, 422, "DBA020", "schema file rejected by PostgreSQL at line %d: %s",
                line, msg);
    dba_err_detail(err, "line %d: %.*s", line, (int)strcspn(start, "\r\n"), start);
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

/* "<prefix> <quoted name><suffix>" run on c. */
static bool
exec_named(PGconn *c, const char *prefix, const char *name, const char *suffix,
           struct dba_err *err)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_puts(&b, prefix);
    dba_buf_put_ident(&b, name);
    dba_buf_puts(&b, suffix);
    bool ok = db_exec(c, b.data, err);
    dba_buf_cleanup(&b);
    return ok;
}

/* The body of the apply function. Nothing of the file may run at commit, outside the
   security-definer call, where RESET ROLE works: SET CONSTRAINTS ALL IMMEDIATE fires the deferred
   triggers a statement queued (a function of the file may insert rows) and CLOSE ALL drops the
   WITH HOLD cursors it may have declared (their query would run at commit). */
#define SCRATCH_FN_BODY \
    "BEGIN EXECUTE sql; SET CONSTRAINTS ALL IMMEDIATE; EXECUTE 'CLOSE ALL'; END"

/* Becomes the scratch role, creates the first exposed schema when needed, points unqualified
   names at it, and defines the security-definer function every statement runs through. */
static bool
scratch_prepare(PGconn *c, const struct dba_schema_ddl *d, const char *role, const char *fn,
                const char *first, struct dba_err *err)
{
    bool ok = db_exec(c, "SET client_min_messages = warning", err) &&
              exec_named(c, "SET ROLE ", role, "", err);
    bool created_by_file = false;

    /* A dump of the schema creates it itself (CREATE SCHEMA has no IF NOT EXISTS in dumps). */
    for (size_t i = 0; i < d->n; i++)
        created_by_file = created_by_file || (d->stmts[i].action == DBA_SCHEMA_STMT_RUN &&
                                              strcmp(d->stmts[i].creates_schema, first) == 0);
    if (ok && strcmp(first, "public") != 0 && !created_by_file)
        ok = exec_named(c, "CREATE SCHEMA ", first, "", err);
    if (ok) {
        struct dba_buf b;
        dba_buf_init(&b);
        dba_buf_puts(&b, "SET search_path = ");
        dba_buf_put_ident(&b, first);
        dba_buf_puts(&b, ", public");
        ok = db_exec(c, b.data, err);
        dba_buf_cleanup(&b);
    }
    return ok && exec_named(c, "CREATE FUNCTION pg_temp.", fn,
                            "(sql text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER "
                            "AS $f$" SCRATCH_FN_BODY "$f$", err);
}

/* The apply function as created: "oid", "proowner", "prolang" (text), checked before each
   statement. A function of the file that PostgreSQL evaluates during one statement runs as the
   scratch role, which owns the apply function and so could replace it (say, without SECURITY
   DEFINER, or as an immutable function PostgreSQL would evaluate while planning the call) for the
   statements after; the check, a query of its own before the call, makes that a refusal.
   Everything the gateway runs after the first statement of the file names pg_catalog objects
   qualified, operators as OPERATOR(pg_catalog.=), because the file may put its own schema before
   pg_catalog and temporary relations and types come before it anyway. */
struct scratch_fn {
    char id[3][24];      /* oid, proowner, prolang */
};

static bool
scratch_fn_get(PGconn *c, const char *fn, struct scratch_fn *f, struct dba_err *err)
{
    const char *params[] = { fn };
    PGresult *r = PQexecParams(
        c, "SELECT oid, proowner, prolang FROM pg_catalog.pg_proc"
           " WHERE proname OPERATOR(pg_catalog.=) $1"
           " AND pronamespace OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema()",
        1, NULL, params, NULL, NULL, 0);
    bool ok = r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

    for (int k = 0; ok && k < 3; k++)
        snprintf(f->id[k], sizeof(f->id[k]), "%s", PQgetvalue(r, 0, k));
    if (!ok)
        dba_err_set(err, DBA_EDB, 503, "DBA022", "could not prepare the scratch database");
    PQclear(r);
    return ok;
}

/* True when the apply function is still exactly as created. */
static bool
scratch_fn_intact(PGconn *c, const struct scratch_fn *f, int line, struct dba_err *err)
{
    const char *params[] = { f->id[0], f->id[1], f->id[2], SCRATCH_FN_BODY };
    PGresult *r = PQexecParams(
        c, "SELECT 1 FROM pg_catalog.pg_proc WHERE oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
           " AND proowner OPERATOR(pg_catalog.=) $2::pg_catalog.oid"
           " AND prolang OPERATOR(pg_catalog.=) $3::pg_catalog.oid AND prosecdef"
           " AND provolatile OPERATOR(pg_catalog.=) 'v' AND proconfig IS NULL"
           " AND prosrc OPERATOR(pg_catalog.=) $4::pg_catalog.text",
        4, NULL, params, NULL, NULL, 0);
    bool ran = r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK;
    bool ok = ran && PQntuples(r) == 1;

    PQclear(r);
    if (!ran)
        dba_err_set(err, DBA_EIO, 503, "DBA022", "scratch database connection lost");
    else if (!ok) {
        dba_err_set(err, DBA_EINVAL, 422, "DBA024",
                    "expected schema refused: a statement before line %d changed the function "
                    "the gateway applies the schema through", line);
        dba_err_detail(err, "A function of the schema file replaced or altered it while "
                            "PostgreSQL evaluated it. Nothing after that ran.");
    }
    return ok;
}

/* Runs statement s through the apply function (call: the query). */
static bool
scratch_apply(PGconn *c, const char *call, const struct scratch_fn *f,
              const struct dba_schema_ddl *d, const struct dba_schema_stmt *s,
              struct dba_err *err)
{
    if (!scratch_fn_intact(c, f, s->line, err))
        return false;
    char *text = dba_xstrndup(d->text + s->off, s->len);
    const char *params[] = { text };
    PGresult *r = PQexecParams(c, call, 1, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    bool ok = st == PGRES_TUPLES_OK;

    free(text);
    if (!ok && r != NULL && PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) != NULL)
        rejected(r, d->text, s, err);
    else if (!ok)
        dba_err_set(err, DBA_EIO, 503, "DBA022", "scratch database connection lost");
    PQclear(r);
    return ok;
}

/* Applies the runnable statements of d one by one, then introspects. */
static json_t *
scratch_run(PGconn *c, const struct dba_schema_ddl *d, const char *role, const char *fn,
            const char *const *schemas, size_t n, const struct dba_config_strv *exclude,
            struct dba_err *err)
{
    struct dba_buf call;
    struct scratch_fn f;

    if (!scratch_prepare(c, d, role, fn, schemas[0], err) || !scratch_fn_get(c, fn, &f, err))
        return NULL;
    dba_buf_init(&call);
    dba_buf_puts(&call, "SELECT pg_temp.");
    dba_buf_put_ident(&call, fn);
    dba_buf_puts(&call, "($1::pg_catalog.text)");
    bool ok = true;
    for (size_t i = 0; ok && i < d->n; i++)
        if (d->stmts[i].action == DBA_SCHEMA_STMT_RUN)
            ok = scratch_apply(c, call.data, &f, d, &d->stmts[i], err);
    dba_buf_cleanup(&call);
    /* Temporary relations and types come first in every search path: a function of the file
       may have left one named like a catalog for the introspection to read. */
    if (ok && !db_exec(c, "DISCARD TEMP", err))
        return NULL;
    return ok ? dba_schema_introspect(c, schemas, n, exclude, err) : NULL;
}

static void
scratch_drop(PGconn *live, const char *name, bool db, bool role)
{
    struct dba_err ignored;

    if (db && !exec_named(live, "DROP DATABASE IF EXISTS ", name, " WITH (FORCE)", &ignored))
        dba_log(DBA_LOG_WARN, "could not drop scratch database %s: %s", name, ignored.msg);
    if (role && !exec_named(live, "DROP ROLE IF EXISTS ", name, "", &ignored))
        dba_log(DBA_LOG_WARN, "could not drop scratch role %s: %s", name, ignored.msg);
}

static void
scratch_denied(struct dba_err *err, const char *what, const char *grant)
{
    char pg[sizeof(err->msg)];

    snprintf(pg, sizeof(pg), "%s", err->msg);
    dba_err_set(err, DBA_EDB, 503, "DBA022", "cannot create the scratch %s used to read the "
                "schema file", what);
    dba_err_detail(err, "PostgreSQL said: %s", pg);
    dba_err_hint(err, "The expected schema is read by applying the file to an empty scratch "
                      "database owned by a scratch role without privileges; grant the role %s "
                      "(ALTER ROLE ... %s).", grant, grant);
}

/* The unprivileged scratch role (which the profile's role may become) and its database. */
static bool
scratch_create(PGconn *live, const char *name, bool *db, bool *role, struct dba_err *err)
{
    *role = exec_named(live, "CREATE ROLE ", name,
                       " NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                       "NOBYPASSRLS", err);
    if (!*role) {
        scratch_denied(err, "role", "CREATEROLE");
        return false;
    }
    if (!exec_named(live, "GRANT ", name, " TO CURRENT_USER", err)) {
        scratch_denied(err, "role", "CREATEROLE");
        return false;
    }
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, "CREATE DATABASE ");
    dba_buf_put_ident(&b, name);
    dba_buf_puts(&b, " OWNER ");
    dba_buf_put_ident(&b, name);
    dba_buf_puts(&b, " TEMPLATE template0");
    *db = db_exec(live, b.data, err);
    dba_buf_cleanup(&b);
    if (!*db)
        scratch_denied(err, "database", "CREATEDB");
    return *db;
}

/* A name no one can guess or collide with: prefix, pid, sequence and random bits. */
static void
scratch_name(char *out, size_t n, const char *prefix)
{
    static atomic_uint seq;
    unsigned rnd[2] = { 0, 0 };
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
        rnd[0] = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seq;
    if (fd >= 0)
        close(fd);
    snprintf(out, n, "%s_%ld_%u_%08x%08x", prefix, (long)getpid(), atomic_fetch_add(&seq, 1),
             rnd[0], rnd[1]);
}

json_t *
dba_schema_expected(struct pg_conn *live, const char *conninfo, const char *sql,
                    const char *const *schemas, size_t n, const struct dba_config_strv *exclude,
                    const struct dba_config_strv *allowed_extensions, json_t **skipped,
                    struct dba_err *err)
{
    struct dba_schema_ddl d;
    char name[80];
    char fn[80];
    bool db = false, role = false;

    DBA_ASSERT(n > 0);
    if (dba_schema_ddl_filter(sql, allowed_extensions, &d, err) != DBA_OK) {
        dba_schema_ddl_cleanup(&d);
        return NULL;
    }
    scratch_name(name, sizeof(name), "dba_scratch");
    scratch_name(fn, sizeof(fn), "dba_apply");
    json_t *out = NULL;
    if (scratch_create(live, name, &db, &role, err)) {
        PGconn *c = scratch_connect(conninfo, name, err);
        if (c != NULL) {
            out = scratch_run(c, &d, name, fn, schemas, n, exclude, err);
            PQfinish(c);
        }
    }
    scratch_drop(live, name, db, role);
    if (out != NULL && skipped != NULL)
        *skipped = dba_schema_ddl_skipped(&d);
    dba_schema_ddl_cleanup(&d);
    return out;
}
