# Sourced by scripts/pg-test-server.sh and scripts/pg-tls-test-server.sh (not run on its own): a throw-away
# PostgreSQL cluster on 127.0.0.1. When run as root, the server runs as the system user `avxpg` (created here if
# missing), because initdb refuses to run as root. The caller defines `die MESSAGE`.

PGUSER_OS=avxpg

# Runs a command as the server's user: ourselves, or $PGUSER_OS when we are root.
as_server() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u "$PGUSER_OS" -- "$@"
    else
        "$@"
    fi
}

# new_cluster BIN PREFIX PASSWORD [PREPARE]: makes a data directory ${TMPDIR:-/tmp}/PREFIX.XXXXXX (set in $DATA),
# runs PREPARE DATA if given (e.g. to make certificates there), then initdb into $DATA/db with user `postgres`,
# password authentication on TCP and trust on the cluster's own socket directory.
new_cluster() {
    local bin=$1 prefix=$2 password=$3 prepare=${4:-}
    if [[ $(id -u) -eq 0 ]] && ! id "$PGUSER_OS" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_OS" 2>/dev/null ||
            id "$PGUSER_OS" >/dev/null 2>&1 || die "cannot create the system user $PGUSER_OS (initdb refuses root)"
    fi
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/$prefix.XXXXXX")
    chmod 755 "$DATA"
    mkdir "$DATA/db"
    if [[ -n "$prepare" ]]; then
        "$prepare" "$DATA"
    fi
    printf '%s\n' "$password" >"$DATA/pwfile"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$PGUSER_OS" "$DATA"
    fi
    as_server "$bin/initdb" -D "$DATA/db" -U postgres --pwfile="$DATA/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync -E UTF8 --locale=C >"$DATA/initdb.log" 2>&1 ||
        die "initdb failed: $(tail -n 5 "$DATA/initdb.log")"
    rm -f "$DATA/pwfile"
}

# start_cluster BIN PORT OWNER_PID OPTIONS: starts the cluster in $DATA listening on 127.0.0.1:PORT only (its
# socket in $DATA/db), with the server OPTIONS (`-c name=value ...`); a watcher stops it and deletes $DATA when
# OWNER_PID exits, however it exits. Prints $DATA.
start_cluster() {
    local bin=$1 port=$2 owner=$3 opts=$4
    as_server "$bin/pg_ctl" -D "$DATA/db" -l "$DATA/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $DATA/db $opts" \
        start >/dev/null 2>&1 || die "the server did not start: $(tail -n 5 "$DATA/server.log" 2>/dev/null)"
    local data=$DATA
    (
        while kill -0 "$owner" 2>/dev/null; do sleep 1; done
        as_server "$bin/pg_ctl" -D "$data/db" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$data"
    ) </dev/null >/dev/null 2>&1 &
    disown
    echo "$DATA"
}
