//! RSI (Wilder) and the Stochastic oscillator.

use super::ma::{Sma, Smoother};
use std::collections::VecDeque;

/// Relative Strength Index with Wilder smoothing (RMA, alpha = 1/n), TradingView's edge rules.
#[derive(Clone, Debug)]
pub struct Rsi {
    prev: Option<f64>,
    gains: Smoother,
    losses: Smoother,
}

impl Rsi {
    pub fn new(period: usize) -> Self {
        Rsi {
            prev: None,
            gains: Smoother::rma(period),
            losses: Smoother::rma(period),
        }
    }

    pub fn next(&mut self, x: f64) -> f64 {
        let Some(prev) = self.prev.replace(x) else {
            return f64::NAN;
        };
        let change = x - prev;
        let up = self.gains.next(change.max(0.0));
        let down = self.losses.next((-change).max(0.0));
        if up.is_nan() || down.is_nan() {
            f64::NAN
        } else if down == 0.0 {
            100.0
        } else if up == 0.0 {
            0.0
        } else {
            100.0 - 100.0 / (1.0 + up / down)
        }
    }
}

/// Rolling maximum or minimum over the last `period` values with a monotonic deque (amortised O(1)).
#[derive(Clone, Debug)]
struct RollingExtreme {
    period: usize,
    max: bool,
    index: u64,
    deque: VecDeque<(u64, f64)>,
}

impl RollingExtreme {
    fn new(period: usize, max: bool) -> Self {
        RollingExtreme {
            period,
            max,
            index: 0,
            deque: VecDeque::with_capacity(period + 1),
        }
    }

    fn next(&mut self, x: f64) -> f64 {
        let dominated = |kept: f64| if self.max { kept <= x } else { kept >= x };
        while self.deque.back().is_some_and(|&(_, v)| dominated(v)) {
            self.deque.pop_back();
        }
        self.deque.push_back((self.index, x));
        self.index += 1;
        while self
            .deque
            .front()
            .is_some_and(|&(i, _)| i + (self.period as u64) < self.index)
        {
            self.deque.pop_front();
        }
        if self.index < self.period as u64 {
            f64::NAN
        } else {
            self.deque.front().map_or(f64::NAN, |&(_, v)| v)
        }
    }
}

/// Stochastic %K (optionally smoothed) and %D = SMA(%K, d).
#[derive(Clone, Debug)]
pub struct Stochastic {
    highest: RollingExtreme,
    lowest: RollingExtreme,
    smooth: Sma,
    d: Sma,
}

impl Stochastic {
    pub fn new(k: usize, smooth: usize, d: usize) -> Self {
        Stochastic {
            highest: RollingExtreme::new(k, true),
            lowest: RollingExtreme::new(k, false),
            smooth: Sma::new(smooth),
            d: Sma::new(d),
        }
    }

    /// Returns (%K, %D).
    pub fn next(&mut self, high: f64, low: f64, close: f64) -> (f64, f64) {
        let hh = self.highest.next(high);
        let ll = self.lowest.next(low);
        if hh.is_nan() || ll.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        let raw = if hh > ll {
            100.0 * (close - ll) / (hh - ll)
        } else {
            50.0
        };
        let k = self.smooth.next(raw);
        if k.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        (k, self.d.next(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsi_is_100_when_price_only_rises() {
        let mut rsi = Rsi::new(3);
        let out: Vec<f64> = (0..6).map(|i| rsi.next(i as f64)).collect();
        assert!(out[2].is_nan());
        assert_eq!(out[3], 100.0);
        assert_eq!(out[5], 100.0);
    }

    #[test]
    fn rolling_extremes_follow_the_window() {
        let mut max = RollingExtreme::new(3, true);
        let out: Vec<f64> = [1.0, 5.0, 2.0, 1.0, 0.5, 3.0]
            .iter()
            .map(|&x| max.next(x))
            .collect();
        assert!(out[1].is_nan());
        assert_eq!(&out[2..], &[5.0, 5.0, 2.0, 3.0]);
    }

    #[test]
    fn stochastic_k_at_top_of_range_is_100() {
        let mut st = Stochastic::new(3, 1, 2);
        st.next(10.0, 5.0, 6.0);
        st.next(11.0, 6.0, 7.0);
        let (k, d) = st.next(12.0, 7.0, 12.0);
        assert_eq!(k, 100.0);
        assert!(d.is_nan());
        let (k2, d2) = st.next(12.0, 9.0, 9.0);
        // range 6..12 over the last 3 bars: (9-6)/6 = 50%
        assert_eq!(k2, 50.0);
        assert_eq!(d2, 75.0);
    }
}
