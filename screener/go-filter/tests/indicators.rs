//! The Rust ports of the platform's indicators against hand-computed values and their nil/zero edge cases,
//! and the same values seen through Go code.
mod common;
use common::*;
use go_filter::indicators::*;

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn vec_close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| close_to(*x, *y))
}

#[test]
fn moving_averages() {
    let k = closes(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(calculate_ma(&k, 3), Some(4.0));
    assert_eq!(calculate_ma(&k, 5), Some(3.0));
    assert_eq!(calculate_ma(&k, 6), None);
    assert_eq!(calculate_ma(&k, 0), None);
    assert_eq!(calculate_ma(&k, -1), None);
    assert_eq!(calculate_ma(&[], 1), None);
    assert_eq!(calculate_ma_series(&k[..4], 2), vec![0.0, 1.5, 2.5, 3.5]);
    assert_eq!(calculate_ma_series(&k, 6), vec![0.0; 5]);
    assert_eq!(calculate_ma_series(&k, 0), vec![0.0; 5]);
    assert_eq!(calculate_ma_series(&[], 3), Vec::<f64>::new());
}

#[test]
fn ema_is_seeded_with_the_first_close() {
    let k = closes(&[1.0, 2.0, 3.0]);
    // k = 2/3: 1 -> 5/3 -> 23/9
    assert!(close_to(calculate_ema(&k, 2).unwrap_or(0.0), 23.0 / 9.0));
    assert!(vec_close(
        &calculate_ema_series(&k, 2),
        &[1.0, 5.0 / 3.0, 23.0 / 9.0]
    ));
    // The period only sets the smoothing and the length guard.
    assert!(close_to(
        calculate_ema(&k, 3).unwrap_or(0.0),
        1.0 * 0.25 + 2.0 * 0.25 + 3.0 * 0.5
    ));
    assert_eq!(calculate_ema(&k, 4), None);
    assert_eq!(calculate_ema(&k, 0), None);
    assert_eq!(calculate_ema_series(&k, 4), vec![0.0; 3]);
    assert_eq!(calculate_ema_series(&[], 0), Vec::<f64>::new());
}

#[test]
fn rsi_and_latest_rsi() {
    let k = closes(&[1.0, 2.0, 3.0, 2.0]);
    assert_eq!(calculate_rsi(&k, 2), Some(vec![0.0, 0.0, 100.0, 50.0]));
    assert_eq!(get_latest_rsi(&k, 2), Some(50.0));
    assert_eq!(calculate_rsi(&k, 4), None); // needs period+1 closes
    assert_eq!(calculate_rsi(&k, 0), None);
    assert_eq!(calculate_rsi(&k, i64::MAX), None);
    assert_eq!(
        calculate_rsi(&closes(&[5.0, 5.0, 5.0]), 2),
        Some(vec![0.0, 0.0, 50.0])
    );
    // Only falling closes: every RSI is 0, so GetLatestRSI (last non-zero value) is nil.
    let falling = closes(&[3.0, 2.0, 1.0, 0.5]);
    assert_eq!(calculate_rsi(&falling, 2), Some(vec![0.0; 4]));
    assert_eq!(get_latest_rsi(&falling, 2), None);
    // Last value zero after a non-zero one: the earlier value is returned.
    let k = closes(&[
        1.0, 2.0, 3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0, -10.0,
    ]);
    let v = calculate_rsi(&k, 2).unwrap_or_default();
    assert!(v[v.len() - 1] > 0.0);
    assert_eq!(get_latest_rsi(&k, 2), Some(v[v.len() - 1]));
}

#[test]
fn macd_uses_an_sma_seeded_signal() {
    assert!(vec_close(
        &ema_from_values(&[1.0, 2.0, 3.0, 4.0], 2),
        &[0.0, 1.5, 2.5, 3.5]
    ));
    assert_eq!(ema_from_values(&[1.0], 2), vec![0.0]);
    assert_eq!(ema_from_values(&[1.0, 2.0], 0), vec![0.0, 0.0]);
    let k = klines(60);
    let m = calculate_macd(&k, 12, 26, 9).expect("macd");
    let s = calculate_ema_series(&k, 12);
    let l = calculate_ema_series(&k, 26);
    let line: Vec<f64> = s.iter().zip(&l).map(|(a, b)| a - b).collect();
    assert!(vec_close(&m.macd, &line));
    let sig = ema_from_values(&line, 9);
    assert!(vec_close(&m.signal, &sig));
    assert!(close_to(m.histogram[59], line[59] - sig[59]));
    assert_eq!(m.signal[7], 0.0);
    let latest = get_latest_macd(&k, 12, 26, 9).expect("latest");
    assert!(close_to(latest.histogram, m.histogram[59]));
    assert_eq!(calculate_macd(&k[..25], 12, 26, 9), None);
    assert_eq!(calculate_macd(&k, 0, 26, 9), None);
    assert_eq!(calculate_macd(&k, 12, 26, 0), None);
    assert_eq!(get_latest_macd(&k, 12, 26, -1), None);
}

#[test]
fn bollinger_bands_use_population_stddev() {
    let k = closes(&[1.0, 2.0, 3.0]);
    let b = calculate_bollinger_bands(&k, 3, 2.0).expect("bands");
    let sd = (2.0f64 / 3.0).sqrt();
    assert!(vec_close(&b.middle, &[0.0, 0.0, 2.0]));
    assert!(vec_close(&b.upper, &[0.0, 0.0, 2.0 + 2.0 * sd]));
    assert!(vec_close(&b.lower, &[0.0, 0.0, 2.0 - 2.0 * sd]));
    let l = get_latest_bollinger_bands(&k, 3, 2.0).expect("latest");
    assert!(close_to(l.upper, 2.0 + 2.0 * sd) && close_to(l.middle, 2.0));
    assert_eq!(calculate_bollinger_bands(&k, 4, 2.0), None);
    assert_eq!(calculate_bollinger_bands(&k, 0, 2.0), None);
    assert_eq!(get_latest_bollinger_bands(&[], 1, 2.0), None);
}

#[test]
fn volume_high_low_vwap() {
    let mut k = closes(&[10.0, 20.0, 30.0]);
    k[0].volume = 1.0;
    k[1].volume = 2.0;
    k[2].volume = 3.0;
    k[1].high = 50.0;
    k[2].low = 5.0;
    assert_eq!(calculate_avg_volume(&k, 2), Some(2.5));
    assert_eq!(calculate_avg_volume(&k, 4), None);
    assert_eq!(get_highest_high(&k, 3), Some(50.0));
    assert_eq!(get_highest_high(&k, 1), Some(31.0));
    assert_eq!(get_lowest_low(&k, 3), Some(5.0));
    assert_eq!(get_lowest_low(&k, 0), None);
    assert_eq!(get_highest_high(&k, 4), None);
    // typical prices: (11+9+10)/3=10, (50+19+20)/3=29.666.., (31+5+30)/3=22
    let tp = [10.0, 89.0 / 3.0, 22.0];
    let want = (tp[0] * 1.0 + tp[1] * 2.0 + tp[2] * 3.0) / 6.0;
    assert!(close_to(calculate_vwap(&k), want));
    assert_eq!(calculate_vwap(&[]), 0.0);
    let mut z = k.clone();
    for x in z.iter_mut() {
        x.volume = 0.0;
    }
    assert_eq!(calculate_vwap(&z), 0.0);
}

#[test]
fn stochastic_d_is_k_times_point_nine() {
    let mut k = closes(&[10.0, 12.0, 11.0]);
    k[0].high = 14.0;
    k[0].low = 8.0;
    let s = calculate_stochastic(&k, 3, 3).expect("stoch");
    // range 8..14 (k[1].high is 13), close 11: (11-8)/6*100 = 50
    assert!(close_to(s.k, 50.0) && close_to(s.d, 45.0));
    let s = calculate_stochastic(&k, 1, 99).expect("stoch");
    assert!(close_to(s.k, 50.0)); // (11-10)/(12-10)
    let flat = vec![
        filter_core::Kline {
            high: 1.0,
            low: 1.0,
            close: 1.0,
            ..Default::default()
        };
        3
    ];
    assert_eq!(
        calculate_stochastic(&flat, 3, 3).map(|s| (s.k, s.d)),
        Some((50.0, 45.0))
    );
    assert_eq!(calculate_stochastic(&k, 4, 3), None);
    assert_eq!(calculate_stochastic(&k, 0, 3), None);
}

#[test]
fn engulfing_looks_at_the_two_candles_before_the_last() {
    let mk = |o: f64, c: f64| filter_core::Kline {
        open: o,
        close: c,
        ..Default::default()
    };
    // prev bearish 10->8, current bullish 7->11, last candle irrelevant.
    assert_eq!(
        detect_engulfing_pattern(&[mk(10.0, 8.0), mk(7.0, 11.0), mk(0.0, 0.0)]),
        "bullish"
    );
    assert_eq!(
        detect_engulfing_pattern(&[mk(8.0, 10.0), mk(11.0, 7.0), mk(5.0, 100.0)]),
        "bearish"
    );
    assert_eq!(
        detect_engulfing_pattern(&[mk(10.0, 8.0), mk(9.0, 9.5), mk(0.0, 0.0)]),
        ""
    );
    // The pattern in the last two candles is not seen.
    assert_eq!(
        detect_engulfing_pattern(&[mk(1.0, 1.0), mk(10.0, 8.0), mk(7.0, 11.0)]),
        ""
    );
    assert_eq!(
        detect_engulfing_pattern(&[mk(10.0, 8.0), mk(7.0, 11.0)]),
        ""
    );
    assert_eq!(detect_engulfing_pattern(&[]), "");
}

#[test]
fn go_code_sees_the_same_values() {
    let k = klines(250);
    let data = market(&[("5m", k.clone())]);
    let ma = calculate_ma(&k, 20).unwrap_or(0.0);
    let rsi = get_latest_rsi(&k, 14).unwrap_or(0.0);
    let bb = get_latest_bollinger_bands(&k, 20, 2.0).expect("bb");
    let m = get_latest_macd(&k, 12, 26, 9).expect("macd");
    let st = calculate_stochastic(&k, 14, 3).expect("stoch");
    let code = format!(
        r#"k := data.Klines["5m"]
ma := indicators.CalculateMA(k, 20)
rsi := indicators.GetLatestRSI(k, 14)
bb := indicators.GetLatestBollingerBands(k, 20, 2)
m := indicators.GetLatestMACD(k, 12, 26, 9)
st := indicators.CalculateStochastic(k, 14, 3)
r := indicators.CalculateRSI(k, 14)
full := indicators.CalculateMACD(k, 12, 26, 9)
bands := indicators.CalculateBollingerBands(k, 20, 2)
return *ma == {ma:?} && *rsi == {rsi:?} && bb.Upper == {:?} && m.Histogram == {:?} && st.D == {:?} &&
    r.Values[len(r.Values)-1] == *rsi && len(r.Values) == 250 && full.Histogram[249] == m.Histogram &&
    bands.Middle[249] == bb.Middle && indicators.CalculateVWAP(k) == {:?} &&
    len(indicators.CalculateMASeries(k, 300)) == 250 && indicators.CalculateMA(k, 0) == nil &&
    indicators.CalculateRSI(k[:10], 14) == nil && indicators.DetectEngulfingPattern(k[:2]) == """#,
        bb.upper,
        m.histogram,
        st.d,
        calculate_vwap(&k)
    );
    assert_eq!(eval_on(&code, &data), Ok(true));
}
