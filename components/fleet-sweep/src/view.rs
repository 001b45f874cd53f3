//! The operator's view of one app (`GET /health/apps/{user_id}`): the stored row, a live observation and
//! the verdict on it, and the latest events. Pure shaping; nothing secret is in any of it.

use fleet_reconcile::ObservedApp;
use fleet_store::{format_time, AppRow, Event};
use serde_json::{json, Value};

use crate::health::{Assessment, Observation};
use crate::observe::Observed;
use crate::probe::ProbeResult;

pub fn app_view(
    row: &AppRow,
    entitled: bool,
    observed: &Observed,
    verdict: Option<&Assessment>,
    events: &[Event],
) -> Value {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(format_time);
    json!({
        "user_id": row.user_id.to_string(),
        "entitled": entitled,
        "stored": {
            "app_name": row.fly_app_name,
            "status": row.status.as_str(),
            "machine_id": row.machine_id,
            "region": row.region,
            "docker_image": row.docker_image,
            "health_status": row.health_status.as_str(),
            "health_detail": row.health_detail,
            "last_health_check": time(row.last_health_check),
            "monthly_cost_estimate_usd": row.monthly_cost_estimate_usd,
            "accrued_cost_usd": row.accrued_cost_usd,
            "attempts": row.attempts,
            "error_message": row.error_message,
            "next_attempt_at": time(row.next_attempt_at),
            "deployed_at": time(row.deployed_at),
        },
        "live": live(observed),
        "verdict": verdict.map(|a| json!({
            "health_status": a.status.as_str(),
            "reasons": a.reasons,
            "machine_id": a.machine_id,
        })),
        "events": events.iter().map(|e| json!({
            "seq": e.seq,
            "event_type": e.event_type.as_str(),
            "status": e.status.map(|s| s.as_str()),
            "metadata": e.metadata,
            "error_details": e.error_details,
            "created_at": format_time(e.created_at),
        })).collect::<Vec<_>>(),
    })
}

fn live(observed: &Observed) -> Value {
    match observed {
        Observed::Seen(observation) => observation_json(observation),
        Observed::Failed {
            error,
            rate_limited,
            retry_after,
        } => json!({
            "error": error,
            "rate_limited": rate_limited,
            "retry_after_secs": retry_after.map(|d| d.as_secs_f64()),
        }),
        Observed::OutOfTime => json!({"error": "out of time"}),
    }
}

fn observation_json(o: &Observation) -> Value {
    let app = match &o.app {
        ObservedApp::NotLooked => json!("not_created"),
        ObservedApp::Missing => json!("missing"),
        ObservedApp::Present { .. } => json!("present"),
    };
    let machines: Vec<Value> = o
        .app
        .live_machines()
        .iter()
        .map(|m| {
            let checks = o.checks_of(&m.id);
            json!({
                "id": m.id,
                "state": format!("{:?}", m.state).to_lowercase(),
                "image": m.image,
                "region": m.region,
                "instance_id": checks.map(|c| c.instance_id.clone()),
                "checks_passing": checks.map(|c| c.passing),
                "failing_checks": checks.map(|c| c.failing.clone()),
            })
        })
        .collect();
    let probe = match &o.probe {
        ProbeResult::NotProbed => json!({"probed": false}),
        ProbeResult::Unreachable(why) => json!({"probed": true, "error": why}),
        ProbeResult::Answered { http_status, body } => json!({
            "probed": true,
            "http_status": http_status,
            "status": body.as_ref().map(|b| b.status.clone()),
            "run_mode": body.as_ref().and_then(|b| b.run_mode.clone()),
            "user_id": body.as_ref().and_then(|b| b.user_id.clone()),
            "trader_count": body.as_ref().and_then(|b| b.trader_count),
            "last_candle_at": body.as_ref().and_then(|b| b.last_candle_at.clone()),
        }),
    };
    json!({"app": app, "machines": machines, "screener": probe})
}
