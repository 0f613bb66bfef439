/* load.c - the one reader of pg_catalog: nine queries (the sixth is functions.c's pg_proc query,
   the seventh the triggers, the eighth and ninth function notes and roles for OpenAPI, the tenth
   the casts of domain representations, the eleventh functions.c's media type handlers) for the
   whole database, never one per
   relation (the keeper runs this on every reload), inside a read-only transaction (or a
   savepoint) with search_path = pg_catalog so every printed type, default and definition is
   schema-qualified. The result is immutable once built. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "catalog/catalog_int.h"
#include "db/db.h"

/* Relations (also those without columns: one row with a NULL attname) and their columns. */
static const char *const sql_columns =
    "SELECT n.nspname, c.relname, c.relkind::text, a.attname,"
    " format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL),"
    " NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text,"
    " a.attgenerated <> '', a.attnum, c.reltuples::float8,"
    " c.relkind IN ('r','p') OR (pg_relation_is_updatable(c.oid, true) & 8) = 8,"
    " c.relispartition,"
    " a.attidentity = '' AND EXISTS (SELECT 1 FROM pg_depend dep"
    "   JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'"
    "   WHERE dep.refclassid = 'pg_class'::regclass AND dep.refobjid = c.oid"
    "   AND dep.refobjsubid = a.attnum AND dep.deptype = 'a'),"
    " t.typcategory::text,"
    " CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN format_type(t.typelem, NULL) END,"
    " CASE WHEN t.typtype = 'e' THEN (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)"
    "   FROM pg_enum e WHERE e.enumtypid = t.oid)::text END,"
    " col_description(c.oid, a.attnum),"
    " CASE WHEN a.atttypid IN (1042, 1043) AND a.atttypmod > 4 THEN a.atttypmod - 4 END"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    " LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum"
    " LEFT JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','v','m','f','p')"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", a.attnum";

/* Primary keys, uniques, foreign keys and checks, by name within each table. */
static const char *const sql_constraints =
    "SELECT n.nspname, c.relname, con.conname, con.contype::text,"
    " (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.conkey) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n)::text,"
    " fn.nspname, fc.relname,"
    " (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.confkey) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n)::text,"
    " con.confupdtype::text, con.confdeltype::text, pg_get_constraintdef(con.oid)"
    " FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_class fc ON fc.oid = con.confrelid"
    " LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND con.contype IN ('p', 'u', 'f', 'c')"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", con.conname COLLATE \"C\"";

static const char *const sql_indexes =
    "SELECT n.nspname, c.relname, ic.relname, i.indisunique, am.amname,"
    " (SELECT json_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)"
    "   FROM generate_series(1, i.indnkeyatts) k)::text,"
    " pg_get_expr(i.indpred, i.indrelid), con.conname, pg_get_indexdef(i.indexrelid)"
    " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
    " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_am am ON am.oid = ic.relam"
    " LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid"
    "   AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')"
    " WHERE n.nspname = ANY($1::text[])"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", ic.relname COLLATE \"C\"";

/* Every relation's oid, and for views and materialized views the action of their _RETURN rule
   (pg_node_tree text): which base columns each view shows (viewdeps.c), for relationships. Also
   each relation's comment, owner and the roles holding any privilege on it or its columns. */
static const char *const sql_view_rules =
    "SELECT n.nspname, c.relname, c.oid::int8,"
    " (SELECT r.ev_action::text FROM pg_rewrite r WHERE r.ev_class = c.oid"
    "   AND r.rulename = '_RETURN' AND c.relkind IN ('v','m')),"
    " obj_description(c.oid, 'pg_class'), pg_get_userbyid(c.relowner),"
    " (SELECT json_agg(DISTINCT coalesce(g.rolname, '')) FROM"
    "   (SELECT (aclexplode(coalesce(c.relacl, acldefault('r', c.relowner)))).grantee"
    "    UNION SELECT (aclexplode(a.attacl)).grantee FROM pg_attribute a"
    "    WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL) x"
    "   LEFT JOIN pg_roles g ON g.oid = x.grantee)::text"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','v','m','f','p')";

