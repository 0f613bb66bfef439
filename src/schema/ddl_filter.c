/* ddl_filter.c - sorts the statements of an expected-schema file before anything runs.

   An expected schema (schema.file, --schema-file, or an application/sql request body) is applied
   to a scratch database, so it must never be a way to run arbitrary SQL. Every statement is read
   by PostgreSQL's own parser, in process (libpg_query 15), and sorted into one of three kinds:
   run (the DDL that gives a schema its shape), skipped (owners, grants and the psql
   meta-commands pg_dump writes: they concern roles, not shape) and refused (everything else).
   One refused statement refuses the whole file and nothing runs. This is an allow-list: a node
   type the parser knows and this file does not name is refused.

   psql meta-commands (\restrict, \unrestrict, \connect) are not SQL; they are found by a small
   lexer that knows comments, quoted strings, quoted identifiers and dollar quotes, and blanked
   byte for byte (newlines kept) so that every offset and line of the file stays true. The module
   is pure: no database, no I/O. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <pg_query.h>

#include "schema/schema.h"

#define DDL_KIND_MAX sizeof(((struct dba_schema_stmt *)0)->kind)

/* Settings pg_dump writes, which change nothing but how the rest of the file is read. */
static const char *const ddl_settings[] = {
    "search_path", "check_function_bodies", "client_min_messages", "standard_conforming_strings",
    "client_encoding", "default_table_access_method", "xmloption", "row_security",
    "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
    "default_tablespace", NULL,
};

