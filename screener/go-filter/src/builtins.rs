//! Run-time Go builtins, `math`, `time.Time` methods and the `indicators` package (through the shared
//! indicator cache when the argument is an unmodified `data.Klines` series).

use crate::indicators as ind;
use crate::interp::*;
use crate::ir::*;
use crate::lexer::Pos;
use crate::value::*;
use filter_core::{CacheKey, Kline, SeriesRef};
use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

fn go_max(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() {
            y
        } else {
            x
        }
    } else if x > y {
        x
    } else {
        y
    }
}

fn go_min(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() {
            x
        } else {
            y
        }
    } else if x < y {
        x
    } else {
        y
    }
}

pub fn math(m: MathFn, a: &[Value]) -> Value {
    let x = a.first().map(as_float).unwrap_or(0.0);
    let y = a.get(1).map(as_float).unwrap_or(0.0);
    use MathFn::*;
    match m {
        Inf => Value::Float(if a.first().map(as_int).unwrap_or(0) >= 0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }),
        IsNaN => Value::Bool(x.is_nan()),
        IsInf => {
            let s = a.get(1).map(as_int).unwrap_or(0);
            Value::Bool((s >= 0 && x == f64::INFINITY) || (s <= 0 && x == f64::NEG_INFINITY))
        }
        Signbit => Value::Bool(x.is_sign_negative()),
        _ => Value::Float(math_f(m, x, y)),
    }
}

/// The float-valued `math` functions.
#[inline]
pub fn math_f(m: MathFn, x: f64, y: f64) -> f64 {
    use MathFn::*;
    match m {
        Abs => x.abs(),
        Max => go_max(x, y),
        Min => go_min(x, y),
        Sqrt => x.sqrt(),
        Cbrt => x.cbrt(),
        Pow => go_pow(x, y),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Round => x.round(),
        RoundToEven => x.round_ties_even(),
        Trunc => x.trunc(),
        Log => x.ln(),
        Log10 => x.log10(),
        Log2 => x.log2(),
        Log1p => x.ln_1p(),
        Exp => x.exp(),
        Expm1 => x.exp_m1(),
        Inf | IsNaN | IsInf | Signbit | NaN => f64::NAN,
        Mod => x % y,
        Hypot => x.hypot(y),
        Sin => x.sin(),
        Cos => x.cos(),
        Tan => x.tan(),
        Asin => x.asin(),
        Acos => x.acos(),
        Atan => x.atan(),
        Atan2 => x.atan2(y),
        Sinh => x.sinh(),
        Cosh => x.cosh(),
        Tanh => x.tanh(),
        Copysign => x.copysign(y),
        Dim => {
            if x.is_nan() || y.is_nan() {
                f64::NAN
            } else if x - y <= 0.0 {
                0.0
            } else {
                x - y
            }
        }
    }
}

/// Go's `math.Pow` special cases differ from C's for a few inputs (`Pow(-1, ±Inf)` is 1 in both).
fn go_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

/// Civil date from days since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn time_fn(t: TimeFn, ms: i64) -> Value {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    Value::Int(match t {
        TimeFn::Unix => secs,
        TimeFn::UnixMilli => ms,
        TimeFn::Year => y,
        TimeFn::Month => m,
        TimeFn::Day => d,
        TimeFn::Hour => sod / 3600,
        TimeFn::Minute => sod % 3600 / 60,
        TimeFn::Second => sod % 60,
        TimeFn::Weekday => (days + 4).rem_euclid(7),
        TimeFn::YearDay => {
            let (y0, _, _) = civil(days);
            let mut jan1 = days;
            while civil(jan1 - 1).0 == y0 && days - jan1 < 400 {
                jan1 -= 1;
            }
            days - jan1 + 1
        }
    })
}

/// Go's slice growth (roughly: double small slices, grow large ones by 1.25x).
fn grow(cap: usize, need: usize) -> usize {
    if need > cap.saturating_mul(2) {
        return need;
    }
    if cap < 256 {
        return (cap * 2).max(need);
    }
    let mut c = cap;
    while c < need {
        c = c.saturating_add((c + 768) / 4);
    }
    c
}

