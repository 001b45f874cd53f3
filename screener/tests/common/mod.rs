//! Shared helpers for the screener's integration tests: databases, the real binary, HTTP probes.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `f` until it returns Some, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fresh database on the platform fixture (Supabase's roles and schemas plus the platform's production
/// schema, `tests/platform-fixture`) with Fleet's migrations applied; returns a URL for `postgres`, which is not
/// a superuser there (as on Supabase).
pub fn migrated_postgres() -> String {
    migrate_postgres(fleet_test_support::postgres::cluster().fresh_database())
}

/// Fleet's "vanilla PostgreSQL" mode: an empty database, Fleet's migrations (which then create their own copies
/// of the platform's tables, with `numeric` signal columns); returns a superuser URL.
pub fn migrated_vanilla_postgres() -> String {
    migrate_postgres(fleet_test_support::postgres::cluster().fresh_vanilla_database())
}

fn migrate_postgres(url: String) -> String {
    let mut conn = fleet_store::native::NativePostgres::connect(&url)
        .expect("connecting to the test database");
    fleet_store::migrate(&mut conn).expect("applying migrations/postgres");
    url
}

/// A fresh migrated SQLite file.
pub fn migrated_sqlite(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("screener-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fleet.db");
    let mut conn = fleet_store::native::NativeSqlite::open(&path).expect("opening sqlite");
    fleet_store::migrate(&mut conn).expect("applying migrations/sqlite");
    path
}

pub fn pg(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connecting")
}

/// Signs a user up the platform's way (`auth.users`; the platform's trigger creates the profile and a free
/// subscription); returns the user's id.
pub fn sign_up(db: &mut postgres::Client) -> uuid::Uuid {
    let email = format!("screener-{}@test.invalid", uuid::Uuid::new_v4().simple());
    let id = fleet_test_support::platform::sign_up(db, &email).unwrap_or_else(|e| {
        panic!(
            "signing {email} up: {}",
            fleet_test_support::postgres::describe(&e)
        )
    });
    uuid::Uuid::parse_str(&id).unwrap()
}

/// The fixture's two built-in traders (Go code filters) are switched off, for tests that expect only their own
/// built-ins in shared_backend mode.
pub fn disable_fixture_built_ins(db: &mut postgres::Client) {
    db.execute(
        "UPDATE public.traders SET enabled = false WHERE id::text = ANY($1)",
        &[&vec![
            fleet_test_support::platform::BUILT_IN_ANONYMOUS_TRADER,
            fleet_test_support::platform::BUILT_IN_PRO_TRADER,
        ]],
    )
    .expect("disabling the fixture's built-ins");
}

/// `filter` with the platform's `requiredTimeframes` (its `timeframe`, else 5m) added when absent, as the
/// platform stores every trader's filter.
pub fn platform_filter(filter: &serde_json::Value) -> serde_json::Value {
    let mut f = filter.clone();
    if let Some(obj) = f.as_object_mut() {
        let tf = obj
            .get("timeframe")
            .cloned()
            .unwrap_or_else(|| serde_json::json!("5m"));
        obj.entry("requiredTimeframes")
            .or_insert_with(|| serde_json::json!([tf]));
    }
    f
}

/// Inserts a trader with the platform's required columns (`description`, `strategy`, `language`; the filter
/// gets `requiredTimeframes`); returns its id. `user` must be signed up (the
/// platform's foreign key to `auth.users`) or None for a built-in.
pub fn insert_trader(
    db: &mut postgres::Client,
    user: Option<uuid::Uuid>,
    built_in: bool,
    enabled: bool,
    filter: &serde_json::Value,
) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    db.execute(
        "INSERT INTO public.traders (id, user_id, is_built_in, enabled, name, description, filter, strategy, \
                                     language) \
         VALUES ($1, $2, $3, $4, $5, 'screener test trader', $6, '{\"instructions\": \"none\"}', 'go')",
        &[
            &id,
            &user,
            &built_in,
            &enabled,
            &format!("trader {id}"),
            &platform_filter(filter),
        ],
    )
    .unwrap_or_else(|e| panic!("inserting a trader: {}", fleet_test_support::postgres::describe(&e)));
    id
}