/* Statements with a plain name and a fixed verdict; the rest is decided in code below. */
static const struct {
    const char *node;                    /* parse node name */
    const char *kind;                    /* what the report calls it */
    enum dba_schema_stmt_action action;  /* verdict */
} ddl_simple[] = {
    { "CreateStmt", "CREATE TABLE", DBA_SCHEMA_STMT_RUN },
    { "IndexStmt", "CREATE INDEX", DBA_SCHEMA_STMT_RUN },
    { "ViewStmt", "CREATE VIEW", DBA_SCHEMA_STMT_RUN },
    { "CreateSeqStmt", "CREATE SEQUENCE", DBA_SCHEMA_STMT_RUN },
    { "CompositeTypeStmt", "CREATE TYPE", DBA_SCHEMA_STMT_RUN },
    { "CreateEnumStmt", "CREATE TYPE", DBA_SCHEMA_STMT_RUN },
    { "CreateRangeStmt", "CREATE TYPE", DBA_SCHEMA_STMT_RUN },
    { "CreateDomainStmt", "CREATE DOMAIN", DBA_SCHEMA_STMT_RUN },
    { "CreateTrigStmt", "CREATE TRIGGER", DBA_SCHEMA_STMT_RUN },
    { "CreatePolicyStmt", "CREATE POLICY", DBA_SCHEMA_STMT_RUN },
    { "CommentStmt", "COMMENT ON", DBA_SCHEMA_STMT_RUN },
    { "AlterDefaultPrivilegesStmt", "ALTER DEFAULT PRIVILEGES", DBA_SCHEMA_STMT_SKIP },
    { "CreateRoleStmt", "CREATE ROLE", DBA_SCHEMA_STMT_REFUSE },
    { "AlterRoleStmt", "ALTER ROLE", DBA_SCHEMA_STMT_REFUSE },
    { "AlterRoleSetStmt", "ALTER ROLE ... SET", DBA_SCHEMA_STMT_REFUSE },
    { "DropRoleStmt", "DROP ROLE", DBA_SCHEMA_STMT_REFUSE },
    { "CopyStmt", "COPY", DBA_SCHEMA_STMT_REFUSE },
    { "DoStmt", "DO", DBA_SCHEMA_STMT_REFUSE },
    { "CallStmt", "CALL", DBA_SCHEMA_STMT_REFUSE },
    { "InsertStmt", "INSERT", DBA_SCHEMA_STMT_REFUSE },
    { "UpdateStmt", "UPDATE", DBA_SCHEMA_STMT_REFUSE },
    { "DeleteStmt", "DELETE", DBA_SCHEMA_STMT_REFUSE },
    { "MergeStmt", "MERGE", DBA_SCHEMA_STMT_REFUSE },
    { "TruncateStmt", "TRUNCATE", DBA_SCHEMA_STMT_REFUSE },
    { "LoadStmt", "LOAD", DBA_SCHEMA_STMT_REFUSE },
    { "AlterSystemStmt", "ALTER SYSTEM", DBA_SCHEMA_STMT_REFUSE },
    { "DropStmt", "DROP", DBA_SCHEMA_STMT_REFUSE },
    { "TransactionStmt", "transaction control (BEGIN, COMMIT, ...)", DBA_SCHEMA_STMT_REFUSE },
    { "CreatedbStmt", "CREATE DATABASE", DBA_SCHEMA_STMT_REFUSE },
    { "AlterDatabaseStmt", "ALTER DATABASE", DBA_SCHEMA_STMT_REFUSE },
    { "AlterDatabaseSetStmt", "ALTER DATABASE ... SET", DBA_SCHEMA_STMT_REFUSE },
    { "CreateEventTrigStmt", "CREATE EVENT TRIGGER", DBA_SCHEMA_STMT_REFUSE },
    { "RuleStmt", "CREATE RULE", DBA_SCHEMA_STMT_REFUSE },
    { "ExecuteStmt", "EXECUTE", DBA_SCHEMA_STMT_REFUSE },
    { "PrepareStmt", "PREPARE", DBA_SCHEMA_STMT_REFUSE },
    { "ExplainStmt", "EXPLAIN", DBA_SCHEMA_STMT_REFUSE },
    { "VacuumStmt", "VACUUM/ANALYZE", DBA_SCHEMA_STMT_REFUSE },
    { "LockStmt", "LOCK", DBA_SCHEMA_STMT_REFUSE },
    { "NotifyStmt", "NOTIFY", DBA_SCHEMA_STMT_REFUSE },
    { "ListenStmt", "LISTEN", DBA_SCHEMA_STMT_REFUSE },
    { "CreateForeignTableStmt", "CREATE FOREIGN TABLE", DBA_SCHEMA_STMT_REFUSE },
    { "CreateFdwStmt", "CREATE FOREIGN DATA WRAPPER", DBA_SCHEMA_STMT_REFUSE },
    { "CreateForeignServerStmt", "CREATE SERVER", DBA_SCHEMA_STMT_REFUSE },
    { "CreateUserMappingStmt", "CREATE USER MAPPING", DBA_SCHEMA_STMT_REFUSE },
    { "CreatePLangStmt", "CREATE LANGUAGE", DBA_SCHEMA_STMT_REFUSE },
    { "CreateCastStmt", "CREATE CAST", DBA_SCHEMA_STMT_REFUSE },
    { "CreateSubscriptionStmt", "CREATE SUBSCRIPTION", DBA_SCHEMA_STMT_REFUSE },
    { "CreatePublicationStmt", "CREATE PUBLICATION", DBA_SCHEMA_STMT_REFUSE },
    { "CreateTableSpaceStmt", "CREATE TABLESPACE", DBA_SCHEMA_STMT_REFUSE },
    { "RefreshMatViewStmt", "REFRESH MATERIALIZED VIEW", DBA_SCHEMA_STMT_REFUSE },
    { "ReassignOwnedStmt", "REASSIGN OWNED", DBA_SCHEMA_STMT_REFUSE },
    { "DropOwnedStmt", "DROP OWNED", DBA_SCHEMA_STMT_REFUSE },
    { "RenameStmt", "ALTER ... RENAME", DBA_SCHEMA_STMT_REFUSE },
    { "AlterFunctionStmt", "ALTER FUNCTION", DBA_SCHEMA_STMT_REFUSE },
    { "AlterObjectSchemaStmt", "ALTER ... SET SCHEMA", DBA_SCHEMA_STMT_REFUSE },
    { "CheckPointStmt", "CHECKPOINT", DBA_SCHEMA_STMT_REFUSE },
    { "DiscardStmt", "DISCARD", DBA_SCHEMA_STMT_REFUSE },
    { "DeclareCursorStmt", "DECLARE", DBA_SCHEMA_STMT_REFUSE },
    { "SecLabelStmt", "SECURITY LABEL", DBA_SCHEMA_STMT_REFUSE },
};

static const char *
ddl_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool
ddl_streq(const json_t *o, const char *k, const char *want)
{
    const char *v = ddl_str(o, k);

    return v != NULL && strcmp(v, want) == 0;
}

/* The single member of a parse node wrapper {"NodeName": {...}}: its name and body. */
static const char *
ddl_node(const json_t *wrapper, const json_t **body)
{
    void *it = json_is_object(wrapper) ? json_object_iter((json_t *)(uintptr_t)wrapper) : NULL;

    *body = it ? json_object_iter_value(it) : NULL;
    return it ? json_object_iter_key(it) : "";
}

