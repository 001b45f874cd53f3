//! The declarative filter format: README examples validate; unsafe or malformed filters are rejected with a
//! reason that names the JSON path; the JSON Schema file agrees on the examples.

use screener::code::{CodeCache, Language};
use screener::filter::{compile, PLATFORM_DEFAULT_TIMEFRAME};
use screener::store::TraderRow;
use screener::traders::compile_rows;
use serde_json::{json, Value};

fn readme_examples() -> Vec<Value> {
    let readme = include_str!("../README.md");
    readme
        .split("```json")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .map(|text| {
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("README example is not JSON: {e}\n{text}"))
        })
        .filter(|v: &Value| v.get("when").is_some())
        .collect()
}

#[test]
fn every_readme_example_is_valid() {
    let examples = readme_examples();
    assert!(examples.len() >= 4, "README shows examples");
    for ex in examples {
        compile(&ex, None).unwrap_or_else(|e| panic!("{e}\n{ex}"));
    }
}

fn reason(filter: Value) -> String {
    compile(&filter, Some("5m")).expect_err("must be rejected")
}

#[test]
fn rejections_name_the_path_and_the_rule() {
    let cmp = |left: Value| json!({"version": 1, "when": {"left": left, "op": "gt", "right": {"const": 1}}});
    let cases = [
        (cmp(json!({"ind": "rsi", "period": 0})), "when.left.period"),
        (cmp(json!({"ind": "rsi", "period": 501})), "out of range"),
        (cmp(json!({"ind": "vwap", "period": 3})), "not a parameter"),
        (cmp(json!({"ind": "supertrend"})), "unknown variant"),
        (
            cmp(json!({"ind": "macd", "fast": 30, "slow": 10})),
            "shorter than slow",
        ),
        (
            cmp(json!({"ind": "bollinger", "output": "top"})),
            "when.left.output",
        ),
        (
            cmp(json!({"ind": "ema", "period": 9, "tf": "7m"})),
            "unknown timeframe",
        ),
        (
            cmp(json!({"ind": "sma", "period": 9, "mul": -1})),
            "when.left.mul",
        ),
        (cmp(json!({"const": 1, "ind": "rsi"})), "exactly one of"),
        (
            json!({"version": 1, "when": {"left": {"const": 1}, "op": "gt", "right": {"const": 2}}}),
            "two constants",
        ),
        (json!({"version": 1, "when": {"all": []}}), "empty group"),
        (
            json!({"version": 2, "when": {"left": {"ind": "close"}, "op": "gt", "right": {"const": 1}}}),
            "version",
        ),
        (
            json!({"version": 1, "when": {"left": {"ind": "close"}, "op": "gt", "right": {"const": 1}}, "eval": "x"}),
            "unknown field",
        ),
        (
            json!({"code": "return true", "indicators": []}),
            "code filters",
        ),
        (
            json!({"version": 1, "when": {"left": {"ind": "close"}, "op": "between", "right": {"const": 1}}}),
            "unknown variant",
        ),
        (
            json!({"version": 1, "trigger": {"mode": "cooldown"}, "when": {"left": {"ind": "close"}, "op": "gt", "right": {"const": 1}}}),
            "cooldown_bars",
        ),
    ];
    for (filter, expected) in cases {
        let r = reason(filter.clone());
        assert!(
            r.contains(expected),
            "{filter} -> {r} (expected {expected})"
        );
    }
}

#[test]
fn limits_on_size_and_depth() {
    let c = json!({"left": {"ind": "close"}, "op": "gt", "right": {"const": 1}});
    let nine = json!({"version": 1, "when": {"all": vec![c.clone(); 9]}});
    assert!(reason(nine).contains("more than 8 conditions"));
    let deep = json!({"version": 1, "when": {"all": [{"any": [{"all": [c.clone()]}]}]}});
    assert!(reason(deep).contains("deeper than 3"));
    let eight = json!({"version": 1, "when": {"all": vec![c; 8]}});
    assert!(compile(&eight, Some("5m")).is_ok());
}

#[test]
fn double_encoded_filters_and_trader_timeframes_are_accepted() {
    let f =
        json!({"version": 1, "when": {"left": {"ind": "rsi"}, "op": "lt", "right": {"const": 30}}});
    let compiled = compile(&Value::String(f.to_string()), Some("15m")).unwrap();
    assert_eq!(compiled.timeframe.name(), "15m");
    assert!(compile(&f, None).unwrap_err().contains("timeframe"));
}

