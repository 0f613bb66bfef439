/* test_engine.c - the async engine on its own: pipelined multi-statement jobs, errors inside a
   transaction, connection reuse afterwards, and the engine's contract (no callback inside
   dba_db_query, jobs own what they send, round trips counted, connection states). */
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
    int kind;           /* the engine's error kind on error */
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
        o->kind = err->kind;
        cr_expect_eq(err->http_status, 0, "the engine chooses no HTTP status");
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
                                  .queue_limit = 8 };
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

/* A unit of several statements is pipelined with one sync: one round trip, one job. */
Test(engine, unit_of_statements_is_one_round_trip)
{
    const struct dba_db_stmt s[] = {
        { "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY", NULL, 0 },
        { "SELECT set_config('search_path', 'public', true)", NULL, 0 },
        { "SELECT set_config('timezone', 'UTC', true)", NULL, 0 },
        { "SELECT count(*) FROM items", NULL, 0 },
        { "COMMIT", NULL, 0 },
    };
    struct dba_db_pool_stats a, b;
    struct outcome o;
    run((const struct dba_db_stmt[]){ { "SELECT 1", NULL, 0 } }, 1, 0, &o); /* connect first */
    dba_db_pool_stats_get(pool, &a);
    run(s, 5, 3, &o);
    cr_expect_str_eq(o.value, "5");
    run(s, 5, 3, &o); /* again, now with every statement prepared */
    dba_db_pool_stats_get(pool, &b);
    cr_expect_eq(b.round_trips - a.round_trips, 2);
    cr_expect_eq(b.queries - a.queries, 2);
}

/* The contract: dba_db_query never runs the callback before it returns, even when the failure is
   known while submitting (here the connect fails at once: no such socket directory). */
Test(engine, callback_never_runs_inside_query)
{
    struct dba_db_pool_opts po = { .name = "down", .conninfo = "host=/nonexistent/dba-socket dbname=x",
                                   .size = 1, .queue_limit = 8 };
    struct dba_db_pool *down = dba_db_pool_new(loop, &po);
    const struct dba_db_stmt s[] = { { "SELECT 1", NULL, 0 } };
    struct outcome o;
    struct dba_err err;
    struct dba_db_job *job = NULL;
    memset(&o, 0, sizeof(o));
    int rc = dba_db_query(down, s, 1, 0, dba_now_ms() + 10000, on_result, &o, &job, &err);
    cr_assert_eq(rc, DBA_EAGAIN, "%s", err.msg);
    cr_expect_not(o.done, "the callback ran inside dba_db_query");
    cr_expect_neq(job, NULL);
    for (int i = 0; i < 1000 && !o.done; i++)
        dba_loop_run_once(loop, 10);
    cr_expect(o.done);
    cr_expect_eq(o.kind, DBA_DB_ERR_UNAVAILABLE);
    /* Now the pool knows the database is down: refused at admission, returned, no callback. */
    memset(&o, 0, sizeof(o));
    rc = dba_db_query(down, s, 1, 0, dba_now_ms() + 10000, on_result, &o, NULL, &err);
    cr_expect_eq(rc, DBA_EIO);
    cr_expect_eq(err.kind, DBA_DB_ERR_UNAVAILABLE);
    cr_expect_eq(err.http_status, 0);
    dba_loop_run_once(loop, 0);
    cr_expect_not(o.done, "a refused query never calls back");
    dba_db_pool_free(down);
}

/* A job that failed while submitting and is detached before its delivery is freed once, without
   a callback (ASan checks the "once"). */
