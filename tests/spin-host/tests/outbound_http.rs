//! Outbound HTTP through wasi-http with allowed_outbound_hosts enforced.

mod common;

use common::{get_json, upstream, TestApp};

#[test]
fn allowed_host_is_reachable_and_others_are_denied_like_spin() {
    let allowed_port = upstream("upstream says hi");
    let other_port = upstream("should never be reached");
    let app = TestApp::new();
    let host = app
        .config()
        .variable("upstream_port", allowed_port.to_string())
        .start()
        .unwrap();
    let client = common::client();

    let url = format!("http://127.0.0.1:{allowed_port}/hello");
    let (status, body) = get_json(&client, &host.url(&format!("/api/outbound?url={url}")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], 200);
    assert_eq!(body["body"], "upstream says hi");

    // Same host, port not in the list.
    let url = format!("http://127.0.0.1:{other_port}/hello");
    let (status, body) = get_json(&client, &host.url(&format!("/api/outbound?url={url}")));
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{body}"
    );

    // A component without allowed_outbound_hosts may not reach even the allowed upstream.
    let url = format!("http://127.0.0.1:{allowed_port}/hello");
    let (status, body) = get_json(&client, &host.url(&format!("/outbound?url={url}")));
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{body}"
    );

    // A different scheme to the allowed host:port is denied too.
    let url = format!("https://127.0.0.1:{allowed_port}/hello");
    let (status, body) = get_json(&client, &host.url(&format!("/api/outbound?url={url}")));
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{body}"
    );
}

#[test]
fn allowed_but_unreachable_host_fails_with_a_connection_error_not_a_denial() {
    let closed_port = fleet_test_support::free_port();
    let app = TestApp::new();
    let host = app
        .config()
        .variable("upstream_port", closed_port.to_string())
        .start()
        .unwrap();
    let url = format!("http://127.0.0.1:{closed_port}/");
    let (status, body) = get_json(
        &common::client(),
        &host.url(&format!("/api/outbound?url={url}")),
    );
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        !error.contains("HttpRequestDenied") && error.contains("Connection"),
        "{body}"
    );
}
