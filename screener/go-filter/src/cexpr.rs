//! Checking and lowering of expressions: constants and Go's untyped-constant rules, operators, selectors,
//! indexing, composite and function literals, assignable places.

use crate::ast::{Expr, ExprKind, FuncSig, Stmt, TypeExpr};
use crate::compile::*;
use crate::ir::*;
use crate::lexer::{err, Pos};
use crate::parser::unsupported;
use crate::types::*;
use std::sync::Arc;

pub fn ce(e: E, ty: Ty) -> CE {
    CE {
        e,
        ty,
        cv: None,
        desc: None,
    }
}

fn cval_e(cv: &CVal, ty: &Ty) -> E {
    E::Const(match (cv, ty) {
        (CVal::Int(v), t) if t.is_float() => Const::Float(*v as f64),
        (CVal::Int(v), _) => Const::Int(*v as i64),
        (CVal::Float(f), t) if t.is_integer() => Const::Int(*f as i64),
        (CVal::Float(f), _) => Const::Float(*f),
        (CVal::Bool(b), _) => Const::Bool(*b),
        (CVal::Str(s), _) => Const::Str(s.clone()),
    })
}

pub fn constant(cv: CVal, ty: Ty) -> CE {
    CE {
        e: cval_e(&cv, &ty),
        ty,
        cv: Some(cv),
        desc: None,
    }
}

fn show_cv(cv: &CVal) -> String {
    match cv {
        CVal::Int(v) => v.to_string(),
        CVal::Float(f) => format!("{f}"),
        CVal::Bool(b) => b.to_string(),
        CVal::Str(s) => format!("{s:?}"),
    }
}

fn int_range(t: &Ty) -> (i128, i128) {
    match t {
        Ty::Int32 => (i32::MIN as i128, i32::MAX as i128),
        Ty::Uint8 => (0, 255),
        _ => (i64::MIN as i128, i64::MAX as i128),
    }
}

pub fn int_kind(t: &Ty) -> IntKind {
    match t {
        Ty::Int32 | Ty::UntypedRune => IntKind::I32,
        Ty::Uint8 => IntKind::U8,
        _ => IntKind::I64,
    }
}

impl Compiler {
    pub fn expr(&mut self, e: &Expr) -> R<CE> {
        let mut c = self.expr_hint(e, None)?;
        if c.desc.is_none() && c.cv.is_none() {
            let is_var = matches!(strip_paren(e).kind, ExprKind::Ident(_));
            c.desc = Some((describe(e), is_var));
        }
        Ok(c)
    }

    fn expr_hint(&mut self, e: &Expr, hint: Option<&Ty>) -> R<CE> {
        let pos = e.pos;
        match &e.kind {
            ExprKind::Int(v) => Ok(constant(CVal::Int(*v), Ty::UntypedInt)),
            ExprKind::Char(v) => Ok(constant(CVal::Int(*v), Ty::UntypedRune)),
            ExprKind::Float(v) => Ok(constant(CVal::Float(*v), Ty::UntypedFloat)),
            ExprKind::Str(s) => Ok(constant(CVal::Str(Arc::from(s.as_str())), Ty::String)),
            ExprKind::Paren(inner) => self.expr_hint(inner, hint),
            ExprKind::Ident(n) => self.ident(n, pos),
            ExprKind::Unary(op, x) => self.unary(op, x, pos),
            ExprKind::Binary(op, a, b) => {
                let l = self.expr(a)?;
                let r = self.expr(b)?;
                self.binary(op, l, r, pos)
            }
            ExprKind::Selector(base, name) => self.selector(base, name, pos),
            ExprKind::Index(base, idx) => self.index(base, idx, pos),
            ExprKind::SliceExpr(base, lo, hi, max) => {
                self.slice_expr(base, lo.as_deref(), hi.as_deref(), max.as_deref(), pos)
            }
            ExprKind::Call(f, args, spread) => self.call(f, args, *spread, pos),
            ExprKind::Type(t) => {
                let t = self.resolve_type(t)?;
                Err(err(pos, format!("{t} (type) is not an expression")))
            }
            ExprKind::Composite(t, elems) => self.composite(t, elems, pos, hint),
            ExprKind::FuncLit(sig, body) => self.func_lit(sig, body, pos),
        }
    }

    fn ident(&mut self, n: &str, pos: Pos) -> R<CE> {
        if n == "_" {
            return Err(err(pos, "cannot use _ as value"));
        }
        match self.lookup(n) {
            Some((
                _,
                Sym::Var {
                    level,
                    slot,
                    uid,
                    ty,
                },
            )) => Ok(ce(self.var_expr(level, slot, uid), ty)),
            Some((_, Sym::Const(ty, cv))) => Ok(constant(cv, ty)),
            Some((_, Sym::Data)) => Ok(ce(E::Data, ptr(Ty::MarketData))),
            Some((_, Sym::Nil)) => Ok(ce(E::Zero(Arc::new(Ty::Nil)), Ty::Nil)),
            Some((_, Sym::Type(t))) => Err(err(pos, format!("{t} (type) is not an expression"))),
            Some((_, Sym::Builtin(b))) => {
                Err(err(pos, format!("{b} (built-in function) must be called")))
            }
            Some((_, Sym::Package(p))) => {
                Err(err(pos, format!("use of package {p} without selector")))
            }
            None if n == "iota" => Err(unsupported(pos, "iota")),
            None => Err(err(pos, format!("undefined: {n}"))),
        }
    }

