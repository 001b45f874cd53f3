//! Fixture klines: JSON lines, one candle per line, the same format as the screener's replay files.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Kline {
    pub open_time: i64,
    pub close_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    #[serde(default)]
    pub quote_volume: f64,
    /// Taker buy base volume (`V`; REST field 9).
    #[serde(default)]
    pub taker_buy_volume: f64,
    /// Number of trades (`n`; REST field 8).
    #[serde(default)]
    pub trades: i64,
}

#[derive(Serialize, Deserialize)]
struct Line {
    symbol: String,
    interval: String,
    #[serde(flatten)]
    kline: Kline,
}

/// Candles per (SYMBOL, interval), sorted by open time.
#[derive(Clone, Debug, Default)]
pub struct Fixture {
    pub series: BTreeMap<(String, String), Vec<Kline>>,
}

impl Fixture {
    pub fn from_jsonl(text: &str) -> Result<Fixture, String> {
        let mut f = Fixture::default();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let l: Line =
                serde_json::from_str(line).map_err(|e| format!("fixture line {}: {e}", i + 1))?;
            f.push(&l.symbol, &l.interval, l.kline);
        }
        for v in f.series.values_mut() {
            v.sort_by_key(|k| k.open_time);
        }
        Ok(f)
    }

    pub fn push(&mut self, symbol: &str, interval: &str, k: Kline) {
        self.series
            .entry((symbol.to_ascii_uppercase(), interval.to_string()))
            .or_default()
            .push(k);
    }

    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for ((symbol, interval), klines) in &self.series {
            for k in klines {
                let line = Line {
                    symbol: symbol.clone(),
                    interval: interval.clone(),
                    kline: *k,
                };
                out.push_str(&serde_json::to_string(&line).expect("serialisable"));
                out.push('\n');
            }
        }
        out
    }

    /// The longest series length; the fake publishes candle `i` of every series at step `i`.
    pub fn len(&self) -> usize {
        self.series.values().map(Vec::len).max().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Binance's combined-stream kline event.
pub fn ws_event(symbol: &str, interval: &str, k: &Kline, closed: bool) -> String {
    let stream = format!("{}@kline_{interval}", symbol.to_ascii_lowercase());
    serde_json::json!({
        "stream": stream,
        "data": {
            "e": "kline", "E": k.close_time, "s": symbol,
            "k": {
                "t": k.open_time, "T": k.close_time, "s": symbol, "i": interval,
                "f": 1, "L": 2, "o": k.open.to_string(), "c": k.close.to_string(),
                "h": k.high.to_string(), "l": k.low.to_string(), "v": k.volume.to_string(),
                "n": k.trades, "x": closed, "q": k.quote_volume.to_string(),
                "V": k.taker_buy_volume.to_string(), "Q": taker_buy_quote(k).to_string(), "B": "0"
            }
        }
    })
    .to_string()
}

/// A REST `/api/v3/klines` row.
pub fn rest_row(k: &Kline) -> serde_json::Value {
    serde_json::json!([
        k.open_time,
        k.open.to_string(),
        k.high.to_string(),
        k.low.to_string(),
        k.close.to_string(),
        k.volume.to_string(),
        k.close_time,
        k.quote_volume.to_string(),
        k.trades,
        k.taker_buy_volume.to_string(),
        taker_buy_quote(k).to_string(),
        "0"
    ])
}

/// Taker buy quote volume: the buy share of the quote volume (the fixture does not store it).
fn taker_buy_quote(k: &Kline) -> f64 {
    if k.volume > 0.0 {
        k.quote_volume * k.taker_buy_volume / k.volume
    } else {
        0.0
    }
}
