//! Failures without a response: not sent ⇒ Transient; timed out after sending ⇒ Ambiguous for
//! non-idempotent calls, Transient for idempotent ones.

mod common;
use common::*;
use fly_api::transport_native::NativeTransport;
use fly_api::types::CreateMachineRequest;
use fly_api::{ErrorClass, FlyClient, OrgSlug, Secret};
use fly_simulator::FaultSettings;
use std::time::Duration;

#[tokio::test]
async fn connection_refused_is_transient_even_for_create() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: nothing listens there
    let c = FlyClient::new(
        NativeTransport::new(),
        format!("http://127.0.0.1:{port}/v1"),
        Secret::from("tok-never-shown"),
        OrgSlug::new("fleet"),
    );
    let app = fly_api::AppName::parse("vyx-user-t1").unwrap();
    let err = c.create_app(&app, None).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{err}");
    assert_eq!(err.status, None);
    assert!(!err.to_string().contains("tok-never-shown"));
}

#[tokio::test]
async fn timeout_after_sending_is_ambiguous_for_create_and_transient_for_get() {
    let sim = quiet_sim().await;
    let app = ready_app(&client(&sim), "vyx-user-t2").await;
    sim.set_faults(FaultSettings {
        latency_ms: 1500,
        ..Default::default()
    });
    let impatient = FlyClient::new(
        NativeTransport::with_timeout(Duration::from_millis(300)),
        sim.base_url(),
        Secret::from(sim.token()),
        OrgSlug::new(sim.org_slug()),
    );
    let req = CreateMachineRequest {
        region: Some("iad".into()),
        config: config("img"),
        ..Default::default()
    };
    let err = impatient.create_machine(&app, &req).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Ambiguous, "{err}");
    let err = impatient.get_app(&app).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{err}");
}

/// A header value that cannot be sent (a token, or a lease nonce taken from a Fly answer, with control
/// characters) is an invalid request, never a panic, and the error does not show the token.
#[tokio::test]
async fn an_unsendable_header_value_is_an_invalid_request_not_a_panic() {
    let c = FlyClient::new(
        NativeTransport::new(),
        "http://127.0.0.1:9/v1",
        Secret::from("tok\nsecret"),
        OrgSlug::new("fleet"),
    );
    let app = fly_api::AppName::parse("vyx-user-t3").unwrap();
    let err = c.get_app(&app).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Invalid, "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");

    let c = FlyClient::new(
        NativeTransport::new(),
        "http://127.0.0.1:9/v1",
        Secret::from("tok"),
        OrgSlug::new("fleet"),
    );
    let machine = fly_api::MachineId::parse("m1").unwrap();
    let err = c
        .start_machine(&app, &machine, Some("nonce\r\nx-injected: 1"))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Invalid, "{err}");
}