    /// Go's assignability, converting untyped constants to `t` (and checking they fit).
    pub fn convert_to(&mut self, x: CE, t: &Ty, pos: Pos, ctx: &str) -> R<CE> {
        if x.ty == *t {
            return Ok(x);
        }
        if x.ty == Ty::Nil && t.is_nilable() {
            return Ok(CE {
                e: x.e,
                ty: t.clone(),
                cv: None,
                desc: None,
            });
        }
        if x.ty.is_untyped() && t.is_numeric() {
            let cv =
                x.cv.clone()
                    .ok_or_else(|| err(pos, "internal: untyped value without constant"))?;
            let cv = self.represent(cv, &x.ty, t, pos, ctx)?;
            return Ok(constant(cv, t.clone()));
        }
        let what = match &x.cv {
            Some(cv) if x.ty.is_untyped() => format!("{} ({} constant)", show_cv(cv), x.ty),
            Some(cv) => format!("{} (constant of type {})", show_cv(cv), x.ty),
            None => match &x.desc {
                Some((d, true)) => format!("{d} (variable of type {})", x.ty),
                Some((d, false)) => format!("{d} (value of type {})", x.ty),
                None => format!("value of type {}", x.ty),
            },
        };
        Err(err(pos, format!("cannot use {what} as {t} value in {ctx}")))
    }

    /// An untyped constant as a value of numeric type `t`.
    fn represent(&self, cv: CVal, from: &Ty, t: &Ty, pos: Pos, ctx: &str) -> R<CVal> {
        if t.is_float() {
            return Ok(match cv {
                CVal::Int(v) => CVal::Float(v as f64),
                other => other,
            });
        }
        let v = match cv {
            CVal::Int(v) => v,
            CVal::Float(f) => {
                if f.fract() != 0.0 || !f.is_finite() {
                    return Err(err(
                        pos,
                        format!(
                            "cannot use {f} ({from} constant) as {t} value in {ctx} (truncated)"
                        ),
                    ));
                }
                f as i128
            }
            other => {
                return Err(err(
                    pos,
                    format!("cannot use {} as {t} value in {ctx}", show_cv(&other)),
                ))
            }
        };
        let (lo, hi) = int_range(t);
        if v < lo || v > hi {
            return Err(err(
                pos,
                format!("cannot use {v} ({from} constant) as {t} value in {ctx} (overflows)"),
            ));
        }
        Ok(CVal::Int(v))
    }

    pub fn arith_op(&self, op: &str, t: &Ty, pos: Pos) -> R<BinOp> {
        let k = int_kind(t);
        let bad = || {
            err(
                pos,
                format!("invalid operation: operator {op} not defined on value of type {t}"),
            )
        };
        Ok(match op {
            "+" if *t == Ty::String => BinOp::AddS,
            "+" if t.is_float() => BinOp::AddF,
            "-" if t.is_float() => BinOp::SubF,
            "*" if t.is_float() => BinOp::MulF,
            "/" if t.is_float() => BinOp::DivF,
            _ if !t.is_integer() => return Err(bad()),
            "+" => BinOp::AddI(k),
            "-" => BinOp::SubI(k),
            "*" => BinOp::MulI(k),
            "/" => BinOp::DivI(k),
            "%" => BinOp::RemI(k),
            "&" => BinOp::AndI,
            "|" => BinOp::OrI,
            "^" => BinOp::XorI(k),
            "&^" => BinOp::AndNotI,
            "<<" => BinOp::ShlI(k),
            ">>" => BinOp::ShrI(k),
            _ => return Err(bad()),
        })
    }

    pub fn shift_count(&mut self, r: CE, pos: Pos) -> R<CE> {
        if r.ty.is_untyped() {
            let r = self.convert_to(r, &Ty::Int, pos, "shift")?;
            if matches!(r.cv, Some(CVal::Int(v)) if v < 0) {
                return Err(err(pos, "invalid shift count (negative)"));
            }
            return Ok(r);
        }
        if !r.ty.is_integer() {
            return Err(err(pos, format!("invalid shift count of type {}", r.ty)));
        }
        Ok(r)
    }

