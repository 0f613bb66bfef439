/* admin.c - the admin model: the admin token (recognised by the policy step, policy.c) and the one
   check every operator route passes (the route table in ops.c names each route's class). A
   caller is admin when it sent the admin token or (once JWTs are verified) a JWT whose role is in
   auth.admin_roles; the refusals are 401 (no credential, or a wrong one), 403 (a valid
   credential that is not admin) and 403 naming how to configure one when none is configured. */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* Constant-time comparison: the time taken depends only on the wanted token's length. */
static bool
admin_token_eq(const char *given, const char *want)
{
    size_t lg = strlen(given);
    size_t lw = strlen(want);
    unsigned char diff = (unsigned char)(lg != lw);

    for (size_t i = 0; i < lw; i++)
        diff |= (unsigned char)(want[i] ^ (i < lg ? given[i] : 0));
    return diff == 0;
}

bool
dba__http_admin_token_ok(struct req *r)
{
    const char *want = r->w->srv->cfg->admin_token;
    const char *auth;

    if (want == NULL)
        return false;
    auth = dba__http_header(r, "Authorization");
    return auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0 && admin_token_eq(auth + 7, want);
}

/* Whether any admin credential can exist: the admin token, or JWT roles listed in
   auth.admin_roles (with a key to verify them). */
static bool
admin_configured(const struct req *r)
{
    return r->w->srv->cfg->admin_token != NULL ||
           (r->live->auth != NULL && r->live->auth_cfg->admin_roles.n > 0);
}

enum MHD_Result
dba__http_admin_refuse(struct req *r, const char *what)
{
    const struct dba_config *cfg = r->w->srv->cfg;

    if (!admin_configured(r))
        return dba__http_error(
            r, 403, "DBA403",
            dba_arena_printf(r->a, "%s are disabled: no admin credential is configured", what),
            NULL,
            dba_arena_printf(r->a, "Set the environment variable %s (named by admin.token_env) "
                                   "to a secret token, restart the server, and send it as "
                                   "'Authorization: Bearer <token>'; or list JWT roles in "
                                   "auth.admin_roles.", cfg->admin_token_env));
    bool sent = dba__http_header(r, "Authorization") != NULL ||
                dba__http_header(r, "apikey") != NULL;
    /* A role that came with a credential (not an anonymous role given to requests without one)
       is a valid caller that is not admin. */
    if (r->pol.caller == HTTP_CALLER_ROLE && sent)
        return dba__http_error(
            r, 403, "DBA403",
            dba_arena_printf(r->a, "role '%s' may not use %s", r->pol.role ? r->pol.role : "",
                             what),
            NULL, "Send the admin token, or a JWT whose role is listed in auth.admin_roles.");
    return dba__http_error(r, 401, "DBA401",
                           sent ? "the admin credential is wrong"
                                : "an admin credential is required",
                           dba_arena_printf(r->a, "%s need an admin credential.", what),
                           "Send 'Authorization: Bearer <admin token>'.");
}

bool
dba__http_admin_check(struct req *r, enum MHD_Result *ret)
{
    if (r->pol.caller == HTTP_CALLER_ADMIN)
        return true;
    *ret = dba__http_admin_refuse(r, "operator routes");
    return false;
}

