/* replicas.c - read replicas (profiles.X.replicas): each worker has one pool per replica next to
   its primary pool. A read-only unit goes to a healthy replica, round robin; everything else
   (writes, dry runs, read-write transactions, operator routes, /readyz) to the primary. A replica
   pool polls pg_last_wal_replay_lsn() (db/pool.c), which is also its health check; a failed
   connect takes it out (the pool backs off, 100 ms doubling to 5 s, and the poll retries it). A
   read that fails on a replica for a reason of the replica's (connection lost or refused, server
   shutting down, conflict with recovery) is sent again to the primary: reads are idempotent.

   Read-your-writes: a write's unit ends with SELECT pg_current_wal_insert_lsn() after its COMMIT
   (same round trip) and the answer carries it as X-Db-Lsn; a read sending X-Db-Min-Lsn goes only
   to a replica whose polled replay position has reached it, else to the primary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

void
dba__http_replicas_worker_init(struct worker *w, int per_worker)
{
    struct dba_http_server *s = w->srv;
    const struct dba_profile *p = s->active;

    w->n_replicas = (int)p->replicas.n;
    if (w->n_replicas == 0)
        return;
    w->replicas = dba_xcalloc((size_t)w->n_replicas, sizeof(*w->replicas));
    w->replica_snap = dba_xcalloc((size_t)w->n_replicas, sizeof(*w->replica_snap));
    for (int i = 0; i < w->n_replicas; i++) {
        char *ci = dba_config_profile_conninfo_url(p, p->replicas.v[i]);
        char name[160];
        snprintf(name, sizeof(name), "%s/replica%d", p->name, i + 1);
        struct dba_db_pool_opts po = {
            .name = name,
            .conninfo = ci,
            .size = per_worker > 0 ? per_worker : 1,
            .prepared = p->prepared_statements,
            .queue_limit = s->cfg->server.queue_limit > 0 ? s->cfg->server.queue_limit : 1024,
            .replica = true,
        };
        dba__http_unit_pool_opts(p, &po);
        w->replicas[i] = dba_db_pool_new(w->loop, &po); /* copies name and conninfo */
        free(ci);
    }
}

void
dba__http_replicas_tick(struct worker *w, int64_t now_ms)
{
    for (int i = 0; i < w->n_replicas; i++)
        dba_db_pool_tick(w->replicas[i], now_ms);
    if (w->n_replicas == 0)
        return;
    pthread_mutex_lock(&w->stats_lock);
    for (int i = 0; i < w->n_replicas; i++)
        dba_db_pool_stats_get(w->replicas[i], &w->replica_snap[i]);
    pthread_mutex_unlock(&w->stats_lock);
}

void
dba__http_replicas_close(struct worker *w)
{
    for (int i = 0; i < w->n_replicas; i++)
        dba_db_pool_close(w->replicas[i]);
}

void
dba__http_replicas_free(struct worker *w)
{
    for (int i = 0; i < w->n_replicas; i++)
        dba_db_pool_free(w->replicas[i]);
    free(w->replicas);
    free(w->replica_snap);
    w->replicas = NULL;
    w->replica_snap = NULL;
    w->n_replicas = 0;
}

struct dba_db_pool *
dba__http_pick_pool(struct req *r, bool replica_ok)
{
    struct worker *w = r->w;

    r->on_replica = false;
    if (!replica_ok || w->n_replicas == 0 || r->pol.need_primary || r->retried)
        return w->pool;
    uint64_t min = 0;
    const char *h = dba__http_header(r, "X-Db-Min-Lsn");
    if (h != NULL && !dba_db_lsn_parse(h, &min))
        return w->pool; /* not an LSN: the primary is always up to date */
    for (int k = 0; k < w->n_replicas; k++) {
        int i = (int)(w->replica_rr++ % (unsigned)w->n_replicas);
        struct dba_db_pool *p = w->replicas[i];
        if (!dba_db_pool_healthy(p))
            continue;
        if (min > 0 && dba_db_pool_replay_lsn(p) < min)
            continue;
        r->on_replica = true;
        return p;
    }
    return w->pool;
}

