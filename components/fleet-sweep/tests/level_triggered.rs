//! Issue 14: the sweep is level-triggered for real and never traps. Rows that disagree with their entitlement
//! or sit in a transitional state are swept without a due mark; a row whose app name is foreign (403) or whose
//! list call fails in any way does not trap the sweep and gets an outcome; the leases of a sweep that trapped
//! expire within the short row lease.

mod support;

use std::time::Duration;

use fleet_store::AppStatus;
use fleet_test_support::fly_faults::{name_candidates, FaultOnce, Injected, EVERY_ERROR};
use fly_api::transport_native::NativeTransport;
use fly_simulator::{FaultKind, FaultSettings, ScriptedFault};
use support::{quiet_sim, user, Rig};

/// The short row lease (fleet_store::ROW_LEASE_TTL).
const ROW_LEASE: Duration = Duration::from_secs(30);

fn list_machines_of(app: String) -> impl Fn(&http::Request<Vec<u8>>) -> bool + 'static {
    move |request| {
        request.method() == http::Method::GET
            && request.uri().path() == format!("/v1/apps/{app}/machines")
    }
}

/// The first failure: a provisioning row whose due mark was cleared (a request that then failed, a
/// lost answer) was never looked at again.
#[test]
fn a_provisioning_row_without_a_due_mark_is_provisioned_by_the_next_sweep() {
    let mut rig = Rig::postgres(quiet_sim());
    let alice = user(1);
    rig.subscribe(alice, "pro", "active");
    rig.exec(&format!(
        "UPDATE user_fly_apps SET next_attempt_at = NULL WHERE user_id = '{alice}'"
    ));
    assert_eq!(rig.row(alice).status, AppStatus::Provisioning);
    let summaries = rig.sweep_until("alice active", |rig| {
        rig.row(alice).status == AppStatus::Active
    });
    assert!(summaries[0].considered >= 1, "{summaries:#?}");
    assert!(summaries[0].checked >= 1, "{summaries:#?}");
    assert!(
        summaries.iter().map(|s| s.provisioned).sum::<u32>() >= 1,
        "{summaries:#?}"
    );
}

/// A downgraded user whose row is still active and carries no due mark is torn down.
#[test]
fn a_live_row_of_a_user_no_longer_entitled_is_deprovisioned_without_a_due_mark() {
    let mut rig = Rig::sqlite(quiet_sim());
    let bob = user(2);
    rig.provision_users(2, 1);
    rig.subscribe(bob, "free", "active");
    rig.exec(&format!(
        "UPDATE user_fly_apps SET next_attempt_at = NULL, last_health_check = '9999-01-01T00:00:00.000Z' \
         WHERE user_id = '{bob}'"
    ));
    rig.sweep_until("bob deleted", |rig| {
        rig.row(bob).status == AppStatus::Deleted
    });
}

/// The trap: all three name candidates are foreign (403 on the app, 422 on create) and a 429 comes on
/// the way. The next sweep lists the foreign app (403), which used to panic the health component
/// (`DateTime + TimeDelta overflowed`). Now the sweep moves on to the 16-hex candidate and counts the attempt
/// with its reason.
#[test]
fn a_foreign_app_name_does_not_trap_the_sweep_and_the_last_candidate_is_tried() {
    let carol = user(3);
    let names = name_candidates(&carol.to_string());
    let mut sim = quiet_sim();
    sim.foreign_apps = names.clone();
    sim.faults = FaultSettings {
        scripted: vec![ScriptedFault {
            method: "GET".into(),
            path_contains: format!("/v1/apps/{}", names[1]),
            path_ends: true,
            kind: FaultKind::Before429,
            count: 1,
        }],
        ..Default::default()
    };
    let mut rig = Rig::sqlite(sim);
    rig.subscribe(carol, "pro", "active");
    let mut summaries = Vec::new();
    for _ in 0..4 {
        summaries.push(rig.sweep());
        let row = rig.row(carol);
        if row.attempts >= 1 {
            break;
        }
        // Wait out the recorded Retry-After (1 s).
        std::thread::sleep(Duration::from_millis(1300));
    }
    let row = rig.row(carol);
    assert_eq!(
        row.fly_app_name.as_deref(),
        Some(names[2].as_str()),
        "{summaries:#?}"
    );
    assert!(row.attempts >= 1, "{row:#?} {summaries:#?}");
    assert!(
        row.error_message
            .as_deref()
            .is_some_and(|m| m.contains("every app name candidate")),
        "{row:#?}"
    );
    assert!(row.next_attempt_at.is_some());
    assert!(summaries.iter().all(|s| s.checked >= 1), "{summaries:#?}");
}

