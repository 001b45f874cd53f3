//! Clock-driven transitions: scheduled machine states, app deletions completing, process exits and
//! check statuses. Applied lazily whenever the world is read, and by a background ticker.

use crate::config::SimConfig;
use crate::faults::FaultSettings;
use crate::process_driver;
use crate::state::{now_rfc3339, CheckRec, MachineRec, SimState};
use std::time::Instant;

pub fn advance(state: &mut SimState, now: Instant, config: &SimConfig, faults: &FaultSettings) {
    state
        .apps
        .retain(|_, a| a.deleting_until.is_none_or(|t| t > now));
    for (app_name, app) in state.apps.iter_mut() {
        let unhealthy = faults.unhealthy_apps.contains(app_name);
        for m in app.machines.values_mut() {
            while m.schedule.front().is_some_and(|(_, at)| *at <= now) {
                let (to, _) = m.schedule.pop_front().expect("checked non-empty");
                enter(m, to, app_name, config, faults);
            }
            reap_exited_process(m);
            update_checks(m, unhealthy);
        }
    }
}

fn enter(
    m: &mut MachineRec,
    to: &'static str,
    app: &str,
    config: &SimConfig,
    faults: &FaultSettings,
) {
    match to {
        "started" if faults.failing_images.contains(m.image()) => fail(m, "image failed to boot"),
        "started" => match &config.process_driver {
            None => started(m),
            Some(driver) => match process_driver::spawn(driver, m, app) {
                Ok(p) => {
                    m.process = Some(p);
                    started(m);
                }
                Err(e) => fail(m, &e),
            },
        },
        "stopped" | "destroyed" => {
            m.process = None;
            m.state = to.into();
            if to == "destroyed" {
                m.lease = None;
            }
            m.event(if to == "stopped" { "exit" } else { "destroy" }, to);
        }
        other => {
            m.state = other.into();
            m.event(other, other);
        }
    }
}

fn started(m: &mut MachineRec) {
    m.state = "started".into();
    m.crashed = false;
    m.event("start", "started");
}

fn fail(m: &mut MachineRec, why: &str) {
    m.state = "failed".into();
    m.schedule.clear();
    m.event("launch", &format!("failed: {why}"));
}

/// A driven process that exited on its own: the machine stops (restart policies are not simulated).
fn reap_exited_process(m: &mut MachineRec) {
    let exited = m.process.as_mut().and_then(|p| p.exit_status());
    if let Some(code) = exited {
        m.process = None;
        m.crashed = true;
        m.state = "stopped".into();
        m.event("exit", &format!("exited with {code}"));
    }
}

/// Without a process, checks pass while started (unless crashed or the app is unhealthy); with a
/// process, the prober sets them and only the unhealthy-app fault overrides.
fn update_checks(m: &mut MachineRec, unhealthy: bool) {
    let names: Vec<String> = m.config["checks"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    m.checks.retain(|k, _| names.contains(k));
    let simulated = m.process.is_none();
    for name in names {
        let (status, output) = if m.state != "started" {
            ("critical", format!("machine is {}", m.state))
        } else if unhealthy {
            (
                "critical",
                "app marked unhealthy by fault injection".to_string(),
            )
        } else if m.crashed {
            ("critical", "machine crashed".to_string())
        } else if simulated {
            ("passing", "simulated: OK".to_string())
        } else if !m.checks.contains_key(&name) {
            ("critical", "waiting for the first probe".to_string())
        } else {
            continue; // the prober owns it
        };
        let changed = m
            .checks
            .get(&name)
            .is_none_or(|c| c.status != status || c.output != output);
        if changed {
            m.checks.insert(
                name,
                CheckRec {
                    status,
                    output,
                    updated_at: now_rfc3339(),
                },
            );
        }
    }
}
