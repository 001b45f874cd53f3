//! The screener's own `/health`, probed at the app's URL. It tells who the machine thinks it serves
//! (`user_id`, `run_mode`) and how fresh its data is; Fly's checks cannot tell a machine serving the wrong
//! user from the right one.

use fly_api::{Secret, Transport};
use serde::Deserialize;

/// The parts of the screener's `/health` body the sweep judges (unknown fields are ignored).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ScreenerHealth {
    /// `ok`, `degraded` or `failing`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub run_mode: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub trader_count: Option<u64>,
    #[serde(default)]
    pub last_candle_at: Option<String>,
}

impl ScreenerHealth {
    /// The unauthenticated answer: a status and nothing that says who the screener serves.
    pub fn is_liveness_only(&self) -> bool {
        self.user_id.is_none() && self.run_mode.is_none() && self.trader_count.is_none()
    }
}

/// What the probe saw.
#[derive(Clone, Debug, PartialEq)]
pub enum ProbeResult {
    /// No started machine: nothing to ask.
    NotProbed,
    /// No HTTP answer (connection refused, timeout ...).
    Unreachable(String),
    /// An HTTP answer; `body` is `None` when it was not the screener's JSON.
    Answered {
        http_status: u16,
        body: Option<ScreenerHealth>,
    },
}

/// Reads an answer: the status and, when it parses, the screener's report.
pub fn parse_answer(http_status: u16, body: &[u8]) -> ProbeResult {
    ProbeResult::Answered {
        http_status,
        body: serde_json::from_slice(body).ok(),
    }
}

/// `GET {base_url}/health` through `transport` (not counted as a Fly call), with the app's probe token as
/// `Authorization: Bearer` when one is configured (the screener shows its details only to it).
pub async fn probe_health<P: Transport>(
    transport: &P,
    base_url: &str,
    token: Option<&Secret<String>>,
) -> ProbeResult {
    let mut request = http::Request::builder()
        .method(http::Method::GET)
        .uri(format!("{base_url}/health"))
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, "fleet-health-sweep");
    if let Some(token) = token {
        request = request.header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", token.expose()),
        );
    }
    let request = request.body(Vec::new());
    let request = match request {
        Ok(request) => request,
        Err(e) => return ProbeResult::Unreachable(format!("invalid app URL: {e}")),
    };
    match transport.send(request).await {
        Ok(response) => parse_answer(response.status().as_u16(), response.body()),
        Err(e) => ProbeResult::Unreachable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_screener_report_parses_and_anything_else_is_kept_as_unparsed() {
        let body = br#"{"status":"ok","reasons":[],"run_mode":"user_dedicated","user_id":"u","trader_count":3,"extra":1}"#;
        let ProbeResult::Answered {
            http_status: 200,
            body: Some(report),
        } = parse_answer(200, body)
        else {
            panic!("expected a parsed report");
        };
        assert_eq!(
            (report.run_mode.as_deref(), report.trader_count),
            (Some("user_dedicated"), Some(3))
        );
        assert_eq!(
            parse_answer(502, b"<html>bad gateway</html>"),
            ProbeResult::Answered {
                http_status: 502,
                body: None
            }
        );
    }
}
