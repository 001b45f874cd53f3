//! Spin outbound-HTTP transport (`spin_sdk::http::send`), for the wasm32-wasip2 components.
//! The Fly host must be listed in the component's `allowed_outbound_hosts`.

use crate::transport::{Transport, TransportError};
use spin_sdk::http::{ErrorCode, SendError};

/// A [`Transport`] over Spin's outbound HTTP.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpinTransport;

impl Transport for SpinTransport {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        spin_sdk::http::send::<_, http::Response<Vec<u8>>>(request)
            .await
            .map_err(classify)
    }
}

fn classify(e: SendError) -> TransportError {
    let text = e.to_string();
    match e {
        SendError::RequestConversion(_) => TransportError::NotSent(text),
        SendError::Http(code) if never_sent(&code) => TransportError::NotSent(text),
        _ => TransportError::Interrupted(text),
    }
}

/// wasi-http error codes that mean the request never reached the server.
fn never_sent(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::DnsTimeout
            | ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTimeout
            | ErrorCode::TlsProtocolError
            | ErrorCode::TlsCertificateError
            | ErrorCode::TlsAlertReceived(_)
            | ErrorCode::HttpRequestDenied
            | ErrorCode::HttpRequestUriInvalid
    )
}
