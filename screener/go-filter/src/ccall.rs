//! Checking calls: closures, Go builtins, conversions, `math`, `indicators` and `time.Time` methods.

use crate::ast::{Expr, ExprKind, TypeExpr};
use crate::cexpr::{ce, constant, int_kind};
use crate::compile::*;
use crate::ir::*;
use crate::lexer::{err, Pos};
use crate::parser::unsupported;
use crate::types::*;
use std::sync::Arc;

pub fn math_fn(name: &str) -> Option<(MathFn, &'static [Ty], Ty)> {
    use MathFn::*;
    const F: Ty = Ty::Float64;
    const F1: &[Ty] = &[F];
    const F2: &[Ty] = &[F, F];
    Some(match name {
        "Abs" => (Abs, F1, F),
        "Max" => (Max, F2, F),
        "Min" => (Min, F2, F),
        "Sqrt" => (Sqrt, F1, F),
        "Cbrt" => (Cbrt, F1, F),
        "Pow" => (Pow, F2, F),
        "Floor" => (Floor, F1, F),
        "Ceil" => (Ceil, F1, F),
        "Round" => (Round, F1, F),
        "RoundToEven" => (RoundToEven, F1, F),
        "Trunc" => (Trunc, F1, F),
        "Log" => (Log, F1, F),
        "Log10" => (Log10, F1, F),
        "Log2" => (Log2, F1, F),
        "Log1p" => (Log1p, F1, F),
        "Exp" => (Exp, F1, F),
        "Expm1" => (Expm1, F1, F),
        "Inf" => (Inf, &[Ty::Int], F),
        "IsNaN" => (IsNaN, F1, Ty::Bool),
        "IsInf" => (IsInf, &[F, Ty::Int], Ty::Bool),
        "NaN" => (NaN, &[], F),
        "Mod" => (Mod, F2, F),
        "Hypot" => (Hypot, F2, F),
        "Sin" => (Sin, F1, F),
        "Cos" => (Cos, F1, F),
        "Tan" => (Tan, F1, F),
        "Asin" => (Asin, F1, F),
        "Acos" => (Acos, F1, F),
        "Atan" => (Atan, F1, F),
        "Atan2" => (Atan2, F2, F),
        "Sinh" => (Sinh, F1, F),
        "Cosh" => (Cosh, F1, F),
        "Tanh" => (Tanh, F1, F),
        "Signbit" => (Signbit, F1, Ty::Bool),
        "Copysign" => (Copysign, F2, F),
        "Dim" => (Dim, F2, F),
        _ => return None,
    })
}

fn indicator(name: &str) -> Option<(Ind, Vec<Ty>, Ty)> {
    use Ind::*;
    let k = slice(Ty::Kline);
    let i = Ty::Int;
    let pf = ptr(Ty::Float64);
    Some(match name {
        "CalculateMA" => (CalculateMA, vec![k, i], pf),
        "CalculateMASeries" => (CalculateMASeries, vec![k, i], slice(Ty::Float64)),
        "CalculateEMA" => (CalculateEMA, vec![k, i], pf),
        "CalculateEMASeries" => (CalculateEMASeries, vec![k, i], slice(Ty::Float64)),
        "CalculateRSI" => (CalculateRSI, vec![k, i], ptr(rsi_result())),
        "GetLatestRSI" => (GetLatestRSI, vec![k, i], pf),
        "CalculateMACD" => (
            CalculateMACD,
            vec![k, i.clone(), i.clone(), i],
            ptr(macd_result()),
        ),
        "GetLatestMACD" => (
            GetLatestMACD,
            vec![k, i.clone(), i.clone(), i],
            ptr(macd_latest()),
        ),
        "CalculateBollingerBands" => (
            CalculateBollingerBands,
            vec![k, i, Ty::Float64],
            ptr(bb_result()),
        ),
        "GetLatestBollingerBands" => (
            GetLatestBollingerBands,
            vec![k, i, Ty::Float64],
            ptr(bb_latest()),
        ),
        "CalculateAvgVolume" => (CalculateAvgVolume, vec![k, i], pf),
        "CalculateVWAP" => (CalculateVWAP, vec![k], Ty::Float64),
        "GetHighestHigh" => (GetHighestHigh, vec![k, i], pf),
        "GetLowestLow" => (GetLowestLow, vec![k, i], pf),
        "CalculateStochastic" => (
            CalculateStochastic,
            vec![k, i.clone(), i],
            ptr(stoch_result()),
        ),
        "DetectEngulfingPattern" => (DetectEngulfingPattern, vec![k], Ty::String),
        _ => return None,
    })
}

