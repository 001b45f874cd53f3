//! The per-sweep cap on orphan deletions. A sweep pointed at an empty or restored database sees every app as
//! an orphan; deleting them at any steady rate would still delete the fleet. So: at most `cap` deletions per
//! sweep, and when more orphans than the cap are due for deletion, none of them is deleted: they are held,
//! an alert is recorded once, and an operator confirms (the admin API's `POST /admin/api/orphans/confirm`),
//! after which the confirmed names are deleted, still at most `cap` per sweep. Pure: the state lives in
//! `fleet_state` under [`ORPHAN_HOLD_KEY`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `fleet_state` key of the hold (the admin API reads and confirms it under the same name).
pub const ORPHAN_HOLD_KEY: &str = "health.orphan_hold";

/// What is held and what an operator confirmed. Absent (or empty) when nothing is held.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrphanHold {
    /// Orphans due for deletion that wait for an operator (more than the cap were due at once).
    #[serde(default)]
    pub held: Vec<String>,
    /// When the current hold began.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// The cap in force when the hold was recorded.
    #[serde(default)]
    pub cap: usize,
    /// Names an operator confirmed for deletion (deleted at most `cap` per sweep).
    #[serde(default)]
    pub confirmed: Vec<String>,
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub confirmed_by: Option<String>,
}

impl OrphanHold {
    pub fn from_json(value: Option<&serde_json::Value>) -> Self {
        value
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.confirmed.is_empty()
    }
}

/// This sweep's deletions after the cap.
#[derive(Clone, Debug, PartialEq)]
pub struct Gated {
    pub delete_now: Vec<String>,
    /// The hold to store.
    pub hold: OrphanHold,
    /// A hold began this sweep: record the alert once.
    pub newly_held: bool,
}

/// Splits the orphans due for deletion (`candidates`) into those deleted now and those held.
pub fn gate_deletions(
    candidates: &[String],
    previous: &OrphanHold,
    cap: usize,
    now: DateTime<Utc>,
) -> Gated {
    // Confirmations of names that are no longer due (deleted, or claimed again) lapse.
    let confirmed: BTreeSet<&String> = previous
        .confirmed
        .iter()
        .filter(|n| candidates.contains(n))
        .collect();
    let (approved, unapproved): (Vec<&String>, Vec<&String>) =
        candidates.iter().partition(|n| confirmed.contains(n));
    let mut delete_now: Vec<String> = approved
        .iter()
        .take(cap.max(1))
        .map(|n| n.to_string())
        .collect();
    let mut held = Vec::new();
    if unapproved.len() > cap {
        held = unapproved.iter().map(|n| n.to_string()).collect();
    } else {
        let slots = cap.saturating_sub(delete_now.len());
        delete_now.extend(unapproved.iter().take(slots).map(|n| n.to_string()));
    }
    let still_confirmed: Vec<String> = approved
        .iter()
        .filter(|n| !delete_now.contains(n))
        .map(|n| n.to_string())
        .collect();
    let newly_held = !held.is_empty() && previous.held.is_empty();
    let hold = OrphanHold {
        since: (!held.is_empty()).then(|| previous.since.unwrap_or(now)),
        cap,
        confirmed_at: previous
            .confirmed_at
            .filter(|_| !still_confirmed.is_empty()),
        confirmed_by: previous
            .confirmed_by
            .clone()
            .filter(|_| !still_confirmed.is_empty()),
        held,
        confirmed: still_confirmed,
    };
    Gated {
        delete_now,
        hold,
        newly_held,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("vyx-user-{i:08x}")).collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn at_or_below_the_cap_everything_is_deleted() {
        let g = gate_deletions(&names(5), &OrphanHold::default(), 5, now());
        assert_eq!(g.delete_now, names(5));
        assert!(g.hold.is_empty() && !g.newly_held);
    }

    #[test]
    fn above_the_cap_nothing_is_deleted_and_the_hold_begins_once() {
        let g = gate_deletions(&names(6), &OrphanHold::default(), 5, now());
        assert!(g.delete_now.is_empty());
        assert_eq!(g.hold.held, names(6));
        assert!(g.newly_held);
        let again = gate_deletions(&names(6), &g.hold, 5, now());
        assert!(again.delete_now.is_empty() && !again.newly_held);
        assert_eq!(again.hold.since, Some(now()));
    }

    #[test]
    fn confirmed_names_go_at_most_cap_per_sweep_and_the_hold_ends() {
        let all = names(12);
        let mut hold = gate_deletions(&all, &OrphanHold::default(), 5, now()).hold;
        hold.confirmed = hold.held.clone();
        hold.confirmed_by = Some("bearer".into());
        let mut left = all.clone();
        let mut deleted = 0;
        for _ in 0..3 {
            let g = gate_deletions(&left, &hold, 5, now());
            assert!(g.delete_now.len() <= 5);
            assert!(g.hold.held.is_empty(), "confirmed names are not held");
            deleted += g.delete_now.len();
            left.retain(|n| !g.delete_now.contains(n));
            hold = g.hold;
        }
        assert_eq!(deleted, 12);
        assert!(hold.is_empty() && hold.confirmed_by.is_none());
    }

    #[test]
    fn a_cap_of_zero_holds_every_deletion_until_confirmed() {
        let g = gate_deletions(&names(1), &OrphanHold::default(), 0, now());
        assert!(g.delete_now.is_empty() && g.newly_held);
        let mut hold = g.hold;
        hold.confirmed = hold.held.clone();
        assert_eq!(
            gate_deletions(&names(1), &hold, 0, now()).delete_now.len(),
            1
        );
    }
}
