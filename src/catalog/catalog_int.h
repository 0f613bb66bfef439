/* catalog_int.h - declarations shared inside the catalog module. */
#ifndef DBA_CATALOG_INT_H
#define DBA_CATALOG_INT_H

#include "catalog/catalog.h"

/* Case-insensitive order of time zone names (qsort/bsearch over char *). */
int dba__catalog_tz_cmp(const void *a, const void *b);
/* A JSON array of strings (text, may be NULL = none) as a new NULL-terminated vector. */
char **dba__catalog_json_names(const char *text, size_t *n);
void dba__catalog_names_free(char **v, size_t n); /* NULL is a no-op */

/* Levenshtein distance of two names (99 when either is longer than 64 bytes), for hints. */
size_t dba__catalog_edit_distance(const char *a, const char *b);

/* functions.c: the pg_proc query ($1 = the exposed schemas as a text[] literal), the model built
   from its result (a const PGresult *; c->tables must be loaded first, ret_table points into
   them), and its release. */
extern const char *const dba__catalog_sql_functions;
void dba__catalog_functions_load(struct dba_catalog *c, const void *pgresult);
void dba__catalog_functions_free(struct dba_catalog *c);

#endif
