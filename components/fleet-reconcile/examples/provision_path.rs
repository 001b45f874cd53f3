//! Provision critical path: Fly calls and wall time of one provision pass (fresh user → one started machine)
//! against the Fly simulator with a fixed latency on every API call, on SQLite.
//!
//! `cargo run -p fleet-reconcile --features native --example provision_path -- [latency_ms] [users]`

#[path = "../tests/support/mod.rs"]
#[allow(dead_code)] // the example uses only part of the test rig
mod support;

use std::time::Instant;

use fly_simulator::{FaultSettings, SimConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let latency_ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let users: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mut sim = SimConfig::default().without_rate_limits();
    sim.faults = FaultSettings {
        latency_ms,
        ..Default::default()
    };
    let mut rig = support::Rig::sqlite(sim);
    let mut rows = Vec::new();
    for n in 0..users {
        let user = support::user(500 + n);
        rig.subscribe(user, "pro", "active");
        let before = rig.sim.sim().request_log().len();
        let started = Instant::now();
        let outcomes = rig.converge(user);
        let wall = started.elapsed();
        let calls = rig.sim.sim().request_log().len() - before;
        assert_eq!(outcomes.last().unwrap().status.as_deref(), Some("active"));
        rows.push((calls, wall, outcomes.len()));
    }
    println!("provision critical path at {latency_ms} ms simulated Fly latency ({users} fresh users, SQLite):");
    for (calls, wall, passes) in &rows {
        println!(
            "  fly calls {calls:>3}   wall {:>6.0} ms   passes {passes}",
            wall.as_secs_f64() * 1e3
        );
    }
}
