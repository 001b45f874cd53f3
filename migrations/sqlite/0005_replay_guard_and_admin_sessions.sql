-- Signatures the components have accepted: a `(t, mac)` pair is accepted once (issue 19 item 3). Rows older
-- than the signature tolerance are pruned by the components as they insert.
CREATE TABLE IF NOT EXISTS fleet_seen_signatures (
    t       INTEGER NOT NULL,
    mac     TEXT NOT NULL,
    seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (t, mac)
) STRICT;
