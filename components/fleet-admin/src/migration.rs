//! Migrating existing entitled users: pacing derived from Fly's documented rate limits, the migration's
//! durable state (kept in `fleet_state`), and its progress. Pure: the handlers do the I/O.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_store::{AppRow, AppStatus, UserId};
use serde::{Deserialize, Serialize};

/// The `fleet_state` key of the current (or last) migration.
pub const STATE_KEY: &str = "admin_migration";

/// Fly's documented Machines API limits (docs "working with the Machines API"; see
/// /work/shared/reference/fly-machines-api.md §3). They are per action and per app or machine id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlyLimits {
    /// Sustained requests per second per action (create machine, start, ...).
    pub action_per_sec: f64,
    /// Short-term burst per action.
    pub action_burst: f64,
    pub get_machine_per_sec: f64,
    pub get_machine_burst: f64,
    /// Org-wide.
    pub app_deletes_per_min: f64,
}

impl FlyLimits {
    pub const DOCUMENTED: FlyLimits = FlyLimits {
        action_per_sec: 1.0,
        action_burst: 3.0,
        get_machine_per_sec: 5.0,
        get_machine_burst: 10.0,
        app_deletes_per_min: 100.0,
    };
}

/// How fast a migration releases users to the provision path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pacing {
    pub batch_size: u32,
    pub interval_ms: u64,
}

impl Pacing {
    /// Every per-app/per-machine limit is scoped to one user's own app, and one provision calls each
    /// machine action about once, so they never bind across users. The calls that are org-scoped in effect
    /// (app creation, secrets) have no documented limit; Fleet holds them to the strictest documented
    /// per-action limit anyway: at most `burst` new apps at once, then `per_sec` sustained. A batch is one
    /// burst, and the next batch waits until the bucket has refilled.
    pub fn from_limits(limits: FlyLimits) -> Pacing {
        let batch = limits.action_burst.floor().max(1.0);
        let refill_secs = batch / limits.action_per_sec.max(f64::MIN_POSITIVE);
        Pacing {
            batch_size: batch as u32,
            interval_ms: (refill_secs * 1000.0).ceil() as u64,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    /// Users released per second at full speed.
    pub fn users_per_sec(&self) -> f64 {
        self.batch_size as f64 * 1000.0 / self.interval_ms.max(1) as f64
    }
}

/// A migration as stored in `fleet_state`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MigrationState {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    #[serde(with = "user_ids")]
    pub users: Vec<UserId>,
    /// How many of `users` (in order) have been marked due.
    pub released: usize,
    pub last_release_at: Option<DateTime<Utc>>,
    pub pacing: Pacing,
    pub completed_at: Option<DateTime<Utc>>,
}

impl MigrationState {
    pub fn new(
        id: String,
        users: Vec<UserId>,
        pacing: Pacing,
        by: &str,
        now: DateTime<Utc>,
    ) -> Self {
        MigrationState {
            id,
            started_at: now,
            started_by: by.to_string(),
            users,
            released: 0,
            last_release_at: None,
            pacing,
            completed_at: None,
        }
    }

    /// The next batch to mark due, if one is due at `now`.
    pub fn due_batch(&self, now: DateTime<Utc>) -> Option<std::ops::Range<usize>> {
        if self.completed_at.is_some() || self.released >= self.users.len() {
            return None;
        }
        let ready = self.next_release_at().is_none_or(|at| now >= at);
        ready.then(|| {
            self.released..(self.released + self.pacing.batch_size as usize).min(self.users.len())
        })
    }

    /// When the next batch may go, or `None` for "now" (nothing released yet).
    pub fn next_release_at(&self) -> Option<DateTime<Utc>> {
        self.last_release_at
            .map(|at| at + chrono::TimeDelta::milliseconds(self.pacing.interval_ms as i64))
    }
}

/// Where a migration stands. `remaining` counts users neither active nor failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    pub id: String,
    pub total: usize,
    pub released: usize,
    pub done: usize,
    pub failed: usize,
    pub remaining: usize,
    pub complete: bool,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub pacing: Pacing,
    pub users_per_sec_limit: f64,
    pub failed_users: Vec<String>,
}

/// A user's provision counts as done once the row is active, and failed once it gave up (status error;
/// the sweep keeps retrying it).
pub fn progress(state: &MigrationState, rows: &HashMap<UserId, AppRow>) -> Progress {
    let (mut done, mut failed_users) = (0, Vec::new());
    for user in &state.users {
        match rows.get(user).map(|r| r.status) {
            Some(AppStatus::Active) => done += 1,
            Some(AppStatus::Error) => failed_users.push(user.to_string()),
            _ => {}
        }
    }
    let failed = failed_users.len();
    let remaining = state.users.len() - done - failed;
    Progress {
        id: state.id.clone(),
        total: state.users.len(),
        released: state.released,
        done,
        failed,
        remaining,
        complete: state.completed_at.is_some(),
        started_at: fleet_store::format_time(state.started_at),
        completed_at: state.completed_at.map(fleet_store::format_time),
        pacing: state.pacing,
        users_per_sec_limit: state.pacing.users_per_sec(),
        failed_users,
    }
}

/// User ids as their text form in the stored JSON.
mod user_ids {
    use fleet_store::UserId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(users: &[UserId], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(users.iter().map(|u| u.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<UserId>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|u| UserId::parse(u).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u32) -> UserId {
        UserId::parse(&format!("aaaaaaaa-0000-4000-8000-{n:012}")).unwrap()
    }

    #[test]
    fn pacing_follows_the_documented_burst_and_rate() {
        let p = Pacing::from_limits(FlyLimits::DOCUMENTED);
        assert_eq!(
            p,
            Pacing {
                batch_size: 3,
                interval_ms: 3000
            }
        );
        assert_eq!(p.users_per_sec(), 1.0);
        // Twice the rate halves the wait; a bigger burst makes bigger batches.
        let faster = FlyLimits {
            action_per_sec: 2.0,
            action_burst: 6.0,
            ..FlyLimits::DOCUMENTED
        };
        assert_eq!(
            Pacing::from_limits(faster),
            Pacing {
                batch_size: 6,
                interval_ms: 3000
            }
        );
        // Not the seed's fixed 5 per 10 s.
        assert!(p.users_per_sec() > 0.5);
    }

    #[test]
    fn batches_are_released_in_order_and_only_when_due() {
        let t0 = chrono::Utc::now();
        let pacing = Pacing {
            batch_size: 3,
            interval_ms: 3000,
        };
        let mut state =
            MigrationState::new("m".into(), (1..=7).map(user).collect(), pacing, "t", t0);
        assert_eq!(state.due_batch(t0), Some(0..3));
        state.released = 3;
        state.last_release_at = Some(t0);
        assert_eq!(
            state.due_batch(t0 + chrono::TimeDelta::milliseconds(2999)),
            None
        );
        assert_eq!(
            state.due_batch(t0 + chrono::TimeDelta::seconds(3)),
            Some(3..6)
        );
        state.released = 6;
        assert_eq!(
            state.due_batch(t0 + chrono::TimeDelta::seconds(9)),
            Some(6..7)
        );
        state.released = 7;
        assert_eq!(state.due_batch(t0 + chrono::TimeDelta::seconds(99)), None);
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
        let p = progress(&state, &rows);
        assert_eq!((p.total, p.done, p.failed, p.remaining), (4, 1, 1, 2));
        assert_eq!(p.failed_users, vec![users[1].to_string()]);
    }
}