    pub fn binary(&mut self, op: &str, l: CE, r: CE, pos: Pos) -> R<CE> {
        if op == "&&" || op == "||" {
            if l.ty != Ty::Bool || r.ty != Ty::Bool {
                return Err(err(
                    pos,
                    format!(
                        "invalid operation: operator {op} not defined on {} and {}",
                        l.ty, r.ty
                    ),
                ));
            }
            if let (Some(CVal::Bool(a)), Some(CVal::Bool(b))) = (&l.cv, &r.cv) {
                let v = if op == "&&" { *a && *b } else { *a || *b };
                return Ok(constant(CVal::Bool(v), Ty::Bool));
            }
            let e = if op == "&&" {
                E::And(Box::new(l.e), Box::new(r.e))
            } else {
                E::Or(Box::new(l.e), Box::new(r.e))
            };
            return Ok(ce(e, Ty::Bool));
        }
        if op == "<<" || op == ">>" {
            let r = self.shift_count(r, pos)?;
            let integral_float = l.ty == Ty::UntypedFloat
                && matches!(l.cv, Some(CVal::Float(f)) if f.fract() == 0.0);
            if !l.ty.is_integer() && !integral_float {
                return Err(err(
                    pos,
                    format!(
                        "invalid operation: shifted operand of type {} must be integer",
                        l.ty
                    ),
                ));
            }
            if let (Some(a), Some(CVal::Int(b))) = (&l.cv, &r.cv) {
                let a = match a {
                    CVal::Int(v) => *v,
                    CVal::Float(f) => *f as i128,
                    _ => 0,
                };
                if *b > 126 {
                    return Err(err(pos, "shift count too large"));
                }
                let v = if op == "<<" {
                    a.checked_shl(*b as u32).unwrap_or(0)
                } else {
                    a >> (*b as u32)
                };
                let ty = if l.ty.is_untyped() {
                    Ty::UntypedInt
                } else {
                    l.ty.clone()
                };
                let cv = if ty.is_untyped() {
                    CVal::Int(v)
                } else {
                    self.represent(CVal::Int(v), &Ty::UntypedInt, &ty, pos, "shift")?
                };
                return Ok(constant(cv, ty));
            }
            let l = if l.ty.is_untyped() {
                self.convert_to(l, &Ty::Int, pos, "shift")?
            } else {
                l
            };
            let bop = self.arith_op(op, &l.ty, pos)?;
            return Ok(ce(E::Bin(bop, Box::new(l.e), Box::new(r.e), pos), l.ty));
        }
        let is_cmp = matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=");
        // nil comparisons
        if l.ty == Ty::Nil || r.ty == Ty::Nil {
            let other = if l.ty == Ty::Nil { &r.ty } else { &l.ty };
            if !matches!(op, "==" | "!=") || !other.is_nilable() {
                return Err(err(
                    pos,
                    format!("invalid operation: mismatched types {} and {}", l.ty, r.ty),
                ));
            }
            let c = if op == "==" { CmpOp::Eq } else { CmpOp::Ne };
            return Ok(ce(
                E::Bin(BinOp::Cmp(c), Box::new(l.e), Box::new(r.e), pos),
                Ty::Bool,
            ));
        }
        let (l, r) = match (l.ty.is_untyped(), r.ty.is_untyped()) {
            (true, false) => {
                if !r.ty.is_numeric() {
                    return Err(mismatch(op, &l.ty, &r.ty, pos));
                }
                (self.convert_to(l, &r.ty.clone(), pos, "operation")?, r)
            }
            (false, true) => {
                if !l.ty.is_numeric() {
                    return Err(mismatch(op, &l.ty, &r.ty, pos));
                }
                let t = l.ty.clone();
                (l, self.convert_to(r, &t, pos, "operation")?)
            }
            _ => (l, r),
        };
        let both_untyped = l.ty.is_untyped() && r.ty.is_untyped();
        if !both_untyped && l.ty != r.ty {
            return Err(mismatch(op, &l.ty, &r.ty, pos));
        }
        let ty = if both_untyped {
            if l.ty == Ty::UntypedFloat || r.ty == Ty::UntypedFloat {
                Ty::UntypedFloat
            } else if l.ty == Ty::UntypedRune || r.ty == Ty::UntypedRune {
                Ty::UntypedRune
            } else {
                Ty::UntypedInt
            }
        } else {
            l.ty.clone()
        };
        if matches!(op, "/" | "%") && matches!(r.cv, Some(CVal::Int(0)))
            || (op == "/" && matches!(r.cv, Some(CVal::Float(f)) if f == 0.0))
        {
            return Err(err(pos, "invalid operation: division by zero"));
        }
        if is_cmp {
            if matches!(op, "==" | "!=") && !ty.comparable() {
                return Err(err(
                    pos,
                    format!("invalid operation: {} can only be compared to nil", ty),
                ));
            }
            if !matches!(op, "==" | "!=") && !ty.is_ordered() {
                return Err(err(
                    pos,
                    format!("invalid operation: operator {op} not defined on value of type {ty}"),
                ));
            }
        }
        if let (Some(a), Some(b)) = (&l.cv, &r.cv) {
            return self.fold(op, a.clone(), b.clone(), ty, pos);
        }
        if is_cmp {
            let c = match op {
                "==" => CmpOp::Eq,
                "!=" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                _ => CmpOp::Ge,
            };
            let bop = if ty.is_float() {
                BinOp::CmpF(c)
            } else if ty.is_integer() {
                BinOp::CmpI(c)
            } else {
                BinOp::Cmp(c)
            };
            return Ok(ce(E::Bin(bop, Box::new(l.e), Box::new(r.e), pos), Ty::Bool));
        }
        let bop = self.arith_op(op, &ty, pos)?;
        Ok(ce(E::Bin(bop, Box::new(l.e), Box::new(r.e), pos), ty))
    }

