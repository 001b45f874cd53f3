//! Runs the platform's legacy JavaScript trader filters in QuickJS (rquickjs), sandboxed.
//!
//! A filter is an async function body over `ticker, timeframes, helpers, hvnNodes, klines, indicators`
//! returning a boolean (see README.md for the calling convention, the helper API and the sandbox).

mod compile;
mod meter;
mod natives;
mod outcome;
mod rows;
mod session;
mod ta;
mod timeframe;
mod worker;

pub use filter_core::{CompileError, EvalError, IndicatorCache, Limits, MarketData};
pub use worker::{ProgramId, Worker};

use std::cell::RefCell;

thread_local! {
    /// A worker per thread for `check`; compiling does not depend on limits beyond the defaults.
    static CHECKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// Syntax check only; usable from any thread.
pub fn check(code: &str) -> Result<(), CompileError> {
    CHECKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(
                Worker::new(Limits::default()).map_err(|message| CompileError {
                    line: 0,
                    column: 0,
                    message,
                })?,
            );
        }
        let worker = slot.as_mut().expect("just set");
        let id = worker.compile(code)?;
        worker.remove(id);
        Ok(())
    })
}
