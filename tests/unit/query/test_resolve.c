/* test_resolve.c - dba_query_resolve on a hand-built catalog: relationships of each kind (filled
   by hand in dba_table.rels, as the catalog derives them), join columns, related orders, filters
   on embeds, aggregates and spreads, and PostgREST's error texts and order. Queries come from the
   real grammar. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/grammar.h"
#include "query/query.h"

static struct dba_arena *A;
static struct dba_catalog cat;
static struct dba_query q;
static struct dba_err err;

enum { T_CLIENTS, T_PROJECTS, T_SITES, T_TASKS, T_USERS, T_USERS_TASKS, T_N };

static struct dba_table tables[T_N];

static const char **
strs(const char *a, const char *b)
{
    const char **v = dba_arena_alloc(A, 2 * sizeof(*v));

    v[0] = a;
    v[1] = b;
    return v;
}

static void
mk_table(int i, const char *name, const char *c1, const char *c2, const char *c3)
{
    const char *names[3] = { c1, c2, c3 };
    struct dba_table *t = &tables[i];

    t->schema = dba_arena_strdup(A, "test");
    t->name = dba_arena_strdup(A, name);
    t->cols = dba_arena_alloc(A, 3 * sizeof(*t->cols));
    for (size_t k = 0; k < 3 && names[k] != NULL; k++) {
        t->cols[k].name = dba_arena_strdup(A, names[k]);
        t->cols[k].type = dba_arena_strdup(A, "integer");
        t->cols[k].position = (int)k + 1;
        t->n_cols++;
    }
    t->rels = dba_arena_alloc(A, 4 * sizeof(*t->rels));
}

/* One foreign key relationship from table `from` (column fcol) to `to` (column tcol), seen from
   `from`; card tells which side is which. */
static void
add_rel(int from, int to, enum dba_card card, const char *cons, const char *fcol,
        const char *tcol)
{
    struct dba_relationship *r = &tables[from].rels[tables[from].n_rels++];

    r->table = &tables[from];
    r->target = &tables[to];
    r->card = card;
    r->self = from == to;
    r->fk_here = card == DBA_CARD_M2O;
    r->constraint = cons;
    r->cols = strs(fcol, NULL);
    r->target_cols = strs(tcol, NULL);
    r->n_cols = 1;
}

static void
add_m2m(int from, int to, int junction, const char *jcol, const char *jtcol)
{
    struct dba_relationship *r = &tables[from].rels[tables[from].n_rels++];

    r->table = &tables[from];
    r->target = &tables[to];
    r->card = DBA_CARD_M2M;
    r->constraint = dba_arena_printf(A, "%s_%s_fkey", tables[junction].name, jcol);
    r->cols = strs("id", NULL);
    r->target_cols = strs("id", NULL);
    r->n_cols = 1;
    r->n_target_cols = 1;
    r->junction = &tables[junction];
    r->target_constraint = dba_arena_printf(A, "%s_%s_fkey", tables[junction].name, jtcol);
    r->junction_cols = strs(jcol, NULL);
    r->junction_target_cols = strs(jtcol, NULL);
}

/* clients 1-n projects 1-n tasks n-m users (through users_tasks); sites has two keys to
   projects (ambiguous). */
static void
rs_setup(void)
{
    static char test_schema[] = "test";
    static char *schemas[] = { test_schema };

    dba_mem_init();
    A = dba_arena_new();
    memset(tables, 0, sizeof(tables));
    memset(&cat, 0, sizeof(cat));
    memset(&q, 0, sizeof(q));
    dba_err_clear(&err);
    mk_table(T_CLIENTS, "clients", "id", "name", NULL);
    mk_table(T_PROJECTS, "projects", "id", "name", "client_id");
    mk_table(T_SITES, "sites", "id", "main_project_id", "side_project_id");
    mk_table(T_TASKS, "tasks", "id", "name", "project_id");
    mk_table(T_USERS, "users", "id", "name", NULL);
    mk_table(T_USERS_TASKS, "users_tasks", "user_id", "task_id", NULL);
    add_rel(T_PROJECTS, T_CLIENTS, DBA_CARD_M2O, "projects_client_id_fkey", "client_id", "id");
    add_rel(T_CLIENTS, T_PROJECTS, DBA_CARD_O2M, "projects_client_id_fkey", "id", "client_id");
    add_rel(T_TASKS, T_PROJECTS, DBA_CARD_M2O, "tasks_project_id_fkey", "project_id", "id");
    add_rel(T_PROJECTS, T_TASKS, DBA_CARD_O2M, "tasks_project_id_fkey", "id", "project_id");
    add_rel(T_SITES, T_PROJECTS, DBA_CARD_M2O, "main_project", "main_project_id", "id");
    add_rel(T_SITES, T_PROJECTS, DBA_CARD_M2O, "side_project", "side_project_id", "id");
    add_m2m(T_TASKS, T_USERS, T_USERS_TASKS, "task_id", "user_id");
    add_m2m(T_USERS, T_TASKS, T_USERS_TASKS, "user_id", "task_id");
    add_rel(T_USERS_TASKS, T_TASKS, DBA_CARD_M2O, "users_tasks_task_id_fkey", "task_id", "id");
    add_rel(T_USERS_TASKS, T_USERS, DBA_CARD_M2O, "users_tasks_user_id_fkey", "user_id", "id");
    add_rel(T_USERS, T_USERS_TASKS, DBA_CARD_O2M, "users_tasks_user_id_fkey", "id", "user_id");
    add_rel(T_TASKS, T_USERS_TASKS, DBA_CARD_O2M, "users_tasks_task_id_fkey", "id", "task_id");
    cat.schemas = schemas;
    cat.n_schemas = 1;
    cat.tables = tables; /* sorted by name */
    cat.n_tables = T_N;
}

