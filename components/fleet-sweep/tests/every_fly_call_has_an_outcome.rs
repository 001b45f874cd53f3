//! Issue 14, "no step without an outcome", for the sweep's own Fly calls (the provisioning calls are driven in
//! fleet-reconcile's no_step_without_outcome.rs, the sweep's list call in level_triggered.rs): the repairs
//! (restart: stop, wait, start; recreate: destroy), the rollout (acquire lease, get machine, update machine,
//! release lease) and the orphan scan (list apps, delete app), each answered with every error class
//! (400/401/403/404/408/409/412/422/429/500/502/503 and a dropped connection). The sweep returns, and the row
//! progressed or carries a reason (`error_message`, an event's `error_details`) and a backoff; fleet-wide work
//! progressed or its failure is in the summary and in `fleet_state`. A passing failure (429, 5xx, 408, a
//! dropped connection) never halts a rollout.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use fleet_store::{AppStatus, EventType, HealthStatus, SqlConnection, UserId};
use fleet_sweep::{OrphanPolicy, SweepSummary, FLEET_WIDE_ERRORS_KEY, ROLLOUT_STATE_KEY};
use fleet_test_support::fly_faults::{FaultOnce, Injected, EVERY_ERROR};
use fly_api::transport_native::NativeTransport;
use fly_api::{AppName, MachineId};
use support::{quiet_sim, user, Answer, Rig};

type Matcher = Box<dyn Fn(&http::Request<Vec<u8>>) -> bool + 'static>;

fn on(method: http::Method, path_ends: String) -> Matcher {
    Box::new(move |request| {
        request.method() == method && request.uri().path().ends_with(path_ends.as_str())
    })
}

/// The requests of one machine call.
fn machine_call(method: http::Method, app: &str, machine: &str, suffix: &str) -> Matcher {
    on(method, format!("/apps/{app}/machines/{machine}{suffix}"))
}

/// A passing failure: says nothing about the request, try again later.
fn passing(fault: Injected) -> bool {
    matches!(
        fault,
        Injected::DropAfter
            | Injected::Status(408)
            | Injected::Status(409)
            | Injected::Status(429)
            | Injected::Status(500..=599)
    )
}

fn failure_recorded(summary: &SweepSummary, what: &str) -> bool {
    summary
        .fleet_wide_errors
        .iter()
        .any(|e| e.contains(what) && !e.is_empty())
}

/// The fleet-wide failures kept in `fleet_state`.
fn stored_fleet_wide_errors<C: SqlConnection>(rig: &mut Rig<C>) -> Vec<String> {
    rig.store
        .state(FLEET_WIDE_ERRORS_KEY)
        .unwrap()
        .and_then(|v| serde_json::from_value(v["errors"].clone()).ok())
        .unwrap_or_default()
}

// ---- repairs ----------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum RepairCall {
    Stop,
    Wait,
    Start,
    Destroy,
}

impl RepairCall {
    fn step(self) -> &'static str {
        match self {
            RepairCall::Destroy => "recreate",
            _ => "restart",
        }
    }

    fn matcher(self, app: &str, machine: &str) -> Matcher {
        match self {
            RepairCall::Stop => machine_call(http::Method::POST, app, machine, "/stop"),
            RepairCall::Wait => machine_call(http::Method::GET, app, machine, "/wait"),
            RepairCall::Start => machine_call(http::Method::POST, app, machine, "/start"),
            RepairCall::Destroy => machine_call(http::Method::DELETE, app, machine, ""),
        }
    }
}

/// The user's app is active with a started machine again (the backoff of the last case cleared).
fn back_to_running<C: SqlConnection>(rig: &mut Rig<C>, u: UserId) {
    // The screener answers as its user again (a reconcile pass waits for that).
    let app = rig.row(u).fly_app_name.unwrap();
    rig.screener.clear_override(&app);
    // A machine a failed restart left stopped is started here (quicker than the reconciler's wait).
    if let Some(machine) = rig.row(u).machine_id {
        let stopped = |rig: &Rig<C>| {
            rig.live_machines(&app)
                .iter()
                .any(|m| m["id"] == machine.as_str() && m["state"] == "stopped")
        };
        rig.wait_for("not stopping", Duration::from_secs(5), |rig| {
            rig.live_machines(&app)
                .iter()
                .all(|m| m["state"] != "stopping")
        });
        if stopped(rig) {
            let fly = rig.fly();
            let (a, m) = (
                AppName::parse(app.as_str()).unwrap(),
                MachineId::parse(machine.as_str()).unwrap(),
            );
            rig.block_on(fly.start_machine(&a, &m, None)).unwrap();
        }
    }
    rig.exec(&format!(
        "UPDATE user_fly_apps SET next_attempt_at = NULL, error_message = NULL WHERE user_id = '{u}'"
    ));
    rig.sweep_until("active with a started machine", |rig| {
        let row = rig.row(u);
        let app = row.fly_app_name.clone().unwrap();
        row.status == AppStatus::Active
            && rig.live_machines(&app).iter().any(|m| {
                Some(m["id"].as_str().unwrap_or_default()) == row.machine_id.as_deref()
                    && m["state"] == "started"
            })
    });
}

