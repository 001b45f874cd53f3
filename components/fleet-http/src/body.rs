//! Bounded request bodies: a declared `Content-Length` over the limit is refused before a byte is read, and
//! a streamed body is refused as soon as what has arrived passes the limit, so an unauthenticated client can
//! never make a component hold more than `limit` bytes of its body.

use crate::ApiError;

/// The largest request body any Fleet route reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Refuses a declared `Content-Length` larger than `limit` (413). An absent or unparsable header is left to
/// the streaming check (the HTTP server in front of the component has already validated its syntax).
pub fn check_declared_length(content_length: Option<&str>, limit: usize) -> Result<(), ApiError> {
    match content_length.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(declared) if declared > limit as u64 => Err(ApiError::payload_too_large(limit)),
        _ => Ok(()),
    }
}

/// Collects a body chunk by chunk and refuses it once it passes `limit`.
#[derive(Debug)]
pub struct BoundedBody {
    limit: usize,
    bytes: Vec<u8>,
}

impl BoundedBody {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: Vec::new(),
        }
    }

    /// Appends `chunk`, or refuses (413) when the body would exceed the limit; nothing past the limit is kept.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if chunk.len() > self.limit - self.bytes.len() {
            return Err(ApiError::payload_too_large(self.limit));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_hundred_megabytes_is_refused_before_reading() {
        let err = check_declared_length(Some("104857600"), MAX_BODY_BYTES).unwrap_err();
        assert_eq!((err.status, err.error), (413, "payload_too_large"));
        assert!(check_declared_length(Some("18446744073709551615"), MAX_BODY_BYTES).is_err());
        assert!(check_declared_length(Some("65536"), MAX_BODY_BYTES).is_ok());
        assert!(check_declared_length(None, MAX_BODY_BYTES).is_ok());
        assert!(check_declared_length(Some("nonsense"), MAX_BODY_BYTES).is_ok());
    }

    #[test]
    fn a_streamed_body_is_cut_off_at_the_limit_without_keeping_the_excess() {
        let mut body = BoundedBody::new(10);
        body.push(b"12345").unwrap();
        body.push(b"67890").unwrap();
        let err = body.push(b"x").unwrap_err();
        assert_eq!((err.status, err.error), (413, "payload_too_large"));
        assert_eq!(body.into_bytes(), b"1234567890");
        let mut huge = BoundedBody::new(MAX_BODY_BYTES);
        assert!(huge.push(&vec![0; MAX_BODY_BYTES + 1]).is_err());
        assert!(huge.into_bytes().is_empty());
    }
}
