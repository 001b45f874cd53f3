//! Applying one app's plan: store the health, cost and image; write a transition event; run the repair
//! (a reconcile pass, a restart, a recreate) or roll the machine to the new image.

use std::time::Duration;

use fleet_reconcile::{decide, Action, Clock, Reconciler, Situation};
use fleet_store::{
    AppRow, EventType, NewEvent, SqlConnection, StoreError, UserId, Wait, BACKOFF_BASE,
};
use fly_api::types::StopRequest;
use fly_api::{AppName, ErrorClass, FlyError, MachineId, Transport};
use serde_json::json;

use crate::health::{assess, Observation};
use crate::plan::{plan_app, PlanInput, Repair, RepairKind};
use crate::sweep::{left, Run, Sweeper};

/// A repair needs at least this much budget left to be worth starting.
const MIN_REPAIR_TIME: Duration = Duration::from_secs(2);

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    /// Applies the plan for one observed row we hold the lease of. Returns whether the lease was handed
    /// back (or lost); `false` leaves it for the caller to release.
    pub(crate) async fn apply(
        &mut self,
        run: &mut Run,
        row: AppRow,
        observation: Observation,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let entitled = fleet_reconcile::wants_app(&self.store.entitlement(row.user_id)?);
        let uses_db_role = self.reconcile.database.mints_roles();
        let action = decide(Situation {
            entitled,
            row: Some(&row),
            observed: &observation.app,
            uses_db_role,
        });
        // Health is judged for apps that should be running; a provision in progress is not "unhealthy".
        let judged = entitled && row.status == fleet_store::AppStatus::Active;
        let assessment = judged.then(|| {
            assess(
                &observation,
                row.machine_id.as_deref(),
                &row.user_id.to_string(),
            )
        });
        let plan = plan_app(PlanInput {
            row: &row,
            entitled,
            action: &action,
            assessment: assessment.as_ref(),
            now,
            unhealthy_grace: self.config.unhealthy_grace,
            prices: self.prices,
        });

        let mut updated = row.clone();
        updated.last_health_check = Some(now);
        updated.monthly_cost_estimate_usd = plan.monthly_cost_estimate_usd;
        updated.accrued_cost_usd += plan.accrued_add_usd;
        if let Some(health) = &plan.health {
            updated.health_status = health.status;
            updated.health_detail = health.detail.clone();
        }
        if action == Action::Converged {
            if let Some(image) = assessment.as_ref().and_then(|a| a.image.clone()) {
                updated.docker_image = Some(image);
            }
            // Nothing left to do: the row stops being due (a newer due mark still wins in the store).
            updated.next_attempt_at = None;
            updated.attempts = 0;
            updated.error_message = None;
        }
        if !self.store.upsert_app(&updated, Some(self.owner), now)? {
            return Ok(true); // Lease lost: another worker owns the row now.
        }
        run.summary.checked += 1;
        if let Some(health) = &plan.health {
            match health.status {
                fleet_store::HealthStatus::Healthy => run.summary.healthy += 1,
                _ => run.summary.unhealthy += 1,
            }
            if let Some(event_type) = health.event {
                let reasons = health.detail["reasons"].clone();
                self.event(&updated, event_type, json!({"reasons": reasons}))?;
            }
        }

        match plan.repair {
            Repair::None => {
                let image = assessment
                    .as_ref()
                    .and_then(|a| a.image.clone())
                    .unwrap_or_default();
                let healthy = plan
                    .health
                    .as_ref()
                    .is_some_and(|h| h.status == fleet_store::HealthStatus::Healthy);
                if healthy && action == Action::Converged && run.rollout.wants_update(&image) {
                    self.maybe_roll(run, &mut updated).await?;
                } else if healthy && action == Action::Converged {
                    // A tier change between Pro and Elite: resized in place, as safely as an image.
                    self.maybe_resize(run, &mut updated).await?;
                }
            }
            Repair::Reconcile(kind) => return self.reconcile_pass(run, row.user_id, kind).await,
            Repair::Restart { machine_id } => {
                let result = self.restart(&updated, &machine_id, run).await;
                run.summary.repaired += u32::from(result.is_ok());
                self.recovery_attempted(&updated, "restart", &machine_id, result.err())?;
            }
            Repair::Recreate { machine_id } => {
                let destroyed = self.destroy(&updated, &machine_id).await;
                let ok = destroyed.is_ok();
                self.recovery_attempted(&updated, "recreate", &machine_id, destroyed.err())?;
                if ok {
                    return self
                        .reconcile_pass(run, row.user_id, RepairKind::Repair)
                        .await;
                }
            }
        }
        self.store.release_lease(row.user_id, self.owner)?;
        Ok(true)
    }

    /// A reconcile pass (the provision/deprovision path) under the lease we already hold; the reconciler
    /// releases it.
    pub(crate) async fn reconcile_pass(
        &mut self,
        run: &mut Run,
        user_id: UserId,
        kind: RepairKind,
    ) -> Result<bool, StoreError> {
        let budget = left(self.clock.now(), run.deadline).min(self.config.repair_budget);
        if budget < MIN_REPAIR_TIME {
            return Ok(false);
        }
        let config = self.tier_config(run, user_id)?;
        let mut reconciler = Reconciler {
            store: &mut *self.store,
            fly: self.fly,
            config: &config,
            clock: self.clock,
            owner: self.owner,
            cause: fleet_reconcile::Cause::sweep(),
        };
        let outcome = reconciler.reconcile(user_id, budget).await?;
        if outcome.error.is_none() && !outcome.actions.is_empty() {
            let counter = match kind {
                RepairKind::Provision => &mut run.summary.provisioned,
                RepairKind::Deprovision => &mut run.summary.deprovisioned,
                RepairKind::Repair => &mut run.summary.repaired,
            };
            *counter += 1;
        }
        Ok(true)
    }

    /// Stops the machine gracefully, waits for it to stop, and starts it again.
    async fn restart(&self, row: &AppRow, machine_id: &str, run: &Run) -> Result<(), FlyError> {
        let (app, machine) = ids(row, machine_id)?;
        let stop = StopRequest {
            signal: Some("SIGTERM".into()),
            timeout: Some("30s".into()),
        };
        self.fly.stop_machine(&app, &machine, &stop, None).await?;
        let wait = left(self.clock.now(), run.deadline)
            .clamp(Duration::from_secs(1), Duration::from_secs(60));
        match self
            .fly
            .wait_machine(&app, &machine, "stopped", wait, None)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_wait_timeout() => {}
            Err(e) => return Err(e),
        }
        self.fly.start_machine(&app, &machine, None).await
    }

    async fn destroy(&self, row: &AppRow, machine_id: &str) -> Result<(), FlyError> {
        let (app, machine) = ids(row, machine_id)?;
        match self.fly.delete_machine(&app, &machine, true, None).await {
            Err(e) if e.class != ErrorClass::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Records a recovery step: a `recovery_attempted` event, and when Fly failed it, the reason on the event
    /// (`error_details`) and on the row (`error_message`) with a backoff (`Retry-After` for a 429), so the
    /// failed repair is visible and tried again, never silently dropped. A failed repair of an active app
    /// counts no attempt: the app stays active while the recovery steps go on.
    fn recovery_attempted(
        &mut self,
        row: &AppRow,
        step: &str,
        machine_id: &str,
        error: Option<FlyError>,
    ) -> Result<(), StoreError> {
        let reason = error
            .as_ref()
            .map(|e| format!("{step} of machine {machine_id} failed: {e}"));
        let mut event = NewEvent::for_app(row, EventType::RecoveryAttempted);
        event.metadata = json!({"step": step, "machine_id": machine_id, "error": reason});
        event.error_details = reason.clone();
        let now = self.clock.now();
        self.store.append_event(&event, now)?;
        if let (Some(error), Some(reason)) = (error, reason) {
            let wait = match error.class {
                ErrorClass::RateLimited { retry_after } => {
                    retry_after.unwrap_or(Duration::from_secs(1))
                }
                _ => BACKOFF_BASE,
            };
            self.store.record_wait(&Wait {
                user_id: row.user_id,
                lease_owner: self.owner,
                seen_generation: row.due_generation,
                reason: &reason,
                next_attempt_at: fleet_store::time::after(now, wait),
                now,
            })?;
        }
        Ok(())
    }

    pub(crate) fn event(
        &mut self,
        row: &AppRow,
        event_type: EventType,
        metadata: serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut event = NewEvent::for_app(row, event_type);
        event.metadata = metadata;
        self.store.append_event(&event, self.clock.now())?;
        Ok(())
    }
}

pub(crate) fn ids(row: &AppRow, machine_id: &str) -> Result<(AppName, MachineId), FlyError> {
    let invalid = |what: &str, e: String| FlyError {
        class: ErrorClass::Invalid,
        status: None,
        message: format!("stored {what} is invalid: {e}"),
        request_id: None,
    };
    let app = AppName::parse(row.fly_app_name.clone().unwrap_or_default())
        .map_err(|e| invalid("app name", e.to_string()))?;
    let machine = MachineId::parse(machine_id).map_err(|e| invalid("machine id", e.to_string()))?;
    Ok((app, machine))
}