/// Creates the per-user screener LOGIN role for `user`; returns a URL that logs in as it.
pub fn screener_role_url(admin_url: &str, user: uuid::Uuid, password: &str) -> String {
    let conn = fleet_store::native::NativePostgres::connect(admin_url).unwrap();
    let mut store = fleet_store::Store::new(conn);
    let role = store
        .create_screener_role(fleet_store::UserId::new(user), password, &[7u8; 16])
        .expect("creating the screener role");
    with_credentials(admin_url, &role, password)
}

pub fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    format!("{scheme}://{user}:{password}@{host}")
}

/// The real screener binary with `env` (plus test defaults), logging to a file in the temp dir.
pub struct Screener {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Screener {
    pub fn start(env: &[(&str, String)]) -> Screener {
        let port = fleet_test_support::free_port();
        let log = std::env::temp_dir().join(format!("screener-{}-{port}.log", std::process::id()));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_screener"));
        cmd.env_clear()
            .env("PORT", port.to_string())
            .env("STARTUP_JITTER_MS", "0")
            .env("REST_SPACING_MS", "0")
            .env("TRADER_POLL_SECS", "1")
            .env("RUST_LOG", "info")
            .env("FLEET_PROBE_TOKEN", PROBE_TOKEN)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("starting the screener binary");
        let s = Screener { child, port, log };
        wait_for("the screener's HTTP port", Duration::from_secs(20), || {
            http_get(s.port, "/health").map(|_| ())
        });
        s
    }

    /// The detailed `/health`, as the sweep asks for it (with the probe token).
    pub fn health(&self) -> (u16, serde_json::Value) {
        self.health_as(Some(PROBE_TOKEN))
    }

    /// `/health` with `Authorization: Bearer <token>`, or without any.
    pub fn health_as(&self, token: Option<&str>) -> (u16, serde_json::Value) {
        let (code, body) = http_get_as(self.port, "/health", token).expect("GET /health");
        (
            code,
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("health body {body:?}: {e}")),
        )
    }

    /// A counter or gauge from /metrics.
    pub fn metric(&self, name: &str) -> f64 {
        let (_, body) =
            http_get_as(self.port, "/metrics", Some(PROBE_TOKEN)).expect("GET /metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} missing"))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "screener did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Screener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The probe token every test screener gets (`FLEET_PROBE_TOKEN`).
pub const PROBE_TOKEN: &str = "test-probe-token-0123456789abcdef0123456789abcdef";

/// Minimal HTTP/1.1 GET against 127.0.0.1 (no credentials); None while nothing listens.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_get_as(port, path, None)
}

/// [`http_get`] with `Authorization: Bearer <token>` when given.
pub fn http_get_as(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let code = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// The environment that replays the shipped sample (`replay/sample.jsonl`) into `database_url`.
pub fn replay_env(database_url: &str) -> Vec<(&'static str, String)> {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/replay/sample.jsonl");
    vec![
        ("DATABASE_URL", database_url.to_string()),
        ("MARKET_DATA", format!("replay:{sample}")),
    ]
}

/// What a Python reference script prints, when python3 has the libraries it imports (`needs`); otherwise the
/// committed copy of its output, saying so on stderr.
pub fn python_reference(script: &str, args: &[&str], committed: &str, needs: &str) -> String {
    let generated = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success());
    match generated {
        Some(out) => String::from_utf8(out.stdout).expect("the reference prints UTF-8"),
        None => {
            eprintln!("python3 with {needs} not available; using the committed {committed}");
            std::fs::read_to_string(committed).unwrap_or_else(|e| panic!("{committed}: {e}"))
        }
    }
}

/// A declarative trader: RSI(14) crossing above 30 on 1m candles (fires on the replay sample).
pub fn rsi_filter() -> serde_json::Value {
    serde_json::json!({"version": 1, "timeframe": "1m",
           "when": {"left": {"ind": "rsi", "period": 14}, "op": "crosses_above", "right": {"const": 30}}})
}
