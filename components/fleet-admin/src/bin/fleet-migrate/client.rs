//! The admin JSON API over HTTP, with the bearer token from the environment.

use std::time::Duration;

use serde_json::Value;

pub struct Api {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

/// An answer the tool cannot go on with: the API's `{"error","detail"}`, or why there was no answer.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: Option<u16>,
    pub error: String,
    pub detail: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status} {}: {}", self.error, self.detail),
            None => write!(f, "{}: {}", self.error, self.detail),
        }
    }
}

impl Api {
    pub fn new(base: &str, token: String) -> Result<Api, String> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Api {
            http,
            base: base.to_string(),
            token,
        })
    }

    pub fn get(&self, path: &str) -> Result<Value, ApiFailure> {
        self.send(self.http.get(self.url(path)))
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ApiFailure> {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Result<Value, ApiFailure> {
        let res = req
            .bearer_auth(&self.token)
            .send()
            .map_err(|e| ApiFailure {
                status: None,
                error: "unreachable".into(),
                // reqwest's error names the URL, never the Authorization header.
                detail: e.to_string(),
            })?;
        let status = res.status().as_u16();
        let text = res.text().unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        Err(ApiFailure {
            status: Some(status),
            error: body["error"].as_str().unwrap_or("http_error").to_string(),
            detail: body["detail"]
                .as_str()
                .unwrap_or("the server answered without a JSON error")
                .chars()
                .take(300)
                .collect(),
        })
    }
}
