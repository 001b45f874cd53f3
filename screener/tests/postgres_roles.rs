//! Against the platform fixture (Supabase-like PostgreSQL with the platform's production schema, RLS and
//! triggers; Fleet's migrations applied; tests connect as the non-superuser `postgres`) with the per-user screener
//! role: dedicated mode sees only its user's enabled custom traders (never built-ins), shared mode only built-ins;
//! code-filter traders are skipped, not fatal; signals carry every column the platform reads; the role cannot read
//! or write another user's rows even with forged `request.jwt.claims`; a wrong password makes /health say
//! `failing` with a database-auth reason. One test runs Fleet's vanilla PostgreSQL mode (numeric signal columns).

mod common;

use common::*;
use fleet_test_support::platform::{self, BUILT_IN_ANONYMOUS_TRADER, BUILT_IN_PRO_TRADER};
use fleet_test_support::postgres::describe;
use screener::candle::Interval;
use screener::engine::SignalRow;
use screener::store::{DbError, Scope, SignalOrigin, Store};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// A platform trader's filter: Go code that matches every closed 1m candle.
fn go_code_filter() -> serde_json::Value {
    json!({"code": "return len(data.Klines[\"1m\"]) > 0", "description": [], "indicators": [],
           "requiredTimeframes": ["1m"]})
}

struct World {
    admin: String,
    user_a: Uuid,
    user_b: Uuid,
    /// user A's `user_fly_apps.id` (A is on Pro: Fleet's trigger created the row on the subscription write).
    app_a: Uuid,
    a_custom: Uuid,
    a_disabled: Uuid,
    b_custom: Uuid,
    built_in: Uuid,
}

fn world() -> World {
    let admin = migrated_postgres();
    let mut db = pg(&admin);
    let (user_a, user_b) = (sign_up(&mut db), sign_up(&mut db));
    let upgraded = platform::set_subscription(&mut db, &user_a.to_string(), "pro", "active", None)
        .unwrap_or_else(|e| panic!("upgrading user A: {}", describe(&e)));
    assert_eq!(upgraded, 1);
    let app_a: Uuid = db
        .query_one(
            "SELECT id FROM public.user_fly_apps WHERE user_id = $1",
            &[&user_a],
        )
        .expect("the upgrade created user A's app row")
        .get(0);
    let a_custom = insert_trader(&mut db, Some(user_a), false, true, &rsi_filter());
    let a_disabled = insert_trader(&mut db, Some(user_a), false, false, &rsi_filter());
    let b_custom = insert_trader(&mut db, Some(user_b), false, true, &rsi_filter());
    let built_in = insert_trader(&mut db, None, true, true, &rsi_filter());
    World {
        admin,
        user_a,
        user_b,
        app_a,
        a_custom,
        a_disabled,
        b_custom,
        built_in,
    }
}

/// Waits until /health reports `traders` loaded traders (`code` of them Go/JavaScript); returns the body.
fn traders_loaded(s: &Screener, traders: u64, code: u64) -> serde_json::Value {
    wait_for("traders loaded", Duration::from_secs(20), || {
        let (status, h) = s.health();
        (status == 200 && h["trader_count"] == traders && h["code_traders"] == code).then_some(h)
    })
}

