/* schema_routes.c - GET /schema, POST /schema/validate and POST /schema/fix. Each runs the same
   blocking core operation as the CLI (schema/schema.h) on a task thread, so the worker loop never
   blocks. All three are operator routes: the route table (ops.c) has checked the admin
   credential before they run. Plans and validation are read-only; POST /schema/fix?confirm=true
   changes the schema, so a read_only profile refuses it. An expected schema sent as an
   application/sql body is filtered and run in a scratch database (see schema/expected.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backup/backup.h"
#include "http/http_int.h"

enum schema_op {
    SCHEMA_OP_GET,      /* GET /schema */
    SCHEMA_OP_VALIDATE, /* POST /schema/validate */
    SCHEMA_OP_FIX,      /* POST /schema/fix */
};

struct schema_task {
    enum schema_op op;               /* which operation */
    const struct dba_config *cfg;    /* borrowed: lives as long as the server */
    const struct dba_profile *p;     /* borrowed, idem */
    char *sql;                       /* schema SQL from the body (owned), or NULL */
    bool confirm;                    /* fix: apply */
    bool backup;                     /* fix: write the pre-fix backup first */
};

static void
schema_task_free(void *arg)
{
    struct schema_task *t = arg;

    free(t->sql);
    free(t);
}

static json_t *
schema_task_run(void *arg, unsigned *status, struct dba_err *err)
{
    struct schema_task *t = arg;
    struct dba_schema_src src = { .sql = t->sql, .path = NULL };

    switch (t->op) {
    case SCHEMA_OP_GET:
        return dba_schema_live(t->cfg, t->p, err);
    case SCHEMA_OP_VALIDATE:
        return dba_schema_validate(t->cfg, t->p, &src, err);
    case SCHEMA_OP_FIX: {
        struct dba_schema_fix_opts o = { .src = src, .confirm = t->confirm, .backup = t->backup,
                                         .backup_cb = dba_backup_prefix, .backup_arg = NULL };
        json_t *doc = dba_schema_fix(t->cfg, t->p, &o, err);
        if (doc != NULL && json_object_get(doc, "error") != NULL)
            *status = dba__http_status(err, false, NULL);
        return doc;
    }
    }
    return NULL;
}

static enum MHD_Result
schema_done(struct req *r)
{
    if (!r->failed && json_is_true(json_object_get(r->task_result, "applied")))
        dba_http_server_reload(r->w->srv);
    return dba__http_send_task_result(r);
}

static bool
body_is_sql(struct req *r)
{
    const char *ct = dba__http_header(r, "Content-Type");

    return ct != NULL && strncasecmp(ct, "application/sql", 15) == 0 &&
           (ct[15] == '\0' || ct[15] == ';' || ct[15] == ' ');
}

static enum MHD_Result
schema_start(struct req *r, enum schema_op op)
{
    struct schema_task *t = dba_xcalloc(1, sizeof(*t));
    enum MHD_Result ret;

    t->op = op;
    t->cfg = r->w->srv->cfg;
    t->p = r->pol.profile;
    bool no_backup;
    /* a value other than true/1/false/0 counts as false (the plan, with a backup) */
    (void)dba__http_query_flag(r, "confirm", &t->confirm);
    (void)dba__http_query_flag(r, "no_backup", &no_backup);
    t->confirm = t->confirm && op == SCHEMA_OP_FIX;
    t->backup = !no_backup;
    bool sql = op != SCHEMA_OP_GET && body_is_sql(r);
    struct http_policy_need need = { .writes = t->confirm ? "a confirmed fix" : NULL };
    if (!dba__http_policy_check(r, &need, &ret)) {
        schema_task_free(t);
        return ret;
    }
    if (sql)
        t->sql = dba_xstrndup(r->body.data ? r->body.data : "", r->body.len);
    return dba__http_task(r, schema_task_run, t, schema_task_free, schema_done);
}

enum MHD_Result
dba__http_schema_get(struct req *r)
{
    return schema_start(r, SCHEMA_OP_GET);
}

enum MHD_Result
dba__http_schema_validate(struct req *r)
{
    return schema_start(r, SCHEMA_OP_VALIDATE);
}

enum MHD_Result
dba__http_schema_fix(struct req *r)
{
    return schema_start(r, SCHEMA_OP_FIX);
}
