//! Every admin route through the real service against real SQLite and the Fly simulator: auth failures,
//! validation errors (no state change, no Fly call), the deprovision confirmation, the tier override switch,
//! and the actions' effects.

mod common;

use common::{body, user, Rig, TOKEN};
use fleet_admin::auth::{csrf_token, SESSION_COOKIE};

const PROTECTED_READS: &[&str] = &[
    "/admin/api/session",
    "/admin/api/summary",
    "/admin/api/apps",
    "/admin/api/apps/aaaaaaaa-0000-4000-8000-000000000001",
    "/admin/api/orphans",
    "/admin/api/signals",
    "/admin/api/signals?limit=1",
    "/admin/api/migrations",
    "/admin/api/users",
    "/admin/api/users?q=example",
    "/admin/api/holds",
    "/admin/api/report",
];

const PROTECTED_WRITES: &[&str] = &[
    "/admin/api/apps/aaaaaaaa-0000-4000-8000-000000000001/reconcile",
    "/admin/api/apps/aaaaaaaa-0000-4000-8000-000000000001/retry",
    "/admin/api/apps/aaaaaaaa-0000-4000-8000-000000000001/reprovision",
    "/admin/api/apps/aaaaaaaa-0000-4000-8000-000000000001/deprovision",
    "/admin/api/users/aaaaaaaa-0000-4000-8000-000000000001/tier",
    "/admin/api/migrations",
    "/admin/api/migrations/advance",
    "/admin/api/orphans/confirm",
    "/admin/api/sessions/revoke",
    "/admin/api/users/provision",
    "/admin/api/users/aaaaaaaa-0000-4000-8000-000000000001/hold",
    "/admin/api/users/aaaaaaaa-0000-4000-8000-000000000001/release",
];

fn login(rig: &Rig) -> (String, String) {
    let r = rig.send(
        "POST",
        "/admin/login",
        &[("content-type", "application/json")],
        &format!("{{\"token\":\"{TOKEN}\"}}"),
    );
    assert_eq!(r.status, 200);
    let cookie = r.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/admin")
    );
    let value = cookie.split(';').next().unwrap().to_string();
    let csrf = body(&r)["csrf_token"].as_str().unwrap().to_string();
    (value, csrf)
}

#[test]
fn every_protected_route_refuses_missing_and_wrong_tokens_without_side_effects() {
    let rig = Rig::new(true);
    rig.subscribe(user(1), "pro", "active");
    let before = rig.snapshot();
    let calls = rig.fly_calls();
    for path in PROTECTED_READS.iter().chain(PROTECTED_WRITES) {
        let method = if PROTECTED_WRITES.contains(path) {
            "POST"
        } else {
            "GET"
        };
        for headers in [
            vec![],
            vec![("authorization", "Bearer wrong-token")],
            vec![("authorization", "Basic YWRtaW4=")],
            vec![("cookie", "fleet_admin_session=1.2.3")],
        ] {
            let r = rig.send(
                method,
                path,
                &headers,
                "{\"tier\":\"free\",\"confirm\":\"x\"}",
            );
            // Wrong passwords past the throttle's limit are refused with 429 instead (see admin_throttle.rs).
            let guessed = headers.iter().any(|(name, _)| *name == "authorization");
            match r.status {
                401 => assert_eq!(body(&r)["error"], "unauthorized"),
                429 if guessed => assert_eq!(body(&r)["error"], "too_many_attempts"),
                other => panic!("{method} {path} {headers:?}: {other}"),
            }
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert!(!String::from_utf8_lossy(&r.body).contains(TOKEN));
        }
    }
    assert_eq!(rig.snapshot(), before, "refused requests changed state");
    assert_eq!(rig.fly_calls(), calls, "refused requests called Fly");
}

#[test]
fn session_cookie_reads_but_writes_need_the_csrf_token() {
    let rig = Rig::new(true);
    rig.subscribe(user(1), "free", "active");
    let wrong = rig.send(
        "POST",
        "/admin/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        "token=nope",
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    let (cookie, csrf) = login(&rig);
    let session = rig.send("GET", "/admin/api/session", &[("cookie", &cookie)], "");
    assert_eq!(session.status, 200);
    assert_eq!(body(&session)["csrf_token"], csrf.as_str());
    let session_value = cookie.strip_prefix(&format!("{SESSION_COOKIE}=")).unwrap();
    assert_eq!(csrf, csrf_token(TOKEN, session_value));

    let before = rig.snapshot();
    for path in PROTECTED_WRITES {
        let r = rig.send("POST", path, &[("cookie", &cookie)], "{}");
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (403, Some("csrf_required")),
            "{path}"
        );
        let r = rig.send(
            "POST",
            path,
            &[("cookie", &cookie), ("x-csrf-token", "deadbeef")],
            "{}",
        );
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (403, Some("csrf_invalid")),
            "{path}"
        );
    }
    assert_eq!(rig.snapshot(), before);
    // With the CSRF token the same request goes through.
    let path = format!("/admin/api/users/{}/tier", user(1));
    let r = rig.send(
        "POST",
        &path,
        &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        "{\"tier\":\"free\"}",
    );
    assert_eq!(r.status, 200, "{:?}", body(&r));
    let out = rig.send("POST", "/admin/logout", &[], "");
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
}

