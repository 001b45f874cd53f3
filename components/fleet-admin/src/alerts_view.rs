//! `GET /admin/api/alerts`: the alerts firing now and the latest notifications (the alert history), as the
//! sweep recorded them. Summaries were sanitised when recorded; the page escapes every field it shows.

use fleet_http::ApiError;
use fleet_reconcile::Clock;
use fleet_store::{format_time, AlertDelivery, AlertRecord, SqlConnection};
use fly_api::Transport;
use serde_json::{json, Value};

use crate::admin::{internal, Admin};
use crate::http::AdminResponse;

/// Notifications shown, newest first.
const HISTORY: u32 = 100;

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    pub(crate) fn alerts(&self) -> Result<AdminResponse, ApiError> {
        let mut store = self.store()?;
        let firing: Vec<Value> = store
            .alerts()
            .map_err(internal)?
            .iter()
            .filter(|a| a.firing)
            .map(firing_view)
            .collect();
        let history: Vec<Value> = store
            .alert_history(HISTORY)
            .map_err(internal)?
            .iter()
            .map(history_view)
            .collect();
        Ok(AdminResponse::json(
            200,
            &json!({"firing": firing, "history": history}),
        ))
    }
}

fn firing_view(a: &AlertRecord) -> Value {
    json!({
        "key": a.key,
        "kind": a.kind,
        "severity": a.severity,
        "summary": a.summary,
        "since": format_time(a.first_fired_at),
        "last_notified_at": format_time(a.last_notified_at),
    })
}

fn history_view(d: &AlertDelivery) -> Value {
    json!({
        "id": d.id,
        "key": d.key,
        "kind": d.kind,
        "severity": d.severity,
        "state": d.state,
        "summary": d.summary,
        "at": format_time(d.created_at),
        "delivery": d.delivery,
        "attempts": d.attempts,
        "delivered_at": d.delivered_at.map(format_time),
        "last_error": d.last_error,
    })
}
