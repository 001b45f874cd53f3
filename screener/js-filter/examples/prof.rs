#[path = "../tests/common/mod.rs"]
mod common;
use common::{klines, market, seed, MINUTE};
use filter_core::{IndicatorCache, Limits};
use js_filter::{ProgramId, Worker};
use std::time::Instant;
fn main() {
    let mut w = Worker::new(Limits::default()).unwrap();
    let data = market(vec![("1m", klines(250, MINUTE, 1, 0.0))]);
    let code = std::env::args()
        .nth(1)
        .map(|a| seed::ALL[a.parse::<usize>().unwrap()].1)
        .unwrap_or(seed::VOLUME_SPIKE);
    let ids: Vec<(ProgramId, &str)> = (0..50).map(|_| (w.compile(code).unwrap(), "1m")).collect();
    let t = Instant::now();
    for _ in 0..100 {
        w.evaluate_many(&ids, &data, &mut IndicatorCache::new());
    }
    println!(
        "50 programs: {:.1} us each",
        t.elapsed().as_secs_f64() * 1e6 / 100.0 / 50.0
    );
}
