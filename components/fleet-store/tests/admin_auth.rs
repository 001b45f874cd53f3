//! Admin auth state on both dialects: failed attempts throttle a source and the whole service across
//! connections (instances); sessions are live until logout, "sign out everywhere" or expiry.

mod common;

use common::{pg_store, reopen, sqlite_store, AnyStore};
use fleet_store::{Dialect, ThrottleLimits};

const NOW: i64 = 1_800_000_100;
const LIMITS: ThrottleLimits = ThrottleLimits {
    per_source: 3,
    global: 5,
    window_secs: 300,
};

fn wrong_passwords_from_two_instances_are_throttled(a: &mut AnyStore, b: &mut AnyStore) {
    assert_eq!(a.auth_throttled("10.0.0.1", NOW, LIMITS).unwrap(), None);
    a.record_auth_failure("10.0.0.1", NOW, LIMITS).unwrap();
    b.record_auth_failure("10.0.0.1", NOW, LIMITS).unwrap();
    a.record_auth_failure("10.0.0.1", NOW, LIMITS).unwrap();
    // The source is over its limit on both instances, until its window ends.
    let wait = a.auth_throttled("10.0.0.1", NOW, LIMITS).unwrap();
    assert_eq!(wait, Some(LIMITS.retry_after(NOW)));
    assert!(wait.unwrap() > 0 && wait.unwrap() <= LIMITS.window_secs);
    assert!(b.auth_throttled("10.0.0.1", NOW, LIMITS).unwrap().is_some());
    // Another source still may try, until the global count is used up too.
    assert_eq!(b.auth_throttled("10.0.0.2", NOW, LIMITS).unwrap(), None);
    b.record_auth_failure("10.0.0.2", NOW, LIMITS).unwrap();
    b.record_auth_failure("10.0.0.3", NOW, LIMITS).unwrap();
    assert!(a.auth_throttled("10.0.0.4", NOW, LIMITS).unwrap().is_some());
    // The next window starts clean; recording in it prunes the old one.
    let later = NOW + LIMITS.window_secs;
    assert_eq!(a.auth_throttled("10.0.0.1", later, LIMITS).unwrap(), None);
    a.record_auth_failure("10.0.0.9", later, LIMITS).unwrap();
    assert_eq!(a.auth_throttled("10.0.0.1", NOW, LIMITS).unwrap(), None);
}

fn stolen_session_is_refused_after_logout_or_sign_out_everywhere(
    a: &mut AnyStore,
    b: &mut AnyStore,
) {
    let expires = NOW + 3600;
    a.create_admin_session("session-one", NOW, expires).unwrap();
    a.create_admin_session("session-two", NOW, expires).unwrap();
    a.create_admin_session("session-three", NOW, expires)
        .unwrap();
    assert!(b.admin_session_active("session-one", NOW).unwrap());
    assert!(!b.admin_session_active("never-issued", NOW).unwrap());
    assert!(
        !b.admin_session_active("session-one", expires).unwrap(),
        "expired"
    );
    // Logout on one instance revokes the cookie on the other.
    assert!(a.revoke_admin_session("session-one", NOW).unwrap());
    assert!(!a.revoke_admin_session("session-one", NOW).unwrap());
    assert!(!b.admin_session_active("session-one", NOW).unwrap());
    assert!(b.admin_session_active("session-two", NOW).unwrap());
    // Sign out everywhere.
    assert_eq!(b.revoke_all_admin_sessions(NOW).unwrap(), 2);
    assert!(!a.admin_session_active("session-two", NOW).unwrap());
    assert!(!a.admin_session_active("session-three", NOW).unwrap());
    assert_eq!(b.revoke_all_admin_sessions(NOW).unwrap(), 0);
}

#[test]
fn admin_auth_state_holds_across_instances_on_postgres() {
    let (mut a, url) = pg_store();
    let mut b = reopen(Dialect::Postgres, &url);
    wrong_passwords_from_two_instances_are_throttled(&mut a, &mut b);
    stolen_session_is_refused_after_logout_or_sign_out_everywhere(&mut a, &mut b);
}

#[test]
fn admin_auth_state_holds_across_instances_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, path) = sqlite_store(&dir);
    let mut b = reopen(Dialect::Sqlite, &path);
    wrong_passwords_from_two_instances_are_throttled(&mut a, &mut b);
    stolen_session_is_refused_after_logout_or_sign_out_everywhere(&mut a, &mut b);
}
