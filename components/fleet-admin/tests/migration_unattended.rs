//! A migration runs unattended: after `POST /admin/api/migrations` nobody calls `/advance`; health sweeps
//! alone release the batches at the configured pace and provision the users. Two sweeps at once release
//! every user exactly once, a cancel stops further batches, and a dry run changes nothing.

mod common;

use std::time::{Duration, Instant};

use common::{body, user, Rig};
use fleet_admin::Pacing;
use fleet_reconcile::{CountingTransport, SystemClock};
use fleet_store::native::NativeSqlite;
use fleet_store::{EventType, Store, UserId};
use fleet_sweep::{PriceTable, SweepConfig, SweepSummary, Sweeper};
use fly_api::transport_native::NativeTransport;
use fly_simulator::SimConfig;
use serde_json::Value;

const PACING: Pacing = Pacing {
    batch_size: 2,
    interval_ms: 700,
};

fn rig(users: u32) -> Rig {
    let existing: Vec<(UserId, &str)> = (1..=users)
        .map(|n| (user(n), if n % 3 == 0 { "elite" } else { "pro" }))
        .chain([(user(900), "free")])
        .collect();
    let mut rig = Rig::build(false, SimConfig::default(), &existing);
    rig.config.pacing = PACING;
    rig
}

/// One health sweep with `budget`, as the `health` component runs it (its own connection and owner).
fn sweep(rig: &Rig, budget: Duration) -> SweepSummary {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut store = Store::new(NativeSqlite::open(&rig.db).unwrap());
    let counter = CountingTransport::new(NativeTransport::new());
    let fly = fly_api::FlyClient::new(
        &counter,
        rig.sim.sim().base_url(),
        fly_api::Secret::new(rig.sim.sim().token().to_string()),
        fly_api::OrgSlug::new(rig.sim.sim().org_slug()),
    );
    let config = SweepConfig {
        budget,
        ..SweepConfig::default()
    };
    let prices = PriceTable::embedded();
    let owner = format!("sweep:{}", uuid::Uuid::new_v4());
    let calls = || counter.calls();
    let probe = NativeTransport::new();
    let mut sweeper = Sweeper {
        store: &mut store,
        fly: &fly,
        probe: &probe,
        reconcile: &rig.config.reconcile,
        config: &config,
        prices: &prices,
        clock: &SystemClock,
        owner: &owner,
        fly_calls: &calls,
    };
    runtime.block_on(sweeper.run()).expect("sweep")
}

fn progress(rig: &Rig) -> Value {
    body(&rig.admin("GET", "/admin/api/migrations", ""))["migration"].clone()
}

/// Release times of the migration's users, sorted, with who released each.
fn releases(rig: &Rig) -> Vec<(chrono::DateTime<chrono::Utc>, Value, Option<UserId>)> {
    let mut out: Vec<_> = rig
        .store()
        .events_of_types(&[EventType::ProvisionRequested], 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.metadata["admin_action"] == "migration")
        .map(|e| (e.created_at, e.metadata["released_by"].clone(), e.user_id))
        .collect();
    out.sort_by_key(|r| r.0);
    out
}

/// No window shorter than one interval holds more than one batch of releases.
fn assert_paced(times: &[chrono::DateTime<chrono::Utc>]) {
    let batch = PACING.batch_size as usize;
    for w in times.windows(batch + 1) {
        let gap = (w[batch] - w[0]).num_milliseconds();
        assert!(
            gap >= PACING.interval_ms as i64 - 5,
            "{} releases within {gap} ms: faster than the pacing",
            batch + 1
        );
    }
}