fn time_fn(name: &str) -> Option<(TimeFn, Ty)> {
    Some(match name {
        "Unix" => (TimeFn::Unix, Ty::Int64),
        "UnixMilli" => (TimeFn::UnixMilli, Ty::Int64),
        "Year" => (TimeFn::Year, Ty::Int),
        "Month" => (TimeFn::Month, Ty::Int),
        "Day" => (TimeFn::Day, Ty::Int),
        "Hour" => (TimeFn::Hour, Ty::Int),
        "Minute" => (TimeFn::Minute, Ty::Int),
        "Second" => (TimeFn::Second, Ty::Int),
        "Weekday" => (TimeFn::Weekday, Ty::Int),
        "YearDay" => (TimeFn::YearDay, Ty::Int),
        _ => return None,
    })
}

impl Compiler {
    fn args_to(&mut self, args: &[Expr], params: &[Ty], what: &str, pos: Pos) -> R<Vec<E>> {
        if args.len() != params.len() {
            return Err(err(
                pos,
                format!(
                    "{} arguments in call to {what}\n\thave {} want {}",
                    if args.len() < params.len() {
                        "not enough"
                    } else {
                        "too many"
                    },
                    args.len(),
                    params.len()
                ),
            ));
        }
        let mut out = Vec::new();
        for (a, t) in args.iter().zip(params) {
            let x = self.expr(a)?;
            if let Ty::Tuple(_) = x.ty {
                return Err(unsupported(
                    a.pos,
                    "passing a multi-value call as arguments",
                ));
            }
            out.push(
                self.convert_to(x, t, a.pos, &format!("argument to {what}"))?
                    .e,
            );
        }
        Ok(out)
    }

    pub fn call(&mut self, f: &Expr, args: &[Expr], spread: bool, pos: Pos) -> R<CE> {
        let f = strip_paren(f);
        match &f.kind {
            ExprKind::Ident(n) => match self.lookup(n) {
                Some((_, Sym::Builtin(b))) => return self.builtin(b, args, spread, pos),
                Some((_, Sym::Type(t))) => return self.conversion(t, args, pos),
                _ => {}
            },
            ExprKind::Type(t) => {
                let t = self.resolve_type(t)?;
                return self.conversion(t, args, pos);
            }
            ExprKind::Selector(base, name) => {
                if let ExprKind::Ident(pkg) = &base.kind {
                    match self.lookup(pkg) {
                        Some((_, Sym::Package("math"))) => {
                            let (m, params, res) = math_fn(name)
                                .ok_or_else(|| err(f.pos, format!("undefined: math.{name}")))?;
                            let es = self.args_to(args, params, &format!("math.{name}"), pos)?;
                            return Ok(ce(E::Builtin(Builtin::Math(m), es, pos), res));
                        }
                        Some((_, Sym::Package("indicators"))) => {
                            let (ind, params, res) = indicator(name).ok_or_else(|| {
                                err(f.pos, format!("undefined: indicators.{name}"))
                            })?;
                            let es =
                                self.args_to(args, &params, &format!("indicators.{name}"), pos)?;
                            return Ok(ce(E::Indicator(ind, es, pos), res));
                        }
                        Some((_, Sym::Package(p))) => {
                            let t = self.resolve_type(&TypeExpr::Qualified(
                                p.to_string(),
                                name.clone(),
                                f.pos,
                            ))?;
                            return self.conversion(t, args, pos);
                        }
                        None if std_package(pkg) => {
                            return Err(err(base.pos, format!("unsupported package: {pkg}")))
                        }
                        _ => {}
                    }
                }
                let b = self.expr(base)?;
                if b.ty == Ty::Time {
                    let (tf, res) = time_fn(name).ok_or_else(|| {
                        err(f.pos, format!("unsupported: time.Time method {name}"))
                    })?;
                    if !args.is_empty() {
                        return Err(err(
                            pos,
                            format!("too many arguments in call to {}.{name}", describe(base)),
                        ));
                    }
                    return Ok(ce(E::Builtin(Builtin::Time(tf), vec![b.e], pos), res));
                }
                let fv = self.field_of(b, name, base, f.pos)?;
                return self.call_value(fv, args, spread, pos, f);
            }
            _ => {}
        }
        let fv = self.expr(f)?;
        self.call_value(fv, args, spread, pos, f)
    }

