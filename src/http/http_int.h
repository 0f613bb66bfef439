/* http_int.h - declarations shared inside the http module. */
#ifndef DBA_HTTP_INT_H
#define DBA_HTTP_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include <jansson.h>
#include <microhttpd.h>

#include "auth/auth.h"
#include "config/config.h"
#include "db/db.h"
#include "http/http.h"
#include "query/query.h"
#include "schema/schema.h"

struct req;
struct http_task;
struct http_live_retired;

/* The settings a SIGHUP can change at run time (live.c): immutable once published, shared by
   the workers, freed with its last reference. */
struct http_live {
    atomic_int refs;                   /* s->live, each worker holding it */
    const struct dba_config *cfg;      /* the configuration it comes from: server.cors_* */
    struct dba_config *owned;          /* cfg when it is a reloaded one (freed with this), else
                                          NULL (the server's own, borrowed) */
    const struct dba_config_auth *auth_cfg; /* the active profile's auth rules (in cfg) */
    struct dba_auth *auth;             /* their verifier when an auth group applies, else NULL */
    char *anon_claims;                 /* request.jwt.claims without a token: {"role": anon} */
};
/* A blocking operation for dba__http_task: runs on its own thread; returns a new JSON value and
   may set *status (default 200), or returns NULL with err filled. Must not touch the request. */
typedef json_t *(*dba__http_task_fn)(void *arg, unsigned *status, struct dba_err *err);
/* Builds the response of a resumed request; runs on the worker thread. */
typedef enum MHD_Result (*req_finish_cb)(struct req *r);

enum { REQ_T_PARSED, REQ_T_PLANNED, REQ_T_SENT, REQ_T_RESULT }; /* indexes into req.t_us */

/* Where a request is; req_step (req.c) moves it on each call of MHD's access handler. */
enum req_state {
    REQ_NEW,        /* created by dba__http_on_uri; the first call records method and url */
    REQ_READING,    /* collecting the body; its end routes the request */
    REQ_WAITING,    /* suspended: a database job or task is running (counted in w->inflight) */
    REQ_READY,      /* resumed: r->finish will queue the response */
    REQ_ANSWERED,   /* a response was queued */
};

/* Isolation level of a request's transaction (BEGIN ISOLATION LEVEL ...). */
enum req_iso {
    REQ_ISO_DEFAULT,         /* the server's default_transaction_isolation */
    REQ_ISO_READ_COMMITTED,  /* READ COMMITTED */
    REQ_ISO_REPEATABLE_READ, /* REPEATABLE READ */
    REQ_ISO_SERIALIZABLE,    /* SERIALIZABLE */
};

/* A request's unit of work: every statement sent to PostgreSQL for it, pipelined on one
   connection in one round trip - BEGIN [ISOLATION LEVEL ...] [READ ONLY], the setup statements
   (set_config(..., true)), the main statement, then COMMIT or (SET CONSTRAINTS ALL IMMEDIATE,)
   ROLLBACK. The result delivered is the main statement's (result_index). Statements live in the
   request arena; their strings are borrowed until the job's callback runs. */
struct req_unit {
    struct dba_db_stmt *stmts;  /* n statements (arena), grown by doubling */
    size_t n;                   /* statements so far */
    size_t cap;                 /* room in stmts */
    size_t result_index;        /* the main statement, valid once added */
    size_t aux_index;           /* the auxiliary statement (dba__http_unit_aux), if has_aux */
    bool has_aux;               /* an auxiliary statement was added */
    bool tx;                    /* BEGIN was added: the end statements follow the main one */
    bool read_only;             /* the transaction is READ ONLY */
    bool has_main;              /* the main statement was added */
    bool keep_tx;               /* never sent as the main statement alone: its READ ONLY must
                                   hold (a function call may write, rpc.c) */
    size_t n_pre;               /* statements unit_begin added after BEGIN (statement_timeout) */
};

/* Who is calling (policy.c). */
enum http_caller {
    HTTP_CALLER_ANON,  /* no credentials */
    HTTP_CALLER_ROLE,  /* a database role from a verified JWT */
    HTTP_CALLER_ADMIN, /* the configured admin token, or a JWT whose role is in auth.admin_roles */
};