static void
rs_teardown(void)
{
    dba_arena_free(A);
    cr_expect_eq(dba_arena_live(), 0);
}

TestSuite(resolve, .init = rs_setup, .fini = rs_teardown);

/* The relationship model lands with the catalog slice; until it is merged the placeholder finds
   nothing, and the tests that need a relationship are skipped rather than failed. */
static void
need_relationships(void)
{
    const struct dba_relationship *r;
    struct dba_err e;

    if (dba_catalog_relationship_find(&cat, &tables[T_PROJECTS], "clients", NULL, &r, &e) !=
        DBA_OK)
        cr_skip_test("dba_catalog_relationship_find is still the placeholder");
}

/* Parses qs as a GET on `root` and resolves it. */
static int
resolve(int root, const char *qs, bool aggregates)
{
    struct dba_http_req_in in = { .method = DBA_M_GET, .query = qs };

    memset(&q, 0, sizeof(q));
    dba_err_clear(&err);
    cr_assert_eq(dba_http_grammar_parse(A, &in, &q, &err), DBA_OK, "%s: %s %s", qs, err.msg,
                 err.detail);
    q.schema = "test";
    q.table = tables[root].name;
    return dba_query_resolve(&q, &cat, &tables[root], aggregates, &err);
}

static void
expect_error(int root, const char *qs, unsigned status, const char *code, const char *msg,
             const char *detail, const char *hint)
{
    cr_assert_eq(resolve(root, qs, false), DBA_EINVAL, "%s resolved", qs);
    cr_expect_eq(err.http_status, status, "%s", qs);
    cr_expect_str_eq(err.pgrst, code, "%s", qs);
    if (msg)
        cr_expect_str_eq(err.msg, msg, "%s", qs);
    if (detail)
        cr_expect_str_eq(err.detail, detail, "%s", qs);
    if (hint)
        cr_expect_str_eq(err.hint, hint, "%s", qs);
}

static struct dba_rel *
child(const struct dba_rel *r, size_t i)
{
    cr_assert_lt(i, r->n_select);
    cr_assert_eq(r->select[i].kind, DBA_ITEM_CHILD);
    return r->select[i].child;
}

/* ---- relationships ---- */

Test(resolve, without_embeds_nothing_changes)
{
    cr_assert_eq(resolve(T_PROJECTS, "select=id,name&id=eq.1&order=name", false), DBA_OK, "%s",
                 err.msg);
    cr_expect_eq(q.rel.n_select, 2);
}

Test(resolve, many_to_one_and_one_to_many)
{
    struct dba_rel *c, *t;

    need_relationships();
    cr_assert_eq(resolve(T_PROJECTS, "select=id,client:clients(name),tasks(id)", false),
                 DBA_OK, "%s", err.msg);
    c = child(&q.rel, 1);
    cr_expect_eq(c->table, &tables[T_CLIENTS]);
    cr_expect_str_eq(c->schema, "test");
    cr_expect_str_eq(c->name, "clients");
    cr_expect(c->to_one);
    cr_assert_not_null(c->relationship);
    cr_expect_eq(c->relationship->card, DBA_CARD_M2O);
    cr_assert_eq(c->n_join, 1);
    cr_expect_str_eq(c->parent_cols[0], "client_id");
    cr_expect_str_eq(c->child_cols[0], "id");
    t = child(&q.rel, 2);
    cr_expect_eq(t->table, &tables[T_TASKS]);
    cr_expect_not(t->to_one);
    cr_expect_eq(t->relationship->card, DBA_CARD_O2M);
    cr_assert_eq(t->n_join, 1);
    cr_expect_str_eq(t->parent_cols[0], "id");
    cr_expect_str_eq(t->child_cols[0], "project_id");
}

