/* catalog.h - the catalog: the ONE reader of pg_catalog and the ONE model of the exposed schemas
   (relations, columns with type details, keys, checks, indexes, time zones). Requests resolve
   names in it; schema management renders it as the live-schema document (GET /schema, validate,
   fix); backup derives its backup schema from it. Shared by reference count and reloaded by the
   keeper thread without stalling requests.

   Every text in it (types, defaults, definitions) is printed with search_path = pg_catalog, so
   user types, sequences and referenced tables are schema-qualified and valid under any
   search_path. */
#ifndef DBA_CATALOG_H
#define DBA_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/core.h"

struct dba_function;

/*
 * A domain representation (PostgREST's "data representations"): a domain with implicit casts
 * WITH FUNCTION between it and json or text changes how its columns are read and written.
 * The functions are schema-qualified and quoted ("s"."f"), ready for SQL text; NULL when the
 * cast is not declared (or the loading role may not execute its function).
 */
struct dba_repr {
    char *type;      /* the domain, format_type(oid, NULL) (as dba_column.base_type) */
    char *to_json;   /* CREATE CAST (domain AS json): applied to the column in JSON output */
    char *from_json; /* CREATE CAST (json AS domain): parses a JSON body value (as json) */
    char *from_text; /* CREATE CAST (text AS domain): parses a query string filter value */
};

struct dba_column {
    char *name;          /* column name */
    char *type;          /* format_type() text, e.g. "character varying(20)", "integer[]" */
    char *base_type;     /* type usable in a record definition (format_type of atttypid, no typmod
                            loss for domains resolved to themselves) */
    bool nullable;       /* !attnotnull */
    char *default_expr;  /* pg_get_expr(adbin) or NULL */
    bool identity;       /* attidentity <> '' */
    char identity_kind;  /* attidentity: 'a' (always), 'd' (by default) or 0 */
    bool generated;      /* attgenerated <> '' (stored generated, not writable); default_expr is
                            then the generation expression */
    bool serial;         /* owns a sequence (serial/bigserial) and is not an identity */
    bool is_pk;          /* part of the primary key */
    int position;        /* attnum */
    char type_category;  /* pg_type.typcategory: 'N' numeric, 'S' string, 'A' array, 'E' enum,
                            'B' boolean, 'D' date/time, 'U' user (json, uuid...), ... */
    char *elem_type;     /* arrays: format_type() of the element type, else NULL */
    char **enum_labels;  /* enums: labels in sort order, else NULL */
    size_t n_enum_labels; /* count */
    const struct dba_function *function; /* a computed column (dba_table.computed): the function
                            f(<table row>) it calls; name, type and type_category are the
                            function's (borrowed, not owned). NULL for a real column */
    char *comment;       /* COMMENT ON COLUMN, or NULL */
    int max_len;         /* character/character varying: the declared length, else 0 */
    bool view_key;       /* a view's column showing a primary key column of its base relation
                            (PostgREST's view primary key), for OpenAPI notes */
    const struct dba_repr *repr; /* the representation of the column's domain type
                            (dba_catalog.reprs, borrowed), or NULL */
};

struct dba_fkey {
    char *name;            /* constraint name */
    char **cols;           /* local columns */
    size_t n_cols;         /* count */
    char *ref_schema;      /* referenced schema */
    char *ref_table;       /* referenced table */
    char **ref_cols;       /* referenced columns */
    char on_update;        /* confupdtype: 'a' no action, 'r' restrict, 'c' cascade, 'n' set null,
                              'd' set default */
    char on_delete;        /* confdeltype, as on_update */
    char *definition;      /* pg_get_constraintdef() */
};

/* A unique, primary key or check constraint. */
struct dba_unique {
    char *name;            /* constraint name */
    char **cols;           /* columns (conkey order); none for a check without columns */
    size_t n_cols;         /* count */
    char *definition;      /* pg_get_constraintdef() */
};

