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

#endif
