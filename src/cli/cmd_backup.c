/* cmd_backup.c - the backup, validate-backup, restore and sync commands. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backup/backup.h"
#include "cli/cli.h"
#include "db/db.h"
#include "schema/schema.h"

/* Options shared by the four commands. */
struct bk_args {
    const char *file;      /* positional FILE, -o, or --validate */
    const char *tables;    /* --tables */
    const char *user_id;   /* --user-id */
    const char *format;    /* --format */
    const char *mode;      /* --mode */
    const char *from;      /* --from */
    bool validate;         /* backup --validate */
    bool dry_run;          /* --dry-run */
    bool yes;              /* --yes */
    bool confirm;          /* --confirm */
    bool quiet;            /* --quiet: no progress */
    const char *in;        /* restore: the file read (file, or its spooled copy) */
    char *tmp;             /* restore: the spooled copy to remove, or NULL */
};

/* Progress state for a line on stderr (terminal only). */
struct bk_progress {
    int64_t start_ms;  /* when the command started */
    int64_t table_ms;  /* when the current table started */
    int64_t last_ms;   /* last line drawn */
    char table[128];   /* current table */
    bool open;         /* a line is drawn without its newline */
};

static int
bk_usage(const char *cmd, const char *why, const char *arg)
{
    fprintf(stderr, "db-adapter %s: %s%s%s (see db-adapter --help)\n", cmd, why,
            arg ? " " : "", arg ? arg : "");
    return DBA_EXIT_USAGE;
}

/* Which command takes an option (bits of bk_parse's cmd mask). */
enum {
    BK_BACKUP = 1,   /* backup */
    BK_VALIDATE = 2, /* validate-backup */
    BK_RESTORE = 4,  /* restore */
    BK_SYNC = 8,     /* sync */
};

/* Parses argv for cmd (one of the BK_ bits); an option the command does not take, a missing
   value, or a second positional argument is a usage error (exit 2). */
static int
bk_parse(const char *cmd, unsigned mask, struct dba_cli *c, struct bk_args *a)
{
    static const struct { const char *name; size_t off; unsigned cmds; } valued[] = {
        { "-o", offsetof(struct bk_args, file), BK_BACKUP },
        { "--output", offsetof(struct bk_args, file), BK_BACKUP },
        { "--tables", offsetof(struct bk_args, tables), BK_BACKUP | BK_SYNC },
        { "--user-id", offsetof(struct bk_args, user_id), BK_BACKUP | BK_RESTORE | BK_SYNC },
        { "--format", offsetof(struct bk_args, format), BK_BACKUP },
        { "--mode", offsetof(struct bk_args, mode), BK_RESTORE | BK_SYNC },
        { "-m", offsetof(struct bk_args, mode), BK_RESTORE | BK_SYNC },
        { "--from", offsetof(struct bk_args, from), BK_SYNC },
        { "-f", offsetof(struct bk_args, from), BK_SYNC },
        { "--validate", offsetof(struct bk_args, file), BK_BACKUP },
    };
    static const struct { const char *name; size_t off; unsigned cmds; } flags[] = {
        { "--dry-run", offsetof(struct bk_args, dry_run), BK_RESTORE | BK_SYNC },
        { "--yes", offsetof(struct bk_args, yes), BK_RESTORE },
        { "-y", offsetof(struct bk_args, yes), BK_RESTORE },
        { "--confirm", offsetof(struct bk_args, confirm), BK_SYNC },
        { "--quiet", offsetof(struct bk_args, quiet), BK_BACKUP | BK_RESTORE | BK_SYNC },
        { "-q", offsetof(struct bk_args, quiet), BK_BACKUP | BK_RESTORE | BK_SYNC },
    };
    a->user_id = c->cfg != NULL ? c->cfg->backup.user_id : NULL; /* backup.user_id_env */
    for (int i = 0; i < c->argc; i++) {
        const char *s = c->argv[i];
        size_t k = 0, f = 0;
        while (k < DBA_ARRAY_LEN(valued) && strcmp(s, valued[k].name) != 0)
            k++;
        while (f < DBA_ARRAY_LEN(flags) && strcmp(s, flags[f].name) != 0)
            f++;
        if (k < DBA_ARRAY_LEN(valued) && (valued[k].cmds & mask) != 0) {
            if (i + 1 >= c->argc)
                return bk_usage(cmd, "missing value for", s);
            *(const char **)(void *)((char *)a + valued[k].off) = c->argv[++i];
            a->validate |= strcmp(s, "--validate") == 0;
        } else if (f < DBA_ARRAY_LEN(flags) && (flags[f].cmds & mask) != 0) {
            *(bool *)(void *)((char *)a + flags[f].off) = true;
        } else if ((s[0] != '-' || strcmp(s, "-") == 0) && a->file == NULL &&
                   (mask & BK_SYNC) == 0) {
            a->file = s;
        } else {
            return bk_usage(cmd, "unexpected argument", s);
        }
    }
    return DBA_EXIT_OK;
}

