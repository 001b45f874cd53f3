use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use fleet_reconcile::{Action, MachineState};
use fleet_store::{AppRow, AppStatus, EventType, HealthStatus, UserId};
use serde_json::json;

use super::*;
use crate::cost::PriceTable;
use crate::health::Assessment;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
        .unwrap()
        .to_utc()
}

fn row(status: AppStatus, health: HealthStatus) -> AppRow {
    let mut row = AppRow::new(UserId::parse("aaaaaaaa-0000-4000-8000-000000000001").unwrap());
    row.status = status;
    row.health_status = health;
    row.fly_app_name = Some("vyx-user-1a2b3c4d".into());
    row.cpu_kind = Some("shared".into());
    row.cpus = Some(2);
    row.memory_mb = Some(512);
    row.region = Some("sin".into());
    row
}

fn verdict(status: HealthStatus, state: MachineState) -> Assessment {
    Assessment {
        status,
        reasons: if status == HealthStatus::Healthy {
            vec![]
        } else {
            vec!["wrong user".into()]
        },
        machine_id: Some("m1".into()),
        machine_state: Some(state),
        image: Some("img:v1".into()),
        trader_count: None,
    }
}

fn plan(row: &AppRow, entitled: bool, action: &Action, a: Option<&Assessment>) -> AppPlan {
    plan_app(PlanInput {
        row,
        entitled,
        action,
        assessment: a,
        now: now(),
        unhealthy_grace: Duration::from_secs(600),
        prices: &PriceTable::embedded(),
    })
}

#[test]
fn repairs_follow_the_reconcile_decision_and_the_entitlement() {
    let start = Action::StartMachine {
        machine_id: "m1".into(),
    };
    let create = Action::CreateApp;
    let stopped = verdict(HealthStatus::Unhealthy, MachineState::Stopped);
    let cases = [
        (
            "crashed active app",
            row(AppStatus::Active, HealthStatus::Healthy),
            true,
            &start,
            Repair::Reconcile(RepairKind::Repair),
        ),
        (
            "app deleted behind our back",
            row(AppStatus::Active, HealthStatus::Healthy),
            true,
            &create,
            Repair::Reconcile(RepairKind::Repair),
        ),
        (
            "lost provision webhook",
            row(AppStatus::Provisioning, HealthStatus::Unknown),
            true,
            &Action::ChooseName,
            Repair::Reconcile(RepairKind::Provision),
        ),
        (
            "stuck in error",
            row(AppStatus::Error, HealthStatus::Unknown),
            true,
            &create,
            Repair::Reconcile(RepairKind::Provision),
        ),
        (
            "lost deprovision webhook",
            row(AppStatus::Active, HealthStatus::Healthy),
            false,
            &Action::BeginDeprovision,
            Repair::Reconcile(RepairKind::Deprovision),
        ),
        (
            "converged",
            row(AppStatus::Active, HealthStatus::Healthy),
            true,
            &Action::Converged,
            Repair::None,
        ),
    ];
    for (name, row, entitled, action, expected) in cases {
        let p = plan(&row, entitled, action, entitled.then_some(&stopped));
        assert_eq!(p.repair, expected, "{name}");
    }
}

#[test]
fn a_row_in_backoff_is_observed_but_not_repaired() {
    let mut r = row(AppStatus::Error, HealthStatus::Unhealthy);
    r.next_attempt_at = Some(now() + TimeDelta::minutes(5));
    let p = plan(
        &r,
        true,
        &Action::CreateApp,
        Some(&verdict(HealthStatus::Unhealthy, MachineState::Stopped)),
    );
    assert_eq!(p.repair, Repair::None);
    assert!(p.health.is_some());
}

