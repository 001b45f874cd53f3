//! The real binary against the fake Binance and real PostgreSQL: a trader that must fire on a known candle
//! produces exactly one signal; a restart produces no duplicate; a gap during a dropped connection is
//! backfilled over REST (through a 429) and the signal is still correct.

mod common;

use common::*;
use fake_binance::{FakeBinance, Fixture, Kline, Options};
use serde_json::json;
use std::time::Duration;

const T0: i64 = 1_700_000_040_000; // minute-aligned
const MIN: i64 = 60_000;
const HISTORY: usize = 100;
/// The candle on which the close first crosses above 1.05 × SMA(20).
const K: usize = 105;

fn fixture() -> Fixture {
    let mut f = Fixture::default();
    for i in 0..130 {
        let close: f64 = if (K..K + 5).contains(&i) {
            120.0
        } else {
            100.0
        };
        let t = T0 + i as i64 * MIN;
        let k = Kline {
            open_time: t,
            close_time: t + MIN - 1,
            open: 100.0,
            high: close.max(100.0) + 1.0,
            low: 99.0,
            close,
            volume: 10.0,
            quote_volume: 1000.0,
            ..Default::default()
        };
        f.push("TESTUSDT", "1m", k);
        // A second symbol that never fires.
        f.push(
            "CALMUSDT",
            "1m",
            Kline {
                close: 50.0,
                open: 50.0,
                high: 51.0,
                low: 49.0,
                quote_volume: 500.0,
                ..k
            },
        );
    }
    f
}

fn filter() -> serde_json::Value {
    json!({
        "version": 1,
        "timeframe": "1m",
        "when": {"all": [
            {"left": {"ind": "close"}, "op": "crosses_above", "right": {"ind": "sma", "period": 20, "mul": 1.05}}
        ]},
        "trigger": {"mode": "once_per_bar"}
    })
}

fn screener_env(db: &str, fake: &FakeBinance) -> Vec<(&'static str, String)> {
    vec![
        ("RUN_MODE", "shared_backend".into()),
        ("DATABASE_URL", db.to_string()),
        ("SYMBOLS", "TESTUSDT,CALMUSDT".into()),
        ("BINANCE_WS_URL", format!("ws://127.0.0.1:{}", fake.port())),
        (
            "BINANCE_REST_URL",
            format!("http://127.0.0.1:{}", fake.port()),
        ),
        ("FLY_MACHINE_ID", "m-test-1".into()),
        ("FLY_APP_NAME", "fleet-test-app".into()),
    ]
}

fn signal_rows(
    db: &mut postgres::Client,
    trader: uuid::Uuid,
) -> Vec<(String, i64, f64, serde_json::Value, i64)> {
    db.query(
        "SELECT symbol, (extract(epoch from candle_open_time) * 1000)::bigint, price_at_signal::float8, \
                indicator_data, (extract(epoch from \"timestamp\") * 1000)::bigint \
         FROM public.signals WHERE trader_id = $1 ORDER BY candle_open_time",
        &[&trader],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect()
}

fn wait_connected(fake: &FakeBinance, connections: u64) {
    wait_for("the screener to subscribe", Duration::from_secs(30), || {
        let s = fake.stats();
        (s.connections_total >= connections
            && s.connections_active >= 1
            && s.subscribed_streams >= 2)
            .then_some(())
    });
}

#[test]
fn fires_exactly_once_on_the_known_candle_and_a_restart_adds_no_duplicate() {
    let db_url = migrated_postgres();
    let mut db = pg(&db_url);
    disable_fixture_built_ins(&mut db);
    let trader = insert_trader(&mut db, None, true, true, &filter());
    // Frequent pings with a short pong deadline: a client that stops answering would be dropped.
    let fake = FakeBinance::start(
        fixture(),
        Options {
            cursor: HISTORY,
            ping_interval: Duration::from_millis(50),
            pong_timeout: Duration::from_secs(1),
            ..Options::default()
        },
    );

    let screener = Screener::start(&screener_env(&db_url, &fake));
    wait_connected(&fake, 1);
    fake.advance(K + 1 - HISTORY, false); // candles 100..=105, K is the last closed
    wait_for("the signal row", Duration::from_secs(20), || {
        (signal_rows(&mut db, trader).len() == 1).then_some(())
    });
    wait_for("all candles applied", Duration::from_secs(20), || {
        (screener.metric("screener_candles_closed_total") >= 12.0).then_some(())
    });
    let rows = signal_rows(&mut db, trader);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (symbol, open_time, price, details, timestamp) = &rows[0];
    assert_eq!(symbol, "TESTUSDT");
    assert_eq!(*open_time, T0 + K as i64 * MIN);
    assert_eq!(*timestamp, T0 + (K as i64 + 1) * MIN, "the candle's close");
    assert_eq!(*price, 120.0);
    assert_eq!(details["machine_id"], "m-test-1");
    assert_eq!(details["run_mode"], "shared_backend");
    assert_eq!(details["app"], "fleet-test-app");
    assert!(
        details["indicators"]["sma(20,close)@1m"].as_f64().is_some(),
        "{details}"
    );
    let (code, health) = screener.health();
    assert_eq!(code, 200, "{health}");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["trader_count"], 1);
    assert!(screener.stop().success(), "clean exit on SIGTERM");

    // The restart re-evaluates the last closed candle (K) and tries to insert its signal again.
    let screener = Screener::start(&screener_env(&db_url, &fake));
    wait_for(
        "the repeated signal to be skipped by the unique key",
        Duration::from_secs(20),
        || (screener.metric("screener_signals_duplicate_total") >= 1.0).then_some(()),
    );
    wait_connected(&fake, 2);
    fake.advance(4, false);
    wait_for("later candles applied", Duration::from_secs(20), || {
        (screener.metric("screener_candles_closed_total") >= 8.0).then_some(())
    });
    assert_eq!(
        signal_rows(&mut db, trader).len(),
        1,
        "restart must not duplicate"
    );
    assert_eq!(screener.metric("screener_signals_inserted_total"), 0.0);
    wait_for("pongs to the fake's pings", Duration::from_secs(10), || {
        (fake.stats().pongs >= 5).then_some(())
    });
    let stats = fake.stats();
    assert_eq!(
        stats.connections_total, 2,
        "one connection per run, none dropped for missing pongs"
    );
    assert!(screener.stop().success());
}

