/* profile.c - database profiles: parsing, connection strings and redacted display. */

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "config/config_int.h"

#define PLACEHOLDER_LEN (sizeof(DBA_CONFIG_PLACEHOLDER) - 1)

static void
profile_defaults(struct dba_profile *p, const struct dba_config *c, const char *name)
{
    static const char *const pub[] = { "public" };

    memset(p, 0, sizeof(*p));
    p->name = dba_xstrdup(name);
    p->description = dba_xstrdup("");
    p->pool_size = 8;
    dba__config_strv_set(&p->schemas, pub, 1);
    p->prepared_statements = true;
    p->read_only = false;
    p->statement_timeout_ms = c->server.request_timeout_ms;
}

void
dba__config_profile_cleanup(struct dba_profile *p)
{
    free(p->name);
    free(p->description);
    free(p->url);
    if (p->password != NULL) {
        /* The password is a secret: do not leave it in freed heap memory. */
        volatile char *v = p->password;
        while (*v != '\0')
            *v++ = '\0';
        free(p->password);
    }
    free(p->password_env);
    free(p->listen_url);
    dba__config_strv_cleanup(&p->replicas);
    dba__config_strv_cleanup(&p->schemas);
    if (p->auth != NULL) {
        dba__config_auth_cleanup(p->auth);
        free(p->auth);
    }
    memset(p, 0, sizeof(*p));
}

static bool
profile_is_url(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* Copy of s with every placeholder replaced by "x", for parsing without the secret. */
static char *
profile_url_masked(const char *s)
{
    struct dba_buf b;
    const char *hit;

    dba_buf_init(&b);
    while ((hit = strstr(s, DBA_CONFIG_PLACEHOLDER)) != NULL) {
        dba_buf_append(&b, s, (size_t)(hit - s));
        dba_buf_putc(&b, 'x');
        s = hit + PLACEHOLDER_LEN;
    }
    dba_buf_puts(&b, s);
    return dba_buf_take(&b);
}

/* PQconninfoParse on the masked url; NULL when it does not parse. Free with PQconninfoFree. */
static PQconninfoOption *
profile_parse(const char *url, char **errmsg)
{
    char *masked = profile_url_masked(url);
    PQconninfoOption *o = PQconninfoParse(masked, errmsg);

    free(masked);
    return o;
}

static const char *
profile_opt(const PQconninfoOption *o, const char *key)
{
    for (; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, key) == 0)
            return o->val != NULL && o->val[0] != '\0' ? o->val : NULL;
    return NULL;
}

/* Checks the url parses; libpq's text is cut at its first quote, which may quote the secret. */
static int
profile_check_url(const struct dba_config *c, const config_setting_t *s, const char *url,
    struct dba_err *err)
{
    char *msg = NULL, *q;
    PQconninfoOption *o;

    if (url[0] == '\0')
        return dba_config_err_at(err, c, s, "must not be empty");
    o = profile_parse(url, &msg);
    if (o != NULL) {
        PQconninfoFree(o);
        return DBA_OK;
    }
    if (msg != NULL && (q = strchr(msg, '"')) != NULL)
        *q = '\0';
    if (msg != NULL && (q = strchr(msg, '\n')) != NULL)
        *q = '\0';
    dba_config_err_at(err, c, s, "invalid connection string (%s)",
        msg != NULL && msg[0] != '\0' ? msg : "libpq could not parse it");
    dba_err_hint(err, "use postgresql://user:[YOUR-PASSWORD]@host:5432/dbname "
        "or host=... port=... dbname=... user=...");
    PQfreemem(msg);
    return DBA_EINVAL;
}

/* Resolves db_password / password_env into p->password. */
static int
profile_password(const struct dba_config *c, const config_setting_t *g, struct dba_profile *p,
    struct dba_err *err)
{
    const char *v;

    if (dba__config_read_string(c, g, "db_password", &p->password, err) != DBA_OK
        || dba__config_read_string(c, g, "password_env", &p->password_env, err) != DBA_OK)
        return DBA_EINVAL;
    if (p->password != NULL && p->password_env != NULL)
        return dba_config_err_at(err, c, config_setting_get_member(g, "password_env"),
            "db_password and password_env are mutually exclusive; keep one");
    if (p->password_env == NULL)
        return DBA_OK;
    if (p->password_env[0] == '\0')
        return dba_config_err_at(err, c, config_setting_get_member(g, "password_env"),
            "must name an environment variable");
    v = getenv(p->password_env);
    if (v != NULL && v[0] != '\0')
        p->password = dba_xstrdup(v);
    return DBA_OK;
}

