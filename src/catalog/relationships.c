/* relationships.c - relationships between relations, derived from foreign keys, and PostgREST's
 * embedding resolution. (Placeholder: finds nothing until the relationship model lands.) */
#include "catalog/catalog_int.h"

int
dba_catalog_relationship_find(const struct dba_catalog *c, const struct dba_table *from,
                              const char *target, const char *hint,
                              const struct dba_relationship **out, struct dba_err *err)
{
    (void)c;
    (void)hint;
    *out = NULL;
    dba_err_set(err, DBA_EINVAL, 400, "PGRST200",
                "Could not find a relationship between '%s' and '%s' in the schema cache",
                from->name, target);
    return DBA_EINVAL;
}
