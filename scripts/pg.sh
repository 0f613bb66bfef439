#!/usr/bin/env bash
# Throwaway PostgreSQL 15 for tests, the demo and the checks.
#
# Usage:
#   scripts/pg.sh start DIR [DBNAME [SQLFILE...]]
#       Initialise DIR/data if needed, start the server (socket in DIR/sock, log in DIR/log),
#       then, if DBNAME is given, drop and recreate that database and load each SQLFILE
#       (psql -v ON_ERROR_STOP=1, time zone UTC). When the server already runs it only reloads.
#   scripts/pg.sh stop DIR
#       Fast shutdown; succeeds when nothing is running.
#   scripts/pg.sh url DIR DBNAME
#       Print postgresql:///DBNAME?host=<abs DIR>/sock&user=postgres
#       (with &port=N appended when the server was started with PGPORT_TCP=N).
#
# Environment:
#   PGPORT_TCP=N   also listen on 127.0.0.1:N (the Unix socket then uses port N as well)
#   PG_BIN=DIR     PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#
# As root the server runs as the OS user `postgres` (or a system user `dbapg`, created when
# `postgres` does not exist); otherwise as the calling user. Authentication is `trust`.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PROG=$(basename "$0")

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

DIR=""
LOG=""

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

# ---------------------------------------------------------------- OS user

pg_os_user() {
    if [[ $(id -u) -ne 0 ]]; then
        id -un
    elif getent passwd postgres >/dev/null; then
        echo postgres
    else
        if ! getent passwd dbapg >/dev/null; then
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin dbapg || die "cannot create system user dbapg"
        fi
        echo dbapg
    fi
}

# Run a command as the PostgreSQL OS user, from DIR (the caller's cwd may be unreadable to it).
as_pg() {
    if [[ $(id -u) -ne 0 ]]; then
        (cd "$DIR" && "$@")
    elif command -v runuser >/dev/null; then
        (cd "$DIR" && runuser -u "$PGUSER_OS" -- "$@")
    else
        (cd "$DIR" && su -s /bin/sh "$PGUSER_OS" -c "$(printf '%q ' "$@")")
    fi
}

# ---------------------------------------------------------------- helpers