/// Drives one repair call through every error class. In each case the screener answers as someone else, so
/// the app is unhealthy; before each case the row's health says it has been unhealthy for long (and, for a recreate, that
/// a restart was tried long ago), so the sweep takes the recovery step at once.
fn every_error_on_repair(call: RepairCall) {
    let mut rig = Rig::sqlite(quiet_sim());
    let u = rig.provision_users(1, 1)[0];
    let app = rig.row(u).fly_app_name.unwrap();
    let someone_else = Answer {
        user_id: user(99).to_string(),
        run_mode: "user_dedicated".into(),
        status: "ok".into(),
    };
    let long_ago = "2020-01-01T00:00:00.000Z";
    let recovery = match call {
        RepairCall::Destroy => format!(r#","recovery":{{"step":"restart","at":"{long_ago}"}}"#),
        _ => String::new(),
    };
    for fault in EVERY_ERROR {
        back_to_running(&mut rig, u);
        let machine = rig.row(u).machine_id.unwrap();
        rig.exec(&format!(
            "UPDATE user_fly_apps SET health_status = 'unhealthy', \
             health_detail = '{{\"unhealthy_since\":\"{long_ago}\"{recovery}}}' WHERE user_id = '{u}'"
        ));
        let seq_before = rig.store.events(u, 1).unwrap().first().map_or(0, |e| e.seq);
        let transport = FaultOnce::new(
            NativeTransport::new(),
            fault,
            1,
            call.matcher(&app, &machine),
        );
        rig.screener.answer_as(&app, someone_else.clone());
        let started = chrono::Utc::now();
        let summary = rig.sweep_over(&transport);
        assert_eq!(
            transport.hits(),
            1,
            "{call:?} {fault:?}: the fault was hit: {summary:#?}"
        );

        let row = rig.row(u);
        assert_eq!(
            row.status,
            AppStatus::Active,
            "{call:?} {fault:?}: {row:#?}"
        );
        assert_eq!(
            row.health_status,
            HealthStatus::Unhealthy,
            "{call:?} {fault:?}"
        );
        let events = rig.store.events(u, 1000).unwrap();
        let attempted: Vec<_> = events
            .iter()
            .filter(|e| e.event_type == EventType::RecoveryAttempted)
            .filter(|e| e.metadata["step"] == call.step() && e.seq > seq_before)
            .collect();
        assert_eq!(
            attempted.len(),
            1,
            "{call:?} {fault:?}: one recovery step recorded: {events:#?}"
        );
        // No error on the step: Fly took it (a 404 on a destroy means the machine is gone already).
        if attempted[0].error_details.is_some() {
            let details = attempted[0].error_details.clone().unwrap_or_default();
            assert!(
                details.contains(call.step()),
                "{call:?} {fault:?}: the event says why: {:#?}",
                attempted[0]
            );
            assert!(
                row.error_message.as_deref().is_some_and(|m| !m.is_empty()),
                "{call:?} {fault:?}: the row says why: {row:#?} {summary:#?}"
            );
            let next = row.next_attempt_at.expect("a backoff");
            assert!(
                next > started,
                "{call:?} {fault:?}: backoff {next} after {started}"
            );
            if fault == Injected::Status(429) {
                assert!(
                    next >= started + chrono::Duration::milliseconds(900),
                    "{call:?}: Retry-After is honoured: {row:#?}"
                );
            }
            assert!(!details.contains(rig.sim.sim().token()));
        }
    }
    // Once Fly behaves the app runs again.
    back_to_running(&mut rig, u);
}

#[test]
fn every_error_on_a_restarts_stop_leaves_an_outcome() {
    every_error_on_repair(RepairCall::Stop);
}

#[test]
fn every_error_on_a_restarts_wait_leaves_an_outcome() {
    every_error_on_repair(RepairCall::Wait);
}

#[test]
fn every_error_on_a_restarts_start_leaves_an_outcome() {
    every_error_on_repair(RepairCall::Start);
}

#[test]
fn every_error_on_a_recreates_destroy_leaves_an_outcome() {
    every_error_on_repair(RepairCall::Destroy);
}

// ---- rollout ----------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum RolloutCall {
    AcquireLease,
    GetMachine,
    UpdateMachine,
    ReleaseLease,
}

