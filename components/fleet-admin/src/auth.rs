//! Admin authentication: the admin token as `Authorization: Bearer`, or a session cookie signed with it.
//!
//! * Session cookie value: `<expires_unix>.<nonce>.<hex hmac-sha256(token, "session|<expires>|<nonce>")>`;
//!   HttpOnly, SameSite=Strict, Path=/admin, Secure unless the page is served from a loopback host.
//! * CSRF token: `hex hmac-sha256(token, "csrf|<cookie value>")`, sent as `X-CSRF-Token` on state-changing
//!   requests that authenticate with the cookie. Nothing needs storing, and a stolen CSRF token is useless
//!   without the HttpOnly cookie it was derived from.
//!
//! Every secret comparison is constant time; failures never say which part was wrong.

use fleet_http::auth::constant_time_eq;
use fleet_http::ApiError;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::http::AdminRequest;

pub const SESSION_COOKIE: &str = "fleet_admin_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a login lasts.
pub const SESSION_TTL_SECS: i64 = 12 * 60 * 60;

/// How a request proved it is the admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Bearer,
    Session { csrf_token: String },
}

impl Principal {
    /// Recorded on events as the actor (never the credential itself).
    pub fn actor(&self) -> &'static str {
        match self {
            Principal::Bearer => "admin_token",
            Principal::Session { .. } => "admin_session",
        }
    }
}

fn mac_hex(token: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A new session cookie value valid until `now + SESSION_TTL_SECS`.
pub fn mint_session(token: &str, now_unix: i64, nonce: &str) -> String {
    let expires = now_unix + SESSION_TTL_SECS;
    let mac = mac_hex(token, &format!("session|{expires}|{nonce}"));
    format!("{expires}.{nonce}.{mac}")
}

/// Whether a cookie value was minted with `token` and has not expired.
pub fn verify_session(token: &str, value: &str, now_unix: i64) -> bool {
    let mut parts = value.splitn(3, '.');
    let (Some(expires), Some(nonce), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(expires_at) = expires.parse::<i64>() else {
        return false;
    };
    let expected = mac_hex(token, &format!("session|{expires}|{nonce}"));
    constant_time_eq(mac.as_bytes(), expected.as_bytes()) && now_unix < expires_at
}

/// The CSRF token bound to one session cookie value.
pub fn csrf_token(token: &str, session: &str) -> String {
    mac_hex(token, &format!("csrf|{session}"))
}

/// The `Set-Cookie` header that starts a session.
pub fn session_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_SECS}{secure}"
    )
}

/// The `Set-Cookie` header that ends a session.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// Cookies must be `Secure` except on loopback hosts, where browsers serve the page over plain http. `host` is
/// [`request_authority`]; no authority at all means `Secure`.
pub fn cookie_must_be_secure(host: Option<&str>) -> bool {
    let Some(host) = host else { return true };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    !matches!(name, "localhost" | "127.0.0.1" | "::1")
}

/// The session cookie's value from a `Cookie` header.
pub fn session_from_cookies(header: Option<&str>) -> Option<&str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Authenticates a request. `changes_state` routes need the bearer token, or the cookie plus its CSRF
/// token (and, when the browser sends `Origin`, the same origin).
pub fn authenticate(
    req: &AdminRequest,
    token: &str,
    now_unix: i64,
    changes_state: bool,
) -> Result<Principal, ApiError> {
    if token.is_empty() {
        return Err(ApiError::unauthorized());
    }
    if let Some(header) = req.header("authorization") {
        let given = header
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        return match given {
            Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {
                Ok(Principal::Bearer)
            }
            _ => Err(ApiError::unauthorized()),
        };
    }
    let session = session_from_cookies(req.header("cookie"))
        .filter(|value| verify_session(token, value, now_unix))
        .ok_or_else(ApiError::unauthorized)?;
    let csrf = csrf_token(token, session);
    if changes_state {
        let given = req.header(CSRF_HEADER).unwrap_or("");
        if given.is_empty() {
            return Err(ApiError::new(
                403,
                "csrf_required",
                "state-changing requests with a session need the X-CSRF-Token header",
            ));
        }
        if !constant_time_eq(given.as_bytes(), csrf.as_bytes()) {
            return Err(ApiError::new(
                403,
                "csrf_invalid",
                "the CSRF token does not match the session",
            ));
        }
        if !same_origin(req) {
            return Err(ApiError::new(
                403,
                "cross_origin",
                "the request comes from another origin",
            ));
        }
    }
    Ok(Principal::Session { csrf_token: csrf })
}

/// The authority the request was sent to, from the runtime's `spin-full-url` header: wasi-http strips `Host`
/// from incoming requests before the guest sees them, in Spin and in tests/spin-host alike, so `Host` is only
/// a fallback for callers outside a Spin runtime (the native tests). Spin appends its `spin-full-url` after any
/// the client sent (crates/trigger-http/src/wasi.rs `prepare_request`: `HeaderMap::extend` appends), so the
/// last value is the runtime's.
pub fn request_authority(req: &AdminRequest) -> Option<&str> {
    let full_url = req
        .headers
        .iter()
        .rev()
        .find(|(name, _)| name == "spin-full-url")
        .map(|(_, value)| value.as_str());
    match full_url {
        Some(url) => {
            let (_, rest) = url.split_once("://")?;
            rest.split(['/', '?']).next()
        }
        None => req.header("host"),
    }
}

