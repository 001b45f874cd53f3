//! Machines against the simulator: every call, lifecycle, validation, filters, wait timeouts.

mod common;
use common::*;
use fly_api::types::{
    CreateMachineRequest, Guest, ListMachines, StopRequest, UpdateMachineRequest,
};
use fly_api::{ErrorClass, FlyError, MachineId};
use fly_simulator::{FaultSettings, SimConfig};
use std::time::Duration;

fn create_req(image: &str) -> CreateMachineRequest {
    CreateMachineRequest {
        name: Some("screener".into()),
        region: Some("fra".into()),
        config: config(image),
        ..Default::default()
    }
}

#[tokio::test]
async fn machine_lifecycle_create_wait_stop_start_update_delete() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-m0000001").await;

    let m = c
        .create_machine(&app, &create_req("registry.fly.io/screener:v1"))
        .await
        .unwrap();
    assert_eq!(m.region, "fra");
    assert!(matches!(m.state.as_str(), "created" | "starting"));
    let w = c
        .wait_machine(&app, &m.id, "started", Duration::from_secs(5), None)
        .await
        .unwrap();
    assert!(w.ok);
    let got = c.get_machine(&app, &m.id).await.unwrap();
    assert_eq!(got.state, "started");
    assert!(got.all_checks_passing(), "{:?}", got.checks);
    assert_eq!(
        got.config.as_ref().unwrap().guest,
        Some(Guest::shared(1, 256))
    );

    // A running machine cannot be deleted without force.
    let err = c
        .delete_machine(&app, &m.id, false, None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.class.clone(), err.status),
        (ErrorClass::Invalid, Some(412))
    );

    let stop = StopRequest {
        signal: Some("SIGTERM".into()),
        timeout: Some("10s".into()),
    };
    c.stop_machine(&app, &m.id, &stop, None).await.unwrap();
    c.wait_machine(&app, &m.id, "stopped", Duration::from_secs(5), None)
        .await
        .unwrap();
    c.start_machine(&app, &m.id, None).await.unwrap();
    c.wait_machine(&app, &m.id, "started", Duration::from_secs(5), None)
        .await
        .unwrap();

    let mut cfg = got.config.clone().unwrap();
    cfg.image = "registry.fly.io/screener:v2".into();
    let updated = c
        .update_machine(
            &app,
            &m.id,
            &UpdateMachineRequest {
                config: cfg,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_ne!(updated.instance_id, got.instance_id);
    assert_eq!(updated.config.unwrap().image, "registry.fly.io/screener:v2");

    c.delete_machine(&app, &m.id, true, None).await.unwrap();
    c.wait_machine(&app, &m.id, "destroyed", Duration::from_secs(5), None)
        .await
        .unwrap();
    assert!(c
        .list_machines(&app, &ListMachines::default())
        .await
        .unwrap()
        .is_empty());
    let all = ListMachines {
        include_deleted: true,
        ..Default::default()
    };
    assert_eq!(c.list_machines(&app, &all).await.unwrap().len(), 1);
}

#[tokio::test]
async fn wait_times_out_with_408_as_a_transient_not_yet() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-m0000002").await;
    let req = CreateMachineRequest {
        skip_launch: true,
        ..create_req("img")
    };
    let m = c.create_machine(&app, &req).await.unwrap();
    let err = c
        .wait_machine(&app, &m.id, "started", Duration::from_secs(1), None)
        .await
        .unwrap_err();
    assert!(err.is_wait_timeout(), "{err}");
    assert_eq!(err.class, ErrorClass::Transient);
    assert_eq!(c.get_machine(&app, &m.id).await.unwrap().state, "created");
}

