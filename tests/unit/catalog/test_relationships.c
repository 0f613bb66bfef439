/* test_relationships.c - relationship derivation and PostgREST's embedding resolution on
   hand-built catalogs: each kind, junctions (and what is not one), self-references, several keys
   between two tables (ambiguity, each hint form), views through their column origins, the
   PGRST200 details and hints; and the reader of view rules (pg_node_tree text). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"

/* ---- a tiny catalog builder: tables must be added in (schema, name) order ---------------- */

static char **
csv(const char *s, size_t *n)
{
    char **v = dba_xcalloc(16, sizeof(char *));
    char buf[256];
    *n = 0;
    if (s == NULL || *s == '\0')
        return v;
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save))
        v[(*n)++] = dba_xstrdup(tok);
    return v;
}

static struct dba_catalog *
cat_new(void)
{
    struct dba_catalog *c = dba_xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->n_schemas = 1;
    c->schemas = dba_xcalloc(2, sizeof(char *));
    c->schemas[0] = dba_xstrdup("api");
    c->tables = dba_xcalloc(32, sizeof(*c->tables));
    return c;
}

static struct dba_table *
rel_add(struct dba_catalog *c, const char *name, const char *cols, const char *pk, bool view)
{
    cr_assert(c->n_tables < 32);
    struct dba_table *t = &c->tables[c->n_tables++];
    size_t n = 0;
    char **names = csv(cols, &n);
    t->schema = dba_xstrdup(strchr(name, '.') ? "other" : "api");
    t->name = dba_xstrdup(strchr(name, '.') ? strchr(name, '.') + 1 : name);
    t->kind = view ? 'v' : 'r';
    t->is_view = view;
    t->cols = dba_xcalloc(n + 1, sizeof(*t->cols));
    for (size_t i = 0; i < n; i++) {
        t->cols[i].name = names[i];
        t->cols[i].position = (int)i + 1;
    }
    free(names);
    t->n_cols = n;
    t->pk = csv(pk, &t->n_pk);
    return t;
}

static struct dba_table *
table(struct dba_catalog *c, const char *name, const char *cols, const char *pk)
{
    return rel_add(c, name, cols, pk, false);
}

static struct dba_table *
view(struct dba_catalog *c, const char *name, const char *cols)
{
    return rel_add(c, name, cols, NULL, true);
}

static void
fkey(struct dba_table *t, const char *name, const char *cols, const char *ref, const char *rcols)
{
    t->fkeys = dba_xrealloc(t->fkeys, (t->n_fkeys + 1) * sizeof(*t->fkeys));
    struct dba_fkey *f = &t->fkeys[t->n_fkeys++];
    size_t m = 0;
    memset(f, 0, sizeof(*f));
    f->name = dba_xstrdup(name);
    f->cols = csv(cols, &f->n_cols);
    f->ref_schema = dba_xstrdup(strchr(ref, '.') ? "other" : "api");
    f->ref_table = dba_xstrdup(strchr(ref, '.') ? strchr(ref, '.') + 1 : ref);
    f->ref_cols = csv(rcols, &m);
    cr_assert_eq(m, f->n_cols);
}

static void
unique(struct dba_table *t, const char *name, const char *cols)
{
    t->uniques = dba_xrealloc(t->uniques, (t->n_uniques + 1) * sizeof(*t->uniques));
    struct dba_unique *u = &t->uniques[t->n_uniques++];
    memset(u, 0, sizeof(*u));
    u->name = dba_xstrdup(name);
    u->cols = csv(cols, &u->n_cols);
}

static const struct dba_table *
T(const struct dba_catalog *c, const char *name)
{
    const struct dba_table *t = dba_catalog_table_find(c, "api", name);
    cr_assert(t != NULL, "table %s", name);
    return t;
}

