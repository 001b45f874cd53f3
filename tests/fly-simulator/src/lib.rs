//! A stateful simulator of the Fly Machines API, with fault injection and a process driver.
//!
//! Start it in-process with [`FlySim::start`] (or [`FlySimThread::start`] from sync code) and point
//! a client at [`FlySim::base_url`]. See README.md for behaviour and known differences from Fly.

pub mod apps;
pub mod checks;
pub mod config;
pub mod debug;
pub mod error;
pub mod faults;
pub mod leases;
pub mod lifecycle;
pub mod machine_config;
pub mod machine_ops;
pub mod machines;
pub mod middleware;
pub mod process_driver;
pub mod rate_limit;
pub mod request_log;
pub mod rng;
pub mod secrets;
pub mod server;
pub mod sim;
pub mod state;

pub use config::{ProcessDriverConfig, RateLimitConfig, SimConfig, Timings};
pub use faults::{FaultKind, FaultSettings, ScriptedFault};
pub use server::{FlySim, FlySimThread};
