//! The platform's trader code — 30 Go filters (one per case of the generator's gold standard) and the 7
//! built-in JavaScript traders — run by `go-filter` and `js-filter` on deterministic klines of 6 symbols at 40
//! consecutive closes, against verdicts computed independently in Python (numpy/pandas/ta).
//!
//! Fixtures: tests/fixtures/trader_code (README.md there: the cases, the data, the truncation rule, the JS
//! indicator semantics assumed). The verdicts are regenerated at test time by `verdicts_reference.py` when
//! python3 has numpy, pandas and ta; otherwise the committed `verdicts.json` (generated the same way) is used.
//!
//! Evaluation k (0..40) of a symbol sees every timeframe series truncated to its first `len - 40 + 1 + k`
//! candles. `MarketData` holds the case's required timeframes only; the ticker is synthesized (last price = last
//! close of the first required timeframe; 24 h change and quote volume from the last 24 1h candles when 1h is
//! required, else 0). Each case is compiled once. Evaluations the reference marks borderline (a deciding
//! comparison within 1e-9 relative of its threshold) are skipped. Every mismatch is reported at once.

mod common;

use common::python_reference;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use filter_core::{IndicatorCache, Kline, Limits, MarketData, Ticker};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/trader_code");

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    language: String,
    code: String,
    #[serde(rename = "requiredTimeframes")]
    timeframes: Vec<String>,
}

struct Fixture {
    cases: Vec<Case>,
    /// symbol -> timeframe -> full series
    klines: BTreeMap<String, BTreeMap<String, Vec<Kline>>>,
    window: usize,
    /// case -> symbol -> verdict per k
    verdicts: HashMap<String, HashMap<String, Vec<bool>>>,
    /// (case, symbol, k) skipped
    borderline: std::collections::HashSet<(String, String, usize)>,
}

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{DIR}/{name}: {e}"))
}

fn reference_verdicts() -> VerdictsJson {
    let text = python_reference(
        &format!("{DIR}/verdicts_reference.py"),
        &[DIR],
        &format!("{DIR}/verdicts.json"),
        "numpy + pandas + ta",
    );
    serde_json::from_str(&text).unwrap()
}

/// One kline as `klines.py` writes it (the platform's `types.Kline` JSON names).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct KlineJson {
    open_time: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    buy_volume: f64,
    quote_volume: f64,
    buy_quote_volume: f64,
    trades: i64,
    close_time: i64,
}

impl From<KlineJson> for Kline {
    fn from(k: KlineJson) -> Kline {
        Kline {
            open_time: k.open_time,
            open: k.open,
            high: k.high,
            low: k.low,
            close: k.close,
            volume: k.volume,
            buy_volume: k.buy_volume,
            quote_volume: k.quote_volume,
            buy_quote_volume: k.buy_quote_volume,
            trades: k.trades,
            close_time: k.close_time,
        }
    }
}

#[derive(serde::Deserialize)]
struct KlinesJson {
    symbols: BTreeMap<String, BTreeMap<String, Vec<KlineJson>>>,
}

#[derive(serde::Deserialize)]
struct VerdictsJson {
    window: usize,
    verdicts: HashMap<String, HashMap<String, Vec<bool>>>,
    borderline: HashMap<String, HashMap<String, Vec<usize>>>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let cases: Vec<Case> = serde_json::from_str(&read("cases.json")).unwrap();
        let raw: KlinesJson = serde_json::from_str(&read("klines.json")).unwrap();
        let klines = raw
            .symbols
            .into_iter()
            .map(|(sym, tfs)| {
                let tfs = tfs
                    .into_iter()
                    .map(|(tf, ks)| (tf, ks.into_iter().map(Kline::from).collect()))
                    .collect();
                (sym, tfs)
            })
            .collect();
        let r = reference_verdicts();
        for (case, syms) in &r.verdicts {
            for (s, row) in syms {
                assert_eq!(row.len(), r.window, "{case}/{s}");
            }
        }
        let borderline = r
            .borderline
            .into_iter()
            .flat_map(|(case, syms)| {
                syms.into_iter().flat_map(move |(sym, ks)| {
                    let case = case.clone();
                    ks.into_iter().map(move |k| (case.clone(), sym.clone(), k))
                })
            })
            .collect();
        Fixture {
            cases,
            klines,
            window: r.window,
            verdicts: r.verdicts,
            borderline,
        }
    })
}

/// Per (symbol, k): every timeframe truncated per the rule, shared by all cases.
fn truncated(fx: &Fixture, symbol: &str, k: usize) -> BTreeMap<String, Arc<[Kline]>> {
    fx.klines[symbol]
        .iter()
        .map(|(tf, ks)| {
            let n = ks.len() - fx.window + 1 + k;
            (tf.clone(), Arc::from(&ks[..n]))
        })
        .collect()
}

fn market_data(
    symbol: &str,
    series: &BTreeMap<String, Arc<[Kline]>>,
    timeframes: &[String],
) -> MarketData {
    let mut klines: Vec<(String, Arc<[Kline]>)> = timeframes
        .iter()
        .map(|tf| (tf.clone(), series[tf].clone()))
        .collect();
    klines.sort_by(|a, b| a.0.cmp(&b.0));
    let primary = &series[&timeframes[0]];
    let last = primary[primary.len() - 1];
    let (price_change_percent, quote_volume) = if timeframes.iter().any(|t| t == "1h") {
        let h = &series["1h"];
        let day = &h[h.len().saturating_sub(24)..];
        let change = (day[day.len() - 1].close / day[0].open - 1.0) * 100.0;
        (change, day.iter().map(|k| k.quote_volume).sum())
    } else {
        (0.0, 0.0)
    };
    MarketData {
        symbol: symbol.to_string(),
        ticker: Some(Ticker {
            last_price: last.close,
            price_change_percent,
            quote_volume,
        }),
        klines,
        timestamp_ms: last.close_time,
    }
}

