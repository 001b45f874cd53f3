-- Fleet SQLite 0002: the entitlement rule and the triggers that mark a user due when it may change.
-- Same semantics as migrations/postgres/0003 (without the pg_net hints): INSERT, DELETE and every UPDATE are
-- looked at; a user is marked due when entitled-ness flips, or when the expiry moves while entitled. Marking
-- due sets next_attempt_at = now, resets attempts and bumps due_generation; the row is created only when the
-- user becomes entitled.

-- The one definition of entitlement in SQLite (SQLite has no SQL functions, so triggers read this view).
CREATE VIEW IF NOT EXISTS fleet_entitlements AS
SELECT user_id, tier, status, expires_at,
       (tier IN ('pro', 'elite')
        AND status IN ('active', 'trialing')
        AND (expires_at IS NULL OR expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) AS entitled
  FROM user_subscriptions;

-- Entitlement of a row just before an UPDATE, for the AFTER trigger to compare with (rows live only within
-- the statement).
CREATE TABLE IF NOT EXISTS fleet_entitlement_before (
    user_id  TEXT PRIMARY KEY,
    entitled INTEGER NOT NULL
) STRICT;

CREATE TRIGGER IF NOT EXISTS fleet_subscription_insert
    AFTER INSERT ON user_subscriptions
    FOR EACH ROW WHEN (SELECT entitled FROM fleet_entitlements WHERE user_id = NEW.user_id) = 1
BEGIN
    UPDATE user_fly_apps
       SET next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), attempts = 0, due_generation = due_generation + 1,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE user_id = NEW.user_id;
    INSERT INTO user_fly_apps (user_id, status, next_attempt_at, due_generation)
    SELECT NEW.user_id, 'provisioning', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 1
     WHERE 1
       AND NOT EXISTS (SELECT 1 FROM user_fly_apps WHERE user_id = NEW.user_id);
END;

CREATE TRIGGER IF NOT EXISTS fleet_subscription_delete
    BEFORE DELETE ON user_subscriptions
    FOR EACH ROW WHEN (SELECT entitled FROM fleet_entitlements WHERE user_id = OLD.user_id) = 1
BEGIN
    UPDATE user_fly_apps
       SET next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), attempts = 0, due_generation = due_generation + 1,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE user_id = OLD.user_id;
END;

CREATE TRIGGER IF NOT EXISTS fleet_subscription_before_update
    BEFORE UPDATE ON user_subscriptions
BEGIN
    INSERT OR REPLACE INTO fleet_entitlement_before (user_id, entitled)
    SELECT user_id, entitled FROM fleet_entitlements WHERE user_id = OLD.user_id;
END;

CREATE TRIGGER IF NOT EXISTS fleet_subscription_after_update
    AFTER UPDATE ON user_subscriptions
    FOR EACH ROW WHEN OLD.user_id = NEW.user_id
BEGIN
    UPDATE user_fly_apps
       SET next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), attempts = 0, due_generation = due_generation + 1,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE user_id = NEW.user_id
       AND ((SELECT entitled FROM fleet_entitlement_before WHERE user_id = OLD.user_id) IS NOT (SELECT entitled FROM fleet_entitlements WHERE user_id = NEW.user_id)
            OR ((SELECT entitled FROM fleet_entitlements WHERE user_id = NEW.user_id) = 1 AND OLD.expires_at IS NOT NEW.expires_at));
    INSERT INTO user_fly_apps (user_id, status, next_attempt_at, due_generation)
    SELECT NEW.user_id, 'provisioning', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 1
     WHERE (SELECT entitled FROM fleet_entitlements WHERE user_id = NEW.user_id) = 1
       AND ((SELECT entitled FROM fleet_entitlement_before WHERE user_id = OLD.user_id) IS NOT (SELECT entitled FROM fleet_entitlements WHERE user_id = NEW.user_id)
            OR ((SELECT entitled FROM fleet_entitlements WHERE user_id = NEW.user_id) = 1 AND OLD.expires_at IS NOT NEW.expires_at))
       AND NOT EXISTS (SELECT 1 FROM user_fly_apps WHERE user_id = NEW.user_id);
    DELETE FROM fleet_entitlement_before WHERE user_id = OLD.user_id;
END;

-- A subscription moved to another user: the old user loses it, the new one gains it.
CREATE TRIGGER IF NOT EXISTS fleet_subscription_after_user_change
    AFTER UPDATE ON user_subscriptions
    FOR EACH ROW WHEN OLD.user_id IS NOT NEW.user_id
BEGIN
    UPDATE user_fly_apps
       SET next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), attempts = 0, due_generation = due_generation + 1,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE user_id = OLD.user_id
       AND ((SELECT entitled FROM fleet_entitlement_before WHERE user_id = OLD.user_id) = 1);
    UPDATE user_fly_apps
       SET next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), attempts = 0, due_generation = due_generation + 1,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE user_id = NEW.user_id
       AND ((SELECT entitled FROM fleet_entitlements WHERE user_id = NEW.user_id) = 1);
    INSERT INTO user_fly_apps (user_id, status, next_attempt_at, due_generation)
    SELECT NEW.user_id, 'provisioning', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 1
     WHERE (SELECT entitled FROM fleet_entitlements WHERE user_id = NEW.user_id) = 1
       AND NOT EXISTS (SELECT 1 FROM user_fly_apps WHERE user_id = NEW.user_id);
    DELETE FROM fleet_entitlement_before WHERE user_id = OLD.user_id;
END;
