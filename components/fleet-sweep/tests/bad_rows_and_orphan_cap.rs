//! Issue 19 item 6: one row the store cannot read or write does not stall the sweep (it is skipped, recorded
//! and its lease given back), and a sweep that finds more orphans due for deletion than its cap (think of a
//! sweep pointed at an empty or restored database) deletes none of them until an operator confirms.

mod support;

use std::time::Duration;

use fleet_store::{EventType, UserId};
use fleet_sweep::{OrphanHold, OrphanPolicy, ORPHAN_HOLD_KEY};
use support::{quiet_sim, user, Rig};

/// `error_occurred` events about one user whose metadata names the sweep's skip.
fn skip_events<C: fleet_store::SqlConnection>(rig: &mut Rig<C>, user: UserId) -> Vec<String> {
    rig.store
        .events(user, 50)
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.event_type == EventType::ErrorOccurred && e.metadata["sweep"] == "row_skipped"
        })
        .map(|e| e.error_details.unwrap_or_default())
        .collect()
}

fn lease_owner<C: fleet_store::SqlConnection>(rig: &mut Rig<C>, user: UserId) -> Option<String> {
    let sql = format!("SELECT lease_owner FROM user_fly_apps WHERE user_id = '{user}'");
    rig.store.connection().query(&sql, &[]).unwrap()[0]
        .opt_text("lease_owner")
        .unwrap()
}

#[test]
fn one_undecodable_row_does_not_stall_the_sweep() {
    let mut rig = Rig::sqlite(quiet_sim());
    let users = rig.provision_users(60, 3);
    let bad = users[1];
    // Passes the column's shape check but is no time at all: the row cannot be read.
    rig.exec(&format!(
        "UPDATE user_fly_apps SET deployed_at = '2026-19-39T29:59:69.000Z', last_health_check = NULL \
         WHERE user_id = '{bad}'"
    ));
    let before: Vec<_> = [users[0], users[2]]
        .iter()
        .map(|u| rig.row(*u).last_health_check)
        .collect();

    let summary = rig.sweep();

    assert_eq!(summary.skipped_rows, 1, "{summary:#?}");
    assert_eq!(summary.checked, 2, "the other rows are swept: {summary:#?}");
    for (u, was) in [users[0], users[2]].iter().zip(before) {
        assert!(rig.row(*u).last_health_check > was, "{u} checked again");
    }
    let recorded = skip_events(&mut rig, bad);
    assert_eq!(recorded.len(), 1, "the skip is recorded: {recorded:?}");
    assert!(recorded[0].contains("deployed_at") || recorded[0].contains("time"));
    assert_eq!(lease_owner(&mut rig, bad), None, "its lease is given back");

    // A second sweep skips it again, still without stalling.
    let again = rig.sweep();
    assert_eq!(again.skipped_rows, 1, "{again:#?}");
    assert_eq!(lease_owner(&mut rig, bad), None);
}

#[test]
fn a_store_failure_on_one_row_skips_it_and_gives_its_lease_back() {
    let mut rig = Rig::sqlite(quiet_sim());
    let users = rig.provision_users(70, 3);
    let bad = users[0];
    rig.exec(&format!(
        "CREATE TRIGGER fail_one_row BEFORE UPDATE OF last_health_check ON user_fly_apps \
         WHEN NEW.user_id = '{bad}' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    ));

    let summary = rig.sweep();

    assert_eq!(summary.skipped_rows, 1, "{summary:#?}");
    assert!(summary.checked >= 2, "{summary:#?}");
    let recorded = skip_events(&mut rig, bad);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(recorded[0].contains("disk on fire"), "{recorded:?}");
    assert_eq!(lease_owner(&mut rig, bad), None, "its lease is given back");
    for u in &users[1..] {
        assert_eq!(
            rig.row(*u).health_status,
            fleet_store::HealthStatus::Healthy
        );
    }
}

fn orphan_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("vyx-user-0e{i:06x}")).collect()
}

fn live<C: fleet_store::SqlConnection>(rig: &Rig<C>, names: &[String]) -> usize {
    rig.apps()
        .iter()
        .filter(|a| names.iter().any(|n| a["name"] == n.as_str()) && a["deleting"] != true)
        .count()
}

fn hold<C: fleet_store::SqlConnection>(rig: &mut Rig<C>) -> OrphanHold {
    OrphanHold::from_json(rig.store.state(ORPHAN_HOLD_KEY).unwrap().as_ref())
}

fn alerts<C: fleet_store::SqlConnection>(rig: &mut Rig<C>) -> usize {
    rig.store
        .events_of_types(&[EventType::ErrorOccurred], 100)
        .unwrap()
        .iter()
        .filter(|e| e.metadata["alert"] == "orphan_deletions_held")
        .count()
}

#[test]
fn sweep_against_an_empty_database_deletes_at_most_the_cap() {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.config.orphan_policy = OrphanPolicy::Delete;
    rig.config.orphan_grace = Duration::ZERO;
    rig.config.orphan_delete_cap = 3;
    // The fleet's apps exist in Fly; the database the sweep reads has no rows (empty, or restored from
    // before they were made).
    let names = orphan_names(8);
    for name in &names {
        rig.create_app(name);
    }
    rig.wait_for("apps visible", Duration::from_secs(5), |rig| {
        rig.apps().iter().filter(|a| a["visible"] == true).count() == 8
    });

    for _ in 0..3 {
        let summary = rig.sweep();
        assert_eq!(summary.orphans, 8, "{summary:#?}");
        assert_eq!(summary.orphan_deletions_held, 8, "{summary:#?}");
        assert_eq!(live(&rig, &names), 8, "nothing deleted above the cap");
    }
    assert_eq!(alerts(&mut rig), 1, "the alert is recorded once");
    let held = hold(&mut rig);
    assert_eq!(held.held, names);
    assert_eq!(held.cap, 3);

    // An operator confirms (what POST /admin/api/orphans/confirm writes): at most the cap goes per sweep.
    let mut confirmed = held.clone();
    confirmed.confirmed = held.held.clone();
    confirmed.confirmed_by = Some("operator".into());
    let now = chrono::Utc::now();
    rig.store
        .put_state(ORPHAN_HOLD_KEY, &confirmed.to_json(), now)
        .unwrap();
    let mut left = Vec::new();
    for _ in 0..3 {
        let before = live(&rig, &names);
        rig.sweep();
        let after = live(&rig, &names);
        assert!(before - after <= 3, "at most the cap per sweep");
        left.push(after);
    }
    assert_eq!(left, [5, 2, 0]);
    assert!(hold(&mut rig).is_empty(), "the hold ends");
}

#[test]
fn orphans_at_or_below_the_cap_are_deleted_without_an_operator() {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.config.orphan_policy = OrphanPolicy::Delete;
    rig.config.orphan_grace = Duration::ZERO;
    rig.config.orphan_delete_cap = 3;
    rig.provision_users(80, 1);
    let names = orphan_names(3);
    for name in &names {
        rig.create_app(name);
    }
    rig.wait_for("apps visible", Duration::from_secs(5), |rig| {
        rig.apps().iter().filter(|a| a["visible"] == true).count() == 4
    });
    let summary = rig.sweep();
    assert_eq!(summary.orphan_deletions_held, 0, "{summary:#?}");
    assert_eq!(live(&rig, &names), 0);
    assert_eq!(alerts(&mut rig), 0);
    let users_app = rig.row(user(80)).fly_app_name.unwrap();
    assert!(rig.apps().iter().any(|a| a["name"] == users_app.as_str()));
}
