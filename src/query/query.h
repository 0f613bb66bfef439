/* query.h - the query module: the query description the PostgREST grammar produces, and the SQL
   builder that renders it as one parameterised PostgreSQL statement. */
#ifndef DBA_QUERY_H
#define DBA_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog/catalog.h"
#include "core/core.h"

/* All pointers inside a dba_query live in the request arena that parsed it. */

enum dba_method {
    DBA_M_GET,     /* read */
    DBA_M_HEAD,    /* read, no body */
    DBA_M_POST,    /* insert / upsert */
    DBA_M_PATCH,   /* update */
    DBA_M_PUT,     /* single-row upsert */
    DBA_M_DELETE,  /* delete */
    DBA_M_OPTIONS, /* CORS / allow */
};

/* One step of a JSON path: ->key, ->>key, ->0, ->-1. */
struct dba_jstep {
    const char *key;  /* key text, or the index digits (may start with '-') */
    bool is_index;    /* key is an integer index */
    bool as_text;     /* ->> rather than -> */
};

/* A column reference with an optional JSON path. */
struct dba_field {
    const char *name;         /* column name, unquoted */
    struct dba_jstep *path;   /* JSON path steps, or NULL */
    size_t n_path;            /* number of steps */
};

enum dba_op {
    DBA_OP_EQ, DBA_OP_NEQ, DBA_OP_GT, DBA_OP_GTE, DBA_OP_LT, DBA_OP_LTE,
    DBA_OP_LIKE, DBA_OP_ILIKE, DBA_OP_MATCH, DBA_OP_IMATCH,
    DBA_OP_IN, DBA_OP_IS, DBA_OP_ISDISTINCT,
    DBA_OP_FTS, DBA_OP_PLFTS, DBA_OP_PHFTS, DBA_OP_WFTS,
    DBA_OP_CS, DBA_OP_CD, DBA_OP_OV, DBA_OP_SL, DBA_OP_SR, DBA_OP_NXR, DBA_OP_NXL, DBA_OP_ADJ,
};

enum dba_quant {
    DBA_Q_NONE, /* plain operator */
    DBA_Q_ANY,  /* op(any).{a,b} */
    DBA_Q_ALL,  /* op(all).{a,b} */
};

enum dba_is_value {
    DBA_IS_NULL, DBA_IS_NOT_NULL, DBA_IS_TRUE, DBA_IS_FALSE, DBA_IS_UNKNOWN,
};

/* One horizontal filter: [not.]op[(mod)].value on a field. */
struct dba_filter {
    struct dba_field field;   /* left-hand side */
    bool negate;              /* not. prefix */
    enum dba_op op;           /* operator */
    enum dba_quant quant;     /* any/all modifier */
    const char *lang;         /* fts language, or NULL */
    const char *value;        /* raw value text (like/ilike: '*' already turned into '%');
                                 for any/all: the '{...}' array literal */
    const char **list;        /* DBA_OP_IN: decoded elements */
    size_t n_list;            /* DBA_OP_IN: number of elements (0 for in.()) */
    enum dba_is_value is_value; /* DBA_OP_IS: the literal */
    const struct dba_rel *embed; /* set by resolution when field.name names an embedded child of
                                    the node (`rel=not.is.null`, `or=(rel.is.null,...)`): the
                                    filter tests whether that embed has rows (only DBA_OP_IS
                                    null / not null is allowed there, else 400 PGRST120; a
                                    `not.is.null` directly under the node's top-level AND also
                                    sets the embed's join to DBA_JOIN_INNER, as PostgREST treats
                                    it like !inner) */
};

enum dba_logic_kind {
    DBA_L_FILTER, /* a leaf: filter */
    DBA_L_AND,    /* all children */
    DBA_L_OR,     /* any child */
};

