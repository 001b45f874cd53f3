//! Per-tier sizes against the strict Fly simulator: a Pro user is provisioned at Pro's guest; after a change
//! to Elite the sweep resizes the same machine in place (Fly's update machine API, under a lease, watched
//! until healthy) to Elite's larger guest, records the new size and its cost estimate, and leaves a
//! correctly sized machine alone.

mod support;

use fleet_reconcile::tier_size::TierSizes;
use fleet_sweep::PriceTable;
use support::{quiet_sim, Rig};

fn elite_larger() -> TierSizes {
    let vars = [("fly_cpus_elite", "4"), ("fly_memory_mb_elite", "2048")];
    TierSizes::from_variables(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

#[test]
fn a_pro_to_elite_change_resizes_the_machine_in_place() {
    let mut rig = Rig::sqlite(quiet_sim());
    let sizes = elite_larger();
    rig.config.tier_sizes = Some(sizes.clone());
    let u = rig.provision_users(1, 1)[0];
    let row = rig.row(u);
    let app = row.fly_app_name.clone().unwrap();
    let machine = row.machine_id.clone().unwrap();
    let guest = |rig: &Rig<_>| rig.live_machines(&app)[0]["config"]["guest"].clone();
    assert_eq!(
        (
            guest(&rig)["cpus"].as_u64(),
            guest(&rig)["memory_mb"].as_u64()
        ),
        (Some(2), Some(512)),
        "pro gets pro's size"
    );
    let pro_cost = row.monthly_cost_estimate_usd;

    rig.subscribe(u, "elite", "active");
    let mut resized = 0;
    for _ in 0..3 {
        resized += rig.sweep().resized;
    }
    assert_eq!(resized, 1, "resized once, then left alone");
    let machines = rig.live_machines(&app);
    assert_eq!(machines.len(), 1);
    assert_eq!(
        machines[0]["id"].as_str(),
        Some(machine.as_str()),
        "updated in place"
    );
    assert_eq!(
        (
            guest(&rig)["cpus"].as_u64(),
            guest(&rig)["memory_mb"].as_u64()
        ),
        (Some(4), Some(2048))
    );
    assert_eq!(machines[0]["state"], "started");
    let row = rig.row(u);
    assert_eq!((row.cpus, row.memory_mb), (Some(4), Some(2048)));
    let elite_cost = PriceTable::embedded().monthly_estimate("shared", 4, 2048, "sin");
    assert_eq!(row.monthly_cost_estimate_usd, elite_cost);
    assert!(elite_cost > pro_cost, "{elite_cost:?} > {pro_cost:?}");
    // Fly saw one update of that machine (plus none for a correctly sized one), under a lease.
    let updates = rig.requests_matching("POST", &format!("/machines/{machine}"));
    assert!(
        updates
            .iter()
            .any(|r| !r.contains("/lease") && !r.contains("/start") && !r.contains("/stop")),
        "{updates:?}"
    );
}

#[test]
fn an_elite_user_is_created_at_elites_size_and_a_pro_user_at_pros() {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.config.tier_sizes = Some(elite_larger());
    let (pro, elite) = (support::user(1), support::user(2));
    rig.subscribe(pro, "pro", "active");
    rig.subscribe(elite, "elite", "active");
    rig.sweep_until("both active", |rig| {
        [pro, elite]
            .iter()
            .all(|u| rig.row(*u).status == fleet_store::AppStatus::Active)
    });
    for (user, cpus, memory_mb) in [(pro, 2, 512), (elite, 4, 2048)] {
        let row = rig.row(user);
        let app = row.fly_app_name.clone().unwrap();
        let guest = rig.live_machines(&app)[0]["config"]["guest"].clone();
        assert_eq!(
            (guest["cpus"].as_u64(), guest["memory_mb"].as_u64()),
            (Some(cpus), Some(memory_mb)),
            "{user}"
        );
        assert_eq!(
            (row.cpus, row.memory_mb),
            (Some(cpus as i64), Some(memory_mb as i64))
        );
    }
    // Created at the right size: nothing to resize.
    assert_eq!(rig.sweep().resized, 0);
}

/// The rollout's safety for sizes: a machine that does not come back at its new size is put back and
/// counted, and once failures pass the threshold resizing halts (recorded, alerted as `rollout_halted`)
/// until the sizes change.
#[test]
fn a_resize_that_fails_is_put_back_and_halts_further_resizes() {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.config.tier_sizes = Some(elite_larger());
    let u = rig.provision_users(1, 1)[0];
    let row = rig.row(u);
    let app = row.fly_app_name.clone().unwrap();
    // From now on a machine that (re)starts fails to boot: the running one is fine until it is updated.
    let mut faults = rig.sim.sim().faults();
    faults.failing_images.insert(support::IMAGE.to_string());
    rig.sim.sim().set_faults(faults);
    rig.subscribe(u, "elite", "active");
    let summary = rig.sweep();
    assert_eq!(summary.resized, 0, "{summary:?}");
    let store = &mut rig.store;
    let state = store.state("health.resize").unwrap().expect("resize state");
    assert_eq!(
        (state["failed"].as_u64(), state["halted"].as_bool()),
        (Some(1), Some(true)),
        "{state}"
    );
    let halted = store
        .events_of_types(&[fleet_store::EventType::RolloutHalted], 10)
        .unwrap();
    assert!(
        halted.iter().any(|e| e.metadata["resize"] == true),
        "{halted:?}"
    );
    let failed = store
        .events_of_types(&[fleet_store::EventType::RolloutMachineFailed], 10)
        .unwrap();
    assert_eq!(failed.len(), 1);
    // Put back on its old size.
    let guest = rig.live_machines(&app)[0]["config"]["guest"].clone();
    assert_eq!(
        (guest["cpus"].as_u64(), guest["memory_mb"].as_u64()),
        (Some(2), Some(512))
    );
    // Halted: a later sweep tries no resize (the failing machine is repaired by the provision path, at
    // its tier's size, which is not a resize).
    let _ = rig.sweep();
    let state = rig.store.state("health.resize").unwrap().unwrap();
    assert_eq!(state["failed"].as_u64(), Some(1), "{state}");
    let failed = rig
        .store
        .events_of_types(&[fleet_store::EventType::RolloutMachineFailed], 10)
        .unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
}
