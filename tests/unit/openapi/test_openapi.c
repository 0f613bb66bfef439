/* test_openapi.c - the OpenAPI model on hand-built catalogs: type mapping for every type family
   (both documents), required/optional rules (Swagger required, 3.1 read/insert/update), COMMENT
   handling (summary/description split, column notes), column defaults, and privilege filtering
   (owners, grantees, PUBLIC, inherited and non-inherited membership, superusers). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "openapi/openapi_int.h"

/* ---- a tiny catalog builder -------------------------------------------------------------- */

static char **
names(const char *const *v, size_t *n)
{
    size_t k = 0;
    while (v != NULL && v[k] != NULL)
        k++;
    char **out = dba_xcalloc(k + 1, sizeof(char *));
    for (size_t i = 0; i < k; i++)
        out[i] = dba_xstrdup(v[i]);
    *n = k;
    return out;
}

static struct dba_catalog *
cat_new(void)
{
    struct dba_catalog *c = dba_xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->n_schemas = 1;
    c->schemas = dba_xcalloc(2, sizeof(char *));
    c->schemas[0] = dba_xstrdup("api");
    c->schema_comments = dba_xcalloc(2, sizeof(char *));
    c->tables = dba_xcalloc(8, sizeof(*c->tables));
    c->roles = dba_xcalloc(8, sizeof(*c->roles));
    c->server_version = dba_xstrdup("15");
    c->login_role = dba_xstrdup("owner");
    return c;
}

/* Roles must be added in name order. */
static void
role_add(struct dba_catalog *c, const char *name, bool super, const char *const *inherits)
{
    struct dba_role *r = &c->roles[c->n_roles++];
    r->name = dba_xstrdup(name);
    r->super = super;
    r->inherits = names(inherits, &r->n_inherits);
}

static struct dba_table *
table_add(struct dba_catalog *c, const char *name, const char *owner, const char *const *grantees,
          const char *comment)
{
    struct dba_table *t = &c->tables[c->n_tables++];
    t->schema = dba_xstrdup("api");
    t->name = dba_xstrdup(name);
    t->kind = 'r';
    t->insertable = true;
    t->cols = dba_xcalloc(16, sizeof(*t->cols));
    t->owner = dba_xstrdup(owner);
    t->grantees = names(grantees, &t->n_grantees);
    t->comment = comment ? dba_xstrdup(comment) : NULL;
    return t;
}

static struct dba_column *
col_add(struct dba_table *t, const char *name, const char *type, char category, bool nullable,
        const char *def)
{
    struct dba_column *col = &t->cols[t->n_cols++];
    col->name = dba_xstrdup(name);
    col->type = dba_xstrdup(type);
    col->base_type = dba_xstrdup(type);
    col->type_category = category;
    col->nullable = nullable;
    col->default_expr = def ? dba_xstrdup(def) : NULL;
    col->position = (int)t->n_cols;
    return col;
}

static json_t *
swagger(const struct dba_openapi *m, const char *role)
{
    struct dba_openapi_req q = { .schema = "api", .role = role, .host = "h:1" };
    size_t len;
    char *s = dba_openapi_swagger(m, &q, &len);
    json_error_t e;
    json_t *doc = json_loadb(s, len, 0, &e);
    cr_assert(doc != NULL, "not JSON: %s (%s)", e.text, s);
    free(s);
    return doc;
}

static json_t *
oas(const struct dba_openapi *m, const char *role)
{
    struct dba_openapi_req q = { .schema = "api", .role = role, .host = "h:1" };
    size_t len;
    char *s = dba_openapi_oas31(m, &q, &len);
    json_t *doc = json_loadb(s, len, 0, NULL);
    cr_assert(doc != NULL, "not JSON: %s", s);
    free(s);
    return doc;
}

static void
model_free(void *m)
{
    dba_openapi_free(m);
}

static struct dba_openapi *
model(struct dba_catalog *c)
{
    struct dba_openapi_opts o = { .base_path = "/tables", .version = "1" };
    c->ext = dba_openapi_new(c, &o);
    c->ext_free = model_free;
    return c->ext;
}

static json_t *
at(json_t *doc, const char *path) /* "a/b/c" */
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *v = doc;
    for (char *save = NULL, *k = strtok_r(buf, "|", &save); k && v; k = strtok_r(NULL, "|", &save))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k)) : json_object_get(v, k);
    return v;
}

