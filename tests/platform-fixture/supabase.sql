-- What a Supabase project's database holds before any user migration, as far as Fleet and the platform
-- (tomkanjam/orderflowscanner) depend on it. Run as the cluster superuser (`supabase_admin` on the throwaway
-- cluster) on a fresh database owned by `postgres`, after roles.sql. Written for this fixture from Supabase's
-- documented behaviour; see README.md for what is a stand-in (pg_net, Vault, pg_cron) and how it differs.
--
-- Objects are owned by the superuser running this file (on Supabase: supabase_admin or supabase_auth_admin);
-- `postgres` gets the grants it has on Supabase.

SET client_min_messages = warning;

-- ---------------------------------------------------------------------------------------------------------------
-- public: owned by the database owner (pg_database_owner, PostgreSQL 15's default); the API roles may use it.
-- Tables, sequences and functions that postgres (or the superuser) creates here are granted to the API roles:
-- on Supabase a new table is exposed through the Data API unless its grants are revoked.
-- ---------------------------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON SCHEMA public TO postgres;

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA public
    GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA public
    GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------------------------
-- extensions: where Supabase installs extensions (on postgres's search_path, see roles.sql).
-- ---------------------------------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS extensions;
GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role;

DO $ext$
BEGIN
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pgcrypto') THEN
        CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
    END IF;
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'uuid-ossp') THEN
        CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;
    END IF;
END
$ext$;

-- ---------------------------------------------------------------------------------------------------------------
-- auth: GoTrue's schema. Only auth.users (with the columns GoTrue fills on sign-up) and the helper functions
-- that RLS policies call. auth.uid() / auth.role() / auth.email() / auth.jwt() read the request's JWT claims
-- from the `request.jwt.claims` setting (PostgREST sets it per request; any session may set it too), falling
-- back to the legacy per-claim settings `request.jwt.claim.sub` / `.role` / `.email`.
-- ---------------------------------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_auth_admin;
GRANT USAGE ON SCHEMA auth TO postgres, anon, authenticated, service_role;

CREATE TABLE auth.users (
    instance_id uuid,
    id uuid NOT NULL PRIMARY KEY,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    confirmation_sent_at timestamptz,
    recovery_token varchar(255),
    recovery_sent_at timestamptz,
    email_change varchar(255),
    email_change_sent_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text UNIQUE DEFAULT NULL,
    phone_confirmed_at timestamptz,
    banned_until timestamptz,
    deleted_at timestamptz,
    is_sso_user boolean NOT NULL DEFAULT false,
    is_anonymous boolean NOT NULL DEFAULT false
);
CREATE INDEX users_instance_id_idx ON auth.users (instance_id);
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE is_sso_user = false;
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
-- postgres may read and write users (seed scripts do), reference them (FKs) and put triggers on them
-- (the usual on_auth_user_created pattern).
GRANT ALL ON TABLE auth.users TO postgres;

CREATE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$fn$;

CREATE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE
AS $fn$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
    )::uuid
$fn$;

CREATE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
    )::text
$fn$;

CREATE FUNCTION auth.email() RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'
    )::text
$fn$;

ALTER FUNCTION auth.jwt() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.email() OWNER TO supabase_auth_admin;
GRANT EXECUTE ON FUNCTION auth.jwt(), auth.uid(), auth.role(), auth.email()
    TO postgres, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------------------------
-- vault: STAND-IN for supabase_vault. Same names and call shapes (vault.secrets, vault.decrypted_secrets,
-- vault.create_secret, vault.update_secret), but the secret is stored in PLAIN TEXT and "decryption" is the
-- identity. Test data only.
-- ---------------------------------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS vault;
GRANT USAGE ON SCHEMA vault TO postgres, service_role;

CREATE TABLE vault.secrets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text,
    description text NOT NULL DEFAULT '',
    secret text NOT NULL,
    key_id uuid,
    nonce bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX secrets_name_idx ON vault.secrets (name) WHERE name IS NOT NULL;

CREATE VIEW vault.decrypted_secrets AS
    SELECT s.id, s.name, s.description, s.secret,
           s.secret AS decrypted_secret,
           s.key_id, s.nonce, s.created_at, s.updated_at
    FROM vault.secrets s;

