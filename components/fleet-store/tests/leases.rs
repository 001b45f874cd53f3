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
    let quiet = new_user(); // has a row, but is where its entitlement wants it (deleted, not entitled)
    store.mark_due(quiet, now(), true).unwrap();
    common::exec(
        &mut store,
        "UPDATE user_fly_apps SET next_attempt_at = NULL, status = 'deleted' WHERE user_id = {uuid:1}",
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
        insert_subscription(&mut store, user, "pro", "active", None);
        let mut row = fleet_store::AppRow::new(user);
        row.status = fleet_store::AppStatus::Active;
        row.last_health_check = Some(t0);
        assert!(store.upsert_app(&row, None, t0).unwrap());
        common::exec(
            &mut store,
            "UPDATE user_fly_apps SET next_attempt_at = NULL WHERE user_id = {uuid:1}",
            &[user.to_string().into()],
        );
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

/// Level-triggered: a row is considered when it is not where its entitlement wants it, whether or not anything
/// marked it due; a row backing off waits; a converged row is left alone.
#[test]
fn rows_that_disagree_with_their_entitlement_are_due_without_a_due_mark() {
    let dir = tempfile::tempdir().unwrap();
    for (mut store, _) in [pg_store(), sqlite_store(&dir)] {
        let dialect = store.dialect();
        let t0 = now();
        let row_as = |store: &mut AnyStore, user, status: &str, next: Option<&str>| {
            store.mark_due(user, t0, true).unwrap();
            common::exec(
                store,
                &format!(
                    "UPDATE user_fly_apps SET status = {{text:2}}, next_attempt_at = {}, \
                     last_health_check = {{ts:3}} WHERE user_id = {{uuid:1}}",
                    next.unwrap_or("NULL")
                ),
                &[
                    user.to_string().into(),
                    status.into(),
                    fleet_store::format_time(t0).into(),
                ],
            );
        };
        let entitled = |store: &mut AnyStore| {
            let user = new_user();
            insert_subscription(store, user, "pro", "active", None);
            user
        };
        let future = format!(
            "'{}'",
            fleet_store::format_time(t0 + chrono::Duration::hours(1))
        );

        // Entitled, stuck provisioning with no due mark (a due flag cleared by a request that then failed).
        let stuck = entitled(&mut store);
        row_as(&mut store, stuck, "provisioning", None);
        // Not entitled, mid-deprovision, no due mark.
        let leaving = new_user();
        row_as(&mut store, leaving, "deprovisioning", None);
        // Not entitled but still active (a lost deprovision hint whose due mark was cleared).
        let lingering = new_user();
        row_as(&mut store, lingering, "active", None);
        // Entitled but deleted (a lost provision hint).
        let returning = entitled(&mut store);
        row_as(&mut store, returning, "deleted", None);
        // In error without a due mark.
        let failed = entitled(&mut store);
        row_as(&mut store, failed, "error", None);
        // Backing off: waits even though provisioning.
        let backing_off = entitled(&mut store);
        row_as(&mut store, backing_off, "provisioning", Some(&future));
        // Converged: entitled and active (checked recently), not entitled and deleted.
        let fine = entitled(&mut store);
        row_as(&mut store, fine, "active", None);
        let gone = new_user();
        row_as(&mut store, gone, "deleted", None);

        let query = DueQuery {
            now: t0,
            checked_before: t0 - chrono::Duration::minutes(5),
            limit: 100,
        };
        let due: HashSet<_> = store
            .select_due(query)
            .unwrap()
            .into_iter()
            .map(|r| r.user_id)
            .collect();
        let expected: HashSet<_> = [stuck, leaving, lingering, returning, failed].into();
        assert_eq!(due, expected, "{dialect:?}");
        let claimed: HashSet<_> = store
            .claim_due(query, "sweep", TTL)
            .unwrap()
            .into_iter()
            .map(|r| r.user_id)
            .collect();
        assert_eq!(claimed, expected, "{dialect:?}");
    }
}

/// A sweep that trapped or was killed leaves its row leases behind; once they expire the next sweep claims
/// the rows.
#[test]
fn a_dead_sweeps_expired_leases_are_taken_by_the_next_sweep() {
    let dir = tempfile::tempdir().unwrap();
    for (mut store, _) in [pg_store(), sqlite_store(&dir)] {
        let dialect = store.dialect();
        let user = new_user();
        insert_subscription(&mut store, user, "pro", "active", None);
        let t0 = now();
        let query = |at| DueQuery {
            now: at,
            checked_before: at,
            limit: 10,
        };
        let dead = store
            .claim_due(query(t0), "dead-sweep", fleet_store::ROW_LEASE_TTL)
            .unwrap();
        assert_eq!(dead.len(), 1, "{dialect:?}");
        // While the lease lives nobody else gets the row ...
        let soon = t0 + chrono::Duration::seconds(5);
        assert!(store
            .claim_due(query(soon), "next-sweep", fleet_store::ROW_LEASE_TTL)
            .unwrap()
            .is_empty());
        // ... and right after its short expiry the next sweep does.
        let after = t0
            + chrono::TimeDelta::from_std(fleet_store::ROW_LEASE_TTL).unwrap()
            + chrono::Duration::milliseconds(1);
        let taken = store
            .claim_due(query(after), "next-sweep", fleet_store::ROW_LEASE_TTL)
            .unwrap();
        assert_eq!(taken.len(), 1, "{dialect:?}");
        assert_eq!(taken[0].lease_owner.as_deref(), Some("next-sweep"));
        assert!(fleet_store::ROW_LEASE_TTL <= Duration::from_secs(30));
    }
}

/// A reason to wait (a 429) is recorded without counting an attempt, under the lease only.
#[test]
fn a_wait_records_its_reason_and_time_without_an_attempt() {
    let dir = tempfile::tempdir().unwrap();
    for (mut store, _) in [pg_store(), sqlite_store(&dir)] {
        let user = new_user();
        insert_subscription(&mut store, user, "pro", "active", None);
        let t0 = now();
        let row = store.claim_lease(user, "w", t0, TTL).unwrap().unwrap();
        let until = t0 + chrono::Duration::seconds(7);
        let wait = fleet_store::Wait {
            user_id: user,
            lease_owner: "w",
            seen_generation: row.due_generation,
            reason: "fly api: rate limited (HTTP 429); retry after 7s token=abc",
            next_attempt_at: until,
            now: t0,
        };
        assert!(store.record_wait(&wait).unwrap());
        let stored = store.app(user).unwrap().unwrap();
        assert_eq!(stored.next_attempt_at, Some(until));
        assert_eq!(stored.attempts, 0);
        let message = stored.error_message.unwrap();
        assert!(
            message.contains("rate limited") && !message.contains("abc"),
            "{message}"
        );
        assert!(!store
            .record_wait(&fleet_store::Wait {
                lease_owner: "other",
                ..wait
            })
            .unwrap());
    }
}

/// Lease expiry is checked arithmetic: an unbounded TTL (`Duration::MAX`, which used to overflow `now + ttl`)
/// stores the latest storable instant instead of panicking, for row and fleet-wide leases alike.
#[test]
fn an_unbounded_ttl_does_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    for (mut store, _) in [pg_store(), sqlite_store(&dir)] {
        let user = new_user();
        insert_subscription(&mut store, user, "pro", "active", None);
        let t0 = now();
        let row = store
            .claim_lease(user, "w", t0, Duration::MAX)
            .unwrap()
            .unwrap();
        assert_eq!(row.lease_expires_at, Some(fleet_store::time::latest()));
        assert!(store.renew_lease(user, "w", t0, Duration::MAX).unwrap());
        assert!(store
            .claim_fleet_lease("test.unbounded", "w", t0, Duration::MAX)
            .unwrap());
        let query = DueQuery {
            now: t0,
            checked_before: t0,
            limit: 10,
        };
        assert!(store.release_lease(user, "w").unwrap());
        assert_eq!(store.claim_due(query, "s", Duration::MAX).unwrap().len(), 1);
    }
}
