//! The fake's HTTP/WebSocket server and its control surface.

use crate::fixture::{rest_row, ws_event, Fixture};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

#[derive(Clone, Debug)]
pub struct Options {
    /// 0 = any free port. Always bound on 127.0.0.1.
    pub port: u16,
    /// Candles before this index are history (REST only).
    pub cursor: usize,
    pub ping_interval: Duration,
    /// Connections that don't answer a ping within this are dropped, as Binance does.
    pub pong_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 0,
            cursor: 0,
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    pub connections_total: u64,
    pub connections_active: u64,
    pub subscribed_streams: u64,
    pub rest_calls: u64,
    pub rate_limited: u64,
    pub pongs: u64,
    pub cursor: usize,
}

struct Shared {
    fixture: Fixture,
    cursor: Mutex<usize>,
    events: broadcast::Sender<(String, String)>,
    drop_all: watch::Sender<u64>,
    rate_limit_next: AtomicU64,
    options: Options,
    connections_total: AtomicU64,
    connections_active: AtomicU64,
    subscribed: AtomicU64,
    rest_calls: AtomicU64,
    rate_limited: AtomicU64,
    pongs: AtomicU64,
}

/// A running fake; the server lives on its own thread and runtime until the process exits.
#[derive(Clone)]
pub struct FakeBinance {
    port: u16,
    shared: Arc<Shared>,
}

impl FakeBinance {
    pub fn start(fixture: Fixture, options: Options) -> FakeBinance {
        let (events, _) = broadcast::channel(65_536);
        let shared = Arc::new(Shared {
            cursor: Mutex::new(options.cursor.min(fixture.len())),
            fixture,
            events,
            drop_all: watch::channel(0).0,
            rate_limit_next: AtomicU64::new(0),
            options: options.clone(),
            connections_total: AtomicU64::new(0),
            connections_active: AtomicU64::new(0),
            subscribed: AtomicU64::new(0),
            rest_calls: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            pongs: AtomicU64::new(0),
        });
        let listener = std::net::TcpListener::bind(("127.0.0.1", options.port))
            .expect("binding the fake Binance port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local addr").port();
        let app = Router::new()
            .route("/stream", get(stream))
            .route("/api/v3/klines", get(klines))
            .route("/api/v3/ticker/24hr", get(ticker))
            .route("/control/advance", post(control_advance))
            .route("/control/drop", post(control_drop))
            .route("/control/rate_limit", post(control_rate_limit))
            .route("/control/stats", get(control_stats))
            .with_state(shared.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, app)
                    .await
                    .expect("fake Binance server");
            });
        });
        FakeBinance { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Publishes the next `n` candles of every series: an in-progress update, then the closed candle. With
    /// `silent`, the candles close without any stream message (as if the client were disconnected).
    pub fn advance(&self, n: usize, silent: bool) -> usize {
        advance(&self.shared, n, silent)
    }

    /// Drops every WebSocket connection (clients must reconnect).
    pub fn drop_connections(&self) {
        self.shared.drop_all.send_modify(|g| *g += 1);
    }

    /// The next `n` REST calls answer 429 with `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u64) {
        self.shared.rate_limit_next.store(n, Ordering::SeqCst);
    }

    pub fn stats(&self) -> Stats {
        stats(&self.shared)
    }
}

fn stats(s: &Shared) -> Stats {
    Stats {
        connections_total: s.connections_total.load(Ordering::SeqCst),
        connections_active: s.connections_active.load(Ordering::SeqCst),
        subscribed_streams: s.subscribed.load(Ordering::SeqCst),
        rest_calls: s.rest_calls.load(Ordering::SeqCst),
        rate_limited: s.rate_limited.load(Ordering::SeqCst),
        pongs: s.pongs.load(Ordering::SeqCst),
        cursor: *s.cursor.lock().unwrap(),
    }
}

fn advance(s: &Shared, n: usize, silent: bool) -> usize {
    let mut cursor = s.cursor.lock().unwrap();
    for _ in 0..n {
        let i = *cursor;
        if i >= s.fixture.len() {
            break;
        }
        if !silent {
            for ((symbol, interval), klines) in &s.fixture.series {
                if let Some(k) = klines.get(i) {
                    let stream = format!("{}@kline_{interval}", symbol.to_ascii_lowercase());
                    let _ = s
                        .events
                        .send((stream.clone(), ws_event(symbol, interval, k, false)));
                    let _ = s.events.send((stream, ws_event(symbol, interval, k, true)));
                }
            }
        }
        *cursor = i + 1;
    }
    *cursor
}

async fn stream(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let streams: HashSet<String> = q
        .get("streams")
        .map(|v| v.split('/').map(str::to_string).collect())
        .unwrap_or_default();
    ws.on_upgrade(move |socket| connection(s, socket, streams))
}

