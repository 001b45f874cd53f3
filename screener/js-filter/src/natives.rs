//! `indicators.*`, implemented in Rust. When the source argument is a shared klines array (or a slice of
//! one), results go through the per-close `IndicatorCache` under `js.*` names and the JS arrays built from
//! them are frozen and shared by every program of the close; other arguments (a `map`ped number array, rows
//! built by the filter) are read element by element and computed uncached.

use crate::meter::Meter;
use crate::session::{self, address, derived_code, Session, SharedSeries};
use crate::{ta, timeframe};
use filter_core::{CacheKey, Kline, SeriesRef};
use rquickjs::function::Opt;
use rquickjs::{Array, Ctx, Exception, Function, Object, Persistent, Value};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indicator {
    Rsi,
    Sma,
    Ema,
    Macd,
    Bands,
    Atr,
    Convert,
}

impl Indicator {
    pub const ALL: [(&'static str, Indicator); 7] = [
        ("rsi", Indicator::Rsi),
        ("sma", Indicator::Sma),
        ("ema", Indicator::Ema),
        ("macd", Indicator::Macd),
        ("bollingerBands", Indicator::Bands),
        ("atr", Indicator::Atr),
        ("convertTimeframe", Indicator::Convert),
    ];

    fn cache_name(self) -> &'static str {
        match self {
            Indicator::Rsi => "js.rsi",
            Indicator::Sma => "js.sma",
            Indicator::Ema => "js.ema",
            Indicator::Macd => "js.macd",
            Indicator::Bands => "js.bollingerBands",
            Indicator::Atr => "js.atr",
            Indicator::Convert => "js.convertTimeframe",
        }
    }
}

/// Origin marking a series aggregated from an aggregated series: never cached (its origin has no code).
const NESTED: u64 = u64::MAX;

/// Where an indicator's input comes from.
enum Source {
    Shared { series: usize, start: u32, end: u32 },
    Owned(Vec<Kline>),
}

pub struct Natives {
    pub session: Rc<RefCell<Session>>,
    pub meter: Rc<Meter>,
}

/// Builds the `native` object handed to `program_realm.js`.
pub fn install<'js>(ctx: &Ctx<'js>, natives: &Rc<Natives>) -> rquickjs::Result<Object<'js>> {
    let obj = Object::new(ctx.clone())?;
    for (name, ind) in Indicator::ALL {
        let n = Rc::clone(natives);
        let f = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  src: Value<'js>,
                  a: Opt<Value<'js>>,
                  b: Opt<Value<'js>>,
                  c: Opt<Value<'js>>| { n.call(&ctx, ind, src, [a.0, b.0, c.0]) },
        )?
        .with_name(name)?;
        obj.set(name, f)?;
    }
    let n = Rc::clone(natives);
    obj.set(
        "now",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>| -> rquickjs::Result<f64> {
            Ok(session(&ctx, &n.session)?.timestamp_ms as f64)
        })?,
    )?;
    Ok(obj)
}

/// The data realm's `load(i)`: the JS array of `MarketData::klines[i]`, converted on first use.
pub fn loader<'js>(ctx: &Ctx<'js>, natives: &Rc<Natives>) -> rquickjs::Result<Function<'js>> {
    let n = Rc::clone(natives);
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, i: u32| -> rquickjs::Result<Value<'js>> {
            let mut s = session(&ctx, &n.session)?;
            // Shared input data is not charged to the program that happens to touch it first.
            let limit = n.meter.limit_bytes.replace(usize::MAX);
            let index = n.meter.share(|| s.raw_series(&ctx, i as usize));
            n.meter.limit_bytes.set(limit);
            let index = index?;
            Ok(s.series[index].array.clone().restore(&ctx)?.into_value())
        },
    )
}

/// The data realm's `materialize(handle, field)`: the frozen, shared JS array of one output series of a cached
/// indicator result handed out this close.
pub fn materializer<'js>(ctx: &Ctx<'js>, natives: &Rc<Natives>) -> rquickjs::Result<Function<'js>> {
    let n = Rc::clone(natives);
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, handle: f64, field: u32| -> rquickjs::Result<Array<'js>> {
            let mut s = session(&ctx, &n.session)?;
            let (generation, index) = ((handle / HANDLES) as u64, (handle % HANDLES) as usize);
            let key = match s.handles.get(index) {
                Some(key) if generation == s.generation as u64 && handle.fract() == 0.0 => {
                    key.clone()
                }
                _ => {
                    return Err(Exception::throw_range(
                        &ctx,
                        "an indicator result from an earlier close has no series any more",
                    ))
                }
            };
            let limit = n.meter.limit_bytes.replace(usize::MAX);
            let array = n
                .meter
                .share(|| memo_array(&ctx, &mut s, &key, field as u8));
            n.meter.limit_bytes.set(limit);
            array
        },
    )
}

