//! Rollouts, orphans, concurrent sweeps and the time budget.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use fleet_store::EventType;
use fleet_sweep::{OrphanPolicy, RolloutStatus, FLEET_WIDE_LEASE, ROLLOUT_STATE_KEY};
use fly_simulator::FaultSettings;
use support::{quiet_sim, user, Rig, IMAGE};

const V2: &str = "registry.fly.io/vyx-screener:v2";

fn fleet_events<C: fleet_store::SqlConnection>(rig: &mut Rig<C>, event_type: EventType) -> usize {
    let conn = rig.store.connection();
    let sql = match conn.dialect() {
        fleet_store::Dialect::Postgres => {
            "SELECT count(*)::bigint AS n FROM user_fly_app_events WHERE event_type = $1"
        }
        fleet_store::Dialect::Sqlite => {
            "SELECT count(*) AS n FROM user_fly_app_events WHERE event_type = ?1"
        }
    };
    conn.query(sql, &[event_type.as_str().into()]).unwrap()[0]
        .int("n")
        .unwrap() as usize
}

/// Fleet-wide events of a type about one image.
fn fleet_events_for<C: fleet_store::SqlConnection>(
    rig: &mut Rig<C>,
    event_type: EventType,
    image: &str,
) -> usize {
    let conn = rig.store.connection();
    let sql = "SELECT metadata FROM user_fly_app_events WHERE event_type = $1";
    let sql = match conn.dialect() {
        fleet_store::Dialect::Postgres => sql.replace("metadata", "metadata::text AS metadata"),
        fleet_store::Dialect::Sqlite => sql.replace("$1", "?1"),
    };
    let rows = conn.query(&sql, &[event_type.as_str().into()]).unwrap();
    rows.iter()
        .filter(|r| {
            let metadata: serde_json::Value =
                serde_json::from_str(&r.text("metadata").unwrap()).unwrap();
            metadata["image"] == image
        })
        .count()
}