/* Triggers (not the internal ones of foreign keys), by name within each relation. */
static const char *const sql_triggers =
    "SELECT n.nspname, c.relname, t.tgname, t.tgtype::int, t.tgenabled <> 'D',"
    " t.tgfoid::regproc::text, pg_get_triggerdef(t.oid)"
    " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND NOT t.tgisinternal"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", t.tgname COLLATE \"C\"";

/* Per function, in the order of functions.c's query: comment, owner, roles holding EXECUTE. */
static const char *const sql_function_notes =
    "SELECT n.nspname, p.proname, obj_description(p.oid, 'pg_proc'),"
    " pg_get_userbyid(p.proowner),"
    " (SELECT json_agg(DISTINCT coalesce(g.rolname, ''))"
    "   FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x"
    "   LEFT JOIN pg_roles g ON g.oid = x.grantee WHERE x.privilege_type = 'EXECUTE')::text"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = ANY($1::text[]) AND p.prokind = 'f'"
    " ORDER BY n.nspname COLLATE \"C\", p.proname COLLATE \"C\", p.oid";

/* One row: every role as [name, superuser, [roles it inherits from]] (the grant's
   inherit_option on PostgreSQL 16+, the member's rolinherit before), the loading role, and the
   exposed schemas' comments as an object. */
static const char *const sql_roles =
    "SELECT (SELECT json_agg(json_build_array(r.rolname, r.rolsuper,"
    "   (SELECT coalesce(json_agg(g.rolname), '[]') FROM pg_auth_members m"
    "    JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid"
    "    AND coalesce((to_jsonb(m) ->> 'inherit_option')::bool, r.rolinherit)))"
    "   ORDER BY r.rolname COLLATE \"C\") FROM pg_roles r)::text, current_user,"
    " (SELECT json_object_agg(n.nspname, obj_description(n.oid, 'pg_namespace'))"
    "   FROM pg_namespace n WHERE n.nspname = ANY($1::text[]))::text";

/* PostgREST's domain representations: implicit casts WITH FUNCTION from a domain to json, or
   from json or text to a domain, whose function the loading role may execute. The domain may
   live in any schema (casts are global). One row per cast, by domain. */
static const char *const sql_representations =
    "SELECT format_type(dt.oid, NULL), c.casttarget = 'json'::regtype,"
    " c.castsource = 'json'::regtype, fn.nspname, p.proname"
    " FROM pg_cast c JOIN pg_type st ON st.oid = c.castsource"
    " JOIN pg_type tt ON tt.oid = c.casttarget"
    " JOIN pg_type dt ON dt.oid = CASE WHEN st.typtype = 'd' THEN st.oid ELSE tt.oid END"
    " JOIN pg_proc p ON p.oid = c.castfunc JOIN pg_namespace fn ON fn.oid = p.pronamespace"
    " WHERE c.castcontext = 'i' AND c.castmethod = 'f'"
    " AND has_function_privilege(c.castfunc, 'execute')"
    " AND ((st.typtype = 'd' AND c.casttarget = 'json'::regtype)"
    "   OR (tt.typtype = 'd' AND c.castsource IN ('json'::regtype, 'text'::regtype)))"
    " ORDER BY format_type(dt.oid, NULL) COLLATE \"C\"";

static const char *const sql_timezones =
    "SELECT coalesce(json_agg(name ORDER BY lower(name), name), '[]')::text FROM pg_timezone_names";

char **
dba__catalog_json_names(const char *text, size_t *n)
{
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
    size_t len = json_is_array(arr) ? json_array_size(arr) : 0;
    char **out = dba_xcalloc(len + 1, sizeof(char *));

    for (size_t i = 0; i < len; i++)
        out[i] = dba_xstrdup(json_string_value(json_array_get(arr, i)) ?: "");
    json_decref(arr);
    *n = len;
    return out;
}