Test(resolve, nested_and_many_to_many)
{
    struct dba_rel *p, *t, *u;

    need_relationships();
    cr_assert_eq(resolve(T_CLIENTS, "select=projects(tasks(users(*)))", false), DBA_OK, "%s",
                 err.msg);
    p = child(&q.rel, 0);
    t = child(p, 0);
    u = child(t, 0);
    cr_expect_eq(p->table, &tables[T_PROJECTS]);
    cr_expect_eq(t->table, &tables[T_TASKS]);
    cr_expect_eq(u->table, &tables[T_USERS]);
    cr_expect_eq(u->relationship->card, DBA_CARD_M2M);
    cr_expect_eq(u->relationship->junction, &tables[T_USERS_TASKS]);
    cr_expect_not(u->to_one);
    cr_expect_eq(u->n_join, 0, "M2M: the builder follows the relationship");
}

Test(resolve, hints_and_foreign_key_targets)
{
    need_relationships();
    cr_assert_eq(resolve(T_SITES, "select=main:projects!main_project(id),"
                                  "side:projects!side_project_id(id)", false),
                 DBA_OK, "%s", err.msg);
    cr_expect_str_eq(child(&q.rel, 0)->parent_cols[0], "main_project_id");
    cr_expect_str_eq(child(&q.rel, 1)->parent_cols[0], "side_project_id");
    cr_assert_eq(resolve(T_PROJECTS, "select=client_id(name)", false), DBA_OK, "%s", err.msg);
    cr_expect_eq(child(&q.rel, 0)->table, &tables[T_CLIENTS]);
}

Test(resolve, missing_and_ambiguous_relationships)
{
    expect_error(T_PROJECTS, "select=id,nope(*)", 400, "PGRST200",
                 "Could not find a relationship between 'projects' and 'nope' in the schema "
                 "cache",
                 NULL, NULL);
    need_relationships();
    expect_error(T_SITES, "select=*,projects(*)", 300, "PGRST201",
                 "Could not embed because more than one relationship was found for 'sites' and "
                 "'projects'",
                 NULL, NULL);
}

Test(resolve, relationship_errors_come_before_order_and_aggregate_errors)
{
    expect_error(T_PROJECTS, "select=count(),nope(*)&order=x(y)", 400, "PGRST200", NULL, NULL,
                 NULL);
}

/* ---- related orders ---- */

Test(resolve, related_order_on_to_one)
{
    need_relationships();
    cr_assert_eq(resolve(T_PROJECTS, "select=id,clients(name)&order=clients(name).desc,id",
                         false),
                 DBA_OK, "%s", err.msg);
    cr_expect_eq(q.rel.order[0].rel_node, child(&q.rel, 1));
    cr_expect_null(q.rel.order[1].rel_node);
    cr_assert_eq(resolve(T_PROJECTS, "select=id,client:clients(name)&order=client(name)", false),
                 DBA_OK, "%s", err.msg);
    cr_expect_eq(q.rel.order[0].rel_node, child(&q.rel, 1));
    /* inside an embed: tasks.order=projects(id) */
    cr_assert_eq(resolve(T_USERS, "select=tasks(id,projects(id))&tasks.order=projects(id).desc",
                         false),
                 DBA_OK, "%s", err.msg);
    cr_expect_eq(child(&q.rel, 0)->order[0].rel_node, child(child(&q.rel, 0), 1));
}

Test(resolve, related_order_errors)
{
    expect_error(T_PROJECTS, "select=id&order=clientsx(name).nullsfirst", 400, "PGRST108",
                 "'clientsx' is not an embedded resource in this request", "",
                 "Verify that 'clientsx' is included in the 'select' query parameter.");
    need_relationships();
    expect_error(T_PROJECTS, "select=id,clients(name)&order=clientsx(name).nullsfirst", 400,
                 "PGRST108", "'clientsx' is not an embedded resource in this request", "",
                 "Verify that 'clientsx' is included in the 'select' query parameter.");
    expect_error(T_CLIENTS, "select=*,projects(*)&order=projects(id)", 400, "PGRST118",
                 "A related order on 'projects' is not possible",
                 "'clients' and 'projects' do not form a many-to-one or one-to-one relationship",
                 "");
    /* an aliased embed is found by its alias only */
    expect_error(T_PROJECTS, "select=id,client:clients(name)&order=clients(name)", 400,
                 "PGRST108", "'clients' is not an embedded resource in this request", NULL, NULL);
}

