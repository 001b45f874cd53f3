//! The hostile-request corpus of suite 3: hand-written cases for every route (bad JSON, wrong types, invalid
//! uuids, SQL injection in every field, wrong auth, stale signatures, wrong methods, path traversal) plus
//! seeded random mutations. Every request is built so that the only correct answer is a 4xx that changes
//! nothing: a valid-looking body always names a user for whom the route must refuse (409/404).

use fleet_store::UserId;
use serde_json::{json, Value};

use crate::raw_http::RawRequest;

/// Strings an attacker puts in every field.
pub const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE user_fly_apps; --",
    "\"; DELETE FROM user_subscriptions; --",
    "1; UPDATE user_subscriptions SET tier='elite'",
    "' UNION SELECT token FROM fleet.settings --",
    "$$; DROP ROLE fleet_control_plane; $$",
    "00000000-0000-0000-0000-000000000000' OR 1=1 --",
    "%27%20OR%201%3D1",
    "\\x00\\u0000",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
];

pub const BAD_UUIDS: &[&str] = &[
    "",
    "not-a-uuid",
    "bbbbbbbb-0000-4000-8000",
    "bbbbbbbb-0000-4000-8000-0000000000011",
    "gggggggg-0000-4000-8000-000000000001",
    "{bbbbbbbb-0000-4000-8000-000000000001}",
    "bbbbbbbb_0000_4000_8000_000000000001",
    " bbbbbbbb-0000-4000-8000-000000000001",
];

/// Who the corpus talks about, and the credentials it forges or misuses.
pub struct Subjects {
    /// Pro and active: provisioning would be legitimate, so only auth may stop it.
    pub entitled: UserId,
    /// Free: a valid provision hint for them is a 409.
    pub unentitled: UserId,
    /// Nobody: admin actions and tier changes for them are 404s.
    pub unknown: UserId,
    /// The HMAC key (`webhook_secret`): never valid as a bearer token.
    pub webhook_secret: String,
    /// The webhooks' bearer token (`webhook_bearer_token`).
    pub webhook_bearer: String,
    pub admin_token: String,
    /// A real admin session (`name=value`) and its CSRF token, for CSRF and cookie-forgery cases.
    pub cookie: String,
    pub csrf: String,
}

fn req(label: impl Into<String>, method: &str, target: &str) -> RawRequest {
    RawRequest {
        label: label.into(),
        method: method.to_string(),
        target: target.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl RawRequest {
    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("content-type", "application/json")
    }
}

fn hint(user: &str) -> Value {
    json!({"type": "UPDATE", "table": "user_subscriptions", "schema": "public",
           "record": {"user_id": user, "tier": "pro", "status": "active"},
           "old_record": {"user_id": user, "tier": "free", "status": "active"}})
}

/// JSON nested deeper than any parser's recursion limit.
fn deep(depth: usize) -> Vec<u8> {
    let mut out = "[".repeat(depth).into_bytes();
    out.extend(std::iter::repeat_n(b']', depth));
    out
}

/// Bodies that are broken as JSON or as payloads, whatever the route.
fn broken_bodies() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("empty object".into(), b"{}".to_vec()),
        ("truncated".into(), b"{\"user_id\":\"bbbb".to_vec()),
        ("not json".into(), b"user_id=1".to_vec()),
        ("array".into(), b"[]".to_vec()),
        ("null".into(), b"null".to_vec()),
        ("number".into(), b"42".to_vec()),
        ("invalid utf-8".into(), vec![b'{', 0xff, 0xfe, b'}']),
        ("nul bytes".into(), b"{\"user_id\":\"\0\"}".to_vec()),
        ("deeply nested".into(), deep(100_000)),
        ("huge".into(), {
            let mut b = b"{\"pad\":\"".to_vec();
            b.extend(std::iter::repeat_n(b'a', 70 * 1024));
            b.extend_from_slice(b"\"}");
            b
        }),
        (
            "duplicate keys".into(),
            br#"{"user_id":"x","user_id":"y"}"#.to_vec(),
        ),
    ];
    for wrong in [
        json!(123),
        json!(true),
        json!([]),
        json!({}),
        Value::Null,
        json!(1e308),
    ] {
        out.push((
            format!("user_id {wrong}"),
            json!({"user_id": wrong}).to_string().into_bytes(),
        ));
    }
    for uuid in BAD_UUIDS.iter().chain(INJECTIONS) {
        out.push((
            format!("user_id {uuid:?}"),
            json!({"user_id": uuid, "tier": "pro"})
                .to_string()
                .into_bytes(),
        ));
        out.push((
            format!("record.user_id {uuid:?}"),
            hint(uuid).to_string().into_bytes(),
        ));
    }
    out
}

