//! Admin actions on one user. Each validates first (a refused request changes nothing), records an event
//! naming the admin action and the actor, then runs one reconcile pass within the budget: 200 when the user
//! converged, 202 when the sweep will finish the work.

use fleet_http::ApiError;
use fleet_reconcile::{observe::observe_app, Clock, Outcome};
use fleet_store::{
    AppRow, AppStatus, EventType, NewEvent, SqlConnection, Store, SubscriptionStatus, Tier, UserId,
};
use fly_api::{AppName, ErrorClass, MachineId, Transport};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How often one admin call waits out a 429 before giving up with it.
const RATE_LIMIT_RETRIES: usize = 4;
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(3);

use crate::admin::{internal, Admin};
use crate::auth::Principal;
use crate::http::{json_body, AdminRequest, AdminResponse};
use crate::queries::{set_tier, SetTierError};
use crate::routes::AppAction;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    /// Deprovision only: the app name or the user id, typed out.
    confirm: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierBody {
    tier: String,
    status: Option<String>,
}

fn fly_error(e: fly_api::FlyError) -> ApiError {
    let status = if matches!(e.class, ErrorClass::RateLimited { .. }) {
        429
    } else {
        502
    };
    ApiError::new(
        status,
        "fly_error",
        fleet_store::sanitize_error(&e.to_string()),
    )
}

fn respond(action: &str, outcome: &Outcome) -> AdminResponse {
    let status = if outcome.converged { 200 } else { 202 };
    AdminResponse::json(status, &json!({"action": action, "outcome": outcome}))
}

