#!/usr/bin/env bash
# Runs Fleet's spin.toml on fleet-spin-up (Spin's own runtime) and sends it a few requests.
#
#   tests/spin-up/smoke.sh sqlite      # GET /admin (login page), GET /admin/api/... with the token, POST /provision
#   tests/spin-up/smoke.sh postgres    # throwaway PostgreSQL: POST /provision for a user without a subscription
#
# FLEET_SPIN_UP: the binary (default tests/spin-up/target/release/fleet-spin-up).
# FLEET_COMPONENTS_DIR: where provision.wasm, deprovision.wasm, health.wasm, admin.wasm are (default
# target/wasm32-wasip2/release); the manifest is copied with its sources pointing there.
# REQUEST_TIMEOUT: seconds a request may take before it is reported as a hang (default 20).
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MODE="${1:?usage: $0 sqlite|postgres}"
BIN="${FLEET_SPIN_UP:-$ROOT/tests/spin-up/target/release/fleet-spin-up}"
COMPONENTS="${FLEET_COMPONENTS_DIR:-$ROOT/target/wasm32-wasip2/release}"
TIMEOUT="${REQUEST_TIMEOUT:-20}"
WORK="$(mktemp -d /tmp/fleet-spin-up-smoke.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
# Fleet refuses secrets below 32 random bytes: fresh ones per run. The webhooks here use the separate bearer token
# (webhook_bearer_token); the signing key (webhook_secret) is never sent.
SECRET="$(openssl rand -hex 32)"
BEARER="$(openssl rand -hex 32)"
ADMIN_TOKEN="$(openssl rand -hex 32)"
NOBODY="bbbbbbbb-0000-4000-8000-00000000dead" # a user with no subscription row
HOST_PID=""
PGDIR=""

cleanup() {
    [ -n "$HOST_PID" ] && kill "$HOST_PID" 2>/dev/null && wait "$HOST_PID" 2>/dev/null
    [ -n "$PGDIR" ] && "$ROOT/tests/spin-up/pg-throwaway.sh" stop "$PGDIR"
    rm -rf "$WORK"
}
trap cleanup EXIT

for c in provision deprovision health admin; do
    [ -f "$COMPONENTS/$c.wasm" ] || { echo "missing $COMPONENTS/$c.wasm (cargo build --target wasm32-wasip2 --release -p $c)" >&2; exit 2; }
done
sed "s|source = \"target/wasm32-wasip2/release/|source = \"$COMPONENTS/|" "$ROOT/spin.toml" > "$WORK/spin.toml"

export SPIN_VARIABLE_WEBHOOK_SECRET="$SECRET" SPIN_VARIABLE_WEBHOOK_BEARER_TOKEN="$BEARER"
export SPIN_VARIABLE_ADMIN_TOKEN="$ADMIN_TOKEN"
export SPIN_VARIABLE_FLY_API_TOKEN="unused" SPIN_VARIABLE_FLY_IMAGE="registry.fly.io/fleet-screener:smoke"
export SPIN_VARIABLE_FLY_API_ORIGIN="http://127.0.0.1:9" # nothing listens: no request here reaches Fly
export SPIN_VARIABLE_RECONCILE_BUDGET_MS=3000 SPIN_VARIABLE_SWEEP_BUDGET_MS=3000

