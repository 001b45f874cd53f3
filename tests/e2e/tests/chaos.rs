//! Issue 9, suite 1: chaos convergence. Random entitlement changes (tier, status, expiry) over time; the
//! trigger's hints dropped (30 %), duplicated (20 %), reordered and partly delivered concurrently, some
//! aborted by the client; Fly failing before (10 %) and after (5 %) the effect, with 429s, latency with
//! jitter and crashed machines; the host SIGKILLed mid-request and restarted. Then bounded sweeps must bring
//! every user to exactly what their entitlement says, with the audit log agreeing and no secret stored.
//!
//! Issue 14: the simulator runs in strict mode (per-action rate limits on every action, a deleted app's name
//! held for 2 s after its delete, 5 % of mutating calls take effect and then lose their connection, the first
//! name candidate of every sixth user held by another organisation). After the sweeps above, faults stop and
//! at most `stuck_sweeps` more sweeps (the number used is printed) must leave no row in a transitional state
//! and every user not at their entitlement with a non-empty `error_message`.
//!
//! CI scale by default; `FLEET_PROOF_SCALE=full` runs the 100 users and 1,000 changes.
//! `FLEET_PROOF_SEED=<n>` replays the plan of a run (changes, fates, faults; thread timing still varies).
//! Needs `cargo build -p spin-test-host` and the components built for wasm32-wasip2.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use fleet_e2e::chaos::deliver::{Hosts, Outbox};
use fleet_e2e::chaos::fly_log::{self, FlyLog};
use fleet_e2e::chaos::subscriptions::{self, Change, Delivery};
use fleet_e2e::chaos::{field, name_candidates, stalls, ChaosRig};
use fleet_e2e::{proof, user, WEBHOOK_SECRET};
use fleet_store::UserId;
use fly_simulator::{FaultSettings, SimConfig};
use rand::rngs::StdRng;
use rand::seq::{IteratorRandom, SliceRandom};
use rand::{Rng, SeedableRng};

const SUITE: &str = "chaos";
/// Delivery threads (some hints go out concurrently).
const WORKERS: u64 = 3;
/// Changes wait while more deliveries than this are pending, so changes and deliveries interleave.
const WINDOW: usize = 6;
/// The scheduler's period between convergence sweeps (pg_cron would use a minute).
const SWEEP_PERIOD: Duration = Duration::from_secs(2);

fn chaos_sim(seed: u64, users: &[UserId]) -> SimConfig {
    SimConfig {
        token: format!("fly-chaos-token-{seed:016x}"),
        faults: FaultSettings {
            seed,
            fail_before_rate: 0.10,
            ambiguous_after_rate: 0.05,
            // Issue 14: the effect happens, then the connection drops with no answer.
            drop_after_rate: 0.05,
            latency_ms: 5,
            latency_jitter_ms: 45,
            ..FaultSettings::default()
        },
        // Issue 14: another organisation holds the first name candidate of every sixth user.
        foreign_apps: users
            .iter()
            .step_by(6)
            .map(|u| name_candidates(*u).remove(0))
            .collect(),
        ..SimConfig::default()
    }
    // Fly's documented rate limits on, and the per-action rule on the undocumented actions too; a deleted
    // app's name stays taken for 2 s after its delete completes.
    .strict(Duration::from_secs(2))
}