struct dba_index {
    char *name;            /* index name */
    bool unique;           /* indisunique */
    char *method;          /* access method, e.g. "btree" */
    char **cols;           /* key columns or expressions (pg_get_indexdef per key) */
    size_t n_cols;         /* count */
    char *predicate;       /* partial index predicate, or NULL */
    char *constraint;      /* the primary key, unique or exclusion constraint it backs, or NULL */
    char *definition;      /* pg_get_indexdef() */
};

/* A trigger on a relation (pg_trigger, not internal ones such as foreign key triggers). */
struct dba_trigger {
    char *name;          /* tgname */
    char *timing;        /* "BEFORE", "AFTER" or "INSTEAD OF" */
    char *events;        /* "INSERT", "UPDATE", "DELETE", "TRUNCATE" joined with " OR " */
    bool for_each_row;   /* FOR EACH ROW (else FOR EACH STATEMENT) */
    bool enabled;        /* tgenabled <> 'D' */
    char *function;      /* the trigger function, schema-qualified (regproc text) */
    char *definition;    /* pg_get_triggerdef() */
};

/* How a relationship's rows relate (PostgREST's cardinalities). */
enum dba_card {
    DBA_CARD_M2O, /* many-to-one: this table holds the foreign key to the target */
    DBA_CARD_O2M, /* one-to-many: the target holds a foreign key to this table */
    DBA_CARD_O2O, /* one-to-one: a foreign key whose columns are also unique or the primary key
                     (either direction; `fk_here` says which side holds it) */
    DBA_CARD_M2M, /* many-to-many through a junction table with foreign keys to both sides */
};

struct dba_table;

/*
 * One relationship from a relation (`table`) to another (`target`), derived from foreign keys
 * when the catalog loads (both directions; views inherit the relationships of their base tables
 * for the key columns they expose). Rows relate when table.cols[i] = target.target_cols[i] for
 * every i (M2O/O2M/O2O), or for M2M when a junction row has junction.junction_cols[i] =
 * table.cols[i] and junction.junction_target_cols[j] = target.target_cols[j].
 * Every pointer is owned by the catalog and valid while the catalog reference is held.
 */
struct dba_relationship {
    const struct dba_table *table;   /* the relation the relationship starts from */
    const struct dba_table *target;  /* the related relation */
    enum dba_card card;              /* cardinality seen from `table` */
    bool fk_here;                    /* O2O: the foreign key is on `table` (else on `target`) */
    bool self;                       /* table == target (a self-reference) */
    const char *constraint;          /* the foreign key's name (M2M: the junction's key to
                                        `table`) */
    const char **cols;               /* columns of `table` */
    const char **target_cols;        /* columns of `target`, same order */
    size_t n_cols;                   /* count of the two above */
    /* M2M only: */
    const struct dba_table *junction;   /* the junction relation */
    const char *target_constraint;      /* the junction's foreign key to `target` */
    const char **junction_cols;         /* junction columns referencing table.cols, same order */
    const char **junction_target_cols;  /* junction columns referencing target.target_cols */
    size_t n_target_cols;               /* count of target_cols for M2M (target_cols holds that
                                           many); for M2M, n_cols counts cols/junction_cols */
    /* Computed relationships only (dba_table.crels; no columns, n_cols = 0): */
    const struct dba_function *function; /* f(<table row>) RETURNS [SETOF] <target row>: the
                                           target's rows are f(row of table); card is M2O when it
                                           returns one row (not SETOF, or SETOF with ROWS 1),
                                           else O2M. NULL for a foreign key relationship */
};