impl RolloutCall {
    fn matcher(self, app: &str, machine: &str) -> Matcher {
        match self {
            RolloutCall::AcquireLease => machine_call(http::Method::POST, app, machine, "/lease"),
            RolloutCall::GetMachine => machine_call(http::Method::GET, app, machine, ""),
            RolloutCall::UpdateMachine => machine_call(http::Method::POST, app, machine, ""),
            RolloutCall::ReleaseLease => machine_call(http::Method::DELETE, app, machine, "/lease"),
        }
    }
}

fn machine_image<C: SqlConnection>(rig: &Rig<C>, app: &str) -> String {
    rig.live_machines(app)
        .first()
        .and_then(|m| m["config"]["image"].as_str().map(String::from))
        .unwrap_or_default()
}

/// Drives one rollout call through every error class, a new image per case (so each case is a new rollout).
fn every_error_on_rollout(call: RolloutCall) {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.config.rollout_wait = Duration::from_secs(3);
    let u = rig.provision_users(1, 1)[0];
    let app = rig.row(u).fly_app_name.unwrap();
    for (i, fault) in EVERY_ERROR.into_iter().enumerate() {
        back_to_running(&mut rig, u);
        rig.sweep_until("healthy", |rig| {
            rig.row(u).health_status == HealthStatus::Healthy
        });
        let image = format!("registry.fly.io/vyx-screener:v{}", i + 2);
        rig.reconcile.image = image.clone();
        let machine = rig.row(u).machine_id.unwrap();
        // The lease nonce the faulted request carried (a lease left held is released after the case).
        let nonce = Rc::new(RefCell::new(None::<String>));
        let matcher = {
            let (nonce, matcher) = (nonce.clone(), call.matcher(&app, &machine));
            move |request: &http::Request<Vec<u8>>| {
                let hit = matcher(request);
                if hit {
                    *nonce.borrow_mut() = request
                        .headers()
                        .get("fly-machine-lease-nonce")
                        .and_then(|v| v.to_str().ok())
                        .map(String::from);
                }
                hit
            }
        };
        let transport = FaultOnce::new(NativeTransport::new(), fault, 1, matcher);
        let summary = rig.sweep_over(&transport);
        assert_eq!(
            transport.hits(),
            1,
            "{call:?} {fault:?}: the fault was hit: {summary:#?}"
        );
        let nonce = nonce.borrow().clone();
        if let Some(nonce) = nonce.filter(|_| lease_active(&rig, &app)) {
            let (app, machine) = (
                AppName::parse(app.as_str()).unwrap(),
                MachineId::parse(machine.as_str()).unwrap(),
            );
            let fly = rig.fly();
            rig.block_on(fly.release_lease(&app, &machine, &nonce))
                .unwrap();
        }

        let state = rig.store.state(ROLLOUT_STATE_KEY).unwrap().unwrap();
        assert_eq!(state["target_image"], image.as_str());
        if summary.rolled == 1 {
            assert_eq!(machine_image(&rig, &app), image, "{call:?} {fault:?}");
            continue;
        }
        // Not rolled: the failure is recorded for the machine and for the fleet.
        let failed: Vec<_> = rig
            .store
            .events(u, 1000)
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.event_type == EventType::RolloutMachineFailed
                    && e.metadata["image"] == image.as_str()
            })
            .collect();
        assert_eq!(failed.len(), 1, "{call:?} {fault:?}: {summary:#?}");
        assert!(
            failed[0]
                .error_details
                .as_deref()
                .is_some_and(|d| !d.is_empty()),
            "{call:?} {fault:?}: {:#?}",
            failed[0]
        );
        assert!(
            failure_recorded(&summary, "rolling machine"),
            "{call:?} {fault:?}: {summary:#?}"
        );
        assert!(
            stored_fleet_wide_errors(&mut rig)
                .iter()
                .any(|e| e.contains("rolling machine")),
            "{call:?} {fault:?}: kept in fleet_state"
        );
        if passing(fault) {
            // A passing failure is a reason to wait, not to halt: a later sweep rolls the machine.
            assert_eq!(
                state["status"], "in_progress",
                "{call:?} {fault:?}: {state}"
            );
            assert_eq!(state["failed"], 0, "{call:?} {fault:?}: {state}");
            if lease_lost(call, fault) {
                // The lease was taken but its nonce is lost: the machine waits for the lease to expire, and
                // every sweep meanwhile says why (409, lease held), without halting the rollout.
                let summary = rig.sweep();
                assert!(
                    failure_recorded(&summary, "lease currently held"),
                    "{summary:#?}"
                );
                let state = rig.store.state(ROLLOUT_STATE_KEY).unwrap().unwrap();
                assert_eq!(state["status"], "in_progress", "{state}");
                continue;
            }
            rig.sweep_until("the machine rolled after the fault", |rig| {
                machine_image(rig, &app) == image
                    && rig.row(u).docker_image.as_deref() == Some(image.as_str())
            });
        } else {
            assert_eq!(state["failed"], 1, "{call:?} {fault:?}: {state}");
        }
    }
    if !lease_lost(call, Injected::DropAfter) {
        // A sweep without trouble clears the fleet-wide record.
        rig.sweep();
        assert!(stored_fleet_wide_errors(&mut rig).is_empty());
    }
}

