/* tables.c - /tables/<t>: PostgREST's grammar in, one transaction to PostgreSQL in one round trip
   (req.c's unit), its JSON out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "query/query.h"
#include "http/grammar.h"
#include "http/http_int.h"


static bool
method_parse(const char *m, enum dba_method *out)
{
    static const struct { const char *name; enum dba_method m; } map[] = {
        { "GET", DBA_M_GET }, { "HEAD", DBA_M_HEAD }, { "POST", DBA_M_POST },
        { "PATCH", DBA_M_PATCH }, { "PUT", DBA_M_PUT }, { "DELETE", DBA_M_DELETE },
    };

    for (size_t i = 0; i < DBA_ARRAY_LEN(map); i++) {
        if (strcmp(m, map[i].name) == 0) {
            *out = map[i].m;
            return true;
        }
    }
    return false;
}

static bool
is_read(enum dba_method m)
{
    return m == DBA_M_GET || m == DBA_M_HEAD;
}

static const char *
media_type(enum dba_media m)
{
    switch (m) {
    case DBA_MEDIA_OBJECT:
        return "application/vnd.pgrst.object+json; charset=utf-8";
    case DBA_MEDIA_OBJECT_STRIPPED:
        return "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8";
    case DBA_MEDIA_ARRAY_STRIPPED:
        return "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8";
    case DBA_MEDIA_CSV:
        return "text/csv; charset=utf-8";
    case DBA_MEDIA_GEOJSON:
        return "application/geo+json; charset=utf-8";
    case DBA_MEDIA_JSON:
        break;
    }
    return "application/json; charset=utf-8";
}

/* The Content-Type of q's response: a custom handler's media type (with a charset for the
   textual types PostgREST knows, as it sends them), else the negotiated built-in type. */
static const char *
content_type(struct req *r, const struct dba_query *q)
{
    static const char *const textual[] = { "application/json", "application/geo+json",
                                           "text/csv", "text/plain", "text/xml",
                                           "application/openapi+json" };

    if (q->handler == NULL)
        return media_type(q->media);
    for (size_t i = 0; i < DBA_ARRAY_LEN(textual); i++) {
        if (strcmp(q->handler->content_type, textual[i]) == 0)
            return dba_arena_printf(r->a, "%s; charset=utf-8", textual[i]);
    }
    return q->handler->content_type;
}

static bool
is_singular(enum dba_media m)
{
    return m == DBA_MEDIA_OBJECT || m == DBA_MEDIA_OBJECT_STRIPPED;
}

static enum MHD_Result
tables_not_found(struct req *r, const struct dba_catalog *c, const char *schema,
                 const char *rel)
{
    const char *near = dba_catalog_table_suggest(c, schema, rel);
    char *msg = dba_arena_printf(r->a, "Could not find the table '%s.%s' in the schema cache",
                                 schema, rel);
    char *hint = near ? dba_arena_printf(r->a, "Perhaps you meant the table '%s.%s'", schema, near)
                      : NULL;

    return dba__http_error(r, 404, "PGRST205", msg, NULL, hint);
}

static bool
where_is_empty(const struct dba_logic *w)
{
    return w->kind != DBA_L_FILTER && w->n_children == 0;
}

static enum MHD_Result tables_queue(struct req *r, unsigned status, struct MHD_Response *resp);

struct media_ctx {
    const struct dba_catalog *c;
    const char *schema;   /* the relation or function */
    const char *name;
    bool default_select;  /* its own handlers apply */
    bool call;            /* a function (its handlers return the media domain), else a relation
                             (its handlers are aggregates) */
};

/* A handler of the target itself: of the kind its target takes (a relation and a function may
   share a name). */
static const struct dba_media_handler *
media_own(const struct media_ctx *m, const char *range)
{
    const struct dba_media_handler *h = dba_catalog_media_find(m->c, m->schema, m->name, range);

    return h && (h->agg == NULL) == m->call ? h : NULL;
}

static const void *
media_lookup(void *arg, const char *range)
{
    const struct media_ctx *m = arg;
    const struct dba_media_handler *h = NULL;

    if (m->default_select) {
        h = media_own(m, "*/*");
        if (h == NULL)
            h = media_own(m, range);
    }
    return h ? h : dba_catalog_media_find(m->c, NULL, NULL, range);
}

