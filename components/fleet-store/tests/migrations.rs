//! Migrations apply twice (through the runner and as raw files), detect edits, keep the event types in sync
//! with the Rust enum, skip pg_net/pg_cron where absent, and send hints where a pg_net entry point exists.

mod common;

use common::{exec, insert_subscription, new_user, pg_store, sqlite_store};
use fleet_store::migrate::migrations;
use fleet_store::native::{NativePostgres, NativeSqlite};
use fleet_store::{Dialect, EventType, MigrateError, SqlConnection, Store};

#[test]
fn runner_applies_everything_once_then_nothing() {
    let url = fleet_test_support::postgres::cluster().fresh_database();
    let mut pg = Store::new(NativePostgres::connect(&url).unwrap());
    let versions = |d| migrations(d).iter().map(|m| m.version).collect::<Vec<_>>();
    assert_eq!(pg.migrate().unwrap().applied, versions(Dialect::Postgres));
    assert_eq!(
        versions(Dialect::Postgres),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
    assert!(pg.migrate().unwrap().applied.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.db");
    let mut lite = Store::new(NativeSqlite::open(&path).unwrap());
    assert_eq!(lite.migrate().unwrap().applied, versions(Dialect::Sqlite));
    assert_eq!(versions(Dialect::Sqlite), vec![1, 2, 3, 4, 5, 6]);
    let mut again = Store::new(NativeSqlite::open(&path).unwrap());
    assert!(again.migrate().unwrap().applied.is_empty());
}

/// Concurrent runners on one database apply each file exactly once.
#[test]
fn concurrent_runners_do_not_collide() {
    let url = fleet_test_support::postgres::cluster().fresh_database();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                Store::new(NativePostgres::connect(&url).unwrap())
                    .migrate()
                    .map(|r| r.applied)
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().expect("every runner succeeds");
    }
    let mut pg = NativePostgres::connect(&url).unwrap();
    let rows = pg
        .query("SELECT count(*) AS n FROM fleet.schema_migrations", &[])
        .unwrap();
    assert_eq!(
        rows[0].int("n").unwrap(),
        migrations(Dialect::Postgres).len() as i64
    );
}

/// The raw files are idempotent DDL: applying all of them twice (as psql or `supabase db push` would) works.
#[test]
fn raw_files_apply_twice() {
    let url = fleet_test_support::postgres::cluster().fresh_database();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for round in 0..2 {
        for m in migrations(Dialect::Postgres) {
            client.batch_execute(m.sql).unwrap_or_else(|e| {
                panic!(
                    "round {round}: {}: {}",
                    m.name,
                    fleet_test_support::postgres::describe(&e)
                )
            });
        }
    }
    // SQLite files are applied only by the runner, which records versions (SQLite's ALTER TABLE has no
    // IF [NOT] EXISTS); runner_applies_everything_once_then_nothing covers them.
}

#[test]
fn an_edited_migration_is_detected() {
    let (mut store, _) = pg_store();
    exec(
        &mut store,
        "UPDATE fleet.schema_migrations SET checksum = 'x' WHERE version = 2",
        &[],
    );
    match store.migrate() {
        Err(MigrateError::Changed { name }) => assert_eq!(name, "0002_fleet_tables"),
        other => panic!("expected a checksum error, got {other:?}"),
    }
}

/// The CHECK constraint on user_fly_app_events lists exactly the Rust EventType values, in both dialects.
#[test]
fn event_type_check_matches_the_rust_enum() {
    for m in [
        &migrations(Dialect::Postgres)[1],
        &migrations(Dialect::Sqlite)[0],
    ] {
        let start = m.sql.find("event_type_check").expect("constraint present");
        let list = &m.sql[start..];
        let list = &list[list.find("IN (").unwrap() + 4..];
        let list = &list[..list.find(')').unwrap()];
        let in_sql: Vec<&str> = list
            .split(',')
            .map(|s| s.trim().trim_matches('\''))
            .collect();
        let in_rust: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(in_sql, in_rust, "{}", m.name);
    }
    let dir = tempfile::tempdir().unwrap();
    for (mut store, _) in [pg_store(), sqlite_store(&dir)] {
        let err = store
            .connection()
            .execute(
                "INSERT INTO user_fly_app_events (event_type) VALUES ('exploded')",
                &[],
            )
            .unwrap_err();
        assert_eq!(err.kind, fleet_store::SqlErrorKind::CheckViolation, "{err}");
        assert!(err.to_string().contains("event_type_check"), "{err}");
    }
}

/// Vanilla PostgreSQL 15 (no Supabase, no pg_net, no pg_cron): the migrations create the platform's tables in
/// the platform's shape, the guarded parts do nothing and writes still work.
#[test]
fn vanilla_postgres_skips_the_guarded_parts() {
    let url = fleet_test_support::postgres::cluster().fresh_vanilla_database();
    let conn: Box<dyn SqlConnection> = Box::new(NativePostgres::connect(&url).unwrap());
    let mut store = Store::new(conn);
    store
        .migrate()
        .expect("migrations apply on vanilla PostgreSQL");
    let conn = store.connection();
    let ext = conn
        .query(
            "SELECT count(*) AS n FROM pg_extension WHERE extname IN ('pg_net', 'pg_cron')",
            &[],
        )
        .unwrap();
    assert_eq!(
        ext[0].int("n").unwrap(),
        0,
        "this test needs a cluster without the extensions"
    );
    conn.execute(
        "INSERT INTO fleet.settings (key, value) VALUES ('webhook_base_url', 'http://127.0.0.1:9'), ('webhook_secret', 's')",
        &[],
    )
    .unwrap();
    let schedule = conn
        .query("SELECT fleet.ensure_health_sweep_schedule() AS job", &[])
        .unwrap();
    assert_eq!(schedule[0].opt_int("job").unwrap(), None);
    let hint = conn
        .query(
            "SELECT fleet.send_hint('/provision', '{}'::jsonb) AS request",
            &[],
        )
        .unwrap();
    assert_eq!(hint[0].opt_int("request").unwrap(), None);
    let user = new_user();
    insert_subscription(&mut store, user, "pro", "active", None);
    assert!(store.app(user).unwrap().unwrap().next_attempt_at.is_some());
}

/// Where `net.http_post` exists (pg_net; here a recording stand-in with the same signature), an entitlement
/// change queues exactly one hint with the secret header and a timeout of at least 5 s, irrelevant changes
/// queue none, and a failing pg_net never blocks the subscription write.
#[test]
fn pg_net_hint_is_signed_in_postgres_and_never_carries_the_key() {
    let (mut store, url) = pg_store();
    let calls = |store: &mut common::AnyStore| {
        store
            .connection()
            .query(
                "SELECT url, body::text AS body, headers::text AS headers, timeout_milliseconds AS timeout_ms \
                 FROM net.http_request_queue WHERE url LIKE 'https://fleet.test/%' ORDER BY id",
                &[],
            )
            .unwrap()
    };

    // Not configured yet: nothing is queued.
    let quiet = new_user();
    insert_subscription(&mut store, quiet, "pro", "active", None);
    assert!(calls(&mut store).is_empty());

    store
        .connection()
        .execute(
            "INSERT INTO fleet.settings (key, value) VALUES ('webhook_base_url', 'https://fleet.test/'), \
             ('webhook_secret', 'hint-secret')",
            &[],
        )
        .unwrap();
    let user = new_user();
    insert_subscription(&mut store, user, "elite", "active", None);
    exec(
        &mut store,
        "UPDATE user_subscriptions SET tier = 'pro' WHERE user_id = {uuid:1}",
        &[user.to_string().into()],
    );
    exec(
        &mut store,
        "UPDATE user_subscriptions SET status = 'cancelled' WHERE user_id = {uuid:1}",
        &[user.to_string().into()],
    );
    let rows = calls(&mut store);
    assert_eq!(
        rows.len(),
        2,
        "one provision hint, none for pro->elite, one deprovision hint"
    );
    assert_eq!(rows[0].text("url").unwrap(), "https://fleet.test/provision");
    assert_eq!(
        rows[1].text("url").unwrap(),
        "https://fleet.test/deprovision"
    );
    let mut body: serde_json::Value = serde_json::from_str(&rows[0].text("body").unwrap()).unwrap();
    assert!(body["hint_id"].is_string(), "{body}");
    body.as_object_mut().unwrap().remove("hint_id");
    assert_eq!(
        body,
        serde_json::json!({"user_id": user.to_string(), "tier": "elite"})
    );
    let headers: serde_json::Value =
        serde_json::from_str(&rows[0].text("headers").unwrap()).unwrap();
    assert_signed_without_secret(&headers, &rows[0].text("body").unwrap(), "hint-secret");
    assert!(rows[0].int("timeout_ms").unwrap() >= 5000);

    // A broken pg_net (its queue refuses the request): the hint is dropped with a warning, the subscription
    // change and due mark commit.
    let database = url.rsplit('/').next().unwrap().to_string();
    let superuser = fleet_test_support::postgres::cluster().superuser_url_for(&database);
    postgres::Client::connect(&superuser, postgres::NoTls)
        .unwrap()
        .batch_execute(
            "ALTER TABLE net.http_request_queue ADD CONSTRAINT queue_down CHECK (false) NOT VALID",
        )
        .unwrap();
    let other = new_user();
    insert_subscription(&mut store, other, "pro", "active", None);
    assert!(store.entitlement(other).unwrap().entitled);
    assert!(store.app(other).unwrap().unwrap().next_attempt_at.is_some());
    assert_eq!(calls(&mut store).len(), 2);
}

/// The hint pg_net would send carries only `Content-Type` and `X-Fleet-Signature` (the key is in no header), and
/// the signature is HMAC-SHA256(key, "<t>.<body as pg_net sends it>") with a current `t`.
fn assert_signed_without_secret(headers: &serde_json::Value, body: &str, key: &str) {
    use hmac::{Hmac, Mac};
    let text = headers.to_string();
    assert!(!text.contains(key), "a header holds the key: {text}");
    let names: Vec<&String> = headers.as_object().unwrap().keys().collect();
    assert_eq!(names, ["Content-Type", "X-Fleet-Signature"], "{text}");
    let signature = headers["X-Fleet-Signature"].as_str().unwrap();
    let (t, v1) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature format: {signature}"));
    let t: i64 = t.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - t).abs() < 60, "t={t}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        v1, expected,
        "the signature verifies over the body pg_net sends"
    );
}
