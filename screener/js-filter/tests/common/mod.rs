//! Shared test support: a deterministic kline generator, market data, and the seed traders' code.
#![allow(dead_code)]

pub mod seed;

use filter_core::{Kline, MarketData, Ticker};
use std::sync::Arc;

/// A small deterministic PRNG (64-bit LCG), so fixtures never change between runs.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
    }
    /// Uniform in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub const MINUTE: i64 = 60_000;
/// 2026-01-01T00:00:00Z, aligned to every interval the tests aggregate to.
pub const T0: i64 = 1_767_225_600_000;

/// `n` closed candles of `interval_ms` starting at `T0`: a random walk with `drift` per candle, prices rounded
/// to 4 decimals like a real tick size.
pub fn klines(n: usize, interval_ms: i64, seed: u64, drift: f64) -> Vec<Kline> {
    let mut rng = Lcg::new(seed);
    let mut price = 100.0;
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    (0..n)
        .map(|i| {
            let open = round(price);
            price *= 1.0 + drift + (rng.next() - 0.5) * 0.02;
            let close = round(price);
            let high = round(open.max(close) * (1.0 + rng.next() * 0.004));
            let low = round(open.min(close) * (1.0 - rng.next() * 0.004));
            let volume = round(500.0 + rng.next() * 1000.0);
            let buy = round(volume * rng.next());
            let open_time = T0 + i as i64 * interval_ms;
            Kline {
                open_time,
                open,
                high,
                low,
                close,
                volume,
                buy_volume: buy,
                quote_volume: round(volume * close),
                buy_quote_volume: round(buy * close),
                trades: 100 + (rng.next() * 50.0) as i64,
                close_time: open_time + interval_ms - 1,
            }
        })
        .collect()
}

pub fn market(series: Vec<(&str, Vec<Kline>)>) -> MarketData {
    let mut klines: Vec<(String, Arc<[Kline]>)> = series
        .into_iter()
        .map(|(tf, k)| (tf.to_string(), Arc::from(k)))
        .collect();
    klines.sort_by(|a, b| a.0.cmp(&b.0));
    let last = klines
        .first()
        .and_then(|(_, k)| k.last().copied())
        .unwrap_or_default();
    MarketData {
        symbol: "TESTUSDT".into(),
        ticker: Some(Ticker {
            last_price: last.close,
            price_change_percent: 1.25,
            quote_volume: 123456.5,
        }),
        timestamp_ms: last.close_time + 1,
        klines,
    }
}

pub fn closes(k: &[Kline]) -> Vec<f64> {
    k.iter().map(|k| k.close).collect()
}

/// Wilder's RSI, written out independently of the crate: returns (last, previous).
pub fn rsi_last_two(closes: &[f64], period: usize) -> (f64, f64) {
    let mut values = Vec::new();
    let mut avg_gain = 0.0;
    let mut avg_loss = 0.0;
    for i in 1..closes.len() {
        let d = closes[i] - closes[i - 1];
        let (g, l) = if d > 0.0 { (d, 0.0) } else { (0.0, -d) };
        if i <= period {
            avg_gain += g / period as f64;
            avg_loss += l / period as f64;
            if i < period {
                continue;
            }
        } else {
            avg_gain = (avg_gain * (period as f64 - 1.0) + g) / period as f64;
            avg_loss = (avg_loss * (period as f64 - 1.0) + l) / period as f64;
        }
        values.push(if avg_loss == 0.0 {
            100.0
        } else {
            100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
        });
    }
    (values[values.len() - 1], values[values.len() - 2])
}

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// EMA seeded with the SMA of the first `period` values; `None` before that.
pub fn ema(values: &[Option<f64>], period: usize) -> Vec<Option<f64>> {
    let k = 2.0 / (period as f64 + 1.0);
    let mut out = vec![None; values.len()];
    let first = values.iter().position(|v| v.is_some()).unwrap();
    if values.len() < first + period {
        return out;
    }
    let seed: f64 = values[first..first + period]
        .iter()
        .map(|v| v.unwrap())
        .sum::<f64>()
        / period as f64;
    out[first + period - 1] = Some(seed);
    for i in first + period..values.len() {
        out[i] = Some(values[i].unwrap() * k + out[i - 1].unwrap() * (1.0 - k));
    }
    out
}

/// MACD(12, 26, 9) histogram, `None` during warm-up.
pub fn macd_histogram(closes: &[f64]) -> Vec<Option<f64>> {
    let c: Vec<Option<f64>> = closes.iter().map(|c| Some(*c)).collect();
    let (fast, slow) = (ema(&c, 12), ema(&c, 26));
    let line: Vec<Option<f64>> = fast
        .iter()
        .zip(&slow)
        .map(|(f, s)| Some((*f)? - (*s)?))
        .collect();
    let signal = ema(&line, 9);
    line.iter()
        .zip(&signal)
        .map(|(m, s)| Some((*m)? - (*s)?))
        .collect()
}

/// Bollinger(period, mult) of the last candle with a population standard deviation: (upper, middle, lower).
pub fn bollinger_last(closes: &[f64], period: usize, mult: f64) -> (f64, f64, f64) {
    let w = &closes[closes.len() - period..];
    let m = mean(w);
    let sd = (w.iter().map(|c| (c - m) * (c - m)).sum::<f64>() / period as f64).sqrt();
    (m + mult * sd, m, m - mult * sd)
}

/// Groups 1m candles into complete `minutes` buckets aligned on the epoch.
pub fn aggregate(k: &[Kline], minutes: i64) -> Vec<Kline> {
    let span = minutes * MINUTE;
    let mut out: Vec<Kline> = Vec::new();
    let mut group: Vec<Kline> = Vec::new();
    let flush = |group: &mut Vec<Kline>, out: &mut Vec<Kline>| {
        if group.len() as i64 == minutes {
            let mut agg = group[0];
            agg.open_time = group[0].open_time / span * span;
            agg.close = group[group.len() - 1].close;
            agg.close_time = agg.open_time + span - 1;
            for g in &group[1..] {
                agg.high = agg.high.max(g.high);
                agg.low = agg.low.min(g.low);
                agg.volume += g.volume;
            }
            out.push(agg);
        }
        group.clear();
    };
    for kl in k {
        if let Some(g) = group.first() {
            if g.open_time / span != kl.open_time / span {
                flush(&mut group, &mut out);
            }
        }
        group.push(*kl);
    }
    flush(&mut group, &mut out);
    out
}

use filter_core::{EvalError, IndicatorCache, Limits};
use js_filter::Worker;

/// Compiles and evaluates one program on `data` with `klines` bound to `timeframe`.
pub fn eval(
    worker: &mut Worker,
    code: &str,
    timeframe: &str,
    data: &MarketData,
) -> Result<bool, EvalError> {
    let id = worker
        .compile(code)
        .unwrap_or_else(|e| panic!("compile failed: {e}\n{code}"));
    let out = worker.evaluate_many(&[(id, timeframe)], data, &mut IndicatorCache::new());
    worker.remove(id);
    out.into_iter().next().unwrap()
}

pub fn worker() -> Worker {
    Worker::new(Limits::default()).unwrap()
}

/// A filter body asserting `cond` (JS), throwing `detail` (JS expression) when it does not hold.
pub fn expect_js(setup: &str, cond: &str, detail: &str) -> String {
    format!(
        "{setup}\nif (!({cond})) throw new Error('expected {}: ' + ({detail}));\nreturn true;",
        cond.replace('\'', "\\'").replace('\n', " ")
    )
}
