//! Resizing one machine in place to its tier's guest (Fly lease, full config with the new guest,
//! `min_secrets_version`, wait for it to be healthy, put back on failure), bounded by the rollout's batch
//! per sweep and halted by failures (see [`crate::resize_state`]). Also the tier's provision
//! configuration for the sweep's reconcile passes.

use fleet_reconcile::tier_size::{needs_resize, sized, RecordedSize, TierSize};
use fleet_reconcile::{Clock, ReconcileConfig};
use fleet_store::{AppRow, EventType, NewEvent, SqlConnection, StoreError, UserId};
use fly_api::types::{Guest, MachineConfig, UpdateMachineRequest};
use fly_api::{ErrorClass, FlyError, Transport};
use serde_json::json;

use crate::apply::ids;
use crate::resize_state::{sizes_key, ResizeState, RESIZE_STATE_KEY};
use crate::sweep::{Run, Sweeper};

/// A Fly failure that says nothing about the new size: try again later, count nothing.
fn passing(error: &FlyError) -> bool {
    error.is_conflict()
        || matches!(
            error.class,
            ErrorClass::RateLimited { .. } | ErrorClass::Transient | ErrorClass::Ambiguous
        )
}

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    /// The size of a user's tier, when per-tier sizes are configured.
    pub(crate) fn tier_size(&mut self, user: UserId) -> Result<Option<TierSize>, StoreError> {
        let Some(sizes) = &self.config.tier_sizes else {
            return Ok(None);
        };
        let entitlement = self.store.entitlement(user)?;
        Ok(entitlement
            .tier
            .and_then(|t| sizes.for_tier(t.as_str()).cloned()))
    }

    /// The provision configuration for `user`: the run's (image) with the tier's guest and region.
    pub(crate) fn tier_config(
        &mut self,
        run: &Run,
        user: UserId,
    ) -> Result<ReconcileConfig, StoreError> {
        Ok(match self.tier_size(user)? {
            Some(size) => sized(&run.repair_config, &size),
            None => run.repair_config.clone(),
        })
    }

    /// Resizes the row's healthy machine when its recorded size is not its tier's and this sweep's batch has
    /// room.
    pub(crate) async fn maybe_resize(
        &mut self,
        run: &mut Run,
        row: &mut AppRow,
    ) -> Result<(), StoreError> {
        if !run.drives_fleet || run.rolled_this_sweep >= self.config.rollout_batch_size {
            return Ok(());
        }
        let (Some(sizes), Some(machine_id)) =
            (self.config.tier_sizes.clone(), row.machine_id.clone())
        else {
            return Ok(());
        };
        let Some(size) = self.tier_size(row.user_id)? else {
            return Ok(());
        };
        let recorded = RecordedSize {
            cpu_kind: row.cpu_kind.as_deref(),
            cpus: row.cpus,
            memory_mb: row.memory_mb,
        };
        if !needs_resize(&recorded, &size.guest) {
            return Ok(());
        }
        let key = sizes_key(&sizes);
        let stored = self
            .store
            .state(RESIZE_STATE_KEY)?
            .and_then(|v| serde_json::from_value::<ResizeState>(v).ok());
        let mut state = ResizeState::current(stored, &key);
        if state.halted {
            return Ok(());
        }
        run.rolled_this_sweep += 1;
        let guest = size.guest.clone();
        let result = self.resize_machine(row, &machine_id, &guest, run).await;
        let metadata = json!({"resize": true, "machine_id": machine_id, "cpu_kind": guest.cpu_kind,
                              "cpus": guest.cpus, "memory_mb": guest.memory_mb});
        match &result {
            Ok(true) => {
                run.summary.resized += 1;
                row.cpu_kind = Some(guest.cpu_kind.clone());
                row.cpus = Some(i64::from(guest.cpus));
                row.memory_mb = Some(i64::from(guest.memory_mb));
                let region = row.region.clone().unwrap_or_default();
                row.monthly_cost_estimate_usd = self
                    .prices
                    .monthly_estimate(&guest.cpu_kind, guest.cpus, guest.memory_mb, &region)
                    .or(row.monthly_cost_estimate_usd);
                self.store
                    .upsert_app(row, Some(self.owner), self.clock.now())?;
                self.event(row, EventType::RolloutMachineUpdated, metadata)?;
            }
            _ => {
                let error = match &result {
                    Err(e) => e.to_string(),
                    _ => "the machine did not become healthy at its new size".to_string(),
                };
                let mut event = NewEvent::for_app(row, EventType::RolloutMachineFailed);
                event.metadata = metadata;
                event.error_details = Some(fleet_store::sanitize_error(&error));
                self.store.append_event(&event, self.clock.now())?;
                if let Err(e) = &result {
                    run.fleet_wide_error(format!("resizing machine {machine_id} failed: {e}"));
                    if passing(e) {
                        run.rolled_this_sweep =
                            run.rolled_this_sweep.max(self.config.rollout_batch_size);
                        return Ok(());
                    }
                }
            }
        }
        let halted = state.record(
            matches!(result, Ok(true)),
            self.config.rollout_failure_threshold,
        );
        self.store
            .put_state(RESIZE_STATE_KEY, &json!(state), self.clock.now())?;
        if halted {
            self.fleet_event(
                EventType::RolloutHalted,
                json!({"resize": true, "sizes": key, "resized": state.resized, "failed": state.failed,
                       "threshold": self.config.rollout_failure_threshold}),
            )?;
        }
        Ok(())
    }

    /// Updates one machine to `guest` under a Fly lease and waits for it to be healthy; a machine that
    /// fails is put back on its old config. `Ok(false)` = updated but unhealthy (put back).
    async fn resize_machine(
        &self,
        row: &AppRow,
        machine_id: &str,
        guest: &Guest,
        run: &Run,
    ) -> Result<bool, FlyError> {
        let (app, machine) = ids(row, machine_id)?;
        let ttl = self.config.rollout_wait.as_secs() + 60;
        let lease = self
            .fly
            .acquire_lease(&app, &machine, ttl, Some("fleet resize"))
            .await?;
        let nonce = lease.nonce.as_str();
        let result = async {
            let current = self.fly.get_machine(&app, &machine).await?;
            let old_config: MachineConfig = current.config.unwrap_or_default();
            let mut new_config = old_config.clone();
            new_config.guest = Some(guest.clone());
            let update = |config: MachineConfig| UpdateMachineRequest {
                config,
                min_secrets_version: row.secrets_version.map(|v| v as u64),
                ..Default::default()
            };
            self.fly
                .update_machine(&app, &machine, &update(new_config), Some(nonce))
                .await?;
            let healthy = self.watch_boot(row, &app, &machine, run).await?;
            if !healthy {
                self.fly
                    .update_machine(&app, &machine, &update(old_config), Some(nonce))
                    .await?;
            }
            Ok(healthy)
        }
        .await;
        let _ = self.fly.release_lease(&app, &machine, nonce).await;
        result
    }
}