Test(engine, detached_before_a_deferred_failure_is_delivered)
{
    struct dba_db_pool_opts po = { .name = "down", .conninfo = "host=/nonexistent/dba-socket dbname=x",
                                   .size = 1, .queue_limit = 8 };
    struct dba_db_pool *down = dba_db_pool_new(loop, &po);
    const struct dba_db_stmt s[] = { { "SELECT 1", NULL, 0 } };
    struct outcome o;
    struct dba_err err;
    struct dba_db_job *job = NULL;
    memset(&o, 0, sizeof(o));
    cr_assert_eq(dba_db_query(down, s, 1, 0, dba_now_ms() + 10000, on_result, &o, &job, &err),
                 DBA_EAGAIN, "%s", err.msg);
    dba_db_job_detach(job);
    for (int i = 0; i < 5; i++)
        dba_loop_run_once(loop, 10);
    cr_expect_not(o.done, "a detached job called back");
    struct dba_db_pool_stats st;
    dba_db_pool_stats_get(down, &st);
    cr_expect_eq(st.waiting, 0);
    dba_db_pool_free(down);
}

static char *
heap_text(const char *s)
{
    char *t = malloc(strlen(s) + 1);
    strcpy(t, s);
    return t;
}

/* The job owns copies of its statements: the caller frees them right after submitting. */
Test(engine, caller_may_free_statements_after_submit)
{
    char *sql = heap_text("SELECT $1::text || $2::text || coalesce($3, '-')");
    char *p1 = heap_text("ab"), *p2 = heap_text("cd");
    const char **params = malloc(3 * sizeof(*params));
    params[0] = p1;
    params[1] = p2;
    params[2] = NULL;
    struct dba_db_stmt *s = malloc(sizeof(*s));
    *s = (struct dba_db_stmt){ sql, params, 3 };
    struct outcome o;
    struct dba_err err;
    memset(&o, 0, sizeof(o));
    int rc = dba_db_query(pool, s, 1, 0, dba_now_ms() + 10000, on_result, &o, NULL, &err);
    cr_assert_eq(rc, DBA_EAGAIN, "%s", err.msg);
    memset(sql, 'x', strlen(sql));
    memset(p1, 'x', 2);
    free(sql);
    free(p1);
    free(p2);
    free(params);
    free(s);
    for (int i = 0; i < 1000 && !o.done; i++)
        dba_loop_run_once(loop, 10);
    cr_assert(o.done);
    cr_expect_str_eq(o.value, "abcd-");
}

/* A detached job never calls back and never reads its requester's freed memory (ASan checks the
   latter); its connection finishes it and is reused. */
Test(engine, detached_job_finishes_and_the_connection_is_reused)
{
    struct outcome o, first;
    run((const struct dba_db_stmt[]){ { "SELECT 1", NULL, 0 } }, 1, 0, &o); /* connected */
    char *sql = heap_text("SELECT pg_sleep(0.05), $1::text");
    char *p1 = heap_text("gone");
    const char *params[] = { p1 };
    const struct dba_db_stmt s[] = { { sql, params, 1 } };
    struct dba_db_job *job = NULL;
    struct dba_err err;
    memset(&first, 0, sizeof(first));
    cr_assert_eq(dba_db_query(pool, s, 1, 0, dba_now_ms() + 10000, on_result, &first, &job, &err),
                 DBA_EAGAIN);
    /* a second job waits behind it (pool of one) and is detached while queued */
    struct dba_db_job *queued = NULL;
    cr_assert_eq(dba_db_query(pool, s, 1, 0, dba_now_ms() + 10000, on_result, &first, &queued,
                              &err), DBA_EAGAIN);
    dba_db_job_detach(queued);
    dba_db_job_detach(job);
    memset(sql, 'x', strlen(sql));
    free(sql);
    free(p1);
    struct dba_db_pool_stats st;
    dba_db_pool_stats_get(pool, &st);
    cr_expect_eq(st.waiting, 0);
    for (int i = 0; i < 1000; i++) {
        dba_db_pool_stats_get(pool, &st);
        if (st.busy == 0)
            break;
        dba_loop_run_once(loop, 10);
    }
    cr_expect_eq(st.busy, 0);
    cr_expect_eq(st.idle, 1);
    cr_expect_not(first.done, "a detached job's callback ran");
    run((const struct dba_db_stmt[]){ { "SELECT 'again'", NULL, 0 } }, 1, 0, &o);
    cr_expect_str_eq(o.value, "again");
    dba_db_pool_stats_get(pool, &st);
    cr_expect_eq(st.connects, 1);
}

