-- Fleet SQLite 0004: the local schema takes the platform's column names (tomkanjam/orderflowscanner's
-- migrations 001-039, as Fleet's Postgres migrations adopt them), so the store and the screener read and write
-- one shape everywhere. Existing local rows are kept.
-- * user_fly_apps: cpus -> cpu_count, attempts -> retry_count (SQLite rewrites the triggers that use them).
-- * user_fly_app_events: the platform's uuid `id` and `fly_app_id`, plus `seq` (write order) as rowid.
-- * traders: the platform's `language`, `strategy`; required timeframes and symbols live in `filter`
--   (requiredTimeframes / symbols), as on the platform, instead of Fleet's own columns.
-- * signals: the platform's price_at_signal, volume_at_signal, change_percent_at_signal, timestamp, count,
--   status, indicator_data (was details), updated_at; Fleet's machine_id column is gone.

ALTER TABLE user_fly_apps RENAME COLUMN cpus TO cpu_count;
ALTER TABLE user_fly_apps RENAME COLUMN attempts TO retry_count;

DROP TRIGGER IF EXISTS fleet_user_fly_app_events_no_update;
DROP TRIGGER IF EXISTS fleet_user_fly_app_events_no_delete;
CREATE TABLE user_fly_app_events_platform (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
    fly_app_id    TEXT REFERENCES user_fly_apps (id),
    user_id       TEXT CONSTRAINT user_fly_app_events_user_id_uuid CHECK (user_id IS NULL OR (length(user_id) = 36 AND user_id NOT GLOB '*[^0-9a-f-]*' AND substr(user_id, 9, 1) = '-' AND substr(user_id, 14, 1) = '-'
            AND substr(user_id, 19, 1) = '-' AND substr(user_id, 24, 1) = '-' AND length(replace(user_id, '-', '')) = 32)),
    fly_app_name  TEXT,
    -- Matches fleet_store::EventType and the Postgres CHECK (kept in sync by a test).
    event_type    TEXT NOT NULL CONSTRAINT user_fly_app_events_event_type_check CHECK (event_type IN (
        'provision_requested', 'provision_started', 'provision_completed', 'provision_failed',
        'health_check_passed', 'health_check_failed',
        'deprovision_requested', 'deprovision_started', 'deprovision_completed', 'deprovision_failed',
        'error_occurred', 'recovery_attempted',
        'orphan_detected', 'orphan_deleted',
        'rollout_started', 'rollout_machine_updated', 'rollout_machine_failed', 'rollout_completed', 'rollout_halted',
        'credential_created', 'credential_rotated', 'credential_revoked'
    )),
    status        TEXT,
    metadata      TEXT DEFAULT '{}' CONSTRAINT user_fly_app_events_metadata_json CHECK (metadata IS NULL OR json_valid(metadata)),
    error_details TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
INSERT INTO user_fly_app_events_platform
    (seq, fly_app_id, user_id, fly_app_name, event_type, status, metadata, error_details, created_at)
SELECT id, user_fly_app_id, user_id, fly_app_name, event_type, status, metadata, error_details, created_at
  FROM user_fly_app_events ORDER BY id;
DROP TABLE user_fly_app_events;
ALTER TABLE user_fly_app_events_platform RENAME TO user_fly_app_events;
CREATE INDEX user_fly_app_events_user_seq_idx ON user_fly_app_events (user_id, seq DESC);
CREATE INDEX user_fly_app_events_app_seq_idx ON user_fly_app_events (fly_app_id, seq DESC);
CREATE TRIGGER fleet_user_fly_app_events_no_update
    BEFORE UPDATE ON user_fly_app_events
BEGIN
    SELECT RAISE(ABORT, 'user_fly_app_events is append-only');
END;
CREATE TRIGGER fleet_user_fly_app_events_no_delete
    BEFORE DELETE ON user_fly_app_events
BEGIN
    SELECT RAISE(ABORT, 'user_fly_app_events is append-only');
END;

ALTER TABLE traders ADD COLUMN language TEXT DEFAULT 'javascript' CONSTRAINT traders_language_check CHECK (language IN ('javascript', 'go'));
ALTER TABLE traders ADD COLUMN strategy TEXT NOT NULL DEFAULT '{}' CONSTRAINT traders_strategy_json CHECK (json_valid(strategy));
UPDATE traders
   SET filter = json_set(filter, '$.requiredTimeframes', json(timeframes))
 WHERE json_type(filter) = 'object' AND json_type(filter, '$.requiredTimeframes') IS NULL;
UPDATE traders
   SET filter = json_set(filter, '$.symbols', json(symbols))
 WHERE json_type(filter) = 'object' AND json_type(filter, '$.symbols') IS NULL AND json_array_length(symbols) > 0;
ALTER TABLE traders DROP COLUMN timeframes;
ALTER TABLE traders DROP COLUMN symbols;

ALTER TABLE signals RENAME COLUMN price TO price_at_signal;
ALTER TABLE signals RENAME COLUMN volume TO volume_at_signal;
ALTER TABLE signals RENAME COLUMN details TO indicator_data;
ALTER TABLE signals DROP COLUMN machine_id;
ALTER TABLE signals ADD COLUMN change_percent_at_signal REAL;
ALTER TABLE signals ADD COLUMN timestamp TEXT;
ALTER TABLE signals ADD COLUMN count INTEGER DEFAULT 1;
ALTER TABLE signals ADD COLUMN status TEXT;
ALTER TABLE signals ADD COLUMN updated_at TEXT;
UPDATE signals SET timestamp = created_at WHERE timestamp IS NULL;
