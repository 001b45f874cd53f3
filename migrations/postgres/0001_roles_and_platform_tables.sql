-- Fleet 0001: roles, the private `fleet` schema and, on vanilla PostgreSQL only, the platform tables Fleet reads.
--
-- Runs in one transaction (the runner wraps it; by hand: psql -v ON_ERROR_STOP=1 --single-transaction -f ...).
-- Applying it again changes nothing.
-- * On Supabase, anon/authenticated/service_role exist; vanilla PostgreSQL gets NOLOGIN stand-ins so the same
--   grants and policies apply in tests.
-- * The platform (tomkanjam/orderflowscanner, "Vyx") already has user_profiles, user_subscriptions, traders and
--   signals. They are created here only when absent (vanilla PostgreSQL), in the platform's own shape (names,
--   types, defaults and CHECKs of its migrations 001-039), so Fleet's code meets one shape everywhere. Nothing of
--   an existing platform table is changed by this file except the `signals` additions at the end.
-- * Roles are cluster-wide while databases are not, so concurrent runs in sibling databases may race on
--   CREATE ROLE: both "already exists" errors are tolerated.

DO $roles$
DECLARE
    wanted text;
BEGIN
    FOREACH wanted IN ARRAY ARRAY['anon', 'authenticated', 'service_role', 'fleet_control_plane', 'fleet_screener'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = wanted) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', wanted);
                -- Supabase's service_role bypasses RLS; mirror that where we are allowed to.
                IF wanted = 'service_role'
                   AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                    EXECUTE 'ALTER ROLE service_role BYPASSRLS';
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created concurrently by a migration in another database
            END;
        END IF;
    END LOOP;
END
$roles$;

-- fleet_control_plane: the only role that writes Fleet tables; GRANT it to the login role the Spin app uses.
-- fleet_screener: base role of per-user screener LOGIN roles (own enabled custom traders, own signals).
-- (No COMMENT ON ROLE: it updates a cluster-wide catalog row and would race across sibling databases.)

-- Private schema: settings (webhook URL and secret), the screener role mapping and helper functions. It is
-- not exposed through PostgREST; only function execution is granted to API roles.
CREATE SCHEMA IF NOT EXISTS fleet;
REVOKE ALL ON SCHEMA fleet FROM PUBLIC;
GRANT USAGE ON SCHEMA fleet TO anon, authenticated, service_role, fleet_control_plane, fleet_screener;

-- ---------------------------------------------------------------------------------------------------------
-- Vanilla PostgreSQL only: the platform tables in the platform's shape (the subset of columns Fleet and the
-- screener use, with the platform's types, defaults and CHECKs). On Supabase they exist and are left alone.
-- ---------------------------------------------------------------------------------------------------------

-- updated_at moves on every change (the platform's update_updated_at_column(), for vanilla PostgreSQL).
CREATE OR REPLACE FUNCTION fleet.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

DO $platform$
BEGIN
    IF to_regclass('public.user_profiles') IS NULL THEN
        CREATE TABLE public.user_profiles (
            id           uuid PRIMARY KEY,
            email        text NOT NULL,
            display_name text,
            is_admin     boolean DEFAULT false,
            created_at   timestamptz DEFAULT now(),
            updated_at   timestamptz DEFAULT now()
        );
    END IF;

    IF to_regclass('public.user_subscriptions') IS NULL THEN
        CREATE TABLE public.user_subscriptions (
            id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id                uuid UNIQUE,
            tier                   text DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'elite')),
            status                 text DEFAULT 'active' CHECK (status IN ('active', 'cancelled', 'past_due')),
            custom_signals_count   integer DEFAULT 0,
            started_at             timestamptz DEFAULT now(),
            expires_at             timestamptz,
            stripe_customer_id     text,
            stripe_subscription_id text,
            created_at             timestamptz DEFAULT now(),
            updated_at             timestamptz DEFAULT now()
        );
    END IF;

    IF to_regclass('public.traders') IS NULL THEN
        CREATE TABLE public.traders (
            id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id     uuid,
            name        text NOT NULL,
            description text NOT NULL,
            enabled     boolean DEFAULT true,
            filter      jsonb NOT NULL,
            strategy    jsonb NOT NULL,
            is_built_in boolean DEFAULT false,
            language    text DEFAULT 'javascript' CHECK (language IN ('javascript', 'go')),
            created_at  timestamptz DEFAULT now(),
            updated_at  timestamptz DEFAULT now()
        );
        CREATE INDEX idx_traders_user_id ON public.traders (user_id);
        -- A screener polls traders.updated_at for changes.
        CREATE TRIGGER update_traders_updated_at BEFORE UPDATE ON public.traders
            FOR EACH ROW EXECUTE FUNCTION fleet.touch_updated_at();
    END IF;

    IF to_regclass('public.signals') IS NULL THEN
        CREATE TABLE public.signals (
            id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id                  uuid,
            symbol                   text NOT NULL,
            interval                 text,
            timestamp                timestamptz,
            price_at_signal          double precision,
            change_percent_at_signal double precision,
            volume_at_signal         double precision,
            count                    integer DEFAULT 1,
            status                   text,
            closed_at                timestamptz,
            created_at               timestamptz NOT NULL DEFAULT now(),
            updated_at               timestamptz DEFAULT now(),
            trader_id                uuid REFERENCES public.traders (id) ON DELETE CASCADE,
            source                   text NOT NULL DEFAULT 'local'
                CONSTRAINT signals_source_check CHECK (source IN ('local', 'cloud')),
            fly_app_id               uuid,
            indicator_data           jsonb
        );
        CREATE INDEX idx_signals_trader_id ON public.signals (trader_id);
    END IF;
END
$platform$;

-- What Fleet adds to the platform's signals: the candle a signal belongs to, so restarts and reconnects of a
-- screener never duplicate a signal (NULLs never conflict, so the platform's own rows are unaffected).
ALTER TABLE public.signals ADD COLUMN IF NOT EXISTS candle_open_time timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS signals_trader_candle_key
    ON public.signals (trader_id, symbol, interval, candle_open_time);
