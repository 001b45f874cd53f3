-- The platform's (Vyx, tomkanjam/orderflowscanner) production schema as its supabase/migrations up to 039 and its
-- code imply: the END STATE, not a replay of the migrations. Run AS THE ROLE `postgres` (not a superuser) on a
-- database that supabase.sql prepared. Written for this fixture; names, types, defaults, constraints, triggers
-- and policies follow the platform. Where the migrations cannot be what production runs, the choice made here is
-- marked "INFERENCE n" and listed in README.md under the same number.
--
-- Tables the platform has but Fleet neither touches nor is touched by are left out (README.md lists them).

SET client_min_messages = warning;
SET search_path = public, extensions;

-- ===============================================================================================================
-- Shared trigger function (001)
-- ===============================================================================================================
CREATE FUNCTION public.update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$fn$;

-- ===============================================================================================================
-- user_profiles (004, 016, 017; INFERENCE 3, 4)
-- ===============================================================================================================
CREATE TABLE public.user_profiles (
    id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    email text NOT NULL,
    display_name text,
    is_admin boolean DEFAULT false,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    pro_waitlist_joined_at timestamptz DEFAULT NULL,
    -- INFERENCE 4: added out of band; upper-case tier names ('ELITE'); read by the AI-analysis trigger and the
    -- execute-trader-immediate edge function; nothing keeps it in step with user_subscriptions.tier.
    subscription_tier text
);
CREATE INDEX idx_user_profiles_pro_waitlist ON public.user_profiles (pro_waitlist_joined_at)
    WHERE pro_waitlist_joined_at IS NOT NULL;

CREATE TRIGGER update_user_profiles_updated_at BEFORE UPDATE ON public.user_profiles
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

ALTER TABLE public.user_profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view their own profile" ON public.user_profiles
    FOR SELECT USING (auth.uid() = id OR is_admin = true);
CREATE POLICY "Users can update their own profile" ON public.user_profiles
    FOR UPDATE USING (auth.uid() = id);
CREATE POLICY "Anyone can join Pro waitlist" ON public.user_profiles
    FOR INSERT WITH CHECK (pro_waitlist_joined_at IS NOT NULL AND email IS NOT NULL);
CREATE POLICY "Anyone can update Pro waitlist timestamp" ON public.user_profiles
    FOR UPDATE USING (true) WITH CHECK (pro_waitlist_joined_at IS NOT NULL);
-- INFERENCE 3: 004's "Admins can manage all profiles" and 005's "Admins can view all profiles" / "Admins can
-- update all profiles" query user_profiles from a user_profiles policy (infinite recursion for every non-bypass
-- reader, including every policy elsewhere that looks up is_admin). Production answers those reads, so they are
-- absent there; they are absent here.

-- ===============================================================================================================
-- user_subscriptions (004, 005)
-- ===============================================================================================================
CREATE TABLE public.user_subscriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE UNIQUE,
    tier text CHECK (tier IN ('free', 'pro', 'elite')) DEFAULT 'free',
    status text CHECK (status IN ('active', 'cancelled', 'past_due')) DEFAULT 'active',
    custom_signals_count integer DEFAULT 0,
    started_at timestamptz DEFAULT now(),
    expires_at timestamptz,
    stripe_customer_id text,
    stripe_subscription_id text,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);
CREATE INDEX idx_user_subscriptions_user_id ON public.user_subscriptions (user_id);
CREATE INDEX idx_user_subscriptions_tier ON public.user_subscriptions (tier);

CREATE TRIGGER update_user_subscriptions_updated_at BEFORE UPDATE ON public.user_subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

ALTER TABLE public.user_subscriptions ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view their own subscription" ON public.user_subscriptions
    FOR SELECT USING (auth.uid() = user_id);
CREATE POLICY "Only system can manage subscriptions" ON public.user_subscriptions
    FOR ALL USING (false);
CREATE POLICY "Admins can view all subscriptions" ON public.user_subscriptions
    FOR SELECT USING (EXISTS (
        SELECT 1 FROM public.user_profiles p WHERE p.id = auth.uid() AND p.is_admin = true));
CREATE POLICY "Admins can update all subscriptions" ON public.user_subscriptions
    FOR UPDATE USING (EXISTS (
        SELECT 1 FROM public.user_profiles p WHERE p.id = auth.uid() AND p.is_admin = true));

-- ===============================================================================================================
-- user_preferences (004)
-- ===============================================================================================================
CREATE TABLE public.user_preferences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE UNIQUE,
    favorite_signals uuid[] DEFAULT '{}',
    notification_enabled boolean DEFAULT false,
    notification_channels text[] DEFAULT '{}',
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

CREATE TRIGGER update_user_preferences_updated_at BEFORE UPDATE ON public.user_preferences
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

ALTER TABLE public.user_preferences ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can manage their own preferences" ON public.user_preferences
    FOR ALL USING (auth.uid() = user_id);

