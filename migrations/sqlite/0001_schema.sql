-- Fleet SQLite 0001: the same logical schema as migrations/postgres, for the embedded local default.
-- No RLS, roles, pg_net or pg_cron. Conventions (the store relies on them):
-- * uuids are lowercase text, checked by shape;
-- * times are UTC text 'YYYY-MM-DDTHH:MM:SS.sssZ' (what strftime('%Y-%m-%dT%H:%M:%fZ', 'now') yields), checked
--   by shape, so they compare correctly as text;
-- * json is text checked with json_valid; booleans are 0/1; arrays are json arrays.
-- STRICT tables reject values of the wrong type instead of storing them.

CREATE TABLE IF NOT EXISTS user_profiles (
    id         TEXT PRIMARY KEY CONSTRAINT user_profiles_id_uuid CHECK (length(id) = 36 AND id NOT GLOB '*[^0-9a-f-]*' AND substr(id, 9, 1) = '-' AND substr(id, 14, 1) = '-'
            AND substr(id, 19, 1) = '-' AND substr(id, 24, 1) = '-' AND length(replace(id, '-', '')) = 32),
    email      TEXT,
    is_admin   INTEGER NOT NULL DEFAULT 0 CONSTRAINT user_profiles_is_admin_bool CHECK (is_admin IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) CONSTRAINT user_profiles_created_at_utc CHECK (created_at IS NULL OR created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) CONSTRAINT user_profiles_updated_at_utc CHECK (updated_at IS NULL OR updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z')
) STRICT;

CREATE TABLE IF NOT EXISTS user_subscriptions (
    id                     TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))
        CONSTRAINT user_subscriptions_id_uuid CHECK (length(id) = 36 AND id NOT GLOB '*[^0-9a-f-]*' AND substr(id, 9, 1) = '-' AND substr(id, 14, 1) = '-'
            AND substr(id, 19, 1) = '-' AND substr(id, 24, 1) = '-' AND length(replace(id, '-', '')) = 32),
    user_id                TEXT NOT NULL UNIQUE CONSTRAINT user_subscriptions_user_id_uuid CHECK (length(user_id) = 36 AND user_id NOT GLOB '*[^0-9a-f-]*' AND substr(user_id, 9, 1) = '-' AND substr(user_id, 14, 1) = '-'
            AND substr(user_id, 19, 1) = '-' AND substr(user_id, 24, 1) = '-' AND length(replace(user_id, '-', '')) = 32),
    tier                   TEXT NOT NULL DEFAULT 'free'
        CONSTRAINT user_subscriptions_tier_check CHECK (tier IN ('free', 'pro', 'elite')),
    status                 TEXT NOT NULL DEFAULT 'active'
        CONSTRAINT user_subscriptions_status_check CHECK (status IN ('active', 'trialing', 'past_due', 'cancelled')),
    expires_at             TEXT CONSTRAINT user_subscriptions_expires_at_utc CHECK (expires_at IS NULL OR expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    stripe_customer_id     TEXT,
    stripe_subscription_id TEXT,
    created_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE IF NOT EXISTS traders (
    id          TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))) CONSTRAINT traders_id_uuid CHECK (length(id) = 36 AND id NOT GLOB '*[^0-9a-f-]*' AND substr(id, 9, 1) = '-' AND substr(id, 14, 1) = '-'
            AND substr(id, 19, 1) = '-' AND substr(id, 24, 1) = '-' AND length(replace(id, '-', '')) = 32),
    user_id     TEXT CONSTRAINT traders_user_id_uuid CHECK (user_id IS NULL OR (length(user_id) = 36 AND user_id NOT GLOB '*[^0-9a-f-]*' AND substr(user_id, 9, 1) = '-' AND substr(user_id, 14, 1) = '-'
            AND substr(user_id, 19, 1) = '-' AND substr(user_id, 24, 1) = '-' AND length(replace(user_id, '-', '')) = 32)),
    is_built_in INTEGER NOT NULL DEFAULT 0 CONSTRAINT traders_is_built_in_bool CHECK (is_built_in IN (0, 1)),
    enabled     INTEGER NOT NULL DEFAULT 1 CONSTRAINT traders_enabled_bool CHECK (enabled IN (0, 1)),
    name        TEXT NOT NULL,
    description TEXT,
    filter      TEXT NOT NULL CONSTRAINT traders_filter_json CHECK (json_valid(filter)),
    timeframes  TEXT NOT NULL DEFAULT '["5m"]' CONSTRAINT traders_timeframes_array CHECK (json_valid(timeframes) AND json_type(timeframes) = 'array'),
    symbols     TEXT NOT NULL DEFAULT '[]' CONSTRAINT traders_symbols_array CHECK (json_valid(symbols) AND json_type(symbols) = 'array'),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT traders_owner_check CHECK (is_built_in = 1 OR user_id IS NOT NULL)
) STRICT;
CREATE INDEX IF NOT EXISTS traders_user_idx ON traders (user_id) WHERE is_built_in = 0;

