-- Fleet 0009: admin logins that can be throttled and revoked (issue 19 item 4).
--
-- fleet_auth_failures counts failed password attempts (the admin token at /admin/login, as an admin bearer, or
-- at GET /health/apps/*) per fixed window, per source address and globally (scope 'global'), so every instance
-- sees the same counts. Rows of past windows are pruned by the components.
--
-- fleet_admin_sessions holds one row per dashboard login: the SHA-256 of the session id (the cookie holds the
-- id and an HMAC of it with the admin token, so the table alone never yields a usable cookie), its expiry and
-- when it was revoked. Logout revokes one session, "sign out everywhere" every session.

CREATE TABLE IF NOT EXISTS public.fleet_auth_failures (
    scope        text   NOT NULL,
    window_start bigint NOT NULL,
    failures     bigint NOT NULL DEFAULT 0 CHECK (failures >= 0),
    PRIMARY KEY (scope, window_start)
);
REVOKE ALL ON public.fleet_auth_failures FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.fleet_auth_failures TO fleet_control_plane, service_role;
ALTER TABLE public.fleet_auth_failures ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS fleet_control_plane_writes ON public.fleet_auth_failures;
CREATE POLICY fleet_control_plane_writes ON public.fleet_auth_failures
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);

CREATE TABLE IF NOT EXISTS public.fleet_admin_sessions (
    id_hash    text   PRIMARY KEY,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    revoked_at bigint
);
REVOKE ALL ON public.fleet_admin_sessions FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.fleet_admin_sessions TO fleet_control_plane, service_role;
ALTER TABLE public.fleet_admin_sessions ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS fleet_control_plane_writes ON public.fleet_admin_sessions;
CREATE POLICY fleet_control_plane_writes ON public.fleet_admin_sessions
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);
