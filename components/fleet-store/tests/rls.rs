//! Row level security checked the way Supabase applies it: SET LOCAL ROLE authenticated and
//! set_config('request.jwt.claims', '{"sub": ...}', true) in a transaction.

mod common;

use common::{ensure_user, exec, insert_subscription, new_user, pg_store};
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

/// `GRANT fleet_control_plane TO postgres` (README); tolerant of sibling tests granting it at the same time.
fn grant_control_plane(client: &mut Client) {
    for _ in 0..5 {
        match client.batch_execute("GRANT fleet_control_plane TO postgres") {
            Ok(()) => return,
            Err(e)
                if e.code() == Some(&postgres::error::SqlState::T_R_SERIALIZATION_FAILURE)
                    || e.to_string().contains("concurrently") =>
            {
                continue
            }
            Err(e) => panic!("{}", fleet_test_support::postgres::describe(&e)),
        }
    }
    panic!("GRANT fleet_control_plane kept colliding with concurrent grants");
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
    // Profiles are the platform's: created at sign-up; an admin is flagged by the platform's admin tools.
    ensure_user(&mut store, admin);
    exec(
        &mut store,
        "UPDATE user_profiles SET is_admin = (id = {uuid:1}) WHERE id IN ({uuid:1}, {uuid:2})",
        &[admin.to_string().into(), owner.to_string().into()],
    );
    let mut client = Client::connect(&url, NoTls).unwrap();
    // The operator's documented step: the login Fleet uses is granted the control-plane role.
    grant_control_plane(&mut client);
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

    // The platform's status function (its signature kept) follows the same rules.
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
        format!("UPDATE user_fly_apps SET retry_count = 9 WHERE user_id = '{owner}' RETURNING 'x'");
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
    let update = "UPDATE user_fly_apps SET retry_count = 1 RETURNING user_id::text";
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
