//! Code traders run on a small pool of worker threads, away from the market task. Jobs for one symbol always go
//! to the same worker, so its closes are evaluated in order; each worker owns its own JavaScript engine.
//!
//! A trader that exceeds a sandbox limit (work, memory, call depth) is disabled until its code changes: it
//! would exceed it again on every symbol and starve the others. A run-time error (nil dereference, index out of
//! range, a thrown exception) depends on the data, so it is recorded and the trader keeps running.

use super::compile::{CodeTraderDef, Compiled};
use crate::candle::{Candle, Interval};
use crate::engine::SignalRow;
use crate::metrics::Metrics;
use crate::util::now_ms;
use filter_core::{EvalError, IndicatorCache, Limits, MarketData};
use serde::Serialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

/// Why a code trader is failing, as /health shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    pub reason: String,
    /// True when the trader is no longer evaluated (until its code changes).
    pub disabled: bool,
    pub symbol: String,
    pub at_ms: i64,
    /// Failed evaluations since the traders were loaded.
    pub count: u64,
}

#[derive(Default)]
struct TraderState {
    disabled: AtomicBool,
    failures: AtomicU64,
    last_failure: Mutex<Option<Failure>>,
}

/// The code traders of one trader reload, shared by the engine, the workers and /health.
pub struct CodeSet {
    pub generation: u64,
    pub traders: Vec<CodeTraderDef>,
    pub limits: Limits,
    states: Vec<TraderState>,
}

impl CodeSet {
    pub fn new(generation: u64, traders: Vec<CodeTraderDef>, limits: Limits) -> CodeSet {
        let states = traders.iter().map(|_| TraderState::default()).collect();
        CodeSet {
            generation,
            traders,
            limits,
            states,
        }
    }

    pub fn is_disabled(&self, trader: usize) -> bool {
        self.states[trader].disabled.load(Ordering::Relaxed)
    }

    /// Failing traders: (trader, failure), in trader order.
    pub fn failures(&self) -> Vec<(&CodeTraderDef, Failure)> {
        self.traders
            .iter()
            .zip(&self.states)
            .filter_map(|(t, s)| {
                let f = s
                    .last_failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                f.map(|f| (t, f))
            })
            .collect()
    }

    /// Records a failed evaluation; true when it newly disabled the trader.
    fn record(&self, trader: usize, symbol: &str, error: &str, disable: bool) -> bool {
        let state = &self.states[trader];
        let newly_disabled = disable && !state.disabled.swap(true, Ordering::Relaxed);
        let count = state.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = state.last_failure.lock().unwrap_or_else(|p| p.into_inner());
        let disabled = disable || last.as_ref().is_some_and(|f| f.disabled);
        *last = Some(Failure {
            reason: error.to_string(),
            disabled,
            symbol: symbol.to_string(),
            at_ms: now_ms(),
            count,
        });
        newly_disabled
    }
}

/// One symbol's close, for the code traders whose trigger timeframe closed.
pub struct CodeJob {
    pub set: Arc<CodeSet>,
    /// Indices into `set.traders`.
    pub traders: Vec<usize>,
    pub symbol: String,
    pub interval: Interval,
    pub candle: Candle,
    pub data: MarketData,
    /// When the close reached the engine (for the close → evaluated latency).
    pub queued: Instant,
    /// Copied into every signal's `indicator_data`.
    pub meta: Arc<serde_json::Map<String, serde_json::Value>>,
}

/// What a worker reports per job (besides the signals it sends to the writer).
#[derive(Debug, Default, Clone, Copy)]
pub struct CodeOutcome {
    pub evaluations: u64,
    pub matches: u64,
    pub failures: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Traders this job disabled (they hit a sandbox limit).
    pub disabled: u64,
}

pub struct CodeRunner {
    workers: Vec<Sender<CodeJob>>,
}