#[test]
fn sweeps_alone_complete_a_migration_at_its_pace() {
    const USERS: u32 = 7;
    let rig = rig(USERS);
    // Dry run: lists who would be provisioned, changes nothing, calls no Fly API.
    let before = rig.snapshot();
    let dry = body(&rig.admin("POST", "/admin/api/migrations", r#"{"dry_run":true}"#));
    assert_eq!(dry["count"], USERS, "{dry}");
    assert_eq!(dry["users"].as_array().unwrap().len(), USERS as usize);
    assert_eq!(rig.snapshot(), before);
    assert_eq!(rig.fly_calls(), 0);

    let started = rig.admin("POST", "/admin/api/migrations", "{}");
    let started = (started.status, body(&started));
    assert_eq!(started.0, 202, "{}", started.1);
    assert_eq!(started.1["migration"]["status"], "running");
    assert_eq!(
        started.1["migration"]["released"], 0,
        "starting releases nothing itself"
    );

    // Only sweeps from here on: no /advance.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut released_by_sweeps = 0;
    while progress(&rig)["complete"] != true {
        assert!(
            Instant::now() < deadline,
            "not complete: {}",
            progress(&rig)
        );
        released_by_sweeps += sweep(&rig, Duration::from_secs(3)).migration_released;
    }
    let done = progress(&rig);
    assert_eq!(
        (
            done["status"].as_str(),
            done["done"].as_u64(),
            done["failed"].as_u64()
        ),
        (Some("complete"), Some(USERS as u64), Some(0)),
        "{done}"
    );
    assert_eq!(released_by_sweeps, USERS);
    let apps = rig.apps_at_fly();
    assert_eq!(apps.len(), USERS as usize);
    let released = releases(&rig);
    assert_eq!(released.len(), USERS as usize);
    assert!(released.iter().all(|r| r.1 == "sweep"));
    assert_paced(&released.iter().map(|r| r.0).collect::<Vec<_>>());
    // A new migration may start now; it has nobody left to migrate.
    let next = body(&rig.admin("POST", "/admin/api/migrations", r#"{"dry_run":true}"#));
    assert_eq!(next["count"], 0);
}

#[test]
fn two_sweeps_at_once_release_every_user_once_at_the_pace() {
    const USERS: u32 = 9;
    let rig = rig(USERS);
    assert_eq!(rig.admin("POST", "/admin/api/migrations", "{}").status, 202);
    let deadline = Instant::now() + Duration::from_secs(120);
    while progress(&rig)["complete"] != true {
        assert!(
            Instant::now() < deadline,
            "not complete: {}",
            progress(&rig)
        );
        std::thread::scope(|s| {
            let a = s.spawn(|| sweep(&rig, Duration::from_secs(4)));
            let b = s.spawn(|| sweep(&rig, Duration::from_secs(4)));
            a.join().unwrap();
            b.join().unwrap();
        });
    }
    let released = releases(&rig);
    let mut users: Vec<_> = released.iter().filter_map(|r| r.2).collect();
    users.sort();
    users.dedup();
    assert_eq!(
        (released.len(), users.len()),
        (USERS as usize, USERS as usize),
        "each user released exactly once"
    );
    assert_paced(&released.iter().map(|r| r.0).collect::<Vec<_>>());
    assert_eq!(rig.apps_at_fly().len(), USERS as usize);
    assert_eq!(progress(&rig)["done"], USERS);
}

#[test]
fn cancel_stops_further_batches() {
    const USERS: u32 = 8;
    let rig = rig(USERS);
    // Cancelling before any migration: 404 JSON.
    let none = rig.admin("POST", "/admin/api/migrations/cancel", "{}");
    assert_eq!(
        (none.status, body(&none)["error"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(rig.admin("POST", "/admin/api/migrations", "{}").status, 202);
    // A short sweep releases the first batch or two.
    sweep(&rig, Duration::from_millis(1200));
    let cancelled = rig.admin("POST", "/admin/api/migrations/cancel", "{}");
    assert_eq!(cancelled.status, 200, "{}", body(&cancelled));
    let at_cancel = body(&cancelled)["migration"].clone();
    assert_eq!(at_cancel["status"], "cancelled");
    let released = at_cancel["released"].as_u64().unwrap();
    assert!(released > 0 && released < USERS as u64, "{at_cancel}");
    // Idempotent.
    let again = rig.admin("POST", "/admin/api/migrations/cancel", "{}");
    assert_eq!(
        (again.status, body(&again)["migration"]["released"].as_u64()),
        (200, Some(released))
    );
    for _ in 0..3 {
        assert_eq!(sweep(&rig, Duration::from_secs(5)).migration_released, 0);
    }
    let after = progress(&rig);
    assert_eq!(after["released"].as_u64(), Some(released), "{after}");
    assert_eq!(after["status"], "cancelled");
    assert_eq!(releases(&rig).len() as u64, released);
    assert_eq!(
        rig.apps_at_fly().len() as u64,
        released,
        "released users still finish"
    );
    // The dashboard's /advance releases nothing more either.
    let advanced = rig.admin("POST", "/admin/api/migrations/advance", "{}");
    assert_eq!(
        body(&advanced)["migration"]["released"].as_u64(),
        Some(released)
    );
    // A new migration may start; it takes the users the cancelled one never reached.
    let next = body(&rig.admin("POST", "/admin/api/migrations", r#"{"dry_run":true}"#));
    assert_eq!(next["count"].as_u64(), Some(USERS as u64 - released));
    assert_eq!(rig.admin("POST", "/admin/api/migrations", "{}").status, 202);
}
