//! The platform's code traders: Go (current) and JavaScript (legacy) filter code in `traders.filter.code`,
//! compiled once per distinct source and evaluated per symbol per closed candle on a pool of sandboxed workers.

pub mod compile;
pub mod runner;
pub mod snapshot;

pub use compile::{CodeCache, CodeTraderDef, Compiled, Language};
pub use runner::{CodeJob, CodeOutcome, CodeRunner, CodeSet, Failure};
