//! One SQL text for both dialects. Store queries are written once with small typed tokens, and rendered for
//! Postgres (numbered, cast parameters; times and uuids converted to text on the way out) or SQLite (plain
//! numbered parameters, since SQLite already stores those as text).
//!
//! Tokens:
//! * parameters `{uuid:N}`, `{ts:N}`, `{json:N}`, `{int:N}`, `{float:N}`, `{text:N}`, `{bool:N}`;
//! * output columns `{ts_out:expr}`, `{text_out:expr}` and `{float_out:expr}` (aliased to the expression's last
//!   name part; `float_out` reads a Postgres `numeric` as a float);
//! * `{pg_only:...}` for text only Postgres understands (e.g. `FOR UPDATE SKIP LOCKED`).
//!
//! Anything else in braces is kept as it is.

use crate::sql::Dialect;

/// Renders a query template for a dialect.
pub fn render(dialect: Dialect, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}').and_then(|end| {
            let (kind, arg) = after[..end].split_once(':')?;
            token(dialect, kind, arg).map(|rendered| (rendered, end))
        }) {
            Some((rendered, end)) => {
                out.push_str(&rendered);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn token(dialect: Dialect, kind: &str, arg: &str) -> Option<String> {
    let pg = dialect == Dialect::Postgres;
    let param_cast = match kind {
        "uuid" => Some("::text::uuid"),
        "ts" => Some("::text::timestamptz"),
        "json" => Some("::text::jsonb"),
        "int" => Some("::int8"),
        "float" => Some("::float8"),
        "text" => Some("::text"),
        "bool" => Some("::bool"),
        _ => None,
    };
    if let Some(cast) = param_cast {
        let n: u32 = arg.parse().ok()?;
        return Some(if pg {
            format!("${n}{cast}")
        } else {
            format!("?{n}")
        });
    }
    let alias = arg.rsplit('.').next().unwrap_or(arg);
    match kind {
        "ts_out" if pg => Some(format!(
            "to_char(({arg}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS {alias}"
        )),
        "text_out" if pg => Some(format!("({arg})::text AS {alias}")),
        "float_out" if pg => Some(format!("({arg})::float8 AS {alias}")),
        "ts_out" | "text_out" | "float_out" => Some(format!("{arg} AS {alias}")),
        "pg_only" => Some(if pg { arg.to_owned() } else { String::new() }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parameters_per_dialect() {
        let t = "SELECT {ts_out:a.lease_expires_at} FROM t a WHERE id = {uuid:1} AND n < {int:2} {pg_only:FOR UPDATE}";
        assert_eq!(
            render(Dialect::Sqlite, t),
            "SELECT a.lease_expires_at AS lease_expires_at FROM t a WHERE id = ?1 AND n < ?2 "
        );
        assert_eq!(
            render(Dialect::Postgres, t),
            "SELECT to_char((a.lease_expires_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
             AS lease_expires_at FROM t a WHERE id = $1::text::uuid AND n < $2::int8 FOR UPDATE"
        );
    }

    #[test]
    fn keeps_unknown_braces() {
        assert_eq!(
            render(Dialect::Postgres, "SELECT '{}', '{\"a\":1}', {nope:1}"),
            "SELECT '{}', '{\"a\":1}', {nope:1}"
        );
    }
}
