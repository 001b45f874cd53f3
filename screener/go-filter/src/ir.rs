//! The checked program: names resolved to frame slots, operators resolved to their typed form, positions
//! kept only where evaluation can fail. Immutable and shared (`Send + Sync`) across evaluations.

use crate::lexer::Pos;
use crate::types::Ty;
use std::sync::Arc;

/// Integer width for Go's wrapping arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntKind {
    I64,
    I32,
    U8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    AddI(IntKind),
    SubI(IntKind),
    MulI(IntKind),
    DivI(IntKind),
    RemI(IntKind),
    AndI,
    OrI,
    XorI(IntKind),
    AndNotI,
    ShlI(IntKind),
    ShrI(IntKind),
    AddF,
    SubF,
    MulF,
    DivF,
    AddS,
    Cmp(CmpOp),
    /// Comparisons of float64 / integer operands (typed fast paths).
    CmpF(CmpOp),
    CmpI(CmpOp),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    NegI(IntKind),
    NegF,
    Not,
    ComplI(IntKind),
}

/// How a slice's backing array stores its elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrKind {
    F64,
    Int,
    Kline,
    Val,
}

pub fn arr_kind(elem: &Ty) -> ArrKind {
    match elem {
        Ty::Float64 => ArrKind::F64,
        Ty::Int | Ty::Int64 | Ty::Int32 | Ty::Uint8 => ArrKind::Int,
        Ty::Kline => ArrKind::Kline,
        _ => ArrKind::Val,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataField {
    Symbol,
    Ticker,
    Klines,
    Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldRef {
    Struct(u16),
    Kline(u8),
    Data(DataField),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conv {
    IntToFloat,
    FloatToInt(IntKind),
    IntToInt(IntKind),
    /// `string(rune)`
    RuneToString,
    /// `string(bytes)` / `[]byte(s)` are not supported; identity conversions compile to nothing.
    Identity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathFn {
    Abs,
    Max,
    Min,
    Sqrt,
    Cbrt,
    Pow,
    Floor,
    Ceil,
    Round,
    RoundToEven,
    Trunc,
    Log,
    Log10,
    Log2,
    Log1p,
    Exp,
    Expm1,
    Inf,
    IsNaN,
    IsInf,
    NaN,
    Mod,
    Hypot,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Signbit,
    Copysign,
    Dim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFn {
    Unix,
    UnixMilli,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Weekday,
    YearDay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ind {
    CalculateMA,
    CalculateMASeries,
    CalculateEMA,
    CalculateEMASeries,
    CalculateRSI,
    GetLatestRSI,
    CalculateMACD,
    GetLatestMACD,
    CalculateBollingerBands,
    GetLatestBollingerBands,
    CalculateAvgVolume,
    CalculateVWAP,
    GetHighestHigh,
    GetLowestLow,
    CalculateStochastic,
    DetectEngulfingPattern,
}

#[derive(Clone, Debug)]
pub enum Builtin {
    LenSlice,
    LenStr,
    LenMap,
    Cap,
    /// `append(s, a, b)`; with `spread`, `append(s, t...)`.
    Append(ArrKind, bool),
    /// `make([]T, len[, cap])` with the element type (for zero values).
    MakeSlice(Arc<Ty>),
    MakeMap,
    Copy,
    Delete,
    New(Arc<Ty>),
    /// `min`/`max` builtins over ints (`false`) or floats/strings.
    MinMax(bool),
    Panic,
    Math(MathFn),
    Conv(Conv),
    Time(TimeFn),
}

#[derive(Clone, Copy, Debug)]
pub enum CapSrc {
    Local(u32),
    Capture(u32),
}

#[derive(Clone, Debug)]
pub enum Const {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
}

#[derive(Clone, Debug)]
pub enum E {
    Const(Const),
    /// The zero value of a type (also typed `nil`).
    Zero(Arc<Ty>),
    Local(u32),
    Capture(u32),
    Data,
    /// `data.Klines[key]` (base is the MarketData pointer).
    KlinesOf(Box<E>, Box<E>, Pos),
    Unary(UnOp, Box<E>),
    Bin(BinOp, Box<E>, Box<E>, Pos),
    And(Box<E>, Box<E>),
    Or(Box<E>, Box<E>),
    /// `base[idx]` on a slice.
    Index(Box<E>, Box<E>, Pos),
    /// `klines[i].Field` without copying the whole Kline.
    KlineAt(Box<E>, Box<E>, u8, Pos),
    IndexStr(Box<E>, Box<E>, Pos),
    /// `m[k]`, zero value when absent.
    IndexMap(Box<E>, Box<E>, Arc<Ty>),
    /// `base.field`; `deref` when base is a pointer.
    Field(Box<E>, FieldRef, bool, Pos),
    SliceOf(Box<E>, Option<Box<E>>, Option<Box<E>>, Option<Box<E>>, Pos),
    SliceStr(Box<E>, Option<Box<E>>, Option<Box<E>>, Pos),
    Call(Box<E>, Vec<E>, Pos),
    Builtin(Builtin, Vec<E>, Pos),
    Indicator(Ind, Vec<E>, Pos),
    FuncLit(u32, Vec<CapSrc>),
    SliceLit(ArrKind, Vec<E>),
    MapLit(Vec<(E, E)>),
    StructLit(Vec<E>),
    KlineLit(Vec<(u8, E)>),
    /// `&x`: boxes the variable in place.
    AddrOf(Box<P>),
    /// `&T{...}`
    AddrOfValue(Box<E>),
    Deref(Box<E>, Pos),
}

/// An assignable place.
#[derive(Clone, Debug)]
pub enum P {
    Local(u32),
    Capture(u32),
    Index(E, E, Pos),
    Map(E, E, Arc<Ty>, Pos),
    Field(Box<P>, FieldRef),
    /// `p.field = v` through a pointer.
    PtrField(E, FieldRef, Pos),
    Deref(E, Pos),
    Blank,
}

#[derive(Clone, Debug)]
pub enum Target {
    /// A new variable (fresh storage, even if a closure captured an earlier one in the same slot).
    Decl(u32),
    Place(P),
}

#[derive(Clone, Copy, Debug)]
pub enum RangeKind {
    Slice,
    Str,
    Map,
    Int,
}

#[derive(Clone, Debug)]
pub enum S {
    Expr(E),
    Decl(u32, E),
    Assign(P, E),
    /// Parallel assignment: all right-hand sides first.
    Multi(Vec<Target>, Vec<E>),
    /// `a, b := x, y` declaring only new variables: assigned one by one.
    DeclMulti(Vec<(u32, E)>),
    /// `a, b := f()`
    Tuple(Vec<Target>, E),
    /// `v, ok := m[k]`
    CommaOk(Target, Target, E, E, Arc<Ty>),
    OpAssign(P, BinOp, E, Pos),
    If(E, Vec<S>, Vec<S>),
    Loop {
        id: u32,
        /// Variables the init statement declared: fresh per iteration (Go 1.22), which matters only
        /// when a closure captured one.
        vars: Vec<u32>,
        cond: Option<E>,
        post: Option<Box<S>>,
        body: Vec<S>,
    },
    Range {
        id: u32,
        kind: RangeKind,
        expr: E,
        key: Option<Target>,
        value: Option<Target>,
        body: Vec<S>,
    },
    Switch {
        id: u32,
        /// Evaluated conditions per clause (`None` = default), body, ends with `fallthrough`.
        clauses: Vec<(Option<Vec<E>>, Vec<S>, bool)>,
    },
    Return(Option<E>),
    ReturnMulti(Vec<E>),
    Break(u32),
    Continue(u32),
    Block(Vec<S>),
}

pub struct Func {
    pub n_slots: u32,
    pub n_params: u32,
    pub body: Vec<S>,
}

pub struct ProgramIr {
    /// `funcs[0]` is the filter body.
    pub funcs: Vec<Func>,
    pub timeframes: Vec<String>,
}
