/* validate.c - validate-backup: pure checks of a backup document against the backup schema
   (the original's rules: required keys, version, pk and slug on every row, orphans as warnings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup_int.h"

#define VALIDATE_MAX_ERRORS 100 /* errors listed before "... and N more" */

/* A set of key texts: the texts end to end in one arena, an open-addressed table of offsets
   (a few bytes a key, not a JSON object's entry). */
struct kset {
    char *arena;   /* "key\0key\0..." */
    size_t alen;   /* bytes used */
    size_t acap;   /* allocated */
    size_t *slot;  /* offset + 1 of a key, 0 empty */
    size_t cap;    /* slots (a power of two) */
    size_t n;      /* keys */
};

static size_t
kset_hash(const char *k)
{
    size_t h = 1469598103934665603ull;
    for (; *k != '\0'; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

static bool
kset_has(const struct kset *s, const char *k)
{
    if (s->cap == 0)
        return false;
    for (size_t i = kset_hash(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == 0)
            return false;
        if (strcmp(s->arena + s->slot[i] - 1, k) == 0)
            return true;
    }
}

static void
kset_put(struct kset *s, const char *k)
{
    if (kset_has(s, k))
        return;
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        size_t *ns = dba_xcalloc(ncap, sizeof(*ns));
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slot[i] == 0)
                continue;
            size_t j = kset_hash(s->arena + s->slot[i] - 1) & (ncap - 1);
            while (ns[j] != 0)
                j = (j + 1) & (ncap - 1);
            ns[j] = s->slot[i];
        }
        free(s->slot);
        s->slot = ns;
        s->cap = ncap;
    }
    size_t l = strlen(k) + 1;
    if (s->alen + l > s->acap) {
        s->acap = (s->alen + l) * 2;
        s->arena = dba_xrealloc(s->arena, s->acap);
    }
    memcpy(s->arena + s->alen, k, l);
    size_t i = kset_hash(k) & (s->cap - 1);
    while (s->slot[i] != 0)
        i = (i + 1) & (s->cap - 1);
    s->slot[i] = s->alen + 1;
    s->alen += l;
    s->n++;
}

/* True when a table of the schema names table i as its parent (its keys are looked up). */
static bool
is_parent(const struct dba_backup_schema *s, size_t i)
{
    for (size_t j = 0; j < s->n; j++)
        if (s->tables[j].parent.table != NULL &&
            strcmp(s->tables[j].parent.table, s->tables[i].name) == 0)
            return true;
    return false;
}

struct dba_backup_validator {
    const struct dba_backup_schema *s; /* borrowed */
    json_t *errors;                    /* array of strings */
    json_t *warnings;                  /* array of strings */
    json_t *seen;                      /* {table: row count} for tables present */
    struct kset *pks;                  /* per schema table: keys of the tables that are parents */
    bool has_meta;                     /* metadata seen */
    size_t n_errors;                   /* errors including those not listed */
};

const char *
dba__backup_key(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        {
        double d = json_real_value(v);
        if (d == (double)(long long)d && d > -9e15 && d < 9e15)
            snprintf(buf, n, "%lld", (long long)d);
        else
            snprintf(buf, n, "%.17g", d);
    }
    else if (json_is_boolean(v))
        snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return buf;
}

struct dba_backup_validator *
dba_backup_validator_new(const struct dba_backup_schema *s)
{
    struct dba_backup_validator *v = dba_xcalloc(1, sizeof(*v));
    v->s = s;
    v->errors = json_array();
    v->warnings = json_array();
    v->seen = json_object();
    v->pks = dba_xcalloc(s->n + 1, sizeof(*v->pks));
    return v;
}

void
dba_backup_validator_free(struct dba_backup_validator *v)
{
    if (v == NULL)
        return;
    json_decref(v->errors);
    json_decref(v->warnings);
    json_decref(v->seen);
    for (size_t i = 0; i < v->s->n; i++) {
        free(v->pks[i].arena);
        free(v->pks[i].slot);
    }
    free(v->pks);
    free(v);
}

