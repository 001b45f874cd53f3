//! The declarative filter format: README examples validate; unsafe or malformed filters are rejected with a
//! reason that names the JSON path; the JSON Schema file agrees on the examples.

use screener::filter::compile;
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
