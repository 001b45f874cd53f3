//! Fleet's migrations on the platform's real schema (tests/platform-fixture): they apply the way README says
//! (psql, one transaction per file) and through the runner, twice; afterwards the platform's subscription write
//! still commits and produces exactly one provisioning (Fleet's), the platform's own read paths answer as
//! before, the catalog changes only as the migrations document, and rows of the old provisioner are adopted.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use fleet_store::migrate::migrations;
use fleet_store::native::NativePostgres;
use fleet_store::{Dialect, SqlConnection, Store, UserId};
use fleet_test_support::platform;
use fleet_test_support::postgres::{cluster, describe};
use postgres::{Client, NoTls};

fn connect(url: &str) -> Client {
    Client::connect(url, NoTls).unwrap_or_else(|e| panic!("connect: {}", describe(&e)))
}

fn migrate(url: &str) {
    let conn: Box<dyn SqlConnection> = Box::new(NativePostgres::connect(url).unwrap());
    Store::new(conn)
        .migrate()
        .expect("the runner applies the migrations");
}

fn psql() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|v| v.path().join("bin/psql"))
        .filter(|p| p.exists())
        .collect();
    candidates.sort();
    candidates.pop().unwrap_or_else(|| PathBuf::from("psql"))
}

/// README's manual path: every file, in order, `psql -v ON_ERROR_STOP=1 --single-transaction -f`.
fn apply_like_readme(url: &str) {
    let dir = fleet_test_support::workspace_root().join("migrations/postgres");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), migrations(Dialect::Postgres).len());
    for file in files {
        let out = Command::new(psql())
            .arg(url)
            .args(["-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f"])
            .arg(&file)
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn sign_up(client: &mut Client) -> String {
    platform::sign_up(client, &format!("{}@example.test", uuid::Uuid::new_v4()))
        .unwrap_or_else(|e| panic!("sign-up: {}", describe(&e)))
}

fn subscribe(client: &mut Client, user: &str, tier: &str, status: &str) {
    let updated = platform::set_subscription(client, user, tier, status, None)
        .unwrap_or_else(|e| panic!("subscription write {tier}/{status}: {}", describe(&e)));
    assert_eq!(updated, 1, "the write commits one row");
}

fn calls(client: &mut Client, suffix: &str) -> i64 {
    platform::http_post_calls(client, suffix).unwrap()
}

/// Fleet's hints go here (fleet.settings), the old provisioner's to <project_url>/functions/v1/....
fn configure_fleet_hints(client: &mut Client) {
    client
        .batch_execute(
            "INSERT INTO fleet.settings (key, value) VALUES ('webhook_base_url', 'https://fleet.example.test'), \
             ('webhook_secret', 'hint-secret') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .unwrap();
}

#[test]
fn readme_path_and_runner_each_apply_twice_and_upgrades_keep_committing() {
    // README's path, twice, then the runner on top (it re-applies the idempotent files and records them).
    let url = cluster().fresh_database();
    apply_like_readme(&url);
    apply_like_readme(&url);
    migrate(&url);
    migrate(&url);
    let mut client = connect(&url);
    platform::set_vault_secrets(&mut client, "https://project.example.test", "service-key")
        .unwrap();
    let user = sign_up(&mut client);
    subscribe(&mut client, &user, "pro", "active");
    let tier: String = client
        .query_one(
            "SELECT tier FROM user_subscriptions WHERE user_id = $1::text::uuid",
            &[&user],
        )
        .unwrap()
        .get(0);
    assert_eq!(tier, "pro", "the upgrade committed");
    let due: i64 = client
        .query_one(
            "SELECT count(*) FROM user_fly_apps WHERE user_id = $1::text::uuid AND next_attempt_at IS NOT NULL",
            &[&user],
        )
        .unwrap()
        .get(0);
    assert_eq!(due, 1, "Fleet marked the user due");

    // The runner alone, twice, on a fresh platform database.
    let url = cluster().fresh_database();
    migrate(&url);
    let conn: Box<dyn SqlConnection> = Box::new(NativePostgres::connect(&url).unwrap());
    assert!(Store::new(conn).migrate().unwrap().applied.is_empty());
}

#[test]
fn an_upgrade_through_the_platform_provisions_once_and_only_through_fleet() {
    let url = cluster().fresh_database();
    let mut client = connect(&url);
    // Production's Vault holds what the old provisioner trigger reads.
    platform::set_vault_secrets(&mut client, "https://project.example.test", "service-key")
        .unwrap();

    // Before Fleet: the platform's own trigger calls its edge function (the test would see two provisioners
    // if Fleet left it in place).
    let before = sign_up(&mut client);
    subscribe(&mut client, &before, "pro", "active");
    assert_eq!(
        calls(&mut client, "/functions/v1/provision-user-fly-app"),
        1
    );

    migrate(&url);
    configure_fleet_hints(&mut client);
    client
        .batch_execute("DELETE FROM net.http_request_queue")
        .unwrap();

    let user = sign_up(&mut client);
    subscribe(&mut client, &user, "pro", "active");
    assert_eq!(
        calls(&mut client, "/functions/v1/provision-user-fly-app"),
        0
    );
    assert_eq!(
        calls(&mut client, "https://fleet.example.test/provision"),
        1
    );
    let rows: i64 = client
        .query_one(
            "SELECT count(*) FROM user_fly_apps WHERE user_id = $1::text::uuid AND status = 'provisioning' \
             AND next_attempt_at IS NOT NULL",
            &[&user],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "one row, marked due, by Fleet's trigger");

    // pro -> elite changes nothing; a downgrade deprovisions through Fleet only.
    subscribe(&mut client, &user, "elite", "active");
    subscribe(&mut client, &user, "free", "active");
    assert_eq!(
        calls(&mut client, "/functions/v1/deprovision-user-fly-app"),
        0
    );
    assert_eq!(
        calls(&mut client, "https://fleet.example.test/deprovision"),
        1
    );
    assert_eq!(
        calls(&mut client, "https://fleet.example.test/provision"),
        1
    );
    let tier: String = client
        .query_one(
            "SELECT tier FROM user_subscriptions WHERE user_id = $1::text::uuid",
            &[&user],
        )
        .unwrap()
        .get(0);
    assert_eq!(tier, "free", "the downgrade committed");
    // The platform's quota trigger (on_subscription_change) still runs: the downgrade recorded the tier.
    let usage_tier: String = client
        .query_one(
            "SELECT tier FROM trader_resource_usage WHERE user_id = $1::text::uuid \
             ORDER BY period_start DESC LIMIT 1",
            &[&user],
        )
        .unwrap()
        .get(0);
    assert_eq!(usage_tier, "free");
}

#[test]
fn the_platforms_read_paths_answer_the_same_after_fleets_migrations() {
    let url = cluster().fresh_database();
    let mut client = connect(&url);
    let seed = platform::seed_read_paths(&mut client).unwrap();
    let before = platform::read_paths(&mut client, &seed).unwrap();
    assert_eq!(before, platform::expected_read_paths());
    migrate(&url);
    let after = platform::read_paths(&mut client, &seed).unwrap();
    assert_eq!(after, before);
}

/// Deleting an account (auth.users, cascading to the platform's rows) still works with a Fleet app row; the
/// row outlives the user so that the sweep can tear the app down, and the user is marked due for it.
#[test]
fn deleting_a_user_with_an_app_commits_and_leaves_the_app_to_be_torn_down() {
    let url = cluster().fresh_database();
    migrate(&url);
    let mut client = connect(&url);
    let user = sign_up(&mut client);
    subscribe(&mut client, &user, "pro", "active");
    let generation: i64 = client
        .query_one(
            "SELECT due_generation FROM user_fly_apps WHERE user_id = $1::text::uuid",
            &[&user],
        )
        .unwrap()
        .get(0);
    client
        .execute("DELETE FROM auth.users WHERE id = $1::text::uuid", &[&user])
        .unwrap_or_else(|e| panic!("account deletion: {}", describe(&e)));
    let row = client
        .query_one(
            "SELECT due_generation, status FROM user_fly_apps WHERE user_id = $1::text::uuid",
            &[&user],
        )
        .unwrap();
    assert!(row.get::<_, i64>(0) > generation, "marked due again");
    let store_conn: Box<dyn SqlConnection> = Box::new(NativePostgres::connect(&url).unwrap());
    let mut store = Store::new(store_conn);
    let user = UserId::parse(&user).unwrap();
    assert!(!store.entitlement(user).unwrap().entitled);
    assert!(store.app(user).unwrap().is_some());
}

/// Rows and events the old edge functions wrote survive the migrations with every value, are marked due so the
/// first sweep adopts them, and read through the store.
#[test]
fn the_old_provisioners_rows_are_kept_and_marked_for_adoption() {
    let url = cluster().fresh_database();
    let mut client = connect(&url);
    let user = sign_up(&mut client);
    let app_id: String = client
        .query_one(
            "INSERT INTO user_fly_apps (user_id, fly_app_name, fly_org_slug, status, region, docker_image, \
             deployed_at, health_status, retry_count, monthly_cost_estimate_usd) VALUES \
             ($1::text::uuid, 'vyx-user-1a2b3c4d', 'vyx-org', 'active', 'sin', \
             'registry.fly.io/vyx-app:deployment-01', now(), NULL, NULL, 5.70) RETURNING id::text",
            &[&user],
        )
        .unwrap()
        .get(0);
    client
        .execute(
            "INSERT INTO user_fly_app_events (fly_app_id, user_id, event_type, status, metadata) VALUES \
             ($1::text::uuid, $2::text::uuid, 'provision_completed', 'active', '{\"source\": \"edge\"}'), \
             ($1::text::uuid, $2::text::uuid, 'health_check_passed', 'healthy', '{}')",
            &[&app_id, &user],
        )
        .unwrap();
    let signal_trader: String = client
        .query_one(
            "INSERT INTO traders (user_id, name, description, filter, strategy) VALUES \
             ($1::text::uuid, 'old', 'old trader', '{}', '{}') RETURNING id::text",
            &[&user],
        )
        .unwrap()
        .get(0);
    client
        .execute(
            "INSERT INTO signals (trader_id, user_id, symbol, source, fly_app_id) VALUES \
             ($1::text::uuid, $2::text::uuid, 'BTCUSDT', 'cloud', $3::text::uuid)",
            &[&signal_trader, &user, &app_id],
        )
        .unwrap();

    migrate(&url);

    let conn: Box<dyn SqlConnection> = Box::new(NativePostgres::connect(&url).unwrap());
    let mut store = Store::new(conn);
    let user_id = UserId::parse(&user).unwrap();
    let row = store.app(user_id).unwrap().expect("the row is kept");
    assert_eq!(row.id.as_deref(), Some(app_id.as_str()));
    assert_eq!(row.fly_app_name.as_deref(), Some("vyx-user-1a2b3c4d"));
    assert_eq!(row.fly_org_slug.as_deref(), Some("vyx-org"));
    assert_eq!(row.status, fleet_store::AppStatus::Active);
    assert_eq!(
        row.docker_image.as_deref(),
        Some("registry.fly.io/vyx-app:deployment-01")
    );
    assert_eq!(row.health_status, fleet_store::HealthStatus::Unknown);
    assert_eq!(row.attempts, 0);
    assert_eq!((row.cpus, row.memory_mb), (Some(2), Some(512)));
    assert_eq!(row.monthly_cost_estimate_usd, Some(5.70));
    assert!(
        row.next_attempt_at.is_some(),
        "due, so the first sweep adopts it"
    );
    let events = store.events(user_id, 10).unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0].seq > events[1].seq);
    assert!(events
        .iter()
        .all(|e| e.fly_app_id.as_deref() == Some(&*app_id)));
    let unknown_status = events
        .iter()
        .find(|e| e.event_type == fleet_store::EventType::HealthCheckPassed)
        .unwrap();
    assert_eq!(
        unknown_status.status, None,
        "'healthy' is not an app status"
    );
    let signals: i64 = client
        .query_one(
            "SELECT count(*) FROM signals WHERE fly_app_id = $1::text::uuid",
            &[&app_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(signals, 1);
    // A second run (e.g. the runner after README's path) does not mark it again.
    let generation = row.due_generation;
    apply_like_readme(&url);
    assert_eq!(
        store.app(user_id).unwrap().unwrap().due_generation,
        generation
    );
}

/// Everything of the platform's schema that a migration could change, one line per object attribute.
fn catalog(client: &mut Client) -> BTreeSet<String> {
    let queries = [
        // Columns of tables and views.
        "SELECT format('column %s.%s %s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), \
                CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, \
                coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')) \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
           LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p')",
        "SELECT format('constraint %s.%s %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) \
           FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
          WHERE n.nspname = 'public' AND c.conrelid <> 0",
        "SELECT format('index %s', pg_get_indexdef(i.indexrelid)) \
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
        "SELECT format('trigger %s', pg_get_triggerdef(t.oid)) FROM pg_trigger t \
           JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE NOT t.tgisinternal AND n.nspname IN ('public', 'auth')",
        "SELECT format('policy %s.%s %s %s %s using(%s) check(%s)', tablename, policyname, permissive, roles, \
                cmd, coalesce(qual, ''), coalesce(with_check, '')) FROM pg_policies WHERE schemaname = 'public'",
        "SELECT format('rls %s %s', c.relname, c.relrowsecurity) FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'",
        "SELECT format('grant %s %s', c.relname, coalesce(c.relacl::text, 'default')) FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v')",
        "SELECT format('function %s(%s) returns %s%s', p.proname, pg_get_function_identity_arguments(p.oid), \
                pg_get_function_result(p.oid), CASE WHEN p.prosecdef THEN ' security definer' ELSE '' END) \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
        "SELECT format('function-acl %s(%s) %s', p.proname, pg_get_function_identity_arguments(p.oid), \
                coalesce(p.proacl::text, 'default')) \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
        "SELECT format('view %s %s', c.relname, pg_get_viewdef(c.oid)) FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'v'",
    ];
    let mut lines = BTreeSet::new();
    for q in queries {
        for row in client
            .query(q, &[])
            .unwrap_or_else(|e| panic!("{q}: {}", describe(&e)))
        {
            lines.insert(
                row.get::<_, String>(0)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    lines
}

/// The catalog differs before/after exactly by the changes the migrations' headers list (expected lines below;
/// each one is documented in migrations/postgres/000N_*.sql).
#[test]
fn the_catalog_changes_only_as_documented() {
    let url = cluster().fresh_database();
    let mut client = connect(&url);
    let before = catalog(&mut client);
    migrate(&url);
    let after = catalog(&mut client);
    let mut diff: Vec<String> = before
        .difference(&after)
        .map(|l| format!("- {l}"))
        .chain(after.difference(&before).map(|l| format!("+ {l}")))
        .collect();
    diff.sort();
    let expected: Vec<String> = include_str!("platform_catalog_diff.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if diff != expected {
        let got = diff.join("\n");
        std::fs::write(
            std::env::temp_dir().join("platform_catalog_diff.actual.txt"),
            &got,
        )
        .ok();
        panic!(
            "catalog diff differs from tests/platform_catalog_diff.txt (actual written to {}):\n{got}",
            std::env::temp_dir()
                .join("platform_catalog_diff.actual.txt")
                .display()
        );
    }
}

/// The old health checker's pg_cron job (it would keep writing health for the rows Fleet now owns) is
/// unscheduled in the transaction that installs Fleet; other jobs stay.
#[test]
fn the_old_health_checkers_cron_job_is_unscheduled() {
    let url = cluster().fresh_database();
    let mut client = connect(&url);
    client
        .batch_execute(
            "SELECT cron.schedule('check-fly-apps-health', '*/5 * * * *', \
             $$SELECT net.http_post(url := 'https://project.example.test/functions/v1/check-fly-apps-health')$$); \
             SELECT cron.schedule('cleanup-execution-history', '0 3 * * *', 'SELECT 1');",
        )
        .unwrap();
    migrate(&url);
    let jobs: Vec<String> = client
        .query("SELECT jobname FROM cron.job ORDER BY jobname", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(jobs, vec!["cleanup-execution-history".to_string()]);
}
