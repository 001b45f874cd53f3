//! The dashboard's migration panel in a real browser (Debian's chromium through playwright-core, as the
//! local-run browser test): dry run, start, the Cancel button while it runs, cancel confirmed, "Cancelled"
//! shown; behind it the stored migration is cancelled. Skipped loudly without node, playwright-core or
//! chromium (FLEET_BROWSER_REQUIRED makes that a failure). Build admin.wasm first.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fleet_store::native::NativeSqlite;
use fleet_store::{SqlConnection, SqlValue, Store};
use fly_simulator::{FlySimThread, SimConfig};
use spin_test_host::HostConfig;

const TOKEN: &str = "5e1b0d2a9b4e6a8c0d2f4b6e8a0c2e4f6a8b0d2e4c6a8e0b2d4f6a8c0e2b4d6f";
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
    let dir = tempfile::tempdir().unwrap();
    let release = fleet_test_support::wasm::component_path("admin");
    let text = std::fs::read_to_string(fleet_test_support::workspace_root().join("spin.toml"))
        .unwrap()
        .replace(
            "target/wasm32-wasip2/release",
            &release.parent().unwrap().display().to_string(),
        );
    let manifest = dir.path().join("spin.toml");
    std::fs::write(&manifest, text).unwrap();
    let db = dir.path().join("fleet.db");
    Store::new(NativeSqlite::open(&db).unwrap())
        .migrate()
        .unwrap();
    // Existing users: subscriptions whose trigger-made rows are set back to deleted and not due.
    let mut conn = NativeSqlite::open(&db).unwrap();
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
    let sim = FlySimThread::start(SimConfig::default()).unwrap();
    let host = HostConfig::new(&manifest)
        .environment(Vec::new())
        .variable("admin_token", TOKEN)
        .variable(
            "webhook_secret",
            "0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0f1a",
        )
        // Slow batches, so the migration is still running when the page cancels it.
        .variable("migration_batch_size", "1")
        .variable("migration_interval_ms", "600000")
        .variable("fly_api_token", sim.sim().token())
        .variable("fly_api_origin", sim.sim().root_url())
        .variable("fly_org", sim.sim().org_slug())
        .variable("fly_image", common::IMAGE)
        .variable("reconcile_budget_ms", "15000")
        .variable("database_url", "sqlite://default")
        .variable(
            "screener_database_url",
            format!("sqlite://{}", db.display()),
        )
        .sqlite_default(&db)
        .start_on_chosen_host()
        .expect("host starts");
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
