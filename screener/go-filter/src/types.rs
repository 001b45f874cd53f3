//! Static types of the Go subset. Untyped constants have their own kinds until Go's rules give them a type.

use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Bool,
    Int,
    Int64,
    Int32,
    Uint8,
    Float64,
    String,
    Slice(Arc<Ty>),
    Map(Arc<Ty>, Arc<Ty>),
    Ptr(Arc<Ty>),
    Func(Arc<FuncTy>),
    Struct(Arc<StructTy>),
    Kline,
    MarketData,
    Time,
    UntypedInt,
    UntypedRune,
    UntypedFloat,
    Nil,
    /// Results of a call with several results.
    Tuple(Arc<Vec<Ty>>),
    /// A call without results.
    Void,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StructTy {
    /// `indicators.RSIResult`, `types.SimplifiedTicker`; `None` for `struct{...}`.
    pub name: Option<&'static str>,
    pub fields: Vec<(String, Ty)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FuncTy {
    pub params: Vec<Ty>,
    pub results: Vec<Ty>,
}

impl Ty {
    pub fn is_untyped(&self) -> bool {
        matches!(self, Ty::UntypedInt | Ty::UntypedRune | Ty::UntypedFloat)
    }
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Ty::Int | Ty::Int64 | Ty::Int32 | Ty::Uint8 | Ty::UntypedInt | Ty::UntypedRune
        )
    }
    pub fn is_float(&self) -> bool {
        matches!(self, Ty::Float64 | Ty::UntypedFloat)
    }
    pub fn is_numeric(&self) -> bool {
        self.is_integer() || self.is_float()
    }
    pub fn is_ordered(&self) -> bool {
        self.is_numeric() || *self == Ty::String
    }
    /// Slices, maps, pointers and funcs compare only with nil.
    pub fn is_nilable(&self) -> bool {
        matches!(self, Ty::Slice(_) | Ty::Map(..) | Ty::Ptr(_) | Ty::Func(_))
    }
    pub fn default_type(&self) -> Ty {
        match self {
            Ty::UntypedInt => Ty::Int,
            Ty::UntypedRune => Ty::Int32,
            Ty::UntypedFloat => Ty::Float64,
            t => t.clone(),
        }
    }
    pub fn comparable(&self) -> bool {
        match self {
            Ty::Slice(_) | Ty::Map(..) | Ty::Func(_) | Ty::Tuple(_) | Ty::Void => false,
            Ty::Struct(s) => s.fields.iter().all(|(_, t)| t.comparable()),
            _ => true,
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Bool => write!(f, "bool"),
            Ty::Int => write!(f, "int"),
            Ty::Int64 => write!(f, "int64"),
            Ty::Int32 => write!(f, "int32"),
            Ty::Uint8 => write!(f, "uint8"),
            Ty::Float64 => write!(f, "float64"),
            Ty::String => write!(f, "string"),
            Ty::Slice(t) => write!(f, "[]{t}"),
            Ty::Map(k, v) => write!(f, "map[{k}]{v}"),
            Ty::Ptr(t) => write!(f, "*{t}"),
            Ty::Func(ft) => {
                write!(f, "func(")?;
                for (i, p) in ft.params.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{p}")?;
                }
                write!(f, ")")?;
                match ft.results.len() {
                    0 => Ok(()),
                    1 => write!(f, " {}", ft.results[0]),
                    _ => {
                        write!(f, " (")?;
                        for (i, p) in ft.results.iter().enumerate() {
                            if i > 0 {
                                write!(f, ", ")?;
                            }
                            write!(f, "{p}")?;
                        }
                        write!(f, ")")
                    }
                }
            }
            Ty::Struct(s) => match s.name {
                Some(n) => write!(f, "{n}"),
                None => {
                    write!(f, "struct{{")?;
                    for (i, (n, t)) in s.fields.iter().enumerate() {
                        if i > 0 {
                            write!(f, "; ")?;
                        }
                        write!(f, "{n} {t}")?;
                    }
                    write!(f, "}}")
                }
            },
            Ty::Kline => write!(f, "types.Kline"),
            Ty::MarketData => write!(f, "types.MarketData"),
            Ty::Time => write!(f, "time.Time"),
            Ty::UntypedInt => write!(f, "untyped int"),
            Ty::UntypedRune => write!(f, "untyped rune"),
            Ty::UntypedFloat => write!(f, "untyped float"),
            Ty::Nil => write!(f, "untyped nil"),
            Ty::Tuple(ts) => {
                write!(f, "(")?;
                for (i, p) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{p}")?;
                }
                write!(f, ")")
            }
            Ty::Void => write!(f, "no value"),
        }
    }
}

pub fn slice(t: Ty) -> Ty {
    Ty::Slice(Arc::new(t))
}
pub fn ptr(t: Ty) -> Ty {
    Ty::Ptr(Arc::new(t))
}

pub fn named_struct(name: &'static str, fields: &[&str], t: Ty) -> Ty {
    Ty::Struct(Arc::new(StructTy {
        name: Some(name),
        fields: fields.iter().map(|f| (f.to_string(), t.clone())).collect(),
    }))
}

pub fn anon_struct(fields: &[&str], t: Ty) -> Ty {
    Ty::Struct(Arc::new(StructTy {
        name: None,
        fields: fields.iter().map(|f| (f.to_string(), t.clone())).collect(),
    }))
}

pub fn ticker() -> Ty {
    named_struct(
        "types.SimplifiedTicker",
        &["LastPrice", "PriceChangePercent", "QuoteVolume"],
        Ty::Float64,
    )
}

/// `types.Kline` fields: (name, type, index in [`crate::value::kline_get`]).
pub const KLINE_FIELDS: &[(&str, KlineFieldTy)] = &[
    ("OpenTime", KlineFieldTy::I64),
    ("Open", KlineFieldTy::F),
    ("High", KlineFieldTy::F),
    ("Low", KlineFieldTy::F),
    ("Close", KlineFieldTy::F),
    ("Volume", KlineFieldTy::F),
    ("BuyVolume", KlineFieldTy::F),
    ("SellVolume", KlineFieldTy::F),
    ("VolumeDelta", KlineFieldTy::F),
    ("QuoteVolume", KlineFieldTy::F),
    ("Trades", KlineFieldTy::Int),
    ("CloseTime", KlineFieldTy::I64),
    ("TakerBuyBaseAssetVolume", KlineFieldTy::F),
    ("TakerBuyQuoteAssetVolume", KlineFieldTy::F),
    ("NumberOfTrades", KlineFieldTy::Int),
];

/// Fields computed from others in `filter_core::Kline`; they cannot be stored.
pub const KLINE_DERIVED: &[u8] = &[7, 8];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KlineFieldTy {
    F,
    I64,
    Int,
}

impl KlineFieldTy {
    pub fn ty(self) -> Ty {
        match self {
            KlineFieldTy::F => Ty::Float64,
            KlineFieldTy::I64 => Ty::Int64,
            KlineFieldTy::Int => Ty::Int,
        }
    }
}
