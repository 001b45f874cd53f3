//! Trader filters: the declarative JSON model, strict validation into a compiled tree, and evaluation.

pub mod eval;
pub mod model;
pub mod validate;

pub use eval::{decide, eval, TriggerState};
pub use model::{Filter, Op, Trigger, TriggerMode};
pub use validate::{
    compile, is_code_filter, CompiledFilter, Expr, Value, PLATFORM_DEFAULT_TIMEFRAME,
};
