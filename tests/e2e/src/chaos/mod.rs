//! The rig of the chaos and two-host suites (issue 9): the real spin.toml served by `spin-test-host`
//! processes (killable, several at once), one PostgreSQL database (a copy of the platform fixture with
//! Fleet's migrations, reached as `postgres`), the Fly simulator, and a fake screener `/health` that answers
//! for every user as their machine would.

pub mod audit;
pub mod deliver;
pub mod fly_log;
pub mod host_process;
pub mod stalls;
pub mod subscriptions;

use std::collections::BTreeMap;
use std::path::PathBuf;

use fleet_store::native::NativePostgres;
use fleet_store::{AppRow, Store, UserId};
use fleet_sweep::fake_screener::FakeScreener;
use fly_simulator::{FlySimThread, SimConfig};
use serde_json::Value;

use crate::{ADMIN_TOKEN, IMAGE, WEBHOOK_BEARER, WEBHOOK_SECRET};
use audit::Expected;
use host_process::HostProcess;

pub struct ChaosRig {
    pub sim: FlySimThread,
    pub database_url: String,
    pub screener: FakeScreener,
    pub dir: tempfile::TempDir,
    manifest: PathBuf,
    variables: BTreeMap<String, String>,
    _runtime: tokio::runtime::Runtime,
}

impl ChaosRig {
    /// A fresh database on the shared test cluster, the simulator, the fake screener; no host yet.
    pub fn postgres(sim: SimConfig) -> ChaosRig {
        let cluster = fleet_test_support::postgres::cluster();
        let database_url = cluster.fresh_database();
        crate::prepare_platform_database(&database_url);
        let sim = FlySimThread::start(sim).expect("start the Fly simulator");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let screener = FakeScreener::start(&runtime, sim.sim().root_url());
        let template = screener.url_template();
        let screener_origin = template.split("/apps/").next().expect("origin").to_string();
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = crate::manifest_in(dir.path());
        let db_port = cluster.port().to_string();
        let db_name = database_url
            .rsplit('/')
            .next()
            .expect("db name")
            .to_string();
        let variables: BTreeMap<String, String> = [
            ("webhook_secret", WEBHOOK_SECRET.to_string()),
            ("webhook_bearer_token", WEBHOOK_BEARER.to_string()),
            ("admin_token", ADMIN_TOKEN.to_string()),
            ("fly_api_token", sim.sim().token().to_string()),
            ("fly_api_origin", sim.sim().root_url()),
            ("fly_org", sim.sim().org_slug().to_string()),
            ("fly_image", IMAGE.to_string()),
            ("database_url", database_url.clone()),
            ("database_host", "127.0.0.1".into()),
            ("database_port", db_port.clone()),
            ("screener_db_host", "127.0.0.1".into()),
            ("screener_db_port", db_port),
            ("screener_db_name", db_name),
            ("screener_db_params", "sslmode=disable".into()),
            // Short budgets: a killed request's lease (budget + 60 s) expires sooner.
            ("reconcile_budget_ms", "5000".into()),
            ("sweep_budget_ms", "15000".into()),
            ("sweep_concurrency", "8".into()),
            // Every active app is checked on every sweep.
            ("check_interval_secs", "0".into()),
            ("app_url_template", template),
            ("app_url_origin", screener_origin),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        ChaosRig {
            sim,
            database_url,
            screener,
            dir,
            manifest,
            variables,
            _runtime: runtime,
        }
    }

    /// Overrides one of the host's Spin variables for hosts started from now on.
    pub fn set_variable(&mut self, key: &str, value: impl Into<String>) {
        self.variables.insert(key.to_string(), value.into());
    }

    /// Starts a host process; its log is `<rig dir>/<name>.log`.
    pub fn start_host(&self, name: &str) -> HostProcess {
        HostProcess::start(
            &self.manifest,
            &self.dir.path().join("unused-sqlite.db"),
            &self.variables,
            &self.dir.path().join(format!("{name}.log")),
        )
    }

    /// Starts `n` hosts at once (compiling the components is the slow part).
    pub fn start_hosts(&self, n: usize) -> Vec<HostProcess> {
        std::thread::scope(|scope| {
            let started: Vec<_> = (0..n)
                .map(|i| scope.spawn(move || self.start_host(&format!("host-{i}"))))
                .collect();
            started
                .into_iter()
                .map(|h| h.join().expect("host starts"))
                .collect()
        })
    }

    /// Signs every user up the platform's way (each gets the platform's free subscription), so that
    /// [`subscriptions::apply`] can change their subscriptions with the platform's write.
    pub fn sign_up(&self, users: &[UserId]) {
        let mut db = self.db();
        for user in users {
            crate::sign_up(&mut db, *user);
        }
    }

    pub fn db(&self) -> postgres::Client {
        postgres::Client::connect(&self.database_url, postgres::NoTls).expect("connect")
    }

    pub fn rows(&self) -> Vec<AppRow> {
        Store::new(NativePostgres::connect(&self.database_url).expect("connect"))
            .list_apps()
            .expect("list rows")
    }

    /// Everything that keeps the fleet from being converged (empty when it is).
    pub fn violations(&self, users: &[UserId]) -> Vec<String> {
        let state = self.sim.sim().state_dump();
        audit::violations(
            &mut self.db(),
            &self.rows(),
            &state,
            users,
            &Expected::fleet_defaults(IMAGE),
        )
    }

    /// Every secret of the run, named: the Fly token, webhook secret, admin token, the database password,
    /// and the per-user role passwords minted so far.
    pub fn secrets(&self) -> Vec<(&'static str, String)> {
        let mut secrets = vec![
            ("fly token", self.sim.sim().token().to_string()),
            ("webhook secret", WEBHOOK_SECRET.to_string()),
            ("webhook bearer token", WEBHOOK_BEARER.to_string()),
            ("admin token", ADMIN_TOKEN.to_string()),
        ];
        if let Some(pw) = audit::url_password(&self.database_url) {
            secrets.push(("database password", pw));
        }
        for pw in audit::minted_passwords(&self.sim.sim().state_dump()) {
            secrets.push(("screener role password", pw));
        }
        secrets
    }

    /// The host logs so far (for failure messages).
    pub fn host_logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.dir.path()).into_iter().flatten() {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let all: Vec<&str> = text.lines().collect();
                let tail = all[all.len().saturating_sub(lines)..].join("\n");
                out.push_str(&format!("== {}\n{tail}\n", path.display()));
            }
        }
        out
    }
}

/// A user's app-name candidates in Fleet's order (`vyx-user-<8|12|16 hex>`).
pub fn name_candidates(user: UserId) -> Vec<String> {
    fleet_test_support::fly_faults::name_candidates(&user.to_string())
}

/// A sweep's summary field, 0 when absent.
pub fn field(summary: &Value, key: &str) -> u64 {
    summary[key].as_u64().unwrap_or(0)
}