/* Writes a statement's kind into kind (DDL_KIND_MAX bytes); a long one is cut, on purpose. */
static void DBA_PRINTF(2, 3)
ddl_kind(char *kind, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(kind, DDL_KIND_MAX, fmt, ap);
    va_end(ap);
}

static enum dba_schema_stmt_action
ddl_verdict(char *kind, enum dba_schema_stmt_action a, const char *fmt, const char *arg)
{
    ddl_kind(kind, fmt, arg);
    return a;
}

static bool
ddl_setting_ok(const char *name)
{
    for (size_t i = 0; name != NULL && ddl_settings[i] != NULL; i++)
        if (strcasecmp(name, ddl_settings[i]) == 0)
            return true;
    return false;
}

/* "OBJECT_FOREIGN_TABLE" -> "FOREIGN TABLE" (in kind after prefix). */
static void
ddl_objname(char *kind, const char *prefix, const char *obj, const char *suffix)
{
    char word[64];
    size_t n = 0;

    obj = obj ? obj : "OBJECT_UNKNOWN";
    if (strncmp(obj, "OBJECT_", 7) == 0)
        obj += 7;
    for (; *obj && n + 1 < sizeof(word); obj++)
        word[n++] = *obj == '_' ? ' ' : *obj;
    word[n] = '\0';
    ddl_kind(kind, "%s%s%s", prefix, word, suffix);
}

static enum dba_schema_stmt_action
ddl_set(const json_t *s, char *kind)
{
    const char *name = ddl_str(s, "name");
    const char *k = ddl_str(s, "kind");

    if (name != NULL && strcasecmp(name, "role") == 0)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s ROLE",
                           k && strcmp(k, "VAR_RESET") == 0 ? "RESET" : "SET");
    if (name != NULL && strcasecmp(name, "session_authorization") == 0)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s SESSION AUTHORIZATION",
                           k && strcmp(k, "VAR_RESET") == 0 ? "RESET" : "SET");
    if (k == NULL || strcmp(k, "VAR_RESET_ALL") == 0)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s", "RESET ALL");
    if (strcmp(k, "VAR_SET_MULTI") == 0)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "SET %s", name ? name : "");
    return ddl_verdict(kind, ddl_setting_ok(name) ? DBA_SCHEMA_STMT_RUN : DBA_SCHEMA_STMT_REFUSE,
                       strcmp(k, "VAR_RESET") == 0 ? "RESET %s" : "SET %s", name ? name : "");
}

/* True when every member of o is one of the keys (NULL-terminated). */
static bool
ddl_only_keys(const json_t *o, const char *const *keys)
{
    const char *k;
    const json_t *v;

    json_object_foreach((json_t *)(uintptr_t)o, k, v) {
        size_t i = 0;
        while (keys[i] != NULL && strcmp(keys[i], k) != 0)
            i++;
        if (keys[i] == NULL)
            return false;
    }
    return true;
}

/* The last name of a FuncCall's funcname list, and whether it is set_config or
   pg_catalog.set_config. */
static const char *
ddl_funcname(const json_t *fc, bool *is_set_config)
{
    const json_t *names = json_object_get(fc, "funcname");
    size_t n = json_array_size(names);
    const char *last = ddl_str(json_object_get(json_array_get(names, n - 1), "String"), "sval");
    const char *first = ddl_str(json_object_get(json_array_get(names, 0), "String"), "sval");

    *is_set_config = last != NULL && strcmp(last, "set_config") == 0 &&
                     (n == 1 || (n == 2 && first != NULL && strcmp(first, "pg_catalog") == 0));
    return last ? last : "?";
}