    fn fold(&self, op: &str, a: CVal, b: CVal, ty: Ty, pos: Pos) -> R<CE> {
        use std::cmp::Ordering;
        let cmp = |o: Ordering| -> Option<bool> {
            Some(match op {
                "==" => o == Ordering::Equal,
                "!=" => o != Ordering::Equal,
                "<" => o == Ordering::Less,
                "<=" => o != Ordering::Greater,
                ">" => o == Ordering::Greater,
                ">=" => o != Ordering::Less,
                _ => return None,
            })
        };
        let bad = || {
            err(
                pos,
                format!("invalid operation: operator {op} not defined on constant of type {ty}"),
            )
        };
        let as_f = |c: &CVal| match c {
            CVal::Int(v) => *v as f64,
            CVal::Float(f) => *f,
            _ => 0.0,
        };
        let int_result = ty.is_integer();
        match (&a, &b) {
            (CVal::Str(x), CVal::Str(y)) => {
                if op == "+" {
                    return Ok(constant(
                        CVal::Str(Arc::from(format!("{x}{y}").as_str())),
                        ty,
                    ));
                }
                cmp(x.cmp(y))
                    .map(|v| constant(CVal::Bool(v), Ty::Bool))
                    .ok_or_else(bad)
            }
            (CVal::Bool(x), CVal::Bool(y)) => match op {
                "==" => Ok(constant(CVal::Bool(x == y), Ty::Bool)),
                "!=" => Ok(constant(CVal::Bool(x != y), Ty::Bool)),
                _ => Err(bad()),
            },
            (CVal::Int(x), CVal::Int(y)) if int_result => {
                if let Some(v) = cmp(x.cmp(y)) {
                    return Ok(constant(CVal::Bool(v), Ty::Bool));
                }
                let (x, y) = (*x, *y);
                let v = match op {
                    "+" => x.checked_add(y),
                    "-" => x.checked_sub(y),
                    "*" => x.checked_mul(y),
                    "/" => x.checked_div(y),
                    "%" => x.checked_rem(y),
                    "&" => Some(x & y),
                    "|" => Some(x | y),
                    "^" => Some(x ^ y),
                    "&^" => Some(x & !y),
                    _ => return Err(bad()),
                }
                .ok_or_else(|| err(pos, "constant overflow"))?;
                let cv = if ty.is_untyped() {
                    if v.unsigned_abs() > (1u128 << 100) {
                        return Err(err(pos, "constant overflow"));
                    }
                    CVal::Int(v)
                } else {
                    let (lo, hi) = int_range(&ty);
                    if v < lo || v > hi {
                        return Err(err(pos, format!("constant {v} overflows {ty}")));
                    }
                    CVal::Int(v)
                };
                Ok(constant(cv, ty))
            }
            _ => {
                let (x, y) = (as_f(&a), as_f(&b));
                if let Some(v) = x.partial_cmp(&y).and_then(cmp) {
                    return Ok(constant(CVal::Bool(v), Ty::Bool));
                }
                let v = match op {
                    "+" => x + y,
                    "-" => x - y,
                    "*" => x * y,
                    "/" => x / y,
                    _ => return Err(bad()),
                };
                if !v.is_finite() {
                    return Err(err(pos, "constant overflow"));
                }
                if int_result {
                    return Ok(constant(CVal::Int(v as i128), ty));
                }
                Ok(constant(CVal::Float(v), ty))
            }
        }
    }

    fn unary(&mut self, op: &str, x: &Expr, pos: Pos) -> R<CE> {
        if op == "&" {
            return self.addr_of(x, pos);
        }
        let v = self.expr(x)?;
        match op {
            "*" => match &v.ty {
                Ty::Ptr(t) => {
                    let t = (**t).clone();
                    if t == Ty::MarketData {
                        return Err(unsupported(pos, "dereferencing data (use data.Field)"));
                    }
                    Ok(ce(E::Deref(Box::new(v.e), pos), t))
                }
                Ty::Nil => Err(err(pos, "invalid operation: cannot indirect nil")),
                t => Err(err(
                    pos,
                    format!(
                        "invalid operation: cannot indirect {} (variable of type {t})",
                        describe(x)
                    ),
                )),
            },
            "-" | "+" => {
                if !v.ty.is_numeric() {
                    return Err(err(
                        pos,
                        format!(
                            "invalid operation: operator {op} not defined on {} (type {})",
                            describe(x),
                            v.ty
                        ),
                    ));
                }
                if op == "+" {
                    return Ok(v);
                }
                match &v.cv {
                    Some(CVal::Int(i)) => {
                        let t = v.ty.clone();
                        let cv = if t.is_untyped() {
                            CVal::Int(-i)
                        } else {
                            self.represent(CVal::Int(-i), &Ty::UntypedInt, &t, pos, "negation")?
                        };
                        Ok(constant(cv, t))
                    }
                    Some(CVal::Float(f)) => Ok(constant(CVal::Float(-f), v.ty)),
                    _ if v.ty.is_float() => Ok(ce(E::Unary(UnOp::NegF, Box::new(v.e)), v.ty)),
                    _ => {
                        let k = int_kind(&v.ty);
                        Ok(ce(E::Unary(UnOp::NegI(k), Box::new(v.e)), v.ty))
                    }
                }
            }
            "!" => {
                if v.ty != Ty::Bool {
                    return Err(err(
                        pos,
                        format!(
                            "invalid operation: operator ! not defined on {} (type {})",
                            describe(x),
                            v.ty
                        ),
                    ));
                }
                if let Some(CVal::Bool(b)) = v.cv {
                    return Ok(constant(CVal::Bool(!b), Ty::Bool));
                }
                Ok(ce(E::Unary(UnOp::Not, Box::new(v.e)), Ty::Bool))
            }
            _ => {
                if !v.ty.is_integer() {
                    return Err(err(
                        pos,
                        format!(
                            "invalid operation: operator ^ not defined on {} (type {})",
                            describe(x),
                            v.ty
                        ),
                    ));
                }
                if let Some(CVal::Int(i)) = v.cv {
                    return Ok(constant(CVal::Int(!i), v.ty));
                }
                let k = int_kind(&v.ty);
                Ok(ce(E::Unary(UnOp::ComplI(k), Box::new(v.e)), v.ty))
            }
        }
    }

