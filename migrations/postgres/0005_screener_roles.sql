-- Fleet 0005: per-user screener access.
--
-- Each dedicated screener connects with its own LOGIN role, a member of the NOLOGIN base role fleet_screener,
-- mapped to exactly one user in fleet.screener_roles. Such a role can SELECT its user's enabled custom
-- (non-built-in) traders and INSERT signals for them. Nothing else.
--
-- The platform's tables carry permissive policies that apply TO PUBLIC and key on auth.uid(), which reads
-- request.jwt.claims: a setting any session may change. Permissive policies are OR-ed, so a screener that
-- forged the claims would be let through by them. Fleet therefore binds the screener with RESTRICTIVE
-- policies TO fleet_screener keyed to the login role itself (current_user, which a session cannot change
-- except to roles it is a member of, and none of those are mapped). Restrictive policies are AND-ed with
-- every permissive one, so no platform policy can widen what a screener sees or writes.
--
-- The platform's trader policy ("View traders based on tier") reads user_subscriptions, whose admin policy
-- reads user_profiles; PostgreSQL evaluates those subqueries with the screener's privileges. The screener
-- gets SELECT on both, restricted by the same kind of policy to its own user's rows.
--
-- Passwords: fleet.create_screener_role accepts only a SCRAM-SHA-256 verifier computed by the caller
-- (fleet_store::scram_sha256_verifier), so the plaintext password never reaches the server and cannot appear
-- in any server log, even with log_statement = 'all'. The function also turns statement logging off for its
-- own transaction where it is allowed to, and reports failures without the statement text. It uses only what
-- Supabase's `postgres` (CREATEROLE, not superuser) may do: on PostgreSQL 15 a non-superuser may not name
-- SUPERUSER, REPLICATION or BYPASSRLS in ALTER ROLE, even to deny them.

