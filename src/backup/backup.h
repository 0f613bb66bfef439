/* backup.h - backup, restore, validate-backup and cross-profile sync over one backup schema. */
#ifndef DBA_BACKUP_H
#define DBA_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "core/core.h"
#include "catalog/catalog.h"

struct pg_conn;

/*
 * The document is the Python original's (version "1.1"): {"metadata": {version, created_at,
 * user_id, backup_type, <table>_count..., profile, server_version}, "<table>": [rows...], ...}.
 * This program adds to the metadata "db_schema" (the PostgreSQL schema the rows were read from),
 * "format" and "schema" (the backup schema); readers treat all three as optional.
 * The jsonl form is one object a line: {"metadata": {...}} first, then {"table": T, "row": {...}}
 * grouped by table in dependency order.
 */
#define DBA_BACKUP_VERSION "1.1"
#define DBA_BACKUP_CODE "DBA040" /* err->pgrst for backup and restore failures */

/* A reference from a child column to a parent table (the original's ForeignKey). */
struct dba_backup_ref {
    char *table; /* referenced (parent) table, owned; NULL = no reference */
    char *field; /* referencing column in the child, owned */
};

/* One table of the backup schema (the original's TableDef). */
struct dba_backup_table {
    char *name;                  /* table name (the document's key), owned */
    char *nsp;                   /* schema it is read from when not the dump's (pre-fix backups
                                    span schemas), owned, or NULL */
    char *rel;                   /* relation name when it differs from name, owned, or NULL */
    char *pk;                    /* primary key column, default "id", owned */
    char *slug;                  /* matching column, or NULL to match by pk, owned */
    char *user_field;            /* user scoping column, or NULL, owned */
    struct dba_backup_ref parent; /* required parent (rows skipped when unmapped) */
    struct dba_backup_ref *opt;  /* optional references (nulled when unmapped), owned */
    size_t n_opt;                /* count */
};

/* Tables in dependency order, parents first. */
struct dba_backup_schema {
    struct dba_backup_table *tables; /* owned */
    size_t n;                        /* count */
    bool derived;                    /* built from the schema cache, not declared */
};

void dba_backup_schema_free(struct dba_backup_schema *s); /* NULL is a no-op */
/* Index of the table called name, or -1. */
int dba_backup_schema_find(const struct dba_backup_schema *s, const char *name);

/* The original's JSON shape {"tables":[{name,pk?,slug?,user_field?,parent?,optional_refs?}]}.
   New schema (ordered, cycle-checked) or NULL with err (DBA_EINVAL). */
struct dba_backup_schema *dba_backup_schema_from_json(const json_t *doc, struct dba_err *err);
/* The `backup` group of the configuration, or the JSON file named by schema.backup_schema.
   DBA_OK with *out NULL when neither is declared; DBA_EINVAL on a bad declaration. */
DBA_MUSTCHECK int dba_backup_schema_from_config(const struct dba_config *cfg,
                                                struct dba_backup_schema **out,
                                                struct dba_err *err);
/* Every base table of schema `nsp` in the cache, parents first from the foreign keys (NOT NULL
   single-column FK = parent, nullable = optional), matched by a unique `slug` column when there is
   one, else by primary key. Tables without a single-column primary key are left out. */
struct dba_backup_schema *dba_backup_schema_derive(const struct dba_catalog *c,
                                                   const char *nsp, struct dba_err *err);
/* Stable topological sort of s (parents and optional references before their children; a table's
   references to itself are ignored). DBA_OK, or DBA_EINVAL naming the cycle ("a -> b -> a"). */
DBA_MUSTCHECK int dba_backup_schema_order(struct dba_backup_schema *s, struct dba_err *err);
/* Keeps only the tables named in list (comma-separated); unknown names are an error. Adds a
   warning string to warnings (a JSON array) for each kept child whose parent was left out. */
DBA_MUSTCHECK int dba_backup_schema_filter(struct dba_backup_schema *s, const char *list,
                                           json_t *warnings, struct dba_err *err);
/* Schema to validate or restore a backup with: declared in cfg (may be NULL), else the one
   recorded in the backup's metadata (meta, may be NULL), else derived from cache (may be NULL)
   narrowed to the tables meta counts, else one table per top-level array of text (may be NULL),
   matched by "id". New schema or NULL with err. */
struct dba_backup_schema *dba_backup_schema_for(const struct dba_config *cfg, const json_t *meta,
                                                const char *text, size_t len,
                                                const struct dba_catalog *cache,
                                                const char *nsp, struct dba_err *err);
/* The schema to back up profile p with (conn: a PGconn * to it): declared in cfg, else derived
   from p's schema cache (first exposed schema). New schema or NULL with err. */
