//! Admin authentication: the admin token as `Authorization: Bearer`, or a session cookie (see `session.rs`).
//!
//! * Session cookie: HttpOnly, SameSite=Strict, Path=/admin, Secure unless the page is served from a loopback
//!   host; it is live while its server-side session is (logout and "sign out everywhere" revoke it).
//! * CSRF token: `hex hmac-sha256(token, "csrf|<cookie value>")`, sent as `X-CSRF-Token` on state-changing
//!   requests that authenticate with the cookie; a stolen CSRF token is useless without the HttpOnly cookie it
//!   was derived from.
//!
//! Every secret comparison is constant time; failures never say which part was wrong. Throttling of failed
//! password attempts is the caller's (`login.rs`).

use fleet_http::auth::constant_time_eq;
use fleet_http::ApiError;

use crate::http::AdminRequest;
use crate::session::{mac_hex, session_id, SESSION_TTL_SECS};

pub const SESSION_COOKIE: &str = "fleet_admin_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

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
/// token (and, when the browser sends `Origin`, the same origin). `session_live` asks the store whether a
/// session id (from a cookie minted with `token`) is live.
pub fn authenticate(
    req: &AdminRequest,
    token: &str,
    changes_state: bool,
    session_live: &mut dyn FnMut(&str) -> Result<bool, ApiError>,
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
    let session = session_from_cookies(req.header("cookie")).ok_or_else(ApiError::unauthorized)?;
    let id = session_id(token, session).ok_or_else(ApiError::unauthorized)?;
    if !session_live(id)? {
        return Err(ApiError::unauthorized());
    }
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

    fn live(_: &str) -> Result<bool, ApiError> {
        Ok(true)
    }

    fn authenticate(
        req: &AdminRequest,
        token: &str,
        changes_state: bool,
    ) -> Result<Principal, ApiError> {
        super::authenticate(req, token, changes_state, &mut live)
    }

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
        assert_eq!(authenticate(&ok, TOKEN, true), Ok(Principal::Bearer));
        for bad in [
            "Bearer admin-t0ke",
            "Bearer admin-t0kenX",
            "Basic admin-t0ken",
            "Bearer",
            "",
        ] {
            let req = request(&[("authorization", bad)]);
            assert_eq!(
                authenticate(&req, TOKEN, false).unwrap_err().status,
                401,
                "{bad}"
            );
        }
        assert_eq!(
            authenticate(&request(&[]), TOKEN, false)
                .unwrap_err()
                .status,
            401
        );
    }

    #[test]
    fn a_revoked_or_forged_session_cookie_is_refused() {
        let id = crate::session::new_session_id();
        let cookie = format!(
            "{SESSION_COOKIE}={}",
            crate::session::cookie_value(TOKEN, &id)
        );
        let req = request(&[("cookie", &cookie)]);
        let mut revoked = |_: &str| Ok(false);
        assert_eq!(
            super::authenticate(&req, TOKEN, false, &mut revoked)
                .unwrap_err()
                .status,
            401
        );
        let mut asked = Vec::new();
        let mut record = |id: &str| {
            asked.push(id.to_string());
            Ok(true)
        };
        assert!(super::authenticate(&req, TOKEN, false, &mut record).is_ok());
        assert_eq!(asked, [id]);
        let forged = request(&[("cookie", &format!("{SESSION_COOKIE}=abc.00"))]);
        assert_eq!(authenticate(&forged, TOKEN, false).unwrap_err().status, 401);
    }

    #[test]
    fn state_changes_with_a_cookie_need_the_csrf_token() {
        let session = crate::session::cookie_value(TOKEN, "n2");
        let cookie = format!("theme=dark; {SESSION_COOKIE}={session}");
        let reads = request(&[("cookie", &cookie)]);
        let principal = authenticate(&reads, TOKEN, false).unwrap();
        assert_eq!(
            principal,
            Principal::Session {
                csrf_token: csrf_token(TOKEN, &session)
            }
        );
        assert_eq!(
            authenticate(&reads, TOKEN, true).unwrap_err().error,
            "csrf_required"
        );
        let wrong = request(&[("cookie", &cookie), ("x-csrf-token", "00")]);
        assert_eq!(
            authenticate(&wrong, TOKEN, true).unwrap_err().error,
            "csrf_invalid"
        );
        let csrf = csrf_token(TOKEN, &session);
        let right = request(&[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(authenticate(&right, TOKEN, true).is_ok());
        let foreign = request(&[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert_eq!(
            authenticate(&foreign, TOKEN, true).unwrap_err().error,
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
