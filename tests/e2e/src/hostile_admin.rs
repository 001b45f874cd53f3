//! The admin part of the hostile corpus: every `/admin` route and action without, with wrong, or with
//! misused credentials; broken bodies and queries with a valid token; wrong methods; and path traversal in
//! raw request-targets (`..`, `%2e%2e`, double encoding, backslashes) aimed at the other components.

use serde_json::json;

use crate::hostile::{encode_path, Subjects, BAD_UUIDS, INJECTIONS};
use crate::raw_http::RawRequest;

fn req(label: impl Into<String>, method: &str, target: &str) -> RawRequest {
    RawRequest {
        label: label.into(),
        method: method.to_string(),
        target: target.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn with(mut r: RawRequest, headers: &[(&str, &str)], body: &[u8]) -> RawRequest {
    r.headers
        .extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    r.headers
        .push(("content-type".into(), "application/json".into()));
    r.body = body.to_vec();
    r
}

/// Every authenticated route, with the method it takes and a body it would accept.
fn routes(s: &Subjects) -> Vec<(&'static str, String, Vec<u8>)> {
    let e = s.entitled;
    let mut out = vec![
        ("GET", "/admin/api/session".to_string(), Vec::new()),
        ("GET", "/admin/api/summary".into(), Vec::new()),
        ("GET", "/admin/api/apps".into(), Vec::new()),
        ("GET", format!("/admin/api/apps/{e}"), Vec::new()),
        ("GET", "/admin/api/orphans".into(), Vec::new()),
        (
            "POST",
            "/admin/api/orphans/confirm".into(),
            br#"{"held":0}"#.to_vec(),
        ),
        ("GET", "/admin/api/migrations".into(), Vec::new()),
        ("POST", "/admin/api/migrations".into(), b"{}".to_vec()),
        (
            "POST",
            "/admin/api/migrations/advance".into(),
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("/admin/api/users/{e}/tier"),
            br#"{"tier":"elite"}"#.to_vec(),
        ),
    ];
    // Issue 20's operator controls.
    out.extend([
        ("GET", "/admin/api/users".to_string(), Vec::new()),
        ("GET", "/admin/api/holds".into(), Vec::new()),
        ("GET", "/admin/api/report".into(), Vec::new()),
        (
            "POST",
            "/admin/api/users/provision".into(),
            json!({"user_id": e.to_string()}).to_string().into_bytes(),
        ),
        (
            "POST",
            format!("/admin/api/users/{e}/hold"),
            json!({"reason": "abuse", "confirm": e.to_string()})
                .to_string()
                .into_bytes(),
        ),
        (
            "POST",
            format!("/admin/api/users/{e}/release"),
            b"{}".to_vec(),
        ),
    ]);
    for action in ["reconcile", "retry", "reprovision", "deprovision"] {
        let body = json!({"confirm": e.to_string()}).to_string().into_bytes();
        out.push(("POST", format!("/admin/api/apps/{e}/{action}"), body));
    }
    out
}

fn tamper(cookie: &str) -> String {
    let mut bytes = cookie.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] = if bytes[last] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).expect("ascii cookie")
}

pub fn admin_cases(s: &Subjects, out: &mut Vec<RawRequest>) {
    let bearer = format!("Bearer {}", s.admin_token);
    let webhook = format!("Bearer {}", s.webhook_secret);
    let forged = tamper(&s.cookie);
    let session_name = s.cookie.split('=').next().unwrap_or("fleet_admin_session");
    for (method, path, body) in routes(s) {
        let r = || req(format!("{method} {path}"), method, &path);
        let mut cases: Vec<(&str, Vec<(&str, String)>)> = vec![
            ("no auth", vec![]),
            (
                "wrong bearer",
                vec![("authorization", "Bearer nope".into())],
            ),
            (
                "webhook secret as bearer",
                vec![("authorization", webhook.clone())],
            ),
            (
                "injection bearer",
                vec![("authorization", format!("Bearer {}", INJECTIONS[0]))],
            ),
            (
                "forged cookie",
                vec![("cookie", forged.clone()), ("x-csrf-token", s.csrf.clone())],
            ),
            (
                "made-up cookie",
                vec![("cookie", format!("{session_name}=9999999999.abc.def"))],
            ),
            (
                "token as cookie",
                vec![("cookie", format!("{session_name}={}", s.admin_token))],
            ),
        ];
        if method == "POST" {
            cases.push(("cookie without csrf", vec![("cookie", s.cookie.clone())]));
            cases.push((
                "cookie with a wrong csrf",
                vec![
                    ("cookie", s.cookie.clone()),
                    ("x-csrf-token", tamper(&s.csrf)),
                ],
            ));
            cases.push((
                "cookie with csrf from another origin",
                vec![
                    ("cookie", s.cookie.clone()),
                    ("x-csrf-token", s.csrf.clone()),
                    ("origin", "https://evil.example".into()),
                ],
            ));
        }
        for (label, headers) in cases {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut case = with(r(), &headers, &body);
            case.label = format!("{} {label}", case.label);
            out.push(case);
        }
        // GET and POST on /admin/api/migrations are both routes (progress, start).
        let wrong = match (method, path.ends_with("/migrations")) {
            (_, true) => ["PUT", "DELETE"],
            ("GET", _) => ["POST", "DELETE"],
            _ => ["GET", "PUT"],
        };
        for m in wrong {
            let mut case = with(req("", m, &path), &[("authorization", &bearer)], &body);
            case.label = format!("{m} {path} wrong method");
            out.push(case);
        }
    }
    valid_token_cases(s, &bearer, out);
    traversal_cases(s, &bearer, out);
}

