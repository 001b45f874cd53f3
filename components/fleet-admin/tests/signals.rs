//! `GET /admin/api/signals` through the real admin service on real SQLite and real PostgreSQL (the platform's
//! schema, read by a login role that has nothing but `fleet_control_plane`, as production's Spin app): newest
//! first, limit validation, the trader language the screener would run (`go` / `javascript` from
//! `traders.language` for a filter with `code`, `declarative` for any other filter whatever the column says),
//! the user filter, and 401 for everyone but the admin.

mod common;

use std::time::Duration;

use common::{user, IMAGE, TOKEN};
use fleet_admin::{Admin, AdminConfig, AdminRequest, FlyLimits, Pacing};
use fleet_http::ApiError;
use fleet_reconcile::{DatabaseAccess, ReconcileConfig, SystemClock};
use fleet_store::native::NativePostgres;
use fleet_store::query::render;
use fleet_store::{SqlConnection, SqlValue, Store, UserId};
use fleet_test_support::platform;
use fly_api::transport_native::NativeTransport;
use fly_api::types::Guest;
use fly_api::{FlyClient, OrgSlug, Secret};
use serde_json::Value;

const GO_CODE: &str = r#"{"requiredTimeframes": ["1m"], "code": "return true"}"#;
const JS_CODE: &str = r#"{"requiredTimeframes": ["1m"], "code": "return true;"}"#;
const DECLARATIVE: &str = r#"{"version": 1, "requiredTimeframes": ["1m"], "when": {"left": {"ind": "rsi", "period": 14}, "op": "lt", "right": {"const": 30}}}"#;

/// A trader: id suffix, owner, name, filter (JSON text, stored as it is), traders.language.
struct TraderSeed {
    n: u32,
    owner: UserId,
    name: &'static str,
    filter: String,
    language: Option<&'static str>,
}

fn trader_id(n: u32) -> String {
    format!("7a000000-0000-4000-8000-{n:012}")
}

fn signal_id(n: u32) -> String {
    format!("5a000000-0000-4000-8000-{n:012}")
}

/// Minute `m` of 2026-01-01, as the screener stamps signals.
fn at(minute: u32) -> String {
    format!("2026-01-01T00:{minute:02}:00.000Z")
}

