//! A native rig for admin tests: the Fly simulator, a real SQLite file and the admin service wired to both.
#![allow(dead_code)]

pub mod sqlite_host;

use std::path::PathBuf;
use std::time::Duration;

use fleet_admin::{Admin, AdminConfig, AdminRequest, AdminResponse, FlyLimits, Pacing};
use fleet_http::ApiError;
use fleet_reconcile::{DatabaseAccess, ReconcileConfig, SystemClock};
use fleet_store::native::NativeSqlite;
use fleet_store::{SqlConnection, SqlValue, Store, UserId};
use fly_api::transport_native::NativeTransport;
use fly_api::types::Guest;
use fly_api::{FlyClient, OrgSlug, Secret};
use fly_simulator::{FlySimThread, SimConfig};
use serde_json::Value;

pub const TOKEN: &str = "admin-test-token-0123456789";
pub const IMAGE: &str = "registry.fly.io/vyx-screener:v1";

pub struct Rig {
    pub sim: FlySimThread,
    pub db: PathBuf,
    pub config: AdminConfig,
    pub fly: FlyClient<NativeTransport>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub fn new(allow_tier_override: bool) -> Rig {
        Rig::with_sim(allow_tier_override, SimConfig::default())
    }

    pub fn with_sim(allow_tier_override: bool, sim_config: SimConfig) -> Rig {
        Rig::build(allow_tier_override, sim_config, &[])
    }

    /// A rig whose platform already had these `(user, tier)` subscriptions before Fleet's migrations ran
    /// (so no trigger created their rows): the "existing users" a migration is for.
    pub fn build(
        allow_tier_override: bool,
        sim_config: SimConfig,
        existing: &[(UserId, &str)],
    ) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fleet.db");
        let mut conn = NativeSqlite::open(&db).unwrap();
        if !existing.is_empty() {
            conn.execute(
                "CREATE TABLE user_subscriptions (id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4))) || '-' || \
                 lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-a' || \
                 substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))), \
                 user_id TEXT NOT NULL UNIQUE, tier TEXT NOT NULL DEFAULT 'free', status TEXT NOT NULL DEFAULT 'active', \
                 expires_at TEXT, stripe_customer_id TEXT, stripe_subscription_id TEXT, \
                 created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), \
                 updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) STRICT",
                &[],
            )
            .unwrap();
            for (user, tier) in existing {
                conn.execute(
                    "INSERT INTO user_subscriptions (user_id, tier) VALUES (?1, ?2)",
                    &[SqlValue::from(user.to_string()), (*tier).into()],
                )
                .unwrap();
            }
        }
        Store::new(conn).migrate().unwrap();
        let sim = FlySimThread::start(sim_config).expect("start the Fly simulator");
        let fly = FlyClient::new(
            NativeTransport::new(),
            sim.sim().base_url(),
            Secret::new(sim.sim().token().to_string()),
            OrgSlug::new(sim.sim().org_slug()),
        );
        let reconcile = ReconcileConfig {
            org: OrgSlug::new(sim.sim().org_slug()),
            image: IMAGE.into(),
            region: "sin".into(),
            region_fallbacks: vec![],
            guest: Guest::shared(2, 512),
            database: DatabaseAccess::Shared {
                database_url: Secret::new(format!("sqlite://{}", db.display())),
            },
            extra_secrets: Default::default(),
            max_attempts_before_error: 5,
            exposure: Default::default(),
        };
        let config = AdminConfig {
            admin_token: Secret::new(TOKEN.to_string()),
            allow_tier_override,
            reconcile,
            budget: Duration::from_secs(20),
            pacing: Pacing::from_limits(FlyLimits::DOCUMENTED),
            throttle: Default::default(),
            client_ip_header: String::new(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Rig {
            sim,
            db,
            config,
            fly,
            runtime,
            _dir: dir,
        }
    }

    pub fn store(&self) -> Store<NativeSqlite> {
        Store::new(NativeSqlite::open(&self.db).unwrap())
    }

    /// Sends one request through the admin service.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> AdminResponse {
        let db = self.db.clone();
        let open = move || -> Result<Store<NativeSqlite>, ApiError> {
            NativeSqlite::open(&db)
                .map(Store::new)
                .map_err(|e| ApiError::new(503, "database_unavailable", e.to_string()))
        };
        let admin = Admin {
            config: &self.config,
            open_store: &open,
            fly: &self.fly,
            clock: &SystemClock,
        };
        let mut all: Vec<(String, String)> = vec![("host".into(), "127.0.0.1:3000".into())];
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let req = AdminRequest::new(method, path, all, body.as_bytes().to_vec());
        let _guard = self.runtime.enter();
        self.runtime.block_on(admin.handle(&req))
    }

    /// GET or POST with the bearer token.
    pub fn admin(&self, method: &str, path: &str, body: &str) -> AdminResponse {
        let auth = format!("Bearer {TOKEN}");
        self.send(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body,
        )
    }

    pub fn subscribe(&self, user: UserId, tier: &str, status: &str) {
        let mut store = self.store();
        store
            .connection()
            .execute(
                "INSERT INTO user_subscriptions (user_id, tier, status) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, status = excluded.status",
                &[SqlValue::from(user.to_string()), tier.into(), status.into()],
            )
            .unwrap();
    }

    /// Everything an admin request could change: rows, events, subscriptions and fleet state.
    pub fn snapshot(&self) -> Value {
        let mut store = self.store();
        let mut dump = |sql: &str| -> Vec<Vec<SqlValue>> {
            store
                .connection()
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| r.values().to_vec())
                .collect()
        };
        let text = format!(
            "{:?}|{:?}|{:?}|{:?}",
            dump("SELECT * FROM user_fly_apps ORDER BY user_id"),
            dump("SELECT * FROM user_fly_app_events ORDER BY id"),
            dump(
                "SELECT user_id, tier, status, expires_at FROM user_subscriptions ORDER BY user_id"
            ),
            dump("SELECT key, value FROM fleet_state ORDER BY key"),
        );
        Value::String(text)
    }

    pub fn fly_calls(&self) -> usize {
        self.sim.sim().request_log().len()
    }

    pub fn apps_at_fly(&self) -> Vec<Value> {
        self.sim.sim().state_dump()["apps"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

pub fn user(n: u32) -> UserId {
    UserId::parse(&format!("aaaaaaaa-0000-4000-8000-{n:012}")).unwrap()
}

pub fn body(response: &AdminResponse) -> Value {
    response.json_body()
}
