//! Webhook accepted latency, excluding Fly: the real provision component in the host, with
//! `reconcile_budget_ms=0` so a hint is authenticated, the entitlement read, the user marked due (row lease
//! claimed and released) and 202 answered; the sweep does the Fly work later. Baselines in the same run:
//! the 409 path (same auth, parse and entitlement read, no write) and an unrouted 404 (the host's HTTP stack,
//! no wasm). Asserts that no Fly call was made.
//!
//! `cargo run -p fleet-e2e --bin webhook-bench -- [requests] [sqlite|postgres|both]` (defaults: 500, both)

use std::time::{Duration, Instant};

use fleet_e2e::{proof, user, Fleet, ADMIN_TOKEN, IMAGE, WEBHOOK_BEARER, WEBHOOK_SECRET};
use fleet_store::native::{NativePostgres, NativeSqlite};
use fleet_store::{SqlConnection, SqlValue, Store, UserId};
use fly_simulator::{FlySimThread, SimConfig};
use spin_test_host::{HostConfig, RunningHost};

struct Rig {
    host: RunningHost,
    sim: FlySimThread,
    store: Store<Box<dyn SqlConnection>>,
    /// PostgreSQL: the platform fixture database, as `postgres`.
    pg: Option<postgres::Client>,
    _dir: tempfile::TempDir,
}

fn rig(database: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let sim = FlySimThread::start(SimConfig::default()).expect("simulator");
    let config = HostConfig::new(fleet_e2e::manifest_in(dir.path()))
        .environment(Vec::new())
        .variable("webhook_secret", WEBHOOK_SECRET)
        .variable("webhook_bearer_token", WEBHOOK_BEARER)
        .variable("admin_token", ADMIN_TOKEN)
        .variable("fly_api_token", sim.sim().token())
        .variable("fly_api_origin", sim.sim().root_url())
        .variable("fly_org", sim.sim().org_slug())
        .variable("fly_image", IMAGE)
        .variable("reconcile_budget_ms", "0");
    let mut pg = None;
    let (config, conn): (HostConfig, Box<dyn SqlConnection>) = match database {
        "postgres" => {
            let cluster = fleet_test_support::postgres::cluster();
            let url = cluster.fresh_database();
            fleet_e2e::prepare_platform_database(&url);
            pg = Some(
                postgres::Client::connect(&url, postgres::NoTls).expect("connect as postgres"),
            );
            let config = config
                .variable("database_url", url.clone())
                .variable("database_host", "127.0.0.1")
                .variable("database_port", cluster.port().to_string())
                .variable("screener_db_host", "127.0.0.1")
                .variable("screener_db_port", cluster.port().to_string())
                .variable("screener_db_name", url.rsplit('/').next().unwrap())
                .variable("screener_db_params", "sslmode=disable");
            (config, Box::new(NativePostgres::connect(&url).unwrap()))
        }
        _ => {
            let path = dir.path().join("fleet.db");
            let config = config
                .variable("database_url", "sqlite://default")
                .variable(
                    "screener_database_url",
                    format!("sqlite://{}", path.display()),
                )
                .sqlite_default(&path);
            (config, Box::new(NativeSqlite::open(&path).unwrap()))
        }
    };
    let mut store = Store::new(conn);
    store.migrate().unwrap();
    let host = config.start().expect("host starts");
    Rig {
        host,
        sim,
        store,
        pg,
        _dir: dir,
    }
}

/// Makes `u` a Pro user: on PostgreSQL the platform's way (sign-up, then its subscription write), on SQLite
/// by a direct insert.
fn subscribe(
    pg: &mut Option<postgres::Client>,
    store: &mut Store<Box<dyn SqlConnection>>,
    u: UserId,
) {
    if let Some(db) = pg {
        fleet_e2e::sign_up(db, u);
        fleet_e2e::platform_subscription_write(db, u, "pro", "active", None);
        return;
    }
    let conn = store.connection();
    let sql = fleet_store::query::render(
        conn.dialect(),
        "INSERT INTO user_subscriptions (user_id, tier, status) VALUES ({uuid:1}, 'pro', 'active')",
    );
    conn.execute(&sql, &[SqlValue::from(u.to_string())])
        .unwrap();
}

