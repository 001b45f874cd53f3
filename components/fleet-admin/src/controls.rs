//! Operator controls the seeds list: "Provision now" for a user with no row yet (by user id or email), a
//! forced deprovision of an entitled user that holds until lifted, and users searched and listed by email.
//! Each validates first (a refused request changes nothing), records an event naming the action and the
//! operator, then runs one reconcile pass: 200 when the user converged, 202 when the sweep finishes it.

use fleet_http::ApiError;
use fleet_reconcile::{wants_app, Cause, Clock, Outcome};
use fleet_store::{
    format_time, AppStatus, EventType, Hold, NewEvent, SqlConnection, Store, UserId,
};
use fly_api::Transport;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::{internal, Admin};
use crate::auth::Principal;
use crate::http::{json_body, AdminRequest, AdminResponse};
use crate::operator::operator;
use crate::people::{emails_of, search_email, user_by_email, EmailSource};

/// Longest operator note (hold reason) kept.
const MAX_NOTE: usize = 200;
/// Longest search text or email accepted.
const MAX_QUERY: usize = 254;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvisionBody {
    user_id: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    /// Why the app is forced down (abuse, cost ...): required.
    reason: Option<String>,
    /// The user id (or the app name), typed out.
    confirm: Option<String>,
}

/// Lifting takes no fields: an empty body or `{}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

