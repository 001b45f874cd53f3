//! Tree-walking evaluation of the checked program, within fuel, memory and call-depth limits.

use crate::ir::*;
use crate::types::Ty;
use crate::value::*;
use filter_core::{EvalError, IndicatorCache, Limits, MarketData};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Rust stack the interpreter may use for nested calls (checked at every call; each function's own
/// nesting is bounded by the parser), well below the 2 MiB of a default thread.
const STACK_BUDGET: usize = 768 * 1024;

/// Errors are boxed so that `Res<f64>` and friends fit in registers on the hot path.
pub type Res<T> = Result<T, Stop>;

pub struct Stop(pub Box<EvalError>);

impl From<EvalError> for Stop {
    #[cold]
    fn from(e: EvalError) -> Self {
        Stop(Box::new(e))
    }
}

pub enum Flow {
    Normal,
    Break(u32),
    Continue(u32),
    Return(Value),
}

pub struct Frame {
    pub slots: Vec<Value>,
    pub caps: Rc<Closure>,
}

pub struct Interp<'a> {
    pub ir: &'a ProgramIr,
    pub data: &'a MarketData,
    pub cache: &'a mut IndicatorCache,
    pub fuel: u64,
    pub limits: Limits,
    pub mem: usize,
    pub depth: u32,
    stack_base: usize,
    /// Per timeframe, the one backing array every `data.Klines[tf]` of this evaluation shares.
    series: Vec<Option<Rc<RefCell<Arr>>>>,
    ticker: Option<Value>,
    klines_map: Option<Value>,
    symbol: Option<Arc<str>>,
}

#[cold]
pub fn rt(pos: crate::lexer::Pos, message: impl Into<String>) -> Stop {
    Stop::from(EvalError::Runtime {
        line: pos.line,
        column: pos.col,
        message: message.into(),
    })
}

pub fn nil_deref(pos: crate::lexer::Pos) -> Stop {
    rt(pos, "invalid memory address or nil pointer dereference")
}

fn stack_addr() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

pub fn run(
    ir: &ProgramIr,
    data: &MarketData,
    limits: &Limits,
    cache: &mut IndicatorCache,
) -> Result<bool, EvalError> {
    run_inner(ir, data, limits, cache).map_err(|s| *s.0)
}

fn run_inner(
    ir: &ProgramIr,
    data: &MarketData,
    limits: &Limits,
    cache: &mut IndicatorCache,
) -> Res<bool> {
    let mut it = Interp {
        ir,
        data,
        cache,
        fuel: limits.fuel,
        limits: *limits,
        mem: 0,
        depth: 0,
        stack_base: stack_addr(),
        series: vec![None; data.klines.len()],
        ticker: None,
        klines_map: None,
        symbol: None,
    };
    let f = &ir.funcs[0];
    let mut frame = Frame {
        slots: vec![Value::Nil; f.n_slots as usize],
        caps: Rc::new(Closure {
            func: 0,
            caps: Vec::new(),
        }),
    };
    match it.block(&mut frame, &f.body)? {
        Flow::Return(Value::Bool(b)) => Ok(b),
        Flow::Return(v) => Err(EvalError::NotBool(display(&v)).into()),
        _ => Err(EvalError::NotBool("nothing".into()).into()),
    }
}

pub fn wrap(k: IntKind, v: i64) -> i64 {
    match k {
        IntKind::I64 => v,
        IntKind::I32 => v as i32 as i64,
        IntKind::U8 => v as u8 as i64,
    }
}

pub fn as_int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        _ => 0,
    }
}

pub fn as_float(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        _ => 0.0,
    }
}

pub fn as_slice(v: &Value) -> SliceV {
    match v {
        Value::Slice(s) => s.clone(),
        _ => SliceV::nil(),
    }
}

pub fn zero(t: &Ty) -> Value {
    match t {
        Ty::Bool => Value::Bool(false),
        Ty::Int | Ty::Int64 | Ty::Int32 | Ty::Uint8 | Ty::UntypedInt | Ty::UntypedRune => {
            Value::Int(0)
        }
        Ty::Float64 | Ty::UntypedFloat => Value::Float(0.0),
        Ty::String => Value::Str(Arc::from("")),
        Ty::Struct(st) => Value::Struct(Rc::new(st.fields.iter().map(|(_, t)| zero(t)).collect())),
        Ty::Kline => Value::Kline(Rc::new(Default::default())),
        Ty::Time => Value::Time(0),
        Ty::MarketData => Value::Data,
        _ => Value::Nil,
    }
}

impl<'a> Interp<'a> {
    #[inline]
    pub fn tick(&mut self, n: u64) -> Res<()> {
        if self.fuel < n {
            self.fuel = 0;
            return Err(EvalError::Fuel {
                limit: self.limits.fuel,
            }
            .into());
        }
        self.fuel -= n;
        Ok(())
    }

    /// Charges `bytes` of allocation before it happens.
    pub fn alloc(&mut self, bytes: usize) -> Res<()> {
        match self.mem.checked_add(bytes) {
            Some(m) if m <= self.limits.memory_bytes => {
                self.mem = m;
                Ok(())
            }
            _ => Err(EvalError::Memory {
                limit: self.limits.memory_bytes,
            }
            .into()),
        }
    }

    /// Charges `n` elements of `size` bytes (overflow counts as too much).
    pub fn alloc_n(&mut self, n: usize, size: usize) -> Res<()> {
        let bytes = n.checked_mul(size).ok_or(EvalError::Memory {
            limit: self.limits.memory_bytes,
        })?;
        self.alloc(bytes)
    }