/* What the policy step decided for a request before any SQL runs (policy.c). */
struct http_policy {
    enum http_caller caller;           /* see enum */
    const char *role;                  /* database role the request runs as (SET LOCAL ROLE): the
                                          JWT's role, else auth.anon_role; NULL = the connecting
                                          role (no auth group, or the admin token) */
    const char *claims;                /* request.jwt.claims JSON (arena), or NULL */
    bool token;                        /* a JWT was sent (Bearer or apikey) and verified */
    bool auth_failed;                  /* a JWT was sent and refused: auth_err says why */
    struct dba_err auth_err;           /* 401 PGRST301/PGRST303 or 500 PGRST300 */
    const struct dba_profile *profile; /* the active profile (borrowed from the server) */
    const char *schema;                /* schema the request works in (arena or catalog) */
    bool schema_echo;                  /* answer with Content-Profile */
    bool read_only;                    /* the profile refuses writes */
    int64_t deadline_ms;               /* absolute deadline of the request (dba_now_ms clock) */
    bool tx_rollback;                  /* the transaction ends with ROLLBACK */
    bool need_primary;                 /* the request's units must run on the primary even when
                                          read-only (replicas.c): a multi-unit transaction */
    bool tx_applied;                   /* Prefer: tx= was honoured (Preference-Applied) */
};

struct req {
    struct worker *w;              /* owning worker */
    struct MHD_Connection *mc;     /* libmicrohttpd connection */
    struct dba_arena *a;           /* request arena */
    enum req_state state;          /* see enum */
    const char *method;            /* HTTP method text */
    const char *url;               /* path (decoded by MHD) */
    const char *raw_query;         /* query string as received (undecoded), or "" */
    uint64_t seq;                  /* request number on its worker (log lines' request id) */
    bool path_has_nul;             /* the raw path holds %00 (MHD's decoded url is cut there) */
    struct dba_buf body;           /* request body */
    bool body_too_big;             /* body exceeded max_body_bytes */
    struct http_spool *spool;      /* the body spooled to a file (spool.c), or NULL */
    bool spool_decided;            /* spool.c has looked at the first chunk */
    struct dba_catalog *cache; /* reference held for the request, or NULL */
    struct http_live *live;        /* the run-time settings pinned for the request (live.c) */
    struct dba_db_job *job;        /* running job, or NULL */
    struct http_task *task;        /* running background task, or NULL */
    json_t *task_result;           /* finished task's result (owned), or NULL */
    unsigned task_status;          /* status the task chose, 0 = default */
    struct req_unit unit;          /* statements of the running job */
    struct http_policy pol;        /* the policy step's decisions */
    struct pg_result *res;         /* job result (owned until finish) */
    struct pg_result *aux;         /* the unit's auxiliary statement's result, or NULL (owned) */
    struct dba_err err;            /* job error when res is NULL */
    bool failed;                   /* job ended with err */
    const char *err_content_range; /* Content-Range to put on an error response, or NULL */
    const char *www_authenticate;  /* WWW-Authenticate of a 401 answer, NULL = "Bearer" */
    req_finish_cb finish;          /* completion: builds the response */
    void *ctx;                     /* handler-specific state (arena) */
    int64_t start_ms;              /* arrival */
    int64_t start_us;              /* arrival, microseconds */
    int64_t t_us[4];               /* Server-Timing stamps: parsed, planned, sent, result (0 = none) */
    int64_t resp_len;              /* response body bytes when known (access log, metrics), else 0
                                      with resp_len_known false */
    bool resp_len_known;           /* resp_len is set */
    /* replicas.c: where the job went, and what to send again on the primary */
    bool on_replica;               /* the running job is on a replica pool */
    bool retried;                  /* already sent again on the primary */
    const struct dba_db_stmt *sent; /* the job's statements (arena), for that retry */
    size_t sent_n;                 /* their count */
    size_t sent_result;            /* their result index */
    char lsn[DBA_DB_CAPTURE_LEN];  /* a write's WAL position after COMMIT (X-Db-Lsn), or "" */
};