    fn addr_of(&mut self, x: &Expr, pos: Pos) -> R<CE> {
        let x = strip_paren(x);
        match &x.kind {
            ExprKind::Ident(_) => {
                let (p, t) = self.place(x)?;
                if matches!(p, P::Blank) {
                    return Err(err(pos, "cannot use _ as value"));
                }
                Ok(ce(E::AddrOf(Box::new(p)), ptr(t)))
            }
            ExprKind::Composite(..) => {
                let v = self.expr(x)?;
                Ok(ce(E::AddrOfValue(Box::new(v.e)), ptr(v.ty)))
            }
            _ => Err(unsupported(
                pos,
                "taking the address of a slice element or field (copy it into a variable first)",
            )),
        }
    }

    fn selector(&mut self, base: &Expr, name: &str, pos: Pos) -> R<CE> {
        if let ExprKind::Ident(pkg) = &base.kind {
            match self.lookup(pkg) {
                Some((_, Sym::Package("math"))) => {
                    return match math_const(name) {
                        Some((cv, ty)) => Ok(constant(cv, ty)),
                        None if crate::ccall::math_fn(name).is_some() => {
                            Err(err(pos, format!("math.{name} (func) must be called")))
                        }
                        None => Err(err(pos, format!("undefined: math.{name}"))),
                    };
                }
                Some((_, Sym::Package(p))) => {
                    return Err(err(
                        pos,
                        format!("{p}.{name} must be called or used as a type"),
                    ));
                }
                None if std_package(pkg) => {
                    return Err(err(base.pos, format!("unsupported package: {pkg}")))
                }
                _ => {}
            }
        }
        let b = self.expr(base)?;
        self.field_of(b, name, base, pos)
    }

    pub fn field_of(&mut self, b: CE, name: &str, base: &Expr, pos: Pos) -> R<CE> {
        let (inner, deref) = match &b.ty {
            Ty::Ptr(t) => ((**t).clone(), true),
            t => (t.clone(), false),
        };
        let no_field = || {
            err(
                pos,
                format!(
                    "{}.{name} undefined (type {} has no field or method {name})",
                    describe(base),
                    b.ty
                ),
            )
        };
        match &inner {
            Ty::Struct(st) => {
                let i = st.fields.iter().position(|(n, _)| n == name).ok_or_else(no_field)?;
                let t = st.fields[i].1.clone();
                Ok(ce(E::Field(Box::new(b.e), FieldRef::Struct(i as u16), deref, pos), t))
            }
            Ty::Kline => {
                let i = KLINE_FIELDS.iter().position(|(n, _)| *n == name).ok_or_else(no_field)?;
                let t = KLINE_FIELDS[i].1.ty();
                // klines[i].Close reads the field in place.
                if !deref {
                    if let E::Index(s, idx, p) = b.e {
                        return Ok(ce(E::KlineAt(s, idx, i as u8, p), t));
                    }
                }
                Ok(ce(E::Field(Box::new(b.e), FieldRef::Kline(i as u8), deref, pos), t))
            }
            Ty::MarketData => {
                let (f, t) = match name {
                    "Symbol" => (DataField::Symbol, Ty::String),
                    "Ticker" => (DataField::Ticker, ptr(ticker())),
                    "Klines" => (DataField::Klines, Ty::Map(Arc::new(Ty::String), Arc::new(slice(Ty::Kline)))),
                    "Timestamp" => (DataField::Timestamp, Ty::Time),
                    _ => return Err(no_field()),
                };
                Ok(ce(E::Field(Box::new(b.e), FieldRef::Data(f), deref, pos), t))
            }
            Ty::Time => Err(err(pos, format!("{}.{name} must be called (time.Time methods: Unix, UnixMilli, Year, Month, Day, Hour, Minute, Second, Weekday, YearDay)", describe(base)))),
            _ => Err(no_field()),
        }
    }

    fn int_index(&mut self, idx: &Expr, what: &str) -> R<CE> {
        let i = self.expr(idx)?;
        let i = if i.ty.is_untyped() {
            self.convert_to(i, &Ty::Int, idx.pos, what)?
        } else {
            i
        };
        if !i.ty.is_integer() {
            return Err(err(
                idx.pos,
                format!(
                    "invalid argument: {what} {} (variable of type {}) must be integer",
                    describe(idx),
                    i.ty
                ),
            ));
        }
        if let Some(CVal::Int(v)) = i.cv {
            if v < 0 {
                return Err(err(
                    idx.pos,
                    format!(
                        "invalid argument: {what} {v} (constant of type int) must not be negative"
                    ),
                ));
            }
        }
        Ok(i)
    }

