/* catalog_int.h - declarations shared inside the catalog module. */
#ifndef DBA_CATALOG_INT_H
#define DBA_CATALOG_INT_H

#include "catalog/catalog.h"

/* Case-insensitive order of time zone names (qsort/bsearch over char *). */
int dba__catalog_tz_cmp(const void *a, const void *b);
/* A JSON array of strings (text, may be NULL = none) as a new NULL-terminated vector. */
char **dba__catalog_json_names(const char *text, size_t *n);
void dba__catalog_names_free(char **v, size_t n); /* NULL is a no-op */

/* One column of a view that shows a column of a base relation unchanged (followed through views
   on views), as PostgreSQL records it in the view's rule: the only way relationships reach
   views. A base column shown by several view columns has one entry per view column. */
struct dba__catalog_viewdep {
    const struct dba_table *view; /* the view (or materialized view) */
    const char *view_col;         /* its column */
    const struct dba_table *base; /* the base relation (not a view) */
    const char *base_col;         /* the base column view_col shows */
};

/* The origin of one output column of a view's query: target entry resno shows column attnum
   `col` of relation `oid`. */
struct dba__catalog_origin {
    int resno;          /* the view column's attnum */
    unsigned long oid;  /* pg_class oid of the relation it comes from */
    int col;            /* that relation's attnum */
};

/* The column origins of a view's top query, read from its _RETURN rule's action
   (pg_rewrite.ev_action as text, a pg_node_tree): a new array (free()) with *n entries, or NULL
   with *n = 0 when the text has none or cannot be read. Computed and junk entries are left out. */
struct dba__catalog_origin *dba__catalog_view_origins(const char *tree, size_t *n);

/* The view dependencies of c: oids[i] is the pg_class oid of c->tables[i] and defs[i] the rule
   action text of a view (NULL for other relations). Origins in relations outside the catalog
   (other schemas) are left out. A new array (free()) with *n entries; NULL when none. */
struct dba__catalog_viewdep *dba__catalog_viewdeps(const struct dba_catalog *c,
                                                  const unsigned long *oids,
                                                  const char *const *defs, size_t *n);

/* Derives every table's rels from the foreign keys of c and the view dependencies deps[0..n)
   (n may be 0). Called once, after c->tables is complete and sorted. */
void dba__catalog_relationships_build(struct dba_catalog *c,
                                      const struct dba__catalog_viewdep *deps, size_t n);
/* Frees t->rels (each relationship's column arrays are one allocation starting at cols). */
void dba__catalog_relationships_free(struct dba_table *t);

/* load.c: frees t->triggers. */
void dba__catalog_triggers_free(struct dba_table *t);
/* load.c: frees c->reprs. */
void dba__catalog_reprs_free(struct dba_catalog *c);

/* Levenshtein distance of two names (99 when either is longer than 64 bytes), for hints. */
size_t dba__catalog_edit_distance(const char *a, const char *b);

/* functions.c: the pg_proc query ($1 = the exposed schemas as a text[] literal), the model built
   from its result (a const PGresult *; c->tables must be loaded first, ret_table points into
   them), and its release. */
extern const char *const dba__catalog_sql_functions;
void dba__catalog_functions_load(struct dba_catalog *c, const void *pgresult);
void dba__catalog_functions_free(struct dba_catalog *c);
/* functions.c: media type handlers ($1 = the exposed schemas), their model and its release. */
extern const char *const dba__catalog_sql_media;
void dba__catalog_media_load(struct dba_catalog *c, const void *pgresult);
void dba__catalog_media_free(struct dba_catalog *c);

#endif
