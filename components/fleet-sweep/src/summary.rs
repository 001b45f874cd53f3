//! What a sweep answers with.

use serde::Serialize;

/// Counts of one sweep. `remaining` is the number of rows still due when it ended (work for the next one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Rows this sweep looked at: due, at odds with their entitlement, or in a transitional state.
    pub considered: u32,
    /// Apps observed.
    pub checked: u32,
    pub healthy: u32,
    pub unhealthy: u32,
    /// Drift repaired on active apps (start, recreate, restart, re-create a deleted app).
    pub repaired: u32,
    /// Entitled users whose app was provisioned (lost or unfinished webhooks).
    pub provisioned: u32,
    /// Users no longer entitled whose app was torn down.
    pub deprovisioned: u32,
    /// Machines moved to the new image.
    pub rolled: u32,
    /// Apps in the org with Fleet's prefix and no live row.
    pub orphans: u32,
    /// Orphan deletions held for an operator (more were due than `orphan_delete_cap`).
    pub orphan_deletions_held: u32,
    /// Rows skipped because the store failed on them or could not read them (each recorded as an
    /// `error_occurred` event; their leases are given back).
    pub skipped_rows: u32,
    pub fly_calls: u32,
    pub duration_ms: u64,
    pub remaining: u32,
    /// Apps Fly could not be asked about (rate limits beyond the budget, errors); still due.
    pub observe_failures: u32,
    /// Fleet-wide work Fly failed this sweep (the orphan scan, an orphan's deletion, a machine's rollout),
    /// each with its sanitised reason; the next sweep that drives the fleet tries again. Also kept in
    /// `fleet_state` under `health.fleet_wide_errors`.
    pub fleet_wide_errors: Vec<String>,
    /// Users of an operator's migration this sweep released to the provision path (at the migration's pace).
    pub migration_released: u32,
    /// Machines resized in place to their tier's guest.
    pub resized: u32,
    /// Alert notifications this sweep queued (fired, re-notified or resolved); delivered after the sweep.
    pub alerts_queued: u32,
}
