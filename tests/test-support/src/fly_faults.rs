//! Fly answers a test can inject into any `fly_api::Transport`: every error class the issues name, once or a
//! few times, for the requests a matcher picks; and a user's app name candidates as Fleet derives them.

/// How an injected fault answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    /// This HTTP status (Fly-style JSON error body; 429 carries `Retry-After: 1`), before the effect.
    Status(u16),
    /// The request reaches Fly (its effect happens), then the connection drops without an answer.
    DropAfter,
    /// The component traps (a panic in the middle of the sweep).
    Trap,
}

/// Every error class the issue names: 400/401/403/404/408/409/412/422/429/500/502/503 and a dropped connection.
pub const EVERY_ERROR: [Injected; 13] = [
    Injected::Status(400),
    Injected::Status(401),
    Injected::Status(403),
    Injected::Status(404),
    Injected::Status(408),
    Injected::Status(409),
    Injected::Status(412),
    Injected::Status(422),
    Injected::Status(429),
    Injected::Status(500),
    Injected::Status(502),
    Injected::Status(503),
    Injected::DropAfter,
];

type Matcher = Box<dyn Fn(&http::Request<Vec<u8>>) -> bool>;

/// A transport that answers the first `count` requests `matches` accepts with `fault`, and forwards the rest.
pub struct FaultOnce<T> {
    pub inner: T,
    matches: Matcher,
    fault: Injected,
    left: std::cell::Cell<u32>,
    hits: std::cell::Cell<u32>,
}

impl<T> FaultOnce<T> {
    pub fn new(
        inner: T,
        fault: Injected,
        count: u32,
        matches: impl Fn(&http::Request<Vec<u8>>) -> bool + 'static,
    ) -> Self {
        FaultOnce {
            inner,
            matches: Box::new(matches),
            fault,
            left: std::cell::Cell::new(count),
            hits: std::cell::Cell::new(0),
        }
    }

    pub fn hits(&self) -> u32 {
        self.hits.get()
    }
}

impl<T: fly_api::Transport> fly_api::Transport for FaultOnce<T> {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, fly_api::TransportError> {
        if self.left.get() == 0 || !(self.matches)(&request) {
            return self.inner.send(request).await;
        }
        self.left.set(self.left.get() - 1);
        self.hits.set(self.hits.get() + 1);
        match self.fault {
            Injected::Trap => panic!("injected trap on {}", request.uri().path()),
            Injected::DropAfter => {
                let _ = self.inner.send(request).await;
                Err(fly_api::TransportError::Interrupted(
                    "connection closed before a response arrived".into(),
                ))
            }
            Injected::Status(status) => {
                let body = serde_json::json!({"error": format!("injected {status}")});
                let mut response = http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json");
                if status == 429 {
                    response = response.header("retry-after", "1");
                }
                Ok(response.body(body.to_string().into_bytes()).unwrap())
            }
        }
    }
}

/// The user's app name candidates (`vyx-user-<8|12|16 hex>`), as Fleet derives them.
pub fn name_candidates(user_id: &str) -> Vec<String> {
    fly_api::NameCandidates::for_user(&fly_api::UserId::new(user_id.to_string()))
        .all()
        .iter()
        .map(|n| n.as_str().to_string())
        .collect()
}