/* ---- filters on an embed ---- */

Test(resolve, null_filters_on_embeds)
{
    struct dba_rel *p;

    need_relationships();
    cr_assert_eq(resolve(T_CLIENTS, "select=name,projects()&projects=is.null", false), DBA_OK,
                 "%s", err.msg);
    p = child(&q.rel, 1);
    cr_expect(p->filter_only);
    cr_expect_eq(q.rel.where.children[0].filter.embed, p);
    cr_expect_eq(p->join, DBA_JOIN_LEFT);
    cr_assert_eq(resolve(T_CLIENTS, "select=name,projects(*)&projects=not.is.null", false),
                 DBA_OK, "%s", err.msg);
    cr_expect_eq(q.rel.where.children[0].filter.embed, child(&q.rel, 1));
    cr_expect_eq(child(&q.rel, 1)->join, DBA_JOIN_INNER, "not.is.null works as !inner");
    cr_assert_eq(resolve(T_CLIENTS, "select=name,p:projects(),projects(id)"
                                    "&or=(p.not.is.null,name.eq.x)&p.name=eq.y", false),
                 DBA_OK, "%s", err.msg);
    cr_expect_eq(q.rel.where.children[0].children[0].filter.embed, child(&q.rel, 1));
    cr_expect_null(q.rel.where.children[0].children[1].filter.embed);
    cr_expect_eq(child(&q.rel, 1)->join, DBA_JOIN_LEFT, "inside or= it is only a test");
    cr_expect_eq(child(&q.rel, 1)->where.n_children, 1);
}

Test(resolve, other_operators_on_an_embed_are_pgrst120)
{
    need_relationships();
    expect_error(T_CLIENTS, "select=name,projects(*)&projects=eq.1", 400, "PGRST120",
                 "Bad operator on the 'projects' embedded resource",
                 "Only is null or not is null filters are allowed on embedded resources", "");
    expect_error(T_CLIENTS, "select=name,projects(*)&or=(projects.gt.1,id.eq.1)", 400,
                 "PGRST120", NULL, NULL, NULL);
    /* an embed named after a column of the parent: the filter is the column's */
    cr_assert_eq(resolve(T_PROJECTS, "select=client_id(name)&client_id=eq.1", false), DBA_OK,
                 "%s", err.msg);
    cr_expect_null(q.rel.where.children[0].filter.embed);
}

/* ---- aggregates and spreads ---- */

Test(resolve, aggregates_need_the_setting)
{
    expect_error(T_PROJECTS, "select=count()", 400, "PGRST123",
                 "Use of aggregate functions is not allowed", "", "");
    expect_error(T_PROJECTS, "select=t:id.max()::text,name", 400, "PGRST123", NULL, NULL, NULL);
    cr_expect_eq(resolve(T_PROJECTS, "select=count(),name", true), DBA_OK, "%s", err.msg);
    need_relationships();
    expect_error(T_PROJECTS, "select=name,tasks(id.sum())", 400, "PGRST123", NULL, NULL, NULL);
    cr_expect_eq(resolve(T_PROJECTS, "select=name,tasks(id.sum())", true), DBA_OK, "%s",
                 err.msg);
}

Test(resolve, spreads)
{
    need_relationships();
    cr_assert_eq(resolve(T_PROJECTS, "select=id,...clients(client_name:name)", false), DBA_OK,
                 "%s", err.msg);
    cr_expect(child(&q.rel, 1)->spread);
    cr_expect(child(&q.rel, 1)->to_one);
    cr_assert_eq(resolve(T_USERS, "select=*,tasks:users_tasks(...tasks(*))", false), DBA_OK,
                 "%s", err.msg);
    cr_expect(child(child(&q.rel, 1), 0)->to_one);
    cr_assert_eq(resolve(T_CLIENTS, "select=id,...projects(name)", false), DBA_OK, "%s",
                 err.msg);
    cr_expect_not(child(&q.rel, 1)->to_one, "a to-many spread gives arrays");
    cr_assert_eq(resolve(T_CLIENTS, "select=id,...projects(id.count())", true), DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST127");
    cr_expect_str_eq(err.detail,
                     "Aggregates are not implemented for one-to-many or many-to-many spreads.");
    cr_assert_eq(resolve(T_CLIENTS, "select=id,...projects(name,...clients(id.count()))", true),
                 DBA_EINVAL);
    cr_expect_str_eq(err.pgrst, "PGRST127");
}
