use std::sync::Arc;

use spin_sdk::sqlite3::{self, Value};

use crate::sql::{Dialect, Row, SqlConnection, SqlError, SqlErrorKind, SqlValue};

/// A SQLite database through Spin's `sqlite3` interface.
pub struct SpinSqlite {
    conn: sqlite3::Connection,
}

impl SpinSqlite {
    /// Opens a database by its Spin label ("default" for the default database) with foreign keys on.
    pub fn open(label: &str) -> Result<Self, SqlError> {
        let conn = sqlite3::Connection::open(label).map_err(|e| map_error(&e))?;
        let mut this = SpinSqlite { conn };
        this.execute("PRAGMA foreign_keys = ON", &[])?;
        Ok(this)
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

fn column_value(value: &Value) -> Result<SqlValue, SqlError> {
    Ok(match value {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Int(*i),
        Value::Real(f) => SqlValue::Float(*f),
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Blob(_) => return Err(SqlError::decode("blob columns are not supported")),
    })
}

fn map_error(error: &sqlite3::Error) -> SqlError {
    match error {
        sqlite3::Error::Io(message) => SqlError::from_sqlite_message(message.clone()),
        other => SqlError::new(SqlErrorKind::Connection, format!("{other:?}")),
    }
}

impl SqlConnection for SpinSqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        let params: Vec<Value> = params.iter().map(param).collect();
        let result = self.conn.execute(sql, &params).map_err(|e| map_error(&e))?;
        let columns: Arc<[String]> = result.columns.iter().cloned().collect();
        result
            .rows
            .iter()
            .map(|row| {
                let values = row
                    .values
                    .iter()
                    .map(column_value)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row::new(columns.clone(), values))
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        let params: Vec<Value> = params.iter().map(param).collect();
        self.conn.execute(sql, &params).map_err(|e| map_error(&e))?;
        Ok(self.conn.changes())
    }
}