/// Two users' traders and signals. Returns the expected order of all signal ids, newest first.
fn seed<C: SqlConnection>(conn: &mut C, a: UserId, b: UserId, app_of_a: &str) -> Vec<String> {
    let encoded_go = serde_json::to_string(&Value::String(GO_CODE.into())).unwrap();
    let traders = [
        TraderSeed {
            n: 1,
            owner: a,
            name: "RSI under 35 (Go code)",
            filter: GO_CODE.into(),
            language: Some("go"),
        },
        TraderSeed {
            n: 2,
            owner: a,
            name: "RSI turning up (JavaScript code)",
            filter: JS_CODE.into(),
            language: Some("javascript"),
        },
        // The local demo seeds declarative traders with language 'go'; the platform's default is 'javascript'.
        TraderSeed {
            n: 3,
            owner: b,
            name: "Declarative, column says go",
            filter: DECLARATIVE.into(),
            language: Some("go"),
        },
        TraderSeed {
            n: 4,
            owner: b,
            name: "Declarative, column says javascript",
            filter: DECLARATIVE.into(),
            language: Some("javascript"),
        },
        TraderSeed {
            n: 5,
            owner: b,
            name: "Code, no language (platform default)",
            filter: JS_CODE.into(),
            language: None,
        },
        TraderSeed {
            n: 6,
            owner: a,
            name: "Go code, filter double-encoded <b>&amp;</b>",
            filter: encoded_go,
            language: Some("go"),
        },
    ];
    let insert_trader = render(
        conn.dialect(),
        "INSERT INTO traders (id, user_id, name, description, filter, strategy, language) \
         VALUES ({uuid:1}, {uuid:2}, {text:3}, 'admin signals test', {json:4}, {json:5}, {text:6})",
    );
    for t in &traders {
        conn.execute(
            &insert_trader,
            &[
                trader_id(t.n).into(),
                t.owner.to_string().into(),
                t.name.into(),
                t.filter.clone().into(),
                "{}".into(),
                t.language.map_or(SqlValue::Null, SqlValue::from),
            ],
        )
        .unwrap();
    }
    // (signal, trader, user, minute of its timestamp; None = no timestamp, created_at decides), inserted in
    // an order that is neither the time order nor the id order.
    let signals: [(u32, u32, UserId, Option<u32>); 7] = [
        (1, 1, a, Some(10)),
        (2, 3, b, Some(40)),
        (3, 2, a, Some(20)),
        (4, 4, b, Some(5)),
        (5, 5, b, Some(30)),
        (6, 6, a, Some(50)),
        (7, 1, a, None),
    ];
    let insert_signal = render(
        conn.dialect(),
        "INSERT INTO signals (id, trader_id, user_id, symbol, \"interval\", candle_open_time, \"timestamp\", \
         price_at_signal, source, fly_app_id, created_at) \
         VALUES ({uuid:1}, {uuid:2}, {uuid:3}, {text:4}, '1m', {ts:5}, {ts:6}, {float:7}, 'cloud', {uuid:8}, {ts:9})",
    );
    for (n, trader, owner, minute) in signals {
        let stamp = minute.map(at);
        conn.execute(
            &insert_signal,
            &[
                signal_id(n).into(),
                trader_id(trader).into(),
                owner.to_string().into(),
                format!("SYM{n}USDT").into(),
                at(n).into(),
                stamp.map_or(SqlValue::Null, SqlValue::from),
                SqlValue::Float(100.0 + f64::from(n) + 0.25),
                if owner == a {
                    SqlValue::from(app_of_a)
                } else {
                    SqlValue::Null
                },
                // created_at: late, so a signal without a timestamp is the newest.
                at(55).into(),
            ],
        )
        .unwrap();
    }
    // Again after the inserts: Fleet's stamp trigger takes a superuser (vanilla PostgreSQL's test URL) for a
    // screener role (pg_has_role is true for superusers) and replaces fly_app_id with its own (none) on INSERT.
    let set_app = render(
        conn.dialect(),
        "UPDATE signals SET fly_app_id = {uuid:1} WHERE user_id = {uuid:2}",
    );
    conn.execute(&set_app, &[app_of_a.into(), a.to_string().into()])
        .unwrap();
    [7, 6, 2, 5, 3, 1, 4].into_iter().map(signal_id).collect()
}