static char *
opt_dup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : dba_xstrdup(PQgetvalue(r, row, col));
}

static char **
opt_names(const PGresult *r, int row, int col, size_t *n)
{
    return dba__catalog_json_names(PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col), n);
}

static void
load_column(struct dba_column *col, const PGresult *r, int i)
{
    memset(col, 0, sizeof(*col));
    col->name = dba_xstrdup(PQgetvalue(r, i, 3));
    col->type = dba_xstrdup(PQgetvalue(r, i, 4));
    col->base_type = dba_xstrdup(PQgetvalue(r, i, 5));
    col->nullable = PQgetvalue(r, i, 6)[0] == 't';
    col->default_expr = opt_dup(r, i, 7);
    col->identity_kind = PQgetvalue(r, i, 8)[0];
    col->identity = col->identity_kind != '\0';
    col->generated = PQgetvalue(r, i, 9)[0] == 't';
    col->position = atoi(PQgetvalue(r, i, 10));
    col->serial = PQgetvalue(r, i, 14)[0] == 't';
    col->type_category = PQgetvalue(r, i, 15)[0];
    col->elem_type = opt_dup(r, i, 16);
    if (!PQgetisnull(r, i, 17))
        col->enum_labels = opt_names(r, i, 17, &col->n_enum_labels);
    col->comment = opt_dup(r, i, 18);
    col->max_len = PQgetisnull(r, i, 19) ? 0 : atoi(PQgetvalue(r, i, 19));
}

static void
load_columns(struct dba_catalog *c, const PGresult *r)
{
    int n = PQntuples(r);

    c->tables = dba_xcalloc((size_t)n + 1, sizeof(*c->tables));
    for (int i = 0; i < n; i++) {
        struct dba_table *t = c->n_tables ? &c->tables[c->n_tables - 1] : NULL;
        if (t == NULL || strcmp(t->schema, PQgetvalue(r, i, 0)) != 0 ||
            strcmp(t->name, PQgetvalue(r, i, 1)) != 0) {
            t = &c->tables[c->n_tables++];
            t->schema = dba_xstrdup(PQgetvalue(r, i, 0));
            t->name = dba_xstrdup(PQgetvalue(r, i, 1));
            t->kind = PQgetvalue(r, i, 2)[0];
            t->is_view = t->kind == 'v' || t->kind == 'm';
            t->insertable = PQgetvalue(r, i, 12)[0] == 't';
            t->is_partition = PQgetvalue(r, i, 13)[0] == 't';
            t->est_rows = atof(PQgetvalue(r, i, 11));
            t->cols = dba_xcalloc(1, sizeof(*t->cols));
        }
        if (PQgetisnull(r, i, 3))
            continue; /* a relation without columns */
        t->cols = dba_xrealloc(t->cols, (t->n_cols + 1) * sizeof(*t->cols));
        load_column(&t->cols[t->n_cols++], r, i);
    }
}

static struct dba_unique *
unique_push(struct dba_unique **v, size_t *n, const PGresult *r, int i, char **cols, size_t nc)
{
    *v = dba_xrealloc(*v, (*n + 1) * sizeof(**v));
    struct dba_unique *u = &(*v)[(*n)++];
    u->name = dba_xstrdup(PQgetvalue(r, i, 2));
    u->cols = cols;
    u->n_cols = nc;
    u->definition = dba_xstrdup(PQgetvalue(r, i, 10));
    return u;
}

