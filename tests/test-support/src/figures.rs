//! The figures of the proof run (issue 9): benchmarks and suites in any crate record them here, and
//! `proof-report` (tests/e2e) renders them. Each figure is printed and, when `FLEET_PROOF_FIGURES` names a
//! file, appended to it as one JSON line `{"suite", "name", "value", "note"}`.

use std::io::Write;

pub fn record(suite: &str, name: &str, value: impl std::fmt::Display, note: &str) {
    let value = value.to_string();
    println!("{suite}: {name} = {value} {note}");
    if let Ok(path) = std::env::var("FLEET_PROOF_FIGURES") {
        let line = serde_json::json!({"suite": suite, "name": name, "value": value, "note": note});
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        writeln!(file, "{line}").expect("append a figure");
    }
}
