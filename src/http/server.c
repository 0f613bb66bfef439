/* server.c - worker threads: each owns an event loop, a libmicrohttpd daemon in external epoll mode
 * (all daemons listen on the same port with SO_REUSEPORT, so the kernel spreads connections; the
 * port is claimed first so that no second process can join them) and its own share of the active
 * profile's connection pool (pool_size is the total across workers). With admin.port set, each
 * worker runs a second daemon on the admin listener, shared the same way, so an operator request
 * is served by the worker that accepted it like any other. A request never leaves its
 * worker, so the hot path takes no lock; the only shared state is the schema cache pointer, read
 * under a mutex only when its generation number changes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"
#include "openapi/openapi.h"

#define WORKER_TICK_MS 100

static void
on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;

    DBA_UNUSED(cls);
    DBA_UNUSED(mc);
    DBA_UNUSED(toe);
    if (r == NULL)
        return;
    if (r->w->draining)
        r->w->answering--;
    if (r->job != NULL)
        dba_db_job_detach(r->job);
    if (r->task != NULL) {
        dba__http_task_detach(r->task);
        r->w->inflight--;
    }
    json_decref(r->task_result);
    dba_db_res_clear(r->res);
    dba_db_res_clear(r->aux);
    bool big = r->body.cap > (4u << 20);
    dba_buf_cleanup(&r->body);
    dba_catalog_unref(r->cache);
    dba__http_live_unpin(r->w, r->live);
    dba_arena_free(r->a);
    free(r);
    *con_cls = NULL;
    if (big)
        malloc_trim(0); /* give a large body's pages back instead of keeping them in the heap */
}

static void
worker_on_mhd(void *arg, uint32_t events)
{
    struct worker *w = arg;

    DBA_UNUSED(events);
    w->mhd_due = true;
}

static void
worker_on_wake(void *arg)
{
    struct worker *w = arg;

    w->mhd_due = true;
    dba__http_tasks_collect(w);
    dba__http_live_pool_apply(w); /* a SIGHUP wakes every worker */
}

static int
worker_timeout(struct worker *w)
{
    MHD_UNSIGNED_LONG_LONG t;
    int ms = WORKER_TICK_MS;

    if (w->mhd_due)
        return 0;
    if (MHD_get_timeout(w->mhd, &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG)ms)
        ms = (int)t;
    if (w->mhd_admin != NULL && MHD_get_timeout(w->mhd_admin, &t) == MHD_YES &&
        t < (MHD_UNSIGNED_LONG_LONG)ms)
        ms = (int)t;
    return ms;
}

/* Runs the worker's daemons: the public one and, when configured, the admin listener's. */
static void
worker_run_mhd(struct worker *w)
{
    MHD_run(w->mhd);
    if (w->mhd_admin != NULL)
        MHD_run(w->mhd_admin);
}

bool
dba__http_on_admin_listener(struct req *r)
{
    if (r->w->mhd_admin == NULL)
        return false;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->mc,
                                                                 MHD_CONNECTION_INFO_DAEMON);
    return ci != NULL && ci->daemon == r->w->mhd_admin;
}

/* Shutdown, past the deadline or once nothing waits: fails what still waits on the database and
   on background operations (their requests are answered 503), then runs the loop until those
   answers are sent, or a second more. */
static void
worker_drain(struct worker *w)
{
    w->draining = true;
    w->answering = w->inflight;
    dba__http_tasks_abandon(w);
    /* Fails whatever is still waiting on the database (the callbacks resume their connections)
       and refuses what keep-alive connections still send; the pool is freed in server_free. */
    dba_db_pool_close(w->pool);
    dba__http_replicas_close(w);
    int64_t end = dba_now_ms() + 1000;
    w->mhd_due = true;
    do {
        worker_run_mhd(w);
        if (w->answering <= 0)
            break;
        dba_loop_run_once(w->loop, 10);
        w->mhd_due = false;
    } while (dba_now_ms() < end);
    worker_run_mhd(w);
    dba__http_metrics_flush(w->metrics);
}

