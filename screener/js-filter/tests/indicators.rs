//! The `indicators.*` API (and the legacy `helpers` subset): values against independent computations, result
//! shapes, and sharing through the per-close IndicatorCache.

mod common;

use common::*;
use filter_core::IndicatorCache;

fn ok(code: &str, tf: &str, data: &filter_core::MarketData) {
    let mut w = worker();
    assert_eq!(eval(&mut w, code, tf, data), Ok(true), "{code}");
}

fn close_to(js: &str, want: f64) -> String {
    format!("Math.abs(({js}) - ({want:e})) <= 1e-9 * Math.max(1, Math.abs({want:e}))")
}

#[test]
fn rsi_value_previous_increasing_values() {
    let k = klines(250, MINUTE, 3, -0.001);
    let (last, prev) = rsi_last_two(&closes(&k), 14);
    let data = market(vec![("1m", k)]);
    let cond = [
        close_to("r.value", last),
        close_to("r.previous", prev),
        format!("r.increasing === {}", last > prev),
        "r.values.length === 250 && r.values[13] === null && typeof r.values[14] === 'number'"
            .into(),
        "Object.isFrozen(r.values)".into(),
        // valueOf lets the result be used as a number.
        close_to("+r", last),
        // The period defaults to 14.
        "(await indicators.rsi(klines)).value === r.value".into(),
    ]
    .join(" && ");
    ok(
        &expect_js(
            "const r = await indicators.rsi(klines, 14);",
            &cond,
            "JSON.stringify([r.value, r.previous])",
        ),
        "1m",
        &data,
    );
}

#[test]
fn sma_of_klines_and_of_numbers() {
    let k = klines(250, MINUTE, 4, 0.0);
    let c = closes(&k);
    let vol: Vec<f64> = k.iter().map(|k| k.volume).collect();
    let data = market(vec![("1m", k)]);
    let cond = [
        close_to("a.value", mean(&c[230..])),
        close_to("b.value", mean(&vol[230..])),
        close_to("s.value", mean(&c[229..249])),
        "a.values[18] === null && a.values.length === 250".into(),
        "(await indicators.sma([1, 2, 3], 5)).value === null".into(),
        "(await indicators.sma([1, 2, 3], 3)).value === 2".into(),
    ]
    .join(" && ");
    let setup = "const a = await indicators.sma(klines, 20);
const b = await indicators.sma(klines.map(k => parseFloat(k[5])), 20);
const s = await indicators.sma(klines.slice(0, -1), 20);";
    ok(&expect_js(setup, &cond, "a.value"), "1m", &data);
}

#[test]
fn ema_macd_bollinger_atr() {
    let k = klines(250, MINUTE, 5, 0.001);
    let c = closes(&k);
    let co: Vec<Option<f64>> = c.iter().map(|x| Some(*x)).collect();
    let e = ema(&co, 10);
    let h = macd_histogram(&c);
    let (u, m, l) = bollinger_last(&c, 20, 2.0);
    // ATR(14), Wilder, written out.
    let tr: Vec<f64> = (0..k.len())
        .map(|i| {
            let hl = k[i].high - k[i].low;
            if i == 0 {
                hl
            } else {
                hl.max((k[i].high - k[i - 1].close).abs())
                    .max((k[i].low - k[i - 1].close).abs())
            }
        })
        .collect();
    let mut atr = mean(&tr[..14]);
    for t in &tr[14..] {
        atr = (atr * 13.0 + t) / 14.0;
    }
    let data = market(vec![("1m", k)]);
    let first_hist = h.iter().position(|x| x.is_some()).unwrap();
    let cond = [
        close_to("e.value", e[249].unwrap()),
        close_to("m.histogram[249]", h[249].unwrap()),
        close_to("m.histogram[200]", h[200].unwrap()),
        format!(
            "m.histogram[{}] === null && m.histogram[{first_hist}] !== null",
            first_hist - 1
        ),
        "m.macd.length === 250 && m.signal.length === 250 && m.histogram.length === 250".into(),
        close_to("m.histogramValue", h[249].unwrap()),
        close_to("b.upper", u),
        close_to("b.middle", m),
        close_to("b.lower", l),
        close_to("a.value", atr),
        close_to("a * 1", atr),
    ]
    .join(" && ");
    let setup = "const e = await indicators.ema(klines, 10);
const m = await indicators.macd(klines);
const b = await indicators.bollingerBands(klines, 20, 2);
const a = await indicators.atr(klines, 14);";
    ok(
        &expect_js(setup, &cond, "JSON.stringify([e.value, b.upper, a.value])"),
        "1m",
        &data,
    );
}

