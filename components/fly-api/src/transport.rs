//! The one seam between the client and the network.

use std::future::Future;

/// How a request failed without a response. The distinction decides Transient vs Ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Nothing reached Fly (DNS, connect refused/timeout, TLS handshake, bad request): always safe to retry.
    #[error("request not sent: {0}")]
    NotSent(String),
    /// The request may have reached Fly (timeout or connection lost after sending).
    #[error("request interrupted after sending: {0}")]
    Interrupted(String),
}

/// Sends one HTTP request and returns the full response. No `Send` bound so the Spin (wasm)
/// implementation fits. Implementations must not retry on their own.
pub trait Transport {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, TransportError>>;
}

impl<T: Transport> Transport for &T {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, TransportError>> {
        (**self).send(request)
    }
}
