/* admin.c - the admin token: recognised by the policy step (policy.c) and required by the routes
   that change or export whole tables (POST /schema/fix?confirm=true, GET /backup, POST /restore,
   confirmed POST /sync). */
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

enum MHD_Result
dba__http_admin_refuse(struct req *r, const char *what)
{
    const struct dba_config *cfg = r->w->srv->cfg;

    if (cfg->admin_token == NULL)
        return dba__http_error(
            r, 403, "DBA403",
            dba_arena_printf(r->a, "%s are disabled: no admin token is configured", what), NULL,
            dba_arena_printf(r->a, "Set the environment variable %s (named by admin.token_env) "
                                   "to a secret token, restart the server, and send it as "
                                   "'Authorization: Bearer <token>'.", cfg->admin_token_env));
    return dba__http_error(r, 401, "DBA401", "admin token missing or wrong", NULL,
                           "Send 'Authorization: Bearer <admin token>'.");
}

const char *
dba__http_query(struct req *r, const char *name)
{
    return dba__http_query_param(r, name);
}
