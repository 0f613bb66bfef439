/* main.c - argument parsing and dispatch to the commands. */
#include <stdbool.h>
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
    "  schema              the live schema: tables, columns, keys, constraints, indexes,\n"
    "                      triggers, functions\n"
    "  validate [--schema-file F]\n"
    "                      compare the database with schema.sql (schema.file); exit 0 when\n"
    "                      valid, 1 when tables or columns are missing or types differ\n"
    "  fix [--schema-file F] [--confirm] [--no-backup]\n"
    "                      print the numbered SQL that adds what is missing (never drops);\n"
    "                      --confirm backs up the touched tables to backups/ and applies it\n"
    "                      in one transaction\n"
    "  backup [-o FILE|-] [--tables a,b] [--user-id U] [--format json|jsonl] [-q]\n"
    "                      consistent backup (one snapshot) of the backup schema's tables\n"
    "                      (default file backups/<profile>-<UTC time>.json)\n"
    "  validate-backup FILE  check a backup without a database (also backup --validate FILE)\n"
    "  restore FILE|- [--mode skip|overwrite|fail] [--dry-run] [--yes] [--user-id U]\n"
    "                      restore all or nothing, new keys remapped; asks unless --yes\n"
    "  sync --from PROFILE [--tables a,b] [--user-id U] [--mode skip|overwrite]\n"
    "       [--dry-run | --confirm]\n"
    "                      copy rows from PROFILE into the active one (plan without --confirm)\n"
    "  transaction FILE|- [--rollback]\n"
    "                      run a POST /transaction document (operations, references) in one\n"
    "                      transaction; exit 0 when all succeeded, 1 when rolled back\n"
    "  token --role R [--claims JSON] [--exp 1h]\n"
    "                      a development JWT signed with the configured HS secret (auth group)\n"
    "  config              the effective configuration and where each value came from\n"
    "  health [--port N]   exit 0 when the server on the configured port answers /healthz 200\n"
    "\n"
    "global options (before or after the command):\n"
    "  --config PATH       configuration file (default ./db-adapter.conf; optional)\n"
    "  --profile NAME      profile to use (else $<PREFIX>DB_PROFILE, .db-profile,\n"
    "                      default_profile, the only profile)\n"
    "  --env-prefix P      prefix for DB_PROFILE / DATABASE_URL environment variables\n"
    "  --json              machine-readable output\n"
    "  -h, --help          this help; `db-adapter <command> --help` for one command\n"
    "  --version           print the version\n"
    "\n"
    "Without a configuration file, <PREFIX>DATABASE_URL or DATABASE_URL defines a profile named\n"
    "'default'. Every key can also come from the environment: DBA_<GROUP>_<KEY> (DBA_SERVER_PORT,\n"
    "lists comma-separated), DBA_PROFILE_<NAME>_<KEY> (DBA_PROFILE_PROD_URL), and PostgREST's\n"
    "PGRST_* variables (then the API is served at /). Precedence: --set, DBA_*, PGRST_*, file,\n"
    "default. Exit status: 0 ok, 1 handled failure, 2 usage or configuration error.\n";

struct command {
    const char *name;                 /* command word */
    int (*fn)(struct dba_cli *c);     /* implementation */
    const char *help;                 /* `db-adapter <name> --help` */
};

#define GLOBALS_HINT "\nGlobal options (--config, --profile, --env-prefix, --set, --json) as in db-adapter --help.\n"

