//! The dashboard's migration panel in a real browser (Debian's chromium through playwright-core, as the
//! local-run browser test): dry run, start, the Cancel button while it runs, cancel confirmed, "Cancelled"
//! shown; behind it the stored migration is cancelled. Skipped loudly without node, playwright-core or
//! chromium (FLEET_BROWSER_REQUIRED makes that a failure). Build admin.wasm first.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fleet_store::native::NativeSqlite;
use fleet_store::{SqlConnection, SqlValue};

const TOKEN: &str = common::sqlite_host::ADMIN_TOKEN;
const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn the_dashboard_starts_and_cancels_a_migration_in_a_real_browser() {
    let browser_dir = fleet_test_support::workspace_root().join("tests/local-run/browser");
    let ready = Path::new(CHROMIUM).exists()
        && browser_dir.join("node_modules/playwright-core").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !ready {
        assert!(
            std::env::var_os("FLEET_BROWSER_REQUIRED").is_none(),
            "the browser test needs node, playwright-core and chromium"
        );
        eprintln!(
            "\n# SKIPPED: no node, playwright-core or chromium for the migration browser test\n"
        );
        return;
    }
    // Slow batches, so the migration is still running when the page cancels it.
    let rig = common::sqlite_host::start(
        |_| {},
        &[
            ("migration_batch_size", "1"),
            ("migration_interval_ms", "600000"),
        ],
    );
    let db = &rig.db;
    let host = &rig.host;
    // Existing users: subscriptions whose trigger-made rows are set back to deleted and not due.
    let mut conn = NativeSqlite::open(db).unwrap();
    for n in 1..=3 {
        let u = common::user(n).to_string();
        conn.execute(
            "INSERT INTO user_subscriptions (user_id, tier, status) VALUES (?1, 'pro', 'active')",
            &[SqlValue::from(u.clone())],
        )
        .unwrap();
        conn.execute(
            "UPDATE user_fly_apps SET status = 'deleted', next_attempt_at = NULL WHERE user_id = ?1",
            &[SqlValue::from(u)],
        )
        .unwrap();
    }
    let status = Command::new("node")
        .arg(browser_dir.join("migration.mjs"))
        .current_dir(&browser_dir)
        .env("BASE_URL", host.url(""))
        .env("ADMIN_TOKEN", TOKEN)
        .env("USERS", "3")
        .env("CHROMIUM", CHROMIUM)
        .status()
        .expect("node starts");
    assert!(status.success(), "the browser script failed: {status}");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let m: serde_json::Value = http
        .get(host.url("/admin/api/migrations"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let m = &m["migration"];
    assert_eq!(
        (m["status"].as_str(), m["total"].as_u64()),
        (Some("cancelled"), Some(3)),
        "{m}"
    );
    assert!(
        m["released"].as_u64().unwrap() <= 1,
        "at most the first batch of one: {m}"
    );
}
