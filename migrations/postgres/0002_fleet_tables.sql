-- Fleet 0002: Fleet's own tables, the entitlement rule and settings.

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

-- One row per user, never hard-deleted (deprovisioned rows keep the app name reserved for the user).
CREATE TABLE IF NOT EXISTS public.user_fly_apps (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- No foreign key: the row must outlive the user so that their app can still be torn down.
    user_id                   uuid NOT NULL UNIQUE,
    fly_app_name              text UNIQUE
        CONSTRAINT user_fly_apps_app_name_check CHECK (fly_app_name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    fly_org_slug              text,
    region                    text,
    docker_image              text,
    cpu_kind                  text CONSTRAINT user_fly_apps_cpu_kind_check CHECK (cpu_kind IN ('shared', 'performance')),
    cpus                      integer CONSTRAINT user_fly_apps_cpus_check CHECK (cpus > 0),
    memory_mb                 integer CONSTRAINT user_fly_apps_memory_mb_check CHECK (memory_mb > 0),
    machine_id                text,
    -- fleet_launch metadata of the machine create in flight, to find it again after an ambiguous failure.
    launch_id                 text,
    status                    text NOT NULL DEFAULT 'provisioning'
        CONSTRAINT user_fly_apps_status_check
        CHECK (status IN ('provisioning', 'active', 'error', 'deprovisioning', 'deleted')),
    health_status             text NOT NULL DEFAULT 'unknown'
        CONSTRAINT user_fly_apps_health_status_check CHECK (health_status IN ('healthy', 'unhealthy', 'unknown')),
    health_detail             jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_health_check         timestamptz,
    secrets_version           bigint,
    db_role_name              text,
    deployed_at               timestamptz,
    deleted_at                timestamptz,
    error_message             text,
    attempts                  integer NOT NULL DEFAULT 0 CONSTRAINT user_fly_apps_attempts_check CHECK (attempts >= 0),
    next_attempt_at           timestamptz,
    -- Bumped whenever the user is marked due, so a reconcile that started earlier cannot clear the mark.
    due_generation            bigint NOT NULL DEFAULT 0,
    lease_owner               text,
    lease_expires_at          timestamptz,
    monthly_cost_estimate_usd double precision,
    accrued_cost_usd          double precision NOT NULL DEFAULT 0,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS user_fly_apps_next_attempt_idx
    ON public.user_fly_apps (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS user_fly_apps_active_check_idx
    ON public.user_fly_apps (last_health_check) WHERE status = 'active';

-- Append-only audit trail. The event types match fleet_store::EventType (one list, kept in sync by a test).
CREATE TABLE IF NOT EXISTS public.user_fly_app_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_fly_app_id uuid REFERENCES public.user_fly_apps (id),
    user_id         uuid,
    fly_app_name    text,
    event_type      text NOT NULL,
    status          text CONSTRAINT user_fly_app_events_status_check
        CHECK (status IN ('provisioning', 'active', 'error', 'deprovisioning', 'deleted')),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    error_details   text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

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

CREATE INDEX IF NOT EXISTS user_fly_app_events_user_idx ON public.user_fly_app_events (user_id, id DESC);
CREATE INDEX IF NOT EXISTS user_fly_app_events_app_idx ON public.user_fly_app_events (user_fly_app_id, id DESC);

-- Signals keep pointing at the app that produced them; they survive its soft delete.
DO $fk$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'signals_fly_app_id_fkey'
                   AND conrelid = 'public.signals'::regclass) THEN
        ALTER TABLE public.signals ADD CONSTRAINT signals_fly_app_id_fkey
            FOREIGN KEY (fly_app_id) REFERENCES public.user_fly_apps (id) ON DELETE SET NULL;
    END IF;
END
$fk$;

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
-- platform's RLS on user_subscriptions in force for whoever reads the view.
CREATE OR REPLACE VIEW public.fleet_entitlements WITH (security_invoker = true) AS
    SELECT user_id, tier, status, expires_at, fleet.entitled(tier, status, expires_at) AS entitled
    FROM public.user_subscriptions;

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
