/* restore.c - restore, set-based: one transaction for the whole document; parents first; rows
   move in batches (thousands per statement): a batch goes by COPY into a typed temporary table
   and one statement stages it (a CTE), writes it and returns its counts (rows the COPY form
   cannot carry exactly go through jsonb and a staging table, three statements); the client
   builds the next batch while that statement runs. Existing rows are
   matched by slug (+ user, + parent) or by pk with a join against the batch; new keys come from
   the target's own sequences or identities (planned without nextval in a dry run, so a dry run
   leaves the sequences alone); the old->new key map of each referenced table lives in a temporary
   table, and children's parent fields and optional references are rewritten by joining it, so
   memory stays flat whatever the row count. A batch that fails (or that holds rows which would
   see each other: duplicate keys or slugs, mode=fail hits) is rolled back to its savepoint and
   replayed row by row - the same statements on a batch of one - so the report still names the
   table, the row's index, its old key and PostgreSQL's message. A table empty when the restore
   begins skips the lookup for rows whose slug no earlier row of it had (a fixed-size filter).
   Unless the caller validated the document, it is validated on a thread beside the writes, and
   the transaction commits only once that says valid (an invalid document is rolled back and
   reported as a validation, as before). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "backup/backup_int.h"
#include "db/db.h"

#define RS_BATCH_ROWS 5000           /* rows per batch */
#define RS_BATCH_BYTES (4u << 20)    /* bytes of row text per batch */
#define RS_SEEN_BITS (1u << 23)      /* bits of a table's filter of the slugs written (1 MB) */

struct rs_table {
    const struct dba_backup_table *t; /* borrowed from the schema */
    const struct dba_table *st;       /* target table in the cache */
    const struct dba_column *pkc;     /* its pk column */
    int idx;                          /* index in the schema */
    bool pk_generated;                /* pk comes from a sequence or identity */
    bool mapped;                      /* another table (or itself) refers to it: keep a key map */
    bool row_mode;                    /* parent is itself: batches of one row */
    bool self_ref;                    /* an optional reference to itself */
    bool fast;                        /* batches may go through COPY into a typed table */
    bool in_made;                     /* that table (pg_temp.dba_rs_in_<idx>) exists */
    unsigned char *seen;              /* the table was empty when the restore began: a filter
                                         (Bloom) of the slugs of the rows fed to it since, as
                                         their COPY text; a row whose slug it has not seen
                                         cannot match an existing row by slug, and is not
                                         looked up. NULL: every row is looked up */
    char seq[24];                     /* oid of the pk's sequence, "" when none */
    long long plan_next;              /* dry run: next key the sequence would give */
    long long plan_inc;               /* its increment */
    json_int_t inserted;              /* rows inserted */
    json_int_t updated;               /* rows overwritten */
    json_int_t skipped;               /* existing rows left alone, and orphans */
    json_int_t orphans;               /* rows skipped because their parent was not mapped */
    json_int_t unchanged;             /* existing rows already equal to the backup's */
    json_int_t rows;                  /* rows seen (next row index) */
    json_int_t expected;              /* rows the metadata announces, -1 when unknown */
};

/* Rows of one table with the same keys, waiting to be written. */
struct rs_batch {
    int tab;            /* table index, -1 when empty */
    struct dba_buf arr; /* "[row,row,...", the rows' exact text */
    size_t n;           /* rows */
    json_int_t base;    /* index of the first row in its table */
    struct dba_buf sig; /* the rows' member names, each followed by '\n' */
    size_t *off;        /* each row's offset in arr */
    size_t *len;        /* and length */
    size_t cap;         /* allocated entries of off/len */
};

struct restore {
    struct pg_conn *conn;                    /* borrowed */
    const struct dba_backup_schema *s;       /* borrowed */
    const struct dba_backup_restore_opts *o; /* borrowed */
    struct dba_catalog *cache;               /* target's cache (owned ref) */
    struct rs_table *tabs;                   /* one per schema table */
    size_t n_bound;                          /* tabs bound to a target table so far */
    json_t *failed;                          /* failing row report, or NULL */
    struct rs_batch b;                       /* pending rows */
    struct dba_buf rowsig;                   /* member names of the row being fed */
    bool stage_index;                        /* the staging table has its index on old */
    struct dba_buf copy;                     /* the batch as COPY text lines */
    struct rs_pend {                         /* a COPY batch whose statement is in flight */
        bool on;                             /* sent, its result not read yet */
        struct rs_batch b;                   /* its rows (kept for a replay) */
        const struct dba_column **cols;      /* its columns (cs.c, owned) */
        size_t n_cols;                       /* their count */
        bool has_pk, user;                   /* and the rest of its rs_cols */
        long long plan;                      /* plan_next before it */
        struct dba_err keep;                 /* the error state before it */
    } pend;
    unsigned lookup;                         /* the lookup branches its rows take (LK_*) */
    struct rs_val *val;                      /* the validation running beside, or NULL */
    bool val_seen;                           /* its end was seen (expected rows set) */
    struct dba_err *err;                     /* out */
};

/* The validation of the document, run on a thread of its own while the restore writes (the
   server works meanwhile instead of waiting for it): the restore's transaction commits only once
   it says valid, and an invalid document is rolled back and reported as before - nothing of it
   is kept. */
struct rs_val {
    const struct dba_backup_schema *s; /* borrowed */
    const char *text;                  /* the document's text, or NULL: */
    size_t len;                        /* its length */
    const char *path;                  /* the jsonl file */
    json_t *v;                         /* the report, once done */
    atomic_bool done;                  /* v is set */
    pthread_t th;                      /* the thread */
    bool on;                           /* started (else validated on join) */
};

static void rs_expected(struct restore *rs, const json_t *counts);

static void *
rs_val_main(void *arg)
{
    struct rs_val *vl = arg;
    vl->v = vl->text != NULL ? dba_backup_validate_text(vl->s, vl->text, vl->len)
                             : dba_backup_validate_file(vl->s, vl->path);
    atomic_store(&vl->done, true);
    return NULL;
}

static void
rs_val_start(struct rs_val *vl)
{
    atomic_init(&vl->done, false);
    vl->v = NULL;
    vl->on = pthread_create(&vl->th, NULL, rs_val_main, vl) == 0;
}

/* The validation's report (waits for it; validates here when no thread could be started). */
static json_t *
rs_val_join(struct rs_val *vl)
{
    if (vl->on)
        pthread_join(vl->th, NULL);
    else if (vl->v == NULL)
        rs_val_main(vl);
    vl->on = false;
    return vl->v;
}

int
dba_backup_mode_parse(const char *s, enum dba_backup_mode *out, struct dba_err *err)
{
    static const char *const names[] = { "skip", "overwrite", "fail" };
    for (size_t i = 0; i < DBA_ARRAY_LEN(names); i++) {
        if (s != NULL && strcmp(s, names[i]) == 0) {
            *out = (enum dba_backup_mode)i;
            return DBA_OK;
        }
    }
    dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "unknown mode '%s'", s ? s : "");
    dba_err_hint(err, "Use skip, overwrite or fail.");
    return DBA_EINVAL;
}

static const char *
mode_name(enum dba_backup_mode m)
{
    switch (m) {
    case DBA_BACKUP_SKIP:
        return "skip";
    case DBA_BACKUP_OVERWRITE:
        return "overwrite";
    case DBA_BACKUP_FAIL:
        return "fail";
    }
    return "?";
}

static void
put_qname(struct dba_buf *b, const struct dba_table *st)
{
    dba_buf_put_ident(b, st->schema);
    dba_buf_putc(b, '.');
    dba_buf_put_ident(b, st->name);
}

static bool
col_generated(const struct dba_column *c)
{
    return c->identity ||
           (c->default_expr != NULL && strncmp(c->default_expr, "nextval(", 8) == 0);
}

static const char *
rs_nsp(const struct restore *rs)
{
    return rs->o->n_schemas > 0 ? rs->o->schemas[0] : "public";
}

static int
rs_exec(struct restore *rs, const char *sql)
{
    struct pg_result *r = dba_db_exec(rs->conn, sql, NULL, 0, rs->err);
    dba_db_res_clear(r);
    return r != NULL ? DBA_OK : DBA_EDB;
}

/* First value of a one-row query as a new string ("" for NULL), or NULL with rs->err. */
static char *
rs_value(struct restore *rs, const char *sql, const char *const *params, int n)
{
    struct pg_result *r = dba_db_exec(rs->conn, sql, params, n, rs->err);
    if (r == NULL)
        return NULL;
    char *v = dba_xstrdup(dba_db_res_ntuples(r) > 0 ? dba_db_res_value(r, 0, 0) : "");
    dba_db_res_clear(r);
    return v;
}

/* The oid of the sequence behind a generated pk (identity, serial, or any nextval default) and,
   for a dry run, the next value it would give and its increment - read, never drawn. */
static int
rs_sequence(struct restore *rs, struct rs_table *rt)
{
    struct dba_buf q;
    dba_buf_init(&q);
    put_qname(&q, rt->st);
    const char *p[2] = { q.data, rt->pkc->name };
    char *oid = rs_value(rs, "SELECT pg_get_serial_sequence($1, $2)::regclass::oid", p, 2);
    dba_buf_cleanup(&q);
    if (oid == NULL)
        return DBA_EDB;
    const char *d = rt->pkc->default_expr;
    if (oid[0] == '\0' && d != NULL && strncmp(d, "nextval(", 8) == 0 &&
        strrchr(d, ')') != NULL) {
        free(oid);
        dba_buf_init(&q); /* the catalog's own expression text: nextval(<regclass expr>) */
        dba_buf_printf(&q, "SELECT (%.*s)::regclass::oid", (int)(strrchr(d, ')') - d - 8), d + 8);
        oid = rs_value(rs, q.data, NULL, 0);
        dba_buf_cleanup(&q);
        if (oid == NULL)
            return DBA_EDB;
    }
    snprintf(rt->seq, sizeof(rt->seq), "%s", oid);
    free(oid);
    if (rt->seq[0] == '\0')
        return dba_err_set(rs->err, DBA_EINVAL, 422, DBA_BACKUP_CODE,
                           "cannot find the sequence of %s.%s", rt->t->name, rt->pkc->name);
    if (!rs->o->dry_run)
        return DBA_OK;
    const char *sp[1] = { rt->seq };
    struct pg_result *r = dba_db_exec(
        rs->conn, "SELECT coalesce(pg_sequence_last_value(s.seqrelid) + s.seqincrement, "
                  "s.seqstart), s.seqincrement FROM pg_sequence s WHERE s.seqrelid = $1::oid",
        sp, 1, rs->err);
    if (r == NULL)
        return DBA_EDB;
    if (dba_db_res_ntuples(r) == 1) {
        rt->plan_next = strtoll(dba_db_res_value(r, 0, 0), NULL, 10);
        rt->plan_inc = strtoll(dba_db_res_value(r, 0, 1), NULL, 10);
    }
    dba_db_res_clear(r);
    return DBA_OK;
}

