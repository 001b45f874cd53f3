#!/usr/bin/env python3
"""The #3671 workaround, checked in SQL: every statement Fleet runs through SqlConnection::query on Postgres,
rendered as fleet-store renders it, runs plain and wrapped in the sentinel-row CTE (FINDINGS-3671.md); the wrapped
result, sentinel row dropped and marker column removed, must equal the plain one (rows and order), and the wrapped
statement must always return at least one row.

    eval "$(tests/spin-up/pg-throwaway.sh start)"
    python3 tests/spin-up/sentinel_sql_check.py          # seeds users, apps, events, state; checks two users
    tests/spin-up/pg-throwaway.sh stop "$PGDIR"

Each statement runs in a transaction that is rolled back (PREPARE/EXECUTE through psql).
"""
import re, subprocess, sys, os
URL = os.environ["FLEET_PG_URL"]

def render(t):
    out, rest = [], t
    while '{' in rest:
        i = rest.index('{'); out.append(rest[:i]); after = rest[i+1:]
        j = after.find('}')
        tok = after[:j] if j >= 0 else None
        rendered = None
        if tok and ':' in tok:
            kind, arg = tok.split(':', 1)
            casts = {"uuid": "::text::uuid", "ts": "::text::timestamptz", "json": "::text::jsonb", "int": "::int8",
                     "float": "::float8", "text": "::text", "bool": "::bool"}
            alias = arg.split('.')[-1]
            if kind in casts and arg.isdigit(): rendered = f"${arg}{casts[kind]}"
            elif kind == "ts_out": rendered = f"to_char(({arg}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS {alias}"
            elif kind == "text_out": rendered = f"({arg})::text AS {alias}"
            elif kind == "float_out": rendered = f"({arg})::float8 AS {alias}"
            elif kind == "pg_only": rendered = arg
        if rendered is None: out.append('{'); rest = after
        else: out.append(rendered); rest = after[j+1:]
    out.append(rest); return ''.join(out)

def wrap(sql):
    return ("WITH fleet_q AS (" + sql + ") SELECT fleet_r.* FROM (VALUES (0)) AS fleet_s(x) "
            "LEFT JOIN (SELECT true AS fleet_row, * FROM fleet_q) AS fleet_r ON true")

def lit(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"

def run(sql, params):
    script = "BEGIN;\nPREPARE s AS " + sql + ";\nEXECUTE s" + ("(" + ", ".join(lit(p) for p in params) + ")" if params else "") + ";\nROLLBACK;\n"
    r = subprocess.run(["psql", "-X", "-q", "-A", "-F", "|", "-P", "footer=off", "-v", "ON_ERROR_STOP=1", URL],
                       input=script, capture_output=True, text=True)
    if r.returncode != 0: raise RuntimeError(r.stderr)
    lines = r.stdout.strip("\n").split("\n")
    return lines[0], lines[1:]

APP_COLUMNS = ("{text_out:id}, {text_out:user_id}, fly_app_name, fly_org_slug, region, docker_image, cpu_kind, cpu_count, memory_mb, machine_id, launch_id, status, health_status, "
  "{text_out:health_detail}, {ts_out:last_health_check}, secrets_version, db_role_name, {ts_out:deployed_at}, {ts_out:deleted_at}, error_message, retry_count, {ts_out:next_attempt_at}, due_generation, lease_owner, "
  "{ts_out:lease_expires_at}, {float_out:monthly_cost_estimate_usd}, accrued_cost_usd, {ts_out:created_at}, {ts_out:updated_at}")
DUE_AND_FREE = ("((next_attempt_at IS NOT NULL AND next_attempt_at <= {ts:1}) OR (status = 'active' AND (last_health_check IS NULL OR last_health_check < {ts:2})) "
  "OR (next_attempt_at IS NULL AND (status IN ('provisioning', 'deprovisioning', 'error') OR (status <> 'deleted' AND NOT EXISTS (SELECT 1 FROM fleet_entitlements e "
  "WHERE e.user_id = user_fly_apps.user_id AND e.entitled)) OR (status = 'deleted' AND EXISTS (SELECT 1 FROM fleet_entitlements e WHERE e.user_id = user_fly_apps.user_id AND e.entitled))))) "
  "AND (lease_expires_at IS NULL OR lease_expires_at < {ts:1})")
DUE_ORDER = "COALESCE(next_attempt_at, last_health_check, created_at), user_id"

U1, U2, U3 = ("aaaaaaaa-0000-4000-8000-00000000000%d" % i for i in (1, 2, 3))
SEED = [f"""INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
     raw_app_meta_data, raw_user_meta_data, created_at, updated_at) VALUES ('00000000-0000-0000-0000-000000000000',
     '{u}', 'authenticated', 'authenticated', '{u}@example.test', '', now(),
     '{{"provider": "email", "providers": ["email"]}}', '{{}}', now(), now()) ON CONFLICT (id) DO NOTHING""" for u in (U1, U2, U3)]
SEED += [
  f"UPDATE public.user_subscriptions SET tier = 'pro', status = 'active' WHERE user_id IN ('{U1}', '{U3}')",
  f"""INSERT INTO user_fly_apps (user_id, status, fly_app_name, next_attempt_at, due_generation, created_at, updated_at,
      lease_owner) VALUES ('{U2}', 'active', 'fleet-x', '2026-12-06T02:00:00Z', 1, now(), now(), 'owner-1')
      ON CONFLICT (user_id) DO NOTHING""",
  f"""INSERT INTO user_fly_app_events (user_id, event_type, metadata, created_at)
      SELECT '{U1}', (ARRAY['provision_requested', 'orphan_detected'])[1 + g % 2], jsonb_build_object('g', g),
      now() - g * interval '1 minute' FROM generate_series(1, 7) g""",
  """INSERT INTO fleet_state (key, value, updated_at) VALUES ('rollout', '{"a": 1}', now()) ON CONFLICT (key) DO NOTHING""",
  "CREATE SCHEMA IF NOT EXISTS fleet",
  "CREATE TABLE IF NOT EXISTS fleet.schema_migrations (version int8 PRIMARY KEY, name text, checksum text)",
  "INSERT INTO fleet.schema_migrations VALUES (2, 'b', 'y'), (1, 'a', 'x'), (3, 'c', 'z') ON CONFLICT DO NOTHING",
]
ADMIN = os.environ.get("FLEET_PG_ADMIN_URL")
if ADMIN and "--no-seed" not in sys.argv:
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", ADMIN], input=";\n".join(SEED) + ";\n",
                   text=True, check=True, capture_output=True)
