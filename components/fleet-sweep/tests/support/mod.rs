//! A native rig for sweep tests: the Fly simulator, a real database (Postgres or SQLite), a fake screener
//! `/health` server, and a sweeper wired to all three.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use fleet_reconcile::{CountingTransport, DatabaseAccess, ReconcileConfig, SystemClock};
use fleet_store::native::{NativePostgres, NativeSqlite};
use fleet_store::{AppRow, Dialect, SqlConnection, Store, UserId};
use fleet_sweep::{PriceTable, SweepConfig, SweepSummary, Sweeper};
use fleet_test_support::platform;
use fly_api::transport_native::NativeTransport;
use fly_api::types::Guest;
use fly_api::{AppName, FlyClient, OrgSlug, Secret};
use fly_simulator::{FlySimThread, SimConfig};
use serde_json::Value;

#[allow(unused_imports)]
pub use fleet_sweep::fake_screener::{Answer, FakeScreener};

pub const IMAGE: &str = "registry.fly.io/vyx-screener:v1";

pub struct Rig<C: SqlConnection> {
    pub sim: FlySimThread,
    pub store: Store<C>,
    pub counter: CountingTransport<NativeTransport>,
    pub reconcile: ReconcileConfig,
    pub config: SweepConfig,
    pub screener: FakeScreener,
    pub database_url: String,
    runtime: tokio::runtime::Runtime,
    _dir: Option<tempfile::TempDir>,
}

