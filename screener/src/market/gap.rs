//! Ordering and gap repair per (symbol, interval): closed candles are applied exactly once and in order; when a
//! stream skips ahead, the missing candles are fetched over REST and applied *before* the later one, because
//! incremental indicators are corrupted by a missed candle.

use super::rest::BinanceRest;
use crate::candle::{Candle, Interval};
use crate::engine::{Applied, Engine, SignalRow};
use crate::metrics::Metrics;
use std::sync::Arc;

pub struct Sequencer {
    /// None in replay mode: there is nothing to backfill from.
    rest: Option<BinanceRest>,
    metrics: Arc<Metrics>,
}

impl Sequencer {
    pub fn new(rest: Option<BinanceRest>, metrics: Arc<Metrics>) -> Self {
        Sequencer { rest, metrics }
    }

    /// Loads recent history for a series. History only primes indicators and trigger memory; the most recent
    /// closed bar is evaluated for real, so a bar that closed while the process was (re)starting is not missed
    /// (the signals' unique key absorbs a repeat).
    pub async fn warm_up(
        &self,
        engine: &mut Engine,
        symbol: &str,
        tf: Interval,
        out: &mut Vec<SignalRow>,
    ) -> Result<(), String> {
        let Some(rest) = &self.rest else {
            return Ok(());
        };
        let candles = rest.recent(symbol, tf, engine.warmup_bars(tf)).await?;
        let last = candles.len().saturating_sub(1);
        for (i, c) in candles.iter().enumerate() {
            engine.apply(symbol, tf, c, i == last, out);
        }
        Ok(())
    }

    /// Handles one stream update. Errors leave the series untouched, so the next update retries the backfill.
    pub async fn on_kline(
        &self,
        engine: &mut Engine,
        symbol: &str,
        tf: Interval,
        candle: &Candle,
        closed: bool,
        out: &mut Vec<SignalRow>,
    ) -> Result<(), String> {
        if engine.last_open_time(symbol, tf).is_none() && self.rest.is_some() {
            self.warm_up(engine, symbol, tf, out).await?;
        }
        if let (Some(last), Some(rest)) = (engine.last_open_time(symbol, tf), &self.rest) {
            let expected = last + tf.millis();
            if candle.open_time > expected {
                self.metrics.inc(&self.metrics.gaps_detected);
                tracing::info!(symbol, %tf, from = expected, to = candle.open_time, "gap in stream; backfilling");
                let missing = rest
                    .klines(symbol, tf, expected, candle.open_time - 1)
                    .await?;
                for c in &missing {
                    if engine.apply(symbol, tf, c, true, out) == Applied::Applied {
                        self.metrics.inc(&self.metrics.candles_backfilled);
                    }
                }
                if engine
                    .last_open_time(symbol, tf)
                    .is_some_and(|l| l + tf.millis() < candle.open_time)
                {
                    return Err(format!(
                        "{symbol} {tf}: REST did not return the missing candles yet"
                    ));
                }
            }
        }
        if closed {
            match engine.apply(symbol, tf, candle, true, out) {
                Applied::Applied => self.metrics.inc(&self.metrics.candles_closed),
                Applied::Duplicate => self.metrics.inc(&self.metrics.candles_duplicate),
                Applied::Unknown => {}
            }
        }
        Ok(())
    }
}
