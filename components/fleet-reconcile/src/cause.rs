//! Why a pass runs, recorded on its provision/deprovision events: the hint's tier and reason, or "sweep" /
//! "admin" (with the operator) when no hint asked. And the one rule for whether a user should have an app.

use fleet_store::{Entitlement, EventType};
use serde_json::Value;

/// Longest tier, reason or operator text an event keeps.
const MAX_NOTE: usize = 200;

/// The cause of a reconcile pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cause {
    /// The tier the hint named (a note: the entitlement is always read from the database).
    pub tier: Option<String>,
    /// The hint's reason, or "sweep" / "admin".
    pub reason: String,
    /// The operator behind an admin action (see fleet-admin `Principal::operator`).
    pub operator: Option<String>,
    /// The subscription's tier as the pass read it, used when the hint named none.
    db_tier: Option<String>,
}

impl Cause {
    pub fn hint(tier: Option<&str>, reason: Option<&str>) -> Cause {
        Cause {
            tier: tier.map(note),
            reason: reason.map_or_else(|| "hint".to_owned(), note),
            ..Cause::default()
        }
    }

    pub fn sweep() -> Cause {
        Cause {
            reason: "sweep".to_owned(),
            ..Cause::default()
        }
    }

    pub fn admin(operator: &str) -> Cause {
        Cause {
            reason: "admin".to_owned(),
            operator: Some(note(operator)),
            ..Cause::default()
        }
    }

    /// Remembers the subscription's tier the pass read (for events when the hint named none).
    pub fn saw_tier(&mut self, tier: Option<fleet_store::Tier>) {
        self.db_tier = tier.map(|t| t.as_str().to_owned());
    }

    /// Adds `tier`, `reason` (and `operator`) to a provision/deprovision event's metadata; other events and
    /// keys the step already set are left alone.
    pub fn stamp(&self, event_type: EventType, metadata: &mut Value) {
        if !is_lifecycle(event_type) {
            return;
        }
        let Value::Object(map) = metadata else { return };
        let reason = if self.reason.is_empty() {
            "unknown"
        } else {
            &self.reason
        };
        map.entry("tier")
            .or_insert_with(|| self.tier.clone().or_else(|| self.db_tier.clone()).into());
        map.entry("reason").or_insert_with(|| reason.into());
        if let Some(operator) = &self.operator {
            map.entry("operator")
                .or_insert_with(|| operator.clone().into());
        }
    }
}

fn is_lifecycle(event_type: EventType) -> bool {
    use EventType::*;
    matches!(
        event_type,
        ProvisionRequested
            | ProvisionStarted
            | ProvisionCompleted
            | ProvisionFailed
            | DeprovisionRequested
            | DeprovisionStarted
            | DeprovisionCompleted
            | DeprovisionFailed
    )
}

/// Printable, bounded text for an event (a hint's fields are untrusted).
fn note(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NOTE)
        .collect()
}

/// Whether the user should have an app: entitled by the subscription and not forced down by an operator.
pub fn wants_app(entitlement: &Entitlement) -> bool {
    entitlement.entitled && !entitlement.held
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entitlement(entitled: bool, held: bool) -> Entitlement {
        Entitlement {
            tier: None,
            status: None,
            expires_at: None,
            entitled,
            held,
        }
    }

    #[test]
    fn a_hold_overrides_the_entitlement() {
        assert!(wants_app(&entitlement(true, false)));
        assert!(!wants_app(&entitlement(true, true)));
        assert!(!wants_app(&entitlement(false, true)));
        assert!(!wants_app(&entitlement(false, false)));
    }

    #[test]
    fn lifecycle_events_get_tier_reason_and_operator() {
        let mut cause = Cause::hint(Some("elite"), Some("subscription_cancelled\n"));
        let mut meta = json!({"action": "begin_deprovision"});
        cause.stamp(EventType::DeprovisionRequested, &mut meta);
        assert_eq!(
            meta,
            json!({"action": "begin_deprovision", "tier": "elite", "reason": "subscription_cancelled"})
        );
        cause = Cause::admin("admin-token");
        cause.saw_tier(Some(fleet_store::Tier::Pro));
        let mut meta = json!({});
        cause.stamp(EventType::ProvisionStarted, &mut meta);
        assert_eq!(
            meta,
            json!({"tier": "pro", "reason": "admin", "operator": "admin-token"})
        );
        let mut meta = json!({});
        Cause::sweep().stamp(EventType::HealthCheckFailed, &mut meta);
        assert_eq!(meta, json!({}));
    }
}
