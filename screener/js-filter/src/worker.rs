//! One QuickJS runtime per thread: a frozen data realm holding the close's shared values, and one realm per
//! compiled program so programs cannot see or change each other's globals and intrinsics.

use crate::compile;
use crate::meter::{Meter, MeteredAllocator};
use crate::natives::{self, Natives};
use crate::outcome;
use crate::session::{self, DataApi, Session};
use filter_core::{CompileError, EvalError, IndicatorCache, Limits, MarketData};
use rquickjs::context::intrinsic::{
    Date, Eval, Json, MapSet, Promise, RegExp, RegExpCompiler, TypedArrays,
};
use rquickjs::{Context, Ctx, Function, Object, Persistent, Runtime, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// What a realm gets: no Proxy, WeakRef/FinalizationRegistry (GC-dependent), performance (a clock) or
/// DOMException. `Eval` is the compiler Rust uses; the `eval` global itself is deleted by the prelude.
type Intrinsics = (
    Date,
    Eval,
    RegExpCompiler,
    RegExp,
    Json,
    MapSet,
    TypedArrays,
    Promise,
);

/// Leftover promise jobs are discarded (run with every interrupt poll failing) up to this many.
const MAX_DRAIN_JOBS: usize = 100_000;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ProgramId(u32);

struct Program {
    /// Kept to rebuild the program's realm when it hoards memory across evaluations.
    code: String,
    /// Bytes the program's realm kept from its evaluations (globals it filled), net of what it freed.
    retained: std::cell::Cell<isize>,
    ctx: Context,
    run: Persistent<Function<'static>>,
    filter: Persistent<Function<'static>>,
}

pub struct Worker {
    // Field order matters: JS handles must go before the contexts, contexts before the runtime.
    session: Rc<RefCell<Session>>,
    programs: HashMap<u32, Program>,
    next_id: u32,
    natives: Rc<Natives>,
    data: Context,
    meter: Rc<Meter>,
    limits: Limits,
    rt: Runtime,
}

/// C stack the engine may use: `call_depth` frames of a generous 2 KiB, within 256 KiB..1 MiB so the
/// thread's own stack (2 MiB for spawned Rust threads) is never exhausted.
fn stack_bytes(call_depth: u32) -> usize {
    (call_depth as usize * 2048).clamp(256 << 10, 1 << 20)
}

impl Worker {
    pub fn new(limits: Limits) -> Result<Worker, String> {
        let meter = Meter::unlimited();
        let rt = Runtime::new_with_alloc(MeteredAllocator(Rc::clone(&meter)))
            .map_err(|e| format!("creating the JS runtime: {e}"))?;
        rt.set_max_stack_size(stack_bytes(limits.call_depth));
        let m = Rc::clone(&meter);
        rt.set_interrupt_handler(Some(Box::new(move || m.interrupt())));
        let data = Context::custom::<Intrinsics>(&rt).map_err(|e| e.to_string())?;
        let api = data
            .with(|ctx| data_api(&ctx))
            .map_err(|e| format!("setting up the data realm: {e}"))?;
        let session = Rc::new(RefCell::new(Session {
            api: Some(api),
            realm: Some(data.as_raw()),
            ..Session::default()
        }));
        let natives = Rc::new(Natives {
            session: Rc::clone(&session),
            meter: Rc::clone(&meter),
        });
        let load = data
            .with(|ctx| natives::loader(&ctx, &natives).map(|f| Persistent::save(&ctx, f)))
            .map_err(|e| format!("setting up the data realm: {e}"))?;
        session.borrow_mut().api.as_mut().expect("set above").load = Some(load);
        data.with(|ctx| -> rquickjs::Result<()> {
            let lazy = session.borrow().api().lazy.clone().restore(&ctx)?;
            lazy.call((natives::materializer(&ctx, &natives)?,))
        })
        .map_err(|e| format!("setting up the data realm: {e}"))?;
        Ok(Worker {
            session,
            programs: HashMap::new(),
            next_id: 0,
            natives,
            data,
            meter,
            limits,
            rt,
        })
    }

    pub fn compile(&mut self, code: &str) -> Result<ProgramId, CompileError> {
        let program = self.build(code)?;
        let id = self.next_id;
        self.next_id += 1;
        self.programs.insert(id, program);
        Ok(ProgramId(id))
    }

    /// A fresh realm with `code` compiled in it.
    fn build(&mut self, code: &str) -> Result<Program, CompileError> {
        let whole = |message: String| CompileError {
            line: 0,
            column: 0,
            message,
        };
        let ctx = Context::custom::<Intrinsics>(&self.rt).map_err(|e| whole(e.to_string()))?;
        self.meter.start(self.limits.memory_bytes, self.limits.fuel);
        let compiled = ctx.with(|ctx| {
            let run =
                realm(&ctx, &self.natives).map_err(|e| whole(format!("sandbox setup: {e}")))?;
            let filter = compile::compile(&ctx, code)?;
            Ok((Persistent::save(&ctx, run), Persistent::save(&ctx, filter)))
        });
        self.meter.stop();
        let (run, filter) = compiled?;
        Ok(Program {
            code: code.to_string(),
            retained: std::cell::Cell::new(0),
            ctx,
            run,
            filter,
        })
    }

    pub fn remove(&mut self, id: ProgramId) {
        self.programs.remove(&id.0);
    }

    /// Evaluates several programs for one symbol at one close; the market data is converted to JS once and
    /// shared. `programs[i].1` is program i's primary timeframe (what `klines` is bound to).
    pub fn evaluate_many(
        &mut self,
        programs: &[(ProgramId, &str)],
        data: &MarketData,
        cache: &mut IndicatorCache,
    ) -> Vec<Result<bool, EvalError>> {
        {
            let mut s = self.session.borrow_mut();
            std::mem::swap(&mut s.cache, cache);
            s.timestamp_ms = data.timestamp_ms;
        }
        let prepared = self
            .data
            .with(|ctx| prepare(&ctx, data, &mut self.session.borrow_mut()));
        let results = match prepared {
            Ok(()) => {
                let mut results = Vec::with_capacity(programs.len());
                for (id, tf) in programs {
                    let (result, hoarding) = self.evaluate_one(*id, tf, data);
                    results.push(if hoarding { self.reset(*id) } else { result });
                }
                results
            }
            Err(e) => {
                let message = format!("converting the market data: {e}");
                programs
                    .iter()
                    .map(|_| {
                        Err(EvalError::Runtime {
                            line: 0,
                            column: 0,
                            message: message.clone(),
                        })
                    })
                    .collect()
            }
        };
        self.data.with(|_ctx| self.session.borrow_mut().clear_js());
        std::mem::swap(&mut self.session.borrow_mut().cache, cache);
        results
    }

    /// A program whose realm keeps more than `memory_bytes` across evaluations (`globalThis.hoard.push(...)`
    /// every time) would grow without bound: its realm is rebuilt from its code, dropping that state, and
    /// this evaluation reports the memory limit.
    fn reset(&mut self, id: ProgramId) -> Result<bool, EvalError> {
        if let Some(old) = self.programs.remove(&id.0) {
            let code = old.code.clone();
            drop(old);
            self.rt.run_gc();
            // The code compiled before, so it compiles again.
            if let Ok(program) = self.build(&code) {
                self.programs.insert(id.0, program);
            }
        }
        Err(EvalError::Memory {
            limit: self.limits.memory_bytes,
        })
    }

    /// The program's verdict, and whether its realm is hoarding memory across evaluations.
    fn evaluate_one(
        &self,
        id: ProgramId,
        timeframe: &str,
        data: &MarketData,
    ) -> (Result<bool, EvalError>, bool) {
        match self.evaluate_program(id, timeframe, data) {
            Ok(out) => out,
            Err(e) => (Err(e), false),
        }
    }

    fn evaluate_program(
        &self,
        id: ProgramId,
        timeframe: &str,
        data: &MarketData,
    ) -> Result<(Result<bool, EvalError>, bool), EvalError> {
        let runtime = |message: String| EvalError::Runtime {
            line: 0,
            column: 0,
            message,
        };
        let program = self
            .programs
            .get(&id.0)
            .ok_or_else(|| runtime(format!("unknown program {id:?}")))?;
        let series = data
            .series_index(timeframe)
            .ok_or_else(|| runtime(format!("no {timeframe} klines for {}", data.symbol)))?;
        let series = self
            .data
            .with(|ctx| self.session.borrow_mut().raw_series(&ctx, series))
            .map_err(|e| runtime(format!("converting the {timeframe} klines: {e}")))?;
        let (klines, timeframes, ticker) = {
            let s = self.session.borrow();
            (
                s.series[series].array.clone(),
                s.timeframes.clone().expect("prepared"),
                s.ticker.clone().expect("prepared"),
            )
        };
        let limits = self.limits;
        self.meter.start(limits.memory_bytes, limits.fuel);
        let before = self.meter.used_bytes.get() as isize;
        let result = program.ctx.with(|ctx| {
            let call = || -> rquickjs::Result<Value> {
                let run = program.run.clone().restore(&ctx)?;
                let filter = program.filter.clone().restore(&ctx)?;
                run.call((
                    filter,
                    ticker.restore(&ctx)?,
                    timeframes.restore(&ctx)?,
                    klines.restore(&ctx)?,
                ))
            };
            match call() {
                Ok(v) => outcome::settle(&ctx, v, &self.meter, &limits),
                Err(e) => Err(outcome::classify(&ctx, e, &self.meter, &limits)),
            }
        });
        self.discard_jobs(program);
        self.meter.stop();
        if matches!(
            result,
            Err(EvalError::Memory { .. } | EvalError::Fuel { .. } | EvalError::Depth { .. })
        ) {
            self.rt.run_gc();
        }
        let kept = self.meter.used_bytes.get() as isize - before - self.meter.shared_bytes.get();
        let retained = &program.retained;
        retained.set(retained.get() + kept);
        let mut hoarding = retained.get() > limits.memory_bytes as isize;
        if hoarding {
            // Uncollected cycles count until a GC; whatever it frees is credited to this program.
            let used = self.meter.used_bytes.get() as isize;
            self.rt.run_gc();
            retained.set(retained.get() - (used - self.meter.used_bytes.get() as isize));
            hoarding = retained.get() > limits.memory_bytes as isize;
        }
        Ok((result, hoarding))
    }

    /// Jobs a filter left behind (a background async loop, a never-awaited promise) must not run during
    /// another program's evaluation: run them with every interrupt poll failing until the queue is empty.
    fn discard_jobs(&self, program: &Program) {
        self.meter.kill.set(true);
        program.ctx.with(|ctx| {
            for _ in 0..MAX_DRAIN_JOBS {
                if !ctx.execute_pending_job() {
                    break;
                }
            }
        });
        self.meter.kill.set(false);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // JS handles held from Rust must be released while the runtime exists.
        let mut s = self.session.borrow_mut();
        s.clear_js();
        s.previous.clear();
        s.api = None;
        drop(s);
        self.programs.clear();
    }
}

/// Sets up a program realm (`program_realm.js`) and returns its `run` function.
fn realm<'js>(ctx: &Ctx<'js>, natives: &Rc<Natives>) -> rquickjs::Result<Function<'js>> {
    let native = natives::install(ctx, natives)?;
    let setup: Function = ctx.eval(include_str!("program_realm.js"))?;
    setup.call((native,))
}

