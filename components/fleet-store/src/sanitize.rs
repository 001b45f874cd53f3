//! Keeping secrets out of stored errors, and the retry backoff.

use std::time::Duration;

/// Longest error text stored in `error_message` / `error_details`.
pub const MAX_ERROR_LEN: usize = 500;

/// Makes an error message safe to store and show: credentials in URLs, bearer tokens and `key=value`
/// secrets are replaced with `***`, control characters become spaces, and the text is cut to
/// [`MAX_ERROR_LEN`] characters.
pub fn sanitize_error(message: &str) -> String {
    let cleaned: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let redacted = redact_url_passwords(&redact_after_markers(&cleaned));
    let mut out: String = redacted.chars().take(MAX_ERROR_LEN).collect();
    if redacted.chars().count() > MAX_ERROR_LEN {
        out.push('…');
    }
    out
}

/// Words after which the next token is a secret.
const MARKERS: &[&str] = &[
    "bearer ",
    "flyv1 ",
    "fm1_",
    "fm2_",
    "password=",
    "password:",
    "secret=",
    "token=",
    "apikey=",
    "api_key=",
    "authorization: ",
];

fn redact_after_markers(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hit = MARKERS.iter().find(|m| lower[i..].starts_with(*m));
        match hit {
            Some(marker) => {
                let start = i + marker.len();
                out.push_str(&text[i..start]);
                // A header value may hold a scheme and a token ("Bearer x"): take it whole.
                let whole_value = marker.ends_with(": ");
                let end = text[start..]
                    .find(|c: char| {
                        (c.is_whitespace() && !whole_value)
                            || matches!(c, '&' | ';' | ',' | '"' | '\'')
                    })
                    .map_or(text.len(), |n| start + n);
                if end > start {
                    out.push_str("***");
                }
                i = end;
            }
            None => {
                let c = text[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// `scheme://user:password@host` → `scheme://user:***@host`.
fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (before, after) = rest.split_at(pos + 3);
        out.push_str(before);
        let authority_end = after
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon + 1]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Shortest and longest retry delays.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
pub const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// Delay before retry number `attempts` (1 = first retry): exponential from 5 s, capped at 1 h, with
/// "equal jitter" (half fixed, half scaled by `unit_random` in [0, 1)) so failing users spread out.
pub fn backoff_delay(attempts: u32, unit_random: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let full = BACKOFF_BASE
        .saturating_mul(1u32 << exponent)
        .min(BACKOFF_CAP);
    let r = if unit_random.is_finite() {
        unit_random.clamp(0.0, 1.0)
    } else {
        0.0
    };
    full / 2 + full.mul_f64(r / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let raw = "connect postgres://fleet_scr_1:hunter2@db:5432/x failed; Authorization: Bearer abc.def \
                   password=pw123&x=1 token=FlyV1 fm2_xyz";
        let clean = sanitize_error(raw);
        for secret in ["hunter2", "abc.def", "pw123", "fm2_xyz"] {
            assert!(!clean.contains(secret), "{secret} leaked in {clean}");
        }
        assert!(
            clean.contains("postgres://fleet_scr_1:***@db:5432/x"),
            "{clean}"
        );
    }

    #[test]
    fn errors_are_cut_and_flattened() {
        let long = "x\n".repeat(1000);
        let clean = sanitize_error(&long);
        assert!(!clean.contains('\n'));
        assert_eq!(clean.chars().count(), MAX_ERROR_LEN + 1);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_delay(1, 0.0), Duration::from_millis(2500));
        assert_eq!(backoff_delay(1, 1.0), Duration::from_secs(5));
        assert_eq!(backoff_delay(3, 1.0), Duration::from_secs(20));
        assert_eq!(backoff_delay(30, 1.0), BACKOFF_CAP);
        assert!(backoff_delay(30, 0.0) >= BACKOFF_CAP / 2);
        assert_eq!(backoff_delay(2, f64::NAN), Duration::from_secs(5));
    }
}
