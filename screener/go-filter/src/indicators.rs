//! The platform's `indicators` package (backend/go-screener/pkg/indicators/helpers.go) in Rust, with its
//! exact semantics: the same nil (`None`) and zero-slice results, the same warm-up and seeding quirks.
//! Periods are Go `int`s (`i64`); every `len < period || period <= 0` guard is kept as is.

use filter_core::Kline;

fn too_short(len: usize, period: i64) -> bool {
    period <= 0 || (len as i64) < period
}

/// `CalculateMA`: simple average of the last `period` closes.
pub fn calculate_ma(k: &[Kline], period: i64) -> Option<f64> {
    if too_short(k.len(), period) {
        return None;
    }
    let p = period as usize;
    let sum: f64 = k[k.len() - p..].iter().fold(0.0, |s, x| s + x.close);
    Some(sum / period as f64)
}

/// `CalculateMASeries`: zeros before the first full window (all zeros when too short).
pub fn calculate_ma_series(k: &[Kline], period: i64) -> Vec<f64> {
    let mut out = vec![0.0; k.len()];
    if too_short(k.len(), period) {
        return out;
    }
    let p = period as usize;
    for i in p - 1..k.len() {
        let mut sum = 0.0;
        for j in 0..p {
            sum += k[i - j].close;
        }
        out[i] = sum / period as f64;
    }
    out
}

/// `CalculateEMA`: seeded with the first close (not an SMA), over the whole series.
pub fn calculate_ema(k: &[Kline], period: i64) -> Option<f64> {
    if too_short(k.len(), period) {
        return None;
    }
    let m = 2.0 / (period as f64 + 1.0);
    let mut ema = k[0].close;
    for x in &k[1..] {
        ema = x.close * m + ema * (1.0 - m);
    }
    Some(ema)
}

/// `CalculateEMASeries`: same seeding as [`calculate_ema`]; zeros when too short.
pub fn calculate_ema_series(k: &[Kline], period: i64) -> Vec<f64> {
    let mut out = vec![0.0; k.len()];
    if too_short(k.len(), period) {
        return out;
    }
    let m = 2.0 / (period as f64 + 1.0);
    out[0] = k[0].close;
    for i in 1..k.len() {
        out[i] = k[i].close * m + out[i - 1] * (1.0 - m);
    }
    out
}

fn rsi_of(avg_gain: f64, avg_loss: f64) -> f64 {
    if avg_loss == 0.0 {
        if avg_gain > 0.0 {
            100.0
        } else {
            50.0
        }
    } else {
        100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    }
}

/// `CalculateRSI`: Wilder smoothing; `Values[0..period]` are 0. `None` when `len < period+1`.
pub fn calculate_rsi(k: &[Kline], period: i64) -> Option<Vec<f64>> {
    // Go computes period+1 in int; for MaxInt it wraps and then panics indexing — we return nil instead.
    let need = period.checked_add(1)?;
    if (k.len() as i64) < need || period <= 0 {
        return None;
    }
    let p = period as usize;
    let (mut gains, mut losses) = (0.0, 0.0);
    for i in 1..=p {
        let change = k[i].close - k[i - 1].close;
        if change > 0.0 {
            gains += change;
        } else {
            losses -= change;
        }
    }
    let mut avg_gain = gains / period as f64;
    let mut avg_loss = losses / period as f64;
    let mut values = vec![0.0; k.len()];
    values[p] = rsi_of(avg_gain, avg_loss);
    for i in p + 1..k.len() {
        let change = k[i].close - k[i - 1].close;
        let (g, l) = if change > 0.0 {
            (change, 0.0)
        } else {
            (0.0, -change)
        };
        avg_gain = (avg_gain * (period - 1) as f64 + g) / period as f64;
        avg_loss = (avg_loss * (period - 1) as f64 + l) / period as f64;
        values[i] = rsi_of(avg_gain, avg_loss);
    }
    Some(values)
}

/// `GetLatestRSI`: the last non-zero RSI value.
pub fn get_latest_rsi(k: &[Kline], period: i64) -> Option<f64> {
    latest_rsi_from(&calculate_rsi(k, period)?)
}

pub(crate) fn latest_rsi_from(values: &[f64]) -> Option<f64> {
    values.iter().rev().find(|v| **v != 0.0).copied()
}

