-- Fleet 0010: operator alerts (issue 20, alerts).
--
-- fleet_alerts holds one row per alert condition (a stable key such as `app_unhealthy:<app>`): whether it is
-- firing, when the operator was last told, and a version every transition bumps, so two sweeps that evaluated
-- the same previous state record a transition once (the second upsert's WHERE no longer matches).
--
-- fleet_alert_outbox is the delivery queue and the alert history the dashboard shows: one row per notification
-- (firing, re-notify or resolved). Deliveries are claimed atomically (pending -> sending under a lease, with
-- FOR UPDATE SKIP LOCKED), so two hosts never send one notification twice; failures go back to pending with a
-- later next_attempt_at. No row holds a secret: summaries are sanitised before they are written.

CREATE TABLE IF NOT EXISTS public.fleet_alerts (
    key              text PRIMARY KEY,
    kind             text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('warning', 'critical')),
    firing           boolean NOT NULL,
    summary          text NOT NULL,
    first_fired_at   timestamptz NOT NULL,
    last_notified_at timestamptz NOT NULL,
    resolved_at      timestamptz,
    version          bigint NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL
);
REVOKE ALL ON public.fleet_alerts FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.fleet_alerts TO fleet_control_plane, service_role;
ALTER TABLE public.fleet_alerts ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS fleet_control_plane_writes ON public.fleet_alerts;
CREATE POLICY fleet_control_plane_writes ON public.fleet_alerts
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);

CREATE TABLE IF NOT EXISTS public.fleet_alert_outbox (
    id               bigserial PRIMARY KEY,
    alert_key        text NOT NULL,
    kind             text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('warning', 'critical')),
    state            text NOT NULL CHECK (state IN ('firing', 'resolved')),
    summary          text NOT NULL,
    created_at       timestamptz NOT NULL,
    delivery         text NOT NULL DEFAULT 'pending'
                     CHECK (delivery IN ('pending', 'sending', 'sent', 'failed')),
    attempts         bigint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    delivered_at     timestamptz,
    last_error       text
);
CREATE INDEX IF NOT EXISTS fleet_alert_outbox_due ON public.fleet_alert_outbox (delivery, next_attempt_at);
REVOKE ALL ON public.fleet_alert_outbox FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.fleet_alert_outbox TO fleet_control_plane, service_role;
GRANT USAGE, SELECT ON SEQUENCE public.fleet_alert_outbox_id_seq TO fleet_control_plane, service_role;
ALTER TABLE public.fleet_alert_outbox ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS fleet_control_plane_writes ON public.fleet_alert_outbox;
CREATE POLICY fleet_control_plane_writes ON public.fleet_alert_outbox
    FOR ALL TO fleet_control_plane USING (true) WITH CHECK (true);
