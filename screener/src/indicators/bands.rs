//! Volatility indicators: Bollinger Bands and ATR (Wilder).

use super::ma::{Smoother, Window};

/// Bollinger Bands: SMA(n) ± k × population standard deviation. Returns (middle, upper, lower).
#[derive(Clone, Debug)]
pub struct Bollinger {
    window: Window,
    mult: f64,
}

impl Bollinger {
    pub fn new(period: usize, mult: f64) -> Self {
        Bollinger {
            window: Window::new(period),
            mult,
        }
    }

    pub fn next(&mut self, x: f64) -> (f64, f64, f64) {
        self.window.push(x);
        let mid = self.window.mean();
        let band = self.mult * self.window.std_dev();
        (mid, mid + band, mid - band)
    }
}

/// Average True Range with Wilder smoothing, seeded with the mean of the first n true ranges.
#[derive(Clone, Debug)]
pub struct Atr {
    prev_close: Option<f64>,
    rma: Smoother,
}

impl Atr {
    pub fn new(period: usize) -> Self {
        Atr {
            prev_close: None,
            rma: Smoother::rma(period),
        }
    }

    pub fn next(&mut self, high: f64, low: f64, close: f64) -> f64 {
        let tr = match self.prev_close.replace(close) {
            None => high - low,
            Some(pc) => (high - low).max((high - pc).abs()).max((low - pc).abs()),
        };
        self.rma.next(tr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bollinger_of_a_flat_series_has_no_width() {
        let mut bb = Bollinger::new(3, 2.0);
        bb.next(5.0);
        bb.next(5.0);
        assert_eq!(bb.next(5.0), (5.0, 5.0, 5.0));
    }

    #[test]
    fn atr_uses_gaps_from_the_previous_close() {
        let mut atr = Atr::new(2);
        assert!(atr.next(10.0, 8.0, 9.0).is_nan()); // TR 2
        assert_eq!(atr.next(14.0, 12.0, 13.0), 3.5); // TR max(2, 5, 3) = 5 -> seed (2+5)/2
        assert_eq!(atr.next(13.0, 12.0, 12.5), 2.25); // TR 1 -> 3.5 + (1-3.5)/2
    }
}
