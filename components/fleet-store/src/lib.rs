//! Fleet's durable state: entitlement, `user_fly_apps` rows, leases, events and migrations over Postgres or
//! SQLite.
//!
//! * [`SqlConnection`] is a tiny synchronous SQL interface with native (`native` feature: `postgres`,
//!   rusqlite) and Spin (`spin` feature: pg4, sqlite3) implementations.
//! * [`Store`] is the one store interface over it; queries are written once and rendered per [`Dialect`].
//! * [`migrate()`] applies the embedded migrations/ files.

mod admin_sessions;
mod alerts;
mod app_row;
mod auth_throttle;
mod error;
mod fleet_lease;
mod holds;
mod lease;
pub mod migrate;
pub mod query;
mod sanitize;
mod screener_role;
mod seen_signatures;
pub mod sql;
mod store;
pub mod time;
mod types;
mod writes;
pub mod zero_rows;

#[cfg(feature = "native")]
pub mod native;
#[cfg(feature = "spin")]
pub mod spin;

pub use alerts::{AlertDelivery, AlertRecord, AlertTransition, DeliveryOutcome};
pub use app_row::{AppRow, ReadRows, UnreadableRow};
pub use auth_throttle::{ThrottleLimits, GLOBAL_SCOPE};
pub use error::StoreError;
pub use holds::{hold_key, Hold};
pub use lease::{DueQuery, ROW_LEASE_TTL};
pub use migrate::{migrate, MigrateError, MigrationReport};
pub use sanitize::{backoff_delay, sanitize_error, BACKOFF_BASE, BACKOFF_CAP, MAX_ERROR_LEN};
pub use screener_role::{scram_sha256_verifier, screener_role_name, SCRAM_ITERATIONS};
pub use sql::{Dialect, Row, SqlConnection, SqlError, SqlErrorKind, SqlValue};
pub use store::{Entitlement, Event, NewEvent, Store, UserState};
pub use types::{
    format_time, parse_time, truncate_to_millis, AppStatus, EventType, HealthStatus, ParseError,
    SubscriptionStatus, Tier, UserId,
};
pub use writes::{Failure, Wait};
