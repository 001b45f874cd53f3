//! Run-time values. Slices share a backing array like Go's (`s[1:3]` aliases `s`); klines from `MarketData`
//! are borrowed (`Arc<[Kline]>`) until the filter first writes to them (copy on write). Struct values are
//! `Rc` copy-on-write, so assignment keeps Go's value semantics.

use crate::ir::ArrKind;
use filter_core::Kline;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Slice(SliceV),
    Map(Option<MapRef>),
    Ptr(Rc<RefCell<Value>>),
    Struct(Rc<Vec<Value>>),
    Kline(Rc<Kline>),
    Func(Rc<Closure>),
    Tuple(Rc<Vec<Value>>),
    /// A frame slot whose variable a closure captured or whose address was taken.
    Boxed(Rc<RefCell<Value>>),
    /// The `data` parameter.
    Data,
    Time(i64),
}

pub type MapRef = Rc<RefCell<BTreeMap<Key, Value>>>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Bool(bool),
    Int(i64),
    /// Float keys ordered by a total order on their bits.
    Float(i64),
    Str(Arc<str>),
}

impl Key {
    pub fn from_value(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            Value::Float(f) => {
                let f = if *f == 0.0 { 0.0 } else { *f };
                let bits = f.to_bits() as i64;
                Key::Float(bits ^ (((bits >> 63) as u64) >> 1) as i64)
            }
            Value::Str(s) => Key::Str(s.clone()),
            _ => return None,
        })
    }
    pub fn to_value(&self) -> Value {
        match self {
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::Float(b) => {
                let bits = *b ^ (((*b >> 63) as u64) >> 1) as i64;
                Value::Float(f64::from_bits(bits as u64))
            }
            Key::Str(s) => Value::Str(s.clone()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SliceV {
    pub arr: Option<Rc<RefCell<Arr>>>,
    pub off: u32,
    pub len: u32,
    pub cap: u32,
}

impl SliceV {
    pub fn nil() -> Self {
        SliceV {
            arr: None,
            off: 0,
            len: 0,
            cap: 0,
        }
    }
    pub fn whole(arr: Arr) -> Self {
        let n = arr.len() as u32;
        SliceV {
            arr: Some(Rc::new(RefCell::new(arr))),
            off: 0,
            len: n,
            cap: n,
        }
    }
}

#[derive(Debug)]
pub enum Arr {
    F64(Vec<f64>),
    Int(Vec<i64>),
    /// Klines borrowed from `MarketData` (series index, data) or owned after a write.
    SharedKlines(u16, Arc<[Kline]>),
    Klines(Vec<Kline>),
    Val(Vec<Value>),
}

impl Arr {
    pub fn len(&self) -> usize {
        match self {
            Arr::F64(v) => v.len(),
            Arr::Int(v) => v.len(),
            Arr::SharedKlines(_, v) => v.len(),
            Arr::Klines(v) => v.len(),
            Arr::Val(v) => v.len(),
        }
    }

    pub fn new(kind: ArrKind, n: usize, zero: &Value) -> Arr {
        match kind {
            ArrKind::F64 => Arr::F64(vec![0.0; n]),
            ArrKind::Int => Arr::Int(vec![0; n]),
            ArrKind::Kline => Arr::Klines(vec![Kline::default(); n]),
            ArrKind::Val => Arr::Val(vec![zero.clone(); n]),
        }
    }

    /// Element `i` (caller checked bounds).
    pub fn get(&self, i: usize) -> Value {
        match self {
            Arr::F64(v) => Value::Float(v[i]),
            Arr::Int(v) => Value::Int(v[i]),
            Arr::SharedKlines(_, v) => Value::Kline(Rc::new(v[i])),
            Arr::Klines(v) => Value::Kline(Rc::new(v[i])),
            Arr::Val(v) => v[i].clone(),
        }
    }

    pub fn kline(&self, i: usize) -> Option<&Kline> {
        match self {
            Arr::SharedKlines(_, v) => v.get(i),
            Arr::Klines(v) => v.get(i),
            _ => None,
        }
    }

    /// Stores element `i`; the value has the element type (checked at compile time).
    pub fn set(&mut self, i: usize, v: Value) {
        if let Arr::SharedKlines(_, data) = self {
            // First write: this trader gets its own copy; the shared series stays untouched.
            *self = Arr::Klines(data.to_vec());
        }
        match (self, v) {
            (Arr::F64(a), Value::Float(x)) => a[i] = x,
            (Arr::Int(a), Value::Int(x)) => a[i] = x,
            (Arr::Klines(a), Value::Kline(k)) => a[i] = *k,
            (Arr::Val(a), x) => a[i] = x,
            _ => {}
        }
    }

    /// A new array of `n` elements holding a copy of `self[off..off+len]` followed by zeros.
    pub fn grown(&self, off: usize, len: usize, n: usize, zero: &Value) -> Arr {
        match self {
            Arr::F64(v) => {
                let mut a = Vec::with_capacity(n);
                a.extend_from_slice(&v[off..off + len]);
                a.resize(n, 0.0);
                Arr::F64(a)
            }
            Arr::Int(v) => {
                let mut a = Vec::with_capacity(n);
                a.extend_from_slice(&v[off..off + len]);
                a.resize(n, 0);
                Arr::Int(a)
            }
            Arr::SharedKlines(_, v) => {
                let mut a = Vec::with_capacity(n);
                a.extend_from_slice(&v[off..off + len]);
                a.resize(n, Kline::default());
                Arr::Klines(a)
            }
            Arr::Klines(v) => {
                let mut a = Vec::with_capacity(n);
                a.extend_from_slice(&v[off..off + len]);
                a.resize(n, Kline::default());
                Arr::Klines(a)
            }
            Arr::Val(v) => {
                let mut a = Vec::with_capacity(n);
                a.extend_from_slice(&v[off..off + len]);
                a.resize(n, zero.clone());
                Arr::Val(a)
            }
        }
    }
}

pub struct Closure {
    pub func: u32,
    pub caps: Vec<Rc<RefCell<Value>>>,
}

impl std::fmt::Debug for Closure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "func#{}", self.func)
    }
}

