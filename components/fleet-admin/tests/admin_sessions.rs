//! Issue 19 item 4 through the admin service: a stolen cookie stops working at logout and at "sign out
//! everywhere", and wrong passwords are throttled per source and overall, the right one included, with a 429
//! JSON error and `Retry-After`.

mod common;

use common::{body, Rig, TOKEN};
use fleet_store::ThrottleLimits;

fn login(rig: &Rig, source: &str) -> (String, String) {
    let r = rig.send(
        "POST",
        "/admin/login",
        &[
            ("content-type", "application/json"),
            ("spin-client-addr", source),
        ],
        &serde_json::json!({ "token": TOKEN }).to_string(),
    );
    assert_eq!(r.status, 200, "{:?}", body(&r));
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = body(&r)["csrf_token"].as_str().unwrap().to_string();
    (cookie, csrf)
}

fn session_status(rig: &Rig, cookie: &str) -> u16 {
    rig.send("GET", "/admin/api/session", &[("cookie", cookie)], "")
        .status
}

#[test]
fn stolen_cookie_is_refused_after_logout() {
    let rig = Rig::new(false);
    let (cookie, _) = login(&rig, "10.0.0.1:1000");
    let stolen = cookie.clone();
    assert_eq!(session_status(&rig, &stolen), 200);
    let out = rig.send("POST", "/admin/logout", &[("cookie", &cookie)], "");
    assert_eq!(out.status, 200);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    // The attacker kept a copy of the cookie: it is dead server-side, not only cleared in the browser.
    let r = rig.send("GET", "/admin/api/summary", &[("cookie", &stolen)], "");
    assert_eq!(
        (r.status, body(&r)["error"].clone()),
        (401, "unauthorized".into())
    );
}

#[test]
fn stolen_cookies_are_refused_after_sign_out_everywhere() {
    let rig = Rig::new(false);
    let (operator, csrf) = login(&rig, "10.0.0.1:1000");
    let (stolen, _) = login(&rig, "10.0.0.2:1000");
    assert_eq!(session_status(&rig, &stolen), 200);
    // Without the CSRF token a cookie cannot sign everyone out.
    let r = rig.send(
        "POST",
        "/admin/api/sessions/revoke",
        &[("cookie", &operator)],
        "",
    );
    assert_eq!(r.status, 403);
    assert_eq!(session_status(&rig, &stolen), 200);
    let r = rig.send(
        "POST",
        "/admin/api/sessions/revoke",
        &[("cookie", &operator), ("x-csrf-token", &csrf)],
        "",
    );
    assert_eq!(r.status, 200, "{:?}", body(&r));
    assert_eq!(body(&r)["revoked_sessions"], 2);
    assert_eq!(session_status(&rig, &stolen), 401);
    assert_eq!(session_status(&rig, &operator), 401);
    // The bearer token still works, and a new login starts a new session.
    let auth = format!("Bearer {TOKEN}");
    assert_eq!(
        rig.send("GET", "/admin/api/summary", &[("authorization", &auth)], "")
            .status,
        200
    );
    let (fresh, _) = login(&rig, "10.0.0.1:1000");
    assert_eq!(session_status(&rig, &fresh), 200);
}

#[test]
fn wrong_passwords_are_throttled_per_source_and_globally_even_for_the_right_one() {
    let mut rig = Rig::new(false);
    rig.config.throttle = ThrottleLimits {
        per_source: 6,
        global: 8,
        window_secs: 300,
    };
    let (cookie, _) = login(&rig, "10.0.0.9:1");
    let wrong_login = |source: &str| {
        rig.send(
            "POST",
            "/admin/login",
            &[
                ("content-type", "application/json"),
                ("spin-client-addr", source),
            ],
            r#"{"token":"guess"}"#,
        )
    };
    let wrong_bearer = |source: &str| {
        rig.send(
            "GET",
            "/admin/api/summary",
            &[
                ("authorization", "Bearer guess"),
                ("spin-client-addr", source),
            ],
            "",
        )
    };
    for _ in 0..3 {
        assert_eq!(wrong_login("10.0.0.1:1").status, 401);
        assert_eq!(wrong_bearer("10.0.0.1:2").status, 401);
    }
    // 6 failures from 10.0.0.1 (any port), its limit: it is refused, with the right token too.
    for r in [
        wrong_login("10.0.0.1:3"),
        wrong_bearer("10.0.0.1:4"),
        rig.send(
            "GET",
            "/admin/api/summary",
            &[
                ("authorization", &format!("Bearer {TOKEN}")),
                ("spin-client-addr", "10.0.0.1:5"),
            ],
            "",
        ),
        rig.send(
            "POST",
            "/admin/login",
            &[
                ("content-type", "application/json"),
                ("spin-client-addr", "10.0.0.1:6"),
            ],
            &serde_json::json!({ "token": TOKEN }).to_string(),
        ),
    ] {
        assert_eq!(r.status, 429);
        assert_eq!(body(&r)["error"], "too_many_attempts");
        assert!(body(&r)["detail"].is_string());
        let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=300).contains(&wait), "{wait}");
    }
    // Another source may still try, until the service-wide limit (8) is used up.
    assert_eq!(wrong_login("10.0.0.2:1").status, 401);
    assert_eq!(wrong_login("10.0.0.3:1").status, 401);
    assert_eq!(wrong_login("10.0.0.4:1").status, 429);
    // A session cookie is not a password: it keeps working while passwords are throttled.
    assert_eq!(session_status(&rig, &cookie), 200);
}
