//! The screener's view of the database: load traders, detect trader changes cheaply, insert signal batches.
//! PostgreSQL (production; per-user role under RLS) or SQLite (the local run).

mod pg;
mod sqlite;

use crate::config::{Config, RunMode};
use crate::engine::SignalRow;
use uuid::Uuid;

/// A row of `traders`, before its filter is validated.
#[derive(Clone, Debug, PartialEq)]
pub struct TraderRow {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub name: String,
    pub filter: serde_json::Value,
    pub timeframes: Vec<String>,
    pub symbols: Vec<String>,
}

/// Which traders this screener may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Only built-in traders (shared backend).
    BuiltIn,
    /// Only this user's enabled custom traders.
    User(Uuid),
}

impl Scope {
    pub fn from_config(c: &Config) -> Scope {
        match (c.run_mode, c.user_id) {
            (RunMode::UserDedicated, Some(u)) => Scope::User(u),
            _ => Scope::BuiltIn,
        }
    }
}

/// Columns every signal row of this process shares.
#[derive(Clone, Debug)]
pub struct SignalOrigin {
    pub source: String,
    pub fleet_app_id: Option<Uuid>,
    pub machine_id: Option<String>,
}

/// Database failures, classified for /health. Messages never contain credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("database authentication failed: {0}")]
    Auth(String),
    #[error("database unreachable: {0}")]
    Unreachable(String),
    #[error("database permission denied: {0}")]
    Forbidden(String),
    #[error("database error: {0}")]
    Other(String),
}

pub enum Store {
    Postgres(Box<pg::PgStore>),
    Sqlite(sqlite::SqliteStore),
}

impl Store {
    /// Prepares a store; Postgres connects lazily (and reconnects) so a bad password shows up in /health
    /// instead of killing the process.
    pub fn open(config: &Config) -> Result<Store, DbError> {
        let url = config.database_url.expose();
        match url.strip_prefix("sqlite://") {
            Some(path) => Ok(Store::Sqlite(sqlite::SqliteStore::open(path)?)),
            None => Ok(Store::Postgres(Box::new(pg::PgStore::new(
                config.database_url.clone(),
                config.database_ca_pem.clone(),
            )?))),
        }
    }

    pub async fn load_traders(&self, scope: Scope) -> Result<Vec<TraderRow>, DbError> {
        match self {
            Store::Postgres(s) => s.load_traders(scope).await,
            Store::Sqlite(s) => s.load_traders(scope).await,
        }
    }

    /// A fingerprint of the visible trader set (ids + updated_at); it changes whenever a reload is needed.
    pub async fn traders_fingerprint(&self, scope: Scope) -> Result<String, DbError> {
        match self {
            Store::Postgres(s) => s.traders_fingerprint(scope).await,
            Store::Sqlite(s) => s.traders_fingerprint(scope).await,
        }
    }

    /// Inserts the rows, skipping those whose (trader, symbol, interval, candle_open_time) exists.
    /// Returns how many were inserted.
    pub async fn insert_signals(
        &self,
        rows: &[SignalRow],
        origin: &SignalOrigin,
    ) -> Result<u64, DbError> {
        match self {
            Store::Postgres(s) => s.insert_signals(rows, origin).await,
            Store::Sqlite(s) => s.insert_signals(rows, origin).await,
        }
    }
}

pub(crate) fn millis_to_utc(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
