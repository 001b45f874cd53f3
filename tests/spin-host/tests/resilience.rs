//! Spin's answers: a guest failure is a 500 and an unrouted path a 404, both with an empty body (Spin's
//! `internal_error` / `not_found` in crates/trigger-http/src/server.rs); a request without an authority gets no
//! answer. No deadline and no memory cap unless opted in, as in `spin up`; when opted in, runaway components
//! are stopped. The host keeps serving, output is captured with the component id, and concurrent requests
//! each get their own instance.

mod common;

use common::{get_json, TestApp};
use spin_test_host::{OutputSink, Stream};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Status, content-type and body text of a GET.
fn get_raw(client: &reqwest::blocking::Client, url: &str) -> (u16, Option<String>, String) {
    let response = client.get(url).send().expect("request succeeds");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, content_type, response.text().expect("body"))
}

/// A TCP listener that accepts connections and never answers: an upstream that hangs.
fn black_hole() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    port
}

#[test]
fn trap_is_a_500_with_an_empty_body_as_in_spin_and_the_host_keeps_serving() {
    let app = TestApp::new();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let host = app
        .config()
        .component_output(OutputSink::Memory(lines.clone()))
        .start()
        .unwrap();
    let client = common::client();
    for _ in 0..3 {
        // Spin: `Self::internal_error(None, ..)` → 500, `body::empty()`, no content-type.
        let (status, content_type, body) = get_raw(&client, &host.url("/api/trap"));
        assert_eq!((status, content_type, body.as_str()), (500, None, ""));
        let (status, body) = get_json(&client, &host.url("/api/echo"));
        assert_eq!((status, body["who"].as_str()), (200, Some("api")));
    }
    // The guest's panic message went to its stderr, captured line by line with the component id.
    let lines = lines.lock().unwrap();
    assert!(
        lines.iter().any(|(stream, line)| *stream == Stream::Stderr
            && line.starts_with("[api] ")
            && line.contains("deliberate trap requested by the test")),
        "{lines:?}"
    );
}

#[test]
fn opted_in_deadline_stops_a_runaway_component_with_a_500_while_others_are_served() {
    let app = TestApp::new();
    // Opt-in: the deadline is what this test is about.
    let host = app
        .config()
        .request_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let url = host.url("/api/spin");
    let runaway = std::thread::spawn(move || {
        let started = Instant::now();
        let (status, content_type, body) = get_raw(&common::client(), &url);
        (status, content_type, body, started.elapsed())
    });
    // While the runaway burns its budget, other requests still get answered (the guest yields every tick).
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) = get_json(&common::client(), &host.url("/api/echo"));
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "echo took {:?}",
        started.elapsed()
    );

    let (status, content_type, body, elapsed) = runaway.join().unwrap();
    assert_eq!((status, content_type, body.as_str()), (500, None, ""));
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );
}

#[test]
fn opted_in_memory_cap_turns_a_huge_allocation_into_a_500() {
    let app = TestApp::new();
    // Opt-in, like Spin's `--max-instance-memory`: the cap is what this test is about.
    let host = app.config().max_instance_memory(32 << 20).start().unwrap();
    let client = common::client();
    let (status, body) = get_json(&client, &host.url("/api/alloc?mb=4"));
    assert_eq!(
        (status, body["allocated_mb"].as_u64()),
        (200, Some(4)),
        "{body}"
    );
    let (status, content_type, body) = get_raw(&client, &host.url("/api/alloc?mb=64"));
    assert_eq!((status, content_type, body.as_str()), (500, None, ""));
    let (status, _) = get_json(&client, &host.url("/api/echo"));
    assert_eq!(status, 200);
}

#[test]
fn no_memory_cap_by_default_as_in_spin() {
    // `spin up` caps memory only with --max-instance-memory; 288 MiB is past the 256 MiB this host used to impose.
    assert_eq!(spin_test_host::Limits::default().memory_bytes, None);
    let app = TestApp::new();
    let (host, client) = app.start();
    let (status, body) = get_json(&client, &host.url("/api/alloc?mb=288"));
    assert_eq!(
        (status, body["allocated_mb"].as_u64()),
        (200, Some(288)),
        "{body}"
    );
}

#[test]
fn a_request_that_never_finishes_stays_open_as_in_spin() {
    // No request deadline by default (`spin up` sets none for wasi-http components) and Spin's 600 s outbound
    // timeouts: a guest waiting on an upstream that never answers is still waiting after 35 s, where this host
    // used to answer 500 (deadline) or 502 (outbound first-byte timeout) at 30 s.
    assert_eq!(spin_test_host::Limits::default().request_timeout, None);
    let app = TestApp::new();
    let upstream = black_hole();
    let host = app
        .config()
        .variable("upstream_port", upstream.to_string())
        .start()
        .unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(35))
        .build()
        .unwrap();
    let url = host.url(&format!(
        "/api/outbound?url=http://127.0.0.1:{upstream}/never"
    ));
    let started = Instant::now();
    let outcome = client.get(&url).send();
    match outcome {
        Err(error) if error.is_timeout() => {}
        Err(error) => panic!("expected the request to hang, got {error}"),
        Ok(response) => panic!(
            "expected the request to hang, got {} after {:?}",
            response.status(),
            started.elapsed()
        ),
    }
    // The host still serves others meanwhile.
    let (status, _) = get_json(&common::client(), &host.url("/api/echo"));
    assert_eq!(status, 200);
}

#[test]
fn a_request_without_an_authority_gets_no_answer_as_in_spin() {
    // Spin's `set_req_uri` bails ("no 'Host' header present in request"); the error goes back to hyper, which
    // closes the connection without a response. HTTP/1.0 lets a client omit Host.
    let app = TestApp::new();
    let (host, _) = app.start();
    let mut stream = std::net::TcpStream::connect(host.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"GET /api/echo HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "expected no answer, got {:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn hundred_concurrent_requests_are_all_served_by_separate_instances() {
    let app = TestApp::new();
    let (host, _) = app.start();
    let base = host.url("");
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let url = format!("{base}/api/items/{i}");
            std::thread::spawn(move || get_json(&common::client(), &url))
        })
        .collect();
    for (i, thread) in threads.into_iter().enumerate() {
        let (status, body) = thread.join().unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["headers"]["spin-path-info"], format!("/{i}"));
        assert_eq!(body["who"], "items");
    }
}

#[test]
fn unknown_routes_and_shutdown_are_clean() {
    let manifest_dir = tempfile::tempdir().unwrap();
    let wasm = fleet_test_support::wasm::component_path("spin_conformance_component");
    let manifest = manifest_dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"one\"\n[[trigger.http]]\nroute = \"/only\"\n\
             component = \"one\"\n[component.one]\nsource = \"{}\"\n",
            wasm.display()
        ),
    )
    .unwrap();
    let host = spin_test_host::HostConfig::new(&manifest).start().unwrap();
    let client = common::client();
    // Spin: `Self::not_found(..)` → 404, `body::empty()`, no content-type.
    let (status, content_type, body) = get_raw(&client, &host.url("/elsewhere"));
    assert_eq!((status, content_type, body.as_str()), (404, None, ""));
    let (status, _) = get_json(&client, &host.url("/only"));
    assert_eq!(status, 200);
    let addr = host.addr;
    host.shutdown();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "still listening after shutdown"
    );
}
