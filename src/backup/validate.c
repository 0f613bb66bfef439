/* validate.c - validate-backup: pure checks of a backup document against the backup schema
   (the original's rules: required keys, version, pk and slug on every row, orphans as warnings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup_int.h"

#define VALIDATE_MAX_ERRORS 100 /* errors listed before "... and N more" */

struct dba_backup_validator {
    const struct dba_backup_schema *s; /* borrowed */
    json_t *errors;                    /* array of strings */
    json_t *warnings;                  /* array of strings */
    json_t *seen;                      /* {table: row count} for tables present */
    json_t *pks;                       /* {table: {pk: true}} for parent lookups */
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
    v->pks = json_object();
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
    json_decref(v->pks);
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

static void
row_check_parent(struct dba_backup_validator *v, const struct dba_backup_table *t,
                 const json_t *row, const char *raw, size_t len)
{
    if (t->parent.table == NULL || dba_backup_schema_find(v->s, t->parent.table) < 0)
        return;
    char *k = row_key(row, raw, len, t->parent.field);
    if (k != NULL && json_object_get(json_object_get(v->pks, t->parent.table), k) == NULL &&
        json_array_size(v->warnings) < VALIDATE_MAX_ERRORS) {
        char *l = row_key(row, raw, len, t->slug);
        json_array_append_new(v->warnings,
                              json_sprintf("Orphaned %s '%s': %s not in backup", t->name,
                                           l != NULL ? l : "unknown", t->parent.field));
        free(l);
    }
    free(k);
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
    if (!json_is_object(row)) {
        verr(v, json_sprintf("%s row is not an object", table));
        return;
    }
    const json_t *pk = json_object_get(row, t->pk);
    char *k = row_key(row, raw, len, t->pk);
    char *l = pk == NULL || k == NULL || k[0] == '\0' || strcmp(k, "0") == 0
                  ? row_key(row, raw, len, t->slug) : NULL;
    if (pk == NULL)
        verr(v, json_sprintf("%s row missing '%s' field: %s", table, t->pk,
                             l != NULL ? l : "unknown"));
    else if (k == NULL || k[0] == '\0' || strcmp(k, "0") == 0)
        verr(v, json_sprintf("%s row has empty '%s': %s", table, t->pk,
                             l != NULL ? l : "unknown"));
    free(l);
    if (t->slug != NULL && json_object_get(row, t->slug) == NULL)
        verr(v, json_sprintf("%s row missing '%s' field", table, t->slug));
    row_check_parent(v, t, row, raw, len);
    if (k != NULL) {
        json_t *set = json_object_get(v->pks, table);
        if (set == NULL)
            json_object_set_new(v->pks, table, set = json_object());
        json_object_set_new(set, k, json_true());
    }
    free(k);
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

bool
dba__backup_is_jsonl(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    bool yes = false;
    if (f == NULL)
        return false;
    if (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, JSON_DECODE_INT_AS_REAL, NULL);
        yes = json_is_object(j) && json_object_size(j) == 1 && json_object_get(j, "metadata");
        json_decref(j);
    }
    free(line);
    fclose(f);
    return yes;
}


char *
dba__backup_read_file(const char *path, size_t *len, struct dba_err *err)
{
    char *text = dba_file_read(path, len);

    if (text == NULL)
        dba_err_set(err, DBA_EIO, 400, DBA_BACKUP_CODE, "Backup file not found: %s", path);
    return text;
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
        (cbs->raw_only ? l.row[0] != '{'
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

static const struct dba__backup_walk vwalk = { vmeta, vtable, vrow, false };

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
        free(text);
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
    free(text);
    if (rc != DBA_OK)
        return dba_err_set(err, DBA_EINVAL, 400, DBA_BACKUP_CODE,
                           "Invalid JSON: %s is not a well-formed backup (a JSON object, or "
                           "jsonl with the metadata on its first line)", path);
    return DBA_OK;
}
