//! Provision critical path: Fly calls and wall time of one provision through the real host, with the Fly
//! simulator adding a fixed latency to every API call.
//!
//! `cargo run -p fleet-e2e --bin provision-bench -- [latency_ms] [users]` (defaults: 50 ms, 5 users)

use std::time::{Duration, Instant};

use fleet_e2e::{proof, user, Fleet};
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
    let fleet = Fleet::sqlite(sim);
    let mut walls = Vec::new();
    let mut calls = Vec::new();
    for n in 0..users {
        let u = user(1000 + n);
        fleet.subscribe(u, "pro", "active");
        let started = Instant::now();
        let answer = fleet.until_converged(
            "/provision",
            &Fleet::webhook("INSERT", u, "pro", "active"),
            Duration::from_secs(120),
        );
        walls.push(started.elapsed());
        calls.push(answer["fly_calls"].as_u64().unwrap_or(0));
        assert_eq!(answer["status"], "active", "{answer}");
    }
    walls.sort();
    calls.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    println!("provision critical path at {latency_ms} ms simulated Fly latency, {users} users (one webhook each, answered 200):");
    println!(
        "  fly calls per provision: min {} median {} max {}",
        calls[0],
        calls[calls.len() / 2],
        calls[calls.len() - 1]
    );
    println!(
        "  wall time: min {:.0} ms median {:.0} ms max {:.0} ms",
        walls[0].as_secs_f64() * 1e3,
        median(&walls).as_secs_f64() * 1e3,
        walls[walls.len() - 1].as_secs_f64() * 1e3
    );
    let suite = "bench: provision critical path";
    let note =
        format!("{users} users at {latency_ms} ms simulated Fly latency, through the real host");
    proof::figure(
        suite,
        "Fly calls per provision (median)",
        calls[calls.len() / 2],
        &note,
    );
    proof::figure(
        suite,
        "wall time median ms",
        format!("{:.0}", median(&walls).as_secs_f64() * 1e3),
        &note,
    );
    let floor_ms = calls[calls.len() / 2] as f64 * latency_ms as f64;
    proof::figure(
        suite,
        "ratio wall / (calls x latency)",
        format!("{:.2}x", median(&walls).as_secs_f64() * 1e3 / floor_ms),
        "against the floor of doing the median number of calls back to back at the simulated latency",
    );
}
