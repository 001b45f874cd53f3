//! Reading a request from Spin without trusting its size: the body is streamed from `IncomingRequest` and
//! refused (413) as soon as it passes the limit, and a declared `Content-Length` over the limit is refused
//! before any of it is read. spin-sdk's own `Request` conversion buffers the whole body first, so every
//! component takes `IncomingRequest` and comes through here.

use fleet_http::{check_declared_length, ApiError, BoundedBody};
use futures::StreamExt;
use spin_sdk::http::{IncomingRequest, Request, Response};

use crate::respond::error_response;

/// The request with its body, or the error to answer with: 413 when the body is too large, 400 when it
/// cannot be read.
pub async fn read_request(req: IncomingRequest, limit: usize) -> Result<Request, ApiError> {
    let headers = req.headers();
    let declared = headers
        .get("content-length")
        .into_iter()
        .next()
        .map(|value| String::from_utf8_lossy(&value).into_owned());
    check_declared_length(declared.as_deref(), limit)?;
    let mut builder = Request::builder();
    builder.method(req.method()).uri(req.uri()).headers(headers);
    let mut body = BoundedBody::new(limit);
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        })?;
        body.push(&chunk)?;
    }
    Ok(builder.body(body.into_bytes()).build())
}

/// Reads the request (bounded by `limit`) and hands it to `handler`, or answers the read's error.
pub async fn with_request<F, Fut>(req: IncomingRequest, limit: usize, handler: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    match read_request(req, limit).await {
        Ok(request) => handler(request).await,
        Err(error) => error_response(&error),
    }
}
