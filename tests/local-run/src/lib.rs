//! The one-command local run: everything Fleet needs on one machine, no Fly account, no Supabase.
//!
//! * SQLite as the store (`.fleet/local.db`), migrated with fleet-store and seeded with a demo;
//! * the Fly simulator in-process, whose process driver runs the freshly built `screener` binary for each
//!   started machine (`MARKET_DATA=replay:<sample>`), or the real Fly API when `FLY_API_TOKEN` is set;
//! * the Spin host (`spin-test-host serve`, a child process) serving spin.toml with the right variables;
//! * a gateway that gives every simulated app a stable URL (`/apps/{app}/...`), as `<app>.fly.dev` does;
//! * a scheduler that calls `POST /health/sweep` every few seconds.
//!
//! Start it with [`LocalRun::start`]; `fleet-up` (src/main.rs) is the command-line front.

pub mod config;
pub mod gateway;
pub mod host;
pub mod manifest;
pub mod paths;
pub mod run;
pub mod scheduler;
pub mod seed;
pub mod tokens;

pub use config::{FlyTarget, LocalRunConfig};
pub use run::LocalRun;
pub use seed::{DemoUser, DEMO_USERS};
