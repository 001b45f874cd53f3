//! End-to-end rig: Fleet's real `.wasm` components in the wasmtime host, the Fly simulator, and a real
//! database: a copy of the platform fixture (`tests/platform-fixture`: a Supabase project holding the
//! platform's production schema) with Fleet's migrations applied, reached as the non-superuser `postgres` role
//! as on Supabase, or a SQLite file (the local run's schema).
//!
//! On PostgreSQL users exist the platform's way: signed up through `auth.users` (the platform's trigger
//! creates the profile and a free subscription), then changed by the platform's subscription write (an
//! UPDATE of `user_subscriptions`). SQLite has no `auth.users`: subscriptions are inserted directly.

pub mod chaos;
pub mod hostile;
pub mod hostile_admin;
pub mod hostile_fuzz;
pub mod leaks;
pub mod proof;
pub mod raw_http;
pub mod snapshot;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleet_store::native::{NativePostgres, NativeSqlite};
use fleet_store::{SqlConnection, SqlValue, Store, UserId};
use fleet_test_support::platform;
use fleet_test_support::postgres::describe;
use fly_simulator::{FlySimThread, SimConfig};
use serde_json::Value;
use spin_test_host::{HostConfig, OutputSink, RunningHost, Stream};

/// The HMAC key of signed hints (`webhook_secret`; 32 random bytes as hex, never sent by Fleet or the database).
pub const WEBHOOK_SECRET: &str = "7d1f0c2a9b4e6a8c0d2f4b6e8a0c2e4f6a8b0d2e4c6a8e0b2d4f6a8c0e2b4d6f";
/// The webhooks' separate bearer token (`webhook_bearer_token`), for callers that cannot sign.
pub const WEBHOOK_BEARER: &str = "b3a9e1c7d5f3b1a9e7c5d3f1b9a7e5c3d1f9b7a5e3c1d9f7b5a3e1c9d7f5b3a1";
pub const ADMIN_TOKEN: &str = "3c9a51f0e2d4b6a8c0e2f4a6b8d0c2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6";
/// Failed-password limits high enough never to trigger in suites that are not about the throttle.
pub const THROTTLE_LIFTED: &str = "1000000";
pub const IMAGE: &str = "registry.fly.io/vyx-screener:v1";
/// The key of the apps' probe tokens (`probe_key`); each app gets HMAC(key, app name) as FLEET_PROBE_TOKEN.
pub const PROBE_KEY: &str = "5e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
/// What the platform's operator stored in Vault (`project_url`, `service_role_key`); the platform's own
/// triggers read them. Fleet never does.
pub const PLATFORM_PROJECT_URL: &str = "https://e2eref.supabase.co";
pub const PLATFORM_SERVICE_ROLE_KEY: &str = "srk-e2e-platform-5b0d7e";

/// A platform fixture database as production is when Fleet runs: Fleet's migrations applied (as `postgres`,
/// through the store's runner) and the platform's Vault secrets present. `url` is for the `postgres` role.
pub fn prepare_platform_database(url: &str) {
    Store::new(NativePostgres::connect(url).expect("connect as postgres"))
        .migrate()
        .expect("Fleet's migrations apply on the platform fixture");
    let mut db = postgres::Client::connect(url, postgres::NoTls).expect("connect as postgres");
    platform::set_vault_secrets(&mut db, PLATFORM_PROJECT_URL, PLATFORM_SERVICE_ROLE_KEY)
        .unwrap_or_else(|e| panic!("storing the platform's Vault secrets: {}", describe(&e)));
}

/// Signs `user` up the platform's way (GoTrue's INSERT into `auth.users`; the platform's trigger creates the
/// profile and a free, active subscription), unless that user already exists.
pub fn sign_up(db: &mut postgres::Client, user: UserId) {
    let id = user.to_string();
    let exists: bool = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM auth.users WHERE id = $1::text::uuid)",
            &[&id],
        )
        .unwrap_or_else(|e| panic!("reading auth.users: {}", describe(&e)))
        .get(0);
    if !exists {
        db.batch_execute(&platform::sign_up_sql(&id, &format!("{id}@e2e.invalid")))
            .unwrap_or_else(|e| panic!("signing {id} up: {}", describe(&e)));
    }
}

