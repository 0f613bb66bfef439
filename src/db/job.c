/* job.c - jobs and the per-connection prepared statement cache. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

static unsigned
stmt_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static const struct db_stmt_entry *
stmt_cache_find(const struct db_conn *c, const char *sql)
{
    for (const struct db_stmt_entry *e = c->stmts[stmt_hash(sql) % DB_STMT_BUCKETS]; e; e = e->next)
        if (strcmp(e->sql, sql) == 0)
            return e;
    return NULL;
}

void
db_stmt_cache_add(struct db_conn *c, const char *sql, const char *name)
{
    if (stmt_cache_find(c, sql) != NULL)
        return;
    struct db_stmt_entry *e = dba_xcalloc(1, sizeof(*e));
    unsigned b = stmt_hash(sql) % DB_STMT_BUCKETS;
    e->sql = dba_xstrdup(sql);
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->next = c->stmts[b];
    c->stmts[b] = e;
    c->n_stmts++;
}

void
db_stmt_cache_clear(struct db_conn *c)
{
    for (int b = 0; b < DB_STMT_BUCKETS; b++) {
        while (c->stmts[b] != NULL) {
            struct db_stmt_entry *e = c->stmts[b];
            c->stmts[b] = e->next;
            free(e->sql);
            free(e);
        }
    }
    c->n_stmts = 0;
}

static size_t
job_align(size_t n)
{
    return (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
}

struct dba_db_job *
db_job_new(struct dba_db_pool *p, const struct dba_db_stmt *stmts, size_t n, size_t result_index,
           int64_t deadline_ms, dba_db_result_cb cb, void *arg)
{
    /* One allocation: the job, its statement copies, room for its wire operations, the parameter
       pointer arrays, then every text. A detached job so never reads its caller's memory. */
    size_t head = job_align(sizeof(struct dba_db_job));
    size_t fixed = head + job_align(n * sizeof(struct dba_db_stmt)) +
                   job_align(2 * n * sizeof(struct db_op));
    size_t n_ptrs = 0, text = 0;

    for (size_t i = 0; i < n; i++) {
        n_ptrs += (size_t)stmts[i].n_params;
        text += strlen(stmts[i].sql) + 1;
        for (int k = 0; k < stmts[i].n_params; k++)
            if (stmts[i].params[k] != NULL)
                text += strlen(stmts[i].params[k]) + 1;
    }
    char *mem = dba_xmalloc(fixed + n_ptrs * sizeof(char *) + text);
    struct dba_db_job *j = (struct dba_db_job *)(void *)mem;
    memset(j, 0, sizeof(*j));
    j->stmts = (struct dba_db_stmt *)(void *)(mem + head);
    j->ops = (struct db_op *)(void *)(mem + head + job_align(n * sizeof(struct dba_db_stmt)));
    const char **ptrs = (const char **)(void *)(mem + fixed);
    char *t = mem + fixed + n_ptrs * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(stmts[i].sql) + 1;
        memcpy(t, stmts[i].sql, len);
        j->stmts[i].sql = t;
        t += len;
        j->stmts[i].n_params = stmts[i].n_params;
        j->stmts[i].params = stmts[i].n_params > 0 ? ptrs : NULL;
        for (int k = 0; k < stmts[i].n_params; k++) {
            const char *v = stmts[i].params[k];
            if (v == NULL) {
                *ptrs++ = NULL;
                continue;
            }
            len = strlen(v) + 1;
            memcpy(t, v, len);
            *ptrs++ = t;
            t += len;
        }
    }
    j->pool = p;
    j->n_stmts = n;
    j->result_index = result_index & 0xffff;
    j->aux_index = (result_index >> 16) ? (result_index >> 16) - 1 : SIZE_MAX;
    j->deadline_ms = deadline_ms;
    j->cb = cb;
    j->arg = arg;
    return j;
}

bool
db_job_keep(struct dba_db_job *j, size_t stmt_index, PGresult *r)
{
    if (stmt_index != j->aux_index || j->aux_res != NULL)
        return false;
    j->aux_res = r;
    return true;
}

struct pg_result *
dba_db_job_take_aux(struct dba_db_job *job)
{
    PGresult *r = job ? job->aux_res : NULL;

    if (job)
        job->aux_res = NULL;
    return r;
}

void
db_job_free(struct dba_db_job *j)
{
    PQclear(j->aux_res);
    free(j);
}

void
db_job_plan(struct db_conn *c, struct dba_db_job *j)
{
    j->n_ops = 0;
    PQclear(j->aux_res); /* a job run again (a new connection) keeps only its last run's */
    j->aux_res = NULL;
    for (size_t i = 0; i < j->n_stmts; i++) {
        const struct dba_db_stmt *s = &j->stmts[i];
        struct db_op *op = &j->ops[j->n_ops++];
        op->sql = s->sql;
        op->params = s->params;
        op->n_params = s->n_params;
        op->stmt_index = i;
        op->kind = DB_OP_EXEC;
        if (!c->pool->opts.prepared)
            continue;
        const struct db_stmt_entry *e = stmt_cache_find(c, s->sql);
        if (e != NULL) {
            op->kind = DB_OP_EXEC_PREPARED;
            snprintf(op->name, sizeof(op->name), "%s", e->name);
            continue;
        }
        if (c->n_stmts >= DB_STMT_MAX)
            continue;
        /* New on this connection: prepare it in the same pipeline, then execute it. */
        op->kind = DB_OP_PREPARE;
        snprintf(op->name, sizeof(op->name), "dba%u", c->next_stmt++);
        struct db_op *ex = &j->ops[j->n_ops++];
        *ex = *op;
        ex->kind = DB_OP_EXEC_PREPARED;
    }
}