int
dba__http_media_negotiate(const struct dba_catalog *c, const char *accept, const char *schema,
                          const char *name, bool call, struct dba_query *q, struct dba_err *err)
{
    const struct dba_rel *rel = &q->rel;
    struct media_ctx m = {
        .c = c, .schema = schema, .name = name, .call = call,
        .default_select = rel->n_select == 0 ||
                          (rel->n_select == 1 && rel->select[0].kind == DBA_ITEM_STAR),
    };
    const void *h = NULL;

    if (c->n_media == 0)
        return DBA_OK;
    if (dba_http_grammar_accept_handlers(accept, media_lookup, &m, &q->media, &h, err) != DBA_OK)
        return err->code;
    q->handler = h;
    return DBA_OK;
}

/* The grammar's input from the HTTP request itself. */
static void
tables_parse(struct req *r, enum dba_method m, struct tables_ctx *tc, struct dba_http_req_in *in)
{
    const char *accept = dba__http_header(r, "Accept");
    const struct dba_catalog *c = r->cache;

    if (r->w->srv->cfg->server.plan_enabled &&
        dba__http_plan_parse(r->a, accept, &tc->plan))
        accept = tc->plan.for_type; /* negotiate the body the plan is for */

    /* With custom media type handlers the grammar leaves Accept alone: the planning step
       negotiates it against the handlers (dba__http_media_negotiate). */
    tc->media_custom = c != NULL && c->n_media > 0 && !tc->plan.on;
    tc->media_accept = accept;
    if (tc->media_custom)
        accept = NULL;
    *in = (struct dba_http_req_in){
        .method = m,
        .query = r->raw_query,
        .prefer = dba__http_header_all(r, "Prefer"),
        .accept = accept,
        .range = dba__http_header(r, "Range"),
        .content_type = dba__http_header(r, "Content-Type"),
        .body = r->body.data,
        .body_len = r->body.len,
    };
}

int
dba__http_tables_plan_env(const struct http_plan_env *env, struct tables_ctx *tc,
                          const struct dba_catalog *c, const struct dba_http_req_in *in,
                          struct dba_err *err)
{
    const struct dba_config *cfg = env->cfg;
    struct dba_query *q = &tc->q;
    enum dba_method m = in->method;

    if (dba_http_grammar_parse(env->a, in, q, err) != DBA_OK)
        return err->code;
    if (tc->media_custom &&
        dba__http_media_negotiate(c, tc->media_accept, tc->t->schema, tc->t->name, false, q, err)
            != DBA_OK)
        return err->code;
    q->geojson = c->geojson;
    if (env->t_us != NULL)
        env->t_us[REQ_T_PARSED] = dba_now_us();
    q->schema = env->schema;
    q->table = tc->t->name;
    /* Checks that need the parsed request, in PostgREST's order: Prefer timezone, the query tree
       against the catalog (embedded relationships, related orders, aggregates; PostgREST's
       planner errors), nested inserts, unfiltered writes. */
    if (q->prefer.timezone != NULL) {
        tc->timezone = dba_catalog_timezone(c, q->prefer.timezone);
        if (tc->timezone == NULL && q->prefer.handling_strict) {
            dba_err_set(err, DBA_EINVAL, 400, "PGRST122",
                        "Invalid preferences given with handling=strict");
            dba_err_detail(err, "Invalid preferences: timezone=%s", q->prefer.timezone);
            return err->code;
        }
    }
    if (dba_query_resolve(q, c, tc->t, cfg->server.aggregates_enabled, err) != DBA_OK ||
        dba_query_nested_resolve(q, c, tc->t, env->a, err) != DBA_OK)
        return err->code;
    /* Refused as pg-safeupdate does (same code and message, which PostgREST clients know);
       a PATCH with an empty object changes nothing, so it is let through, and a PATCH with an
       array body and no filters is a bulk update by key (sql_write.c). */
    if ((m == DBA_M_DELETE ||
         (m == DBA_M_PATCH && q->n_body_keys > 0 && q->body_kind != DBA_BODY_ARRAY)) &&
        where_is_empty(&q->rel.where) && !cfg->server.allow_unfiltered_writes)
        return dba_err_set(err, DBA_EINVAL, 400, "21000", "%s",
                           m == DBA_M_PATCH ? "UPDATE requires a WHERE clause"
                                            : "DELETE requires a WHERE clause");
    if (dba_query_sql_build(q, tc->t, (long)cfg->server.max_rows, env->a, &tc->sql, err) !=
        DBA_OK)
        return err->code;
    dba_arena_defer(env->a, dba_query_sql_cleanup_cb, &tc->sql);
    if (env->t_us != NULL)
        env->t_us[REQ_T_PLANNED] = dba_now_us();
    return DBA_OK;
}

