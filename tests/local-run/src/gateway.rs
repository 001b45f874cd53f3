//! Stable URLs for simulated apps: `GET /apps/{app}/{path}` is relayed to the app's first started machine,
//! as `https://{app}.fly.dev/{path}` reaches it on Fly. The sweep probes screeners' `/health` through it.
//!
//! The simulator knows where each machine listens (`GET /__sim/apps/{app}/url`); ports change whenever a
//! machine restarts, so the gateway asks on every request.

use anyhow::{Context, Result};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
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
                        .route("/apps/{app}", get(relay_root))
                        .route("/apps/{app}/{*path}", get(relay))
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

    /// The sweep's `app_url_template`: `{app}` is replaced by the app name.
    pub fn app_url_template(&self) -> String {
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

async fn relay_root(state: State<Upstream>, Path(app): Path<String>) -> Response {
    relay(state, Path((app, String::new()))).await
}

async fn relay(
    State(upstream): State<Upstream>,
    Path((app, path)): Path<(String, String)>,
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
    match upstream.http.get(format!("{base}/{path}")).send().await {
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
