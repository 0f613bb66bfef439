/* schema.h - schema management: the reports shared by the CLI and HTTP faces (profiles, status),
   introspection, the expected-schema filter and scratch database, validate and fix. */
#ifndef DBA_SCHEMA_H
#define DBA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "config/config.h"
#include "core/core.h"


/* Reports shared by the CLI and HTTP faces. */
/* Profiles without secrets: [{name, active, description, location, schemas, pool_size,
   read_only}]. New reference. */
json_t *dba_schema_profiles_json(const struct dba_config *cfg, const struct dba_profile *active);
/* One statement returning one text column: a JSON object {"table": rows, ...} over the cache's
   base tables (schema-qualified when not in the first schema): exact count(*)s, or the planner's
   estimates (pg_class.reltuples; null when the table was never analyzed). New heap string. */
char *dba_schema_rowcount_sql(const struct dba_catalog *c, bool exact);
/* Blocking (CLI or a background task): connects to p, loads its schema cache and counts rows
   (exactly, or estimated). Returns a new object {profile, source, location, reachable,
   server_version?, row_counts?, tables?, error?, details?}; err tells why when reachable is false
   or tables is missing. */
json_t *dba_schema_status_probe(const struct dba_profile *p, const char *source, bool exact,
                                struct dba_err *err);

/* ---- Schema management: introspect, expected schema, validate, fix (blocking; CLI or a task
   thread, never a worker loop). Documents are jansson objects; see docs in each .c file. ---- */

struct pg_conn;

/* Pure: the catalog rendered as the live-schema document: every managed relation
   (dba_catalog_table_managed: no partitions, nothing in exclude) as
   {"server_version", "schemas": [...], "tables": {"schema.name": {schema, name, kind, columns,
   primary_key, uniques, foreign_keys, checks, indexes}}}. New reference. */
json_t *dba_schema_catalog_json(const struct dba_catalog *c,
                                const struct dba_config_strv *exclude);
/* The live schema over an open connection: dba_catalog_load of schemas[0..n), rendered by
   dba_schema_catalog_json. New reference, or NULL with err. */
json_t *dba_schema_introspect(struct pg_conn *pg, const char *const *schemas, size_t n,
                              const struct dba_config_strv *exclude, struct dba_err *err);

/* ---- The expected-schema filter (ddl_filter.c, pure): every statement of an expected schema
   is read by PostgreSQL's parser (libpg_query) and sorted before anything runs. ---- */

/* What happens to one statement. */
enum dba_schema_stmt_action {
    DBA_SCHEMA_STMT_RUN,     /* schema DDL: applied in the scratch database */
    DBA_SCHEMA_STMT_SKIP,    /* owners, grants, pg_dump's psql meta-commands: reported, not run */
    DBA_SCHEMA_STMT_REFUSE,  /* anything else: the whole text is refused, nothing runs */
};

struct dba_schema_stmt {
    enum dba_schema_stmt_action action; /* verdict */
    char kind[96];           /* what it is, e.g. "CREATE TABLE", "GRANT", "SELECT lo_import()" */
    char creates_schema[64]; /* CREATE SCHEMA: the schema's name, else "" */
    int line;                /* 1-based line of its first token */
    size_t off;              /* byte offset of its text in dba_schema_ddl.text */
    size_t len;              /* byte length of its text */
};

struct dba_schema_ddl {
    char *text;                     /* the input with meta-command lines blanked (owned) */
    struct dba_schema_stmt *stmts;  /* every statement and meta-command, in text order (owned) */
    size_t n;                       /* count */
    /* internal */
    size_t cap;                     /* allocated */
};

/* Parses sql and sorts its statements into d (always initialised; dba_schema_ddl_cleanup it).
   allowed: the extensions CREATE EXTENSION IF NOT EXISTS may name (borrowed, may be NULL = none).
   DBA_OK, or DBA_EINVAL (HTTP 422) when a statement is refused (err names its kind and line,
   code DBA024) or the text is not SQL (PostgreSQL's message and the line, code DBA020). */
DBA_MUSTCHECK int dba_schema_ddl_filter(const char *sql, const struct dba_config_strv *allowed,
                                        struct dba_schema_ddl *d, struct dba_err *err);