fn event(
    user: UserId,
    row: Option<&AppRow>,
    event_type: EventType,
    metadata: serde_json::Value,
) -> NewEvent {
    let mut event = match row {
        Some(row) => NewEvent::for_app(row, event_type),
        None => NewEvent {
            user_id: Some(user),
            fly_app_id: None,
            fly_app_name: None,
            event_type,
            status: None,
            metadata: json!({}),
            error_details: None,
        },
    };
    event.metadata = metadata;
    event
}

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    pub(crate) async fn action(
        &self,
        user: UserId,
        action: AppAction,
        req: &AdminRequest,
        principal: &Principal,
    ) -> Result<AdminResponse, ApiError> {
        let body: ActionBody = json_body(&req.body)?;
        let mut store = self.store()?;
        let state = store.read_user(user, 0).map_err(internal)?;
        // A user an operator forced down counts as not entitled (fleet_reconcile::wants_app).
        let entitled = fleet_reconcile::wants_app(&state.entitlement);
        let row = state
            .app
            .ok_or_else(|| ApiError::not_found("this user has no app row"))?;
        let metadata = json!({"admin_action": action.name(), "actor": principal.actor(), "operator": crate::operator::operator(principal)});
        let event_type = match action {
            AppAction::Reconcile | AppAction::Retry => EventType::RecoveryAttempted,
            AppAction::Reprovision => {
                if !entitled {
                    return Err(ApiError::conflict(
                        "not_entitled",
                        "only an entitled user's app can be reprovisioned",
                    ));
                }
                EventType::RecoveryAttempted
            }
            AppAction::Deprovision => {
                check_confirmation(body.confirm.as_deref(), &row)?;
                if entitled {
                    return Err(ApiError::conflict(
                        "entitled",
                        "the user is still entitled, so the sweep would provision the app again; change the subscription (or set the tier) first",
                    ));
                }
                EventType::DeprovisionRequested
            }
        };
        if action == AppAction::Retry && row.attempts == 0 && row.status != AppStatus::Error {
            return Err(ApiError::conflict(
                "not_failed",
                "the app has no failed attempts to retry",
            ));
        }
        let mut metadata = metadata;
        match action {
            AppAction::Retry => self.reset_attempts(&mut store, &row)?,
            AppAction::Reprovision => {
                let destroyed = self.destroy_machines(&mut store, &row).await?;
                metadata["destroyed_machines"] = json!(destroyed);
            }
            _ => {}
        }
        let now = self.clock.now();
        store
            .append_event(&event(user, Some(&row), event_type, metadata), now)
            .map_err(internal)?;
        store.mark_due(user, now, entitled).map_err(internal)?;
        let cause = fleet_reconcile::Cause::admin(&crate::operator::operator(principal));
        let outcome = self
            .pass_for(&mut store, user, self.config.budget, cause)
            .await?;
        Ok(respond(action.name(), &outcome))
    }

    /// Clears the failure count under the row's lease, so the retry gets the full backoff schedule again.
    fn reset_attempts(&self, store: &mut Store<C>, row: &AppRow) -> Result<(), ApiError> {
        let owner = format!("admin-retry:{}", uuid::Uuid::new_v4());
        let now = self.clock.now();
        let Some(mut leased) = store
            .claim_lease(row.user_id, &owner, now, std::time::Duration::from_secs(30))
            .map_err(internal)?
        else {
            return Err(busy());
        };
        leased.attempts = 0;
        leased.error_message = None;
        let saved = store
            .upsert_app(&leased, Some(&owner), now)
            .map_err(internal);
        store.release_lease(row.user_id, &owner).map_err(internal)?;
        saved.map(|_| ())
    }

    /// Destroys the app's machines (force) under the row's lease; the pass then creates a fresh one.
    async fn destroy_machines(
        &self,
        store: &mut Store<C>,
        row: &AppRow,
    ) -> Result<Vec<String>, ApiError> {
        let Some(name) = row.fly_app_name.as_deref() else {
            return Ok(Vec::new());
        };
        let app = AppName::parse(name).map_err(|e| ApiError::internal(e.to_string()))?;
        let owner = format!("admin-reprovision:{}", uuid::Uuid::new_v4());
        let lease_ttl = self.config.budget + std::time::Duration::from_secs(30);
        if store
            .claim_lease(row.user_id, &owner, self.clock.now(), lease_ttl)
            .map_err(internal)?
            .is_none()
        {
            return Err(busy());
        }
        let result = async {
            let observed = self.patiently(|| observe_app(self.fly, Some(&app))).await?;
            let mut destroyed = Vec::new();
            for machine in observed.live_machines() {
                let id = MachineId::parse(machine.id.clone())
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                match self
                    .patiently(|| self.fly.delete_machine(&app, &id, true, None))
                    .await
                {
                    Ok(()) => destroyed.push(machine.id.clone()),
                    Err(e) if e.error == "fly_not_found" => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(destroyed)
        }
        .await;
        store.release_lease(row.user_id, &owner).map_err(internal)?;
        result
    }

    /// Runs a Fly call, waiting out 429s (Retry-After, at most a few seconds, a few times): an operator's
    /// click should be slowed by Fly's limits, not refused.
    async fn patiently<R, F: std::future::Future<Output = Result<R, fly_api::FlyError>>>(
        &self,
        call: impl Fn() -> F,
    ) -> Result<R, ApiError> {
        for _ in 0..RATE_LIMIT_RETRIES {
            match call().await {
                Err(fly_api::FlyError {
                    class: ErrorClass::RateLimited { retry_after },
                    ..
                }) => {
                    let wait = retry_after
                        .unwrap_or(Duration::from_secs(1))
                        .min(MAX_RATE_LIMIT_WAIT);
                    self.clock.sleep(wait).await;
                }
                Err(e) if e.class == ErrorClass::NotFound => {
                    return Err(ApiError::new(
                        404,
                        "fly_not_found",
                        fleet_store::sanitize_error(&e.to_string()),
                    ))
                }
                other => return other.map_err(fly_error),
            }
        }
        call().await.map_err(fly_error)
    }

    pub(crate) async fn set_tier(
        &self,
        user: UserId,
        req: &AdminRequest,
        principal: &Principal,
    ) -> Result<AdminResponse, ApiError> {
        if !self.config.allow_tier_override {
            return Err(ApiError::new(
                403,
                "tier_override_disabled",
                "setting tiers from the admin is disabled (allow_tier_override = false)",
            ));
        }
        let body: TierBody = json_body(&req.body)?;
        let tier = Tier::parse(&body.tier)
            .map_err(|e| ApiError::bad_request("invalid_tier", e.to_string()))?;
        let status = match body.status.as_deref() {
            None => SubscriptionStatus::Active,
            Some(s) => SubscriptionStatus::parse(s)
                .map_err(|e| ApiError::bad_request("invalid_status", e.to_string()))?,
        };
        let mut store = self.store()?;
        let before = store.entitlement(user).map_err(internal)?;
        let now = self.clock.now();
        set_tier(&mut store, user, tier, status.as_str(), now).map_err(|e| match e {
            SetTierError::UnknownUser => ApiError::not_found("the platform has no such user"),
            SetTierError::Refused => ApiError::new(
                400,
                "invalid_subscription",
                "the platform's user_subscriptions does not accept this tier/status (Supabase: active, cancelled, past_due)",
            ),
            SetTierError::Store(e) => internal(e),
        })?;
        let after = store.read_user(user, 0).map_err(internal)?;
        let entitled = after.entitlement.entitled;
        let event_type = if entitled {
            EventType::ProvisionRequested
        } else {
            EventType::DeprovisionRequested
        };
        let metadata = json!({
            "admin_action": "set_tier",
            "actor": principal.actor(),
            "operator": crate::operator::operator(principal),
            "tier": tier.as_str(),
            "status": status.as_str(),
            "previous_tier": before.tier.map(|t| t.as_str()),
        });
        store
            .append_event(&event(user, after.app.as_ref(), event_type, metadata), now)
            .map_err(internal)?;
        // The subscription triggers already marked the user due when the entitlement flipped.
        let outcome = if entitled || after.app.is_some() {
            let cause = fleet_reconcile::Cause::admin(&crate::operator::operator(principal));
            Some(
                self.pass_for(&mut store, user, self.config.budget, cause)
                    .await?,
            )
        } else {
            None
        };
        let status_code = if outcome.as_ref().is_none_or(|o| o.converged) {
            200
        } else {
            202
        };
        Ok(AdminResponse::json(
            status_code,
            &json!({"action": "set_tier", "tier": tier.as_str(), "entitled": entitled, "outcome": outcome}),
        ))
    }
}

fn busy() -> ApiError {
    ApiError::conflict(
        "busy",
        "another worker holds this app's lease; try again shortly",
    )
}

/// Deprovisioning must name the app (or, before it has a name, the user) exactly.
fn check_confirmation(given: Option<&str>, row: &AppRow) -> Result<(), ApiError> {
    let expected = row
        .fly_app_name
        .clone()
        .unwrap_or_else(|| row.user_id.to_string());
    match given {
        None | Some("") => Err(ApiError::bad_request(
            "confirmation_required",
            format!("send \"confirm\": \"{expected}\" to deprovision this app"),
        )),
        Some(given) if given == expected || given == row.user_id.to_string() => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "confirmation_mismatch",
            format!("\"confirm\" must be the app name {expected}"),
        )),
    }
}