/* A write into a profile with read_only = true is refused (exit 1), naming the setting. */
static bool
bk_writable(struct dba_cli *c, const struct dba_profile *p, const char *what)
{
    struct dba_err err;
    if (dba_config_profile_writable(p, what, &err) == DBA_OK)
        return true;
    dba_cli_print_err(c, &err);
    return false;
}

/* Per table: rows done of expected, rows/s, elapsed and the remaining time estimate, redrawn at
   most 5 times a second; the table's last line stays as its summary. */
static void
bk_progress(void *arg, const char *table, int64_t done, int64_t total)
{
    struct bk_progress *p = arg;
    int64_t now = dba_now_ms();
    if (strcmp(p->table, table) != 0) {
        if (p->open)
            fputc('\n', stderr);
        snprintf(p->table, sizeof(p->table), "%s", table);
        p->table_ms = p->last_ms > 0 ? p->last_ms : p->start_ms;
        p->last_ms = 0;
        p->open = false;
    }
    bool end = total >= 0 && done >= total;
    if (!end && now - p->last_ms < 200)
        return;
    p->last_ms = now;
    double secs = (double)(now - p->table_ms) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0.0;
    fprintf(stderr, "\r  %-24s %10lld", table, (long long)done);
    if (total >= 0)
        fprintf(stderr, " / %-10lld", (long long)total);
    fprintf(stderr, " rows  %9.0f rows/s  %7.1f s", rate, secs);
    if (!end && total > done && rate > 0)
        fprintf(stderr, "  ETA %6.1f s", (double)(total - done) / rate);
    else
        fputs("              ", stderr);
    p->open = !end;
    if (end)
        fputc('\n', stderr);
    fflush(stderr);
}

/* Ends a progress line left open. */
static void
bk_progress_end(struct bk_progress *p)
{
    if (p->open)
        fputc('\n', stderr);
    p->open = false;
}

/* Checks the profile and connects; prints the error and returns NULL on failure. */
static struct pg_conn *
bk_connect(struct dba_cli *c, const struct dba_profile *p)
{
    struct dba_err err;
    dba_err_clear(&err);
    if (dba_config_profile_check(p, &err) != DBA_OK) {
        dba_cli_print_err(c, &err);
        return NULL;
    }
    char *ci = dba_config_profile_conninfo(p);
    struct pg_conn *conn = dba_db_connect_blocking(ci, 10, &err);
    free(ci);
    if (conn == NULL)
        dba_cli_print_err(c, &err);
    return conn;
}

/* Declared schema, else derived from the profile's cache. */
static struct dba_backup_schema *
bk_schema_live(struct dba_cli *c, const struct dba_profile *p, struct pg_conn *conn)
{
    struct dba_err err;
    dba_err_clear(&err);
    struct dba_backup_schema *s = dba_backup_schema_live(c->cfg, p, conn, &err);
    if (s == NULL)
        dba_cli_print_err(c, &err);
    return s;
}

