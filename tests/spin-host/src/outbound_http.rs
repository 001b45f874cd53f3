//! Outbound HTTP through wasi-http, with allowed_outbound_hosts enforced the way Spin does it: a request to a host
//! that is not allowed fails with `ErrorCode::HttpRequestDenied`, and the host logs the denial.

use crate::allowed_hosts::AllowedHosts;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Timeouts applied when the guest does not set its own through `request-options`.
/// The default is Spin's: 600 s for each (`DEFAULT_TIMEOUT` in crates/factor-outbound-http/src/wasi.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

/// Spin's outbound wasi-http default for each timeout the guest leaves unset.
pub const SPIN_DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

impl Default for HttpTimeouts {
    fn default() -> Self {
        HttpTimeouts {
            connect: SPIN_DEFAULT_TIMEOUT,
            first_byte: SPIN_DEFAULT_TIMEOUT,
            between_bytes: SPIN_DEFAULT_TIMEOUT,
        }
    }
}

impl HttpTimeouts {
    /// Guest-chosen timeouts win; the host's fill the gaps.
    fn merge(&self, options: Option<RequestOptions>) -> RequestOptions {
        let options = options.unwrap_or_default();
        RequestOptions {
            connect_timeout: options.connect_timeout.or(Some(self.connect)),
            first_byte_timeout: options.first_byte_timeout.or(Some(self.first_byte)),
            between_bytes_timeout: options.between_bytes_timeout.or(Some(self.between_bytes)),
        }
    }
}

/// Per-instance wasi-http hooks.
pub struct OutboundHttpHooks {
    pub component_id: Arc<str>,
    pub allowed: Arc<AllowedHosts>,
    pub timeouts: HttpTimeouts,
}

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = Result<(), Error>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for OutboundHttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        if !self.allowed.allows_uri(uri) {
            // Log only scheme://authority: paths and queries may carry tokens.
            let target = format!(
                "{}://{}",
                uri.scheme_str().unwrap_or("?"),
                uri.authority().map(|a| a.as_str()).unwrap_or("?")
            );
            tracing::warn!(
                component = %self.component_id,
                target = %target,
                "outbound HTTP request denied: add `{target}` to the component's allowed_outbound_hosts to allow it"
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let options = self.timeouts.merge(options);
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_spins_600_seconds() {
        let host = HttpTimeouts::default();
        for timeout in [host.connect, host.first_byte, host.between_bytes] {
            assert_eq!(timeout, Duration::from_secs(600));
        }
    }

    #[test]
    fn guest_timeouts_win_and_host_fills_gaps() {
        let host = HttpTimeouts::default();
        let guest = RequestOptions {
            connect_timeout: Some(Duration::from_millis(5)),
            ..Default::default()
        };
        let merged = host.merge(Some(guest));
        assert_eq!(merged.connect_timeout, Some(Duration::from_millis(5)));
        assert_eq!(merged.first_byte_timeout, Some(host.first_byte));
        assert_eq!(
            host.merge(None).between_bytes_timeout,
            Some(host.between_bytes)
        );
    }
}
