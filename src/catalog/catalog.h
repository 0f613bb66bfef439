/* catalog.h - the catalog: the schema cache of the exposed schemas (relations, columns, keys,
   time zones), read from pg_catalog, shared by reference count, and reloaded by the keeper
   thread without stalling requests. */
#ifndef DBA_CATALOG_H
#define DBA_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

struct dba_column {
    char *name;          /* column name */
    char *type;          /* format_type() text, e.g. "character varying(20)", "integer[]" */
    char *base_type;     /* type usable in a record definition (format_type of atttypid, no typmod
                            loss for domains resolved to themselves) */
    bool nullable;       /* !attnotnull */
    char *default_expr;  /* pg_get_expr(adbin) or NULL */
    bool identity;       /* attidentity <> '' */
    bool generated;      /* attgenerated <> '' (stored generated, not writable) */
    bool is_pk;          /* part of the primary key */
    int position;        /* attnum */
};

struct dba_fkey {
    char *name;            /* constraint name */
    char **cols;           /* local columns */
    size_t n_cols;         /* count */
    char *ref_schema;      /* referenced schema */
    char *ref_table;       /* referenced table */
    char **ref_cols;       /* referenced columns */
};

struct dba_unique {
    char *name;            /* constraint or index name */
    char **cols;           /* columns */
    size_t n_cols;         /* count */
};

struct dba_table {
    char *schema;               /* schema name */
    char *name;                 /* relation name */
    bool is_view;               /* view or materialized view */
    bool insertable;            /* table or auto-updatable view */
    struct dba_column *cols;    /* columns in attnum order */
    size_t n_cols;              /* count */
    char **pk;                  /* primary key columns in key order */
    size_t n_pk;                /* count */
    struct dba_unique *uniques; /* unique constraints */
    size_t n_uniques;           /* count */
    struct dba_fkey *fkeys;     /* foreign keys */
    size_t n_fkeys;             /* count */
    double est_rows;            /* pg_class.reltuples, for planned counts */
};

struct dba_catalog {
    char **schemas;             /* exposed schemas, first = default */
    size_t n_schemas;           /* count */
    struct dba_table *tables;   /* every relation of the exposed schemas, sorted by (schema, name) */
    size_t n_tables;            /* count */
    char *server_version;       /* e.g. "15.18" */
    char **timezones;           /* pg_timezone_names, sorted case-insensitively (Prefer: timezone) */
    size_t n_timezones;         /* count */
    /* internal */
    _Atomic int refs;           /* reference count */
};

/* Lookups: borrowed pointers valid while the cache reference is held; NULL when absent. */
const struct dba_table *dba_catalog_table_find(const struct dba_catalog *c, const char *schema,
                                              const char *name);
const struct dba_column *dba_catalog_column_find(const struct dba_table *t, const char *name);
bool dba_catalog_has(const struct dba_catalog *c, const char *schema);
/* The server's spelling of a time zone name (case-insensitive match), or NULL when unknown. */
const char *dba_catalog_timezone(const struct dba_catalog *c, const char *name);
/* Closest table name in schema to `name` (for hints), or NULL. */
const char *dba_catalog_table_suggest(const struct dba_catalog *c, const char *schema,
                                     const char *name);

/* Loads the cache over an open blocking connection (a PGconn *). New object, refs = 1. */
struct dba_catalog *dba_catalog_load(void *pgconn, const char *const *schemas,
                                               size_t n_schemas, struct dba_err *err);
struct dba_catalog *dba_catalog_ref(struct dba_catalog *c);
void dba_catalog_unref(struct dba_catalog *c); /* frees at zero; NULL is a no-op */

/* The keeper: a background thread that owns one blocking connection, loads the cache at start,
   LISTENs on channel "pgrst" and reloads on NOTIFY pgrst ('reload schema' or empty payload) or on
   dba_catalog_keeper_reload(). Requests never wait for it: they keep using the previous cache. */
struct dba_catalog_keeper;
/* Called on the keeper thread with a new cache reference (the callee owns it). */
typedef void (*dba_catalog_keeper_cb)(void *arg, struct dba_catalog *c);
struct dba_catalog_keeper *dba_catalog_keeper_start(const char *conninfo,
                                                  const char *const *schemas, size_t n_schemas,
                                                  dba_catalog_keeper_cb cb, void *arg);
void dba_catalog_keeper_reload(struct dba_catalog_keeper *k); /* thread-safe */
void dba_catalog_keeper_stop(struct dba_catalog_keeper *k);   /* joins; NULL is a no-op */
/* Last load error text ("" when the last load succeeded); copies into buf. */
void dba_catalog_keeper_last_error(struct dba_catalog_keeper *k, char *buf, size_t n);

#endif
