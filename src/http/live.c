/* live.c - the settings a SIGHUP changes while the server runs: server.cors_allowed_origins and
 * the active profile's auth rules (JWT keys, audience, role claim, anon role, pre_request, admin
 * roles), held in one immutable, reference-counted snapshot (struct http_live), and the pool
 * sizes (the active profile's pool_size, server.queue_limit), which each worker applies to its
 * own pools on its loop: reconfigure wakes every worker, dba__http_live_pool_apply sees the new
 * generation and resizes (dba_db_pool_resize), so a pool is only ever touched by its thread.
 *
 * dba_http_server_reconfigure builds a new snapshot from a reloaded configuration, publishes it
 * under live_lock and bumps live_gen. A worker compares live_gen when a request arrives; when it
 * moved, the worker takes the new snapshot (the lock, once per reload and worker) and clears its
 * JWT cache (tokens verified with the old keys). Each request pins its worker's snapshot for its
 * whole life (r->live), so a request that waits on the database while a reload happens finishes
 * with the rules it started with. The pins are counted per worker without atomics: the hot path
 * reads a worker-local pointer, takes no lock and touches no shared cache line.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* A snapshot a worker replaced while some of its requests still pinned it. */
struct http_live_retired {
    struct http_live *live;         /* one reference held */
    long users;                     /* this worker's requests still pinning it */
    struct http_live_retired *next; /* next on the worker's list */
};

static struct http_live *
live_ref(struct http_live *l)
{
    atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
    return l;
}