/// Handles are `generation × HANDLES + index` (exact in an f64).
const HANDLES: f64 = (1u64 << 20) as f64;

/// The shared frozen array of output `field` of the cached result under `key`, built on first request.
fn memo_array<'js>(
    ctx: &Ctx<'js>,
    s: &mut Session,
    key: &CacheKey,
    field: u8,
) -> rquickjs::Result<Array<'js>> {
    let memo = (key.clone(), field);
    if let Some(a) = s.arrays.get(&memo) {
        return a.clone().restore(ctx);
    }
    let Some(output) = s.outputs.get(key).cloned() else {
        return Err(Exception::throw_internal(
            ctx,
            "indicator result not cached",
        ));
    };
    let series = output.series();
    let Some(values) = series.get(field as usize) else {
        return Err(Exception::throw_range(ctx, "no such indicator series"));
    };
    let a = frozen_numbers(ctx, s, values)?;
    s.arrays.insert(memo, Persistent::save(ctx, a.clone()));
    Ok(a)
}

/// The session, or a JS error when a native is re-entered — an array element's getter calling `indicators.*`,
/// `Date.now()` or a `timeframes` getter while an indicator reads that array. Never a RefCell panic.
fn session<'a, 'js>(
    ctx: &Ctx<'js>,
    cell: &'a RefCell<Session>,
) -> rquickjs::Result<std::cell::RefMut<'a, Session>> {
    cell.try_borrow_mut().map_err(|_| {
        Exception::throw_internal(
            ctx,
            "indicators cannot be used from inside an indicator's argument",
        )
    })
}

/// The longest input an indicator reads: far beyond any kline history, and it bounds the Rust memory an
/// argument like `a.length = 1e9` (a sparse array costing the filter nothing) could make us allocate.
pub const MAX_INPUT: usize = 100_000;

fn number(v: &Option<Value>) -> Option<f64> {
    v.as_ref().and_then(|v| v.as_number())
}

/// A period argument: a positive integer, anything else yields an all-null result like the platform's helpers.
fn period(v: &Option<Value>, default: f64) -> usize {
    let p = number(v).unwrap_or(default);
    if p.is_finite() && p >= 1.0 {
        p as usize
    } else {
        0
    }
}

fn js_num<'js>(ctx: &Ctx<'js>, x: f64) -> Value<'js> {
    if x.is_nan() {
        Value::new_null(ctx.clone())
    } else {
        Value::new_number(ctx.clone(), x)
    }
}

