//! Webhook bodies. Pure. `slack`: a Slack-compatible incoming-webhook body `{"text": ...}` (also accepted by
//! Mattermost, Rocket.Chat and Discord's `/slack` endpoints). `generic`: `{"kind", "key", "severity", "state",
//! "summary", "at"}`. Both carry only the outbox row's fields, which are sanitised when recorded.

use fleet_store::{format_time, AlertDelivery};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFormat {
    Slack,
    Generic,
}

impl WebhookFormat {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "slack" => Ok(WebhookFormat::Slack),
            "generic" => Ok(WebhookFormat::Generic),
            other => Err(format!("must be slack or generic, not {other:?}")),
        }
    }
}

/// The JSON body of one notification.
pub fn render(format: WebhookFormat, alert: &AlertDelivery) -> Value {
    match format {
        WebhookFormat::Generic => json!({
            "kind": alert.kind,
            "key": alert.key,
            "severity": alert.severity,
            "state": alert.state,
            "summary": alert.summary,
            "at": format_time(alert.created_at),
        }),
        WebhookFormat::Slack => {
            let head = if alert.state == "resolved" {
                "RESOLVED".to_string()
            } else {
                alert.severity.to_uppercase()
            };
            json!({
                "text": format!(
                    "[Fleet {head}] {}: {} (key {}, {})",
                    alert.kind,
                    alert.summary,
                    alert.key,
                    format_time(alert.created_at)
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn alert(state: &str) -> AlertDelivery {
        let at = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc();
        AlertDelivery {
            id: 1,
            key: "app_unhealthy:vyx-user-1".into(),
            kind: "app_unhealthy".into(),
            severity: "warning".into(),
            state: state.into(),
            summary: "app vyx-user-1 is unhealthy".into(),
            created_at: at,
            delivery: "sending".into(),
            attempts: 1,
            next_attempt_at: at,
            delivered_at: None,
            last_error: None,
        }
    }

    #[test]
    fn generic_has_exactly_the_documented_fields() {
        let body = render(WebhookFormat::Generic, &alert("firing"));
        assert_eq!(
            body,
            json!({"kind": "app_unhealthy", "key": "app_unhealthy:vyx-user-1", "severity": "warning",
                   "state": "firing", "summary": "app vyx-user-1 is unhealthy",
                   "at": "2026-03-01T12:00:00.000Z"})
        );
    }

    #[test]
    fn slack_is_one_text_field() {
        let body = render(WebhookFormat::Slack, &alert("resolved"));
        let text = body["text"].as_str().unwrap();
        assert!(
            text.starts_with("[Fleet RESOLVED] app_unhealthy:"),
            "{text}"
        );
        assert_eq!(body.as_object().unwrap().len(), 1);
        let firing = render(WebhookFormat::Slack, &alert("firing"));
        assert!(firing["text"]
            .as_str()
            .unwrap()
            .starts_with("[Fleet WARNING]"));
    }

    #[test]
    fn format_parses_only_known_values() {
        assert_eq!(WebhookFormat::parse(" slack "), Ok(WebhookFormat::Slack));
        assert_eq!(WebhookFormat::parse("generic"), Ok(WebhookFormat::Generic));
        assert!(WebhookFormat::parse("teams").is_err());
    }
}