struct worker {
    struct dba_http_server *srv;   /* owner */
    int index;                     /* 0..n-1 */
    pthread_t thread;              /* the worker thread */
    struct dba_loop *loop;         /* its event loop */
    struct MHD_Daemon *mhd;        /* its daemon (external epoll mode) */
    struct dba_loop_io mhd_io;     /* MHD's epoll fd in our loop */
    struct MHD_Daemon *mhd_admin;  /* its daemon on the admin listener (admin.port), or NULL */
    struct dba_loop_io mhd_admin_io; /* that daemon's epoll fd in our loop */
    struct dba_db_pool *pool;      /* its slice of the active profile's pool */
    struct dba_db_pool **replicas; /* one pool per profiles.X.replicas entry (replicas.c) */
    int n_replicas;                /* count */
    unsigned replica_rr;           /* round robin position */
    struct dba_db_pool_stats *replica_snap; /* their figures, refreshed every tick (stats_lock) */
    struct dba_catalog *cache; /* current cache reference, or NULL */
    unsigned cache_gen;            /* generation of cache */
    atomic_bool stop;              /* asked to stop */
    bool mhd_due;                  /* run MHD on the next iteration */
    long inflight;                 /* suspended requests */
    bool draining;                 /* shutting down: counting the last responses out */
    uint64_t n_seq;                /* requests seen, for request ids */
    long answering;                /* while draining: resumed requests not yet completed */
    pthread_mutex_t tasks_lock;    /* guards tasks_done */
    struct http_task *tasks_done;  /* finished background tasks, pushed by their threads */
    pthread_mutex_t stats_lock;    /* guards stats_snap */
    struct dba_db_pool_stats stats_snap; /* pool figures, refreshed every tick for /pool */
    struct dba_auth_cache *auth_cache; /* verified JWTs of this worker's requests, or NULL */
    struct http_live *live;        /* its run-time settings (one reference held), live.c */
    unsigned live_gen;             /* generation of live */
    long live_users;               /* its requests pinning live */
    struct http_live_retired *retired; /* replaced snapshots its requests still pin */
    unsigned pool_gen;             /* generation of the run-time settings its pools follow */
    struct dba__http_metrics *metrics; /* this worker's counters (metrics.c); it is their only
                                          writer */
};

struct dba_http_server {
    const struct dba_config *cfg;       /* borrowed */
    const struct dba_profile *active;   /* borrowed */
    const char *active_source;          /* how the profile was chosen */
    char *conninfo;                     /* owned; secret */
    char *display;                      /* host:port/db for output */
    int port;                           /* bound port */
    int admin_port;                     /* bound admin listener port, or -1 when there is none */
    int n_workers;                      /* count */
    struct worker *workers;             /* n_workers */
    struct dba_catalog_keeper *keeper;   /* schema cache loader */
    pthread_mutex_t cache_lock;         /* guards cache */
    struct dba_catalog *cache;     /* latest cache, or NULL before the first load */
    atomic_uint cache_gen;              /* bumped on every new cache */
    int64_t started_ms;                 /* start time */
    atomic_ulong n_requests;            /* requests answered */
    atomic_ulong n_errors;              /* 5xx answers */
    struct http_task_pool *tasks;       /* bounded pool running background operations (task.c) */
    int64_t stop_deadline_ms;           /* shutdown deadline, set by dba_http_server_stop */
    pthread_mutex_t live_lock;          /* guards live */
    struct http_live *live;             /* latest run-time settings (live.c) */
    atomic_uint live_gen;               /* bumped on every new one */
};

/* Per-connection memory of libmicrohttpd: it holds the request line, the request headers and
   the response headers. MHD zeroes the whole of it between keep-alive requests, so every idle
   kept-alive connection costs this much resident memory (10,000 connections: 16 KiB each ->
   ~170 MB, 128 KiB each -> ~1.3 GB, measured with bench/run). The longest query string served
   must leave room for the headers: a longer one is answered 414 (JSON) while the request line
   still fits, and by MHD itself (logged) past that. Content-Location echoes the query only up to
   DBA_HTTP_ECHO_QUERY_BYTES, so a long query cannot overflow the response headers. */
#define DBA_HTTP_CONN_MEMORY ((size_t)16 * 1024)
#define DBA_HTTP_MAX_QUERY_BYTES (8 * 1024)
#define DBA_HTTP_ECHO_QUERY_BYTES (2 * 1024)

/* req.c: the request state machine and the request's unit of work. */
/* MHD_OPTION_EXTERNAL_LOGGER callback: MHD's messages go to the log at warn level. */
void dba__http_mhd_log(void *cls, const char *fmt, va_list ap);
void *dba__http_on_uri(void *cls, const char *uri, struct MHD_Connection *mc);
enum MHD_Result dba__http_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **con_cls);
/* Runs one statement alone (no transaction block) on the worker's pool and suspends; finish
   runs after resume. For probes such as /readyz's SELECT 1. */
