/* cmd_schema.c - schema, validate and fix: render the schema module's documents as readable text on a
   terminal or as JSON with --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "backup/backup.h"
#include "schema/schema.h"

static const char *
str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Options of validate and fix. */
struct schema_args {
    const char *schema_file;  /* --schema-file, or NULL */
    bool confirm;             /* --confirm */
    bool no_backup;           /* --no-backup */
};

static int
parse_args(struct dba_cli *c, const char *cmd, bool fix, struct schema_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < c->argc; i++) {
        const char *s = c->argv[i];
        if (strcmp(s, "--schema-file") == 0 && i + 1 < c->argc) {
            a->schema_file = c->argv[++i];
        } else if (fix && strcmp(s, "--confirm") == 0) {
            a->confirm = true;
        } else if (fix && strcmp(s, "--no-backup") == 0) {
            a->no_backup = true;
        } else {
            fprintf(stderr, "db-adapter %s: unknown option '%s' (see db-adapter --help)\n", cmd, s);
            return DBA_EXIT_USAGE;
        }
    }
    return DBA_EXIT_OK;
}

static void
print_table(const char *key, const json_t *t)
{
    size_t i;
    const json_t *col;
    const json_t *pk = json_object_get(t, "primary_key");

    printf("%s (%s)\n", key, str(t, "kind"));
    json_array_foreach(json_object_get(t, "columns"), i, col) {
        printf("  %-24s %-28s%s", str(col, "name"), str(col, "type"),
               json_is_true(json_object_get(col, "nullable")) ? "" : " NOT NULL");
        if (str(col, "default"))
            printf(" DEFAULT %s", str(col, "default"));
        if (str(col, "identity"))
            printf(" IDENTITY %s", str(col, "identity"));
        putchar('\n');
    }
    if (json_is_object(pk))
        printf("  primary key %s\n", str(pk, "definition"));
    printf("  %zu unique, %zu foreign keys, %zu checks, %zu indexes\n",
           json_array_size(json_object_get(t, "uniques")),
           json_array_size(json_object_get(t, "foreign_keys")),
           json_array_size(json_object_get(t, "checks")),
           json_array_size(json_object_get(t, "indexes")));
    const json_t *g;
    json_array_foreach(json_object_get(t, "triggers"), i, g)
        printf("  trigger %s %s %s FOR EACH %s EXECUTE %s%s\n", str(g, "name"), str(g, "timing"),
               str(g, "events"), strcmp(str(g, "level") ?: "", "row") == 0 ? "ROW" : "STATEMENT",
               str(g, "function"), json_is_true(json_object_get(g, "enabled")) ? ""
                                                                               : " (disabled)");
}

static void
print_functions(const json_t *live)
{
    size_t i;
    const json_t *f;

    printf("%zu functions\n", json_array_size(json_object_get(live, "functions")));
    json_array_foreach(json_object_get(live, "functions"), i, f)
        printf("  %s.%s(%s) RETURNS %s %s LANGUAGE %s\n", str(f, "schema"), str(f, "name"),
               str(f, "arguments"), str(f, "returns"), str(f, "volatility"),
               str(f, "language"));
}

