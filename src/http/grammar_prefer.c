/* grammar_prefer.c - the Prefer header(s): comma separated tokens, first one of a kind wins. */
#include <stdlib.h>
#include <string.h>

#include "http/grammar_int.h"

/* Exact tokens PostgREST knows, and what each sets. */
enum pref_field {
    PREF_RET,        /* return= */
    PREF_COUNT,      /* count= */
    PREF_RESOLUTION, /* resolution= */
    PREF_MISSING,    /* missing= */
    PREF_HANDLING,   /* handling= */
    PREF_TX,         /* tx= */
};

static const struct {
    const char *token;     /* as written */
    enum pref_field field; /* which preference */
    int value;             /* enum value to store (handling: 1 strict; tx: index) */
} pref_tokens[] = {
    { "return=minimal", PREF_RET, DBA_RET_MINIMAL },
    { "return=headers-only", PREF_RET, DBA_RET_HEADERS_ONLY },
    { "return=representation", PREF_RET, DBA_RET_REPRESENTATION },
    { "count=exact", PREF_COUNT, DBA_COUNT_EXACT },
    { "count=planned", PREF_COUNT, DBA_COUNT_PLANNED },
    { "count=estimated", PREF_COUNT, DBA_COUNT_ESTIMATED },
    { "resolution=merge-duplicates", PREF_RESOLUTION, DBA_RES_MERGE },
    { "resolution=ignore-duplicates", PREF_RESOLUTION, DBA_RES_IGNORE },
    { "missing=default", PREF_MISSING, DBA_MISSING_DEFAULT },
    { "missing=null", PREF_MISSING, DBA_MISSING_NULL },
    { "handling=strict", PREF_HANDLING, 1 },
    { "handling=lenient", PREF_HANDLING, 0 },
    { "tx=commit", PREF_TX, 0 },
    { "tx=rollback", PREF_TX, 1 },
};

/* Which fields were set already, so that the first token of each kind wins. */
struct pref_seen {
    bool field[PREF_TX + 1]; /* by enum pref_field */
    bool max_affected;       /* max-affected= given */
    bool timezone;           /* timezone= given */
};

static void
pref_store(struct dba_prefer *p, enum pref_field f, int v)
{
    switch (f) {
    case PREF_RET: p->ret = (enum dba_ret)v; break;
    case PREF_COUNT: p->count = (enum dba_count)v; break;
    case PREF_RESOLUTION: p->resolution = (enum dba_resolution)v; break;
    case PREF_MISSING: p->missing = (enum dba_missing)v; break;
    case PREF_HANDLING:
        p->handling_strict = v == 1;
        p->set_handling = true;
        break;
    case PREF_TX: p->tx = v ? "rollback" : "commit"; break;
    }
}

/* max-affected=N (digits only) and timezone=X (anything non-empty); false if neither. */
static bool
pref_valued(struct dba_arena *a, struct dba_prefer *p, struct pref_seen *seen, const char *tok)
{
    if (strncmp(tok, "max-affected=", 13) == 0 && tok[13]) {
        const char *d = tok + 13;
        char *end;
        long n;

        if (strspn(d, "0123456789") != strlen(d) || strlen(d) > 18)
            return false;
        n = strtol(d, &end, 10);
        if (!seen->max_affected)
            p->max_affected = n;
        seen->max_affected = true;
        return true;
    }
    if (strncmp(tok, "timezone=", 9) == 0 && tok[9]) {
        if (!seen->timezone)
            p->timezone = dba_arena_strdup(a, tok + 9);
        seen->timezone = true;
        return true;
    }
    return false;
}

static void
pref_token(struct dba_arena *a, struct dba_prefer *p, struct pref_seen *seen, const char *tok,
           size_t *cap)
{
    for (size_t i = 0; i < DBA_ARRAY_LEN(pref_tokens); i++) {
        if (strcmp(tok, pref_tokens[i].token) != 0)
            continue;
        if (!seen->field[pref_tokens[i].field])
            pref_store(p, pref_tokens[i].field, pref_tokens[i].value);
        seen->field[pref_tokens[i].field] = true;
        return;
    }
    if (pref_valued(a, p, seen, tok))
        return;
    *GRAM_PUSH(a, p->invalid, p->n_invalid, *cap) = dba_arena_strdup(a, tok);
}

void
dba_http_grammar_prefer(struct dba_arena *a, const char *prefer, struct dba_prefer *p)
{
    struct pref_seen seen;
    size_t cap = 0;
    const char *s = prefer;

    memset(p, 0, sizeof(*p));
    memset(&seen, 0, sizeof(seen));
    p->max_affected = -1;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        const char *b = s, *e = s + n;

        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b)
            pref_token(a, p, &seen, dba_arena_strndup(a, b, (size_t)(e - b)), &cap);
        s += n;
        if (*s == ',')
            s++;
    }
}
