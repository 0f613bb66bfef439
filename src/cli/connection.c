/* connection.c - serve, profiles, connect and status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "db/db.h"
#include "http/http.h"
#include "schema/schema.h"

static int
serve_args(struct dba_cli *c, struct dba_http_opts *o)
{
    for (int i = 0; i < c->argc; i++) {
        const char *a = c->argv[i];
        const char *v = i + 1 < c->argc ? c->argv[i + 1] : NULL;
        if (strcmp(a, "--port") == 0 && v != NULL) {
            char *end;
            long port = strtol(v, &end, 10);
            if (*end != '\0' || port < 0 || port > 65535) {
                fprintf(stderr, "db-adapter serve: bad port '%s'\n", v);
                return DBA_EXIT_USAGE;
            }
            o->port = (int)port;
            i++;
        } else if (strcmp(a, "--listen") == 0 && v != NULL) {
            o->listen = v;
            i++;
        } else if (strcmp(a, "--workers") == 0 && v != NULL) {
            o->workers = atoi(v);
            i++;
        } else {
            fprintf(stderr, "db-adapter serve: unknown option '%s' (see db-adapter --help)\n", a);
            return DBA_EXIT_USAGE;
        }
    }
    return DBA_EXIT_OK;
}

/* SIGHUP: the file and the environment again; what changed is logged (applied now, or needs a
   restart). The running configuration stays in use: the server borrows it. */
static void
serve_reload(struct dba_cli *c, struct dba_http_server *s)
{
    struct dba_config *n = NULL;
    struct dba_err err;

    dba_log(DBA_LOG_INFO, "SIGHUP: reloading the configuration and the schema cache");
    if (dba_config_load_ex(c->config_path, c->config_path != NULL, c->env_prefix, c->sets,
                           c->n_sets, &n, &err) != DBA_OK) {
        dba_log(DBA_LOG_ERROR, "reload: %s; keeping the running configuration", err.msg);
        return;
    }
    if (dba_http_server_reconfigure(s, n, &err) != DBA_OK) { /* n is the server's on success */
        dba_log(DBA_LOG_ERROR, "reload: %s; keeping the running configuration", err.msg);
        dba_config_free(n);
    }
}

int
dba_cli_serve(struct dba_cli *c)
{
    struct dba_http_opts o = { .port = -1, .listen = NULL, .workers = 0 };
    const char *source = NULL;
    struct dba_err err;
    int rc = serve_args(c, &o);

    if (rc != DBA_EXIT_OK)
        return rc;
    const struct dba_profile *p = dba_cli_profile(c, &source, true);
    if (p == NULL)
        return DBA_EXIT_USAGE;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct dba_http_server *s = dba_http_server_start(c->cfg, p, source, &o, &err);
    if (s == NULL) {
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            serve_reload(c, s);
            dba_http_server_reload(s);
            continue;
        }
        dba_log(DBA_LOG_INFO, "signal %d: shutting down", sig);
        break;
    }
    dba_http_server_stop(s);
    return DBA_EXIT_OK;
}

int
dba_cli_profiles(struct dba_cli *c)
{
    const struct dba_profile *active = NULL;
    struct dba_err err;

    if (dba_config_active_profile(c->cfg, c->profile, &active, NULL, &err) != DBA_OK)
        active = NULL;
    json_t *arr = dba_schema_profiles_json(c->cfg, active);
    if (c->json) {
        dba_cli_print_json(arr);
        json_decref(arr);
        return DBA_EXIT_OK;
    }
    if (json_array_size(arr) == 0) {
        printf("No profiles. Create db-adapter.conf (see README) or set DATABASE_URL.\n");
        json_decref(arr);
        return DBA_EXIT_OK;
    }
    printf("  %-16s %-32s %s\n", "PROFILE", "LOCATION", "DESCRIPTION");
    size_t i;
    json_t *p;
    json_array_foreach(arr, i, p) {
        printf("%s %-16s %-32s %s\n", json_is_true(json_object_get(p, "active")) ? "*" : " ",
               json_string_value(json_object_get(p, "name")),
               json_string_value(json_object_get(p, "location")),
               json_string_value(json_object_get(p, "description")));
    }
    json_decref(arr);
    return DBA_EXIT_OK;
}

