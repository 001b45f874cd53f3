//! Compiling a trader's body inside the calling-convention wrapper, and locating errors in the body.

use filter_core::CompileError;
use rquickjs::context::EvalOptions;
use rquickjs::{Ctx, Function, Value};

/// The legacy executors' parameters (`ticker, timeframes, helpers, hvnNodes`) followed by the seed traders'
/// (`klines, indicators`); async so `await indicators.rsi(...)` works. The body starts on line 2.
pub const HEAD: &str =
    "(async function (ticker, timeframes, helpers, hvnNodes, klines, indicators) {\n";
pub const TAIL: &str = "\n})";
/// Script name of the wrapper; stack frames of the trader's code are `filter:LINE:COL`.
pub const FILE: &str = "filter";
const BODY_FIRST_LINE: u32 = 2;

/// What an exception says, and where in the trader's body it was raised (if it was).
pub struct ExceptionInfo {
    pub name: String,
    pub message: String,
    pub at: Option<(u32, u32)>,
}

impl ExceptionInfo {
    pub fn text(&self) -> String {
        if self.name.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.name, self.message)
        }
    }
}

pub fn exception_info(value: &Value) -> ExceptionInfo {
    let Some(obj) = value.as_object() else {
        // `throw "text"` or `throw 42`.
        let message = value
            .clone()
            .try_into_string()
            .ok()
            .and_then(|s| s.to_string().ok())
            .or_else(|| value.as_number().map(|n| n.to_string()))
            .unwrap_or_else(|| format!("{:?}", value.type_of()));
        return ExceptionInfo {
            name: String::new(),
            message,
            at: None,
        };
    };
    let text = |key: &str| {
        obj.get::<_, Option<String>>(key)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    let stack = text("stack");
    ExceptionInfo {
        name: text("name"),
        message: text("message"),
        at: locate(&stack).or_else(|| locate(&text("message"))),
    }
}

/// The first `filter:LINE:COL` in a stack trace, as a position in the trader's body.
fn locate(stack: &str) -> Option<(u32, u32)> {
    let marker = format!("{FILE}:");
    let mut rest = stack;
    while let Some(i) = rest.find(&marker) {
        rest = &rest[i + marker.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().and_then(|l| l.parse::<u32>().ok());
        let col = parts.next().map(|c| {
            c.chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
        });
        if let (Some(line), Some(Ok(col))) = (line, col.map(|c| c.parse::<u32>())) {
            if line >= BODY_FIRST_LINE {
                return Some((line - BODY_FIRST_LINE + 1, col));
            }
        }
    }
    None
}

/// Compiles `code` in `ctx`'s realm. Rejects a body that closes the wrapper early (`}); ...; (function(){`):
/// the resulting function's source must be exactly the wrapper.
pub fn compile<'js>(ctx: &Ctx<'js>, code: &str) -> Result<Function<'js>, CompileError> {
    let source = format!("{HEAD}{code}{TAIL}");
    let mut options = EvalOptions::default();
    options.strict = false; // the platform built filters with `new Function`, which is sloppy mode
    options.filename = Some(FILE.to_string());
    let value = match ctx.eval_with_options::<Value, _>(source.clone(), options) {
        Ok(v) => v,
        Err(rquickjs::Error::Exception) => {
            let info = exception_info(&ctx.catch());
            let (line, column) = clamp_to_body(code, info.at.unwrap_or((0, 0)));
            return Err(CompileError {
                line,
                column,
                message: info.text(),
            });
        }
        Err(e) => return Err(whole(e.to_string())),
    };
    let escaped = || whole("the code closes the filter function early (unbalanced braces)".into());
    let Some(function) = value.into_function() else {
        return Err(escaped());
    };
    let text: String = function
        .as_object()
        .and_then(|o| o.get::<_, Function>("toString").ok())
        .and_then(|f| f.call((rquickjs::function::This(function.clone()),)).ok())
        .unwrap_or_default();
    if text != source[1..source.len() - 1] {
        return Err(escaped());
    }
    Ok(function)
}

/// An error found on the wrapper's closing line (an unfinished body) is reported just after the body's end.
fn clamp_to_body(code: &str, (line, column): (u32, u32)) -> (u32, u32) {
    let lines = code.split('\n').count() as u32;
    if line > lines {
        let last = code.rsplit('\n').next().unwrap_or("");
        (lines, last.chars().count() as u32 + 1)
    } else {
        (line, column)
    }
}

fn whole(message: String) -> CompileError {
    CompileError {
        line: 0,
        column: 0,
        message,
    }
}
