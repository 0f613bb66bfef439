/* main.c - argument parsing and dispatch to the commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"

static const char usage[] =
    "usage: db-adapter [global options] <command> [options]\n"
    "\n"
    "PostgreSQL behind a PostgREST-compatible HTTP/JSON API, and an operator's command line.\n"
    "\n"
    "commands:\n"
    "  serve [--port N] [--listen ADDR] [--workers N]\n"
    "                      run the HTTP gateway (API under server.base_path, default /tables)\n"
    "  profiles            list the configured profiles (* marks the active one)\n"
    "  connect             connect to the active profile for real, report server version and\n"
    "                      row counts, and remember the profile in .db-profile\n"
    "  status [--exact]    active profile, where it came from, reachable or not, row counts\n"
    "                      (the planner's estimates; --exact counts every table)\n"
    "  schema              the live schema: tables, columns, keys, constraints, indexes\n"
    "  validate [--schema-file F]\n"
    "                      compare the database with schema.sql (schema.file); exit 0 when\n"
    "                      valid, 1 when tables or columns are missing or types differ\n"
    "  fix [--schema-file F] [--confirm] [--no-backup]\n"
    "                      print the numbered SQL that adds what is missing (never drops);\n"
    "                      --confirm backs up the touched tables to backups/ and applies it\n"
    "                      in one transaction\n"
    "  backup [-o FILE] [--tables a,b] [--user-id U] [--format json|jsonl]\n"
    "                      consistent backup (one snapshot) of the backup schema's tables\n"
    "                      (default file backups/<profile>-<UTC time>.json)\n"
    "  validate-backup FILE  check a backup without a database (also backup --validate FILE)\n"
    "  restore FILE [--mode skip|overwrite|fail] [--dry-run] [--yes] [--user-id U]\n"
    "                      restore all or nothing, new keys remapped; asks unless --yes\n"
    "  sync --from PROFILE [--tables a,b] [--user-id U] [--mode skip|overwrite]\n"
    "       [--dry-run | --confirm]\n"
    "                      copy rows from PROFILE into the active one (plan without --confirm)\n"
    "\n"
    "global options (before or after the command):\n"
    "  --config PATH       configuration file (default ./db-adapter.conf; optional)\n"
    "  --profile NAME      profile to use (else $<PREFIX>DB_PROFILE, .db-profile,\n"
    "                      default_profile, the only profile)\n"
    "  --env-prefix P      prefix for DB_PROFILE / DATABASE_URL environment variables\n"
    "  --json              machine-readable output\n"
    "  -h, --help          this help\n"
    "  --version           print the version\n"
    "\n"
    "Without a configuration file, <PREFIX>DATABASE_URL or DATABASE_URL defines a profile named\n"
    "'default'. Exit status: 0 ok, 1 handled failure, 2 usage or configuration error.\n";

struct command {
    const char *name;                 /* command word */
    int (*fn)(struct dba_cli *c);     /* implementation */
};

static const struct command commands[] = {
    { "serve", dba_cli_serve }, { "profiles", dba_cli_profiles },
    { "connect", dba_cli_connect }, { "status", dba_cli_status },
    { "schema", dba_cli_schema }, { "validate", dba_cli_validate }, { "fix", dba_cli_fix },
    { "backup", dba_cli_backup }, { "validate-backup", dba_cli_validate_backup },
    { "restore", dba_cli_restore }, { "sync", dba_cli_sync },
};

/* Takes the global options out of argv wherever they are; leaves the rest in order. */
static int
parse_globals(int argc, char **argv, struct dba_cli *c, const char **cmd)
{
    int out = 0;

    *cmd = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--config") == 0       ? &c->config_path
                            : strcmp(a, "--profile") == 0    ? &c->profile
                            : strcmp(a, "--env-prefix") == 0 ? &c->env_prefix
                                                             : NULL;
        if (slot != NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "db-adapter: %s needs a value\n", a);
                return DBA_EXIT_USAGE;
            }
            *slot = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            c->json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
            fputs(usage, stdout);
            exit(DBA_EXIT_OK);
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            printf("db-adapter %s\n", DBA_VERSION);
            exit(DBA_EXIT_OK);
        } else if (*cmd == NULL && a[0] != '-') {
            *cmd = a;
        } else {
            argv[out++] = argv[i];
        }
    }
    c->argc = out;
    c->argv = argv;
    return DBA_EXIT_OK;
}

int
main(int argc, char **argv)
{
    struct dba_cli c = { 0 };
    struct dba_err err;
    const char *cmd;

    dba_mem_init();
    const char *lvl = getenv("DBA_LOG_LEVEL");
    if (lvl != NULL)
        dba_log_set_level(strcmp(lvl, "debug") == 0 ? DBA_LOG_DEBUG
                          : strcmp(lvl, "warn") == 0 ? DBA_LOG_WARN
                          : strcmp(lvl, "error") == 0 ? DBA_LOG_ERROR : DBA_LOG_INFO);
    int rc = parse_globals(argc, argv, &c, &cmd);
    if (rc != DBA_EXIT_OK)
        return rc;
    if (cmd == NULL) {
        fputs(usage, stderr);
        return DBA_EXIT_USAGE;
    }
    const struct command *found = NULL;
    for (size_t i = 0; i < DBA_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, cmd) == 0)
            found = &commands[i];
    if (found == NULL) {
        fprintf(stderr, "db-adapter: unknown command '%s' (see db-adapter --help)\n", cmd);
        return DBA_EXIT_USAGE;
    }
    if (dba_config_load(c.config_path, c.config_path != NULL, c.env_prefix, &c.cfg, &err) !=
        DBA_OK) {
        dba_cli_print_err(&c, &err);
        return DBA_EXIT_USAGE;
    }
    rc = found->fn(&c);
    dba_config_free(c.cfg);
    return rc;
}
