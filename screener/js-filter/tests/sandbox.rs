//! Hostile filters: each stops with the right EvalError, and the worker keeps evaluating correctly afterwards.

mod common;

use common::*;
use filter_core::{EvalError, Limits};
use js_filter::Worker;

fn data() -> filter_core::MarketData {
    market(vec![("1m", klines(250, MINUTE, 1, 0.0))])
}

/// Evaluates `code`, then checks the same worker still runs an honest filter.
fn hostile(code: &str) -> Result<bool, EvalError> {
    let mut w = worker();
    let d = data();
    let out = eval(&mut w, code, "1m", &d);
    for _ in 0..3 {
        assert_eq!(
            eval(&mut w, seed::rsi_oversold(), "1m", &d),
            Ok(false),
            "after {code}"
        );
        assert_eq!(
            eval(
                &mut w,
                "const a = new Array(100000).fill(1); return a.length === 100000;",
                "1m",
                &d
            ),
            Ok(true),
            "memory is usable again after {code}"
        );
    }
    out
}

fn fuel(r: Result<bool, EvalError>) {
    assert_eq!(
        r,
        Err(EvalError::Fuel {
            limit: Limits::default().fuel
        })
    );
}

fn memory(r: Result<bool, EvalError>) {
    assert_eq!(
        r,
        Err(EvalError::Memory {
            limit: Limits::default().memory_bytes
        })
    );
}

#[test]
fn endless_loops_run_out_of_fuel() {
    fuel(hostile("while (true) {}"));
    fuel(hostile("for (;;) { try { while (true) {} } catch (e) {} }"));
    fuel(hostile("const f = () => { while (true) {} }; f();"));
}

#[test]
fn promise_floods_run_out_of_fuel() {
    fuel(hostile("while (true) await null;"));
    // Each level's promise waits on the next: whichever limit comes first stops it.
    let chain = hostile("const spin = async () => { await null; return spin(); }; await spin();");
    assert!(
        matches!(
            chain,
            Err(EvalError::Fuel { .. } | EvalError::Memory { .. })
        ),
        "{chain:?}"
    );
    fuel(hostile(
        "const f = () => queueMicrotask(f); f(); await new Promise(() => {});",
    ));
    fuel(hostile(
        "const f = async () => { await null; f(); }; f(); await new Promise(() => {});",
    ));
}

#[test]
fn a_promise_that_never_settles_is_an_error() {
    let r = hostile("await new Promise(() => {}); return true;");
    assert_eq!(
        r,
        Err(EvalError::Runtime {
            line: 0,
            column: 0,
            message: "the filter's promise never settled".into()
        })
    );
}

#[test]
fn leftover_background_jobs_do_not_run_later() {
    // A filter that returns while an async loop keeps queueing jobs; the next evaluations are unaffected.
    let r = hostile("(async () => { while (true) await null; })(); return true;");
    assert_eq!(r, Ok(true));
}

#[test]
fn allocation_bombs_hit_the_memory_limit() {
    memory(hostile(
        "const a = []; while (true) a.push(new Array(1e6));",
    ));
    memory(hostile("return 'x'.repeat(1e9).length > 0;"));
    memory(hostile("let s = 'x'; while (true) s = s + s;"));
    memory(hostile("let s = 'xy'; while (true) s = s.repeat(2) + '.';"));
    memory(hostile(
        "const m = new Map(); for (let i = 0; ; i++) m.set(i, { i, s: 'v' + i });",
    ));
}

#[test]
fn deep_recursion_is_a_depth_error_not_a_crash() {
    let depth = Err(EvalError::Depth {
        limit: Limits::default().call_depth,
    });
    assert_eq!(
        hostile("function f(n) { return f(n + 1) + 1; } return f(0) > 0;"),
        depth
    );
    assert_eq!(
        hostile("const f = async (n) => (await f(n + 1)) + 1; return (await f(0)) > 0;"),
        depth
    );
    assert_eq!(hostile("const o = {}; o.toString = function () { return '' + this; }; return ('' + o).length > 0;"), depth);
    // Recursion within the configured depth works.
    assert_eq!(
        hostile("function f(n) { return n === 0 ? 0 : 1 + f(n - 1); } return f(200) === 200;"),
        Ok(true)
    );
}