static bool
rs_refers(const struct dba_backup_ref *r, const char *name)
{
    return r->table != NULL && strcmp(r->table, name) == 0;
}

/* Binds every table of the schema to the target's, before anything is written: a table or a
   pk column the target lacks is an error naming it (422). */
static int
rs_bind(struct restore *rs)
{
    const char *nsp = rs_nsp(rs);
    rs->tabs = dba_xcalloc(rs->s->n + 1, sizeof(*rs->tabs));
    for (size_t i = 0; i < rs->s->n; i++) {
        struct rs_table *rt = &rs->tabs[i];
        const struct dba_backup_table *t = &rs->s->tables[i];
        const struct dba_table *st = dba_catalog_table_find(rs->cache, nsp, t->name);
        if (st == NULL || st->is_view) {
            dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE,
                        "table '%s' of the backup does not exist in the target (schema '%s')",
                        t->name, nsp);
            dba_err_hint(rs->err, "Create the table in the target first (db-adapter fix), or "
                                  "leave it out of the backup (--tables).");
            return DBA_ENOTFOUND;
        }
        const struct dba_column *pk = dba_catalog_column_find(st, t->pk);
        if (pk == NULL)
            return dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE,
                               "table '%s' has no column '%s' (its pk) in the target "
                               "(schema '%s')", t->name, t->pk, nsp);
        rt->t = t;
        rt->st = st;
        rt->pkc = pk;
        rt->idx = (int)i;
        rt->pk_generated = col_generated(pk);
        rt->row_mode = rs_refers(&t->parent, t->name);
        for (size_t k = 0; k < t->n_opt; k++)
            rt->self_ref = rt->self_ref || rs_refers(&t->opt[k], t->name);
        for (size_t j = 0; j < rs->s->n; j++) {
            const struct dba_backup_table *c = &rs->s->tables[j];
            rt->mapped = rt->mapped || rs_refers(&c->parent, t->name);
            for (size_t k = 0; k < c->n_opt; k++)
                rt->mapped = rt->mapped || rs_refers(&c->opt[k], t->name);
        }
        rt->fast = !rt->row_mode && !rt->self_ref;
        for (size_t c = 0; c < st->n_cols; c++)
            rt->fast = rt->fast && strncmp(st->cols[c].name, "dba_rs_", 7) != 0;
        rt->expected = -1;
        rs->n_bound++;
    }
    return DBA_OK;
}

/* Three probes of the filter for the bytes p[0..n) (FNV-1a, split). */
static bool
seen_test_set(unsigned char *f, const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32) | 1u;
    bool all = true;
    for (uint32_t k = 0; k < 3; k++) {
        uint32_t bit = (a + k * b) & (RS_SEEN_BITS - 1);
        all = all && (f[bit >> 3] & (1u << (bit & 7))) != 0;
        f[bit >> 3] |= (unsigned char)(1u << (bit & 7));
    }
    return all;
}

/* The slug filter of a table written by COPY whose slug is text compared byte for byte (text or
   varchar, a deterministic collation), when the table is empty now (within the transaction: any
   row it holds later was fed by this restore). */
static int
rs_seen_init(struct restore *rs, struct rs_table *rt)
{
    const struct dba_column *c = rt->t->slug != NULL && rt->fast
                                     ? dba_catalog_column_find(rt->st, rt->t->slug) : NULL;
    if (c == NULL || c->generated ||
        (strcmp(c->type, "text") != 0 && strncmp(c->type, "character varying", 17) != 0))
        return DBA_OK;
    struct dba_buf q, n;
    dba_buf_init(&q);
    dba_buf_init(&n);
    put_qname(&n, rt->st);
    dba_buf_puts(&q, "SELECT NOT EXISTS (SELECT FROM ");
    put_qname(&q, rt->st);
    dba_buf_puts(&q, ") AND coalesce((SELECT co.collisdeterministic FROM pg_attribute a JOIN "
                     "pg_collation co ON co.oid = a.attcollation WHERE a.attrelid = "
                     "$1::regclass AND a.attname = $2), true)");
    const char *p[2] = { n.data, c->name };
    char *v = rs_value(rs, q.data, p, 2);
    dba_buf_cleanup(&q);
    dba_buf_cleanup(&n);
    if (v == NULL)
        return DBA_EDB;
    if (strcmp(v, "t") == 0)
        rt->seen = dba_xcalloc(RS_SEEN_BITS / 8, 1);
    free(v);
    return DBA_OK;
}

/* Creates the staging table and the key maps (dropped with the transaction). */
static int
rs_temp_tables(struct restore *rs)
{
    int rc = rs_exec(rs, "CREATE TEMP TABLE dba_rs_stage (ord int, idx bigint, old text, "
                         "orphan bool, ins bool, r jsonb, found jsonb, same bool, newk jsonb, "
                         "pkv jsonb, mslug text, mu text, mp text) ON COMMIT DROP");
    for (size_t i = 0; i < rs->s->n && rc == DBA_OK; i++) {
        struct rs_table *rt = &rs->tabs[i];
        if (rt->pk_generated)
            rc = rs_sequence(rs, rt);
        if (rc == DBA_OK)
            rc = rs_seen_init(rs, rt);
        if (rc != DBA_OK || !rt->mapped)
            continue;
        char sql[200];
        snprintf(sql, sizeof(sql), "CREATE TEMP TABLE dba_rs_map_%zu (old text PRIMARY KEY, "
                                   "new jsonb, idx bigint) ON COMMIT DROP", i);
        rc = rs_exec(rs, sql);
    }
    return rc;
}

/* The target columns a batch writes: the rows' members that the target can take (generated
   columns left out), plus the user field when --user-id sets it. */
struct rs_cols {
    const struct dba_column **c; /* columns, owned array */
    size_t n;                    /* count */
    bool has_pk;                 /* the pk is among them */
    bool user;                   /* the user field is set from --user-id */
};

static void
rs_cols_add(struct rs_cols *cs, const struct dba_column *c)
{
    for (size_t i = 0; i < cs->n; i++)
        if (cs->c[i] == c)
            return;
    cs->c[cs->n++] = c;
}

static void
rs_cols_build(const struct restore *rs, const struct rs_table *rt, const char *sig,
              struct rs_cols *cs)
{
    size_t cap = 2;
    for (const char *p = sig; *p != '\0'; p++)
        cap += *p == '\n';
    cs->c = dba_xcalloc(cap, sizeof(*cs->c));
    cs->n = 0;
    for (const char *p = sig; *p != '\0';) {
        const char *e = strchr(p, '\n');
        char *name = dba_xstrndup(p, (size_t)(e - p));
        const struct dba_column *c = dba_catalog_column_find(rt->st, name);
        free(name);
        if (c != NULL && !c->generated)
            rs_cols_add(cs, c);
        p = e + 1;
    }
    cs->user = false;
    if (rs->o->user_id != NULL && rt->t->user_field != NULL) {
        const struct dba_column *c = dba_catalog_column_find(rt->st, rt->t->user_field);
        if (c != NULL && !c->generated) {
            rs_cols_add(cs, c);
            cs->user = true;
        }
    }
    cs->has_pk = false;
    for (size_t i = 0; i < cs->n; i++)
        cs->has_pk = cs->has_pk || cs->c[i] == rt->pkc;
}

/* Key text of member f of the jsonb row a.r: numbers written "7.0" are the key 7, as
   dba__backup_scalar_text reads them. */
static void
put_key(struct dba_buf *b, const char *a, const char *f)
{
    dba_buf_printf(b, "(CASE WHEN jsonb_typeof(%s.r -> ", a);
    dba_buf_put_literal(b, f);
    dba_buf_printf(b, ") = 'number' AND strpos(%s.r ->> ", a);
    dba_buf_put_literal(b, f);
    dba_buf_printf(b, ", '.') > 0 THEN regexp_replace(%s.r ->> ", a);
    dba_buf_put_literal(b, f);
    dba_buf_printf(b, ", '\\.0+$', '') ELSE %s.r ->> ", a);
    dba_buf_put_literal(b, f);
    dba_buf_puts(b, " END)");
}

static void
put_col(struct dba_buf *b, const char *a, const char *c)
{
    dba_buf_printf(b, "%s.", a);
    dba_buf_put_ident(b, c);
}

/* Types whose equality is the equality of their JSON form (anything else is compared as
   to_jsonb, as a row-by-row restore did). */
static bool
eq_direct(const struct dba_column *c)
{
    static const char *const ok[] = { "text", "character varying", "character", "integer",
                                      "bigint", "smallint", "numeric", "boolean", "date",
                                      "timestamp", "uuid", "jsonb", "double precision", "real" };
    for (size_t i = 0; i < DBA_ARRAY_LEN(ok); i++)
        if (strncmp(c->type, ok[i], strlen(ok[i])) == 0)
            return true;
    return false;
}

/* True when the existing row _t already holds the incoming _r's values (pk left out). */
static void
put_same(struct dba_buf *b, const struct rs_table *rt, const struct rs_cols *cs)
{
    int n = 0;
    dba_buf_putc(b, '(');
    for (size_t i = 0; i < cs->n; i++) {
        const struct dba_column *c = cs->c[i];
        if (c == rt->pkc)
            continue;
        if (n++ > 0)
            dba_buf_puts(b, " AND ");
        bool json = strcmp(c->type, "json") == 0, direct = eq_direct(c);
        dba_buf_puts(b, direct || json ? "" : "to_jsonb(");
        put_col(b, "_t", c->name);
        dba_buf_puts(b, json ? "::jsonb" : direct ? "" : ")");
        dba_buf_puts(b, direct || json ? " IS NOT DISTINCT FROM " : " IS NOT DISTINCT FROM to_jsonb(");
        put_col(b, "_r", c->name);
        dba_buf_puts(b, json ? "::jsonb" : direct ? "" : ")");
    }
    dba_buf_puts(b, n == 0 ? "true)" : ")");
}

/* Branches of the lookup below: LK_SLUG << k with k = 1 (user) | 2 (parent) for a row with a
   slug, LK_PK for a row without one. */
#define LK_SLUG 1u
#define LK_PK 16u
#define LK_ALL 31u

/* The existing row matching _r: by slug (+ user, + parent when the row has them), else by pk;
   only the branches in mask (those the rows of the batch can take). */
