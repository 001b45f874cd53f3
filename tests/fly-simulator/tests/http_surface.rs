//! The simulator's HTTP surface: auth, JSON errors, rate limits, debug endpoints.

use fly_simulator::{FlySim, SimConfig};
use serde_json::{json, Value};
use std::time::Duration;

async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = req.send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (
        s,
        h,
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn auth_errors_rate_limits_and_debug_endpoints() {
    let sim = FlySim::start(SimConfig {
        foreign_apps: vec!["taken-elsewhere".into()],
        timings: fly_simulator::Timings {
            app_visibility_delay: Duration::ZERO,
            ..Default::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let api = |m: reqwest::Method, p: &str| {
        http.request(m, format!("{}{p}", sim.base_url()))
            .bearer_auth("sim-token")
    };
    let dbg = |m: reqwest::Method, p: &str| http.request(m, format!("{}/__sim{p}", sim.root_url()));
    use reqwest::Method as M;

    let (s, h, b) = send(http.get(format!("{}/apps?org_slug=fleet", sim.base_url()))).await;
    assert_eq!(s, 401);
    assert!(b["error"].is_string() && h.contains_key("fly-request-id"));

    let (s, _, b) = send(api(M::POST, "/apps").body("{not json")).await;
    assert_eq!(s, 400);
    assert!(b["error"]
        .as_str()
        .unwrap()
        .contains("invalid request body"));

    let (s, _, b) = send(
        api(M::POST, "/apps")
            .header("content-type", "application/json")
            .body(json!({"app_name": "taken-elsewhere", "org_slug": "fleet"}).to_string()),
    )
    .await;
    assert_eq!((s, b["status"].as_str()), (422, Some("name_taken")));
    let (s, _, _) = send(api(M::GET, "/apps/taken-elsewhere")).await;
    assert_eq!(s, 403);

    let (s, _, _) = send(
        api(M::POST, "/apps")
            .header("content-type", "application/json")
            .body(json!({"name": "a1", "org_slug": "fleet"}).to_string()),
    )
    .await;
    assert_eq!(s, 201);
    let (_, _, m) = send(
        api(M::POST, "/apps/a1/machines")
            .header("content-type", "application/json")
            .body(json!({"region": "iad", "config": {"image": "i"}}).to_string()),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    // start: 1/s burst 3 per machine, then 429 with Retry-After.
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..4 {
        let (s, h, _) = send(api(M::POST, &format!("/apps/a1/machines/{id}/start"))).await;
        statuses.push(s);
        retry_after = h
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
    }
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Disabled at runtime.
    send(
        dbg(M::PUT, "/rate-limits")
            .header("content-type", "application/json")
            .body(json!({"enabled": false}).to_string()),
    )
    .await;
    let (s, _, _) = send(api(M::POST, &format!("/apps/a1/machines/{id}/start"))).await;
    assert_eq!(s, 200);

    // Faults via HTTP, the request log, the state dump, reset.
    let (s, _, f) = send(
        dbg(M::PUT, "/faults")
            .header("content-type", "application/json")
            .body(json!({"seed": 1, "latency_ms": 5}).to_string()),
    )
    .await;
    assert_eq!((s, f["latency_ms"].as_u64()), (200, Some(5)));
    let (_, _, log) = send(dbg(M::GET, "/requests")).await;
    assert!(log.as_array().unwrap().len() >= 8);
    assert!(!log.to_string().contains("sim-token"));
    let (_, _, state) = send(dbg(M::GET, "/state")).await;
    assert_eq!(state["apps"][0]["machines"][0]["id"], id);
    let (_, _, url) = send(dbg(M::GET, "/apps/a1/url")).await;
    assert!(url["url"].is_null(), "no process driver, no URL");
    let (s, _, _) = send(dbg(M::POST, "/reset")).await;
    assert_eq!(s, 204);
    let (_, _, state) = send(dbg(M::GET, "/state")).await;
    assert_eq!(state["apps"].as_array().unwrap().len(), 0);
}
