//! Hostile filters: every one stops with the right error (and position), nothing panics or overflows.
mod common;
use common::*;
use filter_core::{EvalError, Limits};

fn runtime_at(r: Result<bool, EvalError>, line: u32, column: u32, needle: &str) {
    match r {
        Err(EvalError::Runtime {
            line: l,
            column: c,
            message,
        }) => {
            assert_eq!((l, c), (line, column), "{message}");
            assert!(message.contains(needle), "{message}");
        }
        other => panic!("expected a runtime error, got {other:?}"),
    }
}

#[test]
fn infinite_loops_run_out_of_fuel() {
    assert_eq!(
        eval("for {\n}\nreturn true"),
        Err(EvalError::Fuel {
            limit: Limits::default().fuel
        })
    );
    assert!(matches!(
        eval("x := 0\nfor x >= 0 { x = x + 0 }\nreturn true"),
        Err(EvalError::Fuel { .. })
    ));
    assert!(matches!(
        eval("f := func() {}\nfor i := 0; ; i++ { f() }\nreturn true"),
        Err(EvalError::Fuel { .. })
    ));
    let small = Limits {
        fuel: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        eval_limits(
            "s := 0.0\nfor i := 0; i < 100000; i++ { s += 1 }\nreturn s > 0",
            small
        ),
        Err(EvalError::Fuel { limit: 1000 })
    ));
}

#[test]
fn indicators_cost_fuel_in_proportion_to_input() {
    let small = Limits {
        fuel: 200,
        ..Limits::default()
    };
    assert!(matches!(
        eval_limits(
            "r := indicators.GetLatestRSI(data.Klines[\"5m\"], 14)\nreturn r != nil",
            small
        ),
        Err(EvalError::Fuel { .. })
    ));
    let ok = Limits {
        fuel: 2000,
        ..Limits::default()
    };
    assert_eq!(
        eval_limits(
            "r := indicators.GetLatestRSI(data.Klines[\"5m\"], 14)\nreturn r != nil",
            ok
        ),
        Ok(true)
    );
}

#[test]
fn allocation_bombs_hit_the_memory_limit_before_allocating() {
    let mem = Err(EvalError::Memory {
        limit: Limits::default().memory_bytes,
    });
    assert_eq!(
        eval("xs := make([]float64, 1<<40)\nreturn len(xs) > 0"),
        mem
    );
    assert_eq!(
        eval("xs := make([]float64, 0, math.MaxInt64)\nreturn len(xs) == 0"),
        mem
    );
    assert_eq!(
        eval("s := \"xxxxxxxxxxxxxxxx\"\nfor {\n s = s + s\n}\nreturn len(s) > 0"),
        mem
    );
    assert_eq!(
        eval("var xs []float64\nfor {\n xs = append(xs, 1)\n}\nreturn true"),
        mem
    );
    assert_eq!(
        eval("m := map[int]int{}\nfor i := 0; ; i++ {\n m[i] = i\n}\nreturn true"),
        mem
    );
    assert_eq!(
        eval(
            "var fs []func() int\nfor {\n fs = append(fs, func() int { return 1 })\n}\nreturn true"
        ),
        mem
    );
}

#[test]
fn closure_chains_drop_without_recursion() {
    // Each closure captures the previous one: dropping the chain must not recurse per link.
    let r = eval_limits(
        "g := func() int { return 0 }\nfor i := 0; i < 200000; i++ {\n h := g\n g = func() int { return h() }\n}\nreturn true",
        Limits { fuel: 50_000_000, memory_bytes: 256 << 20, call_depth: 200 },
    );
    assert_eq!(r, Ok(true));
}

#[test]
fn runaway_recursion_hits_the_depth_limit() {
    let code = "var f func(int) int\nf = func(n int) int { return f(n+1) + 1 }\nreturn f(0) > 0";
    assert_eq!(eval(code), Err(EvalError::Depth { limit: 200 }));
    // A caller asking for far more depth than the stack allows still gets Depth, not a stack overflow.
    let deep = Limits {
        fuel: 100_000_000,
        memory_bytes: 1 << 30,
        call_depth: 1_000_000,
    };
    let code = "var f func(int) float64\nf = func(n int) float64 {\n x := float64(n)\n if n > 0 { return f(n-1) + x*((x+1)*(x+2)-(x*(x+3))) }\n return 0\n}\nreturn f(100000) > 0";
    assert!(matches!(
        eval_limits(code, deep),
        Err(EvalError::Depth { .. })
    ));
    // Worst case: each call sits under deeply nested blocks and a long operator chain.
    let code = format!(
        "var f func(int) int\nf = func(n int) int {{\n{}return 1{} + f(n+1)\n{}}}\nreturn f(0) > 0",
        "if n >= 0 {\n".repeat(45),
        " + n".repeat(45),
        "}\nreturn 0\n".repeat(45)
    );
    assert!(matches!(
        eval_limits(&code, deep),
        Err(EvalError::Depth { .. })
    ));
}

