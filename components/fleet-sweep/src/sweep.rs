//! One sweep: claim due rows in rounds (one query each, leased so concurrent sweeps split the work),
//! observe each round concurrently with a bound, then apply plans one row at a time, until no due row is
//! left or the budget runs out.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_reconcile::{Clock, ReconcileConfig};
use fleet_store::time::{after, before};
use fleet_store::{
    AppRow, AppStatus, DueQuery, EventType, NewEvent, SqlConnection, Store, StoreError, UserId,
    Wait, ROW_LEASE_TTL,
};
use fly_api::{FlyClient, Transport};
use futures::StreamExt;

use crate::config::SweepConfig;
use crate::cost::PriceTable;
use crate::observe::{Observed, Observer};
use crate::plan::RepairKind;
use crate::rollout::RolloutState;
use crate::summary::SweepSummary;

/// The lease of the sweep that does the whole-fleet work (orphans, rollout) while others only sweep rows.
pub const FLEET_WIDE_LEASE: &str = "health.fleet_wide";

/// Rows kept due past this many are not counted exactly in `remaining`.
const REMAINING_COUNT_LIMIT: u32 = 100_000;

/// Everything a sweep needs. The store is borrowed mutably for the sweep.
pub struct Sweeper<'a, C: SqlConnection, T: Transport, P: Transport, K: Clock> {
    pub store: &'a mut Store<C>,
    pub fly: &'a FlyClient<T>,
    /// Transport for the screeners' `/health` (not Fly API calls).
    pub probe: &'a P,
    /// What every app should look like (the provision path's configuration).
    pub reconcile: &'a ReconcileConfig,
    pub config: &'a SweepConfig,
    pub prices: &'a PriceTable,
    pub clock: &'a K,
    /// Lease owner id of this sweep, unique per run (e.g. `sweep:<uuid>`).
    pub owner: &'a str,
    /// Fly calls made so far through `fly` (e.g. a `CountingTransport`'s count).
    pub fly_calls: &'a dyn Fn() -> u32,
}

