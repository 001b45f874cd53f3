//! The library API: configure a host, start it on its own thread and runtime, stop it cleanly.
//!
//! ```no_run
//! let host = spin_test_host::HostConfig::new("tests/fixtures/app/spin.toml")
//!     .variable("api_token", "t0k")
//!     .sqlite_default("/tmp/test.db")
//!     .start()
//!     .unwrap();
//! println!("serving on {}", host.url("/"));
//! host.shutdown();
//! ```

use crate::app::{self, HostShared};
use crate::external::ExternalHost;
use crate::limits::{EpochTicker, Limits};
use crate::outbound_http::HttpTimeouts;
use crate::postgres::PostgresTls;
use crate::secret::Secret;
use crate::stdio::OutputSink;
use crate::variables::VariableSources;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct HostConfig {
    manifest: PathBuf,
    listen: SocketAddr,
    flags: BTreeMap<String, Secret<String>>,
    env: Option<BTreeMap<String, Secret<String>>>,
    sqlite: BTreeMap<String, PathBuf>,
    outbound_http: HttpTimeouts,
    limits: Limits,
    postgres_ca_files: Vec<PathBuf>,
    output: OutputSink,
}

impl HostConfig {
    /// A host for the app in `manifest`, listening on 127.0.0.1 with an OS-chosen port.
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        HostConfig {
            manifest: manifest.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            flags: BTreeMap::new(),
            env: None,
            sqlite: BTreeMap::new(),
            outbound_http: HttpTimeouts::default(),
            limits: Limits::default(),
            postgres_ca_files: Vec::new(),
            output: OutputSink::Process,
        }
    }

    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Like `--variable key=value`: beats `SPIN_VARIABLE_*` and the manifest default.
    pub fn variable(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.flags.insert(key.into(), Secret::new(value.into()));
        self
    }

    /// Uses these `(NAME, value)` pairs instead of the process environment for `SPIN_VARIABLE_*` lookups.
    pub fn environment(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env = Some(VariableSources::env_from(vars));
        self
    }

    /// The file behind the "default" SQLite database (default: `<app dir>/.spin/sqlite_db.db`, as Spin).
    pub fn sqlite_default(self, path: impl Into<PathBuf>) -> Self {
        self.sqlite_database("default", path)
    }

    pub fn sqlite_database(mut self, label: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.sqlite.insert(label.into(), path.into());
        self
    }

    pub fn outbound_http_timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.outbound_http = timeouts;
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Opts in to a per-request deadline (off by default, as in `spin up`): past it the request gets a 500.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.limits.request_timeout = Some(timeout);
        self
    }

    /// Opts in to a cap on each linear memory of an instance (off by default; Spin's `--max-instance-memory`).
    pub fn max_instance_memory(mut self, bytes: usize) -> Self {
        self.limits.memory_bytes = Some(bytes);
        self
    }

    /// An extra CA certificate (PEM) trusted for Postgres TLS.
    pub fn postgres_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.postgres_ca_files.push(path.into());
        self
    }

    /// Where component stdout/stderr lines go (default: the host's own stdout/stderr).
    pub fn component_output(mut self, sink: OutputSink) -> Self {
        self.output = sink;
        self
    }

    /// Loads the app (a startup error comes back here) and serves it on a dedicated thread and runtime.
    pub fn start(self) -> Result<RunningHost> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("spin-test-host".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let started = async {
                        let app = Arc::new(self.load()?);
                        let listener = tokio::net::TcpListener::bind(self.listen)
                            .await
                            .with_context(|| format!("binding {}", self.listen))?;
                        anyhow::Ok((app, listener))
                    };
                    match started.await {
                        Ok((app, listener)) => {
                            let ticker = EpochTicker::start(app.engine.clone());
                            let addr = listener
                                .local_addr()
                                .expect("a bound listener has an address");
                            for (route, component) in app.router.describe() {
                                tracing::info!(app = %app.name, %route, %component, "route");
                            }
                            tracing::info!(app = %app.name, %addr, "serving");
                            let _ = ready_tx.send(Ok(addr));
                            crate::server::serve(listener, app, async move {
                                let _ = stop_rx.await;
                            })
                            .await;
                            drop(ticker);
                        }
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        let addr = ready_rx
            .recv()
            .map_err(|_| anyhow!("the host thread exited before it was ready"))??;
        Ok(RunningHost {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
            external: None,
        })
    }

    pub fn manifest_path(&self) -> &std::path::Path {
        &self.manifest
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// SQLite label → file, as configured (without the `.spin/sqlite_db.db` default).
    pub fn sqlite_paths(&self) -> &BTreeMap<String, PathBuf> {
        &self.sqlite
    }

    pub fn output_sink(&self) -> OutputSink {
        self.output.clone()
    }

    /// Every variable value the app would see from outside the manifest: `SPIN_VARIABLE_*` (the configured
    /// environment or the process's) overridden by `--variable` flags. Names are lower-case.
    pub fn effective_variables(&self) -> BTreeMap<String, String> {
        let env = match &self.env {
            Some(env) => env.clone(),
            None => VariableSources::env_from(std::env::vars()),
        };
        env.into_iter()
            .chain(self.flags.clone())
            .map(|(name, value)| (name, value.expose().clone()))
            .collect()
    }

    /// Settings this host honours that `spin up` has no way to express.
    pub fn spin_unsupported_settings(&self) -> Vec<String> {
        let mut unsupported = Vec::new();
        if let Some(timeout) = self.limits.request_timeout {
            unsupported.push(format!("a request deadline ({timeout:?})"));
        }
        if let Some(bytes) = self.limits.memory_bytes {
            unsupported.push(format!("an instance memory cap ({bytes} bytes)"));
        }
        if self.limits != Limits::default() && unsupported.is_empty() {
            unsupported.push(format!("limits {:?}", self.limits));
        }
        if self.outbound_http != HttpTimeouts::default() {
            unsupported.push(format!("outbound HTTP timeouts {:?}", self.outbound_http));
        }
        if !self.postgres_ca_files.is_empty() {
            unsupported.push("extra Postgres CA files".to_string());
        }
        unsupported
    }

    /// Loads and compiles the app without serving it (benchmarks use this to time instantiation).
    pub fn load_app(&self) -> Result<app::App> {
        self.load()
    }

    fn load(&self) -> Result<app::App> {
        let spec = crate::manifest::load(&self.manifest)?;
        let mut sqlite = self.sqlite.clone();
        sqlite
            .entry("default".to_string())
            .or_insert_with(|| spec.base_dir.join(".spin").join("sqlite_db.db"));
        let env = match &self.env {
            Some(env) => env.clone(),
            None => VariableSources::env_from(std::env::vars()),
        };
        let sources = VariableSources {
            flags: self.flags.clone(),
            env,
        };
        let shared = HostShared {
            sqlite_databases: sqlite,
            postgres_tls: PostgresTls::new(&self.postgres_ca_files)?,
            outbound_http: self.outbound_http,
            limits: self.limits,
            output: self.output.clone(),
        };
        app::load(spec, &sources, shared)
            .with_context(|| format!("starting app {}", self.manifest.display()))
    }
}

/// A host serving on `addr` until `shutdown` (or drop): this host on its own thread, or a `spin up`-compatible
/// child process.
pub struct RunningHost {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    external: Option<ExternalHost>,
}

impl RunningHost {
    pub(crate) fn external(addr: SocketAddr, host: ExternalHost) -> RunningHost {
        RunningHost {
            addr,
            stop: None,
            thread: None,
            external: Some(host),
        }
    }

    /// Whether the app runs in a `spin up`-compatible child process rather than this host.
    pub fn is_external(&self) -> bool {
        self.external.is_some()
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// Stops accepting, drains in-flight requests (bounded), and joins the host thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(mut external) = self.external.take() {
            external.stop();
        }
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
