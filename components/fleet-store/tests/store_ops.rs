//! Row upserts, failure backoff, due marks racing a worker, events and fleet state, in both dialects.

mod common;

use std::time::Duration;

use common::{new_user, now, pg_store, sqlite_store, AnyStore};
use fleet_store::{AppRow, AppStatus, EventType, Failure, HealthStatus, NewEvent};

fn both(test: impl Fn(AnyStore)) {
    let dir = tempfile::tempdir().unwrap();
    test(pg_store().0);
    test(sqlite_store(&dir).0);
}

#[test]
fn upsert_round_trips_every_field() {
    both(|mut store| {
        let user = new_user();
        let t = now();
        let mut row = AppRow::new(user);
        row.fly_app_name = Some(format!("fleet-{}", &user.simple()[..12]));
        row.fly_org_slug = Some("personal".into());
        row.region = Some("sin".into());
        row.docker_image = Some("registry.fly.io/screener:v1".into());
        row.cpu_kind = Some("shared".into());
        row.cpus = Some(2);
        row.memory_mb = Some(512);
        row.machine_id = Some("d8d9".into());
        row.launch_id = Some("launch-1".into());
        row.status = AppStatus::Active;
        row.health_status = HealthStatus::Healthy;
        row.health_detail = serde_json::json!({"run_mode": "user_dedicated", "trader_count": 3});
        row.last_health_check = Some(t);
        row.secrets_version = Some(7);
        row.db_role_name = Some(fleet_store::screener_role_name(user));
        row.deployed_at = Some(t - chrono::Duration::hours(1));
        row.monthly_cost_estimate_usd = Some(3.89);
        row.accrued_cost_usd = 0.25;
        assert!(store.upsert_app(&row, None, t).unwrap());
        let stored = store.app(user).unwrap().unwrap();
        let expected = AppRow {
            id: stored.id.clone(),
            created_at: Some(t),
            updated_at: Some(t),
            ..row.clone()
        };
        assert_eq!(stored, expected, "{:?}", store.dialect());
        assert_eq!(
            store
                .app_by_name(row.fly_app_name.as_deref().unwrap())
                .unwrap(),
            Some(stored)
        );
        assert_eq!(store.list_apps().unwrap().len(), 1);
    });
}

#[test]
fn writes_under_a_lease_are_refused_once_the_lease_is_lost() {
    both(|mut store| {
        let user = new_user();
        let t = now();
        store.mark_due(user, t, true).unwrap();
        let mut row = store
            .claim_lease(user, "a", t, Duration::from_secs(30))
            .unwrap()
            .unwrap();
        row.status = AppStatus::Active;
        assert!(store.upsert_app(&row, Some("a"), t).unwrap());
        let later = t + chrono::Duration::seconds(31);
        store
            .claim_lease(user, "b", later, Duration::from_secs(30))
            .unwrap()
            .unwrap();
        row.status = AppStatus::Error;
        assert!(
            !store.upsert_app(&row, Some("a"), later).unwrap(),
            "{:?}",
            store.dialect()
        );
        assert_eq!(store.app(user).unwrap().unwrap().status, AppStatus::Active);
    });
}

#[test]
fn failures_count_attempts_back_off_and_store_no_secrets() {
    both(|mut store| {
        let user = new_user();
        let t = now();
        store.mark_due(user, t, true).unwrap();
        let row = store
            .claim_lease(user, "w", t, Duration::from_secs(30))
            .unwrap()
            .unwrap();
        let next = t + chrono::Duration::from_std(fleet_store::backoff_delay(1, 0.5)).unwrap();
        let failure = Failure {
            user_id: user,
            lease_owner: "w",
            seen_generation: row.due_generation,
            error: "fly said 500 for Authorization: Bearer FlyV1 fm2_supersecret",
            next_attempt_at: next,
            status: None,
            now: t,
        };
        assert_eq!(store.record_failure(&failure).unwrap(), Some(1));
        assert_eq!(
            store
                .record_failure(&Failure {
                    status: Some(AppStatus::Error),
                    ..failure.clone()
                })
                .unwrap(),
            Some(2)
        );
        let stored = store.app(user).unwrap().unwrap();
        assert_eq!(stored.attempts, 2);
        assert_eq!(stored.status, AppStatus::Error);
        assert_eq!(stored.next_attempt_at, Some(next));
        let message = stored.error_message.unwrap();
        assert!(
            !message.contains("supersecret") && message.contains("fly said 500"),
            "{message}"
        );
        // Not our lease: nothing written.
        assert_eq!(
            store
                .record_failure(&Failure {
                    lease_owner: "other",
                    ..failure
                })
                .unwrap(),
            None
        );
        assert_eq!(store.app(user).unwrap().unwrap().attempts, 2);
    });
}