-- ===============================================================================================================
-- traders (001, 003, 004, 011, 018, 019, 023, 030, 033; INFERENCE 5, 6)
-- Column order follows the order the migrations add them in.
-- ===============================================================================================================
CREATE TABLE public.traders (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    description text NOT NULL,
    enabled boolean DEFAULT true,
    mode text CHECK (mode IN ('demo', 'live')) DEFAULT 'demo',
    exchange_config jsonb,
    filter jsonb NOT NULL,
    strategy jsonb NOT NULL,
    metrics jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    -- 003
    execution_interval text DEFAULT '5m',
    last_execution timestamptz,
    execution_count integer DEFAULT 0,
    -- 004
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
    ownership_type text CHECK (ownership_type IN ('system', 'user')) DEFAULT 'user',
    access_tier text CHECK (access_tier IN ('anonymous', 'free', 'pro', 'elite')) DEFAULT 'elite',
    is_built_in boolean DEFAULT false,
    category text,
    difficulty text CHECK (difficulty IN ('beginner', 'intermediate', 'advanced')),
    admin_notes text,
    -- 011 (INFERENCE 6)
    version integer DEFAULT 1,
    cloud_config jsonb DEFAULT '{"enabledInCloud": false, "notifyOnSignal": true, "notifyOnAnalysis": true}'::jsonb,
    -- 018
    default_enabled boolean DEFAULT false,
    -- 019
    language text DEFAULT 'javascript' CHECK (language IN ('javascript', 'go')),
    -- 023
    auto_analyze_signals boolean DEFAULT false,
    auto_execute_trades boolean DEFAULT false
);
CREATE INDEX idx_traders_enabled ON public.traders (enabled);
CREATE INDEX idx_traders_mode ON public.traders (mode);
CREATE INDEX idx_traders_user_id ON public.traders (user_id);
CREATE INDEX idx_traders_ownership_type ON public.traders (ownership_type);
CREATE INDEX idx_traders_access_tier ON public.traders (access_tier);
CREATE INDEX idx_traders_is_built_in ON public.traders (is_built_in);
CREATE INDEX idx_traders_version ON public.traders (version);
CREATE INDEX idx_traders_default_enabled ON public.traders (default_enabled) WHERE is_built_in = true;
CREATE INDEX idx_traders_language ON public.traders (language);
CREATE INDEX idx_traders_auto_analyze ON public.traders (auto_analyze_signals) WHERE auto_analyze_signals = true;
CREATE INDEX idx_traders_auto_execute ON public.traders (auto_execute_trades) WHERE auto_execute_trades = true;

COMMENT ON COLUMN public.traders.version IS 'Bumped by a trigger on every update (optimistic locking).';
COMMENT ON COLUMN public.traders.language IS 'Language of the filter code: javascript (legacy) or go.';

CREATE TRIGGER update_traders_updated_at BEFORE UPDATE ON public.traders
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- 011: every update bumps version.
CREATE FUNCTION public.increment_trader_version() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER update_trader_version BEFORE UPDATE ON public.traders
    FOR EACH ROW EXECUTE FUNCTION public.increment_trader_version();