int
dba__http_tables_plan(struct req *r, struct tables_ctx *tc, const struct dba_catalog *c,
                      const struct dba_http_req_in *in, struct dba_err *err)
{
    struct http_plan_env env = { r->a, r->w->srv->cfg, r->pol.schema, r->t_us };

    return dba__http_tables_plan_env(&env, tc, c, in, err);
}

/* Builds the statement and sends it (with the time zone setup, or wrapped in EXPLAIN). */
static enum MHD_Result
tables_submit(struct req *r, struct tables_ctx *tc)
{
    const char *sql = tc->sql.text.data;
    if (tc->plan.on)
        sql = dba__http_plan_sql(r->a, &tc->plan, sql);
    /* One transaction, one round trip: BEGIN, the settings, the statement, COMMIT/ROLLBACK. */
    dba__http_unit_begin(r, REQ_ISO_DEFAULT, is_read(tc->q.method));
    dba__http_policy_unit(r); /* the caller's role, claims and request.*, pre_request */
    if (tc->timezone != NULL)
        dba__http_unit_set(r, "timezone", tc->timezone);
    if (tc->sql.pre.len > 0) /* a nested insert: the tree first, then the answer (sql_nested.c) */
        dba__http_unit_setup(r, tc->sql.pre.data, tc->sql.pre_params, (int)tc->sql.n_pre_params);
    dba__http_unit_main(r, sql, tc->sql.params, (int)tc->sql.n_params);
    /* count=planned with filters: the planner's estimate, in the same round trip */
    if (tc->sql.count_plan != NULL && !tc->plan.on)
        dba__http_unit_aux(r, tc->sql.count_plan, tc->sql.params, (int)tc->sql.count_plan_params);
    return dba__http_unit_run(r, dba__http_tables_finish);
}

enum MHD_Result
dba__http_tables(struct req *r, const char *rel)
{
    struct tables_ctx *tc = dba_arena_alloc(r->a, sizeof(*tc));
    enum dba_method m;

    r->ctx = tc;
    if (!method_parse(r->method, &m))
        return dba__http_error(r, 405, "PGRST117",
                               dba_arena_printf(r->a, "Unsupported HTTP method: %s", r->method),
                               NULL, NULL);
    struct dba_catalog *c = dba__http_cache(r);
    if (c == NULL)
        return dba__http_error(r, 503, "PGRST002",
                               "Could not query the database for the schema cache. Retrying.",
                               NULL, NULL);
    enum MHD_Result ret;
    if (!dba__http_policy_identity(r, &ret))
        return ret;
    if (!dba__http_policy_schema(r, c, is_read(m), &ret))
        return ret;
    tc->t = dba_catalog_table_find(c, r->pol.schema, rel);
    if (tc->t == NULL)
        return tables_not_found(r, c, r->pol.schema, rel);
    if (!is_read(m) && !dba__http_policy_table_write(r, &ret))
        return ret;
    struct dba_http_req_in in;
    struct dba_err err;
    tables_parse(r, m, tc, &in);
    if (dba__http_tables_plan(r, tc, c, &in, &err) != DBA_OK)
        return dba__http_send_err(r, &err);
    dba__http_policy_tx(r, tc->q.prefer.tx);
    return tables_submit(r, tc);
}

/* Row count in the sentinel message "... \"DBA_SINGULAR:4\"". */
static long
sentinel_count(const char *msg, const char *sentinel)
{
    const char *p = strstr(msg, sentinel);

    return p ? strtol(p + strlen(sentinel), NULL, 10) : -1;
}

