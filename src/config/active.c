/* active.c - choosing the active profile, and the .db-profile lock file. */

/*
 * One resolution order for every command (the Python original used three different ones, see
 * the reference §3.10): --profile, ${PREFIX}DB_PROFILE, .db-profile, default_profile, the only
 * profile. The lock file is the memory of the last successful `connect`.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_int.h"

#define ACTIVE_NAME_MAX 256

static void
active_list(struct dba_buf *b, const struct dba_config *c)
{
    for (size_t i = 0; i < c->n_profiles; i++)
        dba_buf_printf(b, "%s%s", i > 0 ? ", " : "", c->profiles[i].name);
}

static int
active_err_none(const struct dba_config *c, struct dba_err *err)
{
    struct dba_buf var;

    dba_buf_init(&var);
    if (c->env_prefix[0] != '\0')
        dba_buf_printf(&var, "%sDATABASE_URL (or DATABASE_URL)", c->env_prefix);
    else
        dba_buf_puts(&var, "DATABASE_URL");
    dba_err_set(err, DBA_ENOTFOUND, 0, DBA_CONFIG_CODE_PROFILE,
        "no database profile configured");
    if (c->path != NULL)
        dba_err_hint(err, "add a profile to the profiles group of %s, or set %s to a "
            "postgresql:// URL", c->path, var.data);
    else
        dba_err_hint(err, "create %s with a profiles group, or set %s to a postgresql:// URL",
            DBA_CONFIG_DEFAULT_PATH, var.data);
    dba_buf_cleanup(&var);
    return DBA_ENOTFOUND;
}

static int
active_err_unselected(const struct dba_config *c, struct dba_err *err)
{
    struct dba_buf b;

    dba_buf_init(&b);
    active_list(&b, c);
    dba_err_set(err, DBA_ENOTFOUND, 0, DBA_CONFIG_CODE_PROFILE,
        "no active profile: %zu profiles configured (%s) and none selected", c->n_profiles,
        b.data);
    dba_err_hint(err, "pass --profile NAME, set %s=NAME, run 'db-adapter connect --profile NAME' "
        "or set default_profile in the config", c->profile_env_var);
    dba_buf_cleanup(&b);
    return DBA_ENOTFOUND;
}

static int
active_err_unknown(const struct dba_config *c, const char *name, const char *source,
    struct dba_err *err)
{
    struct dba_buf b;

    dba_buf_init(&b);
    active_list(&b, c);
    dba_err_set(err, DBA_ENOTFOUND, 0, DBA_CONFIG_CODE_PROFILE,
        "unknown profile '%s' (from %s); available: %s", name, source, b.data);
    if (strcmp(source, DBA_CONFIG_LOCK_FILE) == 0)
        dba_err_hint(err, "the lock file names a profile that no longer exists; run "
            "'db-adapter connect --profile NAME' or delete %s", DBA_CONFIG_LOCK_FILE);
    dba_buf_cleanup(&b);
    return DBA_ENOTFOUND;
}

/* Copies s trimmed into name; true when s is not blank (a too-long name is cut: then unknown). */
static bool
active_take(char *name, const char *s)
{
    char big[4 * ACTIVE_NAME_MAX];

    if (dba__config_trim(name, ACTIVE_NAME_MAX, s) > 0)
        return true;
    if (dba__config_trim(big, sizeof(big), s) == 0 && (s == NULL || strlen(s) < sizeof(big)))
        return false;
    strncpy(name, s, ACTIVE_NAME_MAX - 1);
    name[ACTIVE_NAME_MAX - 1] = '\0';
    return true;
}

/* Picks the name and its source; false when no step named a profile. */
static bool
active_pick(const struct dba_config *c, const char *cli_profile, char *name, const char **source)
{
    if (active_take(name, cli_profile)) {
        *source = "--profile";
    } else if (active_take(name, getenv(c->profile_env_var))) {
        *source = c->profile_env_var;
    } else if (dba_config_lock_read(name, ACTIVE_NAME_MAX) > 0) {
        *source = DBA_CONFIG_LOCK_FILE;
    } else if (c->default_profile != NULL) {
        strncpy(name, c->default_profile, ACTIVE_NAME_MAX - 1);
        name[ACTIVE_NAME_MAX - 1] = '\0';
        *source = "default_profile";
    } else if (c->n_profiles == 1) {
        strncpy(name, c->profiles[0].name, ACTIVE_NAME_MAX - 1);
        name[ACTIVE_NAME_MAX - 1] = '\0';
        *source = "only profile";
    } else {
        return false;
    }
    return true;
}

int
dba_config_active_profile(const struct dba_config *c, const char *cli_profile,
    const struct dba_profile **out, const char **source, struct dba_err *err)
{
    char name[ACTIVE_NAME_MAX];
    const char *src = NULL;
    const struct dba_profile *p;

    if (c->n_profiles == 0)
        return active_err_none(c, err);
    if (!active_pick(c, cli_profile, name, &src))
        return active_err_unselected(c, err);
    p = dba_config_profile_get(c, name);
    if (p == NULL)
        return active_err_unknown(c, name, src, err);
    if (p->implicit && c->implicit_var != NULL
        && (strcmp(src, "default_profile") == 0 || strcmp(src, "only profile") == 0))
        src = c->implicit_var;
    *out = p;
    if (source != NULL)
        *source = src;
    return DBA_OK;
}

int
dba_config_lock_read(char *buf, size_t n)
{
    char raw[1024];
    size_t len;
    FILE *f;

    if (n == 0)
        return 0;
    buf[0] = '\0';
    f = fopen(DBA_CONFIG_LOCK_FILE, "r");
    if (f == NULL)
        return 0;
    len = fread(raw, 1, sizeof(raw) - 1, f);
    fclose(f);
    raw[len] = '\0';
    if (strlen(raw) != len)
        return 0; /* an embedded NUL: not a name we wrote */
    return (int)dba__config_trim(buf, n, raw);
}

static bool
lock_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) >= ACTIVE_NAME_MAX)
        return false;
    for (const unsigned char *s = (const unsigned char *)name; *s != '\0'; s++)
        if (*s < 0x20 || *s == 0x7f || *s == ' ')
            return false;
    return true;
}

static int
lock_io_err(struct dba_err *err, const char *what, const char *path)
{
    return dba_err_set(err, DBA_EIO, 0, DBA_CONFIG_CODE_PROFILE, "cannot %s %s: %s", what, path,
        strerror(errno));
}

int
dba_config_lock_write(const char *name, struct dba_err *err)
{
    char tmp[64];
    size_t len;
    int fd;

    if (!lock_name_valid(name))
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_PROFILE,
            "invalid profile name for %s", DBA_CONFIG_LOCK_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", DBA_CONFIG_LOCK_FILE, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return lock_io_err(err, "create", tmp);
    len = strlen(name);
    if (write(fd, name, len) != (ssize_t)len || fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return lock_io_err(err, "write", tmp);
    }
    if (close(fd) != 0 || rename(tmp, DBA_CONFIG_LOCK_FILE) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return lock_io_err(err, "write", DBA_CONFIG_LOCK_FILE);
    }
    return DBA_OK;
}

int
dba_config_lock_clear(struct dba_err *err)
{
    if (unlink(DBA_CONFIG_LOCK_FILE) != 0 && errno != ENOENT)
        return lock_io_err(err, "remove", DBA_CONFIG_LOCK_FILE);
    return DBA_OK;
}
