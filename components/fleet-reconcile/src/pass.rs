//! One reconcile pass over one user: claim the row's lease, then observe → decide → act until the user
//! converges, a step must wait, a step fails, or the time budget runs out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_store::time::after as later;
use fleet_store::{
    backoff_delay, format_time, sanitize_error, AppRow, AppStatus, EventType, Failure, NewEvent,
    SqlConnection, Store, StoreError, UserId, Wait, ROW_LEASE_TTL,
};
use fly_api::{ErrorClass, FlyClient, FlyError, Transport};

use crate::cause::{wants_app, Cause};
use crate::clock::Clock;
use crate::config::ReconcileConfig;
use crate::decide::{decide, Action, Situation};
use crate::observe::observe_app;
use crate::outcome::Outcome;

/// Upper bound on steps per pass, so a flapping observation can never spin forever.
const MAX_STEPS_PER_PASS: usize = 24;

/// Why a step stopped the pass.
pub(crate) enum StepError {
    Fly(FlyError),
    Store(StoreError),
    /// Our lease expired and someone else took the row: stop without writing.
    LeaseLost,
    /// A condition Fleet cannot fix by retrying at once (e.g. every name candidate is foreign).
    Stuck(String),
}

/// How long to wait after a 429 without a usable `Retry-After`.
pub(crate) const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

impl From<FlyError> for StepError {
    fn from(e: FlyError) -> Self {
        StepError::Fly(e)
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Store(e)
    }
}

/// What a successful step asks of the loop.
pub(crate) enum StepResult {
    Continue,
    /// Stop this pass; the row is due again after this long.
    Pause(Duration),
}

/// Everything a pass needs. The store is borrowed mutably for the pass.
pub struct Reconciler<'a, C: SqlConnection, T: Transport, K: Clock> {
    pub store: &'a mut Store<C>,
    pub fly: &'a FlyClient<T>,
    pub config: &'a ReconcileConfig,
    pub clock: &'a K,
    /// Lease owner id, unique per worker (e.g. `provision:<uuid>`).
    pub owner: &'a str,
    /// Why this pass runs: recorded (tier, reason, operator) on its provision/deprovision events.
    pub cause: Cause,
}

