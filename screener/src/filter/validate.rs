//! Strict validation of a filter into its compiled form. Every rejection names the JSON path and the rule.

use super::model::{Filter, IndName, Node, Op, Operand, Trigger, TriggerMode};
use crate::candle::Interval;
use crate::indicators::{Source, Spec};

pub const MAX_CONDITIONS: usize = 8;
pub const MAX_DEPTH: usize = 3;
pub const MAX_PERIOD: u32 = 500;
pub const MAX_COOLDOWN_BARS: u32 = 10_000;
pub const MAX_DESCRIPTION: usize = 2_000;
const MAX_ABS_CONST: f64 = 1e15;

/// A compiled condition tree over leaves of type `V`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr<V> {
    All(Vec<Expr<V>>),
    Any(Vec<Expr<V>>),
    Cmp { left: V, op: Op, right: V },
}

/// A leaf value: a constant or `mul` × output `output` of indicator `spec` on timeframe `tf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Const(f64),
    Ind {
        tf: Interval,
        spec: Spec,
        output: u8,
        mul: f64,
    },
}

/// A validated filter, ready for the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledFilter {
    pub timeframe: Interval,
    /// The symbols the trader screens (`filter.symbols`, upper-cased); empty means the whole universe.
    pub symbols: Vec<String>,
    pub root: Expr<Value>,
    pub trigger: Trigger,
}

impl CompiledFilter {
    /// Every (timeframe, indicator) the filter reads.
    pub fn indicators(&self) -> Vec<(Interval, Spec)> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out.sort();
        out.dedup();
        out
    }
}

fn collect(e: &Expr<Value>, out: &mut Vec<(Interval, Spec)>) {
    match e {
        Expr::All(v) | Expr::Any(v) => v.iter().for_each(|c| collect(c, out)),
        Expr::Cmp { left, right, .. } => {
            for v in [left, right] {
                if let Value::Ind { tf, spec, .. } = v {
                    out.push((*tf, *spec));
                }
            }
        }
    }
}

/// The trigger timeframe of a platform trader without `requiredTimeframes` (the platform's own default).
pub const PLATFORM_DEFAULT_TIMEFRAME: &str = "5m";

/// Whether `raw` is one of the platform's code filters (`{"code": "...", "requiredTimeframes": [...]}`, Go or
/// JavaScript per `traders.language`), possibly double-encoded as a JSON string. This screener does not run them
/// yet; the caller skips such traders instead of calling them invalid.
pub fn is_code_filter(raw: &serde_json::Value) -> bool {
    match raw {
        serde_json::Value::String(s) => serde_json::from_str::<serde_json::Value>(s)
            .is_ok_and(|v| v.is_object() && v.get("code").is_some()),
        other => other.get("code").is_some(),
    }
}

/// Parses and validates `traders.filter`. The trigger timeframe is `timeframe`, else the first entry of
/// `requiredTimeframes`, else `default_tf` (the screener passes [`PLATFORM_DEFAULT_TIMEFRAME`]).
pub fn compile(
    raw: &serde_json::Value,
    default_tf: Option<&str>,
) -> Result<CompiledFilter, String> {
    // The platform this replaces sometimes stored the filter double-encoded as a JSON string.
    let decoded;
    let raw = match raw {
        serde_json::Value::String(s) => {
            decoded = serde_json::from_str::<serde_json::Value>(s)
                .map_err(|e| format!("filter is a string that is not JSON: {e}"))?;
            &decoded
        }
        other => other,
    };
    if raw.get("code").is_some() {
        return Err(
            "code filters (field `code`) are not accepted; use the declarative format (version 1)"
                .into(),
        );
    }
    let filter: Filter = serde_json::from_value(raw.clone()).map_err(|e| format!("filter: {e}"))?;
    if filter.version != 1 {
        return Err(format!(
            "version: unsupported version {}; expected 1",
            filter.version
        ));
    }
    if filter
        .description
        .as_ref()
        .is_some_and(|d| d.len() > MAX_DESCRIPTION)
    {
        return Err(format!("description: longer than {MAX_DESCRIPTION} bytes"));
    }
    let mut required = Vec::new();
    for (i, name) in filter.required_timeframes.iter().flatten().enumerate() {
        required.push(
            Interval::parse(name)
                .ok_or_else(|| format!("requiredTimeframes[{i}]: unknown timeframe {name:?}"))?,
        );
    }
    let timeframe = match (filter.timeframe, required.first(), default_tf) {
        (Some(tf), _, _) => tf,
        (None, Some(tf), _) => *tf,
        (None, None, Some(name)) => Interval::parse(name)
            .ok_or_else(|| format!("timeframe: the default timeframe {name:?} is not supported"))?,
        (None, None, None) => {
            return Err("timeframe: missing, and the filter has no requiredTimeframes".into())
        }
    };
    let mut symbols = Vec::new();
    for (i, raw) in filter.symbols.iter().flatten().enumerate() {
        let s = raw.trim().to_ascii_uppercase();
        if s.is_empty() || s.len() > 20 || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("symbols[{i}]: {raw:?} is not a Binance symbol"));
        }
        if !symbols.contains(&s) {
            symbols.push(s);
        }
    }
    check_trigger(&filter.trigger)?;
    let mut conditions = 0;
    let root = node(&filter.when, "when", 1, timeframe, &mut conditions)?;
    Ok(CompiledFilter {
        timeframe,
        symbols,
        root,
        trigger: filter.trigger,
    })
}

