//! The screener service every user app runs: traders, Binance klines, filters, signals and /health.

pub mod candle;
pub mod code;
pub mod config;
pub mod db_tls;
pub mod engine;
pub mod filter;
pub mod health;
pub mod http;
pub mod indicators;
pub mod logging;
pub mod market;
pub mod metrics;
pub mod runtime;
pub mod signals;
pub mod store;
pub mod traders;
pub mod util;
