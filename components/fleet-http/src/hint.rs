//! Parsing of "look at this user again" hints: Supabase Database Webhook payloads for `user_subscriptions`
//! and the seed design's `{user_id, tier}` / `{user_id, reason}` bodies.
//!
//! A hint only names a user. Its tier, status or record contents are never trusted: the handler reads the
//! entitlement from the database, so stale, duplicated or reordered webhooks are harmless.

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

pub use crate::body::MAX_BODY_BYTES;
use crate::ApiError;

const SUBSCRIPTIONS_TABLE: &str = "user_subscriptions";

/// Where a hint came from, kept for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HintSource {
    /// A Supabase Database Webhook: INSERT, UPDATE or DELETE.
    DatabaseWebhook { operation: String },
    /// A direct call with `{user_id, tier}` or `{user_id, reason}`.
    Direct { reason: Option<String> },
}

/// A validated request to reconcile one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub user_id: Uuid,
    pub source: HintSource,
    /// The tier the hint names (`tier`, or the webhook row's `tier`): recorded on events, never trusted.
    pub tier: Option<String>,
    /// Why it was sent (`reason`, or `subscription_<operation>` for a database webhook): recorded on events.
    pub reason: Option<String>,
}

/// Longest tier or reason text a hint keeps.
const MAX_NOTE: usize = 200;

fn note(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(|s| {
        s.chars()
            .filter(|c| !c.is_control())
            .take(MAX_NOTE)
            .collect()
    })
}

#[derive(Deserialize)]
struct WebhookPayload {
    #[serde(rename = "type")]
    operation: String,
    table: String,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    record: Option<Value>,
    #[serde(default)]
    old_record: Option<Value>,
}

/// Parses and validates a hint body. Unknown fields are ignored.
pub fn parse_hint(body: &[u8]) -> Result<Hint, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}"))
    })?;
    let Value::Object(object) = &value else {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the body must be a JSON object",
        ));
    };
    if object.contains_key("table") || object.contains_key("type") {
        parse_webhook(value)
    } else {
        let user_id = user_id_field(object.get("user_id"))?;
        let reason = ["reason", "tier"]
            .iter()
            .find_map(|key| object.get(*key).and_then(Value::as_str))
            .map(|s| s.chars().take(MAX_NOTE).collect());
        Ok(Hint {
            user_id,
            source: HintSource::Direct { reason },
            tier: note(object.get("tier")),
            reason: note(object.get("reason")),
        })
    }
}

fn parse_webhook(value: Value) -> Result<Hint, ApiError> {
    let payload: WebhookPayload = serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request(
            "invalid_payload",
            format!("not a database webhook payload: {e}"),
        )
    })?;
    if payload.table != SUBSCRIPTIONS_TABLE
        || payload.schema.as_deref().is_some_and(|s| s != "public")
    {
        return Err(ApiError::bad_request(
            "unknown_table",
            format!("only public.{SUBSCRIPTIONS_TABLE} changes are accepted"),
        ));
    }
    let operation = payload.operation.to_ascii_uppercase();
    let record = match operation.as_str() {
        "INSERT" | "UPDATE" => payload.record.filter(|r| !r.is_null()),
        "DELETE" => payload.old_record.filter(|r| !r.is_null()),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_payload",
                "type must be INSERT, UPDATE or DELETE",
            ))
        }
    };
    let record = record.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_payload",
            format!("a {operation} payload needs the subscription row"),
        )
    })?;
    let user_id = user_id_field(record.get("user_id"))?;
    let tier = note(record.get("tier"));
    let reason = Some(format!("subscription_{}", operation.to_ascii_lowercase()));
    Ok(Hint {
        user_id,
        source: HintSource::DatabaseWebhook { operation },
        tier,
        reason,
    })
}

fn user_id_field(value: Option<&Value>) -> Result<Uuid, ApiError> {
    match value {
        None | Some(Value::Null) => Err(ApiError::bad_request(
            "missing_user_id",
            "user_id is required",
        )),
        Some(Value::String(text)) => parse_user_id(text),
        Some(_) => Err(ApiError::bad_request(
            "invalid_user_id",
            "user_id must be a uuid string",
        )),
    }
}

