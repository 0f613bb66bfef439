/* policy.c - the policy step: every request passes through it before any SQL runs. It decides
   who the caller is (anonymous or the admin; a JWT role will fill HTTP_CALLER_ROLE), which profile
   and schema the request works in, whether that profile may be written, the request's deadline
   and how its transaction ends. Routes state what they need (struct http_policy_need, a table
   write, a schema header) and get either a yes or the one refusal every route answers alike. */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

void
dba__http_policy_begin(struct req *r)
{
    const struct dba_http_server *s = r->w->srv;
    const struct dba_config *cfg = s->cfg;
    int timeout_ms = cfg->server.request_timeout_ms;
    struct http_policy *pol = &r->pol;

    pol->caller = dba__http_admin_token_ok(r) ? HTTP_CALLER_ADMIN : HTTP_CALLER_ANON;
    pol->role = NULL; /* the slot for a JWT role */
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
    if (need->admin != NULL && r->pol.caller != HTTP_CALLER_ADMIN) {
        *ret = dba__http_admin_refuse(r, need->admin);
        return false;
    }
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
