//! The sweep repairs drift on the next pass: crashed machines, apps deleted behind Fleet's back, lost
//! provision and deprovision webhooks; and it flags a machine that answers as another user.

mod support;

use std::time::Duration;

use fleet_store::{AppStatus, EventType, HealthStatus};
use support::{quiet_sim, user, Answer, Rig};

#[test]
fn an_entitled_user_whose_webhook_was_lost_is_provisioned_by_the_sweep() {
    let mut rig = Rig::postgres(quiet_sim());
    let alice = user(1);
    rig.subscribe(alice, "pro", "active");
    let summaries = rig.sweep_until("alice active", |rig| {
        rig.row(alice).status == AppStatus::Active
    });
    assert!(
        summaries.iter().map(|s| s.provisioned).sum::<u32>() >= 1,
        "{summaries:#?}"
    );
    let row = rig.row(alice);
    let app = row.fly_app_name.clone().unwrap();
    assert_eq!(rig.live_machines(&app).len(), 1);
    // The next sweep finds it healthy: the screener answers as alice, in dedicated mode.
    let summary = rig.sweep();
    assert_eq!(
        (summary.checked, summary.healthy, summary.unhealthy),
        (1, 1, 0),
        "{summary:#?}"
    );
    let row = rig.row(alice);
    assert_eq!(row.health_status, HealthStatus::Healthy);
    assert_eq!(
        row.monthly_cost_estimate_usd,
        Some(3.88),
        "shared-cpu-2x 512 MB estimate"
    );
}

#[test]
fn a_crashed_machine_is_started_again_by_the_next_sweep() {
    let mut rig = Rig::postgres(quiet_sim());
    let bob = user(2);
    rig.provision_users(2, 1);
    rig.sweep();
    let row = rig.row(bob);
    let machine = row.machine_id.clone().unwrap();
    assert!(rig.sim.sim().crash_machine(&machine));

    let summary = rig.sweep();
    assert_eq!(summary.repaired, 1, "{summary:#?}");
    assert_eq!(
        summary.unhealthy, 1,
        "the crash is recorded before the repair"
    );
    let app = row.fly_app_name.unwrap();
    rig.wait_for("machine started", Duration::from_secs(5), |rig| {
        rig.live_machines(&app)
            .iter()
            .any(|m| m["state"] == "started")
    });
    let summary = rig.sweep();
    assert_eq!((summary.healthy, summary.repaired), (1, 0), "{summary:#?}");
    let row = rig.row(bob);
    assert_eq!(
        (row.health_status, row.machine_id.as_deref()),
        (HealthStatus::Healthy, Some(machine.as_str()))
    );
    let types: Vec<EventType> = rig
        .store
        .events(bob, 100)
        .unwrap()
        .iter()
        .map(|e| e.event_type)
        .collect();
    assert!(types.contains(&EventType::RecoveryAttempted), "{types:?}");
    assert!(
        types.contains(&EventType::HealthCheckFailed)
            && types.contains(&EventType::HealthCheckPassed)
    );
}

#[test]
fn an_app_deleted_behind_fleets_back_is_recreated_by_the_next_sweep() {
    let mut rig = Rig::sqlite(quiet_sim());
    let carol = user(3);
    rig.provision_users(3, 1);
    let app = rig.row(carol).fly_app_name.unwrap();
    rig.delete_app(&app);
    rig.wait_for("the app is gone", Duration::from_secs(5), |rig| {
        rig.apps().iter().all(|a| a["name"] != app.as_str())
    });

    let summaries = rig.sweep_until("app back with a started machine", |rig| {
        rig.row(carol).status == AppStatus::Active
            && rig
                .live_machines(&app)
                .iter()
                .any(|m| m["state"] == "started")
    });
    assert!(
        summaries.iter().map(|s| s.repaired).sum::<u32>() >= 1,
        "{summaries:#?}"
    );
    assert_eq!(rig.live_machines(&app).len(), 1, "same name, one machine");
}

