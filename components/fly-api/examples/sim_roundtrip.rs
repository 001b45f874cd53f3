//! Benchmark: client → simulator round trips over loopback.
//! `cargo run -p fly-api --example sim_roundtrip` (dev profile: dependencies are built at opt-level 2) (prints p50/p99 per call kind).

use fly_api::transport_native::NativeTransport;
use fly_api::types::{CreateMachineRequest, ListMachines, MachineConfig};
use fly_api::{AppName, FlyClient, OrgSlug, Secret};
use fly_simulator::{FlySim, SimConfig, Timings};
use std::time::{Duration, Instant};

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what:<24} n={:<5} p50={:>8.3} ms  p99={:>8.3} ms",
        samples.len(),
        pick(0.50).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let config = SimConfig {
        timings: Timings {
            app_visibility_delay: Duration::ZERO,
            ..Default::default()
        },
        ..SimConfig::default().without_rate_limits()
    };
    let sim = FlySim::start(config).await.unwrap();
    let c = FlyClient::new(
        NativeTransport::new(),
        sim.base_url(),
        Secret::from(sim.token()),
        OrgSlug::new("fleet"),
    );
    let app = AppName::parse("vyx-user-bench0001").unwrap();
    c.create_app(&app, None).await.unwrap();

    let req = CreateMachineRequest {
        region: Some("iad".into()),
        config: MachineConfig {
            image: "img".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut creates = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        ids.push(c.create_machine(&app, &req).await.unwrap().id);
        creates.push(t.elapsed());
    }
    let mut gets = Vec::new();
    for i in 0..2000 {
        let t = Instant::now();
        c.get_machine(&app, &ids[i % ids.len()]).await.unwrap();
        gets.push(t.elapsed());
    }
    let mut lists = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        c.list_machines(&app, &ListMachines::with_metadata("k", "v"))
            .await
            .unwrap();
        lists.push(t.elapsed());
    }
    report("create_machine", creates);
    report("get_machine", gets);
    report("list_machines(filter)", lists);
}