struct dba_backup_schema *dba_backup_schema_live(const struct dba_config *cfg,
                                                 const struct dba_profile *p, void *conn,
                                                 struct dba_err *err);
/* The metadata object of the backup file at path (jsonl: its first line; JSON: the document's),
   new reference, or NULL. *text (free it with dba_backup_text_free) receives the document's
   text when the file is not jsonl, else NULL. */
json_t *dba_backup_file_metadata(const char *path, char **text, size_t *len, struct dba_err *err);
/* Frees a text from dba_backup_file_metadata (mapped, not read: memory stays flat). */
void dba_backup_text_free(char *text);
/* Checks that the file at path exists and is a backup: jsonl whose first line is the metadata,
   or a well-formed JSON object (checked without building a tree). DBA_OK, or DBA_EIO (missing,
   unreadable) / DBA_EINVAL (malformed) with err naming the file. */
DBA_MUSTCHECK int dba_backup_file_check(const char *path, struct dba_err *err);
/* The metadata object of a document's text (an empty object when absent); new reference. */
json_t *dba_backup_text_metadata(const char *text, size_t len);
/* The schema as the original's JSON shape; new reference. */
json_t *dba_backup_schema_json(const struct dba_backup_schema *s);

/* ---- validate (pure) ---- */
/* Incremental validator, so jsonl documents are checked without loading them whole. */
struct dba_backup_validator;
struct dba_backup_validator *dba_backup_validator_new(const struct dba_backup_schema *s);
void dba_backup_validator_free(struct dba_backup_validator *v); /* NULL is a no-op */
void dba_backup_validator_metadata(struct dba_backup_validator *v, const json_t *meta);
/* Feeds one row of table (borrowed). Rows of a table must come after its parent's. */
void dba_backup_validator_row(struct dba_backup_validator *v, const char *table, const json_t *row);
/* Notes that the document holds table (an array, possibly empty). */
void dba_backup_validator_table(struct dba_backup_validator *v, const char *table);
/* Adds an error line (for parse failures found by the caller). */
void dba_backup_validator_error(struct dba_backup_validator *v, const char *msg);
/* {"valid": bool, "errors": [...], "warnings": [...], "tables": {t: rows}}; new reference. */
json_t *dba_backup_validator_finish(struct dba_backup_validator *v);
/* Validates a whole document's text; new reference as above. */
json_t *dba_backup_validate_text(const struct dba_backup_schema *s, const char *text, size_t len);
/* Validates the file at path: a JSON document, or jsonl when it starts with a metadata line. */
json_t *dba_backup_validate_file(const struct dba_backup_schema *s, const char *path);

/* ---- backup (blocking: CLI or a task thread) ---- */
/* Receives the document's bytes in order; returns 0, or non-zero to stop (the backup fails). */
typedef int (*dba_backup_write_cb)(void *arg, const char *p, size_t n);
/* Progress: called every few thousand rows and at the end of each table. */
typedef void (*dba_backup_progress_cb)(void *arg, const char *table, int64_t done, int64_t total);

struct dba_backup_opts {
    const char *profile;          /* profile name written to the metadata */
    const char *user_id;          /* scope to this user (tables with user_field), or NULL */
    const char *nsp;              /* schema the tables are read from (NULL = "public"); every
                                     statement names it, and the metadata records it
                                     ("db_schema") */
    bool jsonl;                   /* one object a line instead of one document */
    const char *backup_type;      /* metadata backup_type, or NULL ("user" when scoped, else
                                     "full") */
    dba_backup_write_cb write;    /* output */
    void *write_arg;              /* its argument */
    dba_backup_progress_cb progress; /* or NULL */
    void *progress_arg;           /* its argument */
};

/* Writes a backup of s read from conn (a PGconn *) inside one REPEATABLE READ READ ONLY
   transaction, streaming rows through o->write from COPY's text, rendered as row_to_json would (render.c),
   so memory stays flat.
   Returns a new summary {"tables": {t: rows}, "rows": n} or NULL with err. */
json_t *dba_backup_dump(void *conn, const struct dba_backup_schema *s,
                        const struct dba_backup_opts *o, struct dba_err *err);

/* A write callback (o->write) into a gzFile (arg), for backups written gzip-compressed. */
int dba_backup_write_gz(void *arg, const char *p, size_t n);

/* dba_backup_dump into the file at path: written under path.part, flushed to disk and renamed,
   so a failed backup leaves nothing behind; gzip-compressed when path ends with ".gz". Sets
   o->write/write_arg. Summary or NULL with err. */
