/* conn_log.c - what the engine tells the log about the database: libpq's notices and warnings
   go through our logger at their level, naming the pool, the connection and the request whose
   job was running; a database that goes away and comes back is logged once each way per
   profile (not once per worker or per connection). Nothing here runs per request unless the
   server sends a notice. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "db/db_int.h"

/* Copies s into out (n bytes) with control bytes as spaces: a notice's text may come from a
   caller's data (RAISE NOTICE '%', value) and must not forge log lines. */
static void
clean_copy(char *out, size_t n, const char *s)
{
    size_t i = 0;

    for (; s != NULL && s[i] != '\0' && i + 1 < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    while (i > 0 && out[i - 1] == ' ')
        i--;
    out[i] = '\0';
}

static void
conn_notice(void *arg, const PGresult *res)
{
    struct db_conn *c = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    int level = DBA_LOG_INFO; /* NOTICE, INFO, LOG */

    if (sev == NULL)
        sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    if (sev == NULL)
        sev = "NOTICE";
    if (strcmp(sev, "WARNING") == 0)
        level = DBA_LOG_WARN;
    else if (strncmp(sev, "DEBUG", 5) == 0)
        level = DBA_LOG_DEBUG;
    else if (strcmp(sev, "ERROR") == 0 || strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)
        level = DBA_LOG_ERROR;
    if (level > dba_log_level_current)
        return;
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char msg[512];
    clean_copy(msg, sizeof(msg), primary != NULL ? primary : PQresultErrorMessage(res));
    const char *tag = c->job != NULL && c->job->tag[0] != '\0' ? c->job->tag : NULL;
    if (tag != NULL)
        dba_log_write(level, "req %s pool %s conn %d: %s: %s", tag, c->pool->opts.name, c->id,
                      sev, msg);
    else
        dba_log_write(level, "pool %s conn %d: %s: %s", c->pool->opts.name, c->id, sev, msg);
}

void
db_conn_log_attach(struct db_conn *c)
{
    PQsetNoticeReceiver(c->pg, conn_notice, c);
}

void
dba_db_job_set_tag(struct dba_db_job *j, const char *tag)
{
    if (j != NULL)
        clean_copy(j->tag, sizeof(j->tag), tag);
}

/* Per profile (pool name): whether the database is down as far as any worker knows, and since
   when. Touched only when a connect fails or a pool connects after failures. */
#define AVAIL_SLOTS 32

static pthread_mutex_t avail_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char name[64];     /* pool (profile) name, "" = free */
    bool down;         /* reported down and not yet back */
    int64_t since_ms;  /* when it was reported down */
} avail[AVAIL_SLOTS];

/* Lock held: the slot for name (a new one when free; the last when full). */
static int
avail_slot(const char *name)
{
    int free_i = -1;

    for (int i = 0; i < AVAIL_SLOTS; i++) {
        if (strcmp(avail[i].name, name) == 0)
            return i;
        if (free_i < 0 && avail[i].name[0] == '\0')
            free_i = i;
    }
    if (free_i < 0)
        free_i = AVAIL_SLOTS - 1;
    snprintf(avail[free_i].name, sizeof(avail[free_i].name), "%s", name);
    avail[free_i].down = false;
    return free_i;
}

bool
db_pool_log_down(const struct dba_db_pool *p, const char *msg)
{
    pthread_mutex_lock(&avail_lock);
    int i = avail_slot(p->opts.name);
    bool first = !avail[i].down;
    if (first) {
        avail[i].down = true;
        avail[i].since_ms = dba_now_ms();
    }
    pthread_mutex_unlock(&avail_lock);
    if (first) {
        char m[256];
        clean_copy(m, sizeof(m), msg);
        dba_log(DBA_LOG_ERROR, "profile %s: database unavailable: %s", p->opts.name, m);
    }
    return true;
}

void
db_pool_log_up(const struct dba_db_pool *p)
{
    pthread_mutex_lock(&avail_lock);
    int i = avail_slot(p->opts.name);
    bool was_down = avail[i].down;
    int64_t since = avail[i].since_ms;
    avail[i].down = false;
    pthread_mutex_unlock(&avail_lock);
    if (was_down)
        dba_log(DBA_LOG_INFO, "profile %s: database available again after %.1f s", p->opts.name,
                (double)(dba_now_ms() - since) / 1000.0);
}
