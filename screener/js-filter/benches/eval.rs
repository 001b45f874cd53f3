//! `cargo bench -p js-filter`: µs per evaluation of the platform's seed traders on 250 klines per timeframe,
//! and of `evaluate_many` with 50 programs on one symbol (what the screener does per symbol per close).

#[path = "../tests/common/mod.rs"]
mod common;

use common::{klines, market, seed, MINUTE};
use filter_core::{IndicatorCache, Limits, MarketData};
use js_filter::{ProgramId, Worker};
use std::time::Instant;

fn data(seed: u64) -> MarketData {
    market(vec![
        ("1m", klines(250, MINUTE, seed, 0.0)),
        ("5m", klines(250, 5 * MINUTE, seed + 1, 0.0)),
        ("15m", klines(250, 15 * MINUTE, seed + 2, 0.0)),
    ])
}

/// µs per `evaluate_many` call, each with a fresh cache (a new close): the best mean of 5 batches, so that
/// other processes on the machine disturb the figure less.
fn time(
    worker: &mut Worker,
    programs: &[(ProgramId, &str)],
    data: &MarketData,
    rounds: u32,
) -> f64 {
    for _ in 0..rounds / 10 + 1 {
        worker.evaluate_many(programs, data, &mut IndicatorCache::new());
    }
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..rounds {
                let r = worker.evaluate_many(programs, data, &mut IndicatorCache::new());
                assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
            }
            start.elapsed().as_secs_f64() * 1e6 / rounds as f64
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let mut worker = Worker::new(Limits::default()).expect("worker");
    let data = data(7);
    let baseline = worker.compile("return true;").unwrap();
    // Conversion: a new symbol every call (nothing kept), then consecutive closes of one symbol.
    let long = klines(2_000, MINUTE, 3, 0.0);
    let cold = (0..5)
        .map(|round| {
            let start = Instant::now();
            for i in 0..200 {
                let mut d = market(vec![("1m", long[..250].to_vec())]);
                d.symbol = format!("S{round}_{i}");
                worker.evaluate_many(&[(baseline, "1m")], &d, &mut IndicatorCache::new());
            }
            start.elapsed().as_secs_f64() * 1e6 / 200.0
        })
        .fold(f64::MAX, f64::min);
    println!("evaluate_many, 1 trivial program, new symbol each call (converts 250 klines): {cold:8.1} us");
    let closes: Vec<MarketData> = (1..=1_000)
        .map(|t| market(vec![("1m", long[t..t + 250].to_vec())]))
        .collect();
    let start = Instant::now();
    for d in &closes {
        worker.evaluate_many(&[(baseline, "1m")], d, &mut IndicatorCache::new());
    }
    let warm = start.elapsed().as_secs_f64() * 1e6 / closes.len() as f64;
    println!("evaluate_many, 1 trivial program, consecutive closes (one new candle each):  {warm:8.1} us");
    let base = time(&mut worker, &[(baseline, "1m")], &data, 400);
    println!("evaluate_many, 1 trivial program, the same close again:                        {base:8.1} us");
    for (name, code, tf) in seed::all() {
        let (code, tf) = (code.as_str(), tf.as_str());
        let id = worker.compile(code).unwrap();
        let t = time(&mut worker, &[(id, tf)], &data, 200);
        println!(
            "{name:<36} {t:8.1} us per evaluate_many  ({:8.1} us beyond the trivial program)",
            t - base
        );
    }
    let ids: Vec<(ProgramId, &str)> = (0..50)
        .map(|i| {
            let (_, code, tf) = &seed::all()[i % seed::all().len()];
            (worker.compile(code).unwrap(), tf.as_str())
        })
        .collect();
    let t = time(&mut worker, &ids, &data, 20);
    println!(
        "evaluate_many of 50 programs (the 7 seed traders cycled) on one symbol: {t:8.1} us = {:6.1} us per program",
        t / 50.0
    );
    let rsi: Vec<(ProgramId, &str)> = (0..50)
        .map(|_| (worker.compile(seed::rsi_oversold()).unwrap(), "1m"))
        .collect();
    let t = time(&mut worker, &rsi, &data, 40);
    println!(
        "evaluate_many of 50 RSI traders (one cached RSI): {t:8.1} us = {:6.1} us per program",
        t / 50.0
    );
}
