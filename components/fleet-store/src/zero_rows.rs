//! A workaround for released Spin's Postgres hang (spinframework/spin#3671).
//!
//! Spin 4.0.0–4.0.2's synchronous Postgres `query` (every interface version spin-sdk 5.2.0 can import) learns the
//! result's columns from its first row and waits for them after the last: a statement that yields no rows never
//! returns, and the request never gets an answer. The upstream fix (f0256b37) is in no release yet, so through Spin
//! every `query` is rewritten to yield at least one row: the statement becomes a CTE, left-joined to a one-row
//! relation, with a marker column that is true on the statement's rows and NULL on the sentinel row.
//! PostgreSQL runs a data-modifying CTE exactly once whether or not its rows are read, and `ON true` leaves a
//! nested loop (the one-row side outside) as the only plan, so rows keep their order. Analysis, the reproduction
//! on Spin's unpatched runtime and the check of all of Fleet's statements: tests/spin-up/FINDINGS-3671.md.

use crate::sql::{Dialect, Row, SqlConnection, SqlError, SqlValue};
use std::sync::Arc;

/// The marker column (first in every wrapped result).
pub const MARKER: &str = "fleet_row";

/// `sql` (one statement yielding rows, not itself a `WITH` holding a data-modifying statement) as a statement
/// that always yields at least one row.
pub fn with_sentinel_row(sql: &str) -> String {
    format!(
        "WITH fleet_q AS ({sql}) SELECT fleet_r.* FROM (VALUES (0)) AS fleet_s(x) \
         LEFT JOIN (SELECT true AS {MARKER}, * FROM fleet_q) AS fleet_r ON true"
    )
}

/// The statement's own rows from a wrapped result: drops the sentinel row and the marker column.
pub fn strip_sentinel(rows: Vec<Row>) -> Result<Vec<Row>, SqlError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut columns: Option<Arc<[String]>> = None;
    for row in rows {
        let (cols, mut values) = row.into_parts();
        if cols.first().map(String::as_str) != Some(MARKER) {
            return Err(SqlError::decode(format!(
                "a wrapped query's first column is not {MARKER}"
            )));
        }
        if matches!(values.first(), None | Some(SqlValue::Null)) {
            continue;
        }
        values.remove(0);
        let cols = columns
            .get_or_insert_with(|| cols.iter().skip(1).cloned().collect())
            .clone();
        out.push(Row::new(cols, values));
    }
    Ok(out)
}

/// A Postgres connection whose reads can never yield zero rows on the wire (see the module docs).
pub struct NeverZeroRows<C>(pub C);

impl<C: SqlConnection> SqlConnection for NeverZeroRows<C> {
    fn dialect(&self) -> Dialect {
        self.0.dialect()
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        strip_sentinel(self.0.query(&with_sentinel_row(sql), params)?)
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        self.0.execute(sql, params)
    }
}