fn data_api(ctx: &Ctx) -> rquickjs::Result<DataApi> {
    let api: Object = ctx.eval(include_str!("data_realm.js"))?;
    let f = |name: &str| -> rquickjs::Result<Persistent<Function<'static>>> {
        Ok(Persistent::save(ctx, api.get::<_, Function>(name)?))
    };
    Ok(DataApi {
        series: f("series")?,
        seal: f("seal")?,
        record: f("record")?,
        freeze: f("freeze")?,
        line: f("line")?,
        macd: f("macd")?,
        bands: f("bands")?,
        lazy: f("lazy")?,
        line_lazy: f("lineLazy")?,
        macd_lazy: f("macdLazy")?,
        bands_lazy: f("bandsLazy")?,
        timeframes: f("timeframes")?,
        load: None,
    })
}

/// Prepares the close's shared values: the ticker now, each klines series on first use.
fn prepare(ctx: &Ctx, data: &MarketData, s: &mut Session) -> rquickjs::Result<()> {
    let api = s.api();
    let record = api.record.clone().restore(ctx)?;
    let names: Vec<&str> = data.klines.iter().map(|(name, _)| name.as_str()).collect();
    let load = api.load.clone().expect("set by Worker::new").restore(ctx)?;
    let timeframes: Object = api
        .timeframes
        .clone()
        .restore(ctx)?
        .call((names.clone(), load))?;
    let ticker: Value = match &data.ticker {
        // Binance's 24 h ticker fields as the platform's executors read them (`ticker.c`, `.P`, `.q`), strings.
        Some(t) => record.call((format!(
            "{{\"s\":{:?},\"c\":\"{}\",\"P\":\"{}\",\"q\":\"{}\"}}",
            data.symbol,
            session::Num(t.last_price),
            session::Num(t.price_change_percent),
            session::Num(t.quote_volume)
        ),))?,
        None => Value::new_null(ctx.clone()),
    };
    s.market = data.klines.iter().map(|(_, k)| k.clone()).collect();
    s.names = names.iter().map(|n| n.to_string()).collect();
    s.symbol = data.symbol.clone();
    s.raw = vec![None; data.klines.len()];
    s.timeframes = Some(Persistent::save(ctx, timeframes));
    s.ticker = Some(Persistent::save(ctx, ticker));
    Ok(())
}
