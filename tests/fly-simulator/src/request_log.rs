//! The request log (`GET /__sim/requests`): never holds the Authorization header, the token or
//! secret values.

use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;

const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub request_id: String,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub status: u16,
    /// The JSON body with secrets replaced by `***` (or a redacted string when not JSON).
    pub body: Value,
    /// The injected fault, if any.
    pub fault: Option<String>,
    /// Whether a lease nonce header was present (its value is not logged).
    pub had_nonce: bool,
}

#[derive(Default)]
pub struct RequestLog {
    entries: VecDeque<LogEntry>,
    next_seq: u64,
}

impl RequestLog {
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub fn push(&mut self, entry: LogEntry) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.iter().cloned().collect()
    }
}

/// Redacts a request body: secret-write values become `***`, and any string containing the token or
/// a known secret value is replaced.
pub fn redact(body: &[u8], path: &str, sensitive: &[String]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let mut value = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
    };
    if path.contains("/secrets") {
        if let Some(values) = value.get_mut("values").and_then(Value::as_object_mut) {
            for v in values.values_mut().filter(|v| !v.is_null()) {
                *v = "***".into();
            }
        }
        if let Some(v) = value.get_mut("value") {
            *v = "***".into();
        }
    }
    scrub(&mut value, sensitive);
    value
}

fn scrub(value: &mut Value, sensitive: &[String]) {
    match value {
        Value::String(s)
            if sensitive
                .iter()
                .any(|x| !x.is_empty() && s.contains(x.as_str())) =>
        {
            *s = "***".into();
        }
        Value::Array(a) => a.iter_mut().for_each(|v| scrub(v, sensitive)),
        Value::Object(o) => o.values_mut().for_each(|v| scrub(v, sensitive)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_token_are_redacted() {
        let body = br#"{"values":{"DB_PASSWORD":"hunter2","GONE":null}}"#;
        let v = redact(body, "/v1/apps/a/secrets", &[]);
        assert_eq!(v["values"]["DB_PASSWORD"], "***");
        assert!(v["values"]["GONE"].is_null());
        let body = br#"{"config":{"env":{"X":"Bearer tok123 here"}}}"#;
        let v = redact(body, "/v1/apps/a/machines", &["tok123".into()]);
        assert_eq!(v["config"]["env"]["X"], "***");
    }
}