/// Crashes one started machine, if any; returns whether it did.
fn crash_random_machine(rig: &ChaosRig, rng: &mut StdRng) -> bool {
    let state = rig.sim.sim().state_dump();
    let started: Vec<String> = state["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["machines"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["state"] == "started")
        .filter_map(|m| m["id"].as_str().map(String::from))
        .collect();
    started
        .choose(rng)
        .is_some_and(|id| rig.sim.sim().crash_machine(id))
}

#[derive(Default)]
struct Plan {
    changes: usize,
    hints: usize,
    dropped: usize,
    duplicated: usize,
    sweeps_queued: usize,
    kills: usize,
    crashes: usize,
}

#[test]
fn chaos_converges_every_user_to_their_entitlement() {
    let users_n: u32 = proof::sized(12, 100);
    let changes_n: usize = proof::sized(80, 1000);
    let kills_n: usize = proof::sized(2, 4);
    let crashes_n: usize = proof::sized(4, 20);
    let sweep_every: usize = proof::sized(20, 50);
    let max_sweeps: usize = proof::sized(60, 90);
    // Issue 14: the bound on the sweeps after faults stop.
    let stuck_sweeps: usize = proof::sized(30, 45);
    let seed = proof::seed(SUITE);
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let users: Vec<UserId> = (0..users_n).map(|n| user(9000 + n)).collect();
    let rig = ChaosRig::postgres(chaos_sim(seed, &users));
    // Users sign up on the platform first; every change is then the platform's subscription write.
    rig.sign_up(&users);
    let hosts = Hosts::new(vec![rig.start_host("host")]);
    let outbox = Outbox::default();
    let log = FlyLog::default();
    let done = AtomicBool::new(false);
    // Kills early enough that the leases they strand (budget + 60 s) expire while changes still run.
    let kill_at: BTreeSet<usize> = (changes_n / 10..changes_n * 3 / 10)
        .choose_multiple(&mut rng, kills_n)
        .into_iter()
        .collect();
    let crash_at: BTreeSet<usize> = (0..changes_n)
        .choose_multiple(&mut rng, crashes_n)
        .into_iter()
        .collect();
    let mut plan = Plan::default();
    let http = reqwest::blocking::Client::new();
    let mut sweeps = 0;
    let mut converged_after = None;
    let mut violations = Vec::new();
    let mut convergence_time = Duration::ZERO;
    let mut stuck: Vec<String> = Vec::new();
    let mut stuck_sweeps_used = 0;
    let mut sweep_failures: Vec<String> = Vec::new();

    std::thread::scope(|s| {
        s.spawn(|| log.collect_until(rig.sim.sim(), &done));
        for w in 0..WORKERS {
            let (outbox, hosts) = (&outbox, &hosts);
            s.spawn(move || outbox.work(seed.wrapping_add(w + 1), hosts, WEBHOOK_SECRET));
        }
        let mut db = rig.db();
        for i in 0..changes_n {
            let change = Change::random(&mut rng, &users, true);
            plan.changes += 1;
            if let Some(hint) = subscriptions::apply(&mut db, &change) {
                plan.hints += 1;
                let fate: f64 = rng.gen();
                let copies = match fate {
                    f if f < 0.3 => 0,
                    f if f < 0.5 => 2,
                    _ => 1,
                };
                plan.dropped += usize::from(copies == 0);
                plan.duplicated += usize::from(copies == 2);
                for _ in 0..copies {
                    outbox.push(Delivery::of_hint(&mut rng, &hint, &change), 0);
                }
            }
            if i % sweep_every == sweep_every - 1 {
                outbox.push(Delivery::sweep(), 0);
                plan.sweeps_queued += 1;
            }
            if crash_at.contains(&i) && crash_random_machine(&rig, &mut rng) {
                plan.crashes += 1;
            }
            if kill_at.contains(&i) {
                // Mid-request: wait (bounded) for something in flight, then strike at a random moment.
                let until = Instant::now() + Duration::from_secs(10);
                while outbox.in_flight() == 0 && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
                std::thread::sleep(Duration::from_millis(rng.gen_range(0..250)));
                hosts.kill(0);
                plan.kills += 1;
                // What was queued meanwhile is lost, as pg_net's hints are while Fleet is down.
                hosts.replace(0, rig.start_host("host"));
            }
            outbox.wait_until_pending_at_most(WINDOW, Duration::from_secs(300));
        }
        outbox.close();
        outbox.wait_until_pending_at_most(0, Duration::from_secs(300));
        // Crashes after the last change: only the sweeps can repair these.
        for _ in 0..2 {
            plan.crashes += usize::from(crash_random_machine(&rig, &mut rng));
        }

        let converging = Instant::now();
        while sweeps < max_sweeps {
            let tick = Instant::now();
            sweeps += 1;
            let base = hosts.url(0).expect("the host is up");
            // Recorded, not asserted here: a panic inside this scope would leave the log collector waiting
            // for `done` forever.
            let (status, summary) = Delivery::sweep()
                .send(&http, &base, WEBHOOK_SECRET)
                .unwrap_or_else(|e| (0, serde_json::json!(format!("no answer: {e}"))));
            if status != 200 {
                sweep_failures.push(format!("sweep {sweeps}: {status} {summary}"));
            }
            let now = rig.violations(&users);
            if now != violations {
                for v in now.iter().take(10) {
                    println!("{SUITE}:   {v}");
                }
            }
            violations = now;
            println!(
                "{SUITE}: sweep {sweeps}: checked {} repaired {} provisioned {} deprovisioned {} remaining {} → {} violations",
                field(&summary, "checked"),
                field(&summary, "repaired"),
                field(&summary, "provisioned"),
                field(&summary, "deprovisioned"),
                field(&summary, "remaining"),
                violations.len()
            );
            if violations.is_empty() {
                converged_after = Some(sweeps);
                break;
            }
            if let Some(rest) = SWEEP_PERIOD.checked_sub(tick.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        convergence_time = converging.elapsed();

        // Issue 14: faults stop (Fly's rate limits stay: they are not a fault); at most `stuck_sweeps`
        // sweeps until no user is stuck (transitional, or off their entitlement with nothing saying why).
        rig.sim.sim().set_faults(FaultSettings::default());
        stuck = stalls::stuck(&mut rig.db(), &users);
        while !stuck.is_empty() && stuck_sweeps_used < stuck_sweeps {
            let tick = Instant::now();
            stuck_sweeps_used += 1;
            let base = hosts.url(0).expect("the host is up");
            let (status, summary) = Delivery::sweep()
                .send(&http, &base, WEBHOOK_SECRET)
                .unwrap_or_else(|e| (0, serde_json::json!(format!("no answer: {e}"))));
            if status != 200 {
                sweep_failures.push(format!(
                    "sweep {stuck_sweeps_used} after faults: {status} {summary}"
                ));
            }
            stuck = stalls::stuck(&mut rig.db(), &users);
            println!(
                "{SUITE}: after faults, sweep {stuck_sweeps_used}: {status} checked {} provisioned {} remaining {} → {} stuck",
                field(&summary, "checked"),
                field(&summary, "provisioned"),
                field(&summary, "remaining"),
                stuck.len()
            );
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
    let faults = log.count(|e| e.fault.is_some());
    let entitled = fleet_e2e::chaos::audit::entitled_users(&mut rig.db()).len();
    for (name, value, note) in [
        ("users", users_n as usize, ""),
        ("entitlement changes", plan.changes, ""),
        ("entitled at the end", entitled, "users"),
        ("hints the trigger would send", plan.hints, ""),
        ("webhooks dropped", plan.dropped, "(30 % of hints)"),
        ("webhooks duplicated", plan.duplicated, "(20 % of hints)"),
        (
            "requests sent",
            tally.sent,
            "(hints and mid-run sweeps, shuffled)",
        ),
        (
            "requests lost to host kills",
            tally.unreachable,
            "(host down or killed mid-request)",
        ),
        ("requests aborted by the client", tally.aborted, ""),
        ("host kills (SIGKILL mid-request)", plan.kills, ""),
        ("host restarts", hosts.restarts.load(Relaxed), ""),
        ("machines crashed", plan.crashes, ""),
        ("mid-run sweeps", plan.sweeps_queued, ""),
        (
            "sweeps to converge",
            converged_after.unwrap_or(0),
            "(0 = did not converge)",
        ),
        ("Fly calls", entries.len(), ""),
        ("429s seen", throttled, ""),
        (
            "Fly faults injected",
            faults,
            "(failures before and after the effect)",
        ),
        ("apps created", provisions.apps_created, ""),
        ("machines created", provisions.machines_created, ""),
        (
            "double provisions",
            provisions.violations.len() + crowded.len(),
            "",
        ),
        ("most live machines in one app (sampled)", most_sampled, ""),
        (
            "users stuck after faults stop",
            stuck.len(),
            "(goal 0; transitional, or off their entitlement without error_message)",
        ),
        (
            "sweeps after faults stop",
            stuck_sweeps_used,
            "(until none stuck; 0 = none was)",
        ),
        ("bound on sweeps after faults stop", stuck_sweeps, ""),
    ] {
        proof::figure(SUITE, name, value, note);
    }
    proof::figure(
        SUITE,
        "convergence time",
        format!("{:.1} s", convergence_time.as_secs_f64()),
        "",
    );
    proof::figure(
        SUITE,
        "wall time",
        format!("{:.1} s", started.elapsed().as_secs_f64()),
        "",
    );

    assert!(
        stuck.is_empty(),
        "{} users stuck {stuck_sweeps_used} sweeps after faults stopped (seed {seed}):\n{}\n{}",
        stuck.len(),
        stuck.join("\n"),
        rig.host_logs_tail(40)
    );
    assert!(
        sweep_failures.is_empty(),
        "sweeps failed (seed {seed}):\n{}\n{}",
        sweep_failures.join("\n"),
        rig.host_logs_tail(40)
    );
    assert!(
        converged_after.is_some(),
        "not converged after {sweeps} sweeps (seed {seed}):\n{}\n{}",
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
        tally.server_errors.is_empty(),
        "5xx answers (seed {seed}):\n{}",
        tally.server_errors.join("\n")
    );
    assert!(
        plan.kills > 0 && throttled > 0 && faults > 0,
        "the chaos happened"
    );
    let hits = fleet_e2e::chaos::audit::secret_hits(&mut rig.db(), &rig.secrets());
    assert!(hits.is_empty(), "secrets stored: {hits:?}");
}
