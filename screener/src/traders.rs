//! Turning `traders` rows into evaluable traders. A bad filter disables only that trader, with a reason.

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

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraderSet {
    pub valid: Vec<TraderDef>,
    /// Filters that are broken: the trader is disabled with the validation error.
    pub invalid: Vec<InvalidTrader>,
    /// Well-formed traders this screener cannot run yet (the platform's Go/JavaScript code filters).
    pub skipped: Vec<InvalidTrader>,
}

pub fn compile_rows(rows: Vec<TraderRow>) -> TraderSet {
    let mut set = TraderSet::default();
    for row in rows {
        if is_code_filter(&row.filter) {
            let language = row.language.as_deref().unwrap_or("unspecified");
            let reason = format!(
                "a {language} code filter (filter.code); this screener runs only declarative filters \
                 (version 1) so far"
            );
            tracing::warn!(trader = %row.id, name = %row.name, %language, "trader skipped: code filters are not run by this screener");
            set.skipped.push(InvalidTrader {
                id: row.id,
                name: row.name,
                reason,
            });
            continue;
        }
        match compile_row(&row) {
            Ok(def) => set.valid.push(def),
            Err(reason) => {
                tracing::warn!(trader = %row.id, %reason, "trader disabled: invalid filter");
                set.invalid.push(InvalidTrader {
                    id: row.id,
                    name: row.name,
                    reason,
                });
            }
        }
    }
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

/// The symbols the traders need: the universe, plus symbols traders name explicitly.
pub fn symbols_needed(traders: &[TraderDef], universe: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if traders.iter().any(|t| t.symbols.is_empty()) {
        out.extend(universe.iter().cloned());
    }
    out.extend(traders.iter().flat_map(|t| t.symbols.iter().cloned()));
    out.sort();
    out.dedup();
    out
}
