//! Hand-written incremental indicators (O(1) per candle). One instance per (symbol, timeframe, spec) is shared by
//! every trader that references it.

mod bands;
mod flow;
mod ma;
mod oscillators;

use crate::candle::Candle;
use serde::{Deserialize, Serialize};

pub use bands::{Atr, Bollinger};
pub use flow::{ChangePct, Macd, Vwap};
pub use ma::{Sma, Smoother, Window};
pub use oscillators::{Rsi, Stochastic};

/// A candle field an average can be taken of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Open,
    High,
    Low,
    Close,
    Volume,
}

impl Source {
    pub fn of(self, c: &Candle) -> f64 {
        match self {
            Source::Open => c.open,
            Source::High => c.high,
            Source::Low => c.low,
            Source::Close => c.close,
            Source::Volume => c.volume,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Source::Open => "open",
            Source::High => "high",
            Source::Low => "low",
            Source::Close => "close",
            Source::Volume => "volume",
        }
    }
}

/// An indicator with its parameters; equal specs share one instance per series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Spec {
    Field(Source),
    Sma {
        period: u16,
        of: Source,
    },
    Ema {
        period: u16,
        of: Source,
    },
    Rsi {
        period: u16,
    },
    Macd {
        fast: u16,
        slow: u16,
        signal: u16,
    },
    /// `mult_centi` is the band multiplier × 100 so the spec stays hashable.
    Bollinger {
        period: u16,
        mult_centi: u16,
    },
    Atr {
        period: u16,
    },
    Stoch {
        k: u16,
        smooth: u16,
        d: u16,
    },
    Vwap,
    ChangePct {
        period: u16,
    },
}

impl Spec {
    /// Output names, in the order of `IndicatorState::cur`.
    pub fn outputs(&self) -> &'static [&'static str] {
        match self {
            Spec::Macd { .. } => &["macd", "signal", "hist"],
            Spec::Bollinger { .. } => &["middle", "upper", "lower"],
            Spec::Stoch { .. } => &["k", "d"],
            _ => &["value"],
        }
    }

    /// Bars of history that make the value trustworthy (smoothed indicators need ~4× their period).
    pub fn warmup_bars(&self) -> usize {
        let p = |x: u16| x as usize;
        match *self {
            Spec::Field(_) | Spec::Vwap => 1,
            Spec::Sma { period, .. } | Spec::Bollinger { period, .. } => p(period),
            Spec::ChangePct { period } => p(period) + 1,
            Spec::Ema { period, .. } | Spec::Rsi { period } | Spec::Atr { period } => {
                4 * p(period) + 1
            }
            Spec::Macd { slow, signal, .. } => 4 * (p(slow) + p(signal)),
            Spec::Stoch { k, smooth, d } => p(k) + p(smooth) + p(d),
        }
    }

    /// A short human label, used in indicator snapshots, e.g. `rsi(14)`.
    pub fn label(&self) -> String {
        match *self {
            Spec::Field(s) => s.name().to_string(),
            Spec::Sma { period, of } => format!("sma({period},{})", of.name()),
            Spec::Ema { period, of } => format!("ema({period},{})", of.name()),
            Spec::Rsi { period } => format!("rsi({period})"),
            Spec::Macd { fast, slow, signal } => format!("macd({fast},{slow},{signal})"),
            Spec::Bollinger { period, mult_centi } => {
                format!("bollinger({period},{})", mult_centi as f64 / 100.0)
            }
            Spec::Atr { period } => format!("atr({period})"),
            Spec::Stoch { k, smooth, d } => format!("stoch({k},{smooth},{d})"),
            Spec::Vwap => "vwap".to_string(),
            Spec::ChangePct { period } => format!("change_pct({period})"),
        }
    }
}

#[derive(Clone, Debug)]
enum Calc {
    Field(Source),
    Sma(Sma, Source),
    Ema(Smoother, Source),
    Rsi(Rsi),
    Macd(Macd),
    Bollinger(Bollinger),
    Atr(Atr),
    Stoch(Stochastic),
    Vwap(Vwap),
    Change(ChangePct),
}

/// One live indicator: its calculator plus the current and previous bar's outputs (NaN = not ready).
#[derive(Clone, Debug)]
pub struct IndicatorState {
    calc: Calc,
    pub cur: [f64; 3],
    pub prev: [f64; 3],
}

impl IndicatorState {
    pub fn new(spec: Spec) -> Self {
        let u = |x: u16| x as usize;
        let calc = match spec {
            Spec::Field(s) => Calc::Field(s),
            Spec::Sma { period, of } => Calc::Sma(Sma::new(u(period)), of),
            Spec::Ema { period, of } => Calc::Ema(Smoother::ema(u(period)), of),
            Spec::Rsi { period } => Calc::Rsi(Rsi::new(u(period))),
            Spec::Macd { fast, slow, signal } => Calc::Macd(Macd::new(u(fast), u(slow), u(signal))),
            Spec::Bollinger { period, mult_centi } => {
                Calc::Bollinger(Bollinger::new(u(period), mult_centi as f64 / 100.0))
            }
            Spec::Atr { period } => Calc::Atr(Atr::new(u(period))),
            Spec::Stoch { k, smooth, d } => Calc::Stoch(Stochastic::new(u(k), u(smooth), u(d))),
            Spec::Vwap => Calc::Vwap(Vwap::default()),
            Spec::ChangePct { period } => Calc::Change(ChangePct::new(u(period))),
        };
        IndicatorState {
            calc,
            cur: [f64::NAN; 3],
            prev: [f64::NAN; 3],
        }
    }

    pub fn update(&mut self, c: &Candle) {
        self.prev = self.cur;
        let nan = f64::NAN;
        self.cur = match &mut self.calc {
            Calc::Field(s) => [s.of(c), nan, nan],
            Calc::Sma(sma, s) => [sma.next(s.of(c)), nan, nan],
            Calc::Ema(ema, s) => [ema.next(s.of(c)), nan, nan],
            Calc::Rsi(rsi) => [rsi.next(c.close), nan, nan],
            Calc::Macd(m) => {
                let (a, b, h) = m.next(c.close);
                [a, b, h]
            }
            Calc::Bollinger(bb) => {
                let (m, u, l) = bb.next(c.close);
                [m, u, l]
            }
            Calc::Atr(atr) => [atr.next(c.high, c.low, c.close), nan, nan],
            Calc::Stoch(st) => {
                let (k, d) = st.next(c.high, c.low, c.close);
                [k, d, nan]
            }
            Calc::Vwap(v) => [v.next(c), nan, nan],
            Calc::Change(ch) => [ch.next(c.close), nan, nan],
        };
    }
}