/* A boolean tree of filters; the top-level query string filters form one AND node. */
struct dba_logic {
    enum dba_logic_kind kind;   /* leaf or combinator */
    bool negate;                /* not.and / not.or */
    struct dba_filter filter;   /* DBA_L_FILTER only */
    struct dba_logic *children; /* AND/OR: array of children */
    size_t n_children;          /* AND/OR: count */
};

enum dba_item_kind {
    DBA_ITEM_COLUMN, /* a column with alias, JSON path and cast */
    DBA_ITEM_STAR,   /* '*': every column of the node's relation */
    DBA_ITEM_AGG,    /* an aggregate: count(), col.sum(), avg, min, max */
    DBA_ITEM_CHILD,  /* an embedded relation: a child node */
};

enum dba_agg { DBA_AGG_COUNT, DBA_AGG_SUM, DBA_AGG_AVG, DBA_AGG_MIN, DBA_AGG_MAX };

struct dba_rel;

/* One item of select=. */
struct dba_select_item {
    enum dba_item_kind kind;  /* what the item is */
    const char *alias;        /* alias:..., or NULL */
    struct dba_field field;   /* COLUMN: column and JSON path; AGG: the argument (name NULL for
                                 count()) */
    const char *cast;         /* ::type on the column (AGG: on the argument), or NULL */
    enum dba_agg agg;         /* AGG: the function */
    const char *agg_cast;     /* AGG: ::type on the result (`col.sum()::int`), or NULL */
    struct dba_rel *child;    /* CHILD: the embedded relation */
};

enum dba_nulls {
    DBA_NULLS_DEFAULT, /* PostgreSQL's default for the direction */
    DBA_NULLS_FIRST,   /* .nullsfirst */
    DBA_NULLS_LAST,    /* .nullslast */
};

struct dba_order_item {
    const char *rel;        /* order=rel(col): the alias or name of an embedded to-one child of
                               the node (PGRST118 when it is to-many), or NULL for a column */
    const struct dba_rel *rel_node; /* set by resolution: that child */
    struct dba_field field; /* column and JSON path */
    bool desc;              /* .desc */
    enum dba_nulls nulls;   /* nulls placement */
};

enum dba_join {
    DBA_JOIN_LEFT,  /* parents without children are kept (embedding's default) */
    DBA_JOIN_INNER, /* !inner: parents without children are dropped */
};

/*
 * A relation read: one node of the query tree. The root node is the request's relation (its
 * relation is the table passed to dba_query_sql_build; schema/name may stay NULL there); a child
 * node (a DBA_ITEM_CHILD select item) is an embedded relation read in its own scope, correlated
 * with its parent by the join columns: child.child_cols[i] = parent.parent_cols[i].
 * The grammar fills name, alias, hint, spread, join/join_set, filter_only and the node's own
 * select/where/order/limit/offset (embedded parameters `rel.col=`, `rel.order=`... included);
 * dba_query_resolve fills schema, table, relationship, to_one and the join columns.
 */
struct dba_rel {
    const char *schema;             /* relation schema, or NULL for the root */
    const char *name;               /* relation name (an embedding's name in select=) */
    const char *alias;              /* child: output key (alias:name(...)), or NULL = name */
    const char *hint;               /* child: name!hint(...), or NULL */
    bool spread;                    /* child: ...name(...): to-one lifts its columns into the
                                       parent object, to-many gives one array per column */
    bool join_set;                  /* child: !inner or !left was written (else the default) */
    const struct dba_table *table;  /* child: its relation in the catalog (NULL: not resolved) */
    const struct dba_relationship *relationship; /* child: the resolved relationship from the
                                       parent's relation (NULL for hand-built trees, which use
                                       the join columns below) */
    enum dba_join join;             /* child: join type */
    bool to_one;                    /* child: one object (many-to-one) instead of an array */
    bool filter_only;               /* child: name() with an empty list: joined and filtered,
                                       not part of the output */
    const char **parent_cols;       /* child: join columns of the parent */
    const char **child_cols;        /* child: join columns of the child, same order */
    size_t n_join;                  /* child: number of join column pairs (M2M: see
                                       relationship, which the builder follows) */