/// The platform's subscription write for a signed-up user (one UPDATE of `user_subscriptions`); panics
/// unless it updated exactly that user's row. `expires_at` is a timestamptz literal.
pub fn platform_subscription_write(
    db: &mut postgres::Client,
    user: UserId,
    tier: &str,
    status: &str,
    expires_at: Option<&str>,
) {
    let sql = platform::set_subscription_sql(&user.to_string(), tier, status, expires_at);
    let updated = db.execute(sql.as_str(), &[]).unwrap_or_else(|e| {
        panic!(
            "the platform's subscription write ({sql}): {}",
            describe(&e)
        )
    });
    assert_eq!(updated, 1, "{sql} updated {updated} rows");
}

/// Which database the host's components use.
pub enum Database {
    Postgres { url: String, port: u16 },
    Sqlite { path: PathBuf },
}

/// How long the rig's client waits for an answer before it reports the request as hung. The host, like
/// `spin up`, has no request deadline: a request that never finishes is only ever seen as this timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong sending `what` (e.g. `POST /provision`): a timeout is a hang and says so, naming the wait.
pub fn describe_send_error(what: &str, timeout: Duration, error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!(
            "{what}: the request hung (no answer in {} s); the host has no request deadline, as Spin has none, \
             so the component is still waiting on something (a query, a lock, an outbound call)",
            timeout.as_secs()
        )
    } else {
        format!("{what}: no answer from the host: {error}")
    }
}

pub struct Fleet {
    pub host: RunningHost,
    pub sim: FlySimThread,
    pub database: Database,
    /// The client for requests to the host; its timeout is [`Fleet::request_timeout`] (send through
    /// [`Fleet::send`] so a timeout is reported as a hang).
    pub http: reqwest::blocking::Client,
    pub request_timeout: Duration,
    /// Every line the components wrote to stdout/stderr, as `(stream, "[component] line")`.
    pub component_output: Arc<Mutex<Vec<(Stream, String)>>>,
    _dir: tempfile::TempDir,
}

pub use fleet_test_support::wasm::manifest_in;

impl Fleet {
    pub fn postgres(sim: SimConfig) -> Fleet {
        Fleet::postgres_on(fleet_test_support::postgres::cluster(), sim)
    }

    /// Like [`Fleet::postgres`], on a given cluster (e.g. a dedicated one with statement logging).
    pub fn postgres_on(cluster: &fleet_test_support::postgres::PgCluster, sim: SimConfig) -> Fleet {
        Fleet::postgres_with(cluster, sim, |config| config)
    }

    /// Like [`Fleet::postgres_on`], with more variables set by `extra` (e.g. a test's alert webhook).
    pub fn postgres_with(
        cluster: &fleet_test_support::postgres::PgCluster,
        sim: SimConfig,
        extra: impl FnOnce(HostConfig) -> HostConfig,
    ) -> Fleet {
        let url = cluster.fresh_database();
        prepare_platform_database(&url);
        let database = Database::Postgres {
            url,
            port: cluster.port(),
        };
        Fleet::start(sim, database, |config, db| {
            extra(postgres_variables(config, db))
        })
    }

    /// Another host serving the same manifest against the same PostgreSQL database and simulator, with the
    /// rig's variables plus `extra`. Keep the directory alive as long as the host.
    pub fn another_host(
        &self,
        extra: impl FnOnce(HostConfig) -> HostConfig,
    ) -> (RunningHost, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let config = base_config(
            &self.sim,
            manifest_in(dir.path()),
            self.component_output.clone(),
        );
        let host = extra(postgres_variables(config, &self.database))
            .start_on_chosen_host()
            .expect("the second host starts");
        (host, dir)
    }

