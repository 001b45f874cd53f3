//! Leases under real concurrency: 20 threads, each with its own connection, race for one row; expired leases
//! can be taken over; concurrent sweeps split due rows instead of doubling them.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{insert_subscription, new_user, now, pg_store, reopen, sqlite_store, AnyStore};
use fleet_store::DueQuery;

const TTL: Duration = Duration::from_secs(60);

fn exclusive_under_concurrency(mut store: AnyStore, location: String) {
    let dialect = store.dialect();
    let user = new_user();
    insert_subscription(&mut store, user, "pro", "active", None);
    let start = now();
    let barrier = Arc::new(Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (barrier, location) = (barrier.clone(), location.clone());
            std::thread::spawn(move || {
                let mut mine = reopen(dialect, &location);
                barrier.wait();
                mine.claim_lease(user, &format!("worker-{i}"), start, TTL)
                    .expect("claim runs")
                    .map(|row| row.lease_owner.unwrap())
            })
        })
        .collect();
    let winners: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().expect("thread"))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{dialect:?}: exactly one claimer wins: {winners:?}"
    );
    let winner = &winners[0];
    let row = store.app(user).unwrap().unwrap();
    assert_eq!(row.lease_owner.as_deref(), Some(winner.as_str()));

    // Still held a moment later: nobody else gets it; the holder may renew.
    let later = start + chrono::Duration::seconds(30);
    assert!(store
        .claim_lease(user, "intruder", later, TTL)
        .unwrap()
        .is_none());
    assert!(store.renew_lease(user, winner, later, TTL).unwrap());

    // After expiry (renewed at +30 s for 60 s) another worker takes over; the old holder has lost it.
    let expired = later + chrono::Duration::seconds(61);
    let taken = store.claim_lease(user, "successor", expired, TTL).unwrap();
    assert_eq!(
        taken.unwrap().lease_owner.as_deref(),
        Some("successor"),
        "{dialect:?}"
    );
    assert!(!store.renew_lease(user, winner, expired, TTL).unwrap());
    assert!(!store.release_lease(user, winner).unwrap());
    assert!(store.release_lease(user, "successor").unwrap());
    assert!(
        store
            .claim_lease(user, "anyone", expired, TTL)
            .unwrap()
            .is_some(),
        "free after release"
    );
}

#[test]
fn lease_is_exclusive_and_expired_leases_are_taken_over_postgres() {
    let (store, url) = pg_store();
    exclusive_under_concurrency(store, url);
}

#[test]
fn lease_is_exclusive_and_expired_leases_are_taken_over_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = sqlite_store(&dir);
    exclusive_under_concurrency(store, path);
}

fn sweeps_split_due_rows(mut store: AnyStore, location: String) {
    let dialect = store.dialect();
    let mut due_users = HashSet::new();
    for _ in 0..30 {
        let user = new_user();
        insert_subscription(&mut store, user, "elite", "active", None); // trigger marks it due
        due_users.insert(user);
    }
    let quiet = new_user(); // has a row, but is neither due nor active
    store.mark_due(quiet, now(), true).unwrap();
    common::exec(
        &mut store,
        "UPDATE user_fly_apps SET next_attempt_at = NULL WHERE user_id = {uuid:1}",
        &[quiet.to_string().into()],
    );

    let query = DueQuery {
        now: now() + chrono::Duration::seconds(1),
        checked_before: now(),
        limit: 7,
    };
    assert_eq!(
        store
            .select_due(DueQuery {
                limit: 100,
                ..query
            })
            .unwrap()
            .len(),
        30
    );
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (barrier, location) = (barrier.clone(), location.clone());
            std::thread::spawn(move || {
                let mut mine = reopen(dialect, &location);
                barrier.wait();
                let mut claimed = Vec::new();
                for _ in 0..20 {
                    let batch = mine.claim_due(query, &format!("sweep-{i}"), TTL).unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    assert!(batch.len() <= 7);
                    claimed.extend(batch.into_iter().map(|r| r.user_id));
                }
                claimed
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for handle in handles {
        for user in handle.join().unwrap() {
            assert!(seen.insert(user), "{dialect:?}: {user} claimed twice");
        }
    }
    assert_eq!(
        seen, due_users,
        "{dialect:?}: every due row claimed once, nothing else"
    );
    assert!(store.claim_due(query, "late", TTL).unwrap().is_empty());
}

#[test]
fn concurrent_sweeps_split_due_rows_postgres() {
    let (store, url) = pg_store();
    sweeps_split_due_rows(store, url);
}

#[test]
fn concurrent_sweeps_split_due_rows_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = sqlite_store(&dir);
    sweeps_split_due_rows(store, path);
}

#[test]
fn active_rows_become_due_when_their_check_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    for (mut store, _) in [pg_store(), sqlite_store(&dir)] {
        let user = new_user();
        let t0 = now();
        let mut row = fleet_store::AppRow::new(user);
        row.status = fleet_store::AppStatus::Active;
        row.last_health_check = Some(t0);
        assert!(store.upsert_app(&row, None, t0).unwrap());
        let fresh = DueQuery {
            now: t0,
            checked_before: t0 - chrono::Duration::minutes(5),
            limit: 10,
        };
        assert!(
            store.select_due(fresh).unwrap().is_empty(),
            "{:?}",
            store.dialect()
        );
        let stale = DueQuery {
            now: t0,
            checked_before: t0 + chrono::Duration::seconds(1),
            limit: 10,
        };
        let due = store.select_due(stale).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].user_id, user);
    }
}