impl Natives {
    fn call<'js>(
        &self,
        ctx: &Ctx<'js>,
        ind: Indicator,
        src: Value<'js>,
        args: [Option<Value<'js>>; 3],
    ) -> rquickjs::Result<Value<'js>> {
        let mut s = session(ctx, &self.session)?;
        let source = resolve(ctx, &s, &src)?;
        let len = match &source {
            Source::Shared { start, end, .. } => (end - start) as u64,
            Source::Owned(k) => k.len() as u64,
        };
        // Indicator work is proportional to its input.
        if self.meter.charge(len) {
            return Err(Exception::throw_internal(ctx, "work limit exceeded"));
        }
        let params: [u64; 3] = match ind {
            Indicator::Rsi | Indicator::Atr => [period(&args[0], 14.0) as u64, 0, 0],
            Indicator::Sma | Indicator::Ema => [period(&args[0], 0.0) as u64, 0, 0],
            Indicator::Macd => [
                period(&args[0], 12.0) as u64,
                period(&args[1], 26.0) as u64,
                period(&args[2], 9.0) as u64,
            ],
            Indicator::Bands => [
                period(&args[0], 20.0) as u64,
                number(&args[1]).unwrap_or(2.0).to_bits(),
                0,
            ],
            Indicator::Convert => {
                let name = args[0]
                    .as_ref()
                    .and_then(|v| v.as_string())
                    .map(|s| s.to_string())
                    .transpose()?
                    .unwrap_or_default();
                let Some(ms) = timeframe::interval_ms(&name) else {
                    return Err(Exception::throw_type(
                        ctx,
                        &format!("convertTimeframe: unknown interval {name:?}"),
                    ));
                };
                [ms as u64, 0, 0]
            }
        };
        match source {
            Source::Shared { series, start, end } => {
                let sh = &s.series[series];
                let key = CacheKey {
                    series: SeriesRef {
                        timeframe: sh.timeframe,
                        start,
                        end,
                    },
                    indicator: ind.cache_name(),
                    params: [params[0], params[1], params[2], sh.origin],
                };
                let klines = Arc::clone(&sh.klines);
                let input = &klines[start as usize..end as usize];
                if ind == Indicator::Convert {
                    return self.meter.share(|| {
                        convert_shared(ctx, &mut s, key, series, input, params[0] as i64)
                    });
                }
                shared_result(ctx, &mut s, ind, key, input)
            }
            Source::Owned(k) => {
                if ind == Indicator::Convert {
                    let out = convert(&k, params[0] as i64);
                    let api = s.api();
                    let text = session::klines_json(&out);
                    return api.series.clone().restore(ctx)?.call((text,));
                }
                let outputs = compute(ind, &k, params);
                // Computed for this call only: the filter gets its own plain arrays.
                let arrays = outputs
                    .series()
                    .iter()
                    .map(|v| crate::rows::numbers(ctx, v))
                    .collect::<rquickjs::Result<Vec<_>>>()?;
                wrap(ctx, &s, &outputs, arrays)
            }
        }
    }
}

/// Cached output of one indicator computation.
pub enum Output {
    Line(Vec<f64>),
    Macd(ta::Macd),
    Bands(ta::Bands),
}

impl Output {
    pub fn series(&self) -> Vec<&[f64]> {
        match self {
            Output::Line(v) => vec![v],
            Output::Macd(m) => vec![&m.macd, &m.signal, &m.histogram],
            Output::Bands(b) => vec![&b.upper, &b.middle, &b.lower],
        }
    }
}

fn closes(k: &[Kline]) -> Vec<f64> {
    k.iter().map(|k| k.close).collect()
}

fn compute(ind: Indicator, k: &[Kline], p: [u64; 3]) -> Output {
    let c = closes(k);
    match ind {
        Indicator::Rsi => Output::Line(ta::rsi_series(&c, p[0] as usize)),
        Indicator::Sma => Output::Line(ta::sma_series(&c, p[0] as usize)),
        Indicator::Ema => Output::Line(ta::ema_series(&c, p[0] as usize)),
        Indicator::Atr => {
            let h: Vec<f64> = k.iter().map(|k| k.high).collect();
            let l: Vec<f64> = k.iter().map(|k| k.low).collect();
            Output::Line(ta::atr_series(&h, &l, &c, p[0] as usize))
        }
        Indicator::Macd => Output::Macd(ta::macd(&c, p[0] as usize, p[1] as usize, p[2] as usize)),
        Indicator::Bands => Output::Bands(ta::bollinger(&c, p[0] as usize, f64::from_bits(p[1]))),
        Indicator::Convert => unreachable!("convertTimeframe is not a line indicator"),
    }
}

fn convert(k: &[Kline], target_ms: i64) -> Vec<Kline> {
    match timeframe::infer_interval_ms(k) {
        Some(source_ms) => timeframe::aggregate(k, source_ms, target_ms),
        None => Vec::new(),
    }
}

/// A cached indicator over a shared series: the result's scalars now, its series arrays on first read
/// (built once per close and shared).
fn shared_result<'js>(
    ctx: &Ctx<'js>,
    s: &mut Session,
    ind: Indicator,
    key: CacheKey,
    input: &[Kline],
) -> rquickjs::Result<Value<'js>> {
    let p = [key.params[0], key.params[1], key.params[2]];
    let output = s
        .cache
        .get_or_compute(key.clone(), || compute(ind, input, p));
    let index = match s.handle_of.get(&key) {
        Some(&i) => i,
        None => {
            s.handles.push(key.clone());
            s.outputs.insert(key.clone(), Arc::clone(&output));
            let i = (s.handles.len() - 1) as u32;
            s.handle_of.insert(key, i);
            i
        }
    };
    let handle = s.generation as f64 * HANDLES + index as f64;
    let api = s.api();
    let last = |v: &[f64]| js_num(ctx, ta::last_two(v).0);
    match &*output {
        Output::Line(v) => {
            let (value, previous) = ta::last_two(v);
            api.line_lazy.clone().restore(ctx)?.call((
                js_num(ctx, value),
                js_num(ctx, previous),
                handle,
            ))
        }
        Output::Macd(m) => api.macd_lazy.clone().restore(ctx)?.call((
            last(&m.macd),
            last(&m.signal),
            last(&m.histogram),
            handle,
        )),
        Output::Bands(b) => api.bands_lazy.clone().restore(ctx)?.call((
            last(&b.upper),
            last(&b.middle),
            last(&b.lower),
            handle,
        )),
    }
}