/* The per-state lists behind the stats: two jobs at once on a pool of two. */
Test(engine, connection_states_are_counted_by_list)
{
    struct dba_db_pool_opts po = { .name = "two", .conninfo = getenv("DBA_TEST_DATABASE_URL"),
                                   .size = 2, .prepared = true, .queue_limit = 8 };
    struct dba_db_pool *two = dba_db_pool_new(loop, &po);
    struct dba_db_pool_stats st;
    dba_db_pool_stats_get(two, &st);
    cr_expect(st.size == 2 && st.open == 0 && st.idle == 0 && st.busy == 0);
    const struct dba_db_stmt s[] = { { "SELECT pg_sleep(0.05)", NULL, 0 } };
    struct outcome a, b;
    struct dba_err err;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    cr_assert_eq(dba_db_query(two, s, 1, 0, dba_now_ms() + 10000, on_result, &a, NULL, &err),
                 DBA_EAGAIN);
    cr_assert_eq(dba_db_query(two, s, 1, 0, dba_now_ms() + 10000, on_result, &b, NULL, &err),
                 DBA_EAGAIN);
    bool both_busy = false;
    for (int i = 0; i < 1000 && !(a.done && b.done); i++) {
        dba_db_pool_stats_get(two, &st);
        both_busy = both_busy || st.busy == 2;
        dba_loop_run_once(loop, 10);
    }
    cr_expect(a.done && b.done);
    cr_expect(both_busy, "the two jobs ran on two connections at once");
    dba_db_pool_stats_get(two, &st);
    cr_expect(st.open == 2 && st.idle == 2 && st.busy == 0 && st.waiting == 0,
              "open %d idle %d busy %d", st.open, st.idle, st.busy);
    cr_expect_eq(st.round_trips, 2);
    cr_expect_eq(st.queries, 2);
    dba_db_pool_free(two);
}

/* A running job past its deadline is cut by dropping its connection; the engine says so by kind
   (http/ answers 504 57014) and the next job gets a fresh connection. */
Test(engine, running_job_past_its_deadline_is_cut)
{
    const struct dba_db_stmt s[] = { { "SELECT pg_sleep(2)", NULL, 0 } };
    struct outcome o;
    struct dba_err err;
    memset(&o, 0, sizeof(o));
    cr_assert_eq(dba_db_query(pool, s, 1, 0, dba_now_ms() + 100, on_result, &o, NULL, &err),
                 DBA_EAGAIN);
    for (int i = 0; i < 1000 && !o.done; i++) {
        dba_loop_run_once(loop, 10);
        dba_db_pool_tick(pool, dba_now_ms());
    }
    cr_assert(o.done);
    cr_expect_eq(o.kind, DBA_DB_ERR_RUN_DEADLINE);
    struct dba_db_pool_stats st;
    dba_db_pool_stats_get(pool, &st);
    cr_expect_eq(st.timeouts, 1);
    cr_expect(st.busy == 0 && st.open == 0, "busy %d open %d", st.busy, st.open);
    run((const struct dba_db_stmt[]){ { "SELECT 'after'", NULL, 0 } }, 1, 0, &o);
    cr_expect_str_eq(o.value, "after");
}

/* An auxiliary statement (DBA_DB_WITH_AUX) keeps its result besides the main one: same job, same
   round trip; the callback takes it, and a failed unit delivers none. */
struct aux_outcome {
    struct dba_db_job *job; /* set by dba_db_query before the callback */
    bool done;              /* callback ran */
    char main[64];          /* first value of the main result ("" on error) */
    char aux[64];           /* first value of the auxiliary result ("-" when none) */
};

