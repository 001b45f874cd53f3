//! Issue 5 through the real host: the provision and deprovision components (.wasm), the Fly simulator and a
//! real database. Regression tests for the seed design's bugs included.

use std::time::Duration;

use fleet_e2e::{user, Fleet, IMAGE, WEBHOOK_SECRET};
use fleet_store::AppStatus;
use fly_simulator::SimConfig;
use serde_json::json;

fn quiet() -> SimConfig {
    SimConfig::default().without_rate_limits()
}

const CONVERGE: Duration = Duration::from_secs(60);

#[test]
fn webhook_provisions_one_started_machine_with_secrets_in_sin() {
    let fleet = Fleet::postgres(quiet());
    let alice = user(1);
    fleet.subscribe(alice, "pro", "active");
    let answer = fleet.until_converged(
        "/provision",
        &Fleet::webhook("INSERT", alice, "pro", "active"),
        CONVERGE,
    );
    assert_eq!(answer["status"], "active", "{answer}");
    assert_eq!(answer["user_id"], alice.to_string());
    let app = answer["app_name"].as_str().unwrap().to_string();

    assert_eq!(fleet.live_apps().len(), 1);
    let machines = fleet.live_machines(&app);
    assert_eq!(machines.len(), 1, "{machines:#?}");
    let m = &machines[0];
    assert_eq!(
        (m["state"].as_str(), m["region"].as_str()),
        (Some("started"), Some("sin"))
    );
    assert_eq!(m["region_defaulted"], false);
    assert_eq!(m["config"]["image"], IMAGE);
    assert_eq!(
        m["config"]["guest"],
        json!({"cpu_kind": "shared", "cpus": 2, "memory_mb": 512})
    );
    let env = &m["effective_env"];
    assert_eq!(env["RUN_MODE"], "user_dedicated");
    assert_eq!(env["USER_ID"], alice.to_string());
    let database_url = env["DATABASE_URL"]
        .as_str()
        .expect("secrets reach the machine (seed bug)");
    let mut screener =
        postgres::Client::connect(database_url, postgres::NoTls).expect("minted role logs in");
    let who: String = screener
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert!(who.starts_with("fleet_scr_"), "{who}");
}

#[test]
fn ten_concurrent_identical_webhooks_make_one_app_and_one_machine() {
    let fleet = Fleet::sqlite(quiet());
    let bob = user(2);
    fleet.subscribe(bob, "elite", "active");
    let body = Fleet::webhook("UPDATE", bob, "elite", "active");
    std::thread::scope(|scope| {
        for _ in 0..10 {
            scope.spawn(|| {
                let (status, answer) = fleet.post("/provision", &body);
                assert!(status == 200 || status == 202, "{status} {answer}");
            });
        }
    });
    let answer = fleet.until_converged("/provision", &body, CONVERGE);
    let app = answer["app_name"].as_str().unwrap();
    assert_eq!(fleet.apps().len(), 1, "one app");
    assert_eq!(fleet.live_machines(app).len(), 1, "one machine");
}

#[test]
fn downgrade_upgrade_downgrade_cycles_end_correct_and_keep_the_name() {
    let fleet = Fleet::sqlite(quiet());
    let carol = user(3);
    let mut names = Vec::new();
    for (tier, status, route, want) in [
        ("pro", "active", "/provision", "active"),
        ("free", "active", "/deprovision", "deleted"),
        ("elite", "trialing", "/provision", "active"),
        ("pro", "cancelled", "/deprovision", "deleted"),
    ] {
        fleet.subscribe(carol, tier, status);
        let answer = fleet.until_converged(
            route,
            &Fleet::webhook("UPDATE", carol, tier, status),
            CONVERGE,
        );
        assert_eq!(answer["status"], want, "{answer}");
        names.push(answer["app_name"].as_str().unwrap().to_string());
    }
    assert!(
        names.windows(2).all(|w| w[0] == w[1]),
        "the name is reused: {names:?}"
    );
    assert!(fleet.live_machines(&names[0]).is_empty());
    let row = fleet.store().app(carol).unwrap().unwrap();
    assert_eq!(row.status, AppStatus::Deleted);
}

#[test]
fn stale_and_out_of_order_webhooks_are_refused_without_effect() {
    let fleet = Fleet::sqlite(quiet());
    let dave = user(4);
    fleet.subscribe(dave, "free", "active");
    let before = fleet.snapshot();
    // A late "upgrade" webhook for a user who is no longer entitled.
    let (status, answer) = fleet.post(
        "/provision",
        &Fleet::webhook("UPDATE", dave, "pro", "active"),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("not_entitled")),
        "{answer}"
    );
    // A seed-style body that claims a tier the database does not grant.
    let (status, _) = fleet.post(
        "/provision",
        &json!({"user_id": dave.to_string(), "tier": "elite"}),
    );
    assert_eq!(status, 409);
    fleet.subscribe(dave, "pro", "active");
    let before_entitled = fleet.snapshot();
    let (status, answer) = fleet.post(
        "/deprovision",
        &json!({"user_id": dave.to_string(), "reason": "cancelled"}),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("entitled")),
        "{answer}"
    );
    assert_eq!(
        fleet.snapshot(),
        before_entitled,
        "a refused deprovision changes nothing"
    );
    assert_ne!(
        before, before_entitled,
        "the snapshot does see real changes"
    );
    assert!(
        fleet.sim.sim().request_log().is_empty(),
        "no Fly call was made"
    );
}