bool
dba__http_tables_sentinel(const struct dba_err *e, struct dba_err *out)
{
    if (strcmp(e->sqlstate, DBA_SQL_SENTINEL_SQLSTATE) != 0)
        return false;
    long n = sentinel_count(e->msg, DBA_SQL_SINGULAR);
    if (n >= 0) {
        dba_err_set(out, DBA_EINVAL, 406, "PGRST116",
                    "Cannot coerce the result to a single JSON object");
        dba_err_detail(out, "The result contains %ld rows", n);
        return true;
    }
    n = sentinel_count(e->msg, DBA_SQL_UNMATCHED);
    if (n >= 0) {
        dba_err_set(out, DBA_EINVAL, 404, "DBA404", "Some elements of the bulk update match no row");
        dba_err_detail(out, "%ld elements match no row; nothing was changed (handling=strict)", n);
        return true;
    }
    n = sentinel_count(e->msg, DBA_SQL_MAX_AFFECTED);
    if (n >= 0) {
        dba_err_set(out, DBA_EINVAL, 400, "PGRST124",
                    "Query result exceeds max-affected preference constraint");
        dba_err_detail(out, "The query affects %ld rows", n);
        return true;
    }
    return false;
}

static enum MHD_Result
tables_failed(struct req *r)
{
    struct dba_err mapped;
    enum MHD_Result ret;

    if (dba__http_rpc_raised(r, &ret)) /* RAISE SQLSTATE 'PGRST' (rpc.c) */
        return ret;
    if (dba__http_tables_sentinel(&r->err, &mapped))
        return dba__http_send_err(r, &mapped);
    return dba__http_send_err(r, &r->err);
}

static void
res_clear_cb(void *cls)
{
    dba_db_res_clear(cls);
}

static int
hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A custom media handler's body: a bytea's bytes from its hex text ("\x..."); a jsonb with
   PostgreSQL's binary jsonb version byte (1) first, as PostgREST sends it (it reads results in
   binary); any other type as its text. */
static struct MHD_Response *
handler_body(struct req *r, const struct dba_media_handler *h, const char *text, size_t len)
{
    char *out;
    size_t n = 0;

    if (strcmp(h->base, "bytea") == 0 && len >= 2 && text[0] == '\\' && text[1] == 'x') {
        out = dba_xmalloc(len / 2 + 1);
        for (size_t i = 2; i + 1 < len; i += 2) {
            int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);

            if (hi < 0 || lo < 0)
                break;
            out[n++] = (char)(hi * 16 + lo);
        }
    } else {
        bool jsonb = strcmp(h->base, "jsonb") == 0;

        out = dba_xmalloc(len + 2);
        if (jsonb)
            out[n++] = 1;
        memcpy(out + n, text, len);
        n += len;
    }
    r->resp_len = (int64_t)n;
    r->resp_len_known = true;
    return MHD_create_response_from_buffer(n, out, MHD_RESPMEM_MUST_FREE);
}

/* A response whose body is the result's body column, handed to MHD without a copy. */
static struct MHD_Response *
tables_body(struct req *r, bool with_body)
{
    struct pg_result *res = r->res;
    size_t len = with_body ? (size_t)dba_db_res_len(res, 0, DBA_SQL_COL_BODY) : 0;
    const char *body = dba_db_res_value(res, 0, DBA_SQL_COL_BODY);
    const struct tables_ctx *tc = r->ctx;

    if (len == 0)
        return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (tc != NULL && tc->q.handler != NULL)
        return handler_body(r, tc->q.handler, body, len);
    r->res = NULL; /* the response owns the result now */
    r->resp_len = (int64_t)len;
    r->resp_len_known = true;
    return MHD_create_response_from_buffer_with_free_callback_cls(len, (void *)(uintptr_t)body,
                                                                  res_clear_cb, res);
}

static const char *
col_text(struct req *r, int col)
{
    return dba_db_res_isnull(r->res, 0, col) ? NULL : dba_db_res_value(r->res, 0, col);
}

