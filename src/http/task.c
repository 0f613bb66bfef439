/* task.c - blocking core operations (schema introspection, backups, ...) run on a thread of their
   own so the worker loop never blocks; the result comes back to the worker through its loop's
   wake-up eventfd and the suspended request is resumed, as for a database job. */
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
    struct http_task *next;      /* on w->tasks_done */
};

static void
task_free(struct http_task *t)
{
    if (t->arg_free != NULL)
        t->arg_free(t->arg);
    json_decref(t->result);
    free(t);
}

static void *
task_main(void *arg)
{
    struct http_task *t = arg;
    struct worker *w = t->w;

    dba_err_clear(&t->err);
    t->result = t->fn(t->arg, &t->status, &t->err);
    pthread_mutex_lock(&w->tasks_lock);
    t->next = w->tasks_done;
    w->tasks_done = t;
    pthread_mutex_unlock(&w->tasks_lock);
    dba_loop_wake(w->loop);
    atomic_fetch_sub(&w->srv->tasks_running, 1);
    return NULL;
}

enum MHD_Result
dba__http_task(struct req *r, dba__http_task_fn fn, void *arg, void (*arg_free)(void *),
               req_finish_cb finish)
{
    struct http_task *t = dba_xcalloc(1, sizeof(*t));
    pthread_t th;

    t->w = r->w;
    t->r = r;
    t->fn = fn;
    t->arg = arg;
    t->arg_free = arg_free;
    atomic_fetch_add(&r->w->srv->tasks_running, 1);
    if (pthread_create(&th, NULL, task_main, t) != 0) {
        atomic_fetch_sub(&r->w->srv->tasks_running, 1);
        task_free(t);
        return dba__http_error(r, 503, "DBA503", "cannot start a background task", NULL, NULL);
    }
    pthread_detach(th);
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
        struct req *r = t->r;
        if (r != NULL) {
            r->task = NULL;
            r->task_result = t->result;
            t->result = NULL;
            r->task_status = t->status;
            r->err = t->err;
            r->failed = r->task_result == NULL;
            r->state = REQ_READY;
            r->w->inflight--;
            MHD_resume_connection(r->mc);
            w->mhd_due = true;
        }
        task_free(t);
        t = next;
    }
}