async fn connection(s: Arc<Shared>, mut socket: WebSocket, mut streams: HashSet<String>) {
    s.connections_total.fetch_add(1, Ordering::SeqCst);
    s.connections_active.fetch_add(1, Ordering::SeqCst);
    s.subscribed
        .fetch_add(streams.len() as u64, Ordering::SeqCst);
    let mut events = s.events.subscribe();
    let mut drops = s.drop_all.subscribe();
    drops.borrow_and_update();
    // Like Binance: a fresh connection soon sees the candle currently forming.
    let current: Vec<String> = {
        let cursor = *s.cursor.lock().unwrap();
        s.fixture
            .series
            .iter()
            .filter_map(|((symbol, interval), klines)| {
                let stream = format!("{}@kline_{interval}", symbol.to_ascii_lowercase());
                let k = klines.get(cursor)?;
                streams
                    .contains(&stream)
                    .then(|| ws_event(symbol, interval, k, false))
            })
            .collect()
    };
    let mut ok = true;
    for msg in current {
        ok &= socket.send(Message::Text(msg.into())).await.is_ok();
    }
    let mut ping = tokio::time::interval(s.options.ping_interval);
    ping.tick().await;
    let mut awaiting_pong: Option<Instant> = None;
    while ok {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok((stream, text)) if streams.contains(&stream) => ok = socket.send(Message::Text(text.into())).await.is_ok(),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => ok = false,
                Err(broadcast::error::RecvError::Closed) => ok = false,
            },
            _ = ping.tick() => {
                if awaiting_pong.is_some_and(|t| t.elapsed() > s.options.pong_timeout) {
                    break; // no pong in time: Binance disconnects
                }
                if awaiting_pong.is_none() {
                    awaiting_pong = Some(Instant::now());
                }
                ok = socket.send(Message::Ping(b"fake".to_vec().into())).await.is_ok();
            },
            _ = drops.changed() => break,
            msg = socket.recv() => match msg {
                Some(Ok(Message::Pong(_))) => {
                    s.pongs.fetch_add(1, Ordering::SeqCst);
                    awaiting_pong = None;
                }
                Some(Ok(Message::Text(t))) => {
                    if let Ok(req) = serde_json::from_str::<serde_json::Value>(t.as_str()) {
                        if req["method"] == "SUBSCRIBE" {
                            for p in req["params"].as_array().into_iter().flatten().filter_map(|v| v.as_str()) {
                                if streams.insert(p.to_string()) {
                                    s.subscribed.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                            let ack = serde_json::json!({"result": null, "id": req["id"]}).to_string();
                            ok = socket.send(Message::Text(ack.into())).await.is_ok();
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => ok = false,
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    s.subscribed
        .fetch_sub(streams.len() as u64, Ordering::SeqCst);
    s.connections_active.fetch_sub(1, Ordering::SeqCst);
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KlinesQuery {
    symbol: String,
    interval: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    limit: Option<usize>,
}

async fn klines(State(s): State<Arc<Shared>>, Query(q): Query<KlinesQuery>) -> Response {
    s.rest_calls.fetch_add(1, Ordering::SeqCst);
    if s.rate_limit_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        s.rate_limited.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(serde_json::json!({"code": -1003, "msg": "Too many requests"})),
        )
            .into_response();
    }
    let limit = q.limit.unwrap_or(500);
    if limit == 0 || limit > 1000 {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"code": -1100, "msg": "limit out of range"})),
        )
            .into_response();
    }
    let cursor = *s.cursor.lock().unwrap();
    let Some(series) = s
        .fixture
        .series
        .get(&(q.symbol.to_ascii_uppercase(), q.interval.clone()))
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"code": -1121, "msg": "Invalid symbol."})),
        )
            .into_response();
    };
    // Only closed candles (index < cursor): the fake's clock is the cursor, so the open candle is not served.
    let closed = &series[..cursor.min(series.len())];
    let in_range = closed.iter().filter(|k| {
        q.start_time.is_none_or(|t| k.open_time >= t) && q.end_time.is_none_or(|t| k.open_time <= t)
    });
    let rows: Vec<serde_json::Value> = if q.start_time.is_some() {
        in_range.take(limit).map(rest_row).collect()
    } else {
        let all: Vec<_> = in_range.collect();
        all[all.len().saturating_sub(limit)..]
            .iter()
            .map(|k| rest_row(k))
            .collect()
    };
    ([("x-mbx-used-weight-1m", "2")], Json(rows)).into_response()
}

async fn ticker(State(s): State<Arc<Shared>>) -> Json<Vec<serde_json::Value>> {
    let cursor = *s.cursor.lock().unwrap();
    let mut volumes: HashMap<&str, f64> = HashMap::new();
    for ((symbol, _), klines) in &s.fixture.series {
        *volumes.entry(symbol).or_default() += klines
            .iter()
            .take(cursor)
            .map(|k| k.quote_volume)
            .sum::<f64>();
    }
    Json(
        volumes
            .into_iter()
            .map(|(s, v)| serde_json::json!({"symbol": s, "quoteVolume": v.to_string()}))
            .collect(),
    )
}

#[derive(Deserialize)]
struct AdvanceQuery {
    n: Option<usize>,
    silent: Option<bool>,
}

async fn control_advance(
    State(s): State<Arc<Shared>>,
    Query(q): Query<AdvanceQuery>,
) -> Json<serde_json::Value> {
    let cursor = advance(&s, q.n.unwrap_or(1), q.silent.unwrap_or(false));
    Json(serde_json::json!({"cursor": cursor}))
}

async fn control_drop(State(s): State<Arc<Shared>>) -> StatusCode {
    s.drop_all.send_modify(|g| *g += 1);
    StatusCode::NO_CONTENT
}

async fn control_rate_limit(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, u64>>,
) -> StatusCode {
    s.rate_limit_next
        .store(q.get("n").copied().unwrap_or(1), Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

async fn control_stats(State(s): State<Arc<Shared>>) -> Json<Stats> {
    Json(stats(&s))
}