/// How one language runs a case: compile once, evaluate per (symbol, close).
trait Runner {
    type Program;
    fn compile(&mut self, code: &str) -> Result<Self::Program, String>;
    fn evaluate(
        &mut self,
        program: &Self::Program,
        primary: &str,
        data: &MarketData,
        cache: &mut IndicatorCache,
    ) -> Result<bool, String>;
}

struct Go;

impl Runner for Go {
    type Program = go_filter::Program;
    fn compile(&mut self, code: &str) -> Result<Self::Program, String> {
        go_filter::compile(code).map_err(|e| e.to_string())
    }
    fn evaluate(
        &mut self,
        program: &Self::Program,
        _primary: &str,
        data: &MarketData,
        cache: &mut IndicatorCache,
    ) -> Result<bool, String> {
        program
            .evaluate(data, &Limits::default(), cache)
            .map_err(|e| e.to_string())
    }
}

struct Js(js_filter::Worker);

impl Runner for Js {
    type Program = js_filter::ProgramId;
    fn compile(&mut self, code: &str) -> Result<Self::Program, String> {
        self.0.compile(code).map_err(|e| e.to_string())
    }
    fn evaluate(
        &mut self,
        program: &Self::Program,
        primary: &str,
        data: &MarketData,
        cache: &mut IndicatorCache,
    ) -> Result<bool, String> {
        let mut out = self.0.evaluate_many(&[(*program, primary)], data, cache);
        assert_eq!(out.len(), 1);
        out.remove(0).map_err(|e| e.to_string())
    }
}

fn check<R: Runner>(language: &str, runner: &mut R) {
    let fx = fixture();
    let cases: Vec<&Case> = fx.cases.iter().filter(|c| c.language == language).collect();
    assert!(!cases.is_empty(), "no {language} cases");
    let mut failures: Vec<String> = Vec::new();

    let mut compiled = Vec::new();
    for case in &cases {
        match runner.compile(&case.code) {
            Ok(p) => compiled.push((*case, p)),
            Err(e) => failures.push(format!("{}: does not compile: {e}", case.name)),
        }
    }

    // case -> (true, false) counts of compared evaluations
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut mismatches = Vec::new();
    let mut compared = 0usize;
    let mut skipped = 0usize;
    for symbol in fx.klines.keys() {
        for k in 0..fx.window {
            let series = truncated(fx, symbol, k);
            // One cache per (symbol, close) and timeframe set: traders with the same MarketData share it.
            let mut caches: HashMap<Vec<String>, IndicatorCache> = HashMap::new();
            for (case, program) in &compiled {
                let want = fx.verdicts[&case.name][symbol][k];
                if fx
                    .borderline
                    .contains(&(case.name.clone(), symbol.clone(), k))
                {
                    skipped += 1;
                    continue;
                }
                let data = market_data(symbol, &series, &case.timeframes);
                let cache = caches.entry(case.timeframes.clone()).or_default();
                let got = runner.evaluate(program, &case.timeframes[0], &data, cache);
                compared += 1;
                let c = counts.entry(&case.name).or_default();
                match got {
                    Ok(true) => c.0 += 1,
                    Ok(false) => c.1 += 1,
                    Err(_) => {}
                }
                if got.as_ref() != Ok(&want) {
                    mismatches.push(format!(
                        "{} {symbol} k={k}: got {got:?}, want {want}",
                        case.name
                    ));
                }
            }
        }
    }

    for (case, _) in &compiled {
        let rows = &fx.verdicts[&case.name];
        let ref_true = rows.values().flatten().filter(|v| **v).count();
        let ref_false = rows.values().flatten().filter(|v| !**v).count();
        let (t, f) = counts.get(case.name.as_str()).copied().unwrap_or_default();
        eprintln!(
            "{language} {:45} true {t:3}  false {f:3}  (reference {ref_true:3} / {ref_false:3})",
            case.name
        );
        if (ref_true > 0 && t == 0) || (ref_false > 0 && f == 0) {
            failures.push(format!(
                "{}: {t} true / {f} false verdicts; the reference has {ref_true} / {ref_false}",
                case.name
            ));
        }
    }
    eprintln!(
        "{language}: {compared} evaluations compared, {skipped} borderline skipped, {} mismatches",
        mismatches.len()
    );
    if mismatches.len() > 200 {
        let n = mismatches.len();
        mismatches.truncate(200);
        mismatches.push(format!("... {} more", n - 200));
    }
    failures.extend(mismatches);
    assert!(
        failures.is_empty(),
        "{language} trader code differs from the Python reference:\n{}",
        failures.join("\n")
    );
}

#[test]
fn go_cases_match_the_python_reference() {
    check("go", &mut Go);
}

#[test]
fn javascript_cases_match_the_python_reference() {
    let worker = js_filter::Worker::new(Limits::default()).expect("a JS worker");
    check("javascript", &mut Js(worker));
}
