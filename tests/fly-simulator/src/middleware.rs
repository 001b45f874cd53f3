//! The layer in front of every `/v1` route: bearer auth, latency, rate limits, fault injection,
//! `fly-request-id`, and the redacted request log.

use crate::faults::FaultKind;
use crate::request_log::{redact, LogEntry};
use crate::sim::Sim;
use axum::body::{to_bytes, Body};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const MAX_BODY: usize = 4 * 1024 * 1024;

fn fly_error(code: StatusCode, error: &str) -> Response {
    (code, Json(json!({ "error": error }))).into_response()
}

fn authorized(sim: &Sim, req: &Request) -> bool {
    let Some(got) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let token = &sim.config.token;
    let expected = if token.starts_with("FlyV1 ") {
        token.clone()
    } else {
        format!("Bearer {token}")
    };
    // Constant-time comparison: the token is a secret.
    got.len() == expected.len()
        && got
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub async fn api_layer(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    // Like a real API, finish (and log) a request whose caller hung up mid-flight: dropping the handler
    // would leave an effect without its log entry.
    match tokio::spawn(serve_and_log(sim, req, next)).await {
        // The effect happened and is logged; now lose the answer: unwinding out of the connection's
        // task makes hyper drop the socket without a status line. `resume_unwind` skips the panic hook,
        // so nothing is printed; tokio contains the unwind to this one connection task.
        Ok((_, Some(FaultKind::AfterDrop))) => {
            std::panic::resume_unwind(Box::new("fly-simulator: answer dropped after the effect"))
        }
        Ok((response, _)) => response,
        Err(_) => fly_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulator handler failed",
        ),
    }
}

async fn serve_and_log(sim: Arc<Sim>, req: Request, next: Next) -> (Response, Option<FaultKind>) {
    let method = req.method().as_str().to_string();
    // Inside the nested `/v1` router the URI has lost its prefix; log and limit on the full one.
    let uri = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().clone(), |o| o.0.clone());
    let path = uri.path().to_string();
    let path_and_query = uri.path_and_query().map_or(path.clone(), |p| p.to_string());
    let had_nonce = req.headers().contains_key(crate::leases::NONCE_HEADER);
    let seq = sim.log().next_seq();
    let request_id = format!("sim-{seq:08}");
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let req = Request::from_parts(parts, Body::from(bytes.clone()));

    let (mut response, fault) = handle(&sim, &method, &path, req, next).await;

    // Only a body can hold a secret; collecting them walks every app, so skip it for bodiless calls.
    let sensitive = if bytes.is_empty() {
        Vec::new()
    } else {
        sensitive_values(&sim)
    };
    sim.log().push(LogEntry {
        seq,
        request_id: request_id.clone(),
        method,
        path: path_and_query,
        status: response.status().as_u16(),
        body: redact(&bytes, &path, &sensitive),
        fault: fault.map(|f| format!("{f:?}")),
        had_nonce,
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("fly-request-id", v);
    }
    (response, fault)
}

async fn handle(
    sim: &Arc<Sim>,
    method: &str,
    path: &str,
    req: Request,
    next: Next,
) -> (Response, Option<FaultKind>) {
    if !authorized(sim, &req) {
        return (
            fly_error(
                StatusCode::UNAUTHORIZED,
                "You must be authenticated to view this.",
            ),
            None,
        );
    }
    let latency = sim.faults().latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Err(wait) = sim.limiter().check(method, path, Instant::now()) {
        let mut r = fly_error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
        return (r, None);
    }
    let fault = sim.faults().decide(method, path);
    if fault == Some(FaultKind::Before429) {
        let mut r = fly_error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(1u64));
        return (r, fault);
    }
    if fault == Some(FaultKind::Before503) {
        return (
            fly_error(StatusCode::SERVICE_UNAVAILABLE, "service unavailable"),
            fault,
        );
    }
    let response = next.run(req).await;
    let response = match fault {
        Some(FaultKind::After408) => fly_error(StatusCode::REQUEST_TIMEOUT, "request timed out"),
        Some(FaultKind::After502) => fly_error(StatusCode::BAD_GATEWAY, "bad gateway"),
        _ => response,
    };
    (response, fault)
}

/// The token and every current secret value: never written to the log.
fn sensitive_values(sim: &Sim) -> Vec<String> {
    let world = sim.state.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = vec![sim.config.token.clone()];
    if let Some(bare) = sim.config.token.strip_prefix("FlyV1 ") {
        out.push(bare.to_string());
    }
    for app in world.apps.values() {
        out.extend(app.secrets.values().map(str::to_string));
    }
    out
}
