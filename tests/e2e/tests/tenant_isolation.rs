//! Suite 5 (issue 9): tenant isolation on PostgreSQL through the real components, on the platform's real
//! schema and policies (the platform fixture, Fleet's migrations applied, Fleet connected as the
//! non-superuser `postgres`). Users A and B sign up and upgrade the platform's way and are provisioned
//! through the host; each one's screener credential is the DATABASE_URL the simulator's machine really booted
//! with. With A's credential, A reads only its own traders (0 of B's, 0 built-ins), writes no signal for B,
//! and keeps to that after forging the platform's JWT claims as B (the platform's permissive policies key on
//! them); A's own signals carry what the platform reads. After A is deprovisioned by one sweep its credential
//! no longer connects; after B's credential is rotated the old password no longer logs in.

use std::time::{Duration, Instant};

use fleet_e2e::{proof, user, Fleet};
use fleet_store::UserId;
use fleet_test_support::platform::{BUILT_IN_ANONYMOUS_TRADER, BUILT_IN_PRO_TRADER};
use fly_simulator::SimConfig;
use postgres::{Client, NoTls};
use serde_json::json;

const SUITE: &str = "tenant_isolation";

fn provision(fleet: &Fleet, who: UserId) -> (String, String) {
    fleet.subscribe(who, "pro", "active");
    let answer = fleet.until_converged(
        "/provision",
        &Fleet::webhook("UPDATE", who, "pro", "active"),
        Duration::from_secs(60),
    );
    let app = answer["app_name"].as_str().unwrap().to_string();
    (app.clone(), booted_database_url(fleet, &app))
}

/// The DATABASE_URL the app's one live machine booted with.
fn booted_database_url(fleet: &Fleet, app: &str) -> String {
    let machines = fleet.live_machines(app);
    assert_eq!(machines.len(), 1, "{machines:#?}");
    machines[0]["effective_env"]["DATABASE_URL"]
        .as_str()
        .expect("the machine booted with its DATABASE_URL")
        .to_string()
}

/// Two enabled custom traders per user, in the platform's shape (description, filter with its
/// requiredTimeframes, strategy, language, not built in), inserted as the platform would (as `postgres`).
fn insert_traders(admin: &mut Client, who: UserId) -> Vec<String> {
    let mut ids = Vec::new();
    for name in ["breakout", "rsi"] {
        let row = admin
            .query_one(
                "INSERT INTO public.traders (user_id, name, description, enabled, filter, strategy, language, \
                 is_built_in, ownership_type) VALUES ($1::text::uuid, $2, 'tenant isolation trader', true, \
                 '{\"version\": 1, \"requiredTimeframes\": [\"5m\"], \"symbols\": [], \
                   \"when\": {\"left\": {\"ind\": \"rsi\", \"period\": 14}, \"op\": \"lt\", \"right\": {\"const\": 30}}}'::jsonb, \
                 '{\"instructions\": \"none\"}'::jsonb, 'go', false, 'user') RETURNING id::text",
                &[&who.to_string(), &format!("{name}-{who}")],
            )
            .unwrap_or_else(|e| panic!("insert a trader: {}", fleet_test_support::postgres::describe(&e)));
        ids.push(row.get(0));
    }
    ids
}

fn connect(url: &str) -> Result<Client, postgres::Error> {
    Client::connect(url, NoTls)
}

/// A signal as Fleet's screener writes it: the platform's columns plus Fleet's candle_open_time (the database
/// stamps fly_app_id, source and status for a screener role).
fn insert_signal(client: &mut Client, trader: &str, owner: UserId) -> Result<u64, postgres::Error> {
    client.execute(
        "INSERT INTO public.signals (trader_id, user_id, symbol, interval, candle_open_time, \"timestamp\", \
         price_at_signal, change_percent_at_signal, volume_at_signal, count, status, source, indicator_data) \
         VALUES ($1::text::uuid, $2::text::uuid, 'BTCUSDT', '5m', date_trunc('minute', now()), now(), \
         65000.5, 0.4, 1234.5, 1, 'new', 'cloud', '{\"rsi\": 28.1}'::jsonb) ON CONFLICT DO NOTHING",
        &[&trader, &owner.to_string()],
    )
}

