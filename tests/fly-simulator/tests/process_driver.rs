//! The process driver runs a real child process per started machine; its checks probe `/health`.

use fly_simulator::{FlySim, ProcessDriverConfig, SimConfig};
use serde_json::{json, Value};
use std::future::Future;
use std::time::{Duration, Instant};

const IMAGE: &str = "registry.fly.io/echo:1";

async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (
            status,
            serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null),
        )
    }
}

fn pid_alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test]
async fn started_machine_runs_the_image_with_env_and_real_health_checks() {
    let mut driver = ProcessDriverConfig::default();
    driver.images.insert(
        IMAGE.into(),
        env!("CARGO_BIN_EXE_fly-sim-echo-machine").into(),
    );
    let sim = FlySim::start(SimConfig {
        process_driver: Some(driver),
        ..SimConfig::default().without_rate_limits()
    })
    .await
    .unwrap();
    let api = Api {
        http: reqwest::Client::new(),
        base: sim.base_url(),
        token: sim.token().into(),
    };
    let post = reqwest::Method::POST;

    let (s, _) = api
        .call(
            post.clone(),
            "/apps",
            Some(json!({"name": "vyx-user-p1", "org_slug": "fleet"})),
        )
        .await;
    assert_eq!(s, 201);
    eventually("app visible", || async {
        (api.call(reqwest::Method::GET, "/apps/vyx-user-p1", None)
            .await
            .0
            == 200)
            .then_some(())
    })
    .await;
    let (_, v) = api
        .call(
            post.clone(),
            "/apps/vyx-user-p1/secrets",
            Some(json!({"values": {"SUPABASE_KEY": "sk-test-1"}})),
        )
        .await;
    let version = v["version"].as_u64().unwrap();
    let body = json!({
        "region": "fra",
        "min_secrets_version": version,
        "config": {
            "image": IMAGE,
            "env": {"RUN_MODE": "user_dedicated"},
            "checks": {"health": {"type": "http", "port": 8080, "path": "/health", "interval": "1s"}}
        }
    });
    let (s, m) = api
        .call(post.clone(), "/apps/vyx-user-p1/machines", Some(body))
        .await;
    assert_eq!(s, 200, "{m}");
    let id = m["id"].as_str().unwrap().to_string();

    let machine_path = format!("/apps/vyx-user-p1/machines/{id}");
    eventually("checks passing", || async {
        let (_, m) = api.call(reqwest::Method::GET, &machine_path, None).await;
        (m["state"] == "started" && m["checks"][0]["status"] == "passing").then_some(())
    })
    .await;

    let url = sim
        .app_url("vyx-user-p1")
        .expect("a base url while started");
    assert!(
        sim.public_app_url("vyx-user-p1").is_none(),
        "a machine without services is reachable on the private network only, as on Fly"
    );
    let health: Value = serde_json::from_slice(
        &reqwest::get(format!("{url}/health"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let env = &health["env"];
    assert_eq!(env["FLY_APP_NAME"], "vyx-user-p1");
    assert_eq!(env["FLY_MACHINE_ID"], id.as_str());
    assert_eq!(env["FLY_REGION"], "fra");
    assert_eq!(env["FLY_IMAGE_REF"], IMAGE);
    assert_eq!(env["SUPABASE_KEY"], "sk-test-1");
    assert_eq!(env["RUN_MODE"], "user_dedicated");
    assert_eq!(env["PORT"], url.rsplit(':').next().unwrap());
    let pid = sim.state_dump()["apps"][0]["machines"][0]["process"]["pid"]
        .as_u64()
        .unwrap();
    assert!(pid_alive(pid));

    // The process exiting on its own stops the machine and fails its checks.
    let _ = reqwest::get(format!("{url}/crash")).await;
    eventually("machine stopped after crash", || async {
        let (_, m) = api.call(reqwest::Method::GET, &machine_path, None).await;
        (m["state"] == "stopped" && m["checks"][0]["status"] == "critical").then_some(())
    })
    .await;
    assert!(sim.app_url("vyx-user-p1").is_none());

    // Start again: a new process; stop ends it.
    api.call(post.clone(), &format!("{machine_path}/start"), None)
        .await;
    let pid = eventually("restarted process", || async {
        sim.state_dump()["apps"][0]["machines"][0]["process"]["pid"].as_u64()
    })
    .await;
    assert!(pid_alive(pid));
    api.call(
        post.clone(),
        &format!("{machine_path}/stop"),
        Some(json!({"signal": "SIGTERM"})),
    )
    .await;
    eventually("process ended by stop", || async {
        (!pid_alive(pid)).then_some(())
    })
    .await;

    // Dropping the simulator kills running processes.
    let (s, _) = api
        .call(
            reqwest::Method::GET,
            &format!("{machine_path}/wait?state=stopped&timeout=5"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(post.clone(), &format!("{machine_path}/start"), None)
        .await;
    assert_eq!(s, 200);
    let pid = eventually("third process", || async {
        sim.state_dump()["apps"][0]["machines"][0]["process"]["pid"].as_u64()
    })
    .await;
    drop(sim);
    eventually("process killed on drop", || async {
        (!pid_alive(pid)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn unmapped_image_fails_to_boot_under_the_driver() {
    let sim = FlySim::start(SimConfig {
        process_driver: Some(ProcessDriverConfig::default()),
        timings: fly_simulator::Timings {
            app_visibility_delay: Duration::ZERO,
            ..Default::default()
        },
        ..SimConfig::default().without_rate_limits()
    })
    .await
    .unwrap();
    let api = Api {
        http: reqwest::Client::new(),
        base: sim.base_url(),
        token: sim.token().into(),
    };
    api.call(
        reqwest::Method::POST,
        "/apps",
        Some(json!({"name": "vyx-user-p2", "org_slug": "fleet"})),
    )
    .await;
    let (_, m) = api
        .call(
            reqwest::Method::POST,
            "/apps/vyx-user-p2/machines",
            Some(json!({"region": "iad", "config": {"image": "nope"}})),
        )
        .await;
    let path = format!(
        "/apps/vyx-user-p2/machines/{}/wait?state=failed&timeout=5",
        m["id"].as_str().unwrap()
    );
    let (s, w) = api.call(reqwest::Method::GET, &path, None).await;
    assert_eq!((s, w["state"].as_str()), (200, Some("failed")));
}
