//! Migrating 50 existing Pro/Elite users against the Fly simulator (with Fly's documented rate limits
//! enforced): a dry run lists them without changing anything, the migration releases them in paced batches,
//! and every one ends active with one machine and no 429-caused failure. Prints the measured throughput.

mod common;

use std::time::{Duration, Instant};

use common::{body, user, Rig};
use fleet_admin::{FlyLimits, Pacing};
use fleet_store::EventType;
use fly_simulator::SimConfig;

const USERS: u32 = 50;

#[test]
fn fifty_existing_users_migrate_paced_without_rate_limit_failures() {
    let mut existing: Vec<(fleet_store::UserId, &str)> = (1..=USERS)
        .map(|n| (user(n), if n % 5 == 0 { "elite" } else { "pro" }))
        .collect();
    existing.push((user(900), "free"));
    existing.push((user(901), "free"));
    let rig = Rig::build(false, SimConfig::default(), &existing);
    let pacing = Pacing::from_limits(FlyLimits::DOCUMENTED);

    // Dry run: lists exactly the entitled users without an app, changes nothing, calls no Fly API.
    let before = rig.snapshot();
    let dry = rig.admin("POST", "/admin/api/migrations", "{\"dry_run\":true}");
    assert_eq!(dry.status, 200);
    let dry = body(&dry);
    assert_eq!(dry["count"], USERS);
    assert!(!dry["users"]
        .as_array()
        .unwrap()
        .contains(&user(900).to_string().into()));
    assert_eq!(rig.snapshot(), before);
    assert_eq!(rig.fly_calls(), 0);

    let started = Instant::now();
    let first = rig.admin("POST", "/admin/api/migrations", "{}");
    assert!(
        first.status == 200 || first.status == 202,
        "{:?}",
        body(&first)
    );
    let again = rig.admin("POST", "/admin/api/migrations", "{}");
    assert_eq!(
        (again.status, body(&again)["error"].as_str()),
        (409, Some("migration_running"))
    );

    let deadline = Instant::now() + Duration::from_secs(300);
    let mut progress = body(&rig.admin("GET", "/admin/api/migrations", ""))["migration"].clone();
    while progress["complete"] != true {
        assert!(
            Instant::now() < deadline,
            "migration did not complete: {progress}"
        );
        let step = rig.admin("POST", "/admin/api/migrations/advance", "{}");
        assert!(
            step.status == 200 || step.status == 202,
            "{:?}",
            body(&step)
        );
        progress = body(&step)["migration"].clone();
        let seen = body(&rig.admin("GET", "/admin/api/migrations", ""))["migration"].clone();
        assert_eq!(seen["total"], USERS);
    }
    let elapsed = started.elapsed();

    assert_eq!(
        (
            progress["done"].as_u64(),
            progress["failed"].as_u64(),
            progress["remaining"].as_u64()
        ),
        (Some(USERS as u64), Some(0), Some(0)),
        "{progress}"
    );
    // One app with exactly one live machine per user at Fly.
    let apps = rig.apps_at_fly();
    assert_eq!(apps.len(), USERS as usize);
    for app in &apps {
        let live = app["machines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["state"] != "destroyed")
            .count();
        assert_eq!(live, 1, "{}", app["name"]);
    }
    // No 429 turned into a failure: no failed provision event at all.
    let log = rig.sim.sim().request_log();
    let rate_limited = log.iter().filter(|e| e.status == 429).count();
    let mut store = rig.store();
    let failures = store
        .events_of_types(&[EventType::ProvisionFailed], 10_000)
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");

    // Pacing: no window of one interval saw more than one batch of releases.
    let mut released: Vec<_> = store
        .events_of_types(&[EventType::ProvisionRequested], 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.metadata["admin_action"] == "migration")
        .map(|e| e.created_at)
        .collect();
    released.sort();
    assert_eq!(released.len(), USERS as usize);
    let batch = pacing.batch_size as usize;
    for pair in released.windows(batch + 1) {
        let gap = (pair[batch] - pair[0]).num_milliseconds();
        assert!(
            gap >= pacing.interval_ms as i64 - 5,
            "{} releases within {gap} ms",
            batch + 1
        );
    }

    let throughput = USERS as f64 / elapsed.as_secs_f64();
    println!(
        "migration: {USERS} users in {:.1} s = {throughput:.2} users/s (pacing {} per {} ms = {:.2}/s ceiling); \
         {} Fly calls ({:.1}/user), {rate_limited} answered 429, 0 failed",
        elapsed.as_secs_f64(),
        pacing.batch_size,
        pacing.interval_ms,
        pacing.users_per_sec(),
        log.len(),
        log.len() as f64 / USERS as f64,
    );
}
