/* catalog_int.h - declarations shared inside the catalog module. */
#ifndef DBA_CATALOG_INT_H
#define DBA_CATALOG_INT_H

#include "catalog/catalog.h"

/* Case-insensitive order of time zone names (qsort/bsearch over char *). */
int dba__catalog_tz_cmp(const void *a, const void *b);
/* A JSON array of strings (text, may be NULL = none) as a new NULL-terminated vector. */
char **dba__catalog_json_names(const char *text, size_t *n);
void dba__catalog_names_free(char **v, size_t n); /* NULL is a no-op */

#endif
