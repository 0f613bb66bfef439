#!/usr/bin/env bash
# Throwaway streaming replica of a PostgreSQL started by scripts/pg.sh: for the tests (CTest
# fixture replica), the checks and bench/scale.
#
# Usage:
#   scripts/replica.sh start DIR PRIMARY_DIR
#       Stop a replica in DIR if one runs, take a fresh base backup of the server whose socket is
#       PRIMARY_DIR/sock (pg_basebackup -R -X stream: a standby.signal and primary_conninfo as
#       that server's user postgres, trust), then start it with scripts/pg.sh start DIR: a hot
#       standby with its own socket DIR/sock (so the same port number collides with nothing).
#   scripts/replica.sh stop DIR
#       Fast shutdown (scripts/pg.sh stop DIR).
#   scripts/replica.sh url DIR DBNAME
#       As scripts/pg.sh url.
#
# Environment: PGPORT_TCP and PG_BIN as for scripts/pg.sh (PGPORT_TCP then also sets the port
# of DIR/sock); PRIMARY_PORT (default 5432) the primary's port.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd -P)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PROG=$(basename "$0")

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}

searchable_by_others() {
    local p=$1 m
    while [[ -n "$p" && "$p" != / ]]; do
        m=$(stat -c %a "$p") || return 1
        (((8#$m & 1) == 1)) || return 1
        p=$(dirname "$p")
    done
}

cmd_start() {
    [[ $# -eq 2 ]] || usage
    local dir primary sock real osuser pport=${PRIMARY_PORT:-5432}
    mkdir -p "$1"
    dir=$(cd "$1" && pwd -P)
    primary=$(cd "$2" && pwd -P) || die "cannot reach $2"
    sock=$(readlink -f "$primary/sock")
    [[ -S "$sock/.s.PGSQL.$pport" ]] || die "no primary socket $sock/.s.PGSQL.$pport"
    "$HERE/pg.sh" stop "$dir" >/dev/null 2>&1 || true
    # Where scripts/pg.sh keeps the cluster (the same rule as its set_dir).
    real=$dir
    if [[ $(id -u) -eq 0 ]] && ! searchable_by_others "$(dirname "$dir")"; then
        real=/tmp/dba-pg-$(printf %s "$dir" | md5sum | cut -c1-12)
        mkdir -p "$real"
        ln -sfn "$real/data" "$dir/data"
    fi
    osuser=$(id -un)
    [[ $(id -u) -eq 0 ]] && osuser=$(stat -c %U "$sock")
    [[ $(id -u) -eq 0 ]] && chown "$osuser:" "$real"
    chmod 755 "$real"
    rm -rf "$real/data"
    local bb=("$PG_BIN/pg_basebackup" -h "$sock" -p "$pport" -U postgres -D "$real/data" -R
        -X stream -c fast)
    if [[ $(id -u) -eq 0 ]]; then
        (cd "$real" && runuser -u "$osuser" -- "${bb[@]}") || die "pg_basebackup failed"
    else
        (cd "$real" && "${bb[@]}") || die "pg_basebackup failed"
    fi
    # The primary's dba.conf came along (its socket directory): pg.sh writes the replica's own.
    rm -f "$real/data/dba.conf" "$real/data/postmaster.pid"
    "$HERE/pg.sh" start "$dir"
    PGTZ=UTC psql -X -q -At -h "$dir/sock" -p "${PGPORT_TCP:-5432}" -U postgres -d postgres \
        -c 'SELECT pg_is_in_recovery()' | grep -qx t || die "the server in $dir is not a standby"
    echo "$PROG: streaming replica of $primary running in $dir" >&2
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; exec "$HERE/pg.sh" stop "$@" ;;
    url) shift; exec "$HERE/pg.sh" url "$@" ;;
    *) usage ;;
esac
