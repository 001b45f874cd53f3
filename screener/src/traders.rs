//! Turning `traders` rows into evaluable traders. A bad filter disables only that trader, with a reason.
//!
//! The filter's shape decides how it runs: `{"code": ...}` is the platform's code filter in `traders.language`
//! (Go, or JavaScript — the column's default); anything else is Fleet's declarative JSON, whatever the column
//! says (rows written before Fleet existed carry the column default).

use crate::code::compile::parse_code_filter;
use crate::code::{CodeCache, CodeTraderDef, Language};
use crate::engine::TraderDef;
use crate::filter::{compile, is_code_filter, PLATFORM_DEFAULT_TIMEFRAME};
use crate::store::TraderRow;
use serde::Serialize;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InvalidTrader {
    pub id: Uuid,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct TraderSet {
    pub valid: Vec<TraderDef>,
    /// Go and JavaScript traders that compiled.
    pub code: Vec<CodeTraderDef>,
    /// Filters that are broken: the trader is disabled with the validation or compile error.
    pub invalid: Vec<InvalidTrader>,
}

pub fn compile_rows(rows: Vec<TraderRow>, cache: &mut CodeCache) -> TraderSet {
    let mut set = TraderSet::default();
    cache.begin_pass();
    for row in rows {
        let result = if is_code_filter(&row.filter) {
            compile_code_row(&row, cache).map(|def| set.code.push(def))
        } else {
            compile_row(&row).map(|def| set.valid.push(def))
        };
        if let Err(reason) = result {
            tracing::warn!(trader = %row.id, ?reason, "trader disabled: invalid filter");
            set.invalid.push(InvalidTrader {
                id: row.id,
                name: row.name,
                reason,
            });
        }
    }
    cache.end_pass();
    set
}

/// Timeframes come from `filter.requiredTimeframes` (the platform's default `5m` when absent) unless the filter
/// names its `timeframe`; symbols from `filter.symbols` (empty: the whole universe).
fn compile_row(row: &TraderRow) -> Result<TraderDef, String> {
    let filter = compile(&row.filter, Some(PLATFORM_DEFAULT_TIMEFRAME))?;
    Ok(TraderDef {
        id: row.id,
        user_id: row.user_id,
        name: row.name.clone(),
        symbols: filter.symbols.clone(),
        filter,
    })
}

fn compile_code_row(row: &TraderRow, cache: &mut CodeCache) -> Result<CodeTraderDef, String> {
    let language = Language::parse(row.language.as_deref())?;
    if language == Language::Declarative {
        return Err("language is declarative but the filter holds code (filter.code)".into());
    }
    let decoded;
    let filter = match &row.filter {
        serde_json::Value::String(s) => {
            decoded = serde_json::from_str::<serde_json::Value>(s)
                .map_err(|e| format!("filter: double-encoded JSON does not parse: {e}"))?;
            &decoded
        }
        other => other,
    };
    let parsed = parse_code_filter(filter)?;
    let program = cache
        .compile(language, parsed.code)
        .map_err(|e| format!("{} code does not compile: {e}", language.as_str()))?;
    Ok(CodeTraderDef {
        id: row.id,
        user_id: row.user_id,
        name: row.name.clone(),
        language,
        timeframes: parsed.timeframes,
        symbols: parsed.symbols,
        program,
    })
}

/// The symbols the traders need: the universe, plus symbols traders name explicitly.
pub fn symbols_needed(set: &TraderSet, universe: &[String]) -> Vec<String> {
    let named = set
        .valid
        .iter()
        .map(|t| &t.symbols)
        .chain(set.code.iter().map(|t| &t.symbols));
    let mut out: Vec<String> = Vec::new();
    let mut whole_universe = false;
    for symbols in named {
        whole_universe |= symbols.is_empty();
        out.extend(symbols.iter().cloned());
    }
    if whole_universe {
        out.extend(universe.iter().cloned());
    }
    out.sort();
    out.dedup();
    out
}
