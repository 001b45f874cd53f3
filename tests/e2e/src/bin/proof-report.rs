//! The proof report (issue 9): renders `tests/reports/proof.md` from what `tests/fleet proof` collected.
//! Never edit the report by hand; run `tests/fleet proof`.
//!
//!   proof-report ingest host-bench|screener <log>   turn a bench's printed lines into figures
//!   proof-report render <work dir> <out.md>          write the Markdown report
//!
//! The work directory holds `figures.jsonl` (every `proof::figure` / `fleet_test_support::figures::record`),
//! `runs.tsv` (kind, name, pass/FAIL, seconds, command) and `meta.tsv` (key, value: date, commit, load...).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use fleet_test_support::figures::record;
use serde_json::Value;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["ingest", "host-bench", log] => ingest_host_bench(&read(log)),
        ["ingest", "screener", log] => ingest_screener(&read(log)),
        ["render", work, out] => {
            let markdown = render(Path::new(work));
            std::fs::write(out, markdown).unwrap_or_else(|e| panic!("write {out}: {e}"));
            println!("proof report written to {out}");
        }
        _ => {
            eprintln!(
                "usage: proof-report ingest host-bench|screener <log> | render <work dir> <out.md>"
            );
            std::process::exit(2);
        }
    }
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The numbers after `key` on the first line containing `needle`, e.g. `p50=` in `p50=12.3 µs`.
fn number_after(text: &str, needle: &str, key: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains(needle))?;
    let rest = &line[line.find(needle)? + needle.len()..];
    let rest = rest[rest.find(key)? + key.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn expect(value: Option<f64>, what: &str) -> f64 {
    value.unwrap_or_else(|| panic!("the bench output has no {what}: did its format change?"))
}

/// host-bench (tests/spin-host/src/bin/host_bench.rs) prints `name: n=N p50=X µs p99=Y µs` lines.
fn ingest_host_bench(log: &str) {
    let suite = "bench: host instantiation (spin-test-host host-bench)";
    let pair = |needle: &str| {
        (
            expect(number_after(log, needle, "p50="), needle),
            expect(number_after(log, needle, "p99="), needle),
        )
    };
    let inst = pair("instantiate");
    let trivial = pair("trivial route");
    let unrouted = pair("unrouted 404");
    let both = |(p50, p99): (f64, f64)| format!("{p50:.1} / {p99:.1}");
    record(
        suite,
        "instantiate p50 / p99 µs",
        both(inst),
        "Store::new + instantiate_pre, trivial echo component",
    );
    record(
        suite,
        "trivial route round trip p50 / p99 µs",
        both(trivial),
        "keep-alive HTTP, fresh instance per request",
    );
    record(
        suite,
        "baseline: unrouted 404 p50 / p99 µs",
        both(unrouted),
        "the host's HTTP stack, no wasm",
    );
    record(
        suite,
        "ratio trivial route / unrouted (p50)",
        format!("{:.1}x", trivial.0 / unrouted.0),
        "",
    );
}

/// The screener's close bench (screener/benches/close.rs).
fn ingest_screener(log: &str) {
    let suite = "bench: screener close-to-signal (cargo bench -p screener --bench close)";
    let setup = log
        .lines()
        .find(|l| l.starts_with("close bench:"))
        .unwrap_or("close bench")
        .trim_start_matches("close bench:")
        .trim()
        .to_string();
    let latency = (
        expect(
            number_after(log, "committed signals", "p50"),
            "close latency p50",
        ),
        expect(
            number_after(log, "committed signals", "p99"),
            "close latency p99",
        ),
    );
    let eval = expect(number_after(log, "evaluation", "p50"), "evaluation p50");
    let rss = expect(number_after(log, "peak RSS", ":"), "peak RSS");
    let cpu = number_after(log, "CPU time", "mean");
    record(
        suite,
        "close messages -> committed signals p50 / p99 ms",
        format!("{:.2} / {:.2}", latency.0, latency.1),
        &format!("{setup}; real PostgreSQL"),
    );
    record(
        suite,
        "baseline: parse + indicators + evaluation p50 ms",
        format!("{eval:.3}"),
        "no database",
    );
    record(
        suite,
        "ratio close-to-signal / evaluation (p50)",
        format!("{:.1}x", latency.0 / eval),
        "the share of committing signal rows",
    );
    if let Some(cpu) = cpu {
        record(suite, "CPU time per close mean ms", format!("{cpu:.2}"), "");
    }
    record(
        suite,
        "peak RSS MiB",
        format!("{rss:.1}"),
        "whole bench process",
    );
    ingest_code_traders(log, eval);
}

/// The close bench's second phase: Go and JavaScript code traders through the code runner, and how long each
/// hostile filter runs before its limit stops it.
fn ingest_code_traders(log: &str, declarative_eval: f64) {
    let suite = "bench: screener code traders (cargo bench -p screener --bench close)";
    let setup = log
        .lines()
        .find(|l| l.starts_with("code traders:"))
        .unwrap_or("code traders")
        .trim_start_matches("code traders:")
        .trim()
        .to_string();
    let p50 = expect(
        number_after(log, "every code trader evaluated", "p50"),
        "code p50",
    );
    let p99 = expect(
        number_after(log, "every code trader evaluated", "p99"),
        "code p99",
    );
    record(
        suite,
        "close -> every code trader evaluated p50 / p99 ms",
        format!("{p50:.2} / {p99:.2}"),
        &format!("{setup}; goal p99 <= 100 ms"),
    );
    record(
        suite,
        "ratio code / declarative evaluation (p50)",
        format!("{:.1}x", p50 / declarative_eval),
        "same 100 traders x 300 symbols, declarative figure above",
    );
    let per_eval = expect(number_after(log, "per evaluation", ":"), "per evaluation");
    record(
        suite,
        "per evaluation us",
        format!("{per_eval:.2}"),
        "worker time / evaluations",
    );
    for line in log.lines().filter(|l| l.contains("stopped after")) {
        let name = line.trim().split(':').next().unwrap_or_default();
        if let Some(ms) = number_after(line, "stopped after", "") {
            record(
                suite,
                &format!("{name}: stopped after ms"),
                format!("{ms:.1}"),
                "then disabled",
            );
        }
    }
}

struct Figure {
    suite: String,
    name: String,
    value: String,
    note: String,
}

fn figures(work: &Path) -> Vec<Figure> {
    let text = std::fs::read_to_string(work.join("figures.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            Figure {
                suite: field("suite"),
                name: field("name"),
                value: field("value"),
                note: field("note"),
            }
        })
        .collect()
}

