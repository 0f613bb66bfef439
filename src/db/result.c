/* result.c - PGresult accessors, SQLSTATE mapping and the blocking helpers for the CLI. */
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

/* PostgREST's mapSQLtoHTTP: first match wins; prefixes of one or two characters are classes.
   One departure: a 503 means only "the database is unavailable" (clients retry it), so the
   SQLSTATEs that say the gateway sent something wrong over a working connection (protocol
   violation, a parameter the statement does not have) are 500. */
static const struct {
    const char *prefix; /* SQLSTATE or class prefix */
    int status;         /* HTTP status */
} sqlstate_http[] = {
    { "08P01", 500 }, { "42P02", 500 }, { "08", 503 }, { "09", 500 }, { "0L", 403 }, { "0P", 403 }, { "23503", 409 },
    { "23505", 409 }, { "25006", 405 }, { "25", 500 }, { "28", 403 }, { "2D", 500 },
    { "38", 500 }, { "39", 500 }, { "3B", 500 }, { "40", 500 }, { "53400", 500 }, { "53", 503 },
    { "54", 500 }, { "55", 500 }, { "57P01", 503 }, { "57014", 504 }, { "57", 500 },
    { "58", 500 }, { "F0", 500 }, { "HV", 500 }, { "XX", 500 }, { "P0001", 400 }, { "P0", 500 },
    { "42883", 404 }, { "42P01", 404 }, { "42P17", 500 }, { "42501", 401 },
};

int
dba_db_sqlstate_http(const char *sqlstate, const char *message)
{
    if (sqlstate == NULL || strlen(sqlstate) != 5)
        return 500;
    if (strcmp(sqlstate, "21000") == 0)
        return message && strstr(message, "requires a WHERE clause") ? 400 : 500;
    if (sqlstate[0] == 'P' && sqlstate[1] == 'T') {
        int st = 0;
        if (sscanf(sqlstate + 2, "%3d", &st) == 1 && st >= 100 && st <= 599)
            return st;
    }
    for (size_t i = 0; i < DBA_ARRAY_LEN(sqlstate_http); i++) {
        const char *p = sqlstate_http[i].prefix;
        if (strncmp(sqlstate, p, strlen(p)) == 0)
            return sqlstate_http[i].status;
    }
    return 400;
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
    dba_err_set(err, DBA_EDB, dba_db_sqlstate_http(state, msg), state, "%s", msg ? msg : "error");
    snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
    if (detail != NULL)
        dba_err_detail(err, "%s", detail);
    if (hint != NULL)
        dba_err_hint(err, "%s", hint);
    else if (strcmp(state, "08P01") == 0 || strcmp(state, "42P02") == 0)
        dba_err_hint(err, "The gateway built a statement the database refused; this is a "
                          "db-adapter bug, please report it with the request.");
}

/* Strips the trailing newline libpq puts on its messages. */
static void
conn_err(struct dba_err *err, int status, const char *code, const char *what, const char *pqmsg)
{
    dba_err_set(err, DBA_EIO, status, code, "%s", what);
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
        conn_err(err, 503, "PGRST000", "could not connect to the database",
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
        conn_err(err, 503, "PGRST001", "database connection lost", PQerrorMessage(c));
    PQclear(r);
    return NULL;
}

const char *
dba_db_server_version(struct pg_conn *c)
{
    const char *v = PQparameterStatus(c, "server_version");

    return v ? v : "unknown";
}