#[test]
fn dedicated_sees_only_its_users_traders_and_shared_only_built_ins() {
    let w = world();
    let mut db = pg(&w.admin);
    // One of A's traders is a platform Go code filter: it runs beside the declarative one.
    let a_code = insert_trader(&mut db, Some(w.user_a), false, true, &go_code_filter());
    let role_url = screener_role_url(&w.admin, w.user_a, "correct-horse-1");
    let mut env = replay_env(&role_url);
    env.push(("RUN_MODE", "user_dedicated".into()));
    env.push(("USER_ID", w.user_a.to_string()));
    env.push(("FLY_MACHINE_ID", "m-dedicated".into()));
    let dedicated = Screener::start(&env);
    let health = traders_loaded(&dedicated, 2, 1);
    assert_eq!(health["failing_traders"], json!([]), "{health}");
    assert_eq!(health["disabled_traders"], json!([]), "{health}");
    // The replay fires the RSI cross and the Go trader; the per-user role may write its own user's signals.
    wait_for("dedicated signals", Duration::from_secs(20), || {
        let n: i64 = db
            .query_one("SELECT count(DISTINCT trader_id) FROM public.signals", &[])
            .unwrap()
            .get(0);
        (n == 2).then_some(())
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
    let mut expected = vec![(w.a_custom, Some(w.user_a)), (a_code, Some(w.user_a))];
    expected.sort();
    let mut owners = owners;
    owners.sort();
    assert_eq!(owners, expected);
    // Every column the platform reads is filled. FLEET_APP_ID was not given: the database stamps the app.
    let rows = db
        .query(
            "SELECT \"timestamp\" = candle_open_time + interval '1 minute', price_at_signal::float8, \
                    volume_at_signal::float8, change_percent_at_signal::float8, count, status, source, fly_app_id, \
                    indicator_data, \"interval\", trader_id \
               FROM public.signals",
            &[],
        )
        .unwrap();
    for r in &rows {
        assert!(r.get::<_, bool>(0), "timestamp is the candle's close");
        assert!(r.get::<_, f64>(1) > 0.0, "price_at_signal");
        assert!(r.get::<_, f64>(2) >= 0.0, "volume_at_signal");
        assert_eq!(r.get::<_, f64>(3), 0.0, "change_percent_at_signal");
        assert_eq!(r.get::<_, i32>(4), 1, "count");
        assert_eq!(r.get::<_, String>(5), "new");
        assert_eq!(r.get::<_, String>(6), "cloud");
        assert_eq!(r.get::<_, Option<Uuid>>(7), Some(w.app_a), "fly_app_id");
        let data: serde_json::Value = r.get(8);
        assert_eq!(data["run_mode"], "user_dedicated", "{data}");
        assert_eq!(data["machine_id"], "m-dedicated", "{data}");
        if r.get::<_, Uuid>(10) == a_code {
            assert_eq!(
                (&data["trigger"], &data["language"]),
                (&json!("code"), &json!("go")),
                "{data}"
            );
        } else {
            assert!(data["indicators"]["rsi(14)@1m"].is_number(), "{data}");
        }
        assert_eq!(r.get::<_, String>(9), "1m");
    }
    assert!(dedicated.stop().success());

    // Shared mode: built-ins only (with the fixture's two Go built-ins); FLEET_APP_ID goes to fly_app_id.
    let mut env = replay_env(&w.admin);
    env.push(("RUN_MODE", "shared_backend".into()));
    env.push(("FLEET_APP_ID", w.app_a.to_string()));
    let shared = Screener::start(&env);
    let health = traders_loaded(&shared, 3, 2);
    assert_eq!(health["failing_traders"], json!([]), "{health}");
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
    let (user, source, app, status): (Option<Uuid>, String, Option<Uuid>, String) = {
        let r = db
            .query_one(
                "SELECT user_id, source, fly_app_id, status FROM public.signals WHERE trader_id = $1 LIMIT 1",
                &[&w.built_in],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3))
    };
    assert_eq!(
        (user, source.as_str(), app, status.as_str()),
        (None, "cloud", Some(w.app_a), "new")
    );
    // Changes are picked up without a restart; an invalid filter disables only that trader, with a reason.
    let bad = json!({"version": 1, "when": {"left": {"ind": "rsi", "period": 0}, "op": "lt", "right": {"const": 30}}});
    let bad_id = insert_trader(&mut db, None, true, true, &bad);
    insert_trader(&mut db, None, true, true, &rsi_filter());
    let health = wait_for("the reload", Duration::from_secs(20), || {
        let (code, h) = shared.health();
        (code == 200 && h["trader_count"] == 4 && h["status"] == "degraded").then_some(h)
    });
    assert_eq!(health["disabled_traders"][0]["id"], bad_id.to_string());
    let reason = health["disabled_traders"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("when.left.period"), "{reason}");
    let b: i64 = db
        .query_one(
            "SELECT count(*) FROM public.signals WHERE trader_id = ANY($1)",
            &[&vec![w.b_custom, w.a_disabled]],
        )
        .unwrap()
        .get(0);
    assert_eq!(b, 0, "nobody screens user B's or a disabled trader here");
    assert!(shared.stop().success());
}

fn signal(trader: Uuid, user: Option<Uuid>) -> SignalRow {
    SignalRow {
        trader_id: trader,
        user_id: user,
        symbol: "BTCUSDT".into(),
        interval: Interval::parse("1m").unwrap(),
        candle_open_time: 1_704_067_200_000,
        price: 42_123.5,
        volume: 17.25,
        details: json!({"indicators": {"rsi(14)@1m": 31.5}}),
    }
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

#[test]
fn the_per_user_role_cannot_write_another_users_signal() {
    let w = world();
    let role_url = screener_role_url(&w.admin, w.user_a, "correct-horse-2");
    let store = store_for(&role_url);
    // Neither source nor app id right in the configuration: for a screener role the database stamps both.
    let origin = SignalOrigin {
        source: "local".into(),
        fleet_app_id: None,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let theirs = store
            .insert_signals(&[signal(w.b_custom, Some(w.user_b))], &origin)
            .await;
        assert!(matches!(theirs, Err(DbError::Forbidden(_))), "{theirs:?}");
        let disguised = store
            .insert_signals(&[signal(w.b_custom, Some(w.user_a))], &origin)
            .await;
        assert!(
            matches!(disguised, Err(DbError::Forbidden(_))),
            "{disguised:?}"
        );
        let built_in = store
            .insert_signals(&[signal(w.built_in, Some(w.user_a))], &origin)
            .await;
        assert!(
            matches!(built_in, Err(DbError::Forbidden(_))),
            "{built_in:?}"
        );
        let unowned = store
            .insert_signals(&[signal(w.a_custom, None)], &origin)
            .await;
        assert!(matches!(unowned, Err(DbError::Forbidden(_))), "{unowned:?}");
        assert_eq!(
            store
                .insert_signals(&[signal(w.a_custom, Some(w.user_a))], &origin)
                .await,
            Ok(1)
        );
        assert_eq!(
            store
                .insert_signals(&[signal(w.a_custom, Some(w.user_a))], &origin)
                .await,
            Ok(0),
            "duplicate skipped"
        );
    });
    let mut db = pg(&w.admin);
    let r = db
        .query_one(
            "SELECT \"timestamp\", candle_open_time, price_at_signal::float8, volume_at_signal::float8, \
                    change_percent_at_signal::float8, count, status, source, fly_app_id, indicator_data \
               FROM public.signals WHERE trader_id = $1",
            &[&w.a_custom],
        )
        .unwrap();
    let open = chrono::DateTime::from_timestamp_millis(1_704_067_200_000).unwrap();
    assert_eq!(
        r.get::<_, chrono::DateTime<chrono::Utc>>(0),
        open + chrono::Duration::minutes(1)
    );
    assert_eq!(r.get::<_, chrono::DateTime<chrono::Utc>>(1), open);
    assert_eq!(r.get::<_, f64>(2), 42_123.5);
    assert_eq!(r.get::<_, f64>(3), 17.25);
    assert_eq!(r.get::<_, f64>(4), 0.0);
    assert_eq!(r.get::<_, i32>(5), 1);
    assert_eq!(r.get::<_, String>(6), "new");
    assert_eq!(r.get::<_, String>(7), "cloud", "stamped by the database");
    assert_eq!(r.get::<_, Option<Uuid>>(8), Some(w.app_a));
    assert_eq!(
        r.get::<_, serde_json::Value>(9)["indicators"]["rsi(14)@1m"],
        31.5
    );
    let others: i64 = db
        .query_one(
            "SELECT count(*) FROM public.signals WHERE trader_id <> $1",
            &[&w.a_custom],
        )
        .unwrap()
        .get(0);
    assert_eq!(others, 0);
}

#[test]
fn forged_jwt_claims_give_the_screener_role_nothing_of_another_user() {
    let w = world();
    let role_url = screener_role_url(&w.admin, w.user_a, "correct-horse-4");
    let mut screener = pg(&role_url);
    let count = |c: &mut postgres::Client, ids: &[Uuid]| -> i64 {
        c.query_one(
            "SELECT count(*) FROM public.traders WHERE id = ANY($1)",
            &[&ids.to_vec()],
        )
        .unwrap_or_else(|e| panic!("{}", describe(&e)))
        .get(0)
    };
    let built_ins = [
        w.built_in,
        Uuid::parse_str(BUILT_IN_ANONYMOUS_TRADER).unwrap(),
        Uuid::parse_str(BUILT_IN_PRO_TRADER).unwrap(),
    ];
    // Without forgery: only A's enabled custom trader.
    let all: Vec<Uuid> = screener
        .query("SELECT id FROM public.traders", &[])
        .unwrap_or_else(|e| panic!("{}", describe(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(all, vec![w.a_custom]);

    // Forge the claims of user B, then of an anonymous caller (the platform's policies key on them).
    for claims in [
        json!({"sub": w.user_b.to_string(), "role": "authenticated"}),
        json!({"role": "anon"}),
    ] {
        screener
            .query_one(
                "SELECT set_config('request.jwt.claims', $1, false)",
                &[&claims.to_string()],
            )
            .unwrap();
        assert_eq!(count(&mut screener, &built_ins), 0, "built-ins, {claims}");
        assert_eq!(
            count(&mut screener, &[w.b_custom]),
            0,
            "B's trader, {claims}"
        );
        assert_eq!(
            count(&mut screener, &[w.a_disabled]),
            0,
            "disabled, {claims}"
        );
        for (trader, user) in [
            (w.b_custom, Some(w.user_b)),
            (w.b_custom, Some(w.user_a)),
            (w.built_in, None),
        ] {
            let e = screener
                .execute(
                    "INSERT INTO public.signals (trader_id, user_id, symbol, \"interval\", candle_open_time, \
                     \"timestamp\", price_at_signal, volume_at_signal, source) \
                     VALUES ($1, $2, 'BTCUSDT', '1m', now(), now(), 1, 1, 'cloud')",
                    &[&trader, &user],
                )
                .expect_err("a signal for another user's trader is refused");
            assert_eq!(
                e.code(),
                Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
                "{}",
                describe(&e)
            );
        }
    }
    // The role cannot become an API role, and its base role is mapped to no user.
    let e = screener
        .batch_execute("SET ROLE authenticated")
        .expect_err("SET ROLE authenticated");
    assert_eq!(
        e.code(),
        Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{}",
        describe(&e)
    );
    screener.batch_execute("SET ROLE fleet_screener").unwrap();
    let seen: i64 = screener
        .query_one("SELECT count(*) FROM public.traders", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, 0, "fleet_screener itself sees no trader");
    screener.batch_execute("RESET ROLE").unwrap();

    let mut db = pg(&w.admin);
    let written: i64 = db
        .query_one("SELECT count(*) FROM public.signals", &[])
        .unwrap()
        .get(0);
    assert_eq!(written, 0);

    // The store's own query never asks for built-ins in dedicated mode, even where RLS does not apply
    // (`postgres` has BYPASSRLS on Supabase).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids: Vec<Uuid> = rt
        .block_on(store_for(&w.admin).load_traders(Scope::User(w.user_a)))
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec![w.a_custom]);
}

/// Vanilla PostgreSQL mode works too. Its price columns mirror the fixture (double precision, inferred from the
/// Go screener); should production hold `numeric` instead, the screener's float8 arrays must still go in
/// exactly, so the test turns them into numeric first.
#[test]
fn vanilla_postgres_takes_float8_values_into_numeric_signal_columns() {
    let url = migrated_vanilla_postgres();
    let mut db = pg(&url);
    db.batch_execute(
        "ALTER TABLE public.signals ALTER COLUMN price_at_signal TYPE numeric, \
         ALTER COLUMN volume_at_signal TYPE numeric, ALTER COLUMN change_percent_at_signal TYPE numeric",
    )
    .unwrap();
    let types: Vec<String> = db
        .query(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name = 'signals' AND column_name IN ('price_at_signal', 'volume_at_signal', \
             'change_percent_at_signal') ORDER BY column_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(types, vec!["numeric"; 3]);
    let trader = insert_trader(&mut db, None, true, true, &rsi_filter());
    let store = store_for(&url);
    let origin = SignalOrigin {
        source: "cloud".into(),
        fleet_app_id: None,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut row = signal(trader, None);
    row.price = 0.000_012_345_678_9;
    assert_eq!(rt.block_on(store.insert_signals(&[row], &origin)), Ok(1));
    let r = db
        .query_one(
            "SELECT price_at_signal::text, volume_at_signal::float8, status, source, fly_app_id, count \
             FROM public.signals",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "0.0000123456789");
    assert_eq!(r.get::<_, f64>(1), 17.25);
    assert_eq!(r.get::<_, String>(2), "new");
    assert_eq!(r.get::<_, String>(3), "cloud");
    assert_eq!(r.get::<_, Option<Uuid>>(4), None);
    assert_eq!(r.get::<_, i32>(5), 1);
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
    // Until its first round trip the database is "not reached yet" (also failing): wait past that.
    let (code, health) = wait_for("failing health", Duration::from_secs(20), || {
        let (code, h) = s.health();
        let reached = h["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty() && !r.iter().any(|x| x == "database: not reached yet"));
        (reached && h["status"] == "failing").then_some((code, h))
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
