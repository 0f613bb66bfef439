/* stream.c - backups on standard input/output and gzip-compressed (zlib) files. A backup read
   from standard input or from a .gz file is first spooled (decompressed) into a temporary file,
   so the readers keep their file paths and memory stays flat whatever the size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "backup/backup_int.h"

bool
dba_backup_path_gz(const char *path)
{
    size_t n = path != NULL ? strlen(path) : 0;
    return n > 3 && strcmp(path + n - 3, ".gz") == 0;
}

bool
dba_backup_path_spooled(const char *path)
{
    return path != NULL && (strcmp(path, "-") == 0 || dba_backup_path_gz(path));
}

char *
dba_backup_spool(const char *path, struct dba_err *err)
{
    bool in = strcmp(path, "-") == 0;
    const char *name = in ? "standard input" : path;
    int src = in ? dup(0) : -1;
    gzFile gz = in ? (src >= 0 ? gzdopen(src, "rb") : NULL) : gzopen(path, "rb");
    if (gz == NULL) {
        if (src >= 0)
            close(src);
        dba_err_set(err, DBA_EIO, 400, DBA_BACKUP_CODE, "Backup file not found: %s", name);
        return NULL;
    }
    gzbuffer(gz, 1u << 17);
    const char *dir = getenv("TMPDIR");
    size_t n = strlen(dir != NULL && dir[0] != '\0' ? dir : "/tmp") + 32;
    char *tmp = dba_xmalloc(n);
    snprintf(tmp, n, "%s/dba-backup-XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        dba_err_set(err, DBA_EIO, 500, DBA_BACKUP_CODE, "cannot create a temporary file: %s",
                    strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        gzclose(gz);
        free(tmp);
        return NULL;
    }
    char *buf = dba_xmalloc(1u << 17);
    int got;
    bool ok = true;
    while ((got = gzread(gz, buf, 1u << 17)) > 0)
        ok = ok && fwrite(buf, 1, (size_t)got, f) == (size_t)got;
    int zerr = Z_OK;
    if (got < 0)
        (void)gzerror(gz, &zerr);
    free(buf);
    gzclose(gz);
    ok = fclose(f) == 0 && ok;
    if (got < 0 || !ok) {
        dba_err_set(err, got < 0 ? DBA_EINVAL : DBA_EIO, 400, DBA_BACKUP_CODE,
                    got < 0 ? "cannot read %s: not a well-formed gzip stream"
                            : "cannot spool %s into a temporary file", name);
        unlink(tmp);
        free(tmp);
        return NULL;
    }
    return tmp;
}

/* dba_backup_dump_file's writer for .gz files (the HTTP route's too). */
int
dba_backup_write_gz(void *arg, const char *p, size_t n)
{
    while (n > 0) {
        unsigned k = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        if (gzwrite(arg, p, k) != (int)k)
            return -1;
        p += k;
        n -= k;
    }
    return 0;
}
