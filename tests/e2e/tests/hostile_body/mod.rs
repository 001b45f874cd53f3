//! The oversized-body attack (issue 19 item 2): unauthenticated 100 MB POSTs to `/admin/login` and
//! `/provision`, sent to the real components in a `spin-test-host` child process so the host's own memory can
//! be measured (its peak RSS, reset through `/proc/<pid>/clear_refs` before each request).

use std::collections::BTreeMap;

use fleet_e2e::chaos::host_process::HostProcess;
use fleet_e2e::raw_http::{self, Framing, RawResponse};
use fleet_e2e::{ADMIN_TOKEN, IMAGE, WEBHOOK_SECRET};
use fleet_store::native::NativeSqlite;
use fleet_store::Store;
use fly_simulator::{FlySimThread, SimConfig};

pub const HUNDRED_MB: u64 = 100 * 1024 * 1024;

/// A host process serving spin.toml over a migrated SQLite database, with the simulator as its Fly API.
pub struct BodyRig {
    pub host: HostProcess,
    _sim: FlySimThread,
    _dir: tempfile::TempDir,
}

impl BodyRig {
    pub fn start() -> BodyRig {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("fleet.db");
        Store::new(NativeSqlite::open(&db).expect("open sqlite"))
            .migrate()
            .expect("migrate");
        let sim = FlySimThread::start(SimConfig::default()).expect("start the Fly simulator");
        let variables: BTreeMap<String, String> = [
            ("webhook_secret", WEBHOOK_SECRET.to_string()),
            ("admin_token", ADMIN_TOKEN.to_string()),
            ("fly_api_token", sim.sim().token().to_string()),
            ("fly_api_origin", sim.sim().root_url()),
            ("fly_org", sim.sim().org_slug().to_string()),
            ("fly_image", IMAGE.to_string()),
            ("database_url", "sqlite://default".to_string()),
            (
                "screener_database_url",
                format!("sqlite://{}", db.display()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let manifest = fleet_e2e::manifest_in(dir.path());
        let host = HostProcess::start(&manifest, &db, &variables, &dir.path().join("host.log"));
        BodyRig {
            host,
            _sim: sim,
            _dir: dir,
        }
    }

    /// Sends `size` bytes to `route` and answers the response with how far the host's resident memory
    /// rose above where it stood just before (peak RSS, kB).
    pub fn post_measured(&self, route: &str, size: u64, framing: Framing) -> (RawResponse, u64) {
        let pid = self.host.pid();
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the host's peak RSS");
        let before = status_kb(pid, "VmRSS:");
        let response = raw_http::send_generated(
            self.host.addr,
            "POST",
            route,
            &[("content-type", "application/json")],
            size,
            framing,
        );
        let peak = status_kb(pid, "VmHWM:");
        (response, peak.saturating_sub(before))
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}
