#!/usr/bin/env bash
# The generated-client check, run by run.sh against its running server:
#   tests/compat/typed.sh PORT TOKEN
# Fetches /openapi.json (as the token's role), lints it with @redocly/cli's recommended rules
# (any error or warning fails), generates TypeScript types with openapi-typescript, type-checks
# typed/client.ts (openapi-fetch) with tsc --noEmit and runs it (a filtered, ordered read, an
# insert with Prefer: return=representation, a function call), then checks that a copy with a
# misspelled column name FAILS the type check. Every tool is pinned in package.json and runs
# from node_modules (offline after `npm ci`).
set -euo pipefail

PORT=$1
TOKEN=$2
HERE=$(cd "$(dirname "$0")" && pwd -P)
T=$HERE/typed
BIN=$HERE/node_modules/.bin

fail() {
    echo "typed.sh: FAIL $*" >&2
    exit 1
}

rm -rf "$T/gen" "$T/out" "$T/misspelled"
mkdir -p "$T/gen" "$T/misspelled"
curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/openapi.json" \
    >"$T/gen/openapi.json" || fail "GET /openapi.json"

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
lint=$("$BIN/redocly" lint "$T/gen/openapi.json" --format=summary 2>&1) ||
    { echo "$lint" >&2; fail "redocly lint found errors"; }
if grep -qE '^(warning|error) ' <<<"$lint"; then
    echo "$lint" >&2
    fail "redocly lint found warnings"
fi
echo "typed.sh: ok redocly lint (recommended rules): no errors, no warnings"

"$BIN/openapi-typescript" "$T/gen/openapi.json" -o "$T/gen/api.d.ts" >/dev/null 2>&1 ||
    fail "openapi-typescript"
(cd "$T" && "$BIN/tsc" --noEmit -p tsconfig.json) || fail "tsc --noEmit on typed/client.ts"
echo "typed.sh: ok tsc --noEmit typed/client.ts"
(cd "$T" && "$BIN/tsc" -p tsconfig.json) || fail "tsc typed/client.ts"
node "$T/out/client.js" "$PORT" "$TOKEN" || fail "typed/client.ts against the server"

sed 's/category/categroy/g' "$T/client.ts" >"$T/misspelled/client.ts"
cp "$T/tsconfig.json" "$T/misspelled/tsconfig.json"
ln -s ../gen "$T/misspelled/gen"
if out=$(cd "$T/misspelled" && "$BIN/tsc" --noEmit -p tsconfig.json 2>&1); then
    fail "a misspelled column (categroy) passed the type check"
fi
grep -q "categroy" <<<"$out" || { echo "$out" >&2; fail "tsc failed, but not on the misspelled column"; }
echo "typed.sh: ok the misspelled copy fails tsc ($(grep -c 'error TS' <<<"$out") tsc error line(s) naming categroy)"
rm -rf "$T/out" "$T/misspelled"
