/* plan.c - Accept: application/vnd.pgrst.plan[+json|+text][; for="..."][; options=a|b]: answer
   with PostgreSQL's EXPLAIN of the statement the request would run (server.plan_enabled). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

#define PLAN_TYPE "application/vnd.pgrst.plan"

static const char *const plan_opts[] = { "analyze", "verbose", "settings", "buffers", "wal" };

/* Copies the value of parameter `name` (quotes removed) from "type; a=b; c=\"d\"" into out. */
static bool
plan_param(const char *accept, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);

    for (const char *p = strchr(accept, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *k = p + 1;
        while (*k == ' ')
            k++;
        if (strncasecmp(k, name, nl) != 0 || k[nl] != '=')
            continue;
        const char *v = k + nl + 1;
        size_t len = strcspn(v, ";,");
        if (len > 0 && v[0] == '"') {
            v++;
            len = strcspn(v, "\"");
        }
        snprintf(out, n, "%.*s", (int)len, v);
        return true;
    }
    return false;
}

bool
dba__http_plan_parse(struct dba_arena *a, const char *accept, struct http_plan *plan)
{
    char fortype[128] = "application/json";
    char opts[128] = "";

    memset(plan, 0, sizeof(*plan));
    if (accept == NULL)
        return false;
    accept += strspn(accept, " ");
    if (strncasecmp(accept, PLAN_TYPE, strlen(PLAN_TYPE)) != 0)
        return false;
    const char *rest = accept + strlen(PLAN_TYPE);
    plan->json = strncasecmp(rest, "+json", 5) == 0;
    plan_param(accept, "for", fortype, sizeof(fortype));
    if (strcasecmp(fortype, "application/vnd.pgrst.object") == 0)
        snprintf(fortype, sizeof(fortype), "application/vnd.pgrst.object+json");
    plan->for_type = dba_arena_strdup(a, fortype);
    if (plan_param(accept, "options", opts, sizeof(opts))) {
        plan->options = dba_arena_strdup(a, opts);
        for (size_t i = 0; i < DBA_ARRAY_LEN(plan_opts); i++)
            if (strstr(opts, plan_opts[i]) != NULL)
                plan->flags |= 1u << i;
    }
    plan->on = true;
    return true;
}

char *
dba__http_plan_sql(struct dba_arena *a, const struct http_plan *plan, const char *sql)
{
    struct dba_buf b;

    dba_buf_init(&b);
    dba_buf_printf(&b, "EXPLAIN (FORMAT %s", plan->json ? "JSON" : "TEXT");
    for (size_t i = 0; i < DBA_ARRAY_LEN(plan_opts); i++)
        if (plan->flags & (1u << i))
            dba_buf_printf(&b, ", %s", plan_opts[i]);
    dba_buf_printf(&b, ") %s", sql);
    char *out = dba_arena_strndup(a, b.data, b.len);
    dba_buf_cleanup(&b);
    return out;
}

enum MHD_Result
dba__http_plan_finish(struct req *r, const struct http_plan *plan)
{
    struct dba_buf body;
    char ct[384];

    dba_buf_init(&body);
    for (int i = 0; i < dba_db_res_ntuples(r->res); i++)
        dba_buf_printf(&body, "%s%s", i ? "\n" : "", dba_db_res_value(r->res, i, 0));
    snprintf(ct, sizeof(ct), "application/vnd.pgrst.plan+%s; for=\"%s\"%s%s; charset=utf-8",
             plan->json ? "json" : "text", plan->for_type, plan->options ? "; options=" : "",
             plan->options ? plan->options : "");
    size_t len = body.len;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, dba_buf_take(&body), MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", ct);
    return dba__http_queue(r, 200, resp);
}
