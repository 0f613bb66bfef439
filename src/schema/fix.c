/* fix.c - the fix plan for a drift report, and applying it in one transaction.

   The plan only adds: CREATE TABLE for missing tables (parents first by foreign key; a foreign
   key inside a cycle is added by ALTER TABLE once every table of the cycle exists), ADD COLUMN
   with the expected type, default, identity and NOT NULL for missing columns, then the missing
   primary keys, unique, check and foreign-key constraints, then the missing indexes. It never
   drops a table or a column: type mismatches, nullability and default differences and extra
   tables or columns are listed under not_fixed. A NOT NULL column with no default cannot be
   added to a table that has rows, so the plan refuses (ok = false) and explains the choices.
   Every name is quoted; types, defaults and constraint and index definitions are PostgreSQL's
   own catalog text (introspect.c prints them schema-qualified). The plan builder is pure. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "db/db.h"
#include "schema/schema.h"

static const char *
str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void
put_table(struct dba_buf *b, const json_t *t)
{
    dba_buf_put_ident(b, str(t, "schema"));
    dba_buf_putc(b, '.');
    dba_buf_put_ident(b, str(t, "name"));
}

static void
stmt_add(json_t *plan, struct dba_buf *b, const char *action, const char *table, const char *name)
{
    json_t *s = json_pack("{s:s,s:s,s:s}", "sql", b->data, "action", action, "table", table);

    if (name != NULL)
        json_object_set_new(s, "name", json_string(name));
    json_array_append_new(json_object_get(plan, "statements"), s);
    dba_buf_reset(b);
}

static const char *
serial_type(const char *type)
{
    if (strcmp(type, "integer") == 0)
        return "serial";
    if (strcmp(type, "bigint") == 0)
        return "bigserial";
    if (strcmp(type, "smallint") == 0)
        return "smallserial";
    return NULL;
}

/* "name type [GENERATED ...] [DEFAULT e] [NOT NULL]" from an introspected column. */
static void
put_column(struct dba_buf *b, const json_t *c)
{
    const char *type = str(c, "type");
    const char *serial = json_is_true(json_object_get(c, "serial")) ? serial_type(type) : NULL;
    const char *ident = str(c, "identity");

    dba_buf_put_ident(b, str(c, "name"));
    dba_buf_printf(b, " %s", serial ? serial : type);
    if (str(c, "generated") != NULL)
        dba_buf_printf(b, " GENERATED ALWAYS AS (%s) STORED", str(c, "generated"));
    if (ident != NULL)
        dba_buf_printf(b, " GENERATED %s AS IDENTITY",
                       strcmp(ident, "always") == 0 ? "ALWAYS" : "BY DEFAULT");
    if (serial == NULL && str(c, "default") != NULL)
        dba_buf_printf(b, " DEFAULT %s", str(c, "default"));
    if (serial == NULL && ident == NULL && !json_is_true(json_object_get(c, "nullable")))
        dba_buf_puts(b, " NOT NULL");
}

static void
put_constraint(struct dba_buf *b, const json_t *m)
{
    dba_buf_puts(b, "CONSTRAINT ");
    dba_buf_put_ident(b, str(m, "name"));
    dba_buf_printf(b, " %s", str(m, "definition"));
}

static char *
fk_target(const json_t *fk)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_printf(&b, "%s.%s", str(fk, "ref_schema"), str(fk, "ref_table"));
    return dba_buf_take(&b);
}

/* Plan-building state. */
struct plan_ctx {
    json_t *plan;             /* the plan being built */
    const json_t *report;     /* borrowed */
    const json_t *tables;     /* expected tables, borrowed */
    json_t *missing;          /* missing table -> 0 unvisited, 1 visiting, 2 done */
    json_t *created;          /* tables created so far (set) */
    json_t *deferred;         /* [{table, fk}] foreign keys to add after the creates */
    struct dba_buf b;         /* statement text */
};

static void
create_table(struct plan_ctx *x, const char *key, const json_t *t)
{
    static const char *const lists[] = { "uniques", "checks", "foreign_keys" };
    size_t i;
    const json_t *m;

    dba_buf_puts(&x->b, "CREATE TABLE ");
    put_table(&x->b, t);
    dba_buf_puts(&x->b, " (");
    json_array_foreach(json_object_get(t, "columns"), i, m) {
        dba_buf_puts(&x->b, i ? ",\n    " : "\n    ");
        put_column(&x->b, m);
    }
    if (json_is_object(json_object_get(t, "primary_key"))) {
        dba_buf_puts(&x->b, ",\n    ");
        put_constraint(&x->b, json_object_get(t, "primary_key"));
    }
    for (size_t k = 0; k < DBA_ARRAY_LEN(lists); k++) {
        json_array_foreach(json_object_get(t, lists[k]), i, m) {
            char *target = k == 2 ? fk_target(m) : NULL;
            bool later = target && strcmp(target, key) != 0 &&
                         json_object_get(x->missing, target) &&
                         !json_object_get(x->created, target);
            free(target);
            if (later) {
                json_array_append_new(x->deferred, json_pack("{s:s,s:O}", "table", key, "m", m));
                continue;
            }
            dba_buf_puts(&x->b, ",\n    ");
            put_constraint(&x->b, m);
        }
    }
    dba_buf_puts(&x->b, "\n)");
    json_object_set_new(x->created, key, json_true());
    stmt_add(x->plan, &x->b, "create table", key, NULL);
}

