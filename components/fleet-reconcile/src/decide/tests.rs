//! The decision table, without any I/O.

use super::*;
use fleet_store::UserId;

const NAME: &str = "vyx-user-1a2b3c4d";

fn row(status: AppStatus) -> AppRow {
    let mut row = AppRow::new(UserId::parse("5b0d8c6e-2f7a-4d51-9a39-0f6a8c1d2e3f").unwrap());
    row.fly_app_name = Some(NAME.into());
    row.status = status;
    row
}

fn ready_row(status: AppStatus) -> AppRow {
    let mut row = row(status);
    row.secrets_version = Some(3);
    row.db_role_name = Some("fleet_screener_u1".into());
    row
}

fn machine(id: &str, state: MachineState) -> ObservedMachine {
    ObservedMachine {
        id: id.into(),
        state,
        image: "registry.fly.io/screener:v1".into(),
        region: "sin".into(),
        launch_id: Some(format!("launch-{id}")),
    }
}

fn present(machines: Vec<ObservedMachine>) -> ObservedApp {
    ObservedApp::Present { machines }
}

fn provision(row: Option<&AppRow>, observed: &ObservedApp) -> Action {
    decide(Situation {
        entitled: true,
        row,
        observed,
        uses_db_role: true,
    })
}

fn deprovision(row: Option<&AppRow>, observed: &ObservedApp) -> Action {
    decide(Situation {
        entitled: false,
        row,
        observed,
        uses_db_role: true,
    })
}

fn id(machine_id: &str) -> String {
    machine_id.to_string()
}

#[test]
fn provision_walks_from_nothing_to_converged() {
    use Action::*;
    use MachineState::*;
    let fresh = row(AppStatus::Provisioning);
    let mut active = ready_row(AppStatus::Active);
    active.machine_id = Some("m1".into());
    let ready = ready_row(AppStatus::Provisioning);
    let table: Vec<(&str, Option<&AppRow>, ObservedApp, Action)> = vec![
        ("no row", None, ObservedApp::NotLooked, ChooseName),
        (
            "named, app missing",
            Some(&fresh),
            ObservedApp::Missing,
            CreateApp,
        ),
        (
            "app exists, no secrets",
            Some(&fresh),
            present(vec![]),
            ProvisionSecrets,
        ),
        (
            "secrets, no machine",
            Some(&ready),
            present(vec![]),
            CreateMachine,
        ),
        (
            "machine starting",
            Some(&ready),
            present(vec![machine("m1", Starting)]),
            WaitForMachine {
                machine_id: id("m1"),
                target: "started",
            },
        ),
        (
            "machine created",
            Some(&ready),
            present(vec![machine("m1", Created)]),
            WaitForMachine {
                machine_id: id("m1"),
                target: "started",
            },
        ),
        (
            "machine started",
            Some(&ready),
            present(vec![machine("m1", Started)]),
            MarkActive {
                machine_id: id("m1"),
            },
        ),
        (
            "active and started",
            Some(&active),
            present(vec![machine("m1", Started)]),
            Converged,
        ),
    ];
    for (case, row, observed, expected) in table {
        assert_eq!(provision(row, &observed), expected, "{case}");
    }
}

#[test]
fn provision_repairs_drift() {
    use Action::*;
    use MachineState::*;
    let mut active = ready_row(AppStatus::Active);
    active.machine_id = Some("m1".into());
    let table: Vec<(&str, ObservedApp, Action)> = vec![
        (
            "app deleted behind our back",
            ObservedApp::Missing,
            CreateApp,
        ),
        (
            "machine stopped (crashed)",
            present(vec![machine("m1", Stopped)]),
            StartMachine {
                machine_id: id("m1"),
            },
        ),
        (
            "machine suspended",
            present(vec![machine("m1", Suspended)]),
            StartMachine {
                machine_id: id("m1"),
            },
        ),
        (
            "machine failed to launch",
            present(vec![machine("m1", Failed)]),
            DestroyMachine {
                machine_id: id("m1"),
            },
        ),
        (
            "machine destroyed",
            present(vec![machine("m1", Destroyed)]),
            CreateMachine,
        ),
        (
            "a duplicate machine",
            present(vec![machine("m2", Started), machine("m1", Started)]),
            DestroyMachine {
                machine_id: id("m2"),
            },
        ),
        (
            "recorded machine gone, another started",
            present(vec![machine("m3", Started)]),
            MarkActive {
                machine_id: id("m3"),
            },
        ),
    ];
    for (case, observed, expected) in table {
        assert_eq!(provision(Some(&active), &observed), expected, "{case}");
    }
}

#[test]
fn duplicates_keep_the_started_machine_when_none_is_recorded() {
    let row = ready_row(AppStatus::Provisioning);
    let observed = present(vec![
        machine("m1", MachineState::Created),
        machine("m2", MachineState::Started),
    ]);
    assert_eq!(
        provision(Some(&row), &observed),
        Action::DestroyMachine {
            machine_id: id("m1")
        }
    );
}

