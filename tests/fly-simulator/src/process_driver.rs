//! Process driver: a started machine runs a local executable (mapped from its image) as a child
//! process, with the machine's effective env, `FLY_*` variables and a free `PORT`.

use crate::config::ProcessDriverConfig;
use crate::state::MachineRec;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// A running child; killed when dropped (stop, delete, reset, simulator shutdown).
pub struct RunningProcess {
    child: Child,
    pub port: u16,
}

impl RunningProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(description)` once the process has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown exit ({e})")),
        }
    }
}

impl Drop for RunningProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts the executable mapped to the machine's image.
pub fn spawn(
    cfg: &ProcessDriverConfig,
    m: &MachineRec,
    app: &str,
) -> Result<RunningProcess, String> {
    let image = m.image();
    let exe = cfg
        .images
        .get(image)
        .ok_or_else(|| format!("no executable mapped for image {image:?}"))?;
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let child = Command::new(exe)
        .args(cfg.args.get(image).into_iter().flatten())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(m.effective_env())
        .env("FLY_APP_NAME", app)
        .env("FLY_MACHINE_ID", &m.id)
        .env("FLY_REGION", &m.region)
        .env("FLY_IMAGE_REF", image)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    Ok(RunningProcess { child, port })
}
