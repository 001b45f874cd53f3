//! The platform's code traders in the real screener binary, on the replay sample and a real SQLite file: Go
//! and JavaScript traders fire; hostile filters are stopped at their sandbox limits, marked failing with a
//! precise reason, and change nothing for the other traders; code that does not compile is disabled with its
//! line and column.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

/// Go as the platform's generator writes it: RSI(14) below 35 with volume above its average (fires on the
/// sample's sell-off).
const GO_RSI: &str = "klines := data.Klines[\"1m\"]\nif len(klines) < 20 {\n    return false\n}\n\
rsi := indicators.GetLatestRSI(klines, 14)\navgVol := indicators.CalculateAvgVolume(klines, 20)\n\
if rsi == nil || avgVol == nil {\n    return false\n}\n\
return *rsi < 35.0 && klines[len(klines)-1].Volume > *avgVol";

/// The platform's seeded legacy JavaScript style.
const JS_RSI: &str =
    "const rsi = await indicators.rsi(klines, 14);\nreturn rsi.value < 40 && rsi.increasing;";

const GO_ENDLESS: &str = "n := 0\nfor {\n    n++\n}\nreturn n > 0";
const GO_ALLOCATION_BOMB: &str =
    "s := \"x\"\nfor i := 0; i < 64; i++ {\n    s = s + s\n}\nreturn len(s) > 0";
const JS_ALLOCATION_BOMB: &str =
    "const a = [];\nwhile (true) { a.push(new Array(1000000).fill(1)); }\nreturn true;";
const JS_RECURSION: &str = "function f(n) { return f(n + 1) + 1; }\nreturn f(0) > 0;";
const GO_UNSUPPORTED: &str =
    "klines := data.Klines[\"1m\"]\ngo func() {}()\nreturn len(klines) > 0";

fn insert(path: &Path, id: Uuid, language: &str, code: &str) {
    let filter =
        json!({"code": code, "requiredTimeframes": ["1m"], "description": [], "indicators": []});
    rusqlite::Connection::open(path)
        .unwrap()
        .execute(
            "INSERT INTO traders (id, is_built_in, enabled, name, filter, language) VALUES (?1, 1, 1, ?2, ?3, ?4)",
            rusqlite::params![id.to_string(), format!("{language} {id}"), filter.to_string(), language],
        )
        .unwrap();
}

/// (trader, symbol, candle_open_time) of every signal.
fn signals(path: &Path) -> BTreeSet<(String, String, i64)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut q = c
        .prepare("SELECT trader_id, symbol, CAST(strftime('%s', candle_open_time) AS INTEGER) FROM signals")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Replays the sample through a screener with these traders until every candle is evaluated and written.
fn replay(name: &str, traders: &[(Uuid, &str, &str)]) -> (BTreeSet<(String, String, i64)>, Value) {
    let path = migrated_sqlite(name);
    for (id, language, code) in traders {
        insert(&path, *id, language, code);
    }
    let s = Screener::start(&replay_env(&format!("sqlite://{}", path.display())));
    wait_for("all 480 candles replayed", Duration::from_secs(30), || {
        (s.metric("screener_candles_closed_total") >= 480.0).then_some(())
    });
    // The good traders are never disabled, so each of the 480 closes reaches the code workers.
    wait_for("every close evaluated", Duration::from_secs(60), || {
        (s.metric("screener_code_closes_total") >= 480.0
            && s.metric("screener_signals_pending") == 0.0)
            .then_some(())
    });
    let health = s.health().1;
    assert!(
        s.stop().success(),
        "the screener survives every hostile filter"
    );
    (signals(&path), health)
}

#[test]
fn go_and_javascript_traders_fire_and_hostile_filters_change_nothing_for_them() {
    let (go, js) = (Uuid::new_v4(), Uuid::new_v4());
    let good = [(go, "go", GO_RSI), (js, "javascript", JS_RSI)];
    let (alone, health) = replay("code-alone", &good);
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["code_traders"], 2, "{health}");
    for id in [go, js] {
        assert!(
            alone.iter().any(|(t, ..)| *t == id.to_string()),
            "trader {id} fired on the sample: {alone:?}"
        );
    }

    let hostile = [
        (Uuid::new_v4(), "go", GO_ENDLESS),
        (Uuid::new_v4(), "go", GO_ALLOCATION_BOMB),
        (Uuid::new_v4(), "javascript", JS_ALLOCATION_BOMB),
        (Uuid::new_v4(), "javascript", JS_RECURSION),
    ];
    let unsupported = Uuid::new_v4();
    let mut all: Vec<(Uuid, &str, &str)> = good.to_vec();
    all.extend(hostile);
    all.push((unsupported, "go", GO_UNSUPPORTED));
    let (together, health) = replay("code-hostile", &all);
    assert_eq!(
        together, alone,
        "the good traders' signals are the same with hostile traders beside them"
    );
    assert_eq!(health["status"], "degraded", "{health}");
    let failing = health["failing_traders"].as_array().unwrap();
    let reason = |id: Uuid| -> String {
        let t = failing
            .iter()
            .find(|t| t["id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} is listed as failing: {health}"));
        assert_eq!(t["disabled"], true, "{t}");
        t["reason"].as_str().unwrap().to_string()
    };
    assert!(reason(hostile[0].0).contains("work limit"), "{health}");
    assert!(reason(hostile[1].0).contains("memory limit"), "{health}");
    assert!(reason(hostile[2].0).contains("memory limit"), "{health}");
    assert!(reason(hostile[3].0).contains("call depth"), "{health}");
    let disabled = &health["disabled_traders"];
    assert_eq!(disabled[0]["id"], unsupported.to_string(), "{health}");
    let compile_error = disabled[0]["reason"].as_str().unwrap();
    assert!(
        compile_error.contains("line 2, column 1") && compile_error.contains("go"),
        "{compile_error}"
    );
}
