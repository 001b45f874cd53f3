-- Fleet 0002: the entitlement rule, Fleet's state in the platform's user_fly_apps / user_fly_app_events
-- (adopted in place), fleet-wide state and settings.
--
-- The platform (its migration 035) already has user_fly_apps and user_fly_app_events, written by the edge
-- functions Fleet replaces. Fleet keeps every existing row and every column the platform reads (its admin UI
-- reads user_fly_apps_with_profiles and user_fly_app_events by fly_app_id) and changes only what is listed
-- here; on vanilla PostgreSQL it first creates both tables in the platform's shape.
--
-- Changes to the platform's tables (each one needed, and harmless to the platform's readers):
-- user_fly_apps
--   * fly_app_name, fly_org_slug, region, docker_image: DROP NOT NULL. Fleet records a user as due before it
--     has chosen a name, organisation, region or image (the row is created by the subscription trigger).
--   * status: DEFAULT 'provisioning'. health_status: DEFAULT 'unknown', NULLs set to 'unknown', NOT NULL.
--   * retry_count is Fleet's failed-attempt counter since the user was last marked due: NULLs set to 0,
--     NOT NULL, CHECK >= 0. cpu_count / memory_mb (platform defaults 2 / 512) hold the machine's guest size.
--   * user_id's foreign key to auth.users (ON DELETE CASCADE) is dropped: the row must outlive a deleted user
--     so that Fleet can still tear their app down, and rows are never deleted.
--   * new columns: cpu_kind, machine_id, launch_id, health_detail, secrets_version, db_role_name,
--     next_attempt_at, due_generation, lease_owner, lease_expires_at, accrued_cost_usd; an app-name CHECK (NOT
--     VALID: existing names are not re-checked); a never-delete trigger.
--   * existing rows (created by the old edge functions) are marked due, so the first sweep adopts them: it finds
--     their app by name in Fly and moves it to Fleet's configuration through the normal rollout.
-- user_fly_app_events
--   * fly_app_id, user_id, status: DROP NOT NULL. Fleet also records fleet-wide events (orphan apps, rollouts)
--     that belong to no row or no known user.
--   * user_id's foreign key to auth.users (ON DELETE CASCADE) is dropped: the audit trail is append-only and
--     outlives the user.
--   * event_type CHECK: the platform's 12 types plus Fleet's (orphans, rollouts, credentials).
--   * new columns: seq (identity, the order events were written in; existing rows get numbers in table order)
--     and fly_app_name; an append-only trigger.

-- The one definition of entitlement. Everything (triggers, the entitlement view, the store) uses it.
CREATE OR REPLACE FUNCTION fleet.entitled(p_tier text, p_status text, p_expires_at timestamptz)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$
    SELECT coalesce(
        p_tier IN ('pro', 'elite')
        AND p_status IN ('active', 'trialing')
        AND (p_expires_at IS NULL OR p_expires_at > now()),
        false)
$$;

-- Vanilla PostgreSQL: the platform's two tables as its migration 035 creates them (minus auth.users).
CREATE TABLE IF NOT EXISTS public.user_fly_apps (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                   uuid NOT NULL,
    fly_app_name              text NOT NULL UNIQUE,
    fly_org_slug              text NOT NULL,
    status                    text NOT NULL
        CHECK (status IN ('provisioning', 'active', 'error', 'deprovisioning', 'deleted')),
    region                    text NOT NULL,
    docker_image              text NOT NULL,
    deployed_at               timestamptz,
    last_health_check         timestamptz,
    health_status             text CHECK (health_status IN ('healthy', 'unhealthy', 'unknown')),
    error_message             text,
    retry_count               integer DEFAULT 0,
    monthly_cost_estimate_usd numeric(10, 2),
    cpu_count                 integer NOT NULL DEFAULT 2,
    memory_mb                 integer NOT NULL DEFAULT 512,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    deleted_at                timestamptz,
    CONSTRAINT one_app_per_user UNIQUE (user_id)
);