/// A due mark that lands while a worker holds the row survives the worker's write.
#[test]
fn a_due_mark_during_work_is_not_cleared() {
    both(|mut store| {
        let user = new_user();
        let t = now();
        store.mark_due(user, t, true).unwrap();
        let mut row = store
            .claim_lease(user, "w", t, Duration::from_secs(30))
            .unwrap()
            .unwrap();
        let marked_at = t + chrono::Duration::seconds(1);
        store.mark_due(user, marked_at, false).unwrap().unwrap();
        row.status = AppStatus::Active;
        row.next_attempt_at = None; // the worker believes it converged
        assert!(store
            .upsert_app(&row, Some("w"), t + chrono::Duration::seconds(2))
            .unwrap());
        let stored = store.app(user).unwrap().unwrap();
        assert_eq!(stored.status, AppStatus::Active);
        assert_eq!(
            stored.next_attempt_at,
            Some(marked_at),
            "{:?}",
            store.dialect()
        );

        // With no newer mark, the worker's value is written.
        let mut row = store.app(user).unwrap().unwrap();
        row.next_attempt_at = None;
        assert!(store.upsert_app(&row, Some("w"), t).unwrap());
        assert_eq!(store.app(user).unwrap().unwrap().next_attempt_at, None);
    });
}

#[test]
fn events_append_and_read_newest_first() {
    both(|mut store| {
        let user = new_user();
        let t = now();
        store.mark_due(user, t, true).unwrap();
        let app = store.app(user).unwrap().unwrap();
        let mut first = NewEvent::for_app(&app, EventType::ProvisionStarted);
        first.metadata = serde_json::json!({"region": "sin"});
        let id1 = store.append_event(&first, t).unwrap();
        let mut failed = NewEvent::for_app(&app, EventType::ProvisionFailed);
        failed.error_details = Some("db at postgres://fleet_scr_x:pw-123@db/x refused".into());
        let id2 = store.append_event(&failed, t).unwrap();
        assert!(id2 > id1);
        let orphan = NewEvent {
            user_id: None,
            fly_app_id: None,
            fly_app_name: Some("fleet-orphan".into()),
            event_type: EventType::OrphanDetected,
            status: None,
            metadata: serde_json::json!({}),
            error_details: None,
        };
        store.append_event(&orphan, t).unwrap();

        let state = store.read_user(user, 10).unwrap();
        assert_eq!(state.app.unwrap().user_id, user);
        assert!(!state.entitlement.entitled, "no subscription row");
        let types: Vec<EventType> = state.events.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            vec![EventType::ProvisionFailed, EventType::ProvisionStarted]
        );
        assert_eq!(
            state.events[1].metadata,
            serde_json::json!({"region": "sin"})
        );
        assert_eq!(state.events[1].created_at, t);
        let details = state.events[0].error_details.clone().unwrap();
        assert!(!details.contains("pw-123"), "{details}");
        assert_eq!(store.events(user, 1).unwrap().len(), 1);
    });
}

#[test]
fn events_are_append_only_and_rows_never_deleted() {
    both(|mut store| {
        let user = new_user();
        store.mark_due(user, now(), true).unwrap();
        let app = store.app(user).unwrap().unwrap();
        store
            .append_event(
                &NewEvent::for_app(&app, EventType::ProvisionRequested),
                now(),
            )
            .unwrap();
        let dialect = store.dialect();
        let conn = store.connection();
        let update = conn.execute("UPDATE user_fly_app_events SET error_details = 'x'", &[]);
        assert!(
            update.unwrap_err().message.contains("append-only"),
            "{dialect:?}"
        );
        let delete = conn.execute("DELETE FROM user_fly_apps", &[]);
        assert!(
            delete.unwrap_err().message.contains("never deleted"),
            "{dialect:?}"
        );
    });
}

#[test]
fn fleet_state_round_trips() {
    both(|mut store| {
        assert_eq!(store.state("rollout").unwrap(), None);
        let v = serde_json::json!({"image": "x:v2", "halted": false});
        store.put_state("rollout", &v, now()).unwrap();
        store.put_state("rollout", &v, now()).unwrap();
        assert_eq!(store.state("rollout").unwrap(), Some(v));
    });
}

#[test]
fn a_fleet_lease_has_one_holder_until_released_or_expired() {
    both(|mut store| {
        let ttl = std::time::Duration::from_secs(60);
        let t0 = now();
        assert!(store.claim_fleet_lease("orphans", "a", t0, ttl).unwrap());
        assert!(
            !store.claim_fleet_lease("orphans", "b", t0, ttl).unwrap(),
            "held by a"
        );
        assert!(
            store.claim_fleet_lease("orphans", "a", t0, ttl).unwrap(),
            "a renews"
        );
        assert!(
            store.claim_fleet_lease("rollout", "b", t0, ttl).unwrap(),
            "another name is free"
        );
        assert!(
            !store.release_fleet_lease("orphans", "b").unwrap(),
            "b cannot release a's lease"
        );
        assert!(store.release_fleet_lease("orphans", "a").unwrap());
        assert!(
            store.claim_fleet_lease("orphans", "b", t0, ttl).unwrap(),
            "free after release"
        );
        let later = t0 + chrono::TimeDelta::seconds(61);
        assert!(
            store.claim_fleet_lease("orphans", "c", later, ttl).unwrap(),
            "expired leases are taken over"
        );
        assert!(!store.claim_fleet_lease("orphans", "b", later, ttl).unwrap());
    });
}