static char *
bk_default_path(const struct dba_profile *p, bool jsonl)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    if (mkdir("backups", 0755) != 0 && errno != EEXIST)
        return NULL;
    size_t n = strlen(p->name) + 64;
    char *path = dba_xmalloc(n);
    snprintf(path, n, "backups/%s-%s.%s", p->name, ts, jsonl ? "jsonl" : "json");
    return path;
}

static void
bk_print_counts(json_t *tables, const char *head)
{
    const char *k;
    json_t *v;
    printf("  %-32s %12s\n", "TABLE", head);
    json_object_foreach(tables, k, v)
        printf("  %-32s %12lld\n", k, (long long)json_integer_value(v));
}

static int bk_validate_cmd(struct dba_cli *c, const char *path);

static int
bk_write_stdout(void *arg, const char *p, size_t n)
{
    return fwrite(p, 1, n, arg) == n ? 0 : -1;
}

/* The file the readers open for the FILE argument: a spooled copy of standard input ("-") or of
   a decompressed .gz file (*tmp receives it, the caller unlinks and frees it), else path. NULL
   with err when spooling fails. */
static const char *
bk_input(const char *path, char **tmp, struct dba_err *err)
{
    *tmp = NULL;
    if (path == NULL || !dba_backup_path_spooled(path))
        return path;
    *tmp = dba_backup_spool(path, err);
    return *tmp;
}

static void
bk_input_done(char *tmp)
{
    if (tmp != NULL)
        unlink(tmp);
    free(tmp);
}

