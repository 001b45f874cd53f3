//! The once-per-sweep work over the whole fleet: orphan detection (one list-apps call) and noticing that a
//! rollout has completed.

use fleet_reconcile::Clock;
use fleet_store::{AppStatus, EventType, NewEvent, SqlConnection, StoreError};
use fly_api::{AppName, ErrorClass, Transport};
use serde_json::json;

use crate::orphans::{
    claimed_names, first_seen_from_json, first_seen_to_json, plan_orphans, ORPHAN_STATE_KEY,
};
use crate::rollout::{RolloutStatus, ROLLOUT_STATE_KEY};
use crate::sweep::{Run, Sweeper};

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    pub(crate) async fn fleet_wide(&mut self, run: &mut Run) -> Result<(), StoreError> {
        let rows = self.store.list_apps()?;
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
        // Fly trouble only postpones orphan detection to the next sweep.
        let Ok(listed) = self.fly.list_apps().await else {
            return Ok(());
        };
        let names: Vec<String> = listed.apps.iter().map(|a| a.name.clone()).collect();
        let previous = first_seen_from_json(self.store.state(ORPHAN_STATE_KEY)?.as_ref());
        let plan = plan_orphans(
            &names,
            &claimed_names(&rows, now),
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
        for name in &plan.delete {
            let Ok(app) = AppName::parse(name.as_str()) else {
                continue;
            };
            match self.fly.delete_app(&app, true).await {
                Ok(()) => {}
                Err(e) if e.class == ErrorClass::NotFound => {}
                Err(_) => continue,
            }
            first_seen.remove(name);
            self.orphan_event(name, EventType::OrphanDeleted, json!({}))?;
        }
        if first_seen != previous {
            self.store
                .put_state(ORPHAN_STATE_KEY, &first_seen_to_json(&first_seen), now)?;
        }
        Ok(())
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
