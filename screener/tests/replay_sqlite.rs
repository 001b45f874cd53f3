//! Replay mode with the shipped sample file, against a real SQLite database (the local run's setup).

mod common;

use common::*;
use std::time::Duration;

fn count(path: &std::path::Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row(
        "SELECT count(*), count(DISTINCT trader_id || symbol || interval || candle_open_time) FROM signals",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn replay_sample_fires_into_sqlite_and_a_second_run_adds_nothing() {
    let path = migrated_sqlite("replay");
    // The trigger timeframe comes from the platform's requiredTimeframes (the filter names none).
    let filter = serde_json::json!({"version": 1, "requiredTimeframes": ["1m"],
        "when": {"left": {"ind": "rsi", "period": 14}, "op": "crosses_above", "right": {"const": 30}}});
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO traders (id, is_built_in, enabled, name, filter, language) VALUES (?1, 1, 1, 'rsi', ?2, 'go')",
            rusqlite::params![uuid::Uuid::new_v4().to_string(), filter.to_string()],
        )
        .unwrap();
    let env = replay_env(&format!("sqlite://{}", path.display()));
    let s = Screener::start(&env);
    wait_for("all 480 candles replayed", Duration::from_secs(20), || {
        (s.metric("screener_candles_closed_total") >= 480.0).then_some(())
    });
    wait_for("signals written", Duration::from_secs(20), || {
        (s.metric("screener_signals_pending") == 0.0 && count(&path).0 > 0).then_some(())
    });
    let (first, distinct) = count(&path);
    assert_eq!(first, distinct);
    let source: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT min(source) FROM signals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(source, "local");
    // The platform's columns: timestamp = the candle's close, price/volume from the candle, count 1, status new.
    let incomplete: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM signals WHERE timestamp IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', candle_open_time, '+1 minute') \
             OR price_at_signal IS NULL OR price_at_signal <= 0 OR volume_at_signal IS NULL \
             OR change_percent_at_signal IS NOT 0.0 OR count IS NOT 1 OR status IS NOT 'new' \
             OR json_type(indicator_data, '$.indicators') IS NOT 'object'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(incomplete, 0, "every signal carries the platform's columns");
    assert_eq!(s.health().1["status"], "ok");
    assert!(s.stop().success());

    let s = Screener::start(&env);
    wait_for("second replay", Duration::from_secs(20), || {
        (s.metric("screener_candles_closed_total") >= 480.0
            && s.metric("screener_signals_pending") == 0.0)
            .then_some(())
    });
    wait_for("second replay written", Duration::from_secs(20), || {
        (s.metric("screener_signals_duplicate_total") as i64 == first).then_some(())
    });
    assert_eq!(count(&path).0, first, "replaying again must not duplicate");
    assert!(s.stop().success());
}
