//! Shared setup: migrated stores on real PostgreSQL (fleet-test-support) and real SQLite files.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use fleet_store::native::{NativePostgres, NativeSqlite};
use fleet_store::query::render;
use fleet_store::{format_time, Dialect, SqlConnection, SqlValue, Store, UserId};
use fleet_test_support::platform;

pub type AnyStore = Store<Box<dyn SqlConnection>>;

/// A fresh, migrated PostgreSQL database; returns the store and the database URL.
pub fn pg_store() -> (AnyStore, String) {
    let url = fleet_test_support::postgres::cluster().fresh_database();
    let conn: Box<dyn SqlConnection> = Box::new(NativePostgres::connect(&url).expect("connect"));
    let mut store = Store::new(conn);
    store.migrate().expect("migrations apply");
    (store, url)
}

/// A fresh, migrated SQLite file in `dir`; returns the store and the file path.
pub fn sqlite_store(dir: &tempfile::TempDir) -> (AnyStore, String) {
    let path = dir
        .path()
        .join(format!("fleet-{}.db", uuid::Uuid::new_v4().simple()));
    let conn: Box<dyn SqlConnection> = Box::new(NativeSqlite::open(&path).expect("open"));
    let mut store = Store::new(conn);
    store.migrate().expect("migrations apply");
    (store, path.to_string_lossy().into_owned())
}

/// Opens another connection to the same database.
pub fn reopen(dialect: Dialect, location: &str) -> AnyStore {
    let conn: Box<dyn SqlConnection> = match dialect {
        Dialect::Postgres => Box::new(NativePostgres::connect(location).expect("connect")),
        Dialect::Sqlite => Box::new(NativeSqlite::open(location).expect("open")),
    };
    Store::new(conn)
}

pub fn new_user() -> UserId {
    UserId::new(uuid::Uuid::new_v4())
}

/// Runs a query template (see fleet_store::query) on the store's connection.
pub fn exec(store: &mut AnyStore, template: &str, params: &[SqlValue]) -> u64 {
    let sql = render(store.dialect(), template);
    store
        .connection()
        .execute(&sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Creates the user the way the platform does on Postgres (sign-up through `auth.users`; the platform's trigger
/// adds a free subscription); SQLite has no users table. Idempotent.
pub fn ensure_user(store: &mut AnyStore, user: UserId) {
    if !on_platform(store) {
        return;
    }
    let known = store
        .connection()
        .query(
            "SELECT 1 AS known FROM auth.users WHERE id = $1::text::uuid",
            &[user.to_string().into()],
        )
        .unwrap();
    if known.is_empty() {
        let email = format!("{user}@example.test");
        exec(
            store,
            &platform::sign_up_sql(&user.to_string(), &email),
            &[],
        );
    }
}

/// Whether this is the platform fixture (Supabase's auth.users exists), not SQLite or vanilla PostgreSQL.
pub fn on_platform(store: &mut AnyStore) -> bool {
    store.dialect() == Dialect::Postgres
        && store
            .connection()
            .query(
                "SELECT to_regclass('auth.users') IS NOT NULL AS present",
                &[],
            )
            .unwrap()[0]
            .bool("present")
            .unwrap()
}

/// Gives the user this subscription through the platform's own write: on Postgres a signed-up user's row is
/// UPDATEd (as billing does); on SQLite the row is inserted or updated.
pub fn insert_subscription(
    store: &mut AnyStore,
    user: UserId,
    tier: &str,
    status: &str,
    expires_at: Option<DateTime<Utc>>,
) {
    let expires = expires_at.map(format_time);
    if on_platform(store) {
        ensure_user(store, user);
        let write =
            platform::set_subscription_sql(&user.to_string(), tier, status, expires.as_deref());
        assert_eq!(exec(store, &write, &[]), 1, "{write}");
        return;
    }
    exec(
        store,
        "INSERT INTO user_subscriptions (user_id, tier, status, expires_at) VALUES ({uuid:1}, {text:2}, {text:3}, {ts:4}) \
         ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, status = excluded.status, expires_at = excluded.expires_at",
        &[user.to_string().into(), tier.into(), status.into(), expires.into()],
    );
}

/// Inserts a subscription row for a user who has none (on Postgres: signed up, with the automatic free row
/// removed first), so the INSERT path of the entitlement trigger runs.
pub fn insert_new_subscription(
    store: &mut AnyStore,
    user: UserId,
    tier: &str,
    status: &str,
    expires_at: Option<DateTime<Utc>>,
) {
    ensure_user(store, user);
    exec(
        store,
        "DELETE FROM user_subscriptions WHERE user_id = {uuid:1}",
        &[user.to_string().into()],
    );
    exec(
        store,
        "INSERT INTO user_subscriptions (user_id, tier, status, expires_at) VALUES ({uuid:1}, {text:2}, {text:3}, {ts:4})",
        &[user.to_string().into(), tier.into(), status.into(), expires_at.map(format_time).into()],
    );
}

pub fn now() -> DateTime<Utc> {
    fleet_store::truncate_to_millis(Utc::now())
}
