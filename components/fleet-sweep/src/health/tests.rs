use fleet_reconcile::{MachineState, ObservedApp, ObservedMachine};
use fleet_store::HealthStatus;

use super::*;
use crate::probe::{ProbeResult, ScreenerHealth};

const USER: &str = "aaaaaaaa-0000-4000-8000-000000000001";

fn machine(id: &str, state: MachineState) -> ObservedMachine {
    ObservedMachine {
        id: id.into(),
        state,
        image: "registry.fly.io/screener:v1".into(),
        region: "sin".into(),
        launch_id: None,
    }
}

fn report(user: &str, mode: &str, status: &str) -> ProbeResult {
    ProbeResult::Answered {
        http_status: if status == "failing" { 503 } else { 200 },
        body: Some(ScreenerHealth {
            status: status.into(),
            reasons: if status == "ok" {
                vec![]
            } else {
                vec!["market data stale".into()]
            },
            run_mode: Some(mode.into()),
            user_id: Some(user.into()),
            trader_count: Some(2),
            last_candle_at: None,
        }),
    }
}

fn observation(state: MachineState, passing: bool, probe: ProbeResult) -> Observation {
    Observation {
        app: ObservedApp::Present {
            machines: vec![machine("m1", state)],
        },
        checks: vec![MachineChecks {
            machine_id: "m1".into(),
            instance_id: "i1".into(),
            passing,
            failing: if passing {
                vec![]
            } else {
                vec!["health".into()]
            },
        }],
        probe,
    }
}

#[test]
fn verdicts_for_each_kind_of_observation() {
    let ok = || report(USER, DEDICATED_RUN_MODE, "ok");
    let cases: Vec<(&str, Observation, HealthStatus, &str)> = vec![
        (
            "all good",
            observation(MachineState::Started, true, ok()),
            HealthStatus::Healthy,
            "",
        ),
        (
            "degraded data is healthy with a note",
            observation(
                MachineState::Started,
                true,
                report(USER, DEDICATED_RUN_MODE, "degraded"),
            ),
            HealthStatus::Healthy,
            "degraded",
        ),
        (
            "wrong user",
            observation(
                MachineState::Started,
                true,
                report(
                    "bbbbbbbb-0000-4000-8000-000000000002",
                    DEDICATED_RUN_MODE,
                    "ok",
                ),
            ),
            HealthStatus::Unhealthy,
            "for user bbbbbbbb",
        ),
        (
            "shared mode",
            observation(MachineState::Started, true, report(USER, "shared", "ok")),
            HealthStatus::Unhealthy,
            "mode shared",
        ),
        (
            "screener failing",
            observation(
                MachineState::Started,
                true,
                report(USER, DEDICATED_RUN_MODE, "failing"),
            ),
            HealthStatus::Unhealthy,
            "reports failing",
        ),
        (
            "unreachable",
            observation(
                MachineState::Started,
                true,
                ProbeResult::Unreachable("refused".into()),
            ),
            HealthStatus::Unhealthy,
            "unreachable",
        ),
        (
            "not json",
            observation(
                MachineState::Started,
                true,
                ProbeResult::Answered {
                    http_status: 502,
                    body: None,
                },
            ),
            HealthStatus::Unhealthy,
            "without a report",
        ),
        (
            "fly checks critical",
            observation(MachineState::Started, false, ok()),
            HealthStatus::Unhealthy,
            "checks not passing: health",
        ),
        (
            "stopped machine",
            observation(MachineState::Stopped, false, ProbeResult::NotProbed),
            HealthStatus::Unhealthy,
            "is stopped",
        ),
        (
            "app missing",
            Observation {
                app: ObservedApp::Missing,
                checks: vec![],
                probe: ProbeResult::NotProbed,
            },
            HealthStatus::Unhealthy,
            "does not exist",
        ),
        (
            "no machine",
            Observation {
                app: ObservedApp::Present { machines: vec![] },
                checks: vec![],
                probe: ProbeResult::NotProbed,
            },
            HealthStatus::Unhealthy,
            "no machine",
        ),
    ];
    for (name, obs, status, reason) in cases {
        let verdict = assess(&obs, Some("m1"), USER);
        assert_eq!(verdict.status, status, "{name}: {verdict:?}");
        if !reason.is_empty() {
            assert!(
                verdict.reasons.iter().any(|r| r.contains(reason)),
                "{name}: {verdict:?}"
            );
        } else {
            assert!(verdict.reasons.is_empty(), "{name}: {verdict:?}");
        }
    }
}

#[test]
fn the_recorded_machine_is_judged_over_others() {
    let obs = Observation {
        app: ObservedApp::Present {
            machines: vec![
                machine("m0", MachineState::Started),
                machine("m1", MachineState::Stopped),
            ],
        },
        checks: vec![],
        probe: ProbeResult::NotProbed,
    };
    let verdict = assess(&obs, Some("m1"), USER);
    assert_eq!(verdict.machine_id.as_deref(), Some("m1"));
    assert_eq!(verdict.status, HealthStatus::Unhealthy);
    assert_eq!(assess(&obs, None, USER).machine_id.as_deref(), Some("m0"));
}

#[test]
fn a_refused_token_is_a_reason_and_liveness_only_is_judged_on_status() {
    let refused = ProbeResult::Answered {
        http_status: 401,
        body: None,
    };
    let (ok, reasons) = judge_probe(&refused, USER);
    assert!(
        !ok && reasons[0].contains("refused the probe token"),
        "{reasons:?}"
    );

    let liveness = |status: &str, http_status| ProbeResult::Answered {
        http_status,
        body: Some(ScreenerHealth {
            status: status.into(),
            ..ScreenerHealth::default()
        }),
    };
    let (ok, reasons) = judge_probe(&liveness("ok", 200), USER);
    assert!(
        ok && reasons[0].contains("identity not verified"),
        "{reasons:?}"
    );
    let (ok, reasons) = judge_probe(&liveness("failing", 503), USER);
    assert!(!ok && reasons[0].contains("failing"), "{reasons:?}");
}
