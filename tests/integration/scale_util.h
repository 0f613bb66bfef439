/* scale_util.h - helpers of the scale tests (PgBouncer, replicas, haproxy): SQL on any URL and a
   bounded concurrent HTTP load that counts every answer. Built only into integration_scale. */
#ifndef DBAT_SCALE_UTIL_H
#define DBAT_SCALE_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>

/* Runs sql on url (blocking, fresh connection); the first value (heap) or NULL. Asserts success. */
char *scale_sql(const char *url, const char *sql);
/* The same returning the first value as a number (0 when NULL). */
long scale_sql_long(const char *url, const char *sql);

/* A load: n_threads threads, each sending n_requests requests to 127.0.0.1:port, a mix of
   reads by primary key and (when writes) inserts into items, each checked for its status. */
struct scale_load {
    int port;
    int n_threads;
    int n_requests;         /* per thread; 0 = until stop is set */
    atomic_bool stop;       /* ends a load started with n_requests = 0 */
    bool writes;            /* every third request an insert (name 'load_<tag>') */
    const char *tag;        /* marks the rows written */
    const char *read_path;  /* default "/tables/items?select=id,name&id=eq.1" */
    /* results */
    long ok;                /* 2xx answers */
    long ok_writes;         /* of ok: inserts */
    long failed;            /* anything else, connection errors included */
    long lost;              /* of failed: no HTTP answer at all (connection refused/reset) */
    char first_error[256];  /* the first failure, for the message */
};
/* Runs the load to its end (bounded by count, not by time). */
void scale_load_run(struct scale_load *l);
/* Starts it in the background; scale_load_join waits for it. */
void scale_load_start(struct scale_load *l);
void scale_load_join(struct scale_load *l);

#endif
