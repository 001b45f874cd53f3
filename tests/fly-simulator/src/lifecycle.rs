//! Clock-driven transitions: scheduled machine states, app deletions completing, process exits and
//! check statuses. Applied lazily whenever the world is read, and by a background ticker.

use crate::config::SimConfig;
use crate::faults::FaultSettings;
use crate::process_driver;
use crate::state::{now_rfc3339, AppRec, CheckRec, MachineRec, SimState};
use std::borrow::Cow;
use std::time::Instant;

pub fn advance(state: &mut SimState, now: Instant, config: &SimConfig, faults: &FaultSettings) {
    let gone: Vec<String> = state
        .apps
        .values()
        .filter(|a| a.deleting_until.is_some_and(|t| t <= now))
        .map(|a| a.name.clone())
        .collect();
    for name in gone {
        finish_delete(state, &name, now, config);
    }
    for (app_name, app) in state.apps.iter_mut() {
        advance_machines(app_name, app, now, config, faults);
    }
}

/// `advance` for one app only: what a handler that reads or writes a single app needs, so a call costs
/// O(app) rather than O(fleet). The ticker and whole-fleet reads still advance every app.
pub fn advance_app(
    state: &mut SimState,
    app_name: &str,
    now: Instant,
    config: &SimConfig,
    faults: &FaultSettings,
) {
    let gone = state
        .apps
        .get(app_name)
        .is_some_and(|a| a.deleting_until.is_some_and(|t| t <= now));
    if gone {
        finish_delete(state, app_name, now, config);
    }
    if let Some(app) = state.apps.get_mut(app_name) {
        advance_machines(app_name, app, now, config, faults);
    }
}

/// Removes an app whose asynchronous delete has completed; in strict mode its name stays reserved for
/// `name_hold_after_delete` from the moment the delete completed.
fn finish_delete(state: &mut SimState, app_name: &str, now: Instant, config: &SimConfig) {
    let Some(app) = state.apps.remove(app_name) else {
        return;
    };
    let hold = config.timings.name_hold_after_delete;
    if !hold.is_zero() {
        let completed = app.deleting_until.unwrap_or(now);
        state.reserved.insert(app.name, completed + hold);
    }
    state.reserved.retain(|_, until| *until > now);
}

fn advance_machines(
    app_name: &str,
    app: &mut AppRec,
    now: Instant,
    config: &SimConfig,
    faults: &FaultSettings,
) {
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
    let Some(configured) = m.config["checks"].as_object() else {
        m.checks.clear();
        return;
    };
    // The common case (nothing changed) allocates nothing: every sweep call passes here for every machine.
    let settled = m.checks.len() == configured.len()
        && configured.keys().all(|name| {
            let current = m.checks.get(name);
            match (wanted_check(m, unhealthy, current.is_some()), current) {
                (None, _) => true,
                (Some((status, output)), Some(c)) => c.status == status && c.output == output,
                (Some(_), None) => false,
            }
        });
    if settled {
        return;
    }
    let names: Vec<String> = configured.keys().cloned().collect();
    m.checks.retain(|k, _| names.contains(k));
    for name in names {
        let Some((status, output)) = wanted_check(m, unhealthy, m.checks.contains_key(&name))
        else {
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
                    output: output.into_owned(),
                    updated_at: now_rfc3339(),
                },
            );
        }
    }
}

/// The status a check must have now, or `None` when the prober owns it (a process that was probed).
fn wanted_check(
    m: &MachineRec,
    unhealthy: bool,
    probed: bool,
) -> Option<(&'static str, Cow<'static, str>)> {
    Some(if m.state != "started" {
        ("critical", Cow::Owned(format!("machine is {}", m.state)))
    } else if unhealthy {
        (
            "critical",
            Cow::Borrowed("app marked unhealthy by fault injection"),
        )
    } else if m.crashed {
        ("critical", Cow::Borrowed("machine crashed"))
    } else if m.process.is_none() {
        ("passing", Cow::Borrowed("simulated: OK"))
    } else if !probed {
        ("critical", Cow::Borrowed("waiting for the first probe"))
    } else {
        return None;
    })
}