    pub fn block(&mut self, f: &mut Frame, stmts: &[S]) -> Res<Flow> {
        for s in stmts {
            match self.exec(f, s)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn truthy(&mut self, f: &mut Frame, e: &E) -> Res<bool> {
        self.eval_b(f, e)
    }

    fn exec(&mut self, f: &mut Frame, s: &S) -> Res<Flow> {
        self.tick(1)?;
        match s {
            S::Expr(e) => {
                self.eval(f, e)?;
            }
            S::Decl(slot, e) => {
                let v = self.eval_value(f, e)?;
                f.slots[*slot as usize] = v;
            }
            S::Assign(
                P::Local(slot),
                e @ (E::Builtin(Builtin::Math(_), ..)
                | E::Bin(BinOp::AddF | BinOp::SubF | BinOp::MulF | BinOp::DivF, ..)),
            ) if matches!(f.slots[*slot as usize], Value::Float(_))
                && !matches!(
                    e,
                    E::Builtin(
                        Builtin::Math(MathFn::IsNaN | MathFn::IsInf | MathFn::Signbit),
                        ..
                    )
                ) =>
            {
                // A float variable assigned a float expression: no Value on the way.
                let x = self.eval_f(f, e)?;
                f.slots[*slot as usize] = Value::Float(x);
            }
            S::Assign(p, e) => {
                if let P::Local(slot) = p {
                    let v = self.eval(f, e)?;
                    set_local(f, *slot, v);
                } else {
                    let lv = self.resolve(f, p)?;
                    let v = self.eval(f, e)?;
                    self.lv_set(f, lv, v)?;
                }
            }
            S::DeclMulti(decls) => {
                for (slot, e) in decls {
                    let v = self.eval_value(f, e)?;
                    f.slots[*slot as usize] = v;
                }
            }
            S::Multi(targets, es) => {
                let mut lvs = Vec::with_capacity(targets.len());
                for t in targets {
                    lvs.push(match t {
                        Target::Decl(slot) => LV::Decl(*slot),
                        Target::Place(p) => self.resolve(f, p)?,
                    });
                }
                let mut vals = Vec::with_capacity(es.len());
                for e in es {
                    vals.push(self.eval(f, e)?);
                }
                for (lv, v) in lvs.into_iter().zip(vals) {
                    self.lv_set(f, lv, v)?;
                }
            }
            S::Tuple(targets, e) => {
                let v = self.eval(f, e)?;
                let vals: Vec<Value> = match v {
                    Value::Tuple(t) => t.iter().cloned().collect(),
                    other => vec![other],
                };
                for (t, v) in targets.iter().zip(vals) {
                    self.set_target(f, t, v)?;
                }
            }
            S::CommaOk(a, b, m, k, zt) => {
                let mv = self.eval(f, m)?;
                let kv = self.eval(f, k)?;
                let found = match (&mv, Key::from_value(&kv)) {
                    (Value::Map(Some(m)), Some(key)) => m.borrow().get(&key).cloned(),
                    _ => None,
                };
                let ok = found.is_some();
                let v = found.unwrap_or_else(|| zero(zt));
                self.set_target(f, a, v)?;
                self.set_target(f, b, Value::Bool(ok))?;
            }
            S::OpAssign(
                P::Local(slot),
                op @ (BinOp::AddF | BinOp::SubF | BinOp::MulF | BinOp::DivF),
                e,
                _,
            ) => {
                let r = self.eval_f(f, e)?;
                if let Value::Float(x) = &mut f.slots[*slot as usize] {
                    *x = match op {
                        BinOp::AddF => *x + r,
                        BinOp::SubF => *x - r,
                        BinOp::MulF => *x * r,
                        _ => *x / r,
                    };
                } else {
                    let cur = get_local(f, *slot);
                    let v = self.binop(*op, cur, Value::Float(r), crate::lexer::Pos::default())?;
                    set_local(f, *slot, v);
                }
            }
            S::OpAssign(
                P::Local(slot),
                op @ (BinOp::AddI(IntKind::I64) | BinOp::SubI(IntKind::I64)),
                e,
                _,
            ) => {
                let r = self.eval_i(f, e)?;
                if let Value::Int(x) = &mut f.slots[*slot as usize] {
                    *x = if matches!(op, BinOp::AddI(_)) {
                        x.wrapping_add(r)
                    } else {
                        x.wrapping_sub(r)
                    };
                } else {
                    let cur = get_local(f, *slot);
                    let v = self.binop(*op, cur, Value::Int(r), crate::lexer::Pos::default())?;
                    set_local(f, *slot, v);
                }
            }
            S::OpAssign(p, op, e, pos) => {
                if let P::Local(slot) = p {
                    let cur = get_local(f, *slot);
                    let r = self.eval(f, e)?;
                    let v = self.binop(*op, cur, r, *pos)?;
                    set_local(f, *slot, v);
                } else {
                    let lv = self.resolve(f, p)?;
                    let cur = self.lv_get(f, &lv)?;
                    let r = self.eval(f, e)?;
                    let v = self.binop(*op, cur, r, *pos)?;
                    self.lv_set(f, lv, v)?;
                }
            }
            S::If(c, t, e) => {
                return if self.truthy(f, c)? {
                    self.block(f, t)
                } else {
                    self.block(f, e)
                };
            }
            S::Loop {
                id,
                vars,
                cond,
                post,
                body,
            } => loop {
                self.tick(1)?;
                if let Some(c) = cond {
                    if !self.truthy(f, c)? {
                        break;
                    }
                }
                match self.block(f, body)? {
                    Flow::Normal => {}
                    Flow::Continue(x) if x == *id => {}
                    Flow::Break(x) if x == *id => break,
                    other => return Ok(other),
                }
                for v in vars {
                    // A closure captured this iteration's variable: the next iteration gets a new one.
                    if let Value::Boxed(b) = &f.slots[*v as usize] {
                        let cur = b.borrow().clone();
                        f.slots[*v as usize] = cur;
                    }
                }
                if let Some(p) = post {
                    self.exec(f, p)?;
                }
            },
            S::Range {
                id,
                kind,
                expr,
                key,
                value,
                body,
            } => return self.range(f, *id, *kind, expr, key.as_ref(), value.as_ref(), body),
            S::Switch { id, clauses } => {
                let mut start = None;
                let mut default = None;
                'find: for (i, (conds, _, _)) in clauses.iter().enumerate() {
                    match conds {
                        None => default = Some(i),
                        Some(cs) => {
                            for c in cs {
                                if self.truthy(f, c)? {
                                    start = Some(i);
                                    break 'find;
                                }
                            }
                        }
                    }
                }
                let Some(mut i) = start.or(default) else {
                    return Ok(Flow::Normal);
                };
                loop {
                    let (_, body, ft) = &clauses[i];
                    match self.block(f, body)? {
                        Flow::Normal if *ft && i + 1 < clauses.len() => i += 1,
                        Flow::Normal => break,
                        Flow::Break(x) if x == *id => break,
                        other => return Ok(other),
                    }
                }
            }
            S::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(f, e)?,
                    None => Value::Nil,
                };
                return Ok(Flow::Return(v));
            }
            S::ReturnMulti(es) => {
                let mut vals = Vec::with_capacity(es.len());
                for e in es {
                    vals.push(self.eval(f, e)?);
                }
                return Ok(Flow::Return(Value::Tuple(Rc::new(vals))));
            }
            S::Break(id) => return Ok(Flow::Break(*id)),
            S::Continue(id) => return Ok(Flow::Continue(*id)),
            S::Block(b) => return self.block(f, b),
        }
        Ok(Flow::Normal)
    }

    fn set_target(&mut self, f: &mut Frame, t: &Target, v: Value) -> Res<()> {
        match t {
            Target::Decl(slot) => {
                f.slots[*slot as usize] = v;
                Ok(())
            }
            Target::Place(p) => {
                let lv = self.resolve(f, p)?;
                self.lv_set(f, lv, v)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn range(
        &mut self,
        f: &mut Frame,
        id: u32,
        kind: RangeKind,
        expr: &E,
        key: Option<&Target>,
        value: Option<&Target>,
        body: &[S],
    ) -> Res<Flow> {
        let x = self.eval(f, expr)?;
        macro_rules! body {
            () => {
                match self.block(f, body)? {
                    Flow::Normal => {}
                    Flow::Continue(c) if c == id => {}
                    Flow::Break(b) if b == id => break,
                    other => return Ok(other),
                }
            };
        }
        match kind {
            RangeKind::Slice => {
                let s = as_slice(&x);
                for i in 0..s.len as usize {
                    self.tick(1)?;
                    if let Some(k) = key {
                        self.set_target(f, k, Value::Int(i as i64))?;
                    }
                    if let (Some(v), Some(arr)) = (value, &s.arr) {
                        // `for _, k := range klines`: reuse last iteration's Kline box when nothing else
                        // holds it (the variable is fresh either way; this only saves an allocation).
                        // The borrow of the array must end before the body runs (it may write to it).
                        let src = arr.borrow().kline(s.off as usize + i).copied();
                        let reused = match (v, src) {
                            (Target::Decl(slot), Some(src)) => match &mut f.slots[*slot as usize] {
                                Value::Kline(rc) => match Rc::get_mut(rc) {
                                    Some(k) => {
                                        *k = src;
                                        true
                                    }
                                    None => false,
                                },
                                _ => false,
                            },
                            _ => false,
                        };
                        if reused {
                            body!();
                            continue;
                        }
                        let elem = arr.borrow().get(s.off as usize + i);
                        self.set_target(f, v, elem)?;
                    }
                    body!();
                }
            }
            RangeKind::Str => {
                let Value::Str(s) = x else {
                    return Ok(Flow::Normal);
                };
                for (i, ch) in s.char_indices() {
                    self.tick(1)?;
                    if let Some(k) = key {
                        self.set_target(f, k, Value::Int(i as i64))?;
                    }
                    if let Some(v) = value {
                        self.set_target(f, v, Value::Int(ch as i64))?;
                    }
                    body!();
                }
            }
            RangeKind::Map => {
                let Value::Map(Some(m)) = x else {
                    return Ok(Flow::Normal);
                };
                // Sorted keys (deterministic); entries deleted during the loop are skipped, as in Go.
                let keys: Vec<Key> = m.borrow().keys().cloned().collect();
                self.alloc_n(keys.len(), 32)?;
                for k in keys {
                    self.tick(1)?;
                    let Some(v) = m.borrow().get(&k).cloned() else {
                        continue;
                    };
                    if let Some(kt) = key {
                        self.set_target(f, kt, k.to_value())?;
                    }
                    if let Some(vt) = value {
                        self.set_target(f, vt, v)?;
                    }
                    body!();
                }
            }
            RangeKind::Int => {
                let n = as_int(&x);
                let mut i = 0;
                while i < n {
                    self.tick(1)?;
                    if let Some(k) = key {
                        self.set_target(f, k, Value::Int(i))?;
                    }
                    body!();
                    i += 1;
                }
            }
        }
        Ok(Flow::Normal)
    }

    pub fn call(
        &mut self,
        clo: &Rc<Closure>,
        args: Vec<Value>,
        _pos: crate::lexer::Pos,
    ) -> Res<Value> {
        if self.depth >= self.limits.call_depth
            || stack_addr().abs_diff(self.stack_base) > STACK_BUDGET
        {
            return Err(EvalError::Depth {
                limit: self.limits.call_depth,
            }
            .into());
        }
        self.tick(1)?;
        let func = &self.ir.funcs[clo.func as usize];
        let mut slots = args;
        slots.resize(func.n_slots.max(func.n_params) as usize, Value::Nil);
        let mut frame = Frame {
            slots,
            caps: clo.clone(),
        };
        self.depth += 1;
        let r = self.block(&mut frame, &func.body);
        self.depth -= 1;
        match r? {
            Flow::Return(v) => Ok(v),
            _ => Ok(Value::Nil),
        }
    }

    pub fn eval(&mut self, f: &mut Frame, e: &E) -> Res<Value> {
        self.tick(1)?;
        Ok(match e {
            E::Const(c) => match c {
                Const::Bool(b) => Value::Bool(*b),
                Const::Int(i) => Value::Int(*i),
                Const::Float(x) => Value::Float(*x),
                Const::Str(s) => Value::Str(s.clone()),
            },
            E::Zero(t) => zero(t),
            E::Local(s) => get_local(f, *s),
            E::Capture(i) => f.caps.caps[*i as usize].borrow().clone(),
            E::Data => Value::Data,
            E::KlinesOf(base, key, pos) => {
                if let Value::Nil = self.eval(f, base)? {
                    return Err(nil_deref(*pos));
                }
                match self.eval(f, key)? {
                    Value::Str(k) => self.klines_of(&k),
                    _ => Value::Nil,
                }
            }
            E::Unary(op, x) => {
                let v = self.eval(f, x)?;
                match (op, v) {
                    (UnOp::NegI(k), Value::Int(i)) => Value::Int(wrap(*k, i.wrapping_neg())),
                    (UnOp::NegF, Value::Float(x)) => Value::Float(-x),
                    (UnOp::Not, Value::Bool(b)) => Value::Bool(!b),
                    (UnOp::ComplI(k), Value::Int(i)) => Value::Int(wrap(*k, !i)),
                    (_, v) => v,
                }
            }
            E::Bin(BinOp::AddF | BinOp::SubF | BinOp::MulF | BinOp::DivF, ..) => {
                self.fuel += 1;
                Value::Float(self.eval_f(f, e)?)
            }
            E::Builtin(Builtin::Math(m), args, _)
                if args.len() <= 2
                    && !matches!(
                        m,
                        MathFn::Inf | MathFn::IsInf | MathFn::IsNaN | MathFn::Signbit
                    ) =>
            {
                self.fuel += 1;
                Value::Float(self.eval_f(f, e)?)
            }
            E::Bin(BinOp::CmpF(_) | BinOp::CmpI(_), ..) => {
                self.fuel += 1;
                Value::Bool(self.eval_b(f, e)?)
            }
            E::Bin(op, a, b, pos) => {
                let a = self.eval(f, a)?;
                let b = self.eval(f, b)?;
                self.binop(*op, a, b, *pos)?
            }
            E::And(a, b) => Value::Bool(self.eval_b(f, a)? && self.eval_b(f, b)?),
            E::Or(a, b) => Value::Bool(self.eval_b(f, a)? || self.eval_b(f, b)?),
            E::Index(s, i, pos) => {
                let s = self.eval(f, s)?;
                let i = as_int(&self.eval(f, i)?);
                let s = match s {
                    Value::Slice(s) => s,
                    _ => SliceV::nil(),
                };
                let at = check_index(i, s.len, *pos)?;
                match &s.arr {
                    Some(a) => a.borrow().get(s.off as usize + at),
                    None => return Err(index_err(i, 0, *pos)),
                }
            }
            E::KlineAt(s, i, field, pos) if matches!(**s, E::Local(_)) => {
                let i = self.eval_i(f, i)?;
                self.kline_at_local(f, s, i, *field, *pos)?
            }
            E::KlineAt(s, i, field, pos) => {
                let s = self.eval(f, s)?;
                let i = as_int(&self.eval(f, i)?);
                let Value::Slice(s) = s else {
                    return Err(index_err(i, 0, *pos));
                };
                let at = check_index(i, s.len, *pos)?;
                match s.arr.as_ref().and_then(|a| {
                    a.borrow()
                        .kline(s.off as usize + at)
                        .map(|k| kline_get(k, *field))
                }) {
                    Some(v) => v,
                    None => return Err(index_err(i, s.len, *pos)),
                }
            }
            E::IndexStr(s, i, pos) => {
                let s = self.eval(f, s)?;
                let i = as_int(&self.eval(f, i)?);
                let Value::Str(s) = s else {
                    return Err(index_err(i, 0, *pos));
                };
                let at = check_index(i, s.len() as u32, *pos)?;
                Value::Int(s.as_bytes()[at] as i64)
            }
            E::IndexMap(m, k, zt) => {
                let m = self.eval(f, m)?;
                let k = self.eval(f, k)?;
                match (&m, Key::from_value(&k)) {
                    (Value::Map(Some(m)), Some(key)) => {
                        m.borrow().get(&key).cloned().unwrap_or_else(|| zero(zt))
                    }
                    _ => zero(zt),
                }
            }
            E::Field(b, fr, deref, pos) => {
                let v = self.eval(f, b)?;
                self.field(v, *fr, *deref, *pos)?
            }
            E::SliceOf(b, lo, hi, max, pos) => {
                let s = as_slice(&self.eval(f, b)?);
                let lo = match lo {
                    Some(e) => as_int(&self.eval(f, e)?),
                    None => 0,
                };
                let hi = match hi {
                    Some(e) => as_int(&self.eval(f, e)?),
                    None => s.len as i64,
                };
                let max = match max {
                    Some(e) => as_int(&self.eval(f, e)?),
                    None => s.cap as i64,
                };
                if lo < 0 || hi < lo || max < hi || max > s.cap as i64 {
                    return Err(rt(
                        *pos,
                        format!(
                            "slice bounds out of range [{lo}:{hi}] with capacity {}",
                            s.cap
                        ),
                    ));
                }
                Value::Slice(SliceV {
                    arr: s.arr.clone(),
                    off: s.off + lo as u32,
                    len: (hi - lo) as u32,
                    cap: (max - lo) as u32,
                })
            }
            E::SliceStr(b, lo, hi, pos) => {
                let Value::Str(s) = self.eval(f, b)? else {
                    return Ok(Value::Str(Arc::from("")));
                };
                let lo = match lo {
                    Some(e) => as_int(&self.eval(f, e)?),
                    None => 0,
                };
                let hi = match hi {
                    Some(e) => as_int(&self.eval(f, e)?),
                    None => s.len() as i64,
                };
                if lo < 0 || hi < lo || hi > s.len() as i64 {
                    return Err(rt(
                        *pos,
                        format!(
                            "slice bounds out of range [{lo}:{hi}] with length {}",
                            s.len()
                        ),
                    ));
                }
                let bytes = &s.as_bytes()[lo as usize..hi as usize];
                self.alloc(bytes.len())?;
                Value::Str(Arc::from(String::from_utf8_lossy(bytes).as_ref()))
            }
            E::Call(fe, args, pos) => {
                let fv = self.eval(f, fe)?;
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(f, a)?);
                }
                match fv {
                    Value::Func(c) => self.call(&c, vals, *pos)?,
                    _ => return Err(nil_deref(*pos)),
                }
            }
            E::Builtin(b, args, pos) => self.builtin(f, b, args, *pos)?,
            E::Indicator(ind, args, pos) => self.indicator(f, *ind, args, *pos)?,
            E::FuncLit(idx, caps) => {
                self.alloc(64 + 16 * caps.len())?;
                let mut cs = Vec::with_capacity(caps.len());
                for c in caps {
                    cs.push(match c {
                        CapSrc::Local(s) => box_slot(f, *s),
                        CapSrc::Capture(i) => f.caps.caps[*i as usize].clone(),
                    });
                }
                Value::Func(Rc::new(Closure {
                    func: *idx,
                    caps: cs,
                }))
            }
            E::SliceLit(kind, es) => {
                let mut vals = Vec::with_capacity(es.len());
                for e in es {
                    vals.push(self.eval(f, e)?);
                }
                self.alloc_n(vals.len(), 24)?;
                let arr = match kind {
                    ArrKind::F64 => Arr::F64(vals.iter().map(as_float).collect()),
                    ArrKind::Int => Arr::Int(vals.iter().map(as_int).collect()),
                    ArrKind::Kline => Arr::Klines(
                        vals.iter()
                            .map(|v| match v {
                                Value::Kline(k) => **k,
                                _ => Default::default(),
                            })
                            .collect(),
                    ),
                    ArrKind::Val => Arr::Val(vals),
                };
                Value::Slice(SliceV::whole(arr))
            }
            E::MapLit(es) => {
                let mut m = std::collections::BTreeMap::new();
                self.alloc_n(es.len() + 1, 64)?;
                for (k, v) in es {
                    let k = self.eval(f, k)?;
                    let v = self.eval(f, v)?;
                    if let Some(k) = Key::from_value(&k) {
                        m.insert(k, v);
                    }
                }
                Value::Map(Some(Rc::new(RefCell::new(m))))
            }
            E::StructLit(es) => {
                self.alloc_n(es.len() + 1, 24)?;
                let mut vals = Vec::with_capacity(es.len());
                for e in es {
                    vals.push(self.eval(f, e)?);
                }
                Value::Struct(Rc::new(vals))
            }
            E::KlineLit(fields) => {
                let mut k = filter_core::Kline::default();
                for (i, e) in fields {
                    let v = self.eval(f, e)?;
                    kline_set(&mut k, *i, &v);
                }
                Value::Kline(Rc::new(k))
            }
            E::AddrOf(p) => {
                self.alloc(32)?;
                match &**p {
                    P::Local(s) => Value::Ptr(box_slot(f, *s)),
                    P::Capture(i) => Value::Ptr(f.caps.caps[*i as usize].clone()),
                    _ => Value::Nil,
                }
            }
            E::AddrOfValue(e) => {
                self.alloc(32)?;
                let v = self.eval(f, e)?;
                Value::Ptr(Rc::new(RefCell::new(v)))
            }
            E::Deref(p, pos) => match self.eval(f, p)? {
                Value::Ptr(b) => b.borrow().clone(),
                _ => return Err(nil_deref(*pos)),
            },
        })
    }

    pub fn binop(&mut self, op: BinOp, a: Value, b: Value, pos: crate::lexer::Pos) -> Res<Value> {
        use Value::{Float as F, Int as I};
        Ok(match (op, a, b) {
            (BinOp::AddF, F(x), F(y)) => F(x + y),
            (BinOp::SubF, F(x), F(y)) => F(x - y),
            (BinOp::MulF, F(x), F(y)) => F(x * y),
            (BinOp::DivF, F(x), F(y)) => F(x / y),
            (BinOp::AddI(k), I(x), I(y)) => I(wrap(k, x.wrapping_add(y))),
            (BinOp::SubI(k), I(x), I(y)) => I(wrap(k, x.wrapping_sub(y))),
            (BinOp::MulI(k), I(x), I(y)) => I(wrap(k, x.wrapping_mul(y))),
            (BinOp::DivI(k), I(x), I(y)) => {
                if y == 0 {
                    return Err(rt(pos, "integer divide by zero"));
                }
                I(wrap(k, x.wrapping_div(y)))
            }
            (BinOp::RemI(k), I(x), I(y)) => {
                if y == 0 {
                    return Err(rt(pos, "integer divide by zero"));
                }
                I(wrap(k, x.wrapping_rem(y)))
            }
            (BinOp::AndI, I(x), I(y)) => I(x & y),
            (BinOp::OrI, I(x), I(y)) => I(x | y),
            (BinOp::XorI(k), I(x), I(y)) => I(wrap(k, x ^ y)),
            (BinOp::AndNotI, I(x), I(y)) => I(x & !y),
            (BinOp::ShlI(k), I(x), I(y)) => {
                if y < 0 {
                    return Err(rt(pos, "negative shift amount"));
                }
                I(if y >= 64 {
                    0
                } else {
                    wrap(k, x.wrapping_shl(y as u32))
                })
            }
            (BinOp::ShrI(k), I(x), I(y)) => {
                if y < 0 {
                    return Err(rt(pos, "negative shift amount"));
                }
                I(if y >= 64 {
                    if x < 0 {
                        -1
                    } else {
                        0
                    }
                } else {
                    wrap(k, x >> y)
                })
            }
            (BinOp::AddS, Value::Str(x), Value::Str(y)) => {
                let n = x.len().saturating_add(y.len());
                self.alloc(n)?;
                self.tick(n as u64 / 64)?;
                let mut s = String::with_capacity(n);
                s.push_str(&x);
                s.push_str(&y);
                Value::Str(Arc::from(s))
            }
            (BinOp::Cmp(c) | BinOp::CmpF(c) | BinOp::CmpI(c), a, b) => {
                Value::Bool(compare(c, &a, &b))
            }
            _ => return Err(rt(pos, "internal error: operand types")),
        })
    }

    fn field(&mut self, v: Value, fr: FieldRef, deref: bool, pos: crate::lexer::Pos) -> Res<Value> {
        if let FieldRef::Data(df) = fr {
            return match v {
                Value::Data => Ok(self.data_field(df)),
                _ => Err(nil_deref(pos)),
            };
        }
        if deref {
            return match v {
                Value::Ptr(b) => Ok(field_of(&b.borrow(), fr)),
                _ => Err(nil_deref(pos)),
            };
        }
        Ok(field_of(&v, fr))
    }

    fn data_field(&mut self, df: DataField) -> Value {
        match df {
            DataField::Symbol => {
                let s = self
                    .symbol
                    .get_or_insert_with(|| Arc::from(self.data.symbol.as_str()));
                Value::Str(s.clone())
            }
            DataField::Timestamp => Value::Time(self.data.timestamp_ms),
            DataField::Ticker => {
                if self.ticker.is_none() {
                    // The filter's own copy: writes through it never reach the shared MarketData.
                    self.ticker = Some(match &self.data.ticker {
                        Some(t) => Value::Ptr(Rc::new(RefCell::new(Value::Struct(Rc::new(vec![
                            Value::Float(t.last_price),
                            Value::Float(t.price_change_percent),
                            Value::Float(t.quote_volume),
                        ]))))),
                        None => Value::Nil,
                    });
                }
                self.ticker.clone().unwrap_or(Value::Nil)
            }
            DataField::Klines => {
                if self.klines_map.is_none() {
                    let mut m = std::collections::BTreeMap::new();
                    for (tf, _) in &self.data.klines {
                        let v = self.klines_of(tf);
                        m.insert(Key::Str(Arc::from(tf.as_str())), v);
                    }
                    self.klines_map = Some(Value::Map(Some(Rc::new(RefCell::new(m)))));
                }
                self.klines_map.clone().unwrap_or(Value::Nil)
            }
        }
    }

    pub fn klines_of(&mut self, tf: &str) -> Value {
        let Some(i) = self.data.series_index(tf) else {
            return Value::Nil;
        };
        let arc = &self.data.klines[i].1;
        let n = arc.len() as u32;
        let arr = self.series[i]
            .get_or_insert_with(|| Rc::new(RefCell::new(Arr::SharedKlines(i as u16, arc.clone()))))
            .clone();
        Value::Slice(SliceV {
            arr: Some(arr),
            off: 0,
            len: n,
            cap: n,
        })
    }

    fn resolve(&mut self, f: &mut Frame, p: &P) -> Res<LV> {
        Ok(match p {
            P::Local(s) => LV::Local(*s),
            P::Capture(i) => LV::Cell(f.caps.caps[*i as usize].clone()),
            P::Blank => LV::Blank,
            P::Index(s, i, pos) => {
                let s = as_slice(&self.eval(f, s)?);
                let i = as_int(&self.eval(f, i)?);
                let at = check_index(i, s.len, *pos)?;
                let off = s.off as usize + at;
                match s.arr {
                    Some(a) => LV::Elem(a, off),
                    None => return Err(index_err(i, 0, *pos)),
                }
            }
            P::Map(m, k, zt, pos) => {
                let m = self.eval(f, m)?;
                let k = self.eval(f, k)?;
                let key = Key::from_value(&k).unwrap_or(Key::Bool(false));
                match m {
                    Value::Map(Some(m)) => LV::MapKey(Some(m), key, zt.clone(), *pos),
                    _ => LV::MapKey(None, key, zt.clone(), *pos),
                }
            }
            P::Field(b, fr) => LV::Field(Box::new(self.resolve(f, b)?), *fr),
            P::PtrField(e, fr, pos) => match self.eval(f, e)? {
                Value::Ptr(b) => LV::PtrField(b, *fr),
                _ => return Err(nil_deref(*pos)),
            },
            P::Deref(e, pos) => match self.eval(f, e)? {
                Value::Ptr(b) => LV::Cell(b),
                _ => return Err(nil_deref(*pos)),
            },
        })
    }

    fn lv_get(&mut self, f: &mut Frame, lv: &LV) -> Res<Value> {
        Ok(match lv {
            LV::Local(s) | LV::Decl(s) => get_local(f, *s),
            LV::Cell(b) => b.borrow().clone(),
            LV::Blank => Value::Nil,
            LV::Elem(a, i) => a.borrow().get(*i),
            LV::MapKey(m, k, zt, _) => m
                .as_ref()
                .and_then(|m| m.borrow().get(k).cloned())
                .unwrap_or_else(|| zero(zt)),
            LV::Field(b, fr) => {
                let v = self.lv_get(f, b)?;
                field_of(&v, *fr)
            }
            LV::PtrField(b, fr) => field_of(&b.borrow(), *fr),
        })
    }

    fn lv_set(&mut self, f: &mut Frame, lv: LV, v: Value) -> Res<()> {
        match lv {
            LV::Local(s) => set_local(f, s, v),
            LV::Decl(s) => f.slots[s as usize] = v,
            LV::Cell(b) => *b.borrow_mut() = v,
            LV::Blank => {}
            LV::Elem(a, i) => {
                let copy = matches!(&*a.borrow(), Arr::SharedKlines(..));
                if copy {
                    let n = a.borrow().len();
                    self.alloc_n(n, std::mem::size_of::<filter_core::Kline>())?;
                }
                a.borrow_mut().set(i, v);
            }
            LV::MapKey(m, k, _, pos) => match m {
                Some(m) => {
                    if !m.borrow().contains_key(&k) {
                        self.alloc(64)?;
                    }
                    m.borrow_mut().insert(k, v);
                }
                None => return Err(rt(pos, "assignment to entry in nil map")),
            },
            LV::Field(b, fr) => {
                let mut cur = self.lv_get(f, &b)?;
                set_field(&mut cur, fr, v);
                self.lv_set(f, *b, cur)?;
            }
            LV::PtrField(b, fr) => set_field(&mut b.borrow_mut(), fr, v),
        }
        Ok(())
    }
}