static void
put_lookup(struct dba_buf *b, const struct rs_table *rt, const struct rs_cols *cs, unsigned mask,
           bool gated)
{
    const struct dba_backup_table *t = rt->t;
    const struct dba_column *slug = t->slug ? dba_catalog_column_find(rt->st, t->slug) : NULL;
    const struct dba_column *uf = slug != NULL && t->user_field != NULL
                                      ? dba_catalog_column_find(rt->st, t->user_field) : NULL;
    const struct dba_column *pf = slug != NULL && t->parent.table != NULL
                                      ? dba_catalog_column_find(rt->st, t->parent.field) : NULL;
    int branches = 0;
    dba_buf_puts(b, "SELECT * FROM (");
    for (int k = 0; slug != NULL && k < 4; k++) {
        bool u = (k & 1) != 0, p = (k & 2) != 0;
        if ((u && uf == NULL) || (p && pf == NULL) || (mask & (LK_SLUG << k)) == 0)
            continue;
        dba_buf_puts(b, branches++ ? " UNION ALL (" : "(");
        dba_buf_puts(b, gated ? "SELECT (" : "SELECT to_jsonb(");
        put_col(b, "_t", rt->pkc->name);
        dba_buf_puts(b, ") AS pk, ");
        put_same(b, rt, cs);
        dba_buf_puts(b, " AS same FROM ");
        put_qname(b, rt->st);
        dba_buf_puts(b, gated ? " _t WHERE _r.dba_rs_look AND " : " _t WHERE ");
        put_col(b, "_r", slug->name);
        dba_buf_puts(b, " IS NOT NULL");
        for (int j = 0; j < 2; j++) {
            const struct dba_column *c = j == 0 ? uf : pf;
            bool on = j == 0 ? u : p;
            if (c == NULL)
                continue;
            dba_buf_puts(b, " AND ");
            put_col(b, "_r", c->name);
            dba_buf_puts(b, on ? " IS NOT NULL AND " : " IS NULL");
            if (on) {
                put_col(b, "_t", c->name);
                dba_buf_puts(b, " = ");
                put_col(b, "_r", c->name);
            }
        }
        dba_buf_puts(b, " AND ");
        put_col(b, "_t", slug->name);
        dba_buf_puts(b, " = ");
        put_col(b, "_r", slug->name);
        dba_buf_puts(b, " LIMIT 1)");
    }
    if (branches > 0 && (mask & LK_PK) == 0) {
        dba_buf_puts(b, ") _u LIMIT 1");
        return;
    }
    dba_buf_puts(b, branches ? " UNION ALL (" : "(");
    dba_buf_puts(b, gated ? "SELECT (" : "SELECT to_jsonb(");
    put_col(b, "_t", rt->pkc->name);
    dba_buf_puts(b, ") AS pk, ");
    put_same(b, rt, cs);
    dba_buf_puts(b, " AS same FROM ");
    put_qname(b, rt->st);
    dba_buf_puts(b, " _t WHERE ");
    if (slug != NULL) {
        put_col(b, "_r", slug->name);
        dba_buf_puts(b, " IS NULL AND ");
    }
    put_col(b, "_t", rt->pkc->name);
    dba_buf_puts(b, " = ");
    put_col(b, "_r", rt->pkc->name);
    dba_buf_puts(b, " LIMIT 1)) _u LIMIT 1");
}

static void
put_map(struct dba_buf *b, int i)
{
    dba_buf_printf(b, "pg_temp.dba_rs_map_%d", i);
}

/* A reference rewritten through its table's map in the staging statement, or NULL when it is
   resolved later (a reference to the table itself). *tab receives the referenced table's index
   (-1: not in the schema, nothing maps). */
static bool
ref_joined(const struct restore *rs, const struct rs_table *rt, const struct dba_backup_ref *r,
           int *tab)
{
    *tab = dba_backup_schema_find(rs->s, r->table);
    return *tab != rt->idx;
}

/* The end of the staged row's key as jsonb and its matching columns as text:
   "_r"."<pk>") AS <pre>pkv, "_r"."<slug>"::text AS <pre>mslug, ... AS <pre>mu, ... AS <pre>mp
   (NULL::text each without a slug). */
static void
put_match_cols(struct dba_buf *b, const struct rs_table *rt, const struct dba_backup_table *t,
               const char *pre)
{
    put_col(b, "_r", rt->pkc->name);
    dba_buf_printf(b, ") AS %spkv, ", pre);
    const struct dba_column *slug = t->slug ? dba_catalog_column_find(rt->st, t->slug) : NULL;
    const char *mcols[3] = { t->slug, t->user_field, t->parent.table ? t->parent.field : NULL };
    for (int k = 0; k < 3; k++) {
        const struct dba_column *c = slug != NULL && mcols[k] != NULL
                                         ? dba_catalog_column_find(rt->st, mcols[k]) : NULL;
        if (c != NULL) {
            put_col(b, "_r", c->name);
            dba_buf_puts(b, "::text");
        } else {
            dba_buf_puts(b, "NULL::text");
        }
        dba_buf_printf(b, " AS %s%s, ", pre, k == 0 ? "mslug" : k == 1 ? "mu" : "mp");
    }
}

/* Statement A: the batch ($1, a JSON array; $2 the first row's index; $3 the user id) into the
   staging table, references rewritten, existing rows found, new keys planned. */
static void
sql_stage(const struct restore *rs, const struct rs_table *rt, const struct rs_cols *cs,
          struct dba_buf *b)
{
    const struct dba_backup_table *t = rt->t;
    int p = -1, q;
    dba_buf_puts(b, "INSERT INTO pg_temp.dba_rs_stage (ord, idx, old, orphan, r, found, same, "
                    "pkv, mslug, mu, mp, ins, newk) SELECT x.ord, x.idx, x.old, x.orphan, x.r, "
                    "x.found, x.same, x.pkv, x.mslug, x.mu, x.mp, x.ins, CASE WHEN x.ins THEN ");
    if (!rt->pk_generated)
        dba_buf_puts(b, "x.pkv");
    else if (!rs->o->dry_run)
        dba_buf_printf(b, "to_jsonb(nextval(%s::oid::regclass))", rt->seq);
    else
        dba_buf_printf(b, "to_jsonb(%lld::bigint + (count(*) FILTER (WHERE x.ins) OVER (ORDER "
                          "BY x.ord) - 1) * %lld)", rt->plan_next, rt->plan_inc);
    dba_buf_puts(b, " END FROM (SELECT s.ord, s.idx, s.old, s.orphan, s.r, f.pk AS found, "
                    "f.same, to_jsonb(");
    put_match_cols(b, rt, t, "");
    dba_buf_puts(b, "NOT s.orphan AND f.pk IS NULL AS ins FROM (SELECT e.ord, "
                    "$2::bigint + e.ord - 1 AS idx, ");
    put_key(b, "e", t->pk);
    dba_buf_puts(b, " AS old, ");
    if (t->parent.table != NULL) {
        p = dba_backup_schema_find(rs->s, t->parent.table);
        put_key(b, "e", t->parent.field);
        dba_buf_puts(b, p >= 0 ? " IS NOT NULL AND mp.old IS NULL" : " IS NOT NULL");
    } else {
        dba_buf_puts(b, "false");
    }
    dba_buf_puts(b, " AS orphan, e.r || jsonb_build_object(");
    int n = 0;
    if (cs->user) {
        dba_buf_put_literal(b, t->user_field);
        dba_buf_puts(b, ", $3::text");
        n++;
    }
    if (p >= 0) {
        dba_buf_puts(b, n++ ? ", " : "");
        dba_buf_put_literal(b, t->parent.field);
        dba_buf_puts(b, ", mp.new");
    }
    for (size_t k = 0; k < t->n_opt; k++) {
        if (!ref_joined(rs, rt, &t->opt[k], &q))
            continue;
        dba_buf_puts(b, n++ ? ", " : "");
        dba_buf_put_literal(b, t->opt[k].field);
        if (q >= 0)
            dba_buf_printf(b, ", m%zu.new", k);
        else
            dba_buf_puts(b, ", NULL::jsonb");
    }
    dba_buf_puts(b, ") AS r FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY e(r, ord)");
    if (p >= 0) {
        dba_buf_puts(b, " LEFT JOIN ");
        put_map(b, p);
        dba_buf_puts(b, " mp ON mp.old = ");
        put_key(b, "e", t->parent.field);
    }
    for (size_t k = 0; k < t->n_opt; k++) {
        if (!ref_joined(rs, rt, &t->opt[k], &q) || q < 0)
            continue;
        dba_buf_puts(b, " LEFT JOIN ");
        put_map(b, q);
        dba_buf_printf(b, " m%zu ON m%zu.old = ", k, k);
        put_key(b, "e", t->opt[k].field);
    }
    dba_buf_puts(b, ") s CROSS JOIN LATERAL jsonb_populate_record(NULL::");
    put_qname(b, rt->st);
    dba_buf_puts(b, ", CASE WHEN s.orphan THEN '{}'::jsonb ELSE s.r END) _r LEFT JOIN LATERAL (");
    put_lookup(b, rt, cs, LK_ALL, false);
    dba_buf_puts(b, ") f ON true ORDER BY s.ord) x");
}

/* Column c of the staged row x, as written (a json column as jsonb_populate_record gives it). */
static void
put_x_col(struct dba_buf *b, const struct dba_column *c)
{
    put_col(b, "x", c->name);
    if (strcmp(c->type, "json") == 0)
        dba_buf_puts(b, "::jsonb::json");
}

/* "INSERT INTO <table> (pk, columns) SELECT <new key>, <columns>" of the rows: the jsonb
   staging's record _r (its key already replaced), or the typed batch's staged rows x (the new key
   in x.dba_rs_newk). The key goes first when it is written (pk). */
static void
put_insert(struct dba_buf *b, const struct rs_table *rt, const struct rs_cols *cs, bool pk,
           bool from_x)
{
    int n = 0;

    dba_buf_puts(b, "INSERT INTO ");
    put_qname(b, rt->st);
    dba_buf_puts(b, " (");
    if (pk) {
        dba_buf_put_ident(b, rt->pkc->name);
        n++;
    }
    for (size_t i = 0; i < cs->n; i++) {
        if (cs->c[i] == rt->pkc)
            continue;
        dba_buf_puts(b, n++ ? ", " : "");
        dba_buf_put_ident(b, cs->c[i]->name);
    }
    dba_buf_puts(b, rt->pkc->identity && pk ? ") OVERRIDING SYSTEM VALUE SELECT " : ") SELECT ");
    n = 0;
    if (pk) {
        if (from_x)
            dba_buf_puts(b, "x.dba_rs_newk");
        else
            put_col(b, "_r", rt->pkc->name);
        n++;
    }
    for (size_t i = 0; i < cs->n; i++) {
        if (cs->c[i] == rt->pkc)
            continue;
        dba_buf_puts(b, n++ ? ", " : "");
        if (from_x)
            put_x_col(b, cs->c[i]);
        else
            put_col(b, "_r", cs->c[i]->name);
    }
}

