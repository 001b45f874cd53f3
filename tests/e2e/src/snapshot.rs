//! A full database snapshot: every row of every table (Fleet's and the platform's), plus the screener
//! login roles on Postgres, so a refused request can be shown to have changed nothing at all.

use fleet_store::{Dialect, SqlValue};

use crate::Fleet;

/// Tables and roles, one line per row, in a stable order.
pub fn full(fleet: &Fleet) -> Vec<String> {
    let mut store = fleet.store();
    let conn = store.connection();
    let dialect = conn.dialect();
    let list = match dialect {
        Dialect::Postgres => {
            "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables \
             WHERE table_schema IN ('public', 'fleet') AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let tables: Vec<String> = conn
        .query(list, &[])
        .expect("list tables")
        .iter()
        .map(|row| row.text("name").expect("table name"))
        .collect();
    assert!(
        tables.iter().any(|t| t.ends_with("user_fly_apps"))
            && tables.iter().any(|t| t.ends_with("traders")),
        "the snapshot sees Fleet's and the platform's tables: {tables:?}"
    );
    let mut out = Vec::new();
    for table in &tables {
        let sql = match dialect {
            // The alias is one no table has as a column name (a column `t` would shadow an alias `t`).
            Dialect::Postgres => {
                format!("SELECT row_to_json(snapshot_row)::text AS j FROM {table} snapshot_row ORDER BY 1")
            }
            Dialect::Sqlite => format!("SELECT * FROM \"{table}\" ORDER BY rowid"),
        };
        for row in conn.query(&sql, &[]).expect("read a table") {
            out.push(format!("{table}: {:?}", row.values()));
        }
    }
    if dialect == Dialect::Postgres {
        let roles = conn
            .query(
                "SELECT rolname::text || ' login=' || rolcanlogin::text AS r FROM pg_roles \
                 WHERE rolname LIKE $1 ORDER BY 1",
                &[SqlValue::from("fleet_scr_%".to_string())],
            )
            .expect("list screener roles");
        out.extend(roles.iter().map(|r| format!("role: {:?}", r.values())));
    }
    out
}