/// A resolved place: sub-expressions already evaluated.
pub enum LV {
    Local(u32),
    Decl(u32),
    Cell(Rc<RefCell<Value>>),
    Blank,
    Elem(Rc<RefCell<Arr>>, usize),
    MapKey(Option<MapRef>, Key, Arc<Ty>, crate::lexer::Pos),
    Field(Box<LV>, FieldRef),
    PtrField(Rc<RefCell<Value>>, FieldRef),
}

#[inline]
fn get_local(f: &Frame, s: u32) -> Value {
    match &f.slots[s as usize] {
        Value::Boxed(b) => b.borrow().clone(),
        v => v.clone(),
    }
}

#[inline]
fn set_local(f: &mut Frame, s: u32, v: Value) {
    match &mut f.slots[s as usize] {
        Value::Boxed(b) => *b.borrow_mut() = v,
        slot => *slot = v,
    }
}

/// The shared cell of a captured or address-taken variable, boxing it on first use.
fn box_slot(f: &mut Frame, s: u32) -> Rc<RefCell<Value>> {
    let slot = &mut f.slots[s as usize];
    if let Value::Boxed(b) = slot {
        return b.clone();
    }
    let b = Rc::new(RefCell::new(std::mem::take(slot)));
    *slot = Value::Boxed(b.clone());
    b
}