/* Statement C: inserts, overwrites and the key map, from the staging table. */
static void
sql_apply(const struct restore *rs, const struct rs_table *rt, const struct rs_cols *cs,
          struct dba_buf *b)
{
    bool pk = rt->pk_generated || cs->has_pk;
    int n = 0;
    dba_buf_puts(b, "WITH i AS (");
    put_insert(b, rt, cs, pk, false);
    dba_buf_puts(b, " FROM pg_temp.dba_rs_stage s, jsonb_populate_record(NULL::");
    put_qname(b, rt->st);
    if (pk) {
        dba_buf_puts(b, ", s.r || jsonb_build_object(");
        dba_buf_put_literal(b, rt->pkc->name);
        dba_buf_puts(b, ", s.newk)) _r");
    } else {
        dba_buf_puts(b, ", s.r) _r");
    }
    dba_buf_puts(b, " WHERE s.ins ORDER BY s.ord RETURNING 1)");
    if (rs->o->mode == DBA_BACKUP_OVERWRITE && cs->n > (cs->has_pk ? 1u : 0u)) {
        dba_buf_puts(b, ", u AS (UPDATE ");
        put_qname(b, rt->st);
        dba_buf_puts(b, " _t SET ");
        n = 0;
        for (size_t i = 0; i < cs->n; i++) {
            if (cs->c[i] == rt->pkc)
                continue;
            dba_buf_puts(b, n++ ? ", " : "");
            dba_buf_put_ident(b, cs->c[i]->name);
            dba_buf_puts(b, " = ");
            put_col(b, "_r", cs->c[i]->name);
        }
        dba_buf_puts(b, " FROM pg_temp.dba_rs_stage s, jsonb_populate_record(NULL::");
        put_qname(b, rt->st);
        dba_buf_puts(b, ", s.r) _r WHERE s.found IS NOT NULL AND NOT s.same AND ");
        put_col(b, "_t", rt->pkc->name);
        dba_buf_printf(b, " = (s.found #>> '{}')::%s RETURNING 1)", rt->pkc->type);
    }
    if (rt->mapped) {
        dba_buf_puts(b, ", m AS (INSERT INTO ");
        put_map(b, rt->idx);
        dba_buf_puts(b, " (old, new, idx) SELECT old, coalesce(found, newk), idx FROM "
                        "pg_temp.dba_rs_stage WHERE old IS NOT NULL AND (found IS NOT NULL OR "
                        "ins) ON CONFLICT (old) DO UPDATE SET new = EXCLUDED.new, idx = "
                        "EXCLUDED.idx)");
    }
    dba_buf_puts(b, " SELECT count(*) FROM i");
}

/* Statement B (tables referring to themselves): each such reference rewritten through the map
   and through the rows of the batch before it, then `same` recomputed with the final values. */
static int
rs_self_refs(struct restore *rs, const struct rs_table *rt, const struct rs_cols *cs)
{
    const struct dba_backup_table *t = rt->t;
    int q, rc = DBA_OK;
    if (!rs->stage_index) {
        rc = rs_exec(rs, "CREATE INDEX ON pg_temp.dba_rs_stage (old)");
        rs->stage_index = rc == DBA_OK;
    }
    for (size_t k = 0; k < t->n_opt && rc == DBA_OK; k++) {
        if (ref_joined(rs, rt, &t->opt[k], &q))
            continue;
        struct dba_buf b;
        dba_buf_init(&b);
        dba_buf_puts(&b, "UPDATE pg_temp.dba_rs_stage s SET r = s.r || jsonb_build_object(");
        dba_buf_put_literal(&b, t->opt[k].field);
        dba_buf_puts(&b, ", coalesce((SELECT coalesce(c.found, c.newk) FROM "
                         "pg_temp.dba_rs_stage c WHERE c.old = ");
        put_key(&b, "s", t->opt[k].field);
        dba_buf_puts(&b, " AND c.idx < s.idx AND (c.found IS NOT NULL OR c.ins) ORDER BY c.idx "
                         "DESC LIMIT 1), (SELECT m.new FROM ");
        put_map(&b, rt->idx);
        dba_buf_puts(&b, " m WHERE m.old = ");
        put_key(&b, "s", t->opt[k].field);
        dba_buf_puts(&b, " AND m.idx < s.idx))) WHERE NOT s.orphan AND ");
        put_key(&b, "s", t->opt[k].field);
        dba_buf_puts(&b, " IS NOT NULL");
        rc = rs_exec(rs, b.data);
        dba_buf_cleanup(&b);
    }
    if (rc != DBA_OK)
        return rc;
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, "UPDATE pg_temp.dba_rs_stage s SET same = (SELECT ");
    put_same(&b, rt, cs);
    dba_buf_puts(&b, " FROM ");
    put_qname(&b, rt->st);
    dba_buf_puts(&b, " _t, jsonb_populate_record(NULL::");
    put_qname(&b, rt->st);
    dba_buf_puts(&b, ", s.r) _r WHERE ");
    put_col(&b, "_t", rt->pkc->name);
    dba_buf_printf(&b, " = (s.found #>> '{}')::%s) WHERE s.found IS NOT NULL", rt->pkc->type);
    rc = rs_exec(rs, b.data);
    dba_buf_cleanup(&b);
    return rc;
}

/* Counts of the staged batch: orphans, unchanged, changed, to insert, and whether its rows would
   see each other (then the batch is replayed row by row). */
struct rs_counts {
    long long orphans, same, changed, ins;
    bool overlap;
};

/* The counts of a staged batch from the first row of r (four counts and the overlap). */
static void
rs_counts_read(struct pg_result *r, struct rs_counts *c)
{
    c->orphans = strtoll(dba_db_res_value(r, 0, 0), NULL, 10);
    c->same = strtoll(dba_db_res_value(r, 0, 1), NULL, 10);
    c->changed = strtoll(dba_db_res_value(r, 0, 2), NULL, 10);
    c->ins = strtoll(dba_db_res_value(r, 0, 3), NULL, 10);
    c->overlap = strcmp(dba_db_res_value(r, 0, 4), "t") == 0;
}

static int
rs_count(struct restore *rs, const struct rs_table *rt, struct rs_counts *c)
{
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, "SELECT count(*) FILTER (WHERE orphan), count(*) FILTER (WHERE found IS NOT "
                     "NULL AND same), count(*) FILTER (WHERE found IS NOT NULL AND NOT same), "
                     "count(*) FILTER (WHERE ins), EXISTS (SELECT 1 FROM pg_temp.dba_rs_stage a "
                     "JOIN pg_temp.dba_rs_stage c ON a.mslug = c.mslug AND a.idx < c.idx WHERE "
                     "a.ins AND NOT c.orphan AND (c.mu IS NULL OR c.mu = a.mu) AND (c.mp IS NULL "
                     "OR c.mp = a.mp))");
    if (rt->mapped)
        dba_buf_puts(&b, " OR count(old) FILTER (WHERE NOT orphan) <> count(DISTINCT old) FILTER "
                         "(WHERE NOT orphan)");
    if (rs->o->mode == DBA_BACKUP_OVERWRITE)
        dba_buf_puts(&b, " OR count(found) <> count(DISTINCT found)");
    dba_buf_puts(&b, " OR EXISTS (SELECT 1 FROM pg_temp.dba_rs_stage a JOIN pg_temp.dba_rs_stage "
                     "c ON a.newk = c.pkv AND a.idx < c.idx WHERE c.ins AND c.mslug IS NULL AND "
                     "a.ins) FROM pg_temp.dba_rs_stage");
    struct pg_result *r = dba_db_exec(rs->conn, b.data, NULL, 0, rs->err);
    dba_buf_cleanup(&b);
    if (r == NULL)
        return DBA_EDB;
    rs_counts_read(r, c);
    dba_db_res_clear(r);
    return DBA_OK;
}

static int
rs_fail(struct restore *rs, const struct rs_table *rt, json_int_t idx, const char *old_pk,
        const char *why)
{
    json_decref(rs->failed);
    rs->failed = json_pack("{s:s,s:I,s:s,s:s,s:s}", "table", rt->t->name, "row_index", idx,
                           "old_pk", old_pk, "error", why, "sqlstate", rs->err->sqlstate);
    char msg[sizeof(rs->err->msg)];
    snprintf(msg, sizeof(msg), "%s", why);
    rs->err->code = rs->err->code ? rs->err->code : DBA_EDB;
    snprintf(rs->err->msg, sizeof(rs->err->msg), "restore failed at %s row %lld (pk=%.40s): %.400s",
             rt->t->name, (long long)idx, old_pk, msg);
    return rs->err->code;
}

/* ---- The COPY path: a batch typed once ----
   The batch is sent with COPY into pg_temp.dba_rs_in_<idx> (the target's columns and types,
   plus dba_rs_ord, and the rows' keys as text: dba_rs_old, dba_rs_par, dba_rs_o<k>); the
   staging statement reads the typed rows from there (references rewritten by joining the key
   maps) and the apply statement inserts and overwrites from them. */

static int
col_kind(const struct dba_column *c)
{
    static const char *const num[] = { "numeric", "real", "double precision" };
    if (strcmp(c->type, "json") == 0 || strcmp(c->type, "jsonb") == 0)
        return DBA__COPY_JSON;
    const char *t = c->type_category == 'A' && c->elem_type != NULL ? c->elem_type : c->type;
    bool n = false;
    for (size_t i = 0; i < DBA_ARRAY_LEN(num); i++)
        n = n || strncmp(t, num[i], strlen(num[i])) == 0;
    if (c->type_category == 'A')
        return strcmp(t, "jsonb") == 0 ? DBA__COPY_ARRAY_JSONB
                                       : n ? DBA__COPY_ARRAY_NUMERIC : DBA__COPY_ARRAY;
    return n ? DBA__COPY_NUMERIC : DBA__COPY_PLAIN;
}

/* Where each member of the batch's rows goes: a column of cs and/or a key slot. */
struct rs_member {
    int col;  /* index in cs, -1 */
    int key;  /* key slot: 0 old pk, 1 parent, 2 + k optional reference k; -1 */
    int key2; /* a second key slot (a member that is two keys), -1 */
};

struct rs_row {
    const struct rs_member *m; /* per member position */
    size_t n_m;                /* members */
    size_t j;                  /* next member */
    const char **cv;           /* column values (bytes), NULL when absent */
    size_t *cl;                /* their lengths */
    const char **kv;           /* key values */
    size_t *kl;                /* their lengths */
};

