/* policy.c - the policy step: every request passes through it before any SQL runs. It decides
   who the caller is (anonymous, a JWT's role, or the admin: the admin token or a JWT whose role is
   in auth.admin_roles) and the database role the request runs as, which profile
   and schema the request works in, whether that profile may be written, the request's deadline
   and how its transaction ends. Routes state what they need (struct http_policy_need, a table
   write, a schema header) and get either a yes or the one refusal every route answers alike. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/http_int.h"

/* The JWT sent: `Authorization: Bearer <jwt>`, else the `apikey` header (supabase-js). */
static const char *
policy_token(struct req *r)
{
    const char *h = dba__http_header(r, "Authorization");

    if (h != NULL && strncasecmp(h, "Bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\0')) {
        h += 6;
        while (*h == ' ')
            h++;
        return h;
    }
    h = dba__http_header(r, "apikey");
    return h != NULL && h[0] != '\0' ? h : NULL;
}

static bool
policy_admin_role(const struct dba_config_auth *ac, const char *role)
{
    for (size_t i = 0; role != NULL && i < ac->admin_roles.n; i++)
        if (strcmp(ac->admin_roles.v[i], role) == 0)
            return true;
    return false;
}

/* Who the caller is, with an auth group: a verified JWT's role (admin when listed in
   admin_roles), else the anon role. A refused token is kept in pol->auth_err for the table
   routes; operator routes then see an anonymous caller. */
static void
policy_identity(struct req *r)
{
    const struct http_live *l = r->live;
    const struct dba_config_auth *ac = l->auth_cfg;
    struct http_policy *pol = &r->pol;
    const char *tok = policy_token(r);

    if (tok == NULL || pol->caller == HTTP_CALLER_ADMIN) {
        if (pol->caller != HTTP_CALLER_ADMIN && ac->anon_role != NULL) {
            pol->role = ac->anon_role;
            pol->claims = l->anon_claims;
        }
        return;
    }
    struct dba_auth_id id;
    dba_err_clear(&pol->auth_err);
    if (dba_auth_verify(l->auth, r->w->auth_cache, tok, (int64_t)time(NULL), r->a, &id,
                        &pol->auth_err) != DBA_OK) {
        pol->auth_failed = true;
        return;
    }
    pol->token = true;
    pol->claims = id.claims;
    pol->role = id.role != NULL ? id.role : ac->anon_role;
    /* A token without a role claim runs as the anon role and counts as anonymous (42501 is then
       401, as PostgREST answers). */
    pol->caller = id.role == NULL                   ? HTTP_CALLER_ANON
                  : policy_admin_role(ac, id.role) ? HTTP_CALLER_ADMIN
                                                   : HTTP_CALLER_ROLE;
}

void
dba__http_policy_begin(struct req *r)
{
    const struct dba_http_server *s = r->w->srv;
    const struct dba_config *cfg = s->cfg;
    int timeout_ms = cfg->server.request_timeout_ms;
    struct http_policy *pol = &r->pol;

    pol->caller = dba__http_admin_token_ok(r) ? HTTP_CALLER_ADMIN : HTTP_CALLER_ANON;
    pol->role = NULL;
    pol->claims = NULL;
    pol->token = false;
    pol->auth_failed = false;
    if (r->live->auth != NULL)
        policy_identity(r);
    pol->profile = s->active;
    pol->schema = s->active->schemas.n > 0 ? s->active->schemas.v[0] : "public";
    pol->schema_echo = false;
    pol->read_only = s->active->read_only;
    pol->deadline_ms = r->start_ms + (timeout_ms > 0 ? timeout_ms : 24 * 3600 * 1000);
    dba__http_policy_tx(r, NULL);
}

void
dba__http_policy_tx(struct req *r, const char *prefer_tx)
{
    enum dba_tx_end mode = r->w->srv->cfg->server.tx_end;
    bool override = mode == DBA_TX_COMMIT_ALLOW_OVERRIDE || mode == DBA_TX_ROLLBACK_ALLOW_OVERRIDE;

    r->pol.tx_rollback = mode == DBA_TX_ROLLBACK || mode == DBA_TX_ROLLBACK_ALLOW_OVERRIDE;
    r->pol.tx_applied = false;
    if (override && prefer_tx != NULL) {
        /* As PostgREST's db-tx-end: only an allow-override mode lets the client choose. */
        r->pol.tx_rollback = strcmp(prefer_tx, "rollback") == 0;
        r->pol.tx_applied = true;
    }
}

bool
dba__http_policy_check(struct req *r, const struct http_policy_need *need, enum MHD_Result *ret)
{
    if (need->writes != NULL && r->pol.read_only) {
        struct dba_err err;
        dba_err_clear(&err);
        if (dba_config_profile_writable(r->pol.profile, need->writes, &err) != DBA_OK) {
            *ret = dba__http_send_err(r, &err);
            return false;
        }
    }
    return true;
}

bool
dba__http_policy_schema(struct req *r, const struct dba_catalog *c, bool read, enum MHD_Result *ret)
{
    const char *hdr = dba__http_header(r, read ? "Accept-Profile" : "Content-Profile");

    r->pol.schema = c->schemas[0];
    r->pol.schema_echo = c->n_schemas > 1;
    if (hdr == NULL)
        return true;
    if (!dba_catalog_has(c, hdr)) {
        struct dba_buf b;
        dba_buf_init(&b);
        for (size_t i = 0; i < c->n_schemas; i++)
            dba_buf_printf(&b, "%s%s", i ? ", " : "", c->schemas[i]);
        char *msg = dba_arena_printf(r->a, "Invalid schema: %s", hdr);
        char *hint = dba_arena_printf(r->a, "Only the following schemas are exposed: %s", b.data);
        dba_buf_cleanup(&b);
        *ret = dba__http_error(r, 406, "PGRST106", msg, NULL, hint);
        return false;
    }
    r->pol.schema = dba_arena_strdup(r->a, hdr);
    r->pol.schema_echo = true;
    return true;
}

bool
dba__http_policy_table_write(struct req *r, enum MHD_Result *ret)
{
    if (!r->pol.read_only)
        return true;
    *ret = dba__http_error(r, 405, "DBA405",
                           dba_arena_printf(r->a, "profile '%s' is read-only",
                                            r->pol.profile->name),
                           NULL, "Writes are disabled by read_only = true in the profile.");
    return false;
}

bool
dba__http_policy_identity(struct req *r, enum MHD_Result *ret)
{
    struct http_policy *pol = &r->pol;

    if (r->live->auth == NULL)
        return true;
    if (pol->auth_failed) {
        const struct dba_err *e = &pol->auth_err;
        if (e->http_status == 401) {
            /* RFC 6750 3.1; the description is ours (no quote or control byte in it). */
            struct dba_buf b;
            dba_buf_init(&b);
            dba_buf_puts(&b, "Bearer error=\"invalid_token\", error_description=\"");
            for (const char *p = e->msg; *p != '\0'; p++)
                dba_buf_putc(&b, *p == '"' || *p == '\\' || !isprint((unsigned char)*p) ? '\''
                                                                                       : *p);
            dba_buf_putc(&b, '"');
            r->www_authenticate = dba_arena_strdup(r->a, b.data);
            dba_buf_cleanup(&b);
        }
        *ret = dba__http_error(r, (unsigned)e->http_status, e->pgrst, e->msg, NULL, NULL);
        return false;
    }
    if (pol->role == NULL && pol->caller != HTTP_CALLER_ADMIN) {
        *ret = dba__http_error(r, 401, "PGRST302", "Anonymous access is disabled", NULL, NULL);
        return false;
    }
    return true;
}

/* One header into the request.headers object: lower-cased name; a repeated one is joined. */
static enum MHD_Result
policy_header_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    json_t *o = cls;
    char name[256];
    size_t n = strlen(key);

    DBA_UNUSED(kind);
    if (value == NULL || n >= sizeof(name))
        return MHD_YES;
    for (size_t i = 0; i <= n; i++)
        name[i] = (char)tolower((unsigned char)key[i]);
    json_t *prev = json_object_get(o, name);
    if (prev != NULL && kind == MHD_HEADER_KIND) {
        char *j = NULL;
        if (asprintf(&j, "%s, %s", json_string_value(prev), value) >= 0) {
            json_object_set_new(o, name, json_string_nocheck(j));
            free(j);
        }
        return MHD_YES;
    }
    json_t *v = json_string(value);
    if (v != NULL) /* not UTF-8: left out */
        json_object_set_new(o, name, v);
    return MHD_YES;
}