/// State carried through one sweep.
pub(crate) struct Run {
    pub started: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub summary: SweepSummary,
    pub rollout: RolloutState,
    /// The provision configuration with the image new machines may use (never a halted rollout's).
    pub repair_config: ReconcileConfig,
    pub rolled_this_sweep: usize,
    /// This sweep holds the fleet-wide lease: it alone scans for orphans and drives the rollout.
    pub drives_fleet: bool,
    /// The store failed while releasing a migration batch: this sweep leaves the migration alone.
    pub migration_stopped: bool,
    /// What the fleet-wide work learnt for the alerts.
    pub alert_facts: crate::alerts::AlertFacts,
}

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    /// Runs one sweep within the configured budget. Fly trouble is counted, never returned; only store
    /// failures end the sweep with an error.
    pub async fn run(&mut self) -> Result<SweepSummary, StoreError> {
        let calls_before = (self.fly_calls)();
        let started = self.clock.now();
        let drives_fleet = self.store.claim_fleet_lease(
            FLEET_WIDE_LEASE,
            self.owner,
            started,
            self.lease_ttl(),
        )?;
        let rollout = self.load_rollout(started, drives_fleet)?;
        let mut repair_config = self.reconcile.clone();
        repair_config.image = rollout
            .image_for_new_machines(&self.reconcile.image)
            .to_string();
        let mut run = Run {
            started,
            deadline: after(started, self.config.budget),
            summary: SweepSummary::default(),
            rollout,
            repair_config,
            rolled_this_sweep: 0,
            drives_fleet,
            migration_stopped: false,
            alert_facts: Default::default(),
        };
        let mut held = Held::default();
        let swept = self.sweep_due_rows(&mut run, &mut held).await;
        // Rows left due (failed, skipped or not reached) are given back, whatever happened above.
        let released = self.release_all(&held);
        swept?;
        released?;
        if drives_fleet {
            if self.clock.now() < run.deadline {
                self.fleet_wide(&mut run).await?;
            }
            match self.evaluate_alerts(&run) {
                Ok(queued) => run.summary.alerts_queued = queued,
                Err(e) => run.fleet_wide_error(format!("alert evaluation failed: {e}")),
            }
            self.record_fleet_wide_errors(&run)?;
            self.store
                .release_fleet_lease(FLEET_WIDE_LEASE, self.owner)?;
        }
        run.summary.remaining = self.remaining(&run)?;
        run.summary.fly_calls = (self.fly_calls)().saturating_sub(calls_before);
        run.summary.duration_ms = (self.clock.now() - started).num_milliseconds().max(0) as u64;
        Ok(run.summary)
    }

    /// The fleet-wide lease covers the whole sweep; a lease whose holder died expires on its own.
    fn lease_ttl(&self) -> Duration {
        self.config.budget.saturating_add(Duration::from_secs(60))
    }

    /// The claim → observe → apply rounds. Returns the rows still leased to us (to release). Row leases are
    /// short ([`ROW_LEASE_TTL`]) and renewed before each row is applied, so rows of a sweep that trapped or
    /// was killed are free again soon.
    ///
    /// A store failure on one row, or a row the store cannot read, skips that row (recorded as an event, its
    /// lease given back at the end) and the sweep goes on; only a failing claim ends it.
    async fn sweep_due_rows(&mut self, run: &mut Run, held: &mut Held) -> Result<(), StoreError> {
        let checked_before = before(run.started, self.config.check_interval);
        let mut seen = HashSet::new();
        let mut seen_unreadable = HashSet::new();
        while self.clock.now() < run.deadline {
            // An operator's migration releases its next batch here when its pace allows (see migration.rs).
            let migration_wake = self.release_migration(run);
            let due = DueQuery {
                now: self.clock.now(),
                checked_before,
                limit: self.config.claim_batch(),
            };
            let read = self.store.claim_due_each(due, self.owner, ROW_LEASE_TTL)?;
            if read.rows.is_empty() && read.unreadable.is_empty() {
                if self.wait_for_migration(run, migration_wake).await {
                    continue;
                }
                break;
            }
            // Unreadable rows stay leased to us until the sweep ends, so later rounds do not claim them again.
            let mut new_unreadable = 0;
            for bad in read.unreadable {
                let Some(id) = bad.id.clone() else { continue };
                if seen_unreadable.insert(id.clone()) {
                    new_unreadable += 1;
                    run.summary.skipped_rows += 1;
                    self.record_skipped(bad.user_id, Some(id.clone()), &bad.reason);
                }
                held.by_id.push(id);
            }
            let claimed = read.rows;
            if claimed.is_empty() && new_unreadable == 0 {
                if self.wait_for_migration(run, migration_wake).await {
                    continue;
                }
                break;
            }
            // A row handled earlier in this sweep and due again (e.g. requeued by a repair) waits for the
            // next sweep; holding its lease keeps it out of later rounds.
            let (fresh, again): (Vec<AppRow>, Vec<AppRow>) = claimed
                .into_iter()
                .partition(|row| !seen.contains(&row.user_id));
            held.users.extend(again.iter().map(|row| row.user_id));
            seen.extend(fresh.iter().map(|row| row.user_id));
            run.summary.considered += fresh.len() as u32;
            for (row, observed) in self.observe_round(fresh, run.deadline).await {
                if matches!(observed, Observed::OutOfTime) {
                    held.users.push(row.user_id);
                    continue;
                }
                match self.settle(run, &row, observed).await {
                    Ok(true) => {}
                    Ok(false) => held.users.push(row.user_id),
                    Err(error) => {
                        run.summary.skipped_rows += 1;
                        let reason = fleet_store::sanitize_error(&error.to_string());
                        self.record_skipped(Some(row.user_id), row.id.clone(), &reason);
                        held.users.push(row.user_id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Acts on one observed row. Returns whether its lease was handed back (or is no longer ours).
    async fn settle(
        &mut self,
        run: &mut Run,
        row: &AppRow,
        observed: Observed,
    ) -> Result<bool, StoreError> {
        // Observing may have taken a while: the row is still ours only if the lease renews.
        if !self
            .store
            .renew_lease(row.user_id, self.owner, self.clock.now(), ROW_LEASE_TTL)?
        {
            return Ok(true);
        }
        match observed {
            Observed::Seen(observation) => self.apply(run, row.clone(), observation).await,
            Observed::Failed {
                error,
                rate_limited,
                retry_after,
            } => {
                run.summary.observe_failures += 1;
                self.observe_failed(run, row, &error, rate_limited, retry_after)
                    .await
            }
            Observed::OutOfTime => Ok(false),
        }
    }

    /// Records a row the sweep skipped (best effort: the store may be what failed). `reason` is sanitised.
    fn record_skipped(&mut self, user_id: Option<UserId>, row_id: Option<String>, reason: &str) {
        let event = NewEvent {
            user_id,
            fly_app_id: row_id,
            fly_app_name: None,
            event_type: EventType::ErrorOccurred,
            status: None,
            metadata: serde_json::json!({"sweep": "row_skipped"}),
            error_details: Some(format!("the sweep skipped this row: {reason}")),
        };
        let _ = self.store.append_event(&event, self.clock.now());
    }

    /// Fly could not be asked about a row. A row at its desired state (entitled and active) is simply looked
    /// at again by the next sweep. Any other row gets an outcome: a 429 records its reason and waits out
    /// `Retry-After`; other failures go to a reconcile pass, which observes again and either progresses or
    /// counts the attempt with its reason and backs off. Returns whether the lease was handed back.
    async fn observe_failed(
        &mut self,
        run: &mut Run,
        row: &AppRow,
        error: &str,
        rate_limited: bool,
        retry_after: Option<Duration>,
    ) -> Result<bool, StoreError> {
        let entitled = fleet_reconcile::wants_app(&self.store.entitlement(row.user_id)?);
        if entitled && row.status == AppStatus::Active {
            return Ok(false);
        }
        if rate_limited {
            let now = self.clock.now();
            let wait = retry_after.unwrap_or(Duration::from_secs(1));
            let reason = format!(
                "waiting {}s for Fly's rate limit (Retry-After): {error}",
                wait.as_secs_f64().ceil() as u64
            );
            self.store.record_wait(&Wait {
                user_id: row.user_id,
                lease_owner: self.owner,
                seen_generation: row.due_generation,
                reason: &reason,
                next_attempt_at: after(now, wait),
                now,
            })?;
            return Ok(false);
        }
        let kind = match (entitled, row.status) {
            (false, _) => RepairKind::Deprovision,
            (true, AppStatus::Active) => RepairKind::Repair,
            (true, _) => RepairKind::Provision,
        };
        self.reconcile_pass(run, row.user_id, kind).await
    }

    /// Observes a round of rows, at most `concurrency` at a time (plain futures combinators, so the same
    /// code runs on tokio natively and on Spin's executor in wasm).
    async fn observe_round(
        &self,
        rows: Vec<AppRow>,
        deadline: DateTime<Utc>,
    ) -> Vec<(AppRow, Observed)> {
        let observer = Observer {
            fly: self.fly,
            probe: self.probe,
            clock: self.clock,
            config: self.config,
            probe_token: self.reconcile.exposure.probe_key.clone(),
            deadline,
        };
        let observer = &observer;
        futures::stream::iter(rows.into_iter().map(|row| async move {
            let observed = observer.observe(&row).await;
            (row, observed)
        }))
        .buffer_unordered(self.config.concurrency.max(1))
        .collect()
        .await
    }

    /// Gives every held lease back, trying each even when one fails; returns the first failure.
    fn release_all(&mut self, held: &Held) -> Result<(), StoreError> {
        let mut first_error = None;
        for user in &held.users {
            if let Err(e) = self.store.release_lease(*user, self.owner) {
                first_error.get_or_insert(e);
            }
        }
        for id in &held.by_id {
            if let Err(e) = self.store.release_lease_by_id(id, self.owner) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn remaining(&mut self, run: &Run) -> Result<u32, StoreError> {
        let due = DueQuery {
            now: self.clock.now(),
            checked_before: before(run.started, self.config.check_interval),
            limit: REMAINING_COUNT_LIMIT,
        };
        let read = self.store.select_due_each(due)?;
        Ok((read.rows.len() + read.unreadable.len()) as u32)
    }
}

/// Leases this sweep still holds, to give back when it ends.
#[derive(Default)]
struct Held {
    users: Vec<UserId>,
    /// Rows that could not be read, by row id.
    by_id: Vec<String>,
}

impl Run {
    /// Records fleet-wide work Fly failed (sanitised; the next sweep tries again).
    pub(crate) fn fleet_wide_error(&mut self, reason: String) {
        self.summary
            .fleet_wide_errors
            .push(fleet_store::sanitize_error(&reason));
    }
}

/// Time left before `deadline`, zero when past.
pub(crate) fn left(now: DateTime<Utc>, deadline: DateTime<Utc>) -> Duration {
    (deadline - now).to_std().unwrap_or_default()
}