static int
rs_row_member(void *arg, const char *key, const char *v, size_t len)
{
    struct rs_row *r = arg;
    DBA_UNUSED(key);
    if (r->j >= r->n_m)
        return DBA_EINVAL;
    const struct rs_member *m = &r->m[r->j++];
    if (m->col >= 0) {
        r->cv[m->col] = v;
        r->cl[m->col] = len;
    }
    for (int k = 0; k < 2; k++) {
        int s = k == 0 ? m->key : m->key2;
        if (s >= 0) {
            r->kv[s] = v;
            r->kl[s] = len;
        }
    }
    return DBA_OK;
}

static void
rs_member_key(struct rs_member *m, int slot)
{
    if (m->key < 0)
        m->key = slot;
    else
        m->key2 = slot;
}

/* The members of the batch's signature mapped to columns and key slots. */
static struct rs_member *
rs_members(const struct restore *rs, const struct rs_table *rt, const struct rs_cols *cs,
           size_t *n)
{
    const struct dba_backup_table *t = rt->t;
    const char *sig = rs->b.sig.data;
    size_t cap = 1;
    for (const char *p = sig; *p != '\0'; p++)
        cap += *p == '\n';
    struct rs_member *ms = dba_xcalloc(cap, sizeof(*ms));
    *n = 0;
    for (const char *p = sig; *p != '\0';) {
        const char *e = strchr(p, '\n');
        char *name = dba_xstrndup(p, (size_t)(e - p));
        struct rs_member *m = &ms[(*n)++];
        m->col = m->key = m->key2 = -1;
        for (size_t i = 0; i < cs->n; i++)
            if (strcmp(cs->c[i]->name, name) == 0 && !(cs->user &&
                                                      strcmp(name, t->user_field) == 0))
                m->col = (int)i;
        if (strcmp(name, t->pk) == 0)
            rs_member_key(m, 0);
        if (t->parent.table != NULL && strcmp(name, t->parent.field) == 0)
            rs_member_key(m, 1);
        for (size_t k = 0; k < t->n_opt; k++)
            if (strcmp(name, t->opt[k].field) == 0 && m->key2 < 0)
                rs_member_key(m, 2 + (int)k);
        free(name);
        p = e + 1;
    }
    return ms;
}

static bool
raw_null(const char *v, size_t n)
{
    return v == NULL || (n == 4 && memcmp(v, "null", 4) == 0);
}

/* Where the lookup's matching columns are in cs (-1: not written, NULL), or false when one of
   them is also a reference (its staged value is not the row's: every branch is kept). */
static bool
lookup_cols(const struct rs_table *rt, const struct rs_cols *cs, int at[3])
{
    const struct dba_backup_table *t = rt->t;
    const char *f[3] = { t->slug, t->slug ? t->user_field : NULL,
                         t->slug && t->parent.table ? t->parent.field : NULL };
    for (int j = 0; j < 3; j++) {
        const struct dba_column *c = f[j] ? dba_catalog_column_find(rt->st, f[j]) : NULL;
        at[j] = -1;
        for (size_t i = 0; c != NULL && i < cs->n; i++)
            at[j] = cs->c[i] == c ? (int)i : at[j];
        for (size_t k = 0; f[j] != NULL && k < t->n_opt; k++)
            if (strcmp(t->opt[k].field, f[j]) == 0)
                return false;
        if (j < 2 && f[j] != NULL && f[2] != NULL && strcmp(f[j], f[2]) == 0)
            return false;
    }
    return true;
}

/* The pending batch as COPY lines into rs->copy, and the lookup branches its rows take into
   rs->lookup; false when a value could be read differently by jsonb_populate_record (the batch
   then goes the jsonb way). */
static bool
rs_copy_build(struct restore *rs, const struct rs_table *rt, const struct rs_cols *cs)
{
    int at[3]; /* slug, user, parent in cs */
    bool exact = lookup_cols(rt, cs, at);
    struct rs_batch *bt = &rs->b;
    size_t nk = 2 + rt->t->n_opt, n_m;
    struct rs_member *ms = rs_members(rs, rt, cs, &n_m);
    int *kind = dba_xcalloc(cs->n + 1, sizeof(*kind));
    for (size_t i = 0; i < cs->n; i++)
        kind[i] = col_kind(cs->c[i]);
    struct rs_row r = { .m = ms, .n_m = n_m };
    r.cv = dba_xcalloc(cs->n + 1, sizeof(*r.cv));
    r.cl = dba_xcalloc(cs->n + 1, sizeof(*r.cl));
    r.kv = dba_xcalloc(nk, sizeof(*r.kv));
    r.kl = dba_xcalloc(nk, sizeof(*r.kl));
    bool ok = true;
    dba_buf_reset(&rs->copy);
    rs->lookup = 0;
    for (size_t k = 0; k < bt->n && ok; k++) {
        memset(r.cv, 0, (cs->n + 1) * sizeof(*r.cv));
        memset(r.kv, 0, nk * sizeof(*r.kv));
        r.j = 0;
        ok = dba__backup_scan_valid(bt->arr.data + bt->off[k], bt->len[k], true, rs_row_member,
                                    &r) == DBA_OK;
        unsigned br = LK_PK, u = 0;
        if (at[0] >= 0 && !raw_null(r.cv[at[0]], r.cl[at[0]])) {
            u |= at[1] >= 0 && (cs->user || !raw_null(r.cv[at[1]], r.cl[at[1]])) ? 1u : 0u;
            u |= at[2] >= 0 && !raw_null(r.cv[at[2]], r.cl[at[2]]) ? 2u : 0u;
            br = LK_SLUG << u;
        }
        rs->lookup |= exact ? br : LK_ALL;
        dba_buf_printf(&rs->copy, "%zu", k + 1);
        for (size_t s = 0; s < nk && ok; s++) {
            dba_buf_putc(&rs->copy, '\t');
            if (r.kv[s] == NULL)
                dba_buf_puts(&rs->copy, "\\N");
            else
                ok = dba__copy_key(&rs->copy, r.kv[s], r.kl[s]);
        }
        size_t s0 = 0, s1 = 0; /* the slug's COPY text */
        for (size_t i = 0; i < cs->n && ok; i++) {
            dba_buf_putc(&rs->copy, '\t');
            s0 = (int)i == at[0] ? rs->copy.len : s0;
            if (cs->user && strcmp(cs->c[i]->name, rt->t->user_field) == 0) {
                dba__copy_text(&rs->copy, rs->o->user_id, strlen(rs->o->user_id));
            } else if (r.cv[i] == NULL) {
                dba_buf_puts(&rs->copy, "\\N");
            } else {
                ok = dba__copy_value(&rs->copy, r.cv[i], r.cl[i], kind[i]);
            }
            s1 = (int)i == at[0] ? rs->copy.len : s1;
        }
        bool look = rt->seen == NULL || !exact || br == LK_PK ||
                    seen_test_set(rt->seen, rs->copy.data + s0, s1 - s0);
        dba_buf_puts(&rs->copy, look ? "\tt\n" : "\tf\n");
    }
    free(ms);
    free(kind);
    free(r.cv);
    free(r.cl);
    free(r.kv);
    free(r.kl);
    return ok;
}

static void
put_in(struct dba_buf *b, const struct rs_table *rt)
{
    dba_buf_printf(b, "pg_temp.dba_rs_in_%d", rt->idx);
}

/* Creates pg_temp.dba_rs_in_<idx> (outside any savepoint: it lives for the transaction). */
static int
rs_make_in(struct restore *rs, struct rs_table *rt)
{
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, "CREATE TEMP TABLE ");
    put_in(&b, rt);
    dba_buf_puts(&b, " ON COMMIT DROP AS SELECT * FROM ");
    put_qname(&b, rt->st);
    dba_buf_puts(&b, " WITH NO DATA");
    int rc = rs_exec(rs, b.data);
    dba_buf_reset(&b);
    dba_buf_puts(&b, "ALTER TABLE ");
    put_in(&b, rt);
    dba_buf_puts(&b, " ADD COLUMN dba_rs_ord int, ADD COLUMN dba_rs_old text, ADD COLUMN "
                     "dba_rs_par text, ADD COLUMN dba_rs_look boolean");
    for (size_t k = 0; k < rt->t->n_opt; k++)
        dba_buf_printf(&b, ", ADD COLUMN dba_rs_o%zu text", k);
    if (rc == DBA_OK)
        rc = rs_exec(rs, b.data);
    dba_buf_cleanup(&b);
    rt->in_made = rc == DBA_OK;
    return rc;
}

static int
rs_copy_err(struct restore *rs, PGresult *r)
{
    PGconn *pg = (PGconn *)rs->conn;
    const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    dba_err_set(rs->err, DBA_EDB, 500, DBA_BACKUP_CODE, "%s", m != NULL ? m : PQerrorMessage(pg));
    if (st != NULL)
        snprintf(rs->err->sqlstate, sizeof(rs->err->sqlstate), "%s", st);
    PQclear(r);
    while ((r = PQgetResult(pg)) != NULL)
        PQclear(r);
    return DBA_EDB;
}

/* Sends rs->copy into the typed table. */
static int
rs_copy_in(struct restore *rs, const struct rs_table *rt, const struct rs_cols *cs)
{
    PGconn *pg = (PGconn *)rs->conn;
    struct dba_buf b;
    dba_buf_init(&b);
    dba_buf_puts(&b, "COPY ");
    put_in(&b, rt);
    dba_buf_puts(&b, " (dba_rs_ord, dba_rs_old, dba_rs_par");
    for (size_t k = 0; k < rt->t->n_opt; k++)
        dba_buf_printf(&b, ", dba_rs_o%zu", k);
    for (size_t i = 0; i < cs->n; i++) {
        dba_buf_puts(&b, ", ");
        dba_buf_put_ident(&b, cs->c[i]->name);
    }
    dba_buf_puts(&b, ", dba_rs_look) FROM STDIN");
    PGresult *r = PQexec(pg, b.data);
    dba_buf_cleanup(&b);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return rs_copy_err(rs, r);
    PQclear(r);
    const char *p = rs->copy.data;
    size_t left = rs->copy.len;
    int ok = 1;
    while (left > 0 && ok == 1) {
        int n = left > (1u << 20) ? 1 << 20 : (int)left;
        ok = PQputCopyData(pg, p, n);
        p += n;
        left -= (size_t)n;
    }
    if (ok == 1)
        ok = PQputCopyEnd(pg, NULL);
    r = PQgetResult(pg);
    if (ok != 1 || PQresultStatus(r) != PGRES_COMMAND_OK)
        return rs_copy_err(rs, r);
    PQclear(r);
    while ((r = PQgetResult(pg)) != NULL)
        PQclear(r);
    return DBA_OK;
}

/* The role of column c in the rewriting of references: 0 none, 1 the parent (through mp),
   2 + k optional reference k (through m<k>, or NULL when its table is not in the schema). */
