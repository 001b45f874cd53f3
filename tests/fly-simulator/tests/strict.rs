//! Strict mode (issue 14): per-action rate limits on every action with `Retry-After`, an effect whose answer
//! is lost (connection dropped), a deleted app's name held after its asynchronous delete, and `vyx-user-*`
//! names owned by another organisation.

use fly_simulator::{FaultSettings, FlySim, ScriptedFault, SimConfig, Timings};
use serde_json::{json, Value};
use std::time::Duration;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(sim: &FlySim) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: sim.base_url(),
        }
    }

    /// `Ok((status, retry-after, body))`, or `Err` when no answer came back at all.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Option<String>, Value), reqwest::Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth("sim-token");
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = r.bytes().await?;
        Ok((
            status,
            retry,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn create_app(&self, name: &str) -> Result<(u16, Option<String>, Value), reqwest::Error> {
        self.call(
            reqwest::Method::POST,
            "/apps",
            Some(json!({"name": name, "org_slug": "fleet"})),
        )
        .await
    }

    async fn status(&self, method: reqwest::Method, path: &str) -> u16 {
        self.call(method, path, None).await.unwrap().0
    }
}

fn quick() -> Timings {
    Timings {
        app_visibility_delay: Duration::ZERO,
        app_delete_delay: Duration::from_millis(50),
        ..Timings::default()
    }
}

#[tokio::test]
async fn strict_rate_limits_cover_app_create_reads_and_secrets_with_retry_after() {
    let sim = FlySim::start(SimConfig {
        timings: quick(),
        ..SimConfig::default().strict(Duration::ZERO)
    })
    .await
    .unwrap();
    let api = Api::new(&sim);
    let mut statuses = Vec::new();
    let mut retry = None;
    for i in 0..4 {
        let (s, r, b) = api.create_app(&format!("app-{i}")).await.unwrap();
        statuses.push(s);
        if s == 429 {
            assert_eq!(b["error"], "rate limit exceeded");
            retry = r;
        }
    }
    assert_eq!(statuses, [201, 201, 201, 429]);
    assert_eq!(retry.as_deref(), Some("1"), "429 carries Retry-After");
    // The refused create had no effect.
    assert_eq!(api.status(reqwest::Method::GET, "/apps/app-3").await, 404);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(api.create_app("app-3").await.unwrap().0, 201);

    // GET app is a read: burst 10 per app.
    let mut gets = Vec::new();
    for _ in 0..11 {
        gets.push(api.status(reqwest::Method::GET, "/apps/app-0").await);
    }
    assert_eq!(gets[..10], [200; 10]);
    assert_eq!(gets[10], 429);
    assert_eq!(api.status(reqwest::Method::GET, "/apps/app-1").await, 200);

    // Secrets writes: burst 3 per app.
    let mut writes = Vec::new();
    for _ in 0..4 {
        let (s, _, _) = api
            .call(
                reqwest::Method::POST,
                "/apps/app-1/secrets",
                Some(json!({"values": {"K": "v"}})),
            )
            .await
            .unwrap();
        writes.push(s);
    }
    assert_eq!(writes, [200, 200, 200, 429]);

    // A scripted 429 strikes one exact call, before its effect, with Retry-After.
    sim.set_faults(FaultSettings {
        scripted: vec![ScriptedFault {
            method: "GET".into(),
            path_contains: "/apps/app-2".into(),
            path_ends: true,
            kind: fly_simulator::FaultKind::Before429,
            count: 1,
        }],
        ..FaultSettings::default()
    });
    let (s, r, _) = api
        .call(reqwest::Method::GET, "/apps/app-2", None)
        .await
        .unwrap();
    assert_eq!((s, r.as_deref()), (429, Some("1")));
    assert_eq!(api.status(reqwest::Method::GET, "/apps/app-2").await, 200);

    // The default (lax) config keeps these unlimited.
    let lax = FlySim::start(SimConfig {
        timings: quick(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(&lax);
    for i in 0..6 {
        assert_eq!(api.create_app(&format!("lax-{i}")).await.unwrap().0, 201);
    }
}

#[tokio::test]
async fn a_dropped_answer_still_took_effect() {
    let sim = FlySim::start(SimConfig {
        timings: quick(),
        faults: FaultSettings {
            scripted: vec![ScriptedFault {
                method: "POST".into(),
                path_contains: "/v1/apps".into(),
                path_ends: true,
                kind: fly_simulator::FaultKind::AfterDrop,
                count: 1,
            }],
            ..FaultSettings::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(&sim);
    let lost = api.create_app("vyx-user-0a1b2c3d").await;
    assert!(lost.is_err(), "no answer at all, got {lost:?}");
    // The app exists: a retry of the create is a name collision, and GET shows it as ours.
    let (s, _, b) = api.create_app("vyx-user-0a1b2c3d").await.unwrap();
    assert_eq!((s, b["status"].as_str()), (422, Some("name_taken")));
    let (s, _, b) = api
        .call(reqwest::Method::GET, "/apps/vyx-user-0a1b2c3d", None)
        .await
        .unwrap();
    assert_eq!(
        (s, b["organization"]["slug"].as_str()),
        (200, Some("fleet"))
    );
    let log = sim.request_log();
    assert_eq!(log[0].fault.as_deref(), Some("AfterDrop"));
    assert_eq!(log[0].status, 201, "the log records what happened");

    // At random: drop_after_rate 1.0 drops every mutating call's answer, never a read's.
    sim.set_faults(FaultSettings {
        seed: 3,
        drop_after_rate: 1.0,
        ..FaultSettings::default()
    });
    assert!(api.create_app("vyx-user-99999999").await.is_err());
    assert_eq!(
        api.status(reqwest::Method::GET, "/apps/vyx-user-99999999")
            .await,
        200
    );
}

#[tokio::test]
async fn a_deleted_name_stays_taken_while_get_says_404() {
    let hold = Duration::from_millis(600);
    // `strict` sets the hold in the timings, so apply it after the test's short timings.
    let sim = FlySim::start(
        SimConfig {
            timings: quick(),
            ..SimConfig::default()
        }
        .strict(hold)
        .without_rate_limits(),
    )
    .await
    .unwrap();
    let api = Api::new(&sim);
    assert_eq!(api.create_app("vyx-user-deadbeef").await.unwrap().0, 201);
    assert_eq!(
        api.status(reqwest::Method::DELETE, "/apps/vyx-user-deadbeef")
            .await,
        202
    );
    // Mid-delete: GET 404, create 422.
    assert_eq!(
        api.status(reqwest::Method::GET, "/apps/vyx-user-deadbeef")
            .await,
        404
    );
    assert_eq!(api.create_app("vyx-user-deadbeef").await.unwrap().0, 422);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Delete completed: the app is gone (GET 404, DELETE 404, not listed), the name still held.
    assert_eq!(
        api.status(reqwest::Method::DELETE, "/apps/vyx-user-deadbeef")
            .await,
        404
    );
    let (_, _, list) = api
        .call(reqwest::Method::GET, "/apps?org_slug=fleet", None)
        .await
        .unwrap();
    assert_eq!(list["total_apps"], 0);
    let (s, _, b) = api.create_app("vyx-user-deadbeef").await.unwrap();
    assert_eq!((s, b["status"].as_str()), (422, Some("name_taken")));
    assert_eq!(
        sim.state_dump()["reserved_names"],
        json!(["vyx-user-deadbeef"])
    );
    tokio::time::sleep(hold).await;
    assert_eq!(api.create_app("vyx-user-deadbeef").await.unwrap().0, 201);

    // Off by default: the name is free once the delete completes.
    let lax = FlySim::start(SimConfig {
        timings: quick(),
        ..SimConfig::default().without_rate_limits()
    })
    .await
    .unwrap();
    let api = Api::new(&lax);
    assert_eq!(api.create_app("vyx-user-deadbeef").await.unwrap().0, 201);
    api.status(reqwest::Method::DELETE, "/apps/vyx-user-deadbeef")
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(api.create_app("vyx-user-deadbeef").await.unwrap().0, 201);
}

#[tokio::test]
async fn vyx_user_names_owned_by_another_org() {
    let names = [
        "vyx-user-0123abcd",
        "vyx-user-0123abcd4567",
        "vyx-user-0123abcd4567ef01",
    ];
    let sim = FlySim::start(SimConfig {
        timings: quick(),
        foreign_apps: names[..2].iter().map(|n| n.to_string()).collect(),
        ..SimConfig::default().without_rate_limits()
    })
    .await
    .unwrap();
    sim.add_foreign_app(names[2]);
    let api = Api::new(&sim);
    for name in names {
        let (s, _, b) = api.create_app(name).await.unwrap();
        assert_eq!(
            (s, b["status"].as_str(), b["error"].as_str()),
            (
                422,
                Some("name_taken"),
                Some("Validation failed: Name has already been taken")
            ),
            "{name}"
        );
        let (s, _, b) = api
            .call(reqwest::Method::GET, &format!("/apps/{name}"), None)
            .await
            .unwrap();
        assert_eq!((s, b["error"].as_str()), (403, Some("unauthorized")));
        for (m, p) in [
            (reqwest::Method::DELETE, format!("/apps/{name}")),
            (reqwest::Method::GET, format!("/apps/{name}/machines")),
        ] {
            assert_eq!(api.status(m, &p).await, 403, "{p}");
        }
    }
    assert_eq!(
        sim.state_dump()["foreign_apps"].as_array().unwrap().len(),
        3
    );
}
