//! JSON responses. Every response is `no-store`: they describe live fleet state.

use fleet_http::ApiError;
use spin_sdk::http::Response;

pub fn json_response(status: u16, body: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body)
        .build()
}

pub fn error_response(error: &ApiError) -> Response {
    let body = serde_json::to_vec(error).unwrap_or_else(|_| b"{}".to_vec());
    let mut builder = Response::builder();
    builder
        .status(error.status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    if let Some(secs) = error.retry_after {
        builder.header("retry-after", secs.to_string());
    }
    builder.body(body).build()
}
