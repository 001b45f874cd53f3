//! Name resolution, type checking and lowering to [`crate::ir`]: statements and scopes. Expressions are in
//! `cexpr.rs`, calls (builtins, `math`, `indicators`) in `ccall.rs`.

use crate::ast::{Clause, ExprKind, Stmt, StmtKind, TypeExpr};
use crate::ir::*;
use crate::lexer::{err, Pos};
use crate::parser::unsupported;
use crate::types::*;
use filter_core::CompileError;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub type R<T> = Result<T, CompileError>;

/// A compile-time constant value.
#[derive(Clone, Debug, PartialEq)]
pub enum CVal {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(Arc<str>),
}

/// A checked expression: its code, its type and, for constants, its value.
#[derive(Clone, Debug)]
pub struct CE {
    pub e: E,
    pub ty: Ty,
    pub cv: Option<CVal>,
    /// Source-like text for messages (`x`, `k.Close`), with whether it names a variable.
    pub desc: Option<(String, bool)>,
}

#[derive(Clone, Debug)]
pub enum Sym {
    Var {
        level: usize,
        slot: u32,
        uid: u32,
        ty: Ty,
    },
    Const(Ty, CVal),
    Data,
    Type(Ty),
    Builtin(&'static str),
    Package(&'static str),
    Nil,
}

pub struct Scope {
    pub names: HashMap<String, Sym>,
}

pub struct FnCtx {
    pub n_slots: u32,
    pub captures: Vec<(u32, CapSrc)>,
    pub results: Vec<Ty>,
    /// Enclosing loops and switches: (label, id, is_loop).
    pub breakables: Vec<(Option<String>, u32, bool)>,
}

pub struct Compiler {
    pub funcs: Vec<Option<Func>>,
    pub fns: Vec<FnCtx>,
    pub scopes: Vec<Scope>,
    pub next_id: u32,
    pub next_uid: u32,
    pub timeframes: BTreeSet<String>,
}

/// Standard-library packages a generated filter might reach for; none is available.
const STD_PACKAGES: &[&str] = &[
    "fmt", "os", "time", "strings", "strconv", "sort", "io", "net", "http", "sync", "runtime",
    "unsafe", "reflect", "rand", "errors", "bufio", "log", "syscall", "exec", "filepath", "ioutil",
    "json", "bytes", "atomic", "context", "big", "cmplx", "bits", "utf8", "regexp", "path",
    "slices", "maps", "debug", "plugin", "signal", "user",
];

pub fn compile_body(body: &[Stmt]) -> R<ProgramIr> {
    let mut universe = HashMap::new();
    for (n, t) in [
        ("bool", Ty::Bool),
        ("int", Ty::Int),
        ("int64", Ty::Int64),
        ("int32", Ty::Int32),
        ("rune", Ty::Int32),
        ("byte", Ty::Uint8),
        ("uint8", Ty::Uint8),
        ("float64", Ty::Float64),
        ("string", Ty::String),
    ] {
        universe.insert(n.to_string(), Sym::Type(t));
    }
    for b in [
        "len", "cap", "append", "make", "copy", "delete", "new", "min", "max", "panic", "print",
        "println", "close", "complex", "real", "imag", "recover", "clear",
    ] {
        universe.insert(b.to_string(), Sym::Builtin(b));
    }
    universe.insert("true".into(), Sym::Const(Ty::Bool, CVal::Bool(true)));
    universe.insert("false".into(), Sym::Const(Ty::Bool, CVal::Bool(false)));
    universe.insert("nil".into(), Sym::Nil);
    for p in ["math", "types", "indicators"] {
        universe.insert(p.to_string(), Sym::Package(p));
    }
    let mut params = HashMap::new();
    params.insert("data".to_string(), Sym::Data);
    let mut c = Compiler {
        funcs: vec![None],
        fns: vec![FnCtx {
            n_slots: 0,
            captures: Vec::new(),
            results: vec![Ty::Bool],
            breakables: Vec::new(),
        }],
        scopes: vec![Scope { names: universe }, Scope { names: params }],
        next_id: 0,
        next_uid: 0,
        timeframes: BTreeSet::new(),
    };
    let code = c.block_in_scope(body)?;
    if !terminates(body) {
        let pos = body
            .last()
            .map(|s| s.pos)
            .unwrap_or(Pos { line: 1, col: 1 });
        return Err(err(pos, "missing return"));
    }
    let f = c.fns.pop().map(|f| f.n_slots).unwrap_or(0);
    c.funcs[0] = Some(Func {
        n_slots: f,
        n_params: 0,
        body: code,
    });
    Ok(ProgramIr {
        funcs: c
            .funcs
            .into_iter()
            .map(|f| {
                f.unwrap_or(Func {
                    n_slots: 0,
                    n_params: 0,
                    body: Vec::new(),
                })
            })
            .collect(),
        timeframes: c.timeframes.into_iter().collect(),
    })
}

impl Compiler {
    pub fn level(&self) -> usize {
        self.fns.len() - 1
    }

    pub fn fctx(&mut self) -> &mut FnCtx {
        let l = self.fns.len() - 1;
        &mut self.fns[l]
    }

    pub fn new_slot(&mut self) -> u32 {
        let f = self.fctx();
        f.n_slots += 1;
        f.n_slots - 1
    }

    pub fn declare_var(&mut self, name: &str, ty: Ty) -> u32 {
        let slot = self.new_slot();
        if name != "_" {
            let uid = self.next_uid;
            self.next_uid += 1;
            let level = self.level();
            if let Some(s) = self.scopes.last_mut() {
                s.names.insert(
                    name.to_string(),
                    Sym::Var {
                        level,
                        slot,
                        uid,
                        ty,
                    },
                );
            }
        }
        slot
    }

    pub fn lookup(&self, name: &str) -> Option<(usize, Sym)> {
        self.scopes
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, s)| s.names.get(name).map(|x| (i, x.clone())))
    }

