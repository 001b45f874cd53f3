//! Issue 14, "no step without an outcome": every Fly call of provisioning, answered with every error class
//! (400/401/403/404/408/409/412/422/429/500/502/503 and a dropped connection), leaves the row with a recorded
//! reason and a backoff (or converged), never a panic and never a silent stall; a 429 is a reason to wait with
//! its reason recorded, not a failed attempt; all name candidates foreign plus 429s on the way still reach the
//! 16-hex candidate, count attempts and end in `error`.

#[allow(dead_code)] // this suite uses part of the rig
mod support;

use fleet_store::AppStatus;
use fleet_test_support::fly_faults::{name_candidates, FaultOnce, Injected, EVERY_ERROR};
use fly_api::transport_native::NativeTransport;
use fly_simulator::{FaultKind, FaultSettings, ScriptedFault, SimConfig};
use support::{user, Rig};

fn quiet_sim() -> SimConfig {
    SimConfig::default().without_rate_limits()
}

/// Which request of provisioning a fault hits, given the user's first app name.
#[derive(Clone, Copy, Debug)]
enum Call {
    ListMachines,
    CreateApp,
    GetApp,
    SetSecrets,
    CreateMachine,
    WaitMachine,
}

impl Call {
    fn matcher(self, app: String) -> impl Fn(&http::Request<Vec<u8>>) -> bool + 'static {
        move |request| {
            let (method, path) = (request.method().as_str(), request.uri().path());
            let base = format!("/v1/apps/{app}");
            match self {
                Call::ListMachines => method == "GET" && path == format!("{base}/machines"),
                Call::CreateApp => {
                    method == "POST"
                        && path == "/v1/apps"
                        && String::from_utf8_lossy(request.body()).contains(app.as_str())
                }
                Call::GetApp => method == "GET" && path == base,
                Call::SetSecrets => method == "POST" && path == format!("{base}/secrets"),
                Call::CreateMachine => method == "POST" && path == format!("{base}/machines"),
                Call::WaitMachine => {
                    method == "GET" && path.starts_with(&base) && path.ends_with("/wait")
                }
            }
        }
    }
}

/// Drives one provisioning call through every error class, one user per class.
fn every_error_on(call: Call, first_user: u32) {
    let mut rig = Rig::sqlite(quiet_sim());
    for (i, fault) in EVERY_ERROR.into_iter().enumerate() {
        let u = user(first_user + i as u32);
        let app = name_candidates(&u.to_string())[0].clone();
        rig.subscribe(u, "pro", "active");
        let transport = FaultOnce::new(NativeTransport::new(), fault, 1, call.matcher(app.clone()));
        let fly = rig.client_over(&transport);
        let started = chrono::Utc::now();
        let outcome = rig.pass_through(&fly, u, "faulted-worker");
        assert_eq!(transport.hits(), 1, "{call:?} {fault:?}: the fault was hit");
        let row = rig.store.app(u).unwrap().expect("row");
        if !outcome.converged {
            let message = row.error_message.clone().unwrap_or_default();
            assert!(
                !message.is_empty(),
                "{call:?} {fault:?}: a pass that did not converge records why: {outcome:#?} {row:#?}"
            );
            assert!(
                row.next_attempt_at.is_some_and(|t| t > started),
                "{call:?} {fault:?}: and when it is tried again: {row:#?}"
            );
            assert!(!message.contains(rig.sim.sim().token()), "{message}");
            if fault == Injected::Status(429) {
                assert!(message.contains("rate limit"), "{call:?}: {message}");
                assert_eq!(row.attempts, 0, "{call:?}: a 429 is a wait, not a failure");
                assert!(
                    row.next_attempt_at.unwrap() >= started + chrono::Duration::milliseconds(900),
                    "{call:?}: Retry-After is honoured: {row:#?}"
                );
            } else {
                assert!(row.attempts >= 1, "{call:?} {fault:?}: counted: {row:#?}");
            }
        }
        // Once Fly behaves, the user converges to one app with one started machine.
        let outcomes = rig.converge(u);
        let name = outcomes.last().unwrap().app_name.clone().unwrap();
        let machines = rig.live_machines(&name);
        assert_eq!(machines.len(), 1, "{call:?} {fault:?}: {machines:#?}");
        let row = rig.store.app(u).unwrap().unwrap();
        assert_eq!(row.status, AppStatus::Active, "{call:?} {fault:?}");
        assert_eq!(row.error_message, None, "{call:?} {fault:?}: cleared");
    }
}

