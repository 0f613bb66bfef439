/* transaction.c - POST /transaction, the asynchronous driver of the core in tx.c:
 *
 *   {"operations": [{"method": "POST", "path": "/tables/authors?select=id",
 *                    "headers": {"Prefer": "return=representation"}, "body": {...}}, ...]}
 *
 * The core plans each operation as a request of its own under the base path; here all of them
 * run in ONE transaction on one held connection of the primary pool (dba_db_query_held), as the
 * caller's role with the identity settings of the policy step. Each wave goes out pipelined as
 * one job (one round trip); the first wave opens the transaction, the last one ends it (COMMIT,
 * or ROLLBACK with Prefer: tx=rollback). The first failure answers that operation's status with
 * PostgREST's error body plus "operation": i and rolls everything back (the held connection is
 * released with ROLLBACK).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http/grammar.h"
#include "http/tx.h"

struct tx_ctx {
    struct http_tx tx;              /* the core */
    struct dba_db_held *held;       /* the transaction's connection between waves, or NULL */
    struct pg_result **res;         /* the wave's results (array in the arena; results owned) */
    size_t n_res;                   /* count */
    size_t lsn_stmt;                /* the last wave's SELECT pg_current_wal_insert_lsn(), or
                                       SIZE_MAX (replicas: X-Db-Lsn, read-your-writes) */
    bool failed;                    /* the wave reported an error */
    struct dba_err err;             /* that error */
};

static enum MHD_Result
tx_fail(struct req *r, struct tx_ctx *x, size_t i, const struct dba_err *e)
{
    unsigned status;

    if (x->held != NULL) { /* everything is rolled back */
        dba_db_held_release(x->held);
        x->held = NULL;
    }
    json_t *o = dba__http_tx_error_json(e, i, r->pol.caller != HTTP_CALLER_ANON, &status);
    return dba__http_send_jsonv(r, status, o);
}

static void
tx_res_clear(struct tx_ctx *x)
{
    for (size_t i = 0; i < x->n_res; i++)
        dba_db_res_clear(x->res[i]);
    x->n_res = 0;
}

static void
tx_cleanup(void *arg)
{
    struct tx_ctx *x = arg;

    tx_res_clear(x);
    if (x->held != NULL)
        dba_db_held_release(x->held);
    x->held = NULL;
    dba__http_tx_cleanup(&x->tx);
}

static enum MHD_Result tx_send_wave(struct req *r, struct tx_ctx *x);

static void
tx_on_wave(void *arg, struct dba_db_held *held, struct pg_result **res, size_t n,
           const struct dba_err *err)
{
    struct req *r = arg;
    struct tx_ctx *x = r->ctx;

    r->job = NULL;
    x->held = held;
    x->res = dba_arena_alloc(r->a, (n ? n : 1) * sizeof(*x->res));
    for (size_t i = 0; i < n; i++)
        x->res[i] = res[i];
    x->n_res = n;
    x->failed = err != NULL;
    if (err != NULL)
        x->err = *err;
    r->t_us[REQ_T_RESULT] = dba_now_us();
    r->state = REQ_READY;
    r->w->inflight--;
    MHD_resume_connection(r->mc);
    r->w->mhd_due = true;
}

static enum MHD_Result
tx_finish(struct req *r)
{
    struct tx_ctx *x = r->ctx;
    struct dba_err e;
    size_t op;

    if (dba__http_tx_wave_results(&x->tx, x->res, x->n_res, x->failed ? &x->err : NULL, &op,
                                  &e) != DBA_OK) {
        tx_res_clear(x);
        return tx_fail(r, x, op, &e);
    }
    if (x->lsn_stmt < x->n_res && x->res[x->lsn_stmt] != NULL &&
        dba_db_res_ntuples(x->res[x->lsn_stmt]) == 1)
        snprintf(r->lsn, sizeof(r->lsn), "%s", dba_db_res_value(x->res[x->lsn_stmt], 0, 0));
    tx_res_clear(x);
    if (!dba__http_tx_done(&x->tx))
        return tx_send_wave(r, x);
    if (x->held != NULL) {
        dba_db_held_release(x->held);
        x->held = NULL;
    }
    return dba__http_send_jsonv(r, 200, dba__http_tx_results_json(&x->tx));
}