    /// Index of `uid` in the current function's captures, threading it through every enclosing closure.
    pub fn capture(&mut self, uid: u32, var_level: usize, slot: u32) -> u32 {
        let mut src = CapSrc::Local(slot);
        let mut idx = 0;
        for lvl in var_level + 1..self.fns.len() {
            let caps = &mut self.fns[lvl].captures;
            idx = match caps.iter().position(|(u, _)| *u == uid) {
                Some(i) => i as u32,
                None => {
                    caps.push((uid, src));
                    (caps.len() - 1) as u32
                }
            };
            src = CapSrc::Capture(idx);
        }
        idx
    }

    pub fn var_expr(&mut self, level: usize, slot: u32, uid: u32) -> E {
        if level == self.level() {
            E::Local(slot)
        } else {
            E::Capture(self.capture(uid, level, slot))
        }
    }

    pub fn var_place(&mut self, level: usize, slot: u32, uid: u32) -> P {
        if level == self.level() {
            P::Local(slot)
        } else {
            P::Capture(self.capture(uid, level, slot))
        }
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(Scope {
            names: HashMap::new(),
        });
    }
    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    pub fn block_in_scope(&mut self, stmts: &[Stmt]) -> R<Vec<S>> {
        self.push_scope();
        let r = self.stmts(stmts);
        self.pop_scope();
        r
    }