/* One target of SELECT: only set_config('<listed setting>', '<constant>', <bool>). */
static enum dba_schema_stmt_action
ddl_select_target(const json_t *target, char *kind)
{
    static const char *const fc_keys[] = { "funcname", "args", "funcformat", "location", NULL };
    const json_t *rt = json_object_get(target, "ResTarget");
    const json_t *fc = json_object_get(json_object_get(rt, "val"), "FuncCall");
    bool is_set_config = false;

    if (fc == NULL)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s", "SELECT");
    const char *fn = ddl_funcname(fc, &is_set_config);
    if (!is_set_config)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "SELECT %s()", fn);
    const json_t *args = json_object_get(fc, "args");
    const json_t *a0 = json_object_get(json_array_get(args, 0), "A_Const");
    const json_t *a1 = json_object_get(json_array_get(args, 1), "A_Const");
    const json_t *a2 = json_object_get(json_array_get(args, 2), "A_Const");
    const char *name = ddl_str(json_object_get(a0, "sval"), "sval");
    if (name != NULL && (strcasecmp(name, "role") == 0 ||
                         strcasecmp(name, "session_authorization") == 0))
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "SELECT set_config('%s', ...)", name);
    if (!ddl_only_keys(fc, fc_keys) || json_array_size(args) != 3 || name == NULL ||
        json_object_get(a1, "sval") == NULL || json_object_get(a2, "boolval") == NULL)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s",
                           "SELECT set_config() with arguments that are not constants");
    if (!ddl_setting_ok(name))
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "SELECT set_config('%s', ...)", name);
    return ddl_verdict(kind, DBA_SCHEMA_STMT_RUN, "SELECT set_config('%s', ...)", name);
}

static enum dba_schema_stmt_action
ddl_select(const json_t *s, char *kind)
{
    static const char *const keys[] = { "targetList", "limitOption", "op", NULL };
    const json_t *list = json_object_get(s, "targetList");
    size_t i;
    const json_t *t;

    if (json_object_get(s, "intoClause") != NULL)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s", "SELECT INTO");
    if (!ddl_only_keys(s, keys) || json_array_size(list) == 0)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s", "SELECT");
    json_array_foreach(list, i, t) {
        if (ddl_select_target(t, kind) != DBA_SCHEMA_STMT_RUN)
            return DBA_SCHEMA_STMT_REFUSE;
    }
    return DBA_SCHEMA_STMT_RUN;
}

/* One ALTER TABLE sub-command. */
static enum dba_schema_stmt_action
ddl_alter_cmd(const json_t *cmd, const char *objtype, char *kind)
{
    static const char *const run[] = {
        "AT_AddColumn", "AT_AddConstraint", "AT_AddIdentity", "AT_SetNotNull",
        "AT_EnableRowSecurity", "AT_ForceRowSecurity", "AT_AttachPartition", NULL,
    };
    const json_t *c = json_object_get(cmd, "AlterTableCmd");
    const char *sub = ddl_str(c, "subtype");

    sub = sub ? sub : "AT_Unknown";
    if (strcmp(sub, "AT_ChangeOwner") == 0) {
        ddl_objname(kind, "ALTER ", objtype, " ... OWNER TO");
        return DBA_SCHEMA_STMT_SKIP;
    }
    bool ok = strcmp(sub, "AT_ColumnDefault") == 0 && json_object_get(c, "def") != NULL;
    for (size_t i = 0; !ok && run[i] != NULL; i++)
        ok = strcmp(sub, run[i]) == 0;
    bool table = strcmp(objtype, "OBJECT_TABLE") == 0;
    if (ok && (table || (strcmp(objtype, "OBJECT_INDEX") == 0 &&
                         strcmp(sub, "AT_AttachPartition") == 0))) {
        ddl_objname(kind, "ALTER ", objtype, "");
        return DBA_SCHEMA_STMT_RUN;
    }
    char suffix[64];
    snprintf(suffix, sizeof(suffix), " (%s)", sub + 3);
    ddl_objname(kind, "ALTER ", objtype, suffix);
    return DBA_SCHEMA_STMT_REFUSE;
}

/* ALTER TABLE: all sub-commands run, or all are OWNER TO (skipped); a mix is refused. */
static enum dba_schema_stmt_action
ddl_alter_table(const json_t *s, char *kind)
{
    const char *objtype = ddl_str(s, "objtype");
    const json_t *cmds = json_object_get(s, "cmds");
    size_t i, n_skip = 0;
    const json_t *cmd;

    objtype = objtype ? objtype : "OBJECT_TABLE";
    if (json_array_size(cmds) == 0)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s", "ALTER TABLE");
    json_array_foreach(cmds, i, cmd) {
        enum dba_schema_stmt_action a = ddl_alter_cmd(cmd, objtype, kind);
        if (a == DBA_SCHEMA_STMT_REFUSE)
            return a;
        n_skip += a == DBA_SCHEMA_STMT_SKIP;
    }
    if (n_skip == 0)
        return DBA_SCHEMA_STMT_RUN;
    if (n_skip == json_array_size(cmds))
        return DBA_SCHEMA_STMT_SKIP;
    ddl_objname(kind, "ALTER ", objtype, " mixing OWNER TO with other changes");
    return DBA_SCHEMA_STMT_REFUSE;
}

