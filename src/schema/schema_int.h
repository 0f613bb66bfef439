/* schema_int.h - declarations shared inside the schema module. */
#ifndef DBA_SCHEMA_INT_H
#define DBA_SCHEMA_INT_H

#include "schema/schema.h"

/* One comparison of the expected schema with a live database, kept open for a fix. */
struct dba__schema_cmp {
    struct pg_conn *pg;      /* open connection to the live database (owned) */
    json_t *expected;        /* expected schema document (owned) */
    json_t *live;            /* live schema document (owned) */
    json_t *report;          /* diff report (owned) */
    json_t *skipped;         /* statements of the expected schema skipped, [{line, statement}]
                                (owned) */
    const char *source;      /* "request body" or the file read (borrowed) */
};

/* Connects to p, reads the expected schema from src and compares. DBA_OK or an error (nothing
   to clean up then). */
DBA_MUSTCHECK int dba__schema_compare(const struct dba_config *cfg, const struct dba_profile *p,
                                      const struct dba_schema_src *src,
                                      struct dba__schema_cmp *out, struct dba_err *err);
void dba__schema_cmp_cleanup(struct dba__schema_cmp *c);

#endif