/// A valid token, so only validation stands between the request and the store.
fn valid_token_cases(s: &Subjects, bearer: &str, out: &mut Vec<RawRequest>) {
    let auth = [("authorization", bearer)];
    let e = s.entitled;
    let u = s.unknown;
    let broken: Vec<(String, Vec<u8>)> = vec![
        ("truncated".into(), b"{\"tier\":".to_vec()),
        ("array".into(), b"[]".to_vec()),
        ("number".into(), b"7".to_vec()),
        ("invalid utf-8".into(), vec![b'{', 0xff, b'}']),
        ("deeply nested".into(), "[".repeat(100_000).into_bytes()),
        ("huge".into(), vec![b' '; 65 * 1024 + 1]),
        (
            "unknown field".into(),
            br#"{"sql":"DROP TABLE traders"}"#.to_vec(),
        ),
    ];
    let posts = [
        format!("/admin/api/users/{e}/tier"),
        format!("/admin/api/apps/{e}/deprovision"),
        format!("/admin/api/apps/{e}/reconcile"),
        "/admin/api/migrations".to_string(),
        "/admin/api/orphans/confirm".to_string(),
        "/admin/login".to_string(),
        "/admin/api/users/provision".to_string(),
        format!("/admin/api/users/{e}/hold"),
        format!("/admin/api/users/{e}/release"),
    ];
    for path in &posts {
        for (label, body) in &broken {
            out.push(with(
                req(format!("POST {path} {label}"), "POST", path),
                &auth,
                body,
            ));
        }
    }
    let tier = format!("/admin/api/users/{e}/tier");
    for inj in INJECTIONS {
        for body in [
            json!({"tier": inj}),
            json!({"tier": "pro", "status": inj}),
            json!({"tier": inj, "status": "active"}),
        ] {
            out.push(with(
                req(format!("tier {body}"), "POST", &tier),
                &auth,
                body.to_string().as_bytes(),
            ));
        }
        // Confirming held orphan deletions: nothing is held, so even a well-formed count is a 409.
        for body in [json!({"held": inj}), json!({"held": 0, "apps": inj})] {
            out.push(with(
                req(
                    format!("orphans confirm {body}"),
                    "POST",
                    "/admin/api/orphans/confirm",
                ),
                &auth,
                body.to_string().as_bytes(),
            ));
        }
        // Operator controls: an unknown email or id, a hold confirmed with something else.
        for body in [
            json!({"email": inj}),
            json!({"user_id": inj}),
            json!({"email": inj, "user_id": e.to_string()}),
        ] {
            out.push(with(
                req(
                    format!("provision now {body}"),
                    "POST",
                    "/admin/api/users/provision",
                ),
                &auth,
                body.to_string().as_bytes(),
            ));
        }
        let hold = json!({"reason": inj, "confirm": inj});
        out.push(with(
            req(
                format!("hold {hold}"),
                "POST",
                &format!("/admin/api/users/{e}/hold"),
            ),
            &auth,
            hold.to_string().as_bytes(),
        ));
        let migrate = json!({"dry_run": inj});
        out.push(with(
            req(
                format!("migration {migrate}"),
                "POST",
                "/admin/api/migrations",
            ),
            &auth,
            migrate.to_string().as_bytes(),
        ));
        // Actions on a user with no app: 404 whatever the (valid) body says.
        let confirm = json!({"confirm": inj});
        for action in ["reconcile", "retry", "reprovision", "deprovision"] {
            let path = format!("/admin/api/apps/{u}/{action}");
            out.push(with(
                req(format!("{action} unknown user {confirm}"), "POST", &path),
                &auth,
                confirm.to_string().as_bytes(),
            ));
        }
        let login = json!({"token": inj});
        out.push(with(
            req(format!("login {login}"), "POST", "/admin/login"),
            &[],
            login.to_string().as_bytes(),
        ));
        // Injections in queries: every filter is validated (free text `q` is a legitimate search, not here).
        for key in [
            "status", "health", "tier", "sort", "order", "page", "per_page", inj,
        ] {
            let target = format!("/admin/api/apps?{}={}", encode_path(key), encode_path(inj));
            out.push(with(
                req(format!("apps query {key}"), "GET", &target),
                &auth,
                b"",
            ));
        }
    }
    for wrong in [
        json!({"tier": 1}),
        json!({"tier": null}),
        json!({"tier": ["pro"]}),
        json!({"tier": "pro", "status": false}),
        json!({}),
    ] {
        out.push(with(
            req(format!("tier {wrong}"), "POST", &tier),
            &auth,
            wrong.to_string().as_bytes(),
        ));
    }
    for wrong in [
        json!({"dry_run": 1}),
        json!({"dry_run": "true"}),
        json!({"dry_run": [true]}),
    ] {
        out.push(with(
            req(
                format!("migration {wrong}"),
                "POST",
                "/admin/api/migrations",
            ),
            &auth,
            wrong.to_string().as_bytes(),
        ));
    }
    out.push(with(
        req(
            "advance without a migration",
            "POST",
            "/admin/api/migrations/advance",
        ),
        &auth,
        b"{}",
    ));
    for q in [
        "per_page=0",
        "per_page=201",
        "page=-1",
        "page=99999999999999999999",
        "per_page=1e3",
        "q=".to_string().as_str(),
    ] {
        if q == "q=" {
            continue;
        }
        out.push(with(
            req(format!("apps {q}"), "GET", &format!("/admin/api/apps?{q}")),
            &auth,
            b"",
        ));
    }
    let long_q = format!("/admin/api/apps?q={}", "a".repeat(101));
    out.push(with(req("apps q too long", "GET", &long_q), &auth, b""));
    for id in BAD_UUIDS.iter().chain(INJECTIONS).skip(1) {
        let id = encode_path(id);
        for (method, path) in [
            ("GET", format!("/admin/api/apps/{id}")),
            ("POST", format!("/admin/api/apps/{id}/reconcile")),
            ("POST", format!("/admin/api/users/{id}/tier")),
            ("POST", format!("/admin/api/users/{id}/hold")),
            ("POST", format!("/admin/api/users/{id}/release")),
        ] {
            out.push(with(
                req(format!("{method} {path}"), method, &path),
                &auth,
                br#"{"tier":"elite"}"#,
            ));
        }
    }
    for action in [
        "delete",
        "drop",
        "RECONCILE",
        "reconcile;drop",
        "..",
        "%2e%2e",
    ] {
        let path = format!("/admin/api/apps/{e}/{action}");
        out.push(with(
            req(format!("action {action}"), "POST", &path),
            &auth,
            b"{}",
        ));
    }
    for (label, body) in [
        ("login wrong token", json!({"token": "nope"}).to_string()),
        ("login empty token", json!({"token": ""}).to_string()),
        (
            "login webhook secret",
            json!({"token": s.webhook_secret}).to_string(),
        ),
        ("login token as number", json!({"token": 1}).to_string()),
    ] {
        out.push(with(
            req(label, "POST", "/admin/login"),
            &[],
            body.as_bytes(),
        ));
    }
    let mut form = req("login form wrong token", "POST", "/admin/login");
    form.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    form.body = b"token=nope&token2=x".to_vec();
    out.push(form);
    for m in ["GET", "PUT", "DELETE"] {
        out.push(with(
            req(format!("{m} login"), m, "/admin/login"),
            &[],
            b"{}",
        ));
    }
    out.push(with(req("PUT page", "PUT", "/admin"), &auth, b""));
}

