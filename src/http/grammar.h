/* grammar.h - the PostgREST request grammar: query string, Prefer, Accept, Range and body. */
#ifndef DBA_HTTP_GRAMMAR_H
#define DBA_HTTP_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "query/query.h"

/* The raw facts of one request the grammar needs; all borrowed for the duration of the call. */
struct dba_http_req_in {
    enum dba_method method;   /* HTTP verb */
    const char *query;        /* raw query string after '?', undecoded; NULL or "" for none */
    const char *prefer;       /* all Prefer header values joined with ", ", or NULL */
    const char *accept;       /* Accept header, or NULL */
    const char *range;        /* Range header, or NULL (honoured for GET only) */
    const char *content_type; /* Content-Type header, or NULL (means application/json) */
    const char *body;         /* request body bytes, or NULL */
    size_t body_len;          /* length of body */
};

/* Parses a whole request into q; every pointer stored in q lives in arena a. The caller fills
   q->schema and q->table afterwards. Pure: no I/O, no database.
   select= becomes a tree (embedded relations are DBA_ITEM_CHILD items with their own node,
   aggregates DBA_ITEM_AGG items); parameters with an embedded path (`rel.col=`, `rel.order=`,
   `a.b.limit=`, `rel.or=`) are attached to the node they name. Relationships are not resolved
   here: see dba_query_resolve.
   DBA_OK, or DBA_EINVAL with err carrying the HTTP status and PostgREST code (PGRST100 parse
   errors, PGRST102 body, PGRST103 range, PGRST107 Accept, PGRST108 a parameter for an embed
   that is not in select=, PGRST114 PUT with limit/offset, PGRST122 strict Prefer). */
DBA_MUSTCHECK int dba_http_grammar_parse(struct dba_arena *a, const struct dba_http_req_in *in,
                                         struct dba_query *q, struct dba_err *err);

/* A text/csv body (PostgREST's rules: the header line names the keys, an empty field is "",
   NULL is null) as the JSON text of its rows, an array of objects, in arena a. DBA_OK, or
   DBA_EINVAL with err (400 PGRST102). */
DBA_MUSTCHECK int dba_http_body_csv_json(struct dba_arena *a, const char *body, size_t len,
                                         const char **json, size_t *json_len,
                                         struct dba_err *err);

/* A request body's media type, as PostgREST decodes Content-Type (its decodeMediaType). */
enum dba_http_ctype {
    DBA_CT_JSON,    /* application/json (and vnd.pgrst.array[+json] without nulls=stripped) */
    DBA_CT_CSV,     /* text/csv */
    DBA_CT_FORM,    /* application/x-www-form-urlencoded */
    DBA_CT_TEXT,    /* text/plain */
    DBA_CT_XML,     /* text/xml */
    DBA_CT_OCTET,   /* application/octet-stream */
    DBA_CT_REFUSED, /* another type PostgREST knows (geo+json, vnd.pgrst.object, plan, * / *) */
    DBA_CT_OTHER,   /* any other type, or a header its tokenizer cannot read (an empty one too) */
};

/* The media type of a Content-Type header (NULL: application/json); scratch in a. */
enum dba_http_ctype dba_http_content_type(struct dba_arena *a, const char *ct);

/* 400 PGRST102 "Content-Type not acceptable: <type>", the type as PostgREST shows it: a known
   type's canonical name, any other the header value as sent (read as Latin-1, at most 400
   bytes). Returns DBA_EINVAL. */
int dba_http_content_type_refuse(struct dba_arena *a, const char *ct, struct dba_err *err);

/* Parses Prefer values into p (defaults first: max_affected -1). Unknown tokens are copied into
   a and listed in p->invalid; the handling=strict check is left to the caller. Never fails.
   Note: timezone= is stored unchecked; its validity needs the database's zone list. */
void dba_http_grammar_prefer(struct dba_arena *a, const char *prefer, struct dba_prefer *p);

/* Picks the response media type from an Accept header (NULL/empty = application/json), in
   q-value then specificity order like PostgREST. DBA_OK, or DBA_EINVAL with 406 PGRST107. */
DBA_MUSTCHECK int dba_http_grammar_accept(const char *accept, enum dba_media *out,
                                          struct dba_err *err);

/* Content negotiation with custom media type handlers: as dba_http_grammar_accept (NULL/empty
   Accept = any type), but each range other than PostgREST's vendored ones (vnd.pgrst.object,
   vnd.pgrst.array) is first offered to lookup, lower case without parameters; the first range
   lookup answers wins (*handler = its answer, *out = DBA_MEDIA_JSON), else the range's built-in
   type, else the next range. */
typedef const void *(*dba_http_accept_lookup)(void *arg, const char *range);
DBA_MUSTCHECK int dba_http_grammar_accept_handlers(const char *accept, dba_http_accept_lookup lookup,
                                                   void *arg, enum dba_media *out,
                                                   const void **handler, struct dba_err *err);

/* "GET", "POST", ...; a static string. */
const char *dba_http_method_name(enum dba_method m);
/* Maps an HTTP method name (exact, upper case) to the enum; false when it is not one we serve. */
bool dba_http_method_from_name(const char *name, enum dba_method *out);

#endif
