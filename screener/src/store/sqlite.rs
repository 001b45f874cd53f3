//! SQLite (the local run): the same logical tables as migrations/sqlite, through rusqlite on a blocking thread.

use super::{
    millis_to_utc, DbError, Scope, SignalOrigin, TraderRow, CHANGE_PERCENT_UNKNOWN,
    NEW_SIGNAL_STATUS,
};
use crate::engine::SignalRow;
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// `id, user_id, name, filter, language` as SQLite stores them.
type RawTrader = (String, Option<String>, String, String, Option<String>);

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn err(e: rusqlite::Error) -> DbError {
    DbError::Other(e.to_string())
}

fn scope_sql(scope: Scope) -> (&'static str, Option<String>) {
    match scope {
        Scope::BuiltIn => ("is_built_in = 1 AND enabled = 1", None),
        Scope::User(u) => (
            "user_id = ?1 AND enabled = 1 AND is_built_in = 0",
            Some(u.to_string()),
        ),
    }
}

impl SqliteStore {
    pub fn open(path: &str) -> Result<SqliteStore, DbError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| {
            DbError::Unreachable(format!("opening SQLite database {path}: {e}"))
        })?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, DbError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard).map_err(err)
        })
        .await
        .map_err(|e| DbError::Other(format!("database task failed: {e}")))?
    }

    pub async fn load_traders(&self, scope: Scope) -> Result<Vec<TraderRow>, DbError> {
        let raw: Vec<RawTrader> = self
            .run(move |c| {
                let (cond, user) = scope_sql(scope);
                let sql = format!(
                    "SELECT id, user_id, name, filter, language FROM traders WHERE {cond} ORDER BY id"
                );
                let mut stmt = c.prepare(&sql)?;
                let map = |r: &rusqlite::Row| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?));
                let rows = match user {
                    Some(u) => stmt.query_map(params![u], map)?.collect::<Result<Vec<_>, _>>()?,
                    None => stmt.query_map([], map)?.collect::<Result<Vec<_>, _>>()?,
                };
                Ok(rows)
            })
            .await?;
        raw.into_iter()
            .map(|(id, user_id, name, filter, language)| {
                let bad = |what: &str| DbError::Other(format!("trader {id}: {what}"));
                Ok(TraderRow {
                    id: Uuid::parse_str(&id).map_err(|_| bad("id is not a uuid"))?,
                    user_id: user_id
                        .map(|u| Uuid::parse_str(&u))
                        .transpose()
                        .map_err(|_| bad("bad user_id"))?,
                    name,
                    // An unparsable filter still loads; validation disables the trader with a reason.
                    filter: serde_json::from_str(&filter)
                        .unwrap_or(serde_json::Value::String(filter)),
                    language,
                })
            })
            .collect()
    }

    pub async fn traders_fingerprint(&self, scope: Scope) -> Result<String, DbError> {
        self.run(move |c| {
            let (cond, user) = scope_sql(scope);
            let sql = format!(
                "SELECT count(*) || ':' || coalesce(group_concat(id || '@' || updated_at, ','), '') \
                 FROM (SELECT id, updated_at FROM traders WHERE {cond} ORDER BY id)"
            );
            let fp: Option<String> = match user {
                Some(u) => c.query_row(&sql, params![u], |r| r.get(0)).optional()?,
                None => c.query_row(&sql, [], |r| r.get(0)).optional()?,
            };
            Ok(fp.unwrap_or_default())
        })
        .await
    }

    pub async fn insert_signals(
        &self,
        rows: &[SignalRow],
        origin: &SignalOrigin,
    ) -> Result<u64, DbError> {
        let rows = rows.to_vec();
        let origin = origin.clone();
        self.run(move |c| {
            let tx = c.transaction()?;
            let mut inserted = 0u64;
            {
                let mut stmt = tx.prepare(
                    "INSERT OR IGNORE INTO signals (trader_id, user_id, symbol, interval, candle_open_time, \
                     timestamp, price_at_signal, change_percent_at_signal, volume_at_signal, count, status, \
                     source, fly_app_id, indicator_data) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11, ?12, ?13)",
                )?;
                let utc = |ms: i64| millis_to_utc(ms).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                for r in &rows {
                    inserted += stmt.execute(params![
                        r.trader_id.to_string(),
                        r.user_id.map(|u| u.to_string()),
                        r.symbol,
                        r.interval.name(),
                        utc(r.candle_open_time),
                        utc(r.timestamp_ms()),
                        r.price,
                        CHANGE_PERCENT_UNKNOWN,
                        r.volume,
                        NEW_SIGNAL_STATUS,
                        origin.source,
                        origin.fleet_app_id.map(|u| u.to_string()),
                        r.details.to_string(),
                    ])? as u64;
                }
            }
            tx.commit()?;
            Ok(inserted)
        })
        .await
    }
}
