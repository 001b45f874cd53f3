//! Row level security checked the way Supabase applies it: SET LOCAL ROLE authenticated and
//! set_config('request.jwt.claims', '{"sub": ...}', true) in a transaction.

mod common;

use common::{exec, insert_subscription, new_user, pg_store};
use fleet_store::{EventType, NewEvent, UserId};
use postgres::{Client, NoTls};

/// Runs `sql` as `role` with the given JWT subject; returns the first column of each row, or the error.
fn as_user(
    client: &mut Client,
    role: &str,
    sub: Option<UserId>,
    sql: &str,
) -> Result<Vec<String>, String> {
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(&format!("SET LOCAL ROLE {role}")).unwrap();
    if let Some(sub) = sub {
        let claims = serde_json::json!({"sub": sub.to_string(), "role": role}).to_string();
        tx.query(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )
        .unwrap();
    }
    let result = tx
        .query(sql, &[])
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
        .map_err(|e| fleet_test_support::postgres::describe(&e));
    tx.rollback().unwrap();
    result
}

#[test]
fn users_read_their_own_rows_admins_read_all_only_the_control_plane_writes() {
    let (mut store, url) = pg_store();
    let (owner, other, admin) = (new_user(), new_user(), new_user());
    for user in [owner, other] {
        insert_subscription(&mut store, user, "pro", "active", None);
        let app = store.app(user).unwrap().unwrap();
        store
            .append_event(
                &NewEvent::for_app(&app, EventType::ProvisionRequested),
                common::now(),
            )
            .unwrap();
    }
    exec(
        &mut store,
        "INSERT INTO user_profiles (id, is_admin) VALUES ({uuid:1}, true), ({uuid:2}, false)",
        &[admin.to_string().into(), owner.to_string().into()],
    );
    let mut client = Client::connect(&url, NoTls).unwrap();
    let apps = "SELECT user_id::text FROM user_fly_apps ORDER BY 1";
    let events = "SELECT user_id::text FROM user_fly_app_events ORDER BY 1";
    let mut both = vec![owner.to_string(), other.to_string()];
    both.sort();

    assert_eq!(
        as_user(&mut client, "authenticated", Some(owner), apps).unwrap(),
        vec![owner.to_string()]
    );
    assert_eq!(
        as_user(&mut client, "authenticated", Some(owner), events).unwrap(),
        vec![owner.to_string()]
    );
    assert_eq!(
        as_user(&mut client, "authenticated", Some(other), apps).unwrap(),
        vec![other.to_string()]
    );
    assert_eq!(
        as_user(&mut client, "authenticated", Some(admin), apps).unwrap(),
        both
    );
    assert_eq!(
        as_user(&mut client, "authenticated", Some(admin), events).unwrap(),
        both
    );
    assert_eq!(
        as_user(&mut client, "authenticated", None, apps).unwrap(),
        Vec::<String>::new()
    );

    // The seed's status function follows the same rules.
    let status_of_owner = format!("SELECT status FROM get_user_fly_app_status('{owner}')");
    assert_eq!(
        as_user(&mut client, "authenticated", Some(owner), &status_of_owner).unwrap(),
        vec!["provisioning"]
    );
    assert!(
        as_user(&mut client, "authenticated", Some(other), &status_of_owner)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        as_user(&mut client, "authenticated", Some(admin), &status_of_owner)
            .unwrap()
            .len(),
        1
    );

    // anon reads nothing; users write nothing, not even their own row.
    assert!(as_user(&mut client, "anon", None, apps)
        .unwrap_err()
        .contains("permission denied"));
    let own_update =
        format!("UPDATE user_fly_apps SET attempts = 9 WHERE user_id = '{owner}' RETURNING 'x'");
    assert!(
        as_user(&mut client, "authenticated", Some(owner), &own_update)
            .unwrap_err()
            .contains("permission denied")
    );
    let forge = format!("INSERT INTO user_fly_app_events (user_id, event_type) VALUES ('{owner}', 'provision_completed') RETURNING 'x'");
    assert!(as_user(&mut client, "authenticated", Some(owner), &forge)
        .unwrap_err()
        .contains("permission denied"));
    assert!(as_user(
        &mut client,
        "authenticated",
        Some(owner),
        "SELECT key FROM fleet.settings"
    )
    .unwrap_err()
    .contains("permission denied"));

    // The control-plane role writes (and is subject to no user filter).
    let update = "UPDATE user_fly_apps SET attempts = 1 RETURNING user_id::text";
    assert_eq!(
        as_user(&mut client, "fleet_control_plane", None, update)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        as_user(&mut client, "fleet_control_plane", None, &forge).unwrap(),
        vec!["x".to_string()]
    );
    let entitlements = "SELECT user_id::text FROM fleet_entitlements WHERE entitled ORDER BY 1";
    assert_eq!(
        as_user(&mut client, "fleet_control_plane", None, entitlements).unwrap(),
        both
    );
}
