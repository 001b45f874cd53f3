-- Fleet-wide leases: at most one worker at a time does the work that concerns the whole fleet (the orphan scan,
-- driving an image rollout), so concurrent sweeps on one database never report or roll twice.
CREATE TABLE IF NOT EXISTS public.fleet_leases (
    name       text PRIMARY KEY,
    owner      text NOT NULL,
    expires_at timestamptz NOT NULL
);

REVOKE ALL ON public.fleet_leases FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.fleet_leases TO fleet_control_plane, service_role;
ALTER TABLE public.fleet_leases ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS fleet_control_plane_writes ON public.fleet_leases;
CREATE POLICY fleet_control_plane_writes ON public.fleet_leases
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);
