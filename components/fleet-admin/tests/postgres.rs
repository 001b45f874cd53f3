//! The admin's own SQL on real PostgreSQL (the production dialect): listing with tiers, summary over events,
//! the migration dry run, and a tier override that provisions through the per-user-role path.

mod common;

use std::time::Duration;

use common::{user, IMAGE, TOKEN};
use fleet_admin::{Admin, AdminConfig, AdminRequest, FlyLimits, Pacing};
use fleet_http::ApiError;
use fleet_reconcile::{DatabaseAccess, ReconcileConfig, SystemClock};
use fleet_store::native::NativePostgres;
use fleet_store::UserId;
use fleet_store::{SqlConnection, SqlValue, Store};
use fleet_test_support::platform;
use fly_api::transport_native::NativeTransport;
use fly_api::types::Guest;
use fly_api::{FlyClient, OrgSlug, Secret};
use fly_simulator::{FlySimThread, SimConfig};
use serde_json::Value;

#[test]
fn admin_sql_works_on_postgres() {
    let cluster = fleet_test_support::postgres::cluster();
    let url = cluster.fresh_database();
    let mut store = Store::new(NativePostgres::connect(&url).unwrap());
    // Before Fleet: the platform's operator configured Vault (its old tier trigger reads it) and a user bought
    // Pro; the old provisioner never made them an app. After Fleet's migrations that user is a migration
    // candidate. A user who signs up afterwards (free) is not, and neither is one Fleet provisions.
    let (early, u) = (user(2), user(3));
    platform_write(
        &mut store,
        &platform::vault_secrets_sql("https://ref.supabase.co", "fixture-service-role-key"),
    );
    sign_up(&mut store, early);
    platform_write(
        &mut store,
        &platform::set_subscription_sql(&early.to_string(), "pro", "active", None),
    );
    store.migrate().unwrap();
    let sim = FlySimThread::start(SimConfig::default().without_rate_limits()).unwrap();
    let fly = FlyClient::new(
        NativeTransport::new(),
        sim.sim().base_url(),
        Secret::new(sim.sim().token().to_string()),
        OrgSlug::new(sim.sim().org_slug()),
    );
    let config = AdminConfig {
        admin_token: Secret::new(TOKEN.to_string()),
        allow_tier_override: true,
        reconcile: ReconcileConfig {
            org: OrgSlug::new(sim.sim().org_slug()),
            image: IMAGE.into(),
            region: "sin".into(),
            region_fallbacks: vec![],
            guest: Guest::shared(2, 512),
            database: DatabaseAccess::PerUserRole {
                host: "127.0.0.1".into(),
                port: cluster.port(),
                database: url.rsplit('/').next().unwrap().to_string(),
                url_params: String::new(),
            },
            extra_secrets: Default::default(),
            max_attempts_before_error: 5,
            exposure: Default::default(),
        },
        budget: Duration::from_secs(20),
        pacing: Pacing::from_limits(FlyLimits::DOCUMENTED),
        throttle: Default::default(),
        client_ip_header: String::new(),
    };
    let open_url = url.clone();
    let open = move || -> Result<Store<NativePostgres>, ApiError> {
        NativePostgres::connect(&open_url)
            .map(Store::new)
            .map_err(|e| ApiError::new(503, "database_unavailable", e.to_string()))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin = Admin {
        config: &config,
        open_store: &open,
        fly: &fly,
        clock: &SystemClock,
    };
    let call = |method: &str, path: &str, body: &str| -> (u16, Value) {
        let headers = vec![("authorization".to_string(), format!("Bearer {TOKEN}"))];
        let req = AdminRequest::new(method, path, headers, body.as_bytes().to_vec());
        let _guard = runtime.enter();
        // The sync postgres client runs its own runtime, so drive the handler outside tokio's block_on.
        let r = futures::executor::block_on(admin.handle(&req));
        (r.status, r.json_body())
    };

    sign_up(&mut store, u);
    let (s, dry) = call("POST", "/admin/api/migrations", "{\"dry_run\":true}");
    assert_eq!((s, dry["count"].as_u64()), (200, Some(1)), "{dry}");
    assert_eq!(
        dry["users"],
        serde_json::json!([early.to_string()]),
        "{dry}"
    );

    // A user the platform does not know (no auth.users row) cannot be given a tier.
    let stranger = user(999);
    let (s, v) = call(
        "POST",
        &format!("/admin/api/users/{stranger}/tier"),
        "{\"tier\":\"pro\"}",
    );
    assert_eq!(s, 404, "{v}");

    let (s, v) = call(
        "POST",
        &format!("/admin/api/users/{u}/tier"),
        "{\"tier\":\"elite\"}",
    );
    assert!(s == 200 || s == 202, "{s} {v}");
    let mut app = Value::Null;
    for _ in 0..40 {
        app = call("GET", &format!("/admin/api/apps/{u}"), "").1;
        if app["app"]["status"] == "active" {
            break;
        }
        call("POST", &format!("/admin/api/apps/{u}/reconcile"), "{}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(app["app"]["status"], "active", "{app}");
    assert_eq!(app["entitlement"]["tier"], "elite");

    let (_, list) = call("GET", "/admin/api/apps?tier=elite&sort=tier&order=asc", "");
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["entitled"], true);
    let (_, summary) = call("GET", "/admin/api/summary", "");
    assert_eq!(summary["by_status"]["active"], 1, "{summary}");
    assert_eq!(summary["provision"]["completed"], 1);
    let (s, orphans) = call("GET", "/admin/api/orphans", "");
    assert_eq!((s, orphans["open"].as_u64()), (200, Some(0)));
    // The override went through the platform's subscription row, which its own read path shows.
    let rows = store
        .connection()
        .query(
            "SELECT tier, status, (SELECT count(*) FROM user_subscriptions WHERE user_id = $1::text::uuid)::bigint AS n \
             FROM user_subscriptions WHERE user_id = $1::text::uuid",
            &[SqlValue::from(u.to_string())],
        )
        .unwrap();
    assert_eq!(
        (
            rows[0].text("tier").unwrap(),
            rows[0].text("status").unwrap(),
            rows[0].int("n").unwrap()
        ),
        ("elite".to_string(), "active".to_string(), 1)
    );
    let (s, dry) = call("POST", "/admin/api/migrations", "{\"dry_run\":true}");
    assert_eq!(
        (s, dry["users"].clone()),
        (200, serde_json::json!([early.to_string()])),
        "{dry}"
    );
    // An unknown subscription status is refused before touching Postgres.
    let (s, v) = call(
        "POST",
        &format!("/admin/api/users/{u}/tier"),
        "{\"tier\":\"pro\",\"status\":\"gone\"}",
    );
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_status")));
    // A status Fleet knows but the platform's CHECK refuses ('trialing'): a 400 that echoes no row, no change.
    let (s, v) = call(
        "POST",
        &format!("/admin/api/users/{u}/tier"),
        "{\"tier\":\"pro\",\"status\":\"trialing\"}",
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_subscription")),
        "{v}"
    );
    assert!(!v.to_string().contains(&u.to_string()), "{v}");
    let (_, app) = call("GET", &format!("/admin/api/apps/{u}"), "");
    assert_eq!(app["entitlement"]["tier"], "elite", "{app}");
}

/// Runs one of the platform's own statements (fleet_test_support::platform) on the store's connection.
fn platform_write(store: &mut Store<NativePostgres>, sql: &str) {
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        store.connection().execute(statement, &[]).unwrap();
    }
}

/// Signs the user up the platform's way (its trigger creates the profile and a free, active subscription).
fn sign_up(store: &mut Store<NativePostgres>, user: UserId) {
    let id = user.to_string();
    platform_write(
        store,
        &platform::sign_up_sql(&id, &format!("{id}@fleet-tests.invalid")),
    );
}