    pub fn sqlite(sim: SimConfig) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        Store::new(NativeSqlite::open(&path).unwrap())
            .migrate()
            .unwrap();
        let database = Database::Sqlite { path: path.clone() };
        let mut fleet = Fleet::start(sim, database, |config, _| {
            config
                .variable("probe_key", PROBE_KEY)
                .variable("database_url", "sqlite://default")
                .variable(
                    "screener_database_url",
                    format!("sqlite://{}", path.display()),
                )
                .sqlite_default(&path)
        });
        fleet._dir = dir;
        fleet
    }

    fn start(
        sim: SimConfig,
        database: Database,
        configure: impl FnOnce(HostConfig, &Database) -> HostConfig,
    ) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let sim = FlySimThread::start(sim).expect("start the Fly simulator");
        let component_output = Arc::new(Mutex::new(Vec::new()));
        let config = base_config(&sim, manifest_in(dir.path()), component_output.clone());
        let host = configure(config, &database)
            .start_on_chosen_host()
            .expect("host starts");
        Fleet {
            host,
            sim,
            database,
            http: client(REQUEST_TIMEOUT),
            request_timeout: REQUEST_TIMEOUT,
            component_output,
            _dir: dir,
        }
    }

    /// Waits at most `timeout` for each answer from now on.
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.http = client(timeout);
        self.request_timeout = timeout;
    }

    /// Sends a request built on [`Fleet::http`]; `what` names it (e.g. `POST /provision`) in the panic when no
    /// answer comes: a timeout panics with "the request hung (no answer in N s)".
    pub fn send(
        &self,
        what: &str,
        request: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::Response {
        request.send().unwrap_or_else(|error| {
            panic!(
                "{}",
                describe_send_error(what, self.request_timeout, &error)
            )
        })
    }

    /// The captured component output lines so far.
    pub fn component_lines(&self) -> Vec<String> {
        let lines = self
            .component_output
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        lines.iter().map(|(_, line)| line.clone()).collect()
    }

    pub fn store(&self) -> Store<Box<dyn SqlConnection>> {
        let conn: Box<dyn SqlConnection> = match &self.database {
            Database::Postgres { url, .. } => Box::new(NativePostgres::connect(url).unwrap()),
            Database::Sqlite { path } => Box::new(NativeSqlite::open(path).unwrap()),
        };
        Store::new(conn)
    }

    /// The database as the `postgres` role (PostgreSQL only).
    pub fn pg(&self) -> postgres::Client {
        match &self.database {
            Database::Postgres { url, .. } => {
                postgres::Client::connect(url, postgres::NoTls).expect("connect as postgres")
            }
            Database::Sqlite { .. } => panic!("this rig runs on SQLite"),
        }
    }

    /// Sets a subscription as the platform would. PostgreSQL: the user is signed up first when new, then the
    /// platform's subscription write (an UPDATE; `status` must be one the platform allows: active, cancelled,
    /// past_due). SQLite: a direct insert or update.
    pub fn subscribe(&self, user: UserId, tier: &str, status: &str) {
        if let Database::Postgres { .. } = &self.database {
            let mut db = self.pg();
            sign_up(&mut db, user);
            platform_subscription_write(&mut db, user, tier, status, None);
            return;
        }
        let mut store = self.store();
        let conn = store.connection();
        let sql = fleet_store::query::render(
            conn.dialect(),
            "INSERT INTO user_subscriptions (user_id, tier, status) VALUES ({uuid:1}, {text:2}, {text:3}) \
             ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, status = excluded.status",
        );
        conn.execute(
            &sql,
            &[SqlValue::from(user.to_string()), tier.into(), status.into()],
        )
        .unwrap();
    }

    /// POSTs a body to a route with the webhook bearer token; returns status and JSON.
    pub fn post(&self, route: &str, body: &Value) -> (u16, Value) {
        self.post_raw(
            route,
            body.to_string().into_bytes(),
            Some(&format!("Bearer {WEBHOOK_BEARER}")),
        )
    }

    pub fn post_raw(
        &self,
        route: &str,
        body: Vec<u8>,
        authorization: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.http.post(self.host.url(route)).body(body);
        if let Some(auth) = authorization {
            request = request.header("authorization", auth);
        }
        let what = format!("POST {route}");
        let response = self.send(&what, request);
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_else(|error| {
            panic!(
                "{}",
                describe_send_error(&what, self.request_timeout, &error)
            )
        });
        if text.is_empty() && status >= 500 {
            // What Spin (and the host) answer when the component traps or gives no response.
            panic!("{what} answered {status} with an empty body: the component failed (trap or no response)");
        }
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{what}: non-JSON {status}: {text}"));
        (status, json)
    }

    /// A Supabase Database Webhook payload for `user_subscriptions`.
    pub fn webhook(operation: &str, user: UserId, tier: &str, status: &str) -> Value {
        let row = serde_json::json!({"user_id": user.to_string(), "tier": tier, "status": status});
        let (record, old) = match operation {
            "DELETE" => (Value::Null, row),
            _ => (row.clone(), row),
        };
        serde_json::json!({"type": operation, "table": "user_subscriptions", "schema": "public",
                           "record": record, "old_record": old})
    }

    /// Re-sends the hint until the route answers 200 (converged), bounded by `within`.
    pub fn until_converged(&self, route: &str, body: &Value, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (status, json) = self.post(route, body);
            assert!(
                status == 200 || status == 202,
                "{route} answered {status}: {json}"
            );
            if status == 200 {
                return json;
            }
            assert!(
                Instant::now() < deadline,
                "{route} did not converge: {json}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn apps(&self) -> Vec<Value> {
        self.sim.sim().state_dump()["apps"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Apps that are not being deleted.
    pub fn live_apps(&self) -> Vec<Value> {
        self.apps()
            .into_iter()
            .filter(|a| a["deleting"] != true)
            .collect()
    }

    pub fn live_machines(&self, app: &str) -> Vec<Value> {
        self.apps()
            .into_iter()
            .filter(|a| a["name"] == app)
            .flat_map(|a| a["machines"].as_array().cloned().unwrap_or_default())
            .filter(|m| m["state"] != "destroyed")
            .collect()
    }

    /// A snapshot of every Fleet-owned table, to prove a refused request changed nothing.
    pub fn snapshot(&self) -> Vec<String> {
        let mut store = self.store();
        let conn = store.connection();
        let mut out = Vec::new();
        for table in ["user_fly_apps", "user_fly_app_events", "user_subscriptions"] {
            let sql = match conn.dialect() {
                fleet_store::Dialect::Postgres => {
                    format!("SELECT row_to_json(snapshot_row)::text AS j FROM {table} snapshot_row ORDER BY 1")
                }
                fleet_store::Dialect::Sqlite => format!("SELECT * FROM {table} ORDER BY rowid"),
            };
            for row in conn.query(&sql, &[]).unwrap() {
                out.push(format!("{table}:{:?}", row.values()));
            }
        }
        out
    }
}

impl Drop for Fleet {
    /// Component output is captured, so show it when a test fails.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for line in self.component_lines() {
                eprintln!("{line}");
            }
        }
    }
}

