//! The declarative trader filter, exactly as stored in `traders.filter` (JSON). Unknown fields are rejected.

use crate::candle::Interval;
use crate::indicators::Source;
use serde::{Deserialize, Serialize};

/// A trader's filter: when `when` holds on a closed `timeframe` candle, the trigger decides whether to signal.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub version: u32,
    /// The candle close that evaluates the filter; defaults to the first `requiredTimeframes` entry.
    #[serde(default)]
    pub timeframe: Option<Interval>,
    /// The platform's list of the timeframes a trader needs (`filter.requiredTimeframes`, e.g. `["5m", "1h"]`).
    /// Its first entry is the trigger timeframe when `timeframe` is absent, as on the platform, whose traders
    /// default to `["5m"]` when it is absent or empty.
    #[serde(default, rename = "requiredTimeframes")]
    pub required_timeframes: Option<Vec<String>>,
    /// Fleet's extension: the Binance symbols this trader screens; absent or empty means the whole universe
    /// (the platform screens its top USDT symbols).
    #[serde(default)]
    pub symbols: Option<Vec<String>>,
    pub when: Node,
    #[serde(default)]
    pub trigger: Trigger,
    /// Free text for people (e.g. what the LLM meant); never evaluated.
    #[serde(default)]
    pub description: Option<String>,
}

/// A condition tree node: exactly one of a group (`all` / `any`) or a comparison (`left`, `op`, `right`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<Node>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<Node>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<Operand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Op>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right: Option<Operand>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    CrossesAbove,
    CrossesBelow,
}

/// A value: either a constant (`{"const": 30}`) or an indicator reference (`{"ind": "rsi", "period": 14}`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Operand {
    #[serde(default, rename = "const", skip_serializing_if = "Option::is_none")]
    pub constant: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ind: Option<IndName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smooth: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stddev: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tf: Option<Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mul: Option<f64>,
}

/// The whitelisted indicators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndName {
    Open,
    High,
    Low,
    Close,
    Volume,
    Sma,
    Ema,
    Rsi,
    Macd,
    Bollinger,
    Atr,
    Stoch,
    Vwap,
    VolumeSma,
    ChangePct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerMode {
    /// Signal on every closed bar where the condition holds (at most one per bar).
    #[default]
    OncePerBar,
    /// Signal when the condition becomes true; re-arm only after it was false on a closed bar.
    OnChange,
    /// Signal when true and at least `cooldown_bars` bars passed since the last signal.
    Cooldown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    #[serde(default)]
    pub mode: TriggerMode,
    /// Required for `cooldown`; optional extra quiet period for `on_change`.
    #[serde(default)]
    pub cooldown_bars: Option<u32>,
}