    fn call_value(&mut self, fv: CE, args: &[Expr], spread: bool, pos: Pos, f: &Expr) -> R<CE> {
        let Ty::Func(ft) = &fv.ty else {
            return Err(err(
                pos,
                format!(
                    "invalid operation: cannot call non-function {} (variable of type {})",
                    describe(f),
                    fv.ty
                ),
            ));
        };
        if spread {
            return Err(unsupported(pos, "variadic call"));
        }
        let ft = ft.clone();
        let es = self.args_to(args, &ft.params, &describe(f), pos)?;
        let ty = match ft.results.len() {
            0 => Ty::Void,
            1 => ft.results[0].clone(),
            _ => Ty::Tuple(Arc::new(ft.results.clone())),
        };
        Ok(ce(E::Call(Box::new(fv.e), es, pos), ty))
    }

    fn conversion(&mut self, t: Ty, args: &[Expr], pos: Pos) -> R<CE> {
        if args.len() != 1 {
            return Err(err(
                pos,
                format!("wrong argument count in conversion to {t}"),
            ));
        }
        let x = self.expr(&args[0])?;
        if x.ty == t {
            return Ok(x);
        }
        if let Some(cv) = x.cv.clone() {
            if t.is_numeric() && x.ty.is_numeric() {
                // Constant conversions must be exact for integers (float64(3), int(2.0)).
                let v = match (&cv, t.is_integer()) {
                    (CVal::Float(f), true) => {
                        if f.fract() != 0.0 {
                            return Err(err(pos, format!("cannot convert {f} (untyped float constant) to type {t} (truncated)")));
                        }
                        CVal::Int(*f as i128)
                    }
                    (CVal::Int(i), false) => CVal::Float(*i as f64),
                    (c, _) => c.clone(),
                };
                let tmp = constant(
                    v,
                    if t.is_integer() {
                        Ty::UntypedInt
                    } else {
                        Ty::UntypedFloat
                    },
                );
                return self.convert_to(tmp, &t, pos, "conversion");
            }
        }
        let conv = match (&x.ty, &t) {
            (a, b) if a.is_integer() && b.is_float() => Conv::IntToFloat,
            (a, b) if a.is_float() && b.is_integer() => Conv::FloatToInt(int_kind(b)),
            (a, b) if a.is_integer() && b.is_integer() => Conv::IntToInt(int_kind(b)),
            (a, b) if a.is_float() && b.is_float() => Conv::Identity,
            (a, Ty::String) if a.is_integer() => Conv::RuneToString,
            (Ty::Nil, b) if b.is_nilable() => return self.convert_to(x, &t, pos, "conversion"),
            (a, b) if a == b => Conv::Identity,
            _ => {
                return Err(err(
                    pos,
                    format!(
                        "cannot convert {} (variable of type {}) to type {t}",
                        describe(&args[0]),
                        x.ty
                    ),
                ))
            }
        };
        let x = if x.ty.is_untyped() {
            self.convert_to(x.clone(), &x.ty.default_type(), pos, "conversion")?
        } else {
            x
        };
        Ok(ce(E::Builtin(Builtin::Conv(conv), vec![x.e], pos), t))
    }

