/* harness.h - integration test harness: a gateway started in process on port 0 against the
   throwaway PostgreSQL of the CTest fixture, driven over HTTP with libcurl. */
#ifndef DBAT_HARNESS_H
#define DBAT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct dbat_resp {
    long status;        /* HTTP status */
    char *headers;      /* raw response header block */
    char *body;         /* body, NUL-terminated */
    size_t body_len;    /* body length */
    json_t *json;       /* parsed body, or NULL */
};

/* Suite hooks: start / stop the gateway (config extra lines may be NULL). */
void dbat_server_start(void);
void dbat_server_start_with(const char *server_extra, const char *profile_extra);
/* The same with the profile's schemas list (e.g. "\"drift\"", NULL = public, other) and extra
   top-level config groups (e.g. "schema: { file = ...; };"). */
void dbat_server_start_conf(const char *server_extra, const char *profile_extra, const char *schemas,
                            const char *top_extra);
/* Starts the gateway with profile "test" (active, schemas ["public"]) on url, more profiles
   (e.g. "other: { url = \"...\"; };", may be NULL) and extra top-level groups (may be NULL). */
void dbat_server_start_db(const char *url, const char *more_profiles, const char *top_extra);
/* Starts the gateway with profile "test" at url (schemas ["public"]) and extra config lines. */
void dbat_server_start_url(const char *url, const char *server_extra, const char *profile_extra);
/* All of the above at once: url (NULL = the test database), schemas as for _conf. */
void dbat_server_start_full(const char *url, const char *server_extra, const char *profile_extra,
                            const char *schemas, const char *top_extra);
void dbat_server_stop(void);
int dbat_port(void);
/* The admin listener's port, or -1 when admin.port is not configured. */
int dbat_admin_port(void);
struct dba_config;
/* The running server's configuration (borrowed until dbat_server_stop). */
const struct dba_config *dbat_config(void);

/* The admin token the harness configures (through DB_ADAPTER_ADMIN_TOKEN) when a test starts the
   gateway without setting that variable itself; operator routes need it. */
#define DBAT_ADMIN_TOKEN "dbat-admin-token"
/* The next start configures no admin token at all (operator routes then answer 403). */
void dbat_without_admin_token(void);

/* Sends a request. headers: NULL-terminated "Name: value" list or NULL. body may be NULL. */
struct dbat_resp *dbat_req(const char *method, const char *path, const char *const *headers,
                           const char *body);
#define dbat_get(path) dbat_req("GET", (path), NULL, NULL)
/* The same on another port of 127.0.0.1 (e.g. the admin listener's). */
struct dbat_resp *dbat_req_at(int port, const char *method, const char *path,
                              const char *const *headers, const char *body);
/* dbat_req with `Authorization: Bearer <the running server's admin token>` added (nothing added
   when it has none), for the operator routes. */
struct dbat_resp *dbat_admin_req(const char *method, const char *path, const char *const *headers,
                                 const char *body);
#define dbat_admin_get(path) dbat_admin_req("GET", (path), NULL, NULL)
/* dbat_req with up to two header lines (h1, h2 may be NULL) and, when body is not NULL,
   Content-Type: application/json. */
struct dbat_resp *dbat_req_json(const char *method, const char *path, const char *body,
                                const char *h1, const char *h2);
/* Expects status and, when json is not NULL, that body (semantically); frees r. */
void dbat_expect(struct dbat_resp *r, long status, const char *json);

/* Value of a response header (case-insensitive), or NULL; static buffer. */
const char *dbat_header(const struct dbat_resp *r, const char *name);
void dbat_resp_free(struct dbat_resp *r);

/* Runs `db-adapter <args>` (the binary in DBA_TEST_BIN) in directory dir, stdin from /dev/null,
   without DATABASE_URL and DB_PROFILE but with the extra assignments env (may be NULL); stdout
   and stderr together go to *out (heap). Returns the exit status (-1 when it did not exit). */
int dbat_cli(const char *dir, const char *env, const char *args, char **out);

/* Runs SQL on the test database (blocking, fresh connection); returns the first value or NULL. */
char *dbat_sql(const char *sql);
/* Runs tests/fixtures/<name> (below DBA_TEST_SOURCE_DIR) on the test database as postgres. */
void dbat_fixture(const char *name);

/* Runs a shell command (printf format); the test fails when it exits other than 0. */
void dbat_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The test PostgreSQL's socket directory (DBA_TEST_PG_DIR/sock). */
const char *dbat_pg_sock(void);
/* First value of sql run by psql in database db, as a new string ("" when no row). */
char *dbat_psql(const char *db, const char *sql);
/* (Re)creates database db with the backup tests' tables (tests/fixtures/backup.sql), and their
   rows (backup_seed.sql) when seed. */
void dbat_backup_db(const char *db, bool seed);

/* Restores items, people, parents, children to the fixture's seed rows. */
void dbat_reset(void);
/* Compares JSON text a with b semantically. */
bool dbat_json_eq(const json_t *a, const char *b);

#endif