static enum dba_schema_stmt_action
ddl_extension(const json_t *s, const struct dba_config_strv *allowed, char *kind)
{
    const char *name = ddl_str(s, "extname");
    size_t i;
    const json_t *opt;

    name = name ? name : "?";
    if (!json_is_true(json_object_get(s, "if_not_exists")))
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "CREATE EXTENSION %s without IF NOT EXISTS",
                           name);
    json_array_foreach(json_object_get(s, "options"), i, opt) {
        const json_t *d = json_object_get(opt, "DefElem");
        if (!ddl_streq(d, "defname", "schema") && !ddl_streq(d, "defname", "new_version"))
            return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "CREATE EXTENSION %s ... CASCADE",
                               name);
    }
    for (i = 0; allowed != NULL && i < allowed->n; i++)
        if (strcmp(allowed->v[i], name) == 0)
            return ddl_verdict(kind, DBA_SCHEMA_STMT_RUN, "CREATE EXTENSION %s", name);
    return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE,
                       "CREATE EXTENSION %s (not in schema.allowed_extensions)", name);
}

static enum dba_schema_stmt_action ddl_classify(const json_t *wrapper,
                                                const struct dba_config_strv *allowed, char *kind);

/* CREATE SCHEMA, whose embedded elements must all be statements that run. */
static enum dba_schema_stmt_action
ddl_schema(const json_t *s, const struct dba_config_strv *allowed, char *kind)
{
    size_t i;
    const json_t *el;
    char inner[DDL_KIND_MAX];

    json_array_foreach(json_object_get(s, "schemaElts"), i, el) {
        if (ddl_classify(el, allowed, inner) != DBA_SCHEMA_STMT_RUN)
            return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "CREATE SCHEMA with an embedded %s",
                               inner);
    }
    return ddl_verdict(kind, DBA_SCHEMA_STMT_RUN, "%s", "CREATE SCHEMA");
}

static enum dba_schema_stmt_action
ddl_table_as(const json_t *s, char *kind)
{
    if (!ddl_streq(s, "objtype", "OBJECT_MATVIEW"))
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s",
                           json_is_true(json_object_get(s, "is_select_into")) ? "SELECT INTO"
                                                                              : "CREATE TABLE AS");
    if (!json_is_true(json_object_get(json_object_get(s, "into"), "skipData")))
        return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s",
                           "CREATE MATERIALIZED VIEW (with data; use WITH NO DATA)");
    return ddl_verdict(kind, DBA_SCHEMA_STMT_RUN, "%s", "CREATE MATERIALIZED VIEW WITH NO DATA");
}

static enum dba_schema_stmt_action
ddl_alter_seq(const json_t *s, char *kind)
{
    size_t i;
    const json_t *opt;
    const json_t *opts = json_object_get(s, "options");

    json_array_foreach(opts, i, opt) {
        if (!ddl_streq(json_object_get(opt, "DefElem"), "defname", "owned_by"))
            return ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s",
                               "ALTER SEQUENCE (other than OWNED BY)");
    }
    return ddl_verdict(kind, json_array_size(opts) ? DBA_SCHEMA_STMT_RUN : DBA_SCHEMA_STMT_REFUSE,
                       "%s", "ALTER SEQUENCE ... OWNED BY");
}

