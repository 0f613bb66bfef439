/* cmd_transaction.c - `db-adapter transaction FILE|- [--rollback]`: a POST /transaction document
   run against the active profile by the same core as the route (dba_http_transaction_run), as
   the profile's role. Exit 0 when every operation succeeded, 1 otherwise. --json prints the
   route's answer document; text mode one line per operation with its status (the operations
   before a failed one: "rolled back"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "db/db.h"
#include "http/http.h"

/* The whole of path ("-" = stdin) into a new buffer; NULL with errno when unreadable. */
static char *
txc_read(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 65536, n = 0;
    char *b;

    if (f == NULL)
        return NULL;
    b = dba_xmalloc(cap);
    for (size_t k; (k = fread(b + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap) {
            cap *= 2;
            b = dba_xrealloc(b, cap);
        }
    }
    bool bad = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/* Text mode: one line per operation ("0 POST /tables/authors -> 201"), then the outcome. */
static void
txc_print(const char *doc, size_t len, json_t *out, unsigned status)
{
    json_t *d = json_loadb(doc, len, 0, NULL);
    json_t *ops = json_object_get(d, "operations");
    json_t *results = json_object_get(out, "results");
    json_t *failed = json_object_get(out, "operation");
    size_t i;
    json_t *o;

    json_array_foreach(ops, i, o) {
        const char *m = json_string_value(json_object_get(o, "method"));
        const char *path = json_string_value(json_object_get(o, "path"));
        json_t *r = json_array_get(results, i);
        if (r != NULL)
            printf("%zu %s %s -> %lld\n", i, m ? m : "?", path ? path : "?",
                   (long long)json_integer_value(json_object_get(r, "status")));
        else if (failed != NULL && (size_t)json_integer_value(failed) == i)
            printf("%zu %s %s -> %u %s: %s\n", i, m ? m : "?", path ? path : "?", status,
                   json_string_value(json_object_get(out, "code")),
                   json_string_value(json_object_get(out, "message")));
        else if (failed != NULL && (size_t)json_integer_value(failed) > i)
            printf("%zu %s %s -> rolled back\n", i, m ? m : "?", path ? path : "?");
    }
    if (status == 200) {
        printf("ok: %zu operations\n", json_array_size(results));
    } else {
        const char *det = json_string_value(json_object_get(out, "details"));
        const char *hint = json_string_value(json_object_get(out, "hint"));
        if (failed != NULL)
            fprintf(stderr, "db-adapter: transaction failed at operation %lld, rolled back\n",
                    (long long)json_integer_value(failed));
        else
            fprintf(stderr, "db-adapter: %s (nothing ran)\n",
                    json_string_value(json_object_get(out, "message")));
        if (det != NULL)
            fprintf(stderr, "  details: %s\n", det);
        if (hint != NULL)
            fprintf(stderr, "  hint: %s\n", hint);
    }
    json_decref(d);
}

int
dba_cli_transaction(struct dba_cli *c)
{
    const char *file = NULL;
    bool rollback = false;
    struct dba_err err;

    dba_err_clear(&err);
    for (int i = 0; i < c->argc; i++) {
        const char *a = c->argv[i];
        if (strcmp(a, "--rollback") == 0) {
            rollback = true;
        } else if (file == NULL && (a[0] != '-' || strcmp(a, "-") == 0)) {
            file = a;
        } else {
            fprintf(stderr, "db-adapter transaction: %s is not an option (see db-adapter "
                            "transaction --help)\n", a);
            return DBA_EXIT_USAGE;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "db-adapter transaction: a FILE (or - for stdin) is required\n");
        return DBA_EXIT_USAGE;
    }
    size_t len = 0;
    char *doc = txc_read(file, &len);
    if (doc == NULL) {
        dba_err_set(&err, DBA_EIO, 0, "DBA400", "cannot read %s", file);
        dba_cli_print_err(c, &err);
        return DBA_EXIT_FAIL;
    }
    const struct dba_profile *p = dba_cli_profile(c, NULL, true);
    if (p == NULL) {
        free(doc);
        return DBA_EXIT_FAIL;
    }
    char *ci = dba_config_profile_conninfo(p);
    struct pg_conn *conn = dba_db_connect_blocking(ci, 10, &err);
    free(ci);
    struct dba_catalog *cat = NULL;
    if (conn != NULL)
        cat = dba_catalog_load(conn, (const char *const *)p->schemas.v, p->schemas.n, &err);
    if (cat == NULL) {
        dba_cli_print_err(c, &err);
        dba_db_close(conn);
        free(doc);
        return DBA_EXIT_FAIL;
    }
    unsigned status = 0;
    json_t *out = dba_http_transaction_run(c->cfg, p, conn, cat, doc, len, rollback, &status);
    if (c->json)
        dba_cli_print_json(out);
    else
        txc_print(doc, len, out, status);
    json_decref(out);
    dba_catalog_unref(cat);
    dba_db_close(conn);
    free(doc);
    return status == 200 ? DBA_EXIT_OK : DBA_EXIT_FAIL;
}
