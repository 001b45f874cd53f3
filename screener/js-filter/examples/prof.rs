#[path = "../tests/common/mod.rs"]
mod common;
use common::{klines, market, seed, MINUTE};
use filter_core::{IndicatorCache, Limits};
use js_filter::{ProgramId, Worker};
use std::time::Instant;
fn main() {
    let mut w = Worker::new(Limits::default()).unwrap();
    let data = market(vec![("1m", klines(250, MINUTE, 1, 0.0))]);
    let ids: Vec<(ProgramId, &str)> = (0..50)
        .map(|_| (w.compile(seed::RSI_OVERSOLD).unwrap(), "1m"))
        .collect();
    let t = Instant::now();
    for _ in 0..200 {
        w.evaluate_many(&[], &data, &mut IndicatorCache::new());
    }
    println!("convert: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / 200.0);
    let t = Instant::now();
    for _ in 0..200 {
        w.evaluate_many(&ids, &data, &mut IndicatorCache::new());
    }
    println!("50 rsi: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / 200.0);
}