static void
load_constraint(struct dba_catalog *c, const PGresult *r, int i)
{
    struct dba_table *t = (struct dba_table *)(uintptr_t)dba_catalog_table_find(
        c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    char kind = PQgetvalue(r, i, 3)[0];
    size_t n = 0;

    if (t == NULL)
        return;
    char **cols = opt_names(r, i, 4, &n);
    if (kind == 'p') {
        dba__catalog_names_free(t->pk, t->n_pk);
        t->pk = dba_xcalloc(n + 1, sizeof(char *));
        t->n_pk = n;
        for (size_t k = 0; k < n; k++) {
            t->pk[k] = dba_xstrdup(cols[k]);
            for (size_t m = 0; m < t->n_cols; m++)
                if (strcmp(t->cols[m].name, cols[k]) == 0)
                    t->cols[m].is_pk = true;
        }
        size_t one = 0;
        t->pkey = unique_push(&t->pkey, &one, r, i, cols, n);
    } else if (kind == 'u') {
        unique_push(&t->uniques, &t->n_uniques, r, i, cols, n);
    } else if (kind == 'c') {
        unique_push(&t->checks, &t->n_checks, r, i, cols, n);
    } else {
        t->fkeys = dba_xrealloc(t->fkeys, (t->n_fkeys + 1) * sizeof(*t->fkeys));
        struct dba_fkey *f = &t->fkeys[t->n_fkeys++];
        size_t m = 0;
        f->name = dba_xstrdup(PQgetvalue(r, i, 2));
        f->cols = cols;
        f->n_cols = n;
        f->ref_schema = opt_dup(r, i, 5);
        f->ref_table = opt_dup(r, i, 6);
        f->ref_cols = opt_names(r, i, 7, &m);
        f->on_update = PQgetvalue(r, i, 8)[0];
        f->on_delete = PQgetvalue(r, i, 9)[0];
        f->definition = dba_xstrdup(PQgetvalue(r, i, 10));
    }
}

static void
load_index(struct dba_catalog *c, const PGresult *r, int i)
{
    struct dba_table *t = (struct dba_table *)(uintptr_t)dba_catalog_table_find(
        c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));

    if (t == NULL)
        return;
    t->indexes = dba_xrealloc(t->indexes, (t->n_indexes + 1) * sizeof(*t->indexes));
    struct dba_index *x = &t->indexes[t->n_indexes++];
    x->name = dba_xstrdup(PQgetvalue(r, i, 2));
    x->unique = PQgetvalue(r, i, 3)[0] == 't';
    x->method = dba_xstrdup(PQgetvalue(r, i, 4));
    x->cols = opt_names(r, i, 5, &x->n_cols);
    x->predicate = opt_dup(r, i, 6);
    x->constraint = opt_dup(r, i, 7);
    x->definition = dba_xstrdup(PQgetvalue(r, i, 8));
}

/* One trigger (r: sql_triggers). tgtype bits: 1 row, 2 before, 4 insert, 8 delete, 16 update,
   32 truncate, 64 instead of. */
