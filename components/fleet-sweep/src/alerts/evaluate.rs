//! The I/O of alert evaluation: gather the facts, decide, record each transition with its notification.
//! Run by the sweep that holds the fleet-wide lease, at the end of its work.

use fleet_reconcile::Clock;
use std::collections::BTreeMap;

use fleet_store::{AlertTransition, AppStatus, EventType, SqlConnection, StoreError};
use fly_api::Transport;

use crate::alerts::decide::decide;
use crate::alerts::rules::{conditions, FleetFacts};
use crate::sweep::{Run, Sweeper};

/// Events read per long-provisioning row to find its latest `provision_requested`.
const PROVISION_EVENTS: u32 = 50;

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    /// Records this sweep's alert transitions; returns how many notifications were queued. A transition
    /// another sweep recorded first (the version moved) is not queued twice.
    pub(crate) fn evaluate_alerts(&mut self, run: &Run) -> Result<u32, StoreError> {
        let rows = self.store.list_apps_each()?.rows;
        let now = self.clock.now();
        let rules = &self.config.alerts;
        // A row provisioning since before the threshold may have begun again later (re-provisioned): its
        // latest provision_requested event says when. Only those rows cost a query.
        let mut provisioning_since = BTreeMap::new();
        for row in &rows {
            let old = row.created_at.is_none_or(|created| {
                fleet_store::time::after(created, rules.provision_stuck_after) <= now
            });
            if row.status != AppStatus::Provisioning || !old {
                continue;
            }
            let events = self.store.events(row.user_id, PROVISION_EVENTS)?;
            if let Some(e) = events
                .iter()
                .find(|e| e.event_type == EventType::ProvisionRequested)
            {
                provisioning_since.insert(row.user_id, e.created_at);
            }
        }
        let facts = FleetFacts {
            rows: &rows,
            provisioning_since,
            orphans: run.alert_facts.orphans.as_deref(),
            orphan_deletions_held: run.alert_facts.orphan_deletions_held,
            rollout: Some(&run.rollout),
            fly_auth: run.alert_facts.fly_auth.clone(),
        };
        let evaluated = conditions(&facts, rules, now);
        let previous = self.store.alerts()?;
        let mut queued = 0;
        for t in decide(&previous, &evaluated, now, rules.renotify_after) {
            let transition = AlertTransition {
                record: &t.record,
                previous_version: t.previous_version,
                state: t.state,
            };
            if self.store.record_alert_transition(&transition, now)? {
                queued += 1;
            }
        }
        Ok(queued)
    }
}

/// What the fleet-wide work learnt for the alerts; `None` where it did not get that far.
#[derive(Clone, Debug, Default)]
pub(crate) struct AlertFacts {
    pub orphans: Option<Vec<String>>,
    pub orphan_deletions_held: Option<usize>,
    pub fly_auth: Option<Option<String>>,
}