#[test]
fn a_gap_during_a_dropped_connection_is_backfilled_and_the_signal_is_still_correct() {
    let db_url = migrated_postgres();
    let mut db = pg(&db_url);
    disable_fixture_built_ins(&mut db);
    let trader = insert_trader(&mut db, None, true, true, &filter());
    let fake = FakeBinance::start(
        fixture(),
        Options {
            cursor: HISTORY,
            ..Options::default()
        },
    );
    let screener = Screener::start(&screener_env(&db_url, &fake));
    wait_connected(&fake, 1);
    fake.advance(3, false); // 100..=102 over the stream
    wait_for("live candles", Duration::from_secs(20), || {
        (screener.metric("screener_candles_closed_total") >= 6.0).then_some(())
    });

    // Candles 103..=106 (K = 105 among them) close while the client is disconnected; the backfill first
    // meets a 429 with Retry-After.
    fake.rate_limit_next(1);
    fake.drop_connections();
    fake.advance(4, true);
    wait_connected(&fake, 2);
    wait_for("the backfilled signal", Duration::from_secs(30), || {
        (signal_rows(&mut db, trader).len() == 1).then_some(())
    });
    fake.advance(3, false);
    wait_for("candles after the gap", Duration::from_secs(20), || {
        (screener.metric("screener_candles_closed_total") >= 12.0).then_some(())
    });
    let rows = signal_rows(&mut db, trader);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, T0 + K as i64 * MIN, "signal on the known candle");
    assert_eq!(rows[0].2, 120.0);
    assert!(screener.metric("screener_gaps_detected_total") >= 1.0);
    assert!(
        screener.metric("screener_candles_backfilled_total") >= 8.0,
        "4 candles × 2 symbols"
    );
    assert!(screener.metric("screener_rest_rate_limited_total") >= 1.0);
    assert_eq!(fake.stats().rate_limited, 1);
    assert!(screener.stop().success());
}

#[test]
fn rest_client_pages_klines_and_ranks_the_universe_by_quote_volume() {
    use screener::candle::Interval;
    use screener::market::rest::BinanceRest;
    let fake = FakeBinance::start(
        fixture(),
        Options {
            cursor: HISTORY,
            ..Options::default()
        },
    );
    let metrics = std::sync::Arc::new(screener::metrics::Metrics::default());
    let rest = BinanceRest::new(
        &format!("http://127.0.0.1:{}", fake.port()),
        Duration::ZERO,
        metrics.clone(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert_eq!(
            rest.top_usdt_symbols(1).await.unwrap(),
            vec!["TESTUSDT".to_string()]
        );
        let tf = Interval::parse("1m").unwrap();
        fake.rate_limit_next(2);
        let rows = rest
            .klines("TESTUSDT", tf, T0 + 10 * MIN, T0 + 500 * MIN)
            .await
            .unwrap();
        assert_eq!(
            rows.len(),
            HISTORY - 10,
            "only closed candles, from the start time on"
        );
        assert!(rows
            .windows(2)
            .all(|w| w[1].open_time == w[0].open_time + MIN));
        assert_eq!(
            metrics
                .rest_rate_limited
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        let recent = rest.recent("TESTUSDT", tf, 20).await.unwrap();
        assert_eq!(recent.len(), 21);
        assert_eq!(
            recent.last().unwrap().open_time,
            T0 + (HISTORY as i64 - 1) * MIN
        );
        assert!(
            rest.klines("NOPEUSDT", tf, T0, T0 + MIN).await.is_err(),
            "4xx is not retried forever"
        );
    });
}
