//! The alert variables: thresholds for the sweep's evaluation and the webhook the queued notifications go to.
//! A broken webhook setting never stops a sweep: it is reported in the sweep's answer and nothing is sent.

use std::time::Duration;

use fleet_http::ApiError;
use fleet_reconcile::SystemClock;
use fleet_spin_runtime::settings::optional;
use fleet_store::{SqlConnection, Store};
use fleet_sweep::alerts::{deliver_alerts, AlertRules, AlertSink, WebhookFormat};
use fly_api::transport_spin::SpinTransport;
use fly_api::Secret;
use serde_json::{json, Value};

use crate::settings::{config_error, number};

/// The thresholds of [`fleet_sweep::alerts::rules`].
pub fn alert_rules() -> Result<AlertRules, ApiError> {
    let budget = optional("alert_monthly_budget_usd", "");
    let monthly_budget_usd = match budget.trim() {
        "" => None,
        text => match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
            _ => {
                return Err(config_error(
                    "alert_monthly_budget_usd",
                    "must be empty or a non-negative number",
                ))
            }
        },
    };
    Ok(AlertRules {
        provision_stuck_after: Duration::from_secs(number("alert_provision_stuck_secs", "1800")?),
        monthly_budget_usd,
        renotify_after: Duration::from_secs(number("alert_renotify_secs", "21600")?),
    })
}

/// The webhook, or why there is none (`Ok(None)`: not configured).
fn alert_sink() -> Result<Option<AlertSink>, String> {
    let url = optional("alert_webhook_url", "");
    let url = url.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let valid = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !r.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if !valid {
        return Err("variable alert_webhook_url: must be an http(s) URL".to_string());
    }
    let format = WebhookFormat::parse(&optional("alert_webhook_format", "slack"))
        .map_err(|problem| format!("variable alert_webhook_format: {problem}"))?;
    let millis = |name: &str, default: &str| -> Result<Duration, String> {
        number::<u64>(name, default)
            .map(Duration::from_millis)
            .map_err(|_| format!("variable {name}: is not a number"))
    };
    Ok(Some(AlertSink {
        url: Secret::new(url.to_string()),
        format,
        request_timeout: millis("alert_timeout_ms", "3000")?,
        budget: millis("alert_delivery_budget_ms", "5000")?,
        retry_base: Duration::from_secs(
            number("alert_retry_base_secs", "60")
                .map_err(|_| "variable alert_retry_base_secs: is not a number".to_string())?,
        ),
        max_attempts: number("alert_max_attempts", "10")
            .map_err(|_| "variable alert_max_attempts: is not a number".to_string())?,
    }))
}

/// Delivers due notifications after a sweep; the answer's `alert_delivery` field.
pub async fn deliver<C: SqlConnection>(store: &mut Store<C>, owner: &str) -> Value {
    let sink = match alert_sink() {
        Ok(Some(sink)) => sink,
        Ok(None) => return json!({"configured": false}),
        Err(problem) => return json!({"configured": false, "error": problem}),
    };
    match deliver_alerts(store, &SpinTransport, &sink, &SystemClock, owner).await {
        Ok(report) => json!({"configured": true, "sent": report.sent, "failed": report.failed,
                             "out_of_time": report.out_of_time}),
        Err(e) => json!({"configured": true,
                         "error": fleet_store::sanitize_error(&format!("the store failed: {e}"))}),
    }
}
