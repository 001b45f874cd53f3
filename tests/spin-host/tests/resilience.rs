//! Guest failures become 500s with JSON bodies, the host keeps serving, runaway components are stopped, output is
//! captured with the component id, and concurrent requests each get their own instance.

mod common;

use common::{get_json, TestApp};
use spin_test_host::{OutputSink, Stream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn trap_is_a_500_with_json_and_the_host_keeps_serving() {
    let app = TestApp::new();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let host = app
        .config()
        .component_output(OutputSink::Memory(lines.clone()))
        .start()
        .unwrap();
    let client = common::client();
    for _ in 0..3 {
        let (status, body) = get_json(&client, &host.url("/api/trap"));
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["error"], "component failed");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("component `api`") && detail.contains("wasm trap"),
            "{detail}"
        );
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
fn runaway_component_gets_a_500_at_the_deadline_while_others_are_served() {
    let app = TestApp::new();
    let host = app
        .config()
        .request_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let url = host.url("/api/spin");
    let runaway = std::thread::spawn(move || {
        let started = Instant::now();
        let (status, body) = get_json(&common::client(), &url);
        (status, body, started.elapsed())
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

    let (status, body, elapsed) = runaway.join().unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("deadline"),
        "{body}"
    );
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );
}

#[test]
fn memory_limit_turns_a_huge_allocation_into_a_500() {
    let app = TestApp::new();
    let limits = spin_test_host::Limits {
        memory_bytes: 32 << 20,
        ..Default::default()
    };
    let host = app.config().limits(limits).start().unwrap();
    let client = common::client();
    let (status, body) = get_json(&client, &host.url("/api/alloc?mb=4"));
    assert_eq!(
        (status, body["allocated_mb"].as_u64()),
        (200, Some(4)),
        "{body}"
    );
    let (status, body) = get_json(&client, &host.url("/api/alloc?mb=64"));
    assert_eq!(status, 500, "{body}");
    let (status, _) = get_json(&client, &host.url("/api/echo"));
    assert_eq!(status, 200);
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
    let (status, body) = get_json(&client, &host.url("/elsewhere"));
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not found");
    let (status, _) = get_json(&client, &host.url("/only"));
    assert_eq!(status, 200);
    let addr = host.addr;
    host.shutdown();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "still listening after shutdown"
    );
}
