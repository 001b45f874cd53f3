//! The once-per-sweep work over the whole fleet: orphan detection (one list-apps call) and noticing that a
//! rollout has completed.

use fleet_reconcile::Clock;
use fleet_store::{format_time, AppStatus, EventType, NewEvent, SqlConnection, StoreError};
use fly_api::{AppName, ErrorClass, Transport};
use serde_json::json;

use crate::orphan_hold::{gate_deletions, OrphanHold, ORPHAN_HOLD_KEY};
use crate::orphans::{
    claimed_names, first_seen_from_json, first_seen_to_json, plan_orphans, ORPHAN_STATE_KEY,
};
use crate::rollout::{RolloutStatus, ROLLOUT_STATE_KEY};
use crate::sweep::{Run, Sweeper};

/// The `fleet_state` key of the last sweep's fleet-wide failures: `{"at": RFC 3339, "errors": [reason]}`.
pub const FLEET_WIDE_ERRORS_KEY: &str = "health.fleet_wide_errors";

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    pub(crate) async fn fleet_wide(&mut self, run: &mut Run) -> Result<(), StoreError> {
        // Rows that cannot be read still claim their app names: skipping them would make their apps orphans.
        let read = self.store.list_apps_each()?;
        let rows = read.rows;
        let now = self.clock.now();
        if run.rollout.status == RolloutStatus::InProgress {
            let behind = rows
                .iter()
                .filter(|r| r.status == AppStatus::Active)
                .any(|r| r.docker_image.as_deref() != Some(run.rollout.target_image.as_str()));
            if !behind {
                run.rollout.status = RolloutStatus::Completed;
                self.store
                    .put_state(ROLLOUT_STATE_KEY, &json!(run.rollout), now)?;
                self.fleet_event(
                    EventType::RolloutCompleted,
                    json!({"image": run.rollout.target_image, "updated": run.rollout.updated}),
                )?;
            }
        }
        // Fly trouble postpones orphan detection to the next sweep, with its reason recorded.
        let listed = match self.fly.list_apps().await {
            Ok(listed) => listed,
            Err(e) => {
                if matches!(e.class, ErrorClass::Unauthorized | ErrorClass::Forbidden) {
                    let reason = fleet_store::sanitize_error(&e.to_string());
                    run.alert_facts.fly_auth = Some(Some(reason));
                }
                run.fleet_wide_error(format!("orphan scan: listing the org's apps failed: {e}"));
                return Ok(());
            }
        };
        run.alert_facts.fly_auth = Some(None);
        let names: Vec<String> = listed.apps.iter().map(|a| a.name.clone()).collect();
        let previous = first_seen_from_json(self.store.state(ORPHAN_STATE_KEY)?.as_ref());
        let mut claimed = claimed_names(&rows, now);
        claimed.extend(
            read.unreadable
                .iter()
                .filter_map(|r| r.fly_app_name.clone()),
        );
        let plan = plan_orphans(
            &names,
            &claimed,
            &self.config.app_prefix,
            &previous,
            now,
            self.config.orphan_policy,
            self.config.orphan_grace,
        );
        run.summary.orphans = plan.orphans.len() as u32;
        for name in &plan.newly_detected {
            self.orphan_event(
                name,
                EventType::OrphanDetected,
                json!({"policy": format!("{:?}", self.config.orphan_policy).to_lowercase()}),
            )?;
        }
        let mut first_seen = plan.first_seen.clone();
        let delete = if read.unreadable.iter().any(|r| r.fly_app_name.is_none()) {
            run.fleet_wide_error(
                "orphan deletion skipped: a row's app name could not be read".to_string(),
            );
            Vec::new()
        } else {
            self.gate_orphan_deletions(run, &plan.delete, now)?
        };
        for name in &delete {
            let Ok(app) = AppName::parse(name.as_str()) else {
                continue;
            };
            match self.fly.delete_app(&app, true).await {
                Ok(()) => {}
                Err(e) if e.class == ErrorClass::NotFound => {}
                Err(e) => {
                    // Still an orphan: the next sweep deletes it.
                    run.fleet_wide_error(format!("deleting orphan {name} failed: {e}"));
                    continue;
                }
            }
            first_seen.remove(name);
            self.orphan_event(name, EventType::OrphanDeleted, json!({}))?;
        }
        if first_seen != previous {
            self.store
                .put_state(ORPHAN_STATE_KEY, &first_seen_to_json(&first_seen), now)?;
        }
        run.alert_facts.orphans = Some(first_seen.keys().cloned().collect());
        run.alert_facts.orphan_deletions_held = Some(run.summary.orphan_deletions_held as usize);
        Ok(())
    }

    /// Keeps this sweep's fleet-wide failures in `fleet_state` (the summary is only the sweep's answer);
    /// a sweep without any clears the record.
    pub(crate) fn record_fleet_wide_errors(&mut self, run: &Run) -> Result<(), StoreError> {
        let stored = self.store.state(FLEET_WIDE_ERRORS_KEY)?;
        let had_errors = stored
            .as_ref()
            .and_then(|v| v["errors"].as_array())
            .is_some_and(|e| !e.is_empty());
        if run.summary.fleet_wide_errors.is_empty() && !had_errors {
            return Ok(());
        }
        let now = self.clock.now();
        let value = json!({"at": format_time(now), "errors": run.summary.fleet_wide_errors});
        self.store.put_state(FLEET_WIDE_ERRORS_KEY, &value, now)
    }

    /// Applies the per-sweep cap ([`crate::orphan_hold`]); returns the orphans to delete now.
    fn gate_orphan_deletions(
        &mut self,
        run: &mut Run,
        candidates: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let stored = self.store.state(ORPHAN_HOLD_KEY)?;
        let previous = OrphanHold::from_json(stored.as_ref());
        let gated = gate_deletions(candidates, &previous, self.config.orphan_delete_cap, now);
        run.summary.orphan_deletions_held = gated.hold.held.len() as u32;
        if gated.newly_held {
            let event = NewEvent {
                user_id: None,
                fly_app_id: None,
                fly_app_name: None,
                event_type: EventType::ErrorOccurred,
                metadata: json!({
                    "alert": "orphan_deletions_held",
                    "held": gated.hold.held.len(),
                    "cap": self.config.orphan_delete_cap,
                    "confirm": "POST /admin/api/orphans/confirm",
                }),
                status: None,
                error_details: Some(format!(
                    "{} orphan apps are due for deletion, more than the cap of {} per sweep: \
                     none deleted until an operator confirms",
                    gated.hold.held.len(),
                    self.config.orphan_delete_cap
                )),
            };
            self.store.append_event(&event, now)?;
        }
        if stored.is_some() || !gated.hold.is_empty() {
            let value = if gated.hold.is_empty() {
                serde_json::Value::Null
            } else {
                gated.hold.to_json()
            };
            if stored.as_ref() != Some(&value) {
                self.store.put_state(ORPHAN_HOLD_KEY, &value, now)?;
            }
        }
        Ok(gated.delete_now)
    }

    fn orphan_event(
        &mut self,
        app: &str,
        event_type: EventType,
        metadata: serde_json::Value,
    ) -> Result<(), StoreError> {
        let event = NewEvent {
            user_id: None,
            fly_app_id: None,
            fly_app_name: Some(app.to_string()),
            event_type,
            status: None,
            metadata,
            error_details: None,
        };
        self.store.append_event(&event, self.clock.now())?;
        Ok(())
    }
}
