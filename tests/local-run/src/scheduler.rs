//! The local run's scheduler: `POST /health/sweep` every few seconds, signed with the webhook secret
//! (`X-Fleet-Signature`), as pg_cron or any external scheduler calls it in production.
//!
//! Before its first sweep it delivers the webhooks billing would have sent for the seeded paid users
//! (`POST /provision`), so their apps start at once.

use fly_api::Secret;
use serde_json::Value;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the scheduler has seen so far.
#[derive(Clone, Debug, Default)]
pub struct SweepLog {
    /// Sweeps answered 200.
    pub completed: u64,
    /// Sweeps that failed (transport error or non-200).
    pub failed: u64,
    /// The last 200 answer's summary.
    pub last_summary: Option<Value>,
}

pub struct Scheduler {
    log: Arc<Mutex<SweepLog>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Scheduler {
    /// Sends the seeded users' webhooks to `host`, then sweeps every `every` (first after one period).
    pub fn start(
        host: String,
        secret: Secret<String>,
        every: Duration,
        paid_users: Vec<(String, String)>,
    ) -> anyhow::Result<Scheduler> {
        let log = Arc::new(Mutex::new(SweepLog::default()));
        let (stop, stopped) = mpsc::channel::<()>();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let shared = log.clone();
        let thread = std::thread::Builder::new().name("sweep-scheduler".into()).spawn(move || {
            let sweep_url = format!("{host}/health/sweep");
            for (user, tier) in &paid_users {
                if !deliver_webhook(&http, &host, secret.expose(), user, tier, &stopped) {
                    return;
                }
            }
            let mut warned = false;
            loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                let outcome = sweep_once(&http, &sweep_url, secret.expose());
                let mut log = shared.lock().unwrap_or_else(|e| e.into_inner());
                match outcome {
                    Ok(summary) => {
                        log.completed += 1;
                        report(&summary);
                        log.last_summary = Some(summary);
                    }
                    Err(why) => {
                        log.failed += 1;
                        if !warned {
                            tracing::warn!(%why, "health sweep failed; the scheduler keeps trying");
                            warned = true;
                        } else {
                            tracing::debug!(%why, "health sweep failed");
                        }
                    }
                }
            }
        })?;
        Ok(Scheduler {
            log,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Asks the thread to stop after its current request (the host's shutdown then ends that request).
    pub fn request_stop(&mut self) {
        drop(self.stop.take());
    }

    pub fn log(&self) -> SweepLog {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.request_stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Posts a subscription webhook until `/provision` answers 200 (converged), for at most a minute.
/// Returns false when asked to stop meanwhile.
fn deliver_webhook(
    http: &reqwest::blocking::Client,
    host: &str,
    secret: &str,
    user: &str,
    tier: &str,
    stop: &mpsc::Receiver<()>,
) -> bool {
    let row = serde_json::json!({"user_id": user, "tier": tier, "status": "active"});
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        // Signed like the database's hints; a fresh hint_id per attempt, since a signature is accepted once.
        let hint = serde_json::json!({"type": "INSERT", "table": "user_subscriptions", "schema": "public",
                                      "record": row, "old_record": null,
                                      "hint_id": uuid::Uuid::new_v4().to_string()});
        let body = hint.to_string().into_bytes();
        let signature =
            fleet_http::auth::sign_request(secret, chrono::Utc::now().timestamp(), &body);
        let answer = http
            .post(format!("{host}/provision"))
            .header("content-type", "application/json")
            .header(fleet_http::auth::SIGNATURE_HEADER, signature)
            .body(body)
            .send();
        match answer.map(|a| a.status().as_u16()) {
            Ok(200) => return true,
            Ok(202) => {}
            Ok(status) => {
                tracing::warn!(%user, status, "the seeded user's webhook was refused; the sweep will provision");
                return true;
            }
            Err(e) => tracing::debug!(%user, error = %e, "webhook delivery failed; retrying"),
        }
        match stop.recv_timeout(Duration::from_millis(500)) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
    true
}

fn sweep_once(http: &reqwest::blocking::Client, url: &str, secret: &str) -> Result<Value, String> {
    // A fresh hint_id: a signature is accepted once, and sweeps may come faster than once a second.
    let body = serde_json::json!({"hint_id": uuid::Uuid::new_v4().to_string()})
        .to_string()
        .into_bytes();
    let signature = fleet_http::auth::sign_request(secret, chrono::Utc::now().timestamp(), &body);
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .header(fleet_http::auth::SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .map_err(|e| e.to_string())?;
    let status = answer.status().as_u16();
    let text = answer.text().map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!(
            "HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "not JSON ({e}): {}",
            text.chars().take(300).collect::<String>()
        )
    })
}

/// Logs a sweep that did something at info, a quiet one at debug.
fn report(summary: &Value) {
    let acted = [
        "repaired",
        "provisioned",
        "deprovisioned",
        "rolled",
        "unhealthy",
        "orphans",
    ]
    .iter()
    .any(|key| summary[key].as_u64().unwrap_or(0) > 0);
    if acted {
        tracing::info!(%summary, "health sweep");
    } else {
        tracing::debug!(%summary, "health sweep");
    }
}
