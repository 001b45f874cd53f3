//! Migrating existing entitled users: pacing derived from Fly's documented rate limits and the migration's
//! durable state (kept in `fleet_state`), shared by the admin API (start, cancel, progress) and the sweep
//! (which releases due batches unattended). Pure: [`crate::migration_release`] does the I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_store::UserId;
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

/// Bounds of the pacing variables (`migration_batch_size`, `migration_interval_ms`).
pub const MAX_BATCH_SIZE: u32 = 1000;
pub const MIN_INTERVAL_MS: u64 = 100;
pub const MAX_INTERVAL_MS: u64 = 24 * 3600 * 1000;

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

    /// The pacing from the variables' values (`None`: unset, Fly's documented default). An error names
    /// the variable and the problem, never echoes more than the value's shape.
    pub fn from_variables(
        batch_size: Option<&str>,
        interval_ms: Option<&str>,
    ) -> Result<Pacing, (&'static str, String)> {
        let default = Pacing::from_limits(FlyLimits::DOCUMENTED);
        let batch_size = match batch_size.map(str::trim).filter(|v| !v.is_empty()) {
            None => default.batch_size,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_BATCH_SIZE).contains(n))
                .ok_or((
                    "migration_batch_size",
                    format!("must be a whole number from 1 to {MAX_BATCH_SIZE}"),
                ))?,
        };
        let interval_ms = match interval_ms.map(str::trim).filter(|v| !v.is_empty()) {
            None => default.interval_ms,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(n))
                .ok_or((
                    "migration_interval_ms",
                    format!("must be milliseconds from {MIN_INTERVAL_MS} to {MAX_INTERVAL_MS}"),
                ))?,
        };
        Ok(Pacing {
            batch_size,
            interval_ms,
        })
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
    /// Set by a cancel: no further batch is released (users already released finish their provision).
    #[serde(default)]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cancelled_by: Option<String>,
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
            cancelled_at: None,
            cancelled_by: None,
        }
    }

    /// Whether batches are still to be released (not completed, not cancelled, users left).
    pub fn releasing(&self) -> bool {
        self.completed_at.is_none()
            && self.cancelled_at.is_none()
            && self.released < self.users.len()
    }

    /// The next batch to mark due, if one is due at `now`.
    pub fn due_batch(&self, now: DateTime<Utc>) -> Option<std::ops::Range<usize>> {
        if !self.releasing() {
            return None;
        }
        let ready = self.next_release_at().is_none_or(|at| now >= at);
        let end = self
            .released
            .saturating_add(self.pacing.batch_size as usize)
            .min(self.users.len());
        ready.then_some(self.released..end)
    }

    /// When the next batch may go, or `None` for "now" (nothing released yet).
    pub fn next_release_at(&self) -> Option<DateTime<Utc>> {
        let interval = i64::try_from(self.pacing.interval_ms).unwrap_or(i64::MAX);
        self.last_release_at.map(|at| {
            chrono::TimeDelta::try_milliseconds(interval)
                .and_then(|d| at.checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        })
    }

    /// When a worker should look again for the next batch: `None` when nothing is left to release.
    pub fn wake_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.releasing()
            .then(|| self.next_release_at().unwrap_or(now).max(now))
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
    }

    #[test]
    fn pacing_variables_default_to_flys_limits_and_are_validated() {
        assert_eq!(
            Pacing::from_variables(None, Some(" ")),
            Ok(Pacing::from_limits(FlyLimits::DOCUMENTED))
        );
        assert_eq!(
            Pacing::from_variables(Some("10"), Some("60000")),
            Ok(Pacing {
                batch_size: 10,
                interval_ms: 60000
            })
        );
        for bad in ["0", "-1", "1001", "x", "2.5"] {
            assert_eq!(
                Pacing::from_variables(Some(bad), None).unwrap_err().0,
                "migration_batch_size"
            );
        }
        for bad in ["0", "99", "86400001", "soon", "18446744073709551616"] {
            assert_eq!(
                Pacing::from_variables(None, Some(bad)).unwrap_err().0,
                "migration_interval_ms"
            );
        }
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
        assert_eq!(state.wake_at(t0), Some(t0));
        state.released = 3;
        state.last_release_at = Some(t0);
        let almost = t0 + chrono::TimeDelta::milliseconds(2999);
        assert_eq!(state.due_batch(almost), None);
        assert_eq!(
            state.wake_at(almost),
            Some(t0 + chrono::TimeDelta::seconds(3))
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
        assert_eq!(state.wake_at(t0), None, "nothing left to release");
    }

    #[test]
    fn a_cancelled_migration_releases_nothing_more() {
        let t0 = chrono::Utc::now();
        let pacing = Pacing {
            batch_size: 2,
            interval_ms: 1000,
        };
        let mut state =
            MigrationState::new("m".into(), (1..=5).map(user).collect(), pacing, "t", t0);
        state.released = 2;
        state.last_release_at = Some(t0);
        state.cancelled_at = Some(t0);
        assert_eq!(state.due_batch(t0 + chrono::TimeDelta::seconds(60)), None);
        assert_eq!(state.wake_at(t0), None);
    }

    #[test]
    fn an_absurd_interval_saturates_instead_of_overflowing() {
        let t0 = chrono::Utc::now();
        let pacing = Pacing {
            batch_size: usize::MAX as u32,
            interval_ms: u64::MAX,
        };
        let mut state = MigrationState::new("m".into(), vec![user(1), user(2)], pacing, "t", t0);
        state.last_release_at = Some(t0);
        assert_eq!(state.next_release_at(), Some(DateTime::<Utc>::MAX_UTC));
        state.last_release_at = None;
        assert_eq!(state.due_batch(t0), Some(0..2));
    }

    #[test]
    fn state_written_before_cancel_existed_still_reads() {
        let t0 = chrono::Utc::now();
        let state = MigrationState::new(
            "m".into(),
            vec![user(1)],
            Pacing::from_limits(FlyLimits::DOCUMENTED),
            "t",
            t0,
        );
        let mut value = serde_json::to_value(&state).unwrap();
        let map = value.as_object_mut().unwrap();
        map.remove("cancelled_at");
        map.remove("cancelled_by");
        let read: MigrationState = serde_json::from_value(value).unwrap();
        assert_eq!(read, state);
    }
}
