/* sql_call.c - SQL builder: function calls (POST/GET/HEAD <base>/rpc/fn).
 *
 * The function is always called schema-qualified with named arguments, and every value is a
 * bound parameter cast to the parameter's declared type (catalog text, schema-qualified):
 *   GET:   "s"."f"("a" := $1::integer, VARIADIC "v" := $2::text[])
 *   POST:  json_to_record($1::json) AS pgrst_body("a" integer, "v" text[])
 *            CROSS JOIN LATERAL "s"."f"("a" := pgrst_body."a", VARIADIC "v" := pgrst_body."v")
 *          (one parameter for the whole object: JSON arrays, objects and numbers convert the way
 *          PostgreSQL converts them; only the parameters the object names are passed, the others
 *          keep their defaults)
 *   WHOLE: "s"."f"($1::json) for a single unnamed json/jsonb/text/xml parameter.
 * The call runs exactly once, in a MATERIALIZED CTE named pgrst_call, whatever reads it.
 *
 * By result kind (catalog.h enum dba_func_ret):
 * - composite, SETOF or not: pgrst_call is the root scope's row source, read by the table
 *   reader (sql_read.c) under the alias of the result's relation, so select, filters, order,
 *   limit/offset, Range, counts and embedding apply as on a table. A single composite is sent
 *   as an object (the HTTP layer asks for the object body).
 * - SETOF scalar: pgrst_call(pgrst_scalar), paged, body json_agg of the values.
 * - scalar: one value, body its JSON; select/filters do not apply (PostgREST ignores them).
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
        dba__sql_param_put(c, expr, call->body);
        dba_buf_printf(expr, "::%s", fn->args[0].type);
        break;
    case DBA_CALL_ARGS_OBJECT:
        if (call->n_args == 0)
            break;
        dba_buf_puts(from, "json_to_record(");
        dba__sql_param_put(c, from, call->body ? call->body : "{}");
        dba_buf_puts(from, "::json) AS " CALL_BODY "(");
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
        dba_buf_puts(from, ") CROSS JOIN LATERAL ");
        break;
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

/* A single value (scalar) or nothing (void): WITH pgrst_call AS MATERIALIZED (SELECT <call> AS
   pgrst_scalar [FROM <body>]) SELECT ... FROM pgrst_call _t. */
static int
call_single(struct sql_ctx *c, struct dba_buf *b, bool is_void)
{
    struct dba_buf from, expr;
    bool head = c->q->method == DBA_M_HEAD;

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
    dba_buf_printf(b, ") SELECT %s AS total, count(*) AS page_total, ",
                   c->q->prefer.count != DBA_COUNT_NONE ? "count(*)" : "NULL::bigint");
    if (is_void || head)
        dba_buf_puts(b, "''");
    else if (c->q->handler || c->q->media == DBA_MEDIA_GEOJSON) /* a handler's body, GeoJSON */
        dba__sql_body(c, b);
    else
        dba_buf_puts(b, "coalesce((json_agg(" SQL_ROW "." CALL_SCALAR ")->0)::text, 'null')");
    dba_buf_puts(b, " AS body, NULL::text AS location, NULL::bigint AS inserted"
                    DBA_SQL_RESPONSE_GUCS " FROM " CALL_CTE " " SQL_ROW);
    dba_buf_cleanup(&from);
    dba_buf_cleanup(&expr);
    return DBA_OK;
}

/* SETOF scalar: the values paged by limit/offset and Range, an array of them. */
static int
call_scalar_set(struct sql_ctx *c, struct dba_buf *b, long max_rows)
{
    long off, lim;

    dba_buf_puts(b, "WITH ");
    call_cte(c, b, true);
    dba__sql_read_range(c->q, max_rows, &off, &lim);
    dba_buf_puts(b, ", " SQL_SOURCE " AS (SELECT " CALL_SCALAR " FROM " CALL_CTE);
    if (lim >= 0)
        dba_buf_printf(b, " LIMIT %ld", lim);
    if (off > 0)
        dba_buf_printf(b, " OFFSET %ld", off);
    dba_buf_printf(b, ") SELECT %s AS total, count(*) AS page_total, ",
                   c->q->prefer.count != DBA_COUNT_NONE
                       ? "(SELECT count(*) FROM " CALL_CTE ")" : "NULL::bigint");
    if (c->q->method == DBA_M_HEAD)
        dba_buf_puts(b, "''");
    else if (c->q->handler || c->q->media == DBA_MEDIA_GEOJSON)
        dba__sql_body(c, b);
    else if (c->q->media == DBA_MEDIA_OBJECT || c->q->media == DBA_MEDIA_OBJECT_STRIPPED)
        dba_buf_puts(b, "coalesce((json_agg(" SQL_ROW "." CALL_SCALAR ")->0)::text, 'null')");
    else
        dba_buf_puts(b, "coalesce(json_agg(" SQL_ROW "." CALL_SCALAR "), '[]')::text");
    dba_buf_puts(b, " AS body, NULL::text AS location, NULL::bigint AS inserted"
                    DBA_SQL_RESPONSE_GUCS " FROM " SQL_SOURCE " " SQL_ROW);
    return DBA_OK;
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
        return call_single(c, b, true);
    case DBA_FRET_SCALAR:
        return fn->ret_set ? call_scalar_set(c, b, max_rows) : call_single(c, b, false);
    case DBA_FRET_COMPOSITE:
        break;
    }
    /* The call is the root scope's row source: the reader's FROM names the CTE. */
    dba_buf_init(&cte);
    call_cte(c, &cte, false);
    c->with_cte = dba_arena_strdup(c->a, cte.data);
    dba_buf_cleanup(&cte);
    c->qual = CALL_CTE;
    return dba__sql_read_build(c, b, max_rows);
}