/* Statements whose verdict depends on their contents. */
static enum dba_schema_stmt_action
ddl_classify_special(const char *node, const json_t *s, const struct dba_config_strv *allowed,
                     char *kind)
{
    if (strcmp(node, "VariableSetStmt") == 0)
        return ddl_set(s, kind);
    if (strcmp(node, "SelectStmt") == 0)
        return ddl_select(s, kind);
    if (strcmp(node, "AlterTableStmt") == 0)
        return ddl_alter_table(s, kind);
    if (strcmp(node, "CreateExtensionStmt") == 0)
        return ddl_extension(s, allowed, kind);
    if (strcmp(node, "CreateSchemaStmt") == 0)
        return ddl_schema(s, allowed, kind);
    if (strcmp(node, "CreateTableAsStmt") == 0)
        return ddl_table_as(s, kind);
    if (strcmp(node, "AlterSeqStmt") == 0)
        return ddl_alter_seq(s, kind);
    if (strcmp(node, "CreateFunctionStmt") == 0)
        return ddl_verdict(kind, DBA_SCHEMA_STMT_RUN, "%s",
                           json_is_true(json_object_get(s, "is_procedure")) ? "CREATE PROCEDURE"
                                                                            : "CREATE FUNCTION");
    if (strcmp(node, "AlterEnumStmt") == 0)
        return json_object_get(s, "oldVal") != NULL
                   ? ddl_verdict(kind, DBA_SCHEMA_STMT_REFUSE, "%s", "ALTER TYPE ... RENAME VALUE")
                   : ddl_verdict(kind, DBA_SCHEMA_STMT_RUN, "%s", "ALTER TYPE ... ADD VALUE");
    if (strcmp(node, "DefineStmt") == 0) {
        bool type = ddl_streq(s, "kind", "OBJECT_TYPE");
        ddl_objname(kind, "CREATE ", ddl_str(s, "kind"), "");
        return type ? DBA_SCHEMA_STMT_RUN : DBA_SCHEMA_STMT_REFUSE;
    }
    if (strcmp(node, "AlterOwnerStmt") == 0) {
        ddl_objname(kind, "ALTER ", ddl_str(s, "objectType"), " ... OWNER TO");
        return DBA_SCHEMA_STMT_SKIP;
    }
    if (strcmp(node, "GrantStmt") == 0 || strcmp(node, "GrantRoleStmt") == 0) {
        bool grant = json_is_true(json_object_get(s, "is_grant"));
        return ddl_verdict(kind, DBA_SCHEMA_STMT_SKIP, "%s",
                           node[5] == 'R' ? (grant ? "GRANT role" : "REVOKE role")
                                          : (grant ? "GRANT" : "REVOKE"));
    }
    /* Anything else: refused, called by its parse node name without "Stmt". */
    snprintf(kind, DDL_KIND_MAX, "%.*s statement",
             (int)(strlen(node) > 4 && strcmp(node + strlen(node) - 4, "Stmt") == 0
                       ? strlen(node) - 4 : strlen(node)), node);
    return DBA_SCHEMA_STMT_REFUSE;
}

static enum dba_schema_stmt_action
ddl_classify(const json_t *wrapper, const struct dba_config_strv *allowed, char *kind)
{
    const json_t *s;
    const char *node = ddl_node(wrapper, &s);

    for (size_t i = 0; i < DBA_ARRAY_LEN(ddl_simple); i++)
        if (strcmp(node, ddl_simple[i].node) == 0)
            return ddl_verdict(kind, ddl_simple[i].action, "%s", ddl_simple[i].kind);
    return ddl_classify_special(node, s, allowed, kind);
}

/* ---- the text: psql meta-commands, comments, lines ---- */

static bool
ddl_identchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || (unsigned char)c >= 0x80;
}

/* At t[i] == '$': the length of a dollar-quote delimiter ($$ or $tag$), or 0. */
static size_t
ddl_dollar_tag(const char *t, size_t i)
{
    size_t k = i + 1;

    if (i > 0 && ddl_identchar(t[i - 1]))
        return 0;
    if (t[k] >= '0' && t[k] <= '9')
        return 0;
    while (t[k] != '\0' && t[k] != '$' && ddl_identchar(t[k]))
        k++;
    return t[k] == '$' ? k - i + 1 : 0;
}

/* Past a quoted section starting at t[i] (a quote char), or at the NUL when unterminated. */
static size_t
ddl_skip_quoted(const char *t, size_t i)
{
    char q = t[i];
    bool escapes = q == '\'' && i > 0 && (t[i - 1] == 'E' || t[i - 1] == 'e') &&
                   (i < 2 || !ddl_identchar(t[i - 2]));

    for (i++; t[i] != '\0'; i++) {
        if (escapes && t[i] == '\\' && t[i + 1] != '\0')
            i++;
        else if (t[i] == q)
            return i + 1;
    }
    return i;
}

/* Past a comment starting at t[i] ("--" or "/ *", nested), or i when there is none. */
static size_t
ddl_skip_comment(const char *t, size_t i)
{
    if (t[i] == '-' && t[i + 1] == '-')
        return i + strcspn(t + i, "\n");
    if (t[i] != '/' || t[i + 1] != '*')
        return i;
    int depth = 0;
    while (t[i] != '\0') {
        if (t[i] == '/' && t[i + 1] == '*') {
            depth++;
            i += 2;
        } else if (t[i] == '*' && t[i + 1] == '/') {
            i += 2;
            if (--depth == 0)
                return i;
        } else {
            i++;
        }
    }
    return i;
}

