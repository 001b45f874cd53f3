//! Recent signals (`GET /admin/api/signals`): the query parameters, one signal as the dashboard shows it, and
//! the trader language the screener runs a trader in, decided the screener's way. Pure; the SQL is in
//! [`crate::queries::recent_signals`].

use fleet_http::ApiError;
use fleet_store::UserId;
use serde::Serialize;

/// Signals returned when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most signals one request returns.
pub const MAX_LIMIT: u32 = 200;
/// The language of a trader whose filter holds no `code`: the screener's declarative filters.
pub const DECLARATIVE: &str = "declarative";
/// `traders.language` when the column is NULL or empty (the platform's column default, as the screener reads it).
pub const PLATFORM_DEFAULT_LANGUAGE: &str = "javascript";

/// `GET /admin/api/signals` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalsQuery {
    pub limit: u32,
    /// Only this user's signals.
    pub user: Option<UserId>,
}

impl Default for SignalsQuery {
    fn default() -> Self {
        SignalsQuery {
            limit: DEFAULT_LIMIT,
            user: None,
        }
    }
}

fn invalid(parameter: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query", format!("{parameter}: {detail}"))
}

impl SignalsQuery {
    /// Parses the query string; unknown parameters and bad values are 400s, empty values mean the default.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut q = SignalsQuery::default();
        for (key, value) in pairs {
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "limit" => {
                    q.limit = match value.parse::<u32>() {
                        Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                        _ => {
                            return Err(invalid(
                                "limit",
                                format!("expected a whole number from 1 to {MAX_LIMIT}"),
                            ))
                        }
                    }
                }
                "user_id" => {
                    q.user = Some(
                        UserId::parse(value).map_err(|_| invalid("user_id", "expected a uuid"))?,
                    )
                }
                other => {
                    return Err(invalid(
                        &other.chars().take(40).collect::<String>(),
                        "unknown parameter",
                    ))
                }
            }
        }
        Ok(q)
    }
}

/// One signal as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignalView {
    pub id: String,
    pub trader_id: Option<String>,
    pub trader_name: Option<String>,
    /// `go`, `javascript` or `declarative` (see [`trader_language`]); `None` when the trader is unknown.
    pub trader_language: Option<String>,
    pub user_id: Option<String>,
    pub symbol: String,
    pub interval: Option<String>,
    /// The signal's time (`signals.timestamp`, else the row's `created_at`), RFC 3339 UTC.
    pub timestamp: String,
    /// `signals.price_at_signal`.
    pub price: Option<f64>,
    pub source: Option<String>,
    /// `signals.fly_app_id`: the user app that produced the signal.
    pub fly_app_id: Option<String>,
    /// That app's Fly name, while its row exists.
    pub app_name: Option<String>,
}

/// The language the screener runs a trader in, decided as the screener decides it: a filter holding a `code`
/// key (also inside a filter double-encoded as a JSON string, which the platform sometimes stored) is code in
/// `traders.language` (NULL or empty: the platform's default, JavaScript); any other filter is declarative.
///
/// `has_code` is the database's answer for an object filter; `encoded_filter` is the filter's JSON text when
/// it is a JSON string (else `None`).
pub fn trader_language<'a>(
    has_code: bool,
    encoded_filter: Option<&str>,
    language: Option<&'a str>,
) -> &'a str {
    if !has_code && !encoded_filter.is_some_and(string_holds_code) {
        return DECLARATIVE;
    }
    match language.map(str::trim) {
        None | Some("") => PLATFORM_DEFAULT_LANGUAGE,
        Some(language) => language,
    }
}

/// Whether a filter stored as a JSON string decodes to an object with a `code` key.
fn string_holds_code(json: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::String(inner)) => serde_json::from_str::<serde_json::Value>(&inner)
            .is_ok_and(|v| v.is_object() && v.get("code").is_some()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limit_defaults_and_is_bounded() {
        assert_eq!(SignalsQuery::parse(&[]).unwrap(), SignalsQuery::default());
        assert_eq!(SignalsQuery::default().limit, 50);
        let q = SignalsQuery::parse(&pairs(&[("limit", "200"), ("user_id", "")])).unwrap();
        assert_eq!((q.limit, q.user), (200, None));
        for bad in ["0", "201", "-1", "abc", "1.5", "99999999999"] {
            let err = SignalsQuery::parse(&pairs(&[("limit", bad)])).unwrap_err();
            assert_eq!((err.status, err.error), (400, "invalid_query"), "{bad}");
        }
    }

    #[test]
    fn user_filter_must_be_a_uuid_and_unknown_parameters_are_refused() {
        let id = "aaaaaaaa-0000-4000-8000-000000000001";
        let q = SignalsQuery::parse(&pairs(&[("user_id", id)])).unwrap();
        assert_eq!(q.user, Some(UserId::parse(id).unwrap()));
        for q in [
            [("user_id", "not-a-uuid")],
            [("user_id", "' OR 1=1 --")],
            [("order", "asc")],
        ] {
            let err = SignalsQuery::parse(&pairs(&q)).unwrap_err();
            assert_eq!((err.status, err.error), (400, "invalid_query"), "{q:?}");
        }
    }

    #[test]
    fn code_filters_run_in_their_column_language_others_are_declarative() {
        assert_eq!(trader_language(true, None, Some("go")), "go");
        assert_eq!(
            trader_language(true, None, Some("javascript")),
            "javascript"
        );
        assert_eq!(trader_language(true, None, None), "javascript");
        assert_eq!(trader_language(true, None, Some(" ")), "javascript");
        // The platform's column default is 'javascript' and the demo seeds 'go': the filter decides.
        assert_eq!(trader_language(false, None, Some("go")), "declarative");
        assert_eq!(
            trader_language(false, None, Some("javascript")),
            "declarative"
        );
        let encoded = serde_json::to_string(&serde_json::Value::String(
            r#"{"code": "return true", "requiredTimeframes": ["1m"]}"#.into(),
        ))
        .unwrap();
        assert_eq!(trader_language(false, Some(&encoded), Some("go")), "go");
        let encoded_declarative =
            serde_json::to_string(&serde_json::Value::String(r#"{"when": {}}"#.into())).unwrap();
        assert_eq!(
            trader_language(false, Some(&encoded_declarative), Some("go")),
            "declarative"
        );
        assert_eq!(
            trader_language(false, Some("\"not json"), None),
            "declarative"
        );
    }
}
