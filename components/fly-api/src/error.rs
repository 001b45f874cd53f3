//! One error type for every failed Fly call, classified by what the caller should do about it.

use std::fmt;
use std::time::Duration;

/// What kind of failure this was. The classes decide retries (see [`crate::retry`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// 422 `name_taken`: the app name is held (by us or by another org).
    NameTaken,
    /// 404.
    NotFound,
    /// 403: e.g. the app name is held by another org.
    Forbidden,
    /// 401: bad or missing token.
    Unauthorized,
    /// 429; `retry_after` from the `Retry-After` header when present.
    RateLimited { retry_after: Option<Duration> },
    /// Safe to retry: 5xx or 408 on an idempotent call, or a failure before the request was sent.
    Transient,
    /// A non-idempotent call that may have taken effect (timeout or 408/5xx after sending): check
    /// before retrying.
    Ambiguous,
    /// Fly has no capacity for this request (`status: insufficient_capacity`); try another region.
    InsufficientCapacity,
    /// Any other 4xx (bad request, validation, lease conflict 409, precondition 412), with Fly's message.
    Invalid,
}

impl ErrorClass {
    fn label(&self) -> &'static str {
        match self {
            ErrorClass::NameTaken => "name taken",
            ErrorClass::NotFound => "not found",
            ErrorClass::Forbidden => "forbidden",
            ErrorClass::Unauthorized => "unauthorized",
            ErrorClass::RateLimited { .. } => "rate limited",
            ErrorClass::Transient => "transient failure",
            ErrorClass::Ambiguous => "ambiguous failure (may have taken effect)",
            ErrorClass::InsufficientCapacity => "insufficient capacity",
            ErrorClass::Invalid => "invalid request",
        }
    }
}

/// A failed Fly call. The message is Fly's (or the transport's), scrubbed of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlyError {
    pub class: ErrorClass,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    pub message: String,
    /// The `fly-request-id` response header, for Fly support.
    pub request_id: Option<String>,
}

impl FlyError {
    pub fn class(&self) -> &ErrorClass {
        &self.class
    }

    /// 409 from a lease or leased machine: another holder has the lease.
    pub fn is_conflict(&self) -> bool {
        self.class == ErrorClass::Invalid && self.status == Some(409)
    }

    /// 408 from `wait`: the machine did not reach the state within the timeout (keep waiting).
    pub fn is_wait_timeout(&self) -> bool {
        self.status == Some(408)
    }
}

impl fmt::Display for FlyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fly api: {}", self.class.label())?;
        if let Some(s) = self.status {
            write!(f, " (HTTP {s})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [fly-request-id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for FlyError {}

/// Whether repeating a call is harmless. Decides 408/5xx ⇒ Transient or Ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Idempotent,
    NonIdempotent,
}

/// Classifies an HTTP error response (pure). `body_status` is the `status` field of Fly's
/// `ErrorResponse`; `message` its `error`/`message` text.
pub fn classify_response(
    status: u16,
    body_status: Option<&str>,
    message: &str,
    retry_after: Option<Duration>,
    idempotency: Idempotency,
) -> ErrorClass {
    if body_status == Some("insufficient_capacity") {
        return ErrorClass::InsufficientCapacity;
    }
    let after_effect = match idempotency {
        Idempotency::Idempotent => ErrorClass::Transient,
        Idempotency::NonIdempotent => ErrorClass::Ambiguous,
    };
    match status {
        401 => ErrorClass::Unauthorized,
        403 => ErrorClass::Forbidden,
        404 => ErrorClass::NotFound,
        408 => after_effect,
        422 if is_name_taken(body_status, message) => ErrorClass::NameTaken,
        429 => ErrorClass::RateLimited { retry_after },
        500..=599 => after_effect,
        _ => ErrorClass::Invalid,
    }
}

/// Newer Fly sends `status: name_taken`; older versions only the message; a raced create trips a DB
/// constraint whose generic message Fly also means as "name taken" on app create.
fn is_name_taken(body_status: Option<&str>, message: &str) -> bool {
    body_status == Some("name_taken")
        || message.contains("has already been taken")
        || message.contains("uniqueness constraint violated")
}

/// Parses `Retry-After` given in seconds (integer or decimal). HTTP-date values are ignored (`None`).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Idempotency::*;

    #[test]
    fn statuses_map_to_classes() {
        let c = |s, b, i| classify_response(s, b, "", None, i);
        assert_eq!(c(401, None, Idempotent), ErrorClass::Unauthorized);
        assert_eq!(c(403, None, Idempotent), ErrorClass::Forbidden);
        assert_eq!(c(404, None, NonIdempotent), ErrorClass::NotFound);
        assert_eq!(c(408, None, Idempotent), ErrorClass::Transient);
        assert_eq!(c(408, None, NonIdempotent), ErrorClass::Ambiguous);
        assert_eq!(c(502, None, NonIdempotent), ErrorClass::Ambiguous);
        assert_eq!(c(503, None, Idempotent), ErrorClass::Transient);
        assert_eq!(
            c(422, Some("name_taken"), NonIdempotent),
            ErrorClass::NameTaken
        );
        assert_eq!(c(422, None, NonIdempotent), ErrorClass::Invalid);
        assert_eq!(c(409, None, NonIdempotent), ErrorClass::Invalid);
        assert_eq!(
            c(412, Some("insufficient_capacity"), NonIdempotent),
            ErrorClass::InsufficientCapacity
        );
        assert_eq!(
            classify_response(429, None, "", Some(Duration::from_secs(2)), Idempotent),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }
        );
    }

    #[test]
    fn old_name_taken_messages_are_recognised() {
        let c = |m| classify_response(422, None, m, None, NonIdempotent);
        assert_eq!(
            c("Validation failed: Name has already been taken"),
            ErrorClass::NameTaken
        );
        assert_eq!(c("uniqueness constraint violated"), ErrorClass::NameTaken);
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