/// `kind \t name \t result \t seconds \t command`
fn runs(work: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(work.join("runs.tsv"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|cols| cols.len() >= 5)
        .collect()
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn render(work: &Path) -> String {
    let meta: BTreeMap<String, String> = std::fs::read_to_string(work.join("meta.tsv"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let m = |k: &str| meta.get(k).cloned().unwrap_or_else(|| "?".into());
    let figures = figures(work);
    let runs = runs(work);
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Fleet proof report\n");
    let _ = writeln!(
        w,
        "Generated by `tests/fleet proof` (`tests/e2e/src/bin/proof-report.rs`); regenerate it, never \
         edit it by hand.\n"
    );
    let _ = writeln!(w, "## Run\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    for (label, key) in [
        ("date (UTC)", "date"),
        ("git commit", "commit"),
        ("uncommitted changes in the tree", "dirty"),
        ("machine", "cpu"),
        ("cores", "cores"),
        ("memory", "memory"),
        ("load average before the run (1/5/15 min)", "load_start"),
        ("load average after the build", "load_built"),
        ("load average at the end", "load_end"),
        ("build time (s)", "build_seconds"),
        ("suites and benchmarks wall time (s)", "run_seconds"),
        ("scale", "scale"),
    ] {
        let _ = writeln!(w, "| {label} | {} |", cell(&m(key)));
    }
    let _ = writeln!(
        w,
        "\nThe machine is shared: other builds may have been loading the CPU during the run (see the load \
         averages); every figure below comes from this one run.\n"
    );

    let _ = writeln!(w, "## Suites 1–5 (full scale)\n");
    let _ = writeln!(
        w,
        "| suite | result | time (s) | seed | command |\n|---|---|---|---|---|"
    );
    for run in runs.iter().filter(|r| r[0] == "suite") {
        let seeds: Vec<&str> = figures
            .iter()
            .filter(|f| f.name == "seed" && !f.suite.starts_with("bench"))
            .filter(|f| f.suite.contains(&run[1]) || suite_key(&f.suite) == suite_key(&run[1]))
            .map(|f| f.value.as_str())
            .collect();
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | `{}` |",
            run[1],
            run[2],
            run[3],
            if seeds.is_empty() {
                "–".into()
            } else {
                seeds.join(", ")
            },
            cell(&run[4])
        );
    }
    let _ = writeln!(
        w,
        "\nEvery seed replays its suite: `FLEET_PROOF_SEED=<seed>` with the command shown.\n"
    );
    let _ = writeln!(w, "### Suite figures\n");
    let _ = writeln!(w, "| suite | figure | value | note |\n|---|---|---|---|");
    for f in figures.iter().filter(|f| !f.suite.starts_with("bench")) {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} |",
            cell(&f.suite),
            cell(&f.name),
            cell(&f.value),
            cell(&f.note)
        );
    }

    let _ = writeln!(w, "\n## Benchmarks (suite 6)\n");
    let _ = writeln!(
        w,
        "| benchmark | figure | value | note |\n|---|---|---|---|"
    );
    let mut last_suite = String::new();
    for f in figures.iter().filter(|f| f.suite.starts_with("bench")) {
        let suite = f.suite.trim_start_matches("bench:").trim();
        let shown = if suite == last_suite {
            String::new()
        } else {
            format!("**{}**", cell(suite))
        };
        last_suite = suite.to_string();
        let _ = writeln!(
            w,
            "| {shown} | {} | {} | {} |",
            cell(&f.name),
            cell(&f.value),
            cell(&f.note)
        );
    }
    for (name, size) in component_sizes() {
        let _ = writeln!(
            w,
            "| {} | {name}.wasm bytes | {size} | wasm32-wasip2 release |",
            if name == "provision" {
                "**component sizes**"
            } else {
                ""
            }
        );
    }
    if let (Some(trivial), Some(largest)) = (
        wasm_size("spin-conformance-component"),
        component_sizes().iter().map(|(_, s)| *s).max(),
    ) {
        let _ = writeln!(
            w,
            "| | ratio largest Fleet component / trivial component | {:.1}x | trivial: spin-conformance-component, {trivial} bytes |",
            largest as f64 / trivial as f64
        );
    }

    let _ = writeln!(w, "\n## Benchmark runs\n");
    let _ = writeln!(
        w,
        "| benchmark | result | time (s) | command |\n|---|---|---|---|"
    );
    for run in runs.iter().filter(|r| r[0] == "bench") {
        let _ = writeln!(
            w,
            "| {} | {} | {} | `{}` |",
            run[1],
            run[2],
            run[3],
            cell(&run[4])
        );
    }
    let _ = writeln!(
        w,
        "\nCI runs suites 1–5 at the reduced scale as ordinary tests of `fleet-e2e` (`tests/fleet test`); the \
         benchmark binaries are only compiled there."
    );
    out
}

/// `chaos` for "chaos convergence", "tests/e2e/tests/chaos.rs" or "chaos": a loose match between a test target
/// and the suite names its figures use.
fn suite_key(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(5)
        .collect()
}

fn wasm_size(crate_name: &str) -> Option<u64> {
    let path =
        std::panic::catch_unwind(|| fleet_test_support::wasm::component_path(crate_name)).ok()?;
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn component_sizes() -> Vec<(&'static str, u64)> {
    ["provision", "deprovision", "health", "admin"]
        .into_iter()
        .filter_map(|c| Some((c, wasm_size(c)?)))
        .collect()
}
