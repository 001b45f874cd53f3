-- Fleet 0001: roles, the private `fleet` schema and the platform tables Fleet reads.
--
-- Applies on vanilla PostgreSQL 15 and on Supabase, any number of times.
-- * Supabase already has anon/authenticated/service_role; vanilla PostgreSQL gets NOLOGIN stand-ins so the
--   same policies apply in tests.
-- * Platform tables (user_profiles, user_subscriptions, traders, signals) are created only when absent, because
--   production already has them. Columns Fleet and the screener depend on are added when missing.
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
-- Platform tables (names and meanings of the platform Fleet replaces). Created only when absent.
-- ---------------------------------------------------------------------------------------------------------

DO $platform$
BEGIN
    IF to_regclass('public.user_profiles') IS NULL THEN
        CREATE TABLE public.user_profiles (
            id         uuid PRIMARY KEY,
            email      text,
            is_admin   boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        -- In Supabase a profile belongs to an auth user; reference auth.users only where it exists.
        IF to_regclass('auth.users') IS NOT NULL THEN
            ALTER TABLE public.user_profiles
                ADD CONSTRAINT user_profiles_id_fkey FOREIGN KEY (id) REFERENCES auth.users (id) ON DELETE CASCADE;
        END IF;
    END IF;

    IF to_regclass('public.user_subscriptions') IS NULL THEN
        CREATE TABLE public.user_subscriptions (
            id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id                uuid NOT NULL UNIQUE,
            tier                   text NOT NULL DEFAULT 'free',
            status                 text NOT NULL DEFAULT 'active',
            expires_at             timestamptz,
            stripe_customer_id     text,
            stripe_subscription_id text,
            created_at             timestamptz NOT NULL DEFAULT now(),
            updated_at             timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT user_subscriptions_tier_check CHECK (tier IN ('free', 'pro', 'elite')),
            CONSTRAINT user_subscriptions_status_check
                CHECK (status IN ('active', 'trialing', 'past_due', 'cancelled'))
        );
        IF to_regclass('auth.users') IS NOT NULL THEN
            ALTER TABLE public.user_subscriptions
                ADD CONSTRAINT user_subscriptions_user_id_fkey FOREIGN KEY (user_id)
                REFERENCES auth.users (id) ON DELETE CASCADE;
        END IF;
    END IF;

    IF to_regclass('public.traders') IS NULL THEN
        CREATE TABLE public.traders (
            id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id     uuid,
            is_built_in boolean NOT NULL DEFAULT false,
            enabled     boolean NOT NULL DEFAULT true,
            name        text NOT NULL,
            description text,
            filter      jsonb NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            -- A custom trader has an owner; a built-in one has none.
            CONSTRAINT traders_owner_check CHECK (is_built_in OR user_id IS NOT NULL)
        );
        IF to_regclass('auth.users') IS NOT NULL THEN
            ALTER TABLE public.traders
                ADD CONSTRAINT traders_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE;
        END IF;
    END IF;

    IF to_regclass('public.signals') IS NULL THEN
        CREATE TABLE public.signals (
            id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            trader_id  uuid NOT NULL REFERENCES public.traders (id) ON DELETE CASCADE,
            user_id    uuid,
            symbol     text NOT NULL,
            interval   text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
    END IF;
END
$platform$;

-- Columns the screener relies on (added to existing platform tables when missing).
ALTER TABLE public.traders
    ADD COLUMN IF NOT EXISTS timeframes text[] NOT NULL DEFAULT ARRAY['5m']::text[],
    -- Empty means "top N USDT symbols by volume", as in the platform.
    ADD COLUMN IF NOT EXISTS symbols text[] NOT NULL DEFAULT ARRAY[]::text[],
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE public.signals
    ADD COLUMN IF NOT EXISTS candle_open_time timestamptz,
    ADD COLUMN IF NOT EXISTS price double precision,
    ADD COLUMN IF NOT EXISTS volume double precision,
    ADD COLUMN IF NOT EXISTS details jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'cloud'
        CONSTRAINT signals_source_check CHECK (source IN ('local', 'cloud')),
    ADD COLUMN IF NOT EXISTS fly_app_id uuid,
    ADD COLUMN IF NOT EXISTS machine_id text;

-- Restarts and reconnects of the screener must never duplicate a signal.
CREATE UNIQUE INDEX IF NOT EXISTS signals_trader_candle_key
    ON public.signals (trader_id, symbol, interval, candle_open_time);
CREATE INDEX IF NOT EXISTS signals_user_created_idx ON public.signals (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS traders_user_idx ON public.traders (user_id) WHERE NOT is_built_in;

-- traders.updated_at moves on every change so a screener can poll cheaply for changes.
CREATE OR REPLACE FUNCTION fleet.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER fleet_traders_touch_updated_at
    BEFORE UPDATE ON public.traders
    FOR EACH ROW EXECUTE FUNCTION fleet.touch_updated_at();