fn field_of(v: &Value, fr: FieldRef) -> Value {
    match (v, fr) {
        (Value::Struct(fs), FieldRef::Struct(i)) => {
            fs.get(i as usize).cloned().unwrap_or(Value::Nil)
        }
        (Value::Kline(k), FieldRef::Kline(i)) => kline_get(k, i),
        _ => Value::Nil,
    }
}

fn set_field(target: &mut Value, fr: FieldRef, v: Value) {
    match (target, fr) {
        (Value::Struct(fs), FieldRef::Struct(i)) => {
            if let Some(slot) = Rc::make_mut(fs).get_mut(i as usize) {
                *slot = v;
            }
        }
        (Value::Kline(k), FieldRef::Kline(i)) => kline_set(Rc::make_mut(k), i, &v),
        _ => {}
    }
}

fn index_err(i: i64, len: u32, pos: crate::lexer::Pos) -> Stop {
    rt(pos, format!("index out of range [{i}] with length {len}"))
}

#[inline]
fn check_index(i: i64, len: u32, pos: crate::lexer::Pos) -> Res<usize> {
    if i < 0 || i >= len as i64 {
        return Err(index_err(i, len, pos));
    }
    Ok(i as usize)
}

fn compare(c: CmpOp, a: &Value, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        _ => {
            let eq = equal(a, b);
            return match c {
                CmpOp::Eq => eq,
                CmpOp::Ne => !eq,
                _ => false,
            };
        }
    };
    match (c, ord) {
        (CmpOp::Ne, None) => true,
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
    }
}