static const char *
policy_values_json(struct req *r, enum MHD_ValueKind kind)
{
    json_t *o = json_object();
    MHD_get_connection_values(r->mc, kind, policy_header_cb, o);
    char *t = json_dumps(o, JSON_COMPACT);
    const char *out = dba_arena_strdup(r->a, t);
    free(t);
    json_decref(o);
    return out;
}

/* "schema.fn" or "fn" as quoted identifiers: SELECT "schema"."fn"(). */
static const char *
policy_pre_request_sql(struct req *r, const char *fn)
{
    struct dba_buf b;
    const char *dot = strchr(fn, '.');

    dba_buf_init(&b);
    dba_buf_puts(&b, "SELECT ");
    if (dot != NULL) {
        char *schema = dba_arena_strndup(r->a, fn, (size_t)(dot - fn));
        dba_buf_put_ident(&b, schema);
        dba_buf_putc(&b, '.');
        fn = dot + 1;
    }
    dba_buf_put_ident(&b, fn);
    dba_buf_puts(&b, "()");
    const char *sql = dba_arena_strdup(r->a, b.data);
    dba_buf_cleanup(&b);
    return sql;
}

/* The request.* settings of the identity statement ($1..$5). */
#define POLICY_SET_REQUEST                                                                         \
    "SELECT set_config('request.jwt.claims', $1, true), "                                        \
    "set_config('request.method', $2, true), set_config('request.path', $3, true), "             \
    "set_config('request.headers', $4, true), set_config('request.cookies', $5, true)"

