//! The Spin host as a child process (`spin-test-host serve`), so a suite can SIGKILL it mid-request and run
//! two of them against one database. Variables go in through `SPIN_VARIABLE_*` (never on the command line,
//! where `ps` would show secrets); the host's "Serving <url>" line says it is ready.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Compiling the four components takes ~10 s on this machine; leave room for a loaded one.
const READY_WITHIN: Duration = Duration::from_secs(180);

/// `spin-test-host` from the same target directory as the running test.
pub fn spin_test_host_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> → target/<profile>/spin-test-host
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile.join("spin-test-host");
    assert!(
        bin.exists(),
        "{} not found: build it with `cargo build -p spin-test-host` (tests/fleet test does)",
        bin.display()
    );
    bin
}

pub struct HostProcess {
    pub addr: SocketAddr,
    child: Child,
    /// Spin's state dir (logs) when the host is the `spin up`-compatible binary of `FLEET_SPIN_UP`.
    _spin_state: Option<tempfile::TempDir>,
}

impl HostProcess {
    /// Starts a host for `manifest`; its logs go to `log` (appended), component output included.
    pub fn start(
        manifest: &Path,
        sqlite_default: &Path,
        variables: &BTreeMap<String, String>,
        log: &Path,
    ) -> HostProcess {
        if let Some(binary) = spin_test_host::external::chosen_binary() {
            return HostProcess::start_spin(&binary, manifest, sqlite_default, variables, log);
        }
        let log_file = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("open the host log")
        };
        let mut command = Command::new(spin_test_host_bin());
        command
            .arg("serve")
            .arg("--from")
            .arg(manifest)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--sqlite-default")
            .arg(sqlite_default)
            .env_clear()
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file()));
        for (name, value) in variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let mut child = command.spawn().expect("spawn spin-test-host");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        let mut sink = log_file();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match line.strip_prefix("Serving ") {
                    Some(url) => {
                        let _ = ready_tx.send(url.trim().to_string());
                    }
                    None => {
                        let _ = writeln!(sink, "{line}");
                    }
                }
            }
        });
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(url) = ready_rx.recv_timeout(Duration::from_millis(100)) {
                let authority = url.trim_start_matches("http://").trim_end_matches('/');
                let addr = authority.parse().expect("the host announces its address");
                return HostProcess {
                    addr,
                    child,
                    _spin_state: None,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "spin-test-host exited before serving ({status}); see {}",
                    log.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "spin-test-host not serving after {READY_WITHIN:?}"
            );
        }
    }

    /// The same app in `FLEET_SPIN_UP`'s `spin up`-compatible binary (Spin's own runtime): its output goes to `log`,
    /// and it is ready when its port accepts connections.
    fn start_spin(
        binary: &Path,
        manifest: &Path,
        sqlite_default: &Path,
        variables: &BTreeMap<String, String>,
        log: &Path,
    ) -> HostProcess {
        use spin_test_host::external;
        let log_file = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("open the host log")
        };
        let state = tempfile::tempdir().expect("a state dir");
        let addr = external::free_port(SocketAddr::from(([127, 0, 0, 1], 0))).expect("a free port");
        let mut command =
            external::spin_up_command(binary, manifest, addr, Some(sqlite_default), state.path())
                .expect("the spin up command line");
        command
            .env_clear()
            .envs(std::env::vars_os().filter(|(k, _)| k == "PATH" || k == "HOME"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file()))
            .stderr(Stdio::from(log_file()));
        for (name, value) in variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        if let Err(error) = external::wait_until_listening(&mut child, addr) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}: {error:#}; see {}", binary.display(), log.display());
        }
        HostProcess {
            addr,
            child,
            _spin_state: Some(state),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: whatever requests were in flight die where they stand.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
