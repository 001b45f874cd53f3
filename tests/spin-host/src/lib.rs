//! A wasmtime host that runs Fleet's Spin components with Spin's semantics, for tests, benchmarks and the local run.
//!
//! It reads spin.toml (manifest v2), serves `[[trigger.http]]` routes with a fresh instance per request, and
//! implements the Spin interfaces Fleet uses: variables, outbound HTTP (allow-listed), SQLite and Postgres.
//! Start it in-process with [`HostConfig`]; see `src/main.rs` for the CLI.

pub mod allowed_hosts;
pub mod app;
mod bindings;
pub mod external;
pub mod host;
pub mod limits;
pub mod manifest;
pub mod outbound_http;
pub mod postgres;
pub mod routing;
pub mod secret;
pub mod server;
pub mod sqlite;
pub mod state;
pub mod stdio;
pub mod template;
pub mod variables;

pub use host::{HostConfig, RunningHost};
pub use limits::Limits;
pub use outbound_http::HttpTimeouts;
pub use stdio::{OutputSink, Stream};
