//! Shared setup: migrated stores on real PostgreSQL (fleet-test-support) and real SQLite files.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use fleet_store::native::{NativePostgres, NativeSqlite};
use fleet_store::query::render;
use fleet_store::{format_time, Dialect, SqlConnection, SqlValue, Store, UserId};

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

pub fn insert_subscription(
    store: &mut AnyStore,
    user: UserId,
    tier: &str,
    status: &str,
    expires_at: Option<DateTime<Utc>>,
) {
    exec(
        store,
        "INSERT INTO user_subscriptions (user_id, tier, status, expires_at) VALUES ({uuid:1}, {text:2}, {text:3}, {ts:4})",
        &[user.to_string().into(), tier.into(), status.into(), expires_at.map(format_time).into()],
    );
}

pub fn now() -> DateTime<Utc> {
    fleet_store::truncate_to_millis(Utc::now())
}
