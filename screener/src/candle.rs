//! Candles and Binance kline intervals.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One closed OHLCV candle. Times are Unix milliseconds (UTC), as Binance sends them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    pub open_time: i64,
    pub close_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub quote_volume: f64,
    /// Taker buy base-asset volume (Binance `V`, REST field 9): the platform's `Kline.BuyVolume`.
    #[serde(default)]
    pub taker_buy_volume: f64,
    /// Taker buy quote-asset volume (`Q`, REST field 10).
    #[serde(default)]
    pub taker_buy_quote_volume: f64,
    /// Number of trades (`n`, REST field 8).
    #[serde(default)]
    pub trades: i64,
}

/// The kline intervals a filter may use. `1s` and `1M` (variable length) are deliberately excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interval(u8);

const INTERVALS: [(&str, i64); 14] = [
    ("1m", 60_000),
    ("3m", 180_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("2h", 7_200_000),
    ("4h", 14_400_000),
    ("6h", 21_600_000),
    ("8h", 28_800_000),
    ("12h", 43_200_000),
    ("1d", 86_400_000),
    ("3d", 259_200_000),
    ("1w", 604_800_000),
];

impl Interval {
    pub fn parse(s: &str) -> Option<Interval> {
        INTERVALS
            .iter()
            .position(|(name, _)| *name == s)
            .map(|i| Interval(i as u8))
    }
    pub fn name(self) -> &'static str {
        INTERVALS[self.0 as usize].0
    }
    pub fn millis(self) -> i64 {
        INTERVALS[self.0 as usize].1
    }
    pub fn all_names() -> impl Iterator<Item = &'static str> {
        INTERVALS.iter().map(|(n, _)| *n)
    }
    /// The open time of the candle containing `ms` (Binance aligns klines to the Unix epoch, weeks on Mondays).
    pub fn align(self, ms: i64) -> i64 {
        if self.name() == "1w" {
            // 1970-01-01 was a Thursday; Binance weeks start on Monday (epoch + 4 days).
            let monday = 4 * 86_400_000;
            return (ms - monday).div_euclid(self.millis()) * self.millis() + monday;
        }
        ms.div_euclid(self.millis()) * self.millis()
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Interval {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Interval::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown timeframe {s:?}; expected one of {}",
                Interval::all_names().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_intervals_and_rejects_others() {
        assert_eq!(Interval::parse("15m").unwrap().millis(), 900_000);
        assert_eq!(Interval::parse("1h").unwrap().name(), "1h");
        assert!(Interval::parse("1M").is_none());
        assert!(Interval::parse("1s").is_none());
        assert!(Interval::parse("7m").is_none());
    }

    #[test]
    fn aligns_weeks_to_mondays() {
        let w = Interval::parse("1w").unwrap();
        // 2024-01-03 (Wednesday) 12:00 UTC -> Monday 2024-01-01 00:00 UTC.
        assert_eq!(w.align(1_704_283_200_000), 1_704_067_200_000);
        let m = Interval::parse("1m").unwrap();
        assert_eq!(m.align(1_704_067_259_999), 1_704_067_200_000);
    }
}