/// `/provision` and `/deprovision`.
fn webhook_cases(s: &Subjects, out: &mut Vec<RawRequest>) {
    let bearer = format!("Bearer {}", s.webhook_bearer);
    let now = chrono::Utc::now().timestamp();
    // (route, a body the route must refuse on its merits, a body only auth stands in front of)
    let routes = [
        ("/provision", &s.unentitled, &s.entitled),
        ("/deprovision", &s.entitled, &s.unentitled),
    ];
    for (route, refused, guarded) in routes {
        for (label, body) in broken_bodies() {
            out.push(
                req(format!("{route} {label}"), "POST", route)
                    .header("authorization", &bearer)
                    .body(body),
            );
        }
        // Valid payloads whose other fields carry injections: the database, not the payload, decides.
        for inj in INJECTIONS {
            let mut body = hint(&refused.to_string());
            for field in ["type", "table", "schema"] {
                let mut b = body.clone();
                b[field] = json!(inj);
                out.push(
                    req(format!("{route} {field}={inj:?}"), "POST", route)
                        .header("authorization", &bearer)
                        .body(b.to_string()),
                );
            }
            body["record"]["tier"] = json!(inj);
            body["record"]["status"] = json!(inj);
            out.push(
                req(format!("{route} record fields={inj:?}"), "POST", route)
                    .header("authorization", &bearer)
                    .body(body.to_string()),
            );
            let seed = json!({"user_id": refused.to_string(), "tier": inj, "reason": inj});
            out.push(
                req(format!("{route} seed body {inj:?}"), "POST", route)
                    .header("authorization", &bearer)
                    .body(seed.to_string()),
            );
        }
        let good = hint(&guarded.to_string()).to_string().into_bytes();
        let sign = |secret: &str, t: i64, body: &[u8]| fleet_http::sign_request(secret, t, body);
        let mut auth: Vec<(String, &str, String)> = vec![
            ("wrong bearer".into(), "authorization", "Bearer nope".into()),
            ("empty bearer".into(), "authorization", "Bearer ".into()),
            (
                "bearer prefix of the token".into(),
                "authorization",
                format!("Bearer {}", &s.webhook_bearer[..s.webhook_bearer.len() - 1]),
            ),
            (
                "bearer token plus a byte".into(),
                "authorization",
                format!("Bearer {}x", s.webhook_bearer),
            ),
            (
                "basic scheme".into(),
                "authorization",
                format!("Basic {}", s.webhook_bearer),
            ),
            (
                "signing key sent as bearer".into(),
                "authorization",
                format!("Bearer {}", s.webhook_secret),
            ),
            (
                "admin token as bearer".into(),
                "authorization",
                format!("Bearer {}", s.admin_token),
            ),
            (
                "injection bearer".into(),
                "authorization",
                format!("Bearer {}", INJECTIONS[0]),
            ),
        ];
        for (label, t, secret, body) in [
            (
                "signature 301 s old",
                now - 301,
                s.webhook_secret.as_str(),
                &good,
            ),
            ("signature 1 h old", now - 3600, &s.webhook_secret, &good),
            // Margin: the corpus is built before it is sent, so "now" moves on meanwhile.
            ("signature 400 s ahead", now + 400, &s.webhook_secret, &good),
            ("signature with a wrong secret", now, "wrong-secret", &good),
            (
                "signature made with the bearer token",
                now,
                &s.webhook_bearer,
                &good,
            ),
            (
                "signature with an extreme timestamp",
                i64::MIN,
                &s.webhook_secret,
                &good,
            ),
            (
                "signature over another body",
                now,
                &s.webhook_secret,
                &b"{}".to_vec(),
            ),
        ] {
            auth.push((
                label.into(),
                fleet_http::SIGNATURE_HEADER,
                sign(secret, t, body),
            ));
        }
        for garbage in [
            "t=abc,v1=00",
            "v1=deadbeef",
            "t=,v1=",
            "t=1,v1=zz",
            INJECTIONS[1],
        ] {
            auth.push((
                format!("signature {garbage:?}"),
                fleet_http::SIGNATURE_HEADER,
                garbage.into(),
            ));
        }
        out.push(req(format!("{route} no auth"), "POST", route).body(good.clone()));
        for (label, name, value) in auth {
            out.push(
                req(format!("{route} {label}"), "POST", route)
                    .header(name, value)
                    .body(good.clone()),
            );
        }
        for method in [
            "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO",
        ] {
            out.push(
                req(format!("{method} {route}"), method, route)
                    .header("authorization", &bearer)
                    .body(good.clone()),
            );
        }
    }
}

