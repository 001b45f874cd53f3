//! Binance combined kline streams: ≤ N streams per connection, reconnect with jittered backoff, a watchdog for
//! silent stalls, renewal before Binance's 24 h cut, `serverShutdown` handling. Pings are answered with
//! tungstenite's queued pong, flushed as soon as the ping is read.

use super::kline::{parse_ws, WsEvent};
use super::MarketEvent;
use crate::metrics::Metrics;
use crate::util::jittered_backoff;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Streams named in the URL; the rest are added with SUBSCRIBE messages (kept under 5 messages/s).
const STREAMS_IN_URL: usize = 200;
const STREAMS_PER_SUBSCRIBE: usize = 200;
const SUBSCRIBE_SPACING: Duration = Duration::from_millis(300);

#[derive(Clone, Debug)]
pub struct WsSettings {
    pub base: String,
    pub streams_per_conn: usize,
    pub idle_timeout: Duration,
    pub renew_after: Duration,
}

/// Starts one task per chunk of streams. They run until `stop` turns true.
pub fn spawn(
    settings: &WsSettings,
    streams: &[String],
    tx: mpsc::UnboundedSender<MarketEvent>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    streams
        .chunks(settings.streams_per_conn.max(1))
        .map(|chunk| {
            let (settings, chunk, tx, metrics, stop) = (
                settings.clone(),
                chunk.to_vec(),
                tx.clone(),
                metrics.clone(),
                stop.clone(),
            );
            tokio::spawn(async move { connection_loop(settings, chunk, tx, metrics, stop).await })
        })
        .collect()
}

#[derive(Debug)]
enum End {
    Stopped,
    Reconnect(String),
}

async fn connection_loop(
    settings: WsSettings,
    streams: Vec<String>,
    tx: mpsc::UnboundedSender<MarketEvent>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let (in_url, later) = streams.split_at(streams.len().min(STREAMS_IN_URL));
    let url = format!("{}/stream?streams={}", settings.base, in_url.join("/"));
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((ws, _)) => {
                failures = 0;
                metrics.inc(&metrics.ws_connects);
                tracing::info!(streams = streams.len(), "market stream connected");
                let end = run_connection(ws, later, &settings, &tx, &metrics, &mut stop).await;
                metrics.inc(&metrics.ws_disconnects);
                match end {
                    End::Stopped => return,
                    End::Reconnect(why) => {
                        tracing::warn!(reason = %why, "market stream reconnecting")
                    }
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, failures, "market stream connect failed");
            }
        }
        // Jittered so many machines behind one IP don't reconnect in step (Binance: ≤ 300 connects / 5 min / IP).
        let wait = jittered_backoff(failures, Duration::from_secs(1), Duration::from_secs(60));
        tokio::select! {
            _ = sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn run_connection<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    subscribe_later: &[String],
    settings: &WsSettings,
    tx: &mpsc::UnboundedSender<MarketEvent>,
    metrics: &Metrics,
    stop: &mut watch::Receiver<bool>,
) -> End
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for (id, batch) in subscribe_later.chunks(STREAMS_PER_SUBSCRIBE).enumerate() {
        let msg = serde_json::json!({"method": "SUBSCRIBE", "params": batch, "id": id + 1});
        if let Err(e) = ws.send(Message::text(msg.to_string())).await {
            return End::Reconnect(format!("subscribe failed: {e}"));
        }
        sleep(SUBSCRIBE_SPACING).await;
    }
    let renew_at = Instant::now() + settings.renew_after;
    loop {
        tokio::select! {
            next = timeout(settings.idle_timeout, ws.next()) => match next {
                Err(_) => return End::Reconnect(format!("no message for {:?}", settings.idle_timeout)),
                Ok(None) => return End::Reconnect("closed by server".into()),
                Ok(Some(Err(e))) => return End::Reconnect(format!("read error: {e}")),
                Ok(Some(Ok(Message::Text(text)))) => {
                    metrics.inc(&metrics.ws_messages);
                    match parse_ws(text.as_str()) {
                        Ok(WsEvent::Kline { symbol, interval, candle, closed }) => {
                            if tx.send(MarketEvent::Kline { symbol, interval, candle, closed }).is_err() {
                                return End::Stopped;
                            }
                        }
                        Ok(WsEvent::ServerShutdown) => return End::Reconnect("serverShutdown event".into()),
                        Ok(WsEvent::Other) => {}
                        Err(e) => tracing::warn!(error = %e, "ignoring unparsable stream message"),
                    }
                }
                Ok(Some(Ok(Message::Close(_)))) => return End::Reconnect("close frame".into()),
                Ok(Some(Ok(Message::Ping(_)))) => {
                    // tungstenite queues the pong (echoing the payload) but only sends it on a write or flush;
                    // Binance drops connections that don't pong within a minute.
                    if let Err(e) = ws.flush().await {
                        return End::Reconnect(format!("pong failed: {e}"));
                    }
                }
                Ok(Some(Ok(_))) => {} // pong, binary, raw frames
            },
            _ = tokio::time::sleep_until(renew_at) => {
                let _ = ws.close(None).await;
                return End::Reconnect("renewing before the 24 h limit".into());
            }
            _ = stop.changed() => {
                let _ = ws.close(None).await;
                return End::Stopped;
            }
        }
    }
}
