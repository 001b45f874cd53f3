//! Admin session cookies. A login creates a server-side session (fleet_admin_sessions, keyed by the SHA-256 of
//! a random id) and the cookie `<id>.<hex hmac-sha256(admin token, "session|<id>")>`: the MAC ties the cookie
//! to the current admin token (rotating the token ends every session) and the row lets logout and "sign out
//! everywhere" revoke it before its 12 h are up.

use fleet_http::auth::constant_time_eq;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a login lasts.
pub const SESSION_TTL_SECS: i64 = 12 * 60 * 60;

pub(crate) fn mac_hex(token: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A new random session id (244 random bits from the OS, as hex).
pub fn new_session_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The cookie value for session `id`.
pub fn cookie_value(token: &str, id: &str) -> String {
    format!("{id}.{}", mac_hex(token, &format!("session|{id}")))
}

/// The session id of a cookie value minted with `token`, or `None` (forged, or minted with another token).
/// Whether the session is still live is the store's to say.
pub fn session_id<'a>(token: &str, value: &'a str) -> Option<&'a str> {
    let (id, mac) = value.split_once('.')?;
    if id.is_empty() || id.len() > 128 {
        return None;
    }
    let expected = mac_hex(token, &format!("session|{id}"));
    constant_time_eq(mac.as_bytes(), expected.as_bytes()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "admin-t0ken";

    #[test]
    fn cookie_round_trips_and_is_bound_to_the_token() {
        let id = new_session_id();
        assert_eq!(id.len(), 64);
        assert_ne!(id, new_session_id());
        let cookie = cookie_value(TOKEN, &id);
        assert_eq!(session_id(TOKEN, &cookie), Some(id.as_str()));
        assert_eq!(session_id("other-token", &cookie), None);
        let forged = format!("{}.{}", new_session_id(), cookie.split_once('.').unwrap().1);
        assert_eq!(session_id(TOKEN, &forged), None);
        for garbage in [
            "",
            ".",
            "garbage",
            "a.b.c",
            &format!(".{}", mac_hex(TOKEN, "session|")),
        ] {
            assert_eq!(session_id(TOKEN, garbage), None, "{garbage}");
        }
    }
}