CREATE TABLE IF NOT EXISTS public.user_fly_app_events (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fly_app_id    uuid NOT NULL REFERENCES public.user_fly_apps (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL,
    event_type    text NOT NULL,
    status        text NOT NULL,
    metadata      jsonb DEFAULT '{}'::jsonb,
    error_details text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- A user's row and audit trail outlive the user (see above): drop whatever foreign key ties user_id to
-- auth.users, whatever its name.
DO $unlink_users$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.conrelid::regclass AS tbl, c.conname
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
         WHERE c.contype = 'f'
           AND c.conrelid IN ('public.user_fly_apps'::regclass, 'public.user_fly_app_events'::regclass)
           AND a.attname = 'user_id'
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
END
$unlink_users$;

ALTER TABLE public.user_fly_apps
    ALTER COLUMN fly_app_name DROP NOT NULL,
    ALTER COLUMN fly_org_slug DROP NOT NULL,
    ALTER COLUMN region DROP NOT NULL,
    ALTER COLUMN docker_image DROP NOT NULL,
    ALTER COLUMN status SET DEFAULT 'provisioning',
    ALTER COLUMN health_status SET DEFAULT 'unknown',
    ALTER COLUMN retry_count SET DEFAULT 0,
    ADD COLUMN IF NOT EXISTS cpu_kind text
        CONSTRAINT user_fly_apps_cpu_kind_check CHECK (cpu_kind IN ('shared', 'performance')),
    ADD COLUMN IF NOT EXISTS machine_id text,
    -- fleet_launch metadata of the machine create in flight, to find it again after an ambiguous failure.
    ADD COLUMN IF NOT EXISTS launch_id text,
    ADD COLUMN IF NOT EXISTS health_detail jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS secrets_version bigint,
    ADD COLUMN IF NOT EXISTS db_role_name text,
    ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz,
    -- Bumped whenever the user is marked due, so a reconcile that started earlier cannot clear the mark.
    ADD COLUMN IF NOT EXISTS due_generation bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS lease_owner text,
    ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS accrued_cost_usd double precision NOT NULL DEFAULT 0;

UPDATE public.user_fly_apps SET health_status = 'unknown' WHERE health_status IS NULL;
UPDATE public.user_fly_apps SET retry_count = 0 WHERE retry_count IS NULL OR retry_count < 0;
ALTER TABLE public.user_fly_apps
    ALTER COLUMN health_status SET NOT NULL,
    ALTER COLUMN retry_count SET NOT NULL;

DO $app_checks$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'user_fly_apps_retry_count_check'
                   AND conrelid = 'public.user_fly_apps'::regclass) THEN
        ALTER TABLE public.user_fly_apps
            ADD CONSTRAINT user_fly_apps_retry_count_check CHECK (retry_count >= 0);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'user_fly_apps_app_name_check'
                   AND conrelid = 'public.user_fly_apps'::regclass) THEN
        ALTER TABLE public.user_fly_apps
            ADD CONSTRAINT user_fly_apps_app_name_check CHECK (fly_app_name ~ '^[a-z0-9][a-z0-9-]{0,62}$') NOT VALID;
        -- Adoption: rows Fleet has never looked at (created by the old edge functions) are due now. Done once,
        -- together with the constraint that marks this file as applied to the table.
        UPDATE public.user_fly_apps SET next_attempt_at = now(), due_generation = due_generation + 1
         WHERE next_attempt_at IS NULL AND status <> 'deleted';
    END IF;
END
$app_checks$;

CREATE INDEX IF NOT EXISTS user_fly_apps_next_attempt_idx
    ON public.user_fly_apps (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS user_fly_apps_active_check_idx
    ON public.user_fly_apps (last_health_check) WHERE status = 'active';

ALTER TABLE public.user_fly_app_events
    ALTER COLUMN fly_app_id DROP NOT NULL,
    ALTER COLUMN user_id DROP NOT NULL,
    ALTER COLUMN status DROP NOT NULL,
    ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY,
    ADD COLUMN IF NOT EXISTS fly_app_name text;

DO $event_seq$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'user_fly_app_events_seq_key'
                   AND conrelid = 'public.user_fly_app_events'::regclass) THEN
        ALTER TABLE public.user_fly_app_events ADD CONSTRAINT user_fly_app_events_seq_key UNIQUE (seq);
    END IF;
END
$event_seq$;

