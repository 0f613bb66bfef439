/* result.c - PGresult accessors, errors from results and the blocking helpers for the CLI. */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"

int
dba_db_res_ntuples(const struct pg_result *r)
{
    return PQntuples(r);
}

int
dba_db_res_nfields(const struct pg_result *r)
{
    return PQnfields(r);
}

const char *
dba_db_res_fname(const struct pg_result *r, int col)
{
    return PQfname(r, col);
}

bool
dba_db_res_isnull(const struct pg_result *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

const char *
dba_db_res_value(const struct pg_result *r, int row, int col)
{
    return PQgetvalue(r, row, col);
}

int
dba_db_res_len(const struct pg_result *r, int row, int col)
{
    return PQgetlength(r, row, col);
}

void
dba_db_res_clear(struct pg_result *r)
{
    if (r != NULL)
        PQclear(r);
}

void
dba_db_res_to_err(const struct pg_result *r, struct dba_err *err)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
    const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);

    if (msg == NULL)
        msg = PQresultErrorMessage(r);
    if (state == NULL)
        state = "XX000";
    /* The client code of an SQL error is its SQLSTATE; the HTTP status is http/'s to choose. */
    dba_err_set(err, DBA_EDB, 0, state, "%s", msg ? msg : "error");
    err->kind = DBA_DB_ERR_SQL;
    snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
    if (detail != NULL)
        dba_err_detail(err, "%s", detail);
    if (hint != NULL)
        dba_err_hint(err, "%s", hint);
    else if (strcmp(state, "08P01") == 0 || strcmp(state, "42P02") == 0)
        dba_err_hint(err, "The gateway built a statement the database refused; this is a "
                          "db-adapter bug, please report it with the request.");
}

/* A connection error of the blocking helpers: the engine's kind, no HTTP status (http/ maps the
   kind). The PGRST code stays in pgrst for the callers without a request (the CLI's JSON output,
   the schema and backup reports). Strips the trailing newline libpq puts on its messages. */
static void
conn_err(struct dba_err *err, enum dba_db_err_kind kind, const char *code, const char *what,
         const char *pqmsg)
{
    dba_err_set(err, DBA_EIO, 0, code, "%s", what);
    err->kind = (int)kind;
    dba_err_detail(err, "%s", pqmsg ? pqmsg : "");
    size_t n = strlen(err->detail);
    while (n > 0 && (err->detail[n - 1] == '\n' || err->detail[n - 1] == ' '))
        err->detail[--n] = '\0';
}

struct pg_conn *
dba_db_connect_blocking(const char *conninfo, int timeout_s, struct dba_err *err)
{
    char tmo[16];
    const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
    const char *vals[] = { conninfo, tmo, "db-adapter", NULL };

    snprintf(tmo, sizeof(tmo), "%d", timeout_s > 0 ? timeout_s : 10);
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        conn_err(err, DBA_DB_ERR_UNAVAILABLE, "PGRST000", "could not connect to the database",
                 c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    return c;
}

void
dba_db_close(struct pg_conn *c)
{
    if (c != NULL)
        PQfinish(c);
}

struct pg_result *
dba_db_exec(struct pg_conn *c, const char *sql, const char *const *params, int n_params,
            struct dba_err *err)
{
    PGresult *r = PQexecParams(c, sql, n_params, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    if (r != NULL && PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL)
        dba_db_res_to_err(r, err);
    else
        conn_err(err, DBA_DB_ERR_LOST, "PGRST001", "database connection lost", PQerrorMessage(c));
    PQclear(r);
    return NULL;
}

const char *
dba_db_server_version(struct pg_conn *c)
{
    const char *v = PQparameterStatus(c, "server_version");

    return v ? v : "unknown";
}
