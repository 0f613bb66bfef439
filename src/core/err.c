/* err.c - the error type, logging, fatal exits, clocks and URL coding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

int dba_log_level_current = DBA_LOG_INFO;

void
dba_fatal(const char *fmt, ...)
{
    va_list ap;

    fputs("db-adapter: fatal: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void
dba_err_clear(struct dba_err *e)
{
    memset(e, 0, sizeof(*e));
}

int
dba_err_set(struct dba_err *e, int code, int http_status, const char *pgrst, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return code;
    dba_err_clear(e);
    e->code = code;
    e->http_status = http_status;
    snprintf(e->pgrst, sizeof(e->pgrst), "%s", pgrst ? pgrst : "");
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return code;
}

void
dba_err_detail(struct dba_err *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
}

void
dba_err_hint(struct dba_err *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->hint, sizeof(e->hint), fmt, ap);
    va_end(ap);
}

void
dba_log_set_level(int level)
{
    dba_log_level_current = level;
}

void
dba_log_write(int level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    char ts[32];
    char line[2048];
    va_list ap;

    dba_utc_now(ts, sizeof(ts));
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    dba__log_emit(ts, names[level < 0 || level > 3 ? 0 : level], line);
}

int64_t
dba_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
dba_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
dba_utc_now(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
dba_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t
dba_url_decode(char *out, const char *in, size_t len, bool plus_is_space)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len && dba_hex_digit(in[i + 1]) >= 0 && dba_hex_digit(in[i + 2]) >= 0) {
            out[o++] = (char)(dba_hex_digit(in[i + 1]) * 16 + dba_hex_digit(in[i + 2]));
            i += 2;
        } else if (in[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
    return o;
}

void
dba_url_encode(struct dba_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            dba_buf_putc(b, (char)*p);
        } else {
            dba_buf_putc(b, '%');
            dba_buf_putc(b, hex[*p >> 4]);
            dba_buf_putc(b, hex[*p & 15]);
        }
    }
}
