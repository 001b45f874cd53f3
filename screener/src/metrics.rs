//! Process metrics as atomics, rendered in the Prometheus text format for `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub ws_messages: AtomicU64,
    pub ws_connects: AtomicU64,
    pub ws_disconnects: AtomicU64,
    pub candles_closed: AtomicU64,
    pub candles_duplicate: AtomicU64,
    pub candles_backfilled: AtomicU64,
    pub gaps_detected: AtomicU64,
    pub rest_requests: AtomicU64,
    pub rest_errors: AtomicU64,
    pub rest_rate_limited: AtomicU64,
    pub signals_emitted: AtomicU64,
    pub signals_inserted: AtomicU64,
    pub signals_duplicate: AtomicU64,
    pub signal_write_errors: AtomicU64,
    pub signals_pending: AtomicU64,
    pub trader_reloads: AtomicU64,
    pub traders_active: AtomicU64,
    pub traders_invalid: AtomicU64,
    pub eval_nanos_total: AtomicU64,
    pub code_closes: AtomicU64,
    pub code_evaluations: AtomicU64,
    pub code_failures: AtomicU64,
    pub code_eval_nanos_total: AtomicU64,
    pub code_traders_disabled: AtomicU64,
}

impl Metrics {
    pub fn inc(&self, c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn set(&self, g: &AtomicU64, n: u64) {
        g.store(n, Ordering::Relaxed);
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    pub fn render(&self, uptime_secs: f64, healthy: u8) -> String {
        let counters: [(&str, &AtomicU64, &str); 18] = [
            (
                "screener_ws_messages_total",
                &self.ws_messages,
                "WebSocket messages received",
            ),
            (
                "screener_ws_connects_total",
                &self.ws_connects,
                "WebSocket connections opened",
            ),
            (
                "screener_ws_disconnects_total",
                &self.ws_disconnects,
                "WebSocket connections lost or renewed",
            ),
            (
                "screener_candles_closed_total",
                &self.candles_closed,
                "Closed candles applied",
            ),
            (
                "screener_candles_duplicate_total",
                &self.candles_duplicate,
                "Closed candles dropped as already applied",
            ),
            (
                "screener_candles_backfilled_total",
                &self.candles_backfilled,
                "Candles applied from REST gap backfill",
            ),
            (
                "screener_gaps_detected_total",
                &self.gaps_detected,
                "Gaps in a kline stream",
            ),
            (
                "screener_rest_requests_total",
                &self.rest_requests,
                "Binance REST requests",
            ),
            (
                "screener_rest_errors_total",
                &self.rest_errors,
                "Failed Binance REST requests",
            ),
            (
                "screener_rest_rate_limited_total",
                &self.rest_rate_limited,
                "Binance 429/418 responses",
            ),
            (
                "screener_signals_emitted_total",
                &self.signals_emitted,
                "Signals produced by traders",
            ),
            (
                "screener_signals_inserted_total",
                &self.signals_inserted,
                "Signal rows inserted",
            ),
            (
                "screener_signals_duplicate_total",
                &self.signals_duplicate,
                "Signal rows skipped by the unique key",
            ),
            (
                "screener_signal_write_errors_total",
                &self.signal_write_errors,
                "Failed signal batch writes",
            ),
            (
                "screener_trader_reloads_total",
                &self.trader_reloads,
                "Trader set reloads",
            ),
            (
                "screener_code_closes_total",
                &self.code_closes,
                "Symbol closes the code workers finished (all due code traders evaluated)",
            ),
            (
                "screener_code_evaluations_total",
                &self.code_evaluations,
                "Code trader (Go/JavaScript) evaluations, one per trader per symbol per close",
            ),
            (
                "screener_code_failures_total",
                &self.code_failures,
                "Code trader evaluations that stopped with an error or at a sandbox limit",
            ),
        ];
        let gauges: [(&str, u64, &str); 5] = [
            (
                "screener_signals_pending",
                Self::get(&self.signals_pending),
                "Signals waiting to be written",
            ),
            (
                "screener_traders_active",
                Self::get(&self.traders_active),
                "Traders being evaluated",
            ),
            (
                "screener_traders_invalid",
                Self::get(&self.traders_invalid),
                "Traders disabled by an invalid filter",
            ),
            (
                "screener_code_traders_disabled",
                Self::get(&self.code_traders_disabled),
                "Code traders stopped at a sandbox limit until their code changes",
            ),
            (
                "screener_healthy",
                healthy as u64,
                "1 when /health is ok or degraded",
            ),
        ];
        let mut out = String::new();
        for (name, c, help) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                Self::get(c)
            );
        }
        for (name, v, help) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let eval_secs = Self::get(&self.eval_nanos_total) as f64 / 1e9;
        let _ = writeln!(
            out,
            "# HELP screener_eval_seconds_total CPU-bound time spent applying candles and evaluating traders\n\
             # TYPE screener_eval_seconds_total counter\nscreener_eval_seconds_total {eval_secs}"
        );
        let code_secs = Self::get(&self.code_eval_nanos_total) as f64 / 1e9;
        let _ = writeln!(
            out,
            "# HELP screener_code_eval_seconds_total Time the code workers spent evaluating Go/JavaScript traders\n\
             # TYPE screener_code_eval_seconds_total counter\nscreener_code_eval_seconds_total {code_secs}"
        );
        let _ = writeln!(
            out,
            "# HELP screener_uptime_seconds Seconds since start\n# TYPE screener_uptime_seconds gauge\nscreener_uptime_seconds {uptime_secs}"
        );
        out
    }
}
