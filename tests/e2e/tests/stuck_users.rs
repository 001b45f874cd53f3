//! Issue 14: the two failures seen against a stricter Fly, as suite cases. The real components in
//! `spin-test-host` on the platform fixture (one PostgreSQL database), the Fly simulator in strict mode
//! (`SimConfig::strict`: per-action rate limits on every action with `Retry-After`, a deleted name held for a
//! while) with effect-then-lost-answer faults and `vyx-user-*` names owned by another organisation.
//!
//! 1. `upgraded_users_never_stay_stuck_after_faults_stop`: 20 free users upgraded by the platform's
//!    subscription write (the first name candidate of every fifth held by another org), half their hints
//!    dropped, a sweep running concurrently, 10 % failed and 10 %
//!    ambiguous Fly answers (5 % 408/502 after the effect, 5 % dropped connections after the effect) and rate
//!    limits on; then faults off and at most `MAX_SWEEPS` sweeps (the number used is printed): no row in a
//!    transitional state, and every user not at their entitlement has a non-empty `error_message`.
//! 2. `foreign_held_names_end_in_error_with_a_reason`: all three name candidates held by another org (403 on
//!    GET, 422 `name_taken` on create) and 429s on the way (the first create and the first probe of each
//!    candidate): after 4 sweeps the row has a reason (`error_message`), the 16-hex candidate is tried, and
//!    within 40 sweeps the row ends in `error` with attempts counted and an error_message about the name.
//!
//! `FLEET_PROOF_SEED=<n> cargo test -p fleet-e2e --test stuck_users` replays case 1's faults. Needs
//! `cargo build -p spin-test-host` and the components built for wasm32-wasip2.

use std::time::{Duration, Instant};

use fleet_e2e::chaos::stalls::{self, RowState};
use fleet_e2e::chaos::subscriptions::Delivery;
use fleet_e2e::chaos::{field, name_candidates, ChaosRig};
use fleet_e2e::{platform_subscription_write, proof, user, WEBHOOK_SECRET};
use fleet_store::UserId;
use fly_simulator::{FaultKind, FaultSettings, ScriptedFault, SimConfig};
use serde_json::{json, Value};

const SUITE: &str = "stuck_users";
/// Between two of the bounded sweeps (pg_cron would use a minute).
const SWEEP_PERIOD: Duration = Duration::from_secs(2);
/// How long a deleted app's name stays taken after its delete completes.
const NAME_HOLD: Duration = Duration::from_secs(2);

fn sweep(rig_base: &str, http: &reqwest::blocking::Client) -> (u16, Value) {
    Delivery::sweep()
        .send(http, rig_base, WEBHOOK_SECRET)
        .unwrap_or_else(|e| (0, json!(format!("no answer: {e}"))))
}