    struct dba_select_item *select; /* select= items; none means '*' */
    size_t n_select;                /* count */
    struct dba_logic where;         /* top-level AND of filters, or/and trees */
    struct dba_order_item *order;   /* order= items */
    size_t n_order;                 /* count */
    long limit;                     /* limit=, or -1 */
    long offset;                    /* offset=, or 0 */
};

/* How a call's arguments reach the function. */
enum dba_call_args {
    DBA_CALL_ARGS_LIST,   /* GET/HEAD: args[] (query string values), each bound as $n cast to
                             the parameter's type; a VARIADIC one as an array literal */
    DBA_CALL_ARGS_OBJECT, /* POST: `body` is one JSON object bound once and read with
                             json_to_record(...) AS pgrst_body(<the given parameters and their
                             types>), so JSON arrays, objects and numbers convert as PostgreSQL
                             does; only parameters named by args[] are passed. A body that does
                             not start with '{' (columns=: the body as sent) gives its first
                             element (json_to_recordset ... LIMIT 1) */
    DBA_CALL_ARGS_WHOLE,  /* POST to a function whose single parameter is unnamed and json,
                             jsonb, text, bytea or xml: `body` is bound whole, cast to its type
                             (for bytea the caller passes the bytes' hex text, \x...) */
};

/* One argument given to a call. */
struct dba_call_arg {
    const struct dba_func_arg *param; /* the function's parameter it binds (catalog) */
    const char *value;                /* LIST: the value text (NULL = SQL NULL) */
    const char **values;              /* LIST, VARIADIC parameter: every value of the repeated
                                         key, rendered as one array literal */
    size_t n_values;                  /* count of values */
};

/*
 * A function call (GET/HEAD/POST <base>/rpc/fn): the root node of a request when q->call is set.
 * The function is resolved (overloads, argument names) by the HTTP layer against the catalog
 * before the builder runs; the builder reads the call as the row source of the root scope, so
 * q->rel's select, filters, order, limit/offset and the Range header apply to its rows as on a
 * table read (for SETOF and composite results; a scalar result ignores them). Build with
 * dba_query_sql_build(q, call->fn->ret_table, ...). An unresolved call (fn NULL) is refused
 * with 400 PGRST127.
 */
struct dba_call {
    const char *schema;            /* function schema */
    const char *name;              /* function name */
    const struct dba_function *fn; /* the resolved overload (catalog), or NULL */
    enum dba_call_args args_kind;  /* how arguments are passed */
    struct dba_call_arg *args;     /* given arguments, in the function's parameter order */
    size_t n_args;                 /* count */
    const char *body;              /* OBJECT: the JSON object text; WHOLE: the body as sent
                                      (NUL-terminated), else NULL */
};

/* What the root of a request's tree is. */
enum dba_node_kind {
    DBA_NODE_READ,  /* GET/HEAD: q->rel read */
    DBA_NODE_WRITE, /* POST/PATCH/PUT/DELETE on q->rel: body, columns, on_conflict, Prefer; the
                       rel's filters select the rows, its select shapes return=representation */
    DBA_NODE_CALL,  /* q->call */
};

enum dba_ret { DBA_RET_DEFAULT, DBA_RET_MINIMAL, DBA_RET_HEADERS_ONLY, DBA_RET_REPRESENTATION };
enum dba_count { DBA_COUNT_NONE, DBA_COUNT_EXACT, DBA_COUNT_PLANNED, DBA_COUNT_ESTIMATED };
enum dba_resolution { DBA_RES_NONE, DBA_RES_MERGE, DBA_RES_IGNORE };
enum dba_missing { DBA_MISSING_NULL, DBA_MISSING_DEFAULT };

