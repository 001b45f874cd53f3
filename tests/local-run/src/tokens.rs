//! Per-run secrets: the webhook secret and the admin token are random unless the operator gives them.

use fly_api::Secret;

/// 244 random bits as 64 lowercase hex characters (two v4 UUIDs from the OS RNG, version bits removed).
pub fn random_token() -> Secret<String> {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    Secret::new(format!("{a}{b}"))
}

/// The given value, or a fresh random one when it is absent or blank.
pub fn given_or_random(given: Option<String>) -> Secret<String> {
    match given {
        Some(value) if !value.trim().is_empty() => Secret::new(value),
        _ => random_token(),
    }
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
    fn a_given_token_wins_and_a_blank_one_does_not() {
        assert_eq!(given_or_random(Some("s3cret".into())).expose(), "s3cret");
        assert_eq!(given_or_random(Some("  ".into())).expose().len(), 64);
    }
}
