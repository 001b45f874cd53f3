//! The real spin.toml served by a `spin-test-host` child process over a migrated SQLite database, with the Fly
//! simulator as its Fly API and variables a test may override. A child process, so a test can measure the host's
//! own memory (its peak RSS, reset through `/proc/<pid>/clear_refs`) and start it with variables `Fleet` does
//! not set (unsafe defaults and modes, issue 19).
#![allow(dead_code)] // Each suite uses part of the rig.

use std::collections::BTreeMap;
use std::path::PathBuf;

use fleet_e2e::chaos::host_process::HostProcess;
use fleet_e2e::raw_http::{self, Framing, RawRequest, RawResponse};
use fleet_e2e::{ADMIN_TOKEN, IMAGE, WEBHOOK_SECRET};
use fleet_store::native::NativeSqlite;
use fleet_store::{SqlConnection, SqlValue, Store, UserId};
use fly_simulator::{FlySimThread, SimConfig};
use serde_json::Value;

pub const HUNDRED_MB: u64 = 100 * 1024 * 1024;

pub struct ProcessRig {
    pub host: HostProcess,
    pub sim: FlySimThread,
    pub db: PathBuf,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ProcessRig {
    pub fn start() -> ProcessRig {
        ProcessRig::start_with(&[])
    }

    /// Starts the host with Fleet's test variables, `overrides` replacing or adding some.
    pub fn start_with(overrides: &[(&str, &str)]) -> ProcessRig {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("fleet.db");
        Store::new(NativeSqlite::open(&db).expect("open sqlite"))
            .migrate()
            .expect("migrate");
        let sim = FlySimThread::start(SimConfig::default().without_rate_limits())
            .expect("start the Fly simulator");
        let mut variables: BTreeMap<String, String> = [
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
            (
                "app_url_template",
                format!("{}/__no_screener/{{app}}", sim.sim().root_url()),
            ),
            ("app_url_origin", sim.sim().root_url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (name, value) in overrides {
            variables.insert(name.to_string(), value.to_string());
        }
        let manifest = fleet_e2e::manifest_in(dir.path());
        let log = dir.path().join("host.log");
        let host = HostProcess::start(&manifest, &db, &variables, &log);
        ProcessRig {
            host,
            sim,
            db,
            log,
            _dir: dir,
        }
    }

    /// Sets a subscription in the SQLite database, as the platform would.
    pub fn subscribe(&self, user: UserId, tier: &str, status: &str) {
        let mut conn = NativeSqlite::open(&self.db).expect("open sqlite");
        let sql = fleet_store::query::render(
            conn.dialect(),
            "INSERT INTO user_subscriptions (user_id, tier, status) VALUES ({uuid:1}, {text:2}, {text:3}) \
             ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, status = excluded.status",
        );
        conn.execute(
            &sql,
            &[SqlValue::from(user.to_string()), tier.into(), status.into()],
        )
        .expect("subscribe");
    }

    /// One request with the admin token as bearer; the answer's status and JSON body.
    pub fn admin(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let res = raw_http::send(
            self.host.addr,
            &RawRequest {
                label: format!("{method} {path}"),
                method: method.into(),
                target: path.into(),
                headers: vec![
                    ("authorization".into(), format!("Bearer {ADMIN_TOKEN}")),
                    ("content-type".into(), "application/json".into()),
                ],
                body: body.as_bytes().to_vec(),
            },
        );
        let json = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
        (res.status, json)
    }

    /// The simulator's machines (not destroyed) of every app.
    pub fn machines(&self) -> Vec<Value> {
        self.sim.sim().state_dump()["apps"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .flat_map(|a| a["machines"].as_array().cloned().unwrap_or_default())
            .filter(|m| m["state"] != "destroyed")
            .collect()
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
