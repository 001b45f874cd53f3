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
    let base = time(&mut worker, &[(baseline, "1m")], &data, 400);
    println!("evaluate_many, 1 trivial program (converts its 250-kline timeframe, one call): {base:8.1} us");
    for (name, code, tf) in seed::ALL {
        let id = worker.compile(code).unwrap();
        let t = time(&mut worker, &[(id, tf)], &data, 200);
        println!(
            "{name:<36} {t:8.1} us per evaluate_many  ({:8.1} us beyond the trivial program)",
            t - base
        );
    }
    let ids: Vec<(ProgramId, &str)> = (0..50)
        .map(|i| {
            let (_, code, tf) = seed::ALL[i % seed::ALL.len()];
            (worker.compile(code).unwrap(), tf)
        })
        .collect();
    let t = time(&mut worker, &ids, &data, 20);
    println!(
        "evaluate_many of 50 programs (the 7 seed traders cycled) on one symbol: {t:8.1} us = {:6.1} us per program",
        t / 50.0
    );
    let rsi: Vec<(ProgramId, &str)> = (0..50)
        .map(|_| (worker.compile(seed::RSI_OVERSOLD).unwrap(), "1m"))
        .collect();
    let t = time(&mut worker, &rsi, &data, 40);
    println!(
        "evaluate_many of 50 RSI traders (one cached RSI): {t:8.1} us = {:6.1} us per program",
        t / 50.0
    );
}