#[test]
fn events_are_written_only_on_a_health_transition() {
    let healthy = verdict(HealthStatus::Healthy, MachineState::Started);
    let sick = verdict(HealthStatus::Unhealthy, MachineState::Started);
    let cases = [
        (
            HealthStatus::Unknown,
            &healthy,
            Some(EventType::HealthCheckPassed),
        ),
        (HealthStatus::Healthy, &healthy, None),
        (
            HealthStatus::Healthy,
            &sick,
            Some(EventType::HealthCheckFailed),
        ),
        (HealthStatus::Unhealthy, &sick, None),
        (
            HealthStatus::Unhealthy,
            &healthy,
            Some(EventType::HealthCheckPassed),
        ),
    ];
    for (before, a, event) in cases {
        let p = plan(
            &row(AppStatus::Active, before),
            true,
            &Action::Converged,
            Some(a),
        );
        assert_eq!(
            p.health.unwrap().event,
            event,
            "{before:?} -> {:?}",
            a.status
        );
    }
}

#[test]
fn critical_health_escalates_restart_then_recreate_after_each_grace_period() {
    let sick = verdict(HealthStatus::Unhealthy, MachineState::Started);
    let at = |mins: i64| fleet_store::format_time(now() - TimeDelta::minutes(mins));
    let mut r = row(AppStatus::Active, HealthStatus::Unhealthy);
    let cases = [
        // (detail left by the last sweep, expected repair)
        (json!({}), Repair::None),
        (json!({"unhealthy_since": at(5)}), Repair::None),
        (
            json!({"unhealthy_since": at(11)}),
            Repair::Restart {
                machine_id: "m1".into(),
            },
        ),
        (
            json!({"unhealthy_since": at(30), "recovery": {"step": "restart", "at": at(3)}}),
            Repair::None,
        ),
        (
            json!({"unhealthy_since": at(30), "recovery": {"step": "restart", "at": at(10)}}),
            Repair::Recreate {
                machine_id: "m1".into(),
            },
        ),
        (
            json!({"unhealthy_since": at(60), "recovery": {"step": "recreate", "at": at(12)}}),
            Repair::Restart {
                machine_id: "m1".into(),
            },
        ),
    ];
    for (detail, expected) in cases {
        r.health_detail = detail.clone();
        let p = plan(&r, true, &Action::Converged, Some(&sick));
        assert_eq!(p.repair, expected, "{detail}");
        let stored = p.health.unwrap().detail;
        assert!(
            stored["unhealthy_since"].is_string(),
            "the start of the episode is kept: {stored}"
        );
        if expected != Repair::None {
            assert_eq!(
                stored["recovery"]["at"],
                fleet_store::format_time(now()),
                "the step is recorded"
            );
        }
    }
    // Recovery ends the episode.
    r.health_detail =
        json!({"unhealthy_since": at(60), "recovery": {"step": "restart", "at": at(1)}});
    let p = plan(
        &r,
        true,
        &Action::Converged,
        Some(&verdict(HealthStatus::Healthy, MachineState::Started)),
    );
    let detail = p.health.unwrap().detail;
    assert!(
        detail["unhealthy_since"].is_null() && detail["recovery"].is_null(),
        "{detail}"
    );
}

#[test]
fn cost_accrues_only_for_time_started_between_sweeps() {
    let healthy = verdict(HealthStatus::Healthy, MachineState::Started);
    let mut r = row(AppStatus::Active, HealthStatus::Healthy);
    r.last_health_check = Some(now() - TimeDelta::days(3));
    r.health_detail = json!({"machine_state": "started"});
    let p = plan(&r, true, &Action::Converged, Some(&healthy));
    assert_eq!(p.monthly_cost_estimate_usd, Some(3.88));
    assert!(
        (p.accrued_add_usd - 3.88 * 3.0 / 30.0).abs() < 1e-9,
        "{}",
        p.accrued_add_usd
    );

    r.health_detail = json!({"machine_state": "stopped"});
    assert_eq!(
        plan(&r, true, &Action::Converged, Some(&healthy)).accrued_add_usd,
        0.0
    );
}