CREATE TABLE IF NOT EXISTS fleet.screener_roles (
    role_name  text PRIMARY KEY CONSTRAINT screener_roles_role_name_check CHECK (role_name ~ '^fleet_scr_[a-z0-9_]{1,53}$'),
    user_id    uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON fleet.screener_roles FROM PUBLIC, anon, authenticated;
GRANT SELECT ON fleet.screener_roles TO fleet_screener, fleet_control_plane;
ALTER TABLE fleet.screener_roles ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS screener_reads_own_mapping ON fleet.screener_roles;
CREATE POLICY screener_reads_own_mapping ON fleet.screener_roles
    FOR SELECT TO fleet_screener USING (role_name = current_user);
DROP POLICY IF EXISTS control_plane_reads_mappings ON fleet.screener_roles;
CREATE POLICY control_plane_reads_mappings ON fleet.screener_roles
    FOR SELECT TO fleet_control_plane USING (true);

-- The user the current screener role is mapped to (NULL for any other role).
CREATE OR REPLACE FUNCTION fleet.screener_user_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT user_id FROM fleet.screener_roles WHERE role_name = current_user
$$;
REVOKE ALL ON FUNCTION fleet.screener_user_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.screener_user_id() TO fleet_screener;

-- The app row of the user the logged-in screener role is mapped to. SECURITY DEFINER (a screener may not read
-- user_fly_apps) and keyed to session_user, which a session cannot change.
CREATE OR REPLACE FUNCTION fleet.screener_fly_app_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT a.id
      FROM fleet.screener_roles r
      JOIN public.user_fly_apps a ON a.user_id = r.user_id
     WHERE r.role_name = session_user
$$;
REVOKE ALL ON FUNCTION fleet.screener_fly_app_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.screener_fly_app_id() TO fleet_screener;

GRANT SELECT ON public.traders, public.user_subscriptions, public.user_profiles TO fleet_screener;
-- INSERT only. Screeners dedupe with a plain `ON CONFLICT DO NOTHING` (no conflict target): naming the
-- target would need SELECT on signals, which a screener does not get.
GRANT INSERT ON public.signals TO fleet_screener;

ALTER TABLE public.traders ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.signals ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_profiles ENABLE ROW LEVEL SECURITY;

-- Permissive: what a screener may see at all (the platform's own policies give it nothing it may use).
DROP POLICY IF EXISTS fleet_screener_reads_own_traders ON public.traders;
CREATE POLICY fleet_screener_reads_own_traders ON public.traders
    AS PERMISSIVE FOR SELECT TO fleet_screener
    USING (user_id = fleet.screener_user_id() AND enabled AND NOT is_built_in);

DROP POLICY IF EXISTS fleet_screener_inserts_own_signals ON public.signals;
CREATE POLICY fleet_screener_inserts_own_signals ON public.signals
    AS PERMISSIVE FOR INSERT TO fleet_screener
    WITH CHECK (user_id = fleet.screener_user_id());

-- Restrictive: the bound no other policy can widen.
DROP POLICY IF EXISTS fleet_screener_only_own_traders ON public.traders;
CREATE POLICY fleet_screener_only_own_traders ON public.traders
    AS RESTRICTIVE FOR ALL TO fleet_screener
    USING (user_id = fleet.screener_user_id() AND enabled AND NOT is_built_in)
    WITH CHECK (false);

-- The trader lookup runs under the screener's own trader policies, so only its user's enabled custom traders
-- qualify.
DROP POLICY IF EXISTS fleet_screener_only_own_signals ON public.signals;
CREATE POLICY fleet_screener_only_own_signals ON public.signals
    AS RESTRICTIVE FOR ALL TO fleet_screener
    USING (false)
    WITH CHECK (
        user_id = fleet.screener_user_id()
        AND EXISTS (SELECT 1 FROM public.traders t WHERE t.id = trader_id AND t.user_id = fleet.screener_user_id())
    );

DROP POLICY IF EXISTS fleet_screener_only_own_subscription ON public.user_subscriptions;
CREATE POLICY fleet_screener_only_own_subscription ON public.user_subscriptions
    AS RESTRICTIVE FOR ALL TO fleet_screener
    USING (user_id = fleet.screener_user_id())
    WITH CHECK (false);

DROP POLICY IF EXISTS fleet_screener_only_own_profile ON public.user_profiles;
CREATE POLICY fleet_screener_only_own_profile ON public.user_profiles
    AS RESTRICTIVE FOR ALL TO fleet_screener
    USING (id = fleet.screener_user_id())
    WITH CHECK (false);

-- A screener's signals carry what the platform reads: the app that produced them (signals.fly_app_id, which the
-- platform's UI and queries use), source 'cloud' and the platform's initial status 'new'. Filled in by the
-- database so that no screener build or machine configuration can get them wrong.
CREATE OR REPLACE FUNCTION fleet.stamp_screener_signal() RETURNS trigger
    LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF pg_has_role(current_user, 'fleet_screener', 'MEMBER') AND current_user <> 'fleet_screener' THEN
        NEW.fly_app_id := fleet.screener_fly_app_id();
        NEW.source := 'cloud';
        NEW.status := coalesce(NEW.status, 'new');
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION fleet.stamp_screener_signal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.stamp_screener_signal() TO fleet_screener;

CREATE OR REPLACE TRIGGER fleet_stamp_screener_signal
    BEFORE INSERT ON public.signals
    FOR EACH ROW EXECUTE FUNCTION fleet.stamp_screener_signal();

-- Turn statement logging off for the current transaction where this role may (superuser, or a Supabase
-- role granted SET on these parameters). Silently keeps the defaults elsewhere.
CREATE OR REPLACE FUNCTION fleet.quiet_statement_logging() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    parameter text;
BEGIN
    FOREACH parameter IN ARRAY ARRAY['log_statement', 'log_min_duration_statement', 'pgaudit.log'] LOOP
        BEGIN
            PERFORM set_config(parameter, CASE WHEN parameter = 'log_min_duration_statement' THEN '-1'
                                               ELSE 'none' END, true);
        EXCEPTION WHEN OTHERS THEN
            NULL; -- not permitted or parameter unknown (pgaudit absent)
        END;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION fleet.quiet_statement_logging() FROM PUBLIC;

CREATE OR REPLACE FUNCTION fleet.check_screener_role_name(p_role_name text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE AS
$$
BEGIN
    IF p_role_name IS NULL OR p_role_name !~ '^fleet_scr_[a-z0-9_]{1,53}$' THEN
        RAISE EXCEPTION 'invalid screener role name %', quote_literal(coalesce(p_role_name, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'a screener role name matches ^fleet_scr_[a-z0-9_]{1,53}$';
    END IF;
END
$$;

-- Create, or re-key, the LOGIN role of one user's screener. Idempotent: calling it again for the same role
-- and user rotates the password. Refuses roles that exist but are not screener roles mapped to this user.
CREATE OR REPLACE FUNCTION fleet.create_screener_role(p_role_name text, p_user_id uuid, p_password_verifier text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    mapped_user uuid;
    role_exists boolean;
BEGIN
    PERFORM fleet.quiet_statement_logging();
    PERFORM fleet.check_screener_role_name(p_role_name);
    IF p_user_id IS NULL THEN
        RAISE EXCEPTION 'screener role needs a user id' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_password_verifier IS NULL OR p_password_verifier !~ '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
        RAISE EXCEPTION 'screener role password must be a SCRAM-SHA-256 verifier, never a plaintext password'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Serialise concurrent calls for the same role name.
    PERFORM pg_advisory_xact_lock(hashtext('fleet_screener_role:' || p_role_name));

    SELECT user_id INTO mapped_user FROM fleet.screener_roles WHERE role_name = p_role_name;
    IF mapped_user IS NOT NULL AND mapped_user <> p_user_id THEN
        RAISE EXCEPTION 'screener role % is mapped to another user', p_role_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM fleet.screener_roles WHERE user_id = p_user_id AND role_name <> p_role_name) THEN
        RAISE EXCEPTION 'user already has another screener role' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    role_exists := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_role_name);
    IF role_exists AND (mapped_user IS NULL OR NOT pg_has_role(p_role_name, 'fleet_screener', 'MEMBER')
                        OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_role_name
                                   AND (rolsuper OR rolreplication OR rolbypassrls))) THEN
        RAISE EXCEPTION 'role % exists and is not a Fleet screener role of this user', p_role_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    BEGIN
        IF role_exists THEN
            -- Re-key: the new verifier replaces the old one, so the old password stops working at once.
            EXECUTE format('ALTER ROLE %I WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT CONNECTION LIMIT 10 PASSWORD %L',
                           p_role_name, p_password_verifier);
        ELSE
            EXECUTE format('CREATE ROLE %I WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT CONNECTION LIMIT 10 PASSWORD %L '
                           'IN ROLE fleet_screener',
                           p_role_name, p_password_verifier);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- Re-raise without the statement text (it carries the verifier).
        RAISE EXCEPTION 'creating screener role % failed: %', p_role_name, SQLERRM USING ERRCODE = SQLSTATE;
    END;

    INSERT INTO fleet.screener_roles (role_name, user_id) VALUES (p_role_name, p_user_id)
    ON CONFLICT (role_name) DO UPDATE SET updated_at = now();
END
$$;
REVOKE ALL ON FUNCTION fleet.create_screener_role(text, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.create_screener_role(text, uuid, text) TO fleet_control_plane;

-- Revoke one screener role: NOLOGIN, end its sessions, drop it, forget the mapping. Returns false when the
-- role was already gone (idempotent). Refuses roles that are not Fleet screener roles.
CREATE OR REPLACE FUNCTION fleet.drop_screener_role(p_role_name text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM fleet.check_screener_role_name(p_role_name);
    PERFORM pg_advisory_xact_lock(hashtext('fleet_screener_role:' || p_role_name));
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_role_name) THEN
        DELETE FROM fleet.screener_roles WHERE role_name = p_role_name;
        RETURN false;
    END IF;
    IF NOT pg_has_role(p_role_name, 'fleet_screener', 'MEMBER') THEN
        RAISE EXCEPTION 'role % is not a Fleet screener role', p_role_name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- No new logins, and open sessions lose every privilege at once (they come only from fleet_screener).
    EXECUTE format('ALTER ROLE %I NOLOGIN', p_role_name);
    EXECUTE format('REVOKE fleet_screener FROM %I', p_role_name);
    -- Ending the sessions needs pg_signal_backend (or superuser), which Supabase's postgres may lack; without
    -- it they stay open but can read and write nothing of the platform.
    BEGIN
        PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = p_role_name;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'fleet: could not end sessions of %; they have lost all access', p_role_name;
    END;
    EXECUTE format('DROP ROLE %I', p_role_name);
    DELETE FROM fleet.screener_roles WHERE role_name = p_role_name;
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION fleet.drop_screener_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.drop_screener_role(text) TO fleet_control_plane;