/* Parsed Prefer header(s). `set_*` record that the client asked, for Preference-Applied. */
struct dba_prefer {
    enum dba_ret ret;               /* return= */
    enum dba_count count;           /* count= */
    enum dba_resolution resolution; /* resolution= */
    enum dba_missing missing;       /* missing= */
    bool handling_strict;           /* handling=strict */
    bool set_handling;              /* handling= given (strict or lenient) */
    long max_affected;              /* max-affected=N, or -1 */
    const char *tx;                 /* tx=commit|rollback, or NULL */
    const char *timezone;           /* timezone=..., or NULL */
    const char **invalid;           /* unrecognised preferences, for handling=strict */
    size_t n_invalid;               /* count of the above */
};

enum dba_media {
    DBA_MEDIA_JSON,          /* application/json (also * / *) */
    DBA_MEDIA_OBJECT,        /* application/vnd.pgrst.object+json */
    DBA_MEDIA_CSV,           /* text/csv */
    DBA_MEDIA_ARRAY_STRIPPED,  /* application/vnd.pgrst.array+json;nulls=stripped */
    DBA_MEDIA_OBJECT_STRIPPED, /* application/vnd.pgrst.object+json;nulls=stripped */
    DBA_MEDIA_GEOJSON,       /* application/geo+json: a FeatureCollection (PostGIS) */
};

enum dba_body_kind {
    DBA_BODY_NONE,   /* no body */
    DBA_BODY_OBJECT, /* one JSON object */
    DBA_BODY_ARRAY,  /* a JSON array of objects */
    DBA_BODY_CSV,    /* text/csv body, converted to a JSON array by the parser */
};

/* Nested insert: a key of an object in a POST body that names a relationship of the object's
   table (`books`, `books!fk_name`), resolved by dba_query_nested_resolve. */
struct dba_nested_key {
    const struct dba_table *from;        /* the table of the object carrying the key */
    const char *key;                     /* the key as written */
    const struct dba_relationship *rel;  /* its relationship from `from` */
};

/* The whole request, as understood from method, path, query string, headers and body. */
struct dba_query {
    enum dba_method method;         /* HTTP verb */
    const char *schema;             /* resolved schema (profile header or default) */
    const char *table;              /* relation name from the path */

    struct dba_rel rel;             /* the root node: select, filters, order, limit/offset */
    struct dba_call *call;          /* a function call instead of a relation, or NULL */
    long range_from;                /* Range header start, or -1 (GET only) */
    long range_to;                  /* Range header end, or -1 for open */

    const char **columns;           /* columns= names, or NULL */
    size_t n_columns;               /* count */
    const char **on_conflict;       /* on_conflict= names, or NULL */
    size_t n_on_conflict;           /* count */

    struct dba_prefer prefer;       /* Prefer header */
    enum dba_media media;           /* negotiated response type */
    const struct dba_media_handler *handler; /* a custom media type handler (catalog) decides the
                                       body instead (media stays JSON), or NULL */
    const char *geojson;            /* application/geo+json: PostGIS's ST_AsGeoJSON(record), quoted
                                       "s"."st_asgeojson" (dba_catalog.geojson); NULL without
                                       PostGIS: the call is left unqualified and fails as in
                                       PostgREST (42883) */

    enum dba_body_kind body_kind;   /* what the body is */
    const char *body;               /* JSON text of the body (NUL-terminated), or NULL */
    size_t body_len;                /* length of body */
    const char **body_keys;         /* keys of the object / first element, sorted as given;
                                       PATCH with an array body: every key of any element */
    size_t n_body_keys;             /* count */
    const char **body_keys_every;   /* PATCH with an array body: the keys present in every
                                       element (the bulk update's key must be among them) */
    size_t n_body_keys_every;       /* count */
    struct dba_nested_key *nested;  /* POST: body keys naming relationships (any depth), set by
                                       dba_query_nested_resolve; NULL for a flat insert */
    size_t n_nested;                /* count */
    size_t n_body_rows;             /* 1 for an object, array length for an array */
};

/* The kind of q's root node: CALL when q->call is set, else READ or WRITE by method. */
enum dba_node_kind dba_query_kind(const struct dba_query *q);