static void
verr(struct dba_backup_validator *v, json_t *msg)
{
    if (v->n_errors++ < VALIDATE_MAX_ERRORS)
        json_array_append_new(v->errors, msg);
    else
        json_decref(msg);
}

void
dba_backup_validator_error(struct dba_backup_validator *v, const char *msg)
{
    verr(v, json_string(msg));
}

void
dba_backup_validator_metadata(struct dba_backup_validator *v, const json_t *meta)
{
    static const char *const fields[] = { "created_at", "user_id", "backup_type", "version" };
    v->has_meta = true;
    if (!json_is_object(meta)) {
        verr(v, json_string("\"metadata\" is not an object"));
        return;
    }
    for (size_t i = 0; i < DBA_ARRAY_LEN(fields); i++)
        if (json_object_get(meta, fields[i]) == NULL)
            json_array_append_new(v->warnings,
                                  json_sprintf("Missing metadata field: %s", fields[i]));
    const json_t *ver = json_object_get(meta, "version");
    const char *vs = json_string_value(ver);
    if (ver != NULL && (vs == NULL || strcmp(vs, DBA_BACKUP_VERSION) != 0))
        verr(v, json_sprintf("Unsupported backup version '%s' (expected '%s')",
                             vs != NULL ? vs : "?", DBA_BACKUP_VERSION));
}

void
dba_backup_validator_table(struct dba_backup_validator *v, const char *table)
{
    if (json_object_get(v->seen, table) == NULL)
        json_object_set_new(v->seen, table, json_integer(0));
}

/* Exact text of a row's member: from the row's text when there is one, else from the value. */
static char *
row_key(const json_t *row, const char *raw, size_t len, const char *field)
{
    char kb[64];
    if (field == NULL)
        return NULL;
    if (raw != NULL)
        return dba__backup_field(raw, len, field);
    const char *k = dba__backup_key(json_object_get(row, field), kb, sizeof(kb));
    return k != NULL ? dba_xstrdup(k) : NULL;
}

/* The members a validation reads: the pk, the slug and the parent field. */
struct vfields {
    const char *name[3]; /* pk, slug, parent field (NULL: none) */
    const char *v[3];    /* their bytes, NULL when absent */
    size_t len[3];       /* their lengths */
};

static int
vf_member(void *arg, const char *key, const char *v, size_t len)
{
    struct vfields *f = arg;
    for (int i = 0; i < 3; i++) {
        if (f->name[i] != NULL && key[0] == f->name[i][0] && strcmp(key, f->name[i]) == 0) {
            f->v[i] = v;
            f->len[i] = len;
        }
    }
    return DBA_OK;
}

static char *
vf_text(const struct vfields *f, int i)
{
    return f->v[i] != NULL ? dba__backup_scalar_text(f->v[i], f->len[i]) : NULL;
}

/* The checks of one row: has_pk / has_slug tell whether the members are present, k is the
   pk's text (NULL for null, objects, arrays), slug and parent the texts of those members. */
static void
validator_check(struct dba_backup_validator *v, int i, bool has_pk, char *k, bool has_slug,
                char *slug, char *parent)
{
    const struct dba_backup_table *t = &v->s->tables[i];
    bool empty = k == NULL || k[0] == '\0' || strcmp(k, "0") == 0;
    if (!has_pk)
        verr(v, json_sprintf("%s row missing '%s' field: %s", t->name, t->pk,
                             slug != NULL ? slug : "unknown"));
    else if (empty)
        verr(v, json_sprintf("%s row has empty '%s': %s", t->name, t->pk,
                             slug != NULL ? slug : "unknown"));
    if (t->slug != NULL && !has_slug)
        verr(v, json_sprintf("%s row missing '%s' field", t->name, t->slug));
    int p = t->parent.table != NULL ? dba_backup_schema_find(v->s, t->parent.table) : -1;
    if (p >= 0 && parent != NULL && !kset_has(&v->pks[p], parent) &&
        json_array_size(v->warnings) < VALIDATE_MAX_ERRORS)
        json_array_append_new(v->warnings,
                              json_sprintf("Orphaned %s '%s': %s not in backup", t->name,
                                           slug != NULL ? slug : "unknown", t->parent.field));
    if (k != NULL && is_parent(v->s, (size_t)i))
        kset_put(&v->pks[i], k);
}