#[derive(Clone, Debug, PartialEq)]
pub struct MacdResult {
    pub macd: Vec<f64>,
    pub signal: Vec<f64>,
    pub histogram: Vec<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MacdLatest {
    pub macd: f64,
    pub signal: f64,
    pub histogram: f64,
}

/// `CalculateMACD`: EMA series differences; the signal line is an SMA-seeded EMA of the MACD line.
pub fn calculate_macd(k: &[Kline], short: i64, long: i64, signal: i64) -> Option<MacdResult> {
    if (k.len() as i64) < long || short <= 0 || long <= 0 || signal <= 0 {
        return None;
    }
    let s = calculate_ema_series(k, short);
    let l = calculate_ema_series(k, long);
    let macd: Vec<f64> = s.iter().zip(&l).map(|(a, b)| a - b).collect();
    let sig = ema_from_values(&macd, signal);
    let histogram = macd.iter().zip(&sig).map(|(a, b)| a - b).collect();
    Some(MacdResult {
        macd,
        signal: sig,
        histogram,
    })
}

pub fn get_latest_macd(k: &[Kline], short: i64, long: i64, signal: i64) -> Option<MacdLatest> {
    latest_macd_from(&calculate_macd(k, short, long, signal)?)
}

pub(crate) fn latest_macd_from(r: &MacdResult) -> Option<MacdLatest> {
    let i = r.macd.len().checked_sub(1)?;
    Some(MacdLatest {
        macd: r.macd[i],
        signal: r.signal[i],
        histogram: r.histogram[i],
    })
}

#[derive(Clone, Debug, PartialEq)]
pub struct BollingerBands {
    pub upper: Vec<f64>,
    pub middle: Vec<f64>,
    pub lower: Vec<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandsLatest {
    pub upper: f64,
    pub middle: f64,
    pub lower: f64,
}

/// `CalculateBollingerBands`: population standard deviation around the SMA series.
pub fn calculate_bollinger_bands(k: &[Kline], period: i64, std_dev: f64) -> Option<BollingerBands> {
    if too_short(k.len(), period) {
        return None;
    }
    let p = period as usize;
    let middle = calculate_ma_series(k, period);
    let mut upper = vec![0.0; k.len()];
    let mut lower = vec![0.0; k.len()];
    for i in p - 1..k.len() {
        let mut sum = 0.0;
        for j in 0..p {
            let d = k[i - j].close - middle[i];
            sum += d * d;
        }
        let sd = (sum / period as f64).sqrt();
        upper[i] = middle[i] + std_dev * sd;
        lower[i] = middle[i] - std_dev * sd;
    }
    Some(BollingerBands {
        upper,
        middle,
        lower,
    })
}

pub fn get_latest_bollinger_bands(k: &[Kline], period: i64, std_dev: f64) -> Option<BandsLatest> {
    latest_bands_from(&calculate_bollinger_bands(k, period, std_dev)?)
}

pub(crate) fn latest_bands_from(r: &BollingerBands) -> Option<BandsLatest> {
    let i = r.middle.len().checked_sub(1)?;
    Some(BandsLatest {
        upper: r.upper[i],
        middle: r.middle[i],
        lower: r.lower[i],
    })
}

/// `CalculateAvgVolume`: average base volume of the last `period` candles.
pub fn calculate_avg_volume(k: &[Kline], period: i64) -> Option<f64> {
    if too_short(k.len(), period) {
        return None;
    }
    let p = period as usize;
    let sum: f64 = k[k.len() - p..].iter().fold(0.0, |s, x| s + x.volume);
    Some(sum / period as f64)
}

pub fn get_highest_high(k: &[Kline], period: i64) -> Option<f64> {
    if too_short(k.len(), period) {
        return None;
    }
    let w = &k[k.len() - period as usize..];
    let mut h = w[0].high;
    for x in &w[1..] {
        if x.high > h {
            h = x.high;
        }
    }
    Some(h)
}

pub fn get_lowest_low(k: &[Kline], period: i64) -> Option<f64> {
    if too_short(k.len(), period) {
        return None;
    }
    let w = &k[k.len() - period as usize..];
    let mut l = w[0].low;
    for x in &w[1..] {
        if x.low < l {
            l = x.low;
        }
    }
    Some(l)
}

/// `CalculateVWAP`: typical price weighted by volume over the whole series; 0 when empty or no volume.
pub fn calculate_vwap(k: &[Kline]) -> f64 {
    let (mut tpv, mut vol) = (0.0, 0.0);
    for x in k {
        tpv += (x.high + x.low + x.close) / 3.0 * x.volume;
        vol += x.volume;
    }
    if k.is_empty() || vol == 0.0 {
        0.0
    } else {
        tpv / vol
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stochastic {
    pub k: f64,
    pub d: f64,
}

/// `CalculateStochastic`: %K over the last `k_period` candles (50 when flat); %D is simply K * 0.9.
pub fn calculate_stochastic(k: &[Kline], k_period: i64, _d_period: i64) -> Option<Stochastic> {
    if too_short(k.len(), k_period) {
        return None;
    }
    let w = &k[k.len() - k_period as usize..];
    let (mut hh, mut ll) = (w[0].high, w[0].low);
    for x in &w[1..] {
        if x.high > hh {
            hh = x.high;
        }
        if x.low < ll {
            ll = x.low;
        }
    }
    let close = k[k.len() - 1].close;
    let kv = if hh > ll {
        (close - ll) / (hh - ll) * 100.0
    } else {
        50.0
    };
    Some(Stochastic { k: kv, d: kv * 0.9 })
}

/// `calculateEMAFromValues`: SMA seed at `period-1`, zeros before; all zeros when too short.
pub fn ema_from_values(values: &[f64], period: i64) -> Vec<f64> {
    let mut out = vec![0.0; values.len()];
    if too_short(values.len(), period) {
        return out;
    }
    let p = period as usize;
    let m = 2.0 / (period as f64 + 1.0);
    let sum: f64 = values[..p].iter().fold(0.0, |s, x| s + x);
    out[p - 1] = sum / period as f64;
    for i in p..values.len() {
        out[i] = values[i] * m + out[i - 1] * (1.0 - m);
    }
    out
}

/// `DetectEngulfingPattern`: compares the second-to-last candle with the one before it (the last candle
/// is ignored, as on the platform). `"bullish"`, `"bearish"` or `""`.
pub fn detect_engulfing_pattern(k: &[Kline]) -> &'static str {
    if k.len() < 3 {
        return "";
    }
    let cur = k[k.len() - 2];
    let prev = k[k.len() - 3];
    let (co, cc, po, pc) = (cur.open, cur.close, prev.open, prev.close);
    if pc < po && cc > co && co < pc && cc > po {
        return "bullish";
    }
    if pc > po && cc < co && co > pc && cc < po {
        return "bearish";
    }
    ""
}