    fn index(&mut self, base: &Expr, idx: &Expr, pos: Pos) -> R<CE> {
        let b = self.expr(base)?;
        match &b.ty {
            Ty::Slice(et) => {
                let et = (**et).clone();
                let i = self.int_index(idx, "index")?;
                Ok(ce(E::Index(Box::new(b.e), Box::new(i.e), pos), et))
            }
            Ty::String => {
                let i = self.int_index(idx, "index")?;
                if let (Some(CVal::Str(s)), Some(CVal::Int(v))) = (&b.cv, &i.cv) {
                    let byte = s.as_bytes().get(*v as usize).ok_or_else(|| {
                        err(
                            pos,
                            format!("invalid argument: index {v} out of bounds [0:{}]", s.len()),
                        )
                    })?;
                    return Ok(constant(CVal::Int(*byte as i128), Ty::Uint8));
                }
                Ok(ce(
                    E::IndexStr(Box::new(b.e), Box::new(i.e), pos),
                    Ty::Uint8,
                ))
            }
            Ty::Map(kt, vt) => {
                let (kt, vt) = (kt.clone(), vt.clone());
                let k = self.expr(idx)?;
                let k = self.convert_to(k, &kt, idx.pos, "map index")?;
                if let E::Field(d, FieldRef::Data(DataField::Klines), _, _) = b.e {
                    if let Some(CVal::Str(s)) = &k.cv {
                        self.timeframes.insert(s.to_string());
                    }
                    return Ok(ce(E::KlinesOf(d, Box::new(k.e), pos), (*vt).clone()));
                }
                Ok(ce(
                    E::IndexMap(Box::new(b.e), Box::new(k.e), vt.clone()),
                    (*vt).clone(),
                ))
            }
            t => Err(err(
                pos,
                format!(
                    "invalid operation: cannot index {} (variable of type {t})",
                    describe(base)
                ),
            )),
        }
    }

    fn slice_expr(
        &mut self,
        base: &Expr,
        lo: Option<&Expr>,
        hi: Option<&Expr>,
        max: Option<&Expr>,
        pos: Pos,
    ) -> R<CE> {
        let b = self.expr(base)?;
        let idx = |c: &mut Compiler, x: Option<&Expr>| -> R<Option<Box<E>>> {
            match x {
                Some(x) => Ok(Some(Box::new(c.int_index(x, "index")?.e))),
                None => Ok(None),
            }
        };
        let l = idx(self, lo)?;
        let h = idx(self, hi)?;
        let m = idx(self, max)?;
        match &b.ty {
            Ty::Slice(_) => Ok(ce(E::SliceOf(Box::new(b.e), l, h, m, pos), b.ty)),
            Ty::String => {
                if m.is_some() {
                    return Err(err(pos, "invalid operation: 3-index slice of string"));
                }
                Ok(ce(E::SliceStr(Box::new(b.e), l, h, pos), Ty::String))
            }
            t => Err(err(
                pos,
                format!("cannot slice {} (variable of type {t})", describe(base)),
            )),
        }
    }

