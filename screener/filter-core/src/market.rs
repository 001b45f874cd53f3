//! The platform's market data as filters see it (`types.MarketData`, `types.Kline`, `types.SimplifiedTicker`).

use std::sync::Arc;

/// One closed candle with Binance's volume split (`types.Kline`). Times are Unix milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Kline {
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Total base-asset volume.
    pub volume: f64,
    /// Taker buy base-asset volume (Binance kline field 9).
    pub buy_volume: f64,
    /// Total quote-asset volume (field 7).
    pub quote_volume: f64,
    /// Taker buy quote-asset volume (field 10).
    pub buy_quote_volume: f64,
    /// Number of trades (field 8).
    pub trades: i64,
    pub close_time: i64,
}

impl Kline {
    /// `SellVolume`: volume minus taker buys.
    pub fn sell_volume(&self) -> f64 {
        self.volume - self.buy_volume
    }
    /// `VolumeDelta`: taker buys minus sells.
    pub fn volume_delta(&self) -> f64 {
        self.buy_volume - self.sell_volume()
    }
}

/// `types.SimplifiedTicker`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ticker {
    pub last_price: f64,
    /// 24 h change in percent.
    pub price_change_percent: f64,
    /// 24 h quote volume.
    pub quote_volume: f64,
}

/// A kline interval name as the platform writes it (`"1m"`, `"5m"`, `"1h"` ...).
pub type Timeframe = String;

/// `types.MarketData` for one symbol at one close. `klines` holds, per timeframe the trader requires, its
/// closed candles oldest first (the last one is the candle that just closed). Series are shared (`Arc`) by every
/// trader evaluated for this symbol and must never be mutated by a filter.
#[derive(Clone, Debug, Default)]
pub struct MarketData {
    pub symbol: String,
    pub ticker: Option<Ticker>,
    /// Sorted by timeframe name; at most one entry per timeframe.
    pub klines: Vec<(Timeframe, Arc<[Kline]>)>,
    /// The close this evaluation is for (Unix ms): `data.Timestamp`.
    pub timestamp_ms: i64,
}

impl MarketData {
    /// Index of a timeframe's series in `klines` (what [`crate::SeriesRef::timeframe`] holds).
    pub fn series_index(&self, timeframe: &str) -> Option<usize> {
        self.klines.iter().position(|(tf, _)| tf == timeframe)
    }

    pub fn series(&self, timeframe: &str) -> Option<&Arc<[Kline]>> {
        self.klines
            .iter()
            .find(|(tf, _)| tf == timeframe)
            .map(|(_, k)| k)
    }
}
