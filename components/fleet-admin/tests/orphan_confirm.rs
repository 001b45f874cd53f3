//! Issue 19 item 6: orphan deletions the health sweep holds above its per-sweep cap are visible in the
//! summary and wait for an operator's confirmation, which must name how many are held.

mod common;

use common::{body, Rig};
use fleet_admin::ORPHAN_HOLD_KEY;
use serde_json::json;

fn hold_of(rig: &Rig) -> serde_json::Value {
    rig.store()
        .state(ORPHAN_HOLD_KEY)
        .unwrap()
        .unwrap_or_default()
}

#[test]
fn held_orphan_deletions_show_in_the_summary_and_need_a_confirmation_naming_their_count() {
    let rig = Rig::new(false);
    let r = rig.admin("POST", "/admin/api/orphans/confirm", r#"{"held": 0}"#);
    assert_eq!(
        (r.status, body(&r)["error"].clone()),
        (409, json!("nothing_held"))
    );
    assert!(body(&rig.admin("GET", "/admin/api/summary", ""))["orphan_hold"].is_null());

    let held = json!({"held": ["vyx-user-0e000001", "vyx-user-0e000002", "vyx-user-0e000003"],
                      "since": "2026-03-01T12:00:00.000Z", "cap": 2, "confirmed": []});
    rig.store()
        .put_state(ORPHAN_HOLD_KEY, &held, chrono::Utc::now())
        .unwrap();
    let summary = body(&rig.admin("GET", "/admin/api/summary", ""));
    assert_eq!(summary["orphan_hold"]["held"], held["held"], "{summary}");

    for bad in [r#"{"held": 2}"#, r#"{"held": 4}"#] {
        let r = rig.admin("POST", "/admin/api/orphans/confirm", bad);
        assert_eq!(r.status, 409, "{bad}");
        assert_eq!(body(&r)["error"], "hold_changed");
    }
    for malformed in ["{", r#"{"held": "all"}"#, r#"{"held": 3, "x": 1}"#, r#"{}"#] {
        let r = rig.admin("POST", "/admin/api/orphans/confirm", malformed);
        assert_eq!(r.status, 400, "{malformed}");
    }
    assert_eq!(
        hold_of(&rig)["confirmed"],
        json!([]),
        "refusals change nothing"
    );

    let r = rig.admin("POST", "/admin/api/orphans/confirm", r#"{"held": 3}"#);
    assert_eq!(r.status, 200, "{}", body(&r));
    let stored = hold_of(&rig);
    assert_eq!(stored["confirmed"], held["held"]);
    assert_eq!(stored["confirmed_by"], "admin_token");
    // Confirming again is idempotent.
    let r = rig.admin("POST", "/admin/api/orphans/confirm", r#"{"held": 3}"#);
    assert_eq!(r.status, 200);
    assert_eq!(hold_of(&rig)["confirmed"], held["held"]);
}
