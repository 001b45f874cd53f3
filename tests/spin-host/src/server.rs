//! The HTTP front end: route, set the spin-* headers, run a fresh instance per request, and turn any guest failure
//! (trap, error code, no response, the opt-in deadline) into a 500 with an empty body, as Spin does, while the
//! host keeps serving.

use crate::app::{App, ComponentRuntime, HostShared};
use crate::limits::{self, DeadlineExceeded};
use crate::routing::RouteMatch;
use crate::state::RequestState;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

/// How long shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Accepts connections until `shutdown` resolves, then drains in-flight requests (bounded by SHUTDOWN_GRACE).
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |req| handle(app.clone(), req, peer));
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection closed with an error");
            }
        });
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: gave up waiting for in-flight requests");
    }
}

/// What a request gets, decided like Spin's `HttpServer::handle` (crates/trigger-http/src/server.rs): no route → 404
/// with an empty body; a guest failure (trap, error code, no response, opt-in deadline) → 500 with an empty body;
/// no `Host` header and no authority → no answer at all (Spin returns the error to hyper, which drops the
/// connection).
async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<HyperOutgoingBody>, NoAuthority> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let Some(matched) = app.router.route(&path) else {
        tracing::info!(%method, %path, status = 404, "no route");
        return Ok(empty(StatusCode::NOT_FOUND));
    };
    let component = app.components[&matched.component_id].clone();
    let req = match with_spin_headers(req, &matched, peer) {
        Ok(req) => req,
        Err(detail) => {
            tracing::warn!(component = %component.id, %method, %path, "{detail}: closing the connection, as Spin does");
            return Err(NoAuthority(detail));
        }
    };
    let response = match invoke(component.clone(), app.shared.clone(), req).await {
        Ok(response) => response,
        Err(error) => {
            let detail = describe(&error);
            tracing::error!(component = %component.id, %method, %path, error = %detail, "component failed");
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    };
    tracing::info!(
        component = %component.id,
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(response)
}

/// A request whose authority (`Host` or absolute URI) cannot be determined; hyper drops its connection without an
/// answer, as it does for Spin's `set_req_uri` error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoAuthority(String);

/// Makes the URI absolute and sets the headers the Spin SDK reads, dropping any the client sent itself.
fn with_spin_headers(
    req: Request<Incoming>,
    matched: &RouteMatch,
    peer: SocketAddr,
) -> Result<Request<Incoming>, String> {
    let (mut parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .ok_or("request has no Host header")?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let full_url = format!("http://{host}{path_and_query}");
    parts.uri = full_url
        .parse()
        .map_err(|_| format!("invalid request URL {full_url}"))?;
    let spin_headers = [
        ("spin-full-url", full_url.as_str()),
        ("spin-path-info", matched.path_info.as_str()),
        ("spin-matched-route", matched.raw_route.as_str()),
        ("spin-raw-component-route", matched.raw_route.as_str()),
        ("spin-component-route", matched.component_route.as_str()),
        ("spin-base-path", "/"),
        ("spin-client-addr", &peer.to_string()),
    ];
    for (name, value) in spin_headers {
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("{name} cannot be expressed as a header"))?;
        parts.headers.insert(HeaderName::from_static(name), value);
    }
    Ok(Request::from_parts(parts, body))
}

/// Runs one request in a fresh instance. The guest runs in its own task so it can keep streaming the body after
/// it has sent the response head.
async fn invoke(
    component: Arc<ComponentRuntime>,
    shared: Arc<HostShared>,
    req: Request<Incoming>,
) -> wasmtime::Result<Response<HyperOutgoingBody>> {
    let timeout = shared.limits.request_timeout;
    let mut store = Store::new(
        component.pre.engine(),
        RequestState::new(component.clone(), shared),
    );
    store.limiter(|state| &mut state.store_limits);
    limits::arm(&mut store, timeout);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let pre = component.pre.clone();
    let task = tokio::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, req, out)
            .await
    });
    let abort = task.abort_handle();
    let answer = async {
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(wasmtime::format_err!(
                "component answered with error code {code:?}"
            )),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(wasmtime::format_err!(
                    "component returned without setting a response"
                )),
                Ok(Err(error)) => Err(error),
                Err(join) => Err(wasmtime::Error::new(join)),
            },
        }
    };
    let Some(timeout) = timeout else {
        // Like `spin up`: no deadline; a guest that never answers keeps the request open.
        return answer.await;
    };
    // The epoch deadline stops busy guests; this stops guests parked in a host call.
    match tokio::time::timeout(timeout + Duration::from_millis(500), answer).await {
        Ok(result) => result,
        Err(_) => {
            abort.abort();
            Err(wasmtime::Error::new(DeadlineExceeded(timeout)))
        }
    }
}

/// A one-line description of a guest failure for the host's log (the 500 itself has an empty body, as Spin's).
fn describe(error: &wasmtime::Error) -> String {
    if let Some(deadline) = error.downcast_ref::<DeadlineExceeded>() {
        return deadline.to_string();
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        return format!("wasm trap: {trap}");
    }
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or("unknown error")
        .to_string()
}

/// Spin's own answers (`HttpServer::not_found` / `internal_error`): a status and an empty body, no headers.
pub fn empty(status: StatusCode) -> Response<HyperOutgoingBody> {
    Response::builder()
        .status(status)
        .body(
            Empty::new()
                .map_err(|never: Infallible| -> wasmtime_wasi_http::Error { match never {} })
                .boxed_unsync(),
        )
        .expect("static response parts are valid")
}
