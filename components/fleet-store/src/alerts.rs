//! Operator alerts: the state of each alert condition (`fleet_alerts`) and the delivery queue that is also the
//! alert history (`fleet_alert_outbox`). A transition is recorded once even when two sweeps evaluated the same
//! previous state (the upsert only applies over the version it was decided on), and a notification is claimed
//! for delivery by one worker at a time (pending → sending under a lease, `FOR UPDATE SKIP LOCKED` on
//! Postgres), so two hosts never send it twice. Callers sanitise summaries; nothing here holds a secret.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::sql::{Dialect, Row, SqlConnection, SqlValue};
use crate::store::Store;
use crate::types::{format_time, parse_time};

/// One alert condition's stored state.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRecord {
    pub key: String,
    pub kind: String,
    pub severity: String,
    pub firing: bool,
    pub summary: String,
    pub first_fired_at: DateTime<Utc>,
    pub last_notified_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Bumped by every transition; a transition applies only over the version it was decided on.
    pub version: i64,
}

/// A transition to record with its notification: the condition's new state, `previous_version` the version
/// it was decided on (`None`: the key had no row).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertTransition<'a> {
    pub record: &'a AlertRecord,
    pub previous_version: Option<i64>,
    /// `firing` or `resolved`: what the notification says.
    pub state: &'a str,
}

/// One notification in the outbox (and the alert history).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertDelivery {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub severity: String,
    /// `firing` or `resolved`.
    pub state: String,
    pub summary: String,
    pub created_at: DateTime<Utc>,
    /// `pending`, `sending`, `sent` or `failed`.
    pub delivery: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// How one delivery attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum DeliveryOutcome<'a> {
    Sent,
    /// Try again at `retry_at`; `None`: give up (`failed`). `reason` is sanitised by the caller.
    Failed {
        reason: &'a str,
        retry_at: Option<DateTime<Utc>>,
    },
}

const OUTBOX_COLUMNS: &str =
    "id, alert_key, kind, severity, state, summary, {ts_out:created_at}, delivery, \
     attempts, {ts_out:next_attempt_at}, {ts_out:delivered_at}, last_error";

const UPSERT: &str = "INSERT INTO fleet_alerts (key, kind, severity, firing, summary, first_fired_at, \
     last_notified_at, resolved_at, version, updated_at) \
     VALUES ({text:1}, {text:2}, {text:3}, {bool:4}, {text:5}, {ts:6}, {ts:7}, {ts:8}, 1, {ts:9}) \
     ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, severity = excluded.severity, \
     firing = excluded.firing, summary = excluded.summary, first_fired_at = excluded.first_fired_at, \
     last_notified_at = excluded.last_notified_at, resolved_at = excluded.resolved_at, \
     version = fleet_alerts.version + 1, updated_at = excluded.updated_at \
     WHERE fleet_alerts.version = {int:10}";

const ENQUEUE_COLUMNS: &str =
    "INSERT INTO fleet_alert_outbox (alert_key, kind, severity, state, summary, created_at, next_attempt_at)";

