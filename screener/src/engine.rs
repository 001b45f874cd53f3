//! The evaluation engine: per (symbol, timeframe) candle history and shared indicator instances, compiled traders
//! and their trigger memory. Pure and synchronous; the market task feeds it closed candles in order.

use crate::candle::{Candle, Interval};
use crate::code::snapshot::{kline, market_data};
use crate::code::{CodeJob, CodeSet};
use crate::filter::{decide, eval, CompiledFilter, Expr, TriggerState, Value};
use crate::indicators::{IndicatorState, Spec};
use serde_json::{json, Map};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// Candles of history a code trader sees per timeframe: what the platform's Go screener fetched (250).
pub const CODE_HISTORY_BARS: usize = 250;

/// A loaded, valid trader.
#[derive(Clone, Debug, PartialEq)]
pub struct TraderDef {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub name: String,
    /// Symbols this trader screens; empty means the whole universe.
    pub symbols: Vec<String>,
    pub filter: CompiledFilter,
}

/// A signal ready to be written (to the platform's `signals` columns named below).
#[derive(Clone, Debug, PartialEq)]
pub struct SignalRow {
    pub trader_id: Uuid,
    pub user_id: Option<Uuid>,
    pub symbol: String,
    pub interval: Interval,
    /// Open time (ms) of the closed candle that fired: `candle_open_time`, Fleet's dedupe key.
    pub candle_open_time: i64,
    /// The candle's close: `price_at_signal`.
    pub price: f64,
    /// The candle's base-asset volume: `volume_at_signal`.
    pub volume: f64,
    /// Indicator snapshot, trigger, candle and run metadata: `indicator_data`.
    pub details: serde_json::Value,
}

impl SignalRow {
    /// `signals.timestamp` (ms): the close of the candle that fired (its open time plus the interval), not the
    /// moment the screener saw it. The signal is about that candle, and a signal found late (after a
    /// reconnect's backfill, or re-found by a replay) keeps the same timestamp.
    pub fn timestamp_ms(&self) -> i64 {
        self.candle_open_time + self.interval.millis()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// Already applied (same or older open time): dropped, so re-deliveries never double-count.
    Duplicate,
    /// Not a (symbol, timeframe) this engine follows.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    tf: u8,
    index: u16,
    output: u8,
    mul: f64,
}

#[derive(Clone, Copy, Debug)]
enum Leaf {
    Const(f64),
    Ind(Slot),
}

struct Series {
    last_open_time: Option<i64>,
    history: VecDeque<Candle>,
    inds: Vec<IndicatorState>,
}

struct Trader {
    def: TraderDef,
    expr: Expr<Leaf>,
    tf: usize,
    /// Per symbol index: does this trader screen it?
    screens: Vec<bool>,
    triggers: Vec<TriggerState>,
    snapshot: Vec<(String, Slot)>,
}

pub struct Engine {
    tfs: Vec<Interval>,
    registry: Vec<Vec<Spec>>,
    symbols: Vec<String>,
    symbol_index: HashMap<String, usize>,
    series: Vec<Vec<Series>>,
    traders: Vec<Trader>,
    meta: Map<String, serde_json::Value>,
    code: Arc<CodeSet>,
    /// Per code trader: does it screen symbol i?
    code_screens: Vec<Vec<bool>>,
    /// Per timeframe index: whether a code trader needs its history.
    code_tfs: Vec<bool>,
    code_jobs: Vec<CodeJob>,
    shared_meta: Arc<Map<String, serde_json::Value>>,
}

impl Engine {
    /// `meta` is copied into every signal's `details` (run mode, app, machine ...).
    pub fn new(meta: Map<String, serde_json::Value>) -> Self {
        Engine {
            tfs: Vec::new(),
            registry: Vec::new(),
            symbols: Vec::new(),
            symbol_index: HashMap::new(),
            series: Vec::new(),
            traders: Vec::new(),
            shared_meta: Arc::new(meta.clone()),
            meta,
            code: Arc::new(CodeSet::new(0, Vec::new(), Default::default())),
            code_screens: Vec::new(),
            code_tfs: Vec::new(),
            code_jobs: Vec::new(),
        }
    }

