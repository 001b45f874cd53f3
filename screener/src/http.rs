//! `GET /health` and `GET /metrics`. Without the app's probe token (`Authorization: Bearer
//! <FLEET_PROBE_TOKEN>`) `/health` answers liveness only (`{"status": ...}`: no user, no traders, no reasons,
//! no machine or version) and `/metrics` is refused: whoever can reach the machine learns nothing about its
//! user.

use crate::health::{Health, Status};
use crate::metrics::Metrics;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
    /// The app's probe token; `None`: details are shown to nobody.
    pub probe_token: Option<Arc<String>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(
                    serde_json::json!({"error": "not_found", "detail": "try /health or /metrics"}),
                ),
            )
        })
        .with_state(state)
}

/// Whether the request carries the probe token. A request that presents a wrong token is told so (401).
enum Caller {
    Anonymous,
    Prober,
    WrongToken,
}

fn caller(state: &AppState, headers: &HeaderMap) -> Caller {
    let Some(given) = headers.get(header::AUTHORIZATION) else {
        return Caller::Anonymous;
    };
    let given = given
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().as_bytes());
    match (given, state.probe_token.as_deref()) {
        (Some(given), Some(token)) if constant_time_eq(given, token.as_bytes()) => Caller::Prober,
        _ => Caller::WrongToken,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(serde_json::json!({"error": "unauthorized", "detail": "a valid probe token is required"})),
    )
        .into_response()
}

async fn health(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (status, body) = s.health.report();
    let code = match status {
        Status::Ok | Status::Degraded => StatusCode::OK,
        Status::Failing => StatusCode::SERVICE_UNAVAILABLE,
    };
    match caller(&s, &headers) {
        Caller::Prober => (code, Json(body)).into_response(),
        Caller::Anonymous => {
            (code, Json(serde_json::json!({"status": status.as_str()}))).into_response()
        }
        Caller::WrongToken => unauthorized(),
    }
}

async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !matches!(caller(&s, &headers), Caller::Prober) {
        return unauthorized();
    }
    let healthy = u8::from(s.health.report().0 != Status::Failing);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(s.health.uptime().as_secs_f64(), healthy),
    )
        .into_response()
}