/// `POST /health/sweep` and `GET /health/apps/{user_id}`.
fn health_cases(s: &Subjects, out: &mut Vec<RawRequest>) {
    let sweep = "/health/sweep";
    let bearer = format!("Bearer {}", s.webhook_bearer);
    let admin = format!("Bearer {}", s.admin_token);
    let now = chrono::Utc::now().timestamp();
    out.push(req("sweep no auth", "POST", sweep).body("{}"));
    for (label, value) in [
        ("wrong bearer", "Bearer nope".to_string()),
        ("admin token as bearer", admin.clone()),
        (
            "signing key as bearer",
            format!("Bearer {}", s.webhook_secret),
        ),
        ("injection bearer", format!("Bearer {}", INJECTIONS[0])),
    ] {
        out.push(
            req(format!("sweep {label}"), "POST", sweep)
                .header("authorization", value)
                .body("{}"),
        );
    }
    let stale = fleet_http::sign_request(&s.webhook_secret, now - 301, b"{}");
    out.push(
        req("sweep signature 301 s old", "POST", sweep)
            .header(fleet_http::SIGNATURE_HEADER, stale)
            .body("{}"),
    );
    for (label, body) in [
        ("truncated", b"{\"a\":[1,".to_vec()),
        ("not json", b"sweep please".to_vec()),
        ("array", b"[]".to_vec()),
        ("string", b"\"x\"".to_vec()),
        ("deeply nested", deep(100_000)),
        ("invalid utf-8", vec![b'{', 0xff, b'}']),
    ] {
        out.push(
            req(format!("sweep {label}"), "POST", sweep)
                .header("authorization", &bearer)
                .body(body),
        );
    }
    for method in ["GET", "PUT", "DELETE", "HEAD", "FOO"] {
        out.push(
            req(format!("{method} sweep"), method, sweep)
                .header("authorization", &bearer)
                .body("{}"),
        );
    }
    let entitled = format!("/health/apps/{}", s.entitled);
    out.push(req("app view no auth", "GET", &entitled));
    for value in ["Bearer nope".to_string(), bearer.clone()] {
        out.push(req("app view wrong token", "GET", &entitled).header("authorization", value));
    }
    for id in BAD_UUIDS.iter().chain(INJECTIONS).skip(1) {
        let id = encode_path(id);
        out.push(
            req(
                format!("app view {id}"),
                "GET",
                &format!("/health/apps/{id}"),
            )
            .header("authorization", &admin),
        );
    }
    out.push(
        req(
            "app view unknown user",
            "GET",
            &format!("/health/apps/{}", s.unknown),
        )
        .header("authorization", &admin),
    );
    for method in ["POST", "DELETE", "PUT"] {
        out.push(
            req(format!("{method} app view"), method, &entitled).header("authorization", &admin),
        );
    }
    out.push(
        req("unknown health path", "GET", "/health/../admin/api/summary")
            .header("authorization", &admin),
    );
}

/// Percent-encodes what may not appear raw in a request-target.
pub fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub use crate::hostile_admin::admin_cases;

/// The whole hand-written corpus.
pub fn corpus(s: &Subjects) -> Vec<RawRequest> {
    let mut out = Vec::new();
    webhook_cases(s, &mut out);
    health_cases(s, &mut out);
    admin_cases(s, &mut out);
    out
}