/* First byte of the statement's first token at or after off (skips blanks and comments). */
static size_t
ddl_first_token(const char *t, size_t off)
{
    for (;;) {
        while (t[off] == ' ' || t[off] == '\t' || t[off] == '\n' || t[off] == '\r' ||
               t[off] == '\f' || t[off] == '\v')
            off++;
        size_t next = ddl_skip_comment(t, off);
        if (next == off)
            return off;
        off = next;
    }
}

static int
ddl_line_at(const char *t, size_t off)
{
    int line = 1;

    for (size_t i = 0; i < off && t[i] != '\0'; i++)
        line += t[i] == '\n';
    return line;
}

static void
ddl_add(struct dba_schema_ddl *d, enum dba_schema_stmt_action a, const char *kind, int line,
        size_t off, size_t len)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->stmts = dba_xrealloc(d->stmts, d->cap * sizeof(*d->stmts));
    }
    struct dba_schema_stmt *s = &d->stmts[d->n++];
    memset(s, 0, sizeof(*s));
    s->action = a;
    snprintf(s->kind, sizeof(s->kind), "%s", kind);
    s->line = line;
    s->off = off;
    s->len = len;
}

/* A psql meta-command line at t[i] ('\\' first on its line): records it and blanks it. */
static void
ddl_meta(struct dba_schema_ddl *d, char *t, size_t i, int line)
{
    static const char *const skipped[] = { "restrict", "unrestrict", "connect", "c", NULL };
    size_t end = i + strcspn(t + i, "\n");
    size_t nlen = strcspn(t + i + 1, " \t\r\n");
    char kind[DDL_KIND_MAX];
    bool skip = false;

    for (size_t k = 0; skipped[k] != NULL; k++)
        skip = skip || (strlen(skipped[k]) == nlen && strncmp(t + i + 1, skipped[k], nlen) == 0);
    snprintf(kind, sizeof(kind), "psql meta-command \\%.*s", (int)(nlen > 40 ? 40 : nlen),
             t + i + 1);
    ddl_add(d, skip ? DBA_SCHEMA_STMT_SKIP : DBA_SCHEMA_STMT_REFUSE, kind, line, i, end - i);
    memset(t + i, ' ', end - i);
}

/* Finds and blanks psql meta-commands, outside comments and quotes, first on their line. */
static void
ddl_blank_meta(struct dba_schema_ddl *d, char *t)
{
    bool line_start = true;
    int line = 1;
    size_t i = 0;

    while (t[i] != '\0') {
        char c = t[i];
        size_t next;
        if (c == '\n') {
            line++;
            line_start = true;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            i++;
            continue;
        }
        if (c == '\\' && line_start) {
            ddl_meta(d, t, i, line);
            continue;
        }
        line_start = false;
        if ((next = ddl_skip_comment(t, i)) != i) {
        } else if (c == '\'' || c == '"') {
            next = ddl_skip_quoted(t, i);
        } else if (c == '$' && ddl_dollar_tag(t, i) > 0) {
            size_t tag = ddl_dollar_tag(t, i);
            next = i + tag;
            while (t[next] != '\0' && strncmp(t + next, t + i, tag) != 0)
                next++;
            next = t[next] != '\0' ? next + tag : next;
        } else {
            next = i + 1;
        }
        for (size_t k = i; k < next; k++)
            line += t[k] == '\n';
        i = next;
    }
}

/* ---- the filter ---- */

/* "line N: <its text>" (at most 160 bytes, cut on a character boundary) into err's detail. */
static void
ddl_detail_line(struct dba_err *err, const char *t, size_t off, int line)
{
    size_t start = off;

    while (start > 0 && t[start - 1] != '\n')
        start--;
    size_t len = strcspn(t + start, "\r\n");
    if (len > 160) {
        len = 160;
        while (len > 0 && ((unsigned char)t[start + len] & 0xC0) == 0x80)
            len--;
    }
    dba_err_detail(err, "line %d: %.*s", line, (int)len, t + start);
}

/* s is refused: its kind and line. t is the text with meta-commands blanked (where its first
   token is found), orig the text as given (quoted in the detail). */
static int
ddl_refuse(const struct dba_schema_stmt *s, const char *t, const char *orig, struct dba_err *err)
{
    dba_err_set(err, DBA_EINVAL, 422, "DBA024",
                "expected schema refused: %s at line %d is not allowed", s->kind, s->line);
    ddl_detail_line(err, orig, ddl_first_token(t, s->off), s->line);
    dba_err_hint(err, "An expected schema may create tables, indexes, views, sequences, types, "
                      "domains, schemas, functions, triggers, policies and allowed extensions, "
                      "and alter them as pg_dump does; owners and grants are skipped. Nothing "
                      "was run.");
    return DBA_EINVAL;
}

