//! Issue 9, suite 2: two host processes serve the same app against one PostgreSQL database and one Fly
//! simulator. Every hint goes to both hosts (reordered, concurrently), and both hosts sweep all the time,
//! while entitlements change. Asserts zero double provisions, from the simulator's full request log (never
//! two live apps for a user, never two live machines in an app, so never a second machine create for a
//! converged app), and zero lost transitions (every final state right and audited).
//!
//! CI scale by default; `FLEET_PROOF_SCALE=full` for the larger run. `FLEET_PROOF_SEED=<n>` replays a plan.
//! Needs `cargo build -p spin-test-host` and the components built for wasm32-wasip2.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::{Duration, Instant};

use fleet_e2e::chaos::deliver::{Hosts, Outbox};
use fleet_e2e::chaos::fly_log::{self, FlyLog};
use fleet_e2e::chaos::subscriptions::{self, Change, Delivery};
use fleet_e2e::chaos::{audit, field, ChaosRig};
use fleet_e2e::{proof, user, WEBHOOK_SECRET};
use fleet_store::UserId;
use fly_simulator::{FaultSettings, SimConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;

const SUITE: &str = "two_hosts";
const HOSTS: usize = 2;
const WORKERS: u64 = 4;
const WINDOW: usize = 8;
/// Each host's scheduler period while changes run, and between convergence rounds.
const SWEEP_PERIOD: Duration = Duration::from_millis(500);

/// No injected failures: every request the log shows as successful took effect exactly once, so the
/// counts are exact. Rate limits and latency keep the race windows wide.
fn sim(seed: u64) -> SimConfig {
    SimConfig {
        // Fly's documented rate limits stay on (the default).
        token: format!("fly-two-hosts-token-{seed:016x}"),
        faults: FaultSettings {
            seed,
            latency_ms: 5,
            latency_jitter_ms: 30,
            ..FaultSettings::default()
        },
        ..SimConfig::default()
    }
}

/// Sweeps `slot` every period until `stop`; returns how many it ran.
fn sweep_until(hosts: &Hosts, slot: usize, stop: &AtomicBool, errors: &AtomicUsize) -> usize {
    let http = reqwest::blocking::Client::new();
    let mut sweeps = 0;
    while !stop.load(Relaxed) {
        let tick = Instant::now();
        let base = hosts.url(slot).expect("hosts stay up in this suite");
        match Delivery::sweep().send(&http, &base, WEBHOOK_SECRET) {
            Ok((200, _)) => sweeps += 1,
            other => {
                eprintln!("{SUITE}: host {slot} sweep: {other:?}");
                errors.fetch_add(1, Relaxed);
            }
        }
        if let Some(rest) = SWEEP_PERIOD.checked_sub(tick.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    sweeps
}

#[test]
fn two_hosts_on_one_database_never_double_provision_nor_lose_a_transition() {
    let users_n: u32 = proof::sized(10, 40);
    let changes_n: usize = proof::sized(60, 300);
    let max_rounds: usize = proof::sized(30, 60);
    let seed = proof::seed(SUITE);
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let rig = ChaosRig::postgres(sim(seed));
    let users: Vec<UserId> = (0..users_n).map(|n| user(7000 + n)).collect();
    // Users sign up on the platform first; every change is then the platform's subscription write.
    rig.sign_up(&users);
    let hosts = Hosts::new(rig.start_hosts(HOSTS));
    let outbox = Outbox::default();
    let log = FlyLog::default();
    let (done, changes_done) = (AtomicBool::new(false), AtomicBool::new(false));
    let sweep_errors = AtomicUsize::new(0);
    let (mut hints, mut rounds, mut converged_after) = (0, 0, None);
    let mut sweeps_by_host = BTreeMap::new();
    let mut violations = Vec::new();

    std::thread::scope(|s| {
        s.spawn(|| log.collect_until(rig.sim.sim(), &done));
        for w in 0..WORKERS {
            let (outbox, hosts) = (&outbox, &hosts);
            s.spawn(move || outbox.work(seed.wrapping_add(w + 1), hosts, WEBHOOK_SECRET));
        }
        let sweepers: Vec<_> = (0..HOSTS)
            .map(|slot| {
                let (hosts, stop, errors) = (&hosts, &changes_done, &sweep_errors);
                s.spawn(move || sweep_until(hosts, slot, stop, errors))
            })
            .collect();
        let mut db = rig.db();
        for _ in 0..changes_n {
            let change = Change::random(&mut rng, &users, false);
            if let Some(hint) = subscriptions::apply(&mut db, &change) {
                hints += 1;
                // The same hint to both hosts: they race for the same row.
                let delivery = Delivery::of_hint(&mut rng, &hint, &change);
                for slot in 0..HOSTS {
                    outbox.push(delivery.clone(), slot);
                }
            }
            outbox.wait_until_pending_at_most(WINDOW, Duration::from_secs(300));
        }
        outbox.close();
        outbox.wait_until_pending_at_most(0, Duration::from_secs(300));
        changes_done.store(true, Relaxed);
        for (slot, sweeper) in sweepers.into_iter().enumerate() {
            sweeps_by_host.insert(slot, sweeper.join().expect("sweeper"));
        }

        // Both hosts sweep at the same moment until the fleet is right.
        let http = reqwest::blocking::Client::new();
        while rounds < max_rounds {
            let tick = Instant::now();
            rounds += 1;
            let summaries: Vec<_> = std::thread::scope(|round| {
                let calls: Vec<_> = (0..HOSTS)
                    .map(|slot| {
                        let (hosts, http) = (&hosts, &http);
                        round.spawn(move || {
                            let base = hosts.url(slot).expect("host up");
                            Delivery::sweep().send(http, &base, WEBHOOK_SECRET)
                        })
                    })
                    .collect();
                calls
                    .into_iter()
                    .map(|c| c.join().expect("sweep"))
                    .collect()
            });
            for (slot, summary) in summaries.iter().enumerate() {
                let (status, summary) = summary.as_ref().expect("the sweep answers");
                assert_eq!(*status, 200, "host {slot}: {summary}");
                *sweeps_by_host.entry(slot).or_default() += 1;
                println!(
                    "{SUITE}: round {rounds} host {slot}: checked {} provisioned {} deprovisioned {} remaining {}",
                    field(summary, "checked"),
                    field(summary, "provisioned"),
                    field(summary, "deprovisioned"),
                    field(summary, "remaining")
                );
            }
            violations = rig.violations(&users);
            if violations.is_empty() {
                converged_after = Some(rounds);
                break;
            }
            for v in violations.iter().take(10) {
                println!("{SUITE}:   {v}");
            }
            if let Some(rest) = SWEEP_PERIOD.checked_sub(tick.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        done.store(true, Relaxed);
    });

    let tally = outbox.tally();
    let entries = log.entries();
    let provisions = fly_log::provisions(&entries, &fly_log::owners(&users));
    let (most_sampled, crowded) = log.sampled();
    let throttled = log.count(|e| e.status == 429);
    let entitled = audit::entitled_users(&mut rig.db()).len();
    let answered = |slot| tally.by_host.get(&slot).copied().unwrap_or(0);
    let swept = |slot| sweeps_by_host.get(&slot).copied().unwrap_or(0);
    for (name, value, note) in [
        ("users", users_n as usize, ""),
        ("entitlement changes", changes_n, ""),
        ("entitled at the end", entitled, "users"),
        ("hints (each sent to both hosts)", hints, ""),
        ("webhooks answered by host 0", answered(0), ""),
        ("webhooks answered by host 1", answered(1), ""),
        ("sweeps by host 0", swept(0), ""),
        ("sweeps by host 1", swept(1), ""),
        (
            "rounds to converge",
            converged_after.unwrap_or(0),
            "(both hosts sweep; 0 = did not converge)",
        ),
        ("Fly calls", entries.len(), ""),
        ("429s seen", throttled, ""),
        ("apps created", provisions.apps_created, ""),
        ("machines created", provisions.machines_created, ""),
        (
            "most live machines in one app",
            provisions.max_machines_per_app,
            "",
        ),
        (
            "most live apps of one user",
            provisions.max_apps_per_user,
            "",
        ),
        (
            "double provisions",
            provisions.violations.len() + crowded.len(),
            "",
        ),
        ("most live machines in one app (sampled)", most_sampled, ""),
        ("lost transitions", violations.len(), ""),
    ] {
        proof::figure(SUITE, name, value, note);
    }
    proof::figure(
        SUITE,
        "wall time",
        format!("{:.1} s", started.elapsed().as_secs_f64()),
        "",
    );

    assert!(
        converged_after.is_some(),
        "lost transitions after {rounds} rounds (seed {seed}):\n{}\n{}",
        violations.join("\n"),
        rig.host_logs_tail(40)
    );
    assert!(
        log.complete(),
        "the Fly request log rotated before it was collected"
    );
    assert!(
        provisions.violations.is_empty(),
        "double provisions (seed {seed}):\n{}",
        provisions.violations.join("\n")
    );
    assert!(
        crowded.is_empty(),
        "two machines at once (seed {seed}): {crowded:?}"
    );
    assert!(
        tally.server_errors.is_empty() && sweep_errors.load(Relaxed) == 0,
        "5xx or failed sweeps (seed {seed}): {:?}",
        tally.server_errors
    );
    assert!(
        (0..HOSTS).all(|h| answered(h) > 0 && swept(h) > 0),
        "both hosts served: {tally:?} {sweeps_by_host:?}"
    );
    assert!(provisions.apps_created > 0, "something was provisioned");
    let hits = audit::secret_hits(&mut rig.db(), &rig.secrets());
    assert!(hits.is_empty(), "secrets stored: {hits:?}");
}
