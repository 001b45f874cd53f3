//! The real `health.wasm` in the Spin test host, against the Fly simulator and a real PostgreSQL:
//! `POST /health/sweep` repairs a crashed machine and reports it; auth and bad input are refused with no
//! state change; `GET /health/apps/{user_id}` shows the live view to the admin only.
//! Needs `cargo build --target wasm32-wasip2 --release -p health` first.

mod support;

use std::time::Duration;

use fleet_store::HealthStatus;
use serde_json::Value;
use spin_test_host::{HostConfig, RunningHost};
use support::{quiet_sim, user, Rig};

/// The HMAC key (32 random bytes as hex) and the separate bearer token the scheduler uses here.
const WEBHOOK_SECRET: &str = "5e1c0d2a9b4e6a8c0d2f4b6e8a0c2e4f6a8b0d2e4c6a8e0b2d4f6a8c0e2b4d6f";
const WEBHOOK_BEARER: &str = "a7c3e9b1d5f7a3c9e1b5d7f3a9c1e7b3d9f5a1c7e3b9d1f7a5c3e9b1d7f5a3c9";
const ADMIN_TOKEN: &str = "ad1c0d2a9b4e6a8c0d2f4b6e8a0c2e4f6a8b0d2e4c6a8e0b2d4f6a8c0e2b4d61";

/// How long a request may take before the test reports it as hung.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

const MANIFEST: &str = r#"spin_manifest_version = 2

[application]
name = "fleet-health-test"

[variables]
database_url = { required = true, secret = true }
webhook_secret = { required = true, secret = true }
webhook_bearer_token = { required = true, secret = true }
admin_token = { required = true, secret = true }
fly_api_token = { required = true, secret = true }
fly_api_origin = { required = true }
fly_org = { required = true }
fly_image = { required = true }
screener_db_port = { required = true }
screener_db_name = { required = true }
app_url_template = { required = true }

[[trigger.http]]
route = "/health/..."
component = "health"

[component.health]
source = "__WASM__"
allowed_outbound_hosts = ["http://127.0.0.1:*", "postgres://127.0.0.1:*"]
[component.health.variables]
database_url = "{{ database_url }}"
webhook_secret = "{{ webhook_secret }}"
webhook_bearer_token = "{{ webhook_bearer_token }}"
admin_token = "{{ admin_token }}"
fly_api_token = "{{ fly_api_token }}"
fly_api_origin = "{{ fly_api_origin }}"
fly_org = "{{ fly_org }}"
fly_image = "{{ fly_image }}"
screener_db_host = "127.0.0.1"
screener_db_port = "{{ screener_db_port }}"
screener_db_name = "{{ screener_db_name }}"
app_url_template = "{{ app_url_template }}"
check_interval_secs = "0"
sweep_concurrency = "4"
sweep_budget_ms = "20000"
"#;

struct Host {
    host: RunningHost,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

fn start_host<C: fleet_store::SqlConnection>(rig: &Rig<C>) -> Host {
    start_host_with(rig, &[])
}

/// The host with `extra` literal variables given to the health component.
fn start_host_with<C: fleet_store::SqlConnection>(rig: &Rig<C>, extra: &[(&str, &str)]) -> Host {
    let wasm = fleet_test_support::wasm::component_path("health");
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    let mut text = MANIFEST.replace("__WASM__", &wasm.display().to_string());
    for (name, value) in extra {
        text.push_str(&format!("{name} = \"{value}\"\n"));
    }
    std::fs::write(&manifest, text).unwrap();
    let target = rig.fly_target();
    let database = rig.database_url.rsplit('/').next().unwrap().to_string();
    let port = rig
        .database_url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let host = HostConfig::new(&manifest)
        .environment(Vec::new())
        .variable("database_url", rig.database_url.clone())
        .variable("webhook_secret", WEBHOOK_SECRET)
        .variable("webhook_bearer_token", WEBHOOK_BEARER)
        .variable("admin_token", ADMIN_TOKEN)
        .variable("fly_api_token", target.token.clone())
        .variable(
            "fly_api_origin",
            target.base_url.trim_end_matches("/v1").to_string(),
        )
        .variable("fly_org", target.org.clone())
        .variable("fly_image", support::IMAGE)
        .variable("screener_db_port", port)
        .variable("screener_db_name", database)
        .variable("app_url_template", rig.config.app_url_template.clone())
        .sqlite_default(dir.path().join("unused.db"))
        .start_on_chosen_host()
        .expect("the host starts with health.wasm");
    // The host has no deadline (as Spin has none): the client's timeout turns a hung sweep into a failure
    // that says so instead of a stalled suite.
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    Host {
        host,
        _dir: dir,
        http,
    }
}

impl Host {
    fn call<C: fleet_store::SqlConnection>(
        &self,
        rig: &Rig<C>,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.host.url(path))
            .body(body.to_string());
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        rig.block_on(async {
            let response = request.send().await.unwrap_or_else(|error| {
                if error.is_timeout() {
                    panic!(
                        "{method} {path}: the request hung (no answer in {} s)",
                        REQUEST_TIMEOUT.as_secs()
                    )
                }
                panic!("{method} {path}: no answer from the host: {error}")
            });
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON {status}: {text}")),
            )
        })
    }
}

