//! The client core: builds requests (auth, query, nonce), sends them, and turns responses into
//! typed values or classified [`FlyError`]s. The per-resource calls live in [`crate::calls`].

use crate::error::{classify_response, parse_retry_after, ErrorClass, FlyError, Idempotency};
use crate::ids::OrgSlug;
use crate::secret::Secret;
use crate::transport::{Transport, TransportError};
use crate::types::{ErrorResponse, LEASE_NONCE_HEADER};
use serde::de::DeserializeOwned;

/// The public Machines API endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.machines.dev/v1";

/// A Fly Machines API client for one org, over any [`Transport`].
pub struct FlyClient<T> {
    transport: T,
    base_url: String,
    token: Secret<String>,
    org: OrgSlug,
}

impl<T> std::fmt::Debug for FlyClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlyClient")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("org", &self.org)
            .finish()
    }
}

/// One API call before it is turned into an HTTP request.
pub(crate) struct ApiRequest {
    pub method: http::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub nonce: Option<String>,
    pub idempotency: Idempotency,
}

impl ApiRequest {
    pub fn new(method: http::Method, path: String, idempotency: Idempotency) -> Self {
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
            nonce: None,
            idempotency,
        }
    }

    pub fn json(mut self, body: &impl serde::Serialize) -> Self {
        self.body = Some(serde_json::to_vec(body).expect("request types always serialize"));
        self
    }

    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    pub fn nonce(mut self, nonce: Option<&str>) -> Self {
        self.nonce = nonce.map(str::to_string);
        self
    }
}

impl<T: Transport> FlyClient<T> {
    /// `base_url` is e.g. [`DEFAULT_BASE_URL`] or a simulator's `http://127.0.0.1:port/v1`.
    pub fn new(
        transport: T,
        base_url: impl Into<String>,
        token: Secret<String>,
        org: OrgSlug,
    ) -> Self {
        FlyClient {
            transport,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            token,
            org,
        }
    }

    pub fn org(&self) -> &OrgSlug {
        &self.org
    }

    /// `Bearer <token>`, except macaroon tokens that already start with `FlyV1 ` go as-is.
    fn authorization(&self) -> String {
        let token = self.token.expose().trim();
        if token.starts_with("FlyV1 ") {
            token.to_string()
        } else {
            format!("Bearer {token}")
        }
    }

    /// The HTTP request. A header value that cannot be sent (a token or a lease nonce from a Fly answer with
    /// control characters) is an invalid request, never a panic.
    fn build(&self, req: &ApiRequest) -> Result<http::Request<Vec<u8>>, FlyError> {
        let mut uri = format!("{}{}", self.base_url, req.path);
        if !req.query.is_empty() {
            let q = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(req.query.iter())
                .finish();
            uri.push('?');
            uri.push_str(&q);
        }
        let mut b = http::Request::builder()
            .method(req.method.clone())
            .uri(uri)
            .header(http::header::AUTHORIZATION, self.authorization())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "fleet-fly-api");
        if req.body.is_some() {
            b = b.header(http::header::CONTENT_TYPE, "application/json");
        }
        if let Some(n) = &req.nonce {
            b = b.header(LEASE_NONCE_HEADER, n);
        }
        b.body(req.body.clone().unwrap_or_default())
            .map_err(|e| FlyError {
                class: ErrorClass::Invalid,
                status: None,
                message: self.scrub(&format!("request not built: {e}")),
                request_id: None,
            })
    }

    /// Sends and returns the raw successful response, or a classified error.
    async fn send(&self, req: ApiRequest) -> Result<http::Response<Vec<u8>>, FlyError> {
        let response = match self.transport.send(self.build(&req)?).await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(e, req.idempotency)),
        };
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.response_error(&response, req.idempotency))
    }

    /// Calls and decodes a JSON body.
    pub(crate) async fn call<R: DeserializeOwned>(&self, req: ApiRequest) -> Result<R, FlyError> {
        let idempotency = req.idempotency;
        let response = self.send(req).await?;
        serde_json::from_slice(response.body()).map_err(|e| FlyError {
            // The call succeeded, so a non-idempotent effect did happen.
            class: match idempotency {
                Idempotency::Idempotent => ErrorClass::Transient,
                Idempotency::NonIdempotent => ErrorClass::Ambiguous,
            },
            status: Some(response.status().as_u16()),
            message: self.scrub(&format!("unexpected response body: {e}")),
            request_id: request_id(&response),
        })
    }

    /// Calls and ignores the body.
    pub(crate) async fn call_empty(&self, req: ApiRequest) -> Result<(), FlyError> {
        self.send(req).await.map(|_| ())
    }

    fn transport_error(&self, e: TransportError, idempotency: Idempotency) -> FlyError {
        let class = match (&e, idempotency) {
            (TransportError::NotSent(_), _) | (_, Idempotency::Idempotent) => ErrorClass::Transient,
            (TransportError::Interrupted(_), Idempotency::NonIdempotent) => ErrorClass::Ambiguous,
        };
        FlyError {
            class,
            status: None,
            message: self.scrub(&e.to_string()),
            request_id: None,
        }
    }

    fn response_error(&self, r: &http::Response<Vec<u8>>, idempotency: Idempotency) -> FlyError {
        let body: ErrorResponse =
            serde_json::from_slice(r.body()).unwrap_or_else(|_| ErrorResponse {
                error: String::from_utf8_lossy(r.body())
                    .chars()
                    .take(500)
                    .collect(),
                ..Default::default()
            });
        let message = match &body.message {
            Some(m) if !m.is_empty() && m != &body.error => format!("{} ({m})", body.error),
            _ => body.error.clone(),
        };
        let retry_after = r
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        FlyError {
            class: classify_response(
                r.status().as_u16(),
                body.status.as_deref(),
                &message,
                retry_after,
                idempotency,
            ),
            status: Some(r.status().as_u16()),
            message: self.scrub(&message),
            request_id: request_id(r),
        }
    }

    /// Error text must never carry the token, even if a server or transport echoes it.
    fn scrub(&self, text: &str) -> String {
        let token = self.token.expose().trim();
        let bare = token.strip_prefix("FlyV1 ").unwrap_or(token);
        if bare.is_empty() {
            return text.to_string();
        }
        text.replace(token, "***").replace(bare, "***")
    }
}

fn request_id(r: &http::Response<Vec<u8>>) -> Option<String> {
    r.headers()
        .get("fly-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
