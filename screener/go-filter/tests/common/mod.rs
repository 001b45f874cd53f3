//! Shared test helpers: deterministic market data and one-line evaluation.
#![allow(dead_code)]

use filter_core::{CompileError, EvalError, IndicatorCache, Kline, Limits, MarketData, Ticker};
use std::sync::Arc;

/// `n` klines with a deterministic wavy close around 100.
pub fn klines(n: usize) -> Vec<Kline> {
    (0..n)
        .map(|i| {
            let x = i as f64;
            let close = 100.0 + (x * 0.37).sin() * 5.0 + x * 0.05;
            let open = close - (x * 0.91).cos();
            Kline {
                open_time: 1_700_000_000_000 + i as i64 * 300_000,
                open,
                high: close.max(open) + 0.5 + (x * 0.13).sin().abs(),
                low: close.min(open) - 0.5 - (x * 0.29).cos().abs(),
                close,
                volume: 1000.0 + (x * 0.7).sin() * 300.0 + if i % 17 == 0 { 2000.0 } else { 0.0 },
                buy_volume: 600.0 + (x * 0.3).cos() * 100.0,
                quote_volume: 100_000.0 + x,
                buy_quote_volume: 60_000.0,
                trades: 100 + i as i64,
                close_time: 1_700_000_000_000 + i as i64 * 300_000 + 299_999,
            }
        })
        .collect()
}

pub fn closes(cs: &[f64]) -> Vec<Kline> {
    cs.iter()
        .enumerate()
        .map(|(i, c)| Kline {
            open_time: i as i64,
            open: *c,
            high: *c + 1.0,
            low: *c - 1.0,
            close: *c,
            volume: 10.0,
            buy_volume: 6.0,
            ..Default::default()
        })
        .collect()
}

pub fn market(series: &[(&str, Vec<Kline>)]) -> MarketData {
    let mut klines: Vec<(String, Arc<[Kline]>)> = series
        .iter()
        .map(|(tf, k)| (tf.to_string(), Arc::from(k.clone())))
        .collect();
    klines.sort_by(|a, b| a.0.cmp(&b.0));
    MarketData {
        symbol: "BTCUSDT".into(),
        ticker: Some(Ticker {
            last_price: 101.5,
            price_change_percent: 2.5,
            quote_volume: 1.0e9,
        }),
        klines,
        timestamp_ms: 1_700_000_000_000,
    }
}

pub fn default_market() -> MarketData {
    market(&[
        ("1m", klines(250)),
        ("5m", klines(250)),
        ("15m", klines(250)),
        ("1h", klines(250)),
        ("4h", klines(250)),
        ("1d", klines(100)),
    ])
}

pub fn compile(code: &str) -> go_filter::Program {
    match go_filter::compile(code) {
        Ok(p) => p,
        Err(e) => panic!("compile failed: {e}\n--- code ---\n{code}"),
    }
}

pub fn compile_err(code: &str) -> CompileError {
    match go_filter::compile(code) {
        Ok(_) => panic!("expected a compile error for:\n{code}"),
        Err(e) => e,
    }
}

pub fn eval_on(code: &str, data: &MarketData) -> Result<bool, EvalError> {
    compile(code).evaluate(data, &Limits::default(), &mut IndicatorCache::new())
}

pub fn eval(code: &str) -> Result<bool, EvalError> {
    eval_on(code, &default_market())
}

/// Evaluates and expects `true` (the test programs return whether their own assertions held).
pub fn check(code: &str) {
    match eval(code) {
        Ok(true) => {}
        other => panic!("expected Ok(true), got {other:?}\n--- code ---\n{code}"),
    }
}

pub fn eval_limits(code: &str, limits: Limits) -> Result<bool, EvalError> {
    compile(code).evaluate(&default_market(), &limits, &mut IndicatorCache::new())
}