enum MHD_Result dba__http_run(struct req *r, const char *sql, const char *const *params,
                              int n_params, req_finish_cb finish);
/* The request's unit (struct req_unit), built in this order: begin, any number of set, main,
   then run. begin opens the transaction; read_only makes it READ ONLY. */
void dba__http_unit_begin(struct req *r, enum req_iso iso, bool read_only);
/* Where the profile's session settings travel (docs/SCALING.md): with prepared_statements (a
   direct connection) as startup options of the pool's connections (statement_timeout,
   default_transaction_read_only), so a plain read stays one statement; without (a transaction-mode
   pooler refuses startup options) in each unit. Fills those fields of po. */
void dba__http_unit_pool_opts(const struct dba_profile *p, struct dba_db_pool_opts *po);
/* The statement_timeout the unit must set itself (arena text of milliseconds), or NULL: none
   configured, or sent at connect. dba__http_unit_begin adds it as its own set_config statement
   when there is no auth group; with one, dba__http_policy_unit folds it into its statement. */
const char *dba__http_unit_timeout(struct req *r);
/* Adds `SELECT set_config(name, value, true)`: the setting lasts until the transaction ends.
   name and value are borrowed until the job's callback runs. */
void dba__http_unit_set(struct req *r, const char *name, const char *value);
/* Adds a setup statement before the main one (the identity settings, pre_request). Strings
   borrowed as above. */
void dba__http_unit_setup(struct req *r, const char *sql, const char *const *params, int n_params);
/* Adds the main statement, whose result finish receives. Strings borrowed as above. */
void dba__http_unit_main(struct req *r, const char *sql, const char *const *params, int n_params);
/* Adds an auxiliary statement (after the main one; at most one) whose result is kept too:
   r->aux when finish runs (NULL if it failed). Strings borrowed as above. */
void dba__http_unit_aux(struct req *r, const char *sql, const char *const *params, int n_params);
/* Ends the unit (COMMIT, or SET CONSTRAINTS ALL IMMEDIATE + ROLLBACK when r->pol.tx_rollback),
   sends it as one pipeline and suspends; finish runs after resume. */
enum MHD_Result dba__http_unit_run(struct req *r, req_finish_cb finish);
const char *dba__http_header(struct req *r, const char *name);
/* Every value of a repeated header joined with ", " (arena), or NULL. */
const char *dba__http_header_all(struct req *r, const char *name);

/* metrics.c: per-worker counters, the /metrics text and the access log. */
struct dba__http_metrics;
struct dba__http_metrics *dba__http_metrics_new(void);
void dba__http_metrics_free(struct dba__http_metrics *m);
void dba__http_metrics_flush(struct dba__http_metrics *m); /* pending access log lines */
/* Counts r's answer (status, body bytes or -1 when unknown) on its worker and writes its access
   log line (server.access_log). Called once per answered request, by dba__http_queue. */
void dba__http_metrics_record(struct req *r, unsigned status, int64_t bytes);
/* The Prometheus text of /metrics (pool figures summed by the caller) appended to b. */
void dba__http_metrics_render(struct dba_http_server *s, const struct dba_db_pool_stats *st,
                              struct dba_buf *b);
/* At server.log_level = debug: one line per statement r sends, with its request id, the SQL
   (control bytes escaped) and its parameters masked ($1=<5 bytes>, $2=NULL). */
void dba__http_log_statements(struct req *r, const struct dba_db_stmt *stmts, size_t n);
/* response.c: r's request id (the trace header's value when sent, else <worker>.<number>),
   printable ASCII, into buf. */
void dba__http_request_id(struct req *r, char *buf, size_t n);
/* ops.c: whether path is one of the operational routes (/healthz, /metrics, ...). */
bool dba__http_is_ops_path(const char *path);

/* server.c: the worker's current schema cache, referenced for the request; NULL before the first
   load. */
struct dba_catalog *dba__http_cache(struct req *r);

/* server.c: whether r arrived on the admin listener (admin.port). */
bool dba__http_on_admin_listener(struct req *r);

