-- Fleet 0005: per-user screener access.
--
-- Each dedicated screener connects with its own LOGIN role, a member of the NOLOGIN base role fleet_screener,
-- mapped to exactly one user in fleet.screener_roles. Through grants and RLS such a role can SELECT its user's
-- enabled custom (non-built-in) traders and INSERT signals for them. Nothing else.
--
-- Passwords: fleet.create_screener_role accepts only a SCRAM-SHA-256 verifier computed by the caller
-- (fleet_store::scram_sha256_verifier), so the plaintext password never reaches the server and cannot appear
-- in any server log, even with log_statement = 'all'. The function also turns statement logging off for its
-- own transaction where it is allowed to, and reports failures without the statement text.

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

GRANT SELECT ON public.traders TO fleet_screener;
-- INSERT only. Screeners dedupe with a plain `ON CONFLICT DO NOTHING` (no conflict target): naming the
-- target would need SELECT on signals, which a screener does not get.
GRANT INSERT ON public.signals TO fleet_screener;

ALTER TABLE public.traders ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.signals ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS fleet_screener_reads_own_traders ON public.traders;
CREATE POLICY fleet_screener_reads_own_traders ON public.traders
    FOR SELECT TO fleet_screener
    USING (user_id = fleet.screener_user_id() AND enabled AND NOT is_built_in);

-- The trader lookup runs under the screener's own trader policy, so only its user's enabled custom traders
-- qualify.
DROP POLICY IF EXISTS fleet_screener_inserts_own_signals ON public.signals;
CREATE POLICY fleet_screener_inserts_own_signals ON public.signals
    FOR INSERT TO fleet_screener
    WITH CHECK (
        user_id = fleet.screener_user_id()
        AND EXISTS (SELECT 1 FROM public.traders t WHERE t.id = trader_id AND t.user_id = fleet.screener_user_id())
    );

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
    IF role_exists AND (mapped_user IS NULL OR NOT pg_has_role(p_role_name, 'fleet_screener', 'MEMBER')) THEN
        RAISE EXCEPTION 'role % exists and is not a Fleet screener role of this user', p_role_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    BEGIN
        IF role_exists THEN
            EXECUTE format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
                           'INHERIT CONNECTION LIMIT 10 PASSWORD %L', p_role_name, p_password_verifier);
        ELSE
            EXECUTE format('CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
                           'INHERIT CONNECTION LIMIT 10 PASSWORD %L IN ROLE fleet_screener',
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
    EXECUTE format('ALTER ROLE %I NOLOGIN', p_role_name);
    BEGIN
        PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = p_role_name;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'fleet: could not end sessions of %; they end at their next reconnect', p_role_name;
    END;
    EXECUTE format('DROP ROLE %I', p_role_name);
    DELETE FROM fleet.screener_roles WHERE role_name = p_role_name;
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION fleet.drop_screener_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.drop_screener_role(text) TO fleet_control_plane;
