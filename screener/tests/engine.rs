//! The engine shares indicator instances across traders, ignores re-delivered candles, and keeps history
//! across trader reloads.

use screener::candle::{Candle, Interval};
use screener::engine::{Applied, Engine, TraderDef};
use screener::filter::compile;
use serde_json::json;
use uuid::Uuid;

fn trader(filter: serde_json::Value) -> TraderDef {
    TraderDef {
        id: Uuid::new_v4(),
        user_id: None,
        name: "t".into(),
        symbols: vec![],
        filter: compile(&filter, None).unwrap(),
    }
}

fn rsi_below(level: f64) -> serde_json::Value {
    json!({"version": 1, "timeframe": "1m", "when": {"all": [
        {"left": {"ind": "rsi", "period": 14}, "op": "lt", "right": {"const": level}},
        {"left": {"ind": "ema", "period": 9}, "op": "gt", "right": {"ind": "sma", "period": 20, "mul": 0.5}}
    ]}})
}

fn candle(i: i64, close: f64) -> Candle {
    Candle {
        open_time: i * 60_000,
        close_time: i * 60_000 + 59_999,
        open: close,
        high: close + 1.0,
        low: close - 1.0,
        close,
        volume: 1.0,
        quote_volume: close,
        ..Default::default()
    }
}

#[test]
fn traders_share_instances_duplicates_are_dropped_and_reloads_keep_history() {
    let tf = Interval::parse("1m").unwrap();
    let mut engine = Engine::new(Default::default());
    engine.configure(
        vec!["AUSDT".into()],
        vec![trader(rsi_below(30.0)), trader(rsi_below(40.0))],
    );
    assert_eq!(
        engine.indicators_per_symbol(),
        3,
        "rsi(14), ema(9), sma(20) once each"
    );
    let mut out = Vec::new();
    // A falling market: RSI is 0, so both traders match on every bar once warm.
    for i in 0..40 {
        assert_eq!(
            engine.apply("AUSDT", tf, &candle(i, 200.0 - i as f64), true, &mut out),
            Applied::Applied
        );
    }
    assert_eq!(
        engine.apply("AUSDT", tf, &candle(39, 1.0), true, &mut out),
        Applied::Duplicate
    );
    assert_eq!(
        engine.apply("BUSDT", tf, &candle(40, 1.0), true, &mut out),
        Applied::Unknown
    );
    let fired_before = out.len();
    assert!(fired_before > 0);

    // Reload with a trader that needs a new indicator: history is replayed, so it is warm at once.
    out.clear();
    let new = json!({"version": 1, "timeframe": "1m",
        "when": {"left": {"ind": "close"}, "op": "lt", "right": {"ind": "sma", "period": 10}}});
    engine.configure(vec!["AUSDT".into()], vec![trader(new)]);
    assert_eq!(engine.last_open_time("AUSDT", tf), Some(39 * 60_000));
    engine.apply("AUSDT", tf, &candle(40, 150.0), true, &mut out);
    assert_eq!(out.len(), 1, "close 150 < SMA(10) of a falling series");
    assert!(out[0].details["indicators"]["sma(10,close)@1m"]
        .as_f64()
        .is_some());
}