/* Depth-first: the tables a missing table references are created before it. */
static void
visit(struct plan_ctx *x, const char *key)
{
    const json_t *t = json_object_get(x->tables, key);
    size_t i;
    const json_t *fk;

    json_object_set_new(x->missing, key, json_integer(1));
    json_array_foreach(json_object_get(t, "foreign_keys"), i, fk) {
        char *target = fk_target(fk);
        if (json_integer_value(json_object_get(x->missing, target)) == 0 &&
            json_object_get(x->missing, target) != NULL)
            visit(x, target);
        free(target);
    }
    json_object_set_new(x->missing, key, json_integer(2));
    create_table(x, key, t);
}

static void
not_fixed(json_t *plan, const char *what, const char *table, const char *name, const char *why)
{
    json_array_append_new(json_object_get(plan, "not_fixed"),
                          json_pack("{s:s,s:s,s:s?,s:s}", "what", what, "table", table, "name",
                                    name, "reason", why));
}

static void
plan_tables(struct plan_ctx *x)
{
    size_t i;
    const json_t *k;

    json_array_foreach(json_object_get(x->report, "missing_tables"), i, k) {
        const json_t *t = json_object_get(x->tables, json_string_value(k));
        if (t != NULL && strcmp(str(t, "kind"), "table") == 0)
            json_object_set_new(x->missing, json_string_value(k), json_integer(0));
        else
            not_fixed(x->plan, "missing relation", json_string_value(k), NULL,
                      "only tables are created by fix; create views by hand");
    }
    const char *key;
    json_t *state;
    json_object_foreach(x->missing, key, state)
        if (json_integer_value(state) == 0)
            visit(x, key);
}

static bool
needs_value(const json_t *c)
{
    return !json_is_true(json_object_get(c, "nullable")) && str(c, "default") == NULL &&
           str(c, "identity") == NULL && str(c, "generated") == NULL &&
           !json_is_true(json_object_get(c, "serial"));
}

static void
refuse(json_t *plan, const char *table, const char *column)
{
    json_t *choices = json_pack(
        "[s,s,s]", "give the column a DEFAULT in the schema file, so existing rows get it",
        "declare it nullable in the schema file, run fix, fill it, then SET NOT NULL by hand",
        "add the column by hand with a value for every existing row");
    json_array_append_new(
        json_object_get(plan, "refused"),
        json_pack("{s:s,s:s,s:s,s:o}", "table", table, "column", column, "reason",
                  "NOT NULL column without a default cannot be added to a table that has rows",
                  "choices", choices));
}

static bool
in_array(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v)
        if (json_string_value(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

static void
plan_columns(struct plan_ctx *x, const json_t *nonempty)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(x->report, "missing_columns"), i, c) {
        const char *key = str(c, "table");
        const json_t *t = json_object_get(x->tables, key);
        if (needs_value(c) && in_array(nonempty, key)) {
            refuse(x->plan, key, str(c, "column"));
            continue;
        }
        json_t *col = json_deep_copy(c);
        json_object_set_new(col, "name", json_string(str(c, "column")));
        dba_buf_puts(&x->b, "ALTER TABLE ");
        put_table(&x->b, t);
        dba_buf_puts(&x->b, " ADD COLUMN ");
        put_column(&x->b, col);
        json_decref(col);
        stmt_add(x->plan, &x->b, "add column", key, str(c, "column"));
    }
}

static void
add_constraint(struct plan_ctx *x, const char *key, const json_t *m)
{
    dba_buf_puts(&x->b, "ALTER TABLE ");
    put_table(&x->b, json_object_get(x->tables, key));
    dba_buf_puts(&x->b, " ADD ");
    put_constraint(&x->b, m);
    stmt_add(x->plan, &x->b, "add constraint", key, str(m, "name"));
}

/* Missing constraints of existing tables: primary keys, uniques, checks, then foreign keys. */
static void
plan_constraints(struct plan_ctx *x)
{
    static const char *const order[] = { "primary key", "unique", "check", "foreign key" };
    size_t i;
    const json_t *m;

    for (size_t k = 0; k < DBA_ARRAY_LEN(order); k++) {
        json_array_foreach(json_object_get(x->report, "missing_constraints"), i, m) {
            if (strcmp(str(m, "type"), order[k]) != 0)
                continue;
            if (str(m, "conflicts_with") != NULL) {
                not_fixed(x->plan, "primary key", str(m, "table"), str(m, "name"),
                          "the table has a different primary key; change it by hand");
                continue;
            }
            add_constraint(x, str(m, "table"), m);
        }
    }
    json_array_foreach(x->deferred, i, m)
        add_constraint(x, str(m, "table"), json_object_get(m, "m"));
}