/// The result object a filter sees (see README: helper API).
fn wrap<'js>(
    ctx: &Ctx<'js>,
    s: &Session,
    output: &Output,
    mut arrays: Vec<Array<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let api = s.api();
    match output {
        Output::Line(v) => {
            let (last, prev) = ta::last_two(v);
            let values = arrays.remove(0);
            api.line
                .clone()
                .restore(ctx)?
                .call((js_num(ctx, last), js_num(ctx, prev), values))
        }
        Output::Macd(_) => {
            let (m, sig, h) = (arrays.remove(0), arrays.remove(0), arrays.remove(0));
            api.macd.clone().restore(ctx)?.call((m, sig, h))
        }
        Output::Bands(b) => {
            let at = |v: &[f64]| js_num(ctx, ta::last_two(v).0);
            let values = Object::new(ctx.clone())?;
            values.set("upper", arrays.remove(0))?;
            values.set("middle", arrays.remove(0))?;
            values.set("lower", arrays.remove(0))?;
            let values: Object = api.freeze.clone().restore(ctx)?.call((values,))?;
            api.bands.clone().restore(ctx)?.call((
                at(&b.upper),
                at(&b.middle),
                at(&b.lower),
                values,
            ))
        }
    }
}

/// A frozen data-realm array of numbers (NaN as null), shared by every program of the close.
fn frozen_numbers<'js>(
    ctx: &Ctx<'js>,
    s: &Session,
    values: &[f64],
) -> rquickjs::Result<Array<'js>> {
    let a = crate::rows::numbers(ctx, values)?;
    s.api().seal.clone().restore(ctx)?.call((a,))
}

/// `convertTimeframe` of a shared series: the aggregated series is itself shared and recognised later, so
/// `indicators.rsi(await indicators.convertTimeframe(klines, "5m"), 14)` is cached too.
fn convert_shared<'js>(
    ctx: &Ctx<'js>,
    s: &mut Session,
    key: CacheKey,
    series: usize,
    input: &[Kline],
    target_ms: i64,
) -> rquickjs::Result<Value<'js>> {
    if let Some(&i) = s.derived.get(&key) {
        return Ok(s.series[i].array.clone().restore(ctx)?.into_value());
    }
    let out = s
        .cache
        .get_or_compute(key.clone(), || convert(input, target_ms));
    let klines: Arc<[Kline]> = Arc::from(out.as_slice());
    let first_level = s.series[series].origin == 0;
    // A whole series' aggregation is kept across closes like the series itself.
    let whole = first_level && key.series.start == 0;
    let kept = whole.then(|| {
        let name = &s.names[s.series[series].timeframe as usize];
        (s.symbol.clone(), format!("{name}>{target_ms}"))
    });
    let array = s.frozen_series(ctx, kept, &klines)?;
    let origin = if first_level {
        derived_code(target_ms, key.series.start, key.series.end)
    } else {
        NESTED
    };
    let timeframe = s.series[series].timeframe;
    s.series.push(SharedSeries {
        timeframe,
        origin,
        klines,
        array: Persistent::save(ctx, array.clone()),
        address: address(array.as_value()),
        rows: OnceCell::new(),
    });
    s.derived.insert(key, s.series.len() - 1);
    Ok(array.into_value())
}