static void
on_aux(void *arg, struct pg_result *res, const struct dba_err *err)
{
    struct aux_outcome *o = arg;
    struct pg_result *aux = dba_db_job_take_aux(o->job);

    DBA_UNUSED(err);
    o->done = true;
    snprintf(o->main, sizeof(o->main), "%s", res ? dba_db_res_value(res, 0, 0) : "");
    snprintf(o->aux, sizeof(o->aux), "%s", aux ? dba_db_res_value(aux, 0, 0) : "-");
    cr_expect_null(dba_db_job_take_aux(o->job), "taken once");
    dba_db_res_clear(res);
    dba_db_res_clear(aux);
}

static void
run_aux(const struct dba_db_stmt *s, size_t n, size_t idx, struct aux_outcome *o)
{
    struct dba_err err;

    memset(o, 0, sizeof(*o));
    int rc = dba_db_query(pool, s, n, idx, dba_now_ms() + 10000, on_aux, o, &o->job, &err);
    cr_assert_eq(rc, DBA_EAGAIN, "%s", err.msg);
    for (int i = 0; i < 1000 && !o->done; i++)
        dba_loop_run_once(loop, 10);
    cr_assert(o->done, "job did not complete");
}

Test(engine, auxiliary_result_in_the_same_round_trip)
{
    static const char *const p[] = { "7" };
    const struct dba_db_stmt s[] = {
        { "BEGIN READ ONLY", NULL, 0 },
        { "SELECT $1::int * 6", p, 1 },
        { "SELECT 'aux:' || $1", p, 1 },
        { "COMMIT", NULL, 0 },
    };
    struct dba_db_pool_stats before, after;
    struct aux_outcome o;

    dba_db_pool_stats_get(pool, &before);
    run_aux(s, 4, DBA_DB_WITH_AUX(1, 2), &o);
    cr_expect_str_eq(o.main, "42");
    cr_expect_str_eq(o.aux, "aux:7");
    dba_db_pool_stats_get(pool, &after);
    cr_expect_eq(after.round_trips - before.round_trips, 1);
    /* a plain index keeps none; an unread auxiliary result is freed with the job (ASan) */
    run_aux(s, 4, 1, &o);
    cr_expect_str_eq(o.aux, "-");
    struct outcome plain;
    run(s, 4, DBA_DB_WITH_AUX(1, 2), &plain);
    cr_expect_str_eq(plain.value, "42");
    /* the auxiliary statement fails: no result of it, the unit's error */
    const struct dba_db_stmt bad[] = {
        { "BEGIN", NULL, 0 },
        { "SELECT 1", NULL, 0 },
        { "SELECT 1/0", NULL, 0 },
        { "COMMIT", NULL, 0 },
    };
    run_aux(bad, 4, DBA_DB_WITH_AUX(1, 2), &o);
    cr_expect_str_eq(o.main, "");
    cr_expect_str_eq(o.aux, "-");
}

/* A held connection's handle, once its job answered. */
struct held_outcome {
    bool done;
    struct dba_db_held *held;
};

static void
on_held(void *arg, struct dba_db_held *held, struct pg_result **res, size_t n,
        const struct dba_err *err)
{
    struct held_outcome *o = arg;

    cr_expect(err == NULL, "%s", err ? err->msg : "");
    for (size_t i = 0; i < n; i++)
        dba_db_res_clear(res[i]);
    o->held = held;
    o->done = true;
}

/* dba_db_pool_resize: growing lets more jobs run at once; shrinking takes the idle connection
   out at once and a held one only when it is released; the pool keeps working on what is left
   (retired slots are freed by the tick: ASan sees any later use). */