#[test]
fn bad_input_is_a_4xx_json_error_and_changes_nothing() {
    let rig = Rig::new(true);
    rig.subscribe(user(1), "free", "active");
    let before = rig.snapshot();
    let calls = rig.fly_calls();
    let u = user(1);
    let cases: Vec<(&str, String, &str, u16, &str)> = vec![
        (
            "GET",
            "/admin/api/apps?status=running".into(),
            "",
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/admin/api/apps?per_page=100000".into(),
            "",
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/admin/api/apps?sort=secret".into(),
            "",
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/admin/api/apps/not-a-uuid".into(),
            "",
            404,
            "not_found",
        ),
        (
            "GET",
            format!("/admin/api/apps/{}", user(99)),
            "",
            404,
            "not_found",
        ),
        ("GET", "/admin/../spin.toml".into(), "", 404, "not_found"),
        (
            "GET",
            "/admin/api/apps/..%2F..%2Fetc%2Fpasswd".into(),
            "",
            404,
            "not_found",
        ),
        ("GET", "/admin/api//summary".into(), "", 404, "not_found"),
        (
            "POST",
            "/admin/api/summary".into(),
            "",
            405,
            "method_not_allowed",
        ),
        (
            "POST",
            format!("/admin/api/users/{u}/tier"),
            "{",
            400,
            "invalid_body",
        ),
        (
            "POST",
            format!("/admin/api/users/{u}/tier"),
            "{\"tier\":\"gold\"}",
            400,
            "invalid_tier",
        ),
        (
            "POST",
            format!("/admin/api/users/{u}/tier"),
            "{\"tier\":\"pro\",\"status\":\"paused\"}",
            400,
            "invalid_status",
        ),
        (
            "POST",
            format!("/admin/api/users/{u}/tier"),
            "{\"tier\":\"pro\",\"admin\":true}",
            400,
            "invalid_body",
        ),
        (
            "POST",
            format!("/admin/api/users/{u}/tier"),
            "[]",
            400,
            "invalid_body",
        ),
        (
            "POST",
            format!("/admin/api/apps/{u}/reconcile"),
            "{}",
            404,
            "not_found",
        ),
        (
            "POST",
            "/admin/api/migrations".into(),
            "{\"dry_run\":\"yes\"}",
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/admin/api/migrations/advance".into(),
            "{}",
            404,
            "not_found",
        ),
        (
            "POST",
            "/admin/login".into(),
            "{\"token\":\"\"}",
            400,
            "token_required",
        ),
    ];
    for (method, path, payload, status, error) in cases {
        let r = rig.admin(method, &path, payload);
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (status, Some(error)),
            "{method} {path} {payload}"
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let huge = format!("{{\"tier\":\"pro\",\"pad\":\"{}\"}}", "x".repeat(70_000));
    assert_eq!(
        rig.admin("POST", &format!("/admin/api/users/{u}/tier"), &huge)
            .status,
        413
    );
    assert_eq!(rig.snapshot(), before, "bad input changed state");
    assert_eq!(rig.fly_calls(), calls, "bad input called Fly");
}

#[test]
fn tier_override_is_refused_when_disabled() {
    let rig = Rig::new(false);
    rig.subscribe(user(1), "free", "active");
    let before = rig.snapshot();
    let r = rig.admin(
        "POST",
        &format!("/admin/api/users/{}/tier", user(1)),
        "{\"tier\":\"elite\"}",
    );
    assert_eq!(
        (r.status, body(&r)["error"].as_str()),
        (403, Some("tier_override_disabled"))
    );
    assert_eq!(rig.snapshot(), before);
    assert_eq!(
        body(&rig.admin("GET", "/admin/api/session", ""))["allow_tier_override"],
        false
    );
}

#[test]
fn upgrade_actions_and_confirmed_deprovision_drive_the_app() {
    let rig = Rig::new(true);
    let u = user(7);
    rig.subscribe(u, "free", "active");
    // Upgrade: the subscription trigger marks the user due and the pass provisions.
    let r = rig.admin(
        "POST",
        &format!("/admin/api/users/{u}/tier"),
        "{\"tier\":\"pro\"}",
    );
    assert!(r.status == 200 || r.status == 202, "{:?}", body(&r));
    assert_eq!(body(&r)["entitled"], true);
    let app = wait_for_status(&rig, u, "active");
    let name = app["app"]["app_name"].as_str().unwrap().to_string();
    let timeline = app["events"].as_array().unwrap();
    assert!(timeline
        .iter()
        .any(|e| e["metadata"]["admin_action"] == "set_tier"));
    assert!(timeline
        .iter()
        .any(|e| e["event_type"] == "provision_completed"));

    // Listing, summary and the filters see it.
    let list = body(&rig.admin("GET", "/admin/api/apps?status=active&tier=pro&q=", ""));
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["app_name"], name.as_str());
    assert_eq!(
        body(&rig.admin("GET", "/admin/api/apps?status=error", ""))["total"],
        0
    );
    let summary = body(&rig.admin("GET", "/admin/api/summary", ""));
    assert_eq!(summary["by_status"]["active"], 1);
    assert_eq!(summary["provision"]["completed"], 1);
    assert!(summary["provision"]["median_seconds"].as_f64().unwrap() >= 0.0);

    // Reconcile now: recorded; 200, or 202 when Fly's per-app list limit (burst 3) asks it to come back.
    let r = rig.admin("POST", &format!("/admin/api/apps/{u}/reconcile"), "{}");
    assert!(r.status == 200 || r.status == 202, "{:?}", body(&r));
    let events = body(&rig.admin("GET", &format!("/admin/api/apps/{u}"), ""))["events"].clone();
    assert!(events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["metadata"]["admin_action"] == "reconcile"
            && e["event_type"] == "recovery_attempted"
            && e["metadata"]["actor"] == "admin_token"));
    // Retry without failures is refused.
    assert_eq!(
        body(&rig.admin("POST", &format!("/admin/api/apps/{u}/retry"), "{}"))["error"],
        "not_failed"
    );

    // Force reprovision replaces the machine.
    let old_machine = app["app"]["machine_id"].as_str().unwrap().to_string();
    let r = rig.admin("POST", &format!("/admin/api/apps/{u}/reprovision"), "{}");
    assert!(r.status == 200 || r.status == 202, "{:?}", body(&r));
    let app = wait_for(&rig, u, |a| {
        a["app"]["status"] == "active" && a["app"]["machine_id"] != old_machine.as_str()
    });
    assert!(app["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["metadata"]["admin_action"] == "force_reprovision"
            && e["metadata"]["destroyed_machines"][0] == old_machine.as_str()));

    // Deprovision: confirmation first, and refused while entitled.
    let path = format!("/admin/api/apps/{u}/deprovision");
    let before = rig.snapshot();
    assert_eq!(
        body(&rig.admin("POST", &path, "{}"))["error"],
        "confirmation_required"
    );
    assert_eq!(
        body(&rig.admin("POST", &path, "{\"confirm\":\"some-other-app\"}"))["error"],
        "confirmation_mismatch"
    );
    let entitled = rig.admin("POST", &path, &format!("{{\"confirm\":\"{name}\"}}"));
    assert_eq!(
        (entitled.status, body(&entitled)["error"].as_str()),
        (409, Some("entitled"))
    );
    assert_eq!(rig.snapshot(), before);

    // Downgrade via the tier override deprovisions; the confirmed deprovision is then accepted too.
    let r = rig.admin(
        "POST",
        &format!("/admin/api/users/{u}/tier"),
        "{\"tier\":\"free\"}",
    );
    assert!(r.status == 200 || r.status == 202, "{:?}", body(&r));
    let r = rig.admin("POST", &path, &format!("{{\"confirm\":\"{name}\"}}"));
    assert!(r.status == 200 || r.status == 202, "{:?}", body(&r));
    wait_for_status(&rig, u, "deleted");
    assert!(
        rig.apps_at_fly()
            .iter()
            .all(|a| a["name"] != name.as_str() || a["deleting"] == true),
        "the app is still live at Fly"
    );
}

fn wait_for_status(rig: &Rig, u: fleet_store::UserId, status: &str) -> serde_json::Value {
    wait_for(rig, u, |a| a["app"]["status"] == status)
}

/// Reconciles until `done` holds for the app view (bounded), as the sweep would.
fn wait_for(
    rig: &Rig,
    u: fleet_store::UserId,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..40 {
        let app = body(&rig.admin("GET", &format!("/admin/api/apps/{u}"), ""));
        if done(&app) {
            return app;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        rig.admin("POST", &format!("/admin/api/apps/{u}/reconcile"), "{}");
    }
    panic!(
        "condition not reached for {u}: {}",
        body(&rig.admin("GET", &format!("/admin/api/apps/{u}"), ""))
    );
}
