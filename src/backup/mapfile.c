/* mapfile.c - a backup file's text, mapped rather than read: the walkers (check, validation,
   restore) go over it once or twice in order, and the pages they have passed are given back
   every few milliseconds (MADV_DONTNEED on a read-only file mapping: the kernel reads a page
   again from its cache if it is touched again), so the process's memory stays flat whatever
   the size of the document. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup_int.h"

#define MAP_REAP_MS 5 /* pages touched are dropped this often */

struct map {
    char *p;             /* the text (NUL after its last byte) */
    size_t maplen;       /* bytes mapped */
    pthread_t th;        /* the reaper */
    pthread_mutex_t mu;  /* guards stop */
    pthread_cond_t cv;   /* wakes the reaper to stop */
    bool stop;           /* the text is being freed */
    struct map *next;    /* registry */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct map *g_maps;

static void *
reaper(void *arg)
{
    struct map *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += MAP_REAP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
        if (!m->stop)
            (void)madvise(m->p, m->maplen, MADV_DONTNEED);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* The file mapped read-only over an anonymous region one byte longer, so the text is
   NUL-terminated even when its length is a multiple of the page size. */
static char *
map_file(int fd, size_t len, size_t *maplen)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t page = pg > 0 ? (size_t)pg : 4096;
    *maplen = (len + 1 + page - 1) / page * page;
    char *base = mmap(NULL, *maplen, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (mmap(base, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
        munmap(base, *maplen);
        return NULL;
    }
    return base;
}

char *
dba__backup_read_file(const char *path, size_t *len, struct dba_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        if (fd >= 0)
            close(fd);
        char *text = dba_file_read(path, len); /* empty, a pipe or a device: read it */
        if (text == NULL)
            dba_err_set(err, DBA_EIO, 400, DBA_BACKUP_CODE, "Backup file not found: %s", path);
        return text;
    }
    struct map *m = dba_xcalloc(1, sizeof(*m));
    *len = (size_t)st.st_size;
    m->p = map_file(fd, *len, &m->maplen);
    close(fd);
    if (m->p == NULL) {
        free(m);
        dba_err_set(err, DBA_EIO, 400, DBA_BACKUP_CODE, "cannot map %s: %s", path,
                    strerror(errno));
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->th, NULL, reaper, m) != 0) {
        m->stop = true; /* no reaper: the pages stay until the text is freed */
    }
    pthread_mutex_lock(&g_mu);
    m->next = g_maps;
    g_maps = m;
    pthread_mutex_unlock(&g_mu);
    return m->p;
}

void
dba_backup_text_free(char *text)
{
    if (text == NULL)
        return;
    pthread_mutex_lock(&g_mu);
    struct map **pp = &g_maps;
    while (*pp != NULL && (*pp)->p != text)
        pp = &(*pp)->next;
    struct map *m = *pp;
    if (m != NULL)
        *pp = m->next;
    pthread_mutex_unlock(&g_mu);
    if (m == NULL) {
        free(text); /* read, not mapped */
        return;
    }
    pthread_mutex_lock(&m->mu);
    bool joined = m->stop;
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (!joined)
        pthread_join(m->th, NULL);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    munmap(m->p, m->maplen);
    free(m);
}
