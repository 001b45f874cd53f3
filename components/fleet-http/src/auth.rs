//! Webhook authentication: `Authorization: Bearer <secret>`, or `X-Fleet-Signature: t=<unix>,v1=<hex>` where
//! the hex is HMAC-SHA256(secret, "<t>.<body>") and `t` is within five minutes of now.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The signature header's name (lower case, as HTTP/2 and the `http` crate spell it).
pub const SIGNATURE_HEADER: &str = "x-fleet-signature";
/// How far a signature's timestamp may be from now, either way.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Why a request was refused. Kept for logs and tests; the response never says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthRejected {
    NoCredentials,
    WrongBearer,
    MalformedSignature,
    StaleSignature,
    WrongSignature,
    NoSecretConfigured,
}

/// Checks a request's credentials against `secret`. `now_unix` is the current time in seconds.
pub fn verify_request(
    secret: &str,
    authorization: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), AuthRejected> {
    if secret.is_empty() {
        return Err(AuthRejected::NoSecretConfigured);
    }
    if let Some(token) = authorization.and_then(bearer_token) {
        return if constant_time_eq(token.as_bytes(), secret.as_bytes()) {
            Ok(())
        } else {
            Err(AuthRejected::WrongBearer)
        };
    }
    match signature {
        Some(header) => verify_signature(secret, header, body, now_unix),
        None => Err(AuthRejected::NoCredentials),
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
) -> Result<(), AuthRejected> {
    let (t, given) = parse_signature(header).ok_or(AuthRejected::MalformedSignature)?;
    if (now_unix - t).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(AuthRejected::StaleSignature);
    }
    if bool::from(mac(secret, t, body).as_slice().ct_eq(&given)) {
        Ok(())
    } else {
        Err(AuthRejected::WrongSignature)
    }
}

/// Parses `t=<unix>,v1=<hex>` (parts in any order, surrounding spaces allowed).
fn parse_signature(header: &str) -> Option<(i64, Vec<u8>)> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=')? {
            ("t", value) => t = Some(value.parse::<i64>().ok()?),
            ("v1", value) => v1 = Some(hex::decode(value).ok()?),
            _ => {}
        }
    }
    let v1 = v1.filter(|digest| digest.len() == 32)?;
    Some((t?, v1))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
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
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn bearer_with_the_secret_is_accepted_and_others_refused() {
        let ok = format!("Bearer {SECRET}");
        assert_eq!(verify_request(SECRET, Some(&ok), None, b"{}", NOW), Ok(()));
        assert_eq!(
            verify_request(
                SECRET,
                Some("bearer whsec-test-1234567890"),
                None,
                b"{}",
                NOW
            ),
            Ok(())
        );
        assert_eq!(
            verify_request(
                SECRET,
                Some("Bearer whsec-test-123456789"),
                None,
                b"{}",
                NOW
            ),
            Err(AuthRejected::WrongBearer)
        );
        assert_eq!(
            verify_request(SECRET, Some(&format!("Basic {SECRET}")), None, b"{}", NOW),
            Err(AuthRejected::NoCredentials)
        );
        assert_eq!(
            verify_request(SECRET, None, None, b"{}", NOW),
            Err(AuthRejected::NoCredentials)
        );
    }

    #[test]
    fn signature_within_tolerance_is_accepted() {
        let body = br#"{"user_id":"x"}"#;
        for skew in [-SIGNATURE_TOLERANCE_SECS, 0, SIGNATURE_TOLERANCE_SECS] {
            let header = sign_request(SECRET, NOW + skew, body);
            assert_eq!(
                verify_request(SECRET, None, Some(&header), body, NOW),
                Ok(())
            );
        }
    }

    #[test]
    fn replayed_signature_outside_tolerance_is_refused() {
        let body = b"{}";
        for skew in [-SIGNATURE_TOLERANCE_SECS - 1, SIGNATURE_TOLERANCE_SECS + 1] {
            let header = sign_request(SECRET, NOW + skew, body);
            assert_eq!(
                verify_request(SECRET, None, Some(&header), body, NOW),
                Err(AuthRejected::StaleSignature)
            );
        }
    }

    #[test]
    fn signature_over_another_body_or_secret_is_refused() {
        let header = sign_request(SECRET, NOW, b"{\"a\":1}");
        assert_eq!(
            verify_request(SECRET, None, Some(&header), b"{\"a\":2}", NOW),
            Err(AuthRejected::WrongSignature)
        );
        let forged = sign_request("another-secret", NOW, b"{}");
        assert_eq!(
            verify_request(SECRET, None, Some(&forged), b"{}", NOW),
            Err(AuthRejected::WrongSignature)
        );
    }

    #[test]
    fn malformed_signatures_are_refused() {
        for header in ["", "t=abc,v1=00", "v1=zz", "t=1", "t=1,v1=abcd", "garbage"] {
            assert_eq!(
                verify_request(SECRET, None, Some(header), b"{}", NOW),
                Err(AuthRejected::MalformedSignature),
                "{header}"
            );
        }
    }

    #[test]
    fn an_empty_configured_secret_accepts_nothing() {
        assert_eq!(
            verify_request("", Some("Bearer "), None, b"", NOW),
            Err(AuthRejected::NoSecretConfigured)
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic_and_never_pass(auth in ".{0,80}", sig in ".{0,120}", body in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let result = verify_request(SECRET, Some(&auth), Some(&sig), &body, NOW);
            proptest::prop_assert!(result.is_err());
        }
    }
}
