-- Fleet-wide leases: at most one worker at a time does the work that concerns the whole fleet (the orphan scan,
-- driving an image rollout), so concurrent sweeps on one database never report or roll twice.
CREATE TABLE IF NOT EXISTS fleet_leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
