//! `GET /health` and `GET /metrics`.

use crate::health::{Health, Status};
use crate::metrics::Metrics;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
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

async fn health(State(s): State<AppState>) -> impl IntoResponse {
    let (status, body) = s.health.report();
    let code = match status {
        Status::Ok | Status::Degraded => StatusCode::OK,
        Status::Failing => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, Json(body))
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let healthy = u8::from(s.health.report().0 != Status::Failing);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(s.health.uptime().as_secs_f64(), healthy),
    )
}
