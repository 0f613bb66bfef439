/* tx.h - the core of POST /transaction, shared by its two drivers: the asynchronous HTTP route
 * (transaction.c, the worker's pool, held connection) and the blocking one of the CLI's
 * `db-adapter transaction` (tx_blocking.c). The core reads the document, checks and resolves
 * references, plans each operation with the planner of a request of its own
 * (dba__http_tables_plan_env), lays out the statements of each wave and turns their results into
 * the answer document; it does no I/O and never prints. A driver:
 *
 *     dba__http_tx_parse                      (400 with err: nothing runs)
 *     repeat until dba__http_tx_done:
 *         dba__http_tx_wave_begin; its prelude (BEGIN, identity) with dba__http_tx_stmt_add on
 *         the first wave;
 *         dba__http_tx_wave_plan               (fails at an operation: answer it, roll back)
 *         dba__http_tx_wave_end                (COMMIT / ROLLBACK on the last wave)
 *         run tx->stmts[0..tx->n_stmts) in one transaction; then
 *         dba__http_tx_wave_results            (fails at an operation: answer it, roll back)
 *     dba__http_tx_results_json
 */
#ifndef DBA_HTTP_TX_H
#define DBA_HTTP_TX_H

#include "http/http_int.h"

struct http_tx_op {
    enum dba_method m;      /* its method */
    const char *rel;        /* relation (or function) name from the path (decoded, arena) */
    bool rpc;               /* <base>/rpc/<fn>: a function call (rpc.c's planning) */
    const char *schema;     /* its schema: its Accept-Profile (read) / Content-Profile (write)
                               header, else the transaction's */
    bool schema_echo;       /* its answer carries Content-Profile */
    const char *path;       /* the query string as given, with ${...} references */
    json_t *headers;        /* its headers object, or NULL (borrowed from the document) */
    json_t *body;           /* its body, or NULL (borrowed) */
    long dep;               /* highest operation it refers to, -1 for none */
    struct tables_ctx tc;   /* its plan */
    size_t stmt;            /* index of its main statement in its wave */
    json_t *body_out;       /* its response body (parsed), once answered */
    json_t *result;         /* {"status", "headers", "body"}, once answered */
};

struct http_tx {
    /* set by the driver before dba__http_tx_parse */
    struct dba_arena *a;            /* memory of the transaction */
    const struct dba_config *cfg;   /* base path, limits, planner settings */
    const struct dba_catalog *c;    /* the catalog operations are planned against */
    const char *schema;             /* the schema the operations work in unless they name one */
    bool schema_echo;               /* answers carry Content-Profile (several schemas exposed,
                                       or the outer request named one) */
    int64_t *t_us;                  /* Server-Timing stamps, or NULL */
    /* internal */
    json_t *doc;                    /* the document (owned) */
    struct http_tx_op *ops;         /* operations (arena) */
    size_t n;                       /* count */
    size_t next;                    /* first operation not yet run */
    size_t wave_end;                /* operations [next, wave_end) are the current wave */
    struct dba_db_stmt *stmts;      /* the current wave's statements (arena) */
    size_t n_stmts;                 /* count */
    size_t cap_stmts;               /* room */
};

/* Reads and checks the document (shape, limits, methods, paths, references to earlier
   operations); DBA_OK, or err with its status (nothing may run). */
DBA_MUSTCHECK int dba__http_tx_parse(struct http_tx *tx, const char *body, size_t len,
                                     struct dba_err *err);
/* True when every operation has been answered. */
bool dba__http_tx_done(const struct http_tx *tx);
/* Starts the statements of the next wave (empty). */
void dba__http_tx_wave_begin(struct http_tx *tx);
/* Adds a statement to the wave; strings borrowed until it has run. */
void dba__http_tx_stmt_add(struct http_tx *tx, const char *sql, const char *const *params,
                           int n_params);
/* Plans the wave: the operations from tx->next whose references are answered, each with its
   settings, its nested-insert statement and its main statement. DBA_OK, or err with *op the
   operation that failed. */
DBA_MUSTCHECK int dba__http_tx_wave_plan(struct http_tx *tx, size_t *op, struct dba_err *err);
/* After the wave's statements: on the last wave the end of the transaction (COMMIT, or
   SET CONSTRAINTS ALL IMMEDIATE + ROLLBACK when rollback); true when it was the last. */
bool dba__http_tx_wave_end(struct http_tx *tx, bool rollback);
/* Reads the wave's results: res[i] for tx->stmts[i] (NULL for one that failed or did not run),
   wave_err the first error (NULL when none). Answers each operation as the request alone would;
   DBA_OK, or err (sentinels mapped as tables.c does) with *op the operation that failed. */
DBA_MUSTCHECK int dba__http_tx_wave_results(struct http_tx *tx, struct pg_result *const *res,
                                            size_t n_res, const struct dba_err *wave_err,
                                            size_t *op, struct dba_err *err);
/* {"results": [...]} (new). */
json_t *dba__http_tx_results_json(const struct http_tx *tx);
/* PostgREST's error body of e plus "operation": op (none when op is SIZE_MAX: the document was
   refused before anything ran) (new); its status in *status.
   authenticated as dba__http_status. */
json_t *dba__http_tx_error_json(const struct dba_err *e, size_t op, bool authenticated,
                                unsigned *status);
/* Releases the document and the answers. */
void dba__http_tx_cleanup(struct http_tx *tx);

#endif
