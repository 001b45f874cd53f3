//! Native transport over reqwest (rustls). For tests and tools; needs a tokio runtime.

use crate::transport::{Transport, TransportError};
use std::time::Duration;

/// A reqwest-backed [`Transport`] with a per-request timeout (longer than `wait`'s 60 s maximum).
#[derive(Debug, Clone)]
pub struct NativeTransport {
    client: reqwest::Client,
}

impl NativeTransport {
    pub fn new() -> Self {
        Self::with_timeout(Duration::from_secs(75))
    }

    pub fn with_timeout(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("a reqwest client with rustls builds");
        NativeTransport { client }
    }
}

impl Default for NativeTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport for NativeTransport {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| TransportError::NotSent(e.without_url().to_string()))?;
        let response = self.client.execute(request).await.map_err(classify)?;
        let mut builder = http::Response::builder().status(response.status());
        for (k, v) in response.headers() {
            builder = builder.header(k, v);
        }
        let body = response.bytes().await.map_err(classify)?;
        builder
            .body(body.to_vec())
            .map_err(|e| TransportError::Interrupted(e.to_string()))
    }
}

/// Connect and builder errors never reached Fly; everything else (timeouts included) might have.
fn classify(e: reqwest::Error) -> TransportError {
    let not_sent = e.is_connect() || e.is_builder();
    let text = e.without_url().to_string();
    if not_sent {
        TransportError::NotSent(text)
    } else {
        TransportError::Interrupted(text)
    }
}
