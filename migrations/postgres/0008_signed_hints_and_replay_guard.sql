-- Fleet 0008: hints are signed inside PostgreSQL and the signing key is never sent (issue 19 item 3).
--
-- Before this migration fleet.send_hint sent `Authorization: Bearer <webhook_secret>`, so the key sat in pg_net's
-- request table (net.http_request_queue) and in any proxy log, and whoever saw one hint could forge hints for
-- ever. From now on the hint carries only `X-Fleet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
-- "<t>.<body>", computed here with pgcrypto's hmac() and the key read where it always was (Vault secret
-- `fleet_webhook_secret`, else fleet.settings 'webhook_secret'). The body carries a random `hint_id`, so two
-- hints with the same content in the same second still have different signatures, and the components refuse a
-- `(t, mac)` pair they have seen (fleet_seen_signatures below).
--
-- pgcrypto is installed on Supabase (schema extensions). Elsewhere it is created when available; when it is
-- missing, no hint is queued (with a warning): hints are best-effort, the due mark and the sweep carry on.

DO $pgcrypto$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto')
       AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgcrypto') THEN
        BEGIN
            IF to_regnamespace('extensions') IS NOT NULL THEN
                CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
            ELSE
                CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA fleet;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'fleet: pgcrypto not installed (%); hints will not be sent', SQLERRM;
        END;
    END IF;
END
$pgcrypto$;

-- The signature header for `p_body` at `p_t` with `p_key`, or NULL when pgcrypto is absent.
CREATE OR REPLACE FUNCTION fleet.hint_signature(p_key text, p_t bigint, p_body text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    crypto_schema name;
    digest_hex    text;
BEGIN
    SELECT n.nspname INTO crypto_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pgcrypto';
    IF crypto_schema IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT encode(%I.hmac(convert_to($1, ''UTF8''), convert_to($2, ''UTF8''), ''sha256''), ''hex'')',
                   crypto_schema)
        INTO digest_hex
        USING p_t::text || '.' || p_body, p_key;
    RETURN 't=' || p_t::text || ',v1=' || digest_hex;
END
$$;
REVOKE ALL ON FUNCTION fleet.hint_signature(text, bigint, text) FROM PUBLIC;

-- Queue a signed HTTP POST to the Fleet route when pg_net is installed (net.http_post exists) and a URL and key
-- are configured. pg_net sends the body as the text of the jsonb value, so that text is what is signed.
-- Returns the pg_net request id, or NULL when no hint was queued. Never raises: a hint must not be able to
-- roll back the subscription change that caused it.
CREATE OR REPLACE FUNCTION fleet.send_hint(p_route text, p_body jsonb) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    base_url   text;
    signing    text;
    body       jsonb;
    signature  text;
    timeout_ms integer;
    request_id bigint;
BEGIN
    IF to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') IS NULL THEN
        RETURN NULL;
    END IF;
    base_url := fleet.setting('webhook_base_url');
    signing := fleet.setting('webhook_secret');
    IF coalesce(base_url, '') = '' OR coalesce(signing, '') = '' THEN
        RETURN NULL;
    END IF;
    timeout_ms := greatest(coalesce(nullif(fleet.setting('webhook_timeout_ms'), '')::integer, 10000), 5000);
    BEGIN
        body := p_body || jsonb_build_object('hint_id', gen_random_uuid());
        signature := fleet.hint_signature(signing, extract(epoch FROM clock_timestamp())::bigint, body::text);
        IF signature IS NULL THEN
            RAISE WARNING 'fleet: hint to % not queued: pgcrypto is not installed', p_route;
            RETURN NULL;
        END IF;
        EXECUTE 'SELECT net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
            INTO request_id
            USING rtrim(base_url, '/') || p_route,
                  body,
                  jsonb_build_object('Content-Type', 'application/json', 'X-Fleet-Signature', signature),
                  timeout_ms;
    EXCEPTION WHEN OTHERS THEN
        -- SQLERRM never contains the key or the headers.
        RAISE WARNING 'fleet: hint to % not queued: %', p_route, SQLERRM;
        RETURN NULL;
    END;
    RETURN request_id;
END
$$;
REVOKE ALL ON FUNCTION fleet.send_hint(text, jsonb) FROM PUBLIC;

-- Signatures the components have accepted: a `(t, mac)` pair is accepted once. Rows older than the signature
-- tolerance can never be accepted again anyway and are pruned by the components as they insert.
CREATE TABLE IF NOT EXISTS public.fleet_seen_signatures (
    t       bigint NOT NULL,
    mac     text   NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (t, mac)
);
REVOKE ALL ON public.fleet_seen_signatures FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, DELETE ON public.fleet_seen_signatures TO fleet_control_plane, service_role;
ALTER TABLE public.fleet_seen_signatures ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS fleet_control_plane_writes ON public.fleet_seen_signatures;
CREATE POLICY fleet_control_plane_writes ON public.fleet_seen_signatures
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);
