/* oas.c - the OpenAPI 3.1 document (stub, filled in next). */
#include <stdlib.h>
#include <string.h>

#include "openapi/openapi_int.h"

void
dba__openapi_oas_rel(const struct dba_openapi *m, struct dba__openapi_rel *r, size_t index)
{
    DBA_UNUSED(m);
    DBA_UNUSED(r);
    DBA_UNUSED(index);
}

void
dba__openapi_oas_fn(const struct dba_openapi *m, struct dba__openapi_fn *f, size_t index)
{
    DBA_UNUSED(m);
    DBA_UNUSED(f);
    DBA_UNUSED(index);
}

char *
dba_openapi_oas31(const struct dba_openapi *m, const struct dba_openapi_req *q, size_t *len)
{
    DBA_UNUSED(m);
    DBA_UNUSED(q);
    *len = 2;
    return dba_xstrdup("{}");
}
