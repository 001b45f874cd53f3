//! What `/health` reports: database reachability (auth failures named clearly), market data freshness, and
//! identity. 200 for ok/degraded, 503 for failing.

use crate::code::CodeSet;
use crate::config::{Config, MarketData};
use crate::store::DbError;
use crate::traders::InvalidTrader;
use crate::util::now_ms;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Degraded,
    Failing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Failing => "failing",
        }
    }
}

#[derive(Default)]
struct Dynamic {
    /// None until the first database round trip; Some(None) after a success.
    db: Option<Option<DbError>>,
    invalid: Vec<InvalidTrader>,
    code: Option<Arc<CodeSet>>,
    symbols: Vec<String>,
    /// Shortest followed interval, for staleness.
    min_interval_ms: Option<i64>,
}

pub struct Health {
    started: Instant,
    run_mode: &'static str,
    user_id: Option<String>,
    machine_id: Option<String>,
    app_name: Option<String>,
    replay: bool,
    stale_after: Option<Duration>,
    pub trader_count: AtomicU64,
    /// Wall-clock ms when the last closed candle was applied (0 = never).
    pub last_candle_at: AtomicI64,
    dynamic: Mutex<Dynamic>,
}

impl Health {
    pub fn new(c: &Config) -> Self {
        Health {
            started: Instant::now(),
            run_mode: c.run_mode.as_str(),
            user_id: c.user_id.map(|u| u.to_string()),
            machine_id: c.machine_id.clone(),
            app_name: c.app_name.clone(),
            replay: matches!(c.market, MarketData::Replay(_)),
            stale_after: c.stale_after,
            trader_count: AtomicU64::new(0),
            last_candle_at: AtomicI64::new(0),
            dynamic: Mutex::new(Dynamic::default()),
        }
    }

    fn dynamic(&self) -> std::sync::MutexGuard<'_, Dynamic> {
        self.dynamic.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn db_result<T>(&self, r: &Result<T, DbError>) {
        self.dynamic().db = Some(r.as_ref().err().cloned());
    }

    pub fn set_traders(
        &self,
        count: usize,
        invalid: Vec<InvalidTrader>,
        code: Arc<CodeSet>,
        symbols: Vec<String>,
        min_interval_ms: Option<i64>,
    ) {
        self.trader_count.store(count as u64, Ordering::Relaxed);
        let mut d = self.dynamic();
        d.invalid = invalid;
        d.code = Some(code);
        d.symbols = symbols;
        d.min_interval_ms = min_interval_ms;
    }

    pub fn candle_applied(&self) {
        self.last_candle_at.store(now_ms(), Ordering::Relaxed);
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn report(&self) -> (Status, Value) {
        let d = self.dynamic();
        let mut failing = Vec::new();
        let mut degraded = Vec::new();
        match &d.db {
            None => failing.push("database: not reached yet".to_string()),
            Some(Some(e)) => failing.push(e.to_string()),
            Some(None) => {}
        }
        let last = self.last_candle_at.load(Ordering::Relaxed);
        if let (Some(min_ms), false) = (d.min_interval_ms, self.replay) {
            // A closed candle is due every interval; allow two intervals plus a minute of slack.
            let limit = self
                .stale_after
                .map(|s| s.as_millis() as i64)
                .unwrap_or(2 * min_ms + 60_000);
            let since = if last == 0 {
                self.uptime().as_millis() as i64
            } else {
                now_ms() - last
            };
            if since > limit {
                degraded.push(format!(
                    "market data stale: no closed candle for {}s",
                    since / 1000
                ));
            }
        }
        for t in &d.invalid {
            degraded.push(format!("trader {} disabled: {}", t.id, t.reason));
        }
        // A code trader that stopped at a sandbox limit or keeps failing misses signals: degraded.
        let failing_traders: Vec<Value> = d
            .code
            .iter()
            .flat_map(|set| set.failures())
            .map(|(t, f)| {
                let state = if f.disabled { "disabled" } else { "failing" };
                degraded.push(format!("trader {} {state}: {}", t.id, f.reason));
                json!({"id": t.id, "name": t.name, "language": t.language, "reason": f.reason,
                       "disabled": f.disabled, "symbol": f.symbol, "failures": f.count,
                       "last_failure_at": chrono::DateTime::from_timestamp_millis(f.at_ms).map(|t| t.to_rfc3339())})
            })
            .collect();
        let status = if !failing.is_empty() {
            Status::Failing
        } else if !degraded.is_empty() {
            Status::Degraded
        } else {
            Status::Ok
        };
        failing.extend(degraded);
        let last_candle_at = (last > 0)
            .then(|| chrono::DateTime::from_timestamp_millis(last).map(|t| t.to_rfc3339()))
            .flatten();
        let body = json!({
            "status": status.as_str(),
            "reasons": failing,
            "run_mode": self.run_mode,
            "user_id": self.user_id,
            "trader_count": self.trader_count.load(Ordering::Relaxed),
            "disabled_traders": d.invalid,
            "failing_traders": failing_traders,
            "code_traders": d.code.as_ref().map_or(0, |c| c.traders.len()),
            "symbols": d.symbols.len(),
            "last_candle_at": last_candle_at,
            "version": env!("CARGO_PKG_VERSION"),
            "app": self.app_name,
            "machine_id": self.machine_id,
            "uptime_secs": self.uptime().as_secs(),
        });
        (status, body)
    }
}
