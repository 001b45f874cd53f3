//! State of one `evaluate_many` call (one symbol at one close), shared by the native indicator functions of
//! every program: the indicator cache, the series converted to JS, and JS results already built for them.

use filter_core::{CacheKey, IndicatorCache, Kline};
use rquickjs::{Array, Function, Object, Persistent, Value};
use std::cell::OnceCell;
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::Arc;

/// A frozen JS array of raw kline rows that programs may pass back to `indicators.*`, recognised by identity.
pub struct SharedSeries {
    /// Index into `MarketData::klines` (for a derived series: of the series it was aggregated from).
    pub timeframe: u16,
    /// 0 for a `MarketData` series; for a `convertTimeframe` result, a code naming its origin, so cache keys of
    /// indicators on it never collide with the raw series' (see `derived_code`).
    pub origin: u64,
    pub klines: Arc<[Kline]>,
    pub array: Persistent<Array<'static>>,
    /// The array's object address: `indicators.rsi(klines)` is recognised without touching its elements.
    pub address: usize,
    /// Row object addresses, computed on first need: a `klines.slice(a, b)` argument is recognised by
    /// comparing its elements with these.
    pub rows: OnceCell<Vec<usize>>,
}

/// The data-realm functions (`data_realm.js`) building shared values.
pub struct DataApi {
    pub series: Persistent<Function<'static>>,
    pub seal: Persistent<Function<'static>>,
    pub record: Persistent<Function<'static>>,
    pub freeze: Persistent<Function<'static>>,
    pub line: Persistent<Function<'static>>,
    pub macd: Persistent<Function<'static>>,
    pub bands: Persistent<Function<'static>>,
    /// Hands the data realm its `materialize` native (once).
    pub lazy: Persistent<Function<'static>>,
    pub line_lazy: Persistent<Function<'static>>,
    pub macd_lazy: Persistent<Function<'static>>,
    pub bands_lazy: Persistent<Function<'static>>,
    /// Builds the frozen `timeframes` object whose getters convert a series on first access.
    pub timeframes: Persistent<Function<'static>>,
    /// The native `load(i)` those getters call.
    pub load: Option<Persistent<Function<'static>>>,
}

#[derive(Default)]
pub struct Session {
    pub cache: IndicatorCache,
    pub timestamp_ms: i64,
    pub series: Vec<SharedSeries>,
    /// Frozen JS arrays of cached indicator outputs, by cache key and output field.
    pub arrays: HashMap<(CacheKey, u8), Persistent<Array<'static>>>,
    /// `convertTimeframe` results: cache key → index in `series`.
    pub derived: HashMap<CacheKey, usize>,
    pub ticker: Option<Persistent<Value<'static>>>,
    pub timeframes: Option<Persistent<Object<'static>>>,
    pub api: Option<DataApi>,
    /// The data realm's context, where shared arrays are created.
    pub realm: Option<NonNull<rquickjs::qjs::JSContext>>,
    /// This close's `MarketData::klines`, converted to JS on first use.
    pub market: Vec<Arc<[Kline]>>,
    /// `MarketData::klines` index → index in `series`, once converted.
    pub raw: Vec<Option<usize>>,
    /// This close's symbol and timeframe names (keys of `previous`).
    pub symbol: String,
    pub names: Vec<String>,
    /// Each (symbol, timeframe)'s series at its latest close, kept across calls so a new close reuses the
    /// rows of candles it already converted; bounded by `MAX_KEPT_SERIES`.
    pub previous: HashMap<(String, String), Kept>,
    /// Counts conversions, to evict the least recently used kept series.
    pub clock: u64,
    /// Cached indicator results handed out lazily this close: handle index → cache key, and back.
    pub handles: Vec<CacheKey>,
    pub handle_of: HashMap<CacheKey, u32>,
    pub outputs: HashMap<CacheKey, Arc<crate::natives::Output>>,
    /// Bumped every close, so a result object kept from an earlier close cannot name this close's handles.
    pub generation: u32,
}

/// A converted series kept for the next close.
pub struct Kept {
    pub klines: Arc<[Kline]>,
    pub array: Persistent<Value<'static>>,
    pub used: u64,
}

/// Kept series per worker: ~0.7 KB per kline, so 256 × 250 klines ≈ 45 MB at most. Must exceed a worker's
/// symbols × timeframes, or cyclic access evicts every series before its next close.
pub const MAX_KEPT_SERIES: usize = 256;

impl Session {
    pub fn api(&self) -> &DataApi {
        self.api
            .as_ref()
            .expect("the data realm lives as long as the worker")
    }

    /// Drops every JS value of this close. Must run while the runtime is alive.
    pub fn clear_js(&mut self) {
        self.series.clear();
        self.handles.clear();
        self.handle_of.clear();
        self.outputs.clear();
        self.generation = self.generation.wrapping_add(1);
        self.raw.clear();
        self.market.clear();
        self.arrays.clear();
        self.derived.clear();
        self.ticker = None;
        self.timeframes = None;
    }
}