/* Derives the relationships; deps "view.col=base.col;..." (may be NULL). */
static void
derive(struct dba_catalog *c, const char *deps)
{
    struct dba__catalog_viewdep d[32];
    size_t n = 0;
    char buf[1024];

    for (size_t i = 1; i < c->n_tables; i++) {
        int r = strcmp(c->tables[i - 1].schema, c->tables[i].schema);
        cr_assert(r < 0 || (r == 0 && strcmp(c->tables[i - 1].name, c->tables[i].name) < 0),
                  "tables added in order");
    }
    snprintf(buf, sizeof(buf), "%s", deps ? deps : "");
    for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok != NULL;
         tok = strtok_r(NULL, ";", &save)) {
        char v[64];
        char vc[64];
        char b[64];
        char bc[64];
        cr_assert_eq(sscanf(tok, "%63[^.].%63[^=]=%63[^.].%63s", v, vc, b, bc), 4, "%s", tok);
        const struct dba_table *vt = T(c, v);
        const struct dba_table *bt = T(c, b);
        const struct dba_column *vcol = dba_catalog_column_find(vt, vc);
        const struct dba_column *bcol = dba_catalog_column_find(bt, bc);
        cr_assert(vcol && bcol, "%s", tok);
        d[n++] = (struct dba__catalog_viewdep){ vt, vcol->name, bt, bcol->name };
    }
    dba__catalog_relationships_build(c, d, n);
}

static const struct dba_relationship *
one(const struct dba_catalog *c, const char *from, const char *target, const char *hint)
{
    const struct dba_relationship *r = NULL;
    struct dba_err err;
    int rc = dba_catalog_relationship_find(c, T(c, from), target, hint, &r, &err);
    cr_assert_eq(rc, DBA_OK, "%s -> %s!%s: %s | %s", from, target, hint ? hint : "-", err.msg,
                 err.detail);
    cr_assert(r != NULL);
    return r;
}

static struct dba_err
fail(const struct dba_catalog *c, const char *from, const char *target, const char *hint)
{
    const struct dba_relationship *r = (const void *)1;
    struct dba_err err;
    int rc = dba_catalog_relationship_find(c, T(c, from), target, hint, &r, &err);
    cr_assert_neq(rc, DBA_OK, "%s -> %s!%s resolved", from, target, hint ? hint : "-");
    cr_expect_null(r);
    return err;
}