/// Inserts refused or without effect: each `Ok(n)` adds n, each error must be RLS's insufficient_privilege.
fn foreign_inserts(screener: &mut Client, attempts: &[(&String, UserId)]) -> u64 {
    let mut written = 0;
    for (trader, owner) in attempts {
        match insert_signal(screener, trader, *owner) {
            Ok(n) => written += n,
            Err(e) => {
                let code = e.code().map(|c| c.code().to_string());
                assert_eq!(
                    code.as_deref(),
                    Some("42501"),
                    "refused by RLS (insufficient_privilege): {e}"
                );
            }
        }
    }
    written
}

fn ids(client: &mut Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn signals_for(admin: &mut Client, who: UserId, traders: &[String]) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM public.signals WHERE user_id = $1::text::uuid \
             OR trader_id = ANY($2::text[]::uuid[])",
            &[&who.to_string(), &traders],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_screener_credential_reaches_only_its_own_user_and_dies_with_the_app() {
    let fleet = Fleet::postgres(SimConfig::default().without_rate_limits());
    let (a, b) = (user(501), user(502));
    let (_app_a, url_a) = provision(&fleet, a);
    let (app_b, url_b) = provision(&fleet, b);
    assert_ne!(url_a, url_b, "each user has a credential of its own");
    let mut admin = fleet.pg();
    let traders_a = insert_traders(&mut admin, a);
    let traders_b = insert_traders(&mut admin, b);

    let mut screener_a = connect(&url_a).expect("A's credential connects");
    let who: String = screener_a
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert!(who.starts_with("fleet_scr_"), "{who}");
    let visible = ids(&mut screener_a, "SELECT id::text FROM public.traders");
    let own = visible.iter().filter(|t| traders_a.contains(t)).count();
    let foreign = visible.iter().filter(|t| traders_b.contains(t)).count();
    let by_id = screener_a
        .query(
            "SELECT 1 FROM public.traders WHERE id = $1::text::uuid",
            &[&traders_b[0]],
        )
        .unwrap()
        .len();
    let built_ins = screener_a
        .query(
            "SELECT 1 FROM public.traders WHERE is_built_in OR id = ANY($1::text[]::uuid[])",
            &[&vec![BUILT_IN_ANONYMOUS_TRADER, BUILT_IN_PRO_TRADER]],
        )
        .unwrap()
        .len();
    proof::figure(SUITE, "own_traders_read", own, "of 2");
    proof::figure(SUITE, "foreign_traders_read", foreign + by_id, "must be 0");
    proof::figure(SUITE, "built_in_traders_read", built_ins, "must be 0");
    assert_eq!(own, traders_a.len(), "A reads its own traders");
    assert_eq!((foreign, by_id), (0, 0), "A reads none of B's traders");
    assert_eq!(built_ins, 0, "A reads no built-in trader");

    // Writes: a signal for B (B's trader, B's user id, or B's trader under A's id) is refused; A's own works.
    let foreign_written = foreign_inserts(
        &mut screener_a,
        &[(&traders_b[0], b), (&traders_b[0], a), (&traders_a[0], b)],
    );
    let own_written =
        insert_signal(&mut screener_a, &traders_a[0], a).expect("A writes its own signal");
    let for_b = signals_for(&mut admin, b, &traders_b);
    proof::figure(
        SUITE,
        "foreign_signals_written",
        foreign_written as i64 + for_b,
        "must be 0",
    );
    assert_eq!((foreign_written, for_b), (0, 0), "A wrote no signal for B");
    assert_eq!(own_written, 1, "A writes its own signal");
    // A's signal carries what the platform reads: its app, source, status, price, time.
    let stamped = admin
        .query_one(
            "SELECT s.fly_app_id = a.id, s.source, s.status, s.price_at_signal::float8, \
                    s.\"timestamp\" IS NOT NULL, s.volume_at_signal::float8 \
               FROM public.signals s JOIN public.user_fly_apps a ON a.user_id = s.user_id \
              WHERE s.user_id = $1::text::uuid",
            &[&a.to_string()],
        )
        .unwrap();
    assert_eq!(
        (
            stamped.get::<_, Option<bool>>(0),
            stamped.get::<_, String>(1),
            stamped.get::<_, Option<String>>(2),
            stamped.get::<_, Option<f64>>(3),
            stamped.get::<_, bool>(4),
            stamped.get::<_, Option<f64>>(5),
        ),
        (
            Some(true),
            "cloud".to_string(),
            Some("new".to_string()),
            Some(65000.5),
            true,
            Some(1234.5)
        ),
        "A's signal is stamped with A's app and carries the platform's columns"
    );

    // Forged identity: the platform's policies are permissive, apply TO PUBLIC and key on auth.uid(), which
    // reads request.jwt.claims, a setting any session may change. A claims to be B, signed in.
    let claims = json!({"sub": b.to_string(), "role": "authenticated"}).to_string();
    let forged: String = screener_a
        .query_one(
            "SELECT set_config('request.jwt.claims', $1, false)",
            &[&claims],
        )
        .expect("any session may set request.jwt.claims")
        .get(0);
    assert_eq!(forged, claims);
    // What the platform's auth.uid() reads (the screener may not name the auth schema itself, but the
    // platform's policies call auth.uid() for it).
    let sub: Option<String> = screener_a
        .query_one(
            "SELECT current_setting('request.jwt.claims', true)::jsonb ->> 'sub'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        sub.as_deref(),
        Some(b.to_string().as_str()),
        "the session now claims to be B"
    );
    let visible = ids(&mut screener_a, "SELECT id::text FROM public.traders");
    let forged_foreign = visible.iter().filter(|t| traders_b.contains(t)).count();
    let forged_built_ins = screener_a
        .query(
            "SELECT 1 FROM public.traders WHERE is_built_in OR user_id IS NULL \
             OR id = ANY($1::text[]::uuid[])",
            &[&vec![BUILT_IN_ANONYMOUS_TRADER, BUILT_IN_PRO_TRADER]],
        )
        .unwrap()
        .len();
    let forged_written = foreign_inserts(
        &mut screener_a,
        &[(&traders_b[0], b), (&traders_b[1], b), (&traders_a[1], b)],
    );
    let for_b_forged = signals_for(&mut admin, b, &traders_b);
    proof::figure(
        SUITE,
        "forged_claims_foreign_traders_read",
        forged_foreign,
        "must be 0",
    );
    proof::figure(
        SUITE,
        "forged_claims_built_ins_read",
        forged_built_ins,
        "must be 0",
    );
    proof::figure(
        SUITE,
        "forged_claims_foreign_signals_written",
        forged_written as i64 + for_b_forged,
        "must be 0",
    );
    assert_eq!(forged_foreign, 0, "forged claims read none of B's traders");
    assert_eq!(forged_built_ins, 0, "forged claims read no built-in");
    assert_eq!(
        (forged_written, for_b_forged),
        (0, 0),
        "forged claims write no signal for B"
    );
    screener_a
        .batch_execute("RESET request.jwt.claims")
        .unwrap();

    // Nor may A touch other tables. The platform's trader policy reads user_subscriptions (whose admin policy
    // reads user_profiles) with the screener's rights, so 0005 grants a screener SELECT on both, bound by
    // restrictive policies to its own user's rows: never another user's (likewise its own role mapping).
    for (table, key) in [
        ("public.user_subscriptions", "user_id"),
        ("public.user_profiles", "id"),
        ("fleet.screener_roles", "user_id"),
    ] {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE {key} = $1::text::uuid), count(*) FILTER (WHERE {key} <> $1::text::uuid) \
             FROM {table}"
        );
        let row = screener_a
            .query_one(sql.as_str(), &[&a.to_string()])
            .unwrap();
        let (own, others) = (row.get::<_, i64>(0), row.get::<_, i64>(1));
        assert!(
            own <= 1 && others == 0,
            "{table}: A reads {own} own rows and {others} of other users"
        );
    }
    for sql in [
        "SELECT count(*) FROM public.user_fly_apps",
        "SELECT count(*) FROM public.user_fly_app_events",
        "SELECT count(*) FROM fleet.settings",
    ] {
        let result = screener_a.query_one(sql, &[]);
        assert!(result.is_err(), "{sql} answered {result:?}");
    }
    for sql in [
        "UPDATE public.traders SET enabled = false",
        "UPDATE public.user_subscriptions SET tier = 'elite'",
        "UPDATE public.user_profiles SET is_admin = true",
        "DELETE FROM public.signals",
        "DELETE FROM public.traders",
    ] {
        let result = screener_a.execute(sql, &[]);
        assert!(
            matches!(result, Err(_) | Ok(0)),
            "{sql} answered {result:?}"
        );
    }
    assert!(connect(&url_b).is_ok(), "B's credential works");

    // A loses entitlement; the webhook is lost. One sweep must revoke A's credential.
    fleet.subscribe(a, "free", "active");
    let (status, summary) = fleet.post("/health/sweep", &json!({}));
    assert_eq!(status, 200, "{summary}");
    let revoked_by_first_sweep = connect(&url_a).is_err();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sweeps = 1;
    while connect(&url_a).is_ok() {
        assert!(
            Instant::now() < deadline,
            "A's credential still connects after {sweeps} sweeps"
        );
        fleet.post("/health/sweep", &json!({}));
        sweeps += 1;
    }
    proof::figure(SUITE, "sweeps_until_revoked", sweeps, "must be 1");
    assert!(
        revoked_by_first_sweep,
        "A's credential outlived the first sweep: {summary}"
    );
    // A's open session (ended, or at least stripped of fleet_screener) reads and writes nothing any more.
    let stale_read = screener_a.query("SELECT id::text FROM public.traders", &[]);
    assert!(
        stale_read.is_err(),
        "A's open session still reads traders: {stale_read:?}"
    );
    let stale_write = insert_signal(&mut screener_a, &traders_a[1], a);
    assert!(
        stale_write.is_err(),
        "A's open session still writes signals: {stale_write:?}"
    );
    // fleet.drop_screener_role ends the sessions with pg_terminate_backend, which needs pg_signal_backend:
    // Supabase grants it to postgres (WITH ADMIN OPTION).
    let open_session = screener_a.query_one("SELECT 1", &[]);
    assert!(
        open_session.is_err(),
        "A's open session was ended: {open_session:?}"
    );
    let mut screener_b = connect(&url_b).expect("B's credential still connects");
    let b_reads = ids(&mut screener_b, "SELECT id::text FROM public.traders").len();
    assert_eq!(b_reads, traders_b.len(), "B is untouched by A's removal");

    // Rotation: B's app disappears from Fly (deleted outside Fleet); Fleet recreates it and re-keys B's role
    // (ALTER ROLE ... PASSWORD, all `postgres` may do on Supabase). The old password must stop working.
    let deleted = fleet
        .http
        .delete(format!(
            "{}/apps/{app_b}?force=true",
            fleet.sim.sim().base_url()
        ))
        .bearer_auth(fleet.sim.sim().token())
        .send()
        .expect("the simulator answers");
    assert_eq!(
        deleted.status().as_u16(),
        202,
        "B's app deleted out of band"
    );
    let answer = fleet.until_converged(
        "/provision",
        &Fleet::webhook("UPDATE", b, "pro", "active"),
        Duration::from_secs(90),
    );
    let app_b2 = answer["app_name"].as_str().unwrap().to_string();
    let url_b2 = booted_database_url(&fleet, &app_b2);
    assert_ne!(
        url_b2, url_b,
        "the new machine booted with a new credential"
    );
    let rotated: i64 = admin
        .query_one(
            "SELECT count(*) FROM public.user_fly_app_events \
             WHERE user_id = $1::text::uuid AND event_type = 'credential_rotated'",
            &[&b.to_string()],
        )
        .unwrap()
        .get(0);
    assert!(rotated >= 1, "the rotation is audited");
    let old = connect(&url_b).err();
    let old_refused = old
        .as_ref()
        .and_then(|e| e.code())
        .map(|c| c.code().to_string());
    proof::figure(
        SUITE,
        "old_password_after_rotation",
        if old.is_some() { "refused" } else { "ACCEPTED" },
        "must be refused",
    );
    assert_eq!(
        old_refused.as_deref(),
        Some("28P01"),
        "the old password is refused (invalid_password): {old:?}"
    );
    let mut screener_b2 = connect(&url_b2).expect("the new credential connects");
    let b_reads = ids(&mut screener_b2, "SELECT id::text FROM public.traders").len();
    assert_eq!(
        b_reads,
        traders_b.len(),
        "the new credential reads B's traders"
    );
}