/// Every error class on the sweep's own list call, for a row mid-provision (named, no app yet) and for an
/// active app: no trap, and the provisioning row ends with progress or a recorded reason and a backoff.
#[test]
fn every_error_on_the_sweeps_list_call_leaves_an_outcome() {
    let mut rig = Rig::sqlite(quiet_sim());
    let active = rig.provision_users(10, 1)[0];
    let active_app = rig.row(active).fly_app_name.unwrap();
    for (i, fault) in EVERY_ERROR.into_iter().enumerate() {
        let u = user(100 + i as u32);
        let app = name_candidates(&u.to_string())[0].clone();
        rig.subscribe(u, "pro", "active");
        rig.exec(&format!(
            "UPDATE user_fly_apps SET fly_app_name = '{app}', next_attempt_at = NULL WHERE user_id = '{u}'"
        ));
        let on_new = FaultOnce::new(NativeTransport::new(), fault, 1, list_machines_of(app));
        let transport = FaultOnce::new(on_new, fault, 1, list_machines_of(active_app.clone()));
        let started = chrono::Utc::now();
        let summary = rig.sweep_over(&transport);
        assert!(
            transport.hits() + transport.inner.hits() >= 1,
            "{fault:?}: hit"
        );
        let row = rig.row(u);
        if row.status != AppStatus::Active {
            assert!(
                row.error_message.as_deref().is_some_and(|m| !m.is_empty()),
                "{fault:?}: a reason is recorded: {row:#?} {summary:#?}"
            );
            assert!(
                row.next_attempt_at.is_some_and(|t| t > started),
                "{fault:?}: with a backoff: {row:#?}"
            );
        }
        assert_eq!(rig.row(active).status, AppStatus::Active, "{fault:?}");
        // Without faults the next sweeps finish the user.
        std::thread::sleep(Duration::from_millis(100));
        rig.exec(&format!(
            "UPDATE user_fly_apps SET next_attempt_at = NULL WHERE user_id = '{u}'"
        ));
        rig.sweep_until("provisioned after the fault", |rig| {
            rig.row(u).status == AppStatus::Active
        });
    }
}

/// A sweep that traps after claiming rows leaves their leases behind; they expire within the short row lease
/// (not the sweep budget plus a minute), and the next sweep after that provisions the user.
#[test]
fn a_trapped_sweeps_leases_expire_within_the_short_row_lease() {
    let mut rig = Rig::postgres(quiet_sim());
    let dave = user(4);
    rig.subscribe(dave, "pro", "active");
    let app = name_candidates(&dave.to_string())[0].clone();
    rig.exec(&format!(
        "UPDATE user_fly_apps SET fly_app_name = '{app}' WHERE user_id = '{dave}'"
    ));
    let trap = FaultOnce::new(
        NativeTransport::new(),
        Injected::Trap,
        1,
        list_machines_of(app),
    );
    let before = chrono::Utc::now();
    let trapped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rig.sweep_over(&trap)));
    assert!(trapped.is_err(), "the injected trap ends the sweep");
    let row = rig.row(dave);
    let expires = row
        .lease_expires_at
        .expect("the dead sweep's lease is left");
    assert!(
        expires
            <= before
                + chrono::TimeDelta::from_std(ROW_LEASE).unwrap()
                + chrono::Duration::seconds(2),
        "lease until {expires}, sweep started {before}"
    );
    // While it lives the row is the dead sweep's; once it expires the next sweep takes the row.
    let summary = rig.sweep();
    assert_eq!(summary.checked, 0, "{summary:#?}");
    rig.exec(&format!(
        "UPDATE user_fly_apps SET lease_expires_at = lease_expires_at - interval '{} seconds' WHERE user_id = '{dave}'",
        ROW_LEASE.as_secs()
    ));
    rig.sweep_until("dave active", |rig| {
        rig.row(dave).status == AppStatus::Active
    });
}

/// Time arithmetic never panics on configuration either: an unbounded budget and check interval
/// (`Duration::MAX`, which used to overflow `started + budget` and `started - interval`).
#[test]
fn a_sweep_with_unbounded_durations_does_not_overflow() {
    let mut rig = Rig::sqlite(quiet_sim());
    let erin = user(5);
    rig.subscribe(erin, "pro", "active");
    rig.config.budget = Duration::MAX;
    rig.config.check_interval = Duration::MAX;
    rig.config.unhealthy_grace = Duration::MAX;
    rig.config.orphan_grace = Duration::MAX;
    rig.sweep_until("erin active", |rig| {
        rig.row(erin).status == AppStatus::Active
    });
}
