use std::error::Error as _;
use std::sync::Arc;

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls};

use crate::sql::{Dialect, Row, SqlConnection, SqlError, SqlErrorKind, SqlValue};

/// A PostgreSQL connection through the synchronous `postgres` crate.
pub struct NativePostgres {
    client: Client,
}

impl NativePostgres {
    /// Connects to a `postgres://` URL (no TLS: tests and local tools talk to 127.0.0.1).
    pub fn connect(url: &str) -> Result<Self, SqlError> {
        Client::connect(url, NoTls)
            .map(|client| NativePostgres { client })
            .map_err(|e| map_error(&e))
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// SQL NULL for a parameter of any type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

fn param(value: &SqlValue) -> Box<dyn ToSql + Sync> {
    match value {
        SqlValue::Null => Box::new(Null),
        SqlValue::Bool(b) => Box::new(*b),
        SqlValue::Int(i) => Box::new(*i),
        SqlValue::Float(f) => Box::new(*f),
        SqlValue::Text(s) => Box::new(s.clone()),
    }
}

fn column_value(row: &postgres::Row, i: usize) -> Result<SqlValue, postgres::Error> {
    let ty = row.columns()[i].type_();
    let value = match *ty {
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(SqlValue::Bool),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| SqlValue::Int(v.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| SqlValue::Int(v.into())),
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(SqlValue::Int),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map(|v| SqlValue::Float(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(SqlValue::Float),
        _ => row.try_get::<_, Option<String>>(i)?.map(SqlValue::Text),
    };
    Ok(value.unwrap_or(SqlValue::Null))
}

fn map_error(error: &postgres::Error) -> SqlError {
    if let Some(db) = error.as_db_error() {
        let mut message = db.message().to_owned();
        if let Some(detail) = db.detail() {
            message.push_str(": ");
            message.push_str(detail);
        }
        return SqlError::from_sqlstate(db.code().code(), message);
    }
    let kind = if error.is_closed() || error.source().is_some_and(|s| s.is::<std::io::Error>()) {
        SqlErrorKind::Connection
    } else {
        SqlErrorKind::Other
    };
    SqlError::new(kind, error.to_string())
}

impl SqlConnection for NativePostgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.query(sql, &refs).map_err(|e| map_error(&e))?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let columns: Arc<[String]> = first
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        rows.iter()
            .map(|row| {
                let values = (0..row.len())
                    .map(|i| column_value(row, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        SqlError::decode(format!("{e} (cast the column to text in the query)"))
                    })?;
                Ok(Row::new(columns.clone(), values))
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.client.execute(sql, &refs).map_err(|e| map_error(&e))
    }
}
