//! Suite 5 (issue 9): tenant isolation on PostgreSQL through the real components. Users A and B are
//! provisioned through the host; each one's screener credential is the DATABASE_URL the simulator's machine
//! really booted with. With A's credential, A reads only its own traders (0 of B's), writes no signal for
//! B, and after A is deprovisioned by one sweep its credential no longer connects.

use std::time::{Duration, Instant};

use fleet_e2e::{proof, user, Fleet};
use fleet_store::UserId;
use fly_simulator::SimConfig;
use postgres::{Client, NoTls};
use serde_json::json;

const SUITE: &str = "tenant_isolation";

fn provision(fleet: &Fleet, who: UserId) -> String {
    fleet.subscribe(who, "pro", "active");
    let answer = fleet.until_converged(
        "/provision",
        &Fleet::webhook("INSERT", who, "pro", "active"),
        Duration::from_secs(60),
    );
    let app = answer["app_name"].as_str().unwrap().to_string();
    let machines = fleet.live_machines(&app);
    assert_eq!(machines.len(), 1, "{machines:#?}");
    machines[0]["effective_env"]["DATABASE_URL"]
        .as_str()
        .expect("the machine booted with its DATABASE_URL")
        .to_string()
}

/// Two traders per user, inserted as the platform would (the control plane's connection).
fn insert_traders(admin: &mut Client, who: UserId) -> Vec<String> {
    let mut ids = Vec::new();
    for name in ["breakout", "rsi"] {
        let row = admin
            .query_one(
                "INSERT INTO public.traders (user_id, name, filter) VALUES ($1::text::uuid, $2, '{}'::jsonb) \
                 RETURNING id::text",
                &[&who.to_string(), &format!("{name}-{who}")],
            )
            .unwrap();
        ids.push(row.get(0));
    }
    ids
}

fn connect(url: &str) -> Result<Client, postgres::Error> {
    Client::connect(url, NoTls)
}

fn insert_signal(client: &mut Client, trader: &str, owner: UserId) -> Result<u64, postgres::Error> {
    client.execute(
        "INSERT INTO public.signals (trader_id, user_id, symbol, interval, candle_open_time) \
         VALUES ($1::text::uuid, $2::text::uuid, 'BTCUSDT', '5m', now()) ON CONFLICT DO NOTHING",
        &[&trader, &owner.to_string()],
    )
}

#[test]
fn a_screener_credential_reaches_only_its_own_user_and_dies_with_the_app() {
    let fleet = Fleet::postgres(SimConfig::default().without_rate_limits());
    let (a, b) = (user(501), user(502));
    let url_a = provision(&fleet, a);
    let url_b = provision(&fleet, b);
    assert_ne!(url_a, url_b, "each user has a credential of its own");
    let fleet_url = match &fleet.database {
        fleet_e2e::Database::Postgres { url, .. } => url.clone(),
        fleet_e2e::Database::Sqlite { .. } => unreachable!(),
    };
    let mut admin = connect(&fleet_url).unwrap();
    let traders_a = insert_traders(&mut admin, a);
    let traders_b = insert_traders(&mut admin, b);

    let mut screener_a = connect(&url_a).expect("A's credential connects");
    let who: String = screener_a
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert!(who.starts_with("fleet_scr_"), "{who}");
    let visible: Vec<String> = screener_a
        .query("SELECT id::text FROM public.traders", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let own = visible.iter().filter(|t| traders_a.contains(t)).count();
    let foreign = visible.iter().filter(|t| traders_b.contains(t)).count();
    let by_id = screener_a
        .query(
            "SELECT 1 FROM public.traders WHERE id = $1::text::uuid",
            &[&traders_b[0]],
        )
        .unwrap()
        .len();
    proof::figure(SUITE, "own_traders_read", own, "of 2");
    proof::figure(SUITE, "foreign_traders_read", foreign + by_id, "must be 0");
    assert_eq!(own, traders_a.len(), "A reads its own traders");
    assert_eq!((foreign, by_id), (0, 0), "A reads none of B's traders");

    // Writes: a signal for B (B's trader, B's user id, or B's trader under A's id) is refused; A's own works.
    let mut foreign_written = 0;
    for (trader, owner) in [(&traders_b[0], b), (&traders_b[0], a), (&traders_a[0], b)] {
        match insert_signal(&mut screener_a, trader, owner) {
            Ok(n) => foreign_written += n,
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
    let own_written =
        insert_signal(&mut screener_a, &traders_a[0], a).expect("A writes its own signal");
    let for_b: i64 = admin
        .query_one(
            "SELECT count(*) FROM public.signals WHERE user_id = $1::text::uuid \
             OR trader_id = ANY($2::text[]::uuid[])",
            &[&b.to_string(), &traders_b],
        )
        .unwrap()
        .get(0);
    proof::figure(
        SUITE,
        "foreign_signals_written",
        foreign_written as i64 + for_b,
        "must be 0",
    );
    assert_eq!((foreign_written, for_b), (0, 0), "A wrote no signal for B");
    assert_eq!(own_written, 1, "A writes its own signal");
    // Nor may A touch other tables.
    for sql in [
        "SELECT count(*) FROM public.user_subscriptions",
        "SELECT count(*) FROM public.user_fly_apps",
        "UPDATE public.traders SET enabled = false",
        "DELETE FROM public.signals",
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
    assert!(
        screener_a.query_one("SELECT 1", &[]).is_err(),
        "A's open session was ended"
    );
    let mut screener_b = connect(&url_b).expect("B's credential still connects");
    let b_reads = screener_b
        .query("SELECT id::text FROM public.traders", &[])
        .unwrap()
        .len();
    assert_eq!(b_reads, traders_b.len(), "B is untouched by A's removal");
}
