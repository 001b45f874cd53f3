//! `spin:sqlite/sqlite@3.0.0` backed by rusqlite. Labels map to files (the "default" label to a configurable
//! path); a component may open only the labels it lists in `sqlite_databases`.

use crate::bindings::spin::sqlite::sqlite::{self as wit, Error, QueryResult, RowResult, Value};
use crate::state::RequestState;
use rusqlite::types::ValueRef;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::Resource;

/// label -> database file.
pub type SqliteDatabases = BTreeMap<String, PathBuf>;

/// The resource behind a guest's `connection` handle.
pub struct SqliteConnection {
    connection: Arc<Mutex<rusqlite::Connection>>,
}

fn open_file(path: &PathBuf) -> Result<rusqlite::Connection, Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Io(format!("creating {}: {e}", parent.display())))?;
    }
    let connection = rusqlite::Connection::open(path).map_err(io_error)?;
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(io_error)?;
    Ok(connection)
}

fn io_error(error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => Error::DatabaseFull,
        _ => Error::Io(error.to_string()),
    }
}

fn run(
    connection: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<Value>,
) -> Result<QueryResult, Error> {
    let mut prepared = connection.prepare_cached(statement).map_err(io_error)?;
    let columns: Vec<String> = prepared
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let params: Vec<rusqlite::types::Value> = parameters.into_iter().map(to_sql).collect();
    let mut rows = prepared
        .query(rusqlite::params_from_iter(params))
        .map_err(io_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(io_error)? {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(from_sql).map_err(io_error))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

fn to_sql(value: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Integer(i) => V::Integer(i),
        Value::Real(r) => V::Real(r),
        Value::Text(t) => V::Text(t),
        Value::Blob(b) => V::Blob(b),
        Value::Null => V::Null,
    }
}

fn from_sql(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        ValueRef::Null => Value::Null,
    }
}

impl RequestState {
    fn sqlite(
        &self,
        handle: &Resource<SqliteConnection>,
    ) -> wasmtime::Result<Arc<Mutex<rusqlite::Connection>>> {
        Ok(self.table.get(handle)?.connection.clone())
    }
}

/// Runs blocking SQLite work off the async executor.
async fn blocking<T: Send + 'static>(
    connection: Arc<Mutex<rusqlite::Connection>>,
    work: impl FnOnce(&rusqlite::Connection) -> T + Send + 'static,
) -> wasmtime::Result<T> {
    Ok(tokio::task::spawn_blocking(move || {
        let connection = connection.lock().unwrap_or_else(|e| e.into_inner());
        work(&connection)
    })
    .await?)
}

impl wit::Host for RequestState {}

impl wit::HostConnection for RequestState {
    async fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<SqliteConnection>, Error>> {
        if !self.component.sqlite_databases.contains(&database) {
            tracing::warn!(component = %self.component.id, database = %database, "SQLite access denied: database not listed in sqlite_databases");
            return Ok(Err(Error::AccessDenied));
        }
        let Some(path) = self.host.sqlite_databases.get(&database).cloned() else {
            return Ok(Err(Error::NoSuchDatabase));
        };
        let opened = tokio::task::spawn_blocking(move || open_file(&path)).await?;
        Ok(match opened {
            Ok(connection) => Ok(self.table.push(SqliteConnection {
                connection: Arc::new(Mutex::new(connection)),
            })?),
            Err(error) => Err(error),
        })
    }

    async fn execute(
        &mut self,
        handle: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let connection = self.sqlite(&handle)?;
        blocking(connection, move |c| run(c, &statement, parameters)).await
    }

    async fn last_insert_rowid(
        &mut self,
        handle: Resource<SqliteConnection>,
    ) -> wasmtime::Result<i64> {
        let connection = self.sqlite(&handle)?;
        blocking(connection, |c| c.last_insert_rowid()).await
    }

    async fn changes(&mut self, handle: Resource<SqliteConnection>) -> wasmtime::Result<u64> {
        let connection = self.sqlite(&handle)?;
        blocking(connection, |c| c.changes()).await
    }

    async fn drop(&mut self, handle: Resource<SqliteConnection>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}
