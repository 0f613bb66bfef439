/* tx_blocking.c - the blocking driver of the /transaction core (tx.c) for the CLI's
   `db-adapter transaction FILE|-`: the same document, the same planning and the same answer as
   POST /transaction, run over one blocking connection (db module's helpers) as the connecting
   role of the profile, in its first exposed schema (as the route without Content-Profile). Each
   wave's statements run one after the other in the one transaction; the first failure rolls it
   back. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http/tx.h"

/* Runs the wave's statements until the first error (res[i] NULL from there); the index of the
   failed statement, or SIZE_MAX. */
static size_t
txb_wave_run(struct pg_conn *conn, const struct http_tx *tx, struct pg_result **res,
             struct dba_err *err)
{
    size_t failed = SIZE_MAX;

    for (size_t i = 0; i < tx->n_stmts; i++) {
        const struct dba_db_stmt *s = &tx->stmts[i];
        res[i] = failed != SIZE_MAX ? NULL
                                    : dba_db_exec(conn, s->sql, s->params, s->n_params, err);
        if (res[i] == NULL && failed == SIZE_MAX)
            failed = i;
    }
    return failed;
}

json_t *
dba_http_transaction_run(const struct dba_config *cfg, const struct dba_profile *p,
                         struct pg_conn *conn, const struct dba_catalog *c, const char *doc,
                         size_t len, bool rollback, unsigned *status)
{
    struct dba_arena *a = dba_arena_new();
    struct http_tx tx = { .a = a, .cfg = cfg, .c = c,
                          .schema = c->schemas[0],
                          .schema_echo = c->n_schemas > 1 };
    struct dba_err err;
    json_t *out = NULL;
    size_t op = SIZE_MAX;
    bool open = false;

    dba_err_clear(&err);
    if (dba__http_tx_parse(&tx, doc, len, &err) != DBA_OK)
        goto fail;
    while (!dba__http_tx_done(&tx)) {
        dba__http_tx_wave_begin(&tx);
        if (tx.next == 0) {
            dba__http_tx_stmt_add(&tx, p->read_only ? "BEGIN READ ONLY" : "BEGIN", NULL, 0);
            if (p->statement_timeout_ms > 0) {
                const char **v = dba_arena_alloc(a, sizeof(*v));
                v[0] = dba_arena_printf(a, "%d", p->statement_timeout_ms);
                dba__http_tx_stmt_add(&tx, "SELECT set_config('statement_timeout', $1, true)", v,
                                      1);
            }
        }
        if (dba__http_tx_wave_plan(&tx, &op, &err) != DBA_OK)
            goto fail;
        bool last = dba__http_tx_wave_end(&tx, rollback);
        struct pg_result **res = dba_arena_alloc(a, (tx.n_stmts + 1) * sizeof(*res));
        struct dba_err werr;
        dba_err_clear(&werr);
        size_t failed = txb_wave_run(conn, &tx, res, &werr);
        /* Open until its end ran: a failed COMMIT ends it too. */
        open = !(last && (failed == SIZE_MAX || failed == tx.n_stmts - 1));
        int rc = dba__http_tx_wave_results(&tx, res, tx.n_stmts,
                                           failed != SIZE_MAX ? &werr : NULL, &op, &err);
        for (size_t i = 0; i < tx.n_stmts; i++)
            dba_db_res_clear(res[i]);
        if (rc != DBA_OK)
            goto fail;
    }
    *status = 200;
    out = dba__http_tx_results_json(&tx);
    goto done;
fail:
    out = dba__http_tx_error_json(&err, op, true, status);
done:
    if (open) {
        struct dba_err ignored;
        dba_db_res_clear(dba_db_exec(conn, "ROLLBACK", NULL, 0, &ignored));
    }
    dba__http_tx_cleanup(&tx);
    dba_arena_free(a);
    return out;
}
