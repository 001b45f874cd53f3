//! `POST /admin/api/orphans/confirm`: an operator confirms the orphan deletions the health sweep holds
//! because more orphans were due at once than its per-sweep cap (`orphan_delete_cap`). The body names how
//! many deletions the operator saw held (`{"held": N}`), so a hold that changed since is not confirmed
//! blindly. The sweep then deletes the confirmed apps, at most the cap per sweep.

use fleet_http::ApiError;
use fleet_reconcile::Clock;
use fleet_store::{format_time, EventType, NewEvent, SqlConnection};
use fly_api::Transport;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::{internal, Admin};
use crate::auth::Principal;
use crate::http::{json_body, AdminRequest, AdminResponse};

/// The `fleet_state` key the health sweep keeps its held deletions under (`fleet_sweep::ORPHAN_HOLD_KEY`).
pub const ORPHAN_HOLD_KEY: &str = "health.orphan_hold";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    /// How many held deletions the operator is confirming (must match the hold).
    held: usize,
}

/// The held app names of a stored hold (`{"held": [names], ...}`).
pub fn held_names(hold: &Value) -> Vec<String> {
    hold.get("held")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    pub(crate) fn confirm_orphans(
        &self,
        req: &AdminRequest,
        principal: &Principal,
    ) -> Result<AdminResponse, ApiError> {
        let body: ConfirmBody = json_body(&req.body)?;
        let mut store = self.store()?;
        let mut hold = store
            .state(ORPHAN_HOLD_KEY)
            .map_err(internal)?
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let held = held_names(&hold);
        if held.is_empty() {
            return Err(ApiError::conflict(
                "nothing_held",
                "no orphan deletions are held",
            ));
        }
        if body.held != held.len() {
            return Err(ApiError::conflict(
                "hold_changed",
                format!(
                    "{} orphan deletions are held now, not {}: look again before confirming",
                    held.len(),
                    body.held
                ),
            ));
        }
        let now = self.clock.now();
        let mut confirmed = held_names(&json!({"held": hold.get("confirmed")}));
        for name in &held {
            if !confirmed.contains(name) {
                confirmed.push(name.clone());
            }
        }
        hold["confirmed"] = json!(confirmed);
        hold["confirmed_at"] = format_time(now).into();
        hold["confirmed_by"] = principal.actor().into();
        store
            .put_state(ORPHAN_HOLD_KEY, &hold, now)
            .map_err(internal)?;
        let event = NewEvent {
            user_id: None,
            fly_app_id: None,
            fly_app_name: None,
            event_type: EventType::RecoveryAttempted,
            status: None,
            metadata: json!({
                "admin_action": "confirm_orphan_deletions",
                "actor": principal.actor(),
                "operator": crate::operator::operator(principal),
                "confirmed": held.len(),
            }),
            error_details: None,
        };
        store.append_event(&event, now).map_err(internal)?;
        Ok(AdminResponse::json(
            200,
            &json!({"confirmed": held.len(), "apps": held, "cap_per_sweep": hold.get("cap")}),
        ))
    }
}
