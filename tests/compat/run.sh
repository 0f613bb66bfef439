#!/usr/bin/env bash
# Run the postgrest-js compatibility test (compat.mjs) against a db-adapter binary.
#
# Usage:
#   DBA_TEST_DATABASE_URL=postgresql:///dba_test?host=... tests/compat/run.sh BIN
#
# Run by CTest as test `compat` (after fixture pg_up loaded tests/fixtures/schema.sql).
# Installs the pinned client with `npm ci` when node_modules is missing, loads setup.sql (roles
# compat_anon, compat_user, compat_service, the login role compat_authenticator, table
# compat_notes under row-level security; compat_authors and compat_books for embedding) with psql as the URL's user, starts `BIN serve` on a
# free 127.0.0.1 port connected as compat_authenticator with an auth group (a test HS256 secret,
# anon_role compat_anon), mints the tokens compat.mjs uses with `BIN token` (COMPAT_ANON_KEY,
# COMPAT_SERVICE_KEY, COMPAT_ALICE, COMPAT_BOB, COMPAT_EXPIRED), waits for /healthz (20 s), runs
# `node compat.mjs PORT` and typed.sh (the client generated from /openapi.json, type-checked with
# tsc, a misspelled copy must fail), then stops the server and drops the tables setup.sql made. With
# COMPAT_VIA_URL (a URL like DBA_TEST_DATABASE_URL's, e.g. a transaction-mode PgBouncer) the
# server's pool connects there with prepared_statements = false, its schema keeper directly. Fails when compat.mjs
# fails, or when the server does not start, exits badly or reports a sanitizer error.
set -euo pipefail

BIN=${1:-}
HERE=$(cd "$(dirname "$0")" && pwd -P)

die() {
    echo "compat/run.sh: $*" >&2
    exit 1
}

[[ -n "$BIN" ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[[ -x "$BIN" ]] || die "$BIN is not an executable"
BIN=$(cd "$(dirname "$BIN")" && pwd -P)/$(basename "$BIN")
[[ -n "${DBA_TEST_DATABASE_URL:-}" ]] || die "DBA_TEST_DATABASE_URL is not set"
command -v node >/dev/null || die "node is not installed"
command -v psql >/dev/null || die "psql is not installed"
# The server connects as compat_authenticator (the URL's user replaced, or added).
as_authenticator() {
    case "$1" in
        *user=postgres*) echo "${1/user=postgres/user=compat_authenticator}" ;;
        *\?*) echo "$1&user=compat_authenticator" ;;
        *) echo "$1?user=compat_authenticator" ;;
    esac
}
SERVER_URL=$(as_authenticator "$DBA_TEST_DATABASE_URL")
# COMPAT_VIA_URL: the server's pool goes through this URL instead (a transaction-mode PgBouncer,
# CTest test compat_pgbouncer): prepared_statements = false, the schema keeper on the direct URL.
DIRECT_URL=$SERVER_URL
if [[ -n "${COMPAT_VIA_URL:-}" ]]; then
    SERVER_URL=$(as_authenticator "$COMPAT_VIA_URL")
fi

cd "$HERE"
if [[ ! -d node_modules/@supabase/postgrest-js || ! -d node_modules/openapi-fetch ]]; then
    npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
fi

PORT=$(node -e '
const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
LOG=$(mktemp /tmp/dba-compat.XXXXXX)
SERVER_PID=""
CONF=""

show_log() {
    echo "---- server log ($LOG) ----" >&2
    tail -n 60 "$LOG" >&2 || true
    echo "----" >&2
}

# Stops the server; sets SERVER_RC to its exit status (143 = ended by SIGTERM, also accepted).
SERVER_RC=0
stop_server() {
    local rc=0
    [[ -n "$SERVER_PID" ]] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    SERVER_PID=""
    SERVER_RC=$rc
}

# shellcheck disable=SC2317  # called from the trap
cleanup() {
    stop_server
    psql -X -q -d "$DBA_TEST_DATABASE_URL" -c 'DROP TABLE IF EXISTS compat_notes, compat_books, compat_authors' >/dev/null 2>&1 || true
    rm -f "$LOG" ${CONF:+"$CONF"}
}
trap cleanup EXIT

psql -X -q -v ON_ERROR_STOP=1 -d "$DBA_TEST_DATABASE_URL" -f "$HERE/setup.sql" >/dev/null ||
    die "cannot load setup.sql"

# Prefer: tx=rollback (postgrest-js .rollback()) is honoured only in an allow-override mode.
CONF=$(mktemp /tmp/dba-compat-conf.XXXXXX)
cat >"$CONF" <<'EOF'
server: { tx_end = "commit-allow-override"; };
auth: { jwt_secret = "compat-test-secret-at-least-32-bytes-long"; anon_role = "compat_anon"; };
EOF
if [[ -n "${COMPAT_VIA_URL:-}" ]]; then
    cat >>"$CONF" <<EOF
default_profile = "compat";
profiles: { compat: { url = "$SERVER_URL"; listen_url = "$DIRECT_URL";
                      prepared_statements = false; }; };
EOF
fi

# Tokens as supabase hands them out: an anon key and a service key (role claims), users' tokens.
token() {
    DATABASE_URL=$SERVER_URL "$BIN" --config "$CONF" token "$@" || die "db-adapter token $* failed"
}
COMPAT_ANON_KEY=$(token --role compat_anon --exp 1h)
COMPAT_SERVICE_KEY=$(token --role compat_service --exp 1h)
COMPAT_ALICE=$(token --role compat_user --claims '{"sub":"alice"}' --exp 1h)
COMPAT_BOB=$(token --role compat_user --claims '{"sub":"bob"}' --exp 1h)
COMPAT_EXPIRED=$(token --role compat_user --claims '{"sub":"alice","exp":1000000000}' --exp 0)
export COMPAT_ANON_KEY COMPAT_SERVICE_KEY COMPAT_ALICE COMPAT_BOB COMPAT_EXPIRED

DATABASE_URL=$SERVER_URL "$BIN" --config "$CONF" serve --port "$PORT" --listen 127.0.0.1 \
    >"$LOG" 2>&1 &
SERVER_PID=$!

ready=0
for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
        ready=1
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if ((!ready)); then
    show_log
    die "server did not answer /healthz on port $PORT within 20 s"
fi

rc=0
node compat.mjs "$PORT" || rc=$?
# The client generated from /openapi.json (typed.sh): as the service role, which may write.
if ((rc == 0)); then
    "$HERE/typed.sh" "$PORT" "$COMPAT_SERVICE_KEY" || rc=$?
fi

stop_server
if [[ "$SERVER_RC" != 0 && "$SERVER_RC" != 143 ]]; then
    show_log
    die "server exited with status $SERVER_RC"
fi
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$LOG"; then
    show_log
    die "sanitizer report in the server log"
fi
((rc == 0)) || show_log
exit "$rc"
