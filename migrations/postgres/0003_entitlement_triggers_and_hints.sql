-- Fleet 0003: mark users due when their entitlement may change, plus best-effort hints (pg_net) and the
-- scheduled health sweep (pg_cron). The database row is the source of truth; hints only say "look again", so
-- losing or duplicating one is harmless. Every pg_net / pg_cron / Vault use is guarded: the migration applies
-- and the triggers work where those extensions are absent.
--
-- Fleet takes provisioning over from the platform in this one transaction: the platform's provisioner trigger
-- (on_user_tier_change -> handle_user_tier_change(), its migrations 035/037, which POSTs to the
-- provision-user-fly-app / deprovision-user-fly-app edge functions through pg_net) is dropped together with
-- its function, and Fleet's trigger is installed, so exactly one provisioner exists at every instant. The
-- old health checker's pg_cron job (check-fly-apps-health), when present, is unscheduled too: Fleet's sweep
-- owns health from now on. The platform's other subscription triggers stay: on_subscription_change and
-- on_subscription_status_change (its migration 031) enforce trader quotas and call no provisioner.

DROP TRIGGER IF EXISTS on_user_tier_change ON public.user_subscriptions;
DROP FUNCTION IF EXISTS public.handle_user_tier_change();

DO $old_health_job$
BEGIN
    IF to_regclass('cron.job') IS NOT NULL
       AND to_regprocedure('cron.unschedule(text)') IS NOT NULL THEN
        EXECUTE 'SELECT cron.unschedule(jobname) FROM cron.job WHERE jobname = $1' USING 'check-fly-apps-health';
    END IF;
END
$old_health_job$;

-- Mark one user due now. Bumps due_generation so an in-flight reconcile cannot clear the mark, and resets the
-- failure backoff because the desired state changed. Creates the row only when the user needs an app.
CREATE OR REPLACE FUNCTION fleet.mark_user_due(p_user_id uuid, p_create boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    UPDATE public.user_fly_apps
       SET next_attempt_at = now(), retry_count = 0, due_generation = due_generation + 1, updated_at = now()
     WHERE user_id = p_user_id;
    IF NOT FOUND AND p_create THEN
        INSERT INTO public.user_fly_apps (user_id, status, health_status, next_attempt_at, due_generation)
        VALUES (p_user_id, 'provisioning', 'unknown', now(), 1)
        ON CONFLICT (user_id) DO UPDATE
            SET next_attempt_at = now(), retry_count = 0,
                due_generation = public.user_fly_apps.due_generation + 1, updated_at = now();
    END IF;
END
$$;
REVOKE ALL ON FUNCTION fleet.mark_user_due(uuid, boolean) FROM PUBLIC;

-- Queue an HTTP POST to the Fleet route when pg_net is installed (net.http_post exists) and a URL and secret
-- are configured.
-- Returns the pg_net request id, or NULL when no hint was queued. Never raises: a hint must not be able to
-- roll back the subscription change that caused it.
CREATE OR REPLACE FUNCTION fleet.send_hint(p_route text, p_body jsonb) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    base_url   text;
    secret     text;
    timeout_ms integer;
    request_id bigint;
BEGIN
    -- pg_net's entry point (any schema-qualified stand-in with the same signature works the same way).
    IF to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') IS NULL THEN
        RETURN NULL;
    END IF;
    base_url := fleet.setting('webhook_base_url');
    secret := fleet.setting('webhook_secret');
    IF coalesce(base_url, '') = '' OR coalesce(secret, '') = '' THEN
        RETURN NULL;
    END IF;
    -- Give the receiver at least 5 s: it answers fast and does slow Fly work within its own budget.
    timeout_ms := greatest(coalesce(nullif(fleet.setting('webhook_timeout_ms'), '')::integer, 10000), 5000);
    BEGIN
        EXECUTE 'SELECT net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
            INTO request_id
            USING rtrim(base_url, '/') || p_route,
                  p_body,
                  jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || secret),
                  timeout_ms;
    EXCEPTION WHEN OTHERS THEN
        -- SQLERRM never contains the headers; the secret stays out of the log.
        RAISE WARNING 'fleet: hint to % not queued: %', p_route, SQLERRM;
        RETURN NULL;
    END;
    RETURN request_id;
