//! Issue 20's operator controls through the real admin service (SQLite, the Fly simulator): "Provision now"
//! for a user without a row (by id or email), a forced deprovision that holds until lifted, search and list by
//! email, the seed's figures, and the operator recorded on every action event.

mod common;

use common::{body, user, Rig};
use fleet_store::{AppStatus, SqlConnection, SqlValue, UserId};
use fly_simulator::SimConfig;
use serde_json::Value;

fn set_email(rig: &Rig, u: UserId, email: &str) {
    rig.store()
        .connection()
        .execute(
            "INSERT INTO user_profiles (id, email) VALUES (?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET email = excluded.email",
            &[SqlValue::from(u.to_string()), email.into()],
        )
        .unwrap();
}

fn events(rig: &Rig, u: UserId) -> Vec<Value> {
    body(&rig.admin("GET", &format!("/admin/api/apps/{u}"), ""))["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Reconciles (as the sweep would) until the user's row has `status`.
fn settle(rig: &Rig, u: UserId, status: AppStatus) {
    for _ in 0..40 {
        if rig.store().app(u).unwrap().map(|r| r.status) == Some(status) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        rig.admin("POST", &format!("/admin/api/apps/{u}/reconcile"), "{}");
    }
    panic!(
        "{u} never reached {status}: {:?}",
        rig.store().app(u).unwrap()
    );
}

fn ok(r: &fleet_admin::AdminResponse) -> Value {
    assert!(
        r.status == 200 || r.status == 202,
        "{}: {}",
        r.status,
        body(r)
    );
    body(r)
}

#[test]
fn provision_now_creates_a_row_for_a_new_user() {
    let (alice, bob, carol) = (user(1), user(2), user(3));
    let rig = Rig::build(
        false,
        SimConfig::default(),
        &[(alice, "pro"), (bob, "elite")],
    );
    assert!(rig.store().app(alice).unwrap().is_none());
    set_email(&rig, bob, "Bob@Example.com");

    // Refused input changes nothing and calls no Fly API.
    let before = rig.snapshot();
    let calls = rig.fly_calls();
    for (payload, status, code) in [
        ("{}", 400, "invalid_body"),
        (r#"{"user_id":"nope"}"#, 400, "invalid_user_id"),
        (r#"{"email":""}"#, 400, "invalid_email"),
        (r#"{"email":"nobody@example.com"}"#, 404, "not_found"),
        (&format!(r#"{{"user_id":"{carol}"}}"#), 409, "not_entitled"),
        (
            &format!(r#"{{"user_id":"{alice}","email":"x"}}"#),
            400,
            "invalid_body",
        ),
        ("[1]", 400, "invalid_body"),
    ] {
        let r = rig.admin("POST", "/admin/api/users/provision", payload);
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (status, Some(code)),
            "{payload}"
        );
        assert!(body(&r)["detail"].is_string());
    }
    assert_eq!(rig.snapshot(), before);
    assert_eq!(rig.fly_calls(), calls);

    let r = ok(&rig.admin(
        "POST",
        "/admin/api/users/provision",
        &format!(r#"{{"user_id":"{alice}"}}"#),
    ));
    assert_eq!(r["created"], true);
    settle(&rig, alice, AppStatus::Active);
    let requested = events(&rig, alice)
        .into_iter()
        .find(|e| e["metadata"]["admin_action"] == "provision_now")
        .expect("a provision_now event");
    assert_eq!(requested["event_type"], "provision_requested");
    assert_eq!(requested["metadata"]["operator"], "admin-token");
    // The pass's own events carry the tier (the subscription's) and the reason and operator.
    let completed = events(&rig, alice)
        .into_iter()
        .find(|e| e["event_type"] == "provision_completed")
        .expect("provision_completed");
    assert_eq!(completed["metadata"]["tier"], "pro");
    assert_eq!(completed["metadata"]["reason"], "admin");
    assert_eq!(completed["metadata"]["operator"], "admin-token");

    // Again: idempotent, no second row or request event.
    let r = ok(&rig.admin(
        "POST",
        "/admin/api/users/provision",
        &format!(r#"{{"user_id":"{alice}"}}"#),
    ));
    assert_eq!(r["created"], false);

    // By email, case-insensitively.
    let r = ok(&rig.admin(
        "POST",
        "/admin/api/users/provision",
        r#"{"email":"bob@example.COM"}"#,
    ));
    assert_eq!(r["user_id"], bob.to_string());
    settle(&rig, bob, AppStatus::Active);
}

#[test]
fn forced_deprovision_holds_until_lifted_and_shows_as_an_override() {
    let alice = user(1);
    let rig = Rig::build(false, SimConfig::default(), &[(alice, "pro")]);
    set_email(&rig, alice, "alice@example.com");
    ok(&rig.admin(
        "POST",
        "/admin/api/users/provision",
        &format!(r#"{{"user_id":"{alice}"}}"#),
    ));
    settle(&rig, alice, AppStatus::Active);

    let hold = format!("/admin/api/users/{alice}/hold");
    let before = rig.snapshot();
    for (payload, code) in [
        ("{}".to_string(), "reason_required"),
        (r#"{"reason":"   "}"#.to_string(), "reason_required"),
        (r#"{"reason":"abuse"}"#.to_string(), "confirmation_required"),
        (
            r#"{"reason":"abuse","confirm":"someone-else"}"#.to_string(),
            "confirmation_mismatch",
        ),
        (
            r#"{"reason":"abuse","confirm":1}"#.to_string(),
            "invalid_body",
        ),
    ] {
        let r = rig.admin("POST", &hold, &payload);
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (400, Some(code)),
            "{payload}"
        );
    }
    assert_eq!(rig.snapshot(), before);

    let payload = format!(r#"{{"reason":"abuse: 400 traders","confirm":"{alice}"}}"#);
    let r = ok(&rig.admin("POST", &hold, &payload));
    assert_eq!(r["hold"]["operator"], "admin-token");
    assert_eq!(r["hold"]["reason"], "abuse: 400 traders");
    settle(&rig, alice, AppStatus::Deleted);
    // A migration of users without an app leaves a held user alone.
    let dry = body(&rig.admin("POST", "/admin/api/migrations", r#"{"dry_run":true}"#));
    assert_eq!(dry["count"], 0, "{dry}");
    // Idempotent: the same hold again changes nothing.
    assert_eq!(ok(&rig.admin("POST", &hold, &payload))["created"], false);

    // Visible as an override: the user view, the holds list, the search.
    let view = body(&rig.admin("GET", &format!("/admin/api/apps/{alice}"), ""));
    assert_eq!(view["entitlement"]["entitled"], true);
    assert_eq!(view["entitlement"]["held"], true);
    assert_eq!(view["hold"]["reason"], "abuse: 400 traders");
    let holds = body(&rig.admin("GET", "/admin/api/holds", ""));
    assert_eq!(holds["holds"][0]["user_id"], alice.to_string());
    assert_eq!(holds["holds"][0]["email"], "alice@example.com");
    let forced = events(&rig, alice)
        .into_iter()
        .find(|e| e["metadata"]["admin_action"] == "force_deprovision")
        .unwrap();
    assert_eq!(forced["metadata"]["operator"], "admin-token");

    // Nothing brings it back while held: reconcile, reprovision, provision now.
    rig.admin("POST", &format!("/admin/api/apps/{alice}/reconcile"), "{}");
    let r = rig.admin(
        "POST",
        &format!("/admin/api/apps/{alice}/reprovision"),
        "{}",
    );
    assert_eq!(
        (r.status, body(&r)["error"].as_str()),
        (409, Some("not_entitled"))
    );
    let r = rig.admin(
        "POST",
        "/admin/api/users/provision",
        &format!(r#"{{"user_id":"{alice}"}}"#),
    );
    assert_eq!((r.status, body(&r)["error"].as_str()), (409, Some("held")));
    assert_eq!(
        rig.store().app(alice).unwrap().unwrap().status,
        AppStatus::Deleted
    );

    // Lifting it provisions the entitled user again.
    let r = ok(&rig.admin("POST", &format!("/admin/api/users/{alice}/release"), ""));
    assert_eq!(r["lifted"], true);
    settle(&rig, alice, AppStatus::Active);
    assert!(body(&rig.admin("GET", "/admin/api/holds", ""))["holds"]
        .as_array()
        .unwrap()
        .is_empty());
    let r = ok(&rig.admin("POST", &format!("/admin/api/users/{alice}/release"), ""));
    assert_eq!(r["lifted"], false);
}

#[test]
fn search_by_email_finds_the_user() {
    let (alice, bob, carol) = (user(1), user(2), user(3));
    let rig = Rig::build(false, SimConfig::default(), &[(alice, "pro"), (bob, "pro")]);
    set_email(&rig, alice, "Alice@Example.com");
    set_email(&rig, bob, "bob@example.org");
    set_email(&rig, carol, "100%_carol@example.org");
    ok(&rig.admin(
        "POST",
        "/admin/api/users/provision",
        &format!(r#"{{"user_id":"{bob}"}}"#),
    ));
    ok(&rig.admin(
        "POST",
        "/admin/api/users/provision",
        &format!(r#"{{"user_id":"{alice}"}}"#),
    ));

    let found = body(&rig.admin("GET", "/admin/api/users?q=alice%40EXAMPLE", ""));
    assert_eq!(found["email_source"], "user_profiles");
    let users = found["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{found}");
    assert_eq!(users[0]["user_id"], alice.to_string());
    assert_eq!(users[0]["email"], "Alice@Example.com");
    assert_eq!(users[0]["entitled"], true);
    assert_eq!(users[0]["held"], false);
    // `%` and `_` are plain characters, not wildcards.
    let found = body(&rig.admin("GET", "/admin/api/users?q=%25_", ""));
    assert_eq!(found["users"].as_array().unwrap().len(), 1, "{found}");
    // By id too.
    let found = body(&rig.admin("GET", &format!("/admin/api/users?q={bob}"), ""));
    assert_eq!(found["users"][0]["email"], "bob@example.org");
    // The listing is ordered by email.
    let listed = body(&rig.admin("GET", "/admin/api/users", ""));
    let emails: Vec<&str> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["Alice@Example.com", "bob@example.org"]);
    for bad in [
        "/admin/api/users?x=1",
        &format!("/admin/api/users?q={}", "a".repeat(300)),
    ] {
        let r = rig.admin("GET", bad, "");
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (400, Some("invalid_query"))
        );
    }
}

#[test]
fn report_shows_the_seeds_success_rate_failures_and_cost_per_user() {
    let alice = user(1);
    let rig = Rig::build(false, SimConfig::default(), &[(alice, "pro")]);
    set_email(&rig, alice, "alice@example.com");
    ok(&rig.admin(
        "POST",
        "/admin/api/users/provision",
        &format!(r#"{{"user_id":"{alice}"}}"#),
    ));
    settle(&rig, alice, AppStatus::Active);
    let report = body(&rig.admin("GET", "/admin/api/report", ""));
    assert_eq!(report["provision"]["success"], 1, "{report}");
    assert_eq!(report["provision"]["success_rate_pct"], 100.0);
    assert_eq!(report["active_apps"], 1);
    assert_eq!(report["cost_per_user"][0]["email"], "alice@example.com");
    assert!(report["failures"].as_array().unwrap().is_empty());
}
