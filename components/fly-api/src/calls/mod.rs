//! The typed API calls, one file per resource, as `impl FlyClient` blocks.

pub mod apps;
pub mod leases;
pub mod machines;
pub mod secrets;

pub use apps::AppClaim;
