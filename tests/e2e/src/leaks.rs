//! The secret-leak scanner of suite 4: looks for each known secret, raw and base64-encoded (standard and
//! URL-safe alphabets, at every byte alignment), in every captured text.

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with `=` padding in the given alphabet.
pub fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What a secret looks like once encoded: raw, and the base64 characters that depend only on the secret
/// whatever bytes surround it (so `base64("user:" + secret)` is found too).
pub fn forms(secret: &str) -> Vec<(String, String)> {
    let mut out = vec![("raw".to_string(), secret.to_string())];
    for (name, alphabet) in [("base64", STANDARD), ("base64url", URL_SAFE)] {
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = base64(&bytes, alphabet);
            let encoded = encoded.trim_end_matches('=');
            // Drop the characters shared with the prefix and the last (possibly partial) one.
            let start = if offset == 0 { 0 } else { 4 };
            let end = encoded.len().saturating_sub(1);
            let needle = &encoded[start..end];
            // The two alphabets agree on most inputs; one hit per place is enough.
            if end > start + 8 && !out.iter().any(|(_, known)| known == needle) {
                out.push((format!("{name}@{offset}"), needle.to_string()));
            }
        }
    }
    out
}

/// One secret found somewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub secret: String,
    pub form: String,
    pub place: String,
}

/// Every (secret, form) found in every `(place, text)`.
pub fn scan(secrets: &[(String, String)], texts: &[(String, String)]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (name, value) in secrets {
        assert!(value.len() >= 8, "secret {name} is too short to scan for");
        for (form, needle) in forms(value) {
            for (place, text) in texts {
                if text.contains(&needle) {
                    hits.push(Hit {
                        secret: name.clone(),
                        form: form.clone(),
                        place: place.clone(),
                    });
                }
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_reference_vectors() {
        assert_eq!(base64(b"foobar", STANDARD), "Zm9vYmFy");
        assert_eq!(base64(b"fo", STANDARD), "Zm8=");
        assert_eq!(base64(&[0xfb, 0xff], URL_SAFE), "-_8=");
    }

    #[test]
    fn finds_secrets_raw_and_encoded_at_any_alignment() {
        let secrets = vec![("token".to_string(), "s3cr3t-value-42".to_string())];
        for prefix in ["", "u:", "ab:"] {
            let encoded = base64(format!("{prefix}s3cr3t-value-42!").as_bytes(), URL_SAFE);
            let texts = vec![("log".to_string(), format!("auth {encoded} end"))];
            assert_eq!(scan(&secrets, &texts).len(), 1, "{prefix:?}");
        }
        let raw = vec![("body".to_string(), "xx s3cr3t-value-42 yy".to_string())];
        assert_eq!(scan(&secrets, &raw)[0].form, "raw");
        let clean = vec![("body".to_string(), "nothing to see".to_string())];
        assert!(scan(&secrets, &clean).is_empty());
    }
}
