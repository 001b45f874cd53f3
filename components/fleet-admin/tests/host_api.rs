//! The real admin.wasm in the wasmtime host (tests/spin-host) with the real spin.toml, against a SQLite file
//! and the Fly simulator: page, auth failures, CSRF, validation, traversal, confirmation, tier override
//! switch, an upgrade that provisions, and a small migration. Build the components first:
//! `cargo build --target wasm32-wasip2 --release -p admin -p provision -p deprovision`.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::sqlite_host::SqliteHost;
use common::user;
use fleet_store::native::NativeSqlite;
use fleet_store::{SqlConnection, SqlValue};
use fly_simulator::FlySimThread;
use serde_json::{json, Value};
use spin_test_host::RunningHost;

/// 32 random bytes as hex: Fleet refuses a shorter admin token.
const TOKEN: &str = common::sqlite_host::ADMIN_TOKEN;

struct HostRig {
    host: RunningHost,
    sim: FlySimThread,
    db: std::path::PathBuf,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

impl HostRig {
    fn start(allow_tier_override: bool) -> HostRig {
        let override_tiers = allow_tier_override.to_string();
        let SqliteHost { host, sim, db, dir } =
            common::sqlite_host::start(|_| {}, &[("allow_tier_override", override_tiers.as_str())]);
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        HostRig {
            host,
            sim,
            db,
            http,
            _dir: dir,
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.host.url(path))
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().unwrap();
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        let text = res.text().unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, json)
    }

    fn admin(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let auth = format!("Bearer {TOKEN}");
        let (s, _, v) = self.send(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body,
        );
        (s, v)
    }

    fn execute(&self, sql: &str, params: &[SqlValue]) {
        NativeSqlite::open(&self.db)
            .unwrap()
            .execute(sql, params)
            .unwrap();
    }

    /// A raw HTTP/1.1 request, so the path reaches the host exactly as written (clients normalise `..`).
    fn raw_get(&self, path: &str) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(self.host.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let status = text.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
        (status, text)
    }
}