static void
load_trigger(struct dba_catalog *c, const PGresult *r, int i)
{
    struct dba_table *t = (struct dba_table *)(uintptr_t)dba_catalog_table_find(
        c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    static const struct { int bit; const char *name; } ev[] = {
        { 4, "INSERT" }, { 16, "UPDATE" }, { 8, "DELETE" }, { 32, "TRUNCATE" },
    };
    int type = atoi(PQgetvalue(r, i, 3));
    struct dba_buf events;

    if (t == NULL)
        return;
    t->triggers = dba_xrealloc(t->triggers, (t->n_triggers + 1) * sizeof(*t->triggers));
    struct dba_trigger *g = &t->triggers[t->n_triggers++];
    g->name = dba_xstrdup(PQgetvalue(r, i, 2));
    g->timing = dba_xstrdup((type & 64) ? "INSTEAD OF" : (type & 2) ? "BEFORE" : "AFTER");
    dba_buf_init(&events);
    for (size_t k = 0; k < sizeof(ev) / sizeof(ev[0]); k++)
        if (type & ev[k].bit)
            dba_buf_printf(&events, "%s%s", events.len ? " OR " : "", ev[k].name);
    g->events = dba_xstrdup(events.data ? events.data : "");
    dba_buf_cleanup(&events);
    g->for_each_row = (type & 1) != 0;
    g->enabled = PQgetvalue(r, i, 4)[0] == 't';
    g->function = dba_xstrdup(PQgetvalue(r, i, 5));
    g->definition = dba_xstrdup(PQgetvalue(r, i, 6));
}

void
dba__catalog_triggers_free(struct dba_table *t)
{
    for (size_t i = 0; i < t->n_triggers; i++) {
        free(t->triggers[i].name);
        free(t->triggers[i].timing);
        free(t->triggers[i].events);
        free(t->triggers[i].function);
        free(t->triggers[i].definition);
    }
    free(t->triggers);
    t->triggers = NULL;
    t->n_triggers = 0;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char **
sorted_names(const PGresult *r, int row, int col, size_t *n)
{
    char **v = opt_names(r, row, col, n);

    qsort(v, *n, sizeof(char *), name_cmp);
    return v;
}

/* Comments, owners and grantees of the functions (r: sql_function_notes, same order). */
static void
load_function_notes(struct dba_catalog *c, const PGresult *r)
{
    for (int i = 0; i < PQntuples(r) && (size_t)i < c->n_functions; i++) {
        struct dba_function *f = &c->functions[i];
        if (strcmp(f->schema, PQgetvalue(r, i, 0)) != 0 || strcmp(f->name, PQgetvalue(r, i, 1)))
            continue; /* a function created between the two queries: left without notes */
        f->comment = opt_dup(r, i, 2);
        f->owner = dba_xstrdup(PQgetvalue(r, i, 3));
        f->grantees = sorted_names(r, i, 4, &f->n_grantees);
    }
}

/* Roles, the loading role and the schema comments (r: sql_roles, one row). */
static void
load_roles(struct dba_catalog *c, const PGresult *r)
{
    json_t *roles = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    json_t *notes = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
    size_t n = json_is_array(roles) ? json_array_size(roles) : 0;

    c->roles = dba_xcalloc(n + 1, sizeof(*c->roles));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(roles, i);
        struct dba_role *ro = &c->roles[c->n_roles++];
        json_t *in = json_array_get(e, 2);
        ro->name = dba_xstrdup(json_string_value(json_array_get(e, 0)) ?: "");
        ro->super = json_is_true(json_array_get(e, 1));
        ro->inherits = dba_xcalloc(json_array_size(in) + 1, sizeof(char *));
        for (size_t k = 0; k < json_array_size(in); k++)
            ro->inherits[ro->n_inherits++] = dba_xstrdup(json_string_value(json_array_get(in, k)) ?: "");
    }
    c->login_role = dba_xstrdup(PQgetvalue(r, 0, 1));
    c->schema_comments = dba_xcalloc(c->n_schemas + 1, sizeof(char *));
    for (size_t i = 0; i < c->n_schemas; i++) {
        const char *s = json_string_value(json_object_get(notes, c->schemas[i]));
        c->schema_comments[i] = s ? dba_xstrdup(s) : NULL;
    }
    json_decref(roles);
    json_decref(notes);
}

/* Relationships: view dependencies from the rules (r: sql_view_rules), then every relation's. */
static void
load_relationships(struct dba_catalog *c, const PGresult *r)
{
    unsigned long *oids = dba_xcalloc(c->n_tables + 1, sizeof(*oids));
    const char **defs = dba_xcalloc(c->n_tables + 1, sizeof(*defs));
    size_t n_deps = 0;

    for (int i = 0; i < PQntuples(r); i++) {
        const struct dba_table *t =
            dba_catalog_table_find(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        if (t == NULL)
            continue;
        size_t k = (size_t)(t - c->tables);
        oids[k] = strtoul(PQgetvalue(r, i, 2), NULL, 10);
        defs[k] = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3);
        struct dba_table *w = &c->tables[k];
        w->comment = opt_dup(r, i, 4);
        w->owner = dba_xstrdup(PQgetvalue(r, i, 5));
        w->grantees = sorted_names(r, i, 6, &w->n_grantees);
    }
    struct dba__catalog_viewdep *deps = dba__catalog_viewdeps(c, oids, defs, &n_deps);
    for (size_t i = 0; i < n_deps; i++) {
        const struct dba_column *bc = dba_catalog_column_find(deps[i].base, deps[i].base_col);
        const struct dba_column *vc = dba_catalog_column_find(deps[i].view, deps[i].view_col);
        if (bc != NULL && vc != NULL && bc->is_pk)
            ((struct dba_column *)(uintptr_t)vc)->view_key = true;
    }
    dba__catalog_relationships_build(c, deps, n_deps);
    free(deps);
    free(defs);
    free(oids);
}

static int
repr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dba_repr *)a)->type, ((const struct dba_repr *)b)->type);
}