    /// Like [`Engine::configure`], with the code traders of the same reload.
    pub fn configure_with_code(
        &mut self,
        symbols: Vec<String>,
        traders: Vec<TraderDef>,
        code: Arc<CodeSet>,
    ) {
        self.code = code;
        self.configure(symbols, traders);
    }

    /// Closes whose code traders are due, for the code runner.
    pub fn take_code_jobs(&mut self) -> Vec<CodeJob> {
        std::mem::take(&mut self.code_jobs)
    }

    pub fn code_traders(&self) -> &Arc<CodeSet> {
        &self.code
    }

    /// Replaces the symbol universe and the traders. Candle history is kept for surviving series and every
    /// indicator is rebuilt by replaying it; trigger memory survives for traders whose filter did not change.
    pub fn configure(&mut self, symbols: Vec<String>, traders: Vec<TraderDef>) {
        let mut tfs: Vec<Interval> = traders.iter().map(|t| t.filter.timeframe).collect();
        let code_timeframes: Vec<Interval> = self
            .code
            .traders
            .iter()
            .flat_map(|t| t.timeframes.iter().copied())
            .collect();
        tfs.extend(code_timeframes.iter().copied());
        let mut specs: Vec<(Interval, Spec)> =
            traders.iter().flat_map(|t| t.filter.indicators()).collect();
        tfs.extend(specs.iter().map(|(tf, _)| *tf));
        tfs.sort();
        tfs.dedup();
        specs.sort();
        specs.dedup();
        let registry: Vec<Vec<Spec>> = tfs
            .iter()
            .map(|tf| {
                specs
                    .iter()
                    .filter(|(t, _)| t == tf)
                    .map(|(_, s)| *s)
                    .collect()
            })
            .collect();

        let mut old_series: HashMap<(String, Interval), Series> = HashMap::new();
        for (sym, per_tf) in self.symbols.iter().zip(self.series.drain(..)) {
            for (tf, s) in self.tfs.iter().zip(per_tf) {
                old_series.insert((sym.clone(), *tf), s);
            }
        }
        let series = symbols
            .iter()
            .map(|sym| {
                tfs.iter()
                    .zip(&registry)
                    .map(|(tf, specs)| {
                        let old = old_series.remove(&(sym.clone(), *tf));
                        rebuild(old, specs)
                    })
                    .collect()
            })
            .collect();

        let mut old_triggers: HashMap<Uuid, (TraderDef, Vec<TriggerState>)> = self
            .traders
            .drain(..)
            .map(|t| (t.def.id, (t.def, t.triggers)))
            .collect();
        // Trigger memory is indexed by symbol position, so it only carries over an unchanged universe.
        let same_symbols = self.symbols == symbols;
        self.symbol_index = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        self.code_screens = self
            .code
            .traders
            .iter()
            .map(|t| {
                symbols
                    .iter()
                    .map(|s| t.symbols.is_empty() || t.symbols.contains(s))
                    .collect()
            })
            .collect();
        self.code_tfs = tfs.iter().map(|tf| code_timeframes.contains(tf)).collect();
        self.code_jobs.clear();
        self.symbols = symbols;
        self.tfs = tfs;
        self.registry = registry;
        self.series = series;
        self.traders = traders
            .into_iter()
            .map(|def| {
                let kept = old_triggers
                    .remove(&def.id)
                    .filter(|(old, _)| same_symbols && *old == def);
                self.compile_trader(def, kept.map(|(_, t)| t))
            })
            .collect();
    }