static void
validator_row(struct dba_backup_validator *v, const char *table, const json_t *row,
              const char *raw, size_t len)
{
    int i = dba_backup_schema_find(v->s, table);
    dba_backup_validator_table(v, table);
    json_object_set_new(v->seen, table, json_integer(json_integer_value(
                                            json_object_get(v->seen, table)) + 1));
    if (i < 0)
        return;
    const struct dba_backup_table *t = &v->s->tables[i];
    struct vfields f = { .name = { t->pk, t->slug, t->parent.table ? t->parent.field : NULL } };
    bool object = row != NULL ? json_is_object(row)
                              : len > 0 && raw[0] == '{' &&
                                    dba__backup_scan_valid(raw, len, true, vf_member, &f) == DBA_OK;
    if (!object) {
        verr(v, json_sprintf("%s row is not an object", table));
        return;
    }
    char *k, *slug, *parent;
    bool has_pk, has_slug;
    if (row == NULL) {
        has_pk = f.v[0] != NULL;
        has_slug = f.v[1] != NULL;
        k = vf_text(&f, 0);
        slug = vf_text(&f, 1);
        parent = vf_text(&f, 2);
    } else {
        has_pk = json_object_get(row, t->pk) != NULL;
        has_slug = t->slug != NULL && json_object_get(row, t->slug) != NULL;
        k = row_key(row, raw, len, t->pk);
        slug = row_key(row, raw, len, t->slug);
        parent = t->parent.table != NULL ? row_key(row, raw, len, t->parent.field) : NULL;
    }
    validator_check(v, i, has_pk, k, has_slug, slug, parent);
    free(k);
    free(slug);
    free(parent);
}

void
dba_backup_validator_row(struct dba_backup_validator *v, const char *table, const json_t *row)
{
    validator_row(v, table, row, NULL, 0);
}

json_t *
dba_backup_validator_finish(struct dba_backup_validator *v)
{
    if (!v->has_meta)
        verr(v, json_string("Missing required key: metadata"));
    for (size_t i = 0; i < v->s->n; i++)
        if (json_object_get(v->seen, v->s->tables[i].name) == NULL)
            verr(v, json_sprintf("Missing required key: %s", v->s->tables[i].name));
    const char *name;
    const json_t *n;
    json_object_foreach(v->seen, name, n)
        if (dba_backup_schema_find(v->s, name) < 0)
            json_array_append_new(v->warnings, json_sprintf(
                "Table '%s' is not in the backup schema: a restore refuses it", name));
    if (v->n_errors > VALIDATE_MAX_ERRORS)
        json_array_append_new(v->errors, json_sprintf("... and %zu more errors",
                                                      v->n_errors - VALIDATE_MAX_ERRORS));
    return json_pack("{s:b,s:O,s:O,s:O}", "valid", v->n_errors == 0, "errors", v->errors,
                     "warnings", v->warnings, "tables", v->seen);
}

#define JSONL_PROBE_MAX (16u << 20) /* bytes read at most to tell jsonl from a document */

/* False when the start p[0..n) of a first line (no newline yet) already shows a first member
   followed by another: a document written on one line, not a jsonl metadata line. */
static bool
jsonl_may_be(const char *p, size_t n)
{
    size_t i = dba_json_ws(p, n, 0);
    if (i >= n)
        return true;
    if (p[i] != '{')
        return false;
    enum dba_json_type t;
    size_t e = dba_json_value(p, n, dba_json_ws(p, n, i + 1), &t); /* the member's name */
    if (e == DBA_JSON_BAD)
        return true; /* not all read yet (or malformed: the whole line decides) */
    if (t != DBA_JSON_STRING)
        return false;
    i = dba_json_ws(p, n, e);
    if (i < n && p[i] != ':')
        return false;
    e = i < n ? dba_json_value(p, n, dba_json_ws(p, n, i + 1), NULL) : DBA_JSON_BAD;
    if (e == DBA_JSON_BAD)
        return true;
    i = dba_json_ws(p, n, e);
    return i >= n || p[i] == '}';
}

