use std::sync::Arc;

use spin_sdk::pg4::{self, DbValue, ParameterValue};

use crate::sql::{Dialect, Row, SqlConnection, SqlError, SqlErrorKind, SqlValue};

/// A PostgreSQL connection through Spin's `pg4` interface.
pub struct SpinPostgres {
    conn: pg4::Connection,
}

impl SpinPostgres {
    /// Opens a connection to a `postgres://` URL (the component must be allowed to reach its host).
    pub fn open(url: &str) -> Result<Self, SqlError> {
        pg4::Connection::open(url)
            .map(|conn| SpinPostgres { conn })
            .map_err(|e| map_error(&e))
    }
}

fn param(value: &SqlValue) -> ParameterValue {
    match value {
        SqlValue::Null => ParameterValue::DbNull,
        SqlValue::Bool(b) => ParameterValue::Boolean(*b),
        SqlValue::Int(i) => ParameterValue::Int64(*i),
        SqlValue::Float(f) => ParameterValue::Floating64(*f),
        SqlValue::Text(s) => ParameterValue::Str(s.clone()),
    }
}

fn column_value(value: &DbValue) -> Result<SqlValue, SqlError> {
    Ok(match value {
        DbValue::DbNull => SqlValue::Null,
        DbValue::Boolean(b) => SqlValue::Bool(*b),
        DbValue::Int8(i) => SqlValue::Int((*i).into()),
        DbValue::Int16(i) => SqlValue::Int((*i).into()),
        DbValue::Int32(i) => SqlValue::Int((*i).into()),
        DbValue::Int64(i) => SqlValue::Int(*i),
        DbValue::Floating32(f) => SqlValue::Float((*f).into()),
        DbValue::Floating64(f) => SqlValue::Float(*f),
        DbValue::Str(s) => SqlValue::Text(s.clone()),
        DbValue::Uuid(s) => SqlValue::Text(s.clone()),
        other => {
            return Err(SqlError::decode(format!(
                "unsupported pg4 value {other:?} (cast the column to text in the query)"
            )))
        }
    })
}

fn map_error(error: &pg4::PgError) -> SqlError {
    match error {
        pg4::PgError::ConnectionFailed(m) => SqlError::new(SqlErrorKind::Connection, m.clone()),
        pg4::PgError::BadParameter(m) | pg4::PgError::ValueConversionFailed(m) => {
            SqlError::new(SqlErrorKind::InvalidValue, m.clone())
        }
        pg4::PgError::QueryFailed(pg4::QueryError::DbError(db)) => {
            let mut message = db.message.clone();
            if let Some(detail) = &db.detail {
                message.push_str(": ");
                message.push_str(detail);
            }
            SqlError::from_sqlstate(&db.code, message)
        }
        pg4::PgError::QueryFailed(pg4::QueryError::Text(m)) | pg4::PgError::Other(m) => {
            SqlError::new(SqlErrorKind::Other, m.clone())
        }
    }
}

impl SqlConnection for SpinPostgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        let params: Vec<ParameterValue> = params.iter().map(param).collect();
        let set = self.conn.query(sql, &params).map_err(|e| map_error(&e))?;
        let columns: Arc<[String]> = set.columns.iter().map(|c| c.name.clone()).collect();
        set.rows
            .iter()
            .map(|row| {
                let values = row
                    .iter()
                    .map(column_value)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row::new(columns.clone(), values))
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        let params: Vec<ParameterValue> = params.iter().map(param).collect();
        self.conn.execute(sql, &params).map_err(|e| map_error(&e))
    }
}