/// An acquire whose answer was lost took the lease: nobody knows its nonce until it expires.
fn lease_lost(call: RolloutCall, fault: Injected) -> bool {
    matches!(call, RolloutCall::AcquireLease) && fault == Injected::DropAfter
}

fn lease_active<C: SqlConnection>(rig: &Rig<C>, app: &str) -> bool {
    rig.live_machines(app)
        .first()
        .is_some_and(|m| m["lease"]["active"] == true)
}

#[test]
fn every_error_on_a_rollouts_lease_acquire_leaves_an_outcome() {
    every_error_on_rollout(RolloutCall::AcquireLease);
}

#[test]
fn every_error_on_a_rollouts_get_machine_leaves_an_outcome() {
    every_error_on_rollout(RolloutCall::GetMachine);
}

#[test]
fn every_error_on_a_rollouts_update_leaves_an_outcome() {
    every_error_on_rollout(RolloutCall::UpdateMachine);
}

#[test]
fn every_error_on_a_rollouts_lease_release_leaves_an_outcome() {
    every_error_on_rollout(RolloutCall::ReleaseLease);
}

// ---- orphans ----------------------------------------------------------------------------------------------

#[test]
fn every_error_on_the_orphan_scans_list_apps_leaves_an_outcome() {
    let mut rig = Rig::sqlite(quiet_sim());
    let orphan = "vyx-user-0badc0de";
    rig.create_app(orphan);
    rig.wait_for("orphan visible", Duration::from_secs(5), |rig| {
        rig.apps()
            .iter()
            .any(|a| a["name"] == orphan && a["visible"] == true)
    });
    for fault in EVERY_ERROR {
        let listing = on(http::Method::GET, "/apps".into());
        let transport = FaultOnce::new(NativeTransport::new(), fault, 1, listing);
        let summary = rig.sweep_over(&transport);
        assert_eq!(transport.hits(), 1, "{fault:?}: the fault was hit");
        if summary.orphans == 1 {
            continue;
        }
        assert!(
            failure_recorded(&summary, "orphan scan"),
            "{fault:?}: {summary:#?}"
        );
        assert!(
            stored_fleet_wide_errors(&mut rig)
                .iter()
                .any(|e| e.contains("orphan scan")),
            "{fault:?}: kept in fleet_state"
        );
    }
    let summary = rig.sweep();
    assert_eq!(summary.orphans, 1, "{summary:#?}");
    assert!(summary.fleet_wide_errors.is_empty(), "{summary:#?}");
    assert!(stored_fleet_wide_errors(&mut rig).is_empty());
}

#[test]
fn every_error_on_an_orphans_deletion_leaves_an_outcome() {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.config.orphan_policy = OrphanPolicy::Delete;
    rig.config.orphan_grace = Duration::ZERO;
    for (i, fault) in EVERY_ERROR.into_iter().enumerate() {
        let orphan = format!("vyx-user-0bad{i:04x}");
        rig.create_app(&orphan);
        rig.wait_for("orphan visible", Duration::from_secs(5), |rig| {
            rig.apps()
                .iter()
                .any(|a| a["name"] == orphan.as_str() && a["visible"] == true)
        });
        let deletion = on(http::Method::DELETE, format!("/apps/{orphan}"));
        let transport = FaultOnce::new(NativeTransport::new(), fault, 1, deletion);
        let summary = rig.sweep_over(&transport);
        assert_eq!(
            transport.hits(),
            1,
            "{fault:?}: the fault was hit: {summary:#?}"
        );
        let still_there = rig
            .apps()
            .iter()
            .any(|a| a["name"] == orphan.as_str() && a["deleting"] != true);
        let recorded = failure_recorded(&summary, &orphan);
        // A 404 says the app is gone already (recorded as deleted; a later scan that still lists it tries
        // again).
        assert!(
            !still_there || recorded || fault == Injected::Status(404),
            "{fault:?}: deleted or the failure recorded: {summary:#?}"
        );
        if recorded {
            assert!(
                stored_fleet_wide_errors(&mut rig)
                    .iter()
                    .any(|e| e.contains(&orphan)),
                "{fault:?}: kept in fleet_state"
            );
        }
    }
    // Without faults the next sweeps delete every orphan left.
    rig.sweep_until("every orphan deleted", |rig| {
        rig.apps().iter().all(|a| {
            !a["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("vyx-user-0bad")
                || a["deleting"] == true
        })
    });
    assert!(stored_fleet_wide_errors(&mut rig).is_empty());
}
