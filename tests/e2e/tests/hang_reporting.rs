//! The host stands in for Spin, which has no request deadline: a request that never finishes is only ever seen
//! by the test waiting for it, and the rig must report it as what it is, a hang naming the route, not as some
//! other failure. Here a Postgres-backed `POST /provision` hangs on a table lock (as every Postgres request
//! hangs on Spin v4.0.0–v4.0.2, spinframework/spin#3671).

use fleet_e2e::{user, Fleet};
use fly_simulator::SimConfig;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

#[test]
fn a_hung_request_is_reported_as_a_hang_naming_the_route() {
    let mut fleet = Fleet::postgres(SimConfig::default());
    let subscriber = user(1);
    fleet.subscribe(subscriber, "pro", "active");
    let hint = Fleet::webhook("UPDATE", subscriber, "pro", "active");

    // The component's entitlement read waits for this lock for as long as it is held.
    let mut locker = fleet.pg();
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE user_subscriptions IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    fleet.set_request_timeout(Duration::from_secs(3));
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| fleet.post("/provision", &hint)));
    let waited = started.elapsed();
    lock.rollback().unwrap();

    let panic = outcome.expect_err("POST /provision must not answer while the table is locked");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains("POST /provision")
            && message.contains("the request hung (no answer in 3 s)"),
        "{message}"
    );
    assert!(waited >= Duration::from_secs(3), "{waited:?}");

    // Once the lock is gone the same request is answered.
    fleet.set_request_timeout(Duration::from_secs(60));
    let (status, answer) = fleet.post("/provision", &hint);
    assert!(status == 200 || status == 202, "{status}: {answer}");
}