json_t *dba_backup_dump_file(void *conn, const struct dba_backup_schema *s,
                             struct dba_backup_opts *o, const char *path, struct dba_err *err);

/* The pre-fix backup of a confirmed schema fix (its signature is schema/'s dba_schema_backup_cb;
   the faces hand it to dba_schema_fix, so schema management never includes backup/). arg: the
   directory (const char *, NULL = "backups"). Streams the rows of tables (array of "schema.name",
   borrowed; keyed by bare name in first_schema, else "schema.name") with dba_backup_dump to
   <dir>/pre-fix-<profile>-<UTC time>.json, backup_type "pre-fix", each table ordered and keyed
   (for validate-backup) by its primary key (its first column when it has none). Returns the path
   (new heap string) or NULL with err; nothing is left on failure. */
char *dba_backup_prefix(void *arg, struct pg_conn *pg, const char *profile, const json_t *tables,
                        const char *first_schema, struct dba_err *err);

/* ---- streams and compression ---- */
/* True when path names a gzip-compressed backup (ends with ".gz"). */
bool dba_backup_path_gz(const char *path);
/* True when path must be spooled before it is read: "-" (standard input) or a .gz file. */
bool dba_backup_path_spooled(const char *path);
/* Copies the backup at path ("-" = standard input; gzip-compressed input is decompressed, plain
   input copied as is) into a new temporary file under $TMPDIR (/tmp) and returns its path (heap;
   the caller unlinks and frees it), or NULL with err. */
char *dba_backup_spool(const char *path, struct dba_err *err);

/* ---- restore (blocking) ---- */
enum dba_backup_mode {
    DBA_BACKUP_SKIP,      /* existing rows are left alone */
    DBA_BACKUP_OVERWRITE, /* existing rows get every column but the pk */
    DBA_BACKUP_FAIL,      /* an existing row aborts the whole restore */
};
/* "skip" | "overwrite" | "fail" -> mode; DBA_OK or DBA_EINVAL. */
DBA_MUSTCHECK int dba_backup_mode_parse(const char *s, enum dba_backup_mode *out,
                                        struct dba_err *err);

struct dba_backup_restore_opts {
    enum dba_backup_mode mode;    /* see enum */
    bool dry_run;                 /* run everything, then roll back */
    const char *user_id;          /* sets user_field on every row, or NULL */
    const char *const *schemas;   /* target's exposed schemas (first = tables' schema) */
    size_t n_schemas;             /* count */
    dba_backup_progress_cb progress; /* or NULL: called after each batch with the table's rows
                                        done and expected */
    void *progress_arg;           /* its argument */
    const json_t *validated;      /* the caller's validation report of this document (valid):
                                     not validated again; its "tables" counts are the expected
                                     rows. NULL: validated here */
};

/* Restores a whole document's text into conn in one transaction: parents first, rows
   matched by slug (+ user, + parent) or pk, new keys from the target's sequences, old->new ids
   remapped in children. Returns a new report {"ok", "dry_run", "mode", "tables": {t: {inserted,
   updated, skipped}}, "failed"?: {table, row_index, old_pk, error}, "validation"?}; "ok" false
   (and err filled) when nothing was written because of an error. */
json_t *dba_backup_restore(void *conn, const struct dba_backup_schema *s, const char *text,
                           size_t len, const struct dba_backup_restore_opts *o,
                           struct dba_err *err);
/* As dba_backup_restore for a file (JSON document or jsonl, read line by line). */
json_t *dba_backup_restore_file(void *conn, const struct dba_backup_schema *s, const char *path,
                                const struct dba_backup_restore_opts *o, struct dba_err *err);

/* ---- sync (blocking) ---- */
struct dba_backup_sync_opts {
    const struct dba_profile *from;  /* source profile */
    const struct dba_profile *to;    /* destination (active) profile */
    const char *tables;              /* comma-separated list, or NULL (then sync.tables) */
    const char *user_id;             /* scope, or NULL */
    enum dba_backup_mode mode;       /* skip or overwrite */
    bool confirm;                    /* apply; otherwise plan only */
    dba_backup_progress_cb progress; /* or NULL: the source's rows read, then the rows written
                                        (planned without --confirm), per table */
    void *progress_arg;              /* its argument */
};
/* Plans (per table: source, destination, new, update, unchanged) and, with confirm, copies rows
   from `from` into `to` with the restore machinery in one destination transaction. New report
   {"ok", "from", "to", "applied", "plan": {...}, "result"?} or NULL with err. */
json_t *dba_backup_sync(const struct dba_config *cfg, const struct dba_backup_sync_opts *o,
                        struct dba_err *err);

#endif
