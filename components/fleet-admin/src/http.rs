//! A transport-neutral request and response, so every admin route runs (and is tested) natively and inside
//! the Spin component alike. Every response is `no-store` and carries defensive headers.

use fleet_http::ApiError;

/// The largest request body the admin API reads (the component refuses anything larger while streaming it).
pub use fleet_http::MAX_BODY_BYTES;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Other(String),
}

impl Method {
    pub fn parse(method: &str) -> Self {
        match method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            other => Method::Other(other.to_string()),
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

/// One incoming request: header names lower case, path without the query string.
#[derive(Clone, Debug)]
pub struct AdminRequest {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl AdminRequest {
    /// Splits `path?query` and lower-cases header names.
    pub fn new(
        method: &str,
        path_and_query: &str,
        headers: impl IntoIterator<Item = (String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        AdminRequest {
            method: Method::parse(method),
            path: path.to_string(),
            query: query.to_string(),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query parameters, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AdminResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl AdminResponse {
    fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        let headers = [
            ("content-type", content_type),
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
        ];
        AdminResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body,
        }
    }

    pub fn json(status: u16, body: &impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        Self::new(status, "application/json", body)
    }

    pub fn error(error: &ApiError) -> Self {
        let response = Self::json(error.status, error);
        match error.retry_after {
            Some(secs) => response.with_header("retry-after", secs.to_string()),
            None => response,
        }
    }

    /// The dashboard page: scripts and styles are inline, nothing else may load.
    pub fn html(body: &str) -> Self {
        Self::new(200, "text/html; charset=utf-8", body.as_bytes().to_vec()).with_header(
            "content-security-policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
             base-uri 'none'",
        )
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Parses a JSON body (empty = `{}`), refusing oversized or malformed input with a 4xx.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let invalid = |e: serde_json::Error| {
        ApiError::bad_request("invalid_body", format!("the body is not valid: {e}"))
    };
    // Only an object: serde would otherwise read a struct from a JSON array (`[]` = all defaults).
    match serde_json::from_slice(body).map_err(invalid)? {
        serde_json::Value::Object(object) => {
            serde_json::from_value(serde_json::Value::Object(object)).map_err(invalid)
        }
        _ => Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_response_is_no_store() {
        for response in [
            AdminResponse::json(200, &serde_json::json!({})),
            AdminResponse::error(&ApiError::unauthorized()),
            AdminResponse::html("<p>hi</p>"),
        ] {
            assert_eq!(response.header("cache-control"), Some("no-store"));
        }
    }

    #[test]
    fn json_bodies_reject_garbage_and_oversize() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[allow(dead_code)]
            a: Option<u8>,
        }
        assert!(json_body::<Body>(b"").is_ok());
        assert_eq!(json_body::<Body>(b"{").unwrap_err().status, 400);
        assert_eq!(json_body::<Body>(b"{\"b\":1}").unwrap_err().status, 400);
        // An array would otherwise deserialise as a struct of defaults.
        assert_eq!(json_body::<Body>(b"[]").unwrap_err().status, 400);
        assert_eq!(json_body::<Body>(b"[1]").unwrap_err().status, 400);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(json_body::<Body>(&big).unwrap_err().status, 413);
    }

    #[test]
    fn request_splits_query_and_lowercases_headers() {
        let r = AdminRequest::new(
            "get",
            "/admin/api/apps?status=active&q=a%20b",
            [("X-CSRF-Token".to_string(), "t".to_string())],
            vec![],
        );
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/admin/api/apps");
        assert_eq!(r.header("x-csrf-token"), Some("t"));
        assert_eq!(r.query_pairs()[1], ("q".to_string(), "a b".to_string()));
    }
}