    fn composite(
        &mut self,
        t: &TypeExpr,
        elems: &[(Option<Expr>, Expr)],
        pos: Pos,
        hint: Option<&Ty>,
    ) -> R<CE> {
        let ty = match t {
            TypeExpr::Name(n, _) if n.is_empty() => hint
                .cloned()
                .ok_or_else(|| err(pos, "invalid composite literal: missing type"))?,
            t => self.resolve_type(t)?,
        };
        match &ty {
            Ty::Slice(et) => {
                let mut es = Vec::new();
                for (k, v) in elems {
                    if k.is_some() {
                        return Err(unsupported(pos, "indexed slice literal"));
                    }
                    let x = self.expr_hint(v, Some(et))?;
                    es.push(self.convert_to(x, et, v.pos, "slice literal")?.e);
                }
                Ok(ce(E::SliceLit(arr_kind(et), es), ty.clone()))
            }
            Ty::Map(kt, vt) => {
                let mut es = Vec::new();
                for (k, v) in elems {
                    let k = k
                        .as_ref()
                        .ok_or_else(|| err(v.pos, "missing key in map literal"))?;
                    let kx = self.expr_hint(k, Some(kt))?;
                    let kx = self.convert_to(kx, kt, k.pos, "map literal")?;
                    let vx = self.expr_hint(v, Some(vt))?;
                    let vx = self.convert_to(vx, vt, v.pos, "map literal")?;
                    es.push((kx.e, vx.e));
                }
                Ok(ce(E::MapLit(es), ty.clone()))
            }
            Ty::Struct(st) => {
                let keyed = elems.iter().filter(|(k, _)| k.is_some()).count();
                if keyed != 0 && keyed != elems.len() {
                    return Err(err(
                        pos,
                        "mixture of field:value and value elements in struct literal",
                    ));
                }
                let mut fields: Vec<Option<E>> = vec![None; st.fields.len()];
                if keyed == 0 && !elems.is_empty() {
                    if elems.len() != st.fields.len() {
                        return Err(err(
                            pos,
                            format!(
                                "too {} values in struct literal of type {ty}",
                                if elems.len() < st.fields.len() {
                                    "few"
                                } else {
                                    "many"
                                }
                            ),
                        ));
                    }
                    for (i, (_, v)) in elems.iter().enumerate() {
                        let ft = st.fields[i].1.clone();
                        let x = self.expr_hint(v, Some(&ft))?;
                        fields[i] = Some(self.convert_to(x, &ft, v.pos, "struct literal")?.e);
                    }
                } else {
                    for (k, v) in elems {
                        let name = match k.as_ref().map(|k| &k.kind) {
                            Some(ExprKind::Ident(n)) => n,
                            _ => return Err(err(v.pos, "invalid field name in struct literal")),
                        };
                        let i = st
                            .fields
                            .iter()
                            .position(|(n, _)| n == name)
                            .ok_or_else(|| {
                                err(
                                    v.pos,
                                    format!("unknown field {name} in struct literal of type {ty}"),
                                )
                            })?;
                        let ft = st.fields[i].1.clone();
                        let x = self.expr_hint(v, Some(&ft))?;
                        fields[i] = Some(self.convert_to(x, &ft, v.pos, "struct literal")?.e);
                    }
                }
                let es = fields
                    .into_iter()
                    .zip(st.fields.iter())
                    .map(|(e, (_, t))| e.unwrap_or_else(|| E::Zero(Arc::new(t.clone()))))
                    .collect();
                Ok(ce(E::StructLit(es), ty.clone()))
            }
            Ty::Kline => {
                let mut es = Vec::new();
                for (k, v) in elems {
                    let name = match k.as_ref().map(|k| &k.kind) {
                        Some(ExprKind::Ident(n)) => n,
                        _ => {
                            return Err(unsupported(
                                v.pos,
                                "positional types.Kline literal (name the fields)",
                            ))
                        }
                    };
                    let i = KLINE_FIELDS
                        .iter()
                        .position(|(n, _)| n == name)
                        .ok_or_else(|| {
                            err(
                                v.pos,
                                format!(
                                    "unknown field {name} in struct literal of type types.Kline"
                                ),
                            )
                        })?;
                    if KLINE_DERIVED.contains(&(i as u8)) {
                        return Err(unsupported(v.pos, &format!("setting types.Kline.{name} (it is derived from Volume and BuyVolume)")));
                    }
                    let x = self.expr(v)?;
                    es.push((
                        i as u8,
                        self.convert_to(x, &KLINE_FIELDS[i].1.ty(), v.pos, "struct literal")?
                            .e,
                    ));
                }
                Ok(ce(E::KlineLit(es), Ty::Kline))
            }
            t => Err(unsupported(pos, &format!("composite literal of type {t}"))),
        }
    }

    fn func_lit(&mut self, sig: &FuncSig, body: &[Stmt], pos: Pos) -> R<CE> {
        let fty = self.resolve_type(&TypeExpr::Func(Box::new(sig.clone())))?;
        let Ty::Func(ft) = &fty else {
            return Err(err(pos, "internal: function type"));
        };
        let idx = self.funcs.len() as u32;
        self.funcs.push(None);
        self.fns.push(FnCtx {
            n_slots: 0,
            captures: Vec::new(),
            results: ft.results.clone(),
            breakables: Vec::new(),
        });
        self.push_scope();
        for ((n, _), t) in sig.params.iter().zip(&ft.params) {
            self.declare_var(n, t.clone());
        }
        let code = self.stmts_pub(body);
        self.pop_scope();
        let f = self.fns.pop();
        let code = code?;
        if !ft.results.is_empty() && !terminates(body) {
            return Err(err(pos, "missing return"));
        }
        let f = f.ok_or_else(|| err(pos, "internal: function context"))?;
        self.funcs[idx as usize] = Some(Func {
            n_slots: f.n_slots,
            n_params: ft.params.len() as u32,
            body: code,
        });
        Ok(ce(
            E::FuncLit(idx, f.captures.into_iter().map(|(_, s)| s).collect()),
            fty,
        ))
    }

