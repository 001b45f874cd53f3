//! The few statements only the admin needs, written once for both dialects with the store's query tokens.

use std::collections::HashMap;

use fleet_store::query::render;
use fleet_store::{
    format_time, Row, SqlConnection, SqlError, SqlErrorKind, SqlValue, Store, StoreError, Tier,
    UserId,
};

use crate::signals::{trader_language, SignalView, SignalsQuery};

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

/// Entitled users with no app row (or only a deleted one): the users a migration provisions. A user an
/// operator forced down (a hold, see fleet-store `holds.rs`) is not one of them.
pub fn entitled_without_app<C: SqlConnection>(
    store: &mut Store<C>,
) -> Result<Vec<UserId>, StoreError> {
    let rows = query(
        store,
        "SELECT {text_out:e.user_id} FROM fleet_entitlements e \
         LEFT JOIN user_fly_apps a ON a.user_id = e.user_id \
         WHERE e.entitled AND (a.user_id IS NULL OR a.status = 'deleted') \
         AND NOT EXISTS (SELECT 1 FROM fleet_state h WHERE h.key = 'deprovision_hold:' || e.user_id) \
         ORDER BY e.user_id",
        &[],
    )?;
    rows.iter()
        .map(|row| Ok(UserId::parse(&row.text("user_id")?)?))
        .collect()
}

/// The most recent signals, newest first (by the signal's time, else the row's; then by row), with their
/// trader and app. One SQL text for both dialects: `"interval"` and `"timestamp"` are quoted (the platform's
/// column names), and `filter -> 'code'` is SQL NULL exactly when an object filter has no `code` key, in
/// SQLite's JSON operators and in Postgres jsonb alike. A filter stored as a JSON string comes back as text
/// (`encoded_filter`, rare) and is decided in Rust.
pub fn recent_signals<C: SqlConnection>(
    store: &mut Store<C>,
    wanted: &SignalsQuery,
) -> Result<Vec<SignalView>, StoreError> {
    let mut params: Vec<SqlValue> = vec![i64::from(wanted.limit).into()];
    let filter = match wanted.user {
        Some(user) => {
            params.push(user.to_string().into());
            "WHERE s.user_id = {uuid:2}"
        }
        None => "",
    };
    let template = format!(
        "SELECT {{text_out:s.id}}, {{text_out:s.trader_id}}, t.name AS trader_name, \
         t.language AS trader_language, (t.filter -> 'code' IS NOT NULL) AS has_code, \
         CASE WHEN t.filter -> 'code' IS NULL AND substr(CAST(t.filter AS TEXT), 1, 1) = '\"' \
              THEN CAST(t.filter AS TEXT) END AS encoded_filter, \
         {{text_out:s.user_id}}, s.symbol AS symbol, s.\"interval\" AS \"interval\", \
         {{ts_out:s.\"timestamp\"}}, {{ts_out:s.created_at}}, {{float_out:s.price_at_signal}}, \
         s.source AS source, {{text_out:s.fly_app_id}}, a.fly_app_name AS app_name \
         FROM signals s \
         LEFT JOIN traders t ON t.id = s.trader_id \
         LEFT JOIN user_fly_apps a ON a.id = s.fly_app_id \
         {filter} \
         ORDER BY COALESCE(s.\"timestamp\", s.created_at) DESC, s.created_at DESC, s.id DESC \
         LIMIT {{int:1}}"
    );
    let rows = query(store, &template, &params)?;
    rows.iter().map(signal_view).collect()
}

fn signal_view(row: &Row) -> Result<SignalView, StoreError> {
    // traders.name is NOT NULL: no name means the join found no trader.
    let language = row
        .opt_text("trader_name")?
        .is_some()
        .then(|| -> Result<String, StoreError> {
            let encoded = row.opt_text("encoded_filter")?;
            let language = row.opt_text("trader_language")?;
            Ok(trader_language(
                row.bool("has_code")?,
                encoded.as_deref(),
                language.as_deref(),
            )
            .to_string())
        });
    let timestamp = match row.opt_text("timestamp")? {
        Some(at) => at,
        None => row.text("created_at")?,
    };
    Ok(SignalView {
        id: row.text("id")?,
        trader_id: row.opt_text("trader_id")?,
        trader_name: row.opt_text("trader_name")?,
        trader_language: language.transpose()?,
        user_id: row.opt_text("user_id")?,
        symbol: row.text("symbol")?,
        interval: row.opt_text("interval")?,
        timestamp,
        price: row.opt_float("price_at_signal")?,
        source: row.opt_text("source")?,
        fly_app_id: row.opt_text("fly_app_id")?,
        app_name: row.opt_text("app_name")?,
    })
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