void dba_schema_ddl_cleanup(struct dba_schema_ddl *d);
/* The skipped statements as [{line, statement}]. New reference. */
json_t *dba_schema_ddl_skipped(const struct dba_schema_ddl *d);

/* The expected schema: sql (the text of a schema.sql) filtered (dba_schema_ddl_filter), then
   its runnable statements applied by PostgreSQL itself in a scratch database created from
   template0 next to the live one, as a NOLOGIN role that owns it and nothing else (database and
   role always dropped), then introspected like the live one. Unqualified names land in
   schemas[0]. A refused statement, or one PostgreSQL rejects, gives DBA_EINVAL naming the line.
   *skipped (when non-NULL) gets the skipped statements (new reference). New reference or NULL. */
json_t *dba_schema_expected(struct pg_conn *live, const char *conninfo, const char *sql,
                            const char *const *schemas, size_t n,
                            const struct dba_config_strv *exclude,
                            const struct dba_config_strv *allowed_extensions, json_t **skipped,
                            struct dba_err *err);
/* Reads a schema file into a new heap string; NULL with err (DBA_ENOTFOUND) when unreadable. */
char *dba_schema_file_read(const char *path, struct dba_err *err);

/* Pure: compares expected with live. New report {valid, error_count, warning_count,
   missing_tables, missing_columns, type_mismatches, extra_tables, extra_columns,
   nullability_differences, default_differences, missing_constraints, missing_indexes}. */
json_t *dba_schema_diff(const json_t *expected, const json_t *live);

/* Pure: the fix plan for a report. nonempty lists the tables ("schema.name") that have rows
   (borrowed, may be NULL = none). New object {ok, statements: [{sql, action, table}],
   refused: [{table, column, reason, choices}], not_fixed: [...]}; ok is false when refused. */
json_t *dba_schema_fix_plan(const json_t *report, const json_t *expected, const json_t *nonempty);
/* Tables of the plan that already exist and so would be touched (new array of names). */
json_t *dba_schema_fix_touched(const json_t *plan, const json_t *report);
/* Runs the plan's statements in one transaction. DBA_OK, or an error naming the failing
   statement (1-based index in *failed, 0 when not a statement) after a full rollback. */
DBA_MUSTCHECK int dba_schema_fix_apply(struct pg_conn *pg, const json_t *plan, int *failed,
                                       struct dba_err *err);

/* Where the expected schema comes from: sql text if non-NULL, else the file at path. */
struct dba_schema_src {
    const char *sql;     /* schema SQL text, or NULL */
    const char *path;    /* file to read when sql is NULL */
};

/* GET /schema and `db-adapter schema`: connects to p and introspects. New reference or NULL. */
json_t *dba_schema_live(const struct dba_config *cfg, const struct dba_profile *p,
                        struct dba_err *err);
/* POST /schema/validate and `db-adapter validate`: the diff report for profile p, plus
   "schema_file" when read from a file. New reference or NULL with err. */
json_t *dba_schema_validate(const struct dba_config *cfg, const struct dba_profile *p,
                            const struct dba_schema_src *src, struct dba_err *err);

/* The pre-fix backup, supplied by the face (backup/'s dba_backup_prefix): schema management and
   backup are siblings, so fix never calls backup/ itself. Writes the rows of tables (array of
   "schema.name", borrowed) read over pg (idle, the connection the fix will apply on) to a file;
   returns its path (new heap string) or NULL with err. */
typedef char *(*dba_schema_backup_cb)(void *arg, struct pg_conn *pg, const char *profile,
                                      const json_t *tables, const char *first_schema,
                                      struct dba_err *err);

struct dba_schema_fix_opts {
    struct dba_schema_src src;      /* expected schema */
    bool confirm;                   /* apply (else plan only) */
    bool backup;                    /* write the pre-fix backup before applying */
    dba_schema_backup_cb backup_cb; /* writes it (required when backup and confirm) */
    void *backup_arg;               /* its argument */
};
/* POST /schema/fix and `db-adapter fix`: {report, plan, applied, backup?, failed_statement?,
   after?}. Returns NULL with err only when nothing could be computed; an apply failure is a
   returned document with "applied": false and "error", plus err filled. */
json_t *dba_schema_fix(const struct dba_config *cfg, const struct dba_profile *p,
                       const struct dba_schema_fix_opts *o, struct dba_err *err);

#endif
