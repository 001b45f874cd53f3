//! Against real PostgreSQL with the per-user screener role (migrations/postgres): dedicated mode sees only its
//! user's enabled custom traders, shared mode only built-ins, another user's signal is refused, and a wrong
//! password makes /health say `failing` with a database-auth reason.

mod common;

use common::*;
use screener::candle::Interval;
use screener::engine::SignalRow;
use screener::store::{DbError, SignalOrigin, Store};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

fn rsi_filter() -> serde_json::Value {
    json!({"version": 1, "timeframe": "1m",
           "when": {"left": {"ind": "rsi", "period": 14}, "op": "crosses_above", "right": {"const": 30}}})
}

fn replay_env(db_url: &str) -> Vec<(&'static str, String)> {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/replay/sample.jsonl");
    vec![
        ("DATABASE_URL", db_url.to_string()),
        ("MARKET_DATA", format!("replay:{sample}")),
    ]
}

struct World {
    admin: String,
    user_a: Uuid,
    a_custom: Uuid,
    b_custom: Uuid,
    built_in: Uuid,
}

fn world() -> World {
    let admin = migrated_postgres();
    let mut db = pg(&admin);
    let (user_a, user_b) = (Uuid::new_v4(), Uuid::new_v4());
    let a_custom = insert_trader(&mut db, Some(user_a), false, true, &rsi_filter());
    insert_trader(&mut db, Some(user_a), false, false, &rsi_filter()); // disabled
    let b_custom = insert_trader(&mut db, Some(user_b), false, true, &rsi_filter());
    let built_in = insert_trader(&mut db, None, true, true, &rsi_filter());
    World {
        admin,
        user_a,
        a_custom,
        b_custom,
        built_in,
    }
}

fn traders_seen(s: &Screener) -> u64 {
    wait_for("traders loaded", Duration::from_secs(20), || {
        let (code, h) = s.health();
        (code == 200 && h["status"] == "ok").then(|| h["trader_count"].as_u64().unwrap())
    })
}

#[test]
fn dedicated_sees_only_its_users_traders_and_shared_only_built_ins() {
    let w = world();
    let role_url = screener_role_url(&w.admin, w.user_a, "correct-horse-1");
    let mut env = replay_env(&role_url);
    env.push(("RUN_MODE", "user_dedicated".into()));
    env.push(("USER_ID", w.user_a.to_string()));
    let dedicated = Screener::start(&env);
    assert_eq!(traders_seen(&dedicated), 1);
    // The replay fires the RSI cross; the per-user role may write its own user's signals.
    let mut db = pg(&w.admin);
    wait_for("dedicated signals", Duration::from_secs(20), || {
        let n: i64 = db
            .query_one("SELECT count(*) FROM public.signals", &[])
            .unwrap()
            .get(0);
        (n > 0).then_some(())
    });
    let owners: Vec<(Uuid, Option<Uuid>)> = db
        .query(
            "SELECT DISTINCT trader_id, user_id FROM public.signals",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(owners, vec![(w.a_custom, Some(w.user_a))]);
    assert!(dedicated.stop().success());

    let mut env = replay_env(&w.admin);
    env.push(("RUN_MODE", "shared_backend".into()));
    let shared = Screener::start(&env);
    assert_eq!(traders_seen(&shared), 1);
    wait_for("shared signals", Duration::from_secs(20), || {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM public.signals WHERE trader_id = $1",
                &[&w.built_in],
            )
            .unwrap()
            .get(0);
        (n > 0).then_some(())
    });
    // Changes are picked up without a restart; an invalid filter disables only that trader, with a reason.
    let bad = json!({"version": 1, "when": {"left": {"ind": "rsi", "period": 0}, "op": "lt", "right": {"const": 30}}});
    let bad_id = insert_trader(&mut db, None, true, true, &bad);
    insert_trader(&mut db, None, true, true, &rsi_filter());
    let health = wait_for("the reload", Duration::from_secs(20), || {
        let (code, h) = shared.health();
        (code == 200 && h["trader_count"] == 2 && h["status"] == "degraded").then_some(h)
    });
    assert_eq!(health["disabled_traders"][0]["id"], bad_id.to_string());
    let reason = health["disabled_traders"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("when.left.period"), "{reason}");
    let b: i64 = db
        .query_one(
            "SELECT count(*) FROM public.signals WHERE trader_id = $1",
            &[&w.b_custom],
        )
        .unwrap()
        .get(0);
    assert_eq!(b, 0, "nobody screens user B's trader here");
    assert!(shared.stop().success());
}

#[test]
fn the_per_user_role_cannot_write_another_users_signal() {
    let w = world();
    let role_url = screener_role_url(&w.admin, w.user_a, "correct-horse-2");
    let config = screener::config::Config::from_map(
        &[("DATABASE_URL".to_string(), role_url)]
            .into_iter()
            .collect(),
    )
    .unwrap();
    let store = Store::open(&config).unwrap();
    let origin = SignalOrigin {
        source: "cloud".into(),
        fleet_app_id: None,
        machine_id: Some("m1".into()),
    };
    let row = |trader: Uuid, user: Uuid| SignalRow {
        trader_id: trader,
        user_id: Some(user),
        symbol: "BTCUSDT".into(),
        interval: Interval::parse("1m").unwrap(),
        candle_open_time: 1_704_067_200_000,
        price: 1.0,
        volume: 1.0,
        details: json!({}),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let user_b = Uuid::new_v4();
        let theirs = store
            .insert_signals(&[row(w.b_custom, user_b)], &origin)
            .await;
        assert!(matches!(theirs, Err(DbError::Forbidden(_))), "{theirs:?}");
        let disguised = store
            .insert_signals(&[row(w.b_custom, w.user_a)], &origin)
            .await;
        assert!(
            matches!(disguised, Err(DbError::Forbidden(_))),
            "{disguised:?}"
        );
        let built_in = store
            .insert_signals(&[row(w.built_in, w.user_a)], &origin)
            .await;
        assert!(
            matches!(built_in, Err(DbError::Forbidden(_))),
            "{built_in:?}"
        );
        assert_eq!(
            store
                .insert_signals(&[row(w.a_custom, w.user_a)], &origin)
                .await,
            Ok(1)
        );
        assert_eq!(
            store
                .insert_signals(&[row(w.a_custom, w.user_a)], &origin)
                .await,
            Ok(0),
            "duplicate skipped"
        );
    });
}

#[test]
fn a_wrong_password_makes_health_failing_with_a_database_auth_reason() {
    let w = world();
    let good = screener_role_url(&w.admin, w.user_a, "correct-horse-3");
    let bad = good.replace("correct-horse-3", "wrong-password-xyz");
    let mut env = replay_env(&bad);
    env.push(("RUN_MODE", "user_dedicated".into()));
    env.push(("USER_ID", w.user_a.to_string()));
    let s = Screener::start(&env);
    let (code, health) = wait_for("failing health", Duration::from_secs(20), || {
        let (code, h) = s.health();
        (h["reasons"].as_array().is_some_and(|r| !r.is_empty()) && h["status"] == "failing")
            .then_some((code, h))
    });
    assert_eq!(code, 503);
    let reasons = health["reasons"].to_string();
    assert!(
        reasons.contains("database authentication failed"),
        "{reasons}"
    );
    assert!(reasons.contains("password"), "{reasons}");
    assert_eq!(health["run_mode"], "user_dedicated");
    assert_eq!(health["user_id"], w.user_a.to_string());
    let everything = format!("{health} {}", s.log_text());
    assert!(
        !everything.contains("wrong-password-xyz"),
        "the password leaked"
    );
    assert!(s.stop().success());
}
