#!/usr/bin/env bash
# Throwaway haproxy (Debian's package) in front of several `db-adapter serve` processes: for the
# haproxy drill of the scale tests (CTest fixture haproxy) and by hand.
#
# Usage:
#   scripts/haproxy.sh start DIR PORT BACKEND_PORT...
#       Write DIR/haproxy.cfg and start haproxy as a daemon on 127.0.0.1:PORT, balancing round
#       robin over 127.0.0.1:BACKEND_PORT (servers s1, s2, ... in order), each health-checked
#       with GET /readyz every HAPROXY_CHECK_MS (down after 1 failed check, up after 2 good
#       ones). A request whose connection fails, or whose server closes without answering, is
#       sent again to another server (retries 3, redispatch). Every answer carries
#       X-Served-By: <server name>. The stats page (CSV) is on 127.0.0.1:PORT+1 /stats;csv.
#       Restarts when already running. The backends need not be up yet.
#   scripts/haproxy.sh stop DIR
#       Stop it (SIGTERM); succeeds when nothing runs.
#
# Environment:
#   HAPROXY_CHECK_MS=N   health-check interval, default 200
#
# Everything listens on loopback only.
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

set_dir() {
    [[ -n "${1:-}" ]] || usage
    mkdir -p "$1" || die "cannot create $1"
    DIR=$(cd "$1" && pwd -P)
    LOG="$DIR/log"
}

running_pid() {
    local pid
    [[ -s "$DIR/pid" ]] || return 1
    pid=$(head -n 1 "$DIR/pid")
    [[ "$pid" =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q haproxy || return 1
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
    local port=$2 check=${HAPROXY_CHECK_MS:-200} i=0 b
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    [[ "$check" =~ ^[0-9]+$ ]] || die "HAPROXY_CHECK_MS must be a number, got '$check'"
    command -v haproxy >/dev/null || die "haproxy not found (apt-get install haproxy)"
    cmd_stop "$1" >/dev/null 2>&1 || true
    set_dir "$1"
    shift 2
    : >"$LOG"
    {
        cat <<EOF
# Written by scripts/haproxy.sh at each start; edits are lost.
global
    maxconn 1000

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s
    # A connection refused (a process stopped or restarting) or a server connection closed
    # without an answer (a reused keep-alive connection the server was closing) is sent again,
    # to another server: never after any byte of an answer.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend api
    bind 127.0.0.1:$port
    default_backend gateways

backend gateways
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter ${check}ms fastinter ${check}ms downinter ${check}ms fall 1 rise 2
    http-response set-header X-Served-By %s
EOF
        for b in "$@"; do
            [[ "$b" =~ ^[0-9]+$ ]] || die "BACKEND_PORT must be a number, got '$b'"
            i=$((i + 1))
            echo "    server s$i 127.0.0.1:$b check"
        done
        cat <<EOF

listen stats
    bind 127.0.0.1:$((port + 1))
    stats enable
    stats uri /stats
EOF
    } >"$DIR/haproxy.cfg"
    haproxy -c -q -f "$DIR/haproxy.cfg" >>"$LOG" 2>&1 || die "bad configuration $DIR/haproxy.cfg"
    haproxy -D -f "$DIR/haproxy.cfg" -p "$DIR/pid" >>"$LOG" 2>&1 || die "haproxy did not start"
    for _ in $(seq 1 100); do
        running_pid >/dev/null && break
        sleep 0.05
    done
    running_pid >/dev/null || die "haproxy did not start"
    note "started in $DIR (127.0.0.1:$port over $*, stats on $((port + 1)))"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *) usage ;;
esac
