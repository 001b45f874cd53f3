//! Routing precedence and the spin-* headers, through the real host and the conformance component.

mod common;

use common::{get_json, TestApp};

#[test]
fn most_specific_route_wins_and_spin_headers_are_set() {
    let app = TestApp::new();
    let (host, client) = app.start();
    let cases = [
        ("/api/exact", "exact", "/api/exact", "/api/exact", ""),
        (
            "/api/exact/deeper",
            "api",
            "/api/...",
            "/api",
            "/exact/deeper",
        ),
        (
            "/api/items/42",
            "items",
            "/api/items/...",
            "/api/items",
            "/42",
        ),
        ("/api/items", "items", "/api/items/...", "/api/items", ""),
        ("/api/other", "api", "/api/...", "/api", "/other"),
        ("/apiary", "fallback", "/...", "", "/apiary"),
        ("/", "fallback", "/...", "", "/"),
    ];
    for (path, who, raw_route, component_route, path_info) in cases {
        let (status, body) = get_json(&client, &host.url(&format!("{path}?q=1")));
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["who"], who, "{path}: {body}");
        let headers = &body["headers"];
        assert_eq!(headers["spin-raw-component-route"], raw_route, "{path}");
        assert_eq!(headers["spin-matched-route"], raw_route, "{path}");
        assert_eq!(headers["spin-component-route"], component_route, "{path}");
        assert_eq!(headers["spin-path-info"], path_info, "{path}");
        assert_eq!(headers["spin-base-path"], "/", "{path}");
        assert_eq!(
            headers["spin-full-url"],
            host.url(&format!("{path}?q=1")),
            "{path}"
        );
        let client_addr = headers["spin-client-addr"].as_str().unwrap();
        assert!(client_addr.starts_with("127.0.0.1:"), "{client_addr}");
        // The SDK's req.path() is derived from the URL the host passes in.
        assert_eq!(body["path"], path, "{path}");
    }
    host.shutdown();
}

#[test]
fn client_supplied_spin_headers_are_replaced() {
    let app = TestApp::new();
    let (host, client) = app.start();
    let response = client
        .get(host.url("/api/items/7"))
        .header("spin-path-info", "/forged")
        .header("spin-component-route", "/forged")
        .send()
        .unwrap();
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["headers"]["spin-path-info"], "/7");
    assert_eq!(body["headers"]["spin-component-route"], "/api/items");
}
