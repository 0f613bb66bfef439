/* sql_call.c - SQL builder: function calls (POST/GET/HEAD <base>/rpc/fn).
 *
 * The function is always called schema-qualified with named arguments, and every value is a
 * bound parameter cast to the parameter's declared type (catalog text, schema-qualified):
 *   GET:   "s"."f"("a" := $1::integer, VARIADIC "v" := $2::text[])
 *   POST:  json_to_record($1::json) AS pgrst_body("a" integer, "v" text[])
 *            CROSS JOIN LATERAL "s"."f"("a" := pgrst_body."a", VARIADIC "v" := pgrst_body."v")
 *          (one parameter for the whole object: JSON arrays, objects and numbers convert the way
 *          PostgreSQL converts them; only the parameters the object names are passed, the others
 *          keep their defaults). A body that is not an object (columns=: the body as sent) is
 *          read as PostgREST reads it, its first element:
 *            (SELECT * FROM json_to_recordset($1::json) AS _("a" integer) LIMIT 1) AS pgrst_body
 *          (an empty array: no row, the function is not called; not JSON: PostgreSQL's 22P02)
 *   WHOLE: "s"."f"($1::json) for a single unnamed json/jsonb/text/xml/bytea parameter (a bytea
 *          body arrives as its hex text, \x..., from the HTTP layer).
 * The call runs exactly once, in a MATERIALIZED CTE named pgrst_call, whatever reads it.
 *
 * By result kind (catalog.h enum dba_func_ret):
 * - composite, SETOF or not: pgrst_call is the root scope's row source, read by the table
 *   reader (sql_read.c) under the alias of the result's relation, so select, filters, order,
 *   limit/offset, Range, counts and embedding apply as on a table. A single composite is sent
 *   as an object (the HTTP layer asks for the object body).
 * - scalar, SETOF or not: read the same way, as PostgREST reads it: a relation named after the
 *   function with the one column pgrst_scalar (select=pgrst_scalar, pgrst_scalar=gt.1,
 *   order=pgrst_scalar.desc); the body is json_agg of the values (the first one for a single
 *   scalar, null when a filter left none).
 * - void: the call, an empty body (the HTTP layer answers 204).
 */
#include <string.h>

#include "query/query_int.h"

#define CALL_CTE SQL_CALL_CTE
#define CALL_BODY "pgrst_body"
#define CALL_SCALAR "pgrst_scalar"

/* The values of a repeated key as one array literal, bound as one parameter. */
static const char *
call_array_literal(struct dba_arena *a, const char *const *v, size_t n)
{
    struct dba_buf b;
    const char *s;

    dba_buf_init(&b);
    dba_buf_put_text_array(&b, v, n);
    s = dba_arena_strdup(a, b.data);
    dba_buf_cleanup(&b);
    return s;
}

/* "VARIADIC "v" := " / ""v" := " */
static void
call_arg_name(struct dba_buf *b, const struct dba_func_arg *p)
{
    if (p->mode == DBA_ARG_VARIADIC)
        dba_buf_puts(b, "VARIADIC ");
    dba_buf_put_ident(b, p->name);
    dba_buf_puts(b, " := ");
}

/* The FROM items before the call (POST: the body record), then the call expression itself. */
static void
call_render(struct sql_ctx *c, struct dba_buf *from, struct dba_buf *expr)
{
    const struct dba_call *call = c->q->call;
    const struct dba_function *fn = call->fn;

    dba_buf_put_ident(expr, fn->schema);
    dba_buf_putc(expr, '.');
    dba_buf_put_ident(expr, fn->name);
    dba_buf_putc(expr, '(');
    switch (call->args_kind) {
    case DBA_CALL_ARGS_WHOLE:
        for (size_t i = 0; i < fn->n_args; i++) {
            enum dba_arg_mode m = fn->args[i].mode;
            if (m != DBA_ARG_IN && m != DBA_ARG_INOUT && m != DBA_ARG_VARIADIC)
                continue;
            dba__sql_param_put(c, expr, call->body ? call->body : "");
            dba_buf_printf(expr, "::%s", fn->args[i].type);
            break;
        }
        break;
    case DBA_CALL_ARGS_OBJECT: {
        if (call->n_args == 0)
            break;
        const char *body = call->body ? call->body : "{}";
        bool object = body[strspn(body, " \t\r\n")] == '{';
        dba_buf_puts(from, object ? "json_to_record(" : "(SELECT * FROM json_to_recordset(");
        dba__sql_param_put(c, from, body);
        dba_buf_puts(from, object ? "::json) AS " CALL_BODY "(" : "::json) AS _(");
        for (size_t i = 0; i < call->n_args; i++) {
            const struct dba_func_arg *p = call->args[i].param;
            dba_buf_puts(from, i ? ", " : "");
            dba_buf_put_ident(from, p->name);
            dba_buf_printf(from, " %s", p->type);
            dba_buf_puts(expr, i ? ", " : "");
            call_arg_name(expr, p);
            dba_buf_puts(expr, CALL_BODY ".");
            dba_buf_put_ident(expr, p->name);
        }
        dba_buf_puts(from, object ? ")" : ") LIMIT 1) AS " CALL_BODY);
        dba_buf_puts(from, " CROSS JOIN LATERAL ");
        break;
    }
    case DBA_CALL_ARGS_LIST:
        for (size_t i = 0; i < call->n_args; i++) {
            const struct dba_call_arg *a = &call->args[i];
            dba_buf_puts(expr, i ? ", " : "");
            call_arg_name(expr, a->param);
            if (a->param->mode == DBA_ARG_VARIADIC)
                dba__sql_param_put(c, expr, call_array_literal(c->a, a->values, a->n_values));
            else
                dba__sql_param_put(c, expr, a->value);
            dba_buf_printf(expr, "::%s", a->param->type);
        }
        break;
    }
    dba_buf_putc(expr, ')');
}