    /// An assignable place and its type.
    pub fn place(&mut self, e: &Expr) -> R<(P, Ty)> {
        let pos = e.pos;
        match &e.kind {
            ExprKind::Paren(inner) => self.place(inner),
            ExprKind::Ident(n) if n == "_" => Ok((P::Blank, Ty::Nil)),
            ExprKind::Ident(n) => match self.lookup(n) {
                Some((
                    _,
                    Sym::Var {
                        level,
                        slot,
                        uid,
                        ty,
                    },
                )) => Ok((self.var_place(level, slot, uid), ty)),
                Some((_, Sym::Data)) => Err(unsupported(pos, "assigning to data")),
                Some(_) => Err(err(
                    pos,
                    format!(
                        "cannot assign to {n} (neither addressable nor a map index expression)"
                    ),
                )),
                None => Err(err(pos, format!("undefined: {n}"))),
            },
            ExprKind::Index(base, idx) => {
                let b = self.expr(base)?;
                match &b.ty {
                    Ty::Slice(et) => {
                        let et = (**et).clone();
                        let i = self.int_index(idx, "index")?;
                        Ok((P::Index(b.e, i.e, pos), et))
                    }
                    Ty::Map(kt, vt) => {
                        if let E::Field(_, FieldRef::Data(DataField::Klines), ..) = b.e {
                            return Err(unsupported(pos, "assigning to data.Klines"));
                        }
                        let (kt, vt) = (kt.clone(), vt.clone());
                        let k = self.expr(idx)?;
                        let k = self.convert_to(k, &kt, idx.pos, "map index")?;
                        Ok((P::Map(b.e, k.e, vt.clone(), pos), (*vt).clone()))
                    }
                    Ty::String => Err(err(
                        pos,
                        format!(
                            "cannot assign to {} (neither addressable nor a map index expression)",
                            describe(e)
                        ),
                    )),
                    t => Err(err(
                        pos,
                        format!(
                            "invalid operation: cannot index {} (variable of type {t})",
                            describe(base)
                        ),
                    )),
                }
            }
            ExprKind::Selector(base, name) => {
                let b = self.expr(base)?;
                let fe = self.field_of(b.clone(), name, base, pos)?;
                let field = match fe.e {
                    E::Field(_, f, _, _) => f,
                    E::KlineAt(_, _, f, _) => FieldRef::Kline(f),
                    _ => return Err(err(pos, format!("cannot assign to {}", describe(e)))),
                };
                match field {
                    FieldRef::Data(_) => return Err(unsupported(pos, "assigning to data fields")),
                    FieldRef::Kline(f) if KLINE_DERIVED.contains(&f) => {
                        return Err(unsupported(pos, &format!("assigning to types.Kline.{name} (it is derived from Volume and BuyVolume)")))
                    }
                    _ => {}
                }
                if let Ty::Ptr(_) = b.ty {
                    return Ok((P::PtrField(b.e, field, pos), fe.ty));
                }
                let inner = strip_paren(base);
                if let ExprKind::Index(mb, _) = &inner.kind {
                    let m = self.expr(mb)?;
                    if let Ty::Map(..) = m.ty {
                        return Err(err(
                            pos,
                            format!("cannot assign to struct field {} in map", describe(e)),
                        ));
                    }
                }
                if matches!(inner.kind, ExprKind::Call(..)) {
                    return Err(err(
                        pos,
                        format!(
                            "cannot assign to {} (neither addressable nor a map index expression)",
                            describe(e)
                        ),
                    ));
                }
                let (bp, _) = self.place(base)?;
                Ok((P::Field(Box::new(bp), field), fe.ty))
            }
            ExprKind::Unary("*", x) => {
                let v = self.expr(x)?;
                match &v.ty {
                    Ty::Ptr(t) => Ok((P::Deref(v.e, pos), (**t).clone())),
                    t => Err(err(
                        pos,
                        format!(
                            "invalid operation: cannot indirect {} (variable of type {t})",
                            describe(x)
                        ),
                    )),
                }
            }
            _ => Err(err(
                pos,
                format!(
                    "cannot assign to {} (neither addressable nor a map index expression)",
                    describe(e)
                ),
            )),
        }
    }

    pub fn stmts_pub(&mut self, body: &[Stmt]) -> R<Vec<S>> {
        let mut out = Vec::new();
        for s in body {
            self.stmt_pub(s, &mut out)?;
        }
        Ok(out)
    }
}

fn mismatch(op: &str, a: &Ty, b: &Ty, pos: Pos) -> filter_core::CompileError {
    err(
        pos,
        format!("invalid operation: operator {op} (mismatched types {a} and {b})"),
    )
}

fn math_const(name: &str) -> Option<(CVal, Ty)> {
    let f = |v: f64| Some((CVal::Float(v), Ty::UntypedFloat));
    let i = |v: i128| Some((CVal::Int(v), Ty::UntypedInt));
    match name {
        "Pi" => f(std::f64::consts::PI),
        "E" => f(std::f64::consts::E),
        "Phi" => f(1.618_033_988_749_895),
        "Sqrt2" => f(std::f64::consts::SQRT_2),
        "SqrtE" => f(1.648_721_270_700_128_2),
        "SqrtPi" => f(1.772_453_850_905_516),
        "SqrtPhi" => f(1.272_019_649_514_069),
        "Ln2" => f(std::f64::consts::LN_2),
        "Log2E" => f(std::f64::consts::LOG2_E),
        "Ln10" => f(std::f64::consts::LN_10),
        "Log10E" => f(std::f64::consts::LOG10_E),
        "MaxFloat64" => f(f64::MAX),
        "SmallestNonzeroFloat64" => f(f64::from_bits(1)),
        "MaxFloat32" => f(f32::MAX as f64),
        "MaxInt" | "MaxInt64" => i(i64::MAX as i128),
        "MinInt" | "MinInt64" => i(i64::MIN as i128),
        "MaxInt32" => i(i32::MAX as i128),
        "MinInt32" => i(i32::MIN as i128),
        "MaxInt16" => i(i16::MAX as i128),
        "MinInt16" => i(i16::MIN as i128),
        "MaxInt8" => i(i8::MAX as i128),
        "MinInt8" => i(i8::MIN as i128),
        "MaxUint8" => i(255),
        "MaxUint16" => i(65535),
        "MaxUint32" => i(u32::MAX as i128),
        "MaxUint64" | "MaxUint" => i(u64::MAX as i128),
        _ => None,
    }
}