struct dba_table {
    char *schema;               /* schema name */
    char *name;                 /* relation name */
    char kind;                  /* relkind: 'r' table, 'p' partitioned, 'v' view,
                                   'm' materialized view, 'f' foreign table */
    bool is_view;               /* view or materialized view */
    bool is_partition;          /* a partition of another table (relispartition) */
    bool insertable;            /* table or auto-updatable view */
    struct dba_column *cols;    /* columns in attnum order */
    size_t n_cols;              /* count */
    char **pk;                  /* primary key columns in key order */
    size_t n_pk;                /* count */
    struct dba_unique *pkey;    /* the primary key constraint (name, definition), or NULL */
    struct dba_unique *uniques; /* unique constraints */
    size_t n_uniques;           /* count */
    struct dba_fkey *fkeys;     /* foreign keys */
    size_t n_fkeys;             /* count */
    struct dba_unique *checks;  /* check constraints */
    size_t n_checks;            /* count */
    struct dba_index *indexes;  /* indexes, by name */
    size_t n_indexes;           /* count */
    double est_rows;            /* pg_class.reltuples, for planned counts */
    struct dba_relationship *rels; /* relationships starting from this relation */
    size_t n_rels;              /* count */
    /* PostgREST's computed columns and relationships (functions.c): functions of the relation's
       schema with a single input of this relation's row type. */
    struct dba_column *computed; /* computed columns: such functions returning one value (not
                                    SETOF, not void), selectable, filterable and orderable by the
                                    function's name (never part of '*' nor writable) */
    size_t n_computed;          /* count */
    struct dba_relationship *crels; /* computed relationships: such functions returning [SETOF]
                                    the row type of a relation of the exposed schemas, embeddable
                                    by the function's name; they take precedence over foreign key
                                    relationships of the same name (PostgREST) */
    size_t n_crels;             /* count */
    struct dba_trigger *triggers; /* triggers, by name */
    size_t n_triggers;          /* count */
    char *comment;              /* COMMENT ON TABLE/VIEW, or NULL */
    char *owner;                /* the owning role */
    char **grantees;            /* roles holding any privilege on the relation or one of its
                                   columns ("" = PUBLIC), from relacl/attacl (acldefault when
                                   NULL), sorted; for OpenAPI's follow-privileges mode */
    size_t n_grantees;          /* count */
};

/* ---- Functions (functions.c): every function of the exposed schemas, from pg_proc ---- */

enum dba_arg_mode {
    DBA_ARG_IN,       /* IN: an input */
    DBA_ARG_OUT,      /* OUT: a column of the result */
    DBA_ARG_INOUT,    /* INOUT: both */
    DBA_ARG_VARIADIC, /* VARIADIC: the last input, an array */
    DBA_ARG_TABLE,    /* RETURNS TABLE (...) column: a column of the result */
};

/* One declared argument of a function (pg_proc.proallargtypes order). */
struct dba_func_arg {
    char *name;             /* proargnames entry, "" when unnamed */
    char *type;             /* format_type(t, NULL), schema-qualified user types: the cast of
                               the bound value */
    enum dba_arg_mode mode; /* proargmodes entry */
    bool required;          /* an input without a default (the last pronargdefaults inputs have
                               one) */
    char type_category;     /* pg_type.typcategory of type */
};

/* What a call answers. */
enum dba_func_ret {
    DBA_FRET_SCALAR,    /* a base/domain/array/pseudo type: the JSON value (SETOF: an array) */
    DBA_FRET_COMPOSITE, /* a row: a table's or composite type's row, OUT/INOUT params or
                           RETURNS TABLE: an object (SETOF: an array of objects) */
    DBA_FRET_VOID,      /* void: 204 No Content */
};

/* One function (one overload). Overloads of a name sit next to each other in
   dba_catalog.functions, in pg_proc oid order. */
struct dba_function {
    char *schema;                 /* pronamespace */
    char *name;                   /* proname */
    struct dba_func_arg *args;    /* every declared argument, declaration order */
    size_t n_args;                /* count */
    size_t n_in;                  /* inputs among them (IN, INOUT, VARIADIC) */
    bool variadic;                /* the last input is VARIADIC */
    char *ret_type;               /* format_type(prorettype, NULL), e.g. "integer", "SETOF" not
                                     included (see ret_set) */
    bool ret_set;                 /* proretset: SETOF / RETURNS TABLE */
    enum dba_func_ret ret_kind;   /* see enum */
    const struct dba_table *ret_table; /* never NULL: the result's columns. The relation of the
                                     exposed schemas whose row type the function returns, else a
                                     table of the function's own (composite type, OUT params,
                                     TABLE(...); none for a scalar or void), named after the
                                     type or the function */
    char volatility;              /* provolatile: 'i' immutable, 's' stable, 'v' volatile */
    char *language;               /* pg_language.lanname */
    char *arguments;              /* pg_get_function_arguments(): "a integer, b text DEFAULT 'x'" */
    char *result;                 /* pg_get_function_result(): "SETOF api.books", "TABLE(...)" */
    double rows;                  /* prorows: the planner's estimate of rows for SETOF */
    const struct dba_table *arg_table; /* the relation whose row type is the first input, or
                                     NULL (computed columns and relationships) */
    char *comment;                /* COMMENT ON FUNCTION, or NULL (load.c) */
    char *owner;                  /* the owning role (load.c) */
    char **grantees;              /* roles holding EXECUTE ("" = PUBLIC), from proacl
                                     (acldefault when NULL), sorted (load.c) */
    size_t n_grantees;            /* count */
    /* internal */
    struct dba_table *own_ret;    /* ret_table when the function owns it, else NULL */
};