/// Recognises a shared series (or a contiguous slice of one) by object identity; reads anything else.
fn resolve<'js>(ctx: &Ctx<'js>, s: &Session, v: &Value<'js>) -> rquickjs::Result<Source> {
    let Some(array) = v.as_array() else {
        return Err(Exception::throw_type(
            ctx,
            "indicators: the first argument must be an array of klines or numbers",
        ));
    };
    if array.len() > MAX_INPUT {
        return Err(Exception::throw_range(
            ctx,
            &format!("indicators: at most {MAX_INPUT} values"),
        ));
    }
    let addr = address(v);
    if let Some(i) = s.series.iter().position(|sh| sh.address == addr) {
        let sh = &s.series[i];
        if sh.origin != NESTED {
            return Ok(Source::Shared {
                series: i,
                start: 0,
                end: sh.klines.len() as u32,
            });
        }
        return Ok(Source::Owned(sh.klines.to_vec()));
    }
    if let Some(found) = find_slice(ctx, s, array)? {
        return Ok(found);
    }
    read_owned(array).map(Source::Owned)
}

/// A new array whose elements are consecutive rows of one shared series (`klines.slice(0, -1)`).
fn find_slice<'js>(
    _ctx: &Ctx<'js>,
    s: &Session,
    array: &Array<'js>,
) -> rquickjs::Result<Option<Source>> {
    let n = array.len();
    if n == 0 {
        return Ok(None);
    }
    let first: Value = array.get(0)?;
    let Some(row) = first.as_array() else {
        return Ok(None);
    };
    let Some(open_time) = row.get::<Value>(0)?.as_number() else {
        return Ok(None);
    };
    let first_addr = address(&first);
    for (i, sh) in s.series.iter().enumerate() {
        if sh.origin == NESTED {
            continue;
        }
        let Ok(start) = sh
            .klines
            .binary_search_by(|k| (k.open_time as f64).total_cmp(&open_time))
        else {
            continue;
        };
        if start + n > sh.klines.len() {
            continue;
        }
        let rows = match sh.rows.get() {
            Some(r) => r,
            None => {
                let shared = sh.array.clone().restore(_ctx)?;
                let mut r = Vec::with_capacity(sh.klines.len());
                for j in 0..shared.len() {
                    r.push(address(&shared.get::<Value>(j)?));
                }
                let _ = sh.rows.set(r);
                sh.rows.get().expect("just set")
            }
        };
        if rows[start] != first_addr {
            continue;
        }
        let mut same = true;
        for j in 1..n {
            if address(&array.get::<Value>(j)?) != rows[start + j] {
                same = false;
                break;
            }
        }
        if same {
            return Ok(Some(Source::Shared {
                series: i,
                start: start as u32,
                end: (start + n) as u32,
            }));
        }
    }
    Ok(None)
}

/// `parseFloat` of a kline field (string or number).
fn field(row: &Array, i: usize) -> rquickjs::Result<f64> {
    let v: Value = row.get(i)?;
    if let Some(x) = v.as_number() {
        return Ok(x);
    }
    if let Some(s) = v.as_string() {
        return Ok(parse_float(&s.to_string()?));
    }
    Ok(f64::NAN)
}

/// JS `parseFloat` on the common cases: leading whitespace, then the longest numeric prefix.
fn parse_float(s: &str) -> f64 {
    let t = s.trim_start();
    if let Ok(x) = t.parse::<f64>() {
        return x;
    }
    let end = t
        .char_indices()
        .take_while(|(i, c)| {
            c.is_ascii_digit() || *c == '.' || ((*c == '-' || *c == '+') && *i == 0)
        })
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    t[..end].parse().unwrap_or(f64::NAN)
}

/// Reads an array of raw kline rows, or of numbers (taken as closes), into klines.
fn read_owned(array: &Array) -> rquickjs::Result<Vec<Kline>> {
    let mut out = Vec::with_capacity(array.len());
    for i in 0..array.len() {
        let v: Value = array.get(i)?;
        let k = if let Some(x) = v.as_number() {
            Kline {
                open: x,
                high: x,
                low: x,
                close: x,
                ..Kline::default()
            }
        } else if let Some(row) = v.as_array() {
            Kline {
                open_time: field(row, 0)? as i64,
                open: field(row, 1)?,
                high: field(row, 2)?,
                low: field(row, 3)?,
                close: field(row, 4)?,
                volume: field(row, 5)?,
                close_time: field(row, 6)? as i64,
                quote_volume: field(row, 7)?,
                trades: field(row, 8)? as i64,
                buy_volume: field(row, 9)?,
                buy_quote_volume: field(row, 10)?,
            }
        } else {
            Kline {
                close: f64::NAN,
                high: f64::NAN,
                low: f64::NAN,
                open: f64::NAN,
                ..Kline::default()
            }
        };
        out.push(k);
    }
    Ok(out)
}
