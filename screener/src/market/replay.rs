//! Replay mode: closed candles from a JSON-lines file, one candle per line, applied in file order.
//!
//! `{"symbol":"BTCUSDT","interval":"1m","open_time":..,"close_time":..,"open":..,"high":..,"low":..,"close":..,
//!   "volume":..,"quote_volume":..}`

use super::MarketEvent;
use crate::candle::{Candle, Interval};
use serde::Deserialize;
use std::path::Path;
use tokio::sync::mpsc;

#[derive(Deserialize)]
struct Line {
    symbol: String,
    interval: Interval,
    #[serde(flatten)]
    candle: Candle,
}

/// Reads and validates the whole file (so a bad file fails at startup with its line number).
pub fn load(path: &Path) -> Result<Vec<MarketEvent>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading replay file {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let line: Line = serde_json::from_str(l)
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            Ok(MarketEvent::Kline {
                symbol: line.symbol.to_ascii_uppercase(),
                interval: line.interval,
                candle: line.candle,
                closed: true,
            })
        })
        .collect()
}

/// The (symbol, interval) pairs a replay file covers.
pub fn series(events: &[MarketEvent]) -> Vec<String> {
    let mut symbols: Vec<String> = events
        .iter()
        .map(|MarketEvent::Kline { symbol, .. }| symbol.clone())
        .collect();
    symbols.sort();
    symbols.dedup();
    symbols
}

pub async fn run(events: Vec<MarketEvent>, tx: mpsc::UnboundedSender<MarketEvent>) {
    for ev in events {
        if tx.send(ev).is_err() {
            return;
        }
    }
}
