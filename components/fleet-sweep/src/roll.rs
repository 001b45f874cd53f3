//! Performing the rollout: load or begin the rollout state, and move one healthy machine to the new image
//! (Fly lease, full config, new image, `min_secrets_version`, wait, health), rolling it back when it fails.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_reconcile::Clock;
use fleet_store::{AppRow, EventType, NewEvent, SqlConnection, StoreError};
use fly_api::types::{MachineConfig, UpdateMachineRequest};
use fly_api::{AppName, ErrorClass, FlyError, MachineId, Transport};
use serde_json::json;

use crate::apply::ids;
use crate::health::judge_probe;
use crate::probe::probe_health;
use crate::rollout::{start_rollout, RolloutStart, RolloutState, ROLLOUT_STATE_KEY};
use crate::sweep::{left, Run, Sweeper};

/// A Fly failure that says nothing about the image being rolled out: try again later. A 409 is a lease held
/// elsewhere — or our own, acquired by a request whose answer was lost (its nonce unknown), until it expires.
fn passing(error: &FlyError) -> bool {
    error.is_conflict()
        || matches!(
            error.class,
            ErrorClass::RateLimited { .. }
                | ErrorClass::Transient
                | ErrorClass::Ambiguous
                | ErrorClass::InsufficientCapacity
        )
}

