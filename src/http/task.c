/* task.c - blocking core operations (/status, schema introspection, backups, ...) run on a small
   bounded pool of threads so the worker loop never blocks; the result comes back to the worker
   through its loop's wake-up eventfd and the suspended request is resumed, as for a database job.

   Bounds: server.task_threads threads run operations; at most server.task_queue_limit more wait
   for a thread, and a request beyond that is answered 503 with Retry-After at once. A waiting
   operation that does not start within server.request_timeout_ms is answered 504 without running.
   A running operation cannot be cut (its libpq calls block), so at shutdown it is waited for until
   the shutdown deadline and then abandoned: its request is answered 503 by the worker, and the
   thread, when it ends, frees the operation without touching the (gone) worker. */
#include <pthread.h>
#include <stdlib.h>

#include "http/http_int.h"

struct http_task {
    struct worker *w;            /* worker that owns the request */
    struct req *r;               /* request, or NULL once it went away (worker thread only) */
    dba__http_task_fn fn;        /* the blocking operation */
    void *arg;                   /* its argument, owned by the task */
    void (*arg_free)(void *);    /* frees arg, or NULL */
    json_t *result;              /* fn's result (new reference) or NULL */
    struct dba_err err;          /* fn's error when result is NULL */
    unsigned status;             /* HTTP status fn chose (0 = 200 / err's) */
    bool pool_failed;            /* the pool answered it (queue timeout): fn never ran */
    int64_t wait_deadline_ms;    /* must start before this, or 0 = no deadline */
    struct http_task *next;      /* on the pool queue, then on w->tasks_done */
    struct http_task *live_prev; /* on pool->live (queued or running) */
    struct http_task *live_next; /* idem */
};

struct http_task_pool {
    pthread_mutex_t lock;        /* guards everything below */
    pthread_cond_t work;         /* signalled on a new task or on stop */
    pthread_cond_t done;         /* signalled when a running task ends */
    struct http_task *q_head;    /* waiting tasks, FIFO */
    struct http_task *q_tail;    /* idem */
    int n_queued;                /* tasks waiting */
    int n_running;               /* tasks running */
    struct http_task *live;      /* queued and running tasks, for abandonment */
    int n_threads;               /* threads started */
    pthread_t *threads;          /* n_threads */
    int queue_limit;             /* waiting tasks allowed */
    int wait_ms;                 /* queue wait deadline, 0 = none */
    bool stopping;               /* threads exit once idle */
    bool abandoned;              /* workers are gone: finished tasks are freed, not delivered */
    int refs;                    /* the server's + one per live thread */
};

static void
task_free(struct http_task *t)
{
    if (t->arg_free != NULL)
        t->arg_free(t->arg);
    json_decref(t->result);
    free(t);
}

