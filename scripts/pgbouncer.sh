#!/usr/bin/env bash
# Throwaway PgBouncer (Debian's package) in transaction pooling mode, in front of a PostgreSQL
# started by scripts/pg.sh: for the tests (CTest fixture pgbouncer), the checks and bench/scale.
#
# Usage:
#   scripts/pgbouncer.sh start DIR PORT PGDIR [PGPORT]
#       Write DIR/pgbouncer.ini and start PgBouncer as a daemon: Unix socket DIR/sock/.s.PGSQL.PORT
#       (and 127.0.0.1:PORT when PGBOUNCER_TCP=1), every database forwarded to the server whose
#       socket is PGDIR/sock (port PGPORT, default 5432), pool_mode = transaction, auth trust
#       (the server's own trust does the rest). Restarts when already running.
#   scripts/pgbouncer.sh stop DIR
#       Stop it (SIGTERM: immediate); succeeds when nothing runs.
#   scripts/pgbouncer.sh url DIR PORT DBNAME [USER]
#       Print postgresql:///DBNAME?host=<abs DIR>/sock&port=PORT&user=USER (default postgres).
#
# Environment:
#   PGBOUNCER_TCP=1           also listen on 127.0.0.1:PORT
#   PGBOUNCER_POOL_SIZE=N     server connections per (database, user), default 4 (fewer than a
#                             gateway's pool: transactions of different clients share them)
#   PGBOUNCER_USERS="a b"     the users allowed in (auth_file), default
#                             "postgres compat_authenticator"
#   PGBOUNCER_MODE=M          pool_mode, default transaction
#
# As root PgBouncer runs as the same OS user as the PostgreSQL of PGDIR (it refuses root).
set -euo pipefail

PROG=$(basename "$0")
DIR=""
LOG=""

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "$PROG: error: $*" >&2
    if [[ -n "$LOG" && -s "$LOG" ]]; then
        echo "---- last lines of $LOG ----" >&2
        tail -n 30 "$LOG" >&2 || true
        echo "----" >&2
    fi
    exit 1
}

note() {
    echo "$PROG: $*" >&2
}

searchable_by_others() {
    local p=$1 m
    while [[ -n "$p" && "$p" != / ]]; do
        m=$(stat -c %a "$p") || return 1
        (((8#$m & 1) == 1)) || return 1
        p=$(dirname "$p")
    done
}

# DIR made absolute; as root under a private directory, the files live in /tmp (symlinked).
set_dir() {
    [[ -n "${1:-}" ]] || usage
    mkdir -p "$1" || die "cannot create $1"
    DIR=$(cd "$1" && pwd -P)
    if [[ $(id -u) -eq 0 ]] && ! searchable_by_others "$(dirname "$DIR")"; then
        local real
        real=/tmp/dba-pgb-$(printf %s "$DIR" | md5sum | cut -c1-12)
        mkdir -p "$real"
        for x in sock log pgbouncer.ini users.txt pid; do
            [[ -L "$DIR/$x" || ! -e "$DIR/$x" ]] || die "$DIR/$x exists; remove it or use another DIR"
            ln -sfn "$real/$x" "$DIR/$x"
        done
        DIR=$real
    fi
    LOG="$DIR/log"
}

as_user() {
    if [[ $(id -u) -ne 0 ]]; then
        (cd "$DIR" && "$@")
    else
        (cd "$DIR" && runuser -u "$OSUSER" -- "$@")
    fi
}

running_pid() {
    local pid
    [[ -s "$DIR/pid" ]] || return 1
    pid=$(cat "$DIR/pid")
    [[ "$pid" =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q pgbouncer || return 1
    echo "$pid"
}

cmd_stop() {
    [[ -n "${1:-}" ]] || usage
    [[ -d "$1" ]] || return 0
    set_dir "$1"
    local pid
    pid=$(running_pid) || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/pid"
    note "stopped $DIR"
}

cmd_start() {
    [[ $# -ge 3 ]] || usage
    local port=$2 pgdir pgport=${4:-5432} users
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    command -v pgbouncer >/dev/null || die "pgbouncer not found (apt-get install pgbouncer)"
    pgdir=$(cd "$3" && pwd -P) || die "cannot reach $3"
    # The socket directory as the server sees it (pg.sh may have moved it to /tmp).
    pgdir=$(readlink -f "$pgdir/sock")
    [[ -S "$pgdir/.s.PGSQL.$pgport" ]] || die "no PostgreSQL socket $pgdir/.s.PGSQL.$pgport"
    cmd_stop "$1" >/dev/null 2>&1 || true
    set_dir "$1"
    OSUSER=$(id -un)
    [[ $(id -u) -eq 0 ]] && OSUSER=$(stat -c %U "$pgdir")
    mkdir -p "$DIR/sock"
    : >"$LOG"
    users=${PGBOUNCER_USERS:-postgres compat_authenticator}
    : >"$DIR/users.txt"
    for u in $users; do
        printf '"%s" ""\n' "$u" >>"$DIR/users.txt"
    done
    cat >"$DIR/pgbouncer.ini" <<EOF
; Written by scripts/pgbouncer.sh at each start; edits are lost.
[databases]
* = host=$pgdir port=$pgport

[pgbouncer]
listen_addr = $([[ "${PGBOUNCER_TCP:-}" == 1 ]] && echo 127.0.0.1)
listen_port = $port
unix_socket_dir = $DIR/sock
pool_mode = ${PGBOUNCER_MODE:-transaction}
auth_type = trust
auth_file = $DIR/users.txt
admin_users = postgres
stats_users = postgres
default_pool_size = ${PGBOUNCER_POOL_SIZE:-4}
max_client_conn = 500
server_reset_query =
logfile = $LOG
pidfile = $DIR/pid
EOF
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$OSUSER:" "$DIR"
    fi
    as_user pgbouncer -d -q "$DIR/pgbouncer.ini" >>"$LOG" 2>&1 || die "pgbouncer did not start"
    for _ in $(seq 1 100); do
        [[ -S "$DIR/sock/.s.PGSQL.$port" ]] && running_pid >/dev/null && break
        sleep 0.05
    done
    running_pid >/dev/null || die "pgbouncer did not start"
    psql -X -q -h "$DIR/sock" -p "$port" -U postgres -d pgbouncer -c 'SHOW VERSION' >/dev/null 2>&1 ||
        die "pgbouncer in $DIR does not answer"
    note "started in $DIR (port $port$([[ "${PGBOUNCER_TCP:-}" == 1 ]] && echo ", tcp 127.0.0.1:$port"), pool_mode ${PGBOUNCER_MODE:-transaction})"
}

cmd_url() {
    [[ $# -ge 3 ]] || usage
    local d
    d=$(realpath -m "$1")
    echo "postgresql:///$3?host=$d/sock&port=$2&user=${4:-postgres}"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    url) shift; cmd_url "$@" ;;
    *) usage ;;
esac