impl Drop for Closure {
    /// Closures capturing fresh variables can chain without bound (each capturing the previous one);
    /// dropping such a chain recursively would overflow the stack, so unlink it iteratively.
    fn drop(&mut self) {
        let mut stack: Vec<Value> = Vec::new();
        for c in self.caps.drain(..) {
            if let Ok(cell) = Rc::try_unwrap(c) {
                stack.push(cell.into_inner());
            }
        }
        while let Some(v) = stack.pop() {
            explode(v, &mut stack);
        }
    }
}

/// Moves the children of a uniquely owned value onto `stack` so that nothing is dropped recursively.
fn explode(v: Value, stack: &mut Vec<Value>) {
    match v {
        Value::Func(c) => {
            if let Ok(mut clo) = Rc::try_unwrap(c) {
                for c in clo.caps.drain(..) {
                    if let Ok(cell) = Rc::try_unwrap(c) {
                        stack.push(cell.into_inner());
                    }
                }
            }
        }
        Value::Ptr(b) | Value::Boxed(b) => {
            if let Ok(cell) = Rc::try_unwrap(b) {
                stack.push(cell.into_inner());
            }
        }
        Value::Struct(s) | Value::Tuple(s) => {
            if let Ok(vals) = Rc::try_unwrap(s) {
                stack.extend(vals);
            }
        }
        Value::Slice(SliceV { arr: Some(a), .. }) => {
            if let Ok(cell) = Rc::try_unwrap(a) {
                if let Arr::Val(vals) = cell.into_inner() {
                    stack.extend(vals);
                }
            }
        }
        Value::Map(Some(m)) => {
            if let Ok(cell) = Rc::try_unwrap(m) {
                stack.extend(cell.into_inner().into_values());
            }
        }
        _ => {}
    }
}

/// `types.Kline` field `f` (index into [`crate::types::KLINE_FIELDS`]).
pub fn kline_get(k: &Kline, f: u8) -> Value {
    match f {
        0 => Value::Int(k.open_time),
        1 => Value::Float(k.open),
        2 => Value::Float(k.high),
        3 => Value::Float(k.low),
        4 => Value::Float(k.close),
        5 => Value::Float(k.volume),
        6 | 12 => Value::Float(k.buy_volume),
        7 => Value::Float(k.sell_volume()),
        8 => Value::Float(k.volume_delta()),
        9 => Value::Float(k.quote_volume),
        10 | 14 => Value::Int(k.trades),
        11 => Value::Int(k.close_time),
        13 => Value::Float(k.buy_quote_volume),
        _ => Value::Nil,
    }
}

pub fn kline_set(k: &mut Kline, f: u8, v: &Value) {
    match (f, v) {
        (0, Value::Int(x)) => k.open_time = *x,
        (1, Value::Float(x)) => k.open = *x,
        (2, Value::Float(x)) => k.high = *x,
        (3, Value::Float(x)) => k.low = *x,
        (4, Value::Float(x)) => k.close = *x,
        (5, Value::Float(x)) => k.volume = *x,
        (6 | 12, Value::Float(x)) => k.buy_volume = *x,
        (9, Value::Float(x)) => k.quote_volume = *x,
        (10 | 14, Value::Int(x)) => k.trades = *x,
        (11, Value::Int(x)) => k.close_time = *x,
        (13, Value::Float(x)) => k.buy_quote_volume = *x,
        _ => {}
    }
}

/// Go's `==` on comparable values of the same static type.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Ptr(x), Value::Ptr(y)) => Rc::ptr_eq(x, y),
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| equal(a, b))
        }
        (Value::Kline(x), Value::Kline(y)) => x == y,
        (Value::Slice(s), Value::Nil) | (Value::Nil, Value::Slice(s)) => s.arr.is_none(),
        (Value::Map(m), Value::Nil) | (Value::Nil, Value::Map(m)) => m.is_none(),
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Data, Value::Data) => true,
        _ => false,
    }
}

/// Go's `%v` rendering, for `panic` messages.
pub fn display(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:e}"),
        Value::Str(s) => s.to_string(),
        Value::Slice(s) => format!("[slice of {}]", s.len),
        Value::Map(_) => "map[...]".into(),
        Value::Ptr(_) | Value::Boxed(_) => "0xc000010000".into(),
        Value::Struct(f) => format!(
            "{{{}}}",
            f.iter().map(display).collect::<Vec<_>>().join(" ")
        ),
        Value::Kline(k) => format!("{k:?}"),
        Value::Func(_) => "func".into(),
        Value::Tuple(_) => "(...)".into(),
        Value::Data => "&{...}".into(),
        Value::Time(t) => t.to_string(),
    }
}
