//! Shared test helpers: the conformance app in a temp dir, a host running it, and a tiny upstream HTTP server.
#![allow(dead_code)]

use serde_json::Value;
use spin_test_host::{HostConfig, RunningHost};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub manifest: PathBuf,
}

impl TestApp {
    pub fn new() -> Self {
        let wasm = fleet_test_support::wasm::component_path("spin_conformance_component");
        let template = include_str!("../fixtures/conformance/spin.toml");
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = dir.path().join("spin.toml");
        let text = template.replace("__CONFORMANCE_WASM__", &wasm.display().to_string());
        std::fs::write(&manifest, text).expect("writing the manifest");
        TestApp { dir, manifest }
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("data").join("default.db")
    }

    /// A host config with every required variable set to a harmless value; tests override what they need.
    pub fn config(&self) -> HostConfig {
        HostConfig::new(&self.manifest)
            .environment(Vec::new())
            .variable("api_token", "t0k-secret")
            .variable("upstream_port", "1")
            .variable("pg_url", "postgres://nobody:nopass@127.0.0.1:1/none")
            .sqlite_default(self.sqlite_path())
    }

    pub fn start(&self) -> (RunningHost, reqwest::blocking::Client) {
        let host = self.config().start().expect("host starts");
        (host, client())
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// GET a URL; returns status and JSON body.
pub fn get_json(client: &reqwest::blocking::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().expect("request succeeds");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body {status}: {text}")),
    )
}

pub fn post_json(client: &reqwest::blocking::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client
        .post(url)
        .json(body)
        .send()
        .expect("request succeeds");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body {status}: {text}")),
    )
}

/// A minimal HTTP/1.1 server on 127.0.0.1 answering every request with 200 and `body`; returns its port.
pub fn upstream(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut line = String::new();
                // Read the request head; the host's requests have no body.
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            });
        }
    });
    port
}
