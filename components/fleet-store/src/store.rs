//! The store: one interface over either dialect. This file holds reads, events and fleet-wide state; leases
//! and row writes live in `lease.rs` and `writes.rs`.

use chrono::{DateTime, Utc};

use crate::app_row::{AppRow, ReadRows, APP_COLUMNS};
use crate::error::StoreError;
use crate::migrate::{self, MigrateError, MigrationReport};
use crate::query::render;
use crate::sanitize::sanitize_error;
use crate::sql::{Dialect, Row, SqlConnection, SqlValue};
use crate::types::{
    format_time, parse_time, AppStatus, EventType, SubscriptionStatus, Tier, UserId,
};

/// Fleet's durable state over one SQL connection.
pub struct Store<C: SqlConnection> {
    pub(crate) conn: C,
}

/// A user's entitlement as the database computes it (one rule: `fleet.entitled` / the `fleet_entitlements`
/// view). A user without a subscription row is not entitled.
#[derive(Clone, Debug, PartialEq)]
pub struct Entitlement {
    pub tier: Option<Tier>,
    pub status: Option<SubscriptionStatus>,
    pub expires_at: Option<DateTime<Utc>>,
    pub entitled: bool,
    /// An operator forced the app down (see `holds.rs`); the decision treats the user as not entitled.
    pub held: bool,
}

/// One `user_fly_app_events` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The order events were written in (column `seq`; the platform's `id` is a uuid).
    pub seq: i64,
    pub fly_app_id: Option<String>,
    pub user_id: Option<UserId>,
    pub fly_app_name: Option<String>,
    pub event_type: EventType,
    /// `None` also for a status text Fleet does not know (rows the platform's edge functions wrote).
    pub status: Option<AppStatus>,
    pub metadata: serde_json::Value,
    pub error_details: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An event to append. `error_details` is sanitized before it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub user_id: Option<UserId>,
    pub fly_app_id: Option<String>,
    pub fly_app_name: Option<String>,
    pub event_type: EventType,
    pub status: Option<AppStatus>,
    pub metadata: serde_json::Value,
    pub error_details: Option<String>,
}

impl NewEvent {
    /// An event about a user's app, with empty metadata.
    pub fn for_app(app: &AppRow, event_type: EventType) -> Self {
        NewEvent {
            user_id: Some(app.user_id),
            fly_app_id: app.id.clone(),
            fly_app_name: app.fly_app_name.clone(),
            event_type,
            status: Some(app.status),
            metadata: serde_json::json!({}),
            error_details: None,
        }
    }
}

/// Everything Fleet knows about one user.
#[derive(Clone, Debug, PartialEq)]
pub struct UserState {
    pub entitlement: Entitlement,
    pub app: Option<AppRow>,
    /// Newest first.
    pub events: Vec<Event>,
}

impl<C: SqlConnection> Store<C> {
    pub fn new(conn: C) -> Self {
        Store { conn }
    }

    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// The underlying connection (tests and tools use it for setup).
    pub fn connection(&mut self) -> &mut C {
        &mut self.conn
    }

    pub fn into_connection(self) -> C {
        self.conn
    }

    /// Applies pending migrations.
    pub fn migrate(&mut self) -> Result<MigrationReport, MigrateError> {
        migrate::migrate(&mut self.conn)
    }