#[test]
fn thrown_exceptions_are_runtime_errors_with_position() {
    assert_eq!(
        hostile("const x = 1;\n  throw new Error('boom');"),
        Err(EvalError::Runtime {
            line: 2,
            column: 13,
            message: "Error: boom".into()
        })
    );
    assert_eq!(
        hostile("\nconst k = null;\nreturn k.x > 0;"),
        Err(EvalError::Runtime {
            line: 3,
            column: 8,
            message: "TypeError: cannot read property 'x' of null".into()
        })
    );
    let thrown_string = hostile("throw 'plain text';");
    assert!(
        matches!(thrown_string, Err(EvalError::Runtime { ref message, .. }) if message == "plain text"),
        "{thrown_string:?}"
    );
    let rejected = hostile("await Promise.reject(new RangeError('no'));");
    assert!(
        matches!(rejected, Err(EvalError::Runtime { ref message, line: 1, .. }) if message == "RangeError: no"),
        "{rejected:?}"
    );
}

#[test]
fn non_boolean_results() {
    assert_eq!(
        hostile("return 1;"),
        Err(EvalError::NotBool("the number 1".into()))
    );
    assert_eq!(hostile(""), Err(EvalError::NotBool("undefined".into())));
    assert_eq!(
        hostile("return null;"),
        Err(EvalError::NotBool("null".into()))
    );
    assert_eq!(
        hostile("return 'yes';"),
        Err(EvalError::NotBool("the string \"yes\"".into()))
    );
    // The platform's server executor: an object's `match === true` is the verdict.
    assert_eq!(
        hostile("return { match: true, conditions: ['a'] };"),
        Ok(true)
    );
    assert_eq!(hostile("return { match: 1 };"), Ok(false));
}

#[test]
fn no_code_generation_io_or_host_objects() {
    let d = data();
    let mut w = worker();
    let absent = [
        "eval",
        "require",
        "process",
        "fetch",
        "setTimeout",
        "setInterval",
        "XMLHttpRequest",
        "WebSocket",
        "performance",
        "WeakRef",
        "FinalizationRegistry",
        "std",
        "os",
        "Deno",
        "Bun",
        "print",
        "scriptArgs",
    ];
    for name in absent {
        let code = format!("return typeof globalThis[{name:?}] === 'undefined';");
        assert_eq!(
            eval(&mut w, &code, "1m", &d),
            Ok(true),
            "{name} is reachable"
        );
    }
    for code in [
        "return Function('return true')();",
        "return (function () {}).constructor('return true')();",
        "return (async function () {}).constructor('return true')();",
        "return (function* () {}).constructor('yield true')().next().value;",
        "return Object.getPrototypeOf(async function* () {}).constructor('')() !== 1;",
    ] {
        let r = eval(&mut w, code, "1m", &d);
        assert!(
            matches!(r, Err(EvalError::Runtime { ref message, .. }) if message.contains("code generation from strings is disabled")),
            "{code}: {r:?}"
        );
    }
    // A module import is a syntax error in a function body.
    assert!(
        w.compile("import('fs'); return true;").is_err()
            || eval(&mut w, "await import('fs'); return true;", "1m", &d).is_err()
    );
    assert!(w.compile("import fs from 'fs'; return true;").is_err());
}

#[test]
fn clock_and_randomness_are_deterministic() {
    let d = data();
    let ts = d.timestamp_ms;
    let mut w = worker();
    let code = format!(
        "return Date.now() === {ts} && new Date().getTime() === {ts} && typeof Date() === 'string' \
         && new Date(0).getTime() === 0 && Date.UTC(2026, 0, 1) === 1767225600000 && new Date() instanceof Date;"
    );
    assert_eq!(eval(&mut w, &code, "1m", &d), Ok(true));
    let sequence = "const a = [Math.random(), Math.random()]; \
        if (!(a[0] >= 0 && a[0] < 1 && a[0] !== a[1])) throw new Error('bad'); globalThis.seen = globalThis.seen || a[0]; \
        return a[0] === globalThis.seen;";
    let id = w.compile(sequence).unwrap();
    for _ in 0..3 {
        let r = w.evaluate_many(&[(id, "1m")], &d, &mut filter_core::IndicatorCache::new());
        assert_eq!(
            r,
            vec![Ok(true)],
            "the sequence restarts for every evaluation"
        );
    }
}