void
dba__http_policy_unit(struct req *r)
{
    const struct dba_http_server *s = r->w->srv;
    const struct http_policy *pol = &r->pol;

    if (r->live->auth == NULL)
        return;
    const char *base = s->cfg->server.base_path;
    size_t bl = base ? strlen(base) : 0;
    const char *path = r->url;
    if (bl > 0 && strncmp(path, base, bl) == 0 && (path[bl] == '/' || path[bl] == '\0'))
        path += bl;
    const char **p = dba_arena_alloc(r->a, 7 * sizeof(*p));
    p[0] = pol->claims ? pol->claims : "{}";
    p[1] = r->method;
    p[2] = path[0] ? path : "/";
    p[3] = policy_values_json(r, MHD_HEADER_KIND);
    p[4] = policy_values_json(r, MHD_COOKIE_KIND);
    /* Fixed texts (each prepared once per connection); the role last, bound as a value:
       set_config('role', ...) is SET LOCAL ROLE without splicing a name into SQL. With no role
       (the admin token) the request runs as the connecting role. Behind a pooler the same
       statement sets statement_timeout (dba__http_unit_timeout): no statement of its own. */
    static const char *const sql[2][2] = {
        { POLICY_SET_REQUEST, POLICY_SET_REQUEST ", set_config('role', $6, true)" },
        { POLICY_SET_REQUEST ", set_config('statement_timeout', $6, true)",
          POLICY_SET_REQUEST ", set_config('statement_timeout', $6, true), "
                             "set_config('role', $7, true)" },
    };
    const char *ms = dba__http_unit_timeout(r);
    int n = 5;
    if (ms != NULL)
        p[n++] = ms;
    if (pol->role != NULL)
        p[n++] = pol->role;
    dba__http_unit_setup(r, sql[ms != NULL][pol->role != NULL], p, n);
    if (r->live->auth_cfg->pre_request != NULL)
        dba__http_unit_setup(r, policy_pre_request_sql(r, r->live->auth_cfg->pre_request), NULL,
                             0);
}
