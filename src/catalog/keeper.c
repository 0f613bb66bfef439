/* keeper.c - background schema cache loader and NOTIFY listener (its own thread and connection). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "catalog/catalog.h"

struct dba_catalog_keeper {
    pthread_t thread;            /* the keeper thread */
    int pipe_rd;                 /* wake-up pipe, read end (keeper) */
    int pipe_wr;                 /* wake-up pipe, write end (any thread) */
    atomic_bool stop;            /* set by dba_catalog_keeper_stop */
    atomic_bool reload;          /* set by dba_catalog_keeper_reload */
    char *conninfo;              /* owned; secret */
    char **schemas;              /* owned copies */
    size_t n_schemas;            /* count */
    dba_catalog_keeper_cb cb;     /* receives new caches */
    void *arg;                   /* its argument */
    pthread_mutex_t lock;        /* guards last_error */
    char last_error[2600];       /* last failure, "" when fine */
    atomic_uint_fast64_t loads;  /* successful loads */
    atomic_uint_fast64_t failures; /* failed loads */
    atomic_uint_fast64_t reloads;  /* reloads asked for */
    atomic_int_fast64_t last_load_us; /* duration of the last successful load */
};

void
dba_catalog_keeper_stats(struct dba_catalog_keeper *k, struct dba_catalog_keeper_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (k == NULL)
        return;
    st->loads = atomic_load(&k->loads);
    st->failures = atomic_load(&k->failures);
    st->reloads = atomic_load(&k->reloads);
    st->last_load_us = atomic_load(&k->last_load_us);
}

static void
keeper_set_error(struct dba_catalog_keeper *k, const struct dba_err *err)
{
    pthread_mutex_lock(&k->lock);
    if (err == NULL)
        k->last_error[0] = '\0';
    else
        snprintf(k->last_error, sizeof(k->last_error), "%s%s%s", err->msg,
                 err->detail[0] ? ": " : "", err->detail);
    pthread_mutex_unlock(&k->lock);
}