void
dba__http_tables_preference_applied(const struct tables_ctx *tc, bool write, int tx,
                                    struct dba_buf *b)
{
    const struct dba_query *q = &tc->q;
    static const char *const res_names[] = { "", "merge-duplicates", "ignore-duplicates" };
    static const char *const ret_names[] = { "", "minimal", "headers-only", "representation" };
    static const char *const cnt_names[] = { "", "exact", "planned", "estimated" };
    size_t start = b->len;

    if (write && q->prefer.resolution != DBA_RES_NONE && (q->n_on_conflict > 0 || tc->t->n_pk > 0))
        dba_buf_printf(b, "resolution=%s, ", res_names[q->prefer.resolution]);
    if (write && q->prefer.missing == DBA_MISSING_DEFAULT)
        dba_buf_puts(b, "missing=default, ");
    if (write && q->prefer.ret != DBA_RET_DEFAULT)
        dba_buf_printf(b, "return=%s, ", ret_names[q->prefer.ret]);
    if (q->prefer.count != DBA_COUNT_NONE)
        dba_buf_printf(b, "count=%s, ", cnt_names[q->prefer.count]);
    if (tx >= 0)
        dba_buf_printf(b, "tx=%s, ", tx ? "rollback" : "commit");
    if (q->prefer.set_handling)
        dba_buf_printf(b, "handling=%s, ", q->prefer.handling_strict ? "strict" : "lenient");
    if (tc->timezone != NULL)
        dba_buf_printf(b, "timezone=%s, ", q->prefer.timezone);
    if (q->prefer.handling_strict && q->prefer.max_affected >= 0 && (write || tc->fn != NULL))
        dba_buf_printf(b, "max-affected=%ld, ", q->prefer.max_affected);
    if (b->len >= start + 2) { /* the last ", " */
        b->len -= 2;
        b->data[b->len] = '\0';
    }
}

static void
add_preference_applied(struct req *r, struct MHD_Response *resp, const struct tables_ctx *tc,
                       bool write)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba__http_tables_preference_applied(tc, write,
                                        r->pol.tx_applied ? (r->pol.tx_rollback ? 1 : 0) : -1,
                                        &b);
    if (b.len > 0)
        MHD_add_response_header(resp, "Preference-Applied", b.data);
    dba_buf_cleanup(&b);
}

static void
add_content_range(struct MHD_Response *resp, long lower, long n, const char *total)
{
    char cr[96];

    if (n <= 0)
        snprintf(cr, sizeof(cr), "*/%s", total ? total : "*");
    else
        snprintf(cr, sizeof(cr), "%ld-%ld/%s", lower, lower + n - 1, total ? total : "*");
    MHD_add_response_header(resp, "Content-Range", cr);
}

static long
effective_offset(const struct dba_query *q)
{
    long lower = q->rel.offset > 0 ? q->rel.offset : 0;

    if (q->range_from > lower)
        lower = q->range_from;
    return lower;
}

static int
pair_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Content-Location: the path and the query parameters sorted, as PostgREST sends it; left out
   for a query longer than DBA_HTTP_ECHO_QUERY_BYTES (it would not fit the connection's memory). */
static void
add_content_location(struct req *r, struct MHD_Response *resp, const char *table)
{
    size_t cap = 1;
    struct dba_buf b;

    if (strlen(r->raw_query) > DBA_HTTP_ECHO_QUERY_BYTES)
        return;
    char *q = dba_arena_strdup(r->a, r->raw_query);

    for (const char *p = q; *p != '\0'; p++)
        cap += *p == '&';
    const char **pairs = dba_arena_alloc(r->a, cap * sizeof(*pairs));
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(q, "&", &save); p != NULL && n < cap;
         p = strtok_r(NULL, "&", &save))
        pairs[n++] = p;
    qsort(pairs, n, sizeof(pairs[0]), pair_cmp);
    dba_buf_init(&b);
    dba_buf_putc(&b, '/');
    dba_url_encode(&b, table);
    for (size_t i = 0; i < n; i++)
        dba_buf_printf(&b, "%c%s", i == 0 ? '?' : '&', pairs[i]);
    MHD_add_response_header(resp, "Content-Location", b.data);
    dba_buf_cleanup(&b);
}

