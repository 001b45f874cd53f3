//! Through a connection pooler in transaction mode (Supabase's Supavisor on port 6543; here Debian's PgBouncer
//! with `pool_mode = transaction` and no prepared-statement support, in front of the platform fixture): the
//! real screener binary with a per-user screener role loads its user's traders and writes signals (same INSERT,
//! same dedupe), the role sees and writes only its own user's rows, and a role Fleet revokes
//! (`fleet.drop_screener_role`, the deprovision path) makes /health fail with a database-auth reason.
//!
//! Each pool keeps two server connections handed out in turn, so anything the screener left on one server
//! connection (a named prepared statement, a session `SET`) is missing in its next transaction.

mod common;

use common::*;
use fleet_test_support::pgbouncer::{PgBouncer, PgBouncerOptions};
use fleet_test_support::platform;
use fleet_test_support::postgres::describe;
use screener::candle::Interval;
use screener::engine::SignalRow;
use screener::store::{DbError, Scope, SignalOrigin, Store};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

struct World {
    admin: String,
    user_a: Uuid,
    user_b: Uuid,
    a_custom: Uuid,
    b_custom: Uuid,
    built_in: Uuid,
    bouncer: PgBouncer,
}

fn world() -> World {
    let admin = migrated_postgres();
    let mut db = pg(&admin);
    let (user_a, user_b) = (sign_up(&mut db), sign_up(&mut db));
    for user in [user_a, user_b] {
        platform::set_subscription(&mut db, &user.to_string(), "pro", "active", None)
            .unwrap_or_else(|e| panic!("upgrading a user: {}", describe(&e)));
    }
    let a_custom = insert_trader(&mut db, Some(user_a), false, true, &rsi_filter());
    insert_trader(&mut db, Some(user_a), false, false, &rsi_filter());
    let b_custom = insert_trader(&mut db, Some(user_b), false, true, &rsi_filter());
    let built_in = insert_trader(&mut db, None, true, true, &rsi_filter());
    let bouncer = PgBouncer::start(
        fleet_test_support::postgres::cluster(),
        &PgBouncerOptions::transaction_mode(),
    )
    .unwrap_or_else(|e| panic!("starting PgBouncer: {e}"));
    World {
        admin,
        user_a,
        user_b,
        a_custom,
        b_custom,
        built_in,
        bouncer,
    }
}

/// The user's screener role (created as Fleet's provision does) and its URL through the pooler. The pool's two
/// server connections are opened first (two transactions at once), so consecutive transactions of one client
/// run on different server connections from the start.
fn pooled_role_url(w: &World, user: Uuid, password: &str) -> String {
    let url = w.bouncer.url(&screener_role_url(&w.admin, user, password));
    let mut first = pg(&url);
    let mut second = pg(&url);
    first.batch_execute("BEGIN").unwrap();
    second.batch_execute("BEGIN").unwrap();
    first.batch_execute("COMMIT").unwrap();
    second.batch_execute("COMMIT").unwrap();
    url
}

fn store_for(url: &str) -> Store {
    let config = screener::config::Config::from_map(
        &[("DATABASE_URL".to_string(), url.to_string())]
            .into_iter()
            .collect(),
    )
    .unwrap();
    Store::open(&config).unwrap()
}

fn signal(trader: Uuid, user: Option<Uuid>, open: i64) -> SignalRow {
    SignalRow {
        trader_id: trader,
        user_id: user,
        symbol: "BTCUSDT".into(),
        interval: Interval::parse("1m").unwrap(),
        candle_open_time: open,
        price: 42_123.5,
        volume: 17.25,
        details: json!({"indicators": {"rsi(14)@1m": 31.5}}),
    }
}

