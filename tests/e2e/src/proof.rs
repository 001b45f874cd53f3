//! Shared plumbing for the proof suites (issue 9): their scale, their seed, and the figures they report.
//!
//! Every suite runs at the CI scale by default and at the full scale when `FLEET_PROOF_SCALE=full`
//! (`tests/fleet proof` sets it). Figures are printed, and also appended as JSON lines to the file named by
//! `FLEET_PROOF_FIGURES` so the report generator can collect them.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Bounded sizes for every CI run.
    Ci,
    /// The sizes the issue asks for; run by `tests/fleet proof`.
    Full,
}

pub fn scale() -> Scale {
    match std::env::var("FLEET_PROOF_SCALE").as_deref() {
        Ok("full") => Scale::Full,
        _ => Scale::Ci,
    }
}

/// Picks `ci` or `full` by the current scale.
pub fn sized<T>(ci: T, full: T) -> T {
    match scale() {
        Scale::Ci => ci,
        Scale::Full => full,
    }
}

/// The seed of a randomised suite: `FLEET_PROOF_SEED` replays a run; otherwise a fresh one. Always printed.
pub fn seed(suite: &str) -> u64 {
    let seed = std::env::var("FLEET_PROOF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            use std::hash::{BuildHasher, RandomState};
            RandomState::new().hash_one(std::time::SystemTime::now())
        });
    println!("{suite}: seed {seed} (replay with FLEET_PROOF_SEED={seed})");
    figure(suite, "seed", seed, "");
    seed
}

/// Reports one figure: printed, and recorded for the report when `FLEET_PROOF_FIGURES` is set.
pub fn figure(suite: &str, name: &str, value: impl std::fmt::Display, note: &str) {
    fleet_test_support::figures::record(suite, name, value, note);
}