impl<C: SqlConnection, T: Transport, K: Clock> Reconciler<'_, C, T, K> {
    /// Runs one pass over `user_id` within `budget`. Fly failures are recorded on the row (with backoff) and
    /// reported in the outcome; only store failures are returned as errors.
    pub async fn reconcile(
        &mut self,
        user_id: UserId,
        budget: Duration,
    ) -> Result<Outcome, StoreError> {
        let started = self.clock.now();
        let deadline = later(started, budget);
        let mut outcome = Outcome {
            user_id: user_id.to_string(),
            app_name: None,
            status: None,
            actions: Vec::new(),
            converged: false,
            next_attempt_at: None,
            busy: false,
            error: None,
            fly_calls: 0,
        };
        // A short lease, renewed before every step: a worker that trapped or was killed holds the row for at
        // most `ROW_LEASE_TTL`.
        let Some(mut row) = self
            .store
            .claim_lease(user_id, self.owner, started, ROW_LEASE_TTL)?
        else {
            // No row: a user who never had an app needs nothing unless entitled (handlers create the row).
            let existing = self.store.app(user_id)?;
            outcome.busy = existing.is_some();
            outcome.converged = existing.is_none() && !wants_app(&self.store.entitlement(user_id)?);
            fill_from_row(&mut outcome, existing.as_ref());
            return Ok(outcome);
        };
        let result = self.run_steps(&mut row, deadline, &mut outcome).await;
        // Whatever happened, let the next worker in.
        let released = self.store.release_lease(user_id, self.owner);
        result?;
        released?;
        fill_from_row(&mut outcome, Some(&row));
        Ok(outcome)
    }

    async fn run_steps(
        &mut self,
        row: &mut AppRow,
        deadline: DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Result<(), StoreError> {
        let uses_db_role = self.config.database.mints_roles();
        // Whether a step changed something (waiting for a machine is not progress).
        let mut progressed = false;
        let mut last_step = "observe";
        let mut entitled_now = None;
        for _ in 0..MAX_STEPS_PER_PASS {
            if self.clock.now() >= deadline {
                break;
            }
            if !self
                .store
                .renew_lease(row.user_id, self.owner, self.clock.now(), ROW_LEASE_TTL)?
            {
                return Ok(()); // Another worker took the row over: it owns the outcome now.
            }
            let entitlement = self.store.entitlement(row.user_id)?;
            self.cause.saw_tier(entitlement.tier);
            let entitled = wants_app(&entitlement);
            entitled_now = Some(entitled);
            let app_name = row
                .fly_app_name
                .as_deref()
                .map(crate::steps::app_name)
                .transpose();
            let observed = match app_name {
                Ok(name) => observe_app(self.fly, name.as_ref()).await,
                Err(e) => Err(e),
            };
            let observed = match observed {
                Ok(observed) => observed,
                Err(e) => return self.stop_after(StepError::Fly(e), row, entitled, outcome),
            };
            let action = decide(Situation {
                entitled,
                row: Some(row),
                observed: &observed,
                uses_db_role,
            });
            if action == Action::Converged {
                outcome.converged = true;
                return only_store_errors(self.settle(row));
            }
            last_step = action_label(&action);
            outcome.actions.push(last_step.to_string());
            match self.execute(&action, row, deadline).await {
                Ok(StepResult::Continue) => {
                    progressed |= !matches!(action, Action::WaitForMachine { .. });
                }
                Ok(StepResult::Pause(after)) => return only_store_errors(self.requeue(row, after)),
                Err(e) => return self.stop_after(e, row, entitled, outcome),
            }
        }
        // Out of time or steps. After progress the row is due again at once, for the next worker to finish;
        // a pass that only waited counts as a failed attempt, so a step that never completes backs off and
        // ends in `error` with its reason instead of looping unseen.
        if progressed {
            return only_store_errors(self.requeue(row, Duration::ZERO));
        }
        let entitled = match entitled_now {
            Some(entitled) => entitled,
            None => wants_app(&self.store.entitlement(row.user_id)?),
        };
        let reason = format!("no progress within the pass budget (last step: {last_step})");
        self.stop_after(StepError::Stuck(reason), row, entitled, outcome)
    }

    /// Saves the row under our lease.
    pub(crate) fn save(&mut self, row: &AppRow) -> Result<(), StepError> {
        if self
            .store
            .upsert_app(row, Some(self.owner), self.clock.now())?
        {
            Ok(())
        } else {
            Err(StepError::LeaseLost)
        }
    }

    /// Appends an event about the row.
    pub(crate) fn event(
        &mut self,
        row: &AppRow,
        event_type: EventType,
        metadata: serde_json::Value,
    ) -> Result<(), StepError> {
        let mut event = NewEvent::for_app(row, event_type);
        event.metadata = metadata;
        self.cause.stamp(event_type, &mut event.metadata);
        self.store.append_event(&event, self.clock.now())?;
        Ok(())
    }

    fn settle(&mut self, row: &mut AppRow) -> Result<(), StepError> {
        if row.next_attempt_at.is_none() && row.attempts == 0 && row.error_message.is_none() {
            return Ok(());
        }
        row.next_attempt_at = None;
        row.attempts = 0;
        row.error_message = None;
        self.save(row)
    }

    fn requeue(&mut self, row: &mut AppRow, after: Duration) -> Result<(), StepError> {
        row.next_attempt_at = Some(later(self.clock.now(), after));
        self.save(row)
    }

    /// A 429: the row waits out `Retry-After` with the reason recorded; it is not a failed attempt.
    fn wait_out(
        &mut self,
        row: &mut AppRow,
        retry_after: Option<Duration>,
        error: &FlyError,
        outcome: &mut Outcome,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let after = retry_after.unwrap_or(DEFAULT_RATE_LIMIT_WAIT);
        let reason = format!(
            "waiting {}s for Fly's rate limit (Retry-After): {error}",
            after.as_secs_f64().ceil() as u64
        );
        let wait = Wait {
            user_id: row.user_id,
            lease_owner: self.owner,
            seen_generation: row.due_generation,
            reason: &reason,
            next_attempt_at: later(now, after),
            now,
        };
        if self.store.record_wait(&wait)? {
            row.error_message = Some(sanitize_error(&reason));
            row.next_attempt_at = Some(wait.next_attempt_at);
        }
        outcome.error = Some(sanitize_error(&reason));
        Ok(())
    }

    /// Ends the pass after a failed step: 429s only slow the row down; other failures count as attempts.
    fn stop_after(
        &mut self,
        error: StepError,
        row: &mut AppRow,
        entitled: bool,
        outcome: &mut Outcome,
    ) -> Result<(), StoreError> {
        let message = match error {
            StepError::Store(e) => return Err(e),
            StepError::LeaseLost => return Ok(()),
            StepError::Fly(
                ref e @ FlyError {
                    class: ErrorClass::RateLimited { retry_after },
                    ..
                },
            ) => return self.wait_out(row, retry_after, e, outcome),
            StepError::Fly(e) => e.to_string(),
            StepError::Stuck(message) => message,
        };
        let now = self.clock.now();
        let attempts = row.attempts + 1;
        let delay = backoff_delay(attempts.clamp(0, 64) as u32, unit_random());
        let give_up = entitled && attempts >= self.config.max_attempts_before_error;
        let failure = Failure {
            user_id: row.user_id,
            lease_owner: self.owner,
            seen_generation: row.due_generation,
            error: &message,
            next_attempt_at: later(now, delay),
            status: give_up.then_some(AppStatus::Error),
            now,
        };
        if let Some(stored_attempts) = self.store.record_failure(&failure)? {
            row.attempts = stored_attempts;
            row.error_message = Some(sanitize_error(&message));
            row.next_attempt_at = Some(failure.next_attempt_at);
            if give_up {
                row.status = AppStatus::Error;
            }
            let event_type = if entitled {
                EventType::ProvisionFailed
            } else {
                EventType::DeprovisionFailed
            };
            let mut event = NewEvent::for_app(row, event_type);
            event.error_details = Some(message.clone());
            event.metadata = serde_json::json!({"attempts": stored_attempts});
            self.cause.stamp(event_type, &mut event.metadata);
            self.store.append_event(&event, now)?;
        }
        outcome.error = Some(sanitize_error(&message));
        Ok(())
    }
}