/// Waits until /health satisfies `ok`; on timeout, panics with the last answer (its reasons say what failed).
fn wait_health(
    s: &Screener,
    what: &str,
    ok: impl Fn(u16, &serde_json::Value) -> bool,
) -> (u16, serde_json::Value) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, h) = s.health();
        if ok(code, &h) {
            return (code, h);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; last /health ({code}): {h}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn dedicated(url: &str, user: Uuid) -> Screener {
    let mut env = replay_env(url);
    env.push(("RUN_MODE", "user_dedicated".into()));
    env.push(("USER_ID", user.to_string()));
    Screener::start(&env)
}

#[test]
fn through_transaction_pooling_the_screener_loads_its_traders_and_writes_only_its_users_signals() {
    let w = world();
    let url_a = pooled_role_url(&w, w.user_a, "pooled-horse-a");
    let url_b = pooled_role_url(&w, w.user_b, "pooled-horse-b");

    // The real binary, replaying the sample: A's one enabled custom trader loads and fires.
    let s = dedicated(&url_a, w.user_a);
    let (_, health) = wait_health(&s, "traders loaded through the pooler", |code, h| {
        code == 200 && h["trader_count"] == 1
    });
    assert_eq!(health["reasons"], json!([]), "{health}");
    let mut db = pg(&w.admin);
    let count = |db: &mut postgres::Client, trader: Uuid| -> i64 {
        db.query_one(
            "SELECT count(*) FROM public.signals WHERE trader_id = $1",
            &[&trader],
        )
        .unwrap()
        .get(0)
    };
    wait_for(
        "signals through the pooler",
        Duration::from_secs(30),
        || (count(&mut db, w.a_custom) > 0).then_some(()),
    );
    // Several polls and batches ran over different server connections; the database was never in error.
    wait_for("more trader polls", Duration::from_secs(10), || {
        (s.metric("screener_signals_inserted_total") > 0.0).then_some(())
    });
    let (code, health) = s.health();
    assert_eq!((code, &health["reasons"]), (200, &json!([])), "{health}");
    let written = count(&mut db, w.a_custom);
    assert!(s.stop().success());
    let others: i64 = db
        .query_one(
            "SELECT count(*) FROM public.signals WHERE trader_id <> $1",
            &[&w.a_custom],
        )
        .unwrap()
        .get(0);
    assert_eq!(others, 0, "only A's trader was screened");

    // A restart replays the same candles: the unique key absorbs every repeat.
    let again = dedicated(&url_a, w.user_a);
    wait_health(&again, "the replay again", |code, h| {
        code == 200 && h["trader_count"] == 1 && h["last_candle_at"].is_string()
    });
    wait_for("the batches flushed", Duration::from_secs(10), || {
        (again.metric("screener_signals_pending") == 0.0).then_some(())
    });
    assert!(again.stop().success());
    assert_eq!(count(&mut db, w.a_custom), written, "no duplicate signal");

    // The store's every query path through the pooler, as A's role: isolation holds, inserts dedupe.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let origin = SignalOrigin {
        source: "cloud".into(),
        fleet_app_id: None,
    };
    let store_a = store_for(&url_a);
    rt.block_on(async {
        let ids: Vec<Uuid> = store_a
            .load_traders(Scope::User(w.user_a))
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, vec![w.a_custom]);
        assert_eq!(
            store_a.load_traders(Scope::User(w.user_b)).await,
            Ok(vec![]),
            "A's role sees none of B's traders"
        );
        assert_eq!(store_a.load_traders(Scope::BuiltIn).await, Ok(vec![]));
        let fingerprint = store_a
            .traders_fingerprint(Scope::User(w.user_a))
            .await
            .unwrap();
        assert!(fingerprint.starts_with("1:"), "{fingerprint}");
        assert_eq!(
            store_a.traders_fingerprint(Scope::User(w.user_b)).await,
            Ok("0:".to_string())
        );
        for (trader, user) in [
            (w.b_custom, Some(w.user_b)),
            (w.b_custom, Some(w.user_a)),
            (w.built_in, Some(w.user_a)),
        ] {
            let refused = store_a
                .insert_signals(&[signal(trader, user, 1_704_067_200_000)], &origin)
                .await;
            assert!(matches!(refused, Err(DbError::Forbidden(_))), "{refused:?}");
        }
        let row = signal(w.a_custom, Some(w.user_a), 1_704_067_200_000);
        assert_eq!(
            store_a
                .insert_signals(std::slice::from_ref(&row), &origin)
                .await,
            Ok(1)
        );
        assert_eq!(
            store_a.insert_signals(&[row], &origin).await,
            Ok(0),
            "duplicate skipped"
        );

        // B's role, through its own pool: B's trader only, and B's signals only.
        let store_b = store_for(&url_b);
        let ids: Vec<Uuid> = store_b
            .load_traders(Scope::User(w.user_b))
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, vec![w.b_custom]);
        assert_eq!(
            store_b.load_traders(Scope::User(w.user_a)).await,
            Ok(vec![])
        );
        let refused = store_b
            .insert_signals(
                &[signal(w.a_custom, Some(w.user_a), 1_704_067_260_000)],
                &origin,
            )
            .await;
        assert!(matches!(refused, Err(DbError::Forbidden(_))), "{refused:?}");
        assert_eq!(
            store_b
                .insert_signals(
                    &[signal(w.b_custom, Some(w.user_b), 1_704_067_260_000)],
                    &origin
                )
                .await,
            Ok(1)
        );
    });
    let owners: Vec<(Uuid, Option<Uuid>, String)> = db
        .query(
            "SELECT DISTINCT trader_id, user_id, source FROM public.signals ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut expected = vec![
        (w.a_custom, Some(w.user_a), "cloud".to_string()),
        (w.b_custom, Some(w.user_b), "cloud".to_string()),
    ];
    expected.sort();
    assert_eq!(owners, expected);
}

#[test]
fn through_transaction_pooling_a_revoked_role_is_refused_with_a_clear_health_reason() {
    let w = world();
    let password = "pooled-horse-revoked";
    let url = pooled_role_url(&w, w.user_a, password);
    let s = dedicated(&url, w.user_a);
    wait_health(&s, "traders loaded through the pooler", |code, h| {
        code == 200 && h["trader_count"] == 1
    });

    // Fleet's revocation (deprovision, or a rotation that replaces the role): NOLOGIN, sessions ended, dropped.
    let role = fleet_store::screener_role_name(fleet_store::UserId::new(w.user_a));
    let mut store =
        fleet_store::Store::new(fleet_store::native::NativePostgres::connect(&w.admin).unwrap());
    assert!(store.drop_screener_role(&role).unwrap());

    let (code, health) = wait_health(&s, "failing health", |_, h| h["status"] == "failing");
    assert_eq!(code, 503, "{health}");
    let reasons = health["reasons"].to_string();
    assert!(
        reasons.contains("database authentication failed"),
        "{reasons}\n--- pgbouncer.log ---\n{}",
        w.bouncer.log()
    );
    assert!(reasons.contains(&role), "{reasons}");
    assert!(reasons.contains("revoked"), "{reasons}");
    eprintln!("/health of the revoked role: {reasons}");

    // A new connection through the pooler is refused the same way.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let refused = rt.block_on(store_for(&url).load_traders(Scope::User(w.user_a)));
    assert!(matches!(refused, Err(DbError::Auth(_))), "{refused:?}");
    eprintln!("a new connection of the revoked role: {refused:?}");

    let everything = format!("{health} {refused:?} {}", s.log_text());
    assert!(!everything.contains(password), "the password leaked");
    assert!(s.stop().success());
}