static int
bk_backup_run(struct dba_cli *c, const struct bk_args *a, const struct dba_profile *p,
              struct pg_conn *conn, struct dba_backup_schema *s)
{
    struct dba_err err;
    struct bk_progress prog = { .start_ms = dba_now_ms() };
    json_t *warnings = json_array();
    struct dba_backup_opts o = { .profile = p->name, .user_id = a->user_id,
                                 .nsp = p->schemas.n > 0 ? p->schemas.v[0] : NULL,
                                 .jsonl = a->format != NULL && strcmp(a->format, "jsonl") == 0,
                                 .progress = isatty(2) && !c->json && !a->quiet ? bk_progress
                                                                                : NULL,
                                 .progress_arg = &prog };
    dba_err_clear(&err);
    if (a->tables != NULL && dba_backup_schema_filter(s, a->tables, warnings, &err) != DBA_OK) {
        dba_cli_print_err(c, &err);
        json_decref(warnings);
        return DBA_EXIT_FAIL;
    }
    size_t i;
    json_t *w;
    json_array_foreach(warnings, i, w)
        fprintf(stderr, "warning: %s\n", json_string_value(w));
    bool out = a->file != NULL && strcmp(a->file, "-") == 0;
    char *path = a->file != NULL ? dba_xstrdup(a->file) : bk_default_path(p, o.jsonl);
    json_t *sum = NULL;
    if (out) { /* the document on stdout; the summary goes to stderr */
        o.write = bk_write_stdout;
        o.write_arg = stdout;
        sum = dba_backup_dump(conn, s, &o, &err);
        if (fflush(stdout) != 0 && sum != NULL) {
            json_decref(sum);
            sum = NULL;
            dba_err_set(&err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot write the standard output");
        }
    } else if (path != NULL) {
        sum = dba_backup_dump_file(conn, s, &o, path, &err);
    }
    bk_progress_end(&prog);
    if (path == NULL)
        dba_err_set(&err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot create ./backups");
    if (sum == NULL) {
        dba_cli_print_err(c, &err);
    } else if (c->json && !out) {
        json_object_set_new(sum, "file", json_string(path));
        json_object_set_new(sum, "warnings", json_incref(warnings));
        dba_cli_print_json(sum);
    } else if (!out) {
        printf("Backup saved to: %s\n", path);
        bk_print_counts(json_object_get(sum, "tables"), "ROWS");
    } else if (!a->quiet && !c->json) {
        fprintf(stderr, "Backup written to the standard output: %lld rows\n",
                (long long)json_integer_value(json_object_get(sum, "rows")));
    }
    free(path);
    json_decref(warnings);
    int rc = sum != NULL ? DBA_EXIT_OK : DBA_EXIT_FAIL;
    json_decref(sum);
    return rc;
}

int
dba_cli_backup(struct dba_cli *c)
{
    struct bk_args a = { 0 };
    int rc = bk_parse("backup", BK_BACKUP, c, &a);
    if (rc != DBA_EXIT_OK)
        return rc;
    if (a.validate)
        return bk_validate_cmd(c, a.file);
    if (a.format != NULL && strcmp(a.format, "json") != 0 && strcmp(a.format, "jsonl") != 0)
        return bk_usage("backup", "--format must be json or jsonl, not", a.format);
    const struct dba_profile *p = dba_cli_profile(c, NULL, false);
    struct pg_conn *conn = p != NULL ? bk_connect(c, p) : NULL;
    if (conn == NULL)
        return DBA_EXIT_FAIL;
    struct dba_backup_schema *s = bk_schema_live(c, p, conn);
    rc = s != NULL ? bk_backup_run(c, &a, p, conn, s) : DBA_EXIT_FAIL;
    dba_backup_schema_free(s);
    dba_db_close(conn);
    return rc;
}

static void
bk_print_list(const char *head, json_t *arr)
{
    size_t i;
    json_t *v;
    if (json_array_size(arr) == 0)
        return;
    printf("%s\n", head);
    json_array_foreach(arr, i, v)
        printf("  - %s\n", json_string_value(v));
}

/* The validation report of the backup at path, with its schema in *out (and its text when it is
   a JSON document); validate false: only the metadata and the schema, {"valid": true} when they
   are fine (the restore validates the rows beside its writes). */
static json_t *
bk_validate_path(struct dba_cli *c, const char *path, struct dba_catalog *cache,
                 const char *nsp, struct dba_backup_schema **out, char **text, size_t *len,
                 bool validate)
{
    struct dba_err err;
    dba_err_clear(&err);
    *out = NULL;
    json_t *meta = dba_backup_file_metadata(path, text, len, &err);
    if (meta == NULL) {
        if (access(path, R_OK) != 0)
            dba_err_set(&err, DBA_EIO, 400, DBA_BACKUP_CODE, "Backup file not found: %s", path);
        return json_pack("{s:b,s:[s],s:[]}", "valid", 0, "errors", err.msg, "warnings");
    }
    *out = dba_backup_schema_for(c->cfg, meta, *text, *len, cache, nsp, &err);
    json_decref(meta);
    if (*out == NULL)
        return json_pack("{s:b,s:[s],s:[]}", "valid", 0, "errors", err.msg, "warnings");
    if (!validate)
        return json_pack("{s:b}", "valid", 1);
    return *text != NULL ? dba_backup_validate_text(*out, *text, *len)
                         : dba_backup_validate_file(*out, path);
}

static int
bk_validate_cmd(struct dba_cli *c, const char *path)
{
    struct dba_backup_schema *s;
    char *text = NULL;
    size_t len = 0;
    if (path == NULL)
        return bk_usage("validate-backup", "missing the backup FILE", NULL);
    struct dba_err err;
    char *tmp;
    dba_err_clear(&err);
    const char *in = bk_input(path, &tmp, &err);
    if (in == NULL) {
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    json_t *v = bk_validate_path(c, in, NULL, NULL, &s, &text, &len, true);
    bk_input_done(tmp);
    bool ok = json_is_true(json_object_get(v, "valid"));
    if (c->json) {
        json_object_set_new(v, "file", json_string(path));
        dba_cli_print_json(v);
    } else {
        printf("%s Backup is %s: %s\n", ok ? "v" : "x", ok ? "valid" : "invalid", path);
        bk_print_list("Errors:", json_object_get(v, "errors"));
        bk_print_list("Warnings:", json_object_get(v, "warnings"));
    }
    json_decref(v);
    dba_backup_text_free(text);
    dba_backup_schema_free(s);
    return ok ? DBA_EXIT_OK : DBA_EXIT_FAIL;
}

int
dba_cli_validate_backup(struct dba_cli *c)
{
    struct bk_args a = { 0 };
    int rc = bk_parse("validate-backup", BK_VALIDATE, c, &a);
    return rc != DBA_EXIT_OK ? rc : bk_validate_cmd(c, a.file);
}

/* Asks for "yes" on a terminal; refuses when stdin is not one. */
static bool
bk_confirm(const char *what)
{
    char line[64];
    if (!isatty(0)) {
        fprintf(stderr, "db-adapter: refusing to %s: standard input is not a terminal; "
                        "pass --yes to confirm\n", what);
        return false;
    }
    fprintf(stderr, "%s? Type 'yes' to confirm: ", what);
    if (fgets(line, sizeof(line), stdin) == NULL || strncasecmp(line, "yes", 3) != 0 ||
        line[3 + strspn(line + 3, " \t")] != '\n') {
        fprintf(stderr, "Aborted.\n");
        return false;
    }
    return true;
}

static void
bk_print_restore(json_t *rep)
{
    json_t *f = json_object_get(rep, "failed");
    bool ok = json_is_true(json_object_get(rep, "ok"));
    if (json_is_true(json_object_get(rep, "dry_run")))
        printf("DRY RUN - No changes made.\n");
    else
        printf(ok ? "Restore complete.\n" : "Restore failed: nothing was written.\n");
    printf("Mode: %s\n", json_string_value(json_object_get(rep, "mode")));
    printf("  %-32s %10s %10s %10s %10s\n", "TABLE", "INSERTED", "UPDATED", "SKIPPED",
           "UNCHANGED");
    const char *k;
    json_t *t;
    json_object_foreach(json_object_get(rep, "tables"), k, t)
        printf("  %-32s %10lld %10lld %10lld %10lld\n", k,
               (long long)json_integer_value(json_object_get(t, "inserted")),
               (long long)json_integer_value(json_object_get(t, "updated")),
               (long long)json_integer_value(json_object_get(t, "skipped")),
               (long long)json_integer_value(json_object_get(t, "unchanged")));
    if (f != NULL)
        printf("Failed row: %s row %lld (pk=%s): %s\n",
               json_string_value(json_object_get(f, "table")),
               (long long)json_integer_value(json_object_get(f, "row_index")),
               json_string_value(json_object_get(f, "old_pk")),
               json_string_value(json_object_get(f, "error")));
}

static json_t *
bk_restore_run(struct dba_cli *c, const struct bk_args *a, const struct dba_profile *p,
               enum dba_backup_mode mode, struct pg_conn *conn, struct dba_err *err)
{
    struct bk_progress prog = { .start_ms = dba_now_ms() };
    struct dba_backup_restore_opts o = {
        .mode = mode, .dry_run = a->dry_run, .user_id = a->user_id,
        .schemas = (const char *const *)p->schemas.v, .n_schemas = p->schemas.n,
        .progress = isatty(2) && !c->json && !a->quiet ? bk_progress : NULL,
        .progress_arg = &prog };
    struct dba_catalog *cache = dba_catalog_load(conn, o.schemas, o.n_schemas, err);
    if (cache == NULL)
        return NULL;
    struct dba_backup_schema *s;
    json_t *rep = NULL;
    char *text = NULL;
    size_t len = 0;
    json_t *v = bk_validate_path(c, a->in, cache, p->schemas.v[0], &s, &text, &len, false);
    dba_catalog_unref(cache);
    if (json_is_true(json_object_get(v, "valid"))) { /* the rows are validated beside */
        json_decref(v);
        rep = text != NULL ? dba_backup_restore(conn, s, text, len, &o, err)
                           : dba_backup_restore_file(conn, s, a->in, &o, err);
        v = rep != NULL ? json_incref(json_object_get(rep, "validation")) : NULL;
        if (v != NULL)
            json_decref(rep); /* invalid: rolled back, reported as below */
        bk_progress_end(&prog);
    }
    if (v != NULL) {
        json_t *e = json_array_get(json_object_get(v, "errors"), 0);
        dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "invalid backup: %s",
                    json_string_value(e) ? json_string_value(e) : "?");
        rep = json_pack("{s:b,s:o}", "ok", 0, "validation", v);
    }
    dba_backup_text_free(text);
    dba_backup_schema_free(s);
    return rep;
}

/* restore's arguments, checked before anything is asked or connected: the mode (usage, exit 2),
   then the file (exists and is a well-formed backup, exit 1) and the profile (exit 1). */
static int
bk_restore_args(struct dba_cli *c, struct bk_args *a, enum dba_backup_mode *mode,
                const struct dba_profile **p)
{
    struct dba_err err;
    dba_err_clear(&err);
    if (a->file == NULL)
        return bk_usage("restore", "missing the backup FILE", NULL);
    if (dba_backup_mode_parse(a->mode != NULL ? a->mode : "skip", mode, &err) != DBA_OK)
        return bk_usage("restore", "--mode must be skip, overwrite or fail, not", a->mode);
    if (strcmp(a->file, "-") == 0 && !a->yes && !a->dry_run) {
        fprintf(stderr, "db-adapter: refusing to restore standard input without --yes (it "
                        "cannot also answer the confirmation)\n");
        return DBA_EXIT_FAIL;
    }
    a->in = bk_input(a->file, &a->tmp, &err);
    if (a->in == NULL || dba_backup_file_check(a->in, &err) != DBA_OK) {
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    *p = dba_cli_profile(c, NULL, false);
    if (*p == NULL || (!a->dry_run && !bk_writable(c, *p, "a restore into it")))
        return DBA_EXIT_FAIL;
    return DBA_EXIT_OK;
}

static int bk_restore_confirmed(struct dba_cli *c, const struct bk_args *a,
                                enum dba_backup_mode mode, const struct dba_profile *p,
                                struct dba_err *errp);

int
dba_cli_restore(struct dba_cli *c)
{
    struct bk_args a = { 0 };
    struct dba_err err;
    enum dba_backup_mode mode = DBA_BACKUP_SKIP;
    const struct dba_profile *p = NULL;
    dba_err_clear(&err);
    int rc = bk_parse("restore", BK_RESTORE, c, &a);
    if (rc == DBA_EXIT_OK)
        rc = bk_restore_args(c, &a, &mode, &p);
    if (rc == DBA_EXIT_OK)
        rc = bk_restore_confirmed(c, &a, mode, p, &err);
    bk_input_done(a.tmp);
    return rc;
}

/* The restore proper, once its arguments are checked. */
static int
bk_restore_confirmed(struct dba_cli *c, const struct bk_args *a, enum dba_backup_mode mode,
                     const struct dba_profile *p, struct dba_err *errp)
{
    struct dba_err err = *errp;
    if (!a->yes && !a->dry_run) {
        char what[512];
        snprintf(what, sizeof(what), "Restore %s into profile '%s' with mode=%s", a->file,
                 p->name, a->mode ? a->mode : "skip");
        if (!bk_confirm(what))
            return DBA_EXIT_FAIL;
    }
    struct pg_conn *conn = bk_connect(c, p);
    if (conn == NULL)
        return DBA_EXIT_FAIL;
    dba_err_clear(&err);
    json_t *rep = bk_restore_run(c, a, p, mode, conn, &err);
    dba_db_close(conn);
    bool ok = rep != NULL && json_is_true(json_object_get(rep, "ok"));
    if (c->json && rep != NULL)
        dba_cli_print_json(rep);
    else if (rep != NULL && json_object_get(rep, "tables") != NULL)
        bk_print_restore(rep);
    if (!ok && !(c->json && rep != NULL))
        dba_cli_print_err(c, &err);
    json_decref(rep);
    return ok ? DBA_EXIT_OK : DBA_EXIT_FAIL;
}

static void
bk_print_sync(json_t *rep)
{
    bool applied = json_is_true(json_object_get(rep, "applied"));
    printf("%s %s -> %s (mode=%s)\n", applied ? "Synced" : "Sync plan (nothing written; pass "
           "--confirm to apply):", json_string_value(json_object_get(rep, "from")),
           json_string_value(json_object_get(rep, "to")),
           json_string_value(json_object_get(rep, "mode")));
    printf("  %-28s %10s %10s %10s %10s %10s %10s\n", "TABLE", "SOURCE", "DEST", "NEW",
           "UPDATE", "UNCHANGED", "SKIPPED");
    const char *k;
    json_t *t;
    json_object_foreach(json_object_get(rep, "plan"), k, t) {
        printf("  %-28s", k);
        static const char *const f[] = { "source", "destination", "new", "update", "unchanged",
                                         "skipped" };
        for (size_t i = 0; i < DBA_ARRAY_LEN(f); i++)
            printf(" %10lld", (long long)json_integer_value(json_object_get(t, f[i])));
        putchar('\n');
    }
    json_t *fl = json_object_get(rep, "failed");
    if (fl != NULL)
        printf("Failed row: %s row %lld (pk=%s): %s\n",
               json_string_value(json_object_get(fl, "table")),
               (long long)json_integer_value(json_object_get(fl, "row_index")),
               json_string_value(json_object_get(fl, "old_pk")),
               json_string_value(json_object_get(fl, "error")));
}

/* Checks sync's arguments (usage errors exit 2) and resolves both profiles (an unknown source,
   the active profile as source, or a confirmed sync into a read_only profile exit 1). */
static int
bk_sync_args(struct dba_cli *c, const struct bk_args *a, struct dba_backup_sync_opts *o,
             struct dba_err *err)
{
    if (a->from == NULL)
        return bk_usage("sync", "missing --from SOURCE", NULL);
    if (a->dry_run && a->confirm)
        return bk_usage("sync", "--dry-run and --confirm exclude each other", NULL);
    if (dba_backup_mode_parse(a->mode != NULL ? a->mode : "skip", &o->mode, err) != DBA_OK ||
        o->mode == DBA_BACKUP_FAIL)
        return bk_usage("sync", "--mode must be skip or overwrite, not", a->mode);
    o->from = dba_config_profile_get(c->cfg, a->from);
    if (o->from == NULL) {
        dba_err_set(err, DBA_ENOTFOUND, 404, DBA_BACKUP_CODE, "unknown profile '%s'", a->from);
        dba_err_hint(err, "db-adapter profiles lists the profiles of the configuration.");
        dba_cli_print_err(c, err);
        return DBA_EXIT_FAIL;
    }
    o->to = dba_cli_profile(c, NULL, false);
    if (o->to == NULL)
        return DBA_EXIT_FAIL;
    if (a->confirm && !bk_writable(c, o->to, "a sync into it"))
        return DBA_EXIT_FAIL;
    return DBA_EXIT_OK;
}

int
dba_cli_sync(struct dba_cli *c)
{
    struct bk_args a = { 0 };
    struct dba_err err;
    struct dba_backup_sync_opts o = { 0 };
    dba_err_clear(&err);
    int rc = bk_parse("sync", BK_SYNC, c, &a);
    if (rc == DBA_EXIT_OK)
        rc = bk_sync_args(c, &a, &o, &err);
    if (rc != DBA_EXIT_OK)
        return rc;
    o.tables = a.tables;
    o.user_id = a.user_id;
    o.confirm = a.confirm;
    struct bk_progress prog = { .start_ms = dba_now_ms() };
    o.progress = isatty(2) && !c->json && !a.quiet ? bk_progress : NULL;
    o.progress_arg = &prog;
    json_t *rep = dba_backup_sync(c->cfg, &o, &err);
    bk_progress_end(&prog);
    bool ok = rep != NULL && json_is_true(json_object_get(rep, "ok"));
    if (c->json && rep != NULL)
        dba_cli_print_json(rep);
    else if (rep != NULL)
        bk_print_sync(rep);
    if (!ok && !(c->json && rep != NULL))
        dba_cli_print_err(c, &err);
    json_decref(rep);
    return ok ? DBA_EXIT_OK : DBA_EXIT_FAIL;
}
