//! The pure decision function: given the entitlement, the stored row and what Fly showed, the next step.
//! No I/O happens here; the executor performs the step and asks again.

use fleet_store::{AppRow, AppStatus};

use crate::observed::{MachineState, ObservedApp, ObservedMachine};

/// One step towards the desired state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Pick the deterministic app name and store the row (status provisioning).
    ChooseName,
    /// Re-open a deleted or deprovisioning row for provisioning (same row, same name).
    BeginProvision,
    /// Create the app at Fly, adopting it when the name is already ours.
    CreateApp,
    /// Create the per-user database role (Postgres) and set the app's secrets in one bulk call.
    ProvisionSecrets,
    /// Create the one machine, tagged with a fresh launch id.
    CreateMachine,
    StartMachine {
        machine_id: String,
    },
    /// The machine is on its way somewhere; look again after waiting for it.
    WaitForMachine {
        machine_id: String,
        target: &'static str,
    },
    StopMachine {
        machine_id: String,
    },
    DestroyMachine {
        machine_id: String,
    },
    MarkActive {
        machine_id: String,
    },
    BeginDeprovision,
    RevokeDatabaseRole,
    DeleteApp,
    MarkDeleted,
    /// Nothing to do: the observed world matches the desired state.
    Converged,
}

/// Everything the decision depends on.
#[derive(Clone, Copy, Debug)]
pub struct Situation<'a> {
    /// Whether the user is entitled to an app right now (read from the database, never from a webhook).
    pub entitled: bool,
    pub row: Option<&'a AppRow>,
    pub observed: &'a ObservedApp,
    /// Postgres mode: each app gets its own database role. SQLite mode has none.
    pub uses_db_role: bool,
}

/// The next action for one user.
pub fn decide(situation: Situation<'_>) -> Action {
    if situation.entitled {
        decide_provision(situation)
    } else {
        decide_deprovision(situation)
    }
}

fn decide_provision(s: Situation<'_>) -> Action {
    let Some(row) = s.row.filter(|row| row.fly_app_name.is_some()) else {
        return Action::ChooseName;
    };
    if matches!(row.status, AppStatus::Deleted | AppStatus::Deprovisioning) {
        return Action::BeginProvision;
    }
    let machines = match s.observed {
        ObservedApp::Present { .. } => s.observed.live_machines(),
        ObservedApp::Missing | ObservedApp::NotLooked => return Action::CreateApp,
    };
    if row.secrets_version.is_none() || (s.uses_db_role && row.db_role_name.is_none()) {
        return Action::ProvisionSecrets;
    }
    // A machine without Fleet's launch id was made by the platform's old provisioner (config in plain env,
    // including its service-role key). The app is adopted; such a machine is replaced, never kept: destroyed
    // first, so the app never runs two screeners, then Fleet creates its own.
    if let Some(legacy) = machines.iter().find(|m| m.launch_id.is_none()) {
        return Action::DestroyMachine {
            machine_id: legacy.id.clone(),
        };
    }
    let Some(keep) = machine_to_keep(&machines, row.machine_id.as_deref()) else {
        return Action::CreateMachine;
    };
    if let Some(extra) = machines.iter().find(|m| m.id != keep.id) {
        return Action::DestroyMachine {
            machine_id: extra.id.clone(),
        };
    }
    let machine_id = keep.id.clone();
    match keep.state {
        MachineState::Started => {
            if row.status == AppStatus::Active && row.machine_id.as_deref() == Some(&machine_id) {
                Action::Converged
            } else {
                Action::MarkActive { machine_id }
            }
        }
        MachineState::Stopped | MachineState::Suspended => Action::StartMachine { machine_id },
        // A machine that failed to launch is replaced rather than nursed.
        MachineState::Failed => Action::DestroyMachine { machine_id },
        _ => Action::WaitForMachine {
            machine_id,
            target: "started",
        },
    }
}

/// The machine to keep when there are several: the recorded one, else a started one, else the first.
fn machine_to_keep<'m>(
    machines: &[&'m ObservedMachine],
    recorded: Option<&str>,
) -> Option<&'m ObservedMachine> {
    machines
        .iter()
        .find(|m| Some(m.id.as_str()) == recorded)
        .or_else(|| machines.iter().find(|m| m.state == MachineState::Started))
        .or_else(|| machines.first())
        .copied()
}

fn decide_deprovision(s: Situation<'_>) -> Action {
    let Some(row) = s.row else {
        return Action::Converged;
    };
    let machines = s.observed.live_machines();
    let app_present = matches!(s.observed, ObservedApp::Present { .. });
    let leftovers = app_present || row.db_role_name.is_some();
    match row.status {
        AppStatus::Deleted if !leftovers => return Action::Converged,
        AppStatus::Deprovisioning => {}
        _ => return Action::BeginDeprovision,
    }
    if let Some(machine) = machines.first() {
        let machine_id = machine.id.clone();
        return match machine.state {
            MachineState::Started | MachineState::Starting | MachineState::Replacing => {
                Action::StopMachine { machine_id }
            }
            MachineState::Stopping => Action::WaitForMachine {
                machine_id,
                target: "stopped",
            },
            _ => Action::DestroyMachine { machine_id },
        };
    }
    if row.db_role_name.is_some() {
        return Action::RevokeDatabaseRole;
    }
    if app_present {
        return Action::DeleteApp;
    }
    Action::MarkDeleted
}

#[cfg(test)]
mod tests;