/* ---- Resolution (resolve.c) ---- */

/*
 * Resolves q's tree against catalog c, root being the relation of q->rel (for writes too: the
 * embeds of return=representation start from the written table). In PostgREST's planner order:
 * every embedded child gets its relationship from its parent's relation
 * (dba_catalog_relationship_find: 400 PGRST200, 300 PGRST201), its table, schema, to_one (M2O,
 * O2O) and join columns (M2O/O2M/O2O; M2M leaves them empty, see relationship); every related
 * order (order=rel(col)) its rel_node, the embed whose alias-or-name is rel (400 PGRST108 when
 * absent, 400 PGRST118 when to-many); every filter whose field names an embed its `embed`
 * (400 PGRST120 for an operator other than is.null / not.is.null, unless the relation also has
 * a column of that name); aggregates anywhere are refused with 400 PGRST123 unless
 * aggregates_enabled; aggregates in a to-many spread are 400 PGRST127. Columns are not checked
 * here (the builder reports 42703). Pointers stored come from c, which must outlive q's use.
 * DBA_OK, or DBA_EINVAL with err set.
 */
DBA_MUSTCHECK int dba_query_resolve(struct dba_query *q, const struct dba_catalog *c,
                                    const struct dba_table *root, bool aggregates_enabled,
                                    struct dba_err *err);

/*
 * Nested inserts (sql_nested.c). For a POST whose body (object or array of objects) carries keys
 * that are not columns of t: each such key, at any depth, must name a relationship of its
 * object's table (`name` or `name!hint`, resolved as in select=: 400 PGRST200 becomes 400
 * PGRST204 "Could not find the 'k' column of 't'", 300 PGRST201 stays); its value is an object
 * or an array of objects (400 PGRST102 otherwise). Fills q->nested (arena a). A body whose keys
 * are all columns is not read again. DBA_OK or an error in err.
 */
DBA_MUSTCHECK int dba_query_nested_resolve(struct dba_query *q, const struct dba_catalog *c,
                                           const struct dba_table *t, struct dba_arena *a,
                                           struct dba_err *err);

/* ---- The SQL builder (sql*.c) ---- */

/*
 * Every statement built here, whatever the verb, returns exactly ONE row with these columns, in
 * this order (all read in text format):
 */
enum dba_sql_col {
    DBA_SQL_COL_TOTAL,      /* bigint: total rows for Prefer: count=..., NULL when no count was
                               requested; on writes the affected-row count */
    DBA_SQL_COL_PAGE_TOTAL, /* bigint: rows in the page (reads) or affected rows (writes) */
    DBA_SQL_COL_BODY,       /* text: response body: JSON array, single object (or 'null' when there
                               is no row; the caller checks page_total == 1 on reads), CSV text,
                               or '' for HEAD and writes without return=representation */
    DBA_SQL_COL_LOCATION,   /* text: POST with return=headers-only on a table with a primary key
                               and exactly one inserted row: the Location query string
                               "id=eq.5&k=eq.x" (names and values percent-encoded), else NULL */
    DBA_SQL_COL_INSERTED,   /* bigint: upsert (resolution=merge-duplicates) and PUT on a base
                               table: how many rows were inserted rather than updated (decides
                               201 vs 200); bulk update (PATCH, array body, no filters): how
                               many elements matched no row; else NULL */
    DBA_SQL_COL_RESPONSE_HEADERS, /* text: the response.headers setting a trigger or function set
                                     during the statement (a JSON array of one-key objects), or NULL */
    DBA_SQL_COL_RESPONSE_STATUS,  /* text: the response.status setting, or NULL */
    DBA_SQL_N_COLS,         /* number of result columns */
};