impl<C: SqlConnection> Store<C> {
    /// Every alert condition's state (firing and resolved).
    pub fn alerts(&mut self) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = self.query(
            "SELECT key, kind, severity, firing, summary, {ts_out:first_fired_at}, {ts_out:last_notified_at}, \
             {ts_out:resolved_at}, version FROM fleet_alerts ORDER BY key",
            &[],
        )?;
        rows.iter().map(record_from_row).collect()
    }

    /// Records a transition and queues its notification, both or neither (one statement on Postgres). `false`
    /// when the condition moved on since `previous_version` was read (another sweep recorded it first).
    pub fn record_alert_transition(
        &mut self,
        t: &AlertTransition<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let r = t.record;
        let params: Vec<SqlValue> = vec![
            r.key.as_str().into(),
            r.kind.as_str().into(),
            r.severity.as_str().into(),
            SqlValue::Bool(r.firing),
            r.summary.as_str().into(),
            format_time(r.first_fired_at).into(),
            format_time(r.last_notified_at).into(),
            r.resolved_at.map(format_time).into(),
            format_time(now).into(),
            t.previous_version.into(),
            t.state.into(),
        ];
        let enqueue = format!(
            "{ENQUEUE_COLUMNS} SELECT key, {{text:2}}, {{text:3}}, {{text:11}}, {{text:5}}, {{ts:9}}, {{ts:9}}"
        );
        if self.dialect() == Dialect::Postgres {
            let sql = format!("WITH s AS ({UPSERT} RETURNING key) {enqueue} FROM s");
            return Ok(self.execute(&sql, &params)? == 1);
        }
        if self.execute(UPSERT, &params[..10])? != 1 {
            return Ok(false);
        }
        let sql = format!("{enqueue} FROM fleet_alerts WHERE key = {{text:1}}");
        self.execute(&sql, &params)?;
        Ok(true)
    }

    /// Claims up to `limit` notifications due for delivery (pending and due by `due_by`, or sending under a
    /// lease expired at `now`), for `ttl`. Each is claimed by one worker only. Pending notifications created
    /// before `expire_before` are given up first (`failed`, "expired").
    pub fn claim_alert_deliveries(
        &mut self,
        owner: &str,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        ttl: Duration,
        limit: u32,
        expire_before: DateTime<Utc>,
    ) -> Result<Vec<AlertDelivery>, StoreError> {
        self.execute(
            "UPDATE fleet_alert_outbox SET delivery = 'failed', \
             last_error = 'expired: not delivered in time', lease_owner = NULL, lease_expires_at = NULL \
             WHERE delivery IN ('pending', 'sending') AND created_at < {ts:1}",
            &[format_time(expire_before).into()],
        )?;
        let expires = crate::time::after(now, ttl);
        let rows = self.query(
            &format!(
                "UPDATE fleet_alert_outbox SET delivery = 'sending', lease_owner = {{text:1}}, \
                 lease_expires_at = {{ts:3}}, attempts = attempts + 1 \
                 WHERE delivery IN ('pending', 'sending') AND id IN (SELECT id FROM fleet_alert_outbox \
                 WHERE (delivery = 'pending' AND next_attempt_at <= {{ts:5}}) \
                 OR (delivery = 'sending' AND lease_expires_at < {{ts:2}}) \
                 ORDER BY id LIMIT {{int:4}} {{pg_only:FOR UPDATE SKIP LOCKED}}) \
                 RETURNING {OUTBOX_COLUMNS}"
            ),
            &[
                owner.into(),
                format_time(now).into(),
                format_time(expires).into(),
                i64::from(limit).into(),
                format_time(due_by).into(),
            ],
        )?;
        let mut claimed: Vec<AlertDelivery> = rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<_, _>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    /// Records how a claimed delivery ended; `false` when the claim was no longer ours.
    pub fn finish_alert_delivery(
        &mut self,
        id: i64,
        owner: &str,
        outcome: &DeliveryOutcome<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let changed = match outcome {
            DeliveryOutcome::Sent => self.execute(
                "UPDATE fleet_alert_outbox SET delivery = 'sent', delivered_at = {ts:3}, last_error = NULL, \
                 lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = {int:1} AND lease_owner = {text:2} AND delivery = 'sending'",
                &[id.into(), owner.into(), format_time(now).into()],
            )?,
            DeliveryOutcome::Failed { reason, retry_at } => self.execute(
                "UPDATE fleet_alert_outbox SET delivery = {text:3}, next_attempt_at = {ts:4}, \
                 last_error = {text:5}, lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = {int:1} AND lease_owner = {text:2} AND delivery = 'sending'",
                &[
                    id.into(),
                    owner.into(),
                    if retry_at.is_some() { "pending" } else { "failed" }.into(),
                    format_time(retry_at.unwrap_or(now)).into(),
                    (*reason).into(),
                ],
            )?,
        };
        Ok(changed == 1)
    }

    /// The latest `limit` notifications, newest first.
    pub fn alert_history(&mut self, limit: u32) -> Result<Vec<AlertDelivery>, StoreError> {
        let rows = self.query(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM fleet_alert_outbox ORDER BY id DESC LIMIT {{int:1}}"
            ),
            &[i64::from(limit).into()],
        )?;
        rows.iter().map(delivery_from_row).collect()
    }
}

fn opt_time(row: &Row, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(row.opt_text(column)?.map(|t| parse_time(&t)).transpose()?)
}

fn record_from_row(row: &Row) -> Result<AlertRecord, StoreError> {
    Ok(AlertRecord {
        key: row.text("key")?,
        kind: row.text("kind")?,
        severity: row.text("severity")?,
        firing: row.bool("firing")?,
        summary: row.text("summary")?,
        first_fired_at: parse_time(&row.text("first_fired_at")?)?,
        last_notified_at: parse_time(&row.text("last_notified_at")?)?,
        resolved_at: opt_time(row, "resolved_at")?,
        version: row.int("version")?,
    })
}

fn delivery_from_row(row: &Row) -> Result<AlertDelivery, StoreError> {
    Ok(AlertDelivery {
        id: row.int("id")?,
        key: row.text("alert_key")?,
        kind: row.text("kind")?,
        severity: row.text("severity")?,
        state: row.text("state")?,
        summary: row.text("summary")?,
        created_at: parse_time(&row.text("created_at")?)?,
        delivery: row.text("delivery")?,
        attempts: row.int("attempts")?,
        next_attempt_at: parse_time(&row.text("next_attempt_at")?)?,
        delivered_at: opt_time(row, "delivered_at")?,
        last_error: row.opt_text("last_error")?,
    })
}
