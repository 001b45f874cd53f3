//! Webhook authentication. Hints are signed: `X-Fleet-Signature: t=<unix>,v1=<hex>` where the hex is
//! HMAC-SHA256(signing key, "<t>.<body>") and `t` is within five minutes of now. The signing key is never sent
//! (Postgres signs inside the database, migration 0008). `Authorization: Bearer <token>` is accepted only with a
//! separate, optional bearer token (for callers that cannot sign); without one, bearer requests are refused.
//!
//! A valid signature is [`Verified::Signed`]: the caller must still refuse a `(t, mac)` pair it has seen before
//! (the replay guard in the store), since a captured request verifies again within the window.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The signature header's name (lower case, as HTTP/2 and the `http` crate spell it).
pub const SIGNATURE_HEADER: &str = "x-fleet-signature";
/// How far a signature's timestamp may be from now, either way.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// The keys a webhook route accepts.
#[derive(Clone, Copy)]
pub struct WebhookKeys<'a> {
    /// The HMAC key (`webhook_secret`).
    pub signing: &'a str,
    /// The bearer token (`webhook_bearer_token`); `None` or empty: bearer authentication is off.
    pub bearer: Option<&'a str>,
}

/// How a request proved itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    Bearer,
    /// A fresh, valid signature; `(t, mac)` must be accepted once only.
    Signed {
        t: i64,
        mac: [u8; 32],
    },
}

impl Verified {
    /// The replay guard's key for a signed request: `(t, hex mac)`.
    pub fn replay_key(&self) -> Option<(i64, String)> {
        match self {
            Verified::Bearer => None,
            Verified::Signed { t, mac } => Some((*t, hex::encode(mac))),
        }
    }
}

/// Why a request was refused. Kept for logs and tests; the response never says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthRejected {
    NoCredentials,
    WrongBearer,
    BearerDisabled,
    MalformedSignature,
    StaleSignature,
    WrongSignature,
    NoSecretConfigured,
}

/// Checks a request's credentials against `keys`. `now_unix` is the current time in seconds.
pub fn verify_request(
    keys: WebhookKeys<'_>,
    authorization: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<Verified, AuthRejected> {
    if keys.signing.is_empty() {
        return Err(AuthRejected::NoSecretConfigured);
    }
    if let Some(header) = signature {
        return verify_signature(keys.signing, header, body, now_unix);
    }
    let Some(token) = authorization.and_then(bearer_token) else {
        return Err(AuthRejected::NoCredentials);
    };
    match keys.bearer.filter(|b| !b.is_empty()) {
        None => Err(AuthRejected::BearerDisabled),
        Some(expected) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => {
            Ok(Verified::Bearer)
        }
        Some(_) => Err(AuthRejected::WrongBearer),
    }
}

/// The `X-Fleet-Signature` value for `body` at time `t`, for callers such as schedulers and tests.
pub fn sign_request(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<Verified, AuthRejected> {
    let (t, given) = parse_signature(header).ok_or(AuthRejected::MalformedSignature)?;
    if now_unix.abs_diff(t) > SIGNATURE_TOLERANCE_SECS.unsigned_abs() {
        return Err(AuthRejected::StaleSignature);
    }
    let expected = mac(secret, t, body);
    if bool::from(expected.ct_eq(&given)) {
        Ok(Verified::Signed { t, mac: given })
    } else {
        Err(AuthRejected::WrongSignature)
    }
}

/// Parses `t=<unix>,v1=<hex>` (parts in any order, surrounding spaces allowed).
fn parse_signature(header: &str) -> Option<(i64, [u8; 32])> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=')? {
            ("t", value) => t = Some(value.parse::<i64>().ok()?),
            ("v1", value) => v1 = Some(hex::decode(value).ok()?),
            _ => {}
        }
    }
    let v1: [u8; 32] = v1?.try_into().ok()?;
    Some((t?, v1))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Compares digests so neither the content nor the length of the secret leaks through timing.