-- The platform's 12 event types, then Fleet's. fleet_store::EventType holds the same list (a test keeps them
-- in sync).
ALTER TABLE public.user_fly_app_events DROP CONSTRAINT IF EXISTS user_fly_app_events_event_type_check;
ALTER TABLE public.user_fly_app_events ADD CONSTRAINT user_fly_app_events_event_type_check CHECK (event_type IN (
    'provision_requested', 'provision_started', 'provision_completed', 'provision_failed',
    'health_check_passed', 'health_check_failed',
    'deprovision_requested', 'deprovision_started', 'deprovision_completed', 'deprovision_failed',
    'error_occurred', 'recovery_attempted',
    'orphan_detected', 'orphan_deleted',
    'rollout_started', 'rollout_machine_updated', 'rollout_machine_failed', 'rollout_completed', 'rollout_halted',
    'credential_created', 'credential_rotated', 'credential_revoked'
));

CREATE INDEX IF NOT EXISTS user_fly_app_events_user_seq_idx ON public.user_fly_app_events (user_id, seq DESC);
CREATE INDEX IF NOT EXISTS user_fly_app_events_app_seq_idx ON public.user_fly_app_events (fly_app_id, seq DESC);

-- Signals keep pointing at the app that produced them and survive its soft delete. The platform's foreign
-- key (its migrations 038/039) kept the name signals_machine_id_fkey; vanilla PostgreSQL gets the same one.
DO $signals_fk$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conrelid = 'public.signals'::regclass AND c.contype = 'f'
                      AND c.confrelid = 'public.user_fly_apps'::regclass) THEN
        ALTER TABLE public.signals ADD CONSTRAINT signals_machine_id_fkey
            FOREIGN KEY (fly_app_id) REFERENCES public.user_fly_apps (id) ON DELETE SET NULL;
    END IF;
END
$signals_fk$;

-- Fleet-wide state that is not per user (rollout progress, orphan first-seen times ...).
CREATE TABLE IF NOT EXISTS public.fleet_state (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Never-delete and append-only rules.
CREATE OR REPLACE FUNCTION fleet.reject_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE OR REPLACE TRIGGER fleet_user_fly_apps_never_deleted
    BEFORE DELETE ON public.user_fly_apps
    FOR EACH ROW EXECUTE FUNCTION fleet.reject_change(
        'user_fly_apps rows are never deleted: set status = deleted instead');

CREATE OR REPLACE TRIGGER fleet_user_fly_app_events_append_only
    BEFORE UPDATE OR DELETE ON public.user_fly_app_events
    FOR EACH ROW EXECUTE FUNCTION fleet.reject_change('user_fly_app_events is append-only');

-- Entitlement of every user with a subscription row, through the one rule above. security_invoker keeps the
-- platform's RLS on user_subscriptions in force for whoever reads the view. The platform's columns are
-- nullable: a NULL tier reads as 'free' and a NULL status as 'cancelled' (neither is entitled).
CREATE OR REPLACE VIEW public.fleet_entitlements WITH (security_invoker = true) AS
    SELECT user_id, coalesce(tier, 'free') AS tier, coalesce(status, 'cancelled') AS status, expires_at,
           fleet.entitled(tier, status, expires_at) AS entitled
      FROM public.user_subscriptions
     WHERE user_id IS NOT NULL;

-- Settings for the pg_net / pg_cron hints. Vault secrets named fleet_<key> take precedence when Vault exists.
-- Keys: webhook_base_url (e.g. https://fleet.example.com), webhook_secret, health_sweep_schedule (cron).
CREATE TABLE IF NOT EXISTS fleet.settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON fleet.settings FROM PUBLIC, anon, authenticated, fleet_screener;

CREATE OR REPLACE FUNCTION fleet.setting(p_key text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    found_value text;
BEGIN
    IF to_regclass('vault.decrypted_secrets') IS NOT NULL THEN
        EXECUTE 'SELECT decrypted_secret FROM vault.decrypted_secrets WHERE name = $1 LIMIT 1'
            INTO found_value USING 'fleet_' || p_key;
        IF found_value IS NOT NULL THEN
            RETURN found_value;
        END IF;
    END IF;
    SELECT value INTO found_value FROM fleet.settings WHERE key = p_key;
    RETURN found_value;
END
$$;
REVOKE ALL ON FUNCTION fleet.setting(text) FROM PUBLIC;