fn check_trigger(t: &Trigger) -> Result<(), String> {
    match (t.mode, t.cooldown_bars) {
        (TriggerMode::Cooldown, None) => {
            Err("trigger.cooldown_bars: required for mode cooldown".into())
        }
        (TriggerMode::OncePerBar, Some(_)) => {
            Err("trigger.cooldown_bars: not allowed with mode once_per_bar (use cooldown)".into())
        }
        (_, Some(n)) if !(1..=MAX_COOLDOWN_BARS).contains(&n) => Err(format!(
            "trigger.cooldown_bars: {n} out of range 1..={MAX_COOLDOWN_BARS}"
        )),
        _ => Ok(()),
    }
}

fn node(
    n: &Node,
    path: &str,
    depth: usize,
    tf: Interval,
    count: &mut usize,
) -> Result<Expr<Value>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("{path}: nested deeper than {MAX_DEPTH} levels"));
    }
    let is_cmp = n.left.is_some() || n.op.is_some() || n.right.is_some();
    match (&n.all, &n.any, is_cmp) {
        (Some(children), None, false) => Ok(Expr::All(group(children, &format!("{path}.all"), depth, tf, count)?)),
        (None, Some(children), false) => Ok(Expr::Any(group(children, &format!("{path}.any"), depth, tf, count)?)),
        (None, None, true) => {
            *count += 1;
            if *count > MAX_CONDITIONS {
                return Err(format!("{path}: more than {MAX_CONDITIONS} conditions"));
            }
            let (Some(l), Some(op), Some(r)) = (&n.left, n.op, &n.right) else {
                return Err(format!("{path}: a comparison needs left, op and right"));
            };
            let left = operand(l, &format!("{path}.left"), tf)?;
            let right = operand(r, &format!("{path}.right"), tf)?;
            if matches!((left, right), (Value::Const(_), Value::Const(_))) {
                return Err(format!("{path}: compares two constants"));
            }
            Ok(Expr::Cmp { left, op, right })
        }
        _ => Err(format!(
            "{path}: a node is exactly one of {{\"all\": [...]}}, {{\"any\": [...]}} or {{\"left\", \"op\", \"right\"}}"
        )),
    }
}

fn group(
    children: &[Node],
    path: &str,
    depth: usize,
    tf: Interval,
    count: &mut usize,
) -> Result<Vec<Expr<Value>>, String> {
    if children.is_empty() {
        return Err(format!("{path}: empty group"));
    }
    children
        .iter()
        .enumerate()
        .map(|(i, c)| node(c, &format!("{path}[{i}]"), depth + 1, tf, count))
        .collect()
}

fn operand(o: &Operand, path: &str, default_tf: Interval) -> Result<Value, String> {
    match (o.constant, o.ind) {
        (Some(c), None) => {
            let only_const = Operand {
                constant: o.constant,
                ..Operand::default()
            };
            if serde_json::to_value(o).ok() != serde_json::to_value(&only_const).ok() {
                return Err(format!("{path}: a constant takes no other fields"));
            }
            if !c.is_finite() || c.abs() > MAX_ABS_CONST {
                return Err(format!(
                    "{path}.const: must be a finite number within ±1e15"
                ));
            }
            Ok(Value::Const(c))
        }
        (None, Some(ind)) => indicator(o, ind, path, default_tf),
        _ => Err(format!(
            "{path}: exactly one of \"const\" or \"ind\" is required"
        )),
    }
}