pub fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    Sha256::digest(given)
        .ct_eq(&Sha256::digest(expected))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec-test-1234567890";
    const BEARER: &str = "bearer-test-0987654321";
    const NOW: i64 = 1_800_000_000;
    const BOTH: WebhookKeys<'static> = WebhookKeys {
        signing: SECRET,
        bearer: Some(BEARER),
    };
    const SIGNING_ONLY: WebhookKeys<'static> = WebhookKeys {
        signing: SECRET,
        bearer: None,
    };

    #[test]
    fn bearer_with_the_bearer_token_is_accepted_and_others_refused() {
        let ok = format!("Bearer {BEARER}");
        assert_eq!(
            verify_request(BOTH, Some(&ok), None, b"{}", NOW),
            Ok(Verified::Bearer)
        );
        assert_eq!(
            verify_request(BOTH, Some(&format!("bearer {BEARER}")), None, b"{}", NOW),
            Ok(Verified::Bearer)
        );
        assert_eq!(
            verify_request(BOTH, Some(&ok[..ok.len() - 1]), None, b"{}", NOW),
            Err(AuthRejected::WrongBearer)
        );
        assert_eq!(
            verify_request(BOTH, Some(&format!("Basic {BEARER}")), None, b"{}", NOW),
            Err(AuthRejected::NoCredentials)
        );
        assert_eq!(
            verify_request(BOTH, None, None, b"{}", NOW),
            Err(AuthRejected::NoCredentials)
        );
    }

    #[test]
    fn signing_key_sent_as_bearer_is_refused() {
        let leaked = format!("Bearer {SECRET}");
        assert_eq!(
            verify_request(BOTH, Some(&leaked), None, b"{}", NOW),
            Err(AuthRejected::WrongBearer)
        );
        assert_eq!(
            verify_request(SIGNING_ONLY, Some(&leaked), None, b"{}", NOW),
            Err(AuthRejected::BearerDisabled)
        );
        let empty = WebhookKeys {
            signing: SECRET,
            bearer: Some(""),
        };
        assert_eq!(
            verify_request(empty, Some("Bearer x"), None, b"{}", NOW),
            Err(AuthRejected::BearerDisabled)
        );
    }

    #[test]
    fn signature_within_tolerance_is_accepted() {
        let body = br#"{"user_id":"x"}"#;
        for skew in [-SIGNATURE_TOLERANCE_SECS, 0, SIGNATURE_TOLERANCE_SECS] {
            let header = sign_request(SECRET, NOW + skew, body);
            let verified = verify_request(SIGNING_ONLY, None, Some(&header), body, NOW).unwrap();
            let (t, mac) = verified.replay_key().unwrap();
            assert_eq!(t, NOW + skew);
            assert_eq!(header, format!("t={t},v1={mac}"));
        }
    }

    #[test]
    fn replayed_signature_outside_tolerance_is_refused() {
        let body = b"{}";
        for skew in [-SIGNATURE_TOLERANCE_SECS - 1, SIGNATURE_TOLERANCE_SECS + 1] {
            let header = sign_request(SECRET, NOW + skew, body);
            assert_eq!(
                verify_request(SIGNING_ONLY, None, Some(&header), body, NOW),
                Err(AuthRejected::StaleSignature)
            );
        }
    }

    #[test]
    fn signature_with_an_extreme_timestamp_is_refused_without_overflow() {
        for t in [i64::MIN, i64::MIN + 1, i64::MAX, -NOW] {
            let header = sign_request(SECRET, t, b"{}");
            assert_eq!(
                verify_request(SIGNING_ONLY, None, Some(&header), b"{}", NOW),
                Err(AuthRejected::StaleSignature),
                "{t}"
            );
        }
        let header = sign_request(SECRET, i64::MAX, b"{}");
        assert_eq!(
            verify_request(SIGNING_ONLY, None, Some(&header), b"{}", i64::MIN),
            Err(AuthRejected::StaleSignature)
        );
    }

    #[test]
    fn signature_over_another_body_or_secret_is_refused() {
        let header = sign_request(SECRET, NOW, b"{\"a\":1}");
        assert_eq!(
            verify_request(SIGNING_ONLY, None, Some(&header), b"{\"a\":2}", NOW),
            Err(AuthRejected::WrongSignature)
        );
        let forged = sign_request(BEARER, NOW, b"{}");
        assert_eq!(
            verify_request(BOTH, None, Some(&forged), b"{}", NOW),
            Err(AuthRejected::WrongSignature)
        );
    }

    #[test]
    fn malformed_signatures_are_refused() {
        for header in ["", "t=abc,v1=00", "v1=zz", "t=1", "t=1,v1=abcd", "garbage"] {
            assert_eq!(
                verify_request(SIGNING_ONLY, None, Some(header), b"{}", NOW),
                Err(AuthRejected::MalformedSignature),
                "{header}"
            );
        }
    }

    #[test]
    fn an_empty_configured_secret_accepts_nothing() {
        let keys = WebhookKeys {
            signing: "",
            bearer: Some(""),
        };
        assert_eq!(
            verify_request(keys, Some("Bearer "), None, b"", NOW),
            Err(AuthRejected::NoSecretConfigured)
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic_and_never_pass(auth in ".{0,80}", sig in ".{0,120}", body in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let result = verify_request(BOTH, Some(&auth), Some(&sig), &body, NOW);
            proptest::prop_assert!(result.is_err());
        }
    }
}
