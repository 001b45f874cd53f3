//! The calling convention: what a filter sees (`ticker, timeframes, helpers, hvnNodes, klines, indicators`),
//! in the shape the platform's executors and seed traders use.

mod common;

use common::*;
use filter_core::IndicatorCache;

#[test]
fn klines_are_binance_raw_rows() {
    let k = klines(250, MINUTE, 1, 0.0);
    let first = k[0];
    let data = market(vec![("1m", k), ("5m", klines(100, 5 * MINUTE, 2, 0.0))]);
    let cond = [
        "Array.isArray(klines) && klines.length === 250 && klines[0].length === 12".to_string(),
        format!("klines[0][0] === {} && klines[0][6] === {}", first.open_time, first.close_time),
        "['number','string','string','string','string','string','number','string','number','string','string','string']
            .every((t, i) => typeof klines[0][i] === t)"
            .into(),
        format!("parseFloat(klines[0][4]) === {} && klines[0][11] === '0'", first.close),
        format!("klines[0][8] === {}", first.trades),
        "Object.keys(timeframes).join() === '1m,5m' && timeframes['1m'] === klines && timeframes['5m'].length === 100".into(),
        "ticker.s === 'TESTUSDT' && ticker.P === '1.25' && ticker.q === '123456.5' && typeof ticker.c === 'string'".into(),
        "Array.isArray(hvnNodes) && typeof helpers.getLatestRSI === 'function'".into(),
        // Destructuring and iteration work on the rows.
        "(() => { const [t, o, h, l, c] = klines[1]; return parseFloat(h) >= parseFloat(l); })()".into(),
    ]
    .join(" && ");
    let mut w = worker();
    assert_eq!(
        eval(
            &mut w,
            &expect_js("", &cond, "JSON.stringify(klines[0])"),
            "1m",
            &data
        ),
        Ok(true)
    );
    // `klines` is the program's primary timeframe.
    assert_eq!(
        eval(&mut w, "return klines === timeframes['5m'];", "5m", &data),
        Ok(true)
    );
}

#[test]
fn legacy_synchronous_bodies_run() {
    // The fly-machine worker's style: a synchronous body over `timeframes` and `helpers`.
    let data = market(vec![("1m", klines(250, MINUTE, 3, 0.0))]);
    let code = "const k = timeframes['1m'];
if (!k || k.length < 30) return false;
const rsi = helpers.getLatestRSI(k, 14);
const price = parseFloat(ticker.c);
return rsi !== null && price > 0;";
    let mut w = worker();
    assert_eq!(eval(&mut w, code, "1m", &data), Ok(true));
}

#[test]
fn a_missing_ticker_is_null() {
    let mut data = market(vec![("1m", klines(50, MINUTE, 3, 0.0))]);
    data.ticker = None;
    let mut w = worker();
    assert_eq!(
        eval(&mut w, "return ticker === null;", "1m", &data),
        Ok(true)
    );
}

#[test]
fn evaluate_many_keeps_program_order_and_primary_timeframes() {
    let data = market(vec![
        ("1m", klines(60, MINUTE, 1, 0.0)),
        ("5m", klines(40, 5 * MINUTE, 2, 0.0)),
    ]);
    let mut w = worker();
    let a = w.compile("return klines.length === 60;").unwrap();
    let b = w.compile("return klines.length === 40;").unwrap();
    let c = w.compile("throw new Error('x');").unwrap();
    let out = w.evaluate_many(
        &[(a, "1m"), (b, "5m"), (c, "1m"), (a, "5m")],
        &data,
        &mut IndicatorCache::new(),
    );
    assert_eq!(out[0], Ok(true));
    assert_eq!(out[1], Ok(true));
    assert!(out[2].is_err());
    assert_eq!(out[3], Ok(false));
}

#[test]
fn rows_kept_from_an_earlier_close_are_only_reused_for_identical_candles() {
    let all = klines(300, MINUTE, 11, 0.0);
    let mut w = worker();
    let check = |k: &[filter_core::Kline]| {
        let last = k[k.len() - 1];
        let first = k[0];
        format!(
            "return klines.length === {} && klines[0][0] === {} && parseFloat(klines[0][4]) === {} \
             && klines[klines.length - 1][0] === {} && parseFloat(klines[klines.length - 1][4]) === {};",
            k.len(),
            first.open_time,
            first.close,
            last.open_time,
            last.close
        )
    };
    // Consecutive closes: the window slides by one candle.
    for t in 0..5 {
        let window = all[t..t + 250].to_vec();
        let code = check(&window);
        assert_eq!(
            eval(&mut w, &code, "1m", &market(vec![("1m", window)])),
            Ok(true),
            "close {t}"
        );
    }
    // The same open times with a revised last candle: that row is rebuilt.
    let mut revised = all[4..254].to_vec();
    revised[249].close += 1.0;
    let code = check(&revised);
    assert_eq!(
        eval(&mut w, &code, "1m", &market(vec![("1m", revised)])),
        Ok(true)
    );
    // Going back in time, and a different history under the same symbol.
    let older = all[0..250].to_vec();
    assert_eq!(
        eval(&mut w, &check(&older), "1m", &market(vec![("1m", older)])),
        Ok(true)
    );
    let other = klines(250, MINUTE, 12, 0.0);
    assert_eq!(
        eval(&mut w, &check(&other), "1m", &market(vec![("1m", other)])),
        Ok(true)
    );
}
