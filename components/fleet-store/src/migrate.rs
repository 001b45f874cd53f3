//! Migration runner. The SQL files under migrations/ are embedded, so the wasm components and native tools
//! apply exactly the same text. Applied versions are recorded with a checksum in `fleet.schema_migrations`
//! (Postgres) or `fleet_schema_migrations` (SQLite).
//!
//! * Postgres: each file runs as one `DO` block that takes a per-database advisory lock, re-checks that the
//!   version is still pending and records it, so concurrent runners apply a file once and atomically. This
//!   also lets a single-statement interface (Spin's pg4) run a multi-statement file.
//! * SQLite: each file's statements run one by one inside `BEGIN IMMEDIATE ... COMMIT`.

use sha2::{Digest, Sha256};

use crate::sql::{Dialect, SqlConnection, SqlError, SqlValue};

/// One embedded migration file.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $dir:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../../migrations/", $dir, "/", $name, ".sql")),
        }
    };
}

const POSTGRES: &[Migration] = &[
    migration!(1, "postgres", "0001_roles_and_platform_tables"),
    migration!(2, "postgres", "0002_fleet_tables"),
    migration!(3, "postgres", "0003_entitlement_triggers_and_hints"),
    migration!(4, "postgres", "0004_row_level_security"),
    migration!(5, "postgres", "0005_screener_roles"),
    migration!(6, "postgres", "0006_fleet_leases"),
    migration!(7, "postgres", "0007_control_plane_reads_signals"),
    migration!(8, "postgres", "0008_signed_hints_and_replay_guard"),
    migration!(9, "postgres", "0009_admin_sessions_and_auth_throttle"),
    migration!(10, "postgres", "0010_alerts"),
];

const SQLITE: &[Migration] = &[
    migration!(1, "sqlite", "0001_schema"),
    migration!(2, "sqlite", "0002_entitlement_triggers"),
    migration!(3, "sqlite", "0003_fleet_leases"),
    migration!(4, "sqlite", "0004_platform_shapes"),
    migration!(5, "sqlite", "0005_replay_guard_and_admin_sessions"),
    migration!(6, "sqlite", "0006_alerts"),
];

/// The embedded migrations of a dialect, in order.
pub fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Postgres => POSTGRES,
        Dialect::Sqlite => SQLITE,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration {name} failed: {source}")]
    Failed {
        name: &'static str,
        source: SqlError,
    },
    #[error("migration {name} was changed after it was applied (checksum differs); add a new migration instead")]
    Changed { name: &'static str },
    #[error("reading the migrations table failed: {0}")]
    Bookkeeping(#[from] SqlError),
}

/// Which versions a run applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<i64>,
}

/// Hex SHA-256 of a migration's text.
pub fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Applies every pending migration of the connection's dialect.
pub fn migrate(conn: &mut dyn SqlConnection) -> Result<MigrationReport, MigrateError> {
    let dialect = conn.dialect();
    bootstrap(conn, dialect)?;
    let applied = applied_versions(conn, dialect)?;
    let mut report = MigrationReport::default();
    for migration in migrations(dialect) {
        if let Some((_, sum)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if *sum != checksum(migration.sql) {
                return Err(MigrateError::Changed {
                    name: migration.name,
                });
            }
            continue;
        }
        let result = match dialect {
            Dialect::Postgres => apply_postgres(conn, migration),
            Dialect::Sqlite => apply_sqlite(conn, migration),
        };
        result.map_err(|source| MigrateError::Failed {
            name: migration.name,
            source,
        })?;
        report.applied.push(migration.version);
    }
    Ok(report)
}

const PG_LOCK: &str = "pg_advisory_xact_lock(hashtext('fleet-migrations'))";

fn bootstrap(conn: &mut dyn SqlConnection, dialect: Dialect) -> Result<(), SqlError> {
    let sql = match dialect {
        Dialect::Postgres => format!(
            "DO $fleet_bootstrap$ BEGIN PERFORM {PG_LOCK}; \
             CREATE SCHEMA IF NOT EXISTS fleet; \
             CREATE TABLE IF NOT EXISTS fleet.schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, \
             checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()); \
             END $fleet_bootstrap$"
        ),
        Dialect::Sqlite => "CREATE TABLE IF NOT EXISTS fleet_schema_migrations (version INTEGER PRIMARY KEY, \
             name TEXT NOT NULL, checksum TEXT NOT NULL, \
             applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) STRICT"
            .to_owned(),
    };
    conn.execute(&sql, &[]).map(|_| ())
}