/// Keeps only store failures of a bookkeeping save: a lost lease means another worker owns the row now.
fn only_store_errors(result: Result<(), StepError>) -> Result<(), StoreError> {
    match result {
        Err(StepError::Store(e)) => Err(e),
        _ => Ok(()),
    }
}

fn fill_from_row(outcome: &mut Outcome, row: Option<&AppRow>) {
    if let Some(row) = row {
        outcome.app_name = row.fly_app_name.clone();
        outcome.status = Some(row.status.as_str().to_string());
        outcome.next_attempt_at = row.next_attempt_at.map(format_time);
    }
}

/// Uniform in [0, 1) from the OS random source (wasi random inside Spin).
pub(crate) fn unit_random() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// The snake_case name of an action, for outcomes and events.
pub fn action_label(action: &Action) -> &'static str {
    match action {
        Action::ChooseName => "choose_name",
        Action::BeginProvision => "begin_provision",
        Action::CreateApp => "create_app",
        Action::ProvisionSecrets => "provision_secrets",
        Action::CreateMachine => "create_machine",
        Action::StartMachine { .. } => "start_machine",
        Action::WaitForMachine { .. } => "wait_for_machine",
        Action::StopMachine { .. } => "stop_machine",
        Action::DestroyMachine { .. } => "destroy_machine",
        Action::MarkActive { .. } => "mark_active",
        Action::BeginDeprovision => "begin_deprovision",
        Action::RevokeDatabaseRole => "revoke_database_role",
        Action::DeleteApp => "delete_app",
        Action::MarkDeleted => "mark_deleted",
        Action::Converged => "converged",
    }
}
