/* test_ddl_filter.c - the sorting of expected-schema statements into run, skipped and refused
   (src/schema/ddl_filter.c), through PostgreSQL's own parser. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

static void
setup(void)
{
    dba_mem_init();
}

TestSuite(ddl_filter, .init = setup);

static const char *const default_ext[] = { "pgcrypto", "uuid-ossp", "citext", "pg_trgm",
                                           "btree_gist" };

static const struct dba_config_strv *
allowed(void)
{
    static struct dba_config_strv s;

    s.v = (char **)(uintptr_t)default_ext;
    s.n = DBA_ARRAY_LEN(default_ext);
    return &s;
}

/* sql holds exactly one statement: its verdict is want, and its kind contains kind. */
static void
expect_one(const char *sql, enum dba_schema_stmt_action want, const char *kind)
{
    struct dba_schema_ddl d;
    struct dba_err err;

    dba_err_clear(&err);
    int rc = dba_schema_ddl_filter(sql, allowed(), &d, &err);
    cr_assert_eq(d.n, 1, "%s: %zu statements (%s)", sql, d.n, err.msg);
    cr_expect_eq(d.stmts[0].action, want, "%s: got %d (%s)", sql, d.stmts[0].action,
                 d.stmts[0].kind);
    cr_expect(strstr(d.stmts[0].kind, kind) != NULL, "%s: kind '%s', want '%s'", sql,
              d.stmts[0].kind, kind);
    cr_expect_eq(d.stmts[0].line, 1);
    if (want == DBA_SCHEMA_STMT_REFUSE) {
        cr_expect_eq(rc, DBA_EINVAL);
        cr_expect_eq(err.http_status, 422);
        cr_expect(strstr(err.msg, kind) != NULL && strstr(err.msg, "line 1") != NULL, "%s",
                  err.msg);
    } else {
        cr_expect_eq(rc, DBA_OK, "%s: %s", sql, err.msg);
    }
    dba_schema_ddl_cleanup(&d);
}

