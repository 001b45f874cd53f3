//! Shared by the local-run suites: start a local run on free ports in a temp state dir, drive users through
//! the platform's own path (subscription row + webhook hint), and observe screener processes.

#![allow(dead_code)]

use fleet_local_run::{DemoUser, LocalRun, LocalRunConfig};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Rig {
    pub run: LocalRun,
    pub http: reqwest::blocking::Client,
    _state: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("fleet-local-run-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

impl Rig {
    pub fn start(tag: &str) -> Rig {
        let state = temp_dir(tag);
        let mut config = LocalRunConfig::for_this_build().expect("config");
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.state_dir = state.0.clone();
        config.sweep_every = Duration::from_secs(2);
        let run = LocalRun::start(config).expect("the local run starts");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Rig {
            run,
            http,
            _state: state,
        }
    }

    pub fn db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(&self.run.database).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }

    /// Sets a subscription as billing would, then sends the matching webhook hint until it converges.
    pub fn set_tier(&self, user: &DemoUser, tier: &str) {
        self.db()
            .execute(
                "UPDATE user_subscriptions SET tier = ?1, status = 'active' WHERE user_id = ?2",
                [tier, user.id],
            )
            .unwrap();
        let route = if tier == "free" {
            "/deprovision"
        } else {
            "/provision"
        };
        let row = json!({"user_id": user.id, "tier": tier, "status": "active"});
        let hint = json!({"type": "UPDATE", "table": "user_subscriptions", "schema": "public",
                          "record": row, "old_record": row});
        wait_for(
            &format!("{route} converges"),
            Duration::from_secs(90),
            || {
                // Signed, with a fresh hint_id per attempt (a signature is accepted once).
                let mut hint = hint.clone();
                hint["hint_id"] = json!(uuid::Uuid::new_v4().to_string());
                let body = hint.to_string().into_bytes();
                let signature = fleet_http::sign_request(
                    self.run.webhook_secret().expose(),
                    chrono::Utc::now().timestamp(),
                    &body,
                );
                let answer = self
                    .http
                    .post(self.run.url(route))
                    .header("content-type", "application/json")
                    .header(fleet_http::SIGNATURE_HEADER, signature)
                    .body(body)
                    .send()
                    .ok()?;
                let status = answer.status().as_u16();
                let body: Value = answer.json().unwrap_or(Value::Null);
                assert!(
                    status == 200 || status == 202,
                    "{route} answered {status}: {body}"
                );
                (status == 200).then_some(())
            },
        );
    }

    /// `(status, fly_app_name)` of the user's app row, if any.
    pub fn app_row(&self, user: &DemoUser) -> Option<(String, Option<String>)> {
        self.db()
            .query_row(
                "SELECT status, fly_app_name FROM user_fly_apps WHERE user_id = ?1",
                [user.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    }

    /// `(machine id, pid)` of the app's machines that run a process, from the simulator's state.
    pub fn machine_processes(&self, app: &str) -> Vec<(String, u32)> {
        let state = self.run.sim().expect("simulator mode").state_dump();
        state["apps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["name"] == app)
            .flat_map(|a| a["machines"].as_array().cloned().unwrap_or_default())
            .filter_map(|m| {
                Some((
                    m["id"].as_str()?.to_string(),
                    m["process"]["pid"].as_u64()? as u32,
                ))
            })
            .collect()
    }

    pub fn signal_count(&self, user: &DemoUser) -> i64 {
        self.db()
            .query_row(
                "SELECT count(*) FROM signals s JOIN traders t ON t.id = s.trader_id \
                 WHERE s.user_id = ?1 AND t.user_id = ?1",
                [user.id],
                |r| r.get(0),
            )
            .unwrap()
    }
}

/// Polls `probe` every 200 ms until it yields a value; panics after `within`.
pub fn wait_for<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether `pid` is a live (not zombie) process.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

/// The process's command line, to prove a pid is a screener and not a recycled pid.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

/// One variable of the process's environment.
pub fn environ_var(pid: u32, name: &str) -> Option<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    bytes
        .split(|b| *b == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .find_map(|entry| entry.strip_prefix(&format!("{name}=")).map(str::to_string))
}