static void
live_unref(struct http_live *l)
{
    if (l == NULL || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
        return;
    dba_auth_free(l->auth);
    free(l->anon_claims);
    dba_config_free(l->owned);
    free(l);
}

/* The snapshot of cfg for profile name (its own auth group, else the top-level one); owned is
   cfg when the snapshot owns it, else NULL. DBA_OK and *out, or err (a bad key: nothing built,
   owned left to the caller). */
static int
live_new(const struct dba_config *cfg, struct dba_config *owned, const char *profile,
         struct http_live **out, struct dba_err *err)
{
    struct http_live *l = dba_xcalloc(1, sizeof(*l));

    atomic_init(&l->refs, 1);
    l->cfg = cfg;
    l->auth_cfg = dba_config_auth_for(cfg, dba_config_profile_get(cfg, profile));
    if (l->auth_cfg->present && dba_auth_new(l->auth_cfg, &l->auth, err) != DBA_OK) {
        free(l);
        return err->code;
    }
    if (l->auth_cfg->present && l->auth_cfg->anon_role != NULL) {
        json_t *o = json_pack("{s:s}", "role", l->auth_cfg->anon_role);
        l->anon_claims = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    l->owned = owned;
    *out = l;
    return DBA_OK;
}

int
dba__http_auth_start(struct dba_http_server *s, const char *listen_addr, struct dba_err *err)
{
    if (live_new(s->cfg, NULL, s->active->name, &s->live, err) != DBA_OK)
        return err->code;
    if (!s->live->auth_cfg->present && listen_addr != NULL &&
        strncmp(listen_addr, "127.", 4) != 0 && strcmp(listen_addr, "localhost") != 0)
        dba_log(DBA_LOG_WARN, "no auth group: every request on %s runs as the connecting "
                "role; configure auth { jwt_secret_env, anon_role } before exposing the "
                "port (README, Identity)", listen_addr);
    /* A cache on every worker, even without an auth group: a reload may add one. */
    for (int i = 0; i < s->n_workers; i++) {
        s->workers[i].auth_cache = dba_auth_cache_new(DBA_AUTH_CACHE_SLOTS);
        s->workers[i].live = live_ref(s->live);
    }
    return DBA_OK;
}

void
dba__http_auth_stop(struct dba_http_server *s)
{
    for (int i = 0; s->workers != NULL && i < s->n_workers; i++) {
        struct worker *w = &s->workers[i];
        dba_auth_cache_free(w->auth_cache);
        w->auth_cache = NULL;
        live_unref(w->live);
        w->live = NULL;
        while (w->retired != NULL) { /* every request is over: nothing pins them */
            struct http_live_retired *x = w->retired;
            w->retired = x->next;
            live_unref(x->live);
            free(x);
        }
    }
    live_unref(s->live);
    s->live = NULL;
}

/* The worker takes the published snapshot; the one it replaces stays while requests pin it. */
static void
live_swap(struct worker *w)
{
    struct dba_http_server *s = w->srv;

    pthread_mutex_lock(&s->live_lock);
    struct http_live *n = live_ref(s->live);
    w->live_gen = atomic_load(&s->live_gen);
    pthread_mutex_unlock(&s->live_lock);
    if (w->live_users > 0) {
        struct http_live_retired *x = dba_xcalloc(1, sizeof(*x));
        x->live = w->live;
        x->users = w->live_users;
        x->next = w->retired;
        w->retired = x;
    } else {
        live_unref(w->live);
    }
    w->live = n;
    w->live_users = 0;
    dba_auth_cache_clear(w->auth_cache);
}

struct http_live *
dba__http_live_pin(struct worker *w)
{
    if (atomic_load_explicit(&w->srv->live_gen, memory_order_acquire) != w->live_gen)
        live_swap(w);
    w->live_users++;
    return w->live;
}

void
dba__http_live_unpin(struct worker *w, struct http_live *l)
{
    if (l == NULL)
        return;
    if (l == w->live) {
        w->live_users--;
        return;
    }
    for (struct http_live_retired **pp = &w->retired; *pp != NULL; pp = &(*pp)->next) {
        struct http_live_retired *x = *pp;
        if (x->live != l)
            continue;
        if (--x->users == 0) {
            *pp = x->next;
            live_unref(x->live);
            free(x);
        }
        return;
    }
}

int
dba__http_pool_share(const struct dba_http_server *s, int index, int total)
{
    int per = total / s->n_workers + (index < total % s->n_workers);

    return per > 0 ? per : 1;
}

int
dba__http_queue_limit(const struct dba_config *cfg)
{
    return cfg->server.queue_limit > 0 ? cfg->server.queue_limit : 1024;
}

void
dba__http_live_pool_apply(struct worker *w)
{
    struct dba_http_server *s = w->srv;

    if (atomic_load_explicit(&s->live_gen, memory_order_acquire) == w->pool_gen)
        return;
    pthread_mutex_lock(&s->live_lock);
    struct http_live *l = live_ref(s->live);
    w->pool_gen = atomic_load(&s->live_gen);
    pthread_mutex_unlock(&s->live_lock);
    const struct dba_profile *p = dba_config_profile_get(l->cfg, s->active->name);
    if (p != NULL) { /* reconfigure refuses a file without the active profile */
        int per = dba__http_pool_share(s, w->index, p->pool_size);
        int queue = dba__http_queue_limit(l->cfg);
        dba_db_pool_resize(w->pool, per, queue);
        for (int i = 0; i < w->n_replicas; i++)
            dba_db_pool_resize(w->replicas[i], per, queue);
        /* /metrics and /pool show the new size at once, not after the next tick */
        pthread_mutex_lock(&w->stats_lock);
        dba_db_pool_stats_get(w->pool, &w->stats_snap);
        for (int i = 0; i < w->n_replicas; i++)
            dba_db_pool_stats_get(w->replicas[i], &w->replica_snap[i]);
        pthread_mutex_unlock(&w->stats_lock);
    }
    live_unref(l);
}

/* The log lines of a pool change: the totals across workers (each keeps at least one). */
static void
live_report_pool(const struct dba_http_server *s, const struct dba_config *old,
                 const struct dba_config *n)
{
    const struct dba_profile *po = dba_config_profile_get(old, s->active->name);
    const struct dba_profile *pn = dba_config_profile_get(n, s->active->name);

    if (po != NULL && pn != NULL && po->pool_size != pn->pool_size) {
        int eff = pn->pool_size < s->n_workers ? s->n_workers : pn->pool_size;
        int was = po->pool_size < s->n_workers ? s->n_workers : po->pool_size;
        const char *why = pn->pool_size < eff ? " (one connection per worker at least)"
                          : eff < was ? " (idle connections close now, busy ones when released)"
                                      : "";
        dba_log(DBA_LOG_INFO, "reload: pool size %d -> %d for profile '%s'%s%s", was, eff,
                s->active->name, pn->replicas.n > 0 ? " and each of its replicas" : "", why);
    }
    if (dba__http_queue_limit(old) != dba__http_queue_limit(n))
        dba_log(DBA_LOG_INFO, "reload: queue limit %d -> %d for profile '%s' (per worker)",
                dba__http_queue_limit(old), dba__http_queue_limit(n), s->active->name);
}

int
dba_http_server_reconfigure(struct dba_http_server *s, struct dba_config *n, struct dba_err *err)
{
    struct http_live *l = NULL;

    if (dba_config_profile_get(n, s->active->name) == NULL)
        return dba_err_set(err, DBA_EINVAL, 0, "DBA002", "profile '%s' is no longer in the "
                           "configuration", s->active->name);
    if (live_new(n, n, s->active->name, &l, err) != DBA_OK)
        return err->code;
    /* Only this (the signal) thread publishes, so s->live is stable here. */
    if (dba_config_reload_report(s->cfg, s->live->cfg, n) == 0)
        dba_log(DBA_LOG_INFO, "reload: configuration unchanged");
    live_report_pool(s, s->live->cfg, n);
    dba_http_access_log_set((int)n->server.access_log);
    pthread_mutex_lock(&s->live_lock);
    struct http_live *old = s->live;
    s->live = l;
    unsigned gen = atomic_fetch_add_explicit(&s->live_gen, 1, memory_order_release) + 1;
    pthread_mutex_unlock(&s->live_lock);
    live_unref(old);
    for (int i = 0; i < s->n_workers; i++) /* each resizes its own pools (pool_apply) */
        dba_loop_wake(s->workers[i].loop);
    dba_log(DBA_LOG_INFO, "reload: run-time settings in effect (generation %u)", gen);
    return DBA_OK;
}
