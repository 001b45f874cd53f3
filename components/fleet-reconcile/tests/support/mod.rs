//! A native rig for reconcile tests: the Fly simulator, a real database (Postgres or SQLite) and a
//! reconciler wired to both.

use std::time::Duration;

use fleet_reconcile::{DatabaseAccess, Outcome, ReconcileConfig, Reconciler, SystemClock};
use fleet_store::native::{NativePostgres, NativeSqlite};
use fleet_store::{Dialect, SqlConnection, Store, UserId};
use fleet_test_support::platform;
use fly_api::transport_native::NativeTransport;
use fly_api::types::Guest;
use fly_api::{FlyClient, OrgSlug, Secret};
use fly_simulator::{FlySimThread, SimConfig};
use serde_json::Value;

pub const IMAGE: &str = "registry.fly.io/vyx-screener:v1";

pub struct Rig<C: SqlConnection> {
    pub sim: FlySimThread,
    pub store: Store<C>,
    pub fly: FlyClient<NativeTransport>,
    pub config: ReconcileConfig,
    runtime: tokio::runtime::Runtime,
    _dir: Option<tempfile::TempDir>,
}

fn sim(config: SimConfig) -> FlySimThread {
    FlySimThread::start(config).expect("start the Fly simulator")
}

fn client(sim: &FlySimThread) -> FlyClient<NativeTransport> {
    FlyClient::new(
        NativeTransport::new(),
        sim.sim().base_url(),
        Secret::new(sim.sim().token().to_string()),
        OrgSlug::new(sim.sim().org_slug()),
    )
}

fn config(database: DatabaseAccess, org: &str) -> ReconcileConfig {
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

impl Rig<NativePostgres> {
    /// A rig on a fresh copy of the platform fixture (Supabase's roles and the platform's production schema,
    /// connected as the non-superuser `postgres`), with Fleet's migrations applied.
    pub fn postgres(sim_config: SimConfig) -> Self {
        Rig::postgres_with_platform_state(sim_config, |_, _| {})
    }

    /// Like [`Rig::postgres`], but `platform` first runs against the platform as it was before Fleet's
    /// migrations: its database (as `postgres`) and the Fly org (the simulator, inside the rig's tokio context),
    /// e.g. to leave what the platform's old provisioner made.
    pub fn postgres_with_platform_state(
        sim_config: SimConfig,
        platform: impl FnOnce(&mut postgres::Client, &FlyClient<NativeTransport>),
    ) -> Self {
        let cluster = fleet_test_support::postgres::cluster();
        let url = cluster.fresh_database();
        let sim = sim(sim_config);
        let fly = client(&sim);
        let runtime = runtime();
        {
            let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let _guard = runtime.enter();
            platform(&mut db, &fly);
        }
        let mut store = Store::new(NativePostgres::connect(&url).unwrap());
        store.migrate().unwrap();
        let database = DatabaseAccess::PerUserRole {
            host: "127.0.0.1".into(),
            port: cluster.port(),
            database: url.rsplit('/').next().unwrap().to_string(),
            url_params: String::new(),
        };
        let config = config(database, sim.sim().org_slug());
        Rig {
            sim,
            store,
            fly,
            config,
            runtime,
            _dir: None,
        }
    }
}

impl Rig<NativeSqlite> {
    pub fn sqlite(sim_config: SimConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        let mut store = Store::new(NativeSqlite::open(&path).unwrap());
        store.migrate().unwrap();
        let sim = sim(sim_config);
        let fly = client(&sim);
        let database = DatabaseAccess::Shared {
            database_url: Secret::new(format!("sqlite://{}", path.display())),
        };
        let config = config(database, sim.sim().org_slug());
        Rig {
            sim,
            store,
            fly,
            config,
            runtime: runtime(),
            _dir: Some(dir),
        }
    }
}

impl<C: SqlConnection> Rig<C> {
    /// Sets the user's subscription, as the platform does. PostgreSQL (the platform fixture): a new user signs
    /// up first (GoTrue's INSERT into `auth.users`; the platform's trigger creates the profile and a free,
    /// active subscription), then the platform's subscription write (an UPDATE) sets tier and status. SQLite
    /// has no `auth` schema: an upsert of the subscription row.
    pub fn subscribe(&mut self, user: UserId, tier: &str, status: &str) {
        subscribe(self.store.connection(), user, tier, status);
    }

    /// One reconcile pass, as a handler would run it after marking the user due.
    pub fn pass(&mut self, user: UserId, owner: &str) -> Outcome {
        let entitled = self.store.entitlement(user).unwrap().entitled;
        self.store
            .mark_due(user, chrono::Utc::now(), entitled)
            .unwrap();
        let _guard = self.runtime.enter();
        let mut reconciler = Reconciler {
            store: &mut self.store,
            fly: &self.fly,
            config: &self.config,
            clock: &SystemClock,
            owner,
            cause: fleet_reconcile::Cause::sweep(),
        };
        futures::executor::block_on(reconciler.reconcile(user, Duration::from_secs(20))).unwrap()
    }

    /// One reconcile pass through `fly` (e.g. a client over a fault-injecting transport), without marking the
    /// user due first (as the sweep runs it).
    pub fn pass_through<T: fly_api::Transport>(
        &mut self,
        fly: &FlyClient<T>,
        user: UserId,
        owner: &str,
    ) -> Outcome {
        self.pass_within(fly, user, owner, Duration::from_secs(20))
    }

    /// [`Rig::pass_through`] with a chosen budget.
    pub fn pass_within<T: fly_api::Transport>(
        &mut self,
        fly: &FlyClient<T>,
        user: UserId,
        owner: &str,
        budget: Duration,
    ) -> Outcome {
        let _guard = self.runtime.enter();
        let mut reconciler = Reconciler {
            store: &mut self.store,
            fly,
            config: &self.config,
            clock: &SystemClock,
            owner,
            cause: fleet_reconcile::Cause::sweep(),
        };
        futures::executor::block_on(reconciler.reconcile(user, budget)).unwrap()
    }

    /// A client for the rig's simulator over another transport.
    pub fn client_over<T: fly_api::Transport>(&self, transport: T) -> FlyClient<T> {
        FlyClient::new(
            transport,
            self.sim.sim().base_url(),
            Secret::new(self.sim.sim().token().to_string()),
            OrgSlug::new(self.sim.sim().org_slug()),
        )
    }

    /// Passes until converged (bounded).
    pub fn converge(&mut self, user: UserId) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for _ in 0..10 {
            let outcome = self.pass(user, "test-worker");
            let done = outcome.converged;
            outcomes.push(outcome);
            if done {
                return outcomes;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("did not converge in 10 passes: {outcomes:#?}");
    }

    pub fn apps(&self) -> Vec<Value> {
        self.sim.sim().state_dump()["apps"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Live (not destroyed) machines of an app in the simulator.
    pub fn live_machines(&self, app: &str) -> Vec<Value> {
        self.apps()
            .into_iter()
            .filter(|a| a["name"] == app)
            .flat_map(|a| a["machines"].as_array().cloned().unwrap_or_default())
            .filter(|m| m["state"] != "destroyed")
            .collect()
    }
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