fn note(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

fn event(
    user: UserId,
    row: Option<&fleet_store::AppRow>,
    event_type: EventType,
    metadata: Value,
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

fn respond(action: &str, outcome: &Outcome, extra: Value) -> AdminResponse {
    let status = if outcome.converged { 200 } else { 202 };
    let mut body = json!({"action": action, "outcome": outcome});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    AdminResponse::json(status, &body)
}

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    /// `POST /admin/api/users/provision` `{"user_id"}` or `{"email"}`.
    pub(crate) async fn provision_now(
        &self,
        req: &AdminRequest,
        principal: &Principal,
    ) -> Result<AdminResponse, ApiError> {
        let body: ProvisionBody = json_body(&req.body)?;
        let mut store = self.store()?;
        let user = match (body.user_id.as_deref(), body.email.as_deref()) {
            (Some(id), None) => UserId::parse(id)
                .map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))?,
            (None, Some(email)) => resolve_email(&mut store, email)?,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    "send exactly one of \"user_id\" or \"email\"",
                ))
            }
        };
        let state = store.read_user(user, 0).map_err(internal)?;
        if state.entitlement.held {
            return Err(ApiError::conflict(
                "held",
                "an operator forced this user's app down; lift the hold to provision it",
            ));
        }
        if !wants_app(&state.entitlement) {
            return Err(ApiError::conflict(
                "not_entitled",
                "the user has no active Pro or Elite subscription, so the sweep would tear the app down again",
            ));
        }
        let operator = operator(principal);
        let existing = state
            .app
            .as_ref()
            .filter(|r| r.status != AppStatus::Deleted);
        let now = self.clock.now();
        if existing.is_none() {
            store.mark_due(user, now, true).map_err(internal)?;
            let row = store.app(user).map_err(internal)?;
            let metadata = json!({"admin_action": "provision_now", "actor": principal.actor(), "operator": operator, "reason": "admin"});
            store
                .append_event(
                    &event(user, row.as_ref(), EventType::ProvisionRequested, metadata),
                    now,
                )
                .map_err(internal)?;
        } else {
            // Already has a row: just look again (idempotent).
            store.mark_due(user, now, true).map_err(internal)?;
        }
        let outcome = self
            .pass_for(
                &mut store,
                user,
                self.config.budget,
                Cause::admin(&operator),
            )
            .await?;
        Ok(respond(
            "provision_now",
            &outcome,
            json!({"user_id": user.to_string(), "created": existing.is_none()}),
        ))
    }

    /// `POST /admin/api/users/{id}/hold` `{"reason", "confirm"}`: forces the app down until lifted.
    pub(crate) async fn force_deprovision(
        &self,
        user: UserId,
        req: &AdminRequest,
        principal: &Principal,
    ) -> Result<AdminResponse, ApiError> {
        let body: HoldBody = json_body(&req.body)?;
        let reason = body.reason.as_deref().map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            return Err(ApiError::bad_request(
                "reason_required",
                "send \"reason\" (why the app is forced down: abuse, cost ...)",
            ));
        }
        let mut store = self.store()?;
        let row = store.app(user).map_err(internal)?;
        let expected = user.to_string();
        let app_name = row.as_ref().and_then(|r| r.fly_app_name.clone());
        match body.confirm.as_deref() {
            Some(given) if given == expected || Some(given) == app_name.as_deref() => {}
            None | Some("") => {
                return Err(ApiError::bad_request(
                    "confirmation_required",
                    format!("send \"confirm\": \"{expected}\" to force this user's app down"),
                ))
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "confirmation_mismatch",
                    format!("\"confirm\" must be the user id {expected}"),
                ))
            }
        }
        let entitlement = store.entitlement(user).map_err(internal)?;
        if row.is_none() && entitlement.tier.is_none() {
            return Err(ApiError::not_found("Fleet knows nothing about this user"));
        }
        let operator = operator(principal);
        let now = self.clock.now();
        let hold = Hold {
            user_id: user,
            operator: operator.clone(),
            reason: note(reason, MAX_NOTE),
            since: now,
        };
        let created = store.put_hold(&hold).map_err(internal)?;
        let hold = store.hold(user).map_err(internal)?.unwrap_or(hold);
        if created {
            let metadata = json!({
                "admin_action": "force_deprovision", "actor": principal.actor(), "operator": operator,
                "reason": "admin", "note": hold.reason,
            });
            store
                .append_event(
                    &event(
                        user,
                        row.as_ref(),
                        EventType::DeprovisionRequested,
                        metadata,
                    ),
                    now,
                )
                .map_err(internal)?;
        }
        store.mark_due(user, now, false).map_err(internal)?;
        let outcome = self
            .pass_for(
                &mut store,
                user,
                self.config.budget,
                Cause::admin(&operator),
            )
            .await?;
        Ok(respond(
            "force_deprovision",
            &outcome,
            json!({"hold": hold.to_json(), "created": created}),
        ))
    }

    /// `POST /admin/api/users/{id}/release`: lifts the hold; an entitled user is provisioned again.
    pub(crate) async fn lift_hold(
        &self,
        user: UserId,
        req: &AdminRequest,
        principal: &Principal,
    ) -> Result<AdminResponse, ApiError> {
        let _: NoFields = json_body(&req.body)?;
        let mut store = self.store()?;
        let lifted = store.lift_hold(user).map_err(internal)?;
        let state = store.read_user(user, 0).map_err(internal)?;
        let entitled = wants_app(&state.entitlement);
        let operator = operator(principal);
        let now = self.clock.now();
        if lifted {
            let event_type = if entitled {
                EventType::ProvisionRequested
            } else {
                EventType::RecoveryAttempted
            };
            let metadata = json!({"admin_action": "lift_hold", "actor": principal.actor(), "operator": operator, "reason": "admin"});
            store
                .append_event(&event(user, state.app.as_ref(), event_type, metadata), now)
                .map_err(internal)?;
        }
        store.mark_due(user, now, entitled).map_err(internal)?;
        if !entitled && state.app.is_none() {
            return Ok(AdminResponse::json(
                200,
                &json!({"action": "lift_hold", "lifted": lifted, "entitled": false, "outcome": null}),
            ));
        }
        let outcome = self
            .pass_for(
                &mut store,
                user,
                self.config.budget,
                Cause::admin(&operator),
            )
            .await?;
        Ok(respond(
            "lift_hold",
            &outcome,
            json!({"lifted": lifted, "entitled": entitled}),
        ))
    }

    /// `GET /admin/api/holds`: every forced deprovision, with the user's email where readable.
    pub(crate) fn list_holds(&self) -> Result<AdminResponse, ApiError> {
        let mut store = self.store()?;
        let holds = store.holds().map_err(internal)?;
        let users: Vec<UserId> = holds.iter().map(|h| h.user_id).collect();
        let (source, emails) = emails_of(&mut store, &users).map_err(internal)?;
        let holds: Vec<Value> = holds
            .iter()
            .map(|h| {
                let mut v = h.to_json();
                v["email"] = emails.get(&h.user_id).cloned().into();
                v
            })
            .collect();
        Ok(AdminResponse::json(
            200,
            &json!({"holds": holds, "email_source": source.as_str()}),
        ))
    }

    /// `GET /admin/api/users?q=`: users by id or by email (substring, case-insensitive); without `q`, every
    /// user Fleet has a row or a hold for, with their emails.
    pub(crate) fn users_by_email(&self, req: &AdminRequest) -> Result<AdminResponse, ApiError> {
        let mut q = None;
        for (key, value) in req.query_pairs() {
            match key.as_str() {
                "q" if value.chars().count() <= MAX_QUERY => q = Some(value.trim().to_owned()),
                "q" => {
                    return Err(ApiError::bad_request(
                        "invalid_query",
                        format!("q: at most {MAX_QUERY} characters"),
                    ))
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_query",
                        format!("unknown parameter {}", note(&key, 40)),
                    ))
                }
            }
        }
        let mut store = self.store()?;
        let (source, users, emails) = match q.as_deref().filter(|q| !q.is_empty()) {
            Some(q) => match UserId::parse(q) {
                Ok(user) => {
                    let (source, emails) = emails_of(&mut store, &[user]).map_err(internal)?;
                    (source, vec![user], emails)
                }
                Err(_) => {
                    let (source, pairs) = search_email(&mut store, q).map_err(internal)?;
                    let users = pairs.iter().map(|(u, _)| *u).collect();
                    (source, users, pairs.into_iter().collect())
                }
            },
            None => {
                let mut users: Vec<UserId> = store
                    .list_apps()
                    .map_err(internal)?
                    .iter()
                    .map(|r| r.user_id)
                    .collect();
                users.extend(store.holds().map_err(internal)?.iter().map(|h| h.user_id));
                users.sort();
                users.dedup();
                users.truncate(crate::people::MAX_USERS as usize);
                let (source, emails) = emails_of(&mut store, &users).map_err(internal)?;
                (source, users, emails)
            }
        };
        let mut views = Vec::with_capacity(users.len());
        for user in users {
            let state = store.read_user(user, 0).map_err(internal)?;
            let hold = if state.entitlement.held {
                store.hold(user).map_err(internal)?.map(|h| h.to_json())
            } else {
                None
            };
            let e = &state.entitlement;
            views.push(json!({
                "user_id": user.to_string(),
                "email": emails.get(&user),
                "tier": e.tier.map(|t| t.as_str()),
                "status": e.status.map(|s| s.as_str()),
                "entitled": e.entitled,
                "held": e.held,
                "hold": hold,
                "app": state.app.as_ref().map(|r| json!({
                    "fly_app_name": r.fly_app_name,
                    "status": r.status.as_str(),
                    "updated_at": r.updated_at.map(format_time),
                })),
            }));
        }
        if q.is_none() || q.as_deref() == Some("") {
            views.sort_by_key(email_key);
        }
        Ok(AdminResponse::json(
            200,
            &json!({"users": views, "email_source": source.as_str()}),
        ))
    }
}

/// Sort key for a listing by email: users with an email first, by email; then by id.
fn email_key(view: &Value) -> (bool, String, String) {
    let email = view["email"].as_str().map(str::to_lowercase);
    (
        email.is_none(),
        email.unwrap_or_default(),
        view["user_id"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The one user with this email: 404 when none, 400 for an empty or overlong one, 503 when this database
/// has no readable email table.
fn resolve_email<C: SqlConnection>(store: &mut Store<C>, email: &str) -> Result<UserId, ApiError> {
    let email = email.trim();
    if email.is_empty() || email.chars().count() > MAX_QUERY {
        return Err(ApiError::bad_request(
            "invalid_email",
            format!("email must be 1 to {MAX_QUERY} characters"),
        ));
    }
    let (source, users) = user_by_email(store, email).map_err(internal)?;
    match (source, users.as_slice()) {
        (EmailSource::None, _) => Err(ApiError::new(
            503,
            "email_unavailable",
            "this database has no email this role may read; use the user id",
        )),
        (_, [user]) => Ok(*user),
        (_, []) => Err(ApiError::not_found("no user has this email")),
        (_, _) => Err(ApiError::conflict(
            "ambiguous_email",
            "several users have this email; use the user id",
        )),
    }
}