static void
worker_close_listener(MHD_socket fd)
{
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    int64_t next_tick = dba_now_ms() + WORKER_TICK_MS;
    bool quiesced = false;

    /* A first snapshot now: /metrics and /pool scraped before the first tick show the pool's
       size, not zeros. */
    pthread_mutex_lock(&w->stats_lock);
    dba_db_pool_stats_get(w->pool, &w->stats_snap);
    pthread_mutex_unlock(&w->stats_lock);
    while (true) {
        dba_loop_run_once(w->loop, worker_timeout(w));
        int64_t now = dba_now_ms();
        w->mhd_due = false;
        worker_run_mhd(w);
        if (now >= next_tick) {
            dba__http_live_pool_apply(w); /* one atomic load when nothing was reloaded */
            dba_db_pool_tick(w->pool, now);
            dba__http_replicas_tick(w, now);
            dba__http_tasks_tick(w, now);
            pthread_mutex_lock(&w->stats_lock);
            dba_db_pool_stats_get(w->pool, &w->stats_snap);
            pthread_mutex_unlock(&w->stats_lock);
            next_tick = now + WORKER_TICK_MS;
            w->mhd_due = true; /* let MHD time out idle connections */
            dba__http_metrics_flush(w->metrics); /* the access log lines of this tick */
            if (w->index == 0)
                dba_log_flush(false); /* counts of repeated log lines whose second is over */
        }
        if (atomic_load(&w->stop)) {
            if (!quiesced) {
                /* Closed at once, not at exit: a new connection is refused right away (a load
                   balancer retries it on another process) instead of waiting unanswered in the
                   backlog until the grace period ends. */
                worker_close_listener(MHD_quiesce_daemon(w->mhd));
                if (w->mhd_admin != NULL)
                    worker_close_listener(MHD_quiesce_daemon(w->mhd_admin));
                quiesced = true;
            }
            /* In-flight requests finish normally until the deadline. */
            if (w->inflight == 0 || now >= w->srv->stop_deadline_ms)
                break;
        }
    }
    worker_drain(w);
    return NULL;
}

/* The workers share the port through SO_REUSEPORT, which would also let a second server process
   join in and split the traffic. Claim the port first with a plain socket (SO_REUSEADDR only, so a
   port in TIME_WAIT is fine): the bind fails while any other socket listens there. The claim is
   held, bound but not listening, until the workers have bound. */
static int
server_port_claim(const char *listen_addr, int port, const char *key, int *fd_out,
                  struct dba_err *err)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int one = 1;

    if (inet_pton(AF_INET, listen_addr, &sa.sin_addr) != 1)
        return dba_err_set(err, DBA_EINVAL, 0, "DBA002", "bad listen address '%s' (IPv4 expected)",
                           listen_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return dba_err_set(err, DBA_EIO, 0, "DBA003", "cannot create a socket: %s",
                           strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE) {
            dba_err_set(err, DBA_EIO, 0, "DBA003", "port %d is in use", port);
            dba_err_detail(err, "Another process listens on %s:%d.", listen_addr, port);
            dba_err_hint(err, "Stop it, or choose another port with %s.", key);
            return DBA_EIO;
        }
        return dba_err_set(err, DBA_EIO, 0, "DBA003", "cannot listen on %s:%d: %s", listen_addr,
                           port, strerror(e));
    }
    *fd_out = fd;
    return DBA_OK;
}

/* Starts one libmicrohttpd daemon on listen_addr:port for worker w (external epoll mode, the port
   shared with the other workers through SO_REUSEPORT) and watches its epoll fd in w's loop. */
