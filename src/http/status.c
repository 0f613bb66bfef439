/* status.c - the HTTP face of errors: maps an error (an SQLSTATE from PostgreSQL, or one of the
   engine's kinds) to an HTTP status and the client-visible code, with the request in hand.
   db/ chooses neither; other modules (schema, backup, config) set their own status on their
   operator errors and those pass through unchanged. */
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

/* PostgREST's mapSQLtoHTTP (reference/postgrest.md §3.6): first match wins; prefixes of one or two
   characters are classes. One departure: a 503 means only "the database is unavailable" (clients
   retry it), so the SQLSTATEs that say the gateway sent something wrong over a working connection
   (protocol violation, a parameter the statement does not have) are 500. 42501 is handled before
   the table: it depends on who asks. */
static const struct {
    const char *prefix; /* SQLSTATE or class prefix */
    unsigned status;    /* HTTP status */
} sqlstate_http[] = {
    { "08P01", 500 }, { "42P02", 500 }, { "08", 503 }, { "09", 500 }, { "0L", 403 }, { "0P", 403 },
    { "23503", 409 }, { "23505", 409 }, { "25006", 405 }, { "25", 500 }, { "28", 403 },
    { "2D", 500 }, { "38", 500 }, { "39", 500 }, { "3B", 500 }, { "40", 500 }, { "53400", 500 },
    { "53", 503 }, { "54", 500 }, { "55", 500 }, { "57P01", 503 }, { "57014", 504 }, { "57", 500 },
    { "58", 500 }, { "F0", 500 }, { "HV", 500 }, { "XX", 500 }, { "P0001", 400 }, { "P0", 500 },
    { "42883", 404 }, { "42P01", 404 }, { "42P17", 500 },
};

unsigned
dba__http_status_sqlstate(const char *sqlstate, const char *message, bool authenticated)
{
    if (sqlstate == NULL || strlen(sqlstate) != 5)
        return 500;
    if (strcmp(sqlstate, "42501") == 0) /* insufficient privilege: log in (401) or you may not (403) */
        return authenticated ? 403 : 401;
    if (strcmp(sqlstate, "21000") == 0)
        return message && strstr(message, "requires a WHERE clause") ? 400 : 500;
    if (sqlstate[0] == 'P' && sqlstate[1] == 'T') { /* RAISE ... USING ERRCODE = 'PT4xx' */
        const char *d = sqlstate + 2; /* three digits are the status; anything else is 500 */
        if (d[0] >= '1' && d[0] <= '9' && d[1] >= '0' && d[1] <= '9' && d[2] >= '0' &&
            d[2] <= '9')
            return (unsigned)((d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0'));
        return 500;
    }
    for (size_t i = 0; i < DBA_ARRAY_LEN(sqlstate_http); i++) {
        const char *p = sqlstate_http[i].prefix;
        if (strncmp(sqlstate, p, strlen(p)) == 0)
            return sqlstate_http[i].status;
    }
    return 400;
}

unsigned
dba__http_status(const struct dba_err *e, bool authenticated, const char **code)
{
    const char *c = NULL;
    unsigned st;

    switch ((enum dba_db_err_kind)e->kind) {
    case DBA_DB_ERR_SQL:
        st = dba__http_status_sqlstate(e->sqlstate, e->msg, authenticated);
        c = e->sqlstate;
        break;
    case DBA_DB_ERR_UNAVAILABLE: /* PostgREST: "database connection error" */
    case DBA_DB_ERR_SHUTDOWN:
        st = 503;
        c = "PGRST000";
        break;
    case DBA_DB_ERR_LOST: /* PostgREST: "database connection lost" */
        st = 503;
        c = "PGRST001";
        break;
    case DBA_DB_ERR_QUEUE_FULL: /* our own: the only other 503 */
        st = 503;
        c = "DBA503";
        break;
    case DBA_DB_ERR_QUEUE_DEADLINE: /* PostgREST: timed out acquiring a connection */
        st = 504;
        c = "PGRST003";
        break;
    case DBA_DB_ERR_RUN_DEADLINE: /* as if statement_timeout had fired: query_canceled */
        st = 504;
        c = "57014";
        break;
    case DBA_DB_ERR_PROTOCOL:
        st = 500;
        c = "DBA500";
        break;
    case DBA_DB_ERR_NONE:
    default:
        st = e->http_status > 0 ? (unsigned)e->http_status : 500;
        c = e->pgrst[0] ? e->pgrst : e->sqlstate;
        break;
    }
    if (code != NULL)
        *code = c != NULL && c[0] != '\0' ? c : "DBA500";
    return st;
}
