//! Spin SQL connections: `pg4` for Postgres and `sqlite3` for SQLite, as seen from a WebAssembly component.

mod pg4_conn;
mod sqlite3_conn;

pub use pg4_conn::SpinPostgres;
pub use sqlite3_conn::SpinSqlite;
