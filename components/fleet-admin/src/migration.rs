//! Migrating existing entitled users: the migration's progress as the API answers it. The pacing and the
//! durable state are shared with the sweep (`fleet_reconcile::migration`). Pure: the handlers do the I/O.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_store::{AppRow, AppStatus, UserId};
use serde::Serialize;

pub use fleet_reconcile::migration::{FlyLimits, MigrationState, Pacing, STATE_KEY};

/// Where a migration stands. `remaining` counts users neither active nor failed. `status` is `running`
/// (batches left, or released users still provisioning), `complete`, or `cancelled` (no further batch;
/// users already released still finish).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    pub id: String,
    pub status: &'static str,
    pub total: usize,
    pub released: usize,
    pub done: usize,
    pub failed: usize,
    pub remaining: usize,
    pub complete: bool,
    pub cancelled: bool,
    pub started_at: String,
    pub started_by: String,
    pub completed_at: Option<String>,
    pub cancelled_at: Option<String>,
    /// When the sweep may release the next batch (absent when none is left).
    pub next_release_at: Option<String>,
    /// Seconds until every user is at least released, at the pacing's ceiling (the provisions take longer).
    pub release_eta_seconds: u64,
    pub pacing: Pacing,
    pub users_per_sec_limit: f64,
    pub failed_users: Vec<String>,
}

/// A user's provision counts as done once the row is active, and failed once it gave up (status error;
/// the sweep keeps retrying it). A migration is complete once every user is released and none remains
/// (whoever did the work: the sweep, `/advance`, or a webhook).
pub fn progress(
    state: &MigrationState,
    rows: &HashMap<UserId, AppRow>,
    now: DateTime<Utc>,
) -> Progress {
    let (mut done, mut failed_users) = (0, Vec::new());
    for user in &state.users {
        match rows.get(user).map(|r| r.status) {
            Some(AppStatus::Active) => done += 1,
            Some(AppStatus::Error) => failed_users.push(user.to_string()),
            _ => {}
        }
    }
    let failed = failed_users.len();
    let remaining = state.users.len().saturating_sub(done + failed);
    let all_released = state.released >= state.users.len();
    let complete = state.completed_at.is_some() || (all_released && remaining == 0);
    let cancelled = state.cancelled_at.is_some() && !complete;
    let status = match (complete, cancelled) {
        (true, _) => "complete",
        (_, true) => "cancelled",
        _ => "running",
    };
    let next = state.wake_at(now);
    Progress {
        id: state.id.clone(),
        status,
        total: state.users.len(),
        released: state.released,
        done,
        failed,
        remaining,
        complete,
        cancelled,
        started_at: fleet_store::format_time(state.started_at),
        started_by: state.started_by.clone(),
        completed_at: state.completed_at.map(fleet_store::format_time),
        cancelled_at: state.cancelled_at.map(fleet_store::format_time),
        next_release_at: next.map(fleet_store::format_time),
        release_eta_seconds: release_eta(state, now).as_secs(),
        pacing: state.pacing,
        users_per_sec_limit: state.pacing.users_per_sec(),
        failed_users,
    }
}

/// Time until the last batch can be released at the pacing's ceiling (zero when none is left).
pub fn release_eta(state: &MigrationState, now: DateTime<Utc>) -> Duration {
    let Some(next) = state.wake_at(now) else {
        return Duration::ZERO;
    };
    let left = state.users.len().saturating_sub(state.released);
    let batches = left.div_ceil(state.pacing.batch_size.max(1) as usize);
    let first = (next - now).to_std().unwrap_or_default();
    let rest = state
        .pacing
        .interval()
        .checked_mul(u32::try_from(batches.saturating_sub(1)).unwrap_or(u32::MAX))
        .unwrap_or(Duration::MAX);
    first.saturating_add(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u32) -> UserId {
        UserId::parse(&format!("aaaaaaaa-0000-4000-8000-{n:012}")).unwrap()
    }

    #[test]
    fn progress_counts_done_failed_and_remaining() {
        let users: Vec<UserId> = (1..=4).map(user).collect();
        let state = MigrationState::new(
            "m".into(),
            users.clone(),
            Pacing {
                batch_size: 3,
                interval_ms: 1,
            },
            "t",
            chrono::Utc::now(),
        );
        let mut rows = HashMap::new();
        let mut active = AppRow::new(users[0]);
        active.status = AppStatus::Active;
        let mut error = AppRow::new(users[1]);
        error.status = AppStatus::Error;
        rows.insert(users[0], active);
        rows.insert(users[1], error);
        rows.insert(users[2], AppRow::new(users[2]));
        let p = progress(&state, &rows, chrono::Utc::now());
        assert_eq!((p.total, p.done, p.failed, p.remaining), (4, 1, 1, 2));
        assert_eq!((p.status, p.complete), ("running", false));
        assert_eq!(p.failed_users, vec![users[1].to_string()]);
    }

    #[test]
    fn complete_once_all_released_and_none_remains_and_cancel_shows() {
        let users: Vec<UserId> = (1..=2).map(user).collect();
        let t0 = chrono::Utc::now();
        let pacing = Pacing {
            batch_size: 1,
            interval_ms: 1000,
        };
        let mut state = MigrationState::new("m".into(), users.clone(), pacing, "t", t0);
        let rows: HashMap<UserId, AppRow> = users
            .iter()
            .map(|u| {
                let mut row = AppRow::new(*u);
                row.status = AppStatus::Active;
                (*u, row)
            })
            .collect();
        // Two batches of one, a second apart: the ETA is the wait for the first plus one interval.
        assert_eq!(release_eta(&state, t0), Duration::from_secs(1));
        state.released = 1;
        state.last_release_at = Some(t0);
        assert_eq!(progress(&state, &rows, t0).status, "running");
        assert_eq!(release_eta(&state, t0), Duration::from_secs(1));
        state.cancelled_at = Some(t0);
        let p = progress(&state, &rows, t0);
        assert_eq!(
            (p.status, p.cancelled, p.release_eta_seconds),
            ("cancelled", true, 0)
        );
        state.cancelled_at = None;
        state.released = 2;
        let p = progress(&state, &rows, t0);
        assert_eq!(
            (p.status, p.complete, p.next_release_at),
            ("complete", true, None)
        );
    }
}
