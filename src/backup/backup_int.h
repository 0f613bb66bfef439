/* backup_int.h - declarations shared inside the backup module. */
#ifndef DBA_BACKUP_INT_H
#define DBA_BACKUP_INT_H

#include "backup/backup.h"

/* Text form of a scalar JSON value used as a key (integers, strings, reals, booleans) into buf;
   returns buf, or NULL for null, objects and arrays. */
const char *dba__backup_key(const json_t *v, char *buf, size_t n);
/* Exact text of the scalar JSON value at v[0..n) (a key): a string unescaped, a number exactly
   as written (no trip through a double, so bigint keys near 2^63 stay exact), true/false; NULL
   for null, objects, arrays and malformed input. New heap string. */
char *dba__backup_scalar_text(const char *v, size_t n);
/* The same for the top-level member name of the row object raw[0..len); NULL when absent. */
char *dba__backup_field(const char *raw, size_t len, const char *name);
/* Callbacks of a walk over a backup: meta once (the metadata object or NULL), table for each
   table present (also those the schema does not have: a JSON document's are all reported before
   any row), row for each row (parsed with DBA__BACKUP_JSON_FLAGS, plus its exact text). A
   non-zero return of table or row stops the walk and is returned. */
struct dba__backup_walk {
    void (*meta)(void *arg, const json_t *meta);                  /* metadata */
    int (*table)(void *arg, const char *table);                   /* table present */
    int (*row)(void *arg, const char *table, json_t *row, const char *raw, size_t len); /* row */
    bool raw_only; /* rows are not parsed: row receives NULL and only the exact text */
    bool raw_any;  /* with raw_only: rows that are not objects are passed too (else refused) */
    bool trusted;  /* a JSON document's members are delimited without being validated (a
                      validation of the same text runs beside the walk and has the last word) */
};
/* Walks a JSON document's text: metadata, then the schema's tables in the schema's order. */
int dba__backup_walk_text(const char *p, size_t n, const struct dba_backup_schema *s,
                          const struct dba__backup_walk *cbs, void *arg, struct dba_err *err);
/* Walks a jsonl file line by line. DBA_OK, DBA_EINVAL/DBA_EIO with err (line number given). */
int dba__backup_walk_jsonl(const char *path, const struct dba__backup_walk *cbs, void *arg,
                           struct dba_err *err);
/* The file's text (NUL-terminated), mapped read-only with the pages already read given back as
   the walk goes on (mapfile.c); free it with dba_backup_text_free. NULL with err. */
char *dba__backup_read_file(const char *path, size_t *len, struct dba_err *err);
/* True when the file at path starts like a jsonl backup ({"metadata": ...} alone on line 1). */
bool dba__backup_is_jsonl(const char *path);

/* Calls cb for each member of the JSON object (object true; key unescaped, truncated to 255
   bytes) or element of the array (key "") at p[0..n), with the value's exact bytes. DBA_OK,
   DBA_EINVAL when malformed, or cb's non-zero return. */
typedef int (*dba__backup_scan_cb)(void *arg, const char *key, const char *v, size_t len);
int dba__backup_scan(const char *p, size_t n, bool object, dba__backup_scan_cb cb, void *arg);
/* The same for text known to be valid JSON (a span an enclosing dba__backup_scan returned, such
   as a row handed to a walk's row callback): values are delimited without being validated
   again. */
int dba__backup_scan_valid(const char *p, size_t n, bool object, dba__backup_scan_cb cb,
                           void *arg);

/* Flags for parsing one row: integers as reals, so huge integers parse; the exact text is what
   PostgreSQL receives, and keys are read from that text (dba__backup_field), never from these
   doubles (they are inexact above 2^53). */
#define DBA__BACKUP_JSON_FLAGS (JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY)

/* COPY text-format fields from JSON values (copyrow.c), for a column of kind: */
enum {
    DBA__COPY_PLAIN,         /* any scalar type: a string's text, a number or boolean as written */
    DBA__COPY_NUMERIC,       /* numeric, real, double precision: exponents allowed */
    DBA__COPY_JSON,          /* json, jsonb: the value's JSON text */
    DBA__COPY_ARRAY,         /* an array type: a JSON array becomes an array literal */
    DBA__COPY_ARRAY_NUMERIC, /* an array of numbers: exponents allowed */
    DBA__COPY_ARRAY_JSONB,   /* jsonb[]: elements are JSON texts */
};
/* Appends the field for the JSON value v[0..n) (null is \N), escaped for COPY; false when the
   value's text for the column could differ from jsonb_populate_record's (then the caller uses
   jsonb_populate_record for the batch). */
bool dba__copy_value(struct dba_buf *out, const char *v, size_t n, int kind);
/* Appends the text p[0..n) escaped for COPY. */
void dba__copy_text(struct dba_buf *out, const char *p, size_t n);
/* The same for a key, as dba__backup_scalar_text reads it ("7.0" is 7); false for objects,
   arrays, exponents, "-0...", NUL characters. */
bool dba__copy_key(struct dba_buf *out, const char *v, size_t n);

/* Rows rendered as row_to_json renders them from a plain COPY's text format (render.c). */
enum {
    DBA__RENDER_SERVER,      /* the server sends to_json(col)::text: copied as is */
    DBA__RENDER_RAW,         /* json, jsonb: the output text as is */
    DBA__RENDER_NUMBER,      /* integers, floats, numeric: as printed; NaN, Infinity as strings */
    DBA__RENDER_BOOL,        /* t/f -> true/false */
    DBA__RENDER_STRING,      /* text and the other built-in scalars: the output as a string */
    DBA__RENDER_DATE,        /* date (ISO DateStyle): quoted */
    DBA__RENDER_TIMESTAMP,   /* timestamp (ISO DateStyle): quoted, 'T' between date and time */
    DBA__RENDER_TIMESTAMPTZ, /* timestamptz (ISO DateStyle): also the offset with minutes */
    DBA__RENDER_ARRAY,       /* an array of one of the kinds above: array_to_json's form */
};
/* The kind of a column whose type (through its domains) is base_oid, an array of elem_oid (a
   base type with ',' between elements; 0 when not an array); *elem receives the elements' kind.
   iso_dates: the session's DateStyle is ISO (else dates and timestamps, and arrays of them, are
   DBA__RENDER_SERVER). */
int dba__render_kind(unsigned base_oid, unsigned elem_oid, bool iso_dates, int *elem);
struct dba__render_col {
    char *name;      /* the column's name, owned */
    char *head;      /* '{' or ',' then the name as a JSON string and ':', owned */
    size_t head_len; /* its length */
    int kind;        /* DBA__RENDER_* */
    int elem;        /* DBA__RENDER_ARRAY: the elements' kind */
};
struct dba__render {
    struct dba__render_col *cols; /* the table's columns in order, owned */
    size_t n;                     /* count */
    size_t heads_len;             /* sum of head_len */
    /* internal */
    char *scratch;
    size_t scratch_cap;
};
void dba__render_init(struct dba__render *r);
void dba__render_cleanup(struct dba__render *r);
/* Adds the next column (name as in pg_attribute) of kind (elem: its elements' kind). */
void dba__render_add(struct dba__render *r, const char *name, int kind, int elem);
/* Appends to out the JSON object of one COPY text-format line (without its newline); false
   (out unchanged) when the line's field count is not the columns'. */
bool dba__render_row(struct dba__render *r, struct dba_buf *out, const char *line, size_t len);
/* True when p[0..n) is a JSON number (PostgreSQL's IsValidJsonNumber). */
bool dba__render_json_number(const char *p, size_t n);

#endif