/// How often a rolled machine is looked at while it boots.
const BOOT_POLL: Duration = Duration::from_millis(250);

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    /// The stored rollout, or a new one when the image variable changed; the sweep that drives the fleet
    /// stores it and records `rollout_started`, any other sweep only uses it.
    pub(crate) fn load_rollout(
        &mut self,
        now: DateTime<Utc>,
        drives_fleet: bool,
    ) -> Result<RolloutState, StoreError> {
        let stored = self
            .store
            .state(ROLLOUT_STATE_KEY)?
            .and_then(|v| serde_json::from_value::<RolloutState>(v).ok());
        match start_rollout(stored.as_ref(), &self.reconcile.image) {
            RolloutStart::Continue(state) => Ok(state),
            RolloutStart::Begin(state) if !drives_fleet => Ok(state),
            RolloutStart::Begin(state) => {
                self.store
                    .put_state(ROLLOUT_STATE_KEY, &json!(state), now)?;
                self.fleet_event(
                    EventType::RolloutStarted,
                    json!({"image": state.target_image, "previous_image": state.previous_image}),
                )?;
                Ok(state)
            }
        }
    }

    /// Rolls the row's machine when this sweep's batch still has room.
    pub(crate) async fn maybe_roll(
        &mut self,
        run: &mut Run,
        row: &mut AppRow,
    ) -> Result<(), StoreError> {
        if !run.drives_fleet || run.rolled_this_sweep >= self.config.rollout_batch_size {
            return Ok(());
        }
        let Some(machine_id) = row.machine_id.clone() else {
            return Ok(());
        };
        run.rolled_this_sweep += 1;
        let target = run.rollout.target_image.clone();
        let result = self.roll_machine(row, &machine_id, &target, run).await;
        let healthy = matches!(result, Ok(true));
        let error = match &result {
            Ok(true) => None,
            Ok(false) => Some("the machine did not become healthy on the new image".to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Err(e) = &result {
            let app = row.fly_app_name.clone().unwrap_or_default();
            run.fleet_wide_error(format!("rolling machine {machine_id} of {app} failed: {e}"));
        }
        if healthy {
            run.summary.rolled += 1;
            row.docker_image = Some(target.clone());
            self.store
                .upsert_app(row, Some(self.owner), self.clock.now())?;
            self.event(
                row,
                EventType::RolloutMachineUpdated,
                json!({"machine_id": machine_id, "image": target}),
            )?;
        } else {
            let mut event = NewEvent::for_app(row, EventType::RolloutMachineFailed);
            event.metadata = json!({"machine_id": machine_id, "image": target, "error": error});
            event.error_details = error;
            self.store.append_event(&event, self.clock.now())?;
        }
        if let Err(e) = &result {
            if passing(e) {
                // Fly was busy or unreachable: nothing is known about the image. The machine is rolled by a
                // later sweep (it is still behind), and this sweep rolls no more; a rate limit never halts
                // the rollout.
                run.rolled_this_sweep = run.rolled_this_sweep.max(self.config.rollout_batch_size);
                return Ok(());
            }
        }
        let halted = run
            .rollout
            .record(healthy, self.config.rollout_failure_threshold);
        self.store
            .put_state(ROLLOUT_STATE_KEY, &json!(run.rollout), self.clock.now())?;
        if halted {
            // From now on repairs and new machines use the last good image.
            if let Some(previous) = run.rollout.previous_image.clone() {
                run.repair_config.image = previous;
            }
            self.fleet_event(
                EventType::RolloutHalted,
                json!({"image": target, "updated": run.rollout.updated, "failed": run.rollout.failed,
                       "threshold": self.config.rollout_failure_threshold}),
            )?;
        }
        Ok(())
    }

    /// Updates one machine to `image` under a Fly lease and waits for it to be healthy. A machine that
    /// fails is put back on its old config. `Ok(false)` = updated but unhealthy (rolled back).
    async fn roll_machine(
        &self,
        row: &AppRow,
        machine_id: &str,
        image: &str,
        run: &Run,
    ) -> Result<bool, FlyError> {
        let (app, machine) = ids(row, machine_id)?;
        let ttl = self.config.rollout_wait.as_secs() + 60;
        let lease = self
            .fly
            .acquire_lease(&app, &machine, ttl, Some("fleet rollout"))
            .await?;
        let nonce = lease.nonce.as_str();
        let result = self
            .update_and_watch(row, &app, &machine, image, nonce, run)
            .await;
        // The lease expires on its own if this fails.
        let _ = self.fly.release_lease(&app, &machine, nonce).await;
        result
    }

    async fn update_and_watch(
        &self,
        row: &AppRow,
        app: &AppName,
        machine: &MachineId,
        image: &str,
        nonce: &str,
        run: &Run,
    ) -> Result<bool, FlyError> {
        let current = self.fly.get_machine(app, machine).await?;
        let old_config: MachineConfig = current.config.unwrap_or_default();
        let mut new_config = old_config.clone();
        new_config.image = image.to_string();
        let secrets_version = row.secrets_version.map(|v| v as u64);
        let update = |config: MachineConfig| UpdateMachineRequest {
            config,
            min_secrets_version: secrets_version,
            ..Default::default()
        };
        self.fly
            .update_machine(app, machine, &update(new_config), Some(nonce))
            .await?;
        let healthy = self.watch_boot(row, app, machine, run).await?;
        if !healthy {
            self.fly
                .update_machine(app, machine, &update(old_config), Some(nonce))
                .await?;
        }
        Ok(healthy)
    }

    /// Polls the machine until it is started with passing checks and its screener answers correctly, it
    /// failed, or the rollout wait (bounded by the budget) is over.
    pub(crate) async fn watch_boot(
        &self,
        row: &AppRow,
        app: &AppName,
        machine: &MachineId,
        run: &Run,
    ) -> Result<bool, FlyError> {
        let wait = self
            .config
            .rollout_wait
            .min(left(self.clock.now(), run.deadline));
        let until = fleet_store::time::after(self.clock.now(), wait);
        loop {
            let seen = self.fly.get_machine(app, machine).await?;
            match seen.state.as_str() {
                "failed" | "destroyed" | "destroying" => return Ok(false),
                "started" if seen.all_checks_passing() => {
                    // Without an app URL, Fly's passing checks are the verdict.
                    let Some(url) = self.config.app_url(app.as_str()) else {
                        return Ok(true);
                    };
                    let token = (self.reconcile.exposure.probe_key.as_ref())
                        .map(|key| fleet_reconcile::probe_token(key, app.as_str()));
                    let probe = probe_health(self.probe, &url, token.as_ref()).await;
                    let (ok, _) = judge_probe(&probe, &row.user_id.to_string());
                    if ok {
                        return Ok(true);
                    }
                }
                _ => {}
            }
            if self.clock.now() >= until {
                return Ok(false);
            }
            self.clock.sleep(BOOT_POLL).await;
        }
    }

    /// An event about the whole fleet (no user).
    pub(crate) fn fleet_event(
        &mut self,
        event_type: EventType,
        metadata: serde_json::Value,
    ) -> Result<(), StoreError> {
        let event = NewEvent {
            user_id: None,
            fly_app_id: None,
            fly_app_name: None,
            event_type,
            status: None,
            metadata,
            error_details: None,
        };
        self.store.append_event(&event, self.clock.now())?;
        Ok(())
    }
}