/// Times `requests` calls of `send`, each checked to answer `expected`.
fn sample(
    requests: u32,
    expected: u16,
    mut send: impl FnMut(u32) -> (u16, String),
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(requests as usize);
    for n in 0..requests {
        let started = Instant::now();
        let (status, body) = send(n);
        out.push(started.elapsed());
        assert_eq!(status, expected, "{body}");
    }
    out.sort();
    out
}

fn ms(samples: &[Duration], pct: f64) -> f64 {
    let i = ((samples.len() as f64 * pct).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[i].as_secs_f64() * 1e3
}

fn main() {
    let mut args = std::env::args().skip(1);
    let requests: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let which = args.next().unwrap_or_else(|| "both".into());
    let databases: Vec<&str> = match which.as_str() {
        "both" => vec!["sqlite", "postgres"],
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        other => panic!("unknown database {other}: sqlite, postgres or both"),
    };
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for database in databases {
        let mut rig = rig(database);
        let post = |route: &str, body: String| {
            let response = http
                .post(rig.host.url(route))
                .header("authorization", format!("Bearer {WEBHOOK_BEARER}"))
                .body(body)
                .send()
                .expect("request reaches the host");
            (response.status().as_u16(), response.text().unwrap())
        };
        // Warm the host (first instantiations, connections) outside the measurement.
        for n in 0..20 {
            post(
                "/provision",
                Fleet::webhook("INSERT", user(900_000 + n), "pro", "active").to_string(),
            );
        }
        let entitled: Vec<UserId> = (0..requests).map(|n| user(100_000 + n)).collect();
        for u in &entitled {
            subscribe(&mut rig.pg, &mut rig.store, *u);
        }
        let before = rig.sim.sim().request_log().len();
        let accepted = sample(requests, 202, |n| {
            let hint = Fleet::webhook("INSERT", entitled[n as usize], "pro", "active");
            post("/provision", hint.to_string())
        });
        let refused = sample(requests, 409, |n| {
            let hint = Fleet::webhook("INSERT", user(200_000 + n), "pro", "active");
            post("/provision", hint.to_string())
        });
        let unrouted = sample(requests, 404, |_| {
            let response = http.get(rig.host.url("/unrouted")).send().unwrap();
            (response.status().as_u16(), String::new())
        });
        let fly_calls = rig.sim.sim().request_log().len() - before;
        assert_eq!(fly_calls, 0, "the accepted path must not call Fly");
        let due = {
            let conn = rig.store.connection();
            conn.query(
                "SELECT CAST(user_id AS TEXT) FROM user_fly_apps WHERE next_attempt_at IS NOT NULL",
                &[],
            )
            .unwrap()
            .len()
        };
        assert!(
            due >= requests as usize,
            "every accepted hint marked its user due ({due})"
        );

        let suite = format!("bench: webhook accepted ({database})");
        let note = format!("{requests} requests, one keep-alive client, 0 Fly calls");
        proof::figure(
            &suite,
            "accepted 202 p50 ms",
            format!("{:.2}", ms(&accepted, 0.5)),
            &note,
        );
        proof::figure(
            &suite,
            "accepted 202 p99 ms",
            format!("{:.2}", ms(&accepted, 0.99)),
            &note,
        );
        proof::figure(
            &suite,
            "baseline: not entitled 409 p50 / p99 ms",
            format!("{:.2} / {:.2}", ms(&refused, 0.5), ms(&refused, 0.99)),
            "same auth, parse and entitlement read; no write",
        );
        proof::figure(
            &suite,
            "baseline: unrouted 404 p50 / p99 ms",
            format!("{:.2} / {:.2}", ms(&unrouted, 0.5), ms(&unrouted, 0.99)),
            "the host's HTTP stack, no wasm",
        );
        proof::figure(
            &suite,
            "ratio accepted / 409 (p50)",
            format!("{:.2}x", ms(&accepted, 0.5) / ms(&refused, 0.5)),
            "the cost of marking due (row write, lease claim and release)",
        );
        proof::figure(
            &suite,
            "ratio accepted / unrouted 404 (p50)",
            format!("{:.1}x", ms(&accepted, 0.5) / ms(&unrouted, 0.5)),
            "instantiation + component work over the bare HTTP stack",
        );
        rig.host.shutdown();
    }
}