#[test]
fn the_json_schema_file_is_valid_json_and_lists_the_same_vocabulary() {
    let schema: Value = serde_json::from_str(include_str!("../filter.schema.json")).unwrap();
    let text = schema.to_string();
    for word in [
        "crosses_above",
        "crosses_below",
        "once_per_bar",
        "on_change",
        "cooldown",
        "volume_sma",
        "change_pct",
        "stoch",
        "vwap",
        "bollinger",
    ] {
        assert!(text.contains(word), "schema lacks {word}");
    }
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn the_platforms_required_timeframes_and_fleets_symbols_live_in_the_filter() {
    let when = json!({"left": {"ind": "rsi"}, "op": "lt", "right": {"const": 30}});
    let f = json!({"version": 1, "requiredTimeframes": ["15m", "1h"], "symbols": ["btcusdt", "ETHUSDT"],
                   "when": when});
    let c = compile(&f, Some("5m")).unwrap();
    assert_eq!(c.timeframe.name(), "15m", "the first required timeframe");
    assert_eq!(c.symbols, ["BTCUSDT", "ETHUSDT"]);
    let explicit =
        json!({"version": 1, "timeframe": "4h", "requiredTimeframes": ["15m"], "when": when});
    assert_eq!(
        compile(&explicit, Some("5m")).unwrap().timeframe.name(),
        "4h"
    );
    for absent in [
        json!({"version": 1, "when": when}),
        json!({"version": 1, "requiredTimeframes": [], "symbols": [], "when": when}),
    ] {
        let c = compile(&absent, Some(PLATFORM_DEFAULT_TIMEFRAME)).unwrap();
        assert_eq!(c.timeframe.name(), "5m", "the platform's default");
        assert!(c.symbols.is_empty(), "the whole universe");
    }
    let bad_tf = json!({"version": 1, "requiredTimeframes": ["5m", "7m"], "when": when});
    assert!(reason(bad_tf).contains("requiredTimeframes[1]"));
    let bad_symbol = json!({"version": 1, "symbols": ["BTC/USDT"], "when": when});
    assert!(reason(bad_symbol).contains("symbols[0]"));
}

fn row(filter: Value, language: Option<&str>) -> TraderRow {
    TraderRow {
        id: uuid::Uuid::new_v4(),
        user_id: Some(uuid::Uuid::new_v4()),
        name: "t".into(),
        filter,
        language: language.map(String::from),
    }
}

#[test]
fn platform_code_filters_compile_by_language_and_declarative_rows_run_whatever_the_column_says() {
    let go = json!({"code": "klines := data.Klines[\"5m\"]\nreturn len(klines) > 0", "description": [],
                    "indicators": [], "requiredTimeframes": ["5m", "1h"]});
    let js = Value::String(
        json!({"code": "return klines.length > 0;", "requiredTimeframes": ["1m"]}).to_string(),
    );
    // The platform's column default is javascript: a NULL language is JavaScript.
    let js_by_default = json!({"code": "return true;"});
    let broken_go =
        json!({"code": "klines := data.Klines[\"5m\"]\ngo func() {}()\nreturn len(klines) > 0"});
    let declarative = json!({"version": 1, "symbols": ["solusdt"],
                             "when": {"left": {"ind": "close"}, "op": "gt", "right": {"const": 1}}});
    let broken = json!({"version": 1, "symbols": [""], "when": {"left": {"ind": "close"}, "op": "gt", "right": {"const": 1}}});
    let rows = vec![
        row(go, Some("go")),
        row(js, Some("javascript")),
        row(js_by_default, None),
        row(broken_go, Some("go")),
        row(declarative, Some("go")),
        row(broken, None),
    ];
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut cache = CodeCache::default();
    let set = compile_rows(rows.clone(), &mut cache);
    let code: Vec<_> = set.code.iter().map(|t| (t.id, t.language)).collect();
    assert_eq!(
        code,
        [
            (ids[0], Language::Go),
            (ids[1], Language::JavaScript),
            (ids[2], Language::JavaScript)
        ]
    );
    let tfs: Vec<_> = set.code[0].timeframes.iter().map(|t| t.name()).collect();
    assert_eq!(tfs, ["5m", "1h"], "the first required timeframe triggers");
    assert_eq!(
        set.code[2].trigger_timeframe().name(),
        "5m",
        "the platform's default"
    );
    assert_eq!(set.valid.len(), 1);
    assert_eq!(set.valid[0].id, ids[4]);
    assert_eq!(set.valid[0].symbols, ["SOLUSDT"]);
    assert_eq!(set.valid[0].filter.timeframe.name(), "5m");
    let invalid: Vec<_> = set.invalid.iter().map(|t| t.id).collect();
    assert_eq!(invalid, [ids[3], ids[5]]);
    let go_error = &set.invalid[0].reason;
    assert!(
        go_error.contains("go code does not compile") && go_error.contains("line 2"),
        "{go_error}"
    );
    assert!(
        set.invalid[1].reason.contains("symbols[0]"),
        "{:?}",
        set.invalid
    );

    // Compile once: the same sources again compile nothing new.
    let before = cache.compilations;
    let again = compile_rows(rows, &mut cache);
    assert_eq!((again.code.len(), cache.compilations), (3, before));
}
