//! `GET /admin/api/report`: the figures of the seed's admin SQL ("Provision Success Rate", "Failed
//! Provisions", "Active User Apps" with the monthly cost, cost per user, health status) on both dialects, with
//! emails from `auth.users` where readable. On Postgres the seed's SQL text also runs as it is (e2e
//! `the_seeds_admin_sql_runs_on_fleets_schema`); the dashboard shows the same figures on either dialect.
//! A deleted app is `status = 'deleted'`.

use std::collections::BTreeMap;

use fleet_http::ApiError;
use fleet_reconcile::Clock;
use fleet_store::{format_time, AppStatus, SqlConnection, UserId};
use fly_api::Transport;
use serde_json::{json, Value};

use crate::admin::{internal, Admin};
use crate::http::AdminResponse;
use crate::people::emails_of;

/// Success and failure counts of one kind of operation, and the seed's `success_rate_pct`.
pub fn rate(success: i64, failed: i64) -> Value {
    let total = success + failed;
    let pct = (total > 0).then(|| ((success as f64) * 10000.0 / total as f64).round() / 100.0);
    json!({"success": success, "failed": failed, "success_rate_pct": pct})
}

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    pub(crate) fn seed_report(&self) -> Result<AdminResponse, ApiError> {
        let mut store = self.store()?;
        let conn = store.connection();
        let sql = fleet_store::query::render(
            conn.dialect(),
            "SELECT event_type, COUNT(*) AS n FROM user_fly_app_events \
             WHERE event_type IN ('provision_completed', 'provision_failed', 'deprovision_completed', \
             'deprovision_failed') GROUP BY event_type",
        );
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for row in conn.query(&sql, &[]).map_err(|e| internal(e.into()))? {
            counts.insert(
                row.text("event_type").map_err(|e| internal(e.into()))?,
                row.int("n").map_err(|e| internal(e.into()))?,
            );
        }
        let count = |k: &str| counts.get(k).copied().unwrap_or(0);
        let rows = store.list_apps().map_err(internal)?;
        let live: Vec<_> = rows
            .iter()
            .filter(|r| r.status != AppStatus::Deleted)
            .collect();
        let users: Vec<UserId> = live.iter().map(|r| r.user_id).collect();
        let (source, emails) = emails_of(&mut store, &users).map_err(internal)?;
        let active: Vec<_> = live
            .iter()
            .filter(|r| r.status == AppStatus::Active)
            .collect();
        let total_monthly: f64 = active
            .iter()
            .filter_map(|r| r.monthly_cost_estimate_usd)
            .sum();
        let mut health: BTreeMap<&str, i64> = BTreeMap::new();
        for row in &live {
            *health.entry(row.health_status.as_str()).or_default() += 1;
        }
        let failures: Vec<Value> = live
            .iter()
            .filter(|r| r.status == AppStatus::Error)
            .map(|r| {
                json!({
                    "user_id": r.user_id.to_string(), "email": emails.get(&r.user_id),
                    "fly_app_name": r.fly_app_name, "error_message": r.error_message,
                    "attempts": r.attempts, "created_at": r.created_at.map(format_time),
                })
            })
            .collect();
        let mut per_user: Vec<Value> = live
            .iter()
            .map(|r| {
                json!({
                    "user_id": r.user_id.to_string(), "email": emails.get(&r.user_id),
                    "fly_app_name": r.fly_app_name, "status": r.status.as_str(),
                    "monthly_cost_estimate_usd": r.monthly_cost_estimate_usd,
                    "accrued_cost_usd": r.accrued_cost_usd,
                })
            })
            .collect();
        per_user.sort_by(|a, b| {
            let cost = |v: &Value| v["monthly_cost_estimate_usd"].as_f64().unwrap_or(0.0);
            cost(b).total_cmp(&cost(a))
        });
        let body = json!({
            "provision": rate(count("provision_completed"), count("provision_failed")),
            "deprovision": rate(count("deprovision_completed"), count("deprovision_failed")),
            "active_apps": active.len(),
            "total_monthly_cost_usd": (total_monthly * 100.0).round() / 100.0,
            "health": health,
            "failures": failures,
            "cost_per_user": per_user,
            "email_source": source.as_str(),
            "generated_at": format_time(self.clock.now()),
        });
        Ok(AdminResponse::json(200, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::rate;
    use serde_json::json;

    #[test]
    fn success_rate_is_the_seeds_rounded_percentage() {
        assert_eq!(
            rate(2, 1),
            json!({"success": 2, "failed": 1, "success_rate_pct": 66.67})
        );
        assert_eq!(rate(0, 0)["success_rate_pct"], json!(null));
    }
}
