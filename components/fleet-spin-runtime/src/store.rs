//! Opening the store named by the `database_url` variable: `sqlite://default` (the embedded default) or a
//! `postgres://` URL.

use fleet_http::ApiError;
use fleet_store::spin::{SpinPostgres, SpinSqlite};
use fleet_store::zero_rows::NeverZeroRows;
use fleet_store::{SqlConnection, Store};

pub type AnyStore = Store<Box<dyn SqlConnection>>;

/// Opens the store; failures become a 503 whose detail never repeats the URL (it may hold a password).
pub fn open_store(database_url: &str) -> Result<AnyStore, ApiError> {
    let unavailable = |e: fleet_store::SqlError| {
        ApiError::new(
            503,
            "database_unavailable",
            fleet_store::sanitize_error(&e.to_string()),
        )
    };
    let connection: Box<dyn SqlConnection> = if let Some(label) = sqlite_label(database_url) {
        Box::new(SpinSqlite::open(label).map_err(unavailable)?)
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        // Released Spin (4.0.0–4.0.2) hangs on a query that yields no rows (spinframework/spin#3671).
        Box::new(NeverZeroRows(
            SpinPostgres::open(database_url).map_err(unavailable)?,
        ))
    } else {
        return Err(ApiError::internal(
            "database_url must be sqlite://<label> or a postgres:// URL",
        ));
    };
    Ok(Store::new(connection))
}

fn sqlite_label(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|label| !label.is_empty())
}
