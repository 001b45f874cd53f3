//! Runs a [`HostConfig`] in a `spin up`-compatible binary instead of this host, so the same suites run on
//! Spin's own runtime: `tests/spin-up`'s `fleet-spin-up` (Spin's runtime crates), or a real `spin` CLI.
//!
//! The suites choose with `FLEET_SPIN_UP=<binary>` ([`HostConfig::start_on_chosen_host`]). What this host
//! can do and Spin cannot (a request deadline, a memory cap, other outbound HTTP timeouts, extra Postgres CA
//! files) is refused at start, so a suite never silently runs with a setting Spin ignores.

use crate::host::{HostConfig, RunningHost};
use crate::stdio::{OutputSink, Stream};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable naming the `spin up`-compatible binary the suites run on.
pub const HOST_BINARY_VAR: &str = "FLEET_SPIN_UP";

/// Spin compiles the four components with Cranelift before it listens (~3 s here, longer on a loaded
/// machine; its wasmtime cache makes later starts fast).
const READY_WITHIN: Duration = Duration::from_secs(300);

/// The binary `FLEET_SPIN_UP` names, if set and non-empty.
pub fn chosen_binary() -> Option<PathBuf> {
    std::env::var_os(HOST_BINARY_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A `spin up`-compatible child process serving the app, with its output forwarded to the config's sink.
pub struct ExternalHost {
    child: Child,
    readers: Vec<std::thread::JoinHandle<()>>,
    _state_dir: tempfile::TempDir,
}

impl ExternalHost {
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

/// What the child is told: variables through Spin's environment provider (`SPIN_VARIABLE_*`, never on the
/// command line where `ps` shows them), the `default` SQLite file, the listen address.
pub struct Launch {
    pub variables: BTreeMap<String, String>,
    pub sqlite_default: Option<PathBuf>,
    pub listen: SocketAddr,
}

impl HostConfig {
    /// Starts the app on the host the suites were asked to use: in this process, or in the `spin up`-compatible
    /// binary named by `FLEET_SPIN_UP` (see the module docs).
    pub fn start_on_chosen_host(self) -> Result<RunningHost> {
        match chosen_binary() {
            Some(binary) => self.start_external(&binary),
            None => self.start(),
        }
    }

    /// Starts the app in `binary` (`fleet-spin-up`, or `spin`, which gets `up` and a runtime config file).
    pub fn start_external(self, binary: &Path) -> Result<RunningHost> {
        let launch = self.external_launch()?;
        let state_dir = tempfile::Builder::new()
            .prefix("fleet-spin-up-state")
            .tempdir()?;
        let mut command = spin_up_command(
            binary,
            self.manifest_path(),
            launch.listen,
            launch.sqlite_default.as_deref(),
            state_dir.path(),
        )?;
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SPIN_VARIABLE_") {
                command.env_remove(key);
            }
        }
        for (name, value) in &launch.variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let sink = self.output_sink();
        let readers = vec![
            forward(child.stdout.take(), Stream::Stdout, sink.clone()),
            forward(child.stderr.take(), Stream::Stderr, sink),
        ];
        let mut external = ExternalHost {
            child,
            readers,
            _state_dir: state_dir,
        };
        if let Err(error) = wait_until_listening(&mut external.child, launch.listen) {
            external.stop();
            return Err(error.context(format!("{} did not start", binary.display())));
        }
        Ok(RunningHost::external(launch.listen, external))
    }

    /// The child's launch, or why this config cannot run on Spin.
    pub fn external_launch(&self) -> Result<Launch> {
        let unsupported = self.spin_unsupported_settings();
        if !unsupported.is_empty() {
            bail!(
                "this host configuration cannot run on Spin's runtime: {}",
                unsupported.join("; ")
            );
        }
        let mut sqlite = self.sqlite_paths().clone();
        let sqlite_default = sqlite.remove("default");
        if let Some(label) = sqlite.keys().next() {
            bail!("SQLite database `{label}`: only `default` can be given to fleet-spin-up");
        }
        let listen = match self.listen_addr() {
            addr if addr.port() == 0 => free_port(addr)?,
            addr => addr,
        };
        Ok(Launch {
            variables: self.effective_variables(),
            sqlite_default,
            listen,
        })
    }
}

/// The command line of `spin up` for `manifest` in `binary`: `fleet-spin-up` takes the `default` SQLite file as
/// `--sqlite-db`; a binary named `spin` gets `up` and a runtime config file (in `state_dir`) naming it. Logs go
/// under `state_dir`, never `.spin/` in the tree; every component is followed (Spin's default).
pub fn spin_up_command(
    binary: &Path,
    manifest: &Path,
    listen: SocketAddr,
    sqlite_default: Option<&Path>,
    state_dir: &Path,
) -> Result<Command> {
    let mut command = Command::new(binary);
    let is_spin_cli = binary.file_name().is_some_and(|n| n == "spin");
    if is_spin_cli {
        command.arg("up");
    }
    command
        .arg("--from")
        .arg(manifest)
        .arg("--listen")
        .arg(listen.to_string())
        .arg("--state-dir")
        .arg(state_dir);
    if let Some(path) = sqlite_default {
        if is_spin_cli {
            let config = state_dir.join("runtime-config.toml");
            std::fs::write(
                &config,
                format!(
                    "[sqlite_database.default]\ntype = \"spin\"\npath = {}\n",
                    toml_string(&path.display().to_string())
                ),
            )?;
            command.arg("--runtime-config-file").arg(config);
        } else {
            command.arg("--sqlite-db").arg(path);
        }
    }
    Ok(command)
}

/// A port the OS just handed out and released (Spin's `--listen` needs a number).
pub fn free_port(addr: SocketAddr) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    Ok(listener.local_addr()?)
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Forwards each output line of the child, prefixed `[spin]` (Spin writes component output without the
/// component's name), to the sink.
fn forward<R: Read + Send + 'static>(
    pipe: Option<R>,
    stream: Stream,
    sink: OutputSink,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.emit(stream, format!("[spin] {line}"));
        }
    })
}

/// Waits (bounded) until the child accepts connections, or reports that it exited.
pub fn wait_until_listening(child: &mut Child, addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("it exited with {status} before listening on {addr}");
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("not listening on {addr} after {} s", READY_WITHIN.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
