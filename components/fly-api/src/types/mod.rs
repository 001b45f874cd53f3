//! Serde types for request and response bodies, with Fly's field names.

pub mod apps;
pub mod leases;
pub mod machines;
pub mod secrets;

pub use apps::*;
pub use leases::*;
pub use machines::*;
pub use secrets::*;

/// Fly's error body: `{error, status?, message?}`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ErrorResponse {
    #[serde(default)]
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
