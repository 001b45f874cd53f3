//! Bad values are rejected by constraints with a clear error, never silently stored.

mod common;

use common::{ensure_user, new_user, pg_store, sqlite_store};
use fleet_store::query::render;
use fleet_store::{SqlErrorKind, SqlValue};

#[test]
fn bad_values_are_rejected_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (mut store, _) in [pg_store(), sqlite_store(&dir)] {
        let dialect = store.dialect();
        let insert = render(
            dialect,
            "INSERT INTO user_subscriptions (user_id, tier, status, expires_at) VALUES ({uuid:1}, {text:2}, {text:3}, {ts:4})",
        );
        let user = new_user();
        let good_user = user.to_string();
        // A known user (Postgres: signed up, so the foreign key to auth.users holds) without a subscription row.
        ensure_user(&mut store, user);
        store
            .connection()
            .execute(
                &render(
                    dialect,
                    "DELETE FROM user_subscriptions WHERE user_id = {uuid:1}",
                ),
                &[good_user.clone().into()],
            )
            .unwrap();
        let cases: Vec<(&str, Vec<SqlValue>, SqlErrorKind, &str)> = vec![
            (
                "unknown tier",
                vec![
                    good_user.clone().into(),
                    "gold".into(),
                    "active".into(),
                    SqlValue::Null,
                ],
                SqlErrorKind::CheckViolation,
                "user_subscriptions_tier_check",
            ),
            (
                "unknown status",
                vec![
                    good_user.clone().into(),
                    "pro".into(),
                    "paused".into(),
                    SqlValue::Null,
                ],
                SqlErrorKind::CheckViolation,
                "user_subscriptions_status_check",
            ),
            (
                "malformed uuid",
                vec![
                    "not-a-uuid".into(),
                    "pro".into(),
                    "active".into(),
                    SqlValue::Null,
                ],
                if dialect == fleet_store::Dialect::Postgres {
                    SqlErrorKind::InvalidValue
                } else {
                    SqlErrorKind::CheckViolation
                },
                if dialect == fleet_store::Dialect::Postgres {
                    "invalid input syntax for type uuid"
                } else {
                    "user_subscriptions_user_id_uuid"
                },
            ),
            (
                "uppercase uuid in sqlite / fine in pg",
                vec![
                    good_user.to_uppercase().into(),
                    "pro".into(),
                    "active".into(),
                    SqlValue::Null,
                ],
                SqlErrorKind::CheckViolation,
                "user_subscriptions_user_id_uuid",
            ),
            (
                "malformed time",
                vec![
                    good_user.clone().into(),
                    "pro".into(),
                    "active".into(),
                    "next tuesday".into(),
                ],
                if dialect == fleet_store::Dialect::Postgres {
                    SqlErrorKind::InvalidValue
                } else {
                    SqlErrorKind::CheckViolation
                },
                if dialect == fleet_store::Dialect::Postgres {
                    "invalid input syntax for type timestamp"
                } else {
                    "user_subscriptions_expires_at_utc"
                },
            ),
        ];
        for (name, params, kind, needle) in cases {
            let result = store.connection().execute(&insert, &params);
            if dialect == fleet_store::Dialect::Postgres && name.starts_with("uppercase") {
                // Postgres parses any uuid spelling into the uuid type; nothing malformed is stored.
                result.unwrap_or_else(|e| panic!("{name}: {e}"));
                continue;
            }
            let err = result.expect_err(name);
            assert_eq!(err.kind, kind, "{dialect:?} {name}: {err}");
            assert!(
                err.to_string().contains(needle),
                "{dialect:?} {name}: {err}"
            );
        }
        let rows = store
            .connection()
            .query(&render(dialect, "SELECT count(*) AS n FROM user_subscriptions WHERE tier = 'gold' OR status = 'paused'"), &[])
            .unwrap();
        assert_eq!(rows[0].int("n").unwrap(), 0, "nothing bad was stored");

        // user_fly_apps guards its enums too.
        let bad_status = store.connection().execute(
            &render(
                dialect,
                "INSERT INTO user_fly_apps (user_id, status) VALUES ({uuid:1}, 'exploded')",
            ),
            &[new_user().to_string().into()],
        );
        let err = bad_status.unwrap_err();
        assert_eq!(err.kind, SqlErrorKind::CheckViolation);
        assert!(
            err.to_string().contains("user_fly_apps_status_check"),
            "{err}"
        );
    }
}

#[test]
fn app_names_are_unique_across_users() {
    let dir = tempfile::tempdir().unwrap();
    for (mut store, _) in [pg_store(), sqlite_store(&dir)] {
        let mut a = fleet_store::AppRow::new(new_user());
        a.fly_app_name = Some("fleet-taken".into());
        assert!(store.upsert_app(&a, None, common::now()).unwrap());
        let mut b = fleet_store::AppRow::new(new_user());
        b.fly_app_name = Some("fleet-taken".into());
        let err = store.upsert_app(&b, None, common::now()).unwrap_err();
        match err {
            fleet_store::StoreError::Sql(e) => {
                assert_eq!(e.kind, SqlErrorKind::UniqueViolation, "{e}")
            }
            other => panic!("{other}"),
        }
    }
}
