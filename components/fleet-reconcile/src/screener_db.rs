//! How a user's screener reaches Postgres (Supabase): the `DATABASE_URL` Fleet gives each app, for a direct
//! connection, or through Supabase's pooler (Supavisor) in session or transaction mode, from Fleet's variables.
//!
//! | mode | host:port | user |
//! |---|---|---|
//! | `direct` (default) | `screener_db_host`:`screener_db_port` | `<role>` |
//! | `session` | `screener_db_pooler_host`:`screener_db_pooler_port` (5432) | `<role>.<supabase_project_ref>` |
//! | `transaction` | `screener_db_pooler_host`:`screener_db_pooler_port` (6543) | `<role>.<supabase_project_ref>` |
//!
//! The screener keeps no session state and prepares no named statement, so every mode works for it.

use fly_api::Secret;

use crate::config::DatabaseAccess;

/// Supavisor's pooling modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    /// A server connection per client session (Supavisor port 5432).
    Session,
    /// A server connection per transaction (Supavisor port 6543): no session state, no named statements.
    Transaction,
}

impl PoolMode {
    /// The pooler's port for this mode on Supabase.
    pub fn default_port(self) -> u16 {
        match self {
            PoolMode::Session => 5432,
            PoolMode::Transaction => 6543,
        }
    }
}

/// A screener-database variable that is missing or malformed. Names the variable, never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariableError {
    pub variable: &'static str,
    pub problem: String,
}

impl VariableError {
    fn new(variable: &'static str, problem: impl Into<String>) -> VariableError {
        VariableError {
            variable,
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for VariableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "variable {}: {}", self.variable, self.problem)
    }
}

/// The per-user-role access Postgres mode uses, from the variables `get` returns (None when absent or empty):
/// `screener_db_mode` (`direct` | `session` | `transaction`, default `direct`), `screener_db_host` and
/// `screener_db_port` (direct, default port 5432), `screener_db_pooler_host`, `screener_db_pooler_port`
/// (default 5432 in session mode, 6543 in transaction mode) and `supabase_project_ref` (pooled modes),
/// `screener_db_name` (default `postgres`) and `screener_db_params` (default `sslmode=require`).
pub fn per_user_role_access(
    get: impl Fn(&str) -> Option<String>,
) -> Result<DatabaseAccess, VariableError> {
    let get = |name: &str| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let database = get("screener_db_name").unwrap_or_else(|| "postgres".into());
    let url_params = get("screener_db_params")
        .unwrap_or_else(|| "sslmode=require".into())
        .trim_start_matches('?')
        .to_string();
    if url_params.contains(['#', ' ']) {
        return Err(VariableError::new(
            "screener_db_params",
            "must be URL query parameters such as sslmode=require",
        ));
    }
    let mode = match get("screener_db_mode").as_deref() {
        None | Some("direct") => None,
        Some("session") => Some(PoolMode::Session),
        Some("transaction") => Some(PoolMode::Transaction),
        Some(_) => {
            return Err(VariableError::new(
                "screener_db_mode",
                "must be direct, session or transaction",
            ))
        }
    };
    match mode {
        None => Ok(DatabaseAccess::PerUserRole {
            host: host(
                &get,
                "screener_db_host",
                "is required when screener_db_mode is direct",
            )?,
            port: port(&get, "screener_db_port", 5432)?,
            database,
            url_params,
        }),
        Some(mode) => {
            let needed = match mode {
                PoolMode::Session => "is required when screener_db_mode is session",
                PoolMode::Transaction => "is required when screener_db_mode is transaction",
            };
            let project_ref = get("supabase_project_ref")
                .ok_or_else(|| VariableError::new("supabase_project_ref", needed))?;
            let valid = project_ref.len() <= 63
                && project_ref
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(VariableError::new(
                    "supabase_project_ref",
                    "must be the project's reference (letters and digits, as in <ref>.supabase.co)",
                ));
            }
            Ok(DatabaseAccess::Pooled {
                mode,
                host: host(&get, "screener_db_pooler_host", needed)?,
                port: port(&get, "screener_db_pooler_port", mode.default_port())?,
                project_ref,
                database,
                url_params,
            })
        }
    }
}