fn machine_images<C: fleet_store::SqlConnection>(
    rig: &mut Rig<C>,
    users: &[fleet_store::UserId],
) -> Vec<String> {
    users
        .iter()
        .map(|u| {
            let app = rig.row(*u).fly_app_name.unwrap();
            rig.live_machines(&app)[0]["config"]["image"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_new_image_rolls_out_at_most_k_machines_per_sweep_until_done() {
    let mut rig = Rig::sqlite(quiet_sim());
    let users = rig.provision_users(10, 5);
    rig.sweep();
    rig.config.rollout_batch_size = 2;
    rig.reconcile.image = V2.into();

    let mut rolled = Vec::new();
    for _ in 0..5 {
        let summary = rig.sweep();
        assert!(summary.rolled <= 2, "{summary:#?}");
        rolled.push(summary.rolled);
        if machine_images(&mut rig, &users).iter().all(|i| i == V2) {
            break;
        }
    }
    assert_eq!(rolled.iter().sum::<u32>(), 5, "{rolled:?}");
    assert_eq!(rolled[..2], [2, 2], "{rolled:?}");
    // Every updated machine kept its full config and runs started.
    for u in &users {
        let app = rig.row(*u).fly_app_name.unwrap();
        let m = &rig.live_machines(&app)[0];
        assert_eq!(m["state"], "started");
        assert_eq!(
            m["config"]["env"]["USER_ID"],
            u.to_string(),
            "full config sent back"
        );
        assert_eq!(m["config"]["restart"]["policy"], "always");
    }
    rig.sweep();
    let state = rig.store.state(ROLLOUT_STATE_KEY).unwrap().unwrap();
    assert_eq!(state["status"], "completed", "{state}");
    assert_eq!(
        fleet_events_for(&mut rig, EventType::RolloutCompleted, V2),
        1
    );
    assert_eq!(fleet_events(&mut rig, EventType::RolloutMachineUpdated), 5);
}

#[test]
fn a_bad_image_halts_the_rollout_and_leaves_the_rest_on_the_old_image() {
    let mut rig = Rig::postgres(quiet_sim());
    let users = rig.provision_users(20, 6);
    rig.sweep();
    rig.sim.sim().set_faults(FaultSettings {
        failing_images: [V2.to_string()].into(),
        ..Default::default()
    });
    rig.config.rollout_batch_size = 3;
    rig.config.rollout_failure_threshold = 0.5;
    rig.config.rollout_wait = Duration::from_secs(2);
    rig.reconcile.image = V2.into();

    let first = rig.sweep();
    assert_eq!(first.rolled, 0, "{first:#?}");
    let state = rig.store.state(ROLLOUT_STATE_KEY).unwrap().unwrap();
    assert_eq!(state["status"], "halted", "1 of 1 failed > 0.5: {state}");
    assert_eq!(fleet_events(&mut rig, EventType::RolloutHalted), 1);
    assert_eq!(
        fleet_events(&mut rig, EventType::RolloutMachineFailed),
        1,
        "no machine after the halt"
    );

    // Later sweeps update nothing, and the failed machine was put back on the old image.
    for _ in 0..2 {
        let summary = rig.sweep();
        assert_eq!(summary.rolled, 0);
    }
    assert_eq!(fleet_events(&mut rig, EventType::RolloutMachineFailed), 1);
    rig.wait_for(
        "all machines started on the old image",
        Duration::from_secs(5),
        |rig| {
            rig.apps()
                .iter()
                .flat_map(|a| a["machines"].as_array().cloned().unwrap_or_default())
                .filter(|m| m["state"] != "destroyed")
                .all(|m| m["state"] == "started" && m["config"]["image"] == IMAGE)
        },
    );
    assert!(machine_images(&mut rig, &users).iter().all(|i| i == IMAGE));

    // A machine lost now is recreated on the last good image, never the halted one.
    let row = rig.row(users[0]);
    rig.sim
        .sim()
        .crash_machine(row.machine_id.as_deref().unwrap());
    let app = row.fly_app_name.unwrap();
    let machine = row.machine_id.unwrap();
    rig.delete_machine(&app, &machine);
    rig.sweep_until("a new machine", |rig| {
        rig.live_machines(&app)
            .iter()
            .any(|m| m["state"] == "started")
    });
    assert_eq!(rig.live_machines(&app)[0]["config"]["image"], IMAGE);

    // Only a new image resumes.
    rig.sim.sim().set_faults(FaultSettings::default());
    rig.reconcile.image = "registry.fly.io/vyx-screener:v3".into();
    let summary = rig.sweep();
    assert_eq!(summary.rolled, 3, "{summary:#?}");
    let state = rig.store.state(ROLLOUT_STATE_KEY).unwrap().unwrap();
    assert_eq!(
        state["status"],
        serde_json::json!(RolloutStatus::InProgress)
    );
}

#[test]
fn an_orphan_is_reported_and_deleted_only_under_the_delete_policy_after_grace() {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.provision_users(30, 1);
    let orphan = "vyx-user-0badc0de";
    let unrelated = "someone-elses-app";
    rig.create_app(orphan);
    rig.create_app(unrelated);
    rig.wait_for("apps visible", Duration::from_secs(5), |rig| {
        rig.apps().iter().filter(|a| a["visible"] == true).count() == 3
    });

    rig.config.orphan_grace = Duration::from_millis(500);
    let summary = rig.sweep();
    assert_eq!(summary.orphans, 1, "{summary:#?}");
    rig.sweep();
    assert_eq!(
        fleet_events(&mut rig, EventType::OrphanDetected),
        1,
        "reported once"
    );
    std::thread::sleep(Duration::from_millis(600));
    rig.sweep();
    assert!(
        rig.apps().iter().any(|a| a["name"] == orphan),
        "report policy never deletes"
    );

    rig.config.orphan_policy = OrphanPolicy::Delete;
    rig.sweep();
    assert_eq!(fleet_events(&mut rig, EventType::OrphanDeleted), 1);
    rig.wait_for("orphan deleted", Duration::from_secs(5), |rig| {
        rig.apps().iter().all(|a| a["name"] != orphan)
    });
    assert!(
        rig.apps().iter().any(|a| a["name"] == unrelated),
        "apps without Fleet's prefix are left alone"
    );
    let users_app = rig.row(user(30)).fly_app_name.unwrap();
    assert!(
        rig.apps().iter().any(|a| a["name"] == users_app.as_str()),
        "live apps are never orphans"
    );

    // Under the delete policy a fresh orphan waits out its grace.
    let fresh = "vyx-user-0ddba11";
    rig.create_app(fresh);
    rig.wait_for("fresh visible", Duration::from_secs(5), |rig| {
        rig.apps()
            .iter()
            .any(|a| a["name"] == fresh && a["visible"] == true)
    });
    rig.sweep();
    assert!(rig
        .apps()
        .iter()
        .any(|a| a["name"] == fresh && a["deleting"] == false));
}

#[test]
fn two_concurrent_sweeps_on_one_database_split_the_work() {
    let mut rig = Rig::postgres(quiet_sim());
    let n = 24;
    rig.provision_users(40, n);
    rig.sweep();
    let orphan = "vyx-user-0badcafe";
    rig.create_app(orphan);
    rig.wait_for("orphan visible", Duration::from_secs(5), |rig| {
        rig.apps()
            .iter()
            .any(|a| a["name"] == orphan && a["visible"] == true)
    });
    rig.sim.sim().set_faults(FaultSettings {
        latency_ms: 30,
        ..Default::default()
    });
    // Small rounds (2 in flight, 8 claimed at a time) so both sweeps get to claim.
    rig.config.concurrency = 2;
    let before = rig.requests_matching("GET", "/machines").len();

    let mut second = rig.second_store();
    let target = rig.fly_target();
    let config = rig.config.clone();
    let reconcile = rig.reconcile.clone();
    let other = std::thread::spawn(move || {
        let counter = fleet_reconcile::CountingTransport::new(
            fly_api::transport_native::NativeTransport::new(),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        support::run_sweep(
            &target,
            &counter,
            &mut second,
            &reconcile,
            &config,
            "sweep:b",
        )
    });
    let a = rig.sweep();
    let b = other.join().unwrap();
    assert_eq!(a.checked + b.checked, n, "every row once: {a:#?} {b:#?}");
    assert!(
        a.checked > 0 && b.checked > 0,
        "both sweeps took a share: {a:#?} {b:#?}"
    );
    let lists: Vec<String> = rig.requests_matching("GET", "/machines")[before..]
        .iter()
        .filter(|p| p.ends_with("/machines"))
        .cloned()
        .collect();
    let mut per_app = BTreeMap::new();
    for path in &lists {
        *per_app.entry(path.clone()).or_insert(0) += 1;
    }
    assert_eq!(per_app.len(), n as usize);
    assert!(
        per_app.values().all(|c| *c == 1),
        "no app observed twice: {per_app:?}"
    );
    assert_eq!((a.remaining, b.remaining), (0, 0));
    assert_eq!(
        fleet_events(&mut rig, EventType::OrphanDetected),
        1,
        "the fleet-wide work is done by one sweep: {a:#?} {b:#?}"
    );
}

#[test]
fn a_sweep_stays_within_its_budget_and_reports_what_remains() {
    let mut rig = Rig::postgres(quiet_sim());
    let n = 30;
    rig.provision_users(100, n);
    rig.sweep();
    rig.sim.sim().set_faults(FaultSettings {
        latency_ms: 200,
        ..Default::default()
    });
    rig.config.concurrency = 2;
    rig.config.budget = Duration::from_millis(1500);

    let summary = rig.sweep();
    assert!(
        summary.duration_ms <= 1500 + 600,
        "budget 1.5 s plus one in-flight call: {summary:#?}"
    );
    assert!(summary.checked > 0 && summary.checked < n, "{summary:#?}");
    assert_eq!(summary.remaining, n - summary.checked, "{summary:#?}");
    assert!(summary.fly_calls >= summary.checked);

    // Nothing stays leased: the next sweep picks up exactly what remained.
    rig.config.budget = Duration::from_secs(30);
    rig.config.concurrency = 16;
    let rest = rig.sweep();
    assert_eq!(rest.remaining, 0, "{rest:#?}");
    assert!(rest.checked >= summary.remaining, "{rest:#?}");
}

#[test]
fn a_rate_limited_sweep_slows_down_but_does_not_fail() {
    let mut rig = Rig::sqlite(quiet_sim());
    let users = rig.provision_users(80, 4);
    rig.sweep();
    rig.sim.sim().set_rate_limits_enabled(true);
    // Burn the per-app list budget so the sweep meets 429s with Retry-After.
    for u in &users {
        let app = rig.row(*u).fly_app_name.unwrap();
        for _ in 0..4 {
            let _ = rig.list_machines(&app);
        }
    }
    let summary = rig.sweep();
    assert_eq!(
        summary.checked + summary.observe_failures,
        4,
        "{summary:#?}"
    );
    assert_eq!(
        summary.checked, 4,
        "Retry-After fits the budget, so every app is observed: {summary:#?}"
    );
    assert!(!rig.requests_matching("GET", "/machines").is_empty());
}

#[test]
fn only_the_holder_of_the_fleet_wide_lease_scans_for_orphans() {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.provision_users(50, 1);
    let orphan = "vyx-user-0dd0dd0d";
    rig.create_app(orphan);
    rig.wait_for("orphan visible", Duration::from_secs(5), |rig| {
        rig.apps()
            .iter()
            .any(|a| a["name"] == orphan && a["visible"] == true)
    });
    let now = chrono::Utc::now();
    let ttl = Duration::from_secs(300);
    assert!(rig
        .store
        .claim_fleet_lease(FLEET_WIDE_LEASE, "sweep:elsewhere", now, ttl)
        .unwrap());
    let summary = rig.sweep();
    assert_eq!((summary.checked, summary.orphans), (1, 0), "{summary:#?}");
    assert_eq!(fleet_events(&mut rig, EventType::OrphanDetected), 0);

    rig.store
        .release_fleet_lease(FLEET_WIDE_LEASE, "sweep:elsewhere")
        .unwrap();
    assert_eq!(rig.sweep().orphans, 1);
    assert_eq!(fleet_events(&mut rig, EventType::OrphanDetected), 1);
}
