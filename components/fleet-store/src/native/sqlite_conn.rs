use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use crate::sql::{Dialect, Row, SqlConnection, SqlError, SqlErrorKind, SqlValue};

/// A SQLite database file through rusqlite.
pub struct NativeSqlite {
    conn: Connection,
}

impl NativeSqlite {
    /// Opens (creating if needed) a database file with foreign keys on, WAL and a 10 s busy timeout, so
    /// concurrent writers wait for each other instead of failing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SqlError> {
        let conn = Connection::open(path).map_err(map_error)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(map_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(map_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(map_error)?;
        Ok(NativeSqlite { conn })
    }
}

fn map_error(error: rusqlite::Error) -> SqlError {
    match &error {
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::CannotOpen => {
            SqlError::new(SqlErrorKind::Connection, error.to_string())
        }
        _ => SqlError::from_sqlite_message(error.to_string()),
    }
}

fn param(value: &SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Bool(b) => Value::Integer(i64::from(*b)),
        SqlValue::Int(i) => Value::Integer(*i),
        SqlValue::Float(f) => Value::Real(*f),
        SqlValue::Text(s) => Value::Text(s.clone()),
    }
}

fn column_value(value: ValueRef<'_>) -> Result<SqlValue, SqlError> {
    Ok(match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Int(i),
        ValueRef::Real(f) => SqlValue::Float(f),
        ValueRef::Text(t) => SqlValue::Text(
            String::from_utf8(t.to_vec())
                .map_err(|_| SqlError::decode("text column is not UTF-8"))?,
        ),
        ValueRef::Blob(_) => return Err(SqlError::decode("blob columns are not supported")),
    })
}

impl SqlConnection for NativeSqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        let mut stmt = self.conn.prepare(sql).map_err(map_error)?;
        let columns: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let values: Vec<Value> = params.iter().map(param).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values))
            .map_err(map_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_error)? {
            let values = (0..columns.len())
                .map(|i| row.get_ref(i).map_err(map_error).and_then(column_value))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Row::new(columns.clone(), values));
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        let values: Vec<Value> = params.iter().map(param).collect();
        let mut stmt = self.conn.prepare(sql).map_err(map_error)?;
        let changed = stmt
            .execute(rusqlite::params_from_iter(values))
            .map_err(map_error)?;
        Ok(changed as u64)
    }
}
