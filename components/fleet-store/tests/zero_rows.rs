//! The #3671 workaround (`zero_rows::NeverZeroRows`, what the Spin components read Postgres through): every
//! statement's own rows come back unchanged — none, some in order, `RETURNING` run exactly once — while on the
//! wire a read never yields zero rows; errors keep their kind.

mod common;

use common::*;
use fleet_store::native::NativePostgres;
use fleet_store::zero_rows::{with_sentinel_row, NeverZeroRows};
use fleet_store::{SqlConnection, SqlErrorKind, SqlValue, Store};

fn connections() -> (NativePostgres, NeverZeroRows<NativePostgres>) {
    let (_, url) = pg_store();
    let plain = NativePostgres::connect(&url).expect("connect");
    let wrapped = NeverZeroRows(NativePostgres::connect(&url).expect("connect"));
    (plain, wrapped)
}

fn texts(rows: &[fleet_store::Row], column: &str) -> Vec<String> {
    rows.iter().map(|r| r.text(column).unwrap()).collect()
}

#[test]
fn reads_return_the_statements_own_rows_and_never_zero_on_the_wire() {
    let (mut plain, mut wrapped) = connections();
    plain
        .execute(
            "CREATE TABLE zr (id bigint PRIMARY KEY, name text NOT NULL, n bigint NOT NULL DEFAULT 0)",
            &[],
        )
        .unwrap();
    // On the wire, a statement that matches nothing still yields one (sentinel) row.
    let none = "SELECT id, name FROM zr WHERE id = $1";
    let on_the_wire = plain
        .query(&with_sentinel_row(none), &[SqlValue::Int(1)])
        .unwrap();
    assert_eq!(on_the_wire.len(), 1);
    assert_eq!(
        on_the_wire[0].values(),
        [SqlValue::Null, SqlValue::Null, SqlValue::Null]
    );
    assert!(wrapped.query(none, &[SqlValue::Int(1)]).unwrap().is_empty());

    // Rows in the statement's order, with its columns only.
    for i in 0..50 {
        plain
            .execute(
                "INSERT INTO zr (id, name) VALUES ($1, $2)",
                &[
                    SqlValue::Int(i),
                    SqlValue::Text(format!("name-{:02}", (i * 37) % 50)),
                ],
            )
            .unwrap();
    }
    let ordered = "SELECT id, name FROM zr ORDER BY name DESC LIMIT $1";
    let want = plain.query(ordered, &[SqlValue::Int(40)]).unwrap();
    let got = wrapped.query(ordered, &[SqlValue::Int(40)]).unwrap();
    assert_eq!(texts(&got, "name"), texts(&want, "name"));
    assert!(
        got[0].get("fleet_row").is_err(),
        "the marker column is dropped"
    );

    // UPDATE ... RETURNING runs once, whether it touches rows or none.
    let bump = "UPDATE zr SET n = n + 1 WHERE id < $1 RETURNING id";
    assert_eq!(wrapped.query(bump, &[SqlValue::Int(3)]).unwrap().len(), 3);
    assert!(wrapped.query(bump, &[SqlValue::Int(0)]).unwrap().is_empty());
    let n = plain
        .query("SELECT sum(n)::bigint AS n FROM zr", &[])
        .unwrap();
    assert_eq!(n[0].int("n").unwrap(), 3);

    // INSERT ... ON CONFLICT DO NOTHING RETURNING: a conflict yields no row; errors keep their kind.
    let insert = "INSERT INTO zr (id, name) VALUES ($1, 'x') ON CONFLICT DO NOTHING RETURNING id";
    assert!(wrapped
        .query(insert, &[SqlValue::Int(1)])
        .unwrap()
        .is_empty());
    assert_eq!(
        wrapped.query(insert, &[SqlValue::Int(99)]).unwrap().len(),
        1
    );
    let err = wrapped
        .query(
            "INSERT INTO zr (id, name) VALUES ($1, 'y') RETURNING id",
            &[SqlValue::Int(1)],
        )
        .unwrap_err();
    assert_eq!(err.kind, SqlErrorKind::UniqueViolation, "{err:?}");
}

#[test]
fn the_store_reads_the_same_through_the_workaround() {
    let (_, url) = pg_store();
    let mut plain = reopen(fleet_store::Dialect::Postgres, &url);
    let conn: Box<dyn SqlConnection> = Box::new(NeverZeroRows(
        NativePostgres::connect(&url).expect("connect"),
    ));
    let mut wrapped: AnyStore = Store::new(conn);
    // A user the database knows nothing of: every read matches zero rows.
    let stranger = new_user();
    assert_eq!(
        wrapped.entitlement(stranger).unwrap(),
        plain.entitlement(stranger).unwrap()
    );
    assert_eq!(wrapped.app(stranger).unwrap(), None);
    // A Pro user: the same rows either way.
    let user = new_user();
    ensure_user(&mut plain, user);
    insert_subscription(&mut plain, user, "pro", "active", None);
    assert_eq!(
        wrapped.entitlement(user).unwrap(),
        plain.entitlement(user).unwrap()
    );
    assert!(wrapped.entitlement(user).unwrap().entitled);
    assert_eq!(
        wrapped.app(user).unwrap().map(|a| a.user_id),
        plain.app(user).unwrap().map(|a| a.user_id)
    );
}
