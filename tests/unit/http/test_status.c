/* test_status.c - unit tests of the error -> HTTP status mapping of http/ (src/http/status.c):
   the SQLSTATE table, the engine's error kinds, and errors other modules chose a status for. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/http_int.h"

/* A 503 tells clients to retry: only for an unavailable database, never for a statement the
   gateway built wrongly (issue 8). */
Test(sqlstate, protocol_and_parameter_errors_are_500)
{
    cr_expect_eq(dba__http_status_sqlstate("08P01", "bind message supplies 1 parameters", false), 500);
    cr_expect_eq(dba__http_status_sqlstate("42P02", "there is no parameter $3", false), 500);
    cr_expect_eq(dba__http_status_sqlstate("XX000", "cache lookup failed", false), 500);
}

Test(sqlstate, unavailability_stays_503)
{
    cr_expect_eq(dba__http_status_sqlstate("08006", "connection failure", false), 503);
    cr_expect_eq(dba__http_status_sqlstate("08001", "unable to connect", false), 503);
    cr_expect_eq(dba__http_status_sqlstate("57P01", "terminating connection", false), 503);
    cr_expect_eq(dba__http_status_sqlstate("53300", "too many connections", false), 503);
}

Test(sqlstate, client_errors)
{
    cr_expect_eq(dba__http_status_sqlstate("23505", "duplicate key", false), 409);
    cr_expect_eq(dba__http_status_sqlstate("22P02", "invalid input syntax", false), 400);
    cr_expect_eq(dba__http_status_sqlstate("PT418", "teapot", false), 418);
    cr_expect_eq(dba__http_status_sqlstate("21000", "UPDATE requires a WHERE clause", false), 400);
    cr_expect_eq(dba__http_status_sqlstate("21000", "more than one row", false), 500);
}

/* PostgREST: insufficient privilege is 401 for an anonymous caller (log in) and 403 for one who
   proved who it is. */
Test(sqlstate, insufficient_privilege_depends_on_the_caller)
{
    cr_expect_eq(dba__http_status_sqlstate("42501", "permission denied", false), 401);
    cr_expect_eq(dba__http_status_sqlstate("42501", "permission denied", true), 403);
    struct dba_err e;
    dba_err_clear(&e);
    e.code = DBA_EDB;
    e.kind = DBA_DB_ERR_SQL;
    strcpy(e.sqlstate, "42501");
    const char *code = NULL;
    cr_expect_eq(dba__http_status(&e, false, &code), 401);
    cr_expect_str_eq(code, "42501");
    cr_expect_eq(dba__http_status(&e, true, &code), 403);
}

static unsigned
kind_status(enum dba_db_err_kind kind, const char **code)
{
    struct dba_err e;
    dba_err_clear(&e);
    e.code = DBA_EIO;
    e.kind = (int)kind;
    return dba__http_status(&e, false, code);
}

/* The engine names what happened; http/ keeps the statuses and codes clients saw before. */
Test(kinds, engine_errors_keep_their_statuses_and_codes)
{
    const char *code = NULL;
    cr_expect_eq(kind_status(DBA_DB_ERR_UNAVAILABLE, &code), 503);
    cr_expect_str_eq(code, "PGRST000");
    cr_expect_eq(kind_status(DBA_DB_ERR_LOST, &code), 503);
    cr_expect_str_eq(code, "PGRST001");
    cr_expect_eq(kind_status(DBA_DB_ERR_SHUTDOWN, &code), 503);
    cr_expect_str_eq(code, "PGRST000");
    cr_expect_eq(kind_status(DBA_DB_ERR_QUEUE_FULL, &code), 503);
    cr_expect_str_eq(code, "DBA503");
    cr_expect_eq(kind_status(DBA_DB_ERR_QUEUE_DEADLINE, &code), 504);
    cr_expect_str_eq(code, "PGRST003");
    cr_expect_eq(kind_status(DBA_DB_ERR_RUN_DEADLINE, &code), 504);
    cr_expect_str_eq(code, "57014");
    cr_expect_eq(kind_status(DBA_DB_ERR_PROTOCOL, &code), 500);
}

/* Operator errors of other modules carry their own status and code, untouched. */
Test(kinds, other_modules_errors_pass_through)
{
    struct dba_err e;
    const char *code = NULL;
    dba_err_set(&e, DBA_EINVAL, 403, "DBA403", "profile is read-only");
    cr_expect_eq(dba__http_status(&e, false, &code), 403);
    cr_expect_str_eq(code, "DBA403");
    dba_err_set(&e, DBA_EIO, 0, "", "no status chosen");
    cr_expect_eq(dba__http_status(&e, false, &code), 500);
    cr_expect_str_eq(code, "DBA500");
}
