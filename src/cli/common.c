/* common.c - what every CLI command shares: the active profile, JSON output and error output. */
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"

void
dba_cli_print_err(const struct dba_cli *c, const struct dba_err *e)
{
    if (c->json) {
        json_t *o = json_pack("{s:b,s:s,s:s}", "ok", 0, "code", e->pgrst, "message", e->msg);
        if (e->detail[0])
            json_object_set_new(o, "details", json_string(e->detail));
        if (e->hint[0])
            json_object_set_new(o, "hint", json_string(e->hint));
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
        return;
    }
    fprintf(stderr, "db-adapter: %s\n", e->msg);
    if (e->detail[0])
        fprintf(stderr, "  details: %s\n", e->detail);
    if (e->hint[0])
        fprintf(stderr, "  hint: %s\n", e->hint);
}

void
dba_cli_print_json(const struct json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

const struct dba_profile *
dba_cli_profile(const struct dba_cli *c, const char **source, bool usable)
{
    const struct dba_profile *p = NULL;
    struct dba_err err;

    if (dba_config_active_profile(c->cfg, c->profile, &p, source, &err) != DBA_OK ||
        (usable && dba_config_profile_check(p, &err) != DBA_OK)) {
        dba_cli_print_err(c, &err);
        return NULL;
    }
    return p;
}
