//! The tiny synchronous SQL interface the store runs on, implemented natively (postgres, rusqlite) and in Spin
//! (pg4, sqlite3). Values on the wire are deliberately few: the store's queries cast uuids, json and times to
//! text, so every backend only needs to move null, bool, integer, float and text.

use std::fmt;
use std::sync::Arc;

/// Which SQL dialect a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// A parameter or a column value.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Float(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Bool(v)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// What kind of failure a statement hit, independent of the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlErrorKind {
    UniqueViolation,
    CheckViolation,
    ForeignKeyViolation,
    NotNullViolation,
    /// Bad input syntax for a type (e.g. a malformed uuid) or an invalid parameter value.
    InvalidValue,
    PermissionDenied,
    Connection,
    /// A row did not have the shape the store expected (a bug, or an unmigrated database).
    Decode,
    Other,
}

/// A database error. `message` comes from the database; statements and parameters are never included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    pub kind: SqlErrorKind,
    /// SQLSTATE for Postgres errors when known.
    pub code: Option<String>,
    pub message: String,
}

impl SqlError {
    pub fn new(kind: SqlErrorKind, message: impl Into<String>) -> Self {
        SqlError {
            kind,
            code: None,
            message: message.into(),
        }
    }

    pub fn decode(message: impl Into<String>) -> Self {
        SqlError::new(SqlErrorKind::Decode, message)
    }

    /// Classifies a Postgres SQLSTATE.
    pub fn from_sqlstate(code: &str, message: impl Into<String>) -> Self {
        let kind = match code {
            "23505" => SqlErrorKind::UniqueViolation,
            "23514" => SqlErrorKind::CheckViolation,
            "23503" => SqlErrorKind::ForeignKeyViolation,
            "23502" => SqlErrorKind::NotNullViolation,
            "22P02" | "22007" | "22008" | "22023" | "22003" => SqlErrorKind::InvalidValue,
            "42501" => SqlErrorKind::PermissionDenied,
            c if c.starts_with("08") || c == "28P01" || c == "28000" => SqlErrorKind::Connection,
            _ => SqlErrorKind::Other,
        };
        SqlError {
            kind,
            code: Some(code.to_owned()),
            message: message.into(),
        }
    }

    /// Classifies a SQLite error message (hosts do not always pass extended result codes through).
    pub fn from_sqlite_message(message: impl Into<String>) -> Self {
        let message = message.into();
        let kind = if message.contains("UNIQUE constraint failed") {
            SqlErrorKind::UniqueViolation
        } else if message.contains("CHECK constraint failed") {
            SqlErrorKind::CheckViolation
        } else if message.contains("FOREIGN KEY constraint failed") {
            SqlErrorKind::ForeignKeyViolation
        } else if message.contains("NOT NULL constraint failed") {
            SqlErrorKind::NotNullViolation
        } else if message.contains("cannot store") {
            SqlErrorKind::InvalidValue
        } else {
            SqlErrorKind::Other
        };
        SqlError::new(kind, message)
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} (SQLSTATE {code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SqlError {}

/// One result row: values by position, with the column names of its result set.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl Row {
    pub fn new(columns: Arc<[String]>, values: Vec<SqlValue>) -> Self {
        Row { columns, values }
    }

    pub fn values(&self) -> &[SqlValue] {
        &self.values
    }

    pub fn into_parts(self) -> (Arc<[String]>, Vec<SqlValue>) {
        (self.columns, self.values)
    }

    /// The value of a named column.
    pub fn get(&self, column: &str) -> Result<&SqlValue, SqlError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| SqlError::decode(format!("result has no column {column}")))
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>, SqlError> {
        match self.get(column)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(s) => Ok(Some(s.clone())),
            other => Err(mismatch(column, "text", other)),
        }
    }

    pub fn text(&self, column: &str) -> Result<String, SqlError> {
        self.opt_text(column)?.ok_or_else(|| null_in(column))
    }

    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, SqlError> {
        match self.get(column)? {
            SqlValue::Null => Ok(None),
            SqlValue::Int(i) => Ok(Some(*i)),
            other => Err(mismatch(column, "integer", other)),
        }
    }

    pub fn int(&self, column: &str) -> Result<i64, SqlError> {
        self.opt_int(column)?.ok_or_else(|| null_in(column))
    }

    pub fn opt_float(&self, column: &str) -> Result<Option<f64>, SqlError> {
        match self.get(column)? {
            SqlValue::Null => Ok(None),
            SqlValue::Float(f) => Ok(Some(*f)),
            // SQLite hands back integral REAL values as integers.
            SqlValue::Int(i) => Ok(Some(*i as f64)),
            other => Err(mismatch(column, "float", other)),
        }
    }

    /// A boolean: Postgres bool, or SQLite 0/1.
    pub fn bool(&self, column: &str) -> Result<bool, SqlError> {
        match self.get(column)? {
            SqlValue::Bool(b) => Ok(*b),
            SqlValue::Int(0) => Ok(false),
            SqlValue::Int(1) => Ok(true),
            other => Err(mismatch(column, "boolean", other)),
        }
    }
}

fn mismatch(column: &str, wanted: &str, got: &SqlValue) -> SqlError {
    SqlError::decode(format!("column {column}: expected {wanted}, got {got:?}"))
}

fn null_in(column: &str) -> SqlError {
    SqlError::decode(format!("column {column} is unexpectedly NULL"))
}

/// A synchronous SQL connection. Statements hold exactly one SQL command; parameters are `$1..$n` for
/// Postgres and `?1..?n` for SQLite (see [`crate::query::render`]).
pub trait SqlConnection {
    fn dialect(&self) -> Dialect;

    /// Runs a statement and returns its rows (also for `UPDATE ... RETURNING`).
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError>;

    /// Runs a statement and returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError>;
}

impl<C: SqlConnection + ?Sized> SqlConnection for &mut C {
    fn dialect(&self) -> Dialect {
        (**self).dialect()
    }
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        (**self).query(sql, params)
    }
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        (**self).execute(sql, params)
    }
}

impl<C: SqlConnection + ?Sized> SqlConnection for Box<C> {
    fn dialect(&self) -> Dialect {
        (**self).dialect()
    }
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        (**self).query(sql, params)
    }
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        (**self).execute(sql, params)
    }
}
