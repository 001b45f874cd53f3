//! Fault handling: ambiguous creates end with exactly one machine, 503 before the effect is
//! transient, 429 Retry-After is honoured.

mod common;
use common::*;
use fly_api::retry::with_retries;
use fly_api::types::{CreateMachineRequest, ListMachines};
use fly_api::{create_machine_idempotent, ErrorClass, Jitter, LaunchOptions, RetryPolicy};
use fly_simulator::{FaultKind, FaultSettings, ScriptedFault, SimConfig, Timings};
use std::time::{Duration, Instant};

fn scripted(method: &str, path: &str, kind: FaultKind, count: u32) -> FaultSettings {
    FaultSettings {
        scripted: vec![ScriptedFault {
            method: method.into(),
            path_contains: path.into(),
            path_ends: true,
            kind,
            count,
        }],
        ..Default::default()
    }
}

fn req() -> CreateMachineRequest {
    CreateMachineRequest {
        region: Some("iad".into()),
        config: config("img"),
        ..Default::default()
    }
}

fn fast_options() -> LaunchOptions {
    LaunchOptions {
        policy: RetryPolicy {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            ..Default::default()
        },
        settle: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn ambiguous_create_ends_with_exactly_one_machine() {
    // The machine list lags creation (eventual consistency), as on Fly.
    let config = SimConfig {
        timings: Timings {
            list_lag: Duration::from_millis(150),
            ..Default::default()
        },
        ..SimConfig::default().without_rate_limits()
    };
    let sim = sim(config).await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-f0000001").await;

    // A plain create: the machine is created, but the reply is a 408.
    sim.set_faults(scripted("POST", "/machines", FaultKind::After408, 1));
    let plain = c.create_machine(&app, &req()).await.unwrap_err();
    assert_eq!(plain.class, ErrorClass::Ambiguous);
    eventually("lagging list", || async {
        (c.list_machines(&app, &ListMachines::default())
            .await
            .unwrap()
            .len()
            == 1)
            .then_some(())
    })
    .await;

    // The idempotent create: 502 after the effect, then the lookup finds it; no second machine.
    sim.set_faults(scripted("POST", "/machines", FaultKind::After502, 1));
    let mut jitter = Jitter::seeded(1);
    let m = create_machine_idempotent(
        &c,
        &app,
        &req(),
        "launch-abc",
        &fast_options(),
        &mut jitter,
        tokio_sleep,
    )
    .await
    .unwrap();
    assert_eq!(m.metadata("fleet_launch"), Some("launch-abc"));
    let tagged = fly_api::find_machine_by_launch_id(&c, &app, "launch-abc")
        .await
        .unwrap();
    assert_eq!(tagged.map(|t| t.id), Some(m.id.clone()));
    let all = c
        .list_machines(&app, &ListMachines::default())
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        2,
        "one from the plain create, exactly one from the launch"
    );
}

#[tokio::test]
async fn failure_before_effect_is_retried_and_creates_once() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-f0000002").await;
    sim.set_faults(scripted("POST", "/machines", FaultKind::Before503, 2));
    let mut jitter = Jitter::seeded(2);
    let m = create_machine_idempotent(
        &c,
        &app,
        &req(),
        "launch-2",
        &fast_options(),
        &mut jitter,
        tokio_sleep,
    )
    .await
    .unwrap();
    let all = c
        .list_machines(&app, &ListMachines::default())
        .await
        .unwrap();
    assert_eq!(all.iter().map(|x| &x.id).collect::<Vec<_>>(), vec![&m.id]);
    let faults: Vec<_> = sim
        .request_log()
        .into_iter()
        .filter_map(|e| e.fault)
        .collect();
    assert_eq!(faults, vec!["Before503", "Before503"]);
}

#[tokio::test]
async fn idempotent_503_is_transient_and_retried() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    sim.set_faults(scripted("GET", "/apps", FaultKind::Before503, 1));
    let err = c.list_apps().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient);
    assert_eq!(err.status, Some(503));
    sim.set_faults(scripted("GET", "/apps", FaultKind::After502, 2));
    let policy = RetryPolicy {
        base: Duration::from_millis(5),
        ..Default::default()
    };
    with_retries(&policy, &mut Jitter::seeded(3), tokio_sleep, || {
        c.list_apps()
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn rate_limited_with_retry_after_and_honoured() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-f0000003").await;
    let m = c.create_machine(&app, &req()).await.unwrap();
    sim.set_rate_limits_enabled(true);
    // GET machine: burst 10, then 429.
    let mut limited = None;
    for _ in 0..12 {
        if let Err(e) = c.get_machine(&app, &m.id).await {
            limited = Some(e);
            break;
        }
    }
    let err = limited.expect("the 11th GET within a second is limited");
    let ErrorClass::RateLimited {
        retry_after: Some(wait),
    } = err.class
    else {
        panic!("expected RateLimited with Retry-After, got {err:?}");
    };
    assert!(wait >= Duration::from_secs(1));

    // The retry helper waits at least Retry-After and then succeeds.
    let policy = RetryPolicy {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        ..Default::default()
    };
    let t0 = Instant::now();
    let got = with_retries(&policy, &mut Jitter::seeded(4), tokio_sleep, || {
        c.get_machine(&app, &m.id)
    })
    .await
    .unwrap();
    assert_eq!(got.id, m.id);
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "slept {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn seeded_random_faults_are_reproducible() {
    let run = || async {
        let sim = quiet_sim().await;
        let c = client(&sim);
        let app = ready_app(&c, "vyx-user-f0000004").await;
        sim.set_faults(FaultSettings {
            seed: 9,
            fail_before_rate: 0.3,
            ambiguous_after_rate: 0.3,
            ..Default::default()
        });
        let mut classes = Vec::new();
        for _ in 0..12 {
            classes.push(c.create_machine(&app, &req()).await.err().map(|e| e.class));
        }
        classes
    };
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&Some(ErrorClass::Ambiguous)) && a.contains(&None));
}
