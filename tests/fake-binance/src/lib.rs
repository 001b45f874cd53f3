//! A local fake of Binance market data for tests: combined kline WebSocket streams (`/stream?streams=...` and
//! SUBSCRIBE), REST `/api/v3/klines` and `/api/v3/ticker/24hr`, fed with fixture klines.
//!
//! The fake follows the documented behaviour, including the unpleasant parts: server pings that must be
//! answered (connections that don't pong are dropped), connections dropped on demand, candles that close while
//! a client is disconnected (only REST has them), and 429 responses with `Retry-After`.
//!
//! Time is driven by the test: `advance(n)` publishes the next n candles of every series (an in-progress
//! update, then the closed one). Candles before the cursor are history, served by REST only.

mod fixture;
mod server;

pub use fixture::{rest_row, ws_event, Fixture, Kline};
pub use server::{FakeBinance, Options, Stats};