/* router.c */
/* Answers r (routed after its body was read): refusals before routing, then /tables, the
   operational routes, 404. Runs the policy step before any handler. */
enum MHD_Result dba__http_route(struct req *r);
/* True when r's method is `allowed` (HEAD counts as GET); else *ret is the 405 answer. */
bool dba__http_method_ok(struct req *r, const char *allowed, const char *path,
                         enum MHD_Result *ret);

/* response.c */
enum MHD_Result dba__http_queue(struct req *r, unsigned status, struct MHD_Response *resp);
enum MHD_Result dba__http_send_json(struct req *r, unsigned status, const char *body, size_t len);
enum MHD_Result dba__http_send_jsonv(struct req *r, unsigned status, json_t *v); /* steals v */
/* The error choke points: every error answer is PostgREST's JSON shape, built here. */
enum MHD_Result dba__http_send_err(struct req *r, const struct dba_err *e);
/* status.c: the HTTP status of e and its client code (*code borrowed from e or static; code may be
   NULL). An engine error (e->kind) is mapped here; any other error keeps the status and code its
   module set (500 / DBA500 when none). authenticated: the caller proved who it is (42501 is then
   403, else 401). */
unsigned dba__http_status(const struct dba_err *e, bool authenticated, const char **code);
/* status.c: PostgREST's SQLSTATE -> HTTP status map (reference/postgrest.md §3.6). */
unsigned dba__http_status_sqlstate(const char *sqlstate, const char *message, bool authenticated);
enum MHD_Result dba__http_error(struct req *r, unsigned status, const char *code, const char *msg,
                                const char *detail, const char *hint);
void dba__http_add_common(struct req *r, struct MHD_Response *resp);
/* Finish callback of a task answering its JSON result (or its error) as is. */
enum MHD_Result dba__http_send_task_result(struct req *r);
/* A log line about r: prefixed with its request id (the trace header's value when
   server.trace_header is set and sent, else <worker>.<number>) and the profile. */
void dba__http_log(int level, struct req *r, const char *fmt, ...) DBA_PRINTF(3, 4);
#define req_log(level, r, ...) \
    do { if ((level) <= dba_log_level_current) dba__http_log((level), (r), __VA_ARGS__); } while (0)

/* task.c */
/* Queues fn(arg) on the server's bounded operation pool and suspends r; finish runs after resume
   with r->task_result (NULL and r->failed when fn failed). A full queue answers 503 at once; a
   task that cannot start in time, or is abandoned at shutdown, is answered with an error without
   calling finish. arg is owned by the task and released with arg_free (may be NULL). */
enum MHD_Result dba__http_task(struct req *r, dba__http_task_fn fn, void *arg,
                               void (*arg_free)(void *), req_finish_cb finish);
void dba__http_task_detach(struct http_task *t);
void dba__http_tasks_collect(struct worker *w);
/* Starts / stops the server's operation pool (stop waits for running tasks until deadline_ms). */
void dba__http_tasks_start(struct dba_http_server *s);
void dba__http_tasks_stop(struct dba_http_server *s, int64_t deadline_ms);
/* Worker thread: answers tasks waiting past their deadline; at shutdown, answers every request
   still waiting for a task with 503. */
void dba__http_tasks_tick(struct worker *w, int64_t now_ms);
void dba__http_tasks_abandon(struct worker *w);

/* plan.c */
struct http_plan {
    bool on;              /* the client asked for a plan */
    bool json;            /* +json, else text */
    const char *for_type; /* media type the plan is for (arena) */
    const char *options;  /* options= text as given, or NULL (arena) */
    unsigned flags;       /* EXPLAIN options: bit per analyze, verbose, settings, buffers, wal */
};
/* True when Accept asks for a plan; fills plan (memory from a). */
bool dba__http_plan_parse(struct dba_arena *a, const char *accept, struct http_plan *plan);
/* "EXPLAIN (FORMAT ..., options) <sql>" in a. */
char *dba__http_plan_sql(struct dba_arena *a, const struct http_plan *plan, const char *sql);
enum MHD_Result dba__http_plan_finish(struct req *r, const struct http_plan *plan);

/* policy.c */
/* What an operator route needs from the policy step. */
struct http_policy_need {
    const char *writes; /* non-NULL: the operation writes into the active profile, e.g. "a restore
                           into it"; a read_only profile refuses it (403 DBA403) */
};
/* Fills r->pol for a request about to be routed: caller, profile, read_only, deadline and the
   default transaction end. Runs once per request, before any handler. */
