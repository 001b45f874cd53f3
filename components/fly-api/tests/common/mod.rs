//! Shared helpers for the client tests: a simulator, a client for it, and bounded polling.
#![allow(dead_code)]

use fly_api::transport_native::NativeTransport;
use fly_api::types::{Check, Guest, MachineConfig};
use fly_api::{AppName, FlyClient, OrgSlug, Secret};
use fly_simulator::{FlySim, SimConfig};
use std::future::Future;
use std::time::{Duration, Instant};

pub type Client = FlyClient<NativeTransport>;

pub async fn sim(config: SimConfig) -> FlySim {
    FlySim::start(config).await.expect("simulator starts")
}

/// A simulator without rate limits (for tests not about them).
pub async fn quiet_sim() -> FlySim {
    sim(SimConfig::default().without_rate_limits()).await
}

pub fn client(sim: &FlySim) -> Client {
    client_with_token(sim, sim.token())
}

pub fn client_with_token(sim: &FlySim, token: &str) -> Client {
    FlyClient::new(
        NativeTransport::new(),
        sim.base_url(),
        Secret::from(token),
        OrgSlug::new(sim.org_slug()),
    )
}

/// Polls `f` every 20 ms until it yields `Some`, failing after 10 s.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates an app and waits until it is readable (the simulator hides it briefly after create).
pub async fn ready_app(c: &Client, name: &str) -> AppName {
    let name = AppName::parse(name).unwrap();
    c.create_app(&name, Some(name.as_str()))
        .await
        .expect("app created");
    eventually("app visible", || async { c.get_app(&name).await.ok() }).await;
    name
}

pub fn config(image: &str) -> MachineConfig {
    let mut c = MachineConfig {
        image: image.into(),
        guest: Some(Guest::shared(1, 256)),
        ..Default::default()
    };
    c.env.insert("RUN_MODE".into(), "user_dedicated".into());
    c.checks.insert(
        "health".into(),
        Check {
            kind: "http".into(),
            port: Some(8080),
            path: Some("/health".into()),
            interval: Some("15s".into()),
            timeout: Some("2s".into()),
            ..Default::default()
        },
    );
    c
}

pub async fn tokio_sleep(d: Duration) {
    tokio::time::sleep(d).await
}
