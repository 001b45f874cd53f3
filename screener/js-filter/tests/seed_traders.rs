//! The platform's seven built-in traders, evaluated on generated klines and compared with the same rules
//! computed independently in Rust (common/mod.rs), including data engineered to make each one match.

mod common;

use common::*;
use filter_core::Kline;

fn one_tf(tf: &str, k: Vec<Kline>) -> filter_core::MarketData {
    market(vec![(tf, k)])
}

/// Runs a seed trader on many datasets and compares each verdict; returns how many matched.
fn compare(
    code: &str,
    tf: &str,
    sets: Vec<Vec<Kline>>,
    expected: impl Fn(&[Kline]) -> bool,
) -> usize {
    let mut w = worker();
    let mut matches = 0;
    for (i, k) in sets.into_iter().enumerate() {
        let want = expected(&k);
        let got = eval(&mut w, code, tf, &one_tf(tf, k)).unwrap();
        assert_eq!(got, want, "dataset {i}");
        matches += got as usize;
    }
    matches
}

fn random_sets(n: usize, interval: i64, count: u64) -> Vec<Vec<Kline>> {
    (0..count)
        .map(|s| {
            let drift = [-0.004, -0.002, 0.0, 0.002, 0.004][(s % 5) as usize];
            klines(n, interval, 100 + s, drift)
        })
        .collect()
}

#[test]
fn rsi_oversold_bounce() {
    let expected = |k: &[Kline]| {
        let (r, prev) = rsi_last_two(&closes(k), 14);
        r < 30.0 && r > prev
    };
    let mut sets = random_sets(250, MINUTE, 30);
    // A slide followed by one up candle: oversold and turning.
    let mut slide = klines(250, MINUTE, 9, -0.01);
    let last = slide.len() - 1;
    slide[last].close = slide[last - 1].close * 1.004;
    sets.push(slide);
    let n = compare(seed::rsi_oversold(), "1m", sets, expected);
    assert!(n >= 1, "no dataset matched");
}

#[test]
fn volume_spike() {
    let expected = |k: &[Kline]| {
        let v: Vec<f64> = k.iter().map(|k| k.volume).collect();
        v[v.len() - 1] > mean(&v[v.len() - 20..]) * 3.0
    };
    let mut sets = random_sets(250, MINUTE, 10);
    for (i, factor) in [2.0, 5.0, 20.0].into_iter().enumerate() {
        let mut k = klines(250, MINUTE, 40 + i as u64, 0.0);
        let last = k.len() - 1;
        k[last].volume *= factor;
        sets.push(k);
    }
    let n = compare(seed::volume_spike(), "1m", sets, expected);
    assert_eq!(n, 2, "the x5 and x20 spikes match, x2 does not");
}

fn sma_last(c: &[f64], n: usize) -> f64 {
    mean(&c[c.len() - n..])
}

fn golden(k: &[Kline]) -> bool {
    let c = closes(k);
    let p = &c[..c.len() - 1];
    sma_last(p, 50) <= sma_last(p, 200) && sma_last(&c, 50) > sma_last(&c, 200)
}

#[test]
fn golden_cross() {
    let mut sets = random_sets(260, 15 * MINUTE, 10);
    // A decline then a rally: cut the series at the candle where SMA50 crosses above SMA200.
    let mut k = klines(250, 15 * MINUTE, 5, -0.003);
    let rally = klines(250, 15 * MINUTE, 6, 0.006);
    let scale = k[k.len() - 1].close / rally[0].open;
    for (i, r) in rally.iter().enumerate() {
        let mut r = *r;
        r.open_time = k[k.len() - 1].open_time + (i as i64 + 1) * 15 * MINUTE;
        r.close_time = r.open_time + 15 * MINUTE - 1;
        for x in [&mut r.open, &mut r.high, &mut r.low, &mut r.close] {
            *x *= scale;
        }
        k.push(r);
    }
    let cross = (201..=k.len())
        .find(|&n| golden(&k[..n]))
        .expect("the rally crosses");
    sets.push(k[..cross].to_vec());
    sets.push(k[..cross + 1].to_vec());
    let n = compare(seed::golden_cross(), "15m", sets, golden);
    assert_eq!(n, 1, "only the series ending at the cross matches");
}

#[test]
fn macd_bullish_divergence() {
    let expected = |k: &[Kline]| {
        let p = closes(k);
        let h = macd_histogram(&p);
        // JS compares `null` as 0.
        let hv = |i: usize| h[i].unwrap_or(0.0);
        let lows: Vec<usize> = (20..p.len() - 1)
            .filter(|&i| p[i] < p[i - 1] && p[i] < p[i + 1])
            .collect();
        if lows.len() < 2 {
            return false;
        }
        let (a, b) = (lows[lows.len() - 2], lows[lows.len() - 1]);
        p[b] < p[a] && hv(b) > hv(a)
    };
    let n = compare(
        seed::macd_divergence(),
        "5m",
        random_sets(250, 5 * MINUTE, 40),
        expected,
    );
    assert!(n >= 1, "no dataset matched");
}