#[test]
fn sqlite_mode_needs_no_database_role() {
    let mut row = row(AppStatus::Provisioning);
    row.secrets_version = Some(1);
    let observed = present(vec![]);
    let situation = |uses_db_role| Situation {
        entitled: true,
        row: Some(&row),
        observed: &observed,
        uses_db_role,
    };
    assert_eq!(decide(situation(false)), Action::CreateMachine);
    assert_eq!(decide(situation(true)), Action::ProvisionSecrets);
}

#[test]
fn reprovision_after_deprovision_reuses_the_row() {
    for status in [AppStatus::Deleted, AppStatus::Deprovisioning] {
        assert_eq!(
            provision(Some(&row(status)), &ObservedApp::Missing),
            Action::BeginProvision
        );
    }
    // Failed rows keep trying the provision path.
    assert_eq!(
        provision(Some(&row(AppStatus::Error)), &ObservedApp::Missing),
        Action::CreateApp
    );
}

#[test]
fn deprovision_walks_from_running_to_deleted() {
    use Action::*;
    use MachineState::*;
    let deprovisioning = ready_row(AppStatus::Deprovisioning);
    let mut role_revoked = deprovisioning.clone();
    role_revoked.db_role_name = None;
    let mut deleted = role_revoked.clone();
    deleted.status = AppStatus::Deleted;
    let (active, failed) = (ready_row(AppStatus::Active), ready_row(AppStatus::Error));
    let table: Vec<(&str, &AppRow, ObservedApp, Action)> = vec![
        (
            "active row",
            &active,
            present(vec![machine("m1", Started)]),
            BeginDeprovision,
        ),
        (
            "failed row",
            &failed,
            ObservedApp::Missing,
            BeginDeprovision,
        ),
        (
            "running machine",
            &deprovisioning,
            present(vec![machine("m1", Started)]),
            StopMachine {
                machine_id: id("m1"),
            },
        ),
        (
            "stopping machine",
            &deprovisioning,
            present(vec![machine("m1", Stopping)]),
            WaitForMachine {
                machine_id: id("m1"),
                target: "stopped",
            },
        ),
        (
            "stopped machine",
            &deprovisioning,
            present(vec![machine("m1", Stopped)]),
            DestroyMachine {
                machine_id: id("m1"),
            },
        ),
        (
            "machine gone, role left",
            &deprovisioning,
            present(vec![machine("m1", Destroyed)]),
            RevokeDatabaseRole,
        ),
        ("empty app", &role_revoked, present(vec![]), DeleteApp),
        ("app gone", &role_revoked, ObservedApp::Missing, MarkDeleted),
        ("deleted", &deleted, ObservedApp::Missing, Converged),
        (
            "deleted but the app came back",
            &deleted,
            present(vec![]),
            BeginDeprovision,
        ),
    ];
    for (case, row, observed, expected) in table {
        assert_eq!(deprovision(Some(row), &observed), expected, "{case}");
    }
}

#[test]
fn a_user_who_never_had_an_app_needs_nothing() {
    assert_eq!(
        deprovision(None, &ObservedApp::NotLooked),
        Action::Converged
    );
}

/// A row the platform's old edge functions created: an app in Fly with a machine Fleet did not launch (no
/// fleet_launch metadata, config in plain env). The app is adopted (no create), secrets come first, the legacy
/// machine is destroyed before Fleet creates its own, so the app never runs two screeners.
#[test]
fn an_old_provisioners_app_is_adopted_and_its_machine_replaced() {
    use Action::*;
    use MachineState::*;
    let mut old = row(AppStatus::Active);
    old.fly_app_name = Some("vyx-user-abc12345".into());
    old.machine_id = None;
    let mut legacy = machine("old1", Started);
    legacy.launch_id = None;
    let with_legacy = present(vec![legacy.clone()]);
    assert_eq!(provision(Some(&old), &with_legacy), ProvisionSecrets);

    let mut secured = ready_row(AppStatus::Active);
    secured.fly_app_name = old.fly_app_name.clone();
    assert_eq!(
        provision(Some(&secured), &with_legacy),
        DestroyMachine {
            machine_id: id("old1")
        }
    );
    // Recorded or not, started or not, a legacy machine is never the one kept.
    secured.machine_id = Some("old1".into());
    let both = present(vec![legacy, machine("m2", Started)]);
    assert_eq!(
        provision(Some(&secured), &both),
        DestroyMachine {
            machine_id: id("old1")
        }
    );
    let mut destroying = machine("old1", Destroying);
    destroying.launch_id = None;
    assert_eq!(
        provision(Some(&secured), &present(vec![destroying])),
        CreateMachine
    );
}
