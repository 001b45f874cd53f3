//! Issue 5 through the real host: the provision and deprovision components (.wasm), the Fly simulator and a
//! real database (the platform fixture with Fleet's migrations, or SQLite). Regression tests for the seed
//! design's bugs included, and issue 17's: the platform's own subscription write provisions exactly once,
//! through Fleet, never through the platform's old edge functions.

use std::time::Duration;

use fleet_e2e::{user, Fleet, IMAGE, PLATFORM_PROJECT_URL, WEBHOOK_BEARER, WEBHOOK_SECRET};
use fleet_store::AppStatus;
use fleet_test_support::platform;
use fleet_test_support::postgres::describe;
use fly_simulator::SimConfig;
use serde_json::{json, Value};

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
    // Issue 19: no public port (the sweep probes over the private network), and the app's own probe token.
    assert!(
        m["config"]["services"]
            .as_array()
            .is_none_or(|s| s.is_empty()),
        "machine config exposes no public port by default: {}",
        m["config"]
    );
    let token = env["FLEET_PROBE_TOKEN"]
        .as_str()
        .expect("a probe token secret");
    assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!token.contains(fleet_e2e::PROBE_KEY));
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
    let bearer = format!("Bearer {WEBHOOK_BEARER}");
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
            "the signing key sent as bearer",
            good.clone(),
            Some(format!("Bearer {WEBHOOK_SECRET}")),
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
            413,
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
            assert!(!answer.to_string().contains(WEBHOOK_BEARER));
        }
        // A signature replayed outside the 5-minute tolerance.
        let response = fleet.send(
            &format!("POST {route}"),
            fleet
                .http
                .post(fleet.host.url(route))
                .header("x-fleet-signature", &stale)
                .body(good.clone()),
        );
        assert_eq!(response.status().as_u16(), 401);
    }
    assert_eq!(fleet.snapshot(), before, "no state changed");
    assert!(
        fleet.sim.sim().request_log().is_empty(),
        "no Fly call was made"
    );
}

