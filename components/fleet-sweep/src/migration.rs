//! The sweep drives an operator's migration unattended: before each claim round it releases the next batch
//! if the migration's pacing allows (under the migration lease, so sweeps on several hosts and the admin
//! API never release a batch twice), and while batches are left it waits for the next one instead of
//! ending early, so the released users are provisioned by the same sweep's rounds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_reconcile::migration_release::release_due_batch;
use fleet_reconcile::Clock;
use fleet_store::SqlConnection;
use fly_api::Transport;

use crate::sweep::{left, Run, Sweeper};

/// A sweep waits for the next batch only if this much of its budget would be left after it.
const MIN_TIME_AFTER_RELEASE: Duration = Duration::from_secs(2);

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    /// Releases the migration's due batch, if any. Returns when the next batch may go (`None`: no
    /// migration is releasing). A store failure is recorded and ends this sweep's part in the migration.
    pub(crate) fn release_migration(&mut self, run: &mut Run) -> Option<DateTime<Utc>> {
        if run.migration_stopped {
            return None;
        }
        match release_due_batch(self.store, self.owner, "sweep", self.clock.now()) {
            Ok(released) => {
                run.summary.migration_released = run
                    .summary
                    .migration_released
                    .saturating_add(u32::try_from(released.users).unwrap_or(u32::MAX));
                released.wake_at
            }
            Err(e) => {
                run.migration_stopped = true;
                run.fleet_wide_error(format!("migration: releasing a batch failed: {e}"));
                None
            }
        }
    }

    /// With no due row left, waits for the migration's next batch when it comes within the budget.
    /// Returns whether the sweep should go on (`false`: nothing to wait for).
    pub(crate) async fn wait_for_migration(
        &mut self,
        run: &Run,
        wake_at: Option<DateTime<Utc>>,
    ) -> bool {
        let Some(wake_at) = wake_at else {
            return false;
        };
        let now = self.clock.now();
        if left(wake_at.max(now), run.deadline) < MIN_TIME_AFTER_RELEASE {
            return false;
        }
        // A busy lease (another worker releasing) answers "now": poll again shortly, never spin.
        let wait = left(now, wake_at).max(Duration::from_millis(50));
        self.clock.sleep(wait).await;
        true
    }
}
