//! The webhook replay guard on both dialects: a `(t, mac)` pair is new once, a replay is not, and pairs older
//! than the window are forgotten.

mod common;

use common::{pg_store, reopen, sqlite_store, AnyStore};
use fleet_store::Dialect;

const MAC: &str = "5f0c2a9b4e6a8c0d2f4b6e8a0c2e4f6a8b0d2e4c6a8e0b2d4f6a8c0e2b4d6f7a";
const T: i64 = 1_800_000_000;

fn replayed_signature_is_seen_again(store: &mut AnyStore, again: &mut AnyStore) {
    assert!(store.first_use_of_signature(T, MAC, T - 600).unwrap());
    assert!(!store.first_use_of_signature(T, MAC, T - 600).unwrap());
    // Another instance (another connection) sees it too.
    assert!(!again.first_use_of_signature(T, MAC, T - 600).unwrap());
    // Another t or another mac is another request.
    assert!(store.first_use_of_signature(T + 1, MAC, T - 600).unwrap());
    assert!(store
        .first_use_of_signature(T, &MAC.replace('5', "6"), T - 600)
        .unwrap());
    // Once the window has passed the pair is forgotten (it would be refused as stale by then anyway).
    assert!(store.first_use_of_signature(T + 2, MAC, T + 1).unwrap());
    assert!(store.first_use_of_signature(T, MAC, T + 1).unwrap());
}

#[test]
fn replayed_signature_is_refused_on_postgres() {
    let (mut store, url) = pg_store();
    let mut again = reopen(Dialect::Postgres, &url);
    replayed_signature_is_seen_again(&mut store, &mut again);
}

#[test]
fn replayed_signature_is_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, path) = sqlite_store(&dir);
    let mut again = reopen(Dialect::Sqlite, &path);
    replayed_signature_is_seen_again(&mut store, &mut again);
}