    fn stmts(&mut self, stmts: &[Stmt]) -> R<Vec<S>> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            self.stmt(s, &mut out)?;
        }
        Ok(out)
    }

    pub fn resolve_type(&mut self, t: &TypeExpr) -> R<Ty> {
        Ok(match t {
            TypeExpr::Name(n, pos) => match self.lookup(n) {
                Some((_, Sym::Type(t))) => t,
                Some(_) => return Err(err(*pos, format!("{n} is not a type"))),
                None => {
                    return Err(match n.as_str() {
                        "float32" | "uint" | "uint16" | "uint32" | "uint64" | "int8" | "int16"
                        | "uintptr" | "complex64" | "complex128" => {
                            err(*pos, format!("unsupported type: {n} (use int or float64)"))
                        }
                        "any" | "error" => unsupported(*pos, &format!("interface type {n}")),
                        _ => err(*pos, format!("undefined: {n}")),
                    })
                }
            },
            TypeExpr::Qualified(p, n, pos) => match (p.as_str(), n.as_str()) {
                ("types", "Kline") => Ty::Kline,
                ("types", "SimplifiedTicker") => ticker(),
                ("types", "MarketData") => Ty::MarketData,
                ("indicators", "RSIResult") => rsi_result(),
                ("indicators", "MACDResult") => macd_result(),
                ("indicators", "BollingerBandsResult") => bb_result(),
                ("indicators", "StochasticResult") => stoch_result(),
                ("types" | "indicators", _) => {
                    return Err(err(*pos, format!("undefined: {p}.{n}")))
                }
                ("math", _) => return Err(err(*pos, format!("undefined: math.{n}"))),
                ("time", "Time") => Ty::Time,
                _ => return Err(err(*pos, format!("unsupported package: {p}"))),
            },
            TypeExpr::Slice(e) => slice(self.resolve_type(e)?),
            TypeExpr::Map(k, v) => {
                let kt = self.resolve_type(k)?;
                if !matches!(
                    kt,
                    Ty::String
                        | Ty::Int
                        | Ty::Int64
                        | Ty::Int32
                        | Ty::Uint8
                        | Ty::Float64
                        | Ty::Bool
                ) {
                    return Err(err(type_pos(k), format!("unsupported map key type {kt}")));
                }
                Ty::Map(Arc::new(kt), Arc::new(self.resolve_type(v)?))
            }
            TypeExpr::Pointer(e) => ptr(self.resolve_type(e)?),
            TypeExpr::Func(sig) => {
                let mut params = Vec::new();
                for (_, t) in &sig.params {
                    params.push(self.resolve_type(t)?);
                }
                let mut results = Vec::new();
                for t in &sig.results {
                    results.push(self.resolve_type(t)?);
                }
                Ty::Func(Arc::new(FuncTy { params, results }))
            }
            TypeExpr::Struct(fields) => {
                let mut fs = Vec::new();
                for (n, t) in fields {
                    fs.push((n.clone(), self.resolve_type(t)?));
                }
                Ty::Struct(Arc::new(StructTy {
                    name: None,
                    fields: fs,
                }))
            }
        })
    }

    pub fn stmt_pub(&mut self, s: &Stmt, out: &mut Vec<S>) -> R<()> {
        self.stmt(s, out)
    }

    fn stmt(&mut self, s: &Stmt, out: &mut Vec<S>) -> R<()> {
        let pos = s.pos;
        match &s.kind {
            StmtKind::Empty => {}
            StmtKind::Expr(e) => {
                let is_call = matches!(strip_paren(e).kind, ExprKind::Call(..));
                let ce = self.expr(e)?;
                if !is_call
                    || matches!(&ce.e, E::Builtin(b, ..) if !matches!(b, Builtin::Copy | Builtin::Delete | Builtin::Panic))
                {
                    return Err(err(
                        e.pos,
                        format!("{} ({}) is not used", describe(e), ce.ty),
                    ));
                }
                out.push(S::Expr(ce.e));
            }
            StmtKind::Define(names, vals) => self.define(names, vals, pos, out)?,
            StmtKind::Var(names, ty, vals) => {
                let t = match ty {
                    Some(t) => Some(self.resolve_type(t)?),
                    None => None,
                };
                if vals.is_empty() {
                    let t = t.ok_or_else(|| {
                        err(pos, "syntax error: missing variable type or initialization")
                    })?;
                    for (n, _) in names {
                        let slot = self.declare_var(n, t.clone());
                        out.push(S::Decl(slot, E::Zero(Arc::new(t.clone()))));
                    }
                } else {
                    self.define_typed(names, vals, t, pos, out, true)?;
                }
            }
            StmtKind::Const(names, ty, vals) => {
                if names.len() != vals.len() {
                    return Err(err(pos, "assignment mismatch in const declaration"));
                }
                let t = match ty {
                    Some(t) => Some(self.resolve_type(t)?),
                    None => None,
                };
                for ((n, npos), v) in names.iter().zip(vals) {
                    let mut ce = self.expr(v)?;
                    if ce.cv.is_none() {
                        return Err(err(
                            v.pos,
                            format!("{} (value of type {}) is not constant", describe(v), ce.ty),
                        ));
                    }
                    if let Some(t) = &t {
                        ce = self.convert_to(ce, t, v.pos, "constant declaration")?;
                    }
                    let cv = ce.cv.clone().ok_or_else(|| err(*npos, "not constant"))?;
                    if let Some(sc) = self.scopes.last_mut() {
                        sc.names.insert(n.clone(), Sym::Const(ce.ty, cv));
                    }
                }
            }
            StmtKind::Assign(lhs, rhs, op) => self.assign(lhs, rhs, *op, pos, out)?,
            StmtKind::IncDec(e, inc) => {
                let (p, t) = self.place(e)?;
                if !t.is_numeric() {
                    return Err(err(
                        pos,
                        format!(
                            "invalid operation: {}{} (non-numeric type {t})",
                            describe(e),
                            if *inc { "++" } else { "--" }
                        ),
                    ));
                }
                let one = if t.is_float() {
                    E::Const(Const::Float(1.0))
                } else {
                    E::Const(Const::Int(1))
                };
                let op = self.arith_op(if *inc { "+" } else { "-" }, &t, pos)?;
                out.push(S::OpAssign(p, op, one, pos));
            }
            StmtKind::Block(b) => out.push(S::Block(self.block_in_scope(b)?)),
            StmtKind::Group(b) => {
                for s in b {
                    self.stmt(s, out)?;
                }
            }
            StmtKind::If(init, cond, then, els) => {
                self.push_scope();
                let mut pre = Vec::new();
                if let Some(i) = init {
                    self.stmt(i, &mut pre)?;
                }
                let c = self.expr(cond)?;
                if c.ty != Ty::Bool {
                    self.pop_scope();
                    return Err(err(
                        cond.pos,
                        format!(
                            "non-boolean condition in if statement ({} is {})",
                            describe(cond),
                            c.ty
                        ),
                    ));
                }
                let t = self.block_in_scope(then)?;
                let mut e = Vec::new();
                if let Some(els) = els {
                    self.stmt(els, &mut e)?;
                }
                self.pop_scope();
                let s = S::If(c.e, t, e);
                if pre.is_empty() {
                    out.push(s);
                } else {
                    pre.push(s);
                    out.push(S::Block(pre));
                }
            }
            StmtKind::For {
                init,
                cond,
                post,
                body,
                label,
            } => {
                self.push_scope();
                let mut pre = Vec::new();
                if let Some(i) = init {
                    self.stmt(i, &mut pre)?;
                }
                let c = match cond {
                    Some(c) => {
                        let ce = self.expr(c)?;
                        if ce.ty != Ty::Bool {
                            return Err(err(
                                c.pos,
                                format!("non-boolean condition in for statement ({})", ce.ty),
                            ));
                        }
                        Some(ce.e)
                    }
                    None => None,
                };
                let mut p = Vec::new();
                if let Some(ps) = post {
                    if matches!(ps.kind, StmtKind::Define(..)) {
                        return Err(err(ps.pos, "cannot declare in post statement of for loop"));
                    }
                    self.stmt(ps, &mut p)?;
                }
                let id = self.next_id;
                self.next_id += 1;
                self.fctx().breakables.push((label.clone(), id, true));
                let b = self.block_in_scope(body);
                self.fctx().breakables.pop();
                self.pop_scope();
                let vars = pre
                    .iter()
                    .flat_map(|s| match s {
                        S::Decl(slot, _) => vec![*slot],
                        S::DeclMulti(ds) => ds.iter().map(|(s, _)| *s).collect(),
                        S::Multi(ts, _) | S::Tuple(ts, _) => ts
                            .iter()
                            .filter_map(|t| match t {
                                Target::Decl(s) => Some(*s),
                                _ => None,
                            })
                            .collect(),
                        _ => Vec::new(),
                    })
                    .collect();
                let lp = S::Loop {
                    id,
                    vars,
                    cond: c,
                    post: p.pop().map(Box::new),
                    body: b?,
                };
                pre.push(lp);
                out.push(S::Block(pre));
            }
            StmtKind::Range {
                key,
                value,
                define,
                expr,
                body,
                label,
            } => self.range(
                key.as_ref(),
                value.as_ref(),
                *define,
                expr,
                body,
                label,
                pos,
                out,
            )?,
            StmtKind::Switch {
                init,
                tag,
                clauses,
                label,
            } => self.switch(init.as_deref(), tag.as_ref(), clauses, label, pos, out)?,
            StmtKind::Return(vals) => {
                let results = self.fctx().results.clone();
                if vals.len() == 1 && results.len() > 1 {
                    let ce = self.expr(&vals[0])?;
                    if ce.ty != Ty::Tuple(Arc::new(results.clone())) {
                        return Err(err(
                            pos,
                            format!(
                                "not enough return values\n\thave ({})\n\twant {}",
                                ce.ty,
                                Ty::Tuple(Arc::new(results))
                            ),
                        ));
                    }
                    out.push(S::Return(Some(ce.e)));
                    return Ok(());
                }
                if vals.len() != results.len() {
                    return Err(err(
                        pos,
                        if vals.len() < results.len() {
                            "not enough return values"
                        } else {
                            "too many return values"
                        },
                    ));
                }
                let mut es = Vec::new();
                for (v, t) in vals.iter().zip(&results) {
                    let ce = self.expr(v)?;
                    es.push(self.convert_to(ce, t, v.pos, "return statement")?.e);
                }
                out.push(match es.len() {
                    0 => S::Return(None),
                    1 => S::Return(es.pop()),
                    _ => S::ReturnMulti(es),
                });
            }
            StmtKind::Break(label) => {
                let b = &self.fctx().breakables;
                let found = match label {
                    None => b.last().map(|x| x.1),
                    Some(l) => b
                        .iter()
                        .rev()
                        .find(|x| x.0.as_deref() == Some(l))
                        .map(|x| x.1),
                };
                let id = found.ok_or_else(|| match label {
                    Some(l) => err(pos, format!("invalid break label {l}")),
                    None => err(pos, "break is not in a loop, switch, or select"),
                })?;
                out.push(S::Break(id));
            }
            StmtKind::Continue(label) => {
                let b = &self.fctx().breakables;
                let found = match label {
                    None => b.iter().rev().find(|x| x.2).map(|x| x.1),
                    Some(l) => b
                        .iter()
                        .rev()
                        .find(|x| x.0.as_deref() == Some(l) && x.2)
                        .map(|x| x.1),
                };
                let id = found.ok_or_else(|| match label {
                    Some(l) => err(pos, format!("invalid continue label {l}")),
                    None => err(pos, "continue is not in a loop"),
                })?;
                out.push(S::Continue(id));
            }
            StmtKind::Fallthrough => return Err(err(pos, "fallthrough statement out of place")),
        }
        Ok(())
    }

    fn define(
        &mut self,
        names: &[(String, Pos)],
        vals: &[crate::ast::Expr],
        pos: Pos,
        out: &mut Vec<S>,
    ) -> R<()> {
        self.define_typed(names, vals, None, pos, out, false)
    }

    /// `a, b := x, y` (or `var a, b T = x, y` with `is_var`): new variables, or reuse of ones declared in
    /// the same scope (`:=` only).
    fn define_typed(
        &mut self,
        names: &[(String, Pos)],
        vals: &[crate::ast::Expr],
        ty: Option<Ty>,
        pos: Pos,
        out: &mut Vec<S>,
        is_var: bool,
    ) -> R<()> {
        // Right-hand sides are compiled before the new names are in scope (`x := x + 1`).
        let (rhs, types, shape) = self.rhs_values(names.len(), vals, pos)?;
        let mut targets = Vec::new();
        let mut any_new = false;
        let mut es = Vec::new();
        for (i, (n, npos)) in names.iter().enumerate() {
            let t = match &ty {
                Some(t) => t.clone(),
                None => types[i].clone(),
            };
            if n == "_" {
                targets.push(Target::Place(P::Blank));
                continue;
            }
            let existing = if is_var {
                None
            } else {
                self.scopes.last().and_then(|s| s.names.get(n)).cloned()
            };
            match existing {
                Some(Sym::Var {
                    level,
                    slot,
                    uid,
                    ty: vt,
                }) => {
                    if matches!(shape, Shape::Values) && !assignable(&types[i], &vt) {
                        return Err(err(
                            *npos,
                            format!(
                                "cannot use value of type {} as {vt} value in assignment",
                                types[i]
                            ),
                        ));
                    }
                    targets.push(Target::Place(self.var_place(level, slot, uid)));
                }
                _ => {
                    if t == Ty::Nil {
                        return Err(err(*npos, "use of untyped nil in assignment"));
                    }
                    if t == Ty::Void {
                        return Err(err(
                            *npos,
                            format!("{} (no value) used as value", describe(&vals[0])),
                        ));
                    }
                    any_new = true;
                    targets.push(Target::Decl(u32::MAX));
                }
            }
        }
        if !any_new && !is_var {
            return Err(err(pos, "no new variables on left side of :="));
        }
        // Convert values (only for one value per name).
        if matches!(shape, Shape::Values) {
            for (i, ce) in rhs.into_iter().enumerate() {
                let t = match (&ty, &targets[i]) {
                    (Some(t), _) => t.clone(),
                    (None, Target::Place(P::Blank)) => ce.ty.default_type(),
                    (None, Target::Decl(_)) => ce.ty.default_type(),
                    (None, Target::Place(_)) => self
                        .existing_type(&names[i].0)
                        .unwrap_or(ce.ty.default_type()),
                };
                if ce.ty == Ty::Nil && matches!(targets[i], Target::Place(P::Blank)) {
                    return Err(err(pos, "use of untyped nil in assignment"));
                }
                es.push(self.convert_to(ce, &t, vals[i].pos, "assignment")?.e);
            }
        } else if let Some(t) = &ty {
            for (i, have) in types.iter().enumerate() {
                if have != t {
                    return Err(err(
                        names[i].1,
                        format!("cannot use value of type {have} as {t} value in assignment"),
                    ));
                }
            }
        }
        // Now declare the new names.
        for (i, (n, _)) in names.iter().enumerate() {
            if let Target::Decl(_) = targets[i] {
                let t = match &ty {
                    Some(t) => t.clone(),
                    None => types[i].default_type(),
                };
                targets[i] = Target::Decl(self.declare_var(n, t));
            }
        }
        match shape {
            Shape::Values => {
                if targets.len() == 1 {
                    let e = es.pop().unwrap_or(E::Const(Const::Bool(false)));
                    match targets.pop() {
                        Some(Target::Decl(slot)) => out.push(S::Decl(slot, e)),
                        Some(Target::Place(p)) => out.push(S::Assign(p, e)),
                        None => {}
                    }
                } else {
                    let decls: Vec<u32> = targets
                        .iter()
                        .filter_map(|t| match t {
                            Target::Decl(s) => Some(*s),
                            _ => None,
                        })
                        .collect();
                    if decls.len() == targets.len() {
                        // Only new variables: no right-hand side can observe them.
                        out.push(S::DeclMulti(decls.into_iter().zip(es).collect()));
                    } else {
                        out.push(S::Multi(targets, es));
                    }
                }
            }
            Shape::Tuple(e) => out.push(S::Tuple(targets, e)),
            Shape::CommaOk(m, k, z) => {
                let mut it = targets.into_iter();
                if let (Some(a), Some(b)) = (it.next(), it.next()) {
                    out.push(S::CommaOk(a, b, m, k, z));
                }
            }
        }
        Ok(())
    }

    fn existing_type(&self, name: &str) -> Option<Ty> {
        match self.scopes.last()?.names.get(name)? {
            Sym::Var { ty, .. } => Some(ty.clone()),
            _ => None,
        }
    }

    /// The values for `n` targets: one expression each, one multi-result call, or a comma-ok map index.
    fn rhs_values(
        &mut self,
        n: usize,
        vals: &[crate::ast::Expr],
        pos: Pos,
    ) -> R<(Vec<CE>, Vec<Ty>, Shape)> {
        if vals.len() == 1 && n > 1 {
            let v = strip_paren(&vals[0]);
            if n == 2 {
                if let ExprKind::Index(base, key) = &v.kind {
                    let b = self.expr(base)?;
                    if let Ty::Map(kt, vt) = &b.ty {
                        let k = self.expr(key)?;
                        let k = self.convert_to(k, kt, key.pos, "map index")?;
                        return Ok((
                            Vec::new(),
                            vec![(**vt).clone(), Ty::Bool],
                            Shape::CommaOk(b.e, k.e, vt.clone()),
                        ));
                    }
                }
            }
            let ce = self.expr(&vals[0])?;
            if let Ty::Tuple(ts) = &ce.ty {
                if ts.len() == n {
                    return Ok((Vec::new(), (**ts).clone(), Shape::Tuple(ce.e)));
                }
            }
            return Err(err(
                pos,
                format!(
                    "assignment mismatch: {n} variables but {} returns 1 value",
                    describe(&vals[0])
                ),
            ));
        }
        if vals.len() != n {
            return Err(err(
                pos,
                format!(
                    "assignment mismatch: {n} variable{} but {} value{}",
                    plural(n),
                    vals.len(),
                    plural(vals.len())
                ),
            ));
        }
        let mut ces = Vec::new();
        let mut tys = Vec::new();
        for v in vals {
            let ce = self.expr(v)?;
            if let Ty::Tuple(_) = ce.ty {
                return Err(err(
                    v.pos,
                    format!("multiple-value {} in single-value context", describe(v)),
                ));
            }
            if ce.ty == Ty::Void {
                return Err(err(
                    v.pos,
                    format!("{} (no value) used as value", describe(v)),
                ));
            }
            tys.push(ce.ty.clone());
            ces.push(ce);
        }
        Ok((ces, tys, Shape::Values))
    }

    fn assign(
        &mut self,
        lhs: &[crate::ast::Expr],
        rhs: &[crate::ast::Expr],
        op: Option<&'static str>,
        pos: Pos,
        out: &mut Vec<S>,
    ) -> R<()> {
        if let Some(op) = op {
            let (p, t) = self.place(&lhs[0])?;
            let r = self.expr(&rhs[0])?;
            let r = if op == "<<" || op == ">>" {
                self.shift_count(r, rhs[0].pos)?
            } else {
                self.convert_to(r, &t, rhs[0].pos, "assignment")?
            };
            if matches!(op, "/" | "%") && t.is_integer() && matches!(r.cv, Some(CVal::Int(0))) {
                return Err(err(rhs[0].pos, "invalid operation: division by zero"));
            }
            let bop = self.arith_op(op, &t, pos)?;
            out.push(S::OpAssign(p, bop, r.e, pos));
            return Ok(());
        }
        let mut places = Vec::new();
        let mut ptys = Vec::new();
        for l in lhs {
            let (p, t) = self.place(l)?;
            places.push(p);
            ptys.push(t);
        }
        let (ces, tys, shape) = self.rhs_values(lhs.len(), rhs, pos)?;
        match shape {
            Shape::Values => {
                let mut es = Vec::new();
                for (i, ce) in ces.into_iter().enumerate() {
                    let t = if matches!(places[i], P::Blank) {
                        if ce.ty == Ty::Nil {
                            return Err(err(pos, "use of untyped nil in assignment"));
                        }
                        ce.ty.default_type()
                    } else {
                        ptys[i].clone()
                    };
                    es.push(self.convert_to(ce, &t, rhs[i].pos, "assignment")?.e);
                }
                if places.len() == 1 {
                    if let (Some(p), Some(e)) = (places.pop(), es.pop()) {
                        out.push(S::Assign(p, e));
                    }
                } else {
                    out.push(S::Multi(
                        places.into_iter().map(Target::Place).collect(),
                        es,
                    ));
                }
            }
            Shape::Tuple(e) => {
                for (i, t) in tys.iter().enumerate() {
                    if !matches!(places[i], P::Blank) && !assignable(t, &ptys[i]) {
                        return Err(err(
                            lhs[i].pos,
                            format!(
                                "cannot use value of type {t} as {} value in assignment",
                                ptys[i]
                            ),
                        ));
                    }
                }
                out.push(S::Tuple(places.into_iter().map(Target::Place).collect(), e));
            }
            Shape::CommaOk(m, k, z) => {
                for (i, t) in tys.iter().enumerate() {
                    if !matches!(places[i], P::Blank) && !assignable(t, &ptys[i]) {
                        return Err(err(
                            lhs[i].pos,
                            format!(
                                "cannot use value of type {t} as {} value in assignment",
                                ptys[i]
                            ),
                        ));
                    }
                }
                let mut it = places.into_iter();
                if let (Some(a), Some(b)) = (it.next(), it.next()) {
                    out.push(S::CommaOk(Target::Place(a), Target::Place(b), m, k, z));
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn range(
        &mut self,
        key: Option<&crate::ast::Expr>,
        value: Option<&crate::ast::Expr>,
        define: bool,
        expr: &crate::ast::Expr,
        body: &[Stmt],
        label: &Option<String>,
        pos: Pos,
        out: &mut Vec<S>,
    ) -> R<()> {
        let x = self.expr(expr)?;
        let x = if x.ty.is_untyped() {
            self.convert_to(x.clone(), &x.ty.default_type(), expr.pos, "range")?
        } else {
            x
        };
        let (kind, kt, vt) = match &x.ty {
            Ty::Slice(e) => (RangeKind::Slice, Ty::Int, Some((**e).clone())),
            Ty::String => (RangeKind::Str, Ty::Int, Some(Ty::Int32)),
            Ty::Map(k, v) => (RangeKind::Map, (**k).clone(), Some((**v).clone())),
            t if t.is_integer() => (RangeKind::Int, t.clone(), None),
            t => {
                return Err(err(
                    expr.pos,
                    format!(
                        "cannot range over {} (variable of type {t})",
                        describe(expr)
                    ),
                ))
            }
        };
        if value.is_some() && vt.is_none() {
            return Err(err(
                pos,
                format!(
                    "range over {} permits only one iteration variable",
                    describe(expr)
                ),
            ));
        }
        self.push_scope();
        let mut targets = Vec::new();
        for (e, t) in [(key, Some(kt)), (value, vt)] {
            let Some(e) = e else {
                targets.push(None);
                continue;
            };
            let t = t.unwrap_or(Ty::Int);
            if define {
                match &e.kind {
                    ExprKind::Ident(n) if n == "_" => targets.push(None),
                    ExprKind::Ident(n) => targets.push(Some(Target::Decl(self.declare_var(n, t)))),
                    _ => return Err(err(e.pos, "non-name on left side of :=")),
                }
            } else {
                let (p, pt) = self.place(e)?;
                if !matches!(p, P::Blank) && pt != t {
                    return Err(err(
                        e.pos,
                        format!("cannot assign {t} to {} (type {pt}) in range", describe(e)),
                    ));
                }
                targets.push(if matches!(p, P::Blank) {
                    None
                } else {
                    Some(Target::Place(p))
                });
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.fctx().breakables.push((label.clone(), id, true));
        let b = self.block_in_scope(body);
        self.fctx().breakables.pop();
        self.pop_scope();
        let mut it = targets.into_iter();
        out.push(S::Range {
            id,
            kind,
            expr: x.e,
            key: it.next().flatten(),
            value: it.next().flatten(),
            body: b?,
        });
        Ok(())
    }

    fn switch(
        &mut self,
        init: Option<&Stmt>,
        tag: Option<&crate::ast::Expr>,
        clauses: &[Clause],
        label: &Option<String>,
        _pos: Pos,
        out: &mut Vec<S>,
    ) -> R<()> {
        self.push_scope();
        let mut pre = Vec::new();
        if let Some(i) = init {
            self.stmt(i, &mut pre)?;
        }
        let tag = match tag {
            Some(t) => {
                let ce = self.expr(t)?;
                if matches!(ce.ty, Ty::Void | Ty::Tuple(_) | Ty::Nil) {
                    return Err(err(t.pos, format!("{} used as switch tag", describe(t))));
                }
                let ty = ce.ty.default_type();
                let ce = self.convert_to(ce, &ty, t.pos, "switch")?;
                let slot = self.new_slot();
                pre.push(S::Decl(slot, ce.e));
                Some(CE {
                    e: E::Local(slot),
                    ty,
                    cv: None,
                    desc: None,
                })
            }
            None => None,
        };
        let id = self.next_id;
        self.next_id += 1;
        self.fctx().breakables.push((label.clone(), id, false));
        let mut cl = Vec::new();
        let mut seen_default = false;
        for (ci, c) in clauses.iter().enumerate() {
            let conds = match &c.exprs {
                None => {
                    if seen_default {
                        return Err(err(c.pos, "multiple defaults in switch"));
                    }
                    seen_default = true;
                    None
                }
                Some(es) => {
                    let mut v = Vec::new();
                    for e in es {
                        let ce = self.expr(e)?;
                        let cond = match &tag {
                            Some(t) => self.binary("==", t.clone(), ce, e.pos)?,
                            None => ce,
                        };
                        if cond.ty != Ty::Bool {
                            return Err(err(
                                e.pos,
                                format!(
                                    "invalid case {} in switch (mismatched types {} and bool)",
                                    describe(e),
                                    cond.ty
                                ),
                            ));
                        }
                        v.push(cond.e);
                    }
                    Some(v)
                }
            };
            let (body, ft) = match c.body.last() {
                Some(Stmt {
                    kind: StmtKind::Fallthrough,
                    pos,
                }) => {
                    if ci + 1 == clauses.len() {
                        return Err(err(*pos, "cannot fallthrough final case in switch"));
                    }
                    (&c.body[..c.body.len() - 1], true)
                }
                _ => (&c.body[..], false),
            };
            let b = self.block_in_scope(body)?;
            cl.push((conds, b, ft));
        }
        self.fctx().breakables.pop();
        self.pop_scope();
        pre.push(S::Switch { id, clauses: cl });
        out.push(S::Block(pre));
        Ok(())
    }
}

enum Shape {
    Values,
    Tuple(E),
    CommaOk(E, E, Arc<Ty>),
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub fn assignable(from: &Ty, to: &Ty) -> bool {
    from == to
        || (*from == Ty::Nil && to.is_nilable())
        || (from.is_untyped() && to.is_numeric() && (to.is_float() || !from.is_float()))
}

pub fn strip_paren(e: &crate::ast::Expr) -> &crate::ast::Expr {
    match &e.kind {
        ExprKind::Paren(inner) => strip_paren(inner),
        _ => e,
    }
}

fn type_pos(t: &TypeExpr) -> Pos {
    match t {
        TypeExpr::Name(_, p) | TypeExpr::Qualified(_, _, p) => *p,
        TypeExpr::Slice(t) | TypeExpr::Map(t, _) | TypeExpr::Pointer(t) => type_pos(t),
        _ => Pos::default(),
    }
}

/// Short source-like rendering of an expression for messages.
pub fn describe(e: &crate::ast::Expr) -> String {
    match &e.kind {
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Float(v) => format!("{v}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Char(c) => format!("{c}"),
        ExprKind::Selector(b, n) => format!("{}.{n}", describe(b)),
        ExprKind::Call(f, ..) => format!("{}(...)", describe(f)),
        ExprKind::Index(b, i) => format!("{}[{}]", describe(b), describe(i)),
        ExprKind::Paren(i) => format!("({})", describe(i)),
        ExprKind::Unary(op, i) => format!("{op}{}", describe(i)),
        ExprKind::Binary(op, a, b) => format!("{} {op} {}", describe(a), describe(b)),
        _ => "expression".into(),
    }
}

/// Go's terminating statements (spec "Terminating statements"), for "missing return".
pub fn terminates(stmts: &[Stmt]) -> bool {
    let Some(last) = stmts
        .iter()
        .rev()
        .find(|s| !matches!(s.kind, StmtKind::Empty))
    else {
        return false;
    };
    match &last.kind {
        StmtKind::Return(_) => true,
        StmtKind::Expr(e) => {
            matches!(&strip_paren(e).kind, ExprKind::Call(f, ..) if matches!(&f.kind, ExprKind::Ident(n) if n == "panic"))
        }
        StmtKind::Block(b) => terminates(b),
        StmtKind::If(_, _, then, Some(els)) => {
            terminates(then) && terminates(std::slice::from_ref(els))
        }
        StmtKind::For {
            cond: None,
            body,
            label,
            ..
        } => !has_break(body, label.as_deref(), true),
        StmtKind::Switch { clauses, label, .. } => {
            clauses.iter().any(|c| c.exprs.is_none())
                && clauses.iter().all(|c| {
                    !has_break(&c.body, label.as_deref(), true)
                        && (terminates(&c.body)
                            || matches!(
                                c.body.last().map(|s| &s.kind),
                                Some(StmtKind::Fallthrough)
                            ))
                })
        }
        _ => false,
    }
}

/// Whether `stmts` contain a `break` that leaves the enclosing statement (`top`: unlabeled breaks count).
fn has_break(stmts: &[Stmt], label: Option<&str>, top: bool) -> bool {
    stmts.iter().any(|s| match &s.kind {
        StmtKind::Break(None) => top,
        StmtKind::Break(Some(l)) => Some(l.as_str()) == label,
        StmtKind::Block(b) | StmtKind::Group(b) => has_break(b, label, top),
        StmtKind::If(_, _, t, e) => {
            has_break(t, label, top)
                || e.as_ref()
                    .is_some_and(|e| has_break(std::slice::from_ref(e), label, top))
        }
        StmtKind::For { body, .. } | StmtKind::Range { body, .. } => has_break(body, label, false),
        StmtKind::Switch { clauses, .. } => {
            clauses.iter().any(|c| has_break(&c.body, label, false))
        }
        _ => false,
    })
}

pub fn rsi_result() -> Ty {
    named_struct("indicators.RSIResult", &["Values"], slice(Ty::Float64))
}
pub fn macd_result() -> Ty {
    named_struct(
        "indicators.MACDResult",
        &["MACD", "Signal", "Histogram"],
        slice(Ty::Float64),
    )
}
pub fn macd_latest() -> Ty {
    anon_struct(&["MACD", "Signal", "Histogram"], Ty::Float64)
}
pub fn bb_result() -> Ty {
    named_struct(
        "indicators.BollingerBandsResult",
        &["Upper", "Middle", "Lower"],
        slice(Ty::Float64),
    )
}
pub fn bb_latest() -> Ty {
    anon_struct(&["Upper", "Middle", "Lower"], Ty::Float64)
}
pub fn stoch_result() -> Ty {
    named_struct("indicators.StochasticResult", &["K", "D"], Ty::Float64)
}

pub fn std_package(name: &str) -> bool {
    STD_PACKAGES.contains(&name)
}