static int
worker_daemon(struct worker *w, const char *listen_addr, int port, struct MHD_Daemon **out,
              struct dba_loop_io *io, struct dba_err *err)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

    if (inet_pton(AF_INET, listen_addr, &sa.sin_addr) != 1)
        return dba_err_set(err, DBA_EINVAL, 0, "DBA002", "bad listen address '%s' (IPv4 expected)",
                           listen_addr);
    *out = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, dba__http_on_request, w,
        MHD_OPTION_EXTERNAL_LOGGER, dba__http_mhd_log, w, /* first, so it sees every message */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
        MHD_OPTION_URI_LOG_CALLBACK, dba__http_on_uri, w,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)20000,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, DBA_HTTP_CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (*out == NULL)
        return dba_err_set(err, DBA_EIO, 0, "DBA003", "cannot listen on %s:%d (port in use?)",
                           listen_addr, port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(*out, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL || dba_loop_io_add(w->loop, io, info->epoll_fd, EPOLLIN,
                                        worker_on_mhd, w) != DBA_OK)
        return dba_err_set(err, DBA_EIO, 0, "DBA003", "cannot watch the HTTP daemon");
    return DBA_OK;
}

/* The bound port of daemon d (port 0 asks for any free one), or port. */
static int
daemon_port(struct MHD_Daemon *d, int port)
{
    const union MHD_DaemonInfo *bi = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);

    return bi != NULL ? bi->port : port;
}

/* admin_port >= 0: the worker also serves the admin listener (admin.listen:admin_port) with a
   second daemon of its own, so an operator request, like any other, never leaves its worker. */
static int
worker_init(struct worker *w, struct dba_http_server *s, int index, const char *listen_addr,
            int port, int admin_port, struct dba_err *err)
{
    const struct dba_config *cfg = s->cfg;

    w->srv = s;
    w->index = index;
    pthread_mutex_init(&w->stats_lock, NULL);
    pthread_mutex_init(&w->tasks_lock, NULL);
    w->metrics = dba__http_metrics_new();
    w->loop = dba_loop_new();
    if (worker_daemon(w, listen_addr, port, &w->mhd, &w->mhd_io, err) != DBA_OK)
        return DBA_EIO;
    if (admin_port >= 0 && worker_daemon(w, cfg->admin.listen, admin_port, &w->mhd_admin,
                                         &w->mhd_admin_io, err) != DBA_OK)
        return DBA_EIO;
    dba_loop_set_wake_cb(w->loop, worker_on_wake, w);
    /* pool_size is the profile's total: split it, the remainder going to the first workers
       (n_workers <= pool_size, see dba_http_server_start, so each gets at least one). */
    struct dba_db_pool_opts po = {
        .name = s->active->name,
        .conninfo = s->conninfo,
        .size = dba__http_pool_share(s, index, s->active->pool_size),
        .prepared = s->active->prepared_statements,
        .queue_limit = dba__http_queue_limit(cfg),
    };
    dba__http_unit_pool_opts(s->active, &po);
    w->pool = dba_db_pool_new(w->loop, &po);
    dba__http_replicas_worker_init(w, po.size);
    return DBA_OK;
}

extern const char dba_openapi_doc[];
extern const size_t dba_openapi_doc_len;

static void
server_openapi_free(void *m)
{
    dba_openapi_free(m);
}

/* The OpenAPI model of a new catalog, built here on the keeper thread before the catalog is
   shared: requests only assemble documents from it. */
static void
server_openapi_attach(struct dba_http_server *s, struct dba_catalog *c)
{
    const char *doc = dba_openapi_doc; /* YAML's JSON subset after its comment lines */
    while (*doc == '#') {
        const char *nl = strchr(doc, '\n');
        doc = nl ? nl + 1 : doc + strlen(doc);
    }
    struct dba_openapi_opts o = {
        .base_path = s->cfg->server.base_path ? s->cfg->server.base_path : "/tables",
        .public_url = s->cfg->server.openapi_public_url,
        .security_active = s->cfg->server.openapi_security_active,
        .operator_doc = doc,
        .operator_doc_len = dba_openapi_doc_len - (size_t)(doc - dba_openapi_doc),
        .version = DBA_VERSION,
    };
    c->ext = dba_openapi_new(c, &o);
    c->ext_free = server_openapi_free;
}

