/* grammar_int.h - declarations shared by the grammar_*.c files (the PostgREST grammar parser). */
#ifndef DBA_HTTP_GRAMMAR_INT_H
#define DBA_HTTP_GRAMMAR_INT_H

#include "http/grammar.h"

/* Error details mimic Parsec, which PostgREST uses: the error at the furthest position wins,
   errors at the same position are merged ("unexpected X expecting A, B or C"), and consuming
   input forgets the errors collected before. These are the labels PostgREST attaches. */
#define GRAM_L_FIELD "field name (* or [a..z0..9_$])"
#define GRAM_L_JSONKEY "any non reserved character different from: .,>()"
#define GRAM_L_OPERATOR "operator (eq, gt, ...)"
#define GRAM_L_ISVAL "isVal: (null, not_null, true, false, unknown)"
#define GRAM_L_DELIM "delimiter (.)"
#define GRAM_L_EOF "end of input"
#define GRAM_MAX_EXPECT 16
#define GRAM_MAX_DEPTH 64
/* Longest JSON path (`->` / `->>` steps) in one field: far beyond any real document, well below
   what makes PostgreSQL's parser run out of stack (issue 8: 5,000 steps gave a 500). */
#define GRAM_MAX_JSON_PATH 100

/* Appends a zeroed element to an arena array arr of n elements and capacity cap; yields it. */
#define GRAM_PUSH(a, arr, n, cap) \
    ((arr) = dba__http_grammar_grow((a), (arr), (n), &(cap), sizeof(*(arr))), &(arr)[(n)++])

/* How an unexpected token is shown: Parsec's satisfy/string show a string ("x"), while
   notFollowedBy/eof show a character ('x') and take precedence in the message. */
enum gram_tok {
    GRAM_TOK_SYS, /* "x" */
    GRAM_TOK_UN,  /* 'x' */
};

/* The furthest parse error seen so far. */
struct gram_err {
    bool set;                            /* something was recorded */
    size_t pos;                          /* byte offset in the input */
    bool has_sys;                        /* sys holds the first "x" token */
    char sys[24];                        /* shown token; "" means end of input */
    bool has_un;                         /* un holds the first 'x' token */
    char un[24];                         /* shown token */
    const char *expect[GRAM_MAX_EXPECT]; /* static strings, deduplicated, in order */
    size_t n_expect;                     /* count */
};

/* A cursor over one parameter value. */
struct gram_cur {
    struct dba_arena *a; /* allocations */
    const char *s;       /* input, NUL-terminated */
    size_t len;          /* strlen(s) */
    size_t pos;          /* current offset */
    struct gram_err err; /* furthest error */
    int depth;           /* logic tree nesting */
};

/* grammar_lex.c: cursor, errors and the lexemes every parameter shares. */
void dba__http_grammar_cur_init(struct gram_cur *c, struct dba_arena *a, const char *s);
void dba__http_grammar_adv(struct gram_cur *c, size_t to);
void dba__http_grammar_fail(struct gram_cur *c, size_t pos, size_t tokpos, enum gram_tok kind,
                            const char *expect);
void dba__http_grammar_fail_str(struct gram_cur *c, size_t pos, const char *lit,
                                const char *expect);
void dba__http_grammar_err_merge(struct gram_err *first, const struct gram_err *second);
void dba__http_grammar_err_relabel(struct gram_err *e, const char *label);
int dba__http_grammar_raise(const struct gram_cur *c, const char *what, const char *shown,
                            struct dba_err *err);
bool dba__http_grammar_starts(const struct gram_cur *c, size_t pos, const char *lit);
void dba__http_grammar_ws(struct gram_cur *c);
bool dba__http_grammar_quoted(struct gram_cur *c, const char **out);
bool dba__http_grammar_ident(struct gram_cur *c, const char **out);
bool dba__http_grammar_field_name(struct gram_cur *c, const char **out);
bool dba__http_grammar_json_path(struct gram_cur *c, struct dba_field *f);
bool dba__http_grammar_field(struct gram_cur *c, struct dba_field *f);
void *dba__http_grammar_grow(struct dba_arena *a, void *arr, size_t n, size_t *cap, size_t size);

/* grammar_select.c: select= into rel's select items, embedded relations as child nodes. */
int dba__http_grammar_select(struct dba_arena *a, const char *v, struct dba_rel *rel,
                             struct dba_err *err);
int dba__http_grammar_columns(struct dba_arena *a, const char *what, const char *v,
                              const char ***out, size_t *n, struct dba_err *err);

/* grammar_order.c: an order= value into *out / *n (arena). */
int dba__http_grammar_order(struct dba_arena *a, const char *v, struct dba_order_item **out,
                            size_t *n, struct dba_err *err);

/* grammar_filter.c */
bool dba__http_grammar_op_expr(struct gram_cur *c, bool in_logic, struct dba_filter *f);
/* A filter key=value; *path / *n_path get the embedded path of the key (`a.b.col`: a, b). */
int dba__http_grammar_filter(struct dba_arena *a, const char *key, const char *v,
                             struct dba_logic *out, const char ***path, size_t *n_path,
                             struct dba_err *err);
/* The embedded path of an order/limit/offset key (pTreePath: every name but the last). */
int dba__http_grammar_key_path(struct dba_arena *a, const char *key, const char ***path,
                               size_t *n_path, struct dba_err *err);

/* grammar_logic.c */
int dba__http_grammar_logic(struct dba_arena *a, const char *key, const char *v,
                            struct dba_logic *out, const char ***path, size_t *n_path,
                            struct dba_err *err);

/* grammar_body.c */
int dba__http_grammar_body(struct dba_arena *a, const struct dba_http_req_in *in,
                           struct dba_query *q, struct dba_err *err);

#endif