# True when every directory from $1 up to / can be searched by other users.
searchable_by_others() {
    local p=$1 m
    while [[ -n "$p" && "$p" != / ]]; do
        m=$(stat -c %a "$p") || return 1
        (((8#$m & 1) == 1)) || return 1
        p=$(dirname "$p")
    done
}

set_dir() {
    [[ -n "${1:-}" ]] || usage
    mkdir -p "$1" || die "cannot create $1"
    DIR=$(cd "$1" && pwd -P)
    # As root in a checkout under a private directory (say /root), the PostgreSQL user cannot
    # reach DIR: keep the cluster in /tmp instead and leave symlinks in DIR (data, sock, log),
    # so clients still connect through DIR/sock.
    if [[ $(id -u) -eq 0 ]] && ! searchable_by_others "$(dirname "$DIR")"; then
        local real
        real=/tmp/dba-pg-$(printf %s "$DIR" | md5sum | cut -c1-12)
        mkdir -p "$real" || die "cannot create $real"
        for x in data sock log port; do
            [[ -L "$DIR/$x" || ! -e "$DIR/$x" ]] || die "$DIR/$x exists; remove it or use another DIR"
            ln -sfn "$real/$x" "$DIR/$x"
        done
        DIR=$real
    fi
    LOG="$DIR/log"
}

check_bin() {
    [[ -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/initdb" ]] ||
        die "PostgreSQL 15 binaries not found in $PG_BIN (install postgresql-15 or set PG_BIN)"
    command -v psql >/dev/null || die "psql not found (install postgresql-client)"
}

# The port the server uses (socket and, with PGPORT_TCP, TCP): from the last start, else 5432.
cur_port() {
    if [[ -s "$DIR/port" ]]; then cat "$DIR/port"; else echo 5432; fi
}

want_port() {
    if [[ -n "${PGPORT_TCP:-}" ]]; then
        if ! [[ "$PGPORT_TCP" =~ ^[0-9]+$ ]] || ((PGPORT_TCP < 1 || PGPORT_TCP > 65535)); then
            die "PGPORT_TCP must be a port number, got '$PGPORT_TCP'"
        fi
        echo "$PGPORT_TCP"
    else
        echo 5432
    fi
}

# Make DIR (and everything in it) belong to the PostgreSQL OS user, and check it can get there.
prepare_dir() {
    if [[ $(id -u) -eq 0 && $(stat -c %U "$DIR") != "$PGUSER_OS" ]]; then
        chown -R "$PGUSER_OS:" "$DIR" || die "cannot chown $DIR to $PGUSER_OS"
    fi
    chmod 755 "$DIR"
    as_pg test -w "$DIR" 2>/dev/null ||
        die "user $PGUSER_OS cannot write $DIR (every parent directory must be searchable: 755)"
    as_pg mkdir -p "$DIR/sock"
    as_pg touch "$LOG"
    local sock="$DIR/sock/.s.PGSQL.65535"
    ((${#sock} < 100)) || die "socket path $sock is too long for a Unix socket; use a shorter DIR"
}

running() {
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

# A postmaster.pid whose process is gone (or is not a postgres) is left by a crash or a killed
# container; the server then refuses to start, or pg_ctl believes it runs. Remove it.
clear_stale_pid() {
    local pidfile="$DIR/data/postmaster.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] &&
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q postgres; then
        return 0
    fi
    note "removing stale $pidfile (pid '${pid}' is not a running postgres)"
    rm -f "$pidfile" "$DIR"/sock/.s.PGSQL.* || true
}

init_cluster() {
    [[ -f "$DIR/data/PG_VERSION" ]] && return 0
    rm -rf "$DIR/data"
    note "initdb into $DIR/data (as $PGUSER_OS)"
    local args=(-D "$DIR/data" --auth=trust -U postgres --encoding=UTF8 --no-instructions)
    if ! as_pg "$PG_BIN/initdb" "${args[@]}" --locale=C.UTF-8 >>"$LOG" 2>&1; then
        note "initdb with locale C.UTF-8 failed, retrying with locale C"
        rm -rf "$DIR/data"
        as_pg "$PG_BIN/initdb" "${args[@]}" --locale=C >>"$LOG" 2>&1 || die "initdb failed"
    fi
    echo "include_if_exists = 'dba.conf'" | as_pg tee -a "$DIR/data/postgresql.conf" >/dev/null
}

# Settings are regenerated at each start; returns 1 when they changed (a restart is needed).
write_conf() {
    local port=$1 listen="''" new old=""
    [[ -n "${PGPORT_TCP:-}" ]] && listen="'127.0.0.1'"
    new=$(cat <<EOF
# Written by scripts/pg.sh at each start; edits are lost.
listen_addresses = $listen
port = $port
unix_socket_directories = '$DIR/sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
lc_messages = 'C'
EOF
)
    [[ "$(cur_port)" == "$port" && -s "$DIR/port" ]] || echo "$port" | as_pg tee "$DIR/port" >/dev/null
    [[ -f "$DIR/data/dba.conf" ]] && old=$(cat "$DIR/data/dba.conf")
    [[ "$new" == "$old" ]] && return 0
    printf '%s\n' "$new" | as_pg tee "$DIR/data/dba.conf" >/dev/null
    return 1
}

psql_admin() {
    PGTZ=UTC psql -X -q -v ON_ERROR_STOP=1 -h "$DIR/sock" -p "$(cur_port)" -U postgres "$@"
}

load_db() {
    local db=$1 f
    shift
    psql_admin -d postgres -v db="$db" >>"$LOG" 2>&1 <<'EOF' || die "cannot recreate database $db"
SET client_min_messages = warning;
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
CREATE DATABASE :"db";
EOF
    for f in "$@"; do
        [[ -r "$f" ]] || die "cannot read SQL file $f"
        local out
        if ! out=$(psql_admin -d "$db" -f "$f" 2>&1); then
            printf '%s\n' "$out" >&2
            die "loading $f into $db failed"
        fi
        note "loaded $f into $db"
    done
}

# ---------------------------------------------------------------- commands

cmd_start() {
    set_dir "${1:-}"
    shift
    check_bin
    PGUSER_OS=$(pg_os_user)
    prepare_dir
    init_cluster
    clear_stale_pid
    local port changed=0
    port=$(want_port)
    write_conf "$port" || changed=1
    if running; then
        if ((changed)); then
            note "settings changed, restarting"
            as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >>"$LOG" 2>&1 ||
                die "cannot stop the running server to apply new settings"
        else
            note "already running in $DIR"
        fi
    fi
    if ! running; then
        as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$LOG" -w -t 60 start >/dev/null 2>&1 ||
            die "server in $DIR did not start"
        note "started in $DIR (port $port$([[ -n "${PGPORT_TCP:-}" ]] && echo ", tcp 127.0.0.1:$port"))"
    fi
    psql_admin -d postgres -c 'SELECT 1' >/dev/null 2>&1 || die "server in $DIR does not answer"
    if [[ $# -gt 0 ]]; then
        [[ -n "$1" ]] || die "empty database name"
        load_db "$@"
    fi
}

cmd_stop() {
    [[ -n "${1:-}" ]] || usage
    if [[ ! -f "$1/data/PG_VERSION" ]]; then
        return 0
    fi
    set_dir "$1"
    check_bin
    PGUSER_OS=$(stat -c %U "$DIR/data")
    [[ $(id -u) -eq 0 ]] || PGUSER_OS=$(id -un)
    clear_stale_pid
    running || return 0
    if ! as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >>"$LOG" 2>&1; then
        note "fast stop failed, trying immediate"
        as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w -t 30 stop >>"$LOG" 2>&1 ||
            die "cannot stop the server in $DIR"
    fi
    note "stopped $DIR"
}

cmd_url() {
    [[ -n "${1:-}" && -n "${2:-}" ]] || usage
    local d port
    d=$(realpath -m "$1")
    DIR=$d
    port=$(cur_port)
    if [[ "$port" == 5432 ]]; then
        echo "postgresql:///$2?host=$d/sock&user=postgres"
    else
        echo "postgresql:///$2?host=$d/sock&user=postgres&port=$port"
    fi
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    url) shift; cmd_url "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
