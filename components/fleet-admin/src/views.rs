//! Read-only admin routes: summary, apps, one app with its timeline, orphans, recent signals.

use std::collections::BTreeMap;

use fleet_http::ApiError;
use fleet_reconcile::Clock;
use fleet_store::{format_time, EventType, SqlConnection, UserId};
use fly_api::Transport;
use serde::Serialize;

use crate::admin::{internal, Admin};
use crate::http::{AdminRequest, AdminResponse};
use crate::listing::{page, AppView, AppsQuery};
use crate::queries::{entitlements, recent_signals};
use crate::signals::SignalsQuery;
use crate::summary::{summarize, PROVISION_EVENT_TYPES, PROVISION_EVENT_WINDOW};

/// The `fleet_state` key the health sweep keeps the image rollout under.
pub const ROLLOUT_STATE_KEY: &str = "health.rollout";
/// Events shown on one app's timeline.
pub const TIMELINE_EVENTS: u32 = 200;

/// One event as the timeline shows it.
#[derive(Serialize)]
pub struct EventView {
    pub id: i64,
    pub event_type: &'static str,
    pub status: Option<&'static str>,
    pub app_name: Option<String>,
    pub metadata: serde_json::Value,
    pub error_details: Option<String>,
    pub created_at: String,
}

impl From<&fleet_store::Event> for EventView {
    fn from(e: &fleet_store::Event) -> Self {
        EventView {
            id: e.seq,
            event_type: e.event_type.as_str(),
            status: e.status.map(|s| s.as_str()),
            app_name: e.fly_app_name.clone(),
            metadata: e.metadata.clone(),
            error_details: e.error_details.clone(),
            created_at: format_time(e.created_at),
        }
    }
}

/// An app name that the sweep reported as not belonging to any live row.
#[derive(Serialize, Default)]
pub struct OrphanView {
    pub app_name: String,
    pub first_detected_at: String,
    pub last_detected_at: String,
    pub detections: usize,
    pub deleted_at: Option<String>,
    pub last_metadata: serde_json::Value,
}

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    pub(crate) fn summary(&self) -> Result<AdminResponse, ApiError> {
        let mut store = self.store()?;
        let rows = store.list_apps().map_err(internal)?;
        let events = store
            .events_of_types(PROVISION_EVENT_TYPES, PROVISION_EVENT_WINDOW)
            .map_err(internal)?;
        let rollout = store.state(ROLLOUT_STATE_KEY).map_err(internal)?;
        let mut body = serde_json::to_value(summarize(&rows, &events, rollout))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        // Orphan deletions the sweep holds for an operator (above its per-sweep cap), or confirmed and not
        // done yet; null when none.
        body["orphan_hold"] = store
            .state(crate::ORPHAN_HOLD_KEY)
            .map_err(internal)?
            .unwrap_or_default();
        body["generated_at"] = format_time(self.clock.now()).into();
        Ok(AdminResponse::json(200, &body))
    }

    pub(crate) fn apps(&self, req: &AdminRequest) -> Result<AdminResponse, ApiError> {
        let query = AppsQuery::parse(&req.query_pairs())?;
        let mut store = self.store()?;
        let tiers = entitlements(&mut store).map_err(internal)?;
        let views = store
            .list_apps()
            .map_err(internal)?
            .iter()
            .map(|row| AppView::new(row, tiers.get(&row.user_id)))
            .collect();
        Ok(AdminResponse::json(200, &page(views, &query)))
    }

    pub(crate) fn app(&self, user: UserId) -> Result<AdminResponse, ApiError> {
        let mut store = self.store()?;
        let state = store.read_user(user, TIMELINE_EVENTS).map_err(internal)?;
        if state.app.is_none() && state.entitlement.tier.is_none() && state.events.is_empty() {
            return Err(ApiError::not_found("Fleet knows nothing about this user"));
        }
        let tiers = entitlements(&mut store).map_err(internal)?;
        let e = &state.entitlement;
        let body = serde_json::json!({
            "user_id": user.to_string(),
            "entitlement": {
                "tier": e.tier.map(|t| t.as_str()),
                "status": e.status.map(|s| s.as_str()),
                "expires_at": e.expires_at.map(format_time),
                "entitled": e.entitled,
                "held": e.held,
            },
            "hold": store.hold(user).map_err(internal)?.map(|h| h.to_json()),
            "app": state.app.as_ref().map(|row| AppView::new(row, tiers.get(&user))),
            "health_detail": state.app.as_ref().map(|row| row.health_detail.clone()),
            "events": state.events.iter().map(EventView::from).collect::<Vec<_>>(),
        });
        Ok(AdminResponse::json(200, &body))
    }

    /// Orphans as the health sweep recorded them (`orphan_detected` / `orphan_deleted`), newest first.
    pub(crate) fn orphans(&self) -> Result<AdminResponse, ApiError> {
        let mut store = self.store()?;
        let events = store
            .events_of_types(&[EventType::OrphanDetected, EventType::OrphanDeleted], 1000)
            .map_err(internal)?;
        let mut by_app: BTreeMap<String, OrphanView> = BTreeMap::new();
        // Oldest first, so first/last read naturally.
        for event in events.iter().rev() {
            let Some(name) = event.fly_app_name.clone().or_else(|| {
                event
                    .metadata
                    .get("app_name")
                    .and_then(|v| v.as_str())
                    .map(String::from)
            }) else {
                continue;
            };
            let at = format_time(event.created_at);
            let view = by_app.entry(name.clone()).or_insert_with(|| OrphanView {
                app_name: name,
                first_detected_at: at.clone(),
                ..OrphanView::default()
            });
            match event.event_type {
                EventType::OrphanDeleted => view.deleted_at = Some(at),
                _ => {
                    view.detections += 1;
                    view.last_detected_at = at;
                    view.deleted_at = None;
                    view.last_metadata = event.metadata.clone();
                }
            }
        }
        let mut orphans: Vec<OrphanView> = by_app.into_values().collect();
        orphans.sort_by(|a, b| b.last_detected_at.cmp(&a.last_detected_at));
        let open = orphans.iter().filter(|o| o.deleted_at.is_none()).count();
        Ok(AdminResponse::json(
            200,
            &serde_json::json!({"open": open, "orphans": orphans}),
        ))
    }

    /// The most recent signals of the fleet's screeners (or of one user), newest first.
    pub(crate) fn signals(&self, req: &AdminRequest) -> Result<AdminResponse, ApiError> {
        let query = SignalsQuery::parse(&req.query_pairs())?;
        let mut store = self.store()?;
        let signals = recent_signals(&mut store, &query).map_err(internal)?;
        Ok(AdminResponse::json(
            200,
            &serde_json::json!({
                "limit": query.limit,
                "user_id": query.user.map(|u| u.to_string()),
                "signals": signals,
            }),
        ))
    }
}
