/* openapi.h - OpenAPI documents built from the catalog: PostgREST's Swagger 2.0 root document
   (GET <base>/) and an OpenAPI 3.1 description (GET /openapi.json) with typed row schemas for
   generated clients.

   One model per catalog load: dba_openapi_new runs on the keeper thread when a catalog arrives
   and pre-renders every relation's and function's pieces as JSON text; a request only chooses
   the pieces its role may see and joins them (no catalog query, no JSON tree per request). The
   model is immutable and shared by every worker while its catalog is.

   Which relations and functions a role sees (follow-privileges): PostgREST asks PostgreSQL with
   has_table_privilege() per request. We load, with the catalog, each relation's and function's
   grantees (aclexplode of relacl/attacl/proacl, acldefault when NULL), owners and the role graph
   (pg_auth_members with the inherit option), and decide here, in C: a role sees an object when
   it is a superuser, or when it is, or inherits from, the owner or a grantee, or PUBLIC is a
   grantee. Cost per request: one walk of the role graph and one look-up per grantee. */
#ifndef DBA_OPENAPI_H
#define DBA_OPENAPI_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog/catalog.h"
#include "config/config.h"
#include "core/core.h"

/* What the model is built with (copied). */
struct dba_openapi_opts {
    const char *base_path;      /* server.base_path ("" = the root) */
    const char *public_url;     /* server.openapi_public_url, or NULL */
    bool security_active;       /* server.openapi_security_active: Swagger securityDefinitions */
    const char *operator_doc;   /* the hand-written operator routes (OpenAPI 3.1 JSON text:
                                   paths, components), or NULL */
    size_t operator_doc_len;    /* its length */
    const char *version;        /* info.version */
};

struct dba_openapi;

/* Builds the model of catalog c (borrowed while building only). */
struct dba_openapi *dba_openapi_new(const struct dba_catalog *c, const struct dba_openapi_opts *o);
void dba_openapi_free(struct dba_openapi *m); /* NULL is a no-op */

/* One document request. */
struct dba_openapi_req {
    const char *schema;   /* the exposed schema described (the request's profile schema) */
    const char *role;     /* the role whose privileges decide what is listed; NULL = every
                             relation and function (ignore-privileges) */
    const char *host;     /* the request's Host header (used when no public URL is set), or
                             NULL */
};

/* PostgREST's Swagger 2.0 document: a new string (free()), *len its length. */
char *dba_openapi_swagger(const struct dba_openapi *m, const struct dba_openapi_req *q,
                          size_t *len);
/* The OpenAPI 3.1 document: a new string (free()), *len its length. */
char *dba_openapi_oas31(const struct dba_openapi *m, const struct dba_openapi_req *q, size_t *len);

/* Whether role sees relation t / function f of catalog c (follow-privileges). An unknown role
   sees what PUBLIC may use. */
bool dba_openapi_table_visible(const struct dba_catalog *c, const struct dba_table *t,
                               const char *role);
bool dba_openapi_function_visible(const struct dba_catalog *c, const struct dba_function *f,
                                  const char *role);

#endif