#[inline]
fn kline_f(k: &filter_core::Kline, field: u8) -> f64 {
    match field {
        1 => k.open,
        2 => k.high,
        3 => k.low,
        4 => k.close,
        5 => k.volume,
        _ => match kline_get(k, field) {
            Value::Float(x) => x,
            Value::Int(i) => i as f64,
            _ => 0.0,
        },
    }
}

/// A float leaf (constant or float local) read without a call; `None` for anything else.
#[inline(always)]
fn leaf_f(f: &Frame, e: &E) -> Option<f64> {
    match e {
        E::Const(Const::Float(x)) => Some(*x),
        E::Local(s) => match &f.slots[*s as usize] {
            Value::Float(x) => Some(*x),
            _ => None,
        },
        _ => None,
    }
}

#[inline(always)]
fn leaf_i(f: &Frame, e: &E) -> Option<i64> {
    match e {
        E::Const(Const::Int(x)) => Some(*x),
        E::Local(s) => match &f.slots[*s as usize] {
            Value::Int(x) => Some(*x),
            _ => None,
        },
        _ => None,
    }
}

impl<'a> Interp<'a> {
    #[inline(always)]
    fn operand_f(&mut self, f: &mut Frame, e: &E) -> Res<f64> {
        match leaf_f(f, e) {
            Some(x) => {
                self.tick(1)?;
                Ok(x)
            }
            None => self.eval_f(f, e),
        }
    }

