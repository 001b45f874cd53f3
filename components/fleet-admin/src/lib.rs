//! Fleet's admin: the JSON API and the dashboard page behind `/admin`, generic over the store's SQL
//! connection, the Fly transport and the clock, so the same code runs in the Spin component (`admin`) and in
//! native tests.
//!
//! * [`routes`] matches clean paths only (traversal → 404); [`auth`] checks the admin token, the signed
//!   session cookie and its CSRF token.
//! * [`listing`], [`summary`], [`signals`] and [`migration`] are pure; [`Admin`] does the I/O.

mod actions;
pub mod admin;
mod alerts_view;
pub mod auth;
mod controls;
pub mod http;
pub mod listing;
mod login;
mod migrate;
pub mod migration;
pub mod operator;
mod orphan_confirm;
pub mod people;
pub mod queries;
mod report;
pub mod routes;
pub mod session;
pub mod signals;
pub mod summary;
mod views;

pub use admin::{Admin, AdminConfig, StoreOpener, PAGE};
pub use http::{AdminRequest, AdminResponse, Method};
pub use migrate::MIGRATION_CONCURRENCY;
pub use migration::{FlyLimits, Pacing};
pub use orphan_confirm::ORPHAN_HOLD_KEY;
pub use views::ROLLOUT_STATE_KEY;