case "$MODE" in
sqlite)
    for m in "$ROOT"/migrations/sqlite/*.sql; do sqlite3 -bail "$WORK/fleet.db" < "$m" || exit 1; done
    export SPIN_VARIABLE_DATABASE_URL="sqlite://default"
    ;;
postgres)
    eval "$("$ROOT/tests/spin-up/pg-throwaway.sh" start 2>/dev/null)" || exit 1
    export SPIN_VARIABLE_DATABASE_URL="$FLEET_PG_URL" SPIN_VARIABLE_DATABASE_HOST=127.0.0.1 SPIN_VARIABLE_DATABASE_PORT="$PGPORT"
    export SPIN_VARIABLE_SCREENER_DB_HOST=127.0.0.1 # where screeners would log in (unused here)
    ;;
*) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac

started=$(date +%s.%N)
"$BIN" --from "$WORK/spin.toml" --sqlite-db "$WORK/fleet.db" --listen "127.0.0.1:$PORT" >"$WORK/host.log" 2>&1 &
HOST_PID=$!
for _ in $(seq 1 600); do
    curl -s -o /dev/null "$BASE/" && break
    kill -0 "$HOST_PID" 2>/dev/null || { echo "fleet-spin-up exited:"; cat "$WORK/host.log"; exit 1; }
    sleep 0.1
done
echo "fleet-spin-up serving on $BASE after $(python3 -c "print(round($(date +%s.%N) - $started, 1))") s (pid $HOST_PID)"

request() { # name, curl args...
    local name="$1"; shift
    local t0 out rc
    t0=$(date +%s.%N)
    out=$(curl -sS --max-time "$TIMEOUT" -o "$WORK/body" -w '%{http_code}' "$@" 2>&1); rc=$?
    local took; took=$(python3 -c "print(round($(date +%s.%N) - $t0, 2))")
    if [ "$rc" = 28 ]; then
        echo "HANG  $name: no answer within ${TIMEOUT} s"
    elif [ "$rc" != 0 ]; then
        echo "ERROR $name: curl exit $rc: $out"
    else
        echo "$out   $name (${took} s): $(head -c 300 "$WORK/body")"
    fi
}

request "GET /admin" "$BASE/admin"
request "GET /admin/api/summary (Bearer admin_token)" -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/admin/api/summary"
request "GET /nowhere" "$BASE/nowhere"
request "POST /provision, no auth" -X POST -d "{\"user_id\":\"$NOBODY\"}" "$BASE/provision"
request "POST /provision for a user without a subscription" -X POST -H "Authorization: Bearer $BEARER" \
    -H 'Content-Type: application/json' -d "{\"user_id\":\"$NOBODY\"}" "$BASE/provision"
request "POST /health/sweep (empty fleet)" -X POST -H "Authorization: Bearer $BEARER" "$BASE/health/sweep"

if [ "$MODE" = postgres ]; then
    # A Pro user, the platform's way (GoTrue's insert; the platform trigger creates a free subscription, then the
    # upgrade): the reconcile leases the row, calls Fly (unreachable here), records the failure and events.
    PRO="aaaaaaaa-0000-4000-8000-0000000000a1"
    psql -X -q -v ON_ERROR_STOP=1 "$FLEET_PG_ADMIN_URL" >/dev/null <<SQL
INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data,
  raw_user_meta_data, created_at, updated_at) VALUES ('00000000-0000-0000-0000-000000000000', '$PRO', 'authenticated',
  'authenticated', 'pro@example.test', '', now(), '{"provider": "email", "providers": ["email"]}', '{}', now(), now());
UPDATE public.user_subscriptions SET tier = 'pro', status = 'active' WHERE user_id = '$PRO';
SQL
    request "POST /provision for a Pro user (Fly unreachable)" -X POST -H "Authorization: Bearer $BEARER" \
        -H 'Content-Type: application/json' -d "{\"user_id\":\"$PRO\"}" "$BASE/provision"
    request "GET /admin/api/apps/<pro user> (Bearer admin_token)" -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/admin/api/apps/$PRO"
    echo "PostgreSQL backends of the app (pg_stat_activity):"
    psql -X -A -F ' | ' -P footer=off "$FLEET_PG_ADMIN_URL" -c \
        "SELECT pid, state, left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS last_query FROM pg_stat_activity
         WHERE datname = 'fleet' AND usename = 'postgres' ORDER BY backend_start"
fi
echo "host log ($WORK/host.log):"
sed 's/^/  | /' "$WORK/host.log" | tail -20