    fn compile_trader(&self, def: TraderDef, triggers: Option<Vec<TriggerState>>) -> Trader {
        let resolve = |v: &Value| match *v {
            Value::Const(c) => Leaf::Const(c),
            Value::Ind {
                tf,
                spec,
                output,
                mul,
            } => Leaf::Ind(self.slot(tf, spec, output, mul)),
        };
        let expr = map_expr(&def.filter.root, &resolve);
        let mut snapshot: Vec<(String, Slot)> = Vec::new();
        collect_leaves(&def.filter.root, &mut |v| {
            if let Value::Ind {
                tf, spec, output, ..
            } = *v
            {
                let out = spec.outputs()[output as usize];
                let label = match out {
                    "value" => format!("{}@{tf}", spec.label()),
                    _ => format!("{}.{out}@{tf}", spec.label()),
                };
                if !snapshot.iter().any(|(l, _)| *l == label) {
                    snapshot.push((label, self.slot(tf, spec, output, 1.0)));
                }
            }
        });
        let screens = self
            .symbols
            .iter()
            .map(|s| def.symbols.is_empty() || def.symbols.contains(s))
            .collect();
        let tf = self
            .tf_index(def.filter.timeframe)
            .expect("trigger timeframe is registered");
        let n = self.symbols.len();
        Trader {
            expr,
            tf,
            screens,
            triggers: triggers
                .filter(|t| t.len() == n)
                .unwrap_or_else(|| vec![TriggerState::default(); n]),
            snapshot,
            def,
        }
    }

    fn slot(&self, tf: Interval, spec: Spec, output: u8, mul: f64) -> Slot {
        let t = self.tf_index(tf).expect("timeframe is registered");
        let index = self.registry[t]
            .iter()
            .position(|s| *s == spec)
            .expect("spec is registered");
        Slot {
            tf: t as u8,
            index: index as u16,
            output,
            mul,
        }
    }

    fn tf_index(&self, tf: Interval) -> Option<usize> {
        self.tfs.iter().position(|t| *t == tf)
    }

    pub fn timeframes(&self) -> &[Interval] {
        &self.tfs
    }

    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    /// Live indicator instances per symbol, across timeframes (shared by every trader that uses them).
    pub fn indicators_per_symbol(&self) -> usize {
        self.registry.iter().map(Vec::len).sum()
    }

    pub fn trader_count(&self) -> usize {
        self.traders.len() + self.code.traders.len()
    }

    /// Bars of history a timeframe needs before its indicators are trustworthy (2..=1000).
    pub fn warmup_bars(&self, tf: Interval) -> usize {
        let need = self
            .tf_index(tf)
            .map(|t| {
                self.registry[t]
                    .iter()
                    .map(|s| s.warmup_bars())
                    .max()
                    .unwrap_or(1)
            })
            .unwrap_or(1);
        let code = self
            .tf_index(tf)
            .filter(|t| self.code_tfs[*t])
            .map_or(0, |_| CODE_HISTORY_BARS);
        need.max(code).clamp(2, 1000)
    }

    pub fn last_open_time(&self, symbol: &str, tf: Interval) -> Option<i64> {
        let (s, t) = (*self.symbol_index.get(symbol)?, self.tf_index(tf)?);
        self.series[s][t].last_open_time
    }

