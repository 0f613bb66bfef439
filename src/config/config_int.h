/* config_int.h - declarations shared by the files of the config module only. */
#ifndef DBA_CONFIG_INT_H
#define DBA_CONFIG_INT_H

#include <libconfig.h>

#include "config/config.h"

/*
 * Typed readers for one member `key` of group g. An absent member leaves *out as it was (the
 * default) and returns DBA_OK; a member of the wrong type or out of range fails with DBA_EINVAL and
 * a "<file>:<line>: <key>: ..." message.
 */
int dba__config_read_string(const struct dba_config *c, const config_setting_t *g, const char *key,
    char **out, struct dba_err *err);
int dba__config_read_int(const struct dba_config *c, const config_setting_t *g, const char *key,
    int64_t min, int64_t max, int64_t *out, struct dba_err *err);
int dba__config_read_bool(const struct dba_config *c, const config_setting_t *g, const char *key,
    bool *out, struct dba_err *err);
/* Reads an array or list of strings; the old contents of *out are freed only on success. */
int dba__config_read_strv(const struct dba_config *c, const config_setting_t *g, const char *key,
    bool allow_empty, struct dba_config_strv *out, struct dba_err *err);

/* Sets *out to a strv holding the given strings (copied). */
void dba__config_strv_set(struct dba_config_strv *out, const char *const *v, size_t n);
void dba__config_strv_cleanup(struct dba_config_strv *s);

/* Parses the `profiles` group (may be NULL) into c->profiles. Needs c->server loaded first. */
int dba__config_profiles_parse(struct dba_config *c, const config_setting_t *profiles,
    struct dba_err *err);
/* Frees the members of one profile. */
void dba__config_profile_cleanup(struct dba_profile *p);
/* Appends the implicit profile "default" for url, read from env var var; DBA_EINVAL when the url
 * does not parse. */
int dba__config_profile_add_implicit(struct dba_config *c, const char *var, const char *url,
    struct dba_err *err);

/* Parses the `backup` and `sync` groups of root into c->backup and c->sync (backup.c). */
int dba__config_backup_parse(struct dba_config *c, const config_setting_t *root,
    struct dba_err *err);
void dba__config_backup_cleanup(struct dba_config *c);

/* config/auth.c: the top-level `auth` group of root into c->auth; a profile's group g (may be
   NULL) merged over it into p->auth; cleanups. */
int dba__config_auth_parse(struct dba_config *c, const config_setting_t *root,
    struct dba_err *err);
int dba__config_auth_profile(const struct dba_config *c, const config_setting_t *g,
    struct dba_profile *p, struct dba_err *err);
void dba__config_auth_cleanup(struct dba_config_auth *a);

/* Whether name is in the NULL-terminated list allowed. */
bool dba__config_key_allowed(const char *name, const char *const *allowed);
/* Sets err's hint to "known keys: a, b, ...". */
void dba__config_keys_hint(struct dba_err *err, const char *const *allowed);

/* Copies s into buf (size n, n > 0) without surrounding whitespace; returns the length, or 0 when
 * s is NULL, blank or does not fit. */
size_t dba__config_trim(char *buf, size_t n, const char *s);

/*
 * The one description of the configuration keys (config/keys.c). It drives the allowed-key lists
 * and the typed reading of the file, the environment mapping (DBA_<GROUP>_<KEY>,
 * DBA_PROFILE_<NAME>_<KEY>, config/env.c) and `db-adapter config` (cli/cmd_config.c).
 */
enum dba__cfg_scope {
    DBA_CFGS_TOP,     /* top-level scalar: default_profile, env_prefix */
    DBA_CFGS_SERVER,  /* server.* */
    DBA_CFGS_SCHEMA,  /* schema.* */
    DBA_CFGS_ADMIN,   /* admin.* */
    DBA_CFGS_AUTH,    /* auth.* (top level, or a profile's auth group) */
    DBA_CFGS_PROFILE, /* profiles.<name>.* */
    DBA_CFGS_BACKUP,  /* backup.* (scalars only; backup.tables is file-only) */
    DBA_CFGS_SYNC,    /* sync.* */
};
enum dba__cfg_type {
    DBA_CFGT_STR,   /* char * */
    DBA_CFGT_INT,   /* int */
    DBA_CFGT_INT64, /* int64_t */
    DBA_CFGT_BOOL,  /* bool */
    DBA_CFGT_STRV,  /* struct dba_config_strv; comma-separated in the environment */
    DBA_CFGT_ENUM,  /* int-sized enum, stored as the index in names */
};
#define DBA_CFGF_SECRET 1u   /* value masked in `config` output */
#define DBA_CFGF_RUNTIME 2u  /* SIGHUP applies a change without a restart */
#define DBA_CFGF_MANUAL 4u   /* read by its module's own code, not the generic reader */
#define DBA_CFGF_EMPTY_OK 8u /* a list that may be empty */
struct dba__cfg_key {
    enum dba__cfg_scope scope;
    const char *name;         /* key inside its group */
    enum dba__cfg_type type;
    size_t off;               /* offset in struct dba_config (TOP, SERVER, SCHEMA, ADMIN, BACKUP,
                                 SYNC), struct dba_config_auth (AUTH) or struct dba_profile */
    int64_t min, max;         /* INT, INT64 bounds */
    const char *const *names; /* ENUM values, NULL-terminated */
    unsigned flags;           /* DBA_CFGF_* */
    const char *help;         /* one line for `config` and the README */
};
extern const struct dba__cfg_key dba__cfg_keys[];
extern const size_t dba__cfg_n_keys;
/* The group name of a scope ("server", ...; "" for TOP, "profiles" for PROFILE). */
const char *dba__cfg_scope_group(enum dba__cfg_scope s);
/* Fails on a member of g not described for scope (extra: more allowed names, NULL-terminated, or
   NULL). */
int dba__config_keys_check_scope(const struct dba_config *c, const config_setting_t *g,
    enum dba__cfg_scope scope, const char *const *extra, struct dba_err *err);
/* Reads every non-MANUAL key of scope from group g (may be NULL) into base. */
int dba__config_read_scope(const struct dba_config *c, const config_setting_t *g,
    enum dba__cfg_scope scope, void *base, struct dba_err *err);
/* The environment variable for key k: DBA_<GROUP>_<KEY> (profile: DBA_PROFILE_<NAME>_<KEY>,
   profile auth keys DBA_PROFILE_<NAME>_AUTH_<KEY>); profile may be NULL outside profiles. */
void dba__cfg_env_name(struct dba_buf *b, const struct dba__cfg_key *k, const char *profile,
    bool profile_auth);

/* config/env.c: applies PGRST_* variables, then DBA_* variables, then the `--set key=value`
   flags (sets, n_sets) onto the parsed tree c->raw (created empty when there is no file),
   recording c->origins. Errors name the variable (DBA_EINVAL). */
int dba__config_overlay(struct dba_config *c, const char *prefix_override,
    const char *const *sets, size_t n_sets, struct dba_err *err);
/* The origin recorded for a dotted key, or NULL (then the file or the default). */
const struct dba_config_origin *dba__config_origin(const struct dba_config *c, const char *key);

#endif
