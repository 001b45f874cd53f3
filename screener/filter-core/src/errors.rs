//! Sandbox limits and the two ways trader code fails: it does not compile, or one evaluation stops.

/// Per-evaluation limits. Every language enforces all of them; exceeding one stops that evaluation only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Units of work (interpreter steps; indicator calls cost in proportion to their input).
    pub fuel: u64,
    /// Bytes the evaluation may allocate beyond its inputs.
    pub memory_bytes: usize,
    /// Nested calls (closures, recursion).
    pub call_depth: u32,
}

impl Default for Limits {
    /// Generous for the platform's generated filters (a few indicator calls and loops over 250 klines use
    /// well under 1 % of this) while bounding a hostile one to tens of milliseconds.
    fn default() -> Self {
        Limits {
            fuel: 5_000_000,
            memory_bytes: 16 << 20,
            call_depth: 200,
        }
    }
}

/// Code that does not compile. `line` and `column` are 1-based and refer to the trader's own code (the body the
/// platform stores), not to any wrapper the language adds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CompileError {
    pub line: u32,
    pub column: u32,
    /// What is wrong, naming the unsupported construct where that is the reason.
    pub message: String,
}

/// Why one evaluation produced no verdict. The trader is marked failing with this text; others are unaffected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("work limit exceeded ({limit} units): the filter runs too long (an endless loop?)")]
    Fuel { limit: u64 },
    #[error("memory limit exceeded ({limit} bytes)")]
    Memory { limit: usize },
    #[error("call depth limit exceeded ({limit}): runaway recursion?")]
    Depth { limit: u32 },
    /// A run-time error of the filter itself: nil dereference, index out of range, a thrown exception, a Go
    /// panic ... `line`/`column` locate it in the trader's code when known (0 otherwise).
    #[error("runtime error at line {line}, column {column}: {message}")]
    Runtime {
        line: u32,
        column: u32,
        message: String,
    },
    /// The filter finished without a boolean verdict.
    #[error("the filter returned {0}, not a boolean")]
    NotBool(String),
}
