//! `FlySimThread` serves from its own runtime, for synchronous callers.

use fly_simulator::{FlySimThread, SimConfig};
use std::io::{Read, Write};

#[test]
fn thread_handle_serves_without_a_caller_runtime() {
    let handle = FlySimThread::start(SimConfig::default()).unwrap();
    let addr = handle
        .sim()
        .root_url()
        .trim_start_matches("http://")
        .to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        s,
        "GET /__sim/state HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"org_slug\":\"fleet\""), "{out}");
    drop(handle);
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "server stopped on drop"
    );
}