/// The variables every rig host gets (all but the database's).
fn base_config(
    sim: &FlySimThread,
    manifest: PathBuf,
    component_output: Arc<Mutex<Vec<(Stream, String)>>>,
) -> HostConfig {
    HostConfig::new(manifest)
        .environment(Vec::new())
        .component_output(OutputSink::Memory(component_output))
        // The sweep probes each screener's /health; no screener runs here, so point the probe at the
        // simulator, which answers 404 at once (the app is then judged unhealthy, never hangs).
        .variable(
            "app_url_template",
            format!("{}/__no_screener/{{app}}", sim.sim().root_url()),
        )
        .variable("app_url_origin", sim.sim().root_url())
        .variable("webhook_secret", WEBHOOK_SECRET)
        .variable("webhook_bearer_token", WEBHOOK_BEARER)
        .variable("admin_token", ADMIN_TOKEN)
        // The hostile corpus sends thousands of wrong passwords from one address and must still reach the
        // handlers behind the right one: the rig lifts the throttle, whose defaults hostile_auth tests.
        .variable("auth_failures_per_source", THROTTLE_LIFTED)
        .variable("auth_failures_global", THROTTLE_LIFTED)
        .variable("fly_api_token", sim.sim().token())
        .variable("fly_api_origin", sim.sim().root_url())
        .variable("fly_org", sim.sim().org_slug())
        .variable("fly_image", IMAGE)
        .variable("reconcile_budget_ms", "15000")
}

/// The PostgreSQL variables of a rig host.
fn postgres_variables(config: HostConfig, db: &Database) -> HostConfig {
    match db {
        Database::Postgres { url, port } => config
            .variable("probe_key", PROBE_KEY)
            .variable("database_url", url.clone())
            .variable("database_host", "127.0.0.1")
            .variable("database_port", port.to_string())
            .variable("screener_db_host", "127.0.0.1")
            .variable("screener_db_port", port.to_string())
            .variable("screener_db_name", url.rsplit('/').next().unwrap())
            .variable("screener_db_params", "sslmode=disable"),
        Database::Sqlite { .. } => panic!("a PostgreSQL rig only"),
    }
}

fn client(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

pub fn user(n: u32) -> UserId {
    UserId::parse(&format!("bbbbbbbb-0000-4000-8000-{n:012}")).unwrap()
}