void dba__http_policy_begin(struct req *r);
/* How the request's transaction ends: server.tx_end, overridden by Prefer: tx=commit|rollback
   (prefer_tx, or NULL) in the allow-override modes; sets r->pol.tx_rollback / tx_applied. */
void dba__http_policy_tx(struct req *r, const char *prefer_tx);
/* True when the caller may do what need says; else queues the refusal into *ret (403 DBA403 for
   a read_only profile). The admin credential is checked earlier, once, by the route table. */
bool dba__http_policy_check(struct req *r, const struct http_policy_need *need,
                            enum MHD_Result *ret);
/* live.c, server start / stop: the first run-time snapshot (the active profile's auth verifier,
   CORS), one token cache per worker; warns when no auth group applies and listen_addr is not
   loopback. */
int dba__http_auth_start(struct dba_http_server *s, const char *listen_addr, struct dba_err *err);
void dba__http_auth_stop(struct dba_http_server *s);
/* live.c: the worker's current snapshot, pinned for a new request (taking a newer published one
   first); unpin when the request is over. Worker thread only. */
struct http_live *dba__http_live_pin(struct worker *w);
void dba__http_live_unpin(struct worker *w, struct http_live *l);
/* live.c, on the worker's loop (its wake and its tick): when a newer snapshot was published, its
   pools (the profile's and the replicas') take the new pool_size share and queue_limit. */
void dba__http_live_pool_apply(struct worker *w);
/* The worker's share of a pool_size total (the remainder to the first workers; at least 1). */
int dba__http_pool_share(const struct dba_http_server *s, int index, int total);
/* server.queue_limit as the pools take it (0 = the default, 1024). */
int dba__http_queue_limit(const struct dba_config *cfg);
/* Table routes: the caller's identity. False with the refusal in *ret when a token was refused
   (401 PGRST301/PGRST303 with WWW-Authenticate: Bearer error="invalid_token") or when there is
   neither a token nor an anon_role (401 PGRST302). */
/* openapi_routes.c: GET <base>/ (Swagger 2.0) and GET /openapi.json (OpenAPI 3.1). */
enum MHD_Result dba__http_openapi_root(struct req *r);
enum MHD_Result dba__http_openapi_json(struct req *r);
bool dba__http_policy_identity(struct req *r, enum MHD_Result *ret);
/* Adds the identity to the unit (after dba__http_unit_begin, before the main statement): one
   statement setting request.jwt.claims, request.method, request.path, request.headers,
   request.cookies and role (and statement_timeout, dba__http_unit_timeout), then
   SELECT <pre_request>() when configured. Nothing without an auth group. */
void dba__http_policy_unit(struct req *r);
/* Table routes: the schema from Accept-Profile (read) or Content-Profile (write) into
   r->pol.schema / schema_echo; an unexposed schema queues 406 PGRST106 into *ret. */
bool dba__http_policy_schema(struct req *r, const struct dba_catalog *c, bool read,
                             enum MHD_Result *ret);
/* Table writes: a read_only profile queues 405 DBA405 into *ret. */
bool dba__http_policy_table_write(struct req *r, enum MHD_Result *ret);

/* tables.c: a table request's state (r->ctx), shared with rpc.c, whose calls answer through
   the same finish. */
struct tables_ctx {
    struct dba_query q;        /* parsed request */
    struct dba_sql sql;        /* built statement */
    const struct dba_table *t; /* relation, borrowed from r->cache */
    struct http_plan plan;     /* Accept: vnd.pgrst.plan */
    const char *timezone;      /* Prefer: timezone= accepted (server's spelling), or NULL */
    const char *guc_status;    /* response.status set by the statement (arena), or NULL */
    const char *guc_headers;   /* response.headers set by the statement (arena), or NULL */
    const struct dba_function *fn; /* /rpc: the called function (rpc.c), else NULL */
    bool media_custom;         /* the catalog has media type handlers: Accept is negotiated
                                  against them after the grammar (dba__http_media_negotiate) */
    const char *media_accept;  /* the Accept to negotiate then */
};
enum MHD_Result dba__http_tables(struct req *r, const char *rel);
struct dba_http_req_in;
/* The one planning step of a table request (also each operation of /transaction): grammar,
   Prefer timezone, resolution against c, nested inserts, the unfiltered-write refusal, then the
   statement into tc->sql. tc->t is set by the caller, r->pol.schema is the schema. DBA_OK or
   err (status and PostgREST code set). */