bool
dba__backup_is_jsonl(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    /* the first line, read a chunk at a time: a document on one line is told apart by its
       start, not read whole */
    struct dba_buf b;
    char chunk[1 << 16];
    size_t n;
    bool yes = false;
    dba_buf_init(&b);
    for (;;) {
        n = fread(chunk, 1, sizeof(chunk), f);
        size_t from = b.len;
        dba_buf_append(&b, chunk, n);
        const char *nl = n > 0 ? memchr(b.data + from, '\n', n) : NULL;
        if (nl != NULL || n == 0) {
            size_t len = nl != NULL ? (size_t)(nl - b.data) : b.len;
            json_t *j = len > 0 ? json_loadb(b.data, len, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
            yes = json_is_object(j) && json_object_size(j) == 1 &&
                  json_object_get(j, "metadata");
            json_decref(j);
            break;
        }
        if (b.len > JSONL_PROBE_MAX || !jsonl_may_be(b.data, b.len))
            break;
    }
    dba_buf_cleanup(&b);
    fclose(f);
    return yes;
}


/* One jsonl line: the metadata line, or {"table": T, "row": {...}}. */
struct jl_line {
    char table[256];   /* "table" member */
    const char *row;   /* "row" member's bytes, or NULL */
    size_t len;        /* their length */
    const char *meta;  /* "metadata" member's bytes, or NULL */
    size_t meta_len;   /* their length */
};

static int
jl_member(void *arg, const char *key, const char *v, size_t len)
{
    struct jl_line *l = arg;
    if (strcmp(key, "row") == 0) {
        l->row = v;
        l->len = len;
    } else if (strcmp(key, "metadata") == 0) {
        l->meta = v;
        l->meta_len = len;
    } else if (strcmp(key, "table") == 0) {
        json_t *t = json_loadb(v, len, JSON_DECODE_ANY, NULL);
        snprintf(l->table, sizeof(l->table), "%s", json_string_value(t) ? json_string_value(t) : "");
        json_decref(t);
    }
    return DBA_OK;
}

static int
jl_line(const char *line, size_t n, long no, const struct dba__backup_walk *cbs, void *arg,
        char *last, struct dba_err *err)
{
    struct jl_line l = { .row = NULL };
    json_t *row = NULL;
    if (dba__backup_scan(line, n, true, jl_member, &l) != DBA_OK)
        return dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE, "Invalid JSON on line %ld", no);
    if (l.meta != NULL) {
        json_t *m = json_loadb(l.meta, l.meta_len, DBA__BACKUP_JSON_FLAGS, NULL);
        cbs->meta(arg, m);
        json_decref(m);
        return DBA_OK;
    }
    if (l.row == NULL || l.table[0] == '\0' ||
        (cbs->raw_only ? l.row[0] != '{' && !cbs->raw_any
                       : (row = json_loadb(l.row, l.len, DBA__BACKUP_JSON_FLAGS, NULL)) == NULL))
        return dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                           "line %ld is not a {\"table\", \"row\"} object", no);
    int rc = DBA_OK;
    if (strcmp(last, l.table) != 0) {
        snprintf(last, 256, "%s", l.table);
        rc = cbs->table(arg, l.table);
    }
    if (rc == DBA_OK)
        rc = cbs->row(arg, l.table, row, l.row, l.len);
    json_decref(row);
    return rc;
}

int
dba__backup_walk_jsonl(const char *path, const struct dba__backup_walk *cbs, void *arg,
                       struct dba_err *err)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, last[256] = "";
    size_t cap = 0;
    ssize_t n;
    long no = 0;
    int rc = DBA_OK;
    if (f == NULL)
        return dba_err_set(err, DBA_EIO, 400, DBA_BACKUP_CODE, "Backup file not found: %s", path);
    while (rc == DBA_OK && (n = getline(&line, &cap, f)) > 0) {
        no++;
        if (line[strspn(line, " \t\r\n")] != '\0')
            rc = jl_line(line, (size_t)n, no, cbs, arg, last, err);
    }
    free(line);
    fclose(f);
    return rc;
}