fn ids(list: &Value) -> Vec<String> {
    list["signals"]
        .as_array()
        .unwrap_or_else(|| panic!("no signals in {list}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// Everything the endpoint promises, through `call(path, authenticated)`.
fn check_signals(
    call: &dyn Fn(&str, bool) -> (u16, Value),
    a: UserId,
    b: UserId,
    app_of_a: &str,
    expected: &[String],
) {
    let (s, all) = call("/admin/api/signals", true);
    assert_eq!(s, 200, "{all}");
    assert_eq!(all["limit"], 50);
    assert_eq!(ids(&all), expected, "newest first: {all}");

    let by_id = |n: u32| -> Value {
        all["signals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == signal_id(n).as_str())
            .cloned()
            .unwrap()
    };
    let languages: Vec<(u32, &str)> = vec![
        (1, "go"),
        (3, "javascript"),
        (2, "declarative"),
        (4, "declarative"),
        (5, "javascript"),
        (6, "go"),
        (7, "go"),
    ];
    for (n, language) in languages {
        assert_eq!(
            by_id(n)["trader_language"],
            language,
            "signal {n}: {}",
            by_id(n)
        );
    }
    let first = by_id(1);
    assert_eq!(first["trader_id"], trader_id(1).as_str());
    assert_eq!(first["trader_name"], "RSI under 35 (Go code)");
    assert_eq!(first["user_id"], a.to_string().as_str());
    assert_eq!(first["symbol"], "SYM1USDT");
    assert_eq!(first["interval"], "1m");
    assert_eq!(first["price"], 101.25);
    assert_eq!(first["source"], "cloud");
    assert_eq!(first["fly_app_id"], app_of_a);
    assert!(
        first["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-01T00:10:00"),
        "{first}"
    );
    // No timestamp: the row's created_at stands in.
    assert!(by_id(7)["timestamp"]
        .as_str()
        .unwrap()
        .starts_with("2026-01-01T00:55:00"));
    assert_eq!(by_id(2)["fly_app_id"], Value::Null);
    // Names are data, returned as they are (the page escapes them).
    assert_eq!(
        by_id(6)["trader_name"],
        "Go code, filter double-encoded <b>&amp;</b>"
    );

    let (s, two) = call("/admin/api/signals?limit=2", true);
    assert_eq!((s, ids(&two)), (200, expected[..2].to_vec()), "{two}");
    let (s, max) = call("/admin/api/signals?limit=200", true);
    assert_eq!((s, ids(&max).len()), (200, expected.len()));

    let (s, of_b) = call(&format!("/admin/api/signals?user_id={b}"), true);
    assert_eq!(s, 200, "{of_b}");
    assert_eq!(
        ids(&of_b),
        [2, 5, 4].map(signal_id).to_vec(),
        "only b's signals, newest first"
    );
    assert_eq!(of_b["user_id"], b.to_string().as_str());
    let (_, of_a) = call(&format!("/admin/api/signals?user_id={a}&limit=1"), true);
    assert_eq!(ids(&of_a), vec![signal_id(7)]);
    let (_, of_nobody) = call(&format!("/admin/api/signals?user_id={}", user(99)), true);
    assert_eq!(ids(&of_nobody), Vec::<String>::new());

    for bad in [
        "limit=0",
        "limit=201",
        "limit=-5",
        "limit=ten",
        "limit=1e2",
        "user_id=not-a-uuid",
        "user_id=1%27%20OR%201%3D1",
        "sort=price",
    ] {
        let (s, v) = call(&format!("/admin/api/signals?{bad}"), true);
        assert_eq!(s, 400, "{bad}: {v}");
        assert_eq!(v["error"], "invalid_query", "{bad}: {v}");
        assert!(v["detail"].is_string(), "{bad}: {v}");
    }

    let (s, v) = call("/admin/api/signals", false);
    assert_eq!((s, v["error"].as_str()), (401, Some("unauthorized")), "{v}");
    assert!(!v.to_string().contains("SYM"), "{v}");
}

#[test]
fn recent_signals_on_sqlite() {
    let rig = common::Rig::new(false);
    let (a, b) = (user(1), user(2));
    rig.subscribe(a, "pro", "active");
    rig.subscribe(b, "free", "active");
    let mut store = rig.store();
    let app_of_a = store
        .connection()
        .query(
            "SELECT id FROM user_fly_apps WHERE user_id = ?1",
            &[a.to_string().into()],
        )
        .unwrap()[0]
        .text("id")
        .unwrap();
    let expected = seed(store.connection(), a, b, &app_of_a);
    let call = |path: &str, authenticated: bool| {
        let r = if authenticated {
            rig.admin("GET", path, "")
        } else {
            rig.send(
                "GET",
                path,
                &[("authorization", "Bearer not-the-token")],
                "",
            )
        };
        (r.status, r.json_body())
    };
    check_signals(&call, a, b, &app_of_a, &expected);
    // A session cookie that was never issued is no admin either.
    let r = rig.send(
        "GET",
        "/admin/api/signals",
        &[("cookie", "fleet_admin_session=1.2.3")],
        "",
    );
    assert_eq!(r.status, 401);
}

/// Production's Spin app logs in with a role that is only granted `fleet_control_plane` (fleet-store README):
/// the endpoint must work under that role's privileges and row level security, not the test's superuser-ish
/// `postgres` (which bypasses RLS). On the platform's schema (Supabase) ...
#[test]
fn recent_signals_on_postgres_as_the_control_plane() {
    let cluster = fleet_test_support::postgres::cluster();
    control_plane_reads_signals(cluster.fresh_database(), true);
}

/// ... and on vanilla PostgreSQL, where Fleet's migrations create the platform tables.
#[test]
fn recent_signals_on_vanilla_postgres_as_the_control_plane() {
    let cluster = fleet_test_support::postgres::cluster();
    control_plane_reads_signals(cluster.fresh_vanilla_database(), false);
}

fn control_plane_reads_signals(url: String, platform_schema: bool) {
    let cluster = fleet_test_support::postgres::cluster();
    let mut store = Store::new(NativePostgres::connect(&url).unwrap());
    store.migrate().unwrap();
    let (a, b) = (user(1), user(2));
    for u in [a, b] {
        let id = u.to_string();
        if platform_schema {
            run(
                &mut store,
                &platform::sign_up_sql(&id, &platform::test_email(&id)),
            );
        } else {
            run(
                &mut store,
                &platform::local_subscription_sql(&id, "free", "active"),
            );
        }
    }
    // The billing write: Fleet's trigger gives a an app row.
    run(
        &mut store,
        &platform::set_subscription_sql(&a.to_string(), "pro", "active", None),
    );
    let app_of_a = store
        .connection()
        .query(
            "SELECT id::text AS id FROM user_fly_apps WHERE user_id = $1::text::uuid",
            &[a.to_string().into()],
        )
        .unwrap()[0]
        .text("id")
        .unwrap();
    let expected = seed(store.connection(), a, b, &app_of_a);

    // A login role with nothing but the control plane's privileges.
    let database = url.rsplit('/').next().unwrap().to_string();
    let role = format!("fleet_admin_t_{}", &database.replace(['-', '.'], "_"));
    let password = format!("pw{}", uuid_suffix(&database));
    run(
        &mut store,
        &format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
    );
    grant_retrying(&mut store, &format!("GRANT fleet_control_plane TO {role}"));
    let role_url = format!(
        "postgres://{role}:{password}@127.0.0.1:{}/{database}",
        cluster.port()
    );

    let fly = FlyClient::new(
        NativeTransport::new(),
        "http://127.0.0.1:9".to_string(),
        Secret::new("unused".to_string()),
        OrgSlug::new("unused"),
    );
    let config = AdminConfig {
        admin_token: Secret::new(TOKEN.to_string()),
        allow_tier_override: false,
        reconcile: ReconcileConfig {
            org: OrgSlug::new("unused"),
            image: IMAGE.into(),
            region: "sin".into(),
            region_fallbacks: vec![],
            guest: Guest::shared(2, 512),
            database: DatabaseAccess::Shared {
                database_url: Secret::new(role_url.clone()),
            },
            extra_secrets: Default::default(),
            max_attempts_before_error: 5,
            exposure: Default::default(),
        },
        budget: Duration::from_secs(5),
        pacing: Pacing::from_limits(FlyLimits::DOCUMENTED),
        throttle: Default::default(),
        client_ip_header: String::new(),
    };
    let open = move || -> Result<Store<NativePostgres>, ApiError> {
        NativePostgres::connect(&role_url)
            .map(Store::new)
            .map_err(|e| ApiError::new(503, "database_unavailable", e.to_string()))
    };
    let admin = Admin {
        config: &config,
        open_store: &open,
        fly: &fly,
        clock: &SystemClock,
    };
    let call = |path: &str, authenticated: bool| -> (u16, Value) {
        let token = if authenticated {
            TOKEN
        } else {
            "not-the-token"
        };
        let headers = vec![("authorization".to_string(), format!("Bearer {token}"))];
        let req = AdminRequest::new("GET", path, headers, Vec::new());
        // The sync postgres client runs its own runtime: drive the handler outside tokio.
        let r = futures::executor::block_on(admin.handle(&req));
        (r.status, r.json_body())
    };
    check_signals(&call, a, b, &app_of_a, &expected);
    // Every request opened and closed its own connection; the role can go.
    let _ = store
        .connection()
        .execute(&format!("DROP ROLE {role}"), &[]);
}

fn run(store: &mut Store<NativePostgres>, sql: &str) {
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        store
            .connection()
            .execute(statement, &[])
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// Role membership lives in a cluster-wide catalog that sibling tests update at the same time.
fn grant_retrying(store: &mut Store<NativePostgres>, sql: &str) {
    let mut last = None;
    for _ in 0..10 {
        match store.connection().execute(sql, &[]) {
            Ok(_) => return,
            Err(e) => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    panic!("{sql}: {last:?}");
}

fn uuid_suffix(seed: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    std::process::id().hash(&mut h);
    format!("{:016x}", h.finish())
}