#[test]
fn a_downgraded_user_whose_webhook_was_lost_is_deprovisioned_by_the_sweep() {
    let mut rig = Rig::postgres(quiet_sim());
    let dave = user(4);
    rig.provision_users(4, 1);
    let row = rig.row(dave);
    let app = row.fly_app_name.clone().unwrap();
    assert!(row.db_role_name.is_some());

    rig.subscribe(dave, "free", "active");
    let summaries = rig.sweep_until("dave deleted", |rig| {
        rig.row(dave).status == AppStatus::Deleted
    });
    assert!(
        summaries.iter().map(|s| s.deprovisioned).sum::<u32>() >= 1,
        "{summaries:#?}"
    );
    let row = rig.row(dave);
    assert_eq!(row.db_role_name, None, "the screener role is revoked");
    assert!(rig.live_machines(&app).is_empty());
    // A deleted user is not due any more: the next sweep looks at nothing.
    let summary = rig.sweep();
    assert_eq!((summary.checked, summary.remaining), (0, 0), "{summary:#?}");
}

#[test]
fn a_machine_answering_as_another_user_is_flagged_unhealthy_once() {
    let mut rig = Rig::sqlite(quiet_sim());
    let erin = user(5);
    rig.provision_users(5, 1);
    rig.sweep();
    let app = rig.row(erin).fly_app_name.unwrap();
    let events_before = rig.store.events(erin, 500).unwrap().len();

    rig.screener.answer_as(
        &app,
        Answer {
            user_id: user(99).to_string(),
            run_mode: "user_dedicated".into(),
            status: "ok".into(),
        },
    );
    for _ in 0..3 {
        let summary = rig.sweep();
        assert_eq!(
            (summary.unhealthy, summary.repaired),
            (1, 0),
            "within the grace period nothing is restarted"
        );
    }
    let row = rig.row(erin);
    assert_eq!(row.health_status, HealthStatus::Unhealthy);
    let reasons = row.health_detail["reasons"].to_string();
    assert!(reasons.contains(&user(99).to_string()), "{reasons}");
    let events = rig.store.events(erin, 500).unwrap();
    let failed = events
        .iter()
        .filter(|e| e.event_type == EventType::HealthCheckFailed)
        .count();
    assert_eq!(
        failed, 1,
        "one event for the transition, none for the steady state"
    );
    assert_eq!(events.len(), events_before + 1);

    rig.screener.clear_override(&app);
    let summary = rig.sweep();
    assert_eq!(summary.healthy, 1);
    assert_eq!(
        rig.store.events(erin, 1).unwrap()[0].event_type,
        EventType::HealthCheckPassed
    );
}

#[test]
fn health_critical_past_the_grace_period_is_restarted_then_recreated() {
    let mut rig = Rig::sqlite(quiet_sim());
    let frank = user(6);
    rig.provision_users(6, 1);
    rig.config.unhealthy_grace = Duration::from_millis(300);
    let row = rig.row(frank);
    let app = row.fly_app_name.clone().unwrap();
    let first_machine = row.machine_id.unwrap();
    rig.screener.answer_as(
        &app,
        Answer {
            user_id: frank.to_string(),
            run_mode: "shared".into(),
            status: "ok".into(),
        },
    );

    rig.sweep(); // unhealthy since now
    std::thread::sleep(Duration::from_millis(400));
    let restart = rig.sweep();
    assert_eq!(restart.repaired, 1, "{restart:#?}");
    rig.wait_for("restarted machine started", Duration::from_secs(5), |rig| {
        rig.live_machines(&app)
            .iter()
            .any(|m| m["state"] == "started")
    });
    std::thread::sleep(Duration::from_millis(400));
    rig.sweep_until("the machine is recreated", |rig| {
        rig.row(frank).machine_id.as_deref() != Some(first_machine.as_str())
    });
    let steps: Vec<String> = rig
        .store
        .events(frank, 100)
        .unwrap()
        .iter()
        .filter(|e| e.event_type == EventType::RecoveryAttempted)
        .filter_map(|e| e.metadata["step"].as_str().map(str::to_string))
        .collect();
    let oldest_first: Vec<&str> = steps.iter().rev().map(String::as_str).take(2).collect();
    assert_eq!(
        oldest_first,
        ["restart", "recreate"],
        "restart first, then recreate: {steps:?}"
    );
    assert_eq!(rig.live_machines(&app).len(), 1, "the old machine is gone");
}