/* A database role (pg_roles), for OpenAPI's follow-privileges mode: which relations and
   functions a role may see is decided from the grantees above and these, without a query. */
struct dba_role {
    char *name;                   /* rolname */
    bool super;                   /* rolsuper: holds every privilege */
    char **inherits;              /* roles it is a direct member of and inherits privileges from
                                     (PostgreSQL 16+: the grant's inherit option; 15: rolinherit) */
    size_t n_inherits;            /* count */
};

/*
 * A media type handler (PostgREST's custom media types): a domain named after a media type
 * ("text/plain", "application/vnd.geo2+json", or the any type "*" "/" "*") decides the response
 * body for that Accept.
 * Either an aggregate of an exposed schema over a relation's row type (or anyelement) returning
 * the domain — the body is the aggregate of the rows — or a function of an exposed schema
 * returning the domain (not SETOF) — the body is its value.
 */
struct dba_media_handler {
    char *media_type;    /* the domain's name, lower case: the Accept range it answers */
    char *content_type;  /* the response's media type: the domain's name, application/octet-stream
                            for the any type */
    char *base;          /* the domain's base type name (pg_type.typname): "bytea", "jsonb"... */
    char *agg;           /* an aggregate: quoted "s"."f"; NULL for a function returning the domain */
    char *schema;        /* the relation (aggregate) or function it applies to; NULL with name for
                            an aggregate over anyelement (every relation and call) */
    char *name;          /* see schema */
};

struct dba_catalog {
    char **schemas;             /* exposed schemas, first = default */
    size_t n_schemas;           /* count */
    struct dba_table *tables;   /* every relation of the exposed schemas, sorted by (schema, name) */
    size_t n_tables;            /* count */
    char *server_version;       /* e.g. "15.18" */
    struct dba_function *functions; /* every function of the exposed schemas, sorted by
                                       (schema, name), overloads adjacent in oid order */
    size_t n_functions;         /* count */
    char **timezones;           /* pg_timezone_names, sorted case-insensitively (Prefer: timezone) */
    size_t n_timezones;         /* count */
    char **schema_comments;     /* COMMENT ON SCHEMA per entry of schemas (NULL when none) */
    struct dba_role *roles;     /* every role, sorted by name (strcmp) */
    size_t n_roles;             /* count */
    char *login_role;           /* current_user of the loading connection */
    /* A rendering attached by the catalog's user before the catalog is shared (the server's
       keeper callback attaches the OpenAPI model), released with the catalog. */
    void *ext;                  /* NULL when none */
    void (*ext_free)(void *ext); /* releases ext */
    struct dba_repr *reprs;     /* domain representations of any schema, sorted by type; every
                                   column (relations, computed columns, functions' own result
                                   tables) of such a domain points at its entry */
    size_t n_reprs;             /* count */
    struct dba_media_handler *media; /* media type handlers, in load order */
    size_t n_media;             /* count */
    char *geojson;              /* PostGIS's ST_AsGeoJSON(record) (PostGIS 3+, any schema), quoted
                                   "s"."st_asgeojson", for application/geo+json; NULL without */
    /* internal */
    _Atomic int refs;           /* reference count */
};

/* The role named `name`, or NULL. */
const struct dba_role *dba_catalog_role_find(const struct dba_catalog *c, const char *name);

