//! Judging one app's health from one observation: the machine's state, Fly's checks and the screener's own
//! answer. Pure: the sweep observes, this decides.

use fleet_reconcile::{MachineState, ObservedApp};
use fleet_store::HealthStatus;

use crate::probe::ProbeResult;

/// The run mode a dedicated machine must report.
pub const DEDICATED_RUN_MODE: &str = "user_dedicated";

/// Fly's view of one machine's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineChecks {
    pub machine_id: String,
    pub instance_id: String,
    /// Every real check passing (Fly's `bg_deployments_compat*` ignored); false when there are none.
    pub passing: bool,
    /// Names of checks that are not passing.
    pub failing: Vec<String>,
}

/// Everything one observation of an app produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub app: ObservedApp,
    pub checks: Vec<MachineChecks>,
    pub probe: ProbeResult,
}

impl Observation {
    /// The machine Fleet considers the user's: the recorded one if live, else a started one, else any.
    pub fn machine(&self, recorded: Option<&str>) -> Option<&fleet_reconcile::ObservedMachine> {
        let live = self.app.live_machines();
        live.iter()
            .find(|m| Some(m.id.as_str()) == recorded)
            .or_else(|| live.iter().find(|m| m.state == MachineState::Started))
            .or_else(|| live.first())
            .copied()
    }

    pub fn checks_of(&self, machine_id: &str) -> Option<&MachineChecks> {
        self.checks.iter().find(|c| c.machine_id == machine_id)
    }
}

/// The verdict: healthy or not, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub status: HealthStatus,
    /// Why it is unhealthy, or notes (e.g. degraded data) when healthy.
    pub reasons: Vec<String>,
    pub machine_id: Option<String>,
    pub machine_state: Option<MachineState>,
    pub image: Option<String>,
    /// The traders the screener reports running (shown on the dashboard).
    pub trader_count: Option<u64>,
}

/// Judges an entitled user's app. A machine that answers as another user or in another mode is unhealthy:
/// its signals would not come from the user's dedicated machine.
pub fn assess(
    observation: &Observation,
    recorded_machine: Option<&str>,
    expected_user: &str,
) -> Assessment {
    let mut reasons = Vec::new();
    let machine = observation.machine(recorded_machine);
    let mut unhealthy = false;
    match (&observation.app, machine) {
        (ObservedApp::NotLooked, _) => {
            unhealthy = true;
            reasons.push("no app has been created yet".to_string());
        }
        (ObservedApp::Missing, _) => {
            unhealthy = true;
            reasons.push("the app does not exist at Fly".to_string());
        }
        (ObservedApp::Present { .. }, None) => {
            unhealthy = true;
            reasons.push("the app has no machine".to_string());
        }
        (ObservedApp::Present { .. }, Some(m)) if m.state != MachineState::Started => {
            unhealthy = true;
            reasons.push(format!("machine {} is {:?}, not started", m.id, m.state).to_lowercase());
        }
        (ObservedApp::Present { .. }, Some(m)) => match observation.checks_of(&m.id) {
            Some(checks) if checks.passing => {}
            Some(checks) if checks.failing.is_empty() => {
                unhealthy = true;
                reasons.push("the machine has no health checks".to_string());
            }
            Some(checks) => {
                unhealthy = true;
                reasons.push(format!(
                    "fly checks not passing: {}",
                    checks.failing.join(", ")
                ));
            }
            None => {
                unhealthy = true;
                reasons.push("no check results for the machine".to_string());
            }
        },
    }
    let (probe_ok, probe_reasons) = judge_probe(&observation.probe, expected_user);
    unhealthy |= !probe_ok;
    reasons.extend(probe_reasons);
    Assessment {
        status: if unhealthy {
            HealthStatus::Unhealthy
        } else {
            HealthStatus::Healthy
        },
        reasons,
        machine_id: machine.map(|m| m.id.clone()),
        machine_state: machine.map(|m| m.state),
        image: machine.map(|m| m.image.clone()),
        trader_count: match &observation.probe {
            ProbeResult::Answered {
                body: Some(report), ..
            } => report.trader_count,
            _ => None,
        },
    }
}

/// Whether the screener's answer is acceptable, with reasons (notes when acceptable but degraded).
pub fn judge_probe(probe: &ProbeResult, expected_user: &str) -> (bool, Vec<String>) {
    match probe {
        // Nothing started: the machine verdict already says why.
        ProbeResult::NotProbed => (true, Vec::new()),
        ProbeResult::Unreachable(why) => {
            (false, vec![format!("screener /health unreachable: {why}")])
        }
        ProbeResult::Answered {
            http_status: 401, ..
        } => (
            false,
            vec![
                "screener /health refused the probe token (HTTP 401): the app's FLEET_PROBE_TOKEN \
                  does not match probe_key (reprovision the app to deliver the current token)"
                    .to_string(),
            ],
        ),
        ProbeResult::Answered {
            http_status,
            body: Some(report),
        } if report.is_liveness_only() => {
            let note =
                "identity not verified: the screener showed liveness only (no probe_key, or \
                        the app has no FLEET_PROBE_TOKEN yet: reprovision it)";
            if report.status == "failing" || !(200..300).contains(http_status) {
                let status = if report.status.is_empty() {
                    "no status"
                } else {
                    &report.status
                };
                (
                    false,
                    vec![
                        format!("screener reports {status} (HTTP {http_status})"),
                        note.into(),
                    ],
                )
            } else {
                (true, vec![note.into()])
            }
        }
        ProbeResult::Answered {
            http_status,
            body: None,
        } => (
            false,
            vec![format!(
                "screener /health answered HTTP {http_status} without a report"
            )],
        ),
        ProbeResult::Answered {
            http_status,
            body: Some(report),
        } => {
            let mut problems = Vec::new();
            if report.user_id.as_deref() != Some(expected_user) {
                problems.push(format!(
                    "screener answers for user {}, not the app's user",
                    report.user_id.as_deref().unwrap_or("(none)")
                ));
            }
            if report.run_mode.as_deref() != Some(DEDICATED_RUN_MODE) {
                problems.push(format!(
                    "screener runs in mode {}, not {DEDICATED_RUN_MODE}",
                    report.run_mode.as_deref().unwrap_or("(none)")
                ));
            }
            if report.status == "failing" || !(200..300).contains(http_status) {
                problems.push(format!(
                    "screener reports {} (HTTP {http_status}): {}",
                    if report.status.is_empty() {
                        "no status"
                    } else {
                        &report.status
                    },
                    report.reasons.join("; ")
                ));
            }
            if problems.is_empty() {
                let notes = (report.status == "degraded")
                    .then(|| format!("degraded: {}", report.reasons.join("; ")))
                    .into_iter()
                    .collect();
                (true, notes)
            } else {
                (false, problems)
            }
        }
    }
}

#[cfg(test)]
mod tests;
