#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for fleet-spin-up: initdb into a temp dir, listen on 127.0.0.1:<free port>, the
# Supabase-like platform fixture (tests/platform-fixture) and Fleet's migrations (migrations/postgres) applied,
# as tests/test-support does. Prints `export` lines (PGDIR, PGPORT, FLEET_PG_URL, FLEET_PG_ADMIN_URL) to eval.
#
#   eval "$(tests/spin-up/pg-throwaway.sh start)"     # ... then later:
#   tests/spin-up/pg-throwaway.sh stop "$PGDIR"
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
PASSWORD="fleet-spin-up"

as_owner() { # PostgreSQL refuses to run as root
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    dir="$(mktemp -d /tmp/fleet-spin-up-pg.XXXXXX)"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    echo "$PASSWORD" > "$dir/pwfile"
    mkdir -p "$dir/socket"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    as_owner "$BIN/initdb" -D "$dir/data" -U supabase_admin -E UTF8 --locale=C --no-sync \
        --auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/pwfile" >"$dir/initdb.log" 2>&1
    as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w start -o \
        "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" >/dev/null
    export PGOPTIONS="-c client_min_messages=error"
    admin="postgres://supabase_admin:$PASSWORD@127.0.0.1:$port"
    psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$admin/$1" "${@:2}"; }
    psql_admin postgres -f "$ROOT/tests/platform-fixture/roles.sql" >/dev/null
    psql_admin postgres -c "ALTER ROLE postgres PASSWORD '$PASSWORD'" >/dev/null
    psql_admin postgres -c "CREATE DATABASE fleet OWNER postgres" >/dev/null
    psql_admin fleet -f "$ROOT/tests/platform-fixture/supabase.sql" >/dev/null
    url="postgres://postgres:$PASSWORD@127.0.0.1:$port/fleet"
    psql -X -q -v ON_ERROR_STOP=1 "$url" -f "$ROOT/tests/platform-fixture/platform.sql" >/dev/null
    for m in "$ROOT"/migrations/postgres/*.sql; do
        psql -X -q -v ON_ERROR_STOP=1 --single-transaction "$url" -f "$m" >/dev/null
    done
    echo "export PGDIR=$dir PGPORT=$port FLEET_PG_URL=$url FLEET_PG_ADMIN_URL=$admin/fleet"
    ;;
stop)
    dir="${2:?usage: $0 stop <PGDIR>}"
    as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start | stop <PGDIR>" >&2
    exit 2
    ;;
esac
