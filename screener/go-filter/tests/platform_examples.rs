//! Every example filter from the platform's prompts and docs compiles and evaluates.
mod common;
#[path = "fixtures/platform_examples.rs"]
mod fixtures;
use common::*;
use filter_core::{IndicatorCache, Limits};

#[test]
fn every_platform_example_compiles_and_evaluates() {
    let data = default_market();
    for (name, code) in fixtures::EXAMPLES {
        let p = match go_filter::compile(code) {
            Ok(p) => p,
            Err(e) => panic!("{name}: {e}"),
        };
        let mut cache = IndicatorCache::new();
        if let Err(e) = p.evaluate(&data, &Limits::default(), &mut cache) {
            panic!("{name}: {e}");
        }
        assert!(
            !p.timeframes().is_empty() || *name == "gold: always true",
            "{name}"
        );
    }
}

#[test]
fn example_verdicts_follow_the_data() {
    // Rising closes: three green candles, price above the SMA, RSI high.
    let up: Vec<f64> = (0..60).map(|i| 100.0 + i as f64).collect();
    let mut ks = closes(&up);
    for k in ks.iter_mut() {
        k.open = k.close - 0.5;
    }
    let data = market(&[("5m", ks.clone()), ("1h", ks)]);
    let green = fixtures::EXAMPLES
        .iter()
        .find(|e| e.0 == "three green candles")
        .map(|e| e.1)
        .unwrap_or("");
    assert_eq!(eval_on(green, &data), Ok(true));
    let sma = fixtures::EXAMPLES
        .iter()
        .find(|e| e.0 == "mapping: sma")
        .map(|e| e.1)
        .unwrap_or("");
    assert_eq!(eval_on(sma, &data), Ok(true));
    let rsi = "k := data.Klines[\"1h\"]\nr := indicators.GetLatestRSI(k, 14)\nreturn r != nil && *r == 100";
    assert_eq!(eval_on(rsi, &data), Ok(true));
    // Falling: not green.
    let down: Vec<f64> = (0..60).map(|i| 200.0 - i as f64).collect();
    let mut ks = closes(&down);
    for k in ks.iter_mut() {
        k.open = k.close + 0.5;
    }
    let data = market(&[("5m", ks)]);
    assert_eq!(eval_on(green, &data), Ok(false));
}
