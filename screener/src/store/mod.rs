//! The screener's view of the database: load traders, detect trader changes cheaply, insert signal batches.
//! PostgreSQL (production; per-user role under RLS) or SQLite (the local run).

mod pg;
mod sqlite;

use crate::config::{Config, RunMode};
use crate::engine::SignalRow;
use uuid::Uuid;

/// A row of the platform's `traders` (the columns the screener reads), before its filter is validated. The
/// timeframes and symbols a trader needs live in `filter` (`requiredTimeframes`, `symbols`), as on the platform.
#[derive(Clone, Debug, PartialEq)]
pub struct TraderRow {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub name: String,
    pub filter: serde_json::Value,
    /// `traders.language` (`go` or `javascript` on the platform): the language of a code filter.
    pub language: Option<String>,
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
    /// `user_dedicated` never falls back to built-ins: without a user (which the configuration already refuses)
    /// it screens the nil user, who owns no trader.
    pub fn from_config(c: &Config) -> Scope {
        match c.run_mode {
            RunMode::UserDedicated => Scope::User(c.user_id.unwrap_or(Uuid::nil())),
            RunMode::SharedBackend => Scope::BuiltIn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("DATABASE_URL".to_string(), "sqlite:///tmp/x.db".to_string())])
            .collect();
        Config::from_map(&env).unwrap()
    }

    #[test]
    fn dedicated_mode_never_scopes_to_built_ins() {
        let user = Uuid::new_v4();
        let mut c = config(&[
            ("RUN_MODE", "user_dedicated"),
            ("USER_ID", &user.to_string()),
        ]);
        assert_eq!(Scope::from_config(&c), Scope::User(user));
        c.user_id = None;
        assert_eq!(Scope::from_config(&c), Scope::User(Uuid::nil()));
        // A USER_ID in shared mode does not narrow it: shared screens built-ins.
        let shared = config(&[
            ("RUN_MODE", "shared_backend"),
            ("USER_ID", &user.to_string()),
        ]);
        assert_eq!(Scope::from_config(&shared), Scope::BuiltIn);
    }
}

/// Columns every signal row of this process shares.
#[derive(Clone, Debug)]
pub struct SignalOrigin {
    /// `signals.source`: `cloud` for a Fleet app, `local` for the local run (SIGNAL_SOURCE).
    pub source: String,
    /// `signals.fly_app_id` (→ `user_fly_apps.id`), from FLEET_APP_ID. For a per-user screener role the
    /// database's `fleet_stamp_screener_signal` trigger sets it (and `source`) anyway.
    pub fleet_app_id: Option<Uuid>,
}

/// `signals.status` of a new signal (the platform's initial state; its analysis pipeline moves it on).
pub const NEW_SIGNAL_STATUS: &str = "new";

/// `signals.change_percent_at_signal`: the platform's browser screener writes the symbol's 24 h ticker change
/// and its Go screener writes 0; this screener follows closed candles only, so it writes 0 like the Go one.
pub const CHANGE_PERCENT_UNKNOWN: f64 = 0.0;

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