CREATE FUNCTION vault.create_secret(
    new_secret text,
    new_name text DEFAULT NULL,
    new_description text DEFAULT '',
    new_key_id uuid DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $fn$
DECLARE
    created uuid;
BEGIN
    INSERT INTO vault.secrets (secret, name, description, key_id)
    VALUES (new_secret, new_name, coalesce(new_description, ''), new_key_id)
    RETURNING id INTO created;
    RETURN created;
END
$fn$;

CREATE FUNCTION vault.update_secret(
    secret_id uuid,
    new_secret text DEFAULT NULL,
    new_name text DEFAULT NULL,
    new_description text DEFAULT NULL,
    new_key_id uuid DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $fn$
BEGIN
    UPDATE vault.secrets
    SET secret = coalesce(new_secret, secret),
        name = coalesce(new_name, name),
        description = coalesce(new_description, description),
        key_id = coalesce(new_key_id, key_id),
        updated_at = now()
    WHERE id = secret_id;
END
$fn$;

REVOKE ALL ON FUNCTION vault.create_secret(text, text, text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.update_secret(uuid, text, text, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.create_secret(text, text, text, uuid) TO postgres, service_role;
GRANT EXECUTE ON FUNCTION vault.update_secret(uuid, text, text, text, uuid) TO postgres, service_role;
GRANT SELECT, DELETE ON vault.secrets TO postgres, service_role;
GRANT SELECT ON vault.decrypted_secrets TO postgres, service_role;

-- ---------------------------------------------------------------------------------------------------------------
-- net: STAND-IN for pg_net. net.http_post / net.http_get have pg_net's signatures and enqueue into
-- net.http_request_queue exactly as pg_net does (url NOT NULL: a NULL url raises, as with pg_net), but nothing
-- is ever sent: no worker consumes the queue, so tests count and inspect the rows. Differences from pg_net: the
-- queue is a logged table with a created_at column, body is stored as jsonb (pg_net: bytea of the JSON text),
-- and rows stay until deleted. net._http_response exists and stays empty.
-- ---------------------------------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS net;
GRANT USAGE ON SCHEMA net TO postgres, anon, authenticated, service_role;

CREATE DOMAIN net.http_method AS text
    CHECK (VALUE ILIKE 'get' OR VALUE ILIKE 'post' OR VALUE ILIKE 'delete');

CREATE TABLE net.http_request_queue (
    id bigserial PRIMARY KEY,
    method net.http_method NOT NULL,
    url text NOT NULL,
    headers jsonb,
    body jsonb,
    timeout_milliseconds integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE net._http_response (
    id bigint,
    status_code integer,
    content_type text,
    headers jsonb,
    content text,
    timed_out boolean,
    error_msg text,
    created timestamptz NOT NULL DEFAULT now()
);

-- url with params appended as a query string (values are not percent-encoded by this stand-in).
CREATE FUNCTION net._url_with_params(url text, params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE
        WHEN params IS NULL OR params = '{}'::jsonb THEN url
        ELSE url || CASE WHEN position('?' IN url) > 0 THEN '&' ELSE '?' END
                 || (SELECT string_agg(key || '=' || value, '&' ORDER BY key) FROM jsonb_each_text(params))
    END
$fn$;

CREATE FUNCTION net.http_post(
    url text,
    body jsonb DEFAULT '{}'::jsonb,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $fn$
DECLARE
    content_type text;
    queued bigint;
BEGIN
    SELECT value INTO content_type
    FROM jsonb_each_text(coalesce(headers, '{}'::jsonb))
    WHERE lower(key) = 'content-type';
    IF content_type IS NULL THEN
        headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
    ELSIF content_type <> 'application/json' THEN
        RAISE EXCEPTION 'Content-Type header must be "application/json"';
    END IF;
    INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
    VALUES ('POST', net._url_with_params(url, params), headers, body, timeout_milliseconds)
    RETURNING id INTO queued;
    RETURN queued;
END
$fn$;

CREATE FUNCTION net.http_get(
    url text,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $fn$
DECLARE
    queued bigint;
BEGIN
    INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
    VALUES ('GET', net._url_with_params(url, params), headers, NULL, timeout_milliseconds)
    RETURNING id INTO queued;
    RETURN queued;
END
$fn$;

REVOKE ALL ON FUNCTION net.http_post(text, jsonb, jsonb, jsonb, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION net.http_get(text, jsonb, jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION net.http_post(text, jsonb, jsonb, jsonb, integer)
    TO postgres, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION net.http_get(text, jsonb, jsonb, integer)
    TO postgres, anon, authenticated, service_role;
GRANT SELECT, DELETE ON net.http_request_queue, net._http_response TO postgres;

-- ---------------------------------------------------------------------------------------------------------------
-- cron: STUB for pg_cron, created only when the real pg_cron is not installed in this database (pg_cron lives in
-- one database per cluster, cron.database_name). cron.schedule upserts by job name like pg_cron; nothing runs.
-- Not registered in pg_extension, so code that checks `pg_extension WHERE extname = 'pg_cron'` sees no pg_cron.
-- ---------------------------------------------------------------------------------------------------------------
DO $cron$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        GRANT USAGE ON SCHEMA cron TO postgres;
        GRANT ALL ON ALL TABLES IN SCHEMA cron TO postgres;
        RETURN;
    END IF;

    CREATE SCHEMA cron;
    GRANT USAGE ON SCHEMA cron TO postgres;

    CREATE TABLE cron.job (
        jobid bigserial PRIMARY KEY,
        schedule text NOT NULL,
        command text NOT NULL,
        nodename text NOT NULL DEFAULT 'localhost',
        nodeport integer NOT NULL DEFAULT 5432,
        database text NOT NULL DEFAULT current_database(),
        username text NOT NULL DEFAULT current_user,
        active boolean NOT NULL DEFAULT true,
        jobname text,
        CONSTRAINT jobname_username_uniq UNIQUE (jobname, username)
    );

    CREATE TABLE cron.job_run_details (
        jobid bigint,
        runid bigserial PRIMARY KEY,
        job_pid integer,
        database text,
        username text,
        command text,
        status text,
        return_message text,
        start_time timestamptz,
        end_time timestamptz
    );

    CREATE FUNCTION cron.schedule(job_name text, schedule text, command text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = ''
    AS $fn$
    DECLARE
        id bigint;
    BEGIN
        INSERT INTO cron.job (jobname, schedule, command)
        VALUES (job_name, schedule, command)
        ON CONFLICT (jobname, username)
            DO UPDATE SET schedule = EXCLUDED.schedule, command = EXCLUDED.command, active = true
        RETURNING jobid INTO id;
        RETURN id;
    END
    $fn$;

    CREATE FUNCTION cron.schedule(schedule text, command text) RETURNS bigint
    LANGUAGE sql VOLATILE SET search_path = ''
    AS $fn$
        INSERT INTO cron.job (schedule, command) VALUES (schedule, command) RETURNING jobid
    $fn$;

    CREATE FUNCTION cron.unschedule(job_name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = ''
    AS $fn$
    BEGIN
        DELETE FROM cron.job WHERE jobname = job_name AND username = current_user;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'could not find valid entry for job ''%''', job_name;
        END IF;
        RETURN true;
    END
    $fn$;

    CREATE FUNCTION cron.unschedule(job_id bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = ''
    AS $fn$
    BEGIN
        DELETE FROM cron.job WHERE jobid = job_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'could not find valid entry for job %', job_id;
        END IF;
        RETURN true;
    END
    $fn$;

    GRANT SELECT, INSERT, UPDATE, DELETE ON cron.job, cron.job_run_details TO postgres;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA cron TO postgres;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA cron TO postgres;
END
$cron$;

-- ---------------------------------------------------------------------------------------------------------------
-- Realtime's publication (empty until a migration adds tables), owned by postgres as on Supabase.
-- ---------------------------------------------------------------------------------------------------------------
CREATE PUBLICATION supabase_realtime;
ALTER PUBLICATION supabase_realtime OWNER TO postgres;