impl CodeRunner {
    /// Starts `workers` threads. Matches go to `signals` as signal rows; `done` (optional) hears of every job.
    pub fn start(
        workers: usize,
        signals: UnboundedSender<Vec<SignalRow>>,
        metrics: Arc<Metrics>,
        done: Option<UnboundedSender<(Instant, CodeOutcome)>>,
    ) -> CodeRunner {
        let workers = (0..workers.max(1))
            .map(|i| {
                let (tx, rx) = channel();
                let (signals, metrics, done) = (signals.clone(), metrics.clone(), done.clone());
                std::thread::Builder::new()
                    .name(format!("code-eval-{i}"))
                    // Interpreters recurse; generous stacks keep deep-but-legal code far from the edge.
                    .stack_size(8 << 20)
                    .spawn(move || work(rx, signals, metrics, done))
                    .expect("spawn a code evaluation thread");
                tx
            })
            .collect();
        CodeRunner { workers }
    }

    pub fn submit(&self, job: CodeJob) {
        let worker = symbol_worker(&job.symbol, self.workers.len());
        // A worker only stops when this sender is dropped, so a send cannot fail while we hold it.
        let _ = self.workers[worker].send(job);
    }
}

fn symbol_worker(symbol: &str, workers: usize) -> usize {
    // FNV-1a: stable across runs, unlike the std hasher.
    let h = symbol.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    (h % workers as u64) as usize
}

/// A worker's JavaScript engine and the programs compiled into it, by (trader, source): a reload caused by
/// another trader's change recompiles nothing here.
struct JsState {
    generation: u64,
    worker: Option<js_filter::Worker>,
    programs: HashMap<(Uuid, Arc<str>), Result<js_filter::ProgramId, String>>,
}

impl JsState {
    /// Drops the programs of traders that are gone or whose code changed.
    fn retain(&mut self, set: &CodeSet) {
        let current: HashSet<(Uuid, &str)> = set
            .traders
            .iter()
            .filter_map(|t| match &t.program {
                Compiled::JavaScript(code) => Some((t.id, &**code)),
                Compiled::Go(_) => None,
            })
            .collect();
        let worker = &mut self.worker;
        self.programs.retain(|(id, code), program| {
            let keep = current.contains(&(*id, &**code));
            if let (false, Ok(program), Some(w)) = (keep, program, worker.as_mut()) {
                w.remove(*program);
            }
            keep
        });
    }
}

fn work(
    jobs: Receiver<CodeJob>,
    signals: UnboundedSender<Vec<SignalRow>>,
    metrics: Arc<Metrics>,
    done: Option<UnboundedSender<(Instant, CodeOutcome)>>,
) {
    let mut js = JsState {
        generation: u64::MAX,
        worker: None,
        programs: HashMap::new(),
    };
    while let Ok(job) = jobs.recv() {
        let started = Instant::now();
        let (outcome, rows) = evaluate(&job, &mut js);
        metrics.add(&metrics.code_evaluations, outcome.evaluations);
        metrics.add(&metrics.code_failures, outcome.failures);
        metrics.add(&metrics.code_traders_disabled, outcome.disabled);
        metrics.add(
            &metrics.code_eval_nanos_total,
            started.elapsed().as_nanos() as u64,
        );
        if !rows.is_empty() {
            metrics.add(&metrics.signals_emitted, rows.len() as u64);
            let _ = signals.send(rows);
        }
        metrics.inc(&metrics.code_closes);
        if let Some(done) = &done {
            let _ = done.send((job.queued, outcome));
        }
    }
}

fn evaluate(job: &CodeJob, js: &mut JsState) -> (CodeOutcome, Vec<SignalRow>) {
    let set = &job.set;
    let mut cache = IndicatorCache::new();
    let mut outcome = CodeOutcome::default();
    let mut verdicts: Vec<(usize, Result<bool, String>, bool)> = Vec::new();
    let mut js_batch: Vec<usize> = Vec::new();
    for &t in &job.traders {
        if set.is_disabled(t) {
            continue;
        }
        match &set.traders[t].program {
            Compiled::Go(program) => {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    program.evaluate(&job.data, &set.limits, &mut cache)
                }));
                verdicts.push(classify(t, r));
            }
            Compiled::JavaScript(_) => js_batch.push(t),
        }
    }
    if !js_batch.is_empty() {
        evaluate_js(job, js, &js_batch, &mut cache, &mut verdicts);
    }
    let mut rows = Vec::new();
    for (t, verdict, disable) in verdicts {
        outcome.evaluations += 1;
        match verdict {
            Ok(true) => {
                outcome.matches += 1;
                rows.push(signal(job, t));
            }
            Ok(false) => {}
            Err(reason) => {
                outcome.failures += 1;
                let trader = &set.traders[t];
                tracing::warn!(trader = %trader.id, symbol = %job.symbol, ?reason, disabled = disable, "code trader failed");
                if set.record(t, &job.symbol, &reason, disable) {
                    outcome.disabled += 1;
                }
            }
        }
    }
    outcome.cache_hits = cache.hits;
    outcome.cache_misses = cache.misses;
    (outcome, rows)
}