static int
fast_role(const struct restore *rs, const struct rs_table *rt, const struct dba_column *c,
          int *q)
{
    const struct dba_backup_table *t = rt->t;
    int role = 0;
    if (t->parent.table != NULL && dba_backup_schema_find(rs->s, t->parent.table) >= 0 &&
        strcmp(t->parent.field, c->name) == 0)
        role = 1;
    for (size_t k = 0; k < t->n_opt; k++) {
        int qq;
        if (strcmp(t->opt[k].field, c->name) == 0 && ref_joined(rs, rt, &t->opt[k], &qq)) {
            role = 2 + (int)k;
            *q = qq;
        }
    }
    return role;
}

/* The value of column c in the typed rows i of the batch statement: a reference rewritten
   through its key map (dba_rs_mp, dba_rs_m<k>), NULL when its table is not in the schema. */
static void
put_fast_col(struct dba_buf *b, const struct restore *rs, const struct rs_table *rt,
             const struct dba_column *c)
{
    int q = -1, role = fast_role(rs, rt, c, &q);
    if (role == 0)
        put_col(b, "i", c->name);
    else if (role >= 2 && q < 0)
        dba_buf_printf(b, "NULL::%s", c->type);
    else if (role == 1)
        dba_buf_printf(b, "(i.dba_rs_mp #>> '{}')::%s", c->type);
    else
        dba_buf_printf(b, "(i.dba_rs_m%d #>> '{}')::%s", role - 2, c->type);
}

/* The batch over the typed rows in one statement ($1 the first row's index): x stages the rows
   (references rewritten through the key maps, existing rows found, new keys planned), then the
   inserts, overwrites and key map are written from x, and the counts of x are returned with
   whether its rows would see each other (then the caller rolls the statement back and replays
   the batch row by row). */
static void
sql_batch_fast(const struct restore *rs, const struct rs_table *rt, const struct rs_cols *cs,
               struct dba_buf *b)
{
    const struct dba_backup_table *t = rt->t;
    int p = t->parent.table != NULL ? dba_backup_schema_find(rs->s, t->parent.table) : -1, q;
    bool pk = rt->pk_generated || cs->has_pk;
    /* keys (found, new, the row's own) in the pk's type: jsonb only in the key map */
    dba_buf_puts(b, "WITH x AS MATERIALIZED (SELECT y.*, CASE WHEN y.dba_rs_ins THEN ");
    if (!rt->pk_generated)
        dba_buf_puts(b, "y.dba_rs_pkv");
    else if (!rs->o->dry_run)
        dba_buf_printf(b, "nextval(%s::oid::regclass)::%s", rt->seq, rt->pkc->type);
    else
        dba_buf_printf(b, "(%lld::bigint + (count(*) FILTER (WHERE y.dba_rs_ins) OVER "
                          "(ORDER BY y.dba_rs_ord) - 1) * %lld)::%s", rt->plan_next,
                       rt->plan_inc, rt->pkc->type);
    dba_buf_puts(b, " END AS dba_rs_newk FROM (SELECT _r.*, $1::bigint + _r.dba_rs_ord - 1 AS "
                    "dba_rs_idx, f.pk AS dba_rs_found, f.same AS dba_rs_same, (");
    put_match_cols(b, rt, t, "dba_rs_");
    dba_buf_puts(b, "NOT _r.dba_rs_orphan AND f.pk IS NULL AS dba_rs_ins FROM (SELECT "
                    "i.dba_rs_ord, i.dba_rs_old, i.dba_rs_look, ");
    if (t->parent.table != NULL)
        dba_buf_puts(b, p >= 0 ? "i.dba_rs_par IS NOT NULL AND i.dba_rs_mp IS NULL"
                               : "i.dba_rs_par IS NOT NULL");
    else
        dba_buf_puts(b, "false");
    dba_buf_puts(b, " AS dba_rs_orphan");
    for (size_t c = 0; c < rt->st->n_cols; c++) {
        dba_buf_puts(b, ", ");
        put_fast_col(b, rs, rt, &rt->st->cols[c]);
        dba_buf_puts(b, " AS ");
        dba_buf_put_ident(b, rt->st->cols[c].name);
    }
    /* the keys mapped by a lookup per row (an index probe of the map), not a join the planner
       would hash: the maps hold every row restored so far, a batch only 5,000 */
    dba_buf_puts(b, " FROM (SELECT i.*");
    if (p >= 0) {
        dba_buf_puts(b, ", (SELECT m.new FROM ");
        put_map(b, p);
        dba_buf_puts(b, " m WHERE m.old = i.dba_rs_par) AS dba_rs_mp");
    }
    for (size_t k = 0; k < t->n_opt; k++) {
        if (!ref_joined(rs, rt, &t->opt[k], &q) || q < 0)
            continue;
        dba_buf_puts(b, ", (SELECT m.new FROM ");
        put_map(b, q);
        dba_buf_printf(b, " m WHERE m.old = i.dba_rs_o%zu) AS dba_rs_m%zu", k, k);
    }
    dba_buf_puts(b, " FROM ");
    put_in(b, rt);
    dba_buf_puts(b, " i OFFSET 0) i) _r LEFT JOIN LATERAL (");
    put_lookup(b, rt, cs, rs->lookup, true);
    dba_buf_puts(b, ") f ON NOT _r.dba_rs_orphan ORDER BY _r.dba_rs_ord) y), i AS (");
    put_insert(b, rt, cs, pk, true);
    int n = 0;
    dba_buf_puts(b, " FROM x WHERE x.dba_rs_ins)"); /* x is in the rows' order */
    if (rs->o->mode == DBA_BACKUP_OVERWRITE && cs->n > (cs->has_pk ? 1u : 0u)) {
        dba_buf_puts(b, ", u AS (UPDATE ");
        put_qname(b, rt->st);
        dba_buf_puts(b, " _t SET ");
        n = 0;
        for (size_t i = 0; i < cs->n; i++) {
            if (cs->c[i] == rt->pkc)
                continue;
            dba_buf_puts(b, n++ ? ", " : "");
            dba_buf_put_ident(b, cs->c[i]->name);
            dba_buf_puts(b, " = ");
            put_x_col(b, cs->c[i]);
        }
        dba_buf_puts(b, " FROM x WHERE x.dba_rs_found IS NOT NULL AND NOT x.dba_rs_same AND ");
        put_col(b, "_t", rt->pkc->name);
        dba_buf_puts(b, " = x.dba_rs_found)");
    }
    if (rt->mapped) {
        dba_buf_puts(b, ", m AS (INSERT INTO ");
        put_map(b, rt->idx);
        /* a plain insert: an old key already mapped (a key twice in the backup) fails the
           statement, and the batch is replayed row by row, whose statements replace it */
        dba_buf_puts(b, " (old, new, idx) SELECT dba_rs_old, to_jsonb(coalesce(dba_rs_found, "
                        "dba_rs_newk)), dba_rs_idx FROM x WHERE dba_rs_old IS NOT NULL AND (dba_rs_found IS NOT "
                        "NULL OR dba_rs_ins))");
    }
    /* rows that would see each other: a row inserted and a later one with its slug (+ user,
       + parent; looked for only when a slug occurs twice), an old key twice, an existing row
       found twice (overwrite), a new key that is a later row's old pk */
    dba_buf_puts(b, " SELECT count(*) FILTER (WHERE dba_rs_orphan), count(*) FILTER (WHERE "
                    "dba_rs_found IS NOT NULL AND dba_rs_same), count(*) FILTER (WHERE "
                    "dba_rs_found IS NOT NULL AND NOT dba_rs_same), count(*) FILTER (WHERE "
                    "dba_rs_ins), CASE WHEN EXISTS (SELECT FROM x WHERE dba_rs_mslug IS NOT NULL "
                    "AND NOT dba_rs_orphan GROUP BY dba_rs_mslug HAVING count(*) > 1) THEN "
                    "EXISTS (SELECT FROM x a JOIN x c ON a.dba_rs_mslug = c.dba_rs_mslug AND "
                    "a.dba_rs_idx < c.dba_rs_idx WHERE a.dba_rs_ins AND NOT c.dba_rs_orphan AND "
                    "(c.dba_rs_mu IS NULL OR c.dba_rs_mu = a.dba_rs_mu) AND (c.dba_rs_mp IS NULL "
                    "OR c.dba_rs_mp = a.dba_rs_mp)) ELSE false END");
    if (rt->mapped)
        dba_buf_puts(b, " OR EXISTS (SELECT FROM x WHERE NOT dba_rs_orphan AND dba_rs_old IS NOT "
                        "NULL GROUP BY dba_rs_old HAVING count(*) > 1)");
    if (rs->o->mode == DBA_BACKUP_OVERWRITE)
        dba_buf_puts(b, " OR EXISTS (SELECT FROM x WHERE dba_rs_found IS NOT NULL GROUP BY "
                        "dba_rs_found HAVING count(*) > 1)");
    dba_buf_puts(b, " OR EXISTS (SELECT FROM x a JOIN x c ON a.dba_rs_newk = c.dba_rs_pkv AND "
                    "a.dba_rs_idx < c.dba_rs_idx WHERE c.dba_rs_ins AND c.dba_rs_mslug IS NULL "
                    "AND a.dba_rs_ins) FROM x");
}


/* Adds the counts of a written batch to its table. */
static void
rs_tally(struct restore *rs, struct rs_table *rt, const struct rs_counts *c)
{
    rt->skipped += c->orphans;
    rt->orphans += c->orphans;
    rt->unchanged += c->same;
    if (rs->o->mode == DBA_BACKUP_OVERWRITE)
        rt->updated += c->changed;
    else
        rt->skipped += c->changed;
    rt->inserted += c->ins;
    rt->plan_next += c->ins * rt->plan_inc;
}

/* True when the counted batch must be replayed row by row: its rows would see each other, or
   mode=fail met existing rows. */
static bool
rs_must_replay(const struct restore *rs, const struct rs_counts *c)
{
    return c->overlap || (rs->o->mode == DBA_BACKUP_FAIL && c->same + c->changed > 0);
}

/* Writes the staged rows of json (a JSON array of rows of rt, the first at index base) with the
   statements above. single: a batch of one row (a mode=fail hit is the failure); otherwise
   *replay is set when the rows would see each other, and nothing is written. */