static bool
json_same(const char *a, const char *b)
{
    json_t *x = json_loads(a, 0, NULL);
    json_t *y = json_loads(b, 0, NULL);
    bool eq = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

/* A publishing schema: clients <- projects <- tasks, users <-> tasks through users_tasks, a
   one-to-one (profiles by primary key, passports by unique), a self-reference (people), two keys
   from messages to people (sender, recipient). */
static struct dba_catalog *
shop(void)
{
    struct dba_catalog *c = cat_new();
    table(c, "clients", "id,name", "id");
    struct dba_table *m = table(c, "messages", "id,sender,recipient,body", "id");
    fkey(m, "message_sender_fkey", "sender", "people", "id");
    fkey(m, "message_recipient_fkey", "recipient", "people", "id");
    struct dba_table *pass = table(c, "passports", "id,person_id", "id");
    fkey(pass, "passports_person_id_fkey", "person_id", "people", "id");
    unique(pass, "passports_person_id_key", "person_id");
    struct dba_table *pe = table(c, "people", "id,name,parent_id", "id");
    fkey(pe, "people_parent_id_fkey", "parent_id", "people", "id");
    struct dba_table *pr = table(c, "profiles", "user_id,bio", "user_id");
    fkey(pr, "profiles_user_id_fkey", "user_id", "users", "id");
    struct dba_table *p = table(c, "projects", "id,name,client_id", "id");
    fkey(p, "client", "client_id", "clients", "id");
    struct dba_table *t = table(c, "tasks", "id,name,project_id", "id");
    fkey(t, "tasks_project_id_fkey", "project_id", "projects", "id");
    table(c, "users", "id,name", "id");
    struct dba_table *ut = table(c, "users_tasks", "user_id,task_id,note", "task_id,user_id");
    fkey(ut, "users_tasks_user_id_fkey", "user_id", "users", "id");
    fkey(ut, "users_tasks_task_id_fkey", "task_id", "tasks", "id");
    struct dba_table *w = table(c, "watchers", "user_id,task_id", "");
    fkey(w, "watchers_user_id_fkey", "user_id", "users", "id");
    fkey(w, "watchers_task_id_fkey", "task_id", "tasks", "id");
    derive(c, NULL);
    return c;
}

Test(relationships, many_to_one_and_its_inverse)
{
    struct dba_catalog *c = shop();
    const struct dba_relationship *r = one(c, "projects", "clients", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2O);
    cr_expect(r->fk_here);
    cr_expect(!r->self);
    cr_expect_str_eq(r->constraint, "client");
    cr_expect_eq(r->n_cols, 1);
    cr_expect_str_eq(r->cols[0], "client_id");
    cr_expect_str_eq(r->target_cols[0], "id");
    cr_expect_eq(r->table, T(c, "projects"));
    cr_expect_eq(r->target, T(c, "clients"));

    r = one(c, "clients", "projects", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2M);
    cr_expect_str_eq(r->cols[0], "id");
    cr_expect_str_eq(r->target_cols[0], "client_id");

    /* a key name or a key column as the target */
    cr_expect_eq(one(c, "projects", "client", NULL)->target, T(c, "clients"));
    cr_expect_eq(one(c, "projects", "client_id", NULL)->target, T(c, "clients"));
    /* hints: key name, column of either side */
    cr_expect_eq(one(c, "projects", "clients", "client")->card, DBA_CARD_M2O);
    cr_expect_eq(one(c, "projects", "clients", "client_id")->card, DBA_CARD_M2O);
    cr_expect_eq(one(c, "projects", "clients", "id")->card, DBA_CARD_M2O);
    cr_expect_eq(one(c, "clients", "projects", "client_id")->card, DBA_CARD_O2M);
    dba_catalog_unref(c);
}

Test(relationships, one_to_one_by_primary_key_or_unique)
{
    struct dba_catalog *c = shop();
    const struct dba_relationship *r = one(c, "profiles", "users", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2O);
    cr_expect(r->fk_here);
    r = one(c, "users", "profiles", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2O);
    cr_expect(!r->fk_here, "the key is on the other side");
    cr_expect_str_eq(r->cols[0], "id");
    cr_expect_str_eq(r->target_cols[0], "user_id");
    cr_expect_eq(one(c, "people", "passports", NULL)->card, DBA_CARD_O2O);
    cr_expect_eq(one(c, "passports", "people", NULL)->card, DBA_CARD_O2O);
    dba_catalog_unref(c);
}

Test(relationships, many_to_many_through_a_junction_only)
{
    struct dba_catalog *c = shop();
    cr_expect_eq(one(c, "users", "tasks", NULL)->junction, T(c, "users_tasks"),
                 "watchers has no primary key: not a junction");
    dba_catalog_unref(c);
    c = cat_new();
    table(c, "tasks", "id", "id");
    table(c, "users", "id", "id");
    struct dba_table *ut = table(c, "users_tasks", "user_id,task_id,note", "task_id,user_id");
    fkey(ut, "users_tasks_user_id_fkey", "user_id", "users", "id");
    fkey(ut, "users_tasks_task_id_fkey", "task_id", "tasks", "id");
    struct dba_table *w = table(c, "watchers", "id,user_id,task_id", "id");
    fkey(w, "watchers_user_id_fkey", "user_id", "users", "id");
    fkey(w, "watchers_task_id_fkey", "task_id", "tasks", "id");
    derive(c, NULL);
    const struct dba_relationship *r = one(c, "users", "tasks", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2M, "key columns outside the primary key: not a junction");
    cr_expect_eq(r->junction, T(c, "users_tasks"));
    cr_expect_str_eq(r->constraint, "users_tasks_user_id_fkey");
    cr_expect_str_eq(r->target_constraint, "users_tasks_task_id_fkey");
    cr_expect_eq(r->n_cols, 1);
    cr_expect_eq(r->n_target_cols, 1);
    cr_expect_str_eq(r->cols[0], "id");
    cr_expect_str_eq(r->junction_cols[0], "user_id");
    cr_expect_str_eq(r->junction_target_cols[0], "task_id");
    cr_expect_str_eq(r->target_cols[0], "id");
    r = one(c, "tasks", "users", "users_tasks");
    cr_expect_eq(r->card, DBA_CARD_M2M, "the junction as hint");
    cr_expect_str_eq(r->constraint, "users_tasks_task_id_fkey");
    /* the junction itself is reachable both ways */
    cr_expect_eq(one(c, "users", "users_tasks", NULL)->card, DBA_CARD_O2M);
    cr_expect_eq(one(c, "users_tasks", "users", NULL)->card, DBA_CARD_M2O);
    dba_catalog_unref(c);
}

Test(relationships, self_reference_follows_postgrest_conventions)
{
    struct dba_catalog *c = shop();
    const struct dba_relationship *r = one(c, "people", "people", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2M, "the table name gives the children");
    cr_expect(r->self);
    cr_expect_str_eq(r->target_cols[0], "parent_id");
    r = one(c, "people", "parent_id", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2O, "the key column gives the parent");
    cr_expect(r->self);
    cr_expect_eq(one(c, "people", "people", "parent_id")->card, DBA_CARD_O2M);
    struct dba_err e = fail(c, "people", "people", "people_parent_id_fkey");
    cr_expect_str_eq(e.pgrst, "PGRST200", "a self-reference takes only a column hint");
    dba_catalog_unref(c);
}

Test(relationships, two_keys_to_one_table_are_ambiguous_until_hinted)
{
    struct dba_catalog *c = shop();
    struct dba_err e = fail(c, "messages", "people", NULL);
    cr_expect_eq(e.http_status, 300);
    cr_expect_str_eq(e.pgrst, "PGRST201");
    cr_expect_str_eq(e.msg, "Could not embed because more than one relationship was found for "
                            "'messages' and 'people'");
    cr_expect(e.detail_json);
    cr_expect(json_same(e.detail,
                        "[{\"cardinality\":\"many-to-one\",\"embedding\":\"messages with people\","
                        "\"relationship\":\"message_recipient_fkey using messages(recipient) and "
                        "people(id)\"},{\"cardinality\":\"many-to-one\",\"embedding\":\"messages "
                        "with people\",\"relationship\":\"message_sender_fkey using "
                        "messages(sender) and people(id)\"}]"),
              "%s", e.detail);
    cr_expect_str_eq(e.hint, "Try changing 'people' to one of the following: "
                             "'people!message_recipient_fkey', 'people!message_sender_fkey'. Find "
                             "the desired relationship in the 'details' key.");
    cr_expect_str_eq(one(c, "messages", "people", "message_sender_fkey")->cols[0], "sender");
    cr_expect_str_eq(one(c, "messages", "people", "recipient")->cols[0], "recipient");
    cr_expect_str_eq(one(c, "messages", "sender", NULL)->cols[0], "sender");
    e = fail(c, "messages", "people", "id");
    cr_expect_str_eq(e.pgrst, "PGRST201", "the referenced column fits both");

    e = fail(c, "people", "messages", NULL);
    cr_expect_str_eq(e.pgrst, "PGRST201");
    cr_expect(json_same(e.detail,
                        "[{\"cardinality\":\"one-to-many\",\"embedding\":\"people with messages\","
                        "\"relationship\":\"message_recipient_fkey using people(id) and "
                        "messages(recipient)\"},{\"cardinality\":\"one-to-many\",\"embedding\":"
                        "\"people with messages\",\"relationship\":\"message_sender_fkey using "
                        "people(id) and messages(sender)\"}]"),
              "%s", e.detail);
    dba_catalog_unref(c);
}

/* PostgREST's own case: sites -> big_projects directly and through two junctions (a table and
   a view of it), listed in PostgREST's order. */
Test(relationships, ambiguity_with_junctions_lists_them_in_postgrest_order)
{
    struct dba_catalog *c = cat_new();
    table(c, "big_projects", "big_project_id,name", "big_project_id");
    struct dba_table *j = table(c, "jobs", "job_id,name,site_id,big_project_id",
                                "job_id,site_id,big_project_id");
    fkey(j, "jobs_site_id_fkey", "site_id", "sites", "site_id");
    fkey(j, "jobs_big_project_id_fkey", "big_project_id", "big_projects", "big_project_id");
    view(c, "main_jobs", "job_id,name,site_id,big_project_id");
    struct dba_table *s = table(c, "sites", "site_id,name,main_project_id", "site_id");
    fkey(s, "main_project", "main_project_id", "big_projects", "big_project_id");
    derive(c, "main_jobs.job_id=jobs.job_id;main_jobs.name=jobs.name;"
              "main_jobs.site_id=jobs.site_id;main_jobs.big_project_id=jobs.big_project_id");
    struct dba_err e = fail(c, "sites", "big_projects", NULL);
    cr_expect_eq(e.http_status, 300);
    cr_expect(json_same(
                  e.detail,
                  "[{\"cardinality\":\"many-to-one\",\"relationship\":\"main_project using "
                  "sites(main_project_id) and big_projects(big_project_id)\",\"embedding\":\"sites "
                  "with big_projects\"},{\"cardinality\":\"many-to-many\",\"relationship\":\"jobs "
                  "using jobs_site_id_fkey(site_id) and jobs_big_project_id_fkey(big_project_id)\","
                  "\"embedding\":\"sites with big_projects\"},{\"cardinality\":\"many-to-many\","
                  "\"relationship\":\"main_jobs using jobs_site_id_fkey(site_id) and "
                  "jobs_big_project_id_fkey(big_project_id)\",\"embedding\":\"sites with "
                  "big_projects\"}]"),
              "%s", e.detail);
    cr_expect_str_eq(e.hint, "Try changing 'big_projects' to one of the following: "
                             "'big_projects!main_project', 'big_projects!jobs', "
                             "'big_projects!main_jobs'. Find the desired relationship in the "
                             "'details' key.");
    const struct dba_relationship *r = one(c, "sites", "big_projects", "main_jobs");
    cr_expect_eq(r->card, DBA_CARD_M2M);
    cr_expect_eq(r->junction, T(c, "main_jobs"), "a view is a junction with its base's key");
    cr_expect_eq(one(c, "sites", "big_projects", "main_project")->card, DBA_CARD_M2O);
    dba_catalog_unref(c);
}

Test(relationships, views_carry_the_keys_whose_columns_they_show)
{
    struct dba_catalog *c = cat_new();
    table(c, "authors", "id,name", "id");
    view(c, "authors_v", "author,name");
    struct dba_table *b = table(c, "books", "id,title,author_id,editor_id", "id");
    fkey(b, "books_author_id_fkey", "author_id", "authors", "id");
    fkey(b, "books_editor_id_fkey", "editor_id", "authors", "id");
    view(c, "books_v", "book,writer,title");
    derive(c, "authors_v.author=authors.id;authors_v.name=authors.name;"
              "books_v.book=books.id;books_v.writer=books.author_id;books_v.title=books.title");
    const struct dba_relationship *r = one(c, "books_v", "authors", NULL);
    cr_expect_eq(r->card, DBA_CARD_M2O, "the editor key is not shown");
    cr_expect_str_eq(r->constraint, "books_author_id_fkey");
    cr_expect_str_eq(r->cols[0], "writer");
    cr_expect_str_eq(r->target_cols[0], "id");
    r = one(c, "books_v", "authors_v", NULL);
    cr_expect_str_eq(r->cols[0], "writer");
    cr_expect_str_eq(r->target_cols[0], "author");
    r = one(c, "authors_v", "books_v", NULL);
    cr_expect_eq(r->card, DBA_CARD_O2M);
    cr_expect_str_eq(r->target_cols[0], "writer");
    struct dba_err e = fail(c, "authors_v", "books", NULL);
    cr_expect_str_eq(e.pgrst, "PGRST201", "both keys reach books from the view");
    r = one(c, "authors", "books_author_id_fkey", NULL);
    cr_expect_eq(r->target, T(c, "books"), "a key name as target never reaches a view");
    dba_catalog_unref(c);
}

Test(relationships, both_ends_in_the_same_schema)
{
    struct dba_catalog *c = cat_new();
    struct dba_table *a = table(c, "orders", "id,customer_id", "id");
    fkey(a, "orders_customer_id_fkey", "customer_id", "other.customers", "id");
    table(c, "other.customers", "id", "id");
    derive(c, NULL);
    cr_expect_eq(T(c, "orders")->n_rels, 1, "derived across schemas");
    struct dba_err e = fail(c, "orders", "customers", NULL);
    cr_expect_str_eq(e.pgrst, "PGRST200", "but not embedded across them");
    dba_catalog_unref(c);
}

Test(relationships, no_match_details_and_hints)
{
    struct dba_catalog *c = shop();
    struct dba_err e = fail(c, "projects", "clients", "nonexistent");
    cr_expect_eq(e.http_status, 400);
    cr_expect_str_eq(e.pgrst, "PGRST200");
    cr_expect_str_eq(e.msg, "Could not find a relationship between 'projects' and 'clients' in "
                            "the schema cache");
    cr_expect_str_eq(e.detail, "Searched for a foreign key relationship between 'projects' and "
                               "'clients' using the hint 'nonexistent' in the schema 'api', but "
                               "no matches were found.");
    cr_expect_str_eq(e.hint, "", "both found: nothing to suggest");
    cr_expect(!e.detail_json);

    e = fail(c, "projects", "client", "x");
    cr_expect_str_eq(e.hint, "Perhaps you meant 'clients' instead of 'client'.");
    e = fail(c, "projects", "task", NULL);
    cr_expect_str_eq(e.detail, "Searched for a foreign key relationship between 'projects' and "
                               "'task' in the schema 'api', but no matches were found.");
    cr_expect_str_eq(e.hint, "Perhaps you meant 'tasks' instead of 'task'.");
    e = fail(c, "projects", "zzzzzzzz", NULL);
    cr_expect_str_eq(e.hint, "", "nothing close");
    dba_catalog_unref(c);

    c = cat_new(); /* a parent without relationships: suggest a parent that has some */
    table(c, "clients", "id", "id");
    struct dba_table *p = table(c, "projects", "id,client_id", "id");
    fkey(p, "client", "client_id", "clients", "id");
    table(c, "projectz", "id", "id");
    derive(c, NULL);
    e = fail(c, "projectz", "clients", NULL);
    cr_expect_str_eq(e.hint, "Perhaps you meant 'projects' instead of 'projectz'.");
    dba_catalog_unref(c);
}

/* ---- view rules -------------------------------------------------------------------------- */

/* A view's rule as PostgreSQL 15 prints it, trimmed: a subquery in the FROM list with its own
   targetList (ignored), escaped names, a constant column and a junk entry. */
static const char rule[] =
    "({QUERY :commandType 1 :querySource 0 :canSetTag true :utilityStmt <> :resultRelation 0 "
    ":cteList <> :rtable ({RANGETBLENTRY :alias {ALIAS :aliasname old :colnames <>} :eref "
    "{ALIAS :aliasname old :colnames (\"my\\ id\" \"a\\}b\")} :rtekind 0 :relid 900 :relkind v} "
    "{RANGETBLENTRY :rtekind 1 :subquery {QUERY :commandType 1 :targetList ({TARGETENTRY :expr "
    "{VAR :varno 1} :resno 1 :resname zz :ressortgroupref 0 :resorigtbl 777 :resorigcol 9 "
    ":resjunk false}) :override 0}}) :jointree {FROMEXPR :fromlist ({RANGETBLREF :rtindex 3}) "
    ":quals <>} :targetList ({TARGETENTRY :expr {VAR :varno 3 :varattno 1 :location 99} :resno 1 "
    ":resname my\\ id :ressortgroupref 0 :resorigtbl 501 :resorigcol 1 :resjunk false} "
    "{TARGETENTRY :expr {VAR :varno 3 :varattno 2} :resno 2 :resname :tricky\\)\\{ "
    ":ressortgroupref 0 :resorigtbl 501 :resorigcol 3 :resjunk false} {TARGETENTRY :expr {CONST "
    ":consttype 23 :constlen 4 :constbyval true :constisnull false :location 124 :constvalue 4 "
    "[ 1 0 0 0 0 0 0 0 ]} :resno 3 :resname one :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 "
    ":resjunk false} {TARGETENTRY :expr {VAR :varno 3 :varattno 2} :resno 4 :resname <> "
    ":ressortgroupref 1 :resorigtbl 501 :resorigcol 2 :resjunk true}) :override 0 :onConflict <> "
    ":stmt_location 0 :stmt_len 0})";

Test(viewdeps, the_top_query_target_list_is_read)
{
    size_t n = 0;
    struct dba__catalog_origin *o = dba__catalog_view_origins(rule, &n);
    cr_assert_eq(n, 2, "constant and junk entries left out, the subquery's list ignored");
    cr_expect_eq(o[0].resno, 1);
    cr_expect_eq(o[0].oid, 501);
    cr_expect_eq(o[0].col, 1);
    cr_expect_eq(o[1].resno, 2);
    cr_expect_eq(o[1].oid, 501);
    cr_expect_eq(o[1].col, 3);
    free(o);
    cr_expect_null(dba__catalog_view_origins("", &n));
    cr_expect_eq(n, 0);
    cr_expect_null(dba__catalog_view_origins(NULL, &n));
    cr_expect_null(dba__catalog_view_origins("({QUERY :targetList <>})", &n));
    cr_expect_null(dba__catalog_view_origins("({QUERY :targetList ({TARGETENTRY :resno 1", &n),
                   "truncated text reads as nothing");
}

Test(viewdeps, views_on_views_reach_the_base_table)
{
    struct dba_catalog *c = cat_new();
    table(c, "base", "id,x,y", "id");
    view(c, "v1", "a,b");
    view(c, "v2", "c");
    const unsigned long oids[] = { 501, 600, 700 };
    const char *defs[] = {
        NULL,
        "({QUERY :targetList ({TARGETENTRY :expr {VAR} :resno 1 :resname a :resorigtbl 501 "
        ":resorigcol 1 :resjunk false} {TARGETENTRY :expr {VAR} :resno 2 :resname b :resorigtbl "
        "501 :resorigcol 3 :resjunk false})})",
        "({QUERY :targetList ({TARGETENTRY :expr {VAR} :resno 1 :resname c :resorigtbl 600 "
        ":resorigcol 2 :resjunk false} {TARGETENTRY :expr {VAR} :resno 2 :resname q :resorigtbl "
        "999 :resorigcol 1 :resjunk false})})",
    };
    size_t n = 0;
    struct dba__catalog_viewdep *d = dba__catalog_viewdeps(c, oids, defs, &n);
    cr_assert_eq(n, 3, "an origin outside the catalog is left out");
    cr_expect_eq(d[0].view, T(c, "v1"));
    cr_expect_str_eq(d[0].view_col, "a");
    cr_expect_str_eq(d[0].base_col, "id");
    cr_expect_str_eq(d[1].base_col, "y");
    cr_expect_eq(d[2].view, T(c, "v2"));
    cr_expect_str_eq(d[2].view_col, "c");
    cr_expect_eq(d[2].base, T(c, "base"));
    cr_expect_str_eq(d[2].base_col, "y");
    free(d);
    dba_catalog_unref(c);
}
