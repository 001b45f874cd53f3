//! A tiny "machine image" for the process driver: serves `GET /health` with its env as JSON on
//! `$PORT`, so tests can see what the machine was started with. Exits with 3 on `GET /crash`.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

async fn health() -> Json<Value> {
    let env: serde_json::Map<String, Value> = std::env::vars()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Json(json!({ "status": "ok", "env": env }))
}

async fn crash() -> &'static str {
    std::process::exit(3)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("PORT")?.parse()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = Router::new()
        .route("/health", get(health))
        .route("/crash", get(crash));
    axum::serve(listener, app).await?;
    Ok(())
}
