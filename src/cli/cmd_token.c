/* cmd_token.c - `db-adapter token --role R [--claims JSON] [--exp 1h]`: a development token signed
   with the active profile's HS secret (auth.jwt_secret / jwt_secret_env). Refused when only public
   keys are configured: such tokens come from their issuer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "auth/auth.h"
#include "cli/cli.h"

/* "90", "90s", "15m", "1h", "7d" -> seconds; -1 when malformed. "0" = no exp. */
static long long
token_ttl(const char *s)
{
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end == s || n < 0 || errno != 0)
        return -1;
    long long mul = *end == '\0' || strcmp(end, "s") == 0 ? 1
                    : strcmp(end, "m") == 0             ? 60
                    : strcmp(end, "h") == 0             ? 3600
                    : strcmp(end, "d") == 0             ? 86400
                                                        : -1;
    if (mul < 0 || n > 3650LL * 86400 / mul)
        return -1;
    return n * mul;
}

int
dba_cli_token(struct dba_cli *c)
{
    const char *role = NULL, *claims = NULL, *exp = "1h";
    struct dba_err err;

    dba_err_clear(&err);
    for (int i = 0; i < c->argc; i++) {
        const char *a = c->argv[i];
        const char **slot = strcmp(a, "--role") == 0     ? &role
                            : strcmp(a, "--claims") == 0 ? &claims
                            : strcmp(a, "--exp") == 0    ? &exp
                                                         : NULL;
        if (slot == NULL || i + 1 >= c->argc) {
            fprintf(stderr, "db-adapter token: %s %s\n", a,
                    slot ? "needs a value" : "is not an option (see db-adapter token --help)");
            return DBA_EXIT_USAGE;
        }
        *slot = c->argv[++i];
    }
    long long ttl = token_ttl(exp);
    if (role == NULL || role[0] == '\0' || ttl < 0) {
        fprintf(stderr, "db-adapter token: %s\n",
                ttl < 0 ? "--exp takes e.g. 3600, 90s, 15m, 1h or 7d (0 = never)"
                        : "--role is required");
        return DBA_EXIT_USAGE;
    }
    const struct dba_profile *p = dba_cli_profile(c, NULL, false);
    if (p == NULL)
        return DBA_EXIT_USAGE;
    const struct dba_config_auth *ac = dba_config_auth_for(c->cfg, p);
    struct dba_auth *a = NULL;
    if (!ac->present) {
        dba_err_set(&err, DBA_EINVAL, 0, "DBA400", "no auth group is configured");
        dba_err_hint(&err, "Add auth: { jwt_secret_env = \"JWT_SECRET\"; } and set the variable.");
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    if (dba_auth_new(ac, &a, &err) != DBA_OK) {
        dba_cli_print_err(c, &err);
        return DBA_EXIT_USAGE;
    }
    char *tok = NULL;
    int rc = dba_auth_mint(a, role, claims, (long long)time(NULL), ttl, &tok, &err);
    dba_auth_free(a);
    if (rc != DBA_OK) {
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s}", "token", tok, "role", role);
        dba_cli_print_json(o);
        json_decref(o);
    } else {
        printf("%s\n", tok);
    }
    free(tok);
    return DBA_EXIT_OK;
}
