//! Users by email. Postgres on Supabase reads `auth.users` (the `postgres` role Fleet runs as may read it);
//! where that is refused or absent, the platform's `user_profiles.email`; SQLite has no `auth.users`, only
//! `user_profiles.email`. Matching is a plain substring (`strpos`/`instr`), so `%` and `_` mean themselves.

use std::collections::HashMap;

use fleet_store::query::render;
use fleet_store::{Dialect, SqlConnection, SqlValue, Store, StoreError, UserId};

/// The most users one search or listing answers with.
pub const MAX_USERS: i64 = 200;

/// Where emails came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailSource {
    AuthUsers,
    UserProfiles,
    None,
}

impl EmailSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailSource::AuthUsers => "auth.users",
            EmailSource::UserProfiles => "user_profiles",
            EmailSource::None => "none",
        }
    }
}

fn sources(dialect: Dialect) -> &'static [(EmailSource, &'static str)] {
    match dialect {
        Dialect::Postgres => &[
            (EmailSource::AuthUsers, "auth.users"),
            (EmailSource::UserProfiles, "public.user_profiles"),
        ],
        Dialect::Sqlite => &[(EmailSource::UserProfiles, "user_profiles")],
    }
}

/// `(user id, email)` pairs, from the first email table this database lets Fleet read.
fn emails_where<C: SqlConnection>(
    store: &mut Store<C>,
    condition: &str,
    params: &[SqlValue],
) -> Result<(EmailSource, Vec<(UserId, String)>), StoreError> {
    let conn = store.connection();
    let dialect = conn.dialect();
    for (source, table) in sources(dialect) {
        let template = format!(
            "SELECT {{text_out:p.id}}, CAST(p.email AS TEXT) AS email FROM {table} p \
             WHERE p.email IS NOT NULL AND {condition} ORDER BY lower(CAST(p.email AS TEXT)), p.id LIMIT {MAX_USERS}"
        );
        match conn.query(&render(dialect, &template), params) {
            Ok(rows) => {
                let pairs = rows
                    .iter()
                    .map(|r| Ok((UserId::parse(&r.text("id")?)?, r.text("email")?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                return Ok((*source, pairs));
            }
            // Not there or not granted: try the next table.
            Err(_) => continue,
        }
    }
    Ok((EmailSource::None, Vec::new()))
}

/// Users whose email contains `needle` (case-insensitive).
pub fn search_email<C: SqlConnection>(
    store: &mut Store<C>,
    needle: &str,
) -> Result<(EmailSource, Vec<(UserId, String)>), StoreError> {
    let condition = match store.dialect() {
        Dialect::Postgres => "strpos(lower(CAST(p.email AS TEXT)), lower({text:1})) > 0",
        Dialect::Sqlite => "instr(lower(p.email), lower({text:1})) > 0",
    };
    emails_where(store, condition, &[needle.into()])
}

/// The user with exactly this email (case-insensitive), if any.
pub fn user_by_email<C: SqlConnection>(
    store: &mut Store<C>,
    email: &str,
) -> Result<(EmailSource, Vec<UserId>), StoreError> {
    let (source, pairs) = emails_where(
        store,
        "lower(CAST(p.email AS TEXT)) = lower({text:1})",
        &[email.into()],
    )?;
    Ok((source, pairs.into_iter().map(|(id, _)| id).collect()))
}

/// The emails of the given users (one query; users without a readable email are left out).
pub fn emails_of<C: SqlConnection>(
    store: &mut Store<C>,
    users: &[UserId],
) -> Result<(EmailSource, HashMap<UserId, String>), StoreError> {
    if users.is_empty() {
        return Ok((EmailSource::None, HashMap::new()));
    }
    let list: Vec<String> = (1..=users.len()).map(|n| format!("{{uuid:{n}}}")).collect();
    let params: Vec<SqlValue> = users.iter().map(|u| u.to_string().into()).collect();
    let condition = format!("p.id IN ({})", list.join(", "));
    let (source, pairs) = emails_where(store, &condition, &params)?;
    Ok((source, pairs.into_iter().collect()))
}
