/* cmd_config.c - `db-adapter config`: every key of the configuration with its effective value
   (secrets masked) and where it came from (config/describe.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

int
dba_cli_config(struct dba_cli *c)
{
    if (c->argc > 0) {
        fprintf(stderr, "db-adapter config: unknown option '%s' (see db-adapter config --help)\n",
                c->argv[0]);
        return DBA_EXIT_USAGE;
    }
    json_t *o = dba_config_describe(c->cfg);
    if (c->json) {
        dba_cli_print_json(o);
        json_decref(o);
        return DBA_EXIT_OK;
    }
    const char *file = json_string_value(json_object_get(o, "file"));
    printf("# configuration file: %s\n", file != NULL ? file : "(none)");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "keys"), i, e)
    {
        char *v = json_dumps(json_object_get(e, "value"), JSON_ENCODE_ANY | JSON_COMPACT);
        char line[1024];
        snprintf(line, sizeof(line), "%s = %s", json_string_value(json_object_get(e, "key")),
                 v != NULL ? v : "null");
        printf("%-60s # %s%s\n", line, json_string_value(json_object_get(e, "source")),
               json_is_true(json_object_get(e, "reload")) ? " [reload]" : "");
        free(v);
    }
    json_decref(o);
    return DBA_EXIT_OK;
}