    #[inline(always)]
    fn operand_i(&mut self, f: &mut Frame, e: &E) -> Res<i64> {
        match leaf_i(f, e) {
            Some(x) => {
                self.tick(1)?;
                Ok(x)
            }
            None => self.eval_i(f, e),
        }
    }

    /// `klines[i].Field` where `klines` is a local: no copy of the slice header or the kline.
    fn kline_at_local(
        &mut self,
        f: &mut Frame,
        s: &E,
        i: i64,
        field: u8,
        pos: crate::lexer::Pos,
    ) -> Res<Value> {
        let E::Local(slot) = s else {
            return Ok(Value::Nil);
        };
        let sv = match &f.slots[*slot as usize] {
            Value::Slice(sv) => sv.clone(),
            Value::Boxed(b) => as_slice(&b.borrow()),
            _ => SliceV::nil(),
        };
        let at = check_index(i, sv.len, pos)?;
        match sv.arr.as_ref().and_then(|a| {
            a.borrow()
                .kline(sv.off as usize + at)
                .map(|k| kline_get(k, field))
        }) {
            Some(v) => Ok(v),
            None => Err(index_err(i, sv.len, pos)),
        }
    }

    /// `eval`, taking the float fast path for float-valued kline fields and arithmetic.
    #[inline]
    fn eval_value(&mut self, f: &mut Frame, e: &E) -> Res<Value> {
        match e {
            E::KlineAt(_, _, 1..=9 | 12 | 13, _)
            | E::Bin(BinOp::AddF | BinOp::SubF | BinOp::MulF | BinOp::DivF, ..) => {
                Ok(Value::Float(self.eval_f(f, e)?))
            }
            _ => self.eval(f, e),
        }
    }

