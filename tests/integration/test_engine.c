/* test_engine.c - the async engine on its own: pipelined multi-statement jobs, errors inside a
   transaction, and connection reuse afterwards. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "db/db.h"

struct outcome {
    bool done;          /* callback ran */
    char value[256];    /* first value of the delivered result */
    char code[16];      /* SQLSTATE on error */
};

static void
on_result(void *arg, struct pg_result *res, const struct dba_err *err)
{
    struct outcome *o = arg;

    o->done = true;
    if (res != NULL) {
        snprintf(o->value, sizeof(o->value), "%s",
                 dba_db_res_ntuples(res) > 0 ? dba_db_res_value(res, 0, 0) : "");
        dba_db_res_clear(res);
    } else {
        snprintf(o->code, sizeof(o->code), "%s", err->sqlstate[0] ? err->sqlstate : err->pgrst);
    }
}

static struct dba_loop *loop;
static struct dba_db_pool *pool;

static void
engine_start(void)
{
    const char *url = getenv("DBA_TEST_DATABASE_URL");
    cr_assert(url != NULL);
    dba_mem_init();
    loop = dba_loop_new();
    struct dba_db_pool_opts o = { .name = "t", .conninfo = url, .size = 1, .prepared = true,
                                  .queue_limit = 8, .statement_timeout_ms = 5000 };
    pool = dba_db_pool_new(loop, &o);
}

static void
engine_stop(void)
{
    dba_db_pool_free(pool);
    dba_loop_free(loop);
}

TestSuite(engine, .init = engine_start, .fini = engine_stop);

static void
run(const struct dba_db_stmt *s, size_t n, size_t idx, struct outcome *o)
{
    struct dba_err err;
    memset(o, 0, sizeof(*o));
    int rc = dba_db_query(pool, s, n, idx, dba_now_ms() + 10000, on_result, o, NULL, &err);
    cr_assert_eq(rc, DBA_EAGAIN, "%s", err.msg);
    for (int i = 0; i < 1000 && !o->done; i++)
        dba_loop_run_once(loop, 10);
    cr_assert(o->done, "job did not complete");
}

Test(engine, pipeline_transaction_in_one_unit)
{
    static const char *const p[] = { "dba.test" };
    const struct dba_db_stmt s[] = {
        { "BEGIN", NULL, 0 },
        { "SELECT set_config('dba.x', $1, true)", p, 1 },
        { "SELECT current_setting('dba.x')", NULL, 0 },
        { "COMMIT", NULL, 0 },
    };
    struct outcome o;
    run(s, 4, 2, &o);
    cr_expect_str_eq(o.value, "dba.test");
    struct dba_db_pool_stats st;
    dba_db_pool_stats_get(pool, &st);
    cr_expect_eq(st.connects, 1);
    /* SET LOCAL ended with the transaction. */
    const struct dba_db_stmt q[] = { { "SELECT coalesce(current_setting('dba.x', true), '')", NULL, 0 } };
    run(q, 1, 0, &o);
    cr_expect_str_eq(o.value, "");
}

Test(engine, error_inside_transaction_rolls_back_and_conn_is_reused)
{
    const struct dba_db_stmt s[] = {
        { "BEGIN", NULL, 0 },
        { "CREATE TEMP TABLE eng_t (x int)", NULL, 0 },
        { "SELECT 1/0", NULL, 0 },
        { "COMMIT", NULL, 0 },
    };
    struct outcome o;
    run(s, 4, 2, &o);
    cr_expect_str_eq(o.code, "22012");
    const struct dba_db_stmt q[] = { { "SELECT to_regclass('pg_temp.eng_t') IS NULL", NULL, 0 } };
    run(q, 1, 0, &o);
    cr_expect_str_eq(o.value, "t", "the failed transaction must have been rolled back");
    struct dba_db_pool_stats st;
    dba_db_pool_stats_get(pool, &st);
    cr_expect_eq(st.connects, 1, "the connection is reused, not replaced");
}

Test(engine, prepared_statement_reuse_and_bad_sql)
{
    static const char *const p1[] = { "41" };
    static const char *const p2[] = { "1" };
    const struct dba_db_stmt a[] = { { "SELECT $1::int + 1", p1, 1 } };
    const struct dba_db_stmt b[] = { { "SELECT $1::int + 1", p2, 1 } };
    struct outcome o;
    run(a, 1, 0, &o);
    cr_expect_str_eq(o.value, "42");
    run(b, 1, 0, &o);
    cr_expect_str_eq(o.value, "2");
    const struct dba_db_stmt bad[] = { { "SELEC nonsense", NULL, 0 } };
    run(bad, 1, 0, &o);
    cr_expect_str_eq(o.code, "42601");
    run(a, 1, 0, &o);
    cr_expect_str_eq(o.value, "42");
}