DBA_MUSTCHECK int dba__http_tables_plan(struct req *r, struct tables_ctx *tc,
                                        const struct dba_catalog *c,
                                        const struct dba_http_req_in *in, struct dba_err *err);
/* What planning needs besides the request: a /transaction operation run by the CLI has no
   struct req (tx_blocking.c). */
struct http_plan_env {
    struct dba_arena *a;          /* memory of the plan */
    const struct dba_config *cfg; /* server settings (max_rows, aggregates, unfiltered writes) */
    const char *schema;           /* the schema the relation is in */
    int64_t *t_us;                /* Server-Timing stamps (REQ_T_*), or NULL */
};
/* dba__http_tables_plan without a request. */
DBA_MUSTCHECK int dba__http_tables_plan_env(const struct http_plan_env *env, struct tables_ctx *tc,
                                            const struct dba_catalog *c,
                                            const struct dba_http_req_in *in,
                                            struct dba_err *err);
/* A failed statement's sentinel (singular write, max-affected, bulk handling=strict) as the
   error PostgREST answers; false when e is no sentinel. */
bool dba__http_tables_sentinel(const struct dba_err *e, struct dba_err *out);
/* Appends the Preference-Applied value of tc's request to b (nothing when no preference was
   applied); write: a table write; tx: tx= applied, 1 rollback / 0 commit, -1 not applied. */
void dba__http_tables_preference_applied(const struct tables_ctx *tc, bool write, int tx,
                                         struct dba_buf *b);
/* The status of a successful write (201 created, 200/204 ...); inserted is the statement's
   inserted column. */
unsigned dba__http_tables_write_status(const struct dba_query *q, bool repr, const char *inserted);
/* transaction.c: POST /transaction, several operations in one transaction. */
enum MHD_Result dba__http_transaction(struct req *r);
/* Custom media type handlers (PostgREST): when c has any, negotiates accept against those of the
   relation or (call) function schema.name (with the default select only) and those over
   anyelement,
   then the built-in types; sets q->media and q->handler. DBA_OK, or err (406 PGRST107) when
   nothing is acceptable. Without handlers in c it does nothing (the grammar negotiated). */
DBA_MUSTCHECK int dba__http_media_negotiate(const struct dba_catalog *c, const char *accept,
                                            const char *schema, const char *name, bool call,
                                            struct dba_query *q, struct dba_err *err);
/* The finish callback of a table or /rpc unit (r->ctx is a struct tables_ctx). */
enum MHD_Result dba__http_tables_finish(struct req *r);
/* rpc.c: <base>/rpc/<fn> for GET, HEAD and POST (the router answers other methods). */
enum MHD_Result dba__http_rpc(struct req *r, const char *fn);
/* rpc.c: the one planning step of a call (also each /rpc operation of /transaction): overload
   resolution over in's arguments (query string or body), the grammar, the query tree, then the
   statement into tc->sql (tc->fn, tc->t set). read_only_profile: the name of a read-only profile,
   whose volatile calls by POST are refused (405 DBA405), or NULL. DBA_OK or err. */
DBA_MUSTCHECK int dba__http_rpc_plan_env(const struct http_plan_env *env, struct tables_ctx *tc,
                                         const struct dba_catalog *c, const char *fn,
                                         const struct dba_http_req_in *in,
                                         const char *read_only_profile, struct dba_err *err);
/* rpc.c: true when r's failed statement raised SQLSTATE 'PGRST' (PostgREST's full control of
   the error response: MESSAGE and DETAIL are JSON); the answer is queued into *ret. */
bool dba__http_rpc_raised(struct req *r, enum MHD_Result *ret);
/* rpc.c: whether a GET argument value is an operator expression ([not.]op[(...)].value), so
   the pair filters the result instead of passing an argument. */
bool dba__http_rpc_is_filter(const char *v);
/* rpc.c: PostgREST's overload match: names (n) cover every required input of f and name only
   inputs of f; a function without inputs matches no names unless post_raw (a POST whose body
   is text, xml or bytes). */
