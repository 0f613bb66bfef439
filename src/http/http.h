/* http.h - the HTTP face: libmicrohttpd daemons, one per worker thread, each driven by its own
   event loop together with that worker's database connections. */
#ifndef DBA_HTTP_H
#define DBA_HTTP_H

#include "config/config.h"
#include "core/core.h"

struct dba_http_server;

/* Overrides from the command line; -1 / NULL mean "take the config's value". */
struct dba_http_opts {
    int port;            /* TCP port; 0 = any free port (read it back with dba_http_server_port) */
    const char *listen;  /* bind address */
    int workers;         /* worker threads */
};

/* Starts the schema cache loader and the worker threads; returns once the port is bound.
   cfg and active are borrowed until dba_http_server_stop. NULL with err on failure. */
struct dba_http_server *dba_http_server_start(const struct dba_config *cfg,
                                              const struct dba_profile *active,
                                              const char *active_source,
                                              const struct dba_http_opts *o, struct dba_err *err);
/* The bound TCP port. */
int dba_http_server_port(const struct dba_http_server *s);
/* The bound port of the admin listener (admin.port), or -1 when there is none. */
int dba_http_server_admin_port(const struct dba_http_server *s);
/* Asks for a schema cache reload (thread-safe, async-signal-unsafe). */
void dba_http_server_reload(struct dba_http_server *s);
/* SIGHUP: logs what changed between the running configuration and n (dba_config_reload_report)
   and applies what can change at run time: log level, access log, server.cors_allowed_origins and
   the active profile's auth group (keys, audience, role claim, anon role, pre_request, admin
   roles; each worker's JWT cache is cleared). Takes n on success; DBA_EINVAL with err (n left to
   the caller, nothing applied) when its keys do not load or the active profile is gone. Call from
   one thread only. */
DBA_MUSTCHECK int dba_http_server_reconfigure(struct dba_http_server *s, struct dba_config *n,
                                              struct dba_err *err);
/* The access log mode (enum dba_access_log) from now on, e.g. after a SIGHUP reload. */
void dba_http_access_log_set(int mode);
/* Waits until the schema cache has been loaded once or timeout_ms passes; true when loaded. */
bool dba_http_server_wait_ready(struct dba_http_server *s, int timeout_ms);
struct json_t;
struct pg_conn;
struct dba_catalog;
/* The CLI's `db-adapter transaction`: runs a POST /transaction document (doc, len) with the same
   core as the route (tx.c) over the blocking connection conn, as its role, in p's first exposed
   schema, planned against c; ends with ROLLBACK when rollback. Returns the answer (new): the
   route's 200 {"results": [...]}, or the error body (with "operation": i when operation i
   failed) with its HTTP status in *status. */
struct json_t *dba_http_transaction_run(const struct dba_config *cfg,
                                        const struct dba_profile *p, struct pg_conn *conn,
                                        const struct dba_catalog *c, const char *doc, size_t len,
                                        bool rollback, unsigned *status);
/* Stops accepting, answers suspended requests, joins the workers and frees everything. */
void dba_http_server_stop(struct dba_http_server *s);

#endif