static const struct command commands[] = {
    { "serve", dba_cli_serve,
      "usage: db-adapter serve [--port N] [--listen ADDR] [--workers N]\n"
      "\n"
      "Run the HTTP gateway for the active profile: the PostgREST API under server.base_path\n"
      "(default /tables) and the operational routes. Stops on SIGINT/SIGTERM. SIGHUP reloads\n"
      "the configuration and the schema cache: log level, access log, CORS origins and the auth\n"
      "group (JWT keys, audience, role claim, anon role, pre_request, admin roles), the pool\n"
      "size and the queue limit apply at once (a shrink closes idle connections, busy ones\n"
      "when released); other changed keys are logged as needing a restart.\n"
      "GET <base_path>/ answers PostgREST's Swagger 2.0 document and GET /openapi.json an\n"
      "OpenAPI 3.1 description, both built from the schema cache (server.openapi_mode,\n"
      "openapi_public_url, openapi_security_active).\n"
      "\n"
      "  --port N        TCP port (default server.port, 8080; 0 picks a free port)\n"
      "  --listen ADDR   address to listen on (default server.listen, 0.0.0.0)\n"
      "  --workers N     worker threads, each with its own event loop (default: one per CPU)\n"
      GLOBALS_HINT },
    { "profiles", dba_cli_profiles,
      "usage: db-adapter profiles [--json]\n"
      "\n"
      "List the configured profiles: a * marks the active one; name, description, host and\n"
      "database (never passwords).\n" GLOBALS_HINT },
    { "connect", dba_cli_connect,
      "usage: db-adapter connect [--profile NAME]\n"
      "\n"
      "Connect to the profile for real, report the server version and row counts, and remember\n"
      "the profile in .db-profile. Exit 1 (lock file untouched) when the connection fails.\n"
      GLOBALS_HINT },
    { "status", dba_cli_status,
      "usage: db-adapter status [--exact]\n"
      "\n"
      "The active profile, where it came from, whether it is reachable, and per-table row\n"
      "counts (estimated from pg_class.reltuples; --exact counts every row).\n" GLOBALS_HINT },
    { "schema", dba_cli_schema,
      "usage: db-adapter schema [--json]\n"
      "\n"
      "The live schema of the exposed schemas: tables, views, columns, keys, constraints,\n"
      "indexes, triggers (timing, events, level, function) and functions (arguments, result,\n"
      "volatility, language).\n" GLOBALS_HINT },
    { "validate", dba_cli_validate,
      "usage: db-adapter validate [--schema-file F]\n"
      "\n"
      "Compare the database with the expected schema (schema.file, or F). The SQL is parsed\n"
      "by PostgreSQL's parser first: only DDL runs (in a scratch database, as an unprivileged\n"
      "role); owners and grants are skipped; anything else is refused.\n"
      "Exit 0 valid, 1 drifted or refused, 2 usage.\n" GLOBALS_HINT },
    { "fix", dba_cli_fix,
      "usage: db-adapter fix [--schema-file F] [--confirm] [--no-backup]\n"
      "\n"
      "Print the numbered SQL that adds what is missing (never drops anything).\n"
      "  --confirm       back up the touched tables to backups/ and apply the plan in one\n"
      "                  transaction (refused on read_only profiles); exit 1 while drift that\n"
      "                  fix cannot repair remains\n"
      "  --no-backup     skip the pre-fix backup\n" GLOBALS_HINT },
    { "backup", dba_cli_backup,
      "usage: db-adapter backup [-o FILE] [--tables a,b] [--user-id U] [--format json|jsonl]\n"
      "       db-adapter backup --validate FILE\n"
      "\n"
      "Consistent backup (one snapshot) of the backup schema's tables.\n"
      "  -o, --output FILE   where to write (default backups/<profile>-<UTC time>.json);\n"
      "                      - = standard output; a name ending in .gz is gzip-compressed\n"
      "  --tables a,b        only these tables\n"
      "  --user-id U         only rows of this user (backup.tables[].user_field)\n"
      "  --format F          json (default) or jsonl (one object a line)\n"
      "  -q, --quiet         no progress on a terminal's standard error\n"
      "  --validate FILE     check FILE instead (as validate-backup)\n" GLOBALS_HINT },
    { "validate-backup", dba_cli_validate_backup,
      "usage: db-adapter validate-backup FILE\n"
      "\n"
      "Check a backup file without a database: structure, counts, keys and references.\n"
      "FILE - reads standard input; .gz (or gzip on stdin) is decompressed. Exit 0 valid,\n"
      "1 invalid.\n" GLOBALS_HINT },
    { "restore", dba_cli_restore,
      "usage: db-adapter restore FILE [--mode skip|overwrite|fail] [--dry-run] [--yes]\n"
      "                          [--user-id U]\n"
      "\n"
      "Restore a backup into the active profile, all or nothing; new keys come from the\n"
      "target's sequences and children are remapped. Refused on read_only profiles.\n"
      "FILE - reads standard input (needs --yes or --dry-run); a .gz file, or gzip on\n"
      "standard input, is decompressed. Progress per table on a terminal's stderr.\n"
      "  -m, --mode M    existing rows: skip (default), overwrite, or fail\n"
      "  --dry-run       run everything, then roll back and report\n"
      "  -y, --yes       do not ask for confirmation\n"
      "  --user-id U     write rows as this user (backup.tables[].user_field)\n"
      "  -q, --quiet     no progress\n" GLOBALS_HINT },
    { "sync", dba_cli_sync,
      "usage: db-adapter sync --from PROFILE [--tables a,b] [--user-id U]\n"
      "                       [--mode skip|overwrite] [--dry-run | --confirm]\n"
      "\n"
      "Copy rows from PROFILE into the active profile. Without --confirm it prints the plan\n"
      "(new / update / unchanged per table); --confirm applies it in one transaction (refused\n"
      "on read_only profiles).\n"
      "  -f, --from P    source profile (must differ from the active one)\n"
      "  --tables a,b    only these tables\n"
      "  --user-id U     only rows of this user\n"
      "  -m, --mode M    rows that exist: skip (default) or overwrite\n"
      "  -q, --quiet     no progress\n" GLOBALS_HINT },
    { "transaction", dba_cli_transaction,
      "usage: db-adapter transaction FILE|- [--rollback]\n"
      "\n"
      "Run a POST /transaction document ({\"operations\": [{\"method\", \"path\", \"headers\",\n"
      "\"body\"}, ...]}, read from FILE or stdin) against the active profile: the same\n"
      "operations, references ({\"$ref\": \"0/0/id\"}, ${0/0/id}), limits and errors as the\n"
      "HTTP route, in one transaction as the profile's role, in its first exposed schema.\n"
      "Exit 0 when every operation succeeded (committed), 1 when one failed (everything\n"
      "rolled back) or the document was refused.\n"
      "  --rollback      run everything, then roll back (a dry run, as Prefer: tx=rollback)\n"
      "Text mode prints each operation's status; with --json the route's answer:\n"
      "{\"results\": [{\"status\", \"headers\", \"body\"}, ...]} or the error body with\n"
      "\"operation\": i.\n" GLOBALS_HINT },
    { "token", dba_cli_token,
      "usage: db-adapter token --role R [--claims JSON] [--exp 1h]\n"
      "\n"
      "Print a JWT for role R signed (HS256) with the active profile's auth.jwt_secret or\n"
      "jwt_secret_env, for development and tests. Refused (exit 1) when only public keys\n"
      "(JWK, jwks_file) are configured: such tokens come from their issuer.\n"
      "  --role R        the role claim\n"
      "  --claims JSON   more claims, a JSON object (e.g. '{\"sub\":\"alice\"}')\n"
      "  --exp D         lifetime: 3600, 90s, 15m, 1h (default), 7d; 0 = no exp\n"
      "With --json: {\"token\": ..., \"role\": ...}.\n" GLOBALS_HINT },
    { "config", dba_cli_config,
      "usage: db-adapter config [--json]\n"
      "\n"
      "Print the effective configuration: every key with its value (secrets and passwords\n"
      "masked) and where it came from: --set, an environment variable (DBA_*, PGRST_*,\n"
      "DATABASE_URL), the file (path:line) or the default. Keys marked [reload] change on\n"
      "SIGHUP without a restart.\n"
      "With --json: {\"file\": ..., \"keys\": [{\"key\", \"value\", \"source\", \"variable\",\n"
      "\"reload\"}]}.\n" GLOBALS_HINT },
    { "health", dba_cli_health,
      "usage: db-adapter health [--port N] [--host H] [--path P] [--timeout S]\n"
      "\n"
      "Ask a running server for GET /healthz and exit 0 when it answers 200, 1 otherwise (the\n"
      "reason on stderr): the container image's HEALTHCHECK, no curl needed. The port is\n"
      "server.port as configured (--set, DBA_SERVER_PORT, PGRST_SERVER_PORT, the file, 8080);\n"
      "the host is server.listen, its loopback address when it listens on every address.\n"
      "  --port N        ask port N instead\n"
      "  --host H        ask host H instead\n"
      "  --path P        ask P instead of /healthz (e.g. /readyz: the database too)\n"
      "  --timeout S     give up after S seconds (default 5)\n"
      "With --json: {\"ok\": true, \"host\", \"port\", \"path\"} on success.\n" GLOBALS_HINT },
};