static void
server_on_cache(void *arg, struct dba_catalog *c)
{
    struct dba_http_server *s = arg;

    server_openapi_attach(s, c);

    pthread_mutex_lock(&s->cache_lock);
    struct dba_catalog *old = s->cache;
    s->cache = c;
    atomic_fetch_add(&s->cache_gen, 1);
    pthread_mutex_unlock(&s->cache_lock);
    dba_catalog_unref(old);
}

struct dba_catalog *
dba__http_cache(struct req *r)
{
    struct worker *w = r->w;
    struct dba_http_server *s = w->srv;
    unsigned gen = atomic_load(&s->cache_gen);

    if (gen != w->cache_gen) {
        pthread_mutex_lock(&s->cache_lock);
        struct dba_catalog *c = dba_catalog_ref(s->cache);
        w->cache_gen = atomic_load(&s->cache_gen);
        pthread_mutex_unlock(&s->cache_lock);
        dba_catalog_unref(w->cache);
        w->cache = c;
    }
    if (r->cache == NULL)
        r->cache = dba_catalog_ref(w->cache);
    return r->cache;
}

static void
server_free(struct dba_http_server *s)
{
    /* Running background operations are waited for until the shutdown deadline, then abandoned:
       they no longer report to the workers freed below. */
    dba__http_tasks_stop(s, s->stop_deadline_ms);
    for (int i = 0; i < s->n_workers; i++) {
        if (s->workers[i].loop != NULL)
            dba__http_tasks_collect(&s->workers[i]);
    }
    dba_catalog_keeper_stop(s->keeper);
    for (int i = 0; i < s->n_workers; i++) {
        struct worker *w = &s->workers[i];
        dba_db_pool_free(w->pool);
        dba__http_replicas_free(w);
        if (w->mhd != NULL)
            MHD_stop_daemon(w->mhd);
        if (w->mhd_admin != NULL)
            MHD_stop_daemon(w->mhd_admin);
        dba_loop_free(w->loop);
        pthread_mutex_destroy(&w->stats_lock);
        pthread_mutex_destroy(&w->tasks_lock);
        dba__http_metrics_free(w->metrics);
        dba_catalog_unref(w->cache);
    }
    dba__http_auth_stop(s);
    free(s->workers);
    dba_catalog_unref(s->cache);
    pthread_mutex_destroy(&s->cache_lock);
    pthread_mutex_destroy(&s->live_lock);
    free(s->conninfo);
    free(s->display);
    free(s);
}

struct dba_http_server *
dba_http_server_start(const struct dba_config *cfg, const struct dba_profile *active,
                      const char *active_source, const struct dba_http_opts *o,
                      struct dba_err *err)
{
    struct dba_http_server *s = dba_xcalloc(1, sizeof(*s));
    const char *listen_addr = o && o->listen ? o->listen : cfg->server.listen;
    int port = o && o->port >= 0 ? o->port : cfg->server.port;

