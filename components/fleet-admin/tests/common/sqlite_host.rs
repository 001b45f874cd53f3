//! Fleet's spin.toml served by the test host (or `FLEET_SPIN_UP`'s Spin) on a migrated SQLite file, with the
//! Fly simulator behind it: the one host rig of the admin tests that go through the real `.wasm` components.

use std::path::{Path, PathBuf};

use fleet_store::native::NativeSqlite;
use fleet_store::Store;
use fly_simulator::{FlySimThread, SimConfig};
use spin_test_host::{HostConfig, RunningHost};

/// The admin token (32 random bytes as hex, as the entropy floor asks).
pub const ADMIN_TOKEN: &str = "5e1b0d2a9b4e6a8c0d2f4b6e8a0c2e4f6a8b0d2e4c6a8e0b2d4f6a8c0e2b4d6f";
const WEBHOOK_SECRET: &str = "0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0f1a";

pub struct SqliteHost {
    pub host: RunningHost,
    pub sim: FlySimThread,
    pub db: PathBuf,
    /// Holds the manifest and the SQLite file for as long as the host runs.
    pub dir: tempfile::TempDir,
}

/// Starts the host. `before_migrations` fills the fresh SQLite file before Fleet's migrations run (platform
/// rows that predate Fleet); `vars` are set after the defaults, so they override them.
pub fn start(before_migrations: impl FnOnce(&Path), vars: &[(&str, &str)]) -> SqliteHost {
    let dir = tempfile::tempdir().unwrap();
    let manifest = fleet_test_support::wasm::manifest_in(dir.path());
    let db = dir.path().join("fleet.db");
    before_migrations(&db);
    Store::new(NativeSqlite::open(&db).unwrap())
        .migrate()
        .unwrap();
    let sim = FlySimThread::start(SimConfig::default()).unwrap();
    let mut config = HostConfig::new(&manifest)
        .environment(Vec::new())
        .variable("admin_token", ADMIN_TOKEN)
        .variable("webhook_secret", WEBHOOK_SECRET)
        .variable("fly_api_token", sim.sim().token())
        .variable("fly_api_origin", sim.sim().root_url())
        .variable("fly_org", sim.sim().org_slug())
        .variable("fly_image", super::IMAGE)
        .variable("reconcile_budget_ms", "15000")
        .variable("database_url", "sqlite://default")
        .variable(
            "screener_database_url",
            format!("sqlite://{}", db.display()),
        );
    for (name, value) in vars {
        config = config.variable(*name, *value);
    }
    let host = config
        .sqlite_default(&db)
        .start_on_chosen_host()
        .expect("host starts");
    SqliteHost { host, sim, db, dir }
}
