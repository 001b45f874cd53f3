//! Issue 19 item 1: a screener's `/health` and `/metrics` are for Fleet's probe only. Anyone else who reaches
//! the machine (its app name derives from the user's id) learns that it is alive, and nothing more: not the
//! user, not the traders or why they are disabled, not database errors, the machine or the version.

mod common;

use common::*;
use std::time::Duration;

const USER: &str = "0badc0de-0000-4000-8000-00000000c0de";
const TRADER_NAME: &str = "Alice's secret momentum edge";
const MACHINE: &str = "e784079b449483";
const APP: &str = "vyx-user-0badc0de";

fn start(name: &str) -> Screener {
    let path = migrated_sqlite(name);
    // A trader whose filter cannot run: before the fix, /health listed it with its name and reason.
    let bad_filter = serde_json::json!({"version": 1, "when": {"ind": "no_such_indicator"}});
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO traders (id, user_id, is_built_in, enabled, name, filter, language) \
             VALUES (?1, ?2, 0, 1, ?3, ?4, 'go')",
            rusqlite::params![
                uuid::Uuid::new_v4().to_string(),
                USER,
                TRADER_NAME,
                bad_filter.to_string()
            ],
        )
        .unwrap();
    let mut env = replay_env(&format!("sqlite://{}", path.display()));
    env.extend([
        ("RUN_MODE", "user_dedicated".to_string()),
        ("USER_ID", USER.to_string()),
        ("FLY_MACHINE_ID", MACHINE.to_string()),
        ("FLY_APP_NAME", APP.to_string()),
    ]);
    let s = Screener::start(&env);
    wait_for("the trader judged", Duration::from_secs(20), || {
        let (_, body) = s.health();
        body["disabled_traders"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
            .then_some(())
    });
    s
}

#[test]
fn anonymous_health_probe_learns_nothing_about_the_user() {
    let s = start("probe-auth-health");
    let (code, body) = s.health_as(None);
    assert!(
        code == 200 || code == 503,
        "liveness keeps its status code: {code}"
    );
    let keys: Vec<&String> = body.as_object().expect("a JSON object").keys().collect();
    assert_eq!(keys, ["status"], "liveness only: {body}");
    let text = body.to_string();
    for secret in [
        USER,
        TRADER_NAME,
        MACHINE,
        APP,
        "no_such_indicator",
        env!("CARGO_PKG_VERSION"),
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked: {text}");
    }

    // The probe with the app's token sees everything.
    let (_, detail) = s.health();
    assert_eq!(detail["user_id"], USER);
    assert!(detail.to_string().contains(TRADER_NAME));
}

#[test]
fn anonymous_or_wrong_token_metrics_and_details_are_refused() {
    let s = start("probe-auth-metrics");
    assert_eq!(http_get(s.port, "/metrics").unwrap().0, 401);
    let (code, body) = http_get_as(s.port, "/metrics", Some("guessed-token")).unwrap();
    assert_eq!(code, 401);
    assert!(!body.contains("screener_"), "{body}");
    let (code, body) = http_get_as(s.port, "/health", Some("guessed-token")).unwrap();
    assert_eq!(code, 401, "a wrong token is told so");
    assert!(
        !body.contains(USER) && !body.contains(TRADER_NAME),
        "{body}"
    );
    let (code, body) = http_get_as(s.port, "/metrics", Some(PROBE_TOKEN)).unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("screener_candles_closed_total"));
}