fn host(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    when_missing: &str,
) -> Result<String, VariableError> {
    let host = get(variable).ok_or_else(|| VariableError::new(variable, when_missing))?;
    let bracketed_ipv6 = host.starts_with('[')
        && host.ends_with(']')
        && host[1..host.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    let name = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    if bracketed_ipv6 || name {
        Ok(host)
    } else {
        Err(VariableError::new(
            variable,
            "must be a host name or IP address only (no scheme, port, user or path)",
        ))
    }
}

fn port(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u16,
) -> Result<u16, VariableError> {
    match get(variable) {
        None => Ok(default),
        Some(v) => v
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| VariableError::new(variable, "must be a port number (1-65535)")),
    }
}

/// The screener's `DATABASE_URL` for the per-user `role` and its `password`: `None` for shared access (SQLite),
/// which mints no role.
pub fn screener_database_url(
    access: &DatabaseAccess,
    role: &str,
    password: &Secret<String>,
) -> Option<Secret<String>> {
    let (user, host, port, database, url_params) = match access {
        DatabaseAccess::PerUserRole {
            host,
            port,
            database,
            url_params,
        } => (role.to_string(), host, *port, database, url_params),
        DatabaseAccess::Pooled {
            host,
            port,
            project_ref,
            database,
            url_params,
            ..
        } => (
            format!("{role}.{project_ref}"),
            host,
            *port,
            database,
            url_params,
        ),
        DatabaseAccess::Shared { .. } => return None,
    };
    let query = if url_params.is_empty() {
        String::new()
    } else {
        format!("?{url_params}")
    };
    Some(Secret::new(format!(
        "postgres://{}:{}@{host}:{port}/{}{query}",
        percent_encode(&user),
        percent_encode(password.expose()),
        percent_encode(database)
    )))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so any byte is safe in a URL's user,
/// password or path.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn access(pairs: &[(&str, &str)]) -> Result<DatabaseAccess, VariableError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        per_user_role_access(|name| vars.get(name).cloned())
    }

    fn url(access: &DatabaseAccess, password: &str) -> String {
        screener_database_url(access, "fleet_scr_0123", &Secret::new(password.to_string()))
            .unwrap()
            .expose()
            .clone()
    }

    #[test]
    fn direct_is_the_default_and_keeps_todays_url() {
        let a = access(&[
            ("screener_db_host", "db.abcdefghijklmnopqrst.supabase.co"),
            ("screener_db_port", "6543"),
        ])
        .unwrap();
        assert_eq!(
            url(&a, "0a1b"),
            "postgres://fleet_scr_0123:0a1b@db.abcdefghijklmnopqrst.supabase.co:6543/postgres?sslmode=require"
        );
        let explicit = access(&[
            ("screener_db_mode", "direct"),
            ("screener_db_host", "10.0.0.5"),
            ("screener_db_name", "fleet"),
            (
                "screener_db_params",
                "sslmode=verify-full&application_name=screener",
            ),
        ])
        .unwrap();
        assert_eq!(
            url(&explicit, "pw"),
            "postgres://fleet_scr_0123:pw@10.0.0.5:5432/fleet?sslmode=verify-full&application_name=screener"
        );
    }

    #[test]
    fn pooled_modes_log_in_as_role_dot_project_ref_on_the_pooler() {
        let pooler = [
            ("screener_db_host", "db.abcdefghijklmnopqrst.supabase.co"),
            (
                "screener_db_pooler_host",
                "aws-0-ap-southeast-1.pooler.supabase.com",
            ),
            ("supabase_project_ref", "abcdefghijklmnopqrst"),
        ];
        let session =
            access(&[pooler.as_slice(), &[("screener_db_mode", "session")]].concat()).unwrap();
        assert_eq!(
            url(&session, "pw"),
            "postgres://fleet_scr_0123.abcdefghijklmnopqrst:pw@aws-0-ap-southeast-1.pooler.supabase.com:5432/postgres?sslmode=require"
        );
        let transaction =
            access(&[pooler.as_slice(), &[("screener_db_mode", "transaction")]].concat()).unwrap();
        assert!(matches!(
            transaction,
            DatabaseAccess::Pooled {
                mode: PoolMode::Transaction,
                ..
            }
        ));
        assert_eq!(
            url(&transaction, "pw"),
            "postgres://fleet_scr_0123.abcdefghijklmnopqrst:pw@aws-0-ap-southeast-1.pooler.supabase.com:6543/postgres?sslmode=require"
        );
        let other_port = access(
            &[
                pooler.as_slice(),
                &[
                    ("screener_db_mode", "transaction"),
                    ("screener_db_pooler_port", "7000"),
                ],
            ]
            .concat(),
        )
        .unwrap();
        assert!(url(&other_port, "pw").contains(".pooler.supabase.com:7000/"));
    }

    #[test]
    fn passwords_users_and_database_names_are_percent_encoded() {
        let a = access(&[
            ("screener_db_mode", "session"),
            ("screener_db_pooler_host", "pooler.example"),
            ("supabase_project_ref", "ref"),
            ("screener_db_name", "my db/x"),
        ])
        .unwrap();
        let u = url(&a, "p@ss:w/rd?#%é ");
        assert_eq!(
            u,
            "postgres://fleet_scr_0123.ref:p%40ss%3Aw%2Frd%3F%23%25%C3%A9%20@pooler.example:5432/my%20db%2Fx?sslmode=require"
        );
        // Every special character is encoded, so the URL still has exactly one user-info separator.
        assert_eq!(u.matches('@').count(), 1);
    }

    #[test]
    fn invalid_settings_name_the_variable_and_never_echo_a_value() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "screener_db_host"),
            (
                &[("screener_db_mode", "pooled-hunter2")],
                "screener_db_mode",
            ),
            (
                &[
                    ("screener_db_mode", "transaction"),
                    ("supabase_project_ref", "ref"),
                ],
                "screener_db_pooler_host",
            ),
            (
                &[
                    ("screener_db_mode", "session"),
                    ("screener_db_pooler_host", "pooler.example"),
                ],
                "supabase_project_ref",
            ),
            (
                &[
                    ("screener_db_mode", "session"),
                    ("screener_db_pooler_host", "pooler.example"),
                    ("supabase_project_ref", "ref:hunter2@x"),
                ],
                "supabase_project_ref",
            ),
            (
                &[("screener_db_host", "postgres://admin:hunter2@db.example")],
                "screener_db_host",
            ),
            (
                &[
                    ("screener_db_host", "db.example"),
                    ("screener_db_port", "hunter2"),
                ],
                "screener_db_port",
            ),
            (
                &[
                    ("screener_db_host", "db.example"),
                    ("screener_db_port", "0"),
                ],
                "screener_db_port",
            ),
            (
                &[
                    ("screener_db_host", "db.example"),
                    ("screener_db_params", "sslmode=require#hunter2"),
                ],
                "screener_db_params",
            ),
        ];
        for (vars, variable) in cases {
            let err = access(vars).expect_err(variable);
            assert_eq!(err.variable, *variable, "{vars:?}");
            let text = format!("{err} {err:?}");
            assert!(text.contains(variable), "{text}");
            assert!(!text.contains("hunter2"), "a value leaked: {text}");
        }
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let a = access(&[("screener_db_host", "db.example")]).unwrap();
        let secret =
            screener_database_url(&a, "fleet_scr_0123", &Secret::new("hunter2".into())).unwrap();
        let shown = format!("{a:?} {secret:?} {secret}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            screener_database_url(
                &DatabaseAccess::Shared {
                    database_url: Secret::new("sqlite://x".into())
                },
                "r",
                &Secret::new("p".into())
            )
            .map(|s| s.expose().clone()),
            None
        );
    }

    #[test]
    fn ipv6_hosts_are_accepted_in_brackets() {
        let a = access(&[("screener_db_host", "[2001:db8::1]")]).unwrap();
        assert!(url(&a, "pw").contains("@[2001:db8::1]:5432/"));
        assert!(access(&[("screener_db_host", "2001:db8::1")]).is_err());
    }
}