static void
add_index(struct plan_ctx *x, const char *key, const json_t *ix)
{
    dba_buf_puts(&x->b, str(ix, "definition"));
    stmt_add(x->plan, &x->b, "create index", key, str(ix, "name"));
}

static void
plan_indexes(struct plan_ctx *x)
{
    const char *key;
    json_t *state;
    size_t i;
    const json_t *ix;

    json_object_foreach(x->created, key, state) {
        json_array_foreach(json_object_get(json_object_get(x->tables, key), "indexes"), i, ix)
            if (json_is_null(json_object_get(ix, "constraint")))
                add_index(x, key, ix);
    }
    json_array_foreach(json_object_get(x->report, "missing_indexes"), i, ix)
        add_index(x, str(ix, "table"), ix);
}

/* Differences the fix reports but never changes. */
static void
plan_not_fixed(struct plan_ctx *x)
{
    size_t i;
    const json_t *d;

    json_array_foreach(json_object_get(x->report, "type_mismatches"), i, d)
        not_fixed(x->plan, "type mismatch", str(d, "table"), str(d, "column"),
                  "column types are never changed by fix; migrate the data by hand");
    json_array_foreach(json_object_get(x->report, "nullability_differences"), i, d)
        not_fixed(x->plan, "nullability", str(d, "table"), str(d, "column"),
                  "warning only; not changed");
    json_array_foreach(json_object_get(x->report, "default_differences"), i, d)
        not_fixed(x->plan, "default", str(d, "table"), str(d, "column"),
                  "warning only; not changed");
    json_array_foreach(json_object_get(x->report, "extra_tables"), i, d)
        not_fixed(x->plan, "extra table", json_string_value(d), NULL, "fix never drops a table");
    json_array_foreach(json_object_get(x->report, "extra_columns"), i, d)
        not_fixed(x->plan, "extra column", str(d, "table"), str(d, "column"),
                  "fix never drops a column");
}

json_t *
dba_schema_fix_plan(const json_t *report, const json_t *expected, const json_t *nonempty)
{
    struct plan_ctx x = {
        .plan = json_pack("{s:[],s:[],s:[]}", "statements", "refused", "not_fixed"),
        .report = report, .tables = json_object_get(expected, "tables"),
        .missing = json_object(), .created = json_object(), .deferred = json_array(),
    };

    dba_buf_init(&x.b);
    plan_tables(&x);
    plan_columns(&x, nonempty);
    plan_constraints(&x);
    plan_indexes(&x);
    plan_not_fixed(&x);
    dba_buf_cleanup(&x.b);
    json_decref(x.missing);
    json_decref(x.created);
    json_decref(x.deferred);
    json_object_set_new(x.plan, "ok",
                        json_boolean(json_array_size(json_object_get(x.plan, "refused")) == 0));
    return x.plan;
}

json_t *
dba_schema_fix_touched(const json_t *plan, const json_t *report)
{
    json_t *out = json_array();
    size_t i;
    const json_t *s;

    json_array_foreach(json_object_get(plan, "statements"), i, s) {
        const char *t = str(s, "table");
        if (!in_array(json_object_get(report, "missing_tables"), t) && !in_array(out, t))
            json_array_append_new(out, json_string(t));
    }
    return out;
}

static bool
run(struct pg_conn *pg, const char *sql, struct dba_err *err)
{
    struct pg_result *r = dba_db_exec(pg, sql, NULL, 0, err);

    dba_db_res_clear(r);
    return r != NULL;
}

int
dba_schema_fix_apply(struct pg_conn *pg, const json_t *plan, int *failed, struct dba_err *err)
{
    size_t i;
    const json_t *s;
    struct dba_err ignored;

    *failed = 0;
    if (!run(pg, "BEGIN", err))
        return err->code;
    json_array_foreach(json_object_get(plan, "statements"), i, s) {
        if (run(pg, str(s, "sql"), err))
            continue;
        char msg[sizeof(err->msg)];
        memcpy(msg, err->msg, sizeof(msg));
        snprintf(err->msg, sizeof(err->msg), "statement %zu failed: ", i + 1);
        strncat(err->msg, msg, sizeof(err->msg) - strlen(err->msg) - 1);
        snprintf(err->detail_log, sizeof(err->detail_log), "%s", str(s, "sql"));
        *failed = (int)i + 1;
        run(pg, "ROLLBACK", &ignored);
        return DBA_EDB;
    }
    if (!run(pg, "COMMIT", err)) {
        run(pg, "ROLLBACK", &ignored);
        return err->code ? err->code : DBA_EDB;
    }
    return DBA_OK;
}