#[test]
fn replayed_signed_hint_is_refused() {
    let fleet = Fleet::sqlite(quiet());
    let frank = user(6);
    fleet.subscribe(frank, "pro", "active");
    let body = json!({"user_id": frank.to_string(), "tier": "pro"})
        .to_string()
        .into_bytes();
    let signature = fleet_http::sign_request(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
    let send = || {
        fleet.send(
            "POST /provision",
            fleet
                .http
                .post(fleet.host.url("/provision"))
                .header("x-fleet-signature", &signature)
                .body(body.clone()),
        )
    };
    let first = send().status().as_u16();
    assert!(matches!(first, 200 | 202), "a fresh signature: {first}");
    // The same captured request again, well within the 5-minute window: refused, and nothing is redone.
    let fly_calls = fleet.sim.sim().request_log().len();
    let replay = send();
    assert_eq!(replay.status().as_u16(), 401);
    let answer: Value = replay.json().unwrap();
    assert_eq!(answer["error"], "unauthorized", "{answer}");
    assert_eq!(fleet.sim.sim().request_log().len(), fly_calls);
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

/// The platform's old provisioner (its migrations 035/037): edge functions called through pg_net.
const OLD_PROVISION: &str = "/functions/v1/provision-user-fly-app";
const OLD_DEPROVISION: &str = "/functions/v1/deprovision-user-fly-app";

/// pg_net requests queued after `after` (id, method, url, body, Authorization header).
/// pg_net's queued requests after `after`: id, method, url, the body as pg_net sends it (the jsonb's text) and
/// the headers.
fn queued_since(
    db: &mut postgres::Client,
    after: i64,
) -> Vec<(i64, String, String, String, Value)> {
    db.query(
        "SELECT id, method::text, url, coalesce(body, 'null'::jsonb)::text, coalesce(headers, '{}')::text \
         FROM net.http_request_queue WHERE id > $1 ORDER BY id",
        &[&after],
    )
    .expect("read pg_net's queue")
    .iter()
    .map(|r| {
        let headers: String = r.get(4);
        (
            r.get(0),
            r.get(1),
            r.get(2),
            r.get(3),
            serde_json::from_str(&headers).unwrap(),
        )
    })
    .collect()
}

/// The hint's body without its random `hint_id` (which makes every signature unique).
fn without_hint_id(body: &str) -> Value {
    let mut value: Value = serde_json::from_str(body).unwrap();
    let id = value
        .as_object_mut()
        .unwrap()
        .remove("hint_id")
        .expect("a hint_id");
    fleet_store::UserId::parse(id.as_str().unwrap()).expect("hint_id is a uuid");
    value
}

/// The user's subscription as a fresh connection sees it (so only committed writes count).
fn committed_tier(fleet: &Fleet, who: &str) -> String {
    fleet
        .pg()
        .query_one(
            "SELECT tier FROM public.user_subscriptions WHERE user_id = $1::text::uuid",
            &[&who],
        )
        .unwrap()
        .get(0)
}

/// Fly calls of the simulator's log that match `method` and a path predicate.
fn fly_calls(fleet: &Fleet, method: &str, path: impl Fn(&str) -> bool) -> usize {
    fleet
        .sim
        .sim()
        .request_log()
        .iter()
        .filter(|e| e.method == method && e.status < 300 && path(&e.path))
        .count()
}

/// Delivers one queued pg_net request to Fleet as pg_net's worker would (its URL, headers and body bytes): the
/// request carries no secret, only a signature made inside PostgreSQL, which the component accepts once; the
/// same request replayed is refused. Then the hint is re-sent (with the bearer token) until Fleet answers 200.
fn deliver(fleet: &Fleet, url: &str, body: &str, headers: &Value) -> Value {
    let route = url
        .strip_prefix(&fleet.host.url(""))
        .unwrap_or_else(|| panic!("{url} is not Fleet's host"));
    let everything = format!("{url}\n{headers}\n{body}");
    for (name, secret) in [
        ("signing key", WEBHOOK_SECRET),
        ("bearer token", WEBHOOK_BEARER),
    ] {
        assert!(
            !everything.contains(secret),
            "pg_net's request holds the {name}: {everything}"
        );
    }
    let names: Vec<String> = headers
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.to_lowercase())
        .collect();
    assert_eq!(names, ["content-type", "x-fleet-signature"], "{headers}");
    let send = || {
        let mut request = fleet.http.post(url).body(body.to_string());
        for (name, value) in headers.as_object().unwrap() {
            request = request.header(name.as_str(), value.as_str().unwrap());
        }
        let response = fleet.send(&format!("POST {route} (pg_net)"), request);
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap())
    };
    let (status, answer) = send();
    assert!(
        matches!(status, 200 | 202),
        "the signed hint verifies in the component: {status} {answer}"
    );
    let (status, answer) = send();
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("unauthorized")),
        "a replayed hint is refused: {answer}"
    );
    fleet.until_converged(route, &without_hint_id(body), CONVERGE)
}