#[test]
fn bollinger_squeeze_exit() {
    let expected = |k: &[Kline]| {
        let c = closes(k);
        let (u, m, l) = bollinger_last(&c, 20, 2.0);
        let (pu, pm, pl) = bollinger_last(&c[..c.len() - 5], 20, 2.0);
        let price = c[c.len() - 1];
        let squeeze = |u: f64, l: f64, m: f64| (u - l) / m < 0.05;
        squeeze(pu, pl, pm) && !squeeze(u, l, m) && (price > u || price < l)
    };
    let mut sets = random_sets(250, 5 * MINUTE, 10);
    // Quiet market (0.1 % moves), then a breakout over the last candles.
    let mut k = klines(250, 5 * MINUTE, 77, 0.0);
    let mut price = 100.0;
    let n = k.len();
    for (i, kl) in k.iter_mut().enumerate() {
        let step = if i >= n - 3 {
            1.04
        } else if i % 2 == 0 {
            1.001
        } else {
            0.999
        };
        kl.open = price;
        price *= step;
        kl.close = price;
        kl.high = kl.open.max(kl.close) * 1.0005;
        kl.low = kl.open.min(kl.close) * 0.9995;
    }
    sets.push(k);
    let matched = compare(seed::bb_squeeze(), "5m", sets, expected);
    assert!(matched >= 1, "the engineered breakout matches");
}

#[test]
fn multi_timeframe_momentum() {
    let expected = |k: &[Kline]| {
        let tf5 = aggregate(k, 5);
        let tf15 = aggregate(k, 15);
        let (r1, r1p) = rsi_last_two(&closes(k), 14);
        let (r5, _) = rsi_last_two(&closes(&tf5), 14);
        let (r15, _) = rsi_last_two(&closes(&tf15), 14);
        let pos = |k: &[Kline]| {
            macd_histogram(&closes(k))
                .last()
                .unwrap()
                .is_some_and(|h| h > 0.0)
        };
        r1 > 50.0 && r5 > 50.0 && r15 > 50.0 && pos(k) && pos(&tf5) && pos(&tf15) && r1 > r1p
    };
    // 15m needs 26 + 9 - 1 candles for a MACD histogram: 600 one-minute candles give 40.
    let mut sets: Vec<Vec<Kline>> = (0..16)
        .map(|s| {
            klines(
                600,
                MINUTE,
                300 + s,
                [0.001, 0.002, -0.001, 0.0][(s % 4) as usize],
            )
        })
        .collect();
    let mut up = klines(600, MINUTE, 500, 0.002);
    let last = up.len() - 1;
    up[last].close = up[last - 1].close * 1.01;
    sets.push(up);
    let n = compare(seed::multi_tf_momentum(), "1m", sets, expected);
    assert!(n >= 1, "no dataset matched");
}

#[test]
fn market_structure_break() {
    let expected = |k: &[Kline]| {
        let n = k.len();
        let (mut highs, mut lows) = (Vec::new(), Vec::new());
        for i in 10..n.saturating_sub(10) {
            if k[i].high > k[i - 1].high
                && k[i].high > k[i + 1].high
                && (1..=5).all(|j| k[i].high > k[i - j].high && k[i].high > k[i + j].high)
            {
                highs.push(k[i].high);
            }
            if k[i].low < k[i - 1].low
                && k[i].low < k[i + 1].low
                && (1..=5).all(|j| k[i].low < k[i - j].low && k[i].low < k[i + j].low)
            {
                lows.push(k[i].low);
            }
        }
        if highs.len() < 2 || lows.len() < 2 {
            return false;
        }
        let vol = |m: usize| k[n - m..].iter().map(|k| k.volume).sum::<f64>() / m as f64;
        let (h0, h1) = (highs[highs.len() - 2], highs[highs.len() - 1]);
        let (l0, l1) = (lows[lows.len() - 2], lows[lows.len() - 1]);
        h1 > h0 && l1 > l0 && vol(5) > vol(20) * 1.5 && k[n - 1].close > h1
    };
    let mut sets = random_sets(250, 5 * MINUTE, 20);
    // Uptrend with a volume surge on the last five candles.
    for s in 0..20 {
        let mut k = klines(250, 5 * MINUTE, 900 + s, 0.004);
        let n = k.len();
        for kl in &mut k[n - 5..] {
            kl.volume *= 4.0;
        }
        let last = n - 1;
        k[last].close = k[last].close.max(k[last].high) * 1.02;
        sets.push(k);
    }
    let n = compare(seed::market_structure(), "5m", sets, expected);
    assert!(n >= 1, "no dataset matched");
}