#define RUNS(name, sql, kind) \
    Test(ddl_filter, runs_##name) { expect_one(sql, DBA_SCHEMA_STMT_RUN, kind); }
#define SKIPS(name, sql, kind) \
    Test(ddl_filter, skips_##name) { expect_one(sql, DBA_SCHEMA_STMT_SKIP, kind); }
#define REFUSES(name, sql, kind) \
    Test(ddl_filter, refuses_##name) { expect_one(sql, DBA_SCHEMA_STMT_REFUSE, kind); }

/* ---- run in the scratch database ---- */
RUNS(create_table, "CREATE TABLE t (id int PRIMARY KEY, n text DEFAULT 'x')", "CREATE TABLE")
RUNS(create_table_partition_of, "CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1)",
     "CREATE TABLE")
RUNS(create_index, "CREATE INDEX t_n_idx ON t (n)", "CREATE INDEX")
RUNS(create_unique_index, "CREATE UNIQUE INDEX t_n_key ON public.t USING btree (n)",
     "CREATE INDEX")
RUNS(create_view, "CREATE VIEW v AS SELECT id FROM t", "CREATE VIEW")
RUNS(create_materialized_view_with_no_data,
     "CREATE MATERIALIZED VIEW m AS SELECT id FROM t WITH NO DATA", "CREATE MATERIALIZED VIEW")
RUNS(create_sequence, "CREATE SEQUENCE public.s START WITH 1 INCREMENT BY 1 CACHE 1",
     "CREATE SEQUENCE")
RUNS(create_type_enum, "CREATE TYPE mood AS ENUM ('sad', 'ok')", "CREATE TYPE")
RUNS(create_type_composite, "CREATE TYPE pair AS (a int, b text)", "CREATE TYPE")
RUNS(create_type_range, "CREATE TYPE floatrange AS RANGE (subtype = float8)", "CREATE TYPE")
RUNS(create_domain, "CREATE DOMAIN posint AS int CHECK (VALUE > 0)", "CREATE DOMAIN")
RUNS(create_schema, "CREATE SCHEMA api", "CREATE SCHEMA")
RUNS(create_schema_with_table, "CREATE SCHEMA api CREATE TABLE t (id int)", "CREATE SCHEMA")
RUNS(create_function,
     "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
     "CREATE FUNCTION")
RUNS(create_procedure, "CREATE PROCEDURE p() LANGUAGE sql AS $$SELECT 1$$", "CREATE PROCEDURE")
RUNS(create_trigger, "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f()",
     "CREATE TRIGGER")
RUNS(create_extension_allowed, "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public",
     "CREATE EXTENSION pgcrypto")
RUNS(create_extension_uuid_ossp, "CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\"",
     "CREATE EXTENSION uuid-ossp")
RUNS(alter_table_add_column, "ALTER TABLE t ADD COLUMN c int", "ALTER TABLE")
RUNS(alter_table_only_add_constraint,
     "ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id)", "ALTER TABLE")
RUNS(alter_table_add_foreign_key,
     "ALTER TABLE ONLY public.b ADD CONSTRAINT b_a_fkey FOREIGN KEY (a) REFERENCES public.a(id)",
     "ALTER TABLE")
RUNS(alter_table_add_identity,
     "ALTER TABLE public.t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY "
     "(SEQUENCE NAME public.t_id_seq START WITH 1)", "ALTER TABLE")
RUNS(alter_column_set_default,
     "ALTER TABLE ONLY public.t ALTER COLUMN id SET DEFAULT nextval('public.t_id_seq'::regclass)",
     "ALTER TABLE")
RUNS(alter_column_set_not_null, "ALTER TABLE t ALTER COLUMN n SET NOT NULL", "ALTER TABLE")
RUNS(enable_row_level_security, "ALTER TABLE t ENABLE ROW LEVEL SECURITY", "ALTER TABLE")
RUNS(force_row_level_security, "ALTER TABLE t FORCE ROW LEVEL SECURITY", "ALTER TABLE")
RUNS(attach_partition, "ALTER TABLE ONLY p ATTACH PARTITION p1 FOR VALUES IN (1)", "ALTER TABLE")
RUNS(attach_index_partition, "ALTER INDEX p_idx ATTACH PARTITION p1_idx", "ALTER INDEX")
RUNS(create_policy, "CREATE POLICY own ON t USING (owner = current_user)", "CREATE POLICY")
RUNS(alter_type_add_value, "ALTER TYPE mood ADD VALUE 'happy'", "ADD VALUE")
RUNS(alter_sequence_owned_by, "ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id",
     "OWNED BY")
RUNS(comment_on, "COMMENT ON TABLE t IS 'things'", "COMMENT ON")
RUNS(set_search_path, "SET search_path = public, pg_catalog", "SET search_path")
RUNS(set_check_function_bodies, "SET check_function_bodies = false", "SET check_function_bodies")
RUNS(set_client_min_messages, "SET client_min_messages = warning", "SET client_min_messages")
RUNS(set_standard_conforming_strings, "SET standard_conforming_strings = on",
     "SET standard_conforming_strings")
RUNS(set_client_encoding, "SET client_encoding = 'UTF8'", "SET client_encoding")
RUNS(set_default_table_access_method, "SET default_table_access_method = heap",
     "SET default_table_access_method")
RUNS(set_xmloption, "SET xmloption = content", "SET xmloption")
RUNS(set_row_security, "SET row_security = off", "SET row_security")
RUNS(set_statement_timeout, "SET statement_timeout = 0", "SET statement_timeout")
RUNS(set_lock_timeout, "SET lock_timeout = 0", "SET lock_timeout")
RUNS(set_idle_in_transaction_session_timeout, "SET idle_in_transaction_session_timeout = 0",
     "SET idle_in_transaction_session_timeout")
RUNS(set_default_tablespace, "SET default_tablespace = ''", "SET default_tablespace")
RUNS(select_set_config_search_path, "SELECT pg_catalog.set_config('search_path', '', false)",
     "set_config('search_path'")

/* ---- skipped and reported ---- */
SKIPS(alter_table_owner, "ALTER TABLE public.t OWNER TO app", "OWNER TO")
SKIPS(alter_sequence_owner, "ALTER SEQUENCE public.s OWNER TO app", "OWNER TO")
SKIPS(alter_function_owner, "ALTER FUNCTION public.f() OWNER TO app", "OWNER TO")
SKIPS(alter_schema_owner, "ALTER SCHEMA api OWNER TO app", "OWNER TO")
SKIPS(alter_type_owner, "ALTER TYPE public.mood OWNER TO app", "OWNER TO")
SKIPS(grant, "GRANT SELECT ON TABLE public.t TO web_anon", "GRANT")
SKIPS(revoke, "REVOKE ALL ON SCHEMA public FROM PUBLIC", "REVOKE")
SKIPS(psql_restrict, "\\restrict kTp1W2sOmeKey", "\\restrict")
SKIPS(psql_unrestrict, "\\unrestrict kTp1W2sOmeKey", "\\unrestrict")
SKIPS(psql_connect, "\\connect dba_test", "\\connect")

/* ---- refused ---- */
REFUSES(create_role, "CREATE ROLE x LOGIN SUPERUSER", "CREATE ROLE")
REFUSES(alter_role, "ALTER ROLE app SUPERUSER", "ALTER ROLE")
REFUSES(set_role, "SET ROLE postgres", "SET ROLE")
REFUSES(reset_role, "RESET ROLE", "RESET ROLE")
REFUSES(set_session_authorization, "SET SESSION AUTHORIZATION postgres",
        "SET SESSION AUTHORIZATION")
REFUSES(set_unlisted_setting, "SET work_mem = '1GB'", "SET work_mem")
REFUSES(reset_all, "RESET ALL", "RESET ALL")
REFUSES(set_config_role, "SELECT pg_catalog.set_config('role', 'postgres', false)",
        "set_config('role'")
REFUSES(set_config_session_authorization,
        "SELECT set_config('session_authorization', 'postgres', false)",
        "set_config('session_authorization'")
REFUSES(set_config_unlisted_setting, "SELECT set_config('work_mem', '1GB', false)",
        "set_config('work_mem'")
REFUSES(set_config_not_constant, "SELECT set_config('search_path', current_user, false)",
        "not constants")
REFUSES(select_other_function, "SELECT pg_sleep(10)", "SELECT pg_sleep()")
REFUSES(select_lo_import, "SELECT lo_import('/etc/passwd')", "SELECT lo_import()")
REFUSES(select_lo_export, "SELECT lo_export(1, '/tmp/x')", "SELECT lo_export()")
REFUSES(select_pg_read_file, "SELECT pg_read_file('/etc/passwd')", "SELECT pg_read_file()")
REFUSES(select_plain, "SELECT 1", "SELECT")
REFUSES(select_set_config_from_table, "SELECT set_config('search_path', '', false) FROM t",
        "SELECT")
REFUSES(select_into, "SELECT 1 AS a INTO t2", "SELECT INTO")
REFUSES(do_block, "DO $$BEGIN PERFORM 1; END$$", "DO")
REFUSES(copy_to_program, "COPY (SELECT 1) TO PROGRAM 'id > /tmp/proof'", "COPY")
REFUSES(copy_from_stdin, "COPY t (id) FROM stdin", "COPY")
REFUSES(call, "CALL p()", "CALL")
REFUSES(insert, "INSERT INTO t VALUES (1)", "INSERT")
REFUSES(update, "UPDATE t SET id = 2", "UPDATE")
REFUSES(delete, "DELETE FROM t", "DELETE")
REFUSES(create_table_as, "CREATE TABLE t2 AS SELECT 1 AS a", "CREATE TABLE AS")
REFUSES(materialized_view_with_data, "CREATE MATERIALIZED VIEW m AS SELECT 1 AS a",
        "CREATE MATERIALIZED VIEW")
REFUSES(load, "LOAD 'auto_explain'", "LOAD")
REFUSES(alter_system, "ALTER SYSTEM SET archive_command = 'id'", "ALTER SYSTEM")
REFUSES(drop, "DROP TABLE t", "DROP")
REFUSES(truncate, "TRUNCATE t", "TRUNCATE")
REFUSES(begin, "BEGIN", "transaction control")
REFUSES(create_database, "CREATE DATABASE x", "CREATE DATABASE")
REFUSES(create_event_trigger,
        "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()",
        "CREATE EVENT TRIGGER")
REFUSES(create_rule, "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING", "CREATE RULE")
/* PostgreSQL reads CREATE LANGUAGE as CREATE EXTENSION. */
REFUSES(create_language, "CREATE LANGUAGE plperlu", "CREATE EXTENSION plperlu")
REFUSES(create_aggregate, "CREATE AGGREGATE a (int) (sfunc = int4pl, stype = int)",
        "CREATE AGGREGATE")
REFUSES(create_extension_not_allowed, "CREATE EXTENSION IF NOT EXISTS dblink",
        "CREATE EXTENSION dblink")
REFUSES(create_extension_without_if_not_exists, "CREATE EXTENSION pgcrypto",
        "without IF NOT EXISTS")
REFUSES(create_extension_cascade, "CREATE EXTENSION IF NOT EXISTS pgcrypto CASCADE", "CASCADE")
REFUSES(alter_table_drop_column, "ALTER TABLE t DROP COLUMN n", "DropColumn")
REFUSES(alter_table_owner_mixed, "ALTER TABLE t ADD COLUMN c int, OWNER TO app",
        "mixing OWNER TO")
REFUSES(alter_sequence_restart, "ALTER SEQUENCE s RESTART WITH 5", "ALTER SEQUENCE")
REFUSES(create_schema_with_grant,
        "CREATE SCHEMA api CREATE TABLE t (id int) GRANT SELECT ON t TO PUBLIC",
        "CREATE SCHEMA with an embedded GRANT")
REFUSES(psql_shell, "\\! id > /tmp/proof", "psql meta-command \\!")
REFUSES(psql_include, "\\i /etc/passwd", "psql meta-command \\i")

/* ---- whole files ---- */

Test(ddl_filter, a_refusal_in_the_middle_refuses_everything_and_names_its_line)
{
    const char *sql = "-- header\n"
                      "CREATE TABLE a (id int);\n"
                      "GRANT SELECT ON a TO PUBLIC;\n"
                      "/* a comment\n   over two lines */\n"
                      "\n"
                      "  CREATE ROLE x LOGIN SUPERUSER;\n"
                      "CREATE TABLE b (id int);\n";
    struct dba_schema_ddl d;
    struct dba_err err;

    int rc = dba_schema_ddl_filter(sql, allowed(), &d, &err);
    cr_expect_eq(rc, DBA_EINVAL);
    cr_expect_eq(err.http_status, 422);
    cr_expect_str_eq(err.pgrst, "DBA024");
    cr_expect(strstr(err.msg, "CREATE ROLE at line 7") != NULL, "%s", err.msg);
    cr_expect(strstr(err.detail, "line 7:   CREATE ROLE x LOGIN SUPERUSER;") != NULL, "%s",
              err.detail);
    cr_assert_eq(d.n, 4);
    int lines[] = { 2, 3, 7, 8 };
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(d.stmts[i].line, lines[i], "statement %zu on line %d", i, d.stmts[i].line);
    dba_schema_ddl_cleanup(&d);
}

Test(ddl_filter, the_issue_attack_is_refused_at_create_role)
{
    const char *sql = "CREATE TABLE t(id int); CREATE ROLE x LOGIN SUPERUSER; "
                      "COPY (SELECT 1) TO PROGRAM 'id > /tmp/proof';";
    struct dba_schema_ddl d;
    struct dba_err err;

    cr_expect_eq(dba_schema_ddl_filter(sql, allowed(), &d, &err), DBA_EINVAL);
    cr_expect(strstr(err.msg, "CREATE ROLE at line 1") != NULL, "%s", err.msg);
    cr_assert_eq(d.n, 3);
    cr_expect_eq(d.stmts[0].action, DBA_SCHEMA_STMT_RUN);
    cr_expect_eq(d.stmts[1].action, DBA_SCHEMA_STMT_REFUSE);
    cr_expect_eq(d.stmts[2].action, DBA_SCHEMA_STMT_REFUSE);
    dba_schema_ddl_cleanup(&d);
}

/* The shape of pg_dump --schema-only output (15.14 and later write \restrict). */
Test(ddl_filter, a_pg_dump_file_passes_and_reports_what_it_skips)
{
    const char *sql =
        "--\n-- PostgreSQL database dump\n--\n\n"
        "\\restrict AbCdEf123\n\n"
        "SET statement_timeout = 0;\nSET lock_timeout = 0;\n"
        "SET idle_in_transaction_session_timeout = 0;\nSET client_encoding = 'UTF8';\n"
        "SET standard_conforming_strings = on;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n"
        "SET check_function_bodies = false;\nSET xmloption = content;\n"
        "SET client_min_messages = warning;\nSET row_security = off;\n\n"
        "CREATE FUNCTION public.touch() RETURNS trigger\n    LANGUAGE plpgsql\n"
        "    AS $$\nBEGIN\n\\restrict not-a-meta-command-inside-a-body\n  RETURN NEW;\nEND$$;\n"
        "ALTER FUNCTION public.touch() OWNER TO app;\n"
        "SET default_tablespace = '';\nSET default_table_access_method = heap;\n"
        "CREATE TABLE public.t (\n    id integer NOT NULL,\n    s text DEFAULT E'a\\';b'\n);\n"
        "ALTER TABLE public.t OWNER TO app;\n"
        "COMMENT ON TABLE public.t IS 'it''s; \\\\connect';\n"
        "CREATE SEQUENCE public.t_id_seq\n    AS integer\n    START WITH 1;\n"
        "ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id;\n"
        "ALTER TABLE ONLY public.t ALTER COLUMN id SET DEFAULT "
        "nextval('public.t_id_seq'::regclass);\n"
        "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n"
        "CREATE TRIGGER t_touch BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION "
        "public.touch();\n"
        "GRANT SELECT ON TABLE public.t TO PUBLIC;\n\n"
        "--\n-- PostgreSQL database dump complete\n--\n\n"
        "\\unrestrict AbCdEf123\n\n";
    struct dba_schema_ddl d;
    struct dba_err err;

    dba_err_clear(&err);
    cr_assert_eq(dba_schema_ddl_filter(sql, allowed(), &d, &err), DBA_OK, "%s: %s", err.msg,
                 err.detail);
    json_t *sk = dba_schema_ddl_skipped(&d);
    char *got = json_dumps(sk, JSON_COMPACT);
    cr_expect_str_eq(got, "[{\"line\":5,\"statement\":\"psql meta-command \\\\restrict\"},"
                          "{\"line\":25,\"statement\":\"ALTER FUNCTION ... OWNER TO\"},"
                          "{\"line\":32,\"statement\":\"ALTER TABLE ... OWNER TO\"},"
                          "{\"line\":42,\"statement\":\"GRANT\"},"
                          "{\"line\":48,\"statement\":\"psql meta-command \\\\unrestrict\"}]");
    free(got);
    json_decref(sk);
    /* The function body keeps its line that starts with a backslash. */
    cr_expect(strstr(d.text, "\\restrict not-a-meta-command") != NULL);
    cr_expect(strstr(d.text, "\\restrict AbCdEf123") == NULL, "the meta-command is blanked");
    cr_expect_eq(strlen(d.text), strlen(sql), "offsets are kept");
    dba_schema_ddl_cleanup(&d);
}

Test(ddl_filter, a_syntax_error_names_its_line)
{
    struct dba_schema_ddl d;
    struct dba_err err;

    cr_expect_eq(dba_schema_ddl_filter("CREATE TABLE a (id int);\n\nCREATE TABLEX b (id int);",
                                       allowed(), &d, &err), DBA_EINVAL);
    cr_expect_eq(err.http_status, 422);
    cr_expect(strstr(err.msg, "line 3") != NULL && strstr(err.msg, "syntax error") != NULL,
              "%s", err.msg);
    dba_schema_ddl_cleanup(&d);
}

Test(ddl_filter, an_extension_outside_the_configured_list_is_refused)
{
    struct dba_schema_ddl d;
    struct dba_err err;
    char *only[] = { "citext" };
    struct dba_config_strv list = { .v = only, .n = 1 };

    cr_expect_eq(dba_schema_ddl_filter("CREATE EXTENSION IF NOT EXISTS citext;", &list, &d, &err),
                 DBA_OK);
    dba_schema_ddl_cleanup(&d);
    cr_expect_eq(dba_schema_ddl_filter("CREATE EXTENSION IF NOT EXISTS pgcrypto;", &list, &d,
                                       &err), DBA_EINVAL);
    cr_expect(strstr(err.msg, "schema.allowed_extensions") != NULL, "%s", err.msg);
    dba_schema_ddl_cleanup(&d);
}

Test(ddl_filter, an_empty_file_has_no_statements)
{
    struct dba_schema_ddl d;
    struct dba_err err;

    cr_expect_eq(dba_schema_ddl_filter("-- nothing\n", allowed(), &d, &err), DBA_OK);
    cr_expect_eq(d.n, 0);
    dba_schema_ddl_cleanup(&d);
}
