//! A transport wrapper that counts Fly calls, for pass outcomes and sweep summaries.

use std::cell::Cell;
use std::future::Future;

use fly_api::{Transport, TransportError};

/// Counts every request sent through the inner transport.
pub struct CountingTransport<T> {
    inner: T,
    sent: Cell<u32>,
}

impl<T> CountingTransport<T> {
    pub fn new(inner: T) -> Self {
        CountingTransport {
            inner,
            sent: Cell::new(0),
        }
    }

    pub fn calls(&self) -> u32 {
        self.sent.get()
    }
}

impl<T: Transport> Transport for CountingTransport<T> {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, TransportError>> {
        self.sent.set(self.sent.get() + 1);
        self.inner.send(request)
    }
}