pub fn quiet_sim() -> SimConfig {
    SimConfig::default().without_rate_limits()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn reconcile_config(database: DatabaseAccess, org: &str) -> ReconcileConfig {
    ReconcileConfig {
        org: OrgSlug::new(org),
        image: IMAGE.into(),
        region: "sin".into(),
        region_fallbacks: vec![],
        guest: Guest::shared(2, 512),
        database,
        extra_secrets: Default::default(),
        max_attempts_before_error: 5,
        exposure: Default::default(),
    }
}

/// Sweep settings for tests: every active row is due on every sweep.
pub fn test_sweep_config(screener: &FakeScreener) -> SweepConfig {
    SweepConfig {
        check_interval: Duration::ZERO,
        concurrency: 8,
        budget: Duration::from_secs(30),
        repair_budget: Duration::from_secs(15),
        rollout_wait: Duration::from_secs(5),
        app_url_template: screener.url_template(),
        ..SweepConfig::default()
    }
}

impl Rig<NativePostgres> {
    pub fn postgres(sim_config: SimConfig) -> Self {
        let cluster = fleet_test_support::postgres::cluster();
        let url = cluster.fresh_database();
        let mut store = Store::new(NativePostgres::connect(&url).unwrap());
        store.migrate().unwrap();
        let database = DatabaseAccess::PerUserRole {
            host: "127.0.0.1".into(),
            port: cluster.port(),
            database: url.rsplit('/').next().unwrap().to_string(),
            url_params: String::new(),
        };
        Rig::assemble(sim_config, store, database, url, None)
    }

    /// A second connection to the same database, for concurrent sweeps.
    pub fn second_store(&self) -> Store<NativePostgres> {
        Store::new(NativePostgres::connect(&self.database_url).unwrap())
    }
}

impl Rig<NativeSqlite> {
    pub fn sqlite(sim_config: SimConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        let mut store = Store::new(NativeSqlite::open(&path).unwrap());
        store.migrate().unwrap();
        let url = format!("sqlite://{}", path.display());
        let database = DatabaseAccess::Shared {
            database_url: Secret::new(url.clone()),
        };
        Rig::assemble(sim_config, store, database, url, Some(dir))
    }
}

impl<C: SqlConnection> Rig<C> {
    fn assemble(
        sim_config: SimConfig,
        store: Store<C>,
        database: DatabaseAccess,
        url: String,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let sim = FlySimThread::start(sim_config).expect("start the Fly simulator");
        let runtime = runtime();
        let screener = FakeScreener::start(&runtime, sim.sim().root_url());
        let reconcile = reconcile_config(database, sim.sim().org_slug());
        let config = test_sweep_config(&screener);
        Rig {
            sim,
            store,
            counter: CountingTransport::new(NativeTransport::new()),
            reconcile,
            config,
            screener,
            database_url: url,
            runtime,
            _dir: dir,
        }
    }

    pub fn fly(&self) -> FlyClient<&CountingTransport<NativeTransport>> {
        fly_client(&self.sim, &self.counter)
    }

    /// One sweep on the rig's store.
    pub fn sweep(&mut self) -> SweepSummary {
        let _guard = self.runtime.enter();
        let owner = format!("sweep:{}", uuid::Uuid::new_v4());
        run_sweep(
            &self.fly_target(),
            &self.counter,
            &mut self.store,
            &self.reconcile,
            &self.config,
            &owner,
        )
    }

    /// One sweep whose Fly calls go through `transport` (e.g. a fault-injecting wrapper).
    pub fn sweep_over<T: fly_api::Transport>(&mut self, transport: &T) -> SweepSummary {
        let _guard = self.runtime.enter();
        let owner = format!("sweep:{}", uuid::Uuid::new_v4());
        let target = self.fly_target();
        let fly = FlyClient::new(
            transport,
            target.base_url.clone(),
            Secret::new(target.token.clone()),
            OrgSlug::new(target.org.clone()),
        );
        let calls = || 0;
        let probe = NativeTransport::with_timeout(Duration::from_secs(3));
        let prices = PriceTable::embedded();
        let mut sweeper = Sweeper {
            store: &mut self.store,
            fly: &fly,
            probe: &probe,
            reconcile: &self.reconcile,
            config: &self.config,
            prices: &prices,
            clock: &SystemClock,
            owner: &owner,
            fly_calls: &calls,
        };
        futures::executor::block_on(sweeper.run()).expect("the sweep's store work succeeds")
    }

    /// Runs a statement on the rig's database (test setup).
    pub fn exec(&mut self, sql: &str) -> u64 {
        self.store.connection().execute(sql, &[]).unwrap()
    }

    /// Where (and as whom) the simulator is reached.
    pub fn fly_target(&self) -> FlyTarget {
        FlyTarget {
            base_url: self.sim.sim().base_url(),
            token: self.sim.sim().token().to_string(),
            org: self.sim.sim().org_slug().to_string(),
        }
    }

    pub fn create_app(&self, name: &str) {
        let fly = self.fly();
        self.block_on(fly.create_app(&AppName::parse(name).unwrap(), None))
            .unwrap();
    }

    pub fn delete_app(&self, name: &str) {
        let fly = self.fly();
        self.block_on(fly.delete_app(&AppName::parse(name).unwrap(), true))
            .unwrap();
    }

    pub fn delete_machine(&self, app: &str, machine: &str) {
        let fly = self.fly();
        let (app, machine) = (
            AppName::parse(app).unwrap(),
            fly_api::MachineId::parse(machine).unwrap(),
        );
        self.block_on(fly.delete_machine(&app, &machine, true, None))
            .unwrap();
    }

    /// A list-machines call outside any sweep (e.g. to spend the rate-limit budget).
    pub fn list_machines(&self, app: &str) -> Result<usize, fly_api::FlyError> {
        let fly = self.fly();
        self.block_on(fly.list_machines(&AppName::parse(app).unwrap(), &Default::default()))
            .map(|m| m.len())
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Runs a future that needs the rig's tokio context (reqwest).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        let _guard = self.runtime.enter();
        futures::executor::block_on(future)
    }

    /// Sweeps until `done` holds (bounded), returning every summary.
    pub fn sweep_until(
        &mut self,
        what: &str,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> Vec<SweepSummary> {
        let mut summaries = Vec::new();
        for _ in 0..12 {
            summaries.push(self.sweep());
            if done(self) {
                return summaries;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("{what}: not reached after 12 sweeps: {summaries:#?}");
    }

    /// Sets the user's subscription, as the platform's billing would (the database trigger marks the user due;
    /// the webhook that would follow is "lost": no handler runs). PostgreSQL (the platform fixture): a new user
    /// signs up first (GoTrue's INSERT into `auth.users`; the platform's trigger creates the profile and a free,
    /// active subscription), then the platform's subscription write (an UPDATE) sets tier and status. SQLite
    /// has no `auth` schema: an upsert of the subscription row.
    pub fn subscribe(&mut self, user: UserId, tier: &str, status: &str) {
        subscribe(self.store.connection(), user, tier, status);
    }

    pub fn row(&mut self, user: UserId) -> AppRow {
        self.store.app(user).unwrap().expect("the user has a row")
    }

    /// Entitles `n` users (ids from `first`) and sweeps until all are active.
    pub fn provision_users(&mut self, first: u32, n: u32) -> Vec<UserId> {
        let users: Vec<UserId> = (first..first + n).map(user).collect();
        for u in &users {
            self.subscribe(*u, "pro", "active");
        }
        let check = users.clone();
        self.sweep_until("all users active", |rig| {
            check
                .iter()
                .all(|u| rig.row(*u).status == fleet_store::AppStatus::Active)
        });
        users
    }

    pub fn apps(&self) -> Vec<Value> {
        self.sim.sim().state_dump()["apps"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn live_machines(&self, app: &str) -> Vec<Value> {
        self.apps()
            .into_iter()
            .filter(|a| a["name"] == app && a["deleting"] != true)
            .flat_map(|a| a["machines"].as_array().cloned().unwrap_or_default())
            .filter(|m| m["state"] != "destroyed" && m["state"] != "destroying")
            .collect()
    }

    /// Polls the simulator until `done` holds, for at most `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, mut done: impl FnMut(&Self) -> bool) {
        let until = Instant::now() + limit;
        while !done(self) {
            assert!(Instant::now() < until, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Requests the simulator saw whose path ends with `suffix` (e.g. `/machines` for list calls).
    pub fn requests_matching(&self, method: &str, path_part: &str) -> Vec<String> {
        self.sim
            .sim()
            .request_log()
            .into_iter()
            .filter(|e| e.method == method && e.path.contains(path_part))
            .map(|e| e.path)
            .collect()
    }
}

pub fn fly_client<'a>(
    sim: &FlySimThread,
    counter: &'a CountingTransport<NativeTransport>,
) -> FlyClient<&'a CountingTransport<NativeTransport>> {
    FlyClient::new(
        counter,
        sim.sim().base_url(),
        Secret::new(sim.sim().token().to_string()),
        OrgSlug::new(sim.sim().org_slug()),
    )
}

/// The simulator's address and credentials, to build clients on other threads.
#[derive(Clone, Debug)]
pub struct FlyTarget {
    pub base_url: String,
    pub token: String,
    pub org: String,
}

/// One sweep with the given parts (call inside a tokio runtime context).
pub fn run_sweep<C: SqlConnection>(
    target: &FlyTarget,
    counter: &CountingTransport<NativeTransport>,
    store: &mut Store<C>,
    reconcile: &ReconcileConfig,
    config: &SweepConfig,
    owner: &str,
) -> SweepSummary {
    let fly = FlyClient::new(
        counter,
        target.base_url.clone(),
        Secret::new(target.token.clone()),
        OrgSlug::new(target.org.clone()),
    );
    let calls = || counter.calls();
    let probe = NativeTransport::with_timeout(Duration::from_secs(3));
    let prices = PriceTable::embedded();
    let mut sweeper = Sweeper {
        store,
        fly: &fly,
        probe: &probe,
        reconcile,
        config,
        prices: &prices,
        clock: &SystemClock,
        owner,
        fly_calls: &calls,
    };
    futures::executor::block_on(sweeper.run()).expect("the sweep's store work succeeds")
}

/// See [`Rig::subscribe`].
pub fn subscribe<C: SqlConnection>(conn: &mut C, user: UserId, tier: &str, status: &str) {
    let local = conn.dialect() == Dialect::Sqlite;
    platform::subscribe_with(local, &user.to_string(), tier, status, |sql| {
        conn.execute(sql, &[]).unwrap()
    });
}

/// The address a test user signs up with.
pub fn email(user: UserId) -> String {
    platform::test_email(&user.to_string())
}

pub fn user(n: u32) -> UserId {
    UserId::parse(&format!("aaaaaaaa-0000-4000-8000-{n:012}")).unwrap()
}