/* The planner's row estimate from the EXPLAIN (FORMAT JSON) of a planned count (r->aux): the top
   plan's "Plan Rows" as text (arena), or NULL. */
static const char *
planned_total(struct req *r)
{
    json_t *doc, *rows;
    const char *out = NULL;

    if (r->aux == NULL || dba_db_res_ntuples(r->aux) != 1 || dba_db_res_nfields(r->aux) != 1)
        return NULL;
    doc = json_loads(dba_db_res_value(r->aux, 0, 0), 0, NULL);
    rows = json_object_get(json_object_get(json_array_get(doc, 0), "Plan"), "Plan Rows");
    if (json_is_number(rows) && json_number_value(rows) >= 0)
        out = dba_arena_printf(r->a, "%lld", (long long)json_number_value(rows));
    json_decref(doc);
    return out;
}

static enum MHD_Result
finish_read(struct req *r, struct tables_ctx *tc)
{
    const struct dba_query *q = &tc->q;
    long n = strtol(dba_db_res_value(r->res, 0, DBA_SQL_COL_PAGE_TOTAL), NULL, 10);
    const char *total = tc->sql.count_plan ? planned_total(r) : col_text(r, DBA_SQL_COL_TOTAL);
    long lower = effective_offset(q);
    unsigned status = 200;

    if (is_singular(q->media) && n != 1)
        return dba__http_error(r, 406, "PGRST116",
                               "Cannot coerce the result to a single JSON object",
                               dba_arena_printf(r->a, "The result contains %ld rows", n), NULL);
    if (total != NULL) {
        long t = strtol(total, NULL, 10);
        if (lower > t) {
            char *det = dba_arena_printf(r->a, "An offset of %ld was requested, but there are "
                                         "only %ld rows.", lower, t);
            r->err_content_range = dba_arena_printf(r->a, "*/%s", total);
            return dba__http_error(r, 416, "PGRST103", "Requested range not satisfiable", det,
                                   NULL);
        }
        if (n < t)
            status = 206;
    }
    struct MHD_Response *resp = tables_body(r, q->method != DBA_M_HEAD);
    MHD_add_response_header(resp, "Content-Type", content_type(r, q));
    add_content_range(resp, lower, n, total);
    add_content_location(r, resp, q->table);
    add_preference_applied(r, resp, tc, false);
    if (r->pol.schema_echo)
        MHD_add_response_header(resp, "Content-Profile", q->schema);
    return tables_queue(r, status, resp);
}

unsigned
dba__http_tables_write_status(const struct dba_query *q, bool repr, const char *inserted)
{
    switch (q->method) {
    case DBA_M_POST:
        if (q->prefer.resolution == DBA_RES_MERGE && inserted != NULL &&
            strtol(inserted, NULL, 10) == 0)
            return 200; /* every row (possibly none) was an update */
        return 201;
    case DBA_M_PUT:
        if (!repr)
            return 204;
        return inserted != NULL && strtol(inserted, NULL, 10) > 0 ? 201 : 200;
    case DBA_M_PATCH:
    case DBA_M_DELETE:
        return repr ? 200 : 204;
    case DBA_M_GET:
    case DBA_M_HEAD:
    case DBA_M_OPTIONS:
        break;
    }
    return 200;
}

static enum MHD_Result
finish_write(struct req *r, struct tables_ctx *tc)
{
    const struct dba_query *q = &tc->q;
    long n = strtol(dba_db_res_value(r->res, 0, DBA_SQL_COL_PAGE_TOTAL), NULL, 10);
    const char *total = q->prefer.count != DBA_COUNT_NONE
                            ? dba_arena_printf(r->a, "%ld", n) : NULL;
    const char *loc = col_text(r, DBA_SQL_COL_LOCATION);
    bool repr = q->prefer.ret == DBA_RET_REPRESENTATION;
    const char *unmatched = col_text(r, DBA_SQL_COL_INSERTED);
    unsigned status = dba__http_tables_write_status(q, repr, unmatched);

    if (loc != NULL && q->prefer.ret == DBA_RET_HEADERS_ONLY)
        loc = dba_arena_printf(r->a, "/%s?%s", q->table, loc);
    else
        loc = NULL;
    struct MHD_Response *resp = tables_body(r, repr && q->method != DBA_M_HEAD);
    if (repr)
        MHD_add_response_header(resp, "Content-Type", content_type(r, q));
    if (q->method == DBA_M_PATCH)
        add_content_range(resp, 0, n, total);
    else
        add_content_range(resp, 0, 0, total);
    if (q->method == DBA_M_PATCH && unmatched != NULL) /* a bulk update by key */
        MHD_add_response_header(resp, "Unmatched-Count", unmatched);
    if (loc != NULL)
        MHD_add_response_header(resp, "Location", loc);
    add_preference_applied(r, resp, tc, true);
    if (r->pol.schema_echo)
        MHD_add_response_header(resp, "Content-Profile", q->schema);
    return tables_queue(r, status, resp);
}