static int
profile_parse_one(const struct dba_config *c, const config_setting_t *g, struct dba_profile *p,
    struct dba_err *err)
{
    static const char *const extra[] = { "auth", NULL };
    const config_setting_t *url;

    if (!config_setting_is_group(g))
        return dba_config_err_at(err, c, g, "expected a group, like %s: { url = \"...\"; };",
            config_setting_name(g));
    if (dba__config_keys_check_scope(c, g, DBA_CFGS_PROFILE, extra, err) != DBA_OK
        || dba__config_read_string(c, g, "url", &p->url, err) != DBA_OK
        || profile_password(c, g, p, err) != DBA_OK
        || dba__config_read_scope(c, g, DBA_CFGS_PROFILE, p, err) != DBA_OK
        || dba__config_auth_profile(c, config_setting_get_member(g, "auth"), p, err) != DBA_OK)
        return DBA_EINVAL;
    url = config_setting_get_member(g, "url");
    if (url == NULL)
        return dba_config_err_at(err, c, g, "missing required key 'url'");
    if (profile_check_url(c, url, p->url, err) != DBA_OK
        || dba__config_read_string(c, g, "listen_url", &p->listen_url, err) != DBA_OK
        || dba__config_read_strv(c, g, "replicas", true, &p->replicas, err) != DBA_OK)
        return DBA_EINVAL;
    if (p->listen_url != NULL
        && profile_check_url(c, config_setting_get_member(g, "listen_url"), p->listen_url, err)
            != DBA_OK)
        return DBA_EINVAL;
    const config_setting_t *reps = config_setting_get_member(g, "replicas");
    for (size_t i = 0; i < p->replicas.n; i++)
        if (profile_check_url(c, reps, p->replicas.v[i], err) != DBA_OK)
            return DBA_EINVAL;
    return DBA_OK;
}

int
dba__config_profiles_parse(struct dba_config *c, const config_setting_t *profiles,
    struct dba_err *err)
{
    int n = profiles != NULL ? config_setting_length(profiles) : 0;

    if (n == 0)
        return DBA_OK;
    c->profiles = dba_xcalloc((size_t)n, sizeof(*c->profiles));
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(profiles, (unsigned)i);
        struct dba_profile *p = &c->profiles[c->n_profiles++];

        profile_defaults(p, c, config_setting_name(g));
        p->line = (int)config_setting_source_line(g);
        if (profile_parse_one(c, g, p, err) != DBA_OK)
            return DBA_EINVAL;
    }
    return DBA_OK;
}

int
dba__config_profile_add_implicit(struct dba_config *c, const char *var, const char *url,
    struct dba_err *err)
{
    PQconninfoOption *o = profile_parse(url, NULL);
    struct dba_profile *p;

    if (o == NULL)
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
            "%s: invalid connection string", var);
    PQconninfoFree(o);
    c->profiles = dba_xrealloc(c->profiles, (c->n_profiles + 1) * sizeof(*c->profiles));
    p = &c->profiles[c->n_profiles++];
    profile_defaults(p, c, "default");
    free(p->description);
    p->description = dba_xmalloc(strlen(var) + sizeof("from "));
    strcpy(p->description, "from ");
    strcat(p->description, var);
    p->url = dba_xstrdup(url);
    p->implicit = true;
    free(c->implicit_var);
    c->implicit_var = dba_xstrdup(var);
    return DBA_OK;
}

const struct dba_profile *
dba_config_profile_get(const struct dba_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_profiles; i++)
        if (strcmp(c->profiles[i].name, name) == 0)
            return &c->profiles[i];
    return NULL;
}

/* Appends s escaped for a libpq keyword value: backslash before ' and \. */
static void
profile_kw_escape(struct dba_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\'' || *s == '\\')
            dba_buf_putc(b, '\\');
        dba_buf_putc(b, *s);
    }
}

static void
profile_kw_quote(struct dba_buf *b, const char *s)
{
    dba_buf_putc(b, '\'');
    profile_kw_escape(b, s);
    dba_buf_putc(b, '\'');
}

/* Whether the url already sets a password itself. */
static bool
profile_has_password(const char *url)
{
    PQconninfoOption *o = profile_parse(url, NULL);
    bool has = o != NULL && profile_opt(o, "password") != NULL;

    PQconninfoFree(o);
    return has;
}