#[test]
fn every_error_on_list_machines_leaves_a_reason_or_progress() {
    every_error_on(Call::ListMachines, 100);
}

#[test]
fn every_error_on_create_app_leaves_a_reason_or_progress() {
    every_error_on(Call::CreateApp, 200);
}

#[test]
fn every_error_on_get_app_leaves_a_reason_or_progress() {
    every_error_on(Call::GetApp, 300);
}

#[test]
fn every_error_on_set_secrets_leaves_a_reason_or_progress() {
    every_error_on(Call::SetSecrets, 400);
}

#[test]
fn every_error_on_create_machine_leaves_a_reason_or_progress() {
    every_error_on(Call::CreateMachine, 500);
}

#[test]
fn every_error_on_wait_machine_leaves_a_reason_or_progress() {
    every_error_on(Call::WaitMachine, 600);
}

/// The second failure: all three candidates are held by another organisation (403 on the app, 422
/// `name_taken` on create) and Fly answers 429 on the way. Each 429 is recorded as a reason to wait; the 16-hex
/// candidate is tried; the exhausted candidates count attempts with their reason and end in `error`.
#[test]
fn foreign_names_and_rate_limits_reach_the_last_candidate_and_end_in_error() {
    let u = user(700);
    let names = name_candidates(&u.to_string());
    let mut sim = quiet_sim();
    sim.foreign_apps = names.clone();
    sim.faults = FaultSettings {
        scripted: vec![
            ScriptedFault {
                method: "GET".into(),
                path_contains: format!("/v1/apps/{}", names[1]),
                path_ends: true,
                kind: FaultKind::Before429,
                count: 1,
            },
            ScriptedFault {
                method: "GET".into(),
                path_contains: format!("/v1/apps/{}/machines", names[2]),
                path_ends: true,
                kind: FaultKind::Before429,
                count: 1,
            },
        ],
        ..Default::default()
    };
    let mut rig = Rig::sqlite(sim);
    rig.subscribe(u, "pro", "active");
    let fly = rig.client_over(NativeTransport::new());

    let outcome = rig.pass_through(&fly, u, "w");
    let row = rig.store.app(u).unwrap().unwrap();
    assert!(!outcome.converged);
    assert_eq!(row.fly_app_name.as_deref(), Some(names[1].as_str()));
    assert_eq!(row.attempts, 0, "{row:#?}");
    let message = row.error_message.clone().expect("the 429 is recorded");
    assert!(message.contains("rate limit"), "{message}");
    assert!(row.next_attempt_at.is_some());

    let mut rows = Vec::new();
    for _ in 0..8 {
        rig.pass_through(&fly, u, "w");
        let row = rig.store.app(u).unwrap().unwrap();
        let done = row.status == AppStatus::Error;
        rows.push(row);
        if done {
            break;
        }
    }
    let last = rows.last().unwrap();
    assert_eq!(last.status, AppStatus::Error, "{rows:#?}");
    assert_eq!(last.fly_app_name.as_deref(), Some(names[2].as_str()));
    assert!(last.attempts >= 5, "{last:#?}");
    assert!(
        last.error_message
            .as_deref()
            .is_some_and(|m| m.contains("every app name candidate")),
        "{last:#?}"
    );
    let tried_last = rig
        .sim
        .sim()
        .request_log()
        .iter()
        .any(|e| e.method == "GET" && e.path.ends_with(&format!("/v1/apps/{}", names[2])));
    assert!(tried_last, "the 16-hex candidate was probed");
}

/// Time arithmetic never panics: a pass with an unbounded budget (`Duration::MAX`, which used to overflow
/// `now + budget`) runs and converges.
#[test]
fn a_pass_with_an_unbounded_budget_does_not_overflow() {
    let mut rig = Rig::sqlite(quiet_sim());
    let u = user(800);
    rig.subscribe(u, "pro", "active");
    let fly = rig.client_over(NativeTransport::new());
    let mut converged = false;
    for _ in 0..5 {
        if rig
            .pass_within(&fly, u, "w", std::time::Duration::MAX)
            .converged
        {
            converged = true;
            break;
        }
    }
    assert!(converged);
    assert_eq!(rig.store.app(u).unwrap().unwrap().status, AppStatus::Active);
}