fn describe(rows: &[RowState]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{} entitled {} status {:?} attempts {:?} error {:?}",
                r.user, r.entitled, r.status, r.attempts, r.error_message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Live apps (not being deleted) of each user, by their name candidates; users with more than one.
fn double_apps(rig: &ChaosRig, users: &[UserId]) -> Vec<String> {
    let state = rig.sim.sim().state_dump();
    let live: Vec<&str> = state["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["deleting"] != true)
        .filter_map(|a| a["name"].as_str())
        .collect();
    users
        .iter()
        .filter_map(|u| {
            let names = name_candidates(*u);
            let held: Vec<&&str> = live
                .iter()
                .filter(|n| names.iter().any(|c| c == **n))
                .collect();
            (held.len() > 1).then(|| format!("{u}: {held:?}"))
        })
        .collect()
}

#[test]
fn upgraded_users_never_stay_stuck_after_faults_stop() {
    const MAX_SWEEPS: usize = 45;
    let users_n: u32 = 20;
    let seed = proof::seed(SUITE);
    let started = Instant::now();
    let sim = SimConfig {
        token: format!("fly-stuck-token-{seed:016x}"),
        faults: FaultSettings {
            seed,
            fail_before_rate: 0.10,
            ambiguous_after_rate: 0.05,
            drop_after_rate: 0.05,
            latency_ms: 5,
            latency_jitter_ms: 20,
            ..FaultSettings::default()
        },
        ..SimConfig::default()
    }
    .strict(NAME_HOLD);
    let users: Vec<UserId> = (0..users_n).map(|n| user(14_000 + n)).collect();
    // Another organisation holds the first name candidate of every fifth user (403 on GET, 422 on create):
    // those users must land on their 12-hex name.
    let sim = SimConfig {
        foreign_apps: users
            .iter()
            .step_by(5)
            .map(|u| name_candidates(*u).remove(0))
            .collect(),
        ..sim
    };
    let rig = ChaosRig::postgres(sim);
    rig.sign_up(&users);
    let host = rig.start_host("host");
    let base = host.url("");
    let http = reqwest::blocking::Client::new();

    // The burst: every user upgraded by the platform's write; half the hints dropped, the other half
    // delivered by three workers while one sweep runs.
    let mut db = rig.db();
    for u in &users {
        platform_subscription_write(&mut db, *u, "pro", "active", None);
    }
    let delivered: Vec<UserId> = users.iter().copied().step_by(2).collect();
    let mut burst_statuses: Vec<u16> = Vec::new();
    std::thread::scope(|s| {
        let sweeper = s.spawn(|| sweep(&base, &http).0);
        let workers: Vec<_> = delivered
            .chunks(delivered.len().div_ceil(3))
            .map(|chunk| {
                let (base, http) = (&base, &http);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|u| {
                            let body = json!({"user_id": u.to_string(), "tier": "pro"});
                            let hint = Delivery {
                                route: "/provision",
                                body: body.to_string().into_bytes(),
                                signed: false,
                                timeout: Duration::from_secs(60),
                            };
                            hint.send(http, base, WEBHOOK_SECRET).map_or(0, |(s, _)| s)
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        for w in workers {
            burst_statuses.extend(w.join().expect("hint worker"));
        }
        burst_statuses.push(sweeper.join().expect("sweeper"));
    });
    println!("{SUITE}: burst answers (hints then the concurrent sweep): {burst_statuses:?}");

    // Faults off (Fly's rate limits stay: they are Fly's behaviour, not a fault); bounded sweeps.
    rig.sim.sim().set_faults(FaultSettings::default());
    let mut sweeps = 0;
    let mut converged_after = None;
    let mut stuck = stalls::stuck(&mut db, &users);
    let mut sweep_errors = Vec::new();
    while sweeps < MAX_SWEEPS {
        let tick = Instant::now();
        sweeps += 1;
        let (status, summary) = sweep(&base, &http);
        if status != 200 {
            sweep_errors.push(format!("sweep {sweeps}: {status} {summary}"));
        }
        stuck = stalls::stuck(&mut db, &users);
        println!(
            "{SUITE}: sweep {sweeps}: {status} checked {} provisioned {} remaining {} fly_calls {} → {} stuck",
            field(&summary, "checked"),
            field(&summary, "provisioned"),
            field(&summary, "remaining"),
            field(&summary, "fly_calls"),
            stuck.len()
        );
        if stuck.is_empty() {
            converged_after = Some(sweeps);
            break;
        }
        if let Some(rest) = SWEEP_PERIOD.checked_sub(tick.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let rows = stalls::row_states(&mut db, &users);
    let at_entitlement = rows.iter().filter(|r| r.at_entitlement()).count();
    let in_error = rows
        .iter()
        .filter(|r| r.status.as_deref() == Some("error"))
        .count();
    let doubles = double_apps(&rig, &users);
    for (name, value, note) in [
        ("users upgraded", users.len(), ""),
        (
            "hints delivered",
            delivered.len(),
            "(the other half dropped)",
        ),
        (
            "users stuck after faults stop",
            stuck.len(),
            "(goal 0; transitional, or off their entitlement without error_message)",
        ),
        (
            "sweeps to converge",
            converged_after.unwrap_or(0),
            "(0 = not within the bound)",
        ),
        ("sweep bound", MAX_SWEEPS, ""),
        ("users at their entitlement", at_entitlement, ""),
        ("users in error", in_error, "(each with an error_message)"),
        ("users with two live apps", doubles.len(), ""),
    ] {
        proof::figure(SUITE, name, value, note);
    }
    proof::figure(
        SUITE,
        "wall time",
        format!("{:.1} s", started.elapsed().as_secs_f64()),
        "cargo test -p fleet-e2e --test stuck_users",
    );

    assert!(
        stuck.is_empty(),
        "{} users stuck after {sweeps} sweeps with faults off (seed {seed}):\n{}\nall rows:\n{}\n{}",
        stuck.len(),
        stuck.join("\n"),
        describe(&rows),
        rig.host_logs_tail(40)
    );
    assert!(
        sweep_errors.is_empty(),
        "sweeps failed after faults stopped (seed {seed}):\n{}\n{}",
        sweep_errors.join("\n"),
        rig.host_logs_tail(40)
    );
    assert!(
        doubles.is_empty(),
        "two live apps for one user: {doubles:?}"
    );
    drop(host);
}

#[test]
fn foreign_held_names_end_in_error_with_a_reason() {
    const MAX_SWEEPS: usize = 40;
    const CHECK_AFTER: usize = 4;
    let u = user(14_100);
    let candidates = name_candidates(u);
    assert_eq!(
        candidates.iter().map(String::len).collect::<Vec<_>>(),
        [17, 21, 25],
        "vyx-user-<8|12|16 hex>: {candidates:?}"
    );
    let throttle = |method: &str, path: &str| ScriptedFault {
        method: method.into(),
        path_contains: path.into(),
        path_ends: true,
        kind: FaultKind::Before429,
        count: 1,
    };
    let sim = SimConfig {
        token: "fly-foreign-names-token".into(),
        // Another organisation holds every candidate: GET 403, create 422 name_taken.
        foreign_apps: candidates.clone(),
        faults: FaultSettings {
            // 429s on the way: the first create and the first probe of each candidate are throttled.
            scripted: vec![
                throttle("POST", "/v1/apps"),
                throttle("GET", &format!("/v1/apps/{}", candidates[0])),
                throttle("GET", &format!("/v1/apps/{}", candidates[1])),
                throttle("GET", &format!("/v1/apps/{}", candidates[2])),
            ],
            ..FaultSettings::default()
        },
        ..SimConfig::default()
    }
    .strict(NAME_HOLD);
    let mut rig = ChaosRig::postgres(sim);
    // Fewer attempts before `error` than production's 5, so the backoff (5 s, 10 s, …) fits the bound.
    rig.set_variable("max_attempts_before_error", "3");
    rig.sign_up(&[u]);
    let host = rig.start_host("host");
    let base = host.url("");
    let http = reqwest::blocking::Client::new();
    let mut db = rig.db();
    // The upgrade's hint is dropped: only the sweeps can act.
    platform_subscription_write(&mut db, u, "pro", "active", None);

    let mut sweeps = 0;
    let mut after_few: Option<RowState> = None;
    let mut sweep_errors = Vec::new();
    let mut row = stalls::row_states(&mut db, &[u]).remove(0);
    while sweeps < MAX_SWEEPS {
        let tick = Instant::now();
        sweeps += 1;
        let (status, summary) = sweep(&base, &http);
        if status != 200 {
            sweep_errors.push(format!("sweep {sweeps}: {status} {summary}"));
        }
        row = stalls::row_states(&mut db, &[u]).remove(0);
        println!(
            "{SUITE}: sweep {sweeps}: {status} {summary} → status {:?} attempts {:?} error {:?}",
            row.status, row.attempts, row.error_message
        );
        if sweeps == CHECK_AFTER {
            after_few = Some(row.clone());
        }
        if row.status.as_deref() == Some("error") && sweeps >= CHECK_AFTER {
            break;
        }
        if let Some(rest) = SWEEP_PERIOD.checked_sub(tick.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let log = rig.sim.sim().request_log();
    let create_tried = |name: &str| {
        log.iter().any(|e| {
            e.method == "POST"
                && e.path.split('?').next() == Some("/v1/apps")
                && (e.body["name"] == name || e.body["app_name"] == name)
        })
    };
    let tried: Vec<bool> = candidates.iter().map(|c| create_tried(c)).collect();
    let throttled = log.iter().filter(|e| e.status == 429).count();
    proof::figure(SUITE, "foreign names: sweeps until error", sweeps, "");
    proof::figure(SUITE, "foreign names: 429s answered", throttled, "");

    let after_few = after_few.expect("ran the first sweeps");
    assert!(
        after_few.explained(),
        "after {CHECK_AFTER} sweeps the user is silently stuck (no error_message): {after_few:?}\n{}",
        rig.host_logs_tail(40)
    );
    assert_eq!(
        tried,
        [true, true, true],
        "creates tried for {candidates:?} (the 16-hex one must be tried)"
    );
    assert!(throttled > 0, "429s happened on the way");
    assert_eq!(
        row.status.as_deref(),
        Some("error"),
        "not in error after {sweeps} sweeps: {row:?}\n{}",
        rig.host_logs_tail(40)
    );
    assert!(
        row.attempts.unwrap_or(0) > 0,
        "the failure was never counted as an attempt: {row:?}"
    );
    let message = row.error_message.clone().unwrap_or_default().to_lowercase();
    assert!(
        message.contains("name") || message.contains("taken"),
        "error_message does not explain the name collision: {row:?}"
    );
    assert!(
        sweep_errors.is_empty(),
        "sweeps failed: {}\n{}",
        sweep_errors.join("\n"),
        rig.host_logs_tail(40)
    );
    let ours: Vec<Value> = rig.sim.sim().state_dump()["apps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(ours.is_empty(), "no app of ours was created: {ours:?}");
    drop(host);
}