/*
 * Sentinels. A singular write (Accept: vnd.pgrst.object+json on POST/PATCH/PUT/DELETE) whose row
 * count is not 1, and a PATCH/DELETE exceeding Prefer: handling=strict, max-affected=N, make the
 * statement fail (so the write is rolled back inside the one statement) by casting
 * '<sentinel><n>' to integer. PostgreSQL then reports SQLSTATE 22P02 with the message
 *     invalid input syntax for type integer: "DBA_SINGULAR:4"
 * and the HTTP layer maps it: DBA_SQL_SINGULAR -> 406 PGRST116 "The result contains 4 rows",
 * DBA_SQL_MAX_AFFECTED -> 400 PGRST124 "The query affects 4 rows". <n> is the row count.
 */
/* The last two result columns: settings made during the statement that shape the response, as in
   PostgREST (set_config('response.headers', '[{"X-A":"b"}]', true), 'response.status'). */
#define DBA_SQL_RESPONSE_GUCS                                                      \
    ", nullif(current_setting('response.headers', true), '') AS response_headers," \
    " nullif(current_setting('response.status', true), '') AS response_status"

#define DBA_SQL_SENTINEL_SQLSTATE "22P02"
#define DBA_SQL_SINGULAR "DBA_SINGULAR:"
#define DBA_SQL_MAX_AFFECTED "DBA_MAX_AFFECTED:"
/* Bulk update (PATCH, array body, no filters) under Prefer: handling=strict: <n> elements match
   no row -> 404, nothing changed. */
#define DBA_SQL_UNMATCHED "DBA_UNMATCHED:"

/* One statement and its parameters, ready for PQsendQueryParams. */
struct dba_sql {
    struct dba_buf text;  /* the statement, placeholders $1..$n; owned, see dba_query_sql_build */
    const char **params;  /* n_params values (arena); NULL = SQL NULL; all sent as untyped text
                             (paramTypes 0), PostgreSQL infers each type from its context */
    size_t n_params;      /* count */
    /* A nested insert (q->nested) is two statements in the request's unit: `pre` inserts the
       whole tree with data-modifying CTEs and keeps the top-level rows in the transaction's
       setting pgrst.nested_rows; `text` then answers from those rows (so embeds in select= see
       the children). pre.len == 0: no such statement. Owned like text. */
    struct dba_buf pre;
    const char **pre_params; /* its parameters (arena) */
    size_t n_pre_params;     /* count */
    const char *count_plan; /* count=planned the planner must estimate (a read with filters, or
                             of a view): "EXPLAIN (FORMAT JSON) SELECT 1 FROM ... WHERE ..." (arena)
                             whose top "Plan Rows" is the total, as PostgREST does; the
                             statement's total column is then NULL. NULL otherwise */
    size_t count_plan_params; /* count_plan takes params[0..count_plan_params) */
};

/*
 * Builds exactly one statement for q on table t (t must be the relation q->schema.q->table).
 * max_rows caps every read (0 = unlimited). Params and temporary strings come from arena a;
 * out->text is heap memory the caller must dba_buf_cleanup (or hand to dba_arena_defer).
 * Returns DBA_OK, or DBA_EINVAL / DBA_ENOTFOUND with err set (HTTP status and PostgREST-style
 * code: 42703 unknown column, PGRST204 unknown body key or columns= entry, PGRST100 bad cast type
 * or JSON index, PGRST105/114/115 bad PUT, PGRST102 missing body). out is untouched on failure.
 * Reads use the caller's count preference: count=exact and count=estimated give an exact count;
 * count=planned gives pg_class.reltuples when the query has no filter and the table has been
 * analysed, with filters (or on a view) out->count_plan for the caller to run in the same unit,
 * and the exact count when neither applies (embedded !inner conditions, function calls).
 */
DBA_MUSTCHECK int dba_query_sql_build(const struct dba_query *q, const struct dba_table *t,
                                   long max_rows, struct dba_arena *a, struct dba_sql *out,
                                   struct dba_err *err);

/* Arena cleanup callback releasing sql->text and sql->pre:
   dba_arena_defer(a, dba_query_sql_cleanup_cb, sql). */
void dba_query_sql_cleanup_cb(void *sql);

#endif
