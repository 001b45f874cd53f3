//! Delivering queued notifications to the webhook, after the sweep's own work and within a bounded time:
//! each request may take at most `request_timeout` (and never past the delivery budget), and no new delivery
//! starts once the budget is spent. Each notification is claimed by one worker before it is sent (two hosts
//! never send one twice); one that fails goes back to the queue with a growing delay and is retried by a later
//! sweep, up to `max_attempts`. Failure reasons name the status or the error class only, never the URL (a
//! Slack webhook URL is itself a secret).

use std::time::Duration;

use fleet_reconcile::Clock;
use fleet_store::time::after;
use fleet_store::{DeliveryOutcome, SqlConnection, Store, StoreError};
use fly_api::{Secret, Transport, TransportError};
use futures::future::{select, Either};
use serde::Serialize;

use crate::alerts::body::{render, WebhookFormat};

/// Notifications not delivered within this long are given up (`failed`, "expired").
const EXPIRE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Where and how alerts are sent (the `health` component's variables).
#[derive(Clone, Debug)]
pub struct AlertSink {
    /// The webhook URL; a secret (Slack's URL is the credential).
    pub url: Secret<String>,
    pub format: WebhookFormat,
    /// The longest one delivery may take.
    pub request_timeout: Duration,
    /// The longest all deliveries of one sweep may take together.
    pub budget: Duration,
    /// The first retry waits this long; each further one twice as long, at most an hour.
    pub retry_base: Duration,
    pub max_attempts: u32,
}

/// What one delivery round did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub sent: u32,
    pub failed: u32,
    /// Whether the budget ran out with notifications possibly still due.
    pub out_of_time: bool,
}

/// Delivers due notifications until none is left or the budget is spent. Only store failures are errors.
pub async fn deliver_alerts<C: SqlConnection, T: Transport, K: Clock>(
    store: &mut Store<C>,
    transport: &T,
    sink: &AlertSink,
    clock: &K,
    owner: &str,
) -> Result<DeliveryReport, StoreError> {
    let started = clock.now();
    let deadline = after(started, sink.budget);
    let lease = sink.request_timeout.saturating_add(Duration::from_secs(30));
    let expire_before = fleet_store::time::before(started, EXPIRE_AFTER);
    let mut report = DeliveryReport::default();
    loop {
        let now = clock.now();
        if now >= deadline {
            report.out_of_time = true;
            break;
        }
        // Only what was due when the round began: a failure retried "now" waits for the next round.
        let claimed = store.claim_alert_deliveries(owner, now, started, lease, 1, expire_before)?;
        let Some(alert) = claimed.into_iter().next() else {
            break;
        };
        let left = (deadline - now).to_std().unwrap_or_default();
        let timeout = sink.request_timeout.min(left);
        let body = render(sink.format, &alert);
        let outcome = send(transport, clock, &sink.url, &body, timeout).await;
        let now = clock.now();
        match outcome {
            Ok(()) => {
                report.sent += 1;
                store.finish_alert_delivery(alert.id, owner, &DeliveryOutcome::Sent, now)?;
            }
            Err(reason) => {
                report.failed += 1;
                let attempts = u32::try_from(alert.attempts).unwrap_or(u32::MAX);
                let retry_at = (attempts < sink.max_attempts).then(|| {
                    after(now, retry_delay(sink.retry_base, attempts))
                        .max(after(started, Duration::from_millis(1)))
                });
                let outcome = DeliveryOutcome::Failed {
                    reason: &reason,
                    retry_at,
                };
                store.finish_alert_delivery(alert.id, owner, &outcome, now)?;
            }
        }
    }
    Ok(report)
}

/// The wait before retry number `attempts` (1-based): base, 2×base, 4×base ... at most an hour.
pub fn retry_delay(base: Duration, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(16);
    base.saturating_mul(1u32 << exponent)
        .min(Duration::from_secs(3600))
}

/// Posts one body; the reason of a failure names no URL and no response body.
async fn send<T: Transport, K: Clock>(
    transport: &T,
    clock: &K,
    url: &Secret<String>,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<(), String> {
    let request = http::Request::post(url.expose().as_str())
        .header("content-type", "application/json")
        .header("user-agent", "fleet-alerts")
        .body(body.to_string().into_bytes())
        .map_err(|_| "the webhook URL is not a valid URL".to_string())?;
    let sending = std::pin::pin!(transport.send(request));
    let timer = std::pin::pin!(clock.sleep(timeout));
    match select(sending, timer).await {
        Either::Left((Ok(response), _)) if response.status().is_success() => Ok(()),
        Either::Left((Ok(response), _)) => Err(format!(
            "the webhook answered HTTP {}",
            response.status().as_u16()
        )),
        Either::Left((Err(TransportError::NotSent(_)), _)) => {
            Err("the webhook could not be reached (not sent)".to_string())
        }
        Either::Left((Err(TransportError::Interrupted(_)), _)) => {
            Err("the webhook connection failed after sending".to_string())
        }
        Either::Right(_) => Err(format!(
            "the webhook did not answer within {} ms",
            timeout.as_millis()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(retry_delay(base, 1), base);
        assert_eq!(retry_delay(base, 3), Duration::from_secs(120));
        assert_eq!(retry_delay(base, 40), Duration::from_secs(3600));
        assert_eq!(retry_delay(Duration::ZERO, 5), Duration::ZERO);
    }
}
