//! Issue 20: a forced deprovision (an operator's hold on an entitled user) holds against the sweep until it
//! is lifted: the sweep tears the app down, never re-provisions it (nor even looks at the deleted row) while
//! held, and provisions it again once the hold is lifted. The deprovision events say why ("sweep").

mod support;

use fleet_store::{AppStatus, Hold, SqlConnection};
use support::{quiet_sim, Rig};

fn holds_against_the_sweep_until_lifted<C: SqlConnection>(mut rig: Rig<C>) {
    let alice = rig.provision_users(1, 1)[0];
    let app = rig.row(alice).fly_app_name.unwrap();
    assert!(rig.store.entitlement(alice).unwrap().entitled);
    let hold = Hold {
        user_id: alice,
        operator: "admin-token".into(),
        reason: "abuse".into(),
        since: chrono::Utc::now(),
    };
    assert!(rig.store.put_hold(&hold).unwrap());
    assert!(!rig.store.put_hold(&hold).unwrap(), "a hold is set once");
    let e = rig.store.entitlement(alice).unwrap();
    assert!(e.entitled && e.held);

    rig.sweep_until("alice's app torn down", |rig| {
        rig.row(alice).status == AppStatus::Deleted
    });
    let events = rig.store.events(alice, 50).unwrap();
    let requested = events
        .iter()
        .find(|e| e.event_type == fleet_store::EventType::DeprovisionRequested)
        .expect("deprovision_requested");
    assert_eq!(requested.metadata["reason"], "sweep");
    assert_eq!(requested.metadata["tier"], "pro");

    let calls_for_app = |rig: &Rig<C>| {
        ["GET", "POST", "DELETE"]
            .iter()
            .map(|m| rig.requests_matching(m, &app).len())
            .sum::<usize>()
    };
    let before = calls_for_app(&rig);
    for _ in 0..3 {
        let summary = rig.sweep();
        assert_eq!(summary.provisioned, 0, "{summary:#?}");
    }
    assert_eq!(rig.row(alice).status, AppStatus::Deleted);
    assert_eq!(
        calls_for_app(&rig),
        before,
        "the sweep looked at a held app"
    );

    assert!(rig.store.lift_hold(alice).unwrap());
    rig.sweep_until("alice provisioned again", |rig| {
        rig.row(alice).status == AppStatus::Active
    });
}

#[test]
fn forced_deprovision_holds_against_the_sweep_until_lifted() {
    holds_against_the_sweep_until_lifted(Rig::sqlite(quiet_sim()));
}

#[test]
fn forced_deprovision_holds_against_the_sweep_until_lifted_on_postgres() {
    holds_against_the_sweep_until_lifted(Rig::postgres(quiet_sim()));
}