/* Appends the configured password to a url or keyword string that has no placeholder. */
static void
profile_append_password(struct dba_buf *b, const struct dba_profile *p, const char *u, bool url)
{
    if (profile_has_password(u))
        return;
    if (url) {
        const char *tail = strstr(u, "://") + 3;
        dba_buf_puts(b, strchr(tail, '?') != NULL ? "&password=" : "?password=");
        dba_url_encode(b, p->password);
    } else {
        dba_buf_puts(b, " password=");
        profile_kw_quote(b, p->password);
    }
}

char *
dba_config_profile_conninfo(const struct dba_profile *p)
{
    return dba_config_profile_conninfo_url(p, p->url);
}

char *
dba_config_profile_conninfo_url(const struct dba_profile *p, const char *u)
{
    struct dba_buf b;
    const char *s = u, *hit;
    bool url = profile_is_url(u), replaced = false;

    dba_buf_init(&b);
    while ((hit = strstr(s, DBA_CONFIG_PLACEHOLDER)) != NULL) {
        dba_buf_append(&b, s, (size_t)(hit - s));
        /* Without a password the placeholder is dropped: libpq then uses PGPASSWORD/.pgpass. */
        if (p->password != NULL && url)
            dba_url_encode(&b, p->password);
        else if (p->password != NULL && hit > u && hit[-1] == '\''
                 && hit[PLACEHOLDER_LEN] == '\'')
            profile_kw_escape(&b, p->password);
        else if (p->password != NULL)
            profile_kw_quote(&b, p->password);
        s = hit + PLACEHOLDER_LEN;
        replaced = true;
    }
    dba_buf_puts(&b, s);
    if (!replaced && p->password != NULL)
        profile_append_password(&b, p, u, url);
    return dba_buf_take(&b);
}

char *
dba_config_profile_display(const struct dba_profile *p)
{
    PQconninfoOption *o = profile_parse(p->url, NULL);
    const char *host, *port, *db;
    struct dba_buf b;

    if (o == NULL)
        return dba_xstrdup("(invalid connection string)");
    host = profile_opt(o, "host");
    if (host == NULL)
        host = profile_opt(o, "hostaddr");
    port = profile_opt(o, "port");
    db = profile_opt(o, "dbname");
    if (db == NULL)
        db = profile_opt(o, "user");
    dba_buf_init(&b);
    if (host == NULL)
        dba_buf_puts(&b, "socket:default");
    else if (host[0] == '/' || host[0] == '@')
        dba_buf_printf(&b, "socket:%s", host);
    else if (strchr(host, ':') != NULL && strchr(host, ',') == NULL)
        dba_buf_printf(&b, "[%s]:%s", host, port != NULL ? port : "5432");
    else
        dba_buf_printf(&b, "%s:%s", host, port != NULL ? port : "5432");
    dba_buf_printf(&b, "/%s", db != NULL ? db : "");
    PQconninfoFree(o);
    return dba_buf_take(&b);
}

int
dba_config_profile_writable(const struct dba_profile *p, const char *what, struct dba_err *err)
{
    if (!p->read_only)
        return DBA_OK;
    dba_err_set(err, DBA_EINVAL, 403, "DBA403", "profile '%s' has read_only = true: %s is refused",
                p->name, what);
    dba_err_detail(err, "read_only = true refuses every write, operator writes included. Nothing "
                        "was changed.");
    dba_err_hint(err, "A dry run (restore --dry-run, sync without --confirm, fix without "
                      "--confirm) only plans; to write, use a profile without read_only.");
    return DBA_EINVAL;
}

int
dba_config_profile_check(const struct dba_profile *p, struct dba_err *err)
{
    PQconninfoOption *o = profile_parse(p->url, NULL);

    if (o == NULL)
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
            "profile '%s': invalid connection string", p->name);
    PQconninfoFree(o);
    if (p->password != NULL || strstr(p->url, DBA_CONFIG_PLACEHOLDER) == NULL)
        return DBA_OK;
    if (p->password_env != NULL) {
        dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
            "profile '%s': the url needs a password but %s is not set", p->name,
            p->password_env);
        dba_err_hint(err, "export %s=... before starting db-adapter", p->password_env);
    } else {
        dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
            "profile '%s': the url holds %s but no password is configured", p->name,
            DBA_CONFIG_PLACEHOLDER);
        dba_err_hint(err, "set password_env (or db_password) in the profile");
    }
    return DBA_EINVAL;
}