bool
dba__http_replica_retry(const struct req *r, const struct dba_err *err)
{
    if (!r->on_replica || r->retried)
        return false;
    switch ((enum dba_db_err_kind)err->kind) {
    case DBA_DB_ERR_UNAVAILABLE:
    case DBA_DB_ERR_LOST:
    case DBA_DB_ERR_PROTOCOL:
    case DBA_DB_ERR_QUEUE_FULL:
        return true;
    case DBA_DB_ERR_SQL:
        /* admin shutdown, crash shutdown, cannot connect now, connection exceptions, and
           "canceling statement due to conflict with recovery" (40001 on a standby) */
        return strncmp(err->sqlstate, "57P0", 4) == 0 || strncmp(err->sqlstate, "08", 2) == 0 ||
               strcmp(err->sqlstate, "40001") == 0;
    case DBA_DB_ERR_NONE:
    case DBA_DB_ERR_QUEUE_DEADLINE:
    case DBA_DB_ERR_RUN_DEADLINE:
    case DBA_DB_ERR_SHUTDOWN:
        return false;
    }
    return false;
}

static json_t *
replica_json(const char *name, const struct dba_db_pool_stats *st)
{
    char lsn[32];
    snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned)(st->replay_lsn >> 32),
             (unsigned)(st->replay_lsn & 0xFFFFFFFFu));
    return json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:s*}", "name", name,
                     "state", st->healthy ? "up" : "down", "size", st->size, "open", st->open,
                     "idle", st->idle, "busy", st->busy, "waiting", st->waiting, "connects",
                     (json_int_t)st->connects, "errors", (json_int_t)st->errors, "queries",
                     (json_int_t)st->queries, "timeouts", (json_int_t)st->timeouts, "rejected",
                     (json_int_t)st->rejected, "replay_lsn",
                     st->replay_lsn ? lsn : NULL);
}

/* The figures of replica i summed over the workers; healthy when one worker's pool is, the
   replay position the highest seen. */
static void
replica_sum(struct dba_http_server *s, int i, struct dba_db_pool_stats *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (int k = 0; k < s->n_workers; k++) {
        struct worker *w = &s->workers[k];
        if (i >= w->n_replicas)
            continue;
        pthread_mutex_lock(&w->stats_lock);
        struct dba_db_pool_stats st = w->replica_snap[i];
        pthread_mutex_unlock(&w->stats_lock);
        dba_db_pool_stats_add(sum, &st);
        sum->healthy = sum->healthy || st.healthy;
        if (st.replay_lsn > sum->replay_lsn)
            sum->replay_lsn = st.replay_lsn;
    }
}

json_t *
dba__http_replicas_json(struct dba_http_server *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->active->replicas.n; i++) {
        struct dba_db_pool_stats st;
        char name[32];
        replica_sum(s, (int)i, &st);
        snprintf(name, sizeof(name), "replica%zu", i + 1);
        json_array_append_new(a, replica_json(name, &st));
    }
    return a;
}

void
dba__http_replicas_metrics(struct dba_http_server *s, struct dba_buf *b)
{
    if (s->active->replicas.n == 0)
        return;
    dba_buf_puts(b, "# TYPE dba_replica_up gauge\n");
    for (size_t i = 0; i < s->active->replicas.n; i++) {
        struct dba_db_pool_stats st;
        replica_sum(s, (int)i, &st);
        dba_buf_printf(b, "dba_replica_up{profile=\"%s\",replica=\"replica%zu\"} %d\n",
                       s->active->name, i + 1, st.healthy ? 1 : 0);
    }
    dba_buf_puts(b, "# TYPE dba_replica_queries_total counter\n");
    for (size_t i = 0; i < s->active->replicas.n; i++) {
        struct dba_db_pool_stats st;
        replica_sum(s, (int)i, &st);
        dba_buf_printf(b, "dba_replica_queries_total{profile=\"%s\",replica=\"replica%zu\"} %lu\n",
                       s->active->name, i + 1, (unsigned long)st.queries);
    }
    dba_buf_puts(b, "# TYPE dba_replica_errors_total counter\n");
    for (size_t i = 0; i < s->active->replicas.n; i++) {
        struct dba_db_pool_stats st;
        replica_sum(s, (int)i, &st);
        dba_buf_printf(b, "dba_replica_errors_total{profile=\"%s\",replica=\"replica%zu\"} %lu\n",
                       s->active->name, i + 1, (unsigned long)st.errors);
    }
}
