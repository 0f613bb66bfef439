/* test_log.c - repeated log lines are printed once, then counted (issue 8: a database restart
   printed 230,571 identical 503 lines in 12 s). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

static int64_t fake_now;

static int64_t
fake_clock(void)
{
    return fake_now;
}

static FILE *captured;
static int saved_stderr = -1;

static void
capture_start(void)
{
    fflush(stderr);
    captured = tmpfile();
    cr_assert(captured != NULL);
    saved_stderr = dup(2);
    cr_assert(dup2(fileno(captured), 2) >= 0);
    fake_now = 1000000;
    dba__log_set_clock(fake_clock);
    dba_log_set_level(DBA_LOG_DEBUG);
}

/* Stops capturing; returns what was written to stderr (heap). */
static char *
capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    long n = ftell(captured);
    char *out = calloc(1, (size_t)n + 1);
    rewind(captured);
    cr_assert_eq(fread(out, 1, (size_t)n, captured), (size_t)n);
    fclose(captured);
    dba__log_set_clock(NULL);
    return out;
}

static int
count_lines(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

Test(log, repeats_are_counted_not_printed)
{
    capture_start();
    for (int i = 0; i < 10000; i++)
        dba_log(DBA_LOG_WARN, "GET /tables/items -> 503 PGRST000: database connection error");
    dba_log_flush(true);
    char *out = capture_end();
    cr_expect_eq(count_lines(out, "\n"), 2, "%s", out);
    cr_expect_eq(count_lines(out, "503 PGRST000"), 2, "%s", out);
    cr_expect(strstr(out, "message repeated 9999 times") != NULL, "%s", out);
    free(out);
}

/* Two messages alternating (a failed connection and the 503 it causes) both collapse. */
Test(log, per_message_key)
{
    capture_start();
    for (int i = 0; i < 500; i++) {
        dba_log(DBA_LOG_WARN, "pool test conn 0: connect: no such file");
        dba_log(DBA_LOG_WARN, "GET /tables/items -> 503 PGRST000: database connection error");
    }
    dba_log(DBA_LOG_INFO, "something else");
    dba_log_flush(true);
    char *out = capture_end();
    cr_expect_eq(count_lines(out, "\n"), 5, "%s", out);
    cr_expect_eq(count_lines(out, "message repeated 499 times"), 2, "%s", out);
    cr_expect_eq(count_lines(out, "something else"), 1, "%s", out);
    free(out);
}

/* After a second the count is flushed (at the next log call) and the message prints again. */
Test(log, window_of_one_second)
{
    capture_start();
    dba_log(DBA_LOG_ERROR, "boom");
    dba_log(DBA_LOG_ERROR, "boom");
    dba_log(DBA_LOG_ERROR, "boom");
    fake_now += 999;
    dba_log(DBA_LOG_ERROR, "boom");
    fake_now += 1;
    dba_log(DBA_LOG_INFO, "other");   /* flushes boom's count: its second is over */
    dba_log(DBA_LOG_ERROR, "boom");   /* printed again, a new window */
    fake_now += 5000;
    dba_log_flush(false);             /* nothing repeated in the new window: nothing printed */
    char *out = capture_end();
    cr_expect_eq(count_lines(out, "\n"), 4, "%s", out);
    cr_expect_eq(count_lines(out, "error boom\n"), 2, "%s", out);
    cr_expect(strstr(out, "message repeated 3 times in 1.0 s: boom") != NULL, "%s", out);
    free(out);
}
