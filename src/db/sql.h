/* sql.h - SQL builder: turns a parsed dba_query into one parameterised PostgreSQL statement. */
#ifndef DBA_DB_SQL_H
#define DBA_DB_SQL_H

#include <stddef.h>

#include "core/core.h"
#include "db/query.h"
#include "schema/schema.h"

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
                               201 vs 200), else NULL */
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

/* One statement and its parameters, ready for PQsendQueryParams. */
struct dba_sql {
    struct dba_buf text;  /* the statement, placeholders $1..$n; owned, see dba_db_sql_build */
    const char **params;  /* n_params values (arena); NULL = SQL NULL; all sent as untyped text
                             (paramTypes 0), PostgreSQL infers each type from its context */
    size_t n_params;      /* count */
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
 * analysed (the exact count otherwise).
 */
DBA_MUSTCHECK int dba_db_sql_build(const struct dba_query *q, const struct dba_table *t,
                                   long max_rows, struct dba_arena *a, struct dba_sql *out,
                                   struct dba_err *err);

/* Arena cleanup callback releasing sql->text: dba_arena_defer(a, dba_db_sql_cleanup_cb, sql). */
void dba_db_sql_cleanup_cb(void *sql);

#endif
