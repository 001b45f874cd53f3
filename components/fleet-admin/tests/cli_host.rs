//! `fleet-migrate` (the operator's command-line tool) against the real admin.wasm and health.wasm in the
//! wasmtime host with the real spin.toml: a dry run lists who would be provisioned and changes nothing;
//! `start` returns only when the migration the health sweeps run alone (no `/advance`) has completed; a
//! started migration is cancelled and `watch` reports it; the token is read from the environment only and
//! never printed. Build the components first: `cargo build --target wasm32-wasip2 --release -p admin -p health`.

mod common;

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::user;
use fleet_store::native::NativeSqlite;
use fleet_store::{SqlConnection, SqlValue, UserId};

const TOKEN: &str = common::sqlite_host::ADMIN_TOKEN;
const BEARER: &str = "c4a9e1c7d5f3b1a9e7c5d3f1b9a7e5c3d1f9b7a5e3c1d9f7b5a3e1c9d7f5b3a2";

type Host = common::sqlite_host::SqliteHost;

/// The platform's subscriptions table with these users' subscriptions from before Fleet's migrations ran
/// (so no trigger created their rows): the "existing users" a migration is for.
fn existing_subscribers(db: &std::path::Path, users: &[UserId]) {
    let mut conn = NativeSqlite::open(db).unwrap();
    conn.execute(
        "CREATE TABLE user_subscriptions (id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(16)))), \
         user_id TEXT NOT NULL UNIQUE, tier TEXT NOT NULL DEFAULT 'free', status TEXT NOT NULL DEFAULT 'active', \
         expires_at TEXT, stripe_customer_id TEXT, stripe_subscription_id TEXT, \
         created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), \
         updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) STRICT",
        &[],
    )
    .unwrap();
    for (i, u) in users.iter().enumerate() {
        conn.execute(
            "INSERT INTO user_subscriptions (user_id, tier) VALUES (?1, ?2)",
            &[
                SqlValue::from(u.to_string()),
                (if i % 2 == 0 { "pro" } else { "elite" }).into(),
            ],
        )
        .unwrap();
    }
}

fn start_host(existing: &[UserId]) -> Host {
    common::sqlite_host::start(
        |db| existing_subscribers(db, existing),
        &[
            ("webhook_bearer_token", BEARER),
            ("migration_batch_size", "2"),
            ("migration_interval_ms", "500"),
            ("sweep_budget_ms", "4000"),
        ],
    )
}

impl Host {
    fn live_rows(&self) -> usize {
        let mut conn = NativeSqlite::open(&self.db).unwrap();
        conn.query(
            "SELECT user_id FROM user_fly_apps WHERE status <> 'deleted'",
            &[],
        )
        .unwrap()
        .len()
    }

    fn cli(&self, args: &[&str], token: Option<&str>) -> (i32, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleet-migrate"));
        cmd.args(args)
            .env("FLEET_URL", self.host.url(""))
            .env_remove("FLEET_ADMIN_TOKEN");
        if let Some(token) = token {
            cmd.env("FLEET_ADMIN_TOKEN", token);
        }
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
        assert!(!text.contains(TOKEN), "the token was printed: {text}");
        (status.code().unwrap_or(-1), text)
    }

    /// Sweeps as the scheduler would, until `stop` is set.
    fn sweep_until(&self, stop: &AtomicBool) {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        while !stop.load(Ordering::Relaxed) {
            let res = http
                .post(self.host.url("/health/sweep"))
                .header("authorization", format!("Bearer {BEARER}"))
                .body("{}")
                .send()
                .unwrap();
            assert_eq!(res.status().as_u16(), 200, "{:?}", res.text());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn the_cli_dry_runs_starts_watches_and_cancels_against_a_real_host() {
    let users: Vec<UserId> = (1..=5).map(user).collect();
    let h = start_host(&users);

    // The token comes from the environment only.
    let (code, out) = h.cli(&["dry-run"], None);
    assert_eq!(code, 1);
    assert!(out.contains("FLEET_ADMIN_TOKEN"), "{out}");
    let (code, out) = h.cli(&["dry-run", "--token", TOKEN], Some(TOKEN));
    assert_eq!(code, 1, "{out}");
    let (code, out) = h.cli(&["dry-run"], Some("wrong-token-0123456789abcdef0123456789"));
    assert_eq!(code, 1);
    assert!(out.contains("HTTP 401"), "{out}");

    // Dry run: who would be provisioned; nothing changes, no Fly call.
    let (code, out) = h.cli(&["dry-run"], Some(TOKEN));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Found 5 entitled users"), "{out}");
    for u in &users {
        assert!(out.contains(&u.to_string()), "{out}");
    }
    assert_eq!(h.live_rows(), 0);
    assert!(h.sim.sim().request_log().is_empty());

    // Started, then cancelled before a sweep released anyone: watch reports it, sweeps release nobody.
    let (code, out) = h.cli(&["start", "--yes", "--detach"], Some(TOKEN));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Started migration"), "{out}");
    let (code, out) = h.cli(&["cancel"], Some(TOKEN));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Cancelled: 0 of 5"), "{out}");
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sweeper = s.spawn(|| h.sweep_until(&stop));
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        sweeper.join().unwrap();
    });
    let (code, out) = h.cli(&["watch"], Some(TOKEN));
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("Migration Cancelled") && out.contains("Not released: 5"),
        "{out}"
    );
    assert_eq!(
        h.live_rows(),
        0,
        "no user of the cancelled migration was released"
    );

    // Start again and watch while the scheduler sweeps: the sweeps alone migrate everyone.
    let stop = AtomicBool::new(false);
    let (code, out) = std::thread::scope(|s| {
        let sweeper = s.spawn(|| h.sweep_until(&stop));
        let result = h.cli(&["start", "--yes", "--every", "1"], Some(TOKEN));
        stop.store(true, Ordering::Relaxed);
        sweeper.join().unwrap();
        result
    });
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Migration Complete") && out.contains("Success: 5"),
        "{out}"
    );
    assert!(out.contains("5/5 done"), "{out}");
    let apps = h.sim.sim().state_dump()["apps"].as_array().unwrap().len();
    assert_eq!(apps, 5);
    assert_eq!(h.live_rows(), 5);
}
