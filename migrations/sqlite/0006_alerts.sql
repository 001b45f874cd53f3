-- Operator alerts (issue 20): one row per alert condition (fleet_alerts, versioned so a transition is
-- recorded once) and the delivery queue / alert history (fleet_alert_outbox, claimed atomically).
-- Times are RFC 3339 text, as elsewhere in this schema.
CREATE TABLE IF NOT EXISTS fleet_alerts (
    key              TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    firing           INTEGER NOT NULL CHECK (firing IN (0, 1)),
    summary          TEXT NOT NULL,
    first_fired_at   TEXT NOT NULL,
    last_notified_at TEXT NOT NULL,
    resolved_at      TEXT,
    version          INTEGER NOT NULL DEFAULT 1,
    updated_at       TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS fleet_alert_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_key        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    state            TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    summary          TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    delivery         TEXT NOT NULL DEFAULT 'pending'
                     CHECK (delivery IN ('pending', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TEXT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    delivered_at     TEXT,
    last_error       TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS fleet_alert_outbox_due ON fleet_alert_outbox (delivery, next_attempt_at);