#[test]
fn pg_net_hint_carries_no_secret_verifies_once_and_its_replay_is_refused_while_the_platforms_write_provisions_once_through_fleet(
) {
    let fleet = Fleet::postgres(quiet());
    let mut db = fleet.pg();
    // Production's configuration: Vault holds the platform's project_url and service_role_key (the rig
    // stores them, see fleet_e2e::prepare_platform_database), which the old provisioner would have used; and
    // Fleet's hint target in fleet.settings, as README says.
    let vault: i64 = db
        .query_one(
            "SELECT count(*) FROM vault.decrypted_secrets WHERE (name, decrypted_secret) IN \
             (('project_url', $1), ('service_role_key', $2))",
            &[&PLATFORM_PROJECT_URL, &fleet_e2e::PLATFORM_SERVICE_ROLE_KEY],
        )
        .unwrap()
        .get(0);
    assert_eq!(vault, 2, "Vault holds project_url and service_role_key");
    db.execute(
        "INSERT INTO fleet.settings (key, value) VALUES ('webhook_base_url', $1), ('webhook_secret', $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&fleet.host.url(""), &WEBHOOK_SECRET],
    )
    .unwrap();

    // A user signs up (GoTrue's insert; the platform's trigger creates a free subscription): nothing queued.
    let who = user(17).to_string();
    db.batch_execute(&platform::sign_up_sql(&who, "upgrader@e2e.invalid"))
        .unwrap_or_else(|e| panic!("sign-up: {}", describe(&e)));
    assert!(
        queued_since(&mut db, 0).is_empty(),
        "sign-up queues nothing"
    );
    assert_eq!(committed_tier(&fleet, &who), "free");

    // Upgrade: the platform's billing write, one UPDATE, autocommitted.
    let updated = platform::set_subscription(&mut db, &who, "pro", "active", None)
        .unwrap_or_else(|e| panic!("the platform's upgrade write failed: {}", describe(&e)));
    assert_eq!(updated, 1);
    assert_eq!(committed_tier(&fleet, &who), "pro", "the upgrade committed");
    assert_eq!(
        platform::http_post_calls(&mut db, OLD_PROVISION).unwrap(),
        0,
        "the platform's old provisioner was called"
    );
    let queued = queued_since(&mut db, 0);
    assert_eq!(queued.len(), 1, "exactly one hint, Fleet's: {queued:?}");
    let (last, method, url, body, headers) = queued[0].clone();
    assert_eq!(
        (method.to_uppercase().as_str(), url.as_str()),
        ("POST", fleet.host.url("/provision").as_str())
    );
    assert_eq!(
        without_hint_id(&body),
        json!({"user_id": who, "tier": "pro"})
    );
    let (status, due): (String, bool) = {
        let row = db
            .query_one(
                "SELECT status, next_attempt_at IS NOT NULL FROM public.user_fly_apps \
                 WHERE user_id = $1::text::uuid",
                &[&who],
            )
            .expect("Fleet's trigger created the user's row");
        (row.get(0), row.get(1))
    };
    assert_eq!((status.as_str(), due), ("provisioning", true));

    // pg_net delivers Fleet's hint; Fleet provisions: one app, one machine, one create of each.
    let answer = deliver(&fleet, &url, &body, &headers);
    assert_eq!(answer["status"], "active", "{answer}");
    let app = answer["app_name"].as_str().unwrap().to_string();
    assert_eq!(fleet.live_apps().len(), 1, "{:#?}", fleet.apps());
    assert_eq!(fleet.live_machines(&app).len(), 1);
    assert_eq!(
        fly_calls(&fleet, "POST", |p| p == "/v1/apps"),
        1,
        "one app create"
    );
    assert_eq!(
        fly_calls(&fleet, "POST", |p| p == format!("/v1/apps/{app}/machines")),
        1,
        "one machine create"
    );
    assert_eq!(
        platform::http_post_calls(&mut db, OLD_PROVISION).unwrap(),
        0
    );

    // Downgrade: the same write back to free. No old deprovisioner call; Fleet's hint tears the app down.
    let updated = platform::set_subscription(&mut db, &who, "free", "active", None)
        .unwrap_or_else(|e| panic!("the platform's downgrade write failed: {}", describe(&e)));
    assert_eq!(updated, 1);
    assert_eq!(
        committed_tier(&fleet, &who),
        "free",
        "the downgrade committed"
    );
    assert_eq!(
        platform::http_post_calls(&mut db, OLD_DEPROVISION).unwrap(),
        0,
        "the platform's old deprovisioner was called"
    );
    let queued = queued_since(&mut db, last);
    assert_eq!(queued.len(), 1, "exactly one hint, Fleet's: {queued:?}");
    let (_, method, url, body, headers) = queued[0].clone();
    assert_eq!(
        (method.to_uppercase().as_str(), url.as_str()),
        ("POST", fleet.host.url("/deprovision").as_str())
    );
    assert_eq!(
        without_hint_id(&body),
        json!({"user_id": who, "reason": "entitlement_ended"})
    );
    let answer = deliver(&fleet, &url, &body, &headers);
    assert_eq!(answer["status"], "deleted", "{answer}");
    assert!(fleet.live_apps().is_empty(), "{:#?}", fleet.apps());
    assert!(fleet.live_machines(&app).is_empty());
    let row = fleet.store().app(user(17)).unwrap().unwrap();
    assert_eq!(row.status, AppStatus::Deleted);

    // Over the whole run: only Fleet's two hints were ever queued, none of the old edge functions'.
    let all = queued_since(&mut db, 0);
    assert_eq!(all.len(), 2, "{all:?}");
    for old in [OLD_PROVISION, OLD_DEPROVISION] {
        assert_eq!(platform::http_post_calls(&mut db, old).unwrap(), 0, "{old}");
    }
    assert_eq!(
        fly_calls(&fleet, "POST", |p| p == "/v1/apps"),
        1,
        "never a second app"
    );
}
