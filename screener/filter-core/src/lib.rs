//! The contract between the screener and the languages that run trader code (Go, JavaScript).
//!
//! A language crate compiles a trader's code once (`CompileError` carries line and column), then evaluates
//! the compiled program per symbol per closed candle against a [`MarketData`], within [`Limits`], sharing an
//! [`IndicatorCache`] with every other trader evaluated for the same symbol and close.

mod cache;
mod errors;
mod market;

pub use cache::{CacheKey, IndicatorCache, SeriesRef};
pub use errors::{CompileError, EvalError, Limits};
pub use market::{Kline, MarketData, Ticker, Timeframe};
