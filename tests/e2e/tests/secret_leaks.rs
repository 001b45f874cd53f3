//! Suite 4 (issue 9): a full scenario with known unique secrets (Fly token, webhook secret, admin token, the
//! database password, every minted screener password), then a search of every captured text for each
//! secret, raw and base64-encoded: component log lines, every database row (events, error_message, health
//! detail...), every HTTP answer (status, headers, body), the simulator's request log and state (outside the
//! Authorization header, secret payloads and the machine's booted env, the legitimate places), and the
//! PostgreSQL server log with `log_statement = all`. Expects zero hits, and proves the scan can fail.

use std::cell::RefCell;
use std::time::Duration;

use fleet_e2e::leaks::{base64, scan};
use fleet_e2e::{
    proof, snapshot, user, Database, Fleet, ADMIN_TOKEN, PROBE_KEY, WEBHOOK_BEARER, WEBHOOK_SECRET,
};
use fleet_store::UserId;
use fleet_test_support::postgres::{PgCluster, PgOptions};
use fly_simulator::{FaultSettings, SimConfig};
use serde_json::{json, Value};

const SUITE: &str = "secret_leaks";
const CONVERGE: Duration = Duration::from_secs(90);

struct Scenario {
    fleet: Fleet,
    answers: RefCell<Vec<(String, String)>>,
}

impl Scenario {
    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let mut req = self
            .fleet
            .http
            .request(method.parse().unwrap(), self.fleet.host.url(path))
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self.fleet.send(&format!("{method} {path}"), req);
        let status = res.status().as_u16();
        let head = format!("{status} {:?}", res.headers());
        let text = res.text().unwrap();
        self.answers
            .borrow_mut()
            .push((format!("answer {method} {path}"), format!("{head}\n{text}")));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn admin(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        self.call(method, path, &[("authorization", &auth)], body)
    }

    fn hook(&self, route: &str, body: &Value) -> (u16, Value) {
        let auth = format!("Bearer {WEBHOOK_BEARER}");
        self.call(
            "POST",
            route,
            &[("authorization", &auth)],
            &body.to_string(),
        )
    }