#[test]
fn runtime_errors_carry_the_position() {
    runtime_at(
        eval("var p *float64\nx := 1.0\nreturn *p > x"),
        3,
        8,
        "nil pointer dereference",
    );
    runtime_at(
        eval("k := data.Klines[\"5m\"]\nreturn k[len(k)].Close > 0"),
        2,
        8,
        "index out of range [250] with length 250",
    );
    runtime_at(
        eval("k := data.Klines[\"3m\"]\nlast := k[len(k)-1]\nreturn last.Close > 0"),
        2,
        9,
        "index out of range [-1]",
    );
    runtime_at(
        eval("xs := []float64{1}\ni := 5\nreturn xs[i] > 0"),
        3,
        8,
        "index out of range [5] with length 1",
    );
    runtime_at(
        eval("a := 1\nb := 0\nreturn a/b > 0"),
        3,
        9,
        "integer divide by zero",
    );
    runtime_at(
        eval("a := 1\nb := 0\nreturn a%b > 0"),
        3,
        9,
        "integer divide by zero",
    );
    runtime_at(
        eval("xs := []float64{1, 2}\nys := xs[1:5]\nreturn len(ys) > 0"),
        2,
        7,
        "slice bounds out of range",
    );
    runtime_at(
        eval("var m map[string]int\nm[\"a\"] = 1\nreturn true"),
        2,
        1,
        "assignment to entry in nil map",
    );
}

#[test]
fn nil_ticker_dereference() {
    let mut data = default_market();
    data.ticker = None;
    runtime_at(
        eval_on("price := data.Ticker.LastPrice\nreturn price > 0", &data),
        1,
        10,
        "nil pointer dereference",
    );
    assert_eq!(
        eval_on(
            "if data.Ticker == nil { return false }\nreturn data.Ticker.LastPrice > 0",
            &data
        ),
        Ok(false)
    );
}

#[test]
fn panics_are_runtime_errors() {
    runtime_at(
        eval("if true {\n panic(\"boom\")\n}\nreturn true"),
        2,
        2,
        "panic: boom",
    );
    runtime_at(
        eval("var f func() bool\nreturn f()"),
        2,
        8,
        "nil pointer dereference",
    );
}

#[test]
fn huge_nesting_is_a_compile_error_not_a_stack_overflow() {
    for (open, close) in [("(", ")"), ("{", "}"), ("[]", ""), ("- ", ""), ("!", "")] {
        let n = 100_000;
        let code = match open {
            "(" => format!("return {}true{}", open.repeat(n), close.repeat(n)),
            "{" => format!("{}\n{}return true", open.repeat(n), close.repeat(n)),
            "[]" => format!("var x {}float64\nreturn true", open.repeat(n)),
            _ => format!("x := {}1\nreturn x > 0", open.repeat(n)),
        };
        let e = compile_err(&code);
        assert!(e.message.contains("nesting too deep"), "{open}: {e}");
        assert!(e.line >= 1 && e.column >= 1);
    }
    // 50 levels are fine.
    check(&format!(
        "return {}1{} == 1",
        "(".repeat(50),
        ")".repeat(50)
    ));
    // Long operator chains and else-if chains nest too, and are bounded the same way.
    let long = format!("x := 0{}\nreturn x == 5000", " + 1".repeat(5000));
    assert!(compile_err(&long).message.contains("nesting too deep"));
    let chain = format!(
        "x := 1\nif x == 0 {{\n}}{}\nreturn true",
        " else if x == 0 {\n}".repeat(5000)
    );
    assert!(compile_err(&chain).message.contains("nesting too deep"));
    // Just under the limit everything works, within the default 2 MiB test stack.
    check(&format!("x := 0{}\nreturn x == 90", " + 1".repeat(90)));
    check(&format!(
        "x := 1\n{}x++\n{}return x == 2",
        "{\n".repeat(90),
        "}\n".repeat(90)
    ));
    check(&format!(
        "f := func() bool {{ return {}true{} }}\nreturn f()",
        "(".repeat(95),
        ")".repeat(95)
    ));
}

