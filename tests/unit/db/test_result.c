/* test_result.c - unit tests of the SQLSTATE to HTTP status mapping. */
#include <criterion/criterion.h>

#include "db/db.h"

/* A 503 tells clients to retry: only for an unavailable database, never for a statement the
   gateway built wrongly (issue 8). */
Test(sqlstate, protocol_and_parameter_errors_are_500)
{
    cr_expect_eq(dba_db_sqlstate_http("08P01", "bind message supplies 1 parameters"), 500);
    cr_expect_eq(dba_db_sqlstate_http("42P02", "there is no parameter $3"), 500);
    cr_expect_eq(dba_db_sqlstate_http("XX000", "cache lookup failed"), 500);
}

Test(sqlstate, unavailability_stays_503)
{
    cr_expect_eq(dba_db_sqlstate_http("08006", "connection failure"), 503);
    cr_expect_eq(dba_db_sqlstate_http("08001", "unable to connect"), 503);
    cr_expect_eq(dba_db_sqlstate_http("57P01", "terminating connection"), 503);
    cr_expect_eq(dba_db_sqlstate_http("53300", "too many connections"), 503);
}

Test(sqlstate, client_errors)
{
    cr_expect_eq(dba_db_sqlstate_http("23505", "duplicate key"), 409);
    cr_expect_eq(dba_db_sqlstate_http("22P02", "invalid input syntax"), 400);
    cr_expect_eq(dba_db_sqlstate_http("PT418", "teapot"), 418);
}
