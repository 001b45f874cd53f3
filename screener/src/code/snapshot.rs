//! The platform's `types.MarketData` for one symbol at one close, built from the engine's candle history.

use crate::candle::{Candle, Interval};
use filter_core::{Kline, MarketData, Ticker};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

pub fn kline(c: &Candle) -> Kline {
    Kline {
        open_time: c.open_time,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
        buy_volume: c.taker_buy_volume,
        quote_volume: c.quote_volume,
        buy_quote_volume: c.taker_buy_quote_volume,
        trades: c.trades,
        close_time: c.close_time,
    }
}

/// `series` holds each timeframe's closed candles, oldest first (a higher timeframe's last entry is its last
/// *closed* candle: no look-ahead). `at` is the close being evaluated (`data.Timestamp`).
pub fn market_data(symbol: &str, at: i64, series: Vec<(Interval, Arc<[Kline]>)>) -> MarketData {
    let ticker = series
        .iter()
        .min_by_key(|(tf, _)| tf.millis())
        .and_then(|(_, k)| ticker(k, at));
    let mut klines: Vec<(String, Arc<[Kline]>)> = series
        .into_iter()
        .map(|(tf, k)| (tf.name().to_string(), k))
        .collect();
    klines.sort_by(|a, b| a.0.cmp(&b.0));
    MarketData {
        symbol: symbol.to_string(),
        ticker,
        klines,
        timestamp_ms: at,
    }
}

/// The screener follows klines, not Binance's 24 h ticker stream, so `data.Ticker` is derived from the finest
/// followed series: the last close, and the change and quote volume over the candles of the last 24 h that the
/// history holds (the whole history when it is shorter than a day).
fn ticker(klines: &[Kline], at: i64) -> Option<Ticker> {
    let last = klines.last()?;
    let since = at.saturating_sub(DAY_MS);
    let window = &klines[klines.partition_point(|k| k.open_time < since)..];
    let first = window.first().unwrap_or(last);
    let price_change_percent = if first.open != 0.0 {
        (last.close - first.open) / first.open * 100.0
    } else {
        0.0
    };
    Some(Ticker {
        last_price: last.close,
        price_change_percent,
        quote_volume: window.iter().map(|k| k.quote_volume).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: i64, open: f64, close: f64) -> Kline {
        Kline {
            open_time: i * 3_600_000,
            close_time: (i + 1) * 3_600_000 - 1,
            open,
            close,
            quote_volume: 10.0,
            ..Default::default()
        }
    }

    #[test]
    fn ticker_covers_the_last_day_of_the_finest_series() {
        let hourly: Arc<[Kline]> = (0..30)
            .map(|i| k(i, 100.0 + i as f64, 101.0 + i as f64))
            .collect();
        let daily: Arc<[Kline]> = vec![k(0, 1.0, 2.0)].into();
        let at = 30 * 3_600_000;
        let data = market_data(
            "BTCUSDT",
            at,
            vec![
                (Interval::parse("1d").unwrap(), daily),
                (Interval::parse("1h").unwrap(), hourly),
            ],
        );
        let t = data.ticker.unwrap();
        assert_eq!(t.last_price, 130.0);
        // Candles opened at hours 6..=29: 24 of them, from open 106 to close 130.
        assert_eq!(t.quote_volume, 240.0);
        assert!((t.price_change_percent - (130.0 - 106.0) / 106.0 * 100.0).abs() < 1e-9);
        assert_eq!(data.klines[0].0, "1d");
        assert_eq!(data.series_index("1h"), Some(1));
    }
}