    s->cfg = cfg;
    s->active = active;
    s->active_source = active_source;
    s->conninfo = dba_config_profile_conninfo(active);
    s->display = dba_config_profile_display(active);
    s->started_ms = dba_now_ms();
    pthread_mutex_init(&s->cache_lock, NULL);
    pthread_mutex_init(&s->live_lock, NULL);
    s->n_workers = o && o->workers > 0 ? o->workers : dba_config_workers(cfg);
    if (s->n_workers < 1)
        s->n_workers = 1;
    if (s->n_workers > active->pool_size && active->pool_size > 0) {
        /* Every worker needs a connection of its own, and pool_size is the profile's total. */
        dba_log(DBA_LOG_INFO, "%d workers reduced to %d: pool_size is %d connections in all",
                s->n_workers, active->pool_size, active->pool_size);
        s->n_workers = active->pool_size;
    }
    s->workers = dba_xcalloc((size_t)s->n_workers, sizeof(*s->workers));
    dba__http_tasks_start(s);
    if (dba__http_auth_start(s, listen_addr, err) != DBA_OK) {
        server_free(s);
        return NULL;
    }
    int admin_port = cfg->admin.port;
    int claim_fd = -1, admin_claim_fd = -1;
    s->admin_port = -1;
    if ((port != 0 && server_port_claim(listen_addr, port, "--port or server.port", &claim_fd,
                                        err) != DBA_OK) ||
        (admin_port > 0 && server_port_claim(cfg->admin.listen, admin_port, "admin.port",
                                             &admin_claim_fd, err) != DBA_OK)) {
        if (claim_fd >= 0)
            close(claim_fd);
        server_free(s);
        return NULL;
    }
    for (int i = 0; i < s->n_workers; i++) {
        if (worker_init(&s->workers[i], s, i, listen_addr, port, admin_port, err) != DBA_OK) {
            if (claim_fd >= 0)
                close(claim_fd);
            if (admin_claim_fd >= 0)
                close(admin_claim_fd);
            server_free(s);
            return NULL;
        }
        if (i == 0) {
            s->port = port = daemon_port(s->workers[0].mhd, port);
            if (admin_port >= 0) /* port 0: the other workers join the port the first got */
                s->admin_port = admin_port = daemon_port(s->workers[0].mhd_admin, admin_port);
        }
    }
    if (claim_fd >= 0)
        close(claim_fd);
    if (admin_claim_fd >= 0)
        close(admin_claim_fd);
    /* The keeper LISTENs: on a transaction-mode pooler that needs its own direct connection,
       profiles.X.listen_url (default: the profile's url). */
    char *listen_ci = active->listen_url != NULL
                          ? dba_config_profile_conninfo_url(active, active->listen_url)
                          : NULL;
    s->keeper = dba_catalog_keeper_start(listen_ci != NULL ? listen_ci : s->conninfo,
                                        (const char *const *)active->schemas.v,
                                        active->schemas.n, server_on_cache, s);
    free(listen_ci); /* the keeper keeps its own copy */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < s->n_workers; i++)
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0)
            dba_fatal("pthread_create failed");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    dba_log(DBA_LOG_INFO, "listening on %s:%d (%d workers), profile '%s' (%s) at %s", listen_addr,
            s->port, s->n_workers, active->name, active_source ? active_source : "-", s->display);
    if (s->admin_port >= 0)
        dba_log(DBA_LOG_INFO, "admin listener on %s:%d: the operator routes are served there "
                "only", cfg->admin.listen, s->admin_port);
    return s;
}

int
dba_http_server_port(const struct dba_http_server *s)
{
    return s->port;
}

int
dba_http_server_admin_port(const struct dba_http_server *s)
{
    return s->admin_port;
}

void
dba_http_server_reload(struct dba_http_server *s)
{
    dba_catalog_keeper_reload(s->keeper);
}

bool
dba_http_server_wait_ready(struct dba_http_server *s, int timeout_ms)
{
    int64_t end = dba_now_ms() + timeout_ms;

    while (dba_now_ms() < end) {
        if (atomic_load(&s->cache_gen) > 0)
            return true;
        usleep(10 * 1000);
    }
    return atomic_load(&s->cache_gen) > 0;
}

void
dba_http_server_stop(struct dba_http_server *s)
{
    if (s == NULL)
        return;
    int grace = s->cfg->server.shutdown_timeout_ms;
    s->stop_deadline_ms = dba_now_ms() + (grace > 0 ? grace : 0);
    for (int i = 0; i < s->n_workers; i++) {
        atomic_store(&s->workers[i].stop, true);
        dba_loop_wake(s->workers[i].loop);
    }
    for (int i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i].thread, NULL);
    server_free(s);
    dba_log_flush(true);
}
