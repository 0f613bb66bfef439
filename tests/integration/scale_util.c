/* scale_util.c - see scale_util.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "scale_util.h"

char *
scale_sql(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    char *out = NULL;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return out;
}

long
scale_sql_long(const char *url, const char *sql)
{
    char *v = scale_sql(url, sql);
    long n = v != NULL ? strtol(v, NULL, 10) : 0;
    free(v);
    return n;
}

struct load_thread {
    struct scale_load *l;
    int index;
    long ok, ok_writes, failed, lost;
    char first_error[256];
    pthread_t th;
};

static size_t
discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static void *
load_main(void *arg)
{
    struct load_thread *t = arg;
    struct scale_load *l = t->l;
    CURL *c = curl_easy_init();
    char url[256], body[128];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    for (int i = 0; l->n_requests > 0 ? i < l->n_requests : !atomic_load(&l->stop); i++) {
        bool write = l->writes && i % 3 == 2;
        if (write) {
            snprintf(url, sizeof(url), "http://127.0.0.1:%d/tables/items", l->port);
            snprintf(body, sizeof(body), "{\"name\":\"load_%s_%d_%d\"}", l->tag ? l->tag : "x",
                     t->index, i);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        } else {
            snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", l->port,
                     l->read_path ? l->read_path : "/tables/items?select=id,name&id=eq.1");
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OK && status >= 200 && status < 300) {
            t->ok++;
            t->ok_writes += write;
            continue;
        }
        t->failed++;
        if (rc != CURLE_OK)
            t->lost++;
        if (t->first_error[0] == '\0')
            snprintf(t->first_error, sizeof(t->first_error), "%s %.150s: %.60s (HTTP %ld)",
                     write ? "POST" : "GET", url, curl_easy_strerror(rc), status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static struct load_thread *running_threads;

void
scale_load_start(struct scale_load *l)
{
    struct load_thread *ts = calloc((size_t)l->n_threads, sizeof(*ts));
    cr_assert(ts != NULL);
    l->ok = l->ok_writes = l->failed = l->lost = 0;
    l->first_error[0] = '\0';
    for (int i = 0; i < l->n_threads; i++) {
        ts[i].l = l;
        ts[i].index = i;
        cr_assert_eq(pthread_create(&ts[i].th, NULL, load_main, &ts[i]), 0);
    }
    running_threads = ts;
}

void
scale_load_join(struct scale_load *l)
{
    struct load_thread *ts = running_threads;
    for (int i = 0; i < l->n_threads; i++) {
        pthread_join(ts[i].th, NULL);
        l->ok += ts[i].ok;
        l->ok_writes += ts[i].ok_writes;
        l->failed += ts[i].failed;
        l->lost += ts[i].lost;
        if (l->first_error[0] == '\0' && ts[i].first_error[0] != '\0')
            memcpy(l->first_error, ts[i].first_error, sizeof(l->first_error));
    }
    free(ts);
    running_threads = NULL;
}

void
scale_load_run(struct scale_load *l)
{
    scale_load_start(l);
    scale_load_join(l);
}