#[test]
fn the_health_component_sweeps_repairs_and_shows_one_app() {
    let mut rig = Rig::postgres(quiet_sim());
    let grace = user(500);
    rig.provision_users(500, 1);
    let host = start_host(&rig);

    // Refused without the webhook secret, and nothing was looked at.
    let requests_before = rig.sim.sim().request_log().len();
    let (status, body) = host.call(&rig, "POST", "/health/sweep", Some("wrong"), "{}");
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let (status, _) = host.call(&rig, "POST", "/health/sweep", None, "{}");
    assert_eq!(status, 401);
    let (status, body) = host.call(
        &rig,
        "POST",
        "/health/sweep",
        Some(WEBHOOK_BEARER),
        "{not json",
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        rig.sim.sim().request_log().len(),
        requests_before,
        "no Fly call for refused requests"
    );
    assert!(!body.to_string().contains(WEBHOOK_SECRET));

    // A crashed machine is repaired by the component's sweep.
    let row = rig.row(grace);
    let app = row.fly_app_name.clone().unwrap();
    assert!(rig
        .sim
        .sim()
        .crash_machine(row.machine_id.as_deref().unwrap()));
    let (status, summary) = host.call(&rig, "POST", "/health/sweep", Some(WEBHOOK_BEARER), "");
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        (summary["checked"].as_u64(), summary["repaired"].as_u64()),
        (Some(1), Some(1)),
        "{summary}"
    );
    assert!(summary["fly_calls"].as_u64().unwrap() >= 2, "{summary}");
    for key in [
        "healthy",
        "unhealthy",
        "provisioned",
        "deprovisioned",
        "rolled",
        "orphans",
        "duration_ms",
        "remaining",
    ] {
        assert!(summary[key].is_u64(), "{key} in {summary}");
    }
    rig.wait_for("machine started", Duration::from_secs(5), |rig| {
        rig.live_machines(&app)
            .iter()
            .any(|m| m["state"] == "started")
    });
    let (status, summary) = host.call(&rig, "POST", "/health/sweep", Some(WEBHOOK_BEARER), "");
    assert_eq!(
        (status, summary["healthy"].as_u64()),
        (200, Some(1)),
        "{summary}"
    );
    assert_eq!(rig.row(grace).health_status, HealthStatus::Healthy);

    // The operator's view: admin token only, constant-time checked; bad ids are 400.
    let path = format!("/health/apps/{grace}");
    let (status, _) = host.call(&rig, "GET", &path, Some(WEBHOOK_SECRET), "");
    assert_eq!(status, 401, "the webhook secret is not the admin token");
    let (status, body) = host.call(
        &rig,
        "GET",
        "/health/apps/not-a-uuid",
        Some(ADMIN_TOKEN),
        "",
    );
    assert_eq!(status, 400, "{body}");
    let (status, view) = host.call(&rig, "GET", &path, Some(ADMIN_TOKEN), "");
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["stored"]["app_name"], app.as_str());
    assert_eq!(view["live"]["machines"][0]["state"], "started");
    assert_eq!(view["live"]["screener"]["user_id"], grace.to_string());
    assert_eq!(view["verdict"]["health_status"], "healthy");
    assert!(view["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event_type"] == "recovery_attempted"));
    let (status, _) = host.call(
        &rig,
        "GET",
        &format!("/health/apps/{}", user(999)),
        Some(ADMIN_TOKEN),
        "",
    );
    assert_eq!(status, 404);
}

#[test]
fn screener_database_variables_are_checked_with_errors_that_name_the_variable() {
    let rig = Rig::postgres(quiet_sim());
    let sweep = |extra: &[(&str, &str)]| {
        let host = start_host_with(&rig, extra);
        host.call(&rig, "POST", "/health/sweep", Some(WEBHOOK_BEARER), "")
    };
    // A mode that does not exist, and a pooled mode without its project ref: configuration errors that name the
    // variable and never show a value.
    for (extra, variable) in [
        (
            vec![("screener_db_mode", "pooled-hunter2")],
            "screener_db_mode",
        ),
        (
            vec![
                ("screener_db_mode", "transaction"),
                ("screener_db_pooler_host", "pooler.example"),
            ],
            "supabase_project_ref",
        ),
        (
            vec![
                ("screener_db_mode", "session"),
                ("screener_db_pooler_host", "user:hunter2@pooler.example"),
                ("supabase_project_ref", "abcdefghijklmnopqrst"),
            ],
            "screener_db_pooler_host",
        ),
    ] {
        let (status, body) = sweep(&extra);
        let text = body.to_string();
        assert_eq!(status, 500, "{text}");
        assert!(text.contains(&format!("variable {variable}")), "{text}");
        assert!(!text.contains("hunter2"), "a value leaked: {text}");
    }
    // Transaction mode, complete: the sweep runs.
    let (status, body) = sweep(&[
        ("screener_db_mode", "transaction"),
        (
            "screener_db_pooler_host",
            "aws-0-ap-southeast-1.pooler.supabase.com",
        ),
        ("supabase_project_ref", "abcdefghijklmnopqrst"),
    ]);
    assert_eq!(status, 200, "{body}");
}