static void
pool_unref_locked(struct http_task_pool *p)
{
    bool last = --p->refs == 0;

    pthread_mutex_unlock(&p->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

static void
live_add(struct http_task_pool *p, struct http_task *t)
{
    t->live_prev = NULL;
    t->live_next = p->live;
    if (p->live != NULL)
        p->live->live_prev = t;
    p->live = t;
}

static void
live_remove(struct http_task_pool *p, struct http_task *t)
{
    if (t->live_prev != NULL)
        t->live_prev->live_next = t->live_next;
    else
        p->live = t->live_next;
    if (t->live_next != NULL)
        t->live_next->live_prev = t->live_prev;
    t->live_prev = t->live_next = NULL;
}

/* Pool lock held: hands a finished task to its worker (or frees it once workers are gone). */
static void
task_deliver_locked(struct http_task_pool *p, struct http_task *t)
{
    live_remove(p, t);
    if (p->abandoned) {
        task_free(t);
        return;
    }
    struct worker *w = t->w;
    pthread_mutex_lock(&w->tasks_lock);
    t->next = w->tasks_done;
    w->tasks_done = t;
    pthread_mutex_unlock(&w->tasks_lock);
    dba_loop_wake(w->loop);
}

static struct http_task *
queue_pop_locked(struct http_task_pool *p)
{
    struct http_task *t = p->q_head;

    p->q_head = t->next;
    if (p->q_head == NULL)
        p->q_tail = NULL;
    t->next = NULL;
    p->n_queued--;
    return t;
}

static void
task_timed_out(struct http_task *t)
{
    t->pool_failed = true;
    dba_err_set(&t->err, DBA_ETIMEOUT, 504, "DBA504",
                "timed out waiting for a background operation thread");
    dba_err_hint(&t->err, "The server is busy with other operations; try again later.");
}

static void *
task_thread(void *arg)
{
    struct http_task_pool *p = arg;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && p->q_head == NULL)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stopping)
            break;
        struct http_task *t = queue_pop_locked(p);
        if (t->wait_deadline_ms > 0 && dba_now_ms() >= t->wait_deadline_ms) {
            task_timed_out(t);
            task_deliver_locked(p, t);
            continue;
        }
        p->n_running++;
        pthread_mutex_unlock(&p->lock);
        dba_err_clear(&t->err);
        t->result = t->fn(t->arg, &t->status, &t->err);
        pthread_mutex_lock(&p->lock);
        p->n_running--;
        task_deliver_locked(p, t);
        pthread_cond_broadcast(&p->done);
    }
    pool_unref_locked(p);
    return NULL;
}

void
dba__http_tasks_start(struct dba_http_server *s)
{
    struct http_task_pool *p = dba_xcalloc(1, sizeof(*p));
    const struct dba_config_server *cs = &s->cfg->server;

    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->queue_limit = cs->task_queue_limit;
    p->wait_ms = cs->request_timeout_ms;
    p->refs = 1;
    p->threads = dba_xcalloc((size_t)(cs->task_threads > 0 ? cs->task_threads : 1),
                             sizeof(*p->threads));
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < (cs->task_threads > 0 ? cs->task_threads : 1); i++) {
        if (pthread_create(&p->threads[i], NULL, task_thread, p) != 0)
            break;
        p->n_threads++;
        p->refs++;
    }
    if (p->n_threads == 0)
        dba_fatal("cannot start background operation threads");
    pthread_mutex_unlock(&p->lock);
    s->tasks = p;
}

/* Stops the pool: waiting tasks are dropped (their requests were answered by the workers'
   shutdown), running ones are waited for until deadline_ms and then abandoned. Called after the
   workers stopped, before they are freed. */
void
dba__http_tasks_stop(struct dba_http_server *s, int64_t deadline_ms)
{
    struct http_task_pool *p = s->tasks;

    if (p == NULL)
        return;
    s->tasks = NULL;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    while (p->q_head != NULL) {
        struct http_task *t = queue_pop_locked(p);
        live_remove(p, t);
        task_free(t);
    }
    pthread_cond_broadcast(&p->work);
    while (p->n_running > 0 && dba_now_ms() < deadline_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->done, &p->lock, &ts);
    }
    bool join = p->n_running == 0;
    if (!join)
        dba_log(DBA_LOG_WARN, "shutdown: abandoning %d background operation(s) still running",
                p->n_running);
    p->abandoned = true;
    int n = p->n_threads;
    pthread_t *th = p->threads;
    pthread_mutex_unlock(&p->lock);
    /* Finished tasks already delivered are collected (and freed) by the caller. */
    for (int i = 0; i < n; i++) {
        if (join)
            pthread_join(th[i], NULL);
        else
            pthread_detach(th[i]);
    }
    pthread_mutex_lock(&p->lock);
    pool_unref_locked(p);
}

static enum MHD_Result
task_send_err(struct req *r)
{
    return dba__http_send_err(r, &r->err);
}

