//! Native SQL connections: the synchronous `postgres` client and rusqlite. Used by tests and native tools.

mod postgres_conn;
mod sqlite_conn;

pub use postgres_conn::NativePostgres;
pub use sqlite_conn::NativeSqlite;