Test(engine, resize_grows_and_shrinks_without_cutting_a_held_connection)
{
    struct dba_db_pool_opts po = { .name = "rs", .conninfo = getenv("DBA_TEST_DATABASE_URL"),
                                   .size = 1, .prepared = true, .queue_limit = 8 };
    struct dba_db_pool *p = dba_db_pool_new(loop, &po);
    struct dba_db_pool_stats st;
    struct dba_err err;

    cr_expect_eq(dba_db_pool_resize(p, 3, 16), 1);
    dba_db_pool_stats_get(p, &st);
    cr_expect_eq(st.size, 3);
    /* Two held connections and a third job running beside them. */
    const struct dba_db_stmt h[] = { { "SELECT 1", NULL, 0 } };
    struct held_outcome h1 = { 0 }, h2 = { 0 };
    cr_assert_eq(dba_db_query_held(p, NULL, h, 1, dba_now_ms() + 10000, on_held, &h1, NULL, &err),
                 DBA_EAGAIN);
    cr_assert_eq(dba_db_query_held(p, NULL, h, 1, dba_now_ms() + 10000, on_held, &h2, NULL, &err),
                 DBA_EAGAIN);
    const struct dba_db_stmt s[] = { { "SELECT pg_sleep(0.05)", NULL, 0 } };
    struct outcome a = { 0 };
    cr_assert_eq(dba_db_query(p, s, 1, 0, dba_now_ms() + 10000, on_result, &a, NULL, &err),
                 DBA_EAGAIN);
    for (int i = 0; i < 1000 && !(h1.done && h2.done && a.done); i++)
        dba_loop_run_once(loop, 10);
    cr_assert(h1.done && h2.done && a.done);
    cr_assert(h1.held != NULL && h2.held != NULL);
    dba_db_pool_stats_get(p, &st);
    cr_expect(st.open == 3 && st.busy == 2 && st.idle == 1, "open %d busy %d idle %d", st.open,
              st.busy, st.idle);

    /* Shrink to 1: the idle one goes now, the held ones stay. */
    cr_expect_eq(dba_db_pool_resize(p, 1, -1), 3);
    dba_db_pool_tick(p, dba_now_ms());
    dba_db_pool_stats_get(p, &st);
    cr_expect(st.size == 1 && st.open == 2 && st.busy == 2 && st.idle == 0,
              "size %d open %d busy %d idle %d", st.size, st.open, st.busy, st.idle);
    /* A job now waits for a connection. */
    struct outcome b = { 0 };
    cr_assert_eq(dba_db_query(p, s, 1, 0, dba_now_ms() + 10000, on_result, &b, NULL, &err),
                 DBA_EAGAIN);
    dba_db_pool_stats_get(p, &st);
    cr_expect_eq(st.waiting, 1);
    /* The first release closes that connection (over the size); the second serves the job. */
    dba_db_held_release(h1.held);
    dba_db_pool_tick(p, dba_now_ms());
    dba_db_pool_stats_get(p, &st);
    cr_expect(st.open == 1 && st.busy == 1 && st.waiting == 1, "open %d busy %d waiting %d",
              st.open, st.busy, st.waiting);
    dba_db_held_release(h2.held);
    for (int i = 0; i < 1000 && !b.done; i++)
        dba_loop_run_once(loop, 10);
    cr_expect(b.done && b.code[0] == '\0', "%s", b.code);
    dba_db_pool_tick(p, dba_now_ms());
    dba_db_pool_stats_get(p, &st);
    cr_expect(st.open == 1 && st.idle == 1 && st.busy == 0, "open %d idle %d busy %d", st.open,
              st.idle, st.busy);
    cr_expect_eq(st.connects, 3, "no connection was opened again");
    /* Grow again: a second job at once opens a second connection. */
    dba_db_pool_resize(p, 2, -1);
    struct outcome c = { 0 }, d = { 0 };
    cr_assert_eq(dba_db_query(p, s, 1, 0, dba_now_ms() + 10000, on_result, &c, NULL, &err),
                 DBA_EAGAIN);
    cr_assert_eq(dba_db_query(p, s, 1, 0, dba_now_ms() + 10000, on_result, &d, NULL, &err),
                 DBA_EAGAIN);
    for (int i = 0; i < 1000 && !(c.done && d.done); i++)
        dba_loop_run_once(loop, 10);
    cr_expect(c.done && d.done);
    dba_db_pool_stats_get(p, &st);
    cr_expect(st.open == 2 && st.connects == 4, "open %d connects %llu", st.open,
              (unsigned long long)st.connects);
    dba_db_pool_free(p);
}
