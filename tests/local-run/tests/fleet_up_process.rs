//! `fleet-up` as a process: it prints the dashboard URL and the admin token, runs a screener for an upgraded
//! user, and Ctrl-C (SIGINT) stops everything, screener processes included.

mod support;

use fleet_local_run::DEMO_USERS;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use support::{pid_alive, temp_dir, wait_for};

/// 32 random bytes as hex: Fleet refuses a shorter webhook secret.
const WEBHOOK_SECRET: &str = "c0ffee5e1c0d2a9b4e6a8c0d2f4b6e8a0c2e4f6a8b0d2e4c6a8e0b2d4f6a8c0e";

#[test]
fn fleet_up_prints_how_to_log_in_and_ctrl_c_stops_every_process() {
    let state = temp_dir("process");
    let port = fleet_test_support::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleet-up"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--sweep-every-secs",
            "1",
        ])
        .arg("--state-dir")
        .arg(&state.0)
        .env("FLEET_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env_remove("FLY_API_TOKEN")
        .env_remove("FLEET_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("fleet-up starts");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut banner = Vec::new();
    wait_for("fleet-up is ready", Duration::from_secs(120), || {
        let line = lines.recv_timeout(Duration::from_millis(200)).ok()?;
        banner.push(line.clone());
        line.starts_with("Ctrl-C stops everything").then_some(())
    });
    let field = |name: &str| {
        banner
            .iter()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(name)
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no `{name}` line in {banner:#?}"))
    };
    assert_eq!(field("dashboard"), format!("http://127.0.0.1:{port}/admin"));
    let admin_token = field("admin token");
    assert_eq!(admin_token.len(), 64, "a random admin token is printed");
    let simulator = field("Fly").split_whitespace().nth(1).unwrap().to_string();

    // Upgrade Ben the way billing does: the subscription row, then the webhook hint.
    let ben = &DEMO_USERS[1];
    let db = rusqlite::Connection::open(state.0.join("local.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE user_subscriptions SET tier = 'elite' WHERE user_id = ?1",
        [ben.id],
    )
    .unwrap();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let row = json!({"user_id": ben.id, "tier": "elite", "status": "active"});
    let hint = json!({"type": "UPDATE", "table": "user_subscriptions", "schema": "public", "record": row, "old_record": row});
    let pid = wait_for(
        "a screener process runs for Ben",
        Duration::from_secs(90),
        || {
            let mut hint = hint.clone();
            hint["hint_id"] = json!(uuid::Uuid::new_v4().to_string());
            let body = hint.to_string().into_bytes();
            let signature =
                fleet_http::sign_request(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
            let _ = http
                .post(format!("http://127.0.0.1:{port}/provision"))
                .header("content-type", "application/json")
                .header(fleet_http::SIGNATURE_HEADER, signature)
                .body(body)
                .send();
            let state: Value = http
                .get(format!("{simulator}/__sim/state"))
                .send()
                .ok()?
                .json()
                .ok()?;
            state["apps"]
                .as_array()?
                .iter()
                .flat_map(|a| a["machines"].as_array().cloned().unwrap_or_default())
                .find_map(|m| {
                    (m["effective_env"]["USER_ID"] == ben.id)
                        .then(|| m["process"]["pid"].as_u64())
                        .flatten()
                })
        },
    ) as u32;
    assert!(pid_alive(pid));

    // Ctrl-C.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for("fleet-up exits", Duration::from_secs(30), || {
        child.try_wait().unwrap()
    });
    assert!(exit.success(), "fleet-up exited with {exit}");
    assert!(
        !pid_alive(pid),
        "the screener process {pid} outlived fleet-up"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the host still listens"
    );
}
