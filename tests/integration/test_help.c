/* test_help.c - every command answers --help with its own page, not the global one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "harness.h"

/* Runs `db-adapter <args>` without any configuration, from /tmp. */
static int
help_run(const char *args, char **out)
{
    return dbat_cli("/tmp", NULL, args, out);
}

Test(help, each_command_prints_its_own_usage)
{
    static const char *const cmds[] = { "serve", "profiles", "connect", "status", "schema",
                                        "validate", "fix", "backup", "validate-backup",
                                        "restore", "sync" };
    char args[64], want[64];
    char *out;

    for (size_t i = 0; i < DBA_ARRAY_LEN(cmds); i++) {
        snprintf(want, sizeof(want), "usage: db-adapter %s ", cmds[i]);
        /* The forms people type: after the command, -h, and `help <command>`. */
        const char *forms[] = { "%s --help", "%s -h", "help %s", "--json %s --help" };
        for (size_t k = 0; k < DBA_ARRAY_LEN(forms); k++) {
            snprintf(args, sizeof(args), forms[k], cmds[i]);
            cr_expect_eq(help_run(args, &out), 0, "%s", args);
            cr_expect(strncmp(out, want, strlen(want)) == 0, "%s printed: %.80s", args, out);
            cr_expect(strstr(out, "commands:") == NULL, "%s printed the global page", args);
            free(out);
        }
    }
    /* Without a command it is still the global page. */
    cr_expect_eq(help_run("--help", &out), 0);
    cr_expect(strstr(out, "commands:") != NULL);
    free(out);
}
