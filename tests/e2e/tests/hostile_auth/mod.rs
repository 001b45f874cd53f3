//! Password guessing and stolen admin cookies (issue 19 item 4), against two real host processes on one
//! PostgreSQL database with the throttle's defaults (10 failed passwords per source, 100 overall, per 5 min).
//! Part of the hostile-input suite.

use std::collections::BTreeMap;

use fleet_e2e::chaos::host_process::HostProcess;
use fleet_e2e::chaos::ChaosRig;
use fleet_e2e::raw_http::{self, RawRequest};
use fleet_e2e::{proof, ADMIN_TOKEN};
use fly_simulator::SimConfig;
use serde_json::{json, Value};

const SUITE: &str = "hostile_input";
/// The header this rig's operator trusts for the client address (as behind Fly's proxy: `fly-client-ip`).
const CLIENT_IP: &str = "x-client-ip";

struct Answer {
    status: u16,
    retry_after: Option<i64>,
    body: Value,
}

fn send(
    http: &reqwest::blocking::Client,
    host: &HostProcess,
    attempt: usize,
    source: &str,
    token: &str,
) -> Answer {
    let user = "aaaaaaaa-0000-4000-8000-000000000001";
    let request = match attempt % 3 {
        0 => http
            .post(host.url("/admin/login"))
            .json(&json!({ "token": token })),
        1 => http.get(host.url("/admin/api/summary")).bearer_auth(token),
        _ => http
            .get(host.url(&format!("/health/apps/{user}")))
            .bearer_auth(token),
    };
    let response = request
        .header(CLIENT_IP, source)
        .send()
        .expect("the host answers");
    Answer {
        status: response.status().as_u16(),
        retry_after: response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse().ok()),
        body: response.json().unwrap_or(Value::Null),
    }
}

/// Sends `count` wrong passwords, alternating hosts and routes; returns (answered 401, answered 429).
fn guess(
    http: &reqwest::blocking::Client,
    hosts: &[HostProcess],
    count: usize,
    source: impl Fn(usize) -> String,
) -> (usize, usize) {
    let (mut refused, mut throttled) = (0, 0);
    for i in 0..count {
        let answer = send(
            http,
            &hosts[i % hosts.len()],
            i,
            &source(i),
            &format!("guess-{i:04}"),
        );
        match answer.status {
            401 => {
                assert_eq!(answer.body["error"], "unauthorized", "{}", answer.body);
                refused += 1;
            }
            429 => {
                assert_eq!(answer.body["error"], "too_many_attempts", "{}", answer.body);
                assert!(answer.body["detail"].is_string());
                let wait = answer.retry_after.expect("429 carries Retry-After");
                assert!((1..=300).contains(&wait), "Retry-After {wait}");
                throttled += 1;
            }
            other => panic!("attempt {i}: {other} {}", answer.body),
        }
    }
    (refused, throttled)
}

fn rig() -> (ChaosRig, Vec<HostProcess>) {
    let mut rig = ChaosRig::postgres(SimConfig::default().without_rate_limits());
    rig.set_variable("client_ip_header", CLIENT_IP);
    let hosts = rig.start_hosts(2);
    (rig, hosts)
}

#[test]
fn thousand_wrong_passwords_are_throttled_across_two_hosts() {
    let (rig, hosts) = rig();
    let http = reqwest::blocking::Client::new();
    // One guesser, 500 tries spread over both hosts and the three password routes: 10 are checked.
    let (refused, throttled) = guess(&http, &hosts, 500, |_| "203.0.113.7".into());
    assert_eq!((refused, throttled), (10, 490));
    // The right token from that source is refused too, on either host, until the window ends.
    for host in &hosts {
        for attempt in 0..3 {
            assert_eq!(
                send(&http, host, attempt, "203.0.113.7", ADMIN_TOKEN).status,
                429
            );
        }
    }
    // 500 more from 500 addresses (a botnet): the service-wide limit (100 per window) stops them.
    let (botnet_refused, botnet_throttled) = guess(&http, &hosts, 500, |i| {
        format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)
    });
    assert_eq!((botnet_refused, botnet_throttled), (90, 410));
    assert_eq!(
        send(&http, &hosts[1], 1, "192.0.2.1", ADMIN_TOKEN).status,
        429
    );
    let counted: i64 = rig
        .db()
        .query_one(
            "SELECT coalesce(sum(failures), 0)::int8 FROM fleet_auth_failures WHERE scope = 'global'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(counted, 100, "both hosts counted into one database");
    proof::figure(
        SUITE,
        "password_guesses",
        1000,
        "wrong admin tokens over two hosts",
    );
    proof::figure(
        SUITE,
        "password_guesses_checked",
        refused + botnet_refused,
        "must be 100",
    );
}

