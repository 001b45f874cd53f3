//! Test support shared by Fleet's test suites: throwaway PostgreSQL clusters (and a PgBouncer in front of
//! them), free ports and the paths of built WebAssembly components.

pub mod figures;
pub mod fly_faults;
pub mod pgbouncer;
pub mod platform;
pub mod postgres;
pub mod wasm;

use std::net::TcpListener;

/// A TCP port on 127.0.0.1 that was free a moment ago. Callers that bind it later must tolerate the small race.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding 127.0.0.1:0 to find a free port")
}

/// The workspace root (the directory holding spin.toml and the workspace Cargo.toml).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/test-support sits two levels below the workspace root")
        .to_path_buf()
}
