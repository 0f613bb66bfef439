/* setting.c - typed reading of libconfig settings, with errors naming file, line and key. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* Builds the dotted path of s ("profiles.local.url", "server.cors_allowed_origins[1]"). */
static void
setting_path(struct dba_buf *b, const config_setting_t *s)
{
    const config_setting_t *parent = config_setting_parent(s);

    if (parent == NULL)
        return;
    setting_path(b, parent);
    if (config_setting_name(s) != NULL) {
        if (b->len > 0)
            dba_buf_putc(b, '.');
        dba_buf_puts(b, config_setting_name(s));
    } else {
        dba_buf_printf(b, "[%d]", config_setting_index(s));
    }
}

int
dba_config_err_at(struct dba_err *err, const struct dba_config *c, const config_setting_t *s,
    const char *fmt, ...)
{
    struct dba_buf key;
    char what[400];
    va_list ap;
    const char *file = c != NULL && c->path != NULL ? c->path : "(config)";
    unsigned line = s != NULL ? config_setting_source_line(s) : 0;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    /* A value from a variable or a flag (config/env.c hooks its name on the setting). */
    for (const config_setting_t *h = s; h != NULL; h = config_setting_parent(h)) {
        if (config_setting_get_hook(h) != NULL) {
            dba_buf_init(&key);
            setting_path(&key, s);
            dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID, "%s (%s): %s",
                (const char *)config_setting_get_hook(h), key.data, what);
            dba_buf_cleanup(&key);
            return DBA_EINVAL;
        }
    }
    dba_buf_init(&key);
    if (s != NULL)
        setting_path(&key, s);
    dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID, "%s:%u: %s: %s", file,
        line, key.len > 0 ? key.data : "(top level)", what);
    dba_buf_cleanup(&key);
    return DBA_EINVAL;
}

bool
dba__config_key_allowed(const char *name, const char *const *allowed)
{
    for (size_t i = 0; allowed[i] != NULL; i++)
        if (strcmp(allowed[i], name) == 0)
            return true;
    return false;
}

void
dba__config_keys_hint(struct dba_err *err, const char *const *allowed)
{
    struct dba_buf b;

    dba_buf_init(&b);
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (i > 0)
            dba_buf_puts(&b, ", ");
        dba_buf_puts(&b, allowed[i]);
    }
    dba_err_hint(err, "known keys: %s", b.data != NULL ? b.data : "(none)");
    dba_buf_cleanup(&b);
}

int
dba_config_keys_check(const struct dba_config *c, const config_setting_t *group,
    const char *const *allowed, struct dba_err *err)
{
    int n = config_setting_length(group);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);

        if (!dba__config_key_allowed(config_setting_name(m), allowed)) {
            dba_config_err_at(err, c, m, "unknown key");
            dba__config_keys_hint(err, allowed);
            return DBA_EINVAL;
        }
    }
    return DBA_OK;
}

int
dba__config_read_string(const struct dba_config *c, const config_setting_t *g, const char *key,
    char **out, struct dba_err *err)
{
    const config_setting_t *s = config_setting_get_member(g, key);

    if (s == NULL)
        return DBA_OK;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return dba_config_err_at(err, c, s, "expected a string");
    free(*out);
    *out = dba_xstrdup(config_setting_get_string(s));
    return DBA_OK;
}

int
dba__config_read_int(const struct dba_config *c, const config_setting_t *g, const char *key,
    int64_t min, int64_t max, int64_t *out, struct dba_err *err)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    long long v;

    if (s == NULL)
        return DBA_OK;
    if (config_setting_type(s) == CONFIG_TYPE_INT)
        v = config_setting_get_int(s);
    else if (config_setting_type(s) == CONFIG_TYPE_INT64)
        v = config_setting_get_int64(s);
    else
        return dba_config_err_at(err, c, s, "expected an integer");
    if (v < min || v > max)
        return dba_config_err_at(err, c, s, "%lld is out of range (%lld to %lld)", v,
            (long long)min, (long long)max);
    *out = v;
    return DBA_OK;
}

int
dba__config_read_bool(const struct dba_config *c, const config_setting_t *g, const char *key,
    bool *out, struct dba_err *err)
{
    const config_setting_t *s = config_setting_get_member(g, key);

    if (s == NULL)
        return DBA_OK;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return dba_config_err_at(err, c, s, "expected true or false");
    *out = config_setting_get_bool(s) != 0;
    return DBA_OK;
}

int
dba__config_read_strv(const struct dba_config *c, const config_setting_t *g, const char *key,
    bool allow_empty, struct dba_config_strv *out, struct dba_err *err)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    struct dba_config_strv v = { NULL, 0 };
    int n;

    if (s == NULL)
        return DBA_OK;
    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return dba_config_err_at(err, c, s, "expected a list of strings, like [ \"a\", \"b\" ]");
    n = config_setting_length(s);
    if (n == 0 && !allow_empty)
        return dba_config_err_at(err, c, s, "must not be empty");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return dba_config_err_at(err, c, e, "expected a string");
    }
    v.v = dba_xcalloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++)
        v.v[v.n++] = dba_xstrdup(config_setting_get_string_elem(s, i));
    dba__config_strv_cleanup(out);
    *out = v;
    return DBA_OK;
}

void
dba__config_strv_set(struct dba_config_strv *out, const char *const *v, size_t n)
{
    dba__config_strv_cleanup(out);
    out->v = dba_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out->v[i] = dba_xstrdup(v[i]);
    out->n = n;
}

void
dba__config_strv_cleanup(struct dba_config_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

size_t
dba__config_trim(char *buf, size_t n, const char *s)
{
    const char *end;
    size_t len;

    buf[0] = '\0';
    if (s == NULL)
        return 0;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    len = (size_t)(end - s);
    if (len == 0 || len >= n)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return len;
}