static const char *
str_at(json_t *doc, const char *path)
{
    return json_string_value(at(doc, path));
}

/* ---- type mapping ------------------------------------------------------------------------ */

Test(openapi, swagger_type_mapping_as_postgrest)
{
    static const struct { const char *pg, *type, *format, *item; } cases[] = {
        { "character varying", "string", "character varying", NULL },
        { "character", "string", "character", NULL },
        { "text", "string", "text", NULL },
        { "boolean", "boolean", "boolean", NULL },
        { "smallint", "integer", "int32", NULL },
        { "integer", "integer", "int32", NULL },
        { "bigint", "integer", "int64", NULL },
        { "numeric", "number", "numeric", NULL },
        { "real", "number", "real", NULL },
        { "double precision", "number", "double precision", NULL },
        { "json", NULL, "json", NULL },
        { "jsonb", NULL, "jsonb", NULL },
        { "uuid", "string", "uuid", NULL },
        { "timestamp with time zone", "string", "timestamp with time zone", NULL },
        { "api.mood", "string", "api.mood", NULL },
        { "text[]", "array", "text[]", "string" },
        { "integer[]", "array", "integer[]", "integer" },
        { "jsonb[]", "array", "jsonb[]", NULL },
        { "numeric[]", "array", "numeric[]", "number" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dba__openapi_type ty;
        dba__openapi_type_map(cases[i].pg, 0, true, &ty);
        cr_expect_str_eq(ty.type ? ty.type : "(none)", cases[i].type ? cases[i].type : "(none)",
                         "%s", cases[i].pg);
        cr_expect_str_eq(ty.format ? ty.format : "(none)", cases[i].format, "%s", cases[i].pg);
        cr_expect_str_eq(ty.item_type ? ty.item_type : "(none)",
                         cases[i].item ? cases[i].item : "(none)", "%s", cases[i].pg);
    }
}

Test(openapi, oas31_type_mapping_by_family)
{
    static const struct { const char *pg; char cat; const char *type, *format; } cases[] = {
        { "integer", 'N', "integer", "int32" },
        { "bigint", 'N', "integer", "int64" },
        { "numeric", 'N', "number", NULL },
        { "double precision", 'N', "number", "double" },
        { "api.positive", 'N', "number", NULL },      /* a domain over a number */
        { "boolean", 'B', "boolean", NULL },
        { "api.flag", 'B', "boolean", NULL },
        { "text", 'S', "string", NULL },
        { "uuid", 'U', "string", "uuid" },
        { "date", 'D', "string", "date" },
        { "timestamp with time zone", 'D', "string", "date-time" },
        { "interval", 'T', "string", NULL },
        { "api.mood", 'E', "string", NULL },
        { "inet", 'I', "string", NULL },
        { "json", 'U', NULL, NULL },
        { "jsonb", 'U', NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dba__openapi_type ty;
        dba__openapi_type_map(cases[i].pg, cases[i].cat, false, &ty);
        cr_expect_str_eq(ty.type ? ty.type : "(any)", cases[i].type ? cases[i].type : "(any)",
                         "%s", cases[i].pg);
        cr_expect_str_eq(ty.format ? ty.format : "(none)",
                         cases[i].format ? cases[i].format : "(none)", "%s", cases[i].pg);
    }
    struct dba__openapi_type ty;
    dba__openapi_type_map("uuid[]", 'A', false, &ty);
    cr_expect_str_eq(ty.type, "array");
    cr_expect_str_eq(ty.item_type, "string");
    cr_expect_str_eq(ty.item_format, "uuid");
}

/* ---- comments and defaults --------------------------------------------------------------- */

Test(openapi, comment_first_line_is_the_summary)
{
    char *s, *d;
    dba__openapi_comment_split("Title\n\nmore\ntext", &s, &d);
    cr_expect_str_eq(s, "Title");
    cr_expect_str_eq(d, "more\ntext");
    free(s);
    free(d);
    dba__openapi_comment_split("only", &s, &d);
    cr_expect_str_eq(s, "only");
    cr_expect_null(d);
    free(s);
    dba__openapi_comment_split(NULL, &s, &d);
    cr_expect_null(s);
    cr_expect_null(d);
}

Test(openapi, defaults_as_postgrest)
{
    json_t *v = dba__openapi_default("text", "string", "'it''s'::text");
    cr_expect_str_eq(json_string_value(v), "it's");
    json_decref(v);
    v = dba__openapi_default("timestamp with time zone", "string", "now()");
    cr_expect_str_eq(json_string_value(v), "now()");
    json_decref(v);
    v = dba__openapi_default("integer", "integer", "42");
    cr_expect_eq(json_integer_value(v), 42);
    json_decref(v);
    v = dba__openapi_default("boolean", "boolean", "false");
    cr_expect(json_is_false(v));
    json_decref(v);
    cr_expect_null(dba__openapi_default("integer", "integer", "nextval('s'::regclass)"));
    cr_expect_null(dba__openapi_default("jsonb", NULL, "'{}'::jsonb"));
    cr_expect_null(dba__openapi_default("text", "string", NULL));
}

/* ---- documents --------------------------------------------------------------------------- */

static struct dba_catalog *
sample(void)
{
    static const char *const pub[] = { "", NULL };
    static const char *const writers[] = { "writer", NULL };
    static const char *const none[] = { NULL };
    static const char *const anon_in[] = { NULL };
    static const char *const web_in[] = { "writer", NULL };
    struct dba_catalog *c = cat_new();

    role_add(c, "anon", false, anon_in);
    role_add(c, "boss", true, none);
    role_add(c, "owner", false, none);
    role_add(c, "web", false, web_in);
    role_add(c, "writer", false, none);
    struct dba_table *t = table_add(c, "notes", "owner", pub, "Notes\n\nkept by users");
    struct dba_column *id = col_add(t, "id", "integer", 'N', false, "nextval('s'::regclass)");
    id->is_pk = true;
    id->serial = true;
    id->comment = dba_xstrdup("the key");
    col_add(t, "body", "text", 'S', false, NULL);
    col_add(t, "tags", "text[]", 'A', true, NULL);
    col_add(t, "made", "timestamp with time zone", 'D', false, "now()");
    struct dba_column *g = col_add(t, "n", "bigint", 'N', true, "(id * 2)");
    g->generated = true;
    struct dba_column *e = col_add(t, "mood", "api.mood", 'E', true, NULL);
    static const char *const labels[] = { "sad", "ok", NULL };
    e->enum_labels = names(labels, &e->n_enum_labels);
    table_add(c, "secrets", "owner", writers, NULL);
    col_add(&c->tables[1], "k", "character", 'S', false, NULL)->max_len = 1;
    return c;
}

Test(openapi, swagger_definition_required_and_notes)
{
    struct dba_catalog *c = sample();
    json_t *doc = swagger(model(c), NULL);

    cr_expect_str_eq(str_at(doc, "swagger"), "2.0");
    cr_expect_str_eq(str_at(doc, "basePath"), "/tables");
    cr_expect_str_eq(str_at(doc, "host"), "h:1");
    json_t *req = at(doc, "definitions|notes|required");
    cr_expect_eq(json_array_size(req), 3); /* NOT NULL: id, body, made */
    cr_expect_str_eq(json_string_value(json_array_get(req, 0)), "id");
    cr_expect_str_eq(str_at(doc, "definitions|notes|properties|id|description"),
                     "the key\n\nNote:\nThis is a Primary Key.<pk/>");
    cr_expect_str_eq(str_at(doc, "definitions|notes|properties|made|default"), "now()");
    cr_expect_eq(json_array_size(at(doc, "definitions|notes|properties|mood|enum")), 2);
    cr_expect_eq(json_integer_value(at(doc, "definitions|secrets|properties|k|maxLength")), 1);
    cr_expect_str_eq(str_at(doc, "paths|/notes|get|summary"), "Notes");
    cr_expect_str_eq(str_at(doc, "paths|/notes|get|description"), "kept by users");
    cr_expect_str_eq(str_at(doc, "paths|/notes|get|parameters|0|$ref"),
                     "#/parameters/rowFilter.notes.id");
    cr_expect_str_eq(str_at(doc, "info|title"), "PostgREST API");
    cr_expect_null(at(doc, "securityDefinitions"));
    json_decref(doc);
    dba_catalog_unref(c);
}

Test(openapi, oas31_read_insert_update_schemas)
{
    struct dba_catalog *c = sample();
    json_t *doc = oas(model(c), NULL);

    cr_expect_str_eq(str_at(doc, "openapi"), "3.1.0");
    cr_expect_str_eq(str_at(doc, "servers|0|url"), "http://h:1");
    json_t *s = at(doc, "components|schemas");
    /* read: every column present, nullable ones may be null */
    cr_expect_eq(json_array_size(at(s, "notes|required")), 6);
    cr_expect_str_eq(str_at(s, "notes|properties|tags|type|0"), "array");
    cr_expect_str_eq(str_at(s, "notes|properties|tags|type|1"), "null");
    cr_expect_str_eq(str_at(s, "notes|properties|body|type"), "string");
    cr_expect_str_eq(str_at(s, "notes|properties|made|format"), "date-time");
    cr_expect(json_is_null(at(s, "notes|properties|mood|enum|2")));
    cr_expect_str_eq(str_at(s, "notes|title"), "Notes");
    /* insert: NOT NULL without default, not serial, not generated */
    json_t *ireq = at(s, "notes.insert|required");
    cr_expect_eq(json_array_size(ireq), 1);
    cr_expect_str_eq(json_string_value(json_array_get(ireq, 0)), "body");
    cr_expect_null(at(s, "notes.insert|properties|n"), "a generated column is not written");
    cr_expect_null(at(s, "notes.insert|properties|made|default"));
    /* update: all optional */
    cr_expect_null(at(s, "notes.update|required"));
    cr_expect_not_null(at(s, "notes.update|properties|body"));
    /* each column is a string query parameter taking a PostgREST filter */
    json_t *p = at(doc, "paths|/tables/notes|get|parameters|0");
    cr_expect_str_eq(str_at(p, "name"), "id");
    cr_expect_str_eq(str_at(p, "in"), "query");
    cr_expect_str_eq(str_at(p, "schema|type"), "string");
    cr_expect_not_null(at(doc, "paths|/tables/notes|post|requestBody"));
    json_decref(doc);
    dba_catalog_unref(c);
}

/* ---- privileges -------------------------------------------------------------------------- */

Test(openapi, privilege_filtering)
{
    struct dba_catalog *c = sample();
    struct dba_openapi *m = model(c);
    const struct dba_table *notes = &c->tables[0], *secrets = &c->tables[1];

    cr_expect(dba_openapi_table_visible(c, notes, "anon"), "PUBLIC is a grantee");
    cr_expect_not(dba_openapi_table_visible(c, secrets, "anon"));
    cr_expect(dba_openapi_table_visible(c, secrets, "writer"), "a grantee");
    cr_expect(dba_openapi_table_visible(c, secrets, "web"), "inherits from a grantee");
    cr_expect(dba_openapi_table_visible(c, secrets, "owner"), "the owner");
    cr_expect(dba_openapi_table_visible(c, secrets, "boss"), "a superuser");
    cr_expect_not(dba_openapi_table_visible(c, secrets, "nobody"), "unknown: PUBLIC only");

    json_t *a = swagger(m, "anon");
    cr_expect_null(at(a, "paths|/secrets"));
    cr_expect_null(at(a, "definitions|secrets"));
    cr_expect_not_null(at(a, "paths|/notes"));
    json_decref(a);
    json_t *w = swagger(m, "web");
    cr_expect_not_null(at(w, "paths|/secrets"));
    json_decref(w);
    json_t *all = oas(m, NULL); /* ignore-privileges */
    cr_expect_not_null(at(all, "paths|/tables/secrets"));
    json_decref(all);
    json_t *o = oas(m, "anon");
    cr_expect_null(at(o, "paths|/tables/secrets"));
    cr_expect_null(at(o, "components|schemas|secrets"));
    json_decref(o);
    dba_catalog_unref(c);
}

Test(openapi, public_url_and_security)
{
    struct dba_catalog *c = sample();
    struct dba_openapi_opts o = { .base_path = "/api", .version = "1",
                                  .public_url = "https://example.org:8443/gw/",
                                  .security_active = true };
    c->ext = dba_openapi_new(c, &o);
    c->ext_free = model_free;
    json_t *doc = swagger(c->ext, NULL);
    cr_expect_str_eq(str_at(doc, "host"), "example.org:8443");
    cr_expect_str_eq(str_at(doc, "basePath"), "/gw/api");
    cr_expect_str_eq(str_at(doc, "schemes|0"), "https");
    cr_expect_str_eq(str_at(doc, "securityDefinitions|JWT|type"), "apiKey");
    json_decref(doc);
    doc = oas(c->ext, NULL);
    cr_expect_str_eq(str_at(doc, "servers|0|url"), "https://example.org:8443/gw");
    cr_expect_not_null(at(doc, "paths|/api/notes"));
    json_decref(doc);
    dba_catalog_unref(c);
}