/* Applies response.headers / response.status set during the statement (PostgREST's GUCs).
   Returns false when they are malformed (the caller answers 500 PGRST111/112). */
static bool
apply_response_gucs(struct req *r, struct MHD_Response *resp, unsigned *status)
{
    const struct tables_ctx *tc = r->ctx;
    const char *st = tc->guc_status;
    const char *hd = tc->guc_headers;

    if (st != NULL) {
        char *end;
        long v = strtol(st, &end, 10);
        if (*end != '\0' || v < 100 || v > 599)
            return false;
        *status = (unsigned)v;
    }
    if (hd == NULL)
        return true;
    json_t *arr = json_loads(hd, 0, NULL);
    bool ok = json_is_array(arr);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        const char *k;
        json_t *v;
        if (!json_is_object(o) || json_object_size(o) != 1) {
            ok = false;
            break;
        }
        json_object_foreach(o, k, v) {
            if (!json_is_string(v))
                ok = false;
            else
                MHD_add_response_header(resp, k, json_string_value(v));
        }
    }
    json_decref(arr);
    return ok;
}

static enum MHD_Result
tables_queue(struct req *r, unsigned status, struct MHD_Response *resp)
{
    if (!apply_response_gucs(r, resp, &status)) {
        MHD_destroy_response(resp);
        bool bad_status = ((const struct tables_ctx *)r->ctx)->guc_status != NULL;
        return dba__http_error(r, 500, bad_status ? "PGRST112" : "PGRST111",
                               bad_status ? "response.status guc must be a valid status code"
                                          : "response.headers guc must be a JSON array composed "
                                            "of objects with a single key and a string value",
                               NULL, NULL);
    }
    return dba__http_queue(r, status, resp);
}

enum MHD_Result
dba__http_tables_finish(struct req *r)
{
    struct tables_ctx *tc = r->ctx;

    if (r->failed)
        return tables_failed(r);
    if (tc->plan.on)
        return dba__http_plan_finish(r, &tc->plan);
    if (dba_db_res_ntuples(r->res) != 1 || dba_db_res_nfields(r->res) < DBA_SQL_N_COLS)
        return dba__http_error(r, 500, "DBA500", "unexpected result shape", NULL, NULL);
    /* Copied now: a response with a body takes r->res over (tables_body). */
    const char *st = col_text(r, DBA_SQL_COL_RESPONSE_STATUS);
    const char *hd = col_text(r, DBA_SQL_COL_RESPONSE_HEADERS);
    tc->guc_status = st ? dba_arena_strdup(r->a, st) : NULL;
    tc->guc_headers = hd ? dba_arena_strdup(r->a, hd) : NULL;
    if (tc->fn != NULL && tc->fn->ret_kind == DBA_FRET_VOID) {
        /* PostgREST: 204, no body, Content-Range of the one value a single result counts
           ("0-0/" and "*", or the count) and Preference-Applied. */
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL,
                                                                    MHD_RESPMEM_PERSISTENT);
        add_content_range(resp, effective_offset(&tc->q), 1,
                          tc->q.prefer.count != DBA_COUNT_NONE ? col_text(r, DBA_SQL_COL_TOTAL)
                                                               : NULL);
        add_preference_applied(r, resp, tc, false);
        return tables_queue(r, 204, resp);
    }
    if (is_read(tc->q.method) || tc->fn != NULL) /* a call answers like a read */
        return finish_read(r, tc);
    return finish_write(r, tc);
}