impl Session {
    /// The JS array of `MarketData::klines[timeframe]`, converted now if this close has not needed it yet:
    /// a program that never touches a timeframe does not pay for converting it.
    pub fn raw_series<'js>(
        &mut self,
        ctx: &rquickjs::Ctx<'js>,
        timeframe: usize,
    ) -> rquickjs::Result<usize> {
        if let Some(i) = self.raw.get(timeframe).copied().flatten() {
            return Ok(i);
        }
        let klines = self
            .market
            .get(timeframe)
            .cloned()
            .ok_or_else(|| rquickjs::Exception::throw_range(ctx, "no such timeframe"))?;
        let key = (self.symbol.clone(), self.names[timeframe].clone());
        let array = self.frozen_series(ctx, Some(key), &klines)?;
        self.series.push(SharedSeries {
            timeframe: timeframe as u16,
            origin: 0,
            klines,
            address: address(array.as_value()),
            array: Persistent::save(ctx, array),
            rows: OnceCell::new(),
        });
        self.raw[timeframe] = Some(self.series.len() - 1);
        Ok(self.series.len() - 1)
    }
}

impl Session {
    /// `klines` as a frozen data-realm array; with a `kept` key, reusing and then keeping rows across closes.
    pub fn frozen_series<'js>(
        &mut self,
        ctx: &rquickjs::Ctx<'js>,
        kept: Option<(String, String)>,
        klines: &Arc<[Kline]>,
    ) -> rquickjs::Result<Array<'js>> {
        let realm = self
            .realm
            .expect("the data realm lives as long as the worker");
        let previous = match kept.as_ref().and_then(|key| self.previous.get(key)) {
            Some(k) => Some((Arc::clone(&k.klines), k.array.clone().restore(ctx)?)),
            None => None,
        };
        let value = crate::rows::frozen_rows(
            ctx,
            realm,
            klines,
            previous.as_ref().map(|(k, a)| (&k[..], a)),
        )?;
        if let Some(key) = kept {
            self.keep(ctx, key, klines, &value);
        }
        Array::from_value(value)
    }

    fn keep<'js>(
        &mut self,
        ctx: &rquickjs::Ctx<'js>,
        key: (String, String),
        klines: &Arc<[Kline]>,
        value: &Value<'js>,
    ) {
        self.clock += 1;
        if !self.previous.contains_key(&key) && self.previous.len() >= MAX_KEPT_SERIES {
            if let Some(oldest) = self
                .previous
                .iter()
                .min_by_key(|(_, kept)| kept.used)
                .map(|(k, _)| k.clone())
            {
                self.previous.remove(&oldest);
            }
        }
        self.previous.insert(
            key,
            Kept {
                klines: Arc::clone(klines),
                array: Persistent::save(ctx, value.clone()),
                used: self.clock,
            },
        );
    }
}

/// The address of an object value (0 for non-objects); stable while the object is alive.
pub fn address(v: &Value) -> usize {
    if v.is_object() {
        unsafe { rquickjs::qjs::JS_VALUE_GET_PTR(v.as_raw()) as usize }
    } else {
        0
    }
}

/// Renders a series as Binance's raw kline rows (JSON text), numbers as Binance sends them and decimal
/// fields as strings. `{}` gives the shortest text that parses back to the same f64, so `parseFloat(k[4])`
/// in a filter equals the close Rust computes with.
pub fn klines_json(klines: &[Kline]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(klines.len() * 120 + 2);
    s.push('[');
    for (i, k) in klines.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "[{},\"{}\",\"{}\",\"{}\",\"{}\",\"{}\",{},\"{}\",{},\"{}\",\"{}\",\"0\"]",
            k.open_time,
            Num(k.open),
            Num(k.high),
            Num(k.low),
            Num(k.close),
            Num(k.volume),
            k.close_time,
            Num(k.quote_volume),
            k.trades,
            Num(k.buy_volume),
            Num(k.buy_quote_volume)
        );
    }
    s.push(']');
    s
}

/// A float as Binance-style decimal text (no exponent); non-finite values as JS spells them.
pub struct Num(pub f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x.is_nan() {
            f.write_str("NaN")
        } else if x.is_infinite() {
            f.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            // ryu is several times faster than `{}`; it switches to exponent notation outside ~1e-5..1e16,
            // where the decimal form Binance uses is kept.
            let mut buf = ryu::Buffer::new();
            let text = buf.format_finite(x);
            if text.contains('e') {
                write!(f, "{x}")
            } else {
                f.write_str(text.strip_suffix(".0").unwrap_or(text))
            }
        }
    }
}

/// Names the origin of a `convertTimeframe` result: the target interval in minutes and the range of the
/// source series it was built from (20 bits each, enough for any kline history the screener keeps).
pub fn derived_code(target_ms: i64, start: u32, end: u32) -> u64 {
    let minutes = (target_ms / 60_000).max(1) as u64;
    (minutes << 40) | ((start as u64 & 0xF_FFFF) << 20) | (end as u64 & 0xF_FFFF)
}
