//! The store's error type.

use crate::sql::SqlError;
use crate::types::ParseError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] SqlError),
    #[error("{0}")]
    InvalidValue(#[from] ParseError),
    #[error("stored data could not be read: {0}")]
    Decode(String),
    #[error("{0} is only available with Postgres")]
    PostgresOnly(&'static str),
}
