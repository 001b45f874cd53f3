//! The one JSON error shape every Fleet route answers with: `{"error": "...", "detail": "..."}`.

use serde::Serialize;

/// A client-facing error: an HTTP status, a stable machine-readable code and a human-readable detail.
/// The detail must never contain a secret; callers build it from request data and constants only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    pub error: &'static str,
    pub detail: String,
    /// Seconds for a `Retry-After` header (429 answers).
    #[serde(skip)]
    pub retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(status: u16, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(error: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, error, detail)
    }

    /// 401 with no hint about which secret or scheme was expected or how the check failed.
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "missing or invalid credentials")
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, "not_found", detail)
    }

    pub fn method_not_allowed(allowed: &str) -> Self {
        Self::new(405, "method_not_allowed", format!("use {allowed}"))
    }

    pub fn conflict(error: &'static str, detail: impl Into<String>) -> Self {
        Self::new(409, error, detail)
    }

    /// 413: the body is larger than the route reads (issue 19; it was a 400 before bodies were streamed).
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "payload_too_large",
            format!("the body exceeds {limit} bytes"),
        )
    }

    /// 429 after too many failed password attempts from this source or overall; `Retry-After: seconds`.
    pub fn too_many_attempts(retry_after_secs: i64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                429,
                "too_many_attempts",
                format!(
                    "too many failed attempts; try again in {} s",
                    retry_after_secs.max(1)
                ),
            )
        }
    }

    /// A server-side failure whose detail has already been sanitised by the caller.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, "internal", detail)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ApiError serialises")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error, self.detail)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_error_and_detail_only() {
        let json: serde_json::Value =
            serde_json::from_str(&ApiError::bad_request("invalid_user_id", "not a uuid").to_json())
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": "invalid_user_id", "detail": "not a uuid"})
        );
    }

    #[test]
    fn unauthorized_says_nothing_about_the_secret() {
        let err = ApiError::unauthorized();
        assert_eq!(err.status, 401);
        assert!(!err.detail.to_lowercase().contains("bearer"));
        assert!(!err.detail.to_lowercase().contains("signature"));
    }
}