/* Plans and sends the next wave. */
static enum MHD_Result
tx_send_wave(struct req *r, struct tx_ctx *x)
{
    struct http_tx *tx = &x->tx;
    struct dba_err err;
    size_t op;

    dba__http_tx_wave_begin(tx);
    if (tx->next == 0) { /* BEGIN and the identity settings of the policy step */
        dba__http_unit_begin(r, REQ_ISO_DEFAULT, false);
        dba__http_policy_unit(r);
        for (size_t k = 0; k < r->unit.n; k++)
            dba__http_tx_stmt_add(tx, r->unit.stmts[k].sql, r->unit.stmts[k].params,
                                  r->unit.stmts[k].n_params);
    }
    if (dba__http_tx_wave_plan(tx, &op, &err) != DBA_OK)
        return tx_fail(r, x, op, &err);
    if (dba__http_tx_wave_end(tx, r->pol.tx_rollback) && !r->pol.tx_rollback &&
        r->w->n_replicas > 0) {
        /* With replicas, the primary's WAL position after the commit (X-Db-Lsn), as a single
           write answers it (req.c). */
        x->lsn_stmt = tx->n_stmts;
        dba__http_tx_stmt_add(tx, "SELECT pg_current_wal_insert_lsn()", NULL, 0);
    }
    struct dba_db_held *held = x->held;
    x->held = NULL; /* the job holds the connection now */
    r->finish = tx_finish;
    r->state = REQ_WAITING;
    r->t_us[REQ_T_SENT] = dba_now_us();
    /* Always the primary (r->pol.need_primary): the operations write, and their waves hold one
       connection of the primary pool across round trips. */
    int rc = dba_db_query_held(dba__http_pick_pool(r, false), held, tx->stmts, tx->n_stmts,
                               r->pol.deadline_ms, tx_on_wave, r, &r->job, &err);
    if (rc != DBA_EAGAIN) {
        r->job = NULL;
        r->state = REQ_ANSWERED;
        if (held != NULL)
            dba_db_held_release(held);
        return dba__http_send_err(r, &err);
    }
    r->w->inflight++;
    MHD_suspend_connection(r->mc);
    return MHD_YES;
}

enum MHD_Result
dba__http_transaction(struct req *r)
{
    struct tx_ctx *x = dba_arena_alloc(r->a, sizeof(*x));
    enum MHD_Result ret;
    struct dba_err err;

    memset(x, 0, sizeof(*x));
    x->lsn_stmt = SIZE_MAX;
    r->ctx = x;
    r->pol.need_primary = true; /* a multi-round-trip read-write transaction (replicas.c) */
    dba_arena_defer(r->a, tx_cleanup, x);
    if (!dba__http_method_ok(r, "POST", "/transaction", &ret))
        return ret;
    struct dba_catalog *c = dba__http_cache(r);
    if (c == NULL)
        return dba__http_error(r, 503, "PGRST002",
                               "Could not query the database for the schema cache. Retrying.",
                               NULL, NULL);
    if (!dba__http_policy_identity(r, &ret) || !dba__http_policy_schema(r, c, false, &ret) ||
        !dba__http_policy_table_write(r, &ret))
        return ret;
    x->tx = (struct http_tx){ .a = r->a, .cfg = r->w->srv->cfg, .c = c, .schema = r->pol.schema,
                              .schema_echo = r->pol.schema_echo, .t_us = r->t_us };
    if (dba__http_tx_parse(&x->tx, r->body.data, r->body.len, &err) != DBA_OK)
        return dba__http_send_err(r, &err);
    struct dba_prefer pf;
    dba_http_grammar_prefer(r->a, dba__http_header_all(r, "Prefer"), &pf);
    dba__http_policy_tx(r, pf.tx);
    return tx_send_wave(r, x);
}
