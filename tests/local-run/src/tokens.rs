//! Per-run secrets: the webhook secret and the admin token are random unless the operator gives them.

use fly_api::Secret;

/// 256 random bits as 64 lowercase hex characters: the random nibbles of three v4 UUIDs from the OS RNG
/// (the version nibble and the variant nibble of each are left out).
pub fn random_token() -> Secret<String> {
    let mut hex = String::with_capacity(64);
    while hex.len() < 64 {
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        hex.extend(
            uuid.chars()
                .enumerate()
                .filter(|(i, _)| *i != 12 && *i != 16)
                .map(|(_, c)| c),
        );
    }
    hex.truncate(64);
    Secret::new(hex)
}

/// The given value, or a fresh random one when it is absent or blank.
pub fn given_or_random(given: Option<String>) -> Secret<String> {
    match given {
        Some(value) if !value.trim().is_empty() => Secret::new(value),
        _ => random_token(),
    }
}

/// [`given_or_random`] for Fleet's own secrets (admin token, webhook secret): a given value must hold at
/// least 32 random bytes, as the components require; `name` is the environment variable, for the error.
pub fn checked_or_random(name: &str, given: Option<String>) -> anyhow::Result<Secret<String>> {
    let secret = given_or_random(given);
    fleet_http::secret_strength::check_secret(secret.expose())
        .map_err(|why| anyhow::anyhow!("{name} {why}"))?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_long_distinct_and_hidden_in_debug() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "***");
    }

    #[test]
    fn a_given_token_wins_a_blank_one_does_not_and_a_weak_one_is_refused() {
        let strong = random_token().expose().clone();
        assert_eq!(
            checked_or_random("FLEET_ADMIN_TOKEN", Some(strong.clone()))
                .unwrap()
                .expose(),
            &strong
        );
        assert_eq!(
            checked_or_random("FLEET_ADMIN_TOKEN", Some("  ".into()))
                .unwrap()
                .expose()
                .len(),
            64
        );
        let error = checked_or_random("FLEET_ADMIN_TOKEN", Some("s3cret".into())).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("FLEET_ADMIN_TOKEN must be at least 32 random bytes"));
        assert!(!error.to_string().contains("s3cret"));
    }

    #[test]
    fn random_tokens_pass_fleets_entropy_floor() {
        for _ in 0..100 {
            assert_eq!(
                fleet_http::secret_strength::check_secret(random_token().expose()),
                Ok(())
            );
        }
    }
}
