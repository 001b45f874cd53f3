//! Turning what the engine produced into a verdict or an `EvalError`.

use crate::compile::exception_info;
use crate::meter::{Meter, UNITS_PER_JOB};
use filter_core::{EvalError, Limits};
use rquickjs::promise::PromiseState;
use rquickjs::{Ctx, Value};

pub const NEVER_SETTLED: &str = "the filter's promise never settled";

/// Runs promise jobs until the filter's promise settles, then judges its value.
pub fn settle<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    meter: &Meter,
    limits: &Limits,
) -> Result<bool, EvalError> {
    let Some(promise) = value.as_promise().cloned() else {
        return verdict(&value);
    };
    loop {
        match promise.state() {
            PromiseState::Pending => {
                if meter.charge(UNITS_PER_JOB) {
                    return Err(EvalError::Fuel { limit: limits.fuel });
                }
                if !ctx.execute_pending_job() {
                    return Err(runtime(NEVER_SETTLED));
                }
                if meter.fuel_exceeded.get() {
                    return Err(EvalError::Fuel { limit: limits.fuel });
                }
            }
            PromiseState::Resolved => {
                return match promise.result::<Value>() {
                    Some(Ok(v)) => verdict(&v),
                    Some(Err(e)) => Err(classify(ctx, e, meter, limits)),
                    None => Err(runtime(NEVER_SETTLED)),
                };
            }
            PromiseState::Rejected => {
                return match promise.result::<Value>() {
                    Some(Err(e)) => Err(classify(ctx, e, meter, limits)),
                    _ => Err(runtime("the filter's promise was rejected")),
                };
            }
        }
    }
}

/// The platform's server executor (`screener-worker.ts`): a boolean is the verdict, an object's `match === true`
/// is; anything else was silently "no match" there and is reported here so the trader shows as failing.
pub fn verdict(v: &Value) -> Result<bool, EvalError> {
    if let Some(b) = v.as_bool() {
        return Ok(b);
    }
    if let Some(obj) = v.as_object() {
        if !v.is_function() {
            let m: Value = obj
                .get("match")
                .map_err(|e| runtime(&format!("reading result.match: {e}")))?;
            return Ok(m.as_bool() == Some(true));
        }
    }
    Err(EvalError::NotBool(describe(v)))
}

fn describe(v: &Value) -> String {
    if v.is_undefined() {
        "undefined".into()
    } else if v.is_null() {
        "null".into()
    } else if let Some(n) = v.as_number() {
        format!("the number {n}")
    } else if let Some(s) = v.as_string() {
        let s = s.to_string().unwrap_or_default();
        let short: String = s.chars().take(40).collect();
        format!("the string {short:?}")
    } else {
        format!("a value of type {}", v.type_name())
    }
}

fn runtime(message: &str) -> EvalError {
    EvalError::Runtime {
        line: 0,
        column: 0,
        message: message.into(),
    }
}

/// Classifies a failed call: limits first (the engine reports them as ordinary exceptions), then the
/// filter's own error with its position.
pub fn classify(ctx: &Ctx, error: rquickjs::Error, meter: &Meter, limits: &Limits) -> EvalError {
    if meter.fuel_exceeded.get() {
        return EvalError::Fuel { limit: limits.fuel };
    }
    if meter.denied.get() || matches!(error, rquickjs::Error::Allocation) {
        return EvalError::Memory {
            limit: limits.memory_bytes,
        };
    }
    let rquickjs::Error::Exception = error else {
        return runtime(&error.to_string());
    };
    let info = exception_info(&ctx.catch());
    // QuickJS concatenates strings as ropes, so string doubling reaches the engine's length cap (2^30)
    // before the byte limit: the same bomb, reported the same way.
    if info.message == "string too long" || info.message == "invalid string length" {
        return EvalError::Memory {
            limit: limits.memory_bytes,
        };
    }
    if info.message == "Maximum call stack size exceeded" {
        return EvalError::Depth {
            limit: limits.call_depth,
        };
    }
    let (line, column) = info.at.unwrap_or((0, 0));
    EvalError::Runtime {
        line,
        column,
        message: info.text(),
    }
}
