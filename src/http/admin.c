/* admin.c - the admin token check shared by the routes that change or export whole tables
   (POST /schema/fix?confirm=true, GET /backup, POST /restore, confirmed POST /sync). */
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
dba__http_admin_check(struct req *r, const char *what, enum MHD_Result *ret)
{
    const struct dba_config *cfg = r->w->srv->cfg;
    const char *auth = dba__http_header(r, "Authorization");

    if (cfg->admin_token == NULL) {
        *ret = dba__http_error(
            r, 403, "DBA403",
            dba_arena_printf(r->a, "%s are disabled: no admin token is configured", what), NULL,
            dba_arena_printf(r->a, "Set the environment variable %s (named by admin.token_env) "
                                   "to a secret token, restart the server, and send it as "
                                   "'Authorization: Bearer <token>'.", cfg->admin_token_env));
        return false;
    }
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 ||
        !admin_token_eq(auth + 7, cfg->admin_token)) {
        *ret = dba__http_error(r, 401, "DBA401", "admin token missing or wrong", NULL,
                               "Send 'Authorization: Bearer <admin token>'.");
        return false;
    }
    return true;
}

const char *
dba__http_query(struct req *r, const char *name)
{
    return dba__http_query_param(r, name);
}
