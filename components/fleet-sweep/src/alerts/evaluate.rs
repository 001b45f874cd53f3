//! The I/O of alert evaluation: gather the facts, decide, record each transition with its notification.
//! Run by the sweep that holds the fleet-wide lease, at the end of its work.

use fleet_reconcile::Clock;
use fleet_store::{AlertTransition, SqlConnection, StoreError};
use fly_api::Transport;

use crate::alerts::decide::decide;
use crate::alerts::rules::{conditions, FleetFacts};
use crate::sweep::{Run, Sweeper};

impl<C: SqlConnection, T: Transport, P: Transport, K: Clock> Sweeper<'_, C, T, P, K> {
    /// Records this sweep's alert transitions; returns how many notifications were queued. A transition
    /// another sweep recorded first (the version moved) is not queued twice.
    pub(crate) fn evaluate_alerts(&mut self, run: &Run) -> Result<u32, StoreError> {
        let rows = self.store.list_apps_each()?.rows;
        let facts = FleetFacts {
            rows: &rows,
            orphans: run.alert_facts.orphans.as_deref(),
            orphan_deletions_held: run.alert_facts.orphan_deletions_held,
            rollout: Some(&run.rollout),
            fly_auth: run.alert_facts.fly_auth.clone(),
        };
        let now = self.clock.now();
        let rules = &self.config.alerts;
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