    /// Typed fast path for float64 expressions (no `Value` boxing of intermediate results).
    pub fn eval_f(&mut self, f: &mut Frame, e: &E) -> Res<f64> {
        self.tick(1)?;
        match e {
            E::Const(Const::Float(x)) => Ok(*x),
            E::Local(s) => Ok(match &f.slots[*s as usize] {
                Value::Float(x) => *x,
                Value::Boxed(b) => as_float(&b.borrow()),
                _ => 0.0,
            }),
            E::Bin(op @ (BinOp::AddF | BinOp::SubF | BinOp::MulF | BinOp::DivF), a, b, _) => {
                let x = self.operand_f(f, a)?;
                let y = self.operand_f(f, b)?;
                Ok(match op {
                    BinOp::AddF => x + y,
                    BinOp::SubF => x - y,
                    BinOp::MulF => x * y,
                    _ => x / y,
                })
            }
            E::Unary(UnOp::NegF, x) => Ok(-self.eval_f(f, x)?),
            E::KlineAt(s, i, field, pos) if matches!(**s, E::Local(_)) => {
                let i = self.operand_i(f, i)?;
                let E::Local(slot) = **s else { return Ok(0.0) };
                let at;
                let r = match &f.slots[slot as usize] {
                    Value::Slice(sv) => {
                        at = check_index(i, sv.len, *pos)?;
                        sv.arr.as_ref().and_then(|a| {
                            a.borrow()
                                .kline(sv.off as usize + at)
                                .map(|k| kline_f(k, *field))
                        })
                    }
                    _ => None,
                };
                match r {
                    Some(x) => Ok(x),
                    None => {
                        self.fuel += 1;
                        Ok(as_float(&self.eval(f, e)?))
                    }
                }
            }
            E::Index(s, i, pos) if matches!(**s, E::Local(_)) => {
                let i = self.operand_i(f, i)?;
                let E::Local(slot) = **s else { return Ok(0.0) };
                let r = match &f.slots[slot as usize] {
                    Value::Slice(sv) => {
                        let at = check_index(i, sv.len, *pos)?;
                        sv.arr.as_ref().and_then(|a| match &*a.borrow() {
                            Arr::F64(v) => v.get(sv.off as usize + at).copied(),
                            _ => None,
                        })
                    }
                    _ => None,
                };
                match r {
                    Some(x) => Ok(x),
                    None => {
                        self.fuel += 1;
                        Ok(as_float(&self.eval(f, e)?))
                    }
                }
            }
            E::Builtin(Builtin::Math(m), args, _)
                if args.len() <= 2
                    && !matches!(
                        m,
                        MathFn::Inf | MathFn::IsInf | MathFn::IsNaN | MathFn::Signbit
                    ) =>
            {
                let x = match args.first() {
                    Some(a) => self.operand_f(f, a)?,
                    None => 0.0,
                };
                let y = match args.get(1) {
                    Some(a) => self.operand_f(f, a)?,
                    None => 0.0,
                };
                Ok(crate::builtins::math_f(*m, x, y))
            }
            E::Builtin(Builtin::Conv(Conv::IntToFloat), args, _) if args.len() == 1 => {
                Ok(self.eval_i(f, &args[0])? as f64)
            }
            _ => {
                self.fuel += 1;
                Ok(as_float(&self.eval(f, e)?))
            }
        }
    }