fn elem_size(kind: ArrKind) -> usize {
    match kind {
        ArrKind::F64 | ArrKind::Int => 8,
        ArrKind::Kline => std::mem::size_of::<Kline>(),
        ArrKind::Val => std::mem::size_of::<Value>(),
    }
}

fn slice_elems(s: &SliceV) -> Vec<Value> {
    match &s.arr {
        Some(a) => {
            let a = a.borrow();
            (0..s.len as usize)
                .map(|i| a.get(s.off as usize + i))
                .collect()
        }
        None => Vec::new(),
    }
}

impl<'a> Interp<'a> {
    pub fn builtin(&mut self, f: &mut Frame, b: &Builtin, args: &[E], pos: Pos) -> Res<Value> {
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.eval(f, a)?);
        }
        let arg = |i: usize| vals.get(i).cloned().unwrap_or(Value::Nil);
        Ok(match b {
            Builtin::LenSlice => Value::Int(as_slice(&arg(0)).len as i64),
            Builtin::Cap => Value::Int(as_slice(&arg(0)).cap as i64),
            Builtin::LenStr => match arg(0) {
                Value::Str(s) => Value::Int(s.len() as i64),
                _ => Value::Int(0),
            },
            Builtin::LenMap => match arg(0) {
                Value::Map(Some(m)) => Value::Int(m.borrow().len() as i64),
                _ => Value::Int(0),
            },
            Builtin::Append(kind, spread) => {
                let s = as_slice(&arg(0));
                let extra: Vec<Value> = if *spread {
                    slice_elems(&as_slice(&arg(1)))
                } else {
                    vals[1..].to_vec()
                };
                self.append(s, *kind, extra)?
            }
            Builtin::MakeSlice(et) => {
                let len = as_int(&arg(0));
                let cap = if vals.len() > 1 { as_int(&arg(1)) } else { len };
                if len < 0 {
                    return Err(rt(pos, "makeslice: len out of range"));
                }
                if cap < len {
                    return Err(rt(pos, "makeslice: cap out of range"));
                }
                let kind = arr_kind(et);
                // Charge before allocating: make([]float64, 1<<40) fails here, not in the allocator.
                let cap_u = usize::try_from(cap).unwrap_or(usize::MAX);
                self.alloc_n(cap_u, elem_size(kind))?;
                if cap > u32::MAX as i64 {
                    return Err(EvalError::Memory {
                        limit: self.limits.memory_bytes,
                    }
                    .into());
                }
                self.tick(1 + cap as u64 / 8)?;
                let z = zero(et);
                let arr = Arr::new(kind, cap as usize, &z);
                Value::Slice(SliceV {
                    arr: Some(Rc::new(RefCell::new(arr))),
                    off: 0,
                    len: len as u32,
                    cap: cap as u32,
                })
            }
            Builtin::MakeMap => {
                self.alloc(64)?;
                Value::Map(Some(Rc::new(RefCell::new(Default::default()))))
            }
            Builtin::Copy => {
                let d = as_slice(&arg(0));
                let s = as_slice(&arg(1));
                let n = d.len.min(s.len) as usize;
                self.tick(n as u64)?;
                let src = slice_elems(&SliceV { len: n as u32, ..s });
                if let Some(a) = &d.arr {
                    if matches!(&*a.borrow(), Arr::SharedKlines(..)) && n > 0 {
                        let len = a.borrow().len();
                        self.alloc_n(len, std::mem::size_of::<Kline>())?;
                    }
                    let mut a = a.borrow_mut();
                    for (i, v) in src.into_iter().enumerate() {
                        a.set(d.off as usize + i, v);
                    }
                }
                Value::Int(n as i64)
            }
            Builtin::Delete => {
                if let (Value::Map(Some(m)), Some(k)) = (arg(0), Key::from_value(&arg(1))) {
                    m.borrow_mut().remove(&k);
                }
                Value::Nil
            }
            Builtin::New(t) => {
                self.alloc(32)?;
                Value::Ptr(Rc::new(RefCell::new(zero(t))))
            }
            Builtin::MinMax(is_max) => {
                let mut best = arg(0);
                for v in &vals[1..] {
                    best = match (&best, v) {
                        (Value::Float(x), Value::Float(y)) => Value::Float(if *is_max {
                            go_max(*x, *y)
                        } else {
                            go_min(*x, *y)
                        }),
                        (Value::Int(x), Value::Int(y)) => {
                            Value::Int(if *is_max { *x.max(y) } else { *x.min(y) })
                        }
                        (Value::Str(x), Value::Str(y)) => {
                            if (*is_max && y > x) || (!*is_max && y < x) {
                                v.clone()
                            } else {
                                best.clone()
                            }
                        }
                        _ => best,
                    };
                }
                best
            }
            Builtin::Panic => return Err(rt(pos, format!("panic: {}", display(&arg(0))))),
            Builtin::Math(m) => math(*m, &vals),
            Builtin::Conv(c) => {
                let v = arg(0);
                match c {
                    Conv::IntToFloat => Value::Float(as_int(&v) as f64),
                    Conv::FloatToInt(k) => {
                        let x = as_float(&v);
                        // Go leaves out-of-range conversions implementation-defined; amd64 yields MinInt64.
                        let i = if x.is_nan()
                            || !(-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&x)
                        {
                            i64::MIN
                        } else {
                            x as i64
                        };
                        Value::Int(wrap(*k, i))
                    }
                    Conv::IntToInt(k) => Value::Int(wrap(*k, as_int(&v))),
                    Conv::RuneToString => {
                        let ch = u32::try_from(as_int(&v))
                            .ok()
                            .and_then(char::from_u32)
                            .unwrap_or('\u{fffd}');
                        self.alloc(4)?;
                        Value::Str(Arc::from(ch.to_string().as_str()))
                    }
                    Conv::Identity => v,
                }
            }
            Builtin::Time(t) => match arg(0) {
                Value::Time(ms) => time_fn(*t, ms),
                _ => Value::Int(0),
            },
        })
    }

    fn append(&mut self, s: SliceV, kind: ArrKind, extra: Vec<Value>) -> Res<Value> {
        let n = extra.len();
        if n == 0 {
            return Ok(if s.arr.is_some() {
                Value::Slice(s)
            } else {
                Value::Nil
            });
        }
        self.tick(n as u64)?;
        let len = s.len as usize;
        let need = len.checked_add(n).ok_or(EvalError::Memory {
            limit: self.limits.memory_bytes,
        })?;
        if need > u32::MAX as usize {
            return Err(EvalError::Memory {
                limit: self.limits.memory_bytes,
            }
            .into());
        }
        if let Some(a) = &s.arr {
            if need <= s.cap as usize {
                let shared = matches!(&*a.borrow(), Arr::SharedKlines(..));
                if shared {
                    let l = a.borrow().len();
                    self.alloc_n(l, std::mem::size_of::<Kline>())?;
                }
                let mut arr = a.borrow_mut();
                for (j, v) in extra.into_iter().enumerate() {
                    arr.set(s.off as usize + len + j, v);
                }
                return Ok(Value::Slice(SliceV {
                    len: need as u32,
                    ..s.clone()
                }));
            }
        }
        let cap = grow(s.cap as usize, need);
        self.alloc_n(cap, elem_size(kind))?;
        self.tick(cap as u64 / 8)?;
        let mut arr = match &s.arr {
            Some(a) => a.borrow().grown(s.off as usize, len, cap, &Value::Nil),
            None => Arr::new(kind, cap, &Value::Nil),
        };
        for (j, v) in extra.into_iter().enumerate() {
            arr.set(len + j, v);
        }
        Ok(Value::Slice(SliceV {
            arr: Some(Rc::new(RefCell::new(arr))),
            off: 0,
            len: need as u32,
            cap: cap as u32,
        }))
    }

    fn float_slice(&mut self, v: &[f64]) -> Res<Value> {
        self.alloc_n(v.len(), 8)?;
        Ok(Value::Slice(SliceV::whole(Arr::F64(v.to_vec()))))
    }

    fn float_ptr(&mut self, v: Option<f64>) -> Res<Value> {
        Ok(match v {
            Some(x) => {
                self.alloc(32)?;
                Value::Ptr(Rc::new(RefCell::new(Value::Float(x))))
            }
            None => Value::Nil,
        })
    }

    fn struct_ptr(&mut self, fields: Vec<Value>) -> Res<Value> {
        self.alloc(32 + 24 * fields.len())?;
        Ok(Value::Ptr(Rc::new(RefCell::new(Value::Struct(Rc::new(
            fields,
        ))))))
    }

    /// Computes through the shared cache when the klines are an unmodified `data.Klines` range.
    fn cached<T: Any + Send + Sync>(
        &mut self,
        sref: Option<SeriesRef>,
        name: &'static str,
        params: [u64; 4],
        k: &[Kline],
        f: impl FnOnce(&[Kline]) -> T,
    ) -> Arc<T> {
        match sref {
            Some(series) => self.cache.get_or_compute(
                CacheKey {
                    series,
                    indicator: name,
                    params,
                },
                || f(k),
            ),
            None => Arc::new(f(k)),
        }
    }

    pub fn indicator(&mut self, fr: &mut Frame, which: Ind, args: &[E], _pos: Pos) -> Res<Value> {
        let s = as_slice(&self.eval(fr, &args[0])?);
        let mut p = Vec::with_capacity(3);
        for a in &args[1..] {
            p.push(self.eval(fr, a)?);
        }
        let pi = |i: usize| p.get(i).map(as_int).unwrap_or(0);
        let n = s.len as u64;
        // Work in proportion to the input (windowed indicators: input x window).
        let window = (pi(0).clamp(1, n.max(1) as i64)) as u64;
        let cost = match which {
            Ind::CalculateMASeries
            | Ind::CalculateBollingerBands
            | Ind::GetLatestBollingerBands => n * window * 2,
            Ind::CalculateMACD | Ind::GetLatestMACD => n * 4,
            _ => n,
        };
        self.tick(1 + cost)?;
        let arr_rc = s.arr.clone();
        let guard = arr_rc.as_ref().map(|a| a.borrow());
        let (k, sref): (&[Kline], Option<SeriesRef>) = match guard.as_deref() {
            Some(Arr::SharedKlines(tf, data)) => (
                &data[s.off as usize..(s.off + s.len) as usize],
                Some(SeriesRef {
                    timeframe: *tf,
                    start: s.off,
                    end: s.off + s.len,
                }),
            ),
            Some(Arr::Klines(v)) => (&v[s.off as usize..(s.off + s.len) as usize], None),
            _ => (&[], None),
        };
        let p0 = pi(0) as u64;
        use Ind::*;
        let out = match which {
            CalculateMA => {
                let r = self.cached(sref, "go.CalculateMA", [p0, 0, 0, 0], k, |k| {
                    ind::calculate_ma(k, pi(0))
                });
                Some(*r).map(|r| self.float_ptr(r))
            }
            CalculateEMA => {
                let r = self.cached(sref, "go.CalculateEMA", [p0, 0, 0, 0], k, |k| {
                    ind::calculate_ema(k, pi(0))
                });
                Some(*r).map(|r| self.float_ptr(r))
            }
            CalculateAvgVolume => {
                let r = self.cached(sref, "go.CalculateAvgVolume", [p0, 0, 0, 0], k, |k| {
                    ind::calculate_avg_volume(k, pi(0))
                });
                Some(*r).map(|r| self.float_ptr(r))
            }
            GetHighestHigh => {
                let r = self.cached(sref, "go.GetHighestHigh", [p0, 0, 0, 0], k, |k| {
                    ind::get_highest_high(k, pi(0))
                });
                Some(*r).map(|r| self.float_ptr(r))
            }
            GetLowestLow => {
                let r = self.cached(sref, "go.GetLowestLow", [p0, 0, 0, 0], k, |k| {
                    ind::get_lowest_low(k, pi(0))
                });
                Some(*r).map(|r| self.float_ptr(r))
            }
            CalculateMASeries => {
                let r = self.cached(sref, "go.CalculateMASeries", [p0, 0, 0, 0], k, |k| {
                    ind::calculate_ma_series(k, pi(0))
                });
                Some(self.float_slice(&r))
            }
            CalculateEMASeries => {
                let r = self.cached(sref, "go.CalculateEMASeries", [p0, 0, 0, 0], k, |k| {
                    ind::calculate_ema_series(k, pi(0))
                });
                Some(self.float_slice(&r))
            }
            CalculateRSI | GetLatestRSI => {
                let r = self.cached(sref, "go.CalculateRSI", [p0, 0, 0, 0], k, |k| {
                    ind::calculate_rsi(k, pi(0))
                });
                Some(match (&*r, which) {
                    (None, _) => Ok(Value::Nil),
                    (Some(v), GetLatestRSI) => self.float_ptr(ind::latest_rsi_from(v)),
                    (Some(v), _) => match self.float_slice(v) {
                        Ok(sv) => self.struct_ptr(vec![sv]),
                        Err(e) => Err(e),
                    },
                })
            }
            CalculateMACD | GetLatestMACD => {
                let params = [p0, pi(1) as u64, pi(2) as u64, 0];
                let r = self.cached(sref, "go.CalculateMACD", params, k, |k| {
                    ind::calculate_macd(k, pi(0), pi(1), pi(2))
                });
                Some(match (&*r, which) {
                    (None, _) => Ok(Value::Nil),
                    (Some(m), GetLatestMACD) => match ind::latest_macd_from(m) {
                        Some(l) => self.struct_ptr(vec![
                            Value::Float(l.macd),
                            Value::Float(l.signal),
                            Value::Float(l.histogram),
                        ]),
                        None => Ok(Value::Nil),
                    },
                    (Some(m), _) => (|| {
                        let a = self.float_slice(&m.macd)?;
                        let b = self.float_slice(&m.signal)?;
                        let c = self.float_slice(&m.histogram)?;
                        self.struct_ptr(vec![a, b, c])
                    })(),
                })
            }
            CalculateBollingerBands | GetLatestBollingerBands => {
                let sd = p.get(1).map(as_float).unwrap_or(0.0);
                let r = self.cached(
                    sref,
                    "go.CalculateBollingerBands",
                    [p0, sd.to_bits(), 0, 0],
                    k,
                    |k| ind::calculate_bollinger_bands(k, pi(0), sd),
                );
                Some(match (&*r, which) {
                    (None, _) => Ok(Value::Nil),
                    (Some(b), GetLatestBollingerBands) => match ind::latest_bands_from(b) {
                        Some(l) => self.struct_ptr(vec![
                            Value::Float(l.upper),
                            Value::Float(l.middle),
                            Value::Float(l.lower),
                        ]),
                        None => Ok(Value::Nil),
                    },
                    (Some(b), _) => (|| {
                        let u = self.float_slice(&b.upper)?;
                        let m = self.float_slice(&b.middle)?;
                        let l = self.float_slice(&b.lower)?;
                        self.struct_ptr(vec![u, m, l])
                    })(),
                })
            }
            CalculateVWAP => {
                let r = self.cached(sref, "go.CalculateVWAP", [0; 4], k, ind::calculate_vwap);
                Some(Ok(Value::Float(*r)))
            }
            CalculateStochastic => {
                let r = self.cached(
                    sref,
                    "go.CalculateStochastic",
                    [p0, pi(1) as u64, 0, 0],
                    k,
                    |k| ind::calculate_stochastic(k, pi(0), pi(1)),
                );
                Some(match *r {
                    Some(st) => self.struct_ptr(vec![Value::Float(st.k), Value::Float(st.d)]),
                    None => Ok(Value::Nil),
                })
            }
            DetectEngulfingPattern => {
                let r = self.cached(
                    sref,
                    "go.DetectEngulfingPattern",
                    [0; 4],
                    k,
                    ind::detect_engulfing_pattern,
                );
                Some(Ok(Value::Str(Arc::from(*r))))
            }
        };
        drop(guard);
        out.unwrap_or(Ok(Value::Nil))
    }
}

use filter_core::EvalError;
