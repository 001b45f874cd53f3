//! Secrets (versions, min_secrets_version, effective env, redaction) and leases (409, nonce).

mod common;
use common::*;
use fly_api::types::{CreateMachineRequest, SetSecretsRequest, StopRequest, UpdateMachineRequest};
use fly_api::{ErrorClass, Secret};
use std::time::Duration;

#[tokio::test]
async fn secrets_versions_and_effective_env() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-s0000001").await;
    let v1 = c
        .set_secrets(
            &app,
            &SetSecretsRequest::new().set("DB_URL", Secret::from("postgres://pw-very-secret@db")),
        )
        .await
        .unwrap();
    let v2 = c
        .set_secrets(
            &app,
            &SetSecretsRequest::new()
                .set("API_KEY", Secret::from("k-123456"))
                .unset("NOPE"),
        )
        .await
        .unwrap();
    assert!(v2.version > v1.version);
    let names: Vec<_> = c
        .list_secrets(&app)
        .await
        .unwrap()
        .secrets
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["API_KEY", "DB_URL"]);

    // A min_secrets_version that does not exist yet is refused.
    let mut req = CreateMachineRequest {
        region: Some("iad".into()),
        config: config("img"),
        min_secrets_version: Some(v2.version + 1),
        ..Default::default()
    };
    assert_eq!(
        c.create_machine(&app, &req).await.unwrap_err().class,
        ErrorClass::Invalid
    );
    req.min_secrets_version = Some(v2.version);
    let m = c.create_machine(&app, &req).await.unwrap();
    let dump = sim.state_dump();
    let env = &dump["apps"][0]["machines"][0]["effective_env"];
    assert_eq!(env["DB_URL"], "postgres://pw-very-secret@db");
    assert_eq!(env["API_KEY"], "k-123456");
    assert_eq!(env["RUN_MODE"], "user_dedicated");

    let d = c.delete_secret(&app, "API_KEY").await.unwrap();
    assert!(d.version > v2.version);
    assert_eq!(
        c.delete_secret(&app, "API_KEY").await.unwrap_err().class,
        ErrorClass::NotFound
    );
    assert_eq!(
        c.delete_secret(&app, "../x").await.unwrap_err().class,
        ErrorClass::Invalid
    );

    // Secret values never reach the request log.
    let log = serde_json::to_string(&sim.request_log()).unwrap();
    assert!(
        !log.contains("pw-very-secret") && !log.contains("k-123456"),
        "{log}"
    );
    assert!(log.contains("\"DB_URL\":\"***\""));
    assert!(!log.contains(sim.token()));
    drop(m);
}

#[tokio::test]
async fn without_min_secrets_version_a_fresh_write_is_not_seen() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-s0000002").await;
    c.set_secrets(
        &app,
        &SetSecretsRequest::new().set("TOKEN", Secret::from("fresh-value")),
    )
    .await
    .unwrap();
    let req = CreateMachineRequest {
        region: Some("iad".into()),
        config: config("img"),
        ..Default::default()
    };
    c.create_machine(&app, &req).await.unwrap();
    let dump = sim.state_dump();
    assert!(dump["apps"][0]["machines"][0]["effective_env"]
        .get("TOKEN")
        .is_none());
}

#[tokio::test]
async fn leases_conflict_and_guard_mutations() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let app = ready_app(&c, "vyx-user-l0000001").await;
    let req = CreateMachineRequest {
        region: Some("iad".into()),
        config: config("img"),
        ..Default::default()
    };
    let m = c.create_machine(&app, &req).await.unwrap();

    let lease = c
        .acquire_lease(&app, &m.id, 60, Some("reconcile"))
        .await
        .unwrap();
    assert!(!lease.nonce.is_empty());
    assert_eq!(c.get_lease(&app, &m.id).await.unwrap().nonce, lease.nonce);
    let conflict = c.acquire_lease(&app, &m.id, 60, None).await.unwrap_err();
    assert!(conflict.is_conflict(), "{conflict}");

    // Mutations need the nonce.
    let stop = StopRequest::default();
    assert!(c
        .stop_machine(&app, &m.id, &stop, None)
        .await
        .unwrap_err()
        .is_conflict());
    assert!(c
        .stop_machine(&app, &m.id, &stop, Some("wrong"))
        .await
        .unwrap_err()
        .is_conflict());
    c.wait_machine(&app, &m.id, "started", Duration::from_secs(5), None)
        .await
        .unwrap();
    let cfg = c.get_machine(&app, &m.id).await.unwrap().config.unwrap();
    let upd = UpdateMachineRequest {
        config: cfg,
        ..Default::default()
    };
    assert!(c
        .update_machine(&app, &m.id, &upd, None)
        .await
        .unwrap_err()
        .is_conflict());
    c.update_machine(&app, &m.id, &upd, Some(&lease.nonce))
        .await
        .unwrap();

    let refreshed = c
        .refresh_lease(&app, &m.id, &lease.nonce, 120)
        .await
        .unwrap();
    assert_eq!(refreshed.nonce, lease.nonce);
    assert!(refreshed.expires_at >= lease.expires_at);
    assert!(c
        .release_lease(&app, &m.id, "wrong")
        .await
        .unwrap_err()
        .is_conflict());
    c.release_lease(&app, &m.id, &lease.nonce).await.unwrap();
    assert_eq!(
        c.get_lease(&app, &m.id).await.unwrap_err().class,
        ErrorClass::NotFound
    );
    c.stop_machine(&app, &m.id, &stop, None).await.unwrap();
}
