//! Indicator math over plain f64 series. `NAN` marks a warm-up slot (JS `null`), matching the platform's
//! `screenerHelpers.ts` series which are null-padded to the input length.

/// Simple moving average series (`calculateMASeries`): slot i averages values i+1-period..=i.
pub fn sma_series(values: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if period == 0 || values.len() < period {
        return out;
    }
    for i in period - 1..values.len() {
        let window = &values[i + 1 - period..=i];
        out[i] = window.iter().sum::<f64>() / period as f64;
    }
    out
}

/// EMA series seeded with the SMA of the first `period` consecutive valid values, placed at the end of that
/// window (`_calculateEMASeriesFromValues`); later invalid inputs propagate NaN.
pub fn ema_series(values: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if period == 0 || values.len() < period {
        return out;
    }
    let Some(start) =
        (0..=values.len() - period).find(|&j| values[j..j + period].iter().all(|v| !v.is_nan()))
    else {
        return out;
    };
    let k = 2.0 / (period as f64 + 1.0);
    out[start + period - 1] = values[start..start + period].iter().sum::<f64>() / period as f64;
    for i in start + period..values.len() {
        out[i] = values[i] * k + out[i - 1] * (1.0 - k);
    }
    out
}

/// Wilder RSI series (`calculateRSI`): first value at index `period`, 100 when there are no losses (50 when
/// the window is flat).
pub fn rsi_series(closes: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; closes.len()];
    if period == 0 || closes.len() < period + 1 {
        return out;
    }
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=period {
        let change = closes[i] - closes[i - 1];
        if change > 0.0 {
            gain += change;
        } else {
            loss -= change;
        }
    }
    gain /= period as f64;
    loss /= period as f64;
    let rsi = |gain: f64, loss: f64| {
        if loss == 0.0 {
            if gain > 0.0 {
                100.0
            } else {
                50.0
            }
        } else {
            100.0 - 100.0 / (1.0 + gain / loss)
        }
    };
    out[period] = rsi(gain, loss);
    let p = period as f64;
    for i in period + 1..closes.len() {
        let change = closes[i] - closes[i - 1];
        gain = (gain * (p - 1.0) + change.max(0.0)) / p;
        loss = (loss * (p - 1.0) + (-change).max(0.0)) / p;
        out[i] = rsi(gain, loss);
    }
    out
}

pub struct Macd {
    pub macd: Vec<f64>,
    pub signal: Vec<f64>,
    pub histogram: Vec<f64>,
}

/// `calculateMACDValues`: EMA(fast) − EMA(slow) of closes, signal = EMA(signal) of that line.
pub fn macd(closes: &[f64], fast: usize, slow: usize, signal: usize) -> Macd {
    let n = closes.len();
    if n < fast.max(slow).max(signal) {
        return Macd {
            macd: vec![f64::NAN; n],
            signal: vec![f64::NAN; n],
            histogram: vec![f64::NAN; n],
        };
    }
    let (f, s) = (ema_series(closes, fast), ema_series(closes, slow));
    let line: Vec<f64> = f.iter().zip(&s).map(|(a, b)| a - b).collect();
    let sig = ema_series(&line, signal);
    let histogram = line.iter().zip(&sig).map(|(a, b)| a - b).collect();
    Macd {
        macd: line,
        signal: sig,
        histogram,
    }
}

pub struct Bands {
    pub upper: Vec<f64>,
    pub middle: Vec<f64>,
    pub lower: Vec<f64>,
}

/// `calculateBollingerBands`: SMA ± mult × population standard deviation over the same window.
pub fn bollinger(closes: &[f64], period: usize, mult: f64) -> Bands {
    let middle = sma_series(closes, period);
    let mut upper = vec![f64::NAN; closes.len()];
    let mut lower = vec![f64::NAN; closes.len()];
    for (i, m) in middle.iter().enumerate() {
        if m.is_nan() {
            continue;
        }
        let window = &closes[i + 1 - period..=i];
        let var = window.iter().map(|c| (c - m).powi(2)).sum::<f64>() / period as f64;
        upper[i] = m + mult * var.sqrt();
        lower[i] = m - mult * var.sqrt();
    }
    Bands {
        upper,
        middle,
        lower,
    }
}

/// Wilder ATR: true range (high−low for the first candle), seeded with the SMA of the first `period` true
/// ranges at index period−1, then smoothed. The platform has no ATR helper; this is the textbook definition.
pub fn atr_series(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Vec<f64> {
    let n = close.len();
    let mut out = vec![f64::NAN; n];
    if period == 0 || n < period {
        return out;
    }
    let tr: Vec<f64> = (0..n)
        .map(|i| {
            let range = high[i] - low[i];
            if i == 0 {
                range
            } else {
                range
                    .max((high[i] - close[i - 1]).abs())
                    .max((low[i] - close[i - 1]).abs())
            }
        })
        .collect();
    let p = period as f64;
    out[period - 1] = tr[..period].iter().sum::<f64>() / p;
    for i in period..n {
        out[i] = (out[i - 1] * (p - 1.0) + tr[i]) / p;
    }
    out
}

/// The last element and the one before it (NaN when absent).
pub fn last_two(series: &[f64]) -> (f64, f64) {
    let n = series.len();
    let at = |i: usize| if i < n { series[i] } else { f64::NAN };
    (
        at(n.wrapping_sub(1)),
        if n >= 2 { at(n - 2) } else { f64::NAN },
    )
}