static void
vmeta(void *arg, const json_t *m)
{
    if (m != NULL)
        dba_backup_validator_metadata(arg, m);
}

static int
vtable(void *arg, const char *t)
{
    dba_backup_validator_table(arg, t);
    return DBA_OK;
}

static int
vrow(void *arg, const char *table, json_t *row, const char *raw, size_t len)
{
    validator_row(arg, table, row, raw, len);
    return DBA_OK;
}

/* rows are not parsed: their members are read from their text (a third of the CPU of a
   restore went into parsing each row for the validation) */
static const struct dba__backup_walk vwalk = { vmeta, vtable, vrow, true, true, false };

json_t *
dba_backup_validate_text(const struct dba_backup_schema *s, const char *text, size_t len)
{
    struct dba_err err;
    struct dba_backup_validator *v = dba_backup_validator_new(s);
    if (dba__backup_walk_text(text, len, s, &vwalk, v, &err) != DBA_OK)
        dba_backup_validator_error(v, err.msg);
    json_t *res = dba_backup_validator_finish(v);
    dba_backup_validator_free(v);
    return res;
}

json_t *
dba_backup_validate_file(const struct dba_backup_schema *s, const char *path)
{
    struct dba_err err;
    size_t len;
    struct dba_backup_validator *v = dba_backup_validator_new(s);
    if (dba__backup_is_jsonl(path)) {
        if (dba__backup_walk_jsonl(path, &vwalk, v, &err) != DBA_OK)
            dba_backup_validator_error(v, err.msg);
        for (size_t i = 0; i < s->n; i++)
            dba_backup_validator_table(v, s->tables[i].name); /* jsonl omits empty tables */
    } else {
        char *text = dba__backup_read_file(path, &len, &err);
        if (text == NULL || dba__backup_walk_text(text, len, s, &vwalk, v, &err) != DBA_OK)
            dba_backup_validator_error(v, err.msg);
        dba_backup_text_free(text);
    }
    json_t *res = dba_backup_validator_finish(v);
    dba_backup_validator_free(v);
    return res;
}

json_t *
dba_backup_text_metadata(const char *text, size_t len)
{
    json_t *m = NULL;
    struct jl_line l = { .row = NULL };
    if (dba__backup_scan(text, len, true, jl_member, &l) == DBA_OK && l.meta != NULL)
        m = json_loadb(l.meta, l.meta_len, DBA__BACKUP_JSON_FLAGS, NULL);
    return m != NULL ? m : json_object();
}

json_t *
dba_backup_file_metadata(const char *path, char **text, size_t *len, struct dba_err *err)
{
    *text = NULL;
    if (dba__backup_is_jsonl(path)) {
        FILE *f = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = f != NULL ? getline(&line, &cap, f) : -1;
        json_t *m = n > 0 ? dba_backup_text_metadata(line, (size_t)n) : NULL;
        free(line);
        if (f != NULL)
            fclose(f);
        return m;
    }
    *text = dba__backup_read_file(path, len, err);
    return *text != NULL ? dba_backup_text_metadata(*text, *len) : NULL;
}

static int
check_member(void *arg, const char *key, const char *v, size_t len)
{
    DBA_UNUSED(arg);
    DBA_UNUSED(key);
    DBA_UNUSED(v);
    DBA_UNUSED(len);
    return DBA_OK;
}

int
dba_backup_file_check(const char *path, struct dba_err *err)
{
    if (access(path, R_OK) != 0)
        return dba_err_set(err, DBA_EIO, 400, DBA_BACKUP_CODE, "Backup file not found: %s",
                           path);
    if (dba__backup_is_jsonl(path))
        return DBA_OK;
    size_t len;
    char *text = dba__backup_read_file(path, &len, err);
    if (text == NULL)
        return DBA_EIO;
    int rc = dba__backup_scan(text, len, true, check_member, NULL);
    dba_backup_text_free(text);
    if (rc != DBA_OK)
        return dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                           "Invalid JSON: %s is not a well-formed backup (a JSON object, or "
                           "jsonl with the metadata on its first line)", path);
    return DBA_OK;
}
