//! Fleet's health sweep, the resync loop of a level-triggered system: every sweep observes each due app
//! (one Fly call plus a probe of the screener's `/health`, bounded concurrency), records health and cost,
//! repairs drift through the reconciler, rolls out a changed image a few machines at a time, and reports
//! orphan apps.
//!
//! Pure planning lives in [`health`], [`plan`], [`rollout`], [`orphans`] and [`cost`]; the I/O is in
//! [`Sweeper`] (sweep.rs, apply.rs, roll.rs, fleet_wide.rs) and [`observe`].

pub mod alerts;
mod apply;
pub mod config;
pub mod cost;
mod fleet_wide;
pub mod health;
mod migration;
pub mod observe;
pub mod orphan_hold;
pub mod orphans;
pub mod plan;
pub mod probe;
mod resize;
pub mod resize_state;
mod roll;
pub mod rollout;
pub mod summary;
mod sweep;
pub mod view;

#[cfg(feature = "bench")]
pub mod fake_screener;

pub use config::{OrphanPolicy, SweepConfig};
pub use cost::PriceTable;
pub use fleet_wide::FLEET_WIDE_ERRORS_KEY;
pub use orphan_hold::{OrphanHold, ORPHAN_HOLD_KEY};
pub use rollout::{RolloutState, RolloutStatus, ROLLOUT_STATE_KEY};
pub use summary::SweepSummary;
pub use sweep::{Sweeper, FLEET_WIDE_LEASE};
