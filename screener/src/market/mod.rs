//! Market data: Binance combined kline streams and REST backfill, or a replay file.

pub mod gap;
pub mod kline;
pub mod replay;
pub mod rest;
pub mod ws;

use crate::candle::{Candle, Interval};

/// A kline update from any source. `closed` is Binance's `x`.
#[derive(Clone, Debug, PartialEq)]
pub enum MarketEvent {
    Kline {
        symbol: String,
        interval: Interval,
        candle: Candle,
        closed: bool,
    },
}