#[test]
fn admin_wasm_routes_auth_validation_and_actions() {
    let rig = HostRig::start(true);
    // The page: public shell, no-store, locked-down CSP.
    let (status, headers, page) = rig.send("GET", "/admin", &[], "");
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap().contains("Fleet"));
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));

    // Auth failures: no token, wrong token, cookie without CSRF.
    for (method, path) in [
        ("GET", "/admin/api/summary"),
        ("GET", "/admin/api/signals"),
        ("POST", "/admin/api/migrations"),
    ] {
        let (s, h, v) = rig.send(method, path, &[], "{}");
        assert_eq!(
            (s, v["error"].as_str()),
            (401, Some("unauthorized")),
            "{path}"
        );
        assert_eq!(h["cache-control"], "no-store");
        let (s, _, _) = rig.send(
            method,
            path,
            &[("authorization", "Bearer not-the-token")],
            "{}",
        );
        assert_eq!(s, 401);
    }
    let (s, h, login) = rig.send(
        "POST",
        "/admin/login",
        &[("content-type", "application/json")],
        &json!({"token": TOKEN}).to_string(),
    );
    assert_eq!(s, 200, "{login}");
    let cookie = h["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = login["csrf_token"].as_str().unwrap().to_string();
    let (s, _, v) = rig.send(
        "POST",
        "/admin/api/migrations",
        &[("cookie", &cookie)],
        "{\"dry_run\":true}",
    );
    assert_eq!((s, v["error"].as_str()), (403, Some("csrf_required")));
    let (s, _, v) = rig.send(
        "POST",
        "/admin/api/migrations",
        &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        "{\"dry_run\":true}",
    );
    assert_eq!((s, v["count"].as_u64()), (200, Some(0)), "{v}");

    // Validation and traversal: 4xx JSON, never a trap.
    assert_eq!(rig.admin("GET", "/admin/api/apps?per_page=0", "").0, 400);
    let (s, v) = rig.admin("GET", "/admin/api/signals?limit=201", "");
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_query")),
        "{v}"
    );
    // The signals query runs in the component's SQLite (its JSON operators included).
    let (s, v) = rig.admin("GET", "/admin/api/signals?limit=5", "");
    assert_eq!(
        (s, v["signals"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{v}"
    );
    assert_eq!(
        rig.admin(
            "POST",
            &format!("/admin/api/users/{}/tier", user(1)),
            "{\"tier\":"
        )
        .0,
        400
    );
    for path in [
        "/admin/../spin.toml",
        "/admin/api/../../etc/passwd",
        "/admin/api/apps/..%2f..%2fetc",
        "/admin/api/%2e%2e/summary",
    ] {
        let (status, text) = rig.raw_get(path);
        assert_eq!(status, 404, "{path}: {text}");
        assert!(text.contains("\"error\":\"not_found\""), "{path}: {text}");
    }

    // Upgrade from the dashboard: the tier override provisions the app through the real component.
    let alice = user(1);
    rig.execute(
        "INSERT INTO user_subscriptions (user_id, tier) VALUES (?1, 'free')",
        &[SqlValue::from(alice.to_string())],
    );
    let (s, v) = rig.admin(
        "POST",
        &format!("/admin/api/users/{alice}/tier"),
        "{\"tier\":\"pro\"}",
    );
    assert!(s == 200 || s == 202, "{s} {v}");
    let deadline = Instant::now() + Duration::from_secs(90);
    let app = loop {
        let (_, app) = rig.admin("GET", &format!("/admin/api/apps/{alice}"), "");
        if app["app"]["status"] == "active" {
            break app;
        }
        assert!(Instant::now() < deadline, "not active: {app}");
        rig.admin("POST", &format!("/admin/api/apps/{alice}/reconcile"), "{}");
    };
    let name = app["app"]["app_name"].as_str().unwrap();
    assert_eq!(rig.sim.sim().state_dump()["apps"][0]["name"], name);

    // Deprovision needs the typed confirmation, and is refused while entitled.
    let path = format!("/admin/api/apps/{alice}/deprovision");
    assert_eq!(
        rig.admin("POST", &path, "{}").1["error"],
        "confirmation_required"
    );
    assert_eq!(
        rig.admin("POST", &path, &json!({"confirm": name}).to_string())
            .1["error"],
        "entitled"
    );

    // The summary and listing reflect it.
    let (_, summary) = rig.admin("GET", "/admin/api/summary", "");
    assert_eq!(summary["by_status"]["active"], 1, "{summary}");
    let (_, list) = rig.admin("GET", "/admin/api/apps?status=active", "");
    assert_eq!(list["total"], 1);
}

#[test]
fn admin_wasm_refuses_tier_override_when_disabled() {
    let rig = HostRig::start(false);
    let bob = user(2);
    rig.execute(
        "INSERT INTO user_subscriptions (user_id, tier) VALUES (?1, 'free')",
        &[SqlValue::from(bob.to_string())],
    );
    let (s, v) = rig.admin(
        "POST",
        &format!("/admin/api/users/{bob}/tier"),
        "{\"tier\":\"elite\"}",
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("tier_override_disabled"))
    );
    let tier: Vec<_> = NativeSqlite::open(&rig.db)
        .unwrap()
        .query("SELECT tier FROM user_subscriptions", &[])
        .unwrap()
        .iter()
        .map(|r| r.text("tier").unwrap())
        .collect();
    assert_eq!(tier, vec!["free".to_string()]);
    assert!(rig.sim.sim().request_log().is_empty(), "no Fly call");
}

#[test]
fn session_cookie_secure_flag_follows_spin_full_url() {
    // wasi-http strips `Host` before the guest sees it (in Spin too); the component reads the authority from
    // `spin-full-url`. Served from loopback: no `Secure` (browsers would otherwise drop it over plain http).
    let rig = HostRig::start(false);
    let login = |host: Option<&str>| {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(host) = host {
            headers.push(("host", host));
        }
        let (s, h, body) = rig.send(
            "POST",
            "/admin/login",
            &headers,
            &json!({"token": TOKEN}).to_string(),
        );
        assert_eq!(s, 200, "{body}");
        h["set-cookie"].to_str().unwrap().to_string()
    };
    let local = login(None);
    assert!(!local.contains("Secure"), "{local}");
    // Any other authority (e.g. behind a TLS-terminating proxy): `Secure`.
    let public = login(Some("fleet.example.com"));
    assert!(public.ends_with("; Secure"), "{public}");
}
