//! Issue 20, alerts, through the real host: two hosts sweep one PostgreSQL database and post alerts to a local
//! webhook receiver (a tiny HTTP server on 127.0.0.1). Asserts exactly one notification per condition under
//! repeated concurrent sweeps of both hosts, one `resolved` on recovery, a failing receiver retried by a later
//! sweep, a slow receiver that does not hold the sweep up, Fly auth failures (a host with a wrong token), and
//! no secret in any alert body. Needs `cargo build -p spin-test-host` and the components built for wasm32-wasip2.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleet_e2e::leaks;
use fleet_e2e::{user, Fleet, ADMIN_TOKEN, PROBE_KEY, WEBHOOK_BEARER, WEBHOOK_SECRET};
use fly_simulator::SimConfig;
use serde_json::Value;
use spin_test_host::{HostConfig, RunningHost};

const OK: u8 = 0;
const FAIL: u8 = 1;
const SLOW: u8 = 2;
/// How long the slow receiver waits before it answers (far longer than `alert_timeout_ms`).
const SLOW_FOR: Duration = Duration::from_secs(20);

/// Every body the receiver got, and those it accepted (answered 200 to).
#[derive(Default)]
struct Received {
    all: Vec<Value>,
    accepted: Vec<Value>,
}

struct Receiver {
    port: u16,
    mode: Arc<AtomicU8>,
    received: Arc<Mutex<Received>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(OK));
        let received = Arc::new(Mutex::new(Received::default()));
        let (m, r) = (mode.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (m, r) = (m.clone(), r.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut length = 0usize;
                    let mut chunked = false;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                            if name.eq_ignore_ascii_case("transfer-encoding") {
                                chunked = value.trim().eq_ignore_ascii_case("chunked");
                            }
                        }
                    }
                    let body = if chunked {
                        match read_chunked(&mut reader) {
                            Some(body) => body,
                            None => return,
                        }
                    } else {
                        let mut body = vec![0u8; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        body
                    };
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let mode = m.load(SeqCst);
                    r.lock().unwrap().all.push(body.clone());
                    let mut stream = stream;
                    let status = match mode {
                        FAIL => "500 Internal Server Error",
                        SLOW => {
                            std::thread::sleep(SLOW_FOR);
                            "200 OK"
                        }
                        _ => {
                            r.lock().unwrap().accepted.push(body);
                            "200 OK"
                        }
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    );
                });
            }
        });
        Receiver {
            port,
            mode,
            received,
        }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, SeqCst);
    }

    /// `(key, state)` of every accepted notification.
    fn accepted(&self) -> Vec<(String, String)> {
        let r = self.received.lock().unwrap();
        r.accepted
            .iter()
            .map(|b| {
                (
                    b["key"].as_str().unwrap_or_default().to_string(),
                    b["state"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn count(&self, key: &str, state: &str) -> usize {
        self.accepted()
            .iter()
            .filter(|(k, s)| k == key && s == state)
            .count()
    }

    fn attempts(&self) -> usize {
        self.received.lock().unwrap().all.len()
    }
}

/// A chunked request body (Spin's outbound HTTP sends bodies chunked).
fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

fn alert_variables(receiver: &Receiver) -> impl Fn(HostConfig) -> HostConfig {
    let origin = receiver.origin();
    move |config: HostConfig| {
        config
            // No direct probe: health comes from the simulator's machine checks, which a fault can fail.
            .variable("app_url_template", "")
            .variable("check_interval_secs", "0")
            .variable("alert_webhook_url", format!("{origin}/hook"))
            .variable("alert_webhook_origin", origin.clone())
            .variable("alert_webhook_format", "generic")
            .variable("alert_timeout_ms", "1000")
            .variable("alert_delivery_budget_ms", "3000")
            .variable("alert_retry_base_secs", "0")
    }
}

fn sweep(http: &reqwest::blocking::Client, host: &RunningHost) -> Value {
    let response = http
        .post(host.url("/health/sweep"))
        .header("authorization", format!("Bearer {WEBHOOK_BEARER}"))
        .body("{}")
        .send()
        .expect("the sweep answers");
    let status = response.status().as_u16();
    let body: Value = response.json().expect("a JSON answer");
    assert_eq!(status, 200, "{body}");
    body
}

/// `rounds` rounds in which both hosts sweep at the same time.
fn sweep_both(hosts: [&RunningHost; 2], rounds: usize) {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for _ in 0..rounds {
        std::thread::scope(|s| {
            for host in hosts {
                let http = &http;
                s.spawn(move || sweep(http, host));
            }
        });
    }
}

fn set_unhealthy(fleet: &Fleet, app: &str, unhealthy: bool) {
    let sim = fleet.sim.sim();
    let mut faults = sim.faults();
    if unhealthy {
        faults.unhealthy_apps.insert(app.to_string());
    } else {
        faults.unhealthy_apps.remove(app);
    }
    sim.set_faults(faults);
}

#[test]
fn alerts_are_sent_once_per_condition_resolve_and_survive_a_bad_receiver() {
    let receiver = Receiver::start();
    let vars = alert_variables(&receiver);
    let cluster = fleet_test_support::postgres::cluster();
    let fleet = Fleet::postgres_with(cluster, SimConfig::default().without_rate_limits(), &vars);
    let (second, _dir) = fleet.another_host(&vars);
    let hosts = [&fleet.host, &second];

    let mut apps = Vec::new();
    for n in 0..2 {
        let u = user(9100 + n);
        fleet.subscribe(u, "pro", "active");
        let answer = fleet.until_converged(
            "/provision",
            &Fleet::webhook("INSERT", u, "pro", "active"),
            Duration::from_secs(60),
        );
        apps.push(answer["app_name"].as_str().unwrap().to_string());
    }
    sweep_both(hosts, 2);
    assert!(
        receiver.accepted().is_empty(),
        "a healthy fleet raises nothing: {:?}",
        receiver.accepted()
    );

    // Unhealthy: one notification, however many sweeps of both hosts see it.
    let key0 = format!("app_unhealthy:{}", apps[0]);
    set_unhealthy(&fleet, &apps[0], true);
    sweep_both(hosts, 5);
    if receiver.count(&key0, "firing") != 1 {
        let http = reqwest::blocking::Client::new();
        eprintln!("sweep: {}", sweep(&http, &fleet.host));
        eprintln!("history: {:?}", fleet.store().alert_history(10));
        eprintln!("alerts: {:?}", fleet.store().alerts());
        eprintln!("apps: {:?}", fleet.apps());
    }
    assert_eq!(
        receiver.count(&key0, "firing"),
        1,
        "{:?}",
        receiver.accepted()
    );
    assert_eq!(receiver.accepted().len(), 1, "{:?}", receiver.accepted());
    // Recovery: one resolved.
    set_unhealthy(&fleet, &apps[0], false);
    sweep_both(hosts, 4);
    assert_eq!(
        receiver.count(&key0, "resolved"),
        1,
        "{:?}",
        receiver.accepted()
    );
    assert_eq!(receiver.accepted().len(), 2, "{:?}", receiver.accepted());

    // A failing receiver: the notification is tried, kept, and delivered once it answers again.
    let key1 = format!("app_unhealthy:{}", apps[1]);
    receiver.set(FAIL);
    set_unhealthy(&fleet, &apps[1], true);
    let tried = receiver.attempts();
    sweep_both(hosts, 2);
    assert!(receiver.attempts() > tried, "the receiver was not tried");
    assert_eq!(receiver.count(&key1, "firing"), 0);
    let pending = fleet.store().alert_history(10).unwrap();
    let latest = &pending[0];
    assert_eq!(
        (latest.key.as_str(), latest.delivery.as_str()),
        (key1.as_str(), "pending"),
        "{pending:?}"
    );
    assert_eq!(
        latest.last_error.as_deref(),
        Some("the webhook answered HTTP 500")
    );
    receiver.set(OK);
    sweep_both(hosts, 3);
    assert_eq!(
        receiver.count(&key1, "firing"),
        1,
        "{:?}",
        receiver.accepted()
    );

    // A slow receiver: the sweep answers within its own time plus the alert timeout, and the notification
    // is delivered by a later sweep.
    receiver.set(SLOW);
    set_unhealthy(&fleet, &apps[1], false);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let started = Instant::now();
    let answer = sweep(&http, &fleet.host);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "a slow webhook held the sweep for {took:?}: {answer}"
    );
    assert_eq!(answer["alert_delivery"]["failed"], 1, "{answer}");
    assert_eq!(receiver.count(&key1, "resolved"), 0);
    receiver.set(OK);
    sweep_both(hosts, 2);
    assert_eq!(
        receiver.count(&key1, "resolved"),
        1,
        "{:?}",
        receiver.accepted()
    );

    // Fly refusing the org's token: a host with a wrong one raises fly_auth once; the right one resolves it.
    let (bad, _bad_dir) = fleet.another_host(|c| vars(c).variable("fly_api_token", "fo1_wrong"));
    sweep(&http, &bad);
    sweep(&http, &bad);
    assert_eq!(
        receiver.count("fly_auth", "firing"),
        1,
        "{:?}",
        receiver.accepted()
    );
    sweep_both(hosts, 1);
    assert_eq!(
        receiver.count("fly_auth", "resolved"),
        1,
        "{:?}",
        receiver.accepted()
    );

    // Exactly once overall: no (key, state, at) accepted twice.
    let mut seen = std::collections::BTreeSet::new();
    for body in &receiver.received.lock().unwrap().accepted {
        assert_eq!(
            body.as_object().unwrap().len(),
            6,
            "generic body fields: {body}"
        );
        assert!(
            seen.insert((
                body["key"].to_string(),
                body["state"].to_string(),
                body["at"].to_string()
            )),
            "delivered twice: {body}"
        );
    }

    // No secret in any alert body, accepted or not, nor in the dashboard's alert history.
    let fleet_e2e::Database::Postgres { url, .. } = &fleet.database else {
        unreachable!("a PostgreSQL rig")
    };
    let secrets: Vec<(String, String)> = [
        ("webhook_secret", WEBHOOK_SECRET),
        ("webhook_bearer_token", WEBHOOK_BEARER),
        ("admin_token", ADMIN_TOKEN),
        ("probe_key", PROBE_KEY),
        ("fly_api_token", fleet.sim.sim().token()),
        ("database_url", url.as_str()),
    ]
    .into_iter()
    .map(|(name, secret)| (name.to_string(), secret.to_string()))
    .collect();
    let mut texts: Vec<(String, String)> = receiver
        .received
        .lock()
        .unwrap()
        .all
        .iter()
        .map(|b| ("alert body".to_string(), b.to_string()))
        .collect();
    let history = http
        .get(fleet.host.url("/admin/api/alerts"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .unwrap();
    assert_eq!(history.status().as_u16(), 200);
    let history: Value = history.json().unwrap();
    assert!(
        history["history"].as_array().is_some_and(|h| h.len() >= 6),
        "{history}"
    );
    texts.push(("GET /admin/api/alerts".to_string(), history.to_string()));
    let hits = leaks::scan(&secrets, &texts);
    assert!(hits.is_empty(), "secrets in alerts: {hits:?}");
}