    pub(crate) fn query(
        &mut self,
        template: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Row>, StoreError> {
        let sql = render(self.conn.dialect(), template);
        Ok(self.conn.query(&sql, params)?)
    }

    pub(crate) fn execute(
        &mut self,
        template: &str,
        params: &[SqlValue],
    ) -> Result<u64, StoreError> {
        let sql = render(self.conn.dialect(), template);
        Ok(self.conn.execute(&sql, params)?)
    }

    /// The user's entitlement, row and latest `events_limit` events.
    pub fn read_user(
        &mut self,
        user_id: UserId,
        events_limit: u32,
    ) -> Result<UserState, StoreError> {
        Ok(UserState {
            entitlement: self.entitlement(user_id)?,
            app: self.app(user_id)?,
            events: self.events(user_id, events_limit)?,
        })
    }

    pub fn entitlement(&mut self, user_id: UserId) -> Result<Entitlement, StoreError> {
        let rows = self.query(
            "SELECT tier, status, {ts_out:expires_at}, entitled, \
             EXISTS (SELECT 1 FROM fleet_state h WHERE h.key = {text:2}) AS held \
             FROM fleet_entitlements WHERE user_id = {uuid:1}",
            &[
                user_id.to_string().into(),
                crate::holds::hold_key(user_id).into(),
            ],
        )?;
        let Some(row) = rows.first() else {
            return Ok(Entitlement {
                tier: None,
                status: None,
                expires_at: None,
                entitled: false,
                held: false,
            });
        };
        Ok(Entitlement {
            tier: Some(Tier::parse(&row.text("tier")?)?),
            status: Some(SubscriptionStatus::parse(&row.text("status")?)?),
            expires_at: row
                .opt_text("expires_at")?
                .map(|t| parse_time(&t))
                .transpose()?,
            entitled: row.bool("entitled")?,
            held: row.bool("held")?,
        })
    }

    pub fn app(&mut self, user_id: UserId) -> Result<Option<AppRow>, StoreError> {
        let rows = self.query(
            &format!("SELECT {APP_COLUMNS} FROM user_fly_apps WHERE user_id = {{uuid:1}}"),
            &[user_id.to_string().into()],
        )?;
        rows.first().map(AppRow::from_row).transpose()
    }

    pub fn app_by_name(&mut self, fly_app_name: &str) -> Result<Option<AppRow>, StoreError> {
        let rows = self.query(
            &format!("SELECT {APP_COLUMNS} FROM user_fly_apps WHERE fly_app_name = {{text:1}}"),
            &[fly_app_name.into()],
        )?;
        rows.first().map(AppRow::from_row).transpose()
    }

    /// Every row, ordered by user id (for orphan detection and admin views).
    pub fn list_apps(&mut self) -> Result<Vec<AppRow>, StoreError> {
        self.list_apps_each()?.strict()
    }

    /// [`Store::list_apps`], reading each row on its own: a row out of shape does not hide the others.
    pub fn list_apps_each(&mut self) -> Result<ReadRows, StoreError> {
        let rows = self.query(
            &format!("SELECT {APP_COLUMNS} FROM user_fly_apps ORDER BY user_id"),
            &[],
        )?;
        Ok(ReadRows::read(&rows))
    }

    /// Appends an event; returns its `seq`.
    pub fn append_event(
        &mut self,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let rows = self.query(
            "INSERT INTO user_fly_app_events \
             (fly_app_id, user_id, fly_app_name, event_type, status, metadata, error_details, created_at) \
             VALUES ({uuid:1}, {uuid:2}, {text:3}, {text:4}, {text:5}, {json:6}, {text:7}, {ts:8}) RETURNING seq",
            &[
                event.fly_app_id.clone().into(),
                event.user_id.map(|u| u.to_string()).into(),
                event.fly_app_name.clone().into(),
                event.event_type.as_str().into(),
                event.status.map(|s| s.as_str()).into(),
                event.metadata.to_string().into(),
                event.error_details.as_deref().map(sanitize_error).into(),
                format_time(now).into(),
            ],
        )?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Decode("INSERT ... RETURNING seq gave no row".into()))?;
        Ok(row.int("seq")?)
    }

    /// The user's latest events, newest first.
    pub fn events(&mut self, user_id: UserId, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows = self.query(
            "SELECT seq, {text_out:fly_app_id}, {text_out:user_id}, fly_app_name, event_type, status, \
             {text_out:metadata}, error_details, {ts_out:created_at} FROM user_fly_app_events \
             WHERE user_id = {uuid:1} ORDER BY seq DESC LIMIT {int:2}",
            &[user_id.to_string().into(), i64::from(limit).into()],
        )?;
        rows.iter().map(event_from_row).collect()
    }

    /// The latest events of the given types across all users, newest first (admin views: orphans, provision
    /// timings).
    pub fn events_of_types(
        &mut self,
        types: &[EventType],
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (2..types.len() + 2)
            .map(|n| format!("{{text:{n}}}"))
            .collect();
        let mut params: Vec<SqlValue> = vec![i64::from(limit).into()];
        params.extend(types.iter().map(|t| SqlValue::from(t.as_str())));
        let rows = self.query(
            &format!(
                "SELECT seq, {{text_out:fly_app_id}}, {{text_out:user_id}}, fly_app_name, event_type, status, \
                 {{text_out:metadata}}, error_details, {{ts_out:created_at}} FROM user_fly_app_events \
                 WHERE event_type IN ({}) ORDER BY seq DESC LIMIT {{int:1}}",
                placeholders.join(", ")
            ),
            &params,
        )?;
        rows.iter().map(event_from_row).collect()
    }

    /// Fleet-wide state by key (rollout progress, orphan first-seen times ...).
    pub fn state(&mut self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let rows = self.query(
            "SELECT {text_out:value} FROM fleet_state WHERE key = {text:1}",
            &[key.into()],
        )?;
        rows.first()
            .map(|r| {
                serde_json::from_str(&r.text("value")?)
                    .map_err(|e| StoreError::Decode(format!("fleet_state {key}: {e}")))
            })
            .transpose()
    }

    pub fn put_state(
        &mut self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO fleet_state (key, value, updated_at) VALUES ({text:1}, {json:2}, {ts:3}) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[key.into(), value.to_string().into(), format_time(now).into()],
        )?;
        Ok(())
    }
}

fn event_from_row(row: &Row) -> Result<Event, StoreError> {
    Ok(Event {
        seq: row.int("seq")?,
        fly_app_id: row.opt_text("fly_app_id")?,
        user_id: row
            .opt_text("user_id")?
            .map(|u| UserId::parse(&u))
            .transpose()?,
        fly_app_name: row.opt_text("fly_app_name")?,
        event_type: EventType::parse(&row.text("event_type")?)?,
        status: row
            .opt_text("status")?
            .and_then(|s| AppStatus::parse(&s).ok()),
        metadata: serde_json::from_str(&row.text("metadata")?)
            .map_err(|e| StoreError::Decode(format!("event metadata: {e}")))?,
        error_details: row.opt_text("error_details")?,
        created_at: parse_time(&row.text("created_at")?)?,
    })
}