CREATE TRIGGER IF NOT EXISTS fleet_traders_touch_updated_at
    AFTER UPDATE ON traders
    FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE traders SET updated_at = (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) WHERE id = NEW.id;
END;

CREATE TABLE IF NOT EXISTS user_fly_apps (
    id                        TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))) CONSTRAINT user_fly_apps_id_uuid CHECK (length(id) = 36 AND id NOT GLOB '*[^0-9a-f-]*' AND substr(id, 9, 1) = '-' AND substr(id, 14, 1) = '-'
            AND substr(id, 19, 1) = '-' AND substr(id, 24, 1) = '-' AND length(replace(id, '-', '')) = 32),
    user_id                   TEXT NOT NULL UNIQUE CONSTRAINT user_fly_apps_user_id_uuid CHECK (length(user_id) = 36 AND user_id NOT GLOB '*[^0-9a-f-]*' AND substr(user_id, 9, 1) = '-' AND substr(user_id, 14, 1) = '-'
            AND substr(user_id, 19, 1) = '-' AND substr(user_id, 24, 1) = '-' AND length(replace(user_id, '-', '')) = 32),
    fly_app_name              TEXT UNIQUE CONSTRAINT user_fly_apps_app_name_check CHECK (fly_app_name IS NULL OR (
        length(fly_app_name) BETWEEN 1 AND 63 AND fly_app_name NOT GLOB '*[^a-z0-9-]*' AND fly_app_name NOT GLOB '-*')),
    fly_org_slug              TEXT,
    region                    TEXT,
    docker_image              TEXT,
    cpu_kind                  TEXT CONSTRAINT user_fly_apps_cpu_kind_check CHECK (cpu_kind IN ('shared', 'performance')),
    cpus                      INTEGER CONSTRAINT user_fly_apps_cpus_check CHECK (cpus > 0),
    memory_mb                 INTEGER CONSTRAINT user_fly_apps_memory_mb_check CHECK (memory_mb > 0),
    machine_id                TEXT,
    launch_id                 TEXT,
    status                    TEXT NOT NULL DEFAULT 'provisioning'
        CONSTRAINT user_fly_apps_status_check CHECK (status IN ('provisioning', 'active', 'error', 'deprovisioning', 'deleted')),
    health_status             TEXT NOT NULL DEFAULT 'unknown'
        CONSTRAINT user_fly_apps_health_status_check CHECK (health_status IN ('healthy', 'unhealthy', 'unknown')),
    health_detail             TEXT NOT NULL DEFAULT '{}' CONSTRAINT user_fly_apps_health_detail_json CHECK (json_valid(health_detail)),
    last_health_check         TEXT CONSTRAINT user_fly_apps_last_health_check_utc CHECK (last_health_check IS NULL OR last_health_check GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    secrets_version           INTEGER,
    db_role_name              TEXT,
    deployed_at               TEXT CONSTRAINT user_fly_apps_deployed_at_utc CHECK (deployed_at IS NULL OR deployed_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    deleted_at                TEXT CONSTRAINT user_fly_apps_deleted_at_utc CHECK (deleted_at IS NULL OR deleted_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    error_message             TEXT,
    attempts                  INTEGER NOT NULL DEFAULT 0 CONSTRAINT user_fly_apps_attempts_check CHECK (attempts >= 0),
    next_attempt_at           TEXT CONSTRAINT user_fly_apps_next_attempt_at_utc CHECK (next_attempt_at IS NULL OR next_attempt_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    due_generation            INTEGER NOT NULL DEFAULT 0,
    lease_owner               TEXT,
    lease_expires_at          TEXT CONSTRAINT user_fly_apps_lease_expires_at_utc CHECK (lease_expires_at IS NULL OR lease_expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    monthly_cost_estimate_usd REAL,
    accrued_cost_usd          REAL NOT NULL DEFAULT 0,
    created_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX IF NOT EXISTS user_fly_apps_next_attempt_idx ON user_fly_apps (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS user_fly_apps_active_check_idx ON user_fly_apps (last_health_check) WHERE status = 'active';

CREATE TABLE IF NOT EXISTS user_fly_app_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_fly_app_id TEXT REFERENCES user_fly_apps (id),
    user_id         TEXT CONSTRAINT user_fly_app_events_user_id_uuid CHECK (user_id IS NULL OR (length(user_id) = 36 AND user_id NOT GLOB '*[^0-9a-f-]*' AND substr(user_id, 9, 1) = '-' AND substr(user_id, 14, 1) = '-'
            AND substr(user_id, 19, 1) = '-' AND substr(user_id, 24, 1) = '-' AND length(replace(user_id, '-', '')) = 32)),
    fly_app_name    TEXT,
    -- Matches fleet_store::EventType and the Postgres CHECK (kept in sync by a test).
    event_type      TEXT NOT NULL CONSTRAINT user_fly_app_events_event_type_check CHECK (event_type IN (
        'provision_requested', 'provision_started', 'provision_completed', 'provision_failed',
        'health_check_passed', 'health_check_failed',
        'deprovision_requested', 'deprovision_started', 'deprovision_completed', 'deprovision_failed',
        'error_occurred', 'recovery_attempted',
        'orphan_detected', 'orphan_deleted',
        'rollout_started', 'rollout_machine_updated', 'rollout_machine_failed', 'rollout_completed', 'rollout_halted',
        'credential_created', 'credential_rotated', 'credential_revoked'
    )),
    status          TEXT CONSTRAINT user_fly_app_events_status_check CHECK (status IN ('provisioning', 'active', 'error', 'deprovisioning', 'deleted')),
    metadata        TEXT NOT NULL DEFAULT '{}' CONSTRAINT user_fly_app_events_metadata_json CHECK (json_valid(metadata)),
    error_details   TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX IF NOT EXISTS user_fly_app_events_user_idx ON user_fly_app_events (user_id, id DESC);
CREATE INDEX IF NOT EXISTS user_fly_app_events_app_idx ON user_fly_app_events (user_fly_app_id, id DESC);

CREATE TABLE IF NOT EXISTS signals (
    id               TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))) CONSTRAINT signals_id_uuid CHECK (length(id) = 36 AND id NOT GLOB '*[^0-9a-f-]*' AND substr(id, 9, 1) = '-' AND substr(id, 14, 1) = '-'
            AND substr(id, 19, 1) = '-' AND substr(id, 24, 1) = '-' AND length(replace(id, '-', '')) = 32),
    trader_id        TEXT NOT NULL REFERENCES traders (id) ON DELETE CASCADE,
    user_id          TEXT CONSTRAINT signals_user_id_uuid CHECK (user_id IS NULL OR (length(user_id) = 36 AND user_id NOT GLOB '*[^0-9a-f-]*' AND substr(user_id, 9, 1) = '-' AND substr(user_id, 14, 1) = '-'
            AND substr(user_id, 19, 1) = '-' AND substr(user_id, 24, 1) = '-' AND length(replace(user_id, '-', '')) = 32)),
    symbol           TEXT NOT NULL,
    interval         TEXT NOT NULL,
    candle_open_time TEXT CONSTRAINT signals_candle_open_time_utc CHECK (candle_open_time IS NULL OR candle_open_time GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    price            REAL,
    volume           REAL,
    details          TEXT NOT NULL DEFAULT '{}' CONSTRAINT signals_details_json CHECK (json_valid(details)),
    source           TEXT NOT NULL DEFAULT 'cloud' CONSTRAINT signals_source_check CHECK (source IN ('local', 'cloud')),
    fly_app_id       TEXT REFERENCES user_fly_apps (id) ON DELETE SET NULL,
    machine_id       TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS signals_trader_candle_key ON signals (trader_id, symbol, interval, candle_open_time);
CREATE INDEX IF NOT EXISTS signals_user_created_idx ON signals (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS fleet_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL CONSTRAINT fleet_state_value_json CHECK (json_valid(value)),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TRIGGER IF NOT EXISTS fleet_user_fly_apps_never_deleted
    BEFORE DELETE ON user_fly_apps
BEGIN
    SELECT RAISE(ABORT, 'user_fly_apps rows are never deleted: set status = deleted instead');
END;

CREATE TRIGGER IF NOT EXISTS fleet_user_fly_app_events_no_update
    BEFORE UPDATE ON user_fly_app_events
BEGIN
    SELECT RAISE(ABORT, 'user_fly_app_events is append-only');
END;

CREATE TRIGGER IF NOT EXISTS fleet_user_fly_app_events_no_delete
    BEFORE DELETE ON user_fly_app_events
BEGIN
    SELECT RAISE(ABORT, 'user_fly_app_events is append-only');
END;
