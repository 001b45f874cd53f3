//! Compile errors locate the problem in the trader's own body; `check` works from any thread.

mod common;

use filter_core::CompileError;
use js_filter::check;

fn err(code: &str) -> CompileError {
    check(code).expect_err(code)
}

#[test]
fn syntax_errors_have_body_line_and_column() {
    let e = err("const a = 1;\nconst b = ;\nreturn true;");
    assert_eq!((e.line, e.column), (2, 11), "{e}");
    assert!(e.message.starts_with("SyntaxError"), "{e}");
    let e = err("return (1 +");
    assert_eq!(
        e.line, 1,
        "an unfinished last line is reported on that line: {e}"
    );
    let e = err("\n\n   let let = 1;");
    assert_eq!(e.line, 3, "{e}");
}

#[test]
fn valid_code_and_the_seed_traders_check() {
    for (name, code, _) in common::seed::all() {
        check(code).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    check("return true").unwrap();
    // A top-level `return` and `await` are allowed: the body is an async function's.
    check("await null; return false;").unwrap();
}

#[test]
fn a_body_cannot_escape_the_wrapper() {
    for code in [
        "}); (function () {",
        "return true; }); globalThis.x = 1; (async function () {",
        "}\n/*",
    ] {
        assert!(check(code).is_err(), "{code}");
    }
}

#[test]
fn check_runs_on_any_thread() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                (
                    check("return true;").is_ok(),
                    check(&format!("return {i} +")).is_err(),
                )
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), (true, true));
    }
}