-- 004: keep user_subscriptions.custom_signals_count in step with the user's own traders.
-- INFERENCE 5: 004 declares this trigger with `WHEN (NEW.ownership_type = 'user' OR OLD.ownership_type = 'user')`
-- on INSERT OR DELETE, which PostgreSQL rejects (an INSERT trigger's WHEN may not read OLD). Production has the
-- counter, so the ownership test is taken to live in the function. Not SECURITY DEFINER: run by an API user, its
-- UPDATE meets user_subscriptions' RLS and changes nothing (as on production).
CREATE FUNCTION public.update_custom_signals_count() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.ownership_type = 'user' THEN
        UPDATE public.user_subscriptions
        SET custom_signals_count = custom_signals_count + 1
        WHERE user_id = NEW.user_id;
    ELSIF TG_OP = 'DELETE' AND OLD.ownership_type = 'user' THEN
        UPDATE public.user_subscriptions
        SET custom_signals_count = custom_signals_count - 1
        WHERE user_id = OLD.user_id;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER update_user_custom_signals_count AFTER INSERT OR DELETE ON public.traders
    FOR EACH ROW EXECUTE FUNCTION public.update_custom_signals_count();

ALTER TABLE public.traders ENABLE ROW LEVEL SECURITY;

-- 004: who sees which trader. Anonymous callers see anonymous-tier built-ins; signed-in users see their own
-- traders and the built-ins their active subscription reaches. No TO clause: applies to every role.
CREATE POLICY "View traders based on tier" ON public.traders
    FOR SELECT USING (
        (auth.uid() IS NULL AND access_tier = 'anonymous' AND is_built_in = true)
        OR (auth.uid() IS NOT NULL AND (
            user_id = auth.uid()
            OR (is_built_in = true AND (
                access_tier = 'anonymous'
                OR (access_tier = 'free' AND EXISTS (
                    SELECT 1 FROM public.user_subscriptions s
                    WHERE s.user_id = auth.uid() AND s.tier IN ('free', 'pro', 'elite') AND s.status = 'active'))
                OR (access_tier = 'pro' AND EXISTS (
                    SELECT 1 FROM public.user_subscriptions s
                    WHERE s.user_id = auth.uid() AND s.tier IN ('pro', 'elite') AND s.status = 'active'))
                OR (access_tier = 'elite' AND EXISTS (
                    SELECT 1 FROM public.user_subscriptions s
                    WHERE s.user_id = auth.uid() AND s.tier = 'elite' AND s.status = 'active'))
            ))
        ))
    );

CREATE POLICY "Users can create traders based on tier" ON public.traders
    FOR INSERT WITH CHECK (
        auth.uid() IS NOT NULL AND (
            EXISTS (SELECT 1 FROM public.user_profiles p WHERE p.id = auth.uid() AND p.is_admin = true)
            OR EXISTS (
                SELECT 1 FROM public.user_subscriptions s
                WHERE s.user_id = auth.uid() AND s.tier = 'pro' AND s.status = 'active'
                  AND s.custom_signals_count < 10)
            OR EXISTS (
                SELECT 1 FROM public.user_subscriptions s
                WHERE s.user_id = auth.uid() AND s.tier = 'elite' AND s.status = 'active')
        )
    );

CREATE POLICY "Users can update their own traders" ON public.traders
    FOR UPDATE USING (
        auth.uid() = user_id
        OR EXISTS (SELECT 1 FROM public.user_profiles p WHERE p.id = auth.uid() AND p.is_admin = true)
    );

-- 033 recreated it with the same meaning as 004.
CREATE POLICY "Users can delete their own traders" ON public.traders
    FOR DELETE USING (
        auth.uid() = user_id
        OR EXISTS (SELECT 1 FROM public.user_profiles p WHERE p.id = auth.uid() AND p.is_admin = true)
    );

-- ===============================================================================================================
-- user_fly_apps, user_fly_app_events (035) and the view (036)
-- ===============================================================================================================
CREATE TABLE public.user_fly_apps (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    fly_app_name text NOT NULL UNIQUE,
    fly_org_slug text NOT NULL,
    status text NOT NULL CHECK (status IN ('provisioning', 'active', 'error', 'deprovisioning', 'deleted')),
    region text NOT NULL,
    docker_image text NOT NULL,
    deployed_at timestamptz,
    last_health_check timestamptz,
    health_status text CHECK (health_status IN ('healthy', 'unhealthy', 'unknown')),
    error_message text,
    retry_count integer DEFAULT 0,
    monthly_cost_estimate_usd numeric(10, 2),
    cpu_count integer NOT NULL DEFAULT 2,
    memory_mb integer NOT NULL DEFAULT 512,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT one_app_per_user UNIQUE (user_id)
);
CREATE INDEX idx_user_fly_apps_user_id ON public.user_fly_apps (user_id);
CREATE INDEX idx_user_fly_apps_status ON public.user_fly_apps (status);
CREATE INDEX idx_user_fly_apps_fly_app_name ON public.user_fly_apps (fly_app_name);

ALTER TABLE public.user_fly_apps ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view own fly app" ON public.user_fly_apps
    FOR SELECT TO authenticated USING (auth.uid() = user_id);
CREATE POLICY "Admins can view all fly apps" ON public.user_fly_apps
    FOR SELECT TO authenticated USING (EXISTS (
        SELECT 1 FROM public.user_profiles p WHERE p.id = auth.uid() AND p.is_admin = true));
CREATE POLICY "Service role can manage fly apps" ON public.user_fly_apps
    FOR ALL TO service_role USING (true) WITH CHECK (true);

CREATE TABLE public.user_fly_app_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fly_app_id uuid NOT NULL REFERENCES public.user_fly_apps (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    event_type text NOT NULL CHECK (event_type IN (
        'provision_requested', 'provision_started', 'provision_completed', 'provision_failed',
        'health_check_passed', 'health_check_failed',
        'deprovision_requested', 'deprovision_started', 'deprovision_completed', 'deprovision_failed',
        'error_occurred', 'recovery_attempted'
    )),
    status text NOT NULL,
    metadata jsonb DEFAULT '{}',
    error_details text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_user_fly_app_events_fly_app_id ON public.user_fly_app_events (fly_app_id);
CREATE INDEX idx_user_fly_app_events_user_id ON public.user_fly_app_events (user_id);
CREATE INDEX idx_user_fly_app_events_created_at ON public.user_fly_app_events (created_at DESC);

ALTER TABLE public.user_fly_app_events ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view own app events" ON public.user_fly_app_events
    FOR SELECT TO authenticated USING (auth.uid() = user_id);
CREATE POLICY "Admins can view all app events" ON public.user_fly_app_events
    FOR SELECT TO authenticated USING (EXISTS (
        SELECT 1 FROM public.user_profiles p WHERE p.id = auth.uid() AND p.is_admin = true));
CREATE POLICY "Service role can insert events" ON public.user_fly_app_events
    FOR INSERT TO service_role WITH CHECK (true);

-- 035: a user's app, for the UI. SECURITY DEFINER, so it answers for any user id it is given.
CREATE FUNCTION public.get_user_fly_app_status(p_user_id uuid)
RETURNS TABLE (app_name text, status text, health text, last_check timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
AS $fn$
BEGIN
    RETURN QUERY
        SELECT a.fly_app_name, a.status, a.health_status, a.last_health_check
        FROM public.user_fly_apps a
        WHERE a.user_id = p_user_id AND a.deleted_at IS NULL;
END
$fn$;
GRANT EXECUTE ON FUNCTION public.get_user_fly_app_status(uuid) TO authenticated;

-- 036: live apps with their owner's email, evaluated with the caller's rights.
CREATE VIEW public.user_fly_apps_with_profiles WITH (security_invoker = true) AS
    SELECT a.id, a.user_id, a.fly_app_name, a.fly_org_slug, a.status, a.region, a.docker_image, a.deployed_at,
           a.last_health_check, a.health_status, a.error_message, a.retry_count, a.monthly_cost_estimate_usd,
           a.cpu_count, a.memory_mb, a.created_at, a.updated_at, a.deleted_at,
           p.email, p.display_name
    FROM public.user_fly_apps a
    JOIN public.user_profiles p ON a.user_id = p.id
    WHERE a.deleted_at IS NULL;
GRANT SELECT ON public.user_fly_apps_with_profiles TO authenticated, service_role;

-- ===============================================================================================================
-- signals: created by no migration (INFERENCE 1, 2). Columns from the Go screener's Signal type
-- (backend/go-screener/pkg/types/types.go, written by pkg/supabase/client.go CreateSignalsBatch), 001 (trader_id),
-- 013 (source, machine_id), 028 (symbol, timestamp, price_at_signal read by the AI trigger), 029/030 (user_id
-- NULL for built-ins), 032 (status, closed_at, updated_at), 034 (indicator_data), 038/039 (fly_app_id, FK name),
-- and the web app (created_at, realtime on INSERT filtered by user_id).
-- ===============================================================================================================
CREATE TABLE public.signals (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
    symbol text NOT NULL,
    "interval" text,
    "timestamp" timestamptz,
    price_at_signal double precision,
    change_percent_at_signal double precision,
    volume_at_signal double precision,
    count integer DEFAULT 1,
    status text,
    closed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    -- 001
    trader_id uuid REFERENCES public.traders (id) ON DELETE CASCADE,
    -- 013
    source text NOT NULL DEFAULT 'local',
    -- 013 as machine_id -> cloud_machines; 038 repointed the FK, 039 renamed the column but kept the FK's name.
    fly_app_id uuid,
    -- 034
    indicator_data jsonb,
    CONSTRAINT signals_source_check CHECK (source IN ('local', 'cloud')),
    CONSTRAINT signals_machine_id_fkey FOREIGN KEY (fly_app_id)
        REFERENCES public.user_fly_apps (id) ON DELETE SET NULL
);
-- No unique index: the platform deduplicates in the screener (count), not in the database.
CREATE INDEX idx_signals_trader_id ON public.signals (trader_id);
CREATE INDEX idx_signals_source ON public.signals (source);
CREATE INDEX idx_signals_trader_source ON public.signals (trader_id, source);
CREATE INDEX idx_signals_fly_app_id ON public.signals (fly_app_id);
CREATE INDEX idx_signals_indicator_data ON public.signals USING gin (indicator_data);

COMMENT ON COLUMN public.signals.source IS 'Where the signal was produced: local (browser) or cloud (Fly).';
COMMENT ON COLUMN public.signals.fly_app_id IS 'The user_fly_apps row of the dedicated app that produced it; NULL for the shared backend.';

ALTER TABLE public.signals ENABLE ROW LEVEL SECURITY;

-- 029 (it dropped an earlier "Users can view own signals" that no migration created).
CREATE POLICY "Anonymous users can view anonymous tier signals" ON public.signals
    FOR SELECT TO anon USING (EXISTS (
        SELECT 1 FROM public.traders t
        WHERE t.id = signals.trader_id AND t.is_built_in = true AND t.access_tier = 'anonymous'
          AND t.enabled = true));

CREATE POLICY "Users can view signals based on tier" ON public.signals
    FOR SELECT TO authenticated USING (
        EXISTS (SELECT 1 FROM public.traders t WHERE t.id = signals.trader_id AND t.user_id = auth.uid())
        OR EXISTS (
            SELECT 1
            FROM public.traders t
            LEFT JOIN public.user_subscriptions s ON s.user_id = auth.uid()
            WHERE t.id = signals.trader_id AND t.is_built_in = true AND t.enabled = true
              AND (t.access_tier = 'anonymous'
                   OR (t.access_tier = 'free' AND s.tier IN ('free', 'pro', 'elite') AND s.status = 'active')
                   OR (t.access_tier = 'pro' AND s.tier IN ('pro', 'elite') AND s.status = 'active')
                   OR (t.access_tier = 'elite' AND s.tier = 'elite' AND s.status = 'active')))
    );

CREATE POLICY "System can insert signals" ON public.signals
    FOR INSERT TO service_role WITH CHECK (true);

-- ===============================================================================================================
-- notification_queue (004; written by the quota triggers of 031)
-- ===============================================================================================================
CREATE TABLE public.notification_queue (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
    trader_id uuid REFERENCES public.traders (id) ON DELETE CASCADE,
    signal_id uuid REFERENCES public.signals (id) ON DELETE CASCADE,
    type text NOT NULL CHECK (type IN ('signal_triggered', 'analysis_complete', 'trade_executed', 'position_alert')),
    channel text NOT NULL CHECK (channel IN ('email', 'push', 'in_app')),
    status text DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    payload jsonb,
    error text,
    sent_at timestamptz,
    created_at timestamptz DEFAULT now()
);
CREATE INDEX idx_notification_queue_user_id ON public.notification_queue (user_id);
CREATE INDEX idx_notification_queue_status ON public.notification_queue (status);

ALTER TABLE public.notification_queue ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view their own notifications" ON public.notification_queue
    FOR SELECT USING (auth.uid() = user_id);

-- ===============================================================================================================
-- signal_analyses (014) and the signal status it drives (032)
-- ===============================================================================================================
CREATE TABLE public.signal_analyses (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    signal_id uuid NOT NULL REFERENCES public.signals (id) ON DELETE CASCADE,
    trader_id uuid NOT NULL REFERENCES public.traders (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    decision text NOT NULL CHECK (decision IN ('enter_trade', 'bad_setup', 'wait')),
    confidence numeric(5, 2) NOT NULL CHECK (confidence >= 0 AND confidence <= 100),
    reasoning text NOT NULL,
    key_levels jsonb NOT NULL,
    trade_plan jsonb NOT NULL,
    technical_indicators jsonb,
    raw_ai_response text,
    analysis_latency_ms integer,
    gemini_tokens_used integer,
    model_name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_signal_analyses_signal_id ON public.signal_analyses (signal_id);
CREATE INDEX idx_signal_analyses_user_id ON public.signal_analyses (user_id);
CREATE INDEX idx_signal_analyses_trader_id ON public.signal_analyses (trader_id);
CREATE INDEX idx_signal_analyses_created_at ON public.signal_analyses (created_at DESC);
CREATE INDEX idx_signal_analyses_decision ON public.signal_analyses (decision);

ALTER TABLE public.signal_analyses ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can read their own signal analyses" ON public.signal_analyses
    FOR SELECT USING (auth.uid() = user_id);
CREATE POLICY "Service role can insert signal analyses" ON public.signal_analyses
    FOR INSERT WITH CHECK (true);
CREATE POLICY "Service role can update signal analyses" ON public.signal_analyses
    FOR UPDATE USING (true);

CREATE FUNCTION public.update_signal_analyses_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$fn$;

CREATE TRIGGER update_signal_analyses_updated_at_trigger BEFORE UPDATE ON public.signal_analyses
    FOR EACH ROW EXECUTE FUNCTION public.update_signal_analyses_updated_at();

-- 032: an analysis moves its signal to monitoring (wait), ready (enter) or expired (bad). Never fails the insert.
CREATE FUNCTION public.update_signal_status_from_analysis() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $fn$
BEGIN
    IF NEW.decision = 'wait' THEN
        UPDATE public.signals SET status = 'monitoring', updated_at = now() WHERE id = NEW.signal_id;
    ELSIF NEW.decision IN ('enter', 'enter_trade') THEN
        UPDATE public.signals SET status = 'ready', updated_at = now() WHERE id = NEW.signal_id;
    ELSIF NEW.decision IN ('bad', 'bad_setup') THEN
        UPDATE public.signals SET status = 'expired', closed_at = now(), updated_at = now()
        WHERE id = NEW.signal_id;
    END IF;
    RETURN NEW;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'signal % status not updated from analysis: % (%)', NEW.signal_id, SQLERRM, SQLSTATE;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER update_signal_status_on_analysis AFTER INSERT ON public.signal_analyses
    FOR EACH ROW EXECUTE FUNCTION public.update_signal_status_from_analysis();

-- ===============================================================================================================
-- AI analysis on every new signal (024, replaced by 028; INFERENCE 4, 7)
-- Elite owners' traders with auto_analyze_signals POST the signal to the llm-proxy edge function through pg_net,
-- with the project URL and service key from Vault. Missing secrets or any error: a warning, and the signal
-- insert goes on.
-- ===============================================================================================================
CREATE FUNCTION public.trigger_ai_analysis_on_signal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $fn$
DECLARE
    owner_tier text;
    wants_analysis boolean;
    trader_owner uuid;
    trader_strategy jsonb;
    base_url text;
    service_key text;
    request_id bigint;
BEGIN
    SELECT coalesce(lower(p.subscription_tier), 'anonymous'), t.auto_analyze_signals, t.user_id, t.strategy
    INTO owner_tier, wants_analysis, trader_owner, trader_strategy
    FROM public.traders t
    LEFT JOIN public.user_profiles p ON p.id = t.user_id
    WHERE t.id = NEW.trader_id;

    IF owner_tier IS DISTINCT FROM 'elite' THEN
        RAISE LOG 'no AI analysis for trader %: tier %', NEW.trader_id, owner_tier;
        RETURN NEW;
    END IF;
    IF wants_analysis IS DISTINCT FROM true THEN
        RAISE LOG 'no AI analysis for trader %: auto_analyze_signals is off', NEW.trader_id;
        RETURN NEW;
    END IF;

    SELECT decrypted_secret INTO base_url FROM vault.decrypted_secrets WHERE name = 'project_url';
    IF base_url IS NULL OR base_url = '' THEN
        RAISE WARNING 'project_url is not in the vault: no AI analysis for signal %', NEW.id;
        RETURN NEW;
    END IF;
    SELECT decrypted_secret INTO service_key FROM vault.decrypted_secrets WHERE name = 'service_role_key';
    IF service_key IS NULL OR service_key = '' THEN
        RAISE WARNING 'service_role_key is not in the vault: no AI analysis for signal %', NEW.id;
        RETURN NEW;
    END IF;

    request_id := net.http_post(
        url := base_url || '/functions/v1/llm-proxy',
        headers := jsonb_build_object(
            'Content-Type', 'application/json',
            'Authorization', 'Bearer ' || service_key,
            'x-trigger-source', 'database-trigger',
            'x-correlation-id', NEW.id::text),
        body := jsonb_build_object(
            'operation', 'analyze-signal',
            'params', jsonb_build_object(
                'signalId', NEW.id,
                'symbol', NEW.symbol,
                'traderId', NEW.trader_id,
                'userId', trader_owner,
                'timestamp', NEW."timestamp",
                'price', NEW.price_at_signal,
                'strategy', trader_strategy)),
        timeout_milliseconds := 30000);
    RAISE LOG 'AI analysis requested for signal % (request %)', NEW.id, request_id;
    RETURN NEW;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'AI analysis not requested for signal %: % (%)', NEW.id, SQLERRM, SQLSTATE;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER auto_trigger_ai_analysis AFTER INSERT ON public.signals
    FOR EACH ROW EXECUTE FUNCTION public.trigger_ai_analysis_on_signal();

-- ===============================================================================================================
-- trader_state, trader_execution_history, trader_resource_usage (021)
-- ===============================================================================================================
CREATE TABLE public.trader_state (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trader_id uuid NOT NULL REFERENCES public.traders (id) ON DELETE CASCADE,
    state text NOT NULL CHECK (state IN ('stopped', 'starting', 'running', 'stopping', 'error')),
    started_at timestamptz,
    stopped_at timestamptz,
    last_run_at timestamptz,
    last_error text,
    error_count integer DEFAULT 0,
    signal_count integer DEFAULT 0,
    execution_count integer DEFAULT 0,
    avg_execution_duration_ms numeric(10, 2),
    goroutine_id text,
    machine_id text,
    metadata jsonb DEFAULT '{}',
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    UNIQUE (trader_id)
);

CREATE TABLE public.trader_execution_history (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trader_id uuid NOT NULL REFERENCES public.traders (id) ON DELETE CASCADE,
    started_at timestamptz NOT NULL,
    stopped_at timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    symbols_scanned integer DEFAULT 0,
    signals_generated integer DEFAULT 0,
    initial_state text NOT NULL,
    final_state text NOT NULL,
    error text,
    machine_id text,
    metadata jsonb DEFAULT '{}',
    created_at timestamptz DEFAULT now()
);

CREATE TABLE public.trader_resource_usage (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    active_traders integer DEFAULT 0,
    max_traders integer NOT NULL,
    total_executions integer DEFAULT 0,
    total_signals_generated integer DEFAULT 0,
    total_runtime_minutes integer DEFAULT 0,
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    tier text NOT NULL CHECK (tier IN ('free', 'pro', 'elite')),
    metadata jsonb DEFAULT '{}',
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    UNIQUE (user_id, period_start)
);

CREATE INDEX idx_trader_state_trader_id ON public.trader_state (trader_id);
CREATE INDEX idx_trader_state_state ON public.trader_state (state);
CREATE INDEX idx_trader_state_updated_at ON public.trader_state (updated_at);
CREATE INDEX idx_trader_execution_history_trader_id ON public.trader_execution_history (trader_id);
CREATE INDEX idx_trader_execution_history_started_at ON public.trader_execution_history (started_at);
CREATE INDEX idx_trader_execution_history_final_state ON public.trader_execution_history (final_state);
CREATE INDEX idx_trader_resource_usage_user_id ON public.trader_resource_usage (user_id);
CREATE INDEX idx_trader_resource_usage_tier ON public.trader_resource_usage (tier);
CREATE INDEX idx_trader_resource_usage_period ON public.trader_resource_usage (period_start, period_end);

ALTER TABLE public.trader_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.trader_execution_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.trader_resource_usage ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view state of their own traders" ON public.trader_state
    FOR SELECT USING (EXISTS (
        SELECT 1 FROM public.traders t WHERE t.id = trader_state.trader_id AND t.user_id = auth.uid()));
CREATE POLICY "Service role can manage trader state" ON public.trader_state
    FOR ALL USING (auth.role() = 'service_role');
CREATE POLICY "Users can view execution history of their own traders" ON public.trader_execution_history
    FOR SELECT USING (EXISTS (
        SELECT 1 FROM public.traders t
        WHERE t.id = trader_execution_history.trader_id AND t.user_id = auth.uid()));
CREATE POLICY "Service role can manage execution history" ON public.trader_execution_history
    FOR ALL USING (auth.role() = 'service_role');
CREATE POLICY "Users can view their own resource usage" ON public.trader_resource_usage
    FOR SELECT USING (auth.uid() = user_id);
CREATE POLICY "Service role can manage resource usage" ON public.trader_resource_usage
    FOR ALL USING (auth.role() = 'service_role');

CREATE TRIGGER update_trader_state_updated_at BEFORE UPDATE ON public.trader_state
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TRIGGER update_trader_resource_usage_updated_at BEFORE UPDATE ON public.trader_resource_usage
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- 021: the active-trader count of the owner's current period follows trader_state.
CREATE FUNCTION public.update_active_traders_count() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    owner_id uuid;
    running integer;
BEGIN
    SELECT t.user_id INTO owner_id FROM public.traders t WHERE t.id = coalesce(NEW.trader_id, OLD.trader_id);
    SELECT count(*) INTO running
    FROM public.trader_state ts JOIN public.traders t ON t.id = ts.trader_id
    WHERE t.user_id = owner_id AND ts.state IN ('starting', 'running');
    UPDATE public.trader_resource_usage
    SET active_traders = running, updated_at = now()
    WHERE user_id = owner_id AND period_start <= now() AND period_end > now();
    RETURN coalesce(NEW, OLD);
END
$fn$;

CREATE TRIGGER on_trader_state_change AFTER INSERT OR UPDATE OF state OR DELETE ON public.trader_state
    FOR EACH ROW EXECUTE FUNCTION public.update_active_traders_count();

-- ===============================================================================================================
-- Subscription triggers: quota (021 as rewritten by 031), status (031), and the old Fly provisioner (035/037)
-- ===============================================================================================================

-- 031: on a new subscription or a tier change, record the period's quota (free 0, pro 10, elite 1000) and, when
-- the user has more enabled custom traders than the quota, disable the oldest and queue an in-app notice.
CREATE FUNCTION public.initialize_resource_usage_for_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $fn$
DECLARE
    quota integer;
    enabled_now integer;
    excess integer;
    disabled_names text[];
BEGIN
    quota := CASE NEW.tier WHEN 'free' THEN 0 WHEN 'pro' THEN 10 WHEN 'elite' THEN 1000 ELSE 0 END;

    SELECT count(*) INTO enabled_now
    FROM public.traders t
    WHERE t.user_id = NEW.user_id AND t.enabled = true AND t.ownership_type = 'user' AND t.is_built_in = false;

    IF enabled_now > quota THEN
        excess := enabled_now - quota;
        WITH oldest AS (
            SELECT t.id FROM public.traders t
            WHERE t.user_id = NEW.user_id AND t.enabled = true AND t.ownership_type = 'user'
              AND t.is_built_in = false
            ORDER BY t.created_at ASC
            LIMIT excess
        ), switched_off AS (
            UPDATE public.traders t SET enabled = false, updated_at = now()
            FROM oldest WHERE t.id = oldest.id
            RETURNING t.name
        )
        SELECT array_agg(name) INTO disabled_names FROM switched_off;

        INSERT INTO public.notification_queue (user_id, type, channel, status, payload, created_at)
        VALUES (NEW.user_id, 'position_alert', 'in_app', 'pending',
                jsonb_build_object(
                    'title', 'Traders Disabled Due to Subscription Change',
                    'message', format('Your plan is now %s; %s custom trader(s) were disabled.',
                                      upper(NEW.tier), excess),
                    'disabled_count', excess,
                    'disabled_trader_names', disabled_names,
                    'new_tier', NEW.tier,
                    'new_max_traders', quota,
                    'previous_enabled_count', enabled_now),
                now());
    END IF;

    INSERT INTO public.trader_resource_usage (user_id, max_traders, tier, period_start, period_end,
                                              created_at, updated_at)
    VALUES (NEW.user_id, quota, NEW.tier, date_trunc('month', now()),
            date_trunc('month', now() + interval '1 month'), now(), now())
    ON CONFLICT (user_id, period_start)
        DO UPDATE SET max_traders = quota, tier = NEW.tier, updated_at = now();

    RETURN NEW;
END
$fn$;

CREATE TRIGGER on_subscription_change AFTER INSERT OR UPDATE OF tier ON public.user_subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.initialize_resource_usage_for_user();

-- 031: an active subscription turning cancelled or past_due disables every custom trader of the user.
CREATE FUNCTION public.handle_subscription_status_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $fn$
DECLARE
    switched integer;
BEGIN
    IF NEW.status IN ('cancelled', 'past_due') AND OLD.status = 'active' THEN
        WITH switched_off AS (
            UPDATE public.traders t SET enabled = false, updated_at = now()
            WHERE t.user_id = NEW.user_id AND t.enabled = true AND t.ownership_type = 'user'
              AND t.is_built_in = false
            RETURNING t.id
        )
        SELECT count(*) INTO switched FROM switched_off;

        IF switched > 0 THEN
            INSERT INTO public.notification_queue (user_id, type, channel, status, payload, created_at)
            VALUES (NEW.user_id, 'position_alert', 'in_app', 'pending',
                    jsonb_build_object(
                        'title', 'Subscription Inactive - Traders Disabled',
                        'message', format('Your subscription is %s; your custom traders were disabled.',
                                          NEW.status),
                        'disabled_count', switched,
                        'subscription_status', NEW.status),
                    now());
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER on_subscription_status_change AFTER UPDATE OF status ON public.user_subscriptions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.handle_subscription_status_change();

-- 035 as rewritten by 037: the old provisioner. Entering pro/elite from another tier POSTs {user_id, tier} to the
-- provision-user-fly-app edge function; leaving pro/elite POSTs {user_id, reason: 'tier_downgrade'} to
-- deprovision-user-fly-app; both with the service key from Vault. Status changes are not looked at. No exception
-- handler: with the Vault secrets missing the URL is NULL and pg_net refuses it, failing the subscription write
-- (INFERENCE 8).
CREATE FUNCTION public.handle_user_tier_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $fn$
DECLARE
    paid_now boolean := NEW.tier IN ('pro', 'elite');
    paid_before boolean := OLD.tier IN ('pro', 'elite');
    base_url text;
    service_key text;
BEGIN
    SELECT decrypted_secret INTO base_url FROM vault.decrypted_secrets WHERE name = 'project_url';
    SELECT decrypted_secret INTO service_key FROM vault.decrypted_secrets WHERE name = 'service_role_key';

    IF paid_now AND NOT paid_before THEN
        PERFORM net.http_post(
            url := base_url || '/functions/v1/provision-user-fly-app',
            headers := jsonb_build_object('Authorization', 'Bearer ' || service_key,
                                          'Content-Type', 'application/json'),
            body := jsonb_build_object('user_id', NEW.user_id::text, 'tier', NEW.tier));
    END IF;

    IF paid_before AND NOT paid_now THEN
        PERFORM net.http_post(
            url := base_url || '/functions/v1/deprovision-user-fly-app',
            headers := jsonb_build_object('Authorization', 'Bearer ' || service_key,
                                          'Content-Type', 'application/json'),
            body := jsonb_build_object('user_id', NEW.user_id::text, 'reason', 'tier_downgrade'));
    END IF;

    RETURN NEW;
END
$fn$;

CREATE TRIGGER on_user_tier_change AFTER UPDATE OF tier ON public.user_subscriptions
    FOR EACH ROW WHEN (OLD.tier IS DISTINCT FROM NEW.tier)
    EXECUTE FUNCTION public.handle_user_tier_change();

-- ===============================================================================================================
-- Sign-up (004; INFERENCE 9): a new auth user gets a profile, a free active subscription and preferences.
-- ===============================================================================================================
CREATE FUNCTION public.handle_new_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $fn$
BEGIN
    INSERT INTO public.user_profiles (id, email) VALUES (NEW.id, NEW.email);
    INSERT INTO public.user_subscriptions (user_id, tier, status) VALUES (NEW.id, 'free', 'active');
    INSERT INTO public.user_preferences (user_id) VALUES (NEW.id);
    RETURN NEW;
END
$fn$;

CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users
    FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- ===============================================================================================================
-- Views over these tables (005, 021). Owner's rights (not security_invoker), as created.
-- ===============================================================================================================
CREATE VIEW public.user_management_view AS
    SELECT p.id, p.email, p.display_name, p.is_admin,
           p.created_at AS profile_created_at,
           s.tier,
           s.status AS subscription_status,
           s.custom_signals_count,
           s.started_at AS subscription_started_at,
           s.expires_at AS subscription_expires_at
    FROM public.user_profiles p
    LEFT JOIN public.user_subscriptions s ON p.id = s.user_id;
GRANT SELECT ON public.user_management_view TO authenticated;

CREATE VIEW public.trader_status_view AS
    SELECT t.id AS trader_id, t.name, t.user_id, t.enabled,
           ts.state, ts.started_at, ts.stopped_at, ts.last_run_at, ts.signal_count, ts.execution_count,
           ts.last_error, ts.error_count,
           us.tier AS user_tier,
           ru.active_traders, ru.max_traders
    FROM public.traders t
    LEFT JOIN public.trader_state ts ON t.id = ts.trader_id
    LEFT JOIN public.user_subscriptions us ON t.user_id = us.user_id
    LEFT JOIN public.trader_resource_usage ru
        ON t.user_id = ru.user_id AND ru.period_start <= now() AND ru.period_end > now()
    WHERE t.ownership_type = 'user'
    ORDER BY ts.updated_at DESC NULLS LAST;
GRANT SELECT ON public.trader_status_view TO authenticated;

-- ===============================================================================================================
-- Realtime (014 for signal_analyses; the web app subscribes to INSERTs on signals)
-- ===============================================================================================================
ALTER PUBLICATION supabase_realtime ADD TABLE public.signals, public.signal_analyses;

-- ===============================================================================================================
-- FIXTURE SEED (not production data): two built-in traders of the shared backend, with Go filter code of the
-- shape the platform's LLM prompt produces. Fixed ids so tests can name them. user_id NULL as 030 requires.
-- ===============================================================================================================
INSERT INTO public.traders (id, name, description, enabled, filter, strategy, ownership_type, access_tier,
                            is_built_in, category, difficulty, default_enabled, language)
VALUES
    ('00000000-0000-4000-8000-00000000b001', 'FIXTURE Three Green Candles',
     'Fixture built-in (anonymous tier): three consecutive 5m candles closed above their open.', true,
     jsonb_build_object(
         'code', E'klines := data.Klines["5m"]\nif len(klines) < 3 {\n    return false\n}\n'
                 || E'n := len(klines)\nfor i := n - 3; i < n; i++ {\n'
                 || E'    if klines[i].Close <= klines[i].Open {\n        return false\n    }\n}\nreturn true',
         'description', jsonb_build_array('Last three 5m candles each closed green'),
         'indicators', '[]'::jsonb,
         'requiredTimeframes', jsonb_build_array('5m')),
     '{"instructions": "Fixture strategy: watch for continuation.", "modelTier": "standard"}'::jsonb,
     'system', 'anonymous', true, 'momentum', 'beginner', true, 'go'),
    ('00000000-0000-4000-8000-00000000b002', 'FIXTURE Oversold Volume Spike',
     'Fixture built-in (pro tier): 1h RSI(14) under 30 with volume above its 20-candle average.', true,
     jsonb_build_object(
         'code', E'klines := data.Klines["1h"]\nif len(klines) < 20 {\n    return false\n}\n'
                 || E'rsi := indicators.GetLatestRSI(klines, 14)\navg := indicators.CalculateAvgVolume(klines, 20)\n'
                 || E'if rsi == nil || avg == nil {\n    return false\n}\n'
                 || E'return *rsi < 30.0 && klines[len(klines)-1].Volume > *avg',
         'description', jsonb_build_array('RSI(14) on 1h below 30', 'Last 1h volume above its 20-candle average'),
         'indicators', '[]'::jsonb,
         'requiredTimeframes', jsonb_build_array('1h')),
     '{"instructions": "Fixture strategy: mean reversion.", "modelTier": "standard"}'::jsonb,
     'system', 'pro', true, 'reversal', 'intermediate', false, 'go');
