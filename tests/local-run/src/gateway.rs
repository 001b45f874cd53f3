//! Stable URLs for simulated apps, as Fly routes to them: `GET /internal/{app}/{path}` is relayed to the
//! app's first started machine as `http://{app}.internal:8080/{path}` reaches it over Fly's private network
//! (the sweep probes screeners' `/health` this way, with the app's probe token); `GET /apps/{app}/{path}` is
//! `https://{app}.fly.dev/{path}`, which answers only when the machine opens a public service (404
//! otherwise, as Fly's proxy has no route). `Authorization` is passed through.
//!
//! The simulator knows where each machine listens (`GET /__sim/apps/{app}/url`); ports change whenever a
//! machine restarts, so the gateway asks on every request.

use anyhow::{Context, Result};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Clone)]
struct Upstream {
    simulator: String,
    http: reqwest::Client,
}

/// A gateway serving on its own thread until dropped.
pub struct Gateway {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Gateway {
    /// Serves on 127.0.0.1 (any free port) in front of the simulator at `simulator_root` (`http://127.0.0.1:N`).
    pub fn start(simulator_root: &str) -> Result<Gateway> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding the app gateway")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let upstream = Upstream {
            simulator: simulator_root.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("app-gateway".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("gateway runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("gateway listener");
                    let app = Router::new()
                        .route("/apps/{app}", get(public_root))
                        .route("/apps/{app}/{*path}", get(public))
                        .route("/internal/{app}", get(internal_root))
                        .route("/internal/{app}/{*path}", get(internal))
                        .with_state(upstream);
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        Ok(Gateway {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The sweep's `app_url_template` (Fly's private network): `{app}` is replaced by the app name.
    pub fn app_url_template(&self) -> String {
        format!("http://{}/internal/{{app}}", self.addr)
    }

    /// The public address of an app (`https://{app}.fly.dev`): answers only with a public service.
    pub fn public_url_template(&self) -> String {
        format!("http://{}/apps/{{app}}", self.addr)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn error(status: StatusCode, error: &str, detail: String) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "detail": detail})),
    )
        .into_response()
}

async fn public_root(state: State<Upstream>, app: Path<String>, headers: HeaderMap) -> Response {
    relay(state, app.0, String::new(), headers, true).await
}

async fn public(
    state: State<Upstream>,
    Path((app, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    relay(state, app, path, headers, true).await
}

async fn internal_root(state: State<Upstream>, app: Path<String>, headers: HeaderMap) -> Response {
    relay(state, app.0, String::new(), headers, false).await
}

async fn internal(
    state: State<Upstream>,
    Path((app, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    relay(state, app, path, headers, false).await
}

async fn relay(
    State(upstream): State<Upstream>,
    app: String,
    path: String,
    headers: HeaderMap,
    public: bool,
) -> Response {
    let lookup = format!("{}/__sim/apps/{app}/url", upstream.simulator);
    let base = match upstream.http.get(&lookup).send().await {
        Ok(answer) if answer.status() == reqwest::StatusCode::NOT_FOUND => {
            return error(
                StatusCode::NOT_FOUND,
                "no_such_app",
                format!("the simulator has no app {app}"),
            )
        }
        Ok(answer) => match answer.json::<serde_json::Value>().await {
            Ok(body) if public && body["public_url"].is_null() && !body["url"].is_null() => {
                return error(
                    StatusCode::NOT_FOUND,
                    "no_public_service",
                    format!("app {app} opens no public port (reach it on the private network)"),
                )
            }
            Ok(body) => body["url"].as_str().map(str::to_string),
            Err(e) => return error(StatusCode::BAD_GATEWAY, "simulator_error", e.to_string()),
        },
        Err(e) => {
            return error(
                StatusCode::BAD_GATEWAY,
                "simulator_unreachable",
                e.to_string(),
            )
        }
    };
    let Some(base) = base else {
        return error(
            StatusCode::BAD_GATEWAY,
            "no_started_machine",
            format!("app {app} has no started machine"),
        );
    };
    let mut request = upstream.http.get(format!("{base}/{path}"));
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION.as_str(), auth.as_bytes());
    }
    match request.send().await {
        Ok(answer) => {
            let status =
                StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = answer
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            match answer.bytes().await {
                Ok(body) => (status, [(header::CONTENT_TYPE, content_type)], body).into_response(),
                Err(e) => error(StatusCode::BAD_GATEWAY, "machine_error", e.to_string()),
            }
        }
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            "machine_unreachable",
            e.to_string(),
        ),
    }
}