/* Points every column of type t->cols[0..n) of a represented domain at its representation. */
static void
repr_attach(const struct dba_catalog *c, struct dba_column *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct dba_repr key = { .type = cols[i].base_type };

        if (key.type)
            cols[i].repr = bsearch(&key, c->reprs, c->n_reprs, sizeof(*c->reprs), repr_cmp);
    }
}

/* Domain representations (r: sql_representations, sorted by domain), then the columns that use
   them: relations' columns, computed columns and the columns of functions' own result tables.
   Called last, when tables and functions are loaded. */
static void
load_representations(struct dba_catalog *c, const PGresult *r)
{
    int n = PQntuples(r);

    c->reprs = dba_xcalloc((size_t)n + 1, sizeof(*c->reprs));
    for (int i = 0; i < n; i++) {
        const char *type = PQgetvalue(r, i, 0);
        struct dba_repr *d = c->n_reprs ? &c->reprs[c->n_reprs - 1] : NULL;
        struct dba_buf fn;
        char **slot;

        if (d == NULL || strcmp(d->type, type) != 0) {
            d = &c->reprs[c->n_reprs++];
            d->type = dba_xstrdup(type);
        }
        if (PQgetvalue(r, i, 1)[0] == 't')
            slot = &d->to_json;
        else if (PQgetvalue(r, i, 2)[0] == 't')
            slot = &d->from_json;
        else
            slot = &d->from_text;
        dba_buf_init(&fn);
        dba_buf_put_ident(&fn, PQgetvalue(r, i, 3));
        dba_buf_putc(&fn, '.');
        dba_buf_put_ident(&fn, PQgetvalue(r, i, 4));
        free(*slot); /* one cast per source and target: never two, but stay leak-free */
        *slot = dba_xstrdup(fn.data);
        dba_buf_cleanup(&fn);
    }
    if (c->n_reprs == 0)
        return;
    for (size_t i = 0; i < c->n_tables; i++) {
        repr_attach(c, c->tables[i].cols, c->tables[i].n_cols);
        repr_attach(c, c->tables[i].computed, c->tables[i].n_computed);
    }
    for (size_t i = 0; i < c->n_functions; i++) {
        if (c->functions[i].own_ret)
            repr_attach(c, c->functions[i].own_ret->cols, c->functions[i].own_ret->n_cols);
    }
}

void
dba__catalog_reprs_free(struct dba_catalog *c)
{
    for (size_t i = 0; i < c->n_reprs; i++) {
        free(c->reprs[i].type);
        free(c->reprs[i].to_json);
        free(c->reprs[i].from_json);
        free(c->reprs[i].from_text);
    }
    free(c->reprs);
    c->reprs = NULL;
    c->n_reprs = 0;
}

static bool
exec_ok(PGconn *pg, const char *sql, struct dba_err *err)
{
    PGresult *r = dba_db_exec(pg, sql, NULL, 0, err);

    PQclear(r);
    return r != NULL;
}

#define LOAD_N_QUERIES 11

/* The queries, results in out[0..LOAD_N_QUERIES). false with err (and nothing to clear) on
   failure. */
