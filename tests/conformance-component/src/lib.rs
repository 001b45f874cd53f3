//! Test fixture: a Spin component that exercises every host capability the spin-test-host offers.
//!
//! Routes are chosen by `spin-path-info` (the path below the matched route), so the same .wasm can be mounted
//! under several routes and component ids:
//! - `/echo` (and anything unknown): the spin-* headers the host set, plus the component's `who` variable
//! - `/var?name`: one variable, as the component sees it
//! - `/outbound?url`: a GET through wasi-http (allowed or denied by allowed_outbound_hosts)
//! - `/sqlite` (POST JSON `{database?, statement, params}`): one SQLite statement
//! - `/pg/query`, `/pg/execute` (POST JSON `{address?, statement, params}`): one Postgres statement
//! - `/trap`: a deliberate panic (a wasm trap); `/spin`: an endless loop; `/alloc?mb`: grows memory

mod pg_json;
mod sqlite_json;

use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::{http_component, variables};

const SPIN_HEADERS: [&str; 7] = [
    "spin-full-url",
    "spin-path-info",
    "spin-matched-route",
    "spin-component-route",
    "spin-base-path",
    "spin-raw-component-route",
    "spin-client-addr",
];

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path_info = header(&req, "spin-path-info").unwrap_or_default();
    let query = req.query().to_string();
    Ok(match path_info.as_str() {
        "/var" => variable(&query_param(&query, "name").unwrap_or_default()),
        "/outbound" => outbound(&query_param(&query, "url").unwrap_or_default()).await,
        "/sqlite" => with_json_body(&req, sqlite_json::run),
        "/pg/query" => with_json_body(&req, |body| pg_json::run(body, false)),
        "/pg/execute" => with_json_body(&req, |body| pg_json::run(body, true)),
        "/trap" => panic!("deliberate trap requested by the test"),
        "/spin" => spin_forever(),
        "/alloc" => allocate(
            query_param(&query, "mb")
                .and_then(|mb| mb.parse().ok())
                .unwrap_or(1),
        ),
        _ => echo(&req),
    })
}

fn echo(req: &Request) -> Response {
    let headers: serde_json::Map<String, Value> = SPIN_HEADERS
        .iter()
        .filter_map(|name| header(req, name).map(|value| (name.to_string(), Value::String(value))))
        .collect();
    let who = variables::get("who").ok();
    json_response(
        200,
        json!({ "who": who, "path": req.path(), "method": req.method().to_string(), "headers": headers }),
    )
}

fn variable(name: &str) -> Response {
    match variables::get(name) {
        Ok(value) => json_response(200, json!({ "name": name, "value": value })),
        Err(error) => json_response(404, json!({ "name": name, "error": format!("{error:?}") })),
    }
}

async fn outbound(url: &str) -> Response {
    let request = Request::builder().method(Method::Get).uri(url).build();
    match spin_sdk::http::send::<_, Response>(request).await {
        Ok(response) => json_response(
            200,
            json!({
                "status": response.status(),
                "body": String::from_utf8_lossy(response.body()),
            }),
        ),
        Err(error) => json_response(502, json!({ "error": format!("{error:?}") })),
    }
}

fn spin_forever() -> Response {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fn allocate(megabytes: usize) -> Response {
    let mut blocks = Vec::new();
    for _ in 0..megabytes {
        blocks.push(std::hint::black_box(vec![1u8; 1024 * 1024]));
    }
    json_response(200, json!({ "allocated_mb": blocks.len() }))
}

fn with_json_body(req: &Request, run: impl FnOnce(&Value) -> Result<Value, String>) -> Response {
    let body: Value = match serde_json::from_slice(req.body()) {
        Ok(body) => body,
        Err(error) => {
            return json_response(400, json!({ "error": format!("bad JSON body: {error}") }))
        }
    };
    match run(&body) {
        Ok(result) => json_response(200, result),
        Err(error) => json_response(500, json!({ "error": error })),
    }
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.header(name)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}
