//! Per-tier sizes through the real provision.wasm and health.wasm in the host with the real spin.toml: an
//! Elite user's webhook provisions a machine at Elite's guest (fly_cpus_elite / fly_memory_mb_elite) while
//! a Pro user's gets today's single size; a bad tier variable is a 500 configuration error that names the
//! variable (never a trap). Build the components first:
//! `cargo build --target wasm32-wasip2 --release -p provision -p health`.

mod common;

use std::time::Duration;

use common::user;
use fleet_store::native::NativeSqlite;
use fleet_store::{SqlConnection, SqlValue, UserId};
use serde_json::{json, Value};

const BEARER: &str = "c4a9e1c7d5f3b1a9e7c5d3f1b9a7e5c3d1f9b7a5e3c1d9f7b5a3e1c9d7f5b3a2";

type Host = common::sqlite_host::SqliteHost;

fn start(vars: &[(&str, &str)]) -> Host {
    let mut all = vec![("webhook_bearer_token", BEARER)];
    all.extend_from_slice(vars);
    common::sqlite_host::start(|_| {}, &all)
}

impl Host {
    fn subscribe(&self, user: UserId, tier: &str) {
        NativeSqlite::open(&self.db)
            .unwrap()
            .execute(
                "INSERT INTO user_subscriptions (user_id, tier, status) VALUES (?1, ?2, 'active')",
                &[SqlValue::from(user.to_string()), tier.into()],
            )
            .unwrap();
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
            .post(self.host.url(path))
            .header("authorization", format!("Bearer {BEARER}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().unwrap_or(Value::Null))
    }

    fn provision(&self, user: UserId, tier: &str) -> (u16, Value) {
        let row = json!({"user_id": user.to_string(), "tier": tier, "status": "active"});
        let hint = json!({"type": "INSERT", "table": "user_subscriptions", "schema": "public",
                          "record": row, "old_record": row});
        self.post("/provision", &hint)
    }

    fn guest_of(&self, user: UserId) -> Value {
        let mut conn = NativeSqlite::open(&self.db).unwrap();
        let rows = conn
            .query(
                "SELECT fly_app_name FROM user_fly_apps WHERE user_id = ?1",
                &[SqlValue::from(user.to_string())],
            )
            .unwrap();
        let app = rows[0].text("fly_app_name").unwrap();
        let apps = self.sim.sim().state_dump()["apps"].clone();
        let app = apps
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == app.as_str())
            .unwrap()
            .clone();
        app["machines"][0]["config"]["guest"].clone()
    }
}

#[test]
fn an_elite_webhook_provisions_elites_guest_and_a_bad_size_names_its_variable() {
    let h = start(&[("fly_cpus_elite", "4"), ("fly_memory_mb_elite", "2048")]);
    let (pro, elite) = (user(1), user(2));
    h.subscribe(pro, "pro");
    h.subscribe(elite, "elite");
    // Re-sent until converged, as the platform's retries would (Fly's rate limits may ask to wait).
    for (u, tier) in [(pro, "pro"), (elite, "elite")] {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let (status, body) = h.provision(u, tier);
            assert!(status == 200 || status == 202, "{body}");
            if status == 200 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not converged: {body}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let g = h.guest_of(elite);
    assert_eq!(
        (g["cpus"].as_u64(), g["memory_mb"].as_u64()),
        (Some(4), Some(2048)),
        "{g}"
    );
    let g = h.guest_of(pro);
    assert_eq!(
        (g["cpus"].as_u64(), g["memory_mb"].as_u64()),
        (Some(2), Some(512)),
        "{g}"
    );

    let bad = start(&[("fly_cpus_elite", "3")]);
    for path in ["/provision", "/health/sweep"] {
        let (status, body) = if path == "/provision" {
            bad.provision(user(3), "elite")
        } else {
            bad.post(path, &json!({}))
        };
        assert_eq!(status, 500, "{path}: {body}");
        assert_eq!(body["error"], "configuration", "{path}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("fly_cpus_elite"),
            "{path}: {body}"
        );
    }
}