    /// Applies one closed candle. When `emit` is false (warm-up history) trigger memory is updated but no signal
    /// is produced, so edge-triggered traders start in the right state.
    pub fn apply(
        &mut self,
        symbol: &str,
        tf: Interval,
        c: &Candle,
        emit: bool,
        out: &mut Vec<SignalRow>,
    ) -> Applied {
        let (Some(&s), Some(t)) = (self.symbol_index.get(symbol), self.tf_index(tf)) else {
            return Applied::Unknown;
        };
        let cap = self.warmup_bars(tf);
        let series = &mut self.series[s][t];
        if series
            .last_open_time
            .is_some_and(|last| c.open_time <= last)
        {
            return Applied::Duplicate;
        }
        series.last_open_time = Some(c.open_time);
        series.history.push_back(*c);
        while series.history.len() > cap {
            series.history.pop_front();
        }
        series.inds.iter_mut().for_each(|ind| ind.update(c));

        let sym_series = &self.series[s];
        let value = |leaf: &Leaf| match *leaf {
            Leaf::Const(c) => (c, c),
            Leaf::Ind(slot) => {
                let ind = &sym_series[slot.tf as usize].inds[slot.index as usize];
                let o = slot.output as usize;
                (ind.cur[o] * slot.mul, ind.prev[o] * slot.mul)
            }
        };
        for trader in self
            .traders
            .iter_mut()
            .filter(|tr| tr.tf == t && tr.screens[s])
        {
            let matched = eval(&trader.expr, &value);
            let fired = decide(
                &trader.def.filter.trigger,
                &mut trader.triggers[s],
                matched,
                c.open_time,
                tf.millis(),
            );
            if fired && emit {
                let snapshot: Map<String, serde_json::Value> = trader
                    .snapshot
                    .iter()
                    .map(|(label, slot)| (label.clone(), finite(value(&Leaf::Ind(*slot)).0)))
                    .collect();
                let mut details = self.meta.clone();
                details.insert("indicators".into(), snapshot.into());
                details.insert("trigger".into(), json!(trader.def.filter.trigger.mode));
                details.insert(
                    "candle".into(),
                    json!({"open": c.open, "high": c.high, "low": c.low, "close": c.close,
                           "volume": c.volume, "close_time": c.close_time}),
                );
                out.push(SignalRow {
                    trader_id: trader.def.id,
                    user_id: trader.def.user_id,
                    symbol: symbol.to_string(),
                    interval: tf,
                    candle_open_time: c.open_time,
                    price: c.close,
                    volume: c.volume,
                    details: details.into(),
                });
            }
        }
        if emit {
            self.queue_code_job(s, t, symbol, tf, c);
        }
        Applied::Applied
    }

    /// Queues the code traders triggered by this close (none during warm-up: they keep no memory between
    /// closes, so history needs no replay through them).
    fn queue_code_job(&mut self, s: usize, t: usize, symbol: &str, tf: Interval, c: &Candle) {
        let due: Vec<usize> = (0..self.code.traders.len())
            .filter(|&i| {
                self.code.traders[i].trigger_timeframe() == tf
                    && self.code_screens[i][s]
                    && !self.code.is_disabled(i)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        let mut needed: Vec<Interval> = due
            .iter()
            .flat_map(|&i| self.code.traders[i].timeframes.iter().copied())
            .collect();
        needed.sort();
        needed.dedup();
        let series = needed
            .into_iter()
            .filter_map(|need| {
                let history = &self.series[s][self.tf_index(need)?].history;
                Some((need, history.iter().map(kline).collect()))
            })
            .collect();
        debug_assert!(self.tf_index(tf) == Some(t));
        self.code_jobs.push(CodeJob {
            set: self.code.clone(),
            traders: due,
            symbol: symbol.to_string(),
            interval: tf,
            candle: *c,
            data: market_data(symbol, c.close_time.saturating_add(1), series),
            queued: Instant::now(),
            meta: self.shared_meta.clone(),
        });
    }
}

fn finite(x: f64) -> serde_json::Value {
    if x.is_finite() {
        json!(x)
    } else {
        serde_json::Value::Null
    }
}

fn rebuild(old: Option<Series>, specs: &[Spec]) -> Series {
    let (last_open_time, history) = old
        .map(|o| (o.last_open_time, o.history))
        .unwrap_or_default();
    let mut inds: Vec<IndicatorState> = specs.iter().map(|s| IndicatorState::new(*s)).collect();
    for c in &history {
        inds.iter_mut().for_each(|i| i.update(c));
    }
    Series {
        last_open_time,
        history,
        inds,
    }
}

fn map_expr<A, B>(e: &Expr<A>, f: &impl Fn(&A) -> B) -> Expr<B> {
    match e {
        Expr::All(v) => Expr::All(v.iter().map(|c| map_expr(c, f)).collect()),
        Expr::Any(v) => Expr::Any(v.iter().map(|c| map_expr(c, f)).collect()),
        Expr::Cmp { left, op, right } => Expr::Cmp {
            left: f(left),
            op: *op,
            right: f(right),
        },
    }
}

fn collect_leaves<A>(e: &Expr<A>, f: &mut impl FnMut(&A)) {
    match e {
        Expr::All(v) | Expr::Any(v) => v.iter().for_each(|c| collect_leaves(c, f)),
        Expr::Cmp { left, right, .. } => {
            f(left);
            f(right);
        }
    }
}
