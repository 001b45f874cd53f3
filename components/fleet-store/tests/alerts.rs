//! Alert state and the delivery outbox on both dialects: a transition decided on a version is recorded once
//! (a second sweep that read the same version records nothing), each recorded transition queues exactly one
//! notification, a notification is claimed by one worker at a time, and a failed one comes back when due.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{now, pg_store, reopen, sqlite_store, AnyStore};
use fleet_store::{AlertRecord, AlertTransition, DeliveryOutcome, Dialect};

fn record(at: DateTime<Utc>, firing: bool, version: i64) -> AlertRecord {
    AlertRecord {
        key: "app_unhealthy:vyx-user-1".into(),
        kind: "app_unhealthy".into(),
        severity: "warning".into(),
        firing,
        summary: "app vyx-user-1 is unhealthy".into(),
        first_fired_at: at,
        last_notified_at: at,
        resolved_at: (!firing).then_some(at),
        version,
    }
}

fn transitions_and_deliveries(store: &mut AnyStore, other: &mut AnyStore) {
    let t0 = now();
    let fire = record(t0, true, 1);
    let first = AlertTransition {
        record: &fire,
        previous_version: None,
        state: "firing",
    };
    assert!(store.record_alert_transition(&first, t0).unwrap());
    // Another host decided the same thing from the same (empty) state: nothing more is recorded.
    assert!(!other.record_alert_transition(&first, t0).unwrap());
    let stored = store.alerts().unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].firing);
    assert_eq!(stored[0].version, 1);

    // One claimer gets the notification; the other finds nothing.
    let ttl = Duration::from_secs(60);
    let old = t0 - chrono::Duration::days(2);
    let claimed = store
        .claim_alert_deliveries("a", t0, t0, ttl, 10, old)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].state, "firing");
    assert_eq!(claimed[0].attempts, 1);
    assert!(other
        .claim_alert_deliveries("b", t0, t0, ttl, 10, old)
        .unwrap()
        .is_empty());
    // It fails and is retried later, by whoever claims it then.
    let retry_at = t0 + chrono::Duration::seconds(30);
    let failed = DeliveryOutcome::Failed {
        reason: "the webhook answered HTTP 500",
        retry_at: Some(retry_at),
    };
    assert!(store
        .finish_alert_delivery(claimed[0].id, "a", &failed, t0)
        .unwrap());
    assert!(other
        .claim_alert_deliveries("b", t0, t0, ttl, 10, old)
        .unwrap()
        .is_empty());
    let again = other
        .claim_alert_deliveries("b", retry_at, retry_at, ttl, 10, old)
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    // Only the claim's owner can finish it.
    assert!(!store
        .finish_alert_delivery(again[0].id, "a", &DeliveryOutcome::Sent, retry_at)
        .unwrap());
    assert!(other
        .finish_alert_delivery(again[0].id, "b", &DeliveryOutcome::Sent, retry_at)
        .unwrap());

    // Resolved, decided on version 1 by both hosts: recorded once.
    let t1 = t0 + chrono::Duration::minutes(5);
    let resolve = record(t1, false, 2);
    let resolved = AlertTransition {
        record: &resolve,
        previous_version: Some(1),
        state: "resolved",
    };
    assert!(other.record_alert_transition(&resolved, t1).unwrap());
    assert!(!store.record_alert_transition(&resolved, t1).unwrap());
    let history = store.alert_history(10).unwrap();
    let states: Vec<(&str, &str)> = history
        .iter()
        .map(|d| (d.state.as_str(), d.delivery.as_str()))
        .collect();
    assert_eq!(states, [("resolved", "pending"), ("firing", "sent")]);
    assert_eq!(history[1].last_error, None);

    // A notification nobody could deliver for a day is given up.
    let later = t1 + chrono::Duration::days(2);
    let expired = store
        .claim_alert_deliveries(
            "a",
            later,
            later,
            ttl,
            10,
            later - chrono::Duration::days(1),
        )
        .unwrap();
    assert!(expired.is_empty());
    let history = store.alert_history(10).unwrap();
    assert_eq!(history[0].delivery, "failed");
}

#[test]
fn alerts_on_postgres() {
    let (mut store, url) = pg_store();
    let mut other = reopen(Dialect::Postgres, &url);
    transitions_and_deliveries(&mut store, &mut other);
}

#[test]
fn alerts_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, path) = sqlite_store(&dir);
    let mut other = reopen(Dialect::Sqlite, &path);
    transitions_and_deliveries(&mut store, &mut other);
}