fn table(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "fleet.schema_migrations",
        Dialect::Sqlite => "fleet_schema_migrations",
    }
}

fn applied_versions(
    conn: &mut dyn SqlConnection,
    dialect: Dialect,
) -> Result<Vec<(i64, String)>, SqlError> {
    let rows = conn.query(
        &format!(
            "SELECT version, checksum FROM {} ORDER BY version",
            table(dialect)
        ),
        &[],
    )?;
    rows.iter()
        .map(|r| Ok((r.int("version")?, r.text("checksum")?)))
        .collect()
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn apply_postgres(conn: &mut dyn SqlConnection, m: &Migration) -> Result<(), SqlError> {
    debug_assert!(!m.sql.contains("$fleet_migration$"));
    let sql = format!(
        "DO $fleet_migration$ BEGIN PERFORM {PG_LOCK}; \
         IF NOT EXISTS (SELECT 1 FROM fleet.schema_migrations WHERE version = {version}) THEN \
         EXECUTE {body}; \
         INSERT INTO fleet.schema_migrations (version, name, checksum) VALUES ({version}, {name}, {sum}); \
         END IF; END $fleet_migration$",
        version = m.version,
        body = quote_literal(m.sql),
        name = quote_literal(m.name),
        sum = quote_literal(&checksum(m.sql)),
    );
    conn.execute(&sql, &[]).map(|_| ())
}

fn apply_sqlite(conn: &mut dyn SqlConnection, m: &Migration) -> Result<(), SqlError> {
    conn.execute("BEGIN IMMEDIATE", &[])?;
    let result = (|| {
        let already = conn.query(
            "SELECT 1 AS present FROM fleet_schema_migrations WHERE version = ?1",
            &[SqlValue::Int(m.version)],
        )?;
        if !already.is_empty() {
            return Ok(()); // another runner applied it while we waited for the write lock
        }
        for statement in split_sqlite_statements(m.sql) {
            conn.execute(&statement, &[])?;
        }
        conn.execute(
            "INSERT INTO fleet_schema_migrations (version, name, checksum) VALUES (?1, ?2, ?3)",
            &[
                SqlValue::Int(m.version),
                m.name.into(),
                checksum(m.sql).into(),
            ],
        )
        .map(|_| ())
    })();
    match result {
        Ok(()) => conn.execute("COMMIT", &[]).map(|_| ()),
        Err(e) => {
            let _ = conn.execute("ROLLBACK", &[]);
            Err(e)
        }
    }
}

/// Splits a SQLite migration file into single statements. Full-line `--` comments are dropped; a statement
/// ends with a line ending in `;`, except that a `CREATE TRIGGER` ends only at its `END;` line.
pub fn split_sqlite_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || (current.is_empty() && trimmed.is_empty()) {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        let in_trigger = current
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("CREATE TRIGGER");
        let ends = if in_trigger {
            trimmed.eq_ignore_ascii_case("END;")
        } else {
            trimmed.ends_with(';')
        };
        if ends {
            statements.push(std::mem::take(&mut current).trim().to_owned());
        }
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_owned());
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        for (dialect, dir) in [(Dialect::Postgres, "postgres"), (Dialect::Sqlite, "sqlite")] {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/").to_owned() + dir;
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            files.sort();
            let embedded: Vec<String> = migrations(dialect)
                .iter()
                .map(|m| format!("{}.sql", m.name))
                .collect();
            assert_eq!(files, embedded, "{dir}: add new files to migrate.rs");
            for (i, m) in migrations(dialect).iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1);
                assert!(m.name.starts_with(&format!("{:04}_", m.version)));
            }
        }
    }

    #[test]
    fn sqlite_splitter_keeps_trigger_bodies_whole() {
        let sql =
            "-- c;\nCREATE TABLE a (x INT);\n\nCREATE TRIGGER t AFTER INSERT ON a\nBEGIN\n    \
                   UPDATE a SET x = 1;\n    DELETE FROM a;\nEND;\nCREATE VIEW v AS\nSELECT 1;\n";
        let parts = split_sqlite_statements(sql);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(parts[1].starts_with("CREATE TRIGGER") && parts[1].ends_with("END;"));
        assert_eq!(parts[2], "CREATE VIEW v AS\nSELECT 1;");
    }
}
