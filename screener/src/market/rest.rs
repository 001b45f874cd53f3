//! Binance REST: klines for warm-up and gap backfill, and the 24h ticker for the default symbol universe.
//! Honours 429/418 `Retry-After`, slows down when `X-MBX-USED-WEIGHT-1M` nears the limit, and spaces requests
//! out so many machines behind one egress IP stay under the per-IP budget.

use super::kline::parse_rest;
use crate::candle::{Candle, Interval};
use crate::metrics::Metrics;
use crate::util::{jittered_backoff, now_ms};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::{sleep, Instant};

/// Stay below this share of the 6000-per-minute IP weight budget.
const WEIGHT_SOFT_LIMIT: u64 = 4800;
const MAX_ATTEMPTS: u32 = 6;
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct BinanceRest {
    base: String,
    http: reqwest::Client,
    /// Earliest time the next request may start (request spacing and server-requested pauses).
    next_slot: Arc<Mutex<Instant>>,
    spacing: Duration,
    metrics: Arc<Metrics>,
}

impl BinanceRest {
    pub fn new(base: &str, spacing: Duration, metrics: Arc<Metrics>) -> Self {
        BinanceRest {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .user_agent(concat!("fleet-screener/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("building the HTTP client"),
            next_slot: Arc::new(Mutex::new(Instant::now())),
            spacing,
            metrics,
        }
    }

    async fn wait_for_slot(&self) {
        let start = {
            let mut slot = self.next_slot.lock().await;
            let start = (*slot).max(Instant::now());
            *slot = start + self.spacing;
            start
        };
        tokio::time::sleep_until(start).await;
    }

    async fn pause_all(&self, d: Duration) {
        let mut slot = self.next_slot.lock().await;
        *slot = (*slot).max(Instant::now() + d);
    }

    /// GET `path` and return the body, retrying transient failures with jittered backoff.
    async fn get(&self, path: &str) -> Result<String, String> {
        let url = format!("{}{}", self.base, path);
        let mut last_err = String::new();
        for attempt in 0..MAX_ATTEMPTS {
            self.wait_for_slot().await;
            self.metrics.inc(&self.metrics.rest_requests);
            match self.http.get(&url).send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let weight = header_u64(&resp, "x-mbx-used-weight-1m");
                    if status == 429 || status == 418 {
                        self.metrics.inc(&self.metrics.rest_rate_limited);
                        let secs = header_u64(&resp, "retry-after").unwrap_or(60);
                        let wait = Duration::from_secs(secs).min(MAX_RETRY_AFTER);
                        tracing::warn!(
                            status,
                            wait_secs = wait.as_secs(),
                            "binance rate limit; backing off"
                        );
                        self.pause_all(wait).await;
                        last_err = format!("HTTP {status} (rate limited)");
                        continue;
                    }
                    if weight.is_some_and(|w| w >= WEIGHT_SOFT_LIMIT) {
                        // Wait for the next minute window before spending more weight.
                        let to_next_minute = 60_000 - now_ms().rem_euclid(60_000) as u64;
                        self.pause_all(Duration::from_millis(to_next_minute)).await;
                    }
                    let body = resp
                        .text()
                        .await
                        .map_err(|e| format!("reading {path}: {e}"))?;
                    if (200..300).contains(&status) {
                        return Ok(body);
                    }
                    last_err = format!(
                        "HTTP {status}: {}",
                        body.chars().take(200).collect::<String>()
                    );
                    if (400..500).contains(&status) {
                        return Err(last_err);
                    }
                }
                Err(e) => last_err = format!("request failed: {e}"),
            }
            self.metrics.inc(&self.metrics.rest_errors);
            sleep(jittered_backoff(
                attempt,
                Duration::from_millis(500),
                Duration::from_secs(30),
            ))
            .await;
        }
        Err(last_err)
    }

    /// Closed candles with `start <= open_time <= end`, paging 1000 rows at a time.
    pub async fn klines(
        &self,
        symbol: &str,
        tf: Interval,
        start: i64,
        end: i64,
    ) -> Result<Vec<Candle>, String> {
        let mut out: Vec<Candle> = Vec::new();
        let mut from = start;
        for _ in 0..1000 {
            let path = format!(
                "/api/v3/klines?symbol={symbol}&interval={}&startTime={from}&endTime={end}&limit=1000",
                tf.name()
            );
            let page = parse_rest(&self.get(&path).await?, now_ms())?;
            let full = page.len() == 1000;
            out.extend(
                page.into_iter()
                    .filter(|c| c.open_time >= from && c.open_time <= end),
            );
            match out.last() {
                Some(last) if full && last.open_time < end => from = last.open_time + tf.millis(),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The last `count` closed candles.
    pub async fn recent(
        &self,
        symbol: &str,
        tf: Interval,
        count: usize,
    ) -> Result<Vec<Candle>, String> {
        let limit = (count + 1).min(1000);
        let path = format!(
            "/api/v3/klines?symbol={symbol}&interval={}&limit={limit}",
            tf.name()
        );
        parse_rest(&self.get(&path).await?, now_ms())
    }

    /// The `n` USDT pairs with the highest 24h quote volume.
    pub async fn top_usdt_symbols(&self, n: usize) -> Result<Vec<String>, String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Ticker {
            symbol: String,
            quote_volume: String,
        }
        let body = self.get("/api/v3/ticker/24hr").await?;
        let tickers: Vec<Ticker> =
            serde_json::from_str(&body).map_err(|e| format!("bad ticker response: {e}"))?;
        let mut usdt: Vec<(f64, String)> = tickers
            .into_iter()
            .filter(|t| t.symbol.ends_with("USDT") && !is_leveraged_token(&t.symbol))
            .map(|t| (t.quote_volume.parse().unwrap_or(0.0), t.symbol))
            .collect();
        usdt.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(usdt.into_iter().take(n).map(|(_, s)| s).collect())
    }
}

fn is_leveraged_token(symbol: &str) -> bool {
    ["UPUSDT", "DOWNUSDT", "BULLUSDT", "BEARUSDT"]
        .iter()
        .any(|suffix| symbol.ends_with(suffix) && symbol.len() > suffix.len())
}

fn header_u64(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}
