//! The entropy floor of Fleet's own secrets (`admin_token`, `webhook_secret`, `webhook_bearer_token`): at least
//! 32 random bytes, as `openssl rand -hex 32` (64 hex characters) or `openssl rand -base64 32` (43+ base64 or
//! base64url characters) gives them. Length is measured in what the encoding carries, so 32 hex characters
//! (16 bytes) are refused; a value with few distinct characters (`aaaa...`) is refused whatever its length.

/// Why a secret is refused, for a configuration error that names the variable and never the value.
pub const REQUIREMENT: &str =
    "must be at least 32 random bytes: 64 hex characters (openssl rand -hex 32) or \
     43 base64 characters (openssl rand -base64 32)";

const MIN_BYTES: usize = 32;
const MIN_DISTINCT: usize = 10;

/// `Err(REQUIREMENT)` when `value` cannot hold 32 random bytes.
pub fn check_secret(value: &str) -> Result<(), &'static str> {
    let v = value.trim();
    let is_hex = v.bytes().all(|b| b.is_ascii_hexdigit());
    let is_base64 = v
        .trim_end_matches('=')
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'));
    let bits = if is_hex {
        v.len() * 4
    } else if is_base64 {
        v.trim_end_matches('=').len() * 6
    } else {
        v.len() * 8
    };
    let mut distinct: Vec<char> = v.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if bits < MIN_BYTES * 8 || distinct.len() < MIN_DISTINCT {
        return Err(REQUIREMENT);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_pass() {
        for ok in [
            "7d1f0c2a9b4e6a8c0d2f4b6e8a0c2e4f6a8b0d2e4c6a8e0b2d4f6a8c0e2b4d6f",
            "q83HkX0vZ0l3mJq7nS2wV1yT9uB4cD6eF8gH0iJ2kL4=",
            "q83HkX0vZ0l3mJq7nS2wV1yT9uB4cD6eF8gH0iJ2kL4",
            "Yq-3_HkX0vZ0l3mJq7nS2wV1yT9uB4cD6eF8gH0iJ2k",
            "correct horse battery staple, forty bytes!",
        ] {
            assert_eq!(check_secret(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn short_or_low_variety_secrets_are_refused() {
        for weak in [
            "",
            "s",
            "whsec-e2e-7d1f0c2a9b",
            "admin-e2e-3c9a51f0e2",
            // 16 bytes as hex, 31 bytes of base64 text.
            "7d1f0c2a9b4e6a8c0d2f4b6e8a0c2e4f",
            "q83HkX0vZ0l3mJq7nS2wV1yT9uB4cD6eF8gH0iJ2k",
            &"a".repeat(200),
            &"ab".repeat(100),
        ] {
            assert_eq!(check_secret(weak), Err(REQUIREMENT), "{weak}");
        }
    }
}
