//! Turning `traders` rows into evaluable traders. A bad filter disables only that trader, with a reason.

use crate::engine::TraderDef;
use crate::filter::compile;
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
    pub invalid: Vec<InvalidTrader>,
}

pub fn compile_rows(rows: Vec<TraderRow>) -> TraderSet {
    let mut set = TraderSet::default();
    for row in rows {
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

fn compile_row(row: &TraderRow) -> Result<TraderDef, String> {
    let filter = compile(&row.filter, row.timeframes.first().map(String::as_str))?;
    let mut symbols = Vec::with_capacity(row.symbols.len());
    for s in &row.symbols {
        let s = s.trim().to_ascii_uppercase();
        if s.is_empty() || s.len() > 20 || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("symbols: {s:?} is not a Binance symbol"));
        }
        symbols.push(s);
    }
    Ok(TraderDef {
        id: row.id,
        user_id: row.user_id,
        name: row.name.clone(),
        symbols,
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
