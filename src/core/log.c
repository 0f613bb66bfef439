/* log.c - collapses repeated log lines: a message already printed in the last second is counted,
   not printed again, and the count comes out as one line when that second is over (checked at
   every log call and by dba_log_flush), like syslog's "last message repeated N times". Messages
   are told apart by their whole text (per message key), so two errors that alternate, as a
   connection failure and the 503 it causes during a database restart, both collapse. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define LOG_SLOTS 32          /* distinct recent messages tracked */
#define LOG_WINDOW_MS 1000    /* a repeat within this time of the printed line is counted */

struct log_slot {
    char *text;               /* message text (owned), or NULL when free */
    const char *level_name;   /* static level name */
    int64_t printed_ms;       /* when the message was last printed */
    unsigned long repeats;    /* repeats counted since then */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_slot log_slots[LOG_SLOTS];
static int64_t (*log_clock)(void) = dba_now_ms;

/* Lock held: prints a slot's count and forgets it. */
static void
log_slot_flush(struct log_slot *s, int64_t now)
{
    if (s->repeats > 0) {
        char ts[32];
        dba_utc_now(ts, sizeof(ts));
        fprintf(stderr, "%s %s message repeated %lu times in %.1f s: %s\n", ts, s->level_name,
                s->repeats, (double)(now - s->printed_ms) / 1000.0, s->text);
    }
    free(s->text);
    s->text = NULL;
    s->repeats = 0;
}

/* Lock held: flushes every slot whose window is over. */
static void
log_flush_due(int64_t now)
{
    for (int i = 0; i < LOG_SLOTS; i++) {
        struct log_slot *s = &log_slots[i];
        if (s->text != NULL && now - s->printed_ms >= LOG_WINDOW_MS)
            log_slot_flush(s, now);
    }
}

void
dba__log_emit(const char *ts, const char *level_name, const char *line)
{
    pthread_mutex_lock(&log_lock);
    int64_t now = log_clock();
    log_flush_due(now);
    struct log_slot *free_slot = NULL;
    struct log_slot *oldest = &log_slots[0];
    for (int i = 0; i < LOG_SLOTS; i++) {
        struct log_slot *s = &log_slots[i];
        if (s->text == NULL) {
            free_slot = free_slot ? free_slot : s;
            continue;
        }
        if (strcmp(s->text, line) == 0 && s->level_name == level_name) {
            s->repeats++;
            pthread_mutex_unlock(&log_lock);
            return;
        }
        if (s->printed_ms < oldest->printed_ms)
            oldest = s;
    }
    if (free_slot == NULL) {
        log_slot_flush(oldest, now);
        free_slot = oldest;
    }
    fprintf(stderr, "%s %s %s\n", ts, level_name, line);
    free_slot->text = dba_xstrdup(line);
    free_slot->level_name = level_name;
    free_slot->printed_ms = now;
    free_slot->repeats = 0;
    pthread_mutex_unlock(&log_lock);
}

void
dba_log_flush(bool all)
{
    pthread_mutex_lock(&log_lock);
    int64_t now = log_clock();
    if (all) {
        for (int i = 0; i < LOG_SLOTS; i++)
            if (log_slots[i].text != NULL)
                log_slot_flush(&log_slots[i], now);
    } else {
        log_flush_due(now);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void
dba__log_set_clock(int64_t (*clock_ms)(void))
{
    pthread_mutex_lock(&log_lock);
    log_clock = clock_ms != NULL ? clock_ms : dba_now_ms;
    pthread_mutex_unlock(&log_lock);
}
