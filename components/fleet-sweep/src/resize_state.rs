//! Resizing machines in place when a user's tier size differs from their machine's (a change between Pro
//! and Elite, or a changed size variable), with the rollout's safety: a few machines per sweep (the
//! rollout's batch), each watched until healthy and put back on failure, and a halt once more than the
//! failure threshold of resized machines failed, until the sizes change again. Pure: the state lives in
//! `fleet_state` under [`RESIZE_STATE_KEY`] and the sweep performs the updates (resize.rs).

use fleet_reconcile::tier_size::TierSizes;
use serde::{Deserialize, Serialize};

pub const RESIZE_STATE_KEY: &str = "health.resize";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResizeState {
    /// The sizes this state is about (`pro=shared/2/512@sin;elite=...`); other sizes start afresh.
    pub sizes: String,
    pub resized: u32,
    pub failed: u32,
    pub halted: bool,
}

/// A stable text of the configured sizes.
pub fn sizes_key(sizes: &TierSizes) -> String {
    let one = |s: &fleet_reconcile::tier_size::TierSize| {
        format!(
            "{}/{}/{}@{}",
            s.guest.cpu_kind, s.guest.cpus, s.guest.memory_mb, s.region
        )
    };
    format!("pro={};elite={}", one(&sizes.pro), one(&sizes.elite))
}

impl ResizeState {
    /// The stored state if it is about `key`, else a fresh one.
    pub fn current(stored: Option<ResizeState>, key: &str) -> ResizeState {
        match stored {
            Some(state) if state.sizes == key => state,
            _ => ResizeState {
                sizes: key.to_string(),
                resized: 0,
                failed: 0,
                halted: false,
            },
        }
    }

    /// Counts one machine's result; returns true when this result halts resizing.
    pub fn record(&mut self, healthy: bool, failure_threshold: f64) -> bool {
        if healthy {
            self.resized = self.resized.saturating_add(1);
        } else {
            self.failed = self.failed.saturating_add(1);
        }
        let tried = f64::from(self.resized) + f64::from(self.failed);
        if !self.halted && f64::from(self.failed) / tried > failure_threshold {
            self.halted = true;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fly_api::types::Guest;

    #[test]
    fn failures_beyond_the_threshold_halt_until_the_sizes_change() {
        let key = sizes_key(&TierSizes::uniform(Guest::shared(2, 512), "sin"));
        let mut state = ResizeState::current(None, &key);
        assert!(!state.record(true, 0.2));
        assert!(!state.record(true, 0.2));
        assert!(!state.record(true, 0.2));
        assert!(!state.record(true, 0.2));
        assert!(!state.record(false, 0.2), "1 of 5 is at the threshold");
        assert!(state.record(false, 0.2), "2 of 6 is above it");
        assert!(state.halted);
        assert!(!state.record(false, 0.2), "halts once");
        assert_eq!(ResizeState::current(Some(state.clone()), &key), state);
        let other = sizes_key(&TierSizes::uniform(Guest::shared(4, 1024), "sin"));
        let fresh = ResizeState::current(Some(state), &other);
        assert!(!fresh.halted && fresh.resized == 0 && fresh.sizes == other);
    }
}