static int
rs_write(struct restore *rs, struct rs_table *rt, const struct rs_cols *cs, const char *json,
         json_int_t base, bool single, bool *replay)
{
    char base_s[32];
    struct dba_buf b;
    struct rs_counts c;
    snprintf(base_s, sizeof(base_s), "%lld", (long long)base);
    int rc = rs_exec(rs, single ? "DELETE FROM pg_temp.dba_rs_stage"
                                : "TRUNCATE pg_temp.dba_rs_stage");
    if (rc != DBA_OK)
        return rc;
    dba_buf_init(&b);
    sql_stage(rs, rt, cs, &b);
    const char *params[3] = { json, base_s, rs->o->user_id };
    struct pg_result *r = dba_db_exec(rs->conn, b.data, params, cs->user ? 3 : 2, rs->err);
    dba_buf_cleanup(&b);
    dba_db_res_clear(r);
    if (r == NULL)
        return DBA_EDB;
    if (rt->self_ref && (rc = rs_self_refs(rs, rt, cs)) != DBA_OK)
        return rc;
    if ((rc = rs_count(rs, rt, &c)) != DBA_OK)
        return rc;
    if (!single && rs_must_replay(rs, &c)) {
        *replay = true; /* the caller rolls back to its savepoint */
        return DBA_OK;
    }
    if (rs->o->mode == DBA_BACKUP_FAIL && c.same + c.changed > 0)
        return dba_err_set(rs->err, DBA_EINVAL, 409, DBA_BACKUP_CODE,
                           "row already exists (mode=fail)");
    dba_buf_init(&b);
    sql_apply(rs, rt, cs, &b);
    r = dba_db_exec(rs->conn, b.data, NULL, 0, rs->err);
    dba_buf_cleanup(&b);
    dba_db_res_clear(r);
    if (r == NULL)
        return DBA_EDB;
    rs_tally(rs, rt, &c);
    return DBA_OK;
}

/* Replays the batch bt row by row (each a batch of one): the first failing row fails the
   restore with its index, old key and PostgreSQL's message. */
static int
rs_replay(struct restore *rs, struct rs_table *rt, const struct rs_cols *cs,
          const struct rs_batch *bt)
{
    struct dba_buf one;
    int rc = DBA_OK;
    dba_buf_init(&one);
    for (size_t k = 0; k < bt->n && rc == DBA_OK; k++) {
        dba_buf_reset(&one);
        dba_buf_putc(&one, '[');
        dba_buf_append(&one, bt->arr.data + bt->off[k], bt->len[k]);
        dba_buf_putc(&one, ']');
        rc = rs_write(rs, rt, cs, one.data, bt->base + (json_int_t)k, true, NULL);
        if (rc != DBA_OK) {
            char *pk = dba__backup_field(bt->arr.data + bt->off[k], bt->len[k], rt->t->pk);
            char why[sizeof(rs->err->msg)];
            snprintf(why, sizeof(why), "%s", rs->err->msg);
            rc = rs_fail(rs, rt, bt->base + (json_int_t)k, pk != NULL ? pk : "<unknown>", why);
            free(pk);
        }
    }
    dba_buf_cleanup(&one);
    return rc;
}

static void
rs_batch_clear(struct rs_batch *bt)
{
    bt->n = 0;
    bt->tab = -1;
    dba_buf_reset(&bt->arr);
}

/* Reads the result of the batch in flight (the client built the next batch meanwhile): counted,
   or rolled back to its savepoint and replayed row by row, as a batch written at once. */
static int
rs_settle(struct restore *rs)
{
    struct rs_pend *pd = &rs->pend;
    if (!pd->on)
        return DBA_OK;
    pd->on = false;
    PGconn *pg = (PGconn *)rs->conn;
    PGresult *r, *first = NULL;
    while ((r = PQgetResult(pg)) != NULL) {
        if (first == NULL)
            first = r;
        else
            PQclear(r);
    }
    struct rs_table *rt = &rs->tabs[pd->b.tab];
    struct rs_cols cs = { pd->cols, pd->n_cols, pd->has_pk, pd->user };
    struct rs_counts c;
    bool replay = true;
    int rc = DBA_OK;
    if (first != NULL && PQresultStatus(first) == PGRES_TUPLES_OK) {
        rs_counts_read((struct pg_result *)first, &c);
        replay = rs_must_replay(rs, &c);
    }
    PQclear(first);
    if (!replay) {
        rs_tally(rs, rt, &c);
        rc = rs_exec(rs, "RELEASE SAVEPOINT dba_rs");
    } else {
        rt->plan_next = pd->plan;
        rc = rs_exec(rs, "ROLLBACK TO SAVEPOINT dba_rs");
        if (rc == DBA_OK) {
            *rs->err = pd->keep;
            rc = rs_replay(rs, rt, &cs, &pd->b);
        }
    }
    free(pd->cols);
    pd->cols = NULL;
    json_int_t done = pd->b.base + (json_int_t)pd->b.n;
    rs_batch_clear(&pd->b);
    if (rc == DBA_OK && rs->o->progress != NULL)
        rs->o->progress(rs->o->progress_arg, rt->t->name, done, rt->expected);
    return rc;
}

/* Forgets a batch still in flight after a failure (the transaction is rolled back). */
static void
rs_drain(struct restore *rs)
{
    PGresult *r;
    if (!rs->pend.on)
        return;
    rs->pend.on = false;
    while ((r = PQgetResult((PGconn *)rs->conn)) != NULL)
        PQclear(r);
}

/* Sends a COPY batch (rs->copy) and its statement without waiting for the result: the rows
   are moved to rs->pend, and rs_settle reads the result once the next batch is built. */
static int
rs_send(struct restore *rs, struct rs_table *rt, struct rs_cols *cs)
{
    struct dba_buf b;
    char base_s[32];
    dba_buf_init(&b);
    dba_buf_puts(&b, "TRUNCATE ");
    put_in(&b, rt);
    int rc = rs_exec(rs, b.data);
    if (rc == DBA_OK)
        rc = rs_copy_in(rs, rt, cs);
    dba_buf_reset(&b);
    if (rc == DBA_OK) {
        snprintf(base_s, sizeof(base_s), "%lld", (long long)rs->b.base);
        const char *params[1] = { base_s };
        sql_batch_fast(rs, rt, cs, &b);
        if (PQsendQueryParams((PGconn *)rs->conn, b.data, 1, NULL, params, NULL, NULL, 0) != 1)
            rc = dba_err_set(rs->err, DBA_EDB, 500, DBA_BACKUP_CODE, "%s",
                             PQerrorMessage((PGconn *)rs->conn));
    }
    dba_buf_cleanup(&b);
    if (rc != DBA_OK)
        return rc;
    struct rs_batch t = rs->pend.b; /* swap: the next batch reuses the settled one's buffers */
    rs->pend.b = rs->b;
    rs->b = t;
    rs_batch_clear(&rs->b);
    rs->pend.cols = cs->c;
    rs->pend.n_cols = cs->n;
    rs->pend.has_pk = cs->has_pk;
    rs->pend.user = cs->user;
    cs->c = NULL;
    rs->pend.on = true;
    return DBA_OK;
}

/* Writes the pending batch: set-based inside a savepoint, replayed row by row when that fails or
   its rows would see each other. A COPY batch is sent and left in flight (its result is read by
   the next flush, after that batch is built, or at the end). */
static int
rs_flush(struct restore *rs)
{
    struct rs_batch *bt = &rs->b;
    if (rs->val != NULL && !rs->val_seen && atomic_load(&rs->val->done)) {
        rs->val_seen = true;
        const json_t *v = rs->val->v;
        if (!json_is_true(json_object_get(v, "valid"))) /* stop: the caller reports it */
            return dba_err_set(rs->err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "invalid backup");
        rs_expected(rs, json_object_get(v, "tables"));
    }
    if (bt->n == 0)
        return rs_settle(rs);
    struct rs_table *rt = &rs->tabs[bt->tab];
    struct rs_cols cs;
    rs_cols_build(rs, rt, bt->sig.data, &cs);
    bool replay = rt->row_mode || bt->n == 1, fast = false;
    if (!replay) {
        dba_buf_putc(&bt->arr, ']');
        fast = rt->fast && rs_copy_build(rs, rt, &cs);
    }
    if (!fast) { /* rows written another way are not in the filter: look every row up now */
        free(rt->seen);
        rt->seen = NULL;
    }
    int rc = rs_settle(rs);
    if (rc == DBA_OK && !replay) {
        struct dba_err keep = *rs->err;
        long long plan = rt->plan_next;
        if (fast && !rt->in_made)
            rc = rs_make_in(rs, rt);
        if (rc == DBA_OK)
            rc = rs_exec(rs, "SAVEPOINT dba_rs");
        if (rc == DBA_OK && fast) {
            rs->pend.keep = keep;
            rs->pend.plan = plan;
            rc = rs_send(rs, rt, &cs);
            if (rc == DBA_OK) {
                free(cs.c);
                return DBA_OK;
            }
        } else if (rc == DBA_OK) {
            rc = rs_write(rs, rt, &cs, bt->arr.data, bt->base, false, &replay);
        }
        if (rc == DBA_OK && !replay) {
            rc = rs_exec(rs, "RELEASE SAVEPOINT dba_rs");
        } else if (rc == DBA_OK || rc == DBA_EDB) {
            replay = true;
            rt->plan_next = plan;
            rc = rs_exec(rs, "ROLLBACK TO SAVEPOINT dba_rs");
            if (rc == DBA_OK)
                *rs->err = keep;
        }
    }
    if (rc == DBA_OK && replay)
        rc = rs_replay(rs, rt, &cs, bt);
    free(cs.c);
    json_int_t done = bt->base + (json_int_t)bt->n;
    rs_batch_clear(bt);
    if (rc == DBA_OK && rs->o->progress != NULL)
        rs->o->progress(rs->o->progress_arg, rt->t->name, done, rt->expected);
    return rc;
}

static int
sig_member(void *arg, const char *key, const char *v, size_t len)
{
    DBA_UNUSED(v);
    DBA_UNUSED(len);
    dba_buf_puts(arg, key);
    dba_buf_putc(arg, '\n');
    return DBA_OK;
}

/* A column of the row the target's table does not have is an error, not a silent loss. */
static int
rs_check_cols(struct restore *rs, struct rs_table *rt, const char *raw, size_t len)
{
    for (const char *p = rs->rowsig.data; p != NULL && *p != '\0';) {
        const char *e = strchr(p, '\n');
        char *name = dba_xstrndup(p, (size_t)(e - p));
        bool ok = dba_catalog_column_find(rt->st, name) != NULL;
        p = e + 1;
        if (ok) {
            free(name);
            continue;
        }
        char why[400];
        snprintf(why, sizeof(why), "table '%.100s' has no column '%.100s' in the target "
                 "(schema '%.100s')", rt->t->name, name, rt->st->schema);
        free(name);
        dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE, "%s", why);
        char *pk = dba__backup_field(raw, len, rt->t->pk);
        int rc = rs_fail(rs, rt, rt->rows, pk != NULL ? pk : "<unknown>", why);
        free(pk);
        return rc;
    }
    return DBA_OK;
}

/* A table of the document the schema does not have is refused (nothing is written yet for a
   JSON document; a jsonl one is rolled back). */