#[test]
fn bad_input_and_bad_auth_get_4xx_json_without_effect() {
    let fleet = Fleet::sqlite(quiet());
    let erin = user(5);
    fleet.subscribe(erin, "pro", "active");
    let before = fleet.snapshot();
    let good = Fleet::webhook("INSERT", erin, "pro", "active")
        .to_string()
        .into_bytes();
    let bearer = format!("Bearer {WEBHOOK_SECRET}");
    let stale =
        fleet_http::sign_request(WEBHOOK_SECRET, chrono::Utc::now().timestamp() - 301, &good);
    // (case, body, authorization, expected status, expected error)
    type Case<'a> = (&'a str, Vec<u8>, Option<String>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("no auth", good.clone(), None, 401, "unauthorized"),
        (
            "wrong bearer",
            good.clone(),
            Some("Bearer nope".into()),
            401,
            "unauthorized",
        ),
        (
            "malformed json",
            b"{\"type\":".to_vec(),
            Some(bearer.clone()),
            400,
            "malformed_json",
        ),
        (
            "missing user",
            b"{}".to_vec(),
            Some(bearer.clone()),
            400,
            "missing_user_id",
        ),
        (
            "invalid uuid",
            br#"{"user_id":"1 OR 1=1"}"#.to_vec(),
            Some(bearer.clone()),
            400,
            "invalid_user_id",
        ),
        (
            "unknown table",
            json!({"type":"INSERT","table":"traders","record":{"user_id": erin.to_string()}})
                .to_string()
                .into_bytes(),
            Some(bearer.clone()),
            400,
            "unknown_table",
        ),
        (
            "huge body",
            vec![b' '; 65 * 1024],
            Some(bearer.clone()),
            400,
            "payload_too_large",
        ),
    ];
    for route in ["/provision", "/deprovision"] {
        for (case, body, auth, want_status, want_error) in &cases {
            let (status, answer) = fleet.post_raw(route, body.clone(), auth.as_deref());
            assert_eq!(
                (status, answer["error"].as_str()),
                (*want_status, Some(*want_error)),
                "{route} {case}: {answer}"
            );
            assert!(!answer.to_string().contains(WEBHOOK_SECRET));
        }
        // A signature replayed outside the 5-minute tolerance.
        let response = fleet
            .http
            .post(fleet.host.url(route))
            .header("x-fleet-signature", &stale)
            .body(good.clone())
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
    }
    assert_eq!(fleet.snapshot(), before, "no state changed");
    assert!(
        fleet.sim.sim().request_log().is_empty(),
        "no Fly call was made"
    );
}

#[test]
fn a_fresh_signature_is_accepted() {
    let fleet = Fleet::sqlite(quiet());
    let frank = user(6);
    fleet.subscribe(frank, "pro", "active");
    let body = json!({"user_id": frank.to_string(), "tier": "pro"})
        .to_string()
        .into_bytes();
    let signature = fleet_http::sign_request(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
    let response = fleet
        .http
        .post(fleet.host.url("/provision"))
        .header("x-fleet-signature", signature)
        .body(body)
        .send()
        .unwrap();
    assert!(
        matches!(response.status().as_u16(), 200 | 202),
        "{}",
        response.status()
    );
}

#[test]
fn a_429_storm_slows_provisioning_but_it_still_converges() {
    // Rate limits on (1 req/s, burst 3 per action and app), as Fly documents.
    let fleet = Fleet::sqlite(SimConfig::default());
    let users: Vec<_> = (10..14).map(user).collect();
    for u in &users {
        fleet.subscribe(*u, "pro", "active");
    }
    std::thread::scope(|scope| {
        for u in &users {
            let fleet = &fleet;
            scope.spawn(move || {
                fleet.until_converged(
                    "/provision",
                    &Fleet::webhook("INSERT", *u, "pro", "active"),
                    Duration::from_secs(90),
                );
            });
        }
    });
    let throttled = fleet
        .sim
        .sim()
        .request_log()
        .iter()
        .filter(|e| e.status == 429)
        .count();
    assert!(throttled > 0, "the storm produced 429s");
    assert_eq!(fleet.live_apps().len(), users.len());
    for app in fleet.live_apps() {
        assert_eq!(fleet.live_machines(app["name"].as_str().unwrap()).len(), 1);
    }
}