/* Waits on the pipe (and the connection's socket when given) for up to timeout_ms. */
static void
keeper_wait(struct dba_catalog_keeper *k, PGconn *pg, int timeout_ms)
{
    struct pollfd fds[2] = { { .fd = k->pipe_rd, .events = POLLIN },
                             { .fd = pg ? PQsocket(pg) : -1, .events = POLLIN } };
    char buf[64];

    if (poll(fds, pg ? 2 : 1, timeout_ms) > 0 && (fds[0].revents & POLLIN))
        while (read(k->pipe_rd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
            ;
}

static bool
keeper_load(struct dba_catalog_keeper *k, PGconn *pg)
{
    struct dba_err err;
    int64_t t0 = dba_now_us();
    struct dba_catalog *c =
        dba_catalog_load(pg, (const char *const *)k->schemas, k->n_schemas, &err);

    if (c == NULL) {
        atomic_fetch_add(&k->failures, 1);
        keeper_set_error(k, &err);
        dba_log(DBA_LOG_WARN, "schema cache: load failed: %s", err.msg);
        return false;
    }
    atomic_fetch_add(&k->loads, 1);
    atomic_store(&k->last_load_us, dba_now_us() - t0);
    keeper_set_error(k, NULL);
    dba_log(DBA_LOG_INFO, "schema cache: %zu relations in %zu schema(s)", c->n_tables, c->n_schemas);
    k->cb(k->arg, c);
    return true;
}

/* Drains notifications; true when one asks for a schema reload. */
static bool
keeper_notified(PGconn *pg)
{
    bool want = false;
    PGnotify *n;

    while ((n = PQnotifies(pg)) != NULL) {
        if (strcmp(n->relname, "pgrst") == 0 &&
            (n->extra[0] == '\0' || strcmp(n->extra, "reload schema") == 0))
            want = true;
        PQfreemem(n);
    }
    return want;
}

static PGconn *
keeper_connect(struct dba_catalog_keeper *k)
{
    struct dba_err err;
    PGconn *pg = dba_db_connect_blocking(k->conninfo, 5, &err);

    if (pg == NULL) {
        keeper_set_error(k, &err);
        return NULL;
    }
    PGresult *r = dba_db_exec(pg, "LISTEN pgrst", NULL, 0, &err);
    PQclear(r);
    return pg;
}

static void *
keeper_main(void *arg)
{
    struct dba_catalog_keeper *k = arg;
    PGconn *pg = NULL;
    int backoff_ms = 200;
    bool need_load = true;

    while (!atomic_load(&k->stop)) {
        if (pg == NULL && (pg = keeper_connect(k)) == NULL) {
            keeper_wait(k, NULL, backoff_ms);
            backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
            continue;
        }
        backoff_ms = 200;
        if (atomic_exchange(&k->reload, false))
            need_load = true;
        if (need_load) {
            need_load = !keeper_load(k, pg);
            if (need_load && PQstatus(pg) == CONNECTION_BAD) {
                PQfinish(pg);
                pg = NULL;
            }
            if (need_load)
                keeper_wait(k, NULL, 1000);
            continue;
        }
        keeper_wait(k, pg, 1000);
        if (!PQconsumeInput(pg) || PQstatus(pg) == CONNECTION_BAD) {
            PQfinish(pg);
            pg = NULL;
            need_load = true; /* the schema may have changed while we were away */
            continue;
        }
        if (keeper_notified(pg)) {
            usleep(100 * 1000); /* debounce a burst of DDL notifications */
            keeper_notified(pg);
            atomic_fetch_add(&k->reloads, 1);
            need_load = true;
        }
    }
    if (pg != NULL)
        PQfinish(pg);
    return NULL;
}

struct dba_catalog_keeper *
dba_catalog_keeper_start(const char *conninfo, const char *const *schemas, size_t n_schemas,
                        dba_catalog_keeper_cb cb, void *arg)
{
    struct dba_catalog_keeper *k = dba_xcalloc(1, sizeof(*k));
    int fds[2];

    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        dba_fatal("pipe2 failed");
    k->pipe_rd = fds[0];
    k->pipe_wr = fds[1];
    k->conninfo = dba_xstrdup(conninfo);
    k->schemas = dba_xcalloc(n_schemas + 1, sizeof(char *));
    for (size_t i = 0; i < n_schemas; i++)
        k->schemas[i] = dba_xstrdup(schemas[i]);
    k->n_schemas = n_schemas;
    k->cb = cb;
    k->arg = arg;
    pthread_mutex_init(&k->lock, NULL);
    snprintf(k->last_error, sizeof(k->last_error), "schema cache not loaded yet");
    if (pthread_create(&k->thread, NULL, keeper_main, k) != 0)
        dba_fatal("pthread_create failed");
    return k;
}

static void
keeper_poke(struct dba_catalog_keeper *k)
{
    char c = 1;

    if (write(k->pipe_wr, &c, 1) < 0 && errno != EAGAIN)
        dba_log(DBA_LOG_WARN, "schema keeper: wake-up failed");
}

void
dba_catalog_keeper_reload(struct dba_catalog_keeper *k)
{
    atomic_fetch_add(&k->reloads, 1);
    atomic_store(&k->reload, true);
    keeper_poke(k);
}

void
dba_catalog_keeper_stop(struct dba_catalog_keeper *k)
{
    if (k == NULL)
        return;
    atomic_store(&k->stop, true);
    keeper_poke(k);
    pthread_join(k->thread, NULL);
    close(k->pipe_rd);
    close(k->pipe_wr);
    for (size_t i = 0; i < k->n_schemas; i++)
        free(k->schemas[i]);
    free(k->schemas);
    free(k->conninfo);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

void
dba_catalog_keeper_last_error(struct dba_catalog_keeper *k, char *buf, size_t n)
{
    pthread_mutex_lock(&k->lock);
    snprintf(buf, n, "%s", k->last_error);
    pthread_mutex_unlock(&k->lock);
}
