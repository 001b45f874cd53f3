//! The platform's Go trader filters, run in Rust.
//!
//! The platform stores a filter as the body of `func evaluate(data *types.MarketData) bool` and ran it with
//! yaegi. [`compile`] parses and type-checks that body once (Go's rules for the subset the platform's
//! generator writes); [`Program::evaluate`] then runs it per symbol per close inside a sandbox: fuel, memory
//! and call-depth limits, no I/O of any kind, shared read-only market data, and indicators shared through
//! the per-close [`IndicatorCache`].

mod ast;
mod builtins;
mod ccall;
mod cexpr;
mod compile;
pub mod indicators;
mod interp;
mod ir;
mod lexer;
mod parser;
mod types;
mod value;

use filter_core::{CompileError, EvalError, IndicatorCache, Limits, MarketData};
use std::sync::Arc;

/// A compiled filter. Cheap to clone; shareable across threads.
#[derive(Clone)]
pub struct Program {
    ir: Arc<ir::ProgramIr>,
}

/// Parses and checks a filter body. Errors carry the body's own 1-based line and column.
pub fn compile(code: &str) -> Result<Program, CompileError> {
    let toks = lexer::lex(code)?;
    let mut p = parser::Parser::new(toks);
    let body = p.body()?;
    let ir = compile::compile_body(&body)?;
    Ok(Program { ir: Arc::new(ir) })
}

impl Program {
    /// Runs the filter once against `data`.
    pub fn evaluate(
        &self,
        data: &MarketData,
        limits: &Limits,
        cache: &mut IndicatorCache,
    ) -> Result<bool, EvalError> {
        interp::run(&self.ir, data, limits, cache)
    }

    /// The timeframes the code reads with a constant key (`data.Klines["5m"]`), sorted and deduplicated.
    pub fn timeframes(&self) -> Vec<String> {
        self.ir.timeframes.clone()
    }
}
