//! Session VWAP (reset at 00:00 UTC), MACD and price change %.

use super::ma::{Smoother, Window};
use crate::candle::Candle;

const DAY_MS: i64 = 86_400_000;

/// Volume-weighted average of the typical price (h+l+c)/3 since the start of the candle's UTC day.
#[derive(Clone, Debug, Default)]
pub struct Vwap {
    day: Option<i64>,
    pv: f64,
    vol: f64,
}

impl Vwap {
    pub fn next(&mut self, c: &Candle) -> f64 {
        let day = c.open_time.div_euclid(DAY_MS);
        if self.day != Some(day) {
            *self = Vwap {
                day: Some(day),
                ..Vwap::default()
            };
        }
        let typical = (c.high + c.low + c.close) / 3.0;
        self.pv += typical * c.volume;
        self.vol += c.volume;
        if self.vol > 0.0 {
            self.pv / self.vol
        } else {
            // No volume yet today: the typical price is the only honest estimate.
            typical
        }
    }
}

/// MACD line = EMA(fast) − EMA(slow); signal = EMA(signal) of the line; histogram = line − signal.
#[derive(Clone, Debug)]
pub struct Macd {
    fast: Smoother,
    slow: Smoother,
    signal: Smoother,
}

impl Macd {
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        Macd {
            fast: Smoother::ema(fast),
            slow: Smoother::ema(slow),
            signal: Smoother::ema(signal),
        }
    }

    /// Returns (macd, signal, histogram).
    pub fn next(&mut self, x: f64) -> (f64, f64, f64) {
        let f = self.fast.next(x);
        let s = self.slow.next(x);
        if f.is_nan() || s.is_nan() {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        let line = f - s;
        let sig = self.signal.next(line);
        (line, sig, line - sig)
    }
}

/// Percent change of the close over `period` bars.
#[derive(Clone, Debug)]
pub struct ChangePct {
    closes: Window,
}

impl ChangePct {
    pub fn new(period: usize) -> Self {
        ChangePct {
            closes: Window::new(period + 1),
        }
    }

    pub fn next(&mut self, close: f64) -> f64 {
        self.closes.push(close);
        match self.closes.oldest() {
            Some(old) if self.closes.full() && old != 0.0 => (close - old) / old * 100.0,
            _ => f64::NAN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(open_time: i64, h: f64, l: f64, c: f64, v: f64) -> Candle {
        Candle {
            open_time,
            close_time: open_time + 59_999,
            open: c,
            high: h,
            low: l,
            close: c,
            volume: v,
            quote_volume: c * v,
            ..Default::default()
        }
    }

    #[test]
    fn vwap_resets_at_utc_midnight() {
        let mut vwap = Vwap::default();
        let before = DAY_MS - 60_000;
        assert_eq!(vwap.next(&candle(before, 12.0, 6.0, 9.0, 1.0)), 9.0);
        assert_eq!(vwap.next(&candle(DAY_MS, 3.0, 3.0, 3.0, 2.0)), 3.0);
        // (3*2 + 6*2) / 4 = 4.5
        assert_eq!(vwap.next(&candle(DAY_MS + 60_000, 6.0, 6.0, 6.0, 2.0)), 4.5);
    }

    #[test]
    fn change_pct_over_two_bars() {
        let mut ch = ChangePct::new(2);
        assert!(ch.next(100.0).is_nan());
        assert!(ch.next(50.0).is_nan());
        assert_eq!(ch.next(110.0), 10.0);
    }
}