fn indicator(o: &Operand, ind: IndName, path: &str, default_tf: Interval) -> Result<Value, String> {
    let mut p = Params {
        o,
        path,
        used: Vec::new(),
    };
    let spec = match ind {
        IndName::Open => Spec::Field(Source::Open),
        IndName::High => Spec::Field(Source::High),
        IndName::Low => Spec::Field(Source::Low),
        IndName::Close => Spec::Field(Source::Close),
        IndName::Volume => Spec::Field(Source::Volume),
        IndName::Sma => Spec::Sma {
            period: p.period("period", o.period, None, 1)?,
            of: p.source()?,
        },
        IndName::Ema => Spec::Ema {
            period: p.period("period", o.period, None, 1)?,
            of: p.source()?,
        },
        IndName::VolumeSma => Spec::Sma {
            period: p.period("period", o.period, Some(20), 1)?,
            of: Source::Volume,
        },
        IndName::Rsi => Spec::Rsi {
            period: p.period("period", o.period, Some(14), 2)?,
        },
        IndName::Atr => Spec::Atr {
            period: p.period("period", o.period, Some(14), 1)?,
        },
        IndName::ChangePct => Spec::ChangePct {
            period: p.period("period", o.period, Some(1), 1)?,
        },
        IndName::Vwap => Spec::Vwap,
        IndName::Macd => {
            let fast = p.period("fast", o.fast, Some(12), 1)?;
            let slow = p.period("slow", o.slow, Some(26), 2)?;
            let signal = p.period("signal", o.signal, Some(9), 1)?;
            if fast >= slow {
                return Err(format!(
                    "{path}: macd fast ({fast}) must be shorter than slow ({slow})"
                ));
            }
            Spec::Macd { fast, slow, signal }
        }
        IndName::Bollinger => {
            let period = p.period("period", o.period, Some(20), 2)?;
            p.used.push("stddev");
            let sd = o.stddev.unwrap_or(2.0);
            if !(0.1..=5.0).contains(&sd) {
                return Err(format!("{path}.stddev: {sd} out of range 0.1..=5"));
            }
            Spec::Bollinger {
                period,
                mult_centi: (sd * 100.0).round() as u16,
            }
        }
        IndName::Stoch => {
            let k = p.period("k", o.k, Some(14), 1)?;
            let smooth = p.period("smooth", o.smooth, Some(1), 1)?;
            let d = p.period("d", o.d, Some(3), 1)?;
            Spec::Stoch { k, smooth, d }
        }
    };
    p.reject_unused(ind)?;
    let outputs = spec.outputs();
    let output = match &o.output {
        None => 0,
        Some(name) => outputs.iter().position(|x| x == name).ok_or_else(|| {
            format!("{path}.output: {name:?} is not an output of this indicator; expected one of {outputs:?}")
        })?,
    };
    let mul = o.mul.unwrap_or(1.0);
    if !mul.is_finite() || mul <= 0.0 || mul > 1000.0 {
        return Err(format!("{path}.mul: {mul} out of range (0, 1000]"));
    }
    Ok(Value::Ind {
        tf: o.tf.unwrap_or(default_tf),
        spec,
        output: output as u8,
        mul,
    })
}

/// Tracks which parameters an indicator consumed, so stray ones are rejected rather than ignored.
struct Params<'a> {
    o: &'a Operand,
    path: &'a str,
    used: Vec<&'static str>,
}

impl Params<'_> {
    fn period(
        &mut self,
        name: &'static str,
        v: Option<u32>,
        default: Option<u32>,
        min: u32,
    ) -> Result<u16, String> {
        self.used.push(name);
        let v = v
            .or(default)
            .ok_or_else(|| format!("{}.{name}: required", self.path))?;
        if !(min..=MAX_PERIOD).contains(&v) {
            return Err(format!(
                "{}.{name}: {v} out of range {min}..={MAX_PERIOD}",
                self.path
            ));
        }
        Ok(v as u16)
    }

    fn source(&mut self) -> Result<Source, String> {
        self.used.push("of");
        Ok(self.o.of.unwrap_or(Source::Close))
    }

    fn reject_unused(&self, ind: IndName) -> Result<(), String> {
        let o = self.o;
        let present = [
            ("period", o.period.is_some()),
            ("of", o.of.is_some()),
            ("fast", o.fast.is_some()),
            ("slow", o.slow.is_some()),
            ("signal", o.signal.is_some()),
            ("k", o.k.is_some()),
            ("d", o.d.is_some()),
            ("smooth", o.smooth.is_some()),
            ("stddev", o.stddev.is_some()),
        ];
        match present
            .iter()
            .find(|(name, set)| *set && !self.used.contains(name))
        {
            Some((name, _)) => {
                Err(format!("{}.{name}: not a parameter of {ind:?}", self.path).to_lowercase())
            }
            None => Ok(()),
        }
    }
}
