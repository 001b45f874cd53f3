//! The few statements only the admin needs, written once for both dialects with the store's query tokens.

use std::collections::HashMap;

use fleet_store::query::render;
use fleet_store::{
    format_time, Row, SqlConnection, SqlError, SqlErrorKind, SqlValue, Store, StoreError, Tier,
    UserId,
};

/// A user's subscription as the entitlement view sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TierView {
    pub tier: String,
    pub status: String,
    pub entitled: bool,
}

fn query<C: SqlConnection>(
    store: &mut Store<C>,
    template: &str,
    params: &[SqlValue],
) -> Result<Vec<Row>, StoreError> {
    let conn = store.connection();
    let sql = render(conn.dialect(), template);
    Ok(conn.query(&sql, params)?)
}

/// Every user's entitlement, in one query.
pub fn entitlements<C: SqlConnection>(
    store: &mut Store<C>,
) -> Result<HashMap<UserId, TierView>, StoreError> {
    let rows = query(
        store,
        "SELECT {text_out:user_id}, tier, status, entitled FROM fleet_entitlements",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok((
                UserId::parse(&row.text("user_id")?)?,
                TierView {
                    tier: row.text("tier")?,
                    status: row.text("status")?,
                    entitled: row.bool("entitled")?,
                },
            ))
        })
        .collect()
}

/// Entitled users with no app row (or only a deleted one): the users a migration provisions.
pub fn entitled_without_app<C: SqlConnection>(
    store: &mut Store<C>,
) -> Result<Vec<UserId>, StoreError> {
    let rows = query(
        store,
        "SELECT {text_out:e.user_id} FROM fleet_entitlements e \
         LEFT JOIN user_fly_apps a ON a.user_id = e.user_id \
         WHERE e.entitled AND (a.user_id IS NULL OR a.status = 'deleted') ORDER BY e.user_id",
        &[],
    )?;
    rows.iter()
        .map(|row| Ok(UserId::parse(&row.text("user_id")?)?))
        .collect()
}

/// Why a tier could not be set.
#[derive(Debug)]
pub enum SetTierError {
    /// The platform does not know the user (Supabase: no `auth.users` row).
    UnknownUser,
    /// The platform's table refuses the value (e.g. its status CHECK has no `trialing`).
    Refused,
    Store(StoreError),
}

/// Sets (or creates) the user's subscription. The database's own triggers mark the user due when the
/// entitlement flips, exactly as a billing change would. An override has no expiry.
pub fn set_tier<C: SqlConnection>(
    store: &mut Store<C>,
    user: UserId,
    tier: Tier,
    status: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), SetTierError> {
    let conn = store.connection();
    let sql = render(
        conn.dialect(),
        "INSERT INTO user_subscriptions (user_id, tier, status, expires_at, created_at, updated_at) \
         VALUES ({uuid:1}, {text:2}, {text:3}, NULL, {ts:4}, {ts:4}) \
         ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, status = excluded.status, \
         expires_at = NULL, updated_at = excluded.updated_at",
    );
    let params = [
        user.to_string().into(),
        tier.as_str().into(),
        status.into(),
        format_time(now).into(),
    ];
    match conn.execute(&sql, &params) {
        Ok(_) => Ok(()),
        Err(SqlError {
            kind: SqlErrorKind::ForeignKeyViolation,
            ..
        }) => Err(SetTierError::UnknownUser),
        Err(SqlError {
            kind: SqlErrorKind::CheckViolation,
            ..
        }) => Err(SetTierError::Refused),
        Err(e) => Err(SetTierError::Store(e.into())),
    }
}