/* The parser rejected the text t (meta-commands blanked; orig is the file as given, with the same
   byte offsets): its message and line. cursorpos counts characters of t from 1. */
static int
ddl_syntax(const PgQueryError *e, const char *t, const char *orig, struct dba_err *err)
{
    size_t off = 0;
    int chars = 0;

    for (; t[off] != '\0'; off++)
        if (((unsigned char)t[off] & 0xC0) != 0x80 && ++chars >= e->cursorpos)
            break;
    int line = ddl_line_at(t, off);
    dba_err_set(err, DBA_EINVAL, 422, "DBA020", "schema file rejected by PostgreSQL at line %d: %s",
                line, e->message ? e->message : "syntax error");
    ddl_detail_line(err, orig, off, line);
    return DBA_EINVAL;
}

/* Sorts the parsed statements (root is pg_query's JSON) into d. */
static int
ddl_sort(struct dba_schema_ddl *d, const json_t *root, const struct dba_config_strv *allowed)
{
    size_t i;
    const json_t *raw;
    char kind[DDL_KIND_MAX];

    json_array_foreach(json_object_get(root, "stmts"), i, raw) {
        size_t loc = (size_t)json_integer_value(json_object_get(raw, "stmt_location"));
        size_t len = (size_t)json_integer_value(json_object_get(raw, "stmt_len"));
        size_t total = strlen(d->text);
        if (loc > total)
            loc = total;
        if (len == 0 || loc + len > total)
            len = total - loc;
        size_t first = ddl_first_token(d->text, loc);
        const json_t *stmt = json_object_get(raw, "stmt");
        enum dba_schema_stmt_action a = ddl_classify(stmt, allowed, kind);
        ddl_add(d, a, kind, ddl_line_at(d->text, first), loc, len);
        const char *sch = ddl_str(json_object_get(stmt, "CreateSchemaStmt"), "schemaname");
        if (sch != NULL)
            snprintf(d->stmts[d->n - 1].creates_schema, sizeof(d->stmts[0].creates_schema), "%s",
                     sch);
    }
    return DBA_OK;
}

static int
ddl_cmp_line(const void *a, const void *b)
{
    const struct dba_schema_stmt *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

int
dba_schema_ddl_filter(const char *sql, const struct dba_config_strv *allowed,
                      struct dba_schema_ddl *d, struct dba_err *err)
{
    memset(d, 0, sizeof(*d));
    d->text = dba_xstrdup(sql);
    ddl_blank_meta(d, d->text);

    PgQueryParseResult r = pg_query_parse(d->text);
    if (r.error != NULL) {
        int rc = ddl_syntax(r.error, d->text, sql, err);
        pg_query_free_parse_result(r);
        return rc;
    }
    json_error_t jerr;
    json_t *root = json_loads(r.parse_tree, 0, &jerr);
    pg_query_free_parse_result(r);
    if (root == NULL) {
        dba_err_set(err, DBA_EINVAL, 422, "DBA020", "expected schema too deeply nested to check");
        dba_err_detail(err, "%s.", jerr.text);
        return DBA_EINVAL;
    }
    int rc = ddl_sort(d, root, allowed);
    json_decref(root);
    if (rc != DBA_OK)
        return rc;
    if (d->n > 1)
        qsort(d->stmts, d->n, sizeof(*d->stmts), ddl_cmp_line);
    for (size_t i = 0; i < d->n; i++)
        if (d->stmts[i].action == DBA_SCHEMA_STMT_REFUSE)
            return ddl_refuse(&d->stmts[i], d->text, sql, err);
    return DBA_OK;
}

void
dba_schema_ddl_cleanup(struct dba_schema_ddl *d)
{
    free(d->stmts);
    free(d->text);
    memset(d, 0, sizeof(*d));
}

json_t *
dba_schema_ddl_skipped(const struct dba_schema_ddl *d)
{
    json_t *out = json_array();

    for (size_t i = 0; i < d->n; i++)
        if (d->stmts[i].action == DBA_SCHEMA_STMT_SKIP)
            json_array_append_new(out, json_pack("{s:i,s:s}", "line", d->stmts[i].line,
                                                 "statement", d->stmts[i].kind));
    return out;
}