/* pgrst_call AS MATERIALIZED (SELECT <cols> FROM <from> <call> AS pgrst_f[(pgrst_scalar)]) */
static void
call_cte(struct sql_ctx *c, struct dba_buf *b, bool scalar_set)
{
    struct dba_buf from, expr;

    dba_buf_init(&from);
    dba_buf_init(&expr);
    call_render(c, &from, &expr);
    dba_buf_puts(b, CALL_CTE " AS MATERIALIZED (SELECT ");
    if (scalar_set)
        dba_buf_puts(b, "pgrst_f." CALL_SCALAR);
    else
        dba_buf_puts(b, "pgrst_f.*");
    dba_buf_puts(b, " FROM ");
    dba_buf_puts(b, from.data ? from.data : "");
    dba_buf_puts(b, expr.data);
    dba_buf_puts(b, scalar_set ? " AS pgrst_f(" CALL_SCALAR "))" : " AS pgrst_f)");
    dba_buf_cleanup(&from);
    dba_buf_cleanup(&expr);
}

/* Nothing (void): WITH pgrst_call AS MATERIALIZED (SELECT <call> AS pgrst_scalar [FROM <body>])
   SELECT ... '' AS body FROM pgrst_call _t (the HTTP layer answers 204). */
static int
call_void(struct sql_ctx *c, struct dba_buf *b)
{
    struct dba_buf from, expr;

    dba_buf_init(&from);
    dba_buf_init(&expr);
    call_render(c, &from, &expr);
    dba_buf_puts(b, "WITH " CALL_CTE " AS MATERIALIZED (SELECT ");
    dba_buf_puts(b, expr.data);
    dba_buf_puts(b, " AS " CALL_SCALAR);
    if (from.len) {
        /* "json_to_record(...) AS pgrst_body(...) CROSS JOIN LATERAL ": keep the record only. */
        size_t n = from.len - strlen(" CROSS JOIN LATERAL ");
        dba_buf_puts(b, " FROM ");
        from.data[n] = '\0';
        dba_buf_puts(b, from.data);
    }
    dba_buf_printf(b, ") SELECT %s AS total, count(*) AS page_total, '' AS body, NULL::text AS "
                      "location, NULL::bigint AS inserted" DBA_SQL_RESPONSE_GUCS " FROM "
                      CALL_CTE " " SQL_ROW,
                   c->q->prefer.count != DBA_COUNT_NONE ? "count(*)" : "NULL::bigint");
    dba_buf_cleanup(&from);
    dba_buf_cleanup(&expr);
    return DBA_OK;
}

/* The relation a scalar result is read as: named after the function (the root alias), one
   column pgrst_scalar of the function's type, as in PostgREST (its read plan's FROM is the call
   aliased by the function's name), so select, filters and order name pgrst_scalar. No domain
   representation applies (PostgREST knows no columns of it). */
static const struct dba_table *
call_scalar_table(struct sql_ctx *c, const struct dba_function *fn)
{
    struct dba_table *t = dba_arena_alloc(c->a, sizeof(*t));
    struct dba_column *col = dba_arena_alloc(c->a, sizeof(*col));

    memset(t, 0, sizeof(*t));
    memset(col, 0, sizeof(*col));
    col->name = (char *)CALL_SCALAR;
    col->type = fn->ret_type;
    col->nullable = true;
    col->position = 1;
    t->schema = c->t->schema;
    t->name = c->t->name;
    t->kind = 'c';
    t->cols = col;
    t->n_cols = 1;
    return t;
}

int
dba__sql_call_build(struct sql_ctx *c, struct dba_buf *b, long max_rows)
{
    const struct dba_call *call = c->q->call;
    const struct dba_function *fn = call->fn;
    struct dba_buf cte;

    if (fn == NULL) {
        dba_err_set(c->err, DBA_EINVAL, 400, "PGRST127", "Feature not implemented");
        dba_err_detail(c->err, "The call to %s was not resolved to a function",
                       call->name ? call->name : "");
        return DBA_EINVAL;
    }
    switch (fn->ret_kind) {
    case DBA_FRET_VOID:
        return call_void(c, b);
    case DBA_FRET_SCALAR:
        c->t = call_scalar_table(c, fn);
        break;
    case DBA_FRET_COMPOSITE:
        break;
    }
    /* The call is the root scope's row source: the reader's FROM names the CTE. */
    dba_buf_init(&cte);
    call_cte(c, &cte, fn->ret_kind == DBA_FRET_SCALAR);
    c->with_cte = dba_arena_strdup(c->a, cte.data);
    dba_buf_cleanup(&cte);
    c->qual = CALL_CTE;
    return dba__sql_read_build(c, b, max_rows);
}