/* Lookups: borrowed pointers valid while the cache reference is held; NULL when absent. */
const struct dba_table *dba_catalog_table_find(const struct dba_catalog *c, const char *schema,
                                              const char *name);
const struct dba_column *dba_catalog_column_find(const struct dba_table *t, const char *name);
/* The computed column `name` of t (dba_table.computed), or NULL. */
const struct dba_column *dba_catalog_computed_find(const struct dba_table *t, const char *name);
bool dba_catalog_has(const struct dba_catalog *c, const char *schema);
/* The server's spelling of a time zone name (case-insensitive match), or NULL when unknown. */
const char *dba_catalog_timezone(const struct dba_catalog *c, const char *name);
/* Closest table name in schema to `name` (for hints), or NULL. */
const char *dba_catalog_table_suggest(const struct dba_catalog *c, const char *schema,
                                     const char *name);

/*
 * Resolves an embedding `target[!hint]` in select= of relation `from` the way PostgREST does
 * (target = a relation name, a foreign key name or a single foreign key column; hint = a foreign
 * key name, a column of either side, or a junction name). One match: *out = it, DBA_OK. None:
 * 400 PGRST200 "Could not find a relationship between 'from' and 'target' in the schema cache"
 * with PostgREST's details and hint. Several: 300 PGRST201 with the candidates as a JSON array in
 * err->detail (err->detail_json set) and PostgREST's hint. Many-to-many candidates a client
 * cannot tell apart (junctions of one name and the same keys in several schemas, e.g. views in
 * other exposed schemas over one junction table) count once: the junction in from's schema, else
 * a table before a view.
 */
DBA_MUSTCHECK int dba_catalog_relationship_find(const struct dba_catalog *c,
                                                const struct dba_table *from, const char *target,
                                                const char *hint,
                                                const struct dba_relationship **out,
                                                struct dba_err *err);

/* The overloads of schema.name: a pointer to the first (borrowed while the cache reference is
   held) and their count in *n; NULL with *n = 0 when there is none. */
const struct dba_function *dba_catalog_function_find(const struct dba_catalog *c,
                                                     const char *schema, const char *name,
                                                     size_t *n);
/* The media type handler for media_type (lower case, without parameters) of the relation or
   function schema.name (schema and name NULL: the handlers over anyelement), or NULL. */
const struct dba_media_handler *dba_catalog_media_find(const struct dba_catalog *c,
                                                       const char *schema, const char *name,
                                                       const char *media_type);
/* Closest function name in schema to `name` with a similarity of at least 0.75 (PostgREST's
   hint for an unknown function), or NULL. */
const char *dba_catalog_function_suggest(const struct dba_catalog *c, const char *schema,
                                         const char *name);
/* 1 - edit distance / longer length: 1.0 for equal names, 0.0 for nothing in common (names
   longer than 64 bytes compare as unrelated). For hints. */
double dba_catalog_similarity(const char *a, const char *b);

/* The one relation filter of schema management (introspection, validate, fix): true when t is
   managed, i.e. not a partition and not named in exclude ("t" or "schema.t"; may be NULL). */
bool dba_catalog_table_managed(const struct dba_table *t, const struct dba_config_strv *exclude);

/* Loads the catalog over an open blocking connection (a PGconn *) in nine queries for the whole
   database (relations and columns, constraints, indexes, time zones, view rules for the
   relationships with relation comments and grantees, functions, triggers, function comments
   and grantees, roles, domain representations, media type handlers), inside a read-only
   transaction (or a savepoint when the connection is already in one) with search_path =
   pg_catalog. New object, refs = 1, or NULL with err. */
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
/* Loads and reloads so far, for /metrics (thread-safe; k NULL gives zeros). */
struct dba_catalog_keeper_stats {
    uint64_t loads;        /* successful loads */
    uint64_t failures;     /* failed loads */
    uint64_t reloads;      /* reloads asked for (NOTIFY, SIGHUP, /schema/reload) */
    int64_t last_load_us;  /* duration of the last successful load */
};
void dba_catalog_keeper_stats(struct dba_catalog_keeper *k, struct dba_catalog_keeper_stats *st);

#endif