static bool
load_queries(PGconn *pg, const char *schemas_lit, PGresult **out, struct dba_err *err)
{
    const char *params[1] = { schemas_lit };
    const char *const sql[LOAD_N_QUERIES] = { sql_columns, sql_constraints, sql_indexes,
                                              sql_timezones, sql_view_rules,
                                              dba__catalog_sql_functions, sql_triggers,
                                              sql_function_notes, sql_roles,
                                              sql_representations, dba__catalog_sql_media };

    for (int i = 0; i < LOAD_N_QUERIES; i++) {
        bool by_schema = sql[i] != sql_timezones && sql[i] != sql_representations;
        out[i] = dba_db_exec(pg, sql[i], by_schema ? params : NULL, by_schema ? 1 : 0, err);
        if (out[i] == NULL)
            return false;
    }
    return true;
}

/* Runs the queries with search_path = pg_catalog, local to a read-only transaction or, when the
   connection is already inside one, to a savepoint, so the caller's session is left as found. */
static bool
load_scoped(PGconn *pg, const char *schemas_lit, PGresult **out, struct dba_err *err)
{
    bool nested = PQtransactionStatus(pg) != PQTRANS_IDLE;
    struct dba_err ignored;
    bool ok = false;

    if (!exec_ok(pg, nested ? "SAVEPOINT dba_catalog_load" : "BEGIN READ ONLY", err))
        return false;
    if (exec_ok(pg, "SET LOCAL search_path TO pg_catalog", err))
        ok = load_queries(pg, schemas_lit, out, err);
    if (nested) {
        if (exec_ok(pg, "ROLLBACK TO SAVEPOINT dba_catalog_load", ok ? err : &ignored))
            ok = exec_ok(pg, "RELEASE SAVEPOINT dba_catalog_load", ok ? err : &ignored) && ok;
        else
            ok = false;
    } else {
        exec_ok(pg, "ROLLBACK", &ignored);
    }
    for (int i = 0; !ok && i < LOAD_N_QUERIES; i++) {
        PQclear(out[i]);
        out[i] = NULL;
    }
    return ok;
}

struct dba_catalog *
dba_catalog_load(void *pgconn, const char *const *schemas, size_t n_schemas, struct dba_err *err)
{
    PGconn *pg = pgconn;
    struct dba_buf lit;
    PGresult *res[LOAD_N_QUERIES] = { NULL };

    dba_buf_init(&lit);
    dba_buf_put_text_array(&lit, schemas, n_schemas);
    bool ok = load_scoped(pg, lit.data, res, err);
    dba_buf_cleanup(&lit);
    if (!ok)
        return NULL;
    struct dba_catalog *c = dba_xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->n_schemas = n_schemas;
    c->schemas = dba_xcalloc(n_schemas + 1, sizeof(char *));
    for (size_t i = 0; i < n_schemas; i++)
        c->schemas[i] = dba_xstrdup(schemas[i]);
    c->server_version = dba_xstrdup(dba_db_server_version(pg));
    load_columns(c, res[0]);
    for (int i = 0; i < PQntuples(res[1]); i++)
        load_constraint(c, res[1], i);
    for (int i = 0; i < PQntuples(res[2]); i++)
        load_index(c, res[2], i);
    c->timezones = dba__catalog_json_names(PQgetvalue(res[3], 0, 0), &c->n_timezones);
    qsort(c->timezones, c->n_timezones, sizeof(char *), dba__catalog_tz_cmp);
    load_relationships(c, res[4]);
    dba__catalog_functions_load(c, res[5]);
    for (int i = 0; i < PQntuples(res[6]); i++)
        load_trigger(c, res[6], i);
    load_function_notes(c, res[7]);
    load_roles(c, res[8]);
    load_representations(c, res[9]);
    dba__catalog_media_load(c, res[10]);
    for (int i = 0; i < LOAD_N_QUERIES; i++)
        PQclear(res[i]);
    return c;
}