/// Parses a user id in the hyphenated form the platform uses.
pub fn parse_user_id(text: &str) -> Result<Uuid, ApiError> {
    // Only the canonical 36-character form: no braces, URNs or bare hex, which Postgres would also refuse.
    let looks_canonical = text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4;
    match Uuid::try_parse(text) {
        Ok(id) if looks_canonical => Ok(id),
        _ => Err(ApiError::bad_request(
            "invalid_user_id",
            "user_id must be a canonical uuid",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: &str = "5b0d8c6e-2f7a-4d51-9a39-0f6a8c1d2e3f";

    fn parse(value: Value) -> Result<Hint, ApiError> {
        parse_hint(value.to_string().as_bytes())
    }

    #[test]
    fn supabase_insert_update_and_delete_payloads_name_the_user() {
        let row = json!({"user_id": USER, "tier": "pro", "status": "active", "extra": [1, 2]});
        for (operation, record, old) in [
            ("INSERT", row.clone(), Value::Null),
            ("UPDATE", row.clone(), row.clone()),
            ("DELETE", Value::Null, row.clone()),
        ] {
            let hint = parse(
                json!({"type": operation, "table": "user_subscriptions", "schema": "public",
                                    "record": record, "old_record": old, "unknown": true}),
            )
            .unwrap();
            assert_eq!(hint.user_id.to_string(), USER);
            assert_eq!(hint.tier.as_deref(), Some("pro"));
            assert_eq!(
                hint.reason,
                Some(format!("subscription_{}", operation.to_ascii_lowercase()))
            );
            assert_eq!(
                hint.source,
                HintSource::DatabaseWebhook {
                    operation: operation.into()
                }
            );
        }
    }

    #[test]
    fn seed_bodies_are_accepted_and_their_tier_is_only_a_note() {
        let hint = parse(json!({"user_id": USER, "tier": "elite"})).unwrap();
        assert_eq!(
            hint.source,
            HintSource::Direct {
                reason: Some("elite".into())
            }
        );
        assert_eq!(hint.tier.as_deref(), Some("elite"));
        let hint =
            parse(json!({"user_id": USER, "reason": "subscription_cancelled", "tier": 7})).unwrap();
        assert_eq!(hint.user_id.to_string(), USER);
        assert_eq!(hint.reason.as_deref(), Some("subscription_cancelled"));
        assert_eq!(hint.tier, None);
    }

    #[test]
    fn bad_input_is_a_400_with_a_specific_code() {
        let cases = [
            (b"{not json".to_vec(), "malformed_json"),
            (b"[1,2]".to_vec(), "malformed_json"),
            (b"".to_vec(), "malformed_json"),
            (json!({}).to_string().into_bytes(), "missing_user_id"),
            (json!({"user_id": null}).to_string().into_bytes(), "missing_user_id"),
            (json!({"user_id": 42}).to_string().into_bytes(), "invalid_user_id"),
            (json!({"user_id": "not-a-uuid"}).to_string().into_bytes(), "invalid_user_id"),
            (json!({"user_id": "5b0d8c6e2f7a4d519a390f6a8c1d2e3f"}).to_string().into_bytes(), "invalid_user_id"),
            (json!({"user_id": "'; DROP TABLE user_fly_apps; --"}).to_string().into_bytes(), "invalid_user_id"),
            (json!({"type": "INSERT", "table": "traders", "record": {"user_id": USER}}).to_string().into_bytes(), "unknown_table"),
            (json!({"type": "INSERT", "table": "user_subscriptions", "schema": "auth", "record": {"user_id": USER}}).to_string().into_bytes(), "unknown_table"),
            (json!({"type": "TRUNCATE", "table": "user_subscriptions"}).to_string().into_bytes(), "invalid_payload"),
            (json!({"type": "DELETE", "table": "user_subscriptions", "record": {"user_id": USER}}).to_string().into_bytes(), "invalid_payload"),
            (json!({"type": 7, "table": "user_subscriptions"}).to_string().into_bytes(), "invalid_payload"),
        ];
        for (body, code) in cases {
            let err = parse_hint(&body).unwrap_err();
            assert_eq!(
                (err.status, err.error),
                (400, code),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        let err = parse_hint(&body).unwrap_err();
        assert_eq!((err.status, err.error), (413, "payload_too_large"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Err(err) = parse_hint(&body) {
                proptest::prop_assert!((400..500).contains(&err.status));
            }
        }

        #[test]
        fn arbitrary_user_id_strings_parse_only_when_canonical(text in "[0-9a-fA-F-]{0,40}") {
            let parsed = parse(json!({"user_id": text.clone()}));
            if let Ok(hint) = parsed {
                proptest::prop_assert_eq!(hint.user_id.to_string(), text.to_ascii_lowercase());
            }
        }
    }
}