static const struct command *
find_command(const char *name)
{
    for (size_t i = 0; i < DBA_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Takes the global options out of argv wherever they are; leaves the rest in order. */
static int
parse_globals(int argc, char **argv, struct dba_cli *c, const char **cmd)
{
    int out = 0;

    bool help = false;

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
        } else if (strcmp(a, "--set") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "db-adapter: --set needs key=value\n");
                return DBA_EXIT_USAGE;
            }
            if (c->n_sets < DBA_ARRAY_LEN(c->sets))
                c->sets[c->n_sets++] = argv[++i];
            else {
                fprintf(stderr, "db-adapter: too many --set flags\n");
                return DBA_EXIT_USAGE;
            }
        } else if (strcmp(a, "--json") == 0) {
            c->json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 ||
                   (*cmd == NULL && strcmp(a, "help") == 0)) {
            help = true;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            printf("db-adapter %s\n", DBA_VERSION);
            exit(DBA_EXIT_OK);
        } else if (*cmd == NULL && a[0] != '-') {
            *cmd = a;
        } else {
            argv[out++] = argv[i];
        }
    }
    if (help) {
        /* `db-adapter <command> --help` and `db-adapter help <command>`: that command's page. */
        const struct command *k = *cmd != NULL ? find_command(*cmd) : NULL;
        fputs(k != NULL ? k->help : usage, stdout);
        exit(DBA_EXIT_OK);
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
    const struct command *found = find_command(cmd);
    if (found == NULL) {
        fprintf(stderr, "db-adapter: unknown command '%s' (see db-adapter --help)\n", cmd);
        return DBA_EXIT_USAGE;
    }
    if (dba_config_load_ex(c.config_path, c.config_path != NULL, c.env_prefix, c.sets, c.n_sets,
                           &c.cfg, &err) != DBA_OK) {
        dba_cli_print_err(&c, &err);
        return DBA_EXIT_USAGE;
    }
    if (lvl == NULL || lvl[0] == '\0')
        dba_log_set_level(c.cfg->server.log_level);
    rc = found->fn(&c);
    dba_config_free(c.cfg);
    return rc;
}