static int
rs_table_seen(void *arg, const char *table)
{
    struct restore *rs = arg;
    if (dba_backup_schema_find(rs->s, table) >= 0)
        return DBA_OK;
    const char *nsp = rs_nsp(rs);
    if (dba_catalog_table_find(rs->cache, nsp, table) == NULL)
        dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE,
                    "table '%s' of the backup does not exist in the target (schema '%s')",
                    table, nsp);
    else
        dba_err_set(rs->err, DBA_ENOTFOUND, 422, DBA_BACKUP_CODE,
                    "table '%s' of the backup is not in the backup schema", table);
    dba_err_hint(rs->err, "Restore into a target that has the table, or declare it in "
                          "backup.tables.");
    return DBA_ENOTFOUND;
}

/* Feeds one row of the named table into the pending batch. */
static int
rs_feed(void *arg, const char *table, json_t *row, const char *raw, size_t len)
{
    struct restore *rs = arg;
    struct rs_batch *bt = &rs->b;
    DBA_UNUSED(row);
    int i = dba_backup_schema_find(rs->s, table);
    if (i < 0)
        return rs_table_seen(arg, table);
    struct rs_table *rt = &rs->tabs[i];
    dba_buf_reset(&rs->rowsig);
    if (dba__backup_scan_valid(raw, len, true, sig_member, &rs->rowsig) != DBA_OK)
        return dba_err_set(rs->err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                           "Invalid JSON: a row of \"%s\" is not an object", table);
    if (rs->rowsig.data == NULL)
        dba_buf_puts(&rs->rowsig, "");
    int rc;
    if (bt->n > 0 && (bt->tab != i || strcmp(bt->sig.data, rs->rowsig.data) != 0 ||
                      bt->n >= RS_BATCH_ROWS || bt->arr.len + len > RS_BATCH_BYTES) &&
        (rc = rs_flush(rs)) != DBA_OK)
        return rc;
    if (bt->n == 0) {
        if ((rc = rs_check_cols(rs, rt, raw, len)) != DBA_OK)
            return rc;
        bt->tab = i;
        bt->base = rt->rows;
        dba_buf_reset(&bt->sig);
        dba_buf_puts(&bt->sig, rs->rowsig.data);
        dba_buf_putc(&bt->arr, '[');
    } else {
        dba_buf_putc(&bt->arr, ',');
    }
    if (bt->n == bt->cap) {
        bt->cap = bt->cap ? bt->cap * 2 : 1024;
        bt->off = dba_xrealloc(bt->off, bt->cap * sizeof(*bt->off));
        bt->len = dba_xrealloc(bt->len, bt->cap * sizeof(*bt->len));
    }
    bt->off[bt->n] = bt->arr.len;
    bt->len[bt->n++] = len;
    dba_buf_append(&bt->arr, raw, len);
    rt->rows++;
    return DBA_OK;
}

static void
rs_meta(void *arg, const json_t *meta)
{
    DBA_UNUSED(arg);
    DBA_UNUSED(meta);
}

static const struct dba__backup_walk rs_walk = { rs_meta, rs_table_seen, rs_feed, true,
                                                 false, false };
/* while the validation runs beside: the document's members are delimited without validating
   them (the validation does, and an invalid document is rolled back whatever the walk did) */
static const struct dba__backup_walk rs_walk_trusted = { rs_meta, rs_table_seen, rs_feed, true,
                                                         false, true };

static json_t *
rs_report(struct restore *rs, bool ok)
{
    json_t *tables = json_object();
    for (size_t i = 0; i < rs->n_bound; i++) {
        struct rs_table *rt = &rs->tabs[i];
        json_object_set_new(tables, rt->t->name,
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "inserted", rt->inserted,
                                      "updated", rt->updated, "skipped", rt->skipped,
                                      "unchanged", rt->unchanged, "orphans", rt->orphans));
    }
    json_t *rep = json_pack("{s:b,s:b,s:s,s:s,s:o}", "ok", ok, "dry_run", rs->o->dry_run,
                            "mode", mode_name(rs->o->mode), "db_schema", rs_nsp(rs), "tables",
                            tables);
    if (rs->failed != NULL)
        json_object_set(rep, "failed", rs->failed);
    return rep;
}

static void
rs_cleanup(struct restore *rs)
{
    for (size_t i = 0; rs->tabs != NULL && i < rs->s->n; i++)
        free(rs->tabs[i].seen);
    free(rs->tabs);
    json_decref(rs->failed);
    dba_buf_cleanup(&rs->b.arr);
    dba_buf_cleanup(&rs->b.sig);
    free(rs->b.off);
    free(rs->b.len);
    dba_buf_cleanup(&rs->rowsig);
    dba_buf_cleanup(&rs->copy);
    dba_buf_cleanup(&rs->pend.b.arr);
    dba_buf_cleanup(&rs->pend.b.sig);
    free(rs->pend.b.off);
    free(rs->pend.b.len);
    free(rs->pend.cols);
    dba_catalog_unref(rs->cache);
}

/* Rows of each table (the validation's counts {table: rows}), for progress. */
static void
rs_expected(struct restore *rs, const json_t *counts)
{
    for (size_t i = 0; i < rs->n_bound; i++) {
        const json_t *v = json_object_get(counts, rs->tabs[i].t->name);
        if (json_is_integer(v))
            rs->tabs[i].expected = json_integer_value(v);
    }
}

/* Fails with the validation report attached when v says the backup is invalid. */
static json_t *
rs_invalid(const struct dba_backup_restore_opts *o, json_t *v, struct dba_err *err)
{
    struct dba_buf b;
    size_t i;
    json_t *e;
    dba_buf_init(&b);
    json_array_foreach(json_object_get(v, "errors"), i, e) {
        if (i >= 5)
            break;
        dba_buf_printf(&b, "%s%s", i ? "; " : "", json_string_value(e));
    }
    dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "invalid backup: %s", b.data ? b.data : "");
    dba_buf_cleanup(&b);
    return json_pack("{s:b,s:b,s:s,s:o}", "ok", 0, "dry_run", o->dry_run, "mode",
                     mode_name(o->mode), "validation", v);
}

/* Runs feed inside one transaction; commits unless it failed or this is a dry run. */
static json_t *
rs_run(struct restore *rs, const json_t *meta, int (*feed)(struct restore *, const void *),
       const void *src)
{
    struct dba_err end_err;
    rs->b.tab = -1;
    dba_buf_init(&rs->b.arr);
    dba_buf_init(&rs->b.sig);
    dba_buf_init(&rs->rowsig);
    dba_buf_init(&rs->copy);
    dba_buf_init(&rs->pend.b.arr);
    dba_buf_init(&rs->pend.b.sig);
    rs->pend.b.tab = -1;
    rs->cache = dba_catalog_load(rs->conn, rs->o->schemas, rs->o->n_schemas, rs->err);
    int rc = rs->cache != NULL ? rs_bind(rs) : DBA_EDB;
    rs_expected(rs, meta);
    if (rc == DBA_OK)
        rc = rs_exec(rs, "BEGIN");
    bool begun = rc == DBA_OK;
    /* the batch statements are costed high (a lookup per row): compiling them with JIT would
       cost more than running them (seconds per batch once the target's statistics are fresh) */
    if (rc == DBA_OK)
        rc = rs_exec(rs, "SET LOCAL jit = off");
    if (rc == DBA_OK)
        rc = rs_temp_tables(rs);
    if (rc == DBA_OK)
        rc = feed(rs, src);
    if (rc == DBA_OK)
        rc = rs_flush(rs);
    if (rc == DBA_OK)
        rc = rs_settle(rs);
    rs_drain(rs);
    const json_t *v = rs->val != NULL ? rs_val_join(rs->val) : NULL;
    bool invalid = rs->val != NULL && !json_is_true(json_object_get(v, "valid"));
    if (invalid)
        rc = DBA_EINVAL;
    bool commit = rc == DBA_OK && !rs->o->dry_run;
    if (begun) {
        struct dba_err *keep = rs->err;
        rs->err = &end_err;
        int end = rs_exec(rs, commit ? "COMMIT" : "ROLLBACK");
        rs->err = keep;
        if (rc == DBA_OK && end != DBA_OK) {
            *rs->err = end_err;
            rc = end;
        }
    }
    json_t *rep = invalid ? NULL : rs_report(rs, rc == DBA_OK);
    rs_cleanup(rs);
    return rep != NULL ? rep : rs_invalid(rs->o, json_incref((json_t *)(uintptr_t)v), rs->err);
}

struct rs_text {
    const char *p; /* document text */
    size_t n;      /* its length */
};

static int
feed_text(struct restore *rs, const void *src)
{
    const struct rs_text *t = src;
    return dba__backup_walk_text(t->p, t->n, rs->s, rs->val != NULL ? &rs_walk_trusted : &rs_walk,
                                 rs, rs->err);
}

static int
feed_jsonl(struct restore *rs, const void *path)
{
    return dba__backup_walk_jsonl(path, &rs_walk, rs, rs->err);
}

/* The restore of a document the caller validated (o->validated), or validated on a thread
   beside the restore (vl): the transaction commits only when the validation says valid. */
static json_t *
rs_validated(struct restore *rs, int (*feed)(struct restore *, const void *), const void *src,
             struct rs_val *vl)
{
    const json_t *v = rs->o->validated;
    if (v != NULL && !json_is_true(json_object_get(v, "valid")))
        return rs_invalid(rs->o, json_incref((json_t *)(uintptr_t)v), rs->err);
    if (v != NULL)
        return rs_run(rs, json_object_get(v, "tables"), feed, src);
    rs_val_start(vl);
    rs->val = vl;
    json_t *rep = rs_run(rs, NULL, feed, src);
    json_decref(rs_val_join(vl));
    return rep;
}

json_t *
dba_backup_restore(void *conn, const struct dba_backup_schema *s, const char *text, size_t len,
                   const struct dba_backup_restore_opts *o, struct dba_err *err)
{
    struct restore rs = { .conn = conn, .s = s, .o = o, .err = err };
    struct rs_text t = { text, len };
    return rs_validated(&rs, feed_text, &t, &(struct rs_val){ .s = s, .text = text, .len = len });
}

json_t *
dba_backup_restore_file(void *conn, const struct dba_backup_schema *s, const char *path,
                        const struct dba_backup_restore_opts *o, struct dba_err *err)
{
    if (!dba__backup_is_jsonl(path)) {
        size_t len;
        char *text = dba__backup_read_file(path, &len, err);
        if (text == NULL)
            return NULL;
        json_t *rep = dba_backup_restore(conn, s, text, len, o, err);
        dba_backup_text_free(text);
        return rep;
    }
    struct restore rs = { .conn = conn, .s = s, .o = o, .err = err };
    return rs_validated(&rs, feed_jsonl, path, &(struct rs_val){ .s = s, .path = path });
}
