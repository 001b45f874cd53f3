//! A real browser against the local run: Debian's chromium, driven by playwright-core, logs in to the admin
//! dashboard, waits until its Recent signals panel shows the Pro demo user's Go-code and JavaScript-code
//! traders' signals with their language badges, downgrades and upgrades that user, waits until the app is
//! healthy with its trader count, saves a screenshot under tests/reports/artifacts/, and downgrades again.
//! Meanwhile this test checks the screener process and the rows behind what the page shows.
//!
//! Needs /usr/bin/chromium and tests/local-run/browser/node_modules (tests/fleet test installs both, then sets
//! FLEET_BROWSER_REQUIRED=1 so that a missing piece fails instead of skipping).

mod support;

use fleet_local_run::seed::user_trader_count;
use fleet_local_run::DEMO_USERS;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::{environ_var, pid_alive, wait_for, Rig};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The seeded Pro user's code traders (tests/local-run/src/seed.rs) and the language badge the dashboard
/// shows for each: `(trader name, traders.language, badge text)`.
const CODE_TRADERS: [(&str, &str, &str); 2] = [
    ("RSI under 35 on volume (Go code)", "go", "Go"),
    (
        "RSI turning up (JavaScript code)",
        "javascript",
        "JavaScript",
    ),
];

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Why the browser test cannot run here, if it cannot (after trying the installers it may use).
fn missing_tools() -> Option<String> {
    let node_modules = browser_dir().join("node_modules").join("playwright-core");
    if !node_modules.exists() {
        let _ = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(browser_dir())
            .status();
    }
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install -y chromium)"));
    }
    if Command::new("node")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        missing.push("node (apt-get install -y nodejs)".into());
    }
    if !node_modules.exists() {
        missing.push(format!(
            "playwright-core (cd {} && npm install)",
            browser_dir().display()
        ));
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

fn skip_loudly(why: &str) {
    let bar = "#".repeat(100);
    eprintln!("\n{bar}\n# SKIPPED: the real browser test did not run: {why}\n{bar}\n");
}

#[test]
fn a_real_browser_upgrades_a_user_and_sees_the_app_healthy() {
    if let Some(missing) = missing_tools() {
        assert!(
            std::env::var_os("FLEET_BROWSER_REQUIRED").is_none(),
            "the browser test needs {missing}"
        );
        return skip_loudly(&format!("missing {missing}"));
    }
    let rig = Rig::start("browser");
    for component in ["admin", "health"] {
        if !rig.run.components.iter().any(|c| c == component) {
            return skip_loudly(&format!("spin.toml has no `{component}` component yet"));
        }
    }
    let dara = DEMO_USERS
        .iter()
        .find(|u| u.tier == "pro")
        .expect("a seeded Pro user");
    let artifacts = fleet_local_run::paths::repo_root().join("tests/reports/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("local-run-dashboard-healthy.png");
    let _ = std::fs::remove_file(&screenshot);

    let signal_traders: serde_json::Value = CODE_TRADERS
        .iter()
        .map(|(name, language, badge)| {
            serde_json::json!({"name": name, "language": language, "badge": badge})
        })
        .collect();

    let mut driver = Command::new("node")
        .arg(browser_dir().join("dashboard.mjs"))
        .current_dir(browser_dir())
        .env("BASE_URL", rig.run.url(""))
        .env("ADMIN_TOKEN", rig.run.admin_token().expose())
        .env("USER_ID", dara.id)
        .env("TRADER_COUNT", user_trader_count(dara).to_string())
        .env("SIGNAL_TRADERS", signal_traders.to_string())
        .env("SCREENSHOT", &screenshot)
        .env("CHROMIUM", CHROMIUM)
        .spawn()
        .expect("node starts");

    // Behind the page: every screener process that runs for Dara meanwhile, checked to be hers.
    let mut pids = std::collections::BTreeSet::new();
    let status = wait_for(
        "the browser script finishes",
        Duration::from_secs(300),
        || {
            if let Some((_, Some(app))) = rig.app_row(dara) {
                for (_, pid) in rig.machine_processes(&app) {
                    if environ_var(pid, "USER_ID").as_deref() == Some(dara.id) {
                        pids.insert(pid);
                    }
                }
            }
            driver.try_wait().unwrap()
        },
    );
    assert!(
        status.success(),
        "the browser script failed ({status}); see its output above"
    );
    assert!(!pids.is_empty(), "no screener process ever ran for Dara");
    // Behind the panel: Dara's screener wrote those code traders' signals, for her.
    for (name, language, _) in CODE_TRADERS {
        let (signals, foreign): (i64, i64) = rig
            .db()
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE s.user_id IS NOT t.user_id) FROM signals s \
                 JOIN traders t ON t.id = s.trader_id \
                 WHERE t.name = ?1 AND t.language = ?2 AND t.user_id = ?3 AND t.filter -> 'code' IS NOT NULL",
                [name, language, dara.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(signals > 0, "no signal row of Dara's trader {name}");
        assert_eq!(
            foreign, 0,
            "signals of Dara's trader {name} for someone else"
        );
    }

    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(
        png.len() > 10_000 && png.starts_with(b"\x89PNG"),
        "not a real screenshot: {} bytes",
        png.len()
    );
    assert_eq!(
        rig.app_row(dara).map(|(status, _)| status).as_deref(),
        Some("deleted")
    );
    wait_for(
        "every screener of Dara is gone",
        Duration::from_secs(30),
        || pids.iter().all(|pid| !pid_alive(*pid)).then_some(()),
    );
    rig.run.shutdown();
}