    /// Typed fast path for integer expressions.
    pub fn eval_i(&mut self, f: &mut Frame, e: &E) -> Res<i64> {
        self.tick(1)?;
        match e {
            E::Const(Const::Int(x)) => Ok(*x),
            E::Local(s) => Ok(match &f.slots[*s as usize] {
                Value::Int(x) => *x,
                Value::Boxed(b) => as_int(&b.borrow()),
                _ => 0,
            }),
            E::Bin(op @ (BinOp::AddI(k) | BinOp::SubI(k) | BinOp::MulI(k)), a, b, _) => {
                let x = self.operand_i(f, a)?;
                let y = self.operand_i(f, b)?;
                Ok(wrap(
                    *k,
                    match op {
                        BinOp::AddI(_) => x.wrapping_add(y),
                        BinOp::SubI(_) => x.wrapping_sub(y),
                        _ => x.wrapping_mul(y),
                    },
                ))
            }
            E::Builtin(Builtin::LenSlice, args, _) if matches!(args.first(), Some(E::Local(_))) => {
                let Some(E::Local(s)) = args.first() else {
                    return Ok(0);
                };
                Ok(match &f.slots[*s as usize] {
                    Value::Slice(sv) => sv.len as i64,
                    Value::Boxed(b) => as_slice(&b.borrow()).len as i64,
                    _ => 0,
                })
            }
            _ => {
                self.fuel += 1;
                Ok(as_int(&self.eval(f, e)?))
            }
        }
    }

    /// Typed fast path for conditions.
    pub fn eval_b(&mut self, f: &mut Frame, e: &E) -> Res<bool> {
        self.tick(1)?;
        match e {
            E::Const(Const::Bool(b)) => Ok(*b),
            E::Bin(BinOp::CmpF(c), a, b, _) => {
                let x = self.operand_f(f, a)?;
                let y = self.operand_f(f, b)?;
                Ok(match c {
                    CmpOp::Eq => x == y,
                    CmpOp::Ne => x != y,
                    CmpOp::Lt => x < y,
                    CmpOp::Le => x <= y,
                    CmpOp::Gt => x > y,
                    CmpOp::Ge => x >= y,
                })
            }
            E::Bin(BinOp::CmpI(c), a, b, _) => {
                let x = self.operand_i(f, a)?;
                let y = self.operand_i(f, b)?;
                Ok(match c {
                    CmpOp::Eq => x == y,
                    CmpOp::Ne => x != y,
                    CmpOp::Lt => x < y,
                    CmpOp::Le => x <= y,
                    CmpOp::Gt => x > y,
                    CmpOp::Ge => x >= y,
                })
            }
            E::And(a, b) => Ok(self.eval_b(f, a)? && self.eval_b(f, b)?),
            E::Or(a, b) => Ok(self.eval_b(f, a)? || self.eval_b(f, b)?),
            E::Unary(UnOp::Not, x) => Ok(!self.eval_b(f, x)?),
            _ => {
                self.fuel += 1;
                Ok(matches!(self.eval(f, e)?, Value::Bool(true)))
            }
        }
    }
}