bool dba__http_rpc_matches(const struct dba_function *f, const char *const *names, size_t n,
                           bool post_raw);
/* ops.c: answers r when path is an operational route served on this listener (admin_listener:
   r arrived on the admin listener) and sets *handled; the route's class is checked here, once
   (an operator route needs an admin credential: dba__http_admin_check). */
enum MHD_Result dba__http_ops(struct req *r, const char *path, bool admin_listener,
                              bool *handled);
/* schema_routes.c: GET /schema, POST /schema/validate, POST /schema/fix (routed by ops.c). */
enum MHD_Result dba__http_schema_get(struct req *r);
enum MHD_Result dba__http_schema_validate(struct req *r);
enum MHD_Result dba__http_schema_fix(struct req *r);
/* backup_routes.c: GET /backup, POST /backup/validate, POST /restore, POST /sync (routed by
   ops.c). */
enum MHD_Result dba__http_backup_get(struct req *r);
enum MHD_Result dba__http_backup_validate(struct req *r);
enum MHD_Result dba__http_restore(struct req *r);
enum MHD_Result dba__http_sync(struct req *r);
/* spool.c: the bodies of POST /restore and POST /backup/validate from an admin caller are not
   gathered in r->body but written, as they arrive, to an unlinked temporary file (decompressed
   when sent with Content-Encoding: gzip), bounded by server.max_body_bytes
   (backup.max_restore_bytes for /restore) counted on the bytes received and on the bytes
   decompressed. dba__http_spool_chunk takes chunk p[0..n) and returns true when r's body is
   spooled (decided on its first chunk), false when it belongs in r->body. */
bool dba__http_spool_chunk(struct req *r, const char *p, size_t n);
/* At the end of a spooled body: true when it is whole; false with the refusal queued in *ret
   (413 over the limit, 400 PGRST102 a corrupt gzip stream, 415 an unknown Content-Encoding, 500
   the temporary file failed). */
bool dba__http_spool_end(struct req *r, enum MHD_Result *ret);
/* The spooled body's descriptor, handed to the caller (who closes it), or -1 when r's body was
   not spooled. */
int dba__http_spool_take(struct req *r);
/* admin.c: true when the request carries the configured admin token
   (`Authorization: Bearer <token>`, compared in constant time). */
bool dba__http_admin_token_ok(struct req *r);
/* admin.c: queues the refusal of an admin-only operation (`what`, e.g. "operator routes"):
   403 naming the env var to set when no admin credential is configured ("<what> are disabled:
   ..."), 403 for a valid credential that is not admin (a JWT role not in auth.admin_roles), 401
   with WWW-Authenticate when the credential is missing or wrong. */
enum MHD_Result dba__http_admin_refuse(struct req *r, const char *what);
/* admin.c: true when the caller is admin (r->pol.caller, set by the policy step); else queues
   dba__http_admin_refuse's answer for the operator routes into *ret. */
bool dba__http_admin_check(struct req *r, enum MHD_Result *ret);
/* req.c: value of query parameter name (decoded, request lifetime), or NULL; read from the raw
   query string (MHD's argument list is left empty). */
const char *dba__http_query(struct req *r, const char *name);
/* req.c: ?name=true|1|false|0 (absent = false) into *out; false when the value is none of
   these (*out is then false). */
bool dba__http_query_flag(struct req *r, const char *name, bool *out);

/* ---- replicas.c: read replicas (profiles.X.replicas) ---- */
void dba__http_replicas_worker_init(struct worker *w, int per_worker);
void dba__http_replicas_tick(struct worker *w, int64_t now_ms);
void dba__http_replicas_close(struct worker *w);
void dba__http_replicas_free(struct worker *w);
/* The pool a job of r goes to: a healthy replica (round robin; with X-Db-Min-Lsn one that has
   replayed that far) when replica_ok and r may read from one, else the primary. Sets
   r->on_replica. */
struct dba_db_pool *dba__http_pick_pool(struct req *r, bool replica_ok);
/* True when r's failed job ran on a replica for a reason of the replica's: send it again on the
   primary. */
bool dba__http_replica_retry(const struct req *r, const struct dba_err *err);
/* /pool's "replicas" array and /metrics' replica lines. */
json_t *dba__http_replicas_json(struct dba_http_server *s);
void dba__http_replicas_metrics(struct dba_http_server *s, struct dba_buf *b);

#endif