/// Raw targets that try to climb out of `/admin` (or into it) to reach another component.
fn traversal_cases(s: &Subjects, bearer: &str, out: &mut Vec<RawRequest>) {
    let body = json!({"user_id": s.entitled.to_string(), "tier": "pro"}).to_string();
    let targets = [
        "/admin/../provision",
        "/admin/../health/sweep",
        "/admin/..%2fprovision",
        "/admin/%2e%2e/provision",
        "/admin/%2E%2E/%2E%2E/provision",
        "/admin/%252e%252e/provision",
        "/admin/%252e%252e%252fprovision",
        "/admin/api/apps/..%2f..%2f..%2fprovision",
        "/admin/api/%2e%2e/%2e%2e/health/sweep",
        "/admin/.%2e/provision",
        "/admin/./../provision",
        "/admin\\..\\provision",
        "/admin/api/apps/..\\..\\..\\provision",
        "/admin//../provision",
        "/admin/api/summary/../../../provision",
        "/admin/%00/../provision",
        "/admin/api/..;/..;/provision",
        "/admin/api/apps/%2e%2e%2f%2e%2e%2fsummary",
        "/admin/api/%u002e%u002e/summary",
        "/admin/%c0%ae%c0%ae/provision",
        "/provision/../admin/api/summary",
        "/provision/..%2fadmin",
        "/deprovision/%2e%2e/admin/api/migrations",
        "/health/..%2fadmin/api/summary",
        "/health/%2e%2e/provision",
        "/../admin/api/summary",
        "/%2e%2e/admin/api/summary",
        "/admin/../../../../etc/passwd",
        "/admin/api/apps/../../../spin.toml",
    ];
    for target in targets {
        for (method, auth) in [
            ("GET", bearer.to_string()),
            ("POST", bearer.to_string()),
            ("POST", format!("Bearer {}", s.webhook_secret)),
        ] {
            let r = with(
                req(format!("{method} {target}"), method, target),
                &[("authorization", &auth)],
                body.as_bytes(),
            );
            out.push(r);
        }
    }
}
