//! The per-app plan of one sweep: the health to record (and whether that is a transition worth an event),
//! the repair to run, and the cost to book. Pure: the sweep executes it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_reconcile::{Action, MachineState};
use fleet_store::{format_time, parse_time, AppRow, AppStatus, EventType, HealthStatus};
use serde_json::{json, Value};

use crate::cost::{accrued_between, PriceTable};
use crate::health::Assessment;

/// Which summary counter a reconcile pass counts towards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepairKind {
    /// Entitled, never (fully) provisioned: a lost or unfinished provision webhook.
    Provision,
    /// Not entitled but something is still there: a lost or unfinished deprovision webhook.
    Deprovision,
    /// An active app drifted (machine stopped or crashed, app deleted behind Fleet's back ...).
    Repair,
}

/// What the sweep does about one app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    None,
    /// Hand the user to the reconciler (the provision/deprovision path).
    Reconcile(RepairKind),
    /// Health has been critical longer than the grace period: stop and start the machine.
    Restart {
        machine_id: String,
    },
    /// A restart did not help within another grace period: destroy the machine and let the reconciler
    /// create a fresh one.
    Recreate {
        machine_id: String,
    },
}

/// The health to store and the event its change deserves.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthUpdate {
    pub status: HealthStatus,
    pub detail: Value,
    /// Written only when the status changed: a steady state writes nothing.
    pub event: Option<EventType>,
}

/// The whole plan for one app.
#[derive(Clone, Debug, PartialEq)]
pub struct AppPlan {
    pub health: Option<HealthUpdate>,
    pub repair: Repair,
    pub monthly_cost_estimate_usd: Option<f64>,
    pub accrued_add_usd: f64,
}

/// The inputs of [`plan_app`].
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    pub row: &'a AppRow,
    pub entitled: bool,
    /// The reconciler's next action for this observation.
    pub action: &'a Action,
    /// The health verdict (entitled users whose app is active; none while provisioning).
    pub assessment: Option<&'a Assessment>,
    pub now: DateTime<Utc>,
    pub unhealthy_grace: Duration,
    pub prices: &'a PriceTable,
}

pub fn plan_app(input: PlanInput<'_>) -> AppPlan {
    let row = input.row;
    let previous = PreviousHealth::from_detail(&row.health_detail);
    let backing_off = row.next_attempt_at.is_some_and(|t| t > input.now);
    let mut repair = match (input.action, input.entitled) {
        (Action::Converged, _) => Repair::None,
        _ if backing_off => Repair::None,
        (_, false) => Repair::Reconcile(RepairKind::Deprovision),
        (_, true) if row.status == AppStatus::Active => Repair::Reconcile(RepairKind::Repair),
        (_, true) => Repair::Reconcile(RepairKind::Provision),
    };
    let mut recovery = previous.recovery;
    let health = input.assessment.map(|a| {
        let unhealthy_since = match a.status {
            HealthStatus::Unhealthy => Some(previous.unhealthy_since.unwrap_or(input.now)),
            _ => None,
        };
        if a.status == HealthStatus::Healthy {
            recovery = None;
        } else if let (Repair::None, Some(since), Some(machine_id), Action::Converged) = (
            &repair,
            unhealthy_since,
            a.machine_id.as_ref(),
            input.action,
        ) {
            if let Some(step) =
                next_recovery_step(since, recovery.as_ref(), input.now, input.unhealthy_grace)
            {
                repair = match step {
                    RecoveryStep::Restart => Repair::Restart {
                        machine_id: machine_id.clone(),
                    },
                    RecoveryStep::Recreate => Repair::Recreate {
                        machine_id: machine_id.clone(),
                    },
                };
                recovery = Some((step, input.now));
            }
        }
        HealthUpdate {
            status: a.status,
            detail: detail_json(a, input.now, unhealthy_since, recovery.as_ref()),
            event: (a.status != row.health_status).then_some(match a.status {
                HealthStatus::Healthy => EventType::HealthCheckPassed,
                _ => EventType::HealthCheckFailed,
            }),
        }
    });
    let monthly = input.prices.monthly_estimate(
        row.cpu_kind.as_deref().unwrap_or("shared"),
        row.cpus.unwrap_or(0).clamp(0, 64) as u32,
        row.memory_mb.unwrap_or(0).clamp(0, 1 << 20) as u32,
        row.region.as_deref().unwrap_or_default(),
    );
    let is_started = input.assessment.and_then(|a| a.machine_state) == Some(MachineState::Started);
    AppPlan {
        health,
        repair,
        monthly_cost_estimate_usd: if input.entitled {
            monthly
        } else {
            row.monthly_cost_estimate_usd
        },
        accrued_add_usd: accrued_between(
            monthly,
            row.last_health_check,
            previous.was_started,
            input.now,
            is_started,
        ),
    }
}

/// Steps of recovery for an app whose health stays critical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryStep {
    Restart,
    Recreate,
}

impl RecoveryStep {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryStep::Restart => "restart",
            RecoveryStep::Recreate => "recreate",
        }
    }
}

/// Restart once critical for the grace period, recreate when still critical a grace period after the
/// restart, and alternate after that, each a grace period apart.
pub fn next_recovery_step(
    unhealthy_since: DateTime<Utc>,
    last: Option<&(RecoveryStep, DateTime<Utc>)>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Option<RecoveryStep> {
    let waited = |since: DateTime<Utc>| fleet_store::time::elapsed_at_least(since, now, grace);
    match last {
        None if waited(unhealthy_since) => Some(RecoveryStep::Restart),
        Some((RecoveryStep::Restart, at)) if waited(*at) => Some(RecoveryStep::Recreate),
        Some((RecoveryStep::Recreate, at)) if waited(*at) => Some(RecoveryStep::Restart),
        _ => None,
    }
}

/// What the previous sweep left in `health_detail`.
#[derive(Clone, Debug, Default, PartialEq)]
struct PreviousHealth {
    unhealthy_since: Option<DateTime<Utc>>,
    recovery: Option<(RecoveryStep, DateTime<Utc>)>,
    was_started: bool,
}

impl PreviousHealth {
    fn from_detail(detail: &Value) -> Self {
        let time = |v: &Value| v.as_str().and_then(|t| parse_time(t).ok());
        let recovery = detail.get("recovery").and_then(|r| {
            let step = match r.get("step")?.as_str()? {
                "restart" => RecoveryStep::Restart,
                "recreate" => RecoveryStep::Recreate,
                _ => return None,
            };
            Some((step, time(r.get("at")?)?))
        });
        PreviousHealth {
            unhealthy_since: detail.get("unhealthy_since").and_then(time),
            recovery,
            was_started: detail.get("machine_state").and_then(Value::as_str) == Some("started"),
        }
    }
}

fn detail_json(
    a: &Assessment,
    now: DateTime<Utc>,
    unhealthy_since: Option<DateTime<Utc>>,
    recovery: Option<&(RecoveryStep, DateTime<Utc>)>,
) -> Value {
    json!({
        "checked_at": format_time(now),
        "reasons": a.reasons,
        "machine_id": a.machine_id,
        "machine_state": a.machine_state.map(|s| format!("{s:?}").to_lowercase()),
        "image": a.image,
        "trader_count": a.trader_count,
        "unhealthy_since": unhealthy_since.map(format_time),
        "recovery": recovery.map(|(step, at)| json!({"step": step.as_str(), "at": format_time(*at)})),
    })
}

#[cfg(test)]
mod tests;
