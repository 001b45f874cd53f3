-- Fleet 0007: the control plane reads signals and traders, for the admin dashboard's recent signals
-- (GET /admin/api/signals joins signals to their trader). SELECT only: the control plane never writes either.
-- Both tables have row level security (the platform's, and Fleet 0005 on vanilla PostgreSQL), so the role
-- also needs a permissive SELECT policy; Fleet 0005's restrictive policies are TO fleet_screener and do not
-- apply. Idempotent: GRANT repeats harmlessly and each policy is dropped before it is created.

GRANT SELECT ON public.signals, public.traders TO fleet_control_plane;

ALTER TABLE public.signals ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.traders ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS fleet_control_plane_reads ON public.signals;
CREATE POLICY fleet_control_plane_reads ON public.signals
    AS PERMISSIVE FOR SELECT TO fleet_control_plane USING (true);

DROP POLICY IF EXISTS fleet_control_plane_reads ON public.traders;
CREATE POLICY fleet_control_plane_reads ON public.traders
    AS PERMISSIVE FOR SELECT TO fleet_control_plane USING (true);