    /// Re-sends until 200, bounded.
    fn converge(&self, route: &str, who: UserId, tier: &str) -> Value {
        let body = Fleet::webhook("UPDATE", who, tier, "active");
        let deadline = std::time::Instant::now() + CONVERGE;
        loop {
            let (status, answer) = self.hook(route, &body);
            if status == 200 {
                return answer;
            }
            assert!(status == 202, "{route}: {status} {answer}");
            assert!(
                std::time::Instant::now() < deadline,
                "{route} did not converge: {answer}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn password_of(url: &str) -> String {
    let config: postgres::Config = url.parse().unwrap();
    String::from_utf8(config.get_password().expect("a password").to_vec()).unwrap()
}

/// The simulator's state without the places secrets legitimately live (booted env, secret values).
fn sim_state(fleet: &Fleet) -> String {
    let mut state = fleet.sim.sim().state_dump();
    for app in state["apps"].as_array_mut().into_iter().flatten() {
        for machine in app["machines"].as_array_mut().into_iter().flatten() {
            machine["effective_env"] = Value::Null;
        }
    }
    state.to_string()
}

#[test]
fn no_secret_appears_in_logs_events_errors_answers_or_the_fly_log() {
    let cluster = PgCluster::start_dedicated(PgOptions {
        settings: vec![("log_statement".into(), "all".into())],
    })
    .expect("a PostgreSQL cluster that logs every statement");
    let fly_token = format!("fly-tok-{:016x}", proof::seed(SUITE));
    let sim = SimConfig {
        token: fly_token.clone(),
        ..SimConfig::default().without_rate_limits()
    };
    let s = Scenario {
        fleet: Fleet::postgres_on(&cluster, sim),
        answers: RefCell::new(Vec::new()),
    };
    let fleet = &s.fleet;
    let Database::Postgres { url, .. } = &fleet.database else {
        unreachable!()
    };
    let db_url = url.clone();
    let (a, b, c) = (user(601), user(602), user(603));

    // Provision A and B by webhook; the admin's tier override is off by default (issue 19), so its refusal
    // is scanned too; sweep; every admin view.
    fleet.subscribe(a, "pro", "active");
    let app_a = s.converge("/provision", a, "pro")["app_name"]
        .as_str()
        .unwrap()
        .to_string();
    fleet.subscribe(b, "elite", "active");
    let (status, refusal) = s.admin(
        "POST",
        &format!("/admin/api/users/{b}/tier"),
        r#"{"tier":"elite"}"#,
    );
    assert_eq!(
        (status, refusal["error"].as_str()),
        (403, Some("tier_override_disabled"))
    );
    s.converge("/provision", b, "elite");
    assert_eq!(s.hook("/health/sweep", &json!({})).0, 200);
    let (_, login) = s.call(
        "POST",
        "/admin/login",
        &[("content-type", "application/json")],
        &json!({"token": ADMIN_TOKEN}).to_string(),
    );
    assert!(login["csrf_token"].is_string());
    // A session whose id the scan looks for everywhere (the database keeps only its SHA-256): used, then
    // logged out. Sent outside `s.call`, so the one answer that legitimately carries it is not captured.
    let session = {
        let r = fleet.send(
            "POST /admin/login",
            fleet
                .http
                .post(fleet.host.url("/admin/login"))
                .json(&json!({ "token": ADMIN_TOKEN })),
        );
        assert_eq!(r.status().as_u16(), 200);
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_string()
    };
    let cookie = [("cookie", session.as_str())];
    assert_eq!(s.call("GET", "/admin/api/summary", &cookie, "").0, 200);
    assert_eq!(s.call("POST", "/admin/logout", &cookie, "").0, 200);
    assert_eq!(s.call("GET", "/admin/api/summary", &cookie, "").0, 401);
    for path in [
        "/admin/api/session",
        "/admin/api/summary",
        "/admin/api/apps",
        "/admin/api/orphans",
        "/admin/api/migrations",
        "/admin/api/alerts",
        "/admin",
    ] {
        assert_eq!(s.admin("GET", path, "").0, 200, "{path}");
    }
    assert_eq!(s.admin("GET", &format!("/admin/api/apps/{a}"), "").0, 200);
    assert_eq!(
        s.admin("POST", "/admin/api/migrations", r#"{"dry_run":true}"#)
            .0,
        200
    );
    assert_eq!(s.admin("GET", &format!("/health/apps/{a}"), "").0, 200);

    // Bad auth attempts, each carrying a near-miss of a real secret.
    for (path, auth) in [
        ("/provision", format!("Bearer {WEBHOOK_BEARER}x")),
        ("/provision", format!("Bearer {WEBHOOK_SECRET}")),
        ("/health/sweep", format!("Bearer {ADMIN_TOKEN}")),
        ("/admin/api/summary", format!("Bearer {WEBHOOK_SECRET}")),
    ] {
        let (status, _) = s.call("POST", path, &[("authorization", &auth)], "{}");
        assert!((400..500).contains(&status));
    }
    s.call(
        "POST",
        "/admin/login",
        &[],
        &json!({"token": format!("{ADMIN_TOKEN}0")}).to_string(),
    );

    // Fly faults: C's provision fails (error_message and events recorded), then recovers.
    fleet.subscribe(c, "pro", "active");
    fleet.sim.sim().set_faults(FaultSettings {
        seed: 9,
        fail_before_rate: 1.0,
        ..FaultSettings::default()
    });
    let (status, failed) = s.hook("/provision", &Fleet::webhook("INSERT", c, "pro", "active"));
    assert_eq!(status, 202, "{failed}");
    // Capture the rows and events now: a later success clears error_message.
    for row in snapshot::full(fleet) {
        s.answers
            .borrow_mut()
            .push(("row during faults".into(), row));
    }
    fleet.sim.sim().set_faults(FaultSettings {
        seed: 9,
        ambiguous_after_rate: 0.5,
        ..FaultSettings::default()
    });
    s.hook("/provision", &Fleet::webhook("INSERT", c, "pro", "active"));
    fleet.sim.sim().set_faults(FaultSettings::default());
    s.converge("/provision", c, "pro");

    // Minted credentials, read before deprovisioning removes the machines.
    let mut secrets: Vec<(String, String)> = vec![
        ("fly token".into(), fly_token),
        ("webhook secret".into(), WEBHOOK_SECRET.into()),
        ("webhook bearer token".into(), WEBHOOK_BEARER.into()),
        ("admin token".into(), ADMIN_TOKEN.into()),
        ("database password".into(), password_of(&db_url)),
        ("probe key".into(), PROBE_KEY.into()),
    ];
    for app in fleet.live_apps() {
        for m in app["machines"].as_array().unwrap() {
            if let Some(token) = m["effective_env"]["FLEET_PROBE_TOKEN"].as_str() {
                secrets.push((format!("probe token of {}", app["name"]), token.to_string()));
            }
            if let Some(url) = m["effective_env"]["DATABASE_URL"].as_str() {
                secrets.push((
                    format!("screener password of {}", app["name"]),
                    password_of(url),
                ));
            }
        }
    }
    let session_value = session.split_once('=').unwrap().1;
    secrets.push(("admin session cookie".into(), session_value.into()));
    secrets.push((
        "admin session id".into(),
        session_value.split('.').next().unwrap().into(),
    ));
    assert!(
        secrets.len() >= 11,
        "three minted credentials and three probe tokens: {}",
        secrets.len()
    );

    // Deprovision A by webhook and B, C by one sweep.
    for who in [a, b, c] {
        fleet.subscribe(who, "free", "active");
    }
    s.converge("/deprovision", a, "free");
    assert_eq!(s.hook("/health/sweep", &json!({})).0, 200);
    assert!(fleet.live_machines(&app_a).is_empty());

    // Everything captured.
    let mut texts: Vec<(String, String)> = s.answers.take();
    texts.extend(
        fleet
            .component_lines()
            .into_iter()
            .map(|l| ("component log".to_string(), l)),
    );
    texts.extend(
        snapshot::full(fleet)
            .into_iter()
            .map(|r| ("database row".to_string(), r)),
    );
    for entry in fleet.sim.sim().request_log() {
        let body = entry.body.to_string();
        // The simulator replaces a known secret by *** in its log; outside a secrets payload that is a leak.
        let scrubbed = !entry.path.contains("/secrets") && body.contains("***");
        texts.push((
            format!("fly log {} {}", entry.method, entry.path),
            format!(
                "{} {body}{}",
                entry.path,
                if scrubbed { " SCRUBBED-SECRET" } else { "" }
            ),
        ));
    }
    texts.push(("fly state".into(), sim_state(fleet)));
    let mut pg = postgres::Client::connect(&cluster.admin_url(), postgres::NoTls).unwrap();
    let data: String = pg.query_one("SHOW data_directory", &[]).unwrap().get(0);
    let log_path = std::path::Path::new(&data)
        .parent()
        .unwrap()
        .join("postgres.log");
    let server_log = std::fs::read_to_string(&log_path).expect("the server log");
    assert!(
        server_log.contains("create_screener_role"),
        "statement logging is on"
    );
    texts.extend(
        server_log
            .lines()
            .map(|l| ("postgres log".to_string(), l.to_string())),
    );

    let hits = scan(&secrets, &texts);
    let scrubbed: Vec<_> = texts
        .iter()
        .filter(|(_, t)| t.contains("SCRUBBED-SECRET"))
        .collect();
    proof::figure(
        SUITE,
        "secrets",
        secrets.len(),
        "known values, each raw + base64/base64url at 3 alignments",
    );
    proof::figure(
        SUITE,
        "texts_scanned",
        texts.len(),
        "log lines, rows, answers, Fly log entries",
    );
    proof::figure(
        SUITE,
        "bytes_scanned",
        texts.iter().map(|(_, t)| t.len()).sum::<usize>(),
        "",
    );
    proof::figure(SUITE, "hits", hits.len() + scrubbed.len(), "must be 0");

    // The scan can fail: a planted secret (raw, and base64url inside a Basic-style pair) is found.
    for planted in [
        format!("leaked {}", secrets[4].1),
        base64(
            format!("user:{}", secrets[0].1).as_bytes(),
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        ),
    ] {
        let mut dirty = texts.clone();
        dirty.push(("planted".into(), planted));
        assert!(
            scan(&secrets, &dirty).len() > hits.len(),
            "the scanner finds a planted secret"
        );
    }
    assert!(hits.is_empty(), "secrets leaked: {hits:#?}");
    assert!(
        scrubbed.is_empty(),
        "secrets sent to Fly outside a secrets payload: {scrubbed:#?}"
    );
}
