-- Cluster-wide roles of a Supabase project, created once per cluster by fleet-test-support (as the superuser,
-- `supabase_admin` on a throwaway cluster) before supabase.sql runs in any database. Idempotent: an existing role
-- is left as it is (fleet-test-support refuses a DATABASE_URL server whose `postgres` role is a superuser).
-- Passwords are set afterwards by fleet-test-support (`postgres` and `authenticator` get the admin's password).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres') THEN
        -- The role a Supabase customer gets: everything except superuser.
        CREATE ROLE postgres LOGIN NOSUPERUSER CREATEDB CREATEROLE BYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        -- PostgREST's login: switches to anon / authenticated / service_role per request.
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
        -- GoTrue's login; owns the auth schema.
        CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE;
    END IF;
END
$roles$;

GRANT anon, authenticated, service_role TO authenticator;
-- The dashboard's SQL editor runs as postgres and may impersonate the API roles (SET ROLE authenticated).
GRANT anon, authenticated, service_role TO postgres;
-- Predefined roles a Supabase project grants postgres (pg_dumpall of real projects: "GRANT pg_signal_backend TO
-- postgres WITH ADMIN OPTION ...", likewise pg_read_all_data): it may end other roles' sessions.
GRANT pg_signal_backend, pg_read_all_data TO postgres WITH ADMIN OPTION;

ALTER ROLE postgres SET search_path = "$user", public, extensions;
ALTER ROLE supabase_auth_admin SET search_path = auth;
