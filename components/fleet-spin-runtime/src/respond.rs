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
    json_response(error.status, error)
}