    fn builtin(&mut self, b: &str, args: &[Expr], spread: bool, pos: Pos) -> R<CE> {
        let want = |n: usize| -> R<()> {
            if args.len() != n {
                return Err(err(
                    pos,
                    format!(
                        "{} arguments for {b}(...) (expected {n}, found {})",
                        if args.len() < n {
                            "not enough"
                        } else {
                            "too many"
                        },
                        args.len()
                    ),
                ));
            }
            Ok(())
        };
        if spread && b != "append" {
            return Err(err(pos, format!("invalid use of ... with built-in {b}")));
        }
        match b {
            "len" | "cap" => {
                want(1)?;
                let x = self.expr(&args[0])?;
                let op = match (&x.ty, b) {
                    (Ty::String, "len") => {
                        if let Some(CVal::Str(s)) = &x.cv {
                            return Ok(constant(CVal::Int(s.len() as i128), Ty::Int));
                        }
                        Builtin::LenStr
                    }
                    (Ty::Slice(_), "len") => Builtin::LenSlice,
                    (Ty::Slice(_), _) => Builtin::Cap,
                    (Ty::Map(..), "len") => Builtin::LenMap,
                    (t, _) => {
                        return Err(err(
                            pos,
                            format!(
                                "invalid argument: {} (variable of type {t}) for built-in {b}",
                                describe(&args[0])
                            ),
                        ))
                    }
                };
                Ok(ce(E::Builtin(op, vec![x.e], pos), Ty::Int))
            }
            "append" => {
                if args.is_empty() {
                    return Err(err(
                        pos,
                        "not enough arguments for append() (expected 1, found 0)",
                    ));
                }
                let s = self.expr(&args[0])?;
                let Ty::Slice(et) = &s.ty else {
                    return Err(err(
                        args[0].pos,
                        format!(
                            "invalid argument: {} (variable of type {}) is not a slice",
                            describe(&args[0]),
                            s.ty
                        ),
                    ));
                };
                let et = (**et).clone();
                let mut es = vec![s.e.clone()];
                if spread {
                    want(2)?;
                    let t = self.expr(&args[1])?;
                    if t.ty != s.ty && t.ty != Ty::Nil {
                        return Err(err(
                            args[1].pos,
                            format!(
                                "cannot use {} (type {}) as {} value in argument to append",
                                describe(&args[1]),
                                t.ty,
                                s.ty
                            ),
                        ));
                    }
                    es.push(t.e);
                } else {
                    for a in &args[1..] {
                        let x = self.expr(a)?;
                        es.push(self.convert_to(x, &et, a.pos, "argument to append")?.e);
                    }
                }
                Ok(ce(
                    E::Builtin(Builtin::Append(arr_kind(&et), spread), es, pos),
                    s.ty,
                ))
            }
            "make" => {
                let Some(first) = args.first() else {
                    return Err(err(
                        pos,
                        "not enough arguments for make() (expected 1, found 0)",
                    ));
                };
                let t = match &first.kind {
                    ExprKind::Type(t) => self.resolve_type(t)?,
                    ExprKind::Ident(n) => match self.lookup(n) {
                        Some((_, Sym::Type(t))) => t,
                        _ => {
                            return Err(err(
                                first.pos,
                                format!("{} is not a type", describe(first)),
                            ))
                        }
                    },
                    _ => return Err(err(first.pos, format!("{} is not a type", describe(first)))),
                };
                let mut sizes = Vec::new();
                for a in &args[1..] {
                    let x = self.expr(a)?;
                    let x = if x.ty.is_untyped() {
                        self.convert_to(x, &Ty::Int, a.pos, "argument to make")?
                    } else {
                        x
                    };
                    if !x.ty.is_integer() {
                        return Err(err(
                            a.pos,
                            format!("cannot convert {} (type {}) to type int", describe(a), x.ty),
                        ));
                    }
                    if let Some(CVal::Int(v)) = x.cv {
                        if v < 0 {
                            return Err(err(a.pos, format!("invalid argument: index {v} (constant of type int) must not be negative")));
                        }
                    }
                    sizes.push(x.e);
                }
                match &t {
                    Ty::Slice(et) => {
                        if sizes.is_empty() || sizes.len() > 2 {
                            return Err(err(pos, format!("invalid operation: make({t}) expects 2 or 3 arguments")));
                        }
                        Ok(ce(E::Builtin(Builtin::MakeSlice(et.clone()), sizes, pos), t))
                    }
                    Ty::Map(..) => {
                        if sizes.len() > 1 {
                            return Err(err(pos, format!("invalid operation: make({t}) expects 1 or 2 arguments")));
                        }
                        Ok(ce(E::Builtin(Builtin::MakeMap, sizes, pos), t))
                    }
                    _ => Err(err(pos, format!("invalid argument: cannot make {t}; type must be slice, map, or channel"))),
                }
            }
            "copy" => {
                want(2)?;
                let d = self.expr(&args[0])?;
                let s = self.expr(&args[1])?;
                if !matches!(d.ty, Ty::Slice(_)) || d.ty != s.ty {
                    return Err(err(pos, format!("invalid argument: copy expects slice arguments of the same type; found {} and {}", d.ty, s.ty)));
                }
                Ok(ce(E::Builtin(Builtin::Copy, vec![d.e, s.e], pos), Ty::Int))
            }
            "delete" => {
                want(2)?;
                let m = self.expr(&args[0])?;
                let Ty::Map(kt, _) = &m.ty else {
                    return Err(err(
                        pos,
                        format!(
                            "invalid argument: {} (variable of type {}) is not a map",
                            describe(&args[0]),
                            m.ty
                        ),
                    ));
                };
                let kt = (**kt).clone();
                if let E::Field(_, FieldRef::Data(_), ..) = m.e {
                    return Err(unsupported(pos, "deleting from data.Klines"));
                }
                let k = self.expr(&args[1])?;
                let k = self.convert_to(k, &kt, args[1].pos, "argument to delete")?;
                Ok(ce(
                    E::Builtin(Builtin::Delete, vec![m.e, k.e], pos),
                    Ty::Void,
                ))
            }
            "new" => {
                want(1)?;
                let t = match &args[0].kind {
                    ExprKind::Type(t) => self.resolve_type(t)?,
                    ExprKind::Ident(n) => match self.lookup(n) {
                        Some((_, Sym::Type(t))) => t,
                        _ => {
                            return Err(err(
                                args[0].pos,
                                format!("{} is not a type", describe(&args[0])),
                            ))
                        }
                    },
                    ExprKind::Selector(b, n) => {
                        let p = describe(b);
                        self.resolve_type(&TypeExpr::Qualified(p, n.clone(), args[0].pos))?
                    }
                    _ => {
                        return Err(err(
                            args[0].pos,
                            format!("{} is not a type", describe(&args[0])),
                        ))
                    }
                };
                Ok(ce(
                    E::Builtin(Builtin::New(Arc::new(t.clone())), vec![], pos),
                    ptr(t),
                ))
            }
            "min" | "max" => {
                if args.is_empty() {
                    return Err(err(
                        pos,
                        format!("not enough arguments for {b}() (expected 1, found 0)"),
                    ));
                }
                let mut xs = Vec::new();
                for a in args {
                    xs.push(self.expr(a)?);
                }
                let ty = xs
                    .iter()
                    .find(|x| !x.ty.is_untyped())
                    .map(|x| x.ty.clone())
                    .unwrap_or_else(|| {
                        if xs.iter().any(|x| x.ty == Ty::UntypedFloat) {
                            Ty::Float64
                        } else {
                            Ty::Int
                        }
                    });
                if !ty.is_ordered() {
                    return Err(err(
                        pos,
                        format!("invalid argument: {b} requires ordered operands, not {ty}"),
                    ));
                }
                let mut es = Vec::new();
                for (x, a) in xs.into_iter().zip(args) {
                    es.push(
                        self.convert_to(x, &ty, a.pos, &format!("argument to {b}"))?
                            .e,
                    );
                }
                let op = Builtin::MinMax(b == "max");
                Ok(ce(E::Builtin(op, es, pos), ty))
            }
            "panic" => {
                want(1)?;
                let x = self.expr(&args[0])?;
                let x = if x.ty.is_untyped() {
                    self.convert_to(x.clone(), &x.ty.default_type(), pos, "panic")?
                } else {
                    x
                };
                Ok(ce(E::Builtin(Builtin::Panic, vec![x.e], pos), Ty::Void))
            }
            "print" | "println" => Err(unsupported(
                pos,
                &format!("{b} (filters cannot write output)"),
            )),
            "recover" => Err(unsupported(pos, "recover")),
            "close" => Err(unsupported(pos, "channels (close)")),
            other => Err(unsupported(pos, &format!("built-in {other}"))),
        }
    }
}