#[test]
fn tight_limits_are_enforced() {
    let limits = Limits {
        fuel: 100_000,
        memory_bytes: 1 << 20,
        call_depth: 50,
    };
    let mut w = Worker::new(limits).unwrap();
    let d = data();
    assert_eq!(
        eval(
            &mut w,
            "let s = 0; for (let i = 0; i < 1e6; i++) s += i; return s > 0;",
            "1m",
            &d
        ),
        Err(EvalError::Fuel { limit: 100_000 })
    );
    assert_eq!(
        eval(
            &mut w,
            "const a = new Array(300000).fill(1.5); return a.length > 0;",
            "1m",
            &d
        ),
        Err(EvalError::Memory { limit: 1 << 20 })
    );
    assert_eq!(eval(&mut w, seed::rsi_oversold(), "1m", &d), Ok(false));
}

#[test]
fn a_missing_timeframe_or_program_is_reported() {
    let d = data();
    let mut w = worker();
    let r = eval(&mut w, "return true;", "4h", &d);
    assert!(
        matches!(r, Err(EvalError::Runtime { ref message, .. }) if message.contains("no 4h klines")),
        "{r:?}"
    );
    let id = w.compile("return true;").unwrap();
    w.remove(id);
    let r = w.evaluate_many(&[(id, "1m")], &d, &mut filter_core::IndicatorCache::new());
    assert!(matches!(r[0], Err(EvalError::Runtime { .. })), "{r:?}");
}

#[test]
fn hostile_indicator_arguments_are_errors_not_crashes() {
    let range = |r: Result<bool, EvalError>, text: &str| {
        assert!(
            matches!(r, Err(EvalError::Runtime { ref message, .. }) if message.contains(text)),
            "{r:?}"
        );
    };
    // A sparse array claiming a billion elements.
    range(
        hostile("const a = []; a.length = 1e9; await indicators.sma(a, 5); return true;"),
        "at most 100000",
    );
    // Getters re-entering the natives while an indicator reads its argument.
    range(
        hostile("const a = [1, 2, 3]; Object.defineProperty(a, 1, { get() { indicators.rsi(klines); return 2; } }); \
                 await indicators.sma(a, 2); return true;"),
        "inside an indicator's argument",
    );
    range(
        hostile(
            "const a = [1, 2, 3]; Object.defineProperty(a, 1, { get() { return Date.now(); } }); \
                 await indicators.sma(a, 2); return true;",
        ),
        "inside an indicator's argument",
    );
    let r = hostile("return (await indicators.rsi('not an array')).value > 0;");
    range(r, "must be an array");
}

#[test]
fn hoarding_memory_across_evaluations_resets_the_program() {
    // Each evaluation keeps ~3 MB in a global; without a reset the worker would grow without bound.
    let d = data();
    let mut w = worker();
    let hoarder = w
        .compile("(globalThis.hoard ||= []).push(new Array(200000).fill(1.5)); return hoard.length <= 6;")
        .unwrap();
    let honest = w.compile(seed::rsi_oversold()).unwrap();
    let mut memory_errors = 0;
    for _ in 0..20 {
        let out = w.evaluate_many(
            &[(hoarder, "1m"), (honest, "1m")],
            &d,
            &mut filter_core::IndicatorCache::new(),
        );
        match &out[0] {
            Ok(true) => {}
            Err(EvalError::Memory { .. }) => memory_errors += 1,
            other => panic!("{other:?}"),
        }
        assert_eq!(out[1], Ok(false));
    }
    assert!(
        memory_errors >= 2,
        "the hoarder was reset {memory_errors} times"
    );
    // A program keeping a little state is left alone.
    let counter = w
        .compile("globalThis.n = (globalThis.n || 0) + 1; return n > 0;")
        .unwrap();
    for _ in 0..50 {
        let out = w.evaluate_many(
            &[(counter, "1m")],
            &d,
            &mut filter_core::IndicatorCache::new(),
        );
        assert_eq!(out, vec![Ok(true)]);
    }
}