fn login(http: &reqwest::blocking::Client, host: &HostProcess) -> (String, String) {
    let response = http
        .post(host.url("/admin/login"))
        .json(&json!({ "token": ADMIN_TOKEN }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let csrf = response.json::<Value>().unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    (cookie, csrf)
}

fn with_cookie(
    http: &reqwest::blocking::Client,
    host: &HostProcess,
    method: &str,
    path: &str,
    headers: &BTreeMap<&str, &str>,
) -> u16 {
    let mut request = http.request(method.parse().unwrap(), host.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().unwrap().status().as_u16()
}

#[test]
fn stolen_cookie_is_refused_after_logout_and_sign_out_everywhere_on_either_host() {
    let (_rig, hosts) = rig();
    let http = reqwest::blocking::Client::new();
    let (a, b) = (&hosts[0], &hosts[1]);

    // Logged in on host A; an attacker copies the cookie; the operator logs out on host B.
    let (cookie, _) = login(&http, a);
    let stolen = BTreeMap::from([("cookie", cookie.as_str())]);
    assert_eq!(
        with_cookie(&http, b, "GET", "/admin/api/summary", &stolen),
        200
    );
    assert_eq!(with_cookie(&http, b, "POST", "/admin/logout", &stolen), 200);
    for host in [a, b] {
        assert_eq!(
            with_cookie(&http, host, "GET", "/admin/api/summary", &stolen),
            401
        );
    }

    // Two sessions; "sign out everywhere" from one (cookie + CSRF) on host A ends both, on host B too.
    let (operator, csrf) = login(&http, a);
    let (copied, _) = login(&http, b);
    let copied = BTreeMap::from([("cookie", copied.as_str())]);
    assert_eq!(
        with_cookie(&http, a, "GET", "/admin/api/session", &copied),
        200
    );
    let revoke = BTreeMap::from([
        ("cookie", operator.as_str()),
        ("x-csrf-token", csrf.as_str()),
    ]);
    assert_eq!(
        with_cookie(&http, a, "POST", "/admin/api/sessions/revoke", &revoke),
        200
    );
    for host in [a, b] {
        assert_eq!(
            with_cookie(&http, host, "GET", "/admin/api/session", &copied),
            401
        );
        let operator = BTreeMap::from([("cookie", operator.as_str())]);
        assert_eq!(
            with_cookie(&http, host, "GET", "/admin/api/session", &operator),
            401
        );
    }
}

#[test]
fn weak_admin_token_or_webhook_secret_is_refused_with_a_configuration_error() {
    let weak = "admin-e2e-3c9a51f0e2";
    let rig = super::process_rig::ProcessRig::start_with(&[
        ("admin_token", weak),
        ("webhook_secret", weak),
    ]);
    for (method, path, auth) in [
        ("GET", "/admin/api/summary", format!("Bearer {weak}")),
        ("POST", "/admin/login", String::new()),
        ("POST", "/provision", format!("Bearer {weak}")),
    ] {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if !auth.is_empty() {
            headers.push(("authorization".into(), auth));
        }
        let res = raw_http::send(
            rig.host.addr,
            &RawRequest {
                label: format!("{method} {path}"),
                method: method.into(),
                target: path.into(),
                headers,
                body: json!({ "token": weak }).to_string().into_bytes(),
            },
        );
        let (status, body) = (
            res.status,
            serde_json::from_slice::<Value>(&res.body).unwrap_or(Value::Null),
        );
        assert_eq!(status, 500, "{method} {path}: {body}");
        assert_eq!(body["error"], "configuration", "{body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("at least 32 random bytes"), "{detail}");
        assert!(
            !body.to_string().contains(weak),
            "the answer repeats the secret: {body}"
        );
    }
}
