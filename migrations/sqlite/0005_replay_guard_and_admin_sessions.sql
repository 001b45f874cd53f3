-- Signatures the components have accepted: a `(t, mac)` pair is accepted once (issue 19 item 3). Rows older
-- than the signature tolerance are pruned by the components as they insert.
CREATE TABLE IF NOT EXISTS fleet_seen_signatures (
    t       INTEGER NOT NULL,
    mac     TEXT NOT NULL,
    seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (t, mac)
) STRICT;

-- Failed password attempts per fixed window, per source address and globally (scope 'global') (issue 19
-- item 4). Rows of past windows are pruned by the components.
CREATE TABLE IF NOT EXISTS fleet_auth_failures (
    scope        TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    PRIMARY KEY (scope, window_start)
) STRICT;

-- One row per dashboard login: SHA-256 of the session id, expiry, revocation (unix seconds).
CREATE TABLE IF NOT EXISTS fleet_admin_sessions (
    id_hash    TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