NOW, LATER = "2029-12-06T03:00:00Z", "2030-01-01T00:00:00Z"
def cases(U):
  return [
 ("entitlement", "SELECT tier, status, {ts_out:expires_at}, entitled FROM fleet_entitlements WHERE user_id = {uuid:1}", [U]),
 ("app", f"SELECT {APP_COLUMNS} FROM user_fly_apps WHERE user_id = {{uuid:1}}", [U]),
 ("app_by_name", f"SELECT {APP_COLUMNS} FROM user_fly_apps WHERE fly_app_name = {{text:1}}", ["fleet-x"]),
 ("list_apps", f"SELECT {APP_COLUMNS} FROM user_fly_apps ORDER BY user_id", []),
 ("append_event", "INSERT INTO user_fly_app_events (fly_app_id, user_id, fly_app_name, event_type, status, metadata, error_details, created_at) VALUES ({uuid:1}, {uuid:2}, {text:3}, {text:4}, {text:5}, {json:6}, {text:7}, {ts:8}) RETURNING seq",
   [None, U, None, "provision_requested", None, "{}", None, NOW]),
 ("events", "SELECT seq, {text_out:fly_app_id}, {text_out:user_id}, fly_app_name, event_type, status, {text_out:metadata}, error_details, {ts_out:created_at} FROM user_fly_app_events WHERE user_id = {uuid:1} ORDER BY seq DESC LIMIT {int:2}", [U, 20]),
 ("events_of_types", "SELECT seq, {text_out:fly_app_id}, {text_out:user_id}, fly_app_name, event_type, status, {text_out:metadata}, error_details, {ts_out:created_at} FROM user_fly_app_events WHERE event_type IN ({text:2}, {text:3}) ORDER BY seq DESC LIMIT {int:1}", [50, "orphan_detected", "provisioned"]),
 ("state", "SELECT {text_out:value} FROM fleet_state WHERE key = {text:1}", ["rollout"]),
 ("record_failure", "UPDATE user_fly_apps SET retry_count = retry_count + 1, error_message = {text:3}, next_attempt_at = CASE WHEN due_generation > {int:4} THEN next_attempt_at ELSE {ts:5} END, status = COALESCE({text:6}, status), updated_at = {ts:7} WHERE user_id = {uuid:1} AND lease_owner = {text:2} RETURNING retry_count",
   [U, "owner-1", "boom", 1, LATER, None, NOW]),
 ("mark_due/create", "INSERT INTO user_fly_apps (user_id, status, next_attempt_at, due_generation, created_at, updated_at) VALUES ({uuid:1}, 'provisioning', {ts:2}, 1, {ts:2}, {ts:2}) ON CONFLICT (user_id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at, due_generation = user_fly_apps.due_generation + 1, updated_at = excluded.updated_at RETURNING due_generation", [U, NOW]),
 ("mark_due/update", "UPDATE user_fly_apps SET next_attempt_at = {ts:2}, due_generation = due_generation + 1, updated_at = {ts:2} WHERE user_id = {uuid:1} RETURNING due_generation", [U, NOW]),
 ("claim_lease", f"UPDATE user_fly_apps SET lease_owner = {{text:2}}, lease_expires_at = {{ts:4}} WHERE user_id = {{uuid:1}} AND (lease_expires_at IS NULL OR lease_expires_at < {{ts:3}} OR lease_owner = {{text:2}}) RETURNING {APP_COLUMNS}", [U, "owner-1", NOW, LATER]),
 ("select_due", f"SELECT {APP_COLUMNS} FROM user_fly_apps WHERE {DUE_AND_FREE} ORDER BY {DUE_ORDER} LIMIT {{int:3}}", [LATER, NOW, 100]),
 ("claim_due", f"UPDATE user_fly_apps SET lease_owner = {{text:4}}, lease_expires_at = {{ts:5}} WHERE id IN (SELECT id FROM user_fly_apps WHERE {DUE_AND_FREE} ORDER BY {DUE_ORDER} LIMIT {{int:3}} {{pg_only:FOR UPDATE SKIP LOCKED}}) AND (lease_expires_at IS NULL OR lease_expires_at < {{ts:1}}) RETURNING {APP_COLUMNS}", [LATER, NOW, 100, "sweep-1", LATER]),
 ("drop_screener_role", "SELECT fleet.drop_screener_role({text:1}) AS dropped", ["fleet_scr_nobody"]),
 ("applied_versions", "SELECT version, checksum FROM fleet.schema_migrations ORDER BY version", []),
 ("admin/entitlements", "SELECT {text_out:user_id}, tier, status, entitled FROM fleet_entitlements", []),
 ("admin/entitled_without_app", "SELECT {text_out:e.user_id} FROM fleet_entitlements e LEFT JOIN user_fly_apps a ON a.user_id = e.user_id WHERE e.entitled AND (a.user_id IS NULL OR a.status = 'deleted') ORDER BY e.user_id", []),
 ("admin/recent_signals", "SELECT {text_out:s.id}, {text_out:s.trader_id}, t.name AS trader_name, t.language AS trader_language, (t.filter -> 'code' IS NOT NULL) AS has_code, CASE WHEN t.filter -> 'code' IS NULL AND substr(CAST(t.filter AS TEXT), 1, 1) = '\"' THEN CAST(t.filter AS TEXT) END AS encoded_filter, {text_out:s.user_id}, s.symbol AS symbol, s.\"interval\" AS \"interval\", {ts_out:s.\"timestamp\"}, {ts_out:s.created_at}, {float_out:s.price_at_signal}, s.source AS source, {text_out:s.fly_app_id}, a.fly_app_name AS app_name FROM signals s LEFT JOIN traders t ON t.id = s.trader_id LEFT JOIN user_fly_apps a ON a.id = s.fly_app_id ORDER BY COALESCE(s.\"timestamp\", s.created_at) DESC, s.created_at DESC, s.id DESC LIMIT {int:1}", [200]),
]
ok = True
for U in (U1, U2, "bbbbbbbb-0000-4000-8000-000000000009"):
  print(f"-- user {U}")
  for name, tmpl, params in cases(U):
    sql = render(tmpl)
    try:
        hdr, rows = run(sql, params)
        whdr, wrows = run(wrap(sql), params)
    except RuntimeError as e:
        print(f"FAIL {name}: {str(e).strip()}"); ok = False; continue
    assert whdr.split("|", 1)[0] == "fleet_row", whdr
    kept = [r.split("|", 1)[1] if "|" in r else "" for r in wrows if r.split("|", 1)[0] == "t"]
    sentinel = [r for r in wrows if r.split("|", 1)[0] != "t"]
    same = (len(kept) == len(rows) if name == "append_event" else kept == rows) and whdr.split("|", 1)[1] == hdr
    good = same and len(wrows) >= 1 and len(sentinel) == (0 if rows else 1)
    ok &= good
    print(f"{'ok  ' if good else 'DIFF'} {name}: plain {len(rows)} row(s); wrapped {len(wrows)} row(s), sentinel {len(sentinel)}")
print("all statements: wrapped == plain" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