#[test]
fn unsupported_constructs_are_named() {
    let cases: &[(&str, &str, u32, u32)] = &[
        (
            "go func() {}()\nreturn true",
            "unsupported construct: goroutine (`go` statement)",
            1,
            1,
        ),
        (
            "x := 1\nselect {}\nreturn true",
            "unsupported construct: `select`",
            2,
            1,
        ),
        (
            "ch := make(chan int)\nreturn true",
            "unsupported construct: channel",
            1,
            12,
        ),
        (
            "defer func() {}()\nreturn true",
            "unsupported construct: `defer`",
            1,
            1,
        ),
        (
            "goto end\nreturn true",
            "unsupported construct: `goto`",
            1,
            1,
        ),
        (
            "import \"fmt\"\nreturn true",
            "unsupported construct: import",
            1,
            1,
        ),
        (
            "type T struct{}\nreturn true",
            "unsupported construct: type declaration",
            1,
            1,
        ),
        (
            "func helper() bool { return true }\nreturn helper()",
            "unsupported construct: function declaration",
            1,
            1,
        ),
        (
            "var x interface{}\nreturn x == nil",
            "unsupported construct: interface type",
            1,
            7,
        ),
        (
            "x := 1\nswitch v := x.(type) {\n}\nreturn true",
            "unsupported construct: type assertion",
            2,
            14,
        ),
        (
            "x := recover()\nreturn x == nil",
            "unsupported construct: recover",
            1,
            6,
        ),
        (
            "var a [3]float64\nreturn len(a) == 3",
            "unsupported construct: array type",
            1,
            7,
        ),
        (
            "println(\"x\")\nreturn true",
            "unsupported construct: println",
            1,
            1,
        ),
        (
            "id := func[T any](x T) T { return x }\nreturn id(true)",
            "unsupported construct: generics",
            1,
            11,
        ),
        (
            "ch := make(chan int)\nch <- 1\nreturn true",
            "unsupported construct: channel",
            1,
            12,
        ),
    ];
    for (code, needle, line, col) in cases {
        let e = compile_err(code);
        assert!(e.message.contains(needle), "{code}: {e}");
        assert_eq!((e.line, e.column), (*line, *col), "{code}: {e}");
    }
}

#[test]
fn other_packages_are_unsupported() {
    for (code, pkg, col) in [
        ("fmt.Println(\"hi\")\nreturn true", "fmt", 1),
        ("t := time.Now()\nreturn t.Unix() > 0", "time", 6),
        ("f, _ := os.Open(\"/etc/passwd\")\nreturn f != nil", "os", 9),
        (
            "x := strings.ToUpper(\"a\")\nreturn x == \"A\"",
            "strings",
            6,
        ),
        ("return unsafe.Sizeof(1) > 0", "unsafe", 8),
        ("x := http.Get\nreturn x != nil", "http", 6),
    ] {
        let e = compile_err(code);
        assert_eq!(e.message, format!("unsupported package: {pkg}"), "{code}");
        assert_eq!((e.line, e.column), (1, col), "{code}");
    }
}

#[test]
fn ordinary_mistakes_are_compile_errors() {
    let cases: &[(&str, &str, u32, u32)] = &[
        ("return foo > 1", "undefined: foo", 1, 8),
        (
            "x := 1\nreturn x",
            "cannot use x (variable of type int) as bool value in return statement",
            2,
            8,
        ),
        ("if true {\n return true\n}", "missing return", 1, 1),
        (
            "x := indicators.GetLatestRSI(data.Klines[\"5m\"])\nreturn x != nil",
            "not enough arguments in call to indicators.GetLatestRSI",
            1,
            6,
        ),
        (
            "x := indicators.GetLatestEMA(data.Klines[\"5m\"], 5)\nreturn x != nil",
            "undefined: indicators.GetLatestEMA",
            1,
            6,
        ),
        (
            "x := math.Foo(1)\nreturn x > 0",
            "undefined: math.Foo",
            1,
            6,
        ),
        (
            "k := data.Klines[\"5m\"]\nreturn k[0].Foo > 0",
            "k[0].Foo undefined",
            2,
            8,
        ),
        (
            "x := 1\nx := 2\nreturn x > 0",
            "no new variables on left side of :=",
            2,
            1,
        ),
        (
            "r := indicators.GetLatestRSI(data.Klines[\"5m\"], 14)\nreturn r < 30",
            "mismatched types *float64 and untyped int",
            2,
            10,
        ),
        (
            "s := \"a\"\nreturn s + 1 == \"a1\"",
            "mismatched types string and untyped int",
            2,
            10,
        ),
        ("a := 5\nreturn a / 0 > 1", "division by zero", 2, 10),
        ("break\nreturn true", "break is not in a loop", 1, 1),
        ("x := 1\nx\nreturn true", "is not used", 2, 1),
        ("return true +", "syntax error", 1, 14),
        (
            "x := \"unterminated\nreturn true",
            "string literal not terminated",
            1,
            6,
        ),
        ("x := 1 @ 2", "invalid character", 1, 8),
    ];
    for (code, needle, line, col) in cases {
        let e = compile_err(code);
        assert!(e.message.contains(needle), "{code}: {e}");
        assert_eq!((e.line, e.column), (*line, *col), "{code}: {e}");
    }
}
