#!/usr/bin/env bash
# Install the Debian packages db-adapter needs to build, test and run its checks, when missing.
#
# Usage:
#   scripts/deps.sh              the build/test set (compiler, cmake, -dev libraries, Criterion,
#                                PostgreSQL 15, Node.js + npm unless `node` is already installed,
#                                wrk, psql, curl, clang for the fuzz build, pgbouncer and
#                                haproxy for the scale tests, PostGIS for the GeoJSON tests)
#   scripts/deps.sh PKG...       the build/test set plus PKG...
#   scripts/deps.sh --only PKG...   only PKG... (e.g. --only podman buildah debootstrap runc)
#
# Does nothing when everything is installed. Runs `apt-get update` only when the package
# lists are missing or stale, or when an install fails. As non-root it uses sudo when there
# is something to install; without sudo it fails and names the missing packages.
set -euo pipefail

BASE=(build-essential cmake pkg-config libmicrohttpd-dev libpq-dev libjansson-dev libconfig-dev
    libpg-query-dev libssl-dev zlib1g-dev libcriterion-dev libcurl4-openssl-dev postgresql-15 postgresql-contrib wrk postgresql-client
    curl prometheus)  # prometheus: promtool checks /metrics in the integration tests
# The scale tests (docs/SCALING.md): a transaction-mode pooler and a load balancer.
BASE+=(pgbouncer haproxy)
# scripts/test builds the libFuzzer target: clang and its sanitizer/fuzzer runtimes.
BASE+=(clang libclang-rt-14-dev)
# The GeoJSON tests (Accept: application/geo+json) and conformance cases 1616-1618: PostGIS 3.
BASE+=(postgresql-15-postgis-3)

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# True when PKG (or, for the metapackage postgresql-client, a versioned client) is installed.
installed() {
    local pkg=$1 alt
    dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' && return 0
    if [[ "$pkg" == postgresql-client ]]; then
        for alt in postgresql-client-15 postgresql-client-16 postgresql-client-17; do
            dpkg-query -W -f='${db:Status-Abbrev}' "$alt" 2>/dev/null | grep -q '^ii' && return 0
        done
    fi
    return 1
}

want=()
case "${1:-}" in
    -h | --help) usage ;;
    --only)
        shift
        [[ $# -gt 0 ]] || usage
        want=("$@")
        ;;
    *)
        want=("${BASE[@]}" "$@")
        # Node may come from elsewhere (NodeSource, nvm): keep it when `node` exists.
        command -v node >/dev/null || want+=(nodejs npm)
        ;;
esac

command -v dpkg-query >/dev/null || { echo "deps.sh: not a Debian system (no dpkg-query)" >&2; exit 1; }

missing=()
for p in "${want[@]}"; do
    installed "$p" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps.sh: all ${#want[@]} packages present"
    exit 0
fi
echo "deps.sh: missing: ${missing[*]}"

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        SUDO=(sudo)
    else
        echo "deps.sh: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
apt_get() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"
}

# Package lists are stale when absent or older than a day.
lists_fresh() {
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null &&
        [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime +0 -print -quit) ]]
}

lists_fresh || apt_get update
if ! apt_get install "${missing[@]}"; then
    echo "deps.sh: install failed; refreshing package lists and retrying" >&2
    apt_get update
    apt_get install "${missing[@]}"
fi
echo "deps.sh: installed ${missing[*]}"
