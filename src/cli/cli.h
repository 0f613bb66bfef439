/* cli.h - the operator's command line: one function per command, all rendering the results of
   core operations as a table on a terminal or as JSON with --json. */
#ifndef DBA_CLI_H
#define DBA_CLI_H

#include <stdbool.h>

#include "config/config.h"

struct json_t;
struct dba_profile;

/* Exit codes. */
#define DBA_EXIT_OK 0      /* success */
#define DBA_EXIT_FAIL 1    /* handled failure */
#define DBA_EXIT_USAGE 2   /* usage or configuration error */

/* Parsed global options plus the command's own arguments. */
struct dba_cli {
    const char *config_path;   /* --config, or NULL */
    const char *profile;       /* --profile, or NULL */
    const char *env_prefix;    /* --env-prefix, or NULL */
    bool json;                 /* --json */
    const char *sets[64];      /* --set key=value, in order */
    size_t n_sets;             /* count */
    int argc;                  /* command arguments after the command name */
    char **argv;               /* borrowed from main */
    struct dba_config *cfg;    /* loaded configuration (owned by main) */
};

int dba_cli_serve(struct dba_cli *c);
int dba_cli_profiles(struct dba_cli *c);
int dba_cli_connect(struct dba_cli *c);
int dba_cli_status(struct dba_cli *c);
/* cmd_schema.c: `schema [--json]`, `validate [--schema-file F]` (exit 0 valid, 1 drifted) and
   `fix [--schema-file F] [--confirm] [--no-backup]` (dry run by default). */
int dba_cli_schema(struct dba_cli *c);
int dba_cli_validate(struct dba_cli *c);
int dba_cli_fix(struct dba_cli *c);
/* For connect: validates p when schema.validate_on_connect is set and the schema file exists;
   records the outcome in o (borrowed) and prints drift on a terminal. False on drift or error. */
bool dba_cli_connect_validate(struct dba_cli *c, const struct dba_profile *p, struct json_t *o);
/* cmd_backup.c: backup, validate-backup, restore and sync. */
int dba_cli_backup(struct dba_cli *c);
int dba_cli_validate_backup(struct dba_cli *c);
int dba_cli_restore(struct dba_cli *c);
int dba_cli_sync(struct dba_cli *c);
/* cmd_token.c: `token --role R [--claims JSON] [--exp 1h]`, an HS256 development token. */
int dba_cli_token(struct dba_cli *c);
/* cmd_transaction.c: `transaction FILE|- [--rollback]`, a POST /transaction document against the
   active profile (exit 0 all succeeded, 1 failed and rolled back). */
int dba_cli_transaction(struct dba_cli *c);
/* cmd_config.c: `config [--json]`, the effective configuration and each value's source. */
int dba_cli_config(struct dba_cli *c);
/* cmd_health.c: `health [--port N] [--host H] [--path P] [--timeout S]`: GET /healthz on the
   configured port; exit 0 when it answers 200 (the container's HEALTHCHECK). */
int dba_cli_health(struct dba_cli *c);
/* common.c: helpers every command shares. */
/* Prints an error (message, details, hint) to stderr, or as JSON on stdout with --json. */
void dba_cli_print_err(const struct dba_cli *c, const struct dba_err *e);
/* Prints o (borrowed) on stdout as indented JSON in insertion order, then a newline. */
void dba_cli_print_json(const struct json_t *o);
/* The active profile (--profile, ${PREFIX}DB_PROFILE, .db-profile, default_profile, the only
   one); with usable, its connection string is checked too (a placeholder needs a password).
   *source (may be NULL) names the step. Prints the error and returns NULL on failure. Borrowed
   from c->cfg. */
const struct dba_profile *dba_cli_profile(const struct dba_cli *c, const char **source,
                                          bool usable);

#endif