static void
print_probe(json_t *o)
{
    printf("profile:   %s (from %s)\n", json_string_value(json_object_get(o, "profile")),
           json_string_value(json_object_get(o, "source")));
    printf("location:  %s\n", json_string_value(json_object_get(o, "location")));
    if (!json_is_true(json_object_get(o, "reachable"))) {
        printf("reachable: no: %s\n", json_string_value(json_object_get(o, "error")));
        const char *d = json_string_value(json_object_get(o, "details"));
        if (d != NULL && d[0])
            printf("           %s\n", d);
        return;
    }
    printf("reachable: yes, PostgreSQL %s\n",
           json_string_value(json_object_get(o, "server_version")));
    json_t *tables = json_object_get(o, "tables");
    if (tables == NULL) {
        printf("tables:    could not be read: %s\n",
               json_string_value(json_object_get(o, "error")));
        return;
    }
    const char *kind = json_string_value(json_object_get(o, "row_counts"));
    bool estimated = kind != NULL && strcmp(kind, "estimated") == 0;
    printf("tables:    %zu%s\n", json_object_size(tables),
           estimated ? " (estimated row counts; --exact counts them)" : "");
    const char *k;
    json_t *v;
    json_object_foreach(tables, k, v) {
        if (json_is_integer(v))
            printf("  %-40s %12lld rows\n", k, (long long)json_integer_value(v));
        else
            printf("  %-40s %12s rows\n", k, "unknown");
    }
}

int
dba_cli_connect(struct dba_cli *c)
{
    const char *source = NULL;
    struct dba_err err;

    if (c->argc > 0) {
        fprintf(stderr, "db-adapter connect: unexpected argument '%s'\n", c->argv[0]);
        return DBA_EXIT_USAGE;
    }
    const struct dba_profile *p = dba_cli_profile(c, &source, true);
    if (p == NULL)
        return DBA_EXIT_FAIL;
    dba_err_clear(&err);
    json_t *o = dba_schema_status_probe(p, source, true, &err);
    bool ok = json_is_true(json_object_get(o, "reachable")) && json_object_get(o, "tables");
    if (ok)
        ok = dba_cli_connect_validate(c, p, o);
    if (ok && !p->implicit && dba_config_lock_write(p->name, &err) != DBA_OK) {
        json_object_set_new(o, "error", json_string(err.msg));
        ok = false;
    }
    json_object_set_new(o, "ok", json_boolean(ok));
    json_object_set_new(o, "lock_file", json_boolean(ok && !p->implicit));
    if (c->json) {
        dba_cli_print_json(o);
    } else {
        print_probe(o);
        if (json_object_get(o, "schema_validation") != NULL)
            printf("schema:    %s%s%s\n",
                   json_string_value(json_object_get(o, "schema_validation")),
                   json_object_get(o, "schema") == NULL && !ok ? ": " : "",
                   json_object_get(o, "schema") == NULL && !ok
                       ? json_string_value(json_object_get(o, "error")) : "");
        if (ok)
            printf(p->implicit ? "connected (implicit profile: lock file not written)\n"
                               : "connected: .db-profile now selects '%s'\n", p->name);
        else
            fprintf(stderr, "db-adapter connect: failed; .db-profile left unchanged\n");
    }
    json_decref(o);
    return ok ? DBA_EXIT_OK : DBA_EXIT_FAIL;
}

int
dba_cli_status(struct dba_cli *c)
{
    const char *source = NULL;
    struct dba_err err;

    bool exact = false;

    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--exact") == 0) {
            exact = true;
            continue;
        }
        fprintf(stderr, "db-adapter status: unexpected argument '%s'\n", c->argv[i]);
        return DBA_EXIT_USAGE;
    }
    const struct dba_profile *p = dba_cli_profile(c, &source, true);
    if (p == NULL)
        return DBA_EXIT_FAIL;
    dba_err_clear(&err);
    json_t *o = dba_schema_status_probe(p, source, exact, &err);
    if (c->json)
        dba_cli_print_json(o);
    else
        print_probe(o);
    bool ok = json_is_true(json_object_get(o, "reachable"));
    json_decref(o);
    return ok ? DBA_EXIT_OK : DBA_EXIT_FAIL;
}