#[tokio::test]
async fn metadata_and_region_filters() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-m0000003").await;
    let mut a = create_req("img");
    a.config.metadata.insert("role".into(), "screener".into());
    let mut b = create_req("img");
    b.region = Some("sin".into());
    b.config.metadata.insert("role".into(), "other".into());
    let ma = c.create_machine(&app, &a).await.unwrap();
    c.create_machine(&app, &b).await.unwrap();
    let by_role = c
        .list_machines(&app, &ListMachines::with_metadata("role", "screener"))
        .await
        .unwrap();
    assert_eq!(
        by_role.iter().map(|m| &m.id).collect::<Vec<_>>(),
        vec![&ma.id]
    );
    let in_sin = ListMachines {
        region: Some("sin".into()),
        ..Default::default()
    };
    assert_eq!(
        c.list_machines(&app, &in_sin).await.unwrap()[0].region,
        "sin"
    );
}

#[tokio::test]
async fn omitted_region_is_recorded_as_defaulted() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-m0000004").await;
    let req = CreateMachineRequest {
        region: None,
        ..create_req("img")
    };
    let m = c.create_machine(&app, &req).await.unwrap();
    let dump = sim.state_dump();
    let rec = &dump["apps"][0]["machines"][0];
    assert_eq!(rec["id"], m.id.as_str());
    assert_eq!(rec["region_defaulted"], true);
}

fn invalid(e: FlyError) -> bool {
    e.class == ErrorClass::Invalid
}

#[tokio::test]
async fn guest_region_and_image_validation() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-m0000005").await;
    let mut r = create_req("img");
    r.config.guest = Some(Guest::shared(1, 300));
    assert!(invalid(c.create_machine(&app, &r).await.unwrap_err()));
    r.config.guest = Some(Guest::shared(1, 4096));
    assert!(invalid(c.create_machine(&app, &r).await.unwrap_err()));
    r.config.guest = Some(Guest::shared(2, 4096));
    c.create_machine(&app, &r).await.unwrap();
    let bad_region = CreateMachineRequest {
        region: Some("mars".into()),
        ..create_req("img")
    };
    assert!(invalid(
        c.create_machine(&app, &bad_region).await.unwrap_err()
    ));
    assert!(invalid(
        c.create_machine(&app, &create_req("")).await.unwrap_err()
    ));
    let unknown = MachineId::parse("doesnotexist1").unwrap();
    assert_eq!(
        c.get_machine(&app, &unknown).await.unwrap_err().class,
        ErrorClass::NotFound
    );
}

#[tokio::test]
async fn full_region_is_insufficient_capacity() {
    let sim = quiet_sim().await;
    sim.set_faults(FaultSettings {
        full_regions: ["fra".to_string()].into(),
        ..Default::default()
    });
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-m0000006").await;
    let err = c
        .create_machine(&app, &create_req("img"))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::InsufficientCapacity);
    assert!(c
        .list_machines(&app, &ListMachines::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn failing_image_and_crash_and_unhealthy_app_show_in_state_and_checks() {
    let sim = sim(SimConfig::default().without_rate_limits()).await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-m0000007").await;
    sim.set_faults(FaultSettings {
        failing_images: ["bad:img".to_string()].into(),
        ..Default::default()
    });
    let bad = c
        .create_machine(&app, &create_req("bad:img"))
        .await
        .unwrap();
    let w = c
        .wait_machine(&app, &bad.id, "failed", Duration::from_secs(5), None)
        .await
        .unwrap();
    assert_eq!(w.state.as_deref(), Some("failed"));

    let good = c
        .create_machine(&app, &create_req("good:img"))
        .await
        .unwrap();
    c.wait_machine(&app, &good.id, "started", Duration::from_secs(5), None)
        .await
        .unwrap();
    sim.set_faults(FaultSettings {
        unhealthy_apps: [app.to_string()].into(),
        ..Default::default()
    });
    let m = c.get_machine(&app, &good.id).await.unwrap();
    assert_eq!(m.checks[0].status, "critical");
    sim.set_faults(FaultSettings::default());
    assert!(c
        .get_machine(&app, &good.id)
        .await
        .unwrap()
        .all_checks_passing());
    assert!(sim.crash_machine(good.id.as_str()));
    let m = c.get_machine(&app, &good.id).await.unwrap();
    assert_eq!(
        (m.state.as_str(), m.all_checks_passing()),
        ("stopped", false)
    );
}