/// (trader, verdict or reason, disable?)
fn classify(
    t: usize,
    r: std::thread::Result<Result<bool, EvalError>>,
) -> (usize, Result<bool, String>, bool) {
    match r {
        Ok(Ok(v)) => (t, Ok(v), false),
        Ok(Err(e)) => {
            let limit = matches!(
                e,
                EvalError::Fuel { .. } | EvalError::Memory { .. } | EvalError::Depth { .. }
            );
            (t, Err(e.to_string()), limit)
        }
        Err(_) => (t, Err("internal error in the filter runtime".into()), true),
    }
}

fn evaluate_js(
    job: &CodeJob,
    js: &mut JsState,
    batch: &[usize],
    cache: &mut IndicatorCache,
    verdicts: &mut Vec<(usize, Result<bool, String>, bool)>,
) {
    let set = &job.set;
    if js.generation != set.generation {
        js.generation = set.generation;
        js.retain(set);
    }
    if js.worker.is_none() {
        js.programs.clear();
        match js_filter::Worker::new(set.limits) {
            Ok(w) => js.worker = Some(w),
            Err(e) => {
                for &t in batch {
                    verdicts.push((t, Err(format!("JavaScript engine unavailable: {e}")), false));
                }
                return;
            }
        }
    }
    let Some(worker) = js.worker.as_mut() else {
        return;
    };
    let mut ready: Vec<(usize, js_filter::ProgramId)> = Vec::new();
    for &t in batch {
        let Compiled::JavaScript(code) = &set.traders[t].program else {
            continue;
        };
        let program = js
            .programs
            .entry((set.traders[t].id, code.clone()))
            .or_insert_with(|| worker.compile(code).map_err(|e| e.to_string()));
        match program {
            Ok(id) => ready.push((t, *id)),
            Err(e) => verdicts.push((t, Err(e.clone()), true)),
        }
    }
    let programs: Vec<(js_filter::ProgramId, &str)> = ready
        .iter()
        .map(|(t, id)| (*id, set.traders[*t].trigger_timeframe().name()))
        .collect();
    let results = catch_unwind(AssertUnwindSafe(|| {
        worker.evaluate_many(&programs, &job.data, cache)
    }));
    match results {
        Ok(results) => {
            for ((t, _), r) in ready.iter().zip(results) {
                verdicts.push(classify(*t, Ok(r)));
            }
        }
        Err(_) => {
            // The engine's state is unknown after a panic: rebuild it for the next job.
            js.worker = None;
            for (t, _) in ready {
                verdicts.push((
                    t,
                    Err("internal error in the JavaScript runtime".into()),
                    false,
                ));
            }
        }
    }
}

fn signal(job: &CodeJob, t: usize) -> SignalRow {
    let trader = &job.set.traders[t];
    let c = &job.candle;
    let mut details = (*job.meta).clone();
    details.insert("trigger".into(), json!("code"));
    details.insert("language".into(), json!(trader.language.as_str()));
    details.insert(
        "candle".into(),
        json!({"open": c.open, "high": c.high, "low": c.low, "close": c.close,
               "volume": c.volume, "close_time": c.close_time}),
    );
    SignalRow {
        trader_id: trader.id,
        user_id: trader.user_id,
        symbol: job.symbol.clone(),
        interval: job.interval,
        candle_open_time: c.open_time,
        price: c.close,
        volume: c.volume,
        details: details.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbol_always_goes_to_the_same_worker() {
        let a = symbol_worker("BTCUSDT", 2);
        assert!((0..10).all(|_| symbol_worker("BTCUSDT", 2) == a));
        let spread: std::collections::HashSet<usize> = (0..50)
            .map(|i| symbol_worker(&format!("SYM{i}USDT"), 2))
            .collect();
        assert_eq!(spread.len(), 2);
    }
}
