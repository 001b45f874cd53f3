-- Fleet 0004: row level security on Fleet tables. A user reads only their own row and events, admins
-- (user_profiles.is_admin) read all, and only the control plane writes.
--
-- The requesting user comes from the JWT claims the way Supabase applies them (PostgREST and Supabase's server
-- middleware: SET LOCAL ROLE authenticated + set_config('request.jwt.claims', '{"sub": ...}', true)). On
-- Supabase fleet.request_user_id() simply calls auth.uid(); elsewhere it reads the same settings auth.uid()
-- reads. Fleet never creates or replaces anything in the auth schema, so Supabase's own objects stay intact.
--
-- On the platform's user_fly_apps / user_fly_app_events, anon loses every privilege and authenticated keeps only
-- SELECT: Supabase's default grants had given both full write privileges that the platform's RLS never let
-- them use. Fleet's read policies repeat the platform's (own row, or admin) next to them.

DO $uid$
BEGIN
    IF to_regprocedure('auth.uid()') IS NOT NULL THEN
        CREATE OR REPLACE FUNCTION fleet.request_user_id() RETURNS uuid
            LANGUAGE sql STABLE AS 'SELECT auth.uid()';
    ELSE
        CREATE OR REPLACE FUNCTION fleet.request_user_id() RETURNS uuid
            LANGUAGE sql STABLE AS
        $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
            )::uuid
        $fn$;
    END IF;
END
$uid$;

-- SECURITY DEFINER so the admin flag is read regardless of the platform's policies on user_profiles.
CREATE OR REPLACE FUNCTION fleet.request_is_admin() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT coalesce((SELECT is_admin FROM public.user_profiles WHERE id = fleet.request_user_id()), false)
$$;
REVOKE ALL ON FUNCTION fleet.request_is_admin() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.request_is_admin() TO anon, authenticated, service_role, fleet_control_plane;

-- Grants: Supabase grants ALL on new public tables to anon/authenticated by default, so revoke first.
REVOKE ALL ON public.user_fly_apps, public.user_fly_app_events, public.fleet_state, public.fleet_entitlements
    FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.user_fly_apps, public.user_fly_app_events TO authenticated;
GRANT SELECT, INSERT, UPDATE ON public.user_fly_apps TO fleet_control_plane, service_role;
GRANT SELECT, INSERT ON public.user_fly_app_events TO fleet_control_plane, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.fleet_state TO fleet_control_plane, service_role;
GRANT SELECT ON public.fleet_entitlements, public.user_subscriptions, public.user_profiles
    TO fleet_control_plane, service_role;
GRANT SELECT ON fleet.settings TO fleet_control_plane;

ALTER TABLE public.user_fly_apps ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_fly_app_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.fleet_state ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS fleet_owner_or_admin_reads ON public.user_fly_apps;
CREATE POLICY fleet_owner_or_admin_reads ON public.user_fly_apps
    FOR SELECT TO authenticated
    USING (user_id = fleet.request_user_id() OR fleet.request_is_admin());

DROP POLICY IF EXISTS fleet_control_plane_writes ON public.user_fly_apps;
CREATE POLICY fleet_control_plane_writes ON public.user_fly_apps
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS fleet_owner_or_admin_reads ON public.user_fly_app_events;
CREATE POLICY fleet_owner_or_admin_reads ON public.user_fly_app_events
    FOR SELECT TO authenticated
    USING (user_id = fleet.request_user_id() OR fleet.request_is_admin());

DROP POLICY IF EXISTS fleet_control_plane_writes ON public.user_fly_app_events;
CREATE POLICY fleet_control_plane_writes ON public.user_fly_app_events
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS fleet_control_plane_writes ON public.fleet_state;
CREATE POLICY fleet_control_plane_writes ON public.fleet_state
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);

-- The control plane reads every subscription and profile even where the platform enabled RLS on them.
DO $platform_policies$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['user_subscriptions', 'user_profiles'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS fleet_control_plane_reads ON public.%I', tbl);
        EXECUTE format('CREATE POLICY fleet_control_plane_reads ON public.%I FOR SELECT TO fleet_control_plane '
                       'USING (true)', tbl);
    END LOOP;
END
$platform_policies$;

-- The platform's status function (its migration 035), kept with its signature and return type so the
-- platform's callers keep working. Two deliberate changes: it is SECURITY INVOKER (the platform's version was
-- SECURITY DEFINER without any check, so any signed-in user could read anyone's app), so the caller's RLS
-- decides what it sees: a user their own app, an admin anyone's; and its search_path is pinned.
CREATE OR REPLACE FUNCTION public.get_user_fly_app_status(p_user_id uuid)
    RETURNS TABLE (
        app_name   text,
        status     text,
        health     text,
        last_check timestamptz
    )
    LANGUAGE sql STABLE SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT a.fly_app_name, a.status, a.health_status, a.last_health_check
      FROM public.user_fly_apps a
     WHERE a.user_id = p_user_id
       AND a.deleted_at IS NULL
$$;
REVOKE ALL ON FUNCTION public.get_user_fly_app_status(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.get_user_fly_app_status(uuid) TO authenticated, service_role, fleet_control_plane;

-- Control-plane entry points.
GRANT EXECUTE ON FUNCTION fleet.mark_user_due(uuid, boolean), fleet.ensure_health_sweep_schedule()
    TO fleet_control_plane;