int
dba_cli_schema(struct dba_cli *c)
{
    struct dba_err err;

    if (c->argc > 0) {
        fprintf(stderr, "db-adapter schema: unexpected argument '%s'\n", c->argv[0]);
        return DBA_EXIT_USAGE;
    }
    const struct dba_profile *p = dba_cli_profile(c, NULL, true);
    if (p == NULL)
        return DBA_EXIT_FAIL;
    dba_err_clear(&err);
    json_t *live = dba_schema_live(c->cfg, p, &err);
    if (live == NULL) {
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    if (c->json) {
        dba_cli_print_json(live);
    } else {
        const char *key;
        json_t *t;
        printf("profile %s: %zu relations\n", p->name,
               json_object_size(json_object_get(live, "tables")));
        json_object_foreach(json_object_get(live, "tables"), key, t)
            print_table(key, t);
        print_functions(live);
    }
    json_decref(live);
    return DBA_EXIT_OK;
}

/* One line of a report group. */
static void
print_item(const char *list, const json_t *it)
{
    if (json_is_string(it)) {
        printf("    - %s\n", json_string_value(it));
    } else if (strcmp(list, "missing_columns") == 0 || strcmp(list, "extra_columns") == 0) {
        printf("    - %s.%s %s\n", str(it, "table"), str(it, "column"), str(it, "type"));
    } else if (str(it, "column") != NULL) {
        printf("    - %s.%s: expected %s, found %s\n", str(it, "table"), str(it, "column"),
               str(it, "expected") ? str(it, "expected") : "none",
               str(it, "actual") ? str(it, "actual") : "none");
    } else {
        printf("    - %s: %s%s%s %s\n", str(it, "table"), str(it, "type") ? str(it, "type") : "",
               str(it, "type") ? " " : "index ", str(it, "name"), str(it, "definition"));
    }
}

static void
print_group(const json_t *rep, const char *list, const char *title)
{
    const json_t *arr = json_object_get(rep, list);
    size_t i;
    const json_t *it;

    if (json_array_size(arr) == 0)
        return;
    printf("  %s (%zu):\n", title, json_array_size(arr));
    json_array_foreach(arr, i, it)
        print_item(list, it);
}

/* Statements of the expected schema that were skipped (owners, grants, meta-commands). */
static void
print_skipped(const json_t *doc)
{
    const json_t *sk = json_object_get(doc, "skipped_statements");
    size_t i;
    const json_t *it;

    if (json_array_size(sk) == 0)
        return;
    printf("Skipped %zu statements of the schema file (owners, grants, psql meta-commands; they "
           "are not part of the schema's shape):\n", json_array_size(sk));
    json_array_foreach(sk, i, it)
        printf("    - line %lld: %s\n", (long long)json_integer_value(json_object_get(it, "line")),
               str(it, "statement"));
}

static void
print_report(const json_t *rep)
{
    json_int_t ne = json_integer_value(json_object_get(rep, "error_count"));
    json_int_t nw = json_integer_value(json_object_get(rep, "warning_count"));

    if (ne > 0) {
        printf("Errors (%lld):\n", (long long)ne);
        print_group(rep, "missing_tables", "Missing tables");
        print_group(rep, "missing_columns", "Missing columns");
        print_group(rep, "type_mismatches", "Type mismatches");
    }
    if (nw > 0) {
        printf("Warnings (%lld):\n", (long long)nw);
        print_group(rep, "extra_tables", "Extra tables");
        print_group(rep, "extra_columns", "Extra columns");
        print_group(rep, "nullability_differences", "Nullability differences");
        print_group(rep, "default_differences", "Default differences");
        print_group(rep, "missing_constraints", "Missing constraints");
        print_group(rep, "missing_indexes", "Missing indexes");
    }
}

int
dba_cli_validate(struct dba_cli *c)
{
    struct schema_args a;
    struct dba_err err;
    int rc = parse_args(c, "validate", false, &a);

    if (rc != DBA_EXIT_OK)
        return rc;
    const struct dba_profile *p = dba_cli_profile(c, NULL, true);
    if (p == NULL)
        return DBA_EXIT_FAIL;
    struct dba_schema_src src = { .sql = NULL, .path = a.schema_file };
    dba_err_clear(&err);
    json_t *rep = dba_schema_validate(c->cfg, p, &src, &err);
    if (rep == NULL) {
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    bool valid = json_is_true(json_object_get(rep, "valid"));
    if (c->json) {
        dba_cli_print_json(rep);
    } else {
        printf("%s profile '%s' against %s\n",
               valid ? "v Schema is valid:" : "x Schema has drifted:", p->name,
               str(rep, "schema_source"));
        print_skipped(rep);
        print_report(rep);
    }
    json_decref(rep);
    return valid ? DBA_EXIT_OK : DBA_EXIT_FAIL;
}

static void
print_plan(const json_t *plan)
{
    const json_t *stmts = json_object_get(plan, "statements");
    size_t i;
    const json_t *s;

    printf("\nExecution plan (%zu statements):\n", json_array_size(stmts));
    json_array_foreach(stmts, i, s)
        printf("%3zu. %s;\n", i + 1, str(s, "sql"));
    json_array_foreach(json_object_get(plan, "not_fixed"), i, s)
        printf("%s  not fixed: %s %s%s%s: %s\n", i ? "" : "\n", str(s, "what"), str(s, "table"),
               str(s, "name") ? "." : "", str(s, "name") ? str(s, "name") : "", str(s, "reason"));
    json_array_foreach(json_object_get(plan, "refused"), i, s) {
        printf("\nx Refused: %s.%s: %s. Choices:\n", str(s, "table"), str(s, "column"),
               str(s, "reason"));
        size_t k;
        const json_t *ch;
        json_array_foreach(json_object_get(s, "choices"), k, ch)
            printf("    - %s\n", json_string_value(ch));
    }
}

static void
print_fix(const json_t *doc, const struct dba_profile *p)
{
    const json_t *rep = json_object_get(doc, "report");
    const json_t *plan = json_object_get(doc, "plan");

    printf("Analyzing schema for profile '%s' against %s\n", p->name, str(doc, "schema_source"));
    print_skipped(doc);
    print_report(rep);
    print_plan(plan);
    if (!json_is_true(json_object_get(doc, "confirm"))) {
        if (json_array_size(json_object_get(plan, "statements")) > 0)
            printf("\nDry run: nothing was changed. To apply, add --confirm.\n");
        else
            printf("\nv Nothing to fix.\n");
        return;
    }
    if (str(doc, "backup") != NULL)
        printf("\nBackup saved to: %s\n", str(doc, "backup"));
    if (json_is_true(json_object_get(doc, "applied"))) {
        const json_t *after = json_object_get(doc, "after");
        printf("v Schema fix complete: %zu statements applied in one transaction\n",
               json_array_size(json_object_get(plan, "statements")));
        printf("%s\n", json_is_true(json_object_get(after, "valid"))
                           ? "v Schema is valid now"
                           : "x Schema still differs: fix does not change what remains (such as "
                             "column types); see the report");
    }
}

int
dba_cli_fix(struct dba_cli *c)
{
    struct schema_args a;
    struct dba_err err;
    int rc = parse_args(c, "fix", true, &a);

    if (rc != DBA_EXIT_OK)
        return rc;
    const struct dba_profile *p = dba_cli_profile(c, NULL, true);
    if (p == NULL)
        return DBA_EXIT_FAIL;
    struct dba_schema_fix_opts o = { .src = { .sql = NULL, .path = a.schema_file },
                                     .confirm = a.confirm, .backup = !a.no_backup,
                                     .backup_cb = dba_backup_prefix, .backup_arg = NULL };
    dba_err_clear(&err);
    json_t *doc = dba_schema_fix(c->cfg, p, &o, &err);
    if (doc == NULL) {
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    bool failed = json_object_get(doc, "error") != NULL;
    /* A confirmed fix that leaves drift it cannot fix (a type mismatch, say) is not a success. */
    bool drift_left = !failed && o.confirm &&
                      !json_is_true(json_object_get(json_object_get(doc, "after"), "valid"));
    if (c->json) {
        dba_cli_print_json(doc);
    } else {
        print_fix(doc, p);
        if (failed)
            dba_cli_print_err(c, &err);
    }
    json_decref(doc);
    return failed || drift_left ? DBA_EXIT_FAIL : DBA_EXIT_OK;
}

bool
dba_cli_connect_validate(struct dba_cli *c, const struct dba_profile *p, struct json_t *o)
{
    struct dba_err err;

    if (!c->cfg->validate_on_connect) {
        json_object_set_new(o, "schema_validation", json_string("disabled in config"));
        return true;
    }
    if (access(c->cfg->schema_file, R_OK) != 0) {
        json_object_set_new(o, "schema_validation",
                            json_string("skipped: schema file not found"));
        return true;
    }
    struct dba_schema_src src = { .sql = NULL, .path = NULL };
    dba_err_clear(&err);
    json_t *rep = dba_schema_validate(c->cfg, p, &src, &err);
    if (rep == NULL) {
        json_object_set_new(o, "schema_validation", json_string("failed"));
        json_object_set_new(o, "error", json_string(err.msg));
        return false;
    }
    bool valid = json_is_true(json_object_get(rep, "valid"));
    json_object_set_new(o, "schema_validation", json_string(valid ? "passed" : "drifted"));
    if (!c->json && !valid)
        print_report(rep);
    json_object_set_new(o, "schema", rep);
    return valid;
}