#[test]
fn convert_timeframe_aggregates_complete_buckets() {
    // Start 3 minutes into a 5m bucket: the partial first bucket is dropped, so is the partial last one.
    let mut k = klines(33, MINUTE, 6, 0.0);
    for kl in &mut k {
        kl.open_time += 3 * MINUTE;
        kl.close_time += 3 * MINUTE;
    }
    let agg = aggregate(&k, 5);
    assert_eq!(agg.len(), 6);
    let first = agg[0];
    let data = market(vec![("1m", k)]);
    let cond = [
        "t.length === 6".to_string(),
        format!(
            "t[0][0] === {} && t[0][6] === {}",
            first.open_time, first.close_time
        ),
        format!(
            "parseFloat(t[0][1]) === {} && parseFloat(t[0][4]) === {}",
            first.open, first.close
        ),
        format!(
            "parseFloat(t[0][2]) === {} && parseFloat(t[0][3]) === {}",
            first.high, first.low
        ),
        close_to("parseFloat(t[0][5])", first.volume),
        "typeof t[0][1] === 'string' && Object.isFrozen(t) && Object.isFrozen(t[0])".into(),
        // The aggregated series is shared: converting again gives the same array, and indicators accept it.
        "t === (await indicators.convertTimeframe(klines, '5m'))".into(),
        "(await indicators.sma(t, 3)).values.length === 6".into(),
    ]
    .join(" && ");
    ok(
        &expect_js(
            "const t = await indicators.convertTimeframe(klines, '5m');",
            &cond,
            "JSON.stringify(t[0])",
        ),
        "1m",
        &data,
    );
    let mut w = worker();
    let bad = eval(
        &mut w,
        "await indicators.convertTimeframe(klines, 'soon'); return true;",
        "1m",
        &data,
    );
    assert!(
        matches!(bad, Err(filter_core::EvalError::Runtime { ref message, .. }) if message.contains("unknown interval")),
        "{bad:?}"
    );
}

#[test]
fn fifty_programs_share_one_rsi_computation() {
    let data = market(vec![
        ("1m", klines(250, MINUTE, 8, 0.0)),
        ("5m", klines(250, 5 * MINUTE, 9, 0.0)),
    ]);
    let mut w = worker();
    let ids: Vec<_> = (0..50)
        .map(|i| {
            let code = if i % 2 == 0 {
                seed::rsi_oversold()
            } else {
                "const r = await indicators.rsi(klines.slice(0, -1), 14); return r.value > 0;"
            };
            (w.compile(code).unwrap(), "1m")
        })
        .collect();
    let mut cache = IndicatorCache::new();
    let out = w.evaluate_many(&ids, &data, &mut cache);
    assert!(out.iter().all(|r| r.is_ok()), "{out:?}");
    // One RSI over the whole series and one over the slice, for all 50 programs.
    assert_eq!((cache.misses, cache.hits, cache.len()), (2, 48, 2));
}

#[test]
fn legacy_helpers_subset() {
    let k = klines(250, MINUTE, 10, 0.0);
    let c = closes(&k);
    let (r, _) = rsi_last_two(&c, 14);
    let high = k[230..].iter().map(|k| k.high).fold(f64::MIN, f64::max);
    let data = market(vec![("1m", k)]);
    let cond = [
        close_to("helpers.getLatestRSI(klines, 14)", r),
        close_to("helpers.calculateMA(klines, 20)", mean(&c[230..])),
        "helpers.calculateMA(klines, 500) === null".into(),
        close_to("helpers.getHighestHigh(klines, 20)", high),
        "helpers.calculateRSI(klines, 14).length === 250".into(),
        "Array.isArray(hvnNodes) && hvnNodes.length === 0".into(),
    ]
    .join(" && ");
    ok(
        &expect_js("", &cond, "helpers.getLatestRSI(klines, 14)"),
        "1m",
        &data,
    );
}

#[test]
fn series_arrays_of_cached_results_are_built_on_first_read() {
    let data = market(vec![("1m", klines(250, MINUTE, 13, 0.0))]);
    let mut w = worker();
    let cond = "r.values === r.values && Object.isFrozen(r.values) && r.values.length === 250 \
                && m.histogram === m.histogram && m.macd.length === 250 && m.signal.length === 250 \
                && b.values.upper.length === 250 && Object.keys(r).includes('values') \
                && (await indicators.rsi(klines, 14)).values === r.values";
    let setup =
        "const r = await indicators.rsi(klines, 14); const m = await indicators.macd(klines); \
                 const b = await indicators.bollingerBands(klines, 20, 2);";
    assert_eq!(
        eval(&mut w, &expect_js(setup, cond, "'lazy'"), "1m", &data),
        Ok(true)
    );
    // A result kept from an earlier close no longer has series.
    let id = w
        .compile("if (globalThis.old) { return globalThis.old.values.length > 0; } globalThis.old = await indicators.rsi(klines, 14); return true;")
        .unwrap();
    let first = w.evaluate_many(&[(id, "1m")], &data, &mut IndicatorCache::new());
    assert_eq!(first, vec![Ok(true)]);
    let second = w.evaluate_many(&[(id, "1m")], &data, &mut IndicatorCache::new());
    assert!(
        matches!(&second[0], Err(filter_core::EvalError::Runtime { message, .. }) if message.contains("earlier close")),
        "{second:?}"
    );
}
