//! Migration throughput: N existing Pro users migrated by the admin service against the Fly simulator, which
//! enforces Fly's documented per-app and per-machine rate limits (429 with Retry-After).
//!
//! `cargo run -p fleet-admin --example migration_bench -- [--users 1000] [--per-sec 25] [--burst 25]`
//!
//! The migration's pacing comes from `Pacing::from_limits`. With Fly's documented figures it releases one
//! burst of 3 users every 3 s (1 user/s), holding org-wide app creation to the strictest per-action limit
//! although Fly documents no org-wide limit; 1,000 users would take 1,000 s. The simulator, like Fly's
//! documentation, has no org-wide limit, so the bench configures the limits with `--per-sec`/`--burst` and
//! reports the configured ceiling, the achieved rate, the 429s seen and the failures (expected: none).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{body, user, Rig};
use fleet_admin::{FlyLimits, Pacing};
use fly_simulator::SimConfig;

fn main() {
    let (mut users, mut per_sec, mut burst) = (1000u32, 25.0f64, 25.0f64);
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let usage = "usage: migration_bench [--users N] [--per-sec R] [--burst B]";
        let value = pair.get(1).expect(usage);
        match pair[0].as_str() {
            "--users" => users = value.parse().expect(usage),
            "--per-sec" => per_sec = value.parse().expect(usage),
            "--burst" => burst = value.parse().expect(usage),
            _ => panic!("{usage}"),
        }
    }
    let existing: Vec<(fleet_store::UserId, &str)> =
        (1..=users).map(|n| (user(n), "pro")).collect();
    let mut rig = Rig::build(false, SimConfig::default(), &existing);
    let limits = FlyLimits {
        action_per_sec: per_sec,
        action_burst: burst,
        ..FlyLimits::DOCUMENTED
    };
    rig.config.pacing = Pacing::from_limits(limits);
    let pacing = rig.config.pacing;
    let documented = Pacing::from_limits(FlyLimits::DOCUMENTED);

    let started = Instant::now();
    let first = rig.admin("POST", "/admin/api/migrations", "{}");
    assert!(matches!(first.status, 200 | 202), "{:?}", body(&first));
    let mut progress = body(&first)["migration"].clone();
    // The request log keeps the last 10,000 entries; read it after every step and count by sequence number.
    let (mut last_seq, mut calls_429) = (0u64, 0usize);
    let mut count_log = |rig: &Rig| {
        for entry in rig.sim.sim().request_log() {
            if entry.seq > last_seq {
                last_seq = entry.seq;
                calls_429 += usize::from(entry.status == 429);
            }
        }
    };
    count_log(&rig);
    let deadline = Instant::now() + Duration::from_secs(1800);
    while progress["complete"] != true {
        assert!(
            Instant::now() < deadline,
            "migration did not complete: {progress}"
        );
        let step = rig.admin("POST", "/admin/api/migrations/advance", "{}");
        assert!(matches!(step.status, 200 | 202), "{:?}", body(&step));
        progress = body(&step)["migration"].clone();
        count_log(&rig);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (done, failed) = (
        progress["done"].as_u64().unwrap_or(0),
        progress["failed"].as_u64().unwrap_or(0),
    );
    assert_eq!((done, failed), (u64::from(users), 0), "{progress}");
    let live_apps = rig.apps_at_fly().len();
    assert_eq!(live_apps, users as usize, "one app per migrated user");

    let achieved = f64::from(users) / elapsed;
    let suite = format!("bench: migration of {users} users");
    let record = |name: &str, value: String, note: &str| {
        fleet_test_support::figures::record(&suite, name, value, note)
    };
    let setting = format!(
        "admin service (native), SQLite, Fly simulator enforcing the documented per-app/machine limits; \
         pacing from limits {per_sec}/s burst {burst}"
    );
    record("wall time s", format!("{elapsed:.1}"), &setting);
    record(
        "achieved users/s",
        format!("{achieved:.2}"),
        "done / wall time",
    );
    record(
        "configured pacing users/s",
        format!("{:.2}", pacing.users_per_sec()),
        &format!(
            "{} users every {} ms",
            pacing.batch_size, pacing.interval_ms
        ),
    );
    record(
        "ratio achieved / configured",
        format!("{:.2}", achieved / pacing.users_per_sec()),
        "1.0 means the pacing, not the provisioning, is the bottleneck",
    );
    record(
        "baseline: documented-limits pacing users/s",
        format!("{:.2}", documented.users_per_sec()),
        &format!(
            "{} users every {} ms: {users} users would take {:.0} s",
            documented.batch_size,
            documented.interval_ms,
            f64::from(users) / documented.users_per_sec()
        ),
    );
    record(
        "ratio achieved / documented pacing",
        format!("{:.1}x", achieved / documented.users_per_sec()),
        "",
    );
    record(
        "Fly calls",
        last_seq.to_string(),
        &format!("{:.1} per user", last_seq as f64 / f64::from(users)),
    );
    record(
        "429 answers (rate)",
        format!(
            "{calls_429} ({:.2} %)",
            100.0 * calls_429 as f64 / last_seq.max(1) as f64
        ),
        "retried with backoff; none turned into a failure",
    );
    record("failed users", failed.to_string(), "");
}