END
$$;
REVOKE ALL ON FUNCTION fleet.send_hint(text, jsonb) FROM PUBLIC;

-- One user's entitlement went from old_entitled to new_entitled (or its expiry moved while entitled).
CREATE OR REPLACE FUNCTION fleet.entitlement_transition(
    p_user_id uuid, p_old_entitled boolean, p_new_entitled boolean, p_expiry_moved boolean, p_tier text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF p_old_entitled = p_new_entitled AND NOT (p_new_entitled AND p_expiry_moved) THEN
        RETURN; -- irrelevant change (pro -> elite, stripe ids, an expired row staying expired ...)
    END IF;
    PERFORM fleet.mark_user_due(p_user_id, p_new_entitled);
    IF p_new_entitled THEN
        PERFORM fleet.send_hint('/provision', jsonb_build_object('user_id', p_user_id, 'tier', p_tier));
    ELSE
        PERFORM fleet.send_hint('/deprovision',
            jsonb_build_object('user_id', p_user_id, 'reason', 'entitlement_ended'));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION fleet.entitlement_transition(uuid, boolean, boolean, boolean, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION fleet.on_subscription_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM fleet.entitlement_transition(NEW.user_id, false,
            fleet.entitled(NEW.tier, NEW.status, NEW.expires_at), false, NEW.tier);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM fleet.entitlement_transition(OLD.user_id,
            fleet.entitled(OLD.tier, OLD.status, OLD.expires_at), false, false, OLD.tier);
    ELSIF OLD.user_id IS DISTINCT FROM NEW.user_id THEN
        -- A subscription moved to another user: the old user loses it, the new one gains it.
        PERFORM fleet.entitlement_transition(OLD.user_id,
            fleet.entitled(OLD.tier, OLD.status, OLD.expires_at), false, false, OLD.tier);
        PERFORM fleet.entitlement_transition(NEW.user_id, false,
            fleet.entitled(NEW.tier, NEW.status, NEW.expires_at), false, NEW.tier);
    ELSE
        PERFORM fleet.entitlement_transition(NEW.user_id,
            fleet.entitled(OLD.tier, OLD.status, OLD.expires_at),
            fleet.entitled(NEW.tier, NEW.status, NEW.expires_at),
            OLD.expires_at IS DISTINCT FROM NEW.expires_at,
            NEW.tier);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION fleet.on_subscription_change() FROM PUBLIC;

-- Fires on INSERT, DELETE and every UPDATE (including status and expires_at, which the platform ignored).
CREATE OR REPLACE TRIGGER fleet_subscription_entitlement_change
    AFTER INSERT OR UPDATE OR DELETE ON public.user_subscriptions
    FOR EACH ROW EXECUTE FUNCTION fleet.on_subscription_change();

-- The health sweep hint that pg_cron runs.
CREATE OR REPLACE FUNCTION fleet.send_health_sweep_hint() RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT fleet.send_hint('/health/sweep', '{}'::jsonb)
$$;
REVOKE ALL ON FUNCTION fleet.send_health_sweep_hint() FROM PUBLIC;

-- Schedule (or reschedule) the sweep when pg_cron is installed in this database. Returns the job id, or NULL
-- when pg_cron is absent. Call it again after installing pg_cron or changing health_sweep_schedule.
CREATE OR REPLACE FUNCTION fleet.ensure_health_sweep_schedule() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    job_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN NULL;
    END IF;
    -- cron.schedule(name, ...) replaces a job of the same name, so this is idempotent.
    EXECUTE 'SELECT cron.schedule($1, $2, $3)'
        INTO job_id
        USING 'fleet-health-sweep',
              coalesce(nullif(fleet.setting('health_sweep_schedule'), ''), '*/5 * * * *'),
              'SELECT fleet.send_health_sweep_hint()';
    RETURN job_id;
END
$$;
REVOKE ALL ON FUNCTION fleet.ensure_health_sweep_schedule() FROM PUBLIC;

SELECT fleet.ensure_health_sweep_schedule();
