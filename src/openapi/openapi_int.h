/* openapi_int.h - declarations shared inside the openapi module. */
#ifndef DBA_OPENAPI_INT_H
#define DBA_OPENAPI_INT_H

#include <jansson.h>

#include "openapi/openapi.h"

/* One relation's pre-rendered pieces (JSON text: object members, "key":value,...). */
struct dba__openapi_rel {
    const struct dba_table *t; /* the relation (borrowed from the catalog) */
    char *sw_path;             /* Swagger: its path item */
    char *sw_def;              /* Swagger: its definition */
    char *sw_params;           /* Swagger: body.<t> and rowFilter.<t>.<col> parameters */
    char *oas_path;            /* 3.1: its path item */
    char *oas_schemas;         /* 3.1: its read, insert and update schemas */
};

/* One function's pre-rendered pieces (an overload; the first visible one of a name is shown). */
struct dba__openapi_fn {
    const struct dba_function *f; /* the function (borrowed) */
    char *sw_path;                /* Swagger: its path item */
    char *oas_path;               /* 3.1: its path item */
};

struct dba_openapi {
    const struct dba_catalog *c;   /* borrowed: the model lives in c->ext, freed with it */
    char *base_path;               /* server.base_path */
    char *pub_scheme;              /* openapi_public_url's scheme, or NULL */
    char *pub_host;                /* its host[:port], or NULL */
    char *pub_path;                /* its path ("/" when empty), or NULL */
    char *pub_url;                 /* the URL as given (3.1 servers), or NULL */
    bool security_active;          /* Swagger securityDefinitions */
    char *version;                 /* info.version */
    struct dba__openapi_rel *rels; /* one per relation of the catalog, same order */
    struct dba__openapi_fn *fns;   /* one per function of the catalog, same order */
    char *oas_op_paths;            /* 3.1: the operator routes' path items */
    char *oas_op_components[4];    /* 3.1: their schemas, responses, parameters, securitySchemes
                                      members */
};

/* Renders the Swagger pieces of r / f (swagger.c). */
void dba__openapi_swagger_rel(const struct dba_openapi *m, struct dba__openapi_rel *r);
void dba__openapi_swagger_fn(const struct dba_openapi *m, struct dba__openapi_fn *f);
/* Renders the OpenAPI 3.1 pieces of r / f (oas.c). */
void dba__openapi_oas_rel(const struct dba_openapi *m, struct dba__openapi_rel *r, size_t index);
void dba__openapi_oas_fn(const struct dba_openapi *m, struct dba__openapi_fn *f, size_t index);

/* Whether the document for q lists relation t / function f. */
struct dba__openapi_vis {
    const char **closure; /* the role's closure (NULL: everything is visible) */
    size_t n;             /* count */
    bool super;           /* a superuser */
};
void dba__openapi_vis_init(struct dba__openapi_vis *v, const struct dba_catalog *c,
                           const char *role);
void dba__openapi_vis_cleanup(struct dba__openapi_vis *v);
bool dba__openapi_rel_listed(const struct dba__openapi_vis *v, const struct dba_table *t,
                             const char *schema);
bool dba__openapi_fn_listed(const struct dba__openapi_vis *v, const struct dba_function *f,
                            const char *schema);

/* How a PostgreSQL type is described. */
struct dba__openapi_type {
    const char *type;        /* JSON type: "integer", "number", "string", "boolean", "array", or
                                NULL for any JSON value (json, jsonb) */
    const char *format;      /* format: int32/int64 for the integers, else the type's name
                                (Swagger) or a JSON Schema format (OpenAPI 3.1), or NULL */
    const char *item_type;   /* arrays: the items' JSON type, or NULL (any) */
    const char *item_format; /* arrays: the items' format, or NULL */
};

/* Maps type name `type` (format_type() without typmod, e.g. "integer[]") of pg_type category
   `category` ('A' for arrays, 0 when unknown). swagger: PostgREST's mapping, by name only (an
   unknown name is a string); otherwise OpenAPI 3.1's, where the category also decides (numbers,
   booleans, user types) and dates, times and uuids carry JSON Schema formats. Strings returned
   are static or point into `type`. */
void dba__openapi_type_map(const char *type, char category, bool swagger,
                           struct dba__openapi_type *out);

/* A COMMENT split PostgREST's way: the first line is the summary, the rest (leading newlines
   dropped) the description. *summary and *description are new strings (NULL when absent or
   empty). comment may be NULL. */
void dba__openapi_comment_split(const char *comment, char **summary, char **description);

/* A column default (pg_get_expr text) as a JSON value, PostgREST's way: for string types the
   literal with its cast and quotes removed ('default'::text -> "default", now() -> "now()");
   for the others the text when it is JSON (42, 42.2, false); NULL (no default) otherwise. */
json_t *dba__openapi_default(const char *type, const char *json_type, const char *expr);

/* The role closure: every role whose privileges `role` holds (itself included), as a sorted
   vector of borrowed names; *super when the role is a superuser. free() the vector. */
const char **dba__openapi_role_closure(const struct dba_catalog *c, const char *role, size_t *n,
                                       bool *super);
/* Whether an object with owner and grantees is visible to a role with closure v[0..n). */
bool dba__openapi_visible(const char *const *v, size_t n, bool super, const char *owner,
                          char *const *grantees, size_t n_grantees);

/* json_dumps(v, compact, ordered, any) into b, then json_decref(v). */
void dba__openapi_put_json(struct dba_buf *b, json_t *v);
/* "key": json into b (a pair of an object), json_decref(v). */
void dba__openapi_put_pair(struct dba_buf *b, const char *key, json_t *v);

#endif
