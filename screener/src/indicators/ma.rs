//! Moving-average building blocks: a fixed window with a running sum, SMA, and SMA-seeded EMA/RMA.

use std::collections::VecDeque;

/// The last `period` values with their running sum and sum of squares (O(1) per update).
#[derive(Clone, Debug)]
pub struct Window {
    period: usize,
    values: VecDeque<f64>,
    sum: f64,
    sum_sq: f64,
    updates: u32,
}

impl Window {
    pub fn new(period: usize) -> Self {
        Window {
            period,
            values: VecDeque::with_capacity(period + 1),
            sum: 0.0,
            sum_sq: 0.0,
            updates: 0,
        }
    }

    pub fn push(&mut self, x: f64) {
        self.values.push_back(x);
        self.sum += x;
        self.sum_sq += x * x;
        if self.values.len() > self.period {
            let old = self.values.pop_front().unwrap_or(0.0);
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        // Running sums drift by rounding; an exact recount every few thousand updates keeps them honest.
        self.updates = self.updates.wrapping_add(1);
        if self.updates.is_multiple_of(4096) {
            self.sum = self.values.iter().sum();
            self.sum_sq = self.values.iter().map(|v| v * v).sum();
        }
    }

    pub fn full(&self) -> bool {
        self.values.len() == self.period
    }

    pub fn mean(&self) -> f64 {
        if self.full() {
            self.sum / self.period as f64
        } else {
            f64::NAN
        }
    }

    /// Population standard deviation (divide by n), as TA-Lib and TradingView use for Bollinger Bands.
    pub fn std_dev(&self) -> f64 {
        if !self.full() {
            return f64::NAN;
        }
        let n = self.period as f64;
        let mean = self.sum / n;
        (self.sum_sq / n - mean * mean).max(0.0).sqrt()
    }

    /// The oldest value in a full window (the one `period` steps back).
    pub fn oldest(&self) -> Option<f64> {
        self.values.front().copied()
    }
}

/// Simple moving average.
#[derive(Clone, Debug)]
pub struct Sma(Window);

impl Sma {
    pub fn new(period: usize) -> Self {
        Sma(Window::new(period))
    }
    pub fn next(&mut self, x: f64) -> f64 {
        self.0.push(x);
        self.0.mean()
    }
}

/// Exponential smoothing seeded with the SMA of the first `period` inputs (TA-Lib's seeding).
/// `alpha = 2/(n+1)` gives the EMA; `alpha = 1/n` gives Wilder's RMA used by RSI and ATR.
#[derive(Clone, Debug)]
pub struct Smoother {
    alpha: f64,
    period: usize,
    seen: usize,
    value: f64,
}

impl Smoother {
    pub fn ema(period: usize) -> Self {
        Self::with_alpha(period, 2.0 / (period as f64 + 1.0))
    }
    pub fn rma(period: usize) -> Self {
        Self::with_alpha(period, 1.0 / period as f64)
    }
    fn with_alpha(period: usize, alpha: f64) -> Self {
        Smoother {
            alpha,
            period,
            seen: 0,
            value: 0.0,
        }
    }

    pub fn next(&mut self, x: f64) -> f64 {
        if self.seen < self.period {
            self.seen += 1;
            self.value += x;
            if self.seen < self.period {
                return f64::NAN;
            }
            self.value /= self.period as f64;
            return self.value;
        }
        self.value += self.alpha * (x - self.value);
        self.value
    }

    pub fn value(&self) -> f64 {
        if self.seen < self.period {
            f64::NAN
        } else {
            self.value
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sma_of_known_values() {
        let mut sma = Sma::new(3);
        assert!(sma.next(1.0).is_nan());
        assert!(sma.next(2.0).is_nan());
        assert_eq!(sma.next(3.0), 2.0);
        assert_eq!(sma.next(7.0), 4.0);
    }

    #[test]
    fn ema_is_seeded_with_the_sma_then_smooths() {
        let mut ema = Smoother::ema(3);
        ema.next(1.0);
        ema.next(2.0);
        assert_eq!(ema.next(3.0), 2.0);
        // alpha = 0.5: 2 + 0.5 * (6 - 2) = 4
        assert_eq!(ema.next(6.0), 4.0);
    }

    #[test]
    fn population_std_dev() {
        let mut w = Window::new(4);
        for x in [2.0, 4.0, 4.0, 4.0, 5.0] {
            w.push(x);
        }
        // window 4,4,4,5: mean 4.25, variance 0.1875
        assert!((w.std_dev() - 0.1875f64.sqrt()).abs() < 1e-12);
    }
}