enum MHD_Result
dba__http_task(struct req *r, dba__http_task_fn fn, void *arg, void (*arg_free)(void *),
               req_finish_cb finish)
{
    struct http_task_pool *p = r->w->srv->tasks;
    struct http_task *t = dba_xcalloc(1, sizeof(*t));

    t->w = r->w;
    t->r = r;
    t->fn = fn;
    t->arg = arg;
    t->arg_free = arg_free;
    if (r->w->draining) {
        task_free(t);
        return dba__http_error(r, 503, "DBA503", "server shutting down", NULL, NULL);
    }
    pthread_mutex_lock(&p->lock);
    bool full = p->stopping ||
                p->n_running + p->n_queued >= p->n_threads + p->queue_limit;
    if (full) {
        pthread_mutex_unlock(&p->lock);
        task_free(t);
        return dba__http_error(r, 503, "DBA503", "too many background operations waiting",
                               "Every background operation thread is busy and the queue is full.",
                               "Retry later.");
    }
    t->wait_deadline_ms = p->wait_ms > 0 ? dba_now_ms() + p->wait_ms : 0;
    live_add(p, t);
    if (p->q_tail != NULL)
        p->q_tail->next = t;
    else
        p->q_head = t;
    p->q_tail = t;
    p->n_queued++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    r->task = t;
    r->finish = finish;
    r->state = REQ_WAITING;
    r->w->inflight++;
    MHD_suspend_connection(r->mc);
    return MHD_YES;
}

void
dba__http_task_detach(struct http_task *t)
{
    t->r = NULL;
}

/* Worker thread: resumes r with the task's outcome. */
static void
task_resume(struct worker *w, struct req *r, struct http_task *t)
{
    r->task = NULL;
    r->task_result = t->result;
    t->result = NULL;
    r->task_status = t->status;
    r->err = t->err;
    r->failed = r->task_result == NULL;
    if (t->pool_failed)
        r->finish = task_send_err;
    r->state = REQ_READY;
    w->inflight--;
    MHD_resume_connection(r->mc);
    w->mhd_due = true;
}

/* Worker thread: hands finished tasks to their requests. */
void
dba__http_tasks_collect(struct worker *w)
{
    pthread_mutex_lock(&w->tasks_lock);
    struct http_task *t = w->tasks_done;
    w->tasks_done = NULL;
    pthread_mutex_unlock(&w->tasks_lock);
    while (t != NULL) {
        struct http_task *next = t->next;
        if (t->r != NULL)
            task_resume(w, t->r, t);
        task_free(t);
        t = next;
    }
}

/* Worker thread: answers 504 to w's tasks that waited in the queue past their deadline. */
void
dba__http_tasks_tick(struct worker *w, int64_t now_ms)
{
    struct http_task_pool *p = w->srv->tasks;
    bool any = false;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    for (struct http_task **pp = &p->q_head; *pp != NULL;) {
        struct http_task *t = *pp;
        if (t->w != w || t->wait_deadline_ms == 0 || now_ms < t->wait_deadline_ms) {
            pp = &t->next;
            continue;
        }
        *pp = t->next;
        p->n_queued--;
        task_timed_out(t);
        task_deliver_locked(p, t);
        any = true;
    }
    p->q_tail = NULL;
    for (struct http_task *t = p->q_head; t != NULL; t = t->next)
        p->q_tail = t;
    pthread_mutex_unlock(&p->lock);
    if (any)
        dba__http_tasks_collect(w);
}

/* Worker thread, at the shutdown deadline: every request of w still waiting for a task is
   answered 503 now; the tasks go on (or are dropped) without it. */
void
dba__http_tasks_abandon(struct worker *w)
{
    struct http_task_pool *p = w->srv->tasks;

    dba__http_tasks_collect(w);
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    for (struct http_task *t = p->live; t != NULL; t = t->live_next) {
        if (t->w != w || t->r == NULL)
            continue;
        struct req *r = t->r;
        t->r = NULL;
        r->task = NULL;
        dba_err_set(&r->err, DBA_EIO, 503, "DBA503", "server shutting down");
        r->failed = true;
        r->finish = task_send_err;
        r->state = REQ_READY;
        w->inflight--;
        MHD_resume_connection(r->mc);
        w->mhd_due = true;
    }
    pthread_mutex_unlock(&p->lock);
}
