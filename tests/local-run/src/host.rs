//! The Spin host (`spin-test-host serve`) as a child process, like `spin up`: variables go in through
//! `SPIN_VARIABLE_*` in its environment (never on the command line, where `ps` would show secrets), and its
//! "Serving <url>" line says it is ready.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the host may take to compile the components and bind.
const READY_WITHIN: Duration = Duration::from_secs(120);
/// How long a SIGINT-ed host may take to drain before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// The host's opt-in limits, which `spin up` does not have (the host is Spin-like by default). The local run
/// turns them on because it is a long-lived demo on a developer's machine: the scheduler sweeps every few
/// seconds and the dashboard keeps polling, so requests that hung (each holding an instance, its memory and a
/// database connection) would pile up until the host's 256 instance slots are gone. Past 60 s (above every
/// reconcile and sweep budget) a request gets a 500 and the host logs "request exceeded its 60s deadline";
/// an instance may grow a memory to 256 MiB. Fidelity to Spin is the end-to-end suites' job, which run
/// without them.
const HOST_LIMITS: [&str; 4] = [
    "--request-timeout-ms",
    "60000",
    "--max-instance-memory",
    "268435456",
];

pub struct HostProcess {
    pub addr: SocketAddr,
    child: Child,
}

impl HostProcess {
    /// Starts `host_bin serve` for `manifest` on `listen` (port 0 picks one) with "default" SQLite at `database`.
    pub fn start(
        host_bin: &Path,
        manifest: &Path,
        listen: SocketAddr,
        database: &Path,
        variables: &BTreeMap<String, String>,
    ) -> Result<HostProcess> {
        crate::paths::require(
            host_bin,
            "the Spin host (spin-test-host)",
            "cargo build -p spin-test-host",
        )?;
        let mut command = Command::new(host_bin);
        command
            .arg("serve")
            .arg("--from")
            .arg(manifest)
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--sqlite-default")
            .arg(database)
            .args(HOST_LIMITS)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "warn");
        }
        for (name, value) in variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", host_bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        // Relays the host's stdout (component output) after picking out the ready line.
        std::thread::Builder::new()
            .name("host-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    match line.strip_prefix("Serving ") {
                        Some(url) => {
                            let _ = ready_tx.send(url.trim().to_string());
                        }
                        None => {
                            let _ = writeln!(std::io::stdout().lock(), "{line}");
                        }
                    }
                }
            })?;
        let mut host = HostProcess {
            addr: listen,
            child,
        };
        host.addr = host.wait_ready(&ready_rx)?;
        Ok(host)
    }

    fn wait_ready(&mut self, ready: &mpsc::Receiver<String>) -> Result<SocketAddr> {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Ok(url) = ready.recv_timeout(Duration::from_millis(100)) {
                let authority = url.trim_start_matches("http://").trim_end_matches('/');
                return authority
                    .parse()
                    .map_err(|e| anyhow!("the host announced {url:?}: {e}"));
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the Spin host exited before serving ({status}); its error is above");
            }
        }
        bail!("the Spin host was not serving after {READY_WITHIN:?}")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGINT (the host drains in-flight requests), then SIGKILL if it has not exited in time.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet (try_wait said it is running).
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
        let deadline = Instant::now() + STOP_WITHIN;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