/// `Origin`, when present, must name the host the request was sent to.
fn same_origin(req: &AdminRequest) -> bool {
    match (req.header("origin"), request_authority(req)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "admin-t0ken";
    const NOW: i64 = 1_750_000_000;

    fn request(headers: &[(&str, &str)]) -> AdminRequest {
        AdminRequest::new(
            "POST",
            "/admin/api/migrations",
            headers.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            vec![],
        )
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        let ok = request(&[("Authorization", "Bearer admin-t0ken")]);
        assert_eq!(authenticate(&ok, TOKEN, NOW, true), Ok(Principal::Bearer));
        for bad in [
            "Bearer admin-t0ke",
            "Bearer admin-t0kenX",
            "Basic admin-t0ken",
            "Bearer",
            "",
        ] {
            let req = request(&[("authorization", bad)]);
            assert_eq!(
                authenticate(&req, TOKEN, NOW, false).unwrap_err().status,
                401,
                "{bad}"
            );
        }
        assert_eq!(
            authenticate(&request(&[]), TOKEN, NOW, false)
                .unwrap_err()
                .status,
            401
        );
    }

    #[test]
    fn session_cookie_round_trips_and_expires() {
        let cookie = mint_session(TOKEN, NOW, "n1");
        assert!(verify_session(TOKEN, &cookie, NOW + 10));
        assert!(!verify_session(TOKEN, &cookie, NOW + SESSION_TTL_SECS));
        assert!(!verify_session("other-token", &cookie, NOW));
        let forged = cookie.replacen(
            &(NOW + SESSION_TTL_SECS).to_string(),
            &(NOW + 10 * SESSION_TTL_SECS).to_string(),
            1,
        );
        assert!(!verify_session(TOKEN, &forged, NOW));
        assert!(!verify_session(TOKEN, "garbage", NOW));
    }

    #[test]
    fn state_changes_with_a_cookie_need_the_csrf_token() {
        let session = mint_session(TOKEN, NOW, "n2");
        let cookie = format!("theme=dark; {SESSION_COOKIE}={session}");
        let reads = request(&[("cookie", &cookie)]);
        let principal = authenticate(&reads, TOKEN, NOW, false).unwrap();
        assert_eq!(
            principal,
            Principal::Session {
                csrf_token: csrf_token(TOKEN, &session)
            }
        );
        assert_eq!(
            authenticate(&reads, TOKEN, NOW, true).unwrap_err().error,
            "csrf_required"
        );
        let wrong = request(&[("cookie", &cookie), ("x-csrf-token", "00")]);
        assert_eq!(
            authenticate(&wrong, TOKEN, NOW, true).unwrap_err().error,
            "csrf_invalid"
        );
        let csrf = csrf_token(TOKEN, &session);
        let right = request(&[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(authenticate(&right, TOKEN, NOW, true).is_ok());
        let foreign = request(&[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert_eq!(
            authenticate(&foreign, TOKEN, NOW, true).unwrap_err().error,
            "cross_origin"
        );
    }

    #[test]
    fn authority_comes_from_spin_full_url_the_runtimes_value_last() {
        // Inside Spin (and tests/spin-host) the guest never sees `Host`.
        let local = request(&[("spin-full-url", "http://127.0.0.1:3000/admin/login")]);
        assert_eq!(request_authority(&local), Some("127.0.0.1:3000"));
        assert!(!cookie_must_be_secure(request_authority(&local)));
        let public = request(&[("spin-full-url", "https://fleet.example.com/admin/login?x=1")]);
        assert_eq!(request_authority(&public), Some("fleet.example.com"));
        assert!(cookie_must_be_secure(request_authority(&public)));
        // A client-sent spin-full-url comes first in Spin; the runtime's own is the last one.
        let forged = request(&[
            ("spin-full-url", "http://localhost/forged"),
            ("spin-full-url", "https://fleet.example.com/admin/login"),
        ]);
        assert_eq!(request_authority(&forged), Some("fleet.example.com"));
        // spin-full-url beats Host; Host is only a fallback outside a Spin runtime.
        let both = request(&[
            ("host", "127.0.0.1:3000"),
            ("spin-full-url", "https://fleet.example.com/admin"),
        ]);
        assert_eq!(request_authority(&both), Some("fleet.example.com"));
        let native = request(&[("host", "127.0.0.1:3000")]);
        assert_eq!(request_authority(&native), Some("127.0.0.1:3000"));
        assert_eq!(request_authority(&request(&[])), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_off_loopback() {
        let c = session_cookie("v", cookie_must_be_secure(Some("fleet.example.com")));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("; Secure"));
        assert!(!cookie_must_be_secure(Some("127.0.0.1:3000")));
        assert!(!cookie_must_be_secure(Some("localhost")));
        assert!(!cookie_must_be_secure(Some("[::1]:3000")));
        assert!(cookie_must_be_secure(None));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
