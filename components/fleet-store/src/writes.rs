//! Writing `user_fly_apps` rows: upsert, failures with backoff, and marking users due.
//!
//! A user can be marked due (by the subscription trigger or a webhook) while a worker holds the row. Every
//! write therefore carries the `due_generation` the worker read; if it has moved on, the write keeps the
//! newer `next_attempt_at` and `attempts` instead of clearing the mark.

use chrono::{DateTime, Utc};

use crate::app_row::{AppRow, PLATFORM_CPU_COUNT, PLATFORM_MEMORY_MB};
use crate::error::StoreError;
use crate::sanitize::sanitize_error;
use crate::sql::{SqlConnection, SqlValue};
use crate::store::Store;
use crate::types::{format_time, AppStatus, UserId};

/// A failed attempt to record.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure<'a> {
    pub user_id: UserId,
    /// The lease owner; the write is refused when the lease is no longer theirs.
    pub lease_owner: &'a str,
    /// `due_generation` of the row as the worker read it.
    pub seen_generation: i64,
    /// Stored after [`sanitize_error`].
    pub error: &'a str,
    pub next_attempt_at: DateTime<Utc>,
    /// New status, e.g. `Error` after too many attempts; `None` keeps it.
    pub status: Option<AppStatus>,
    pub now: DateTime<Utc>,
}

/// A reason to wait that is not a failed attempt (a 429 with its `Retry-After`): the row records why and when
/// it is looked at again, and its attempt count stays.
#[derive(Clone, Debug, PartialEq)]
pub struct Wait<'a> {
    pub user_id: UserId,
    /// The lease owner; the write is refused when the lease is no longer theirs.
    pub lease_owner: &'a str,
    /// `due_generation` of the row as the worker read it.
    pub seen_generation: i64,
    /// Stored after [`sanitize_error`] in `error_message`.
    pub reason: &'a str,
    pub next_attempt_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

const WRITABLE: &[(&str, &str)] = &[
    ("fly_app_name", "text"),
    ("fly_org_slug", "text"),
    ("region", "text"),
    ("docker_image", "text"),
    ("cpu_kind", "text"),
    ("cpu_count", "int"),
    ("memory_mb", "int"),
    ("machine_id", "text"),
    ("launch_id", "text"),
    ("status", "text"),
    ("health_status", "text"),
    ("health_detail", "json"),
    ("last_health_check", "ts"),
    ("secrets_version", "int"),
    ("db_role_name", "text"),
    ("deployed_at", "ts"),
    ("deleted_at", "ts"),
    ("error_message", "text"),
    ("retry_count", "int"),
    ("next_attempt_at", "ts"),
    ("monthly_cost_estimate_usd", "float"),
    ("accrued_cost_usd", "float"),
];

fn writable_values(row: &AppRow) -> Vec<SqlValue> {
    let ts = |t: Option<DateTime<Utc>>| SqlValue::from(t.map(format_time));
    vec![
        row.fly_app_name.clone().into(),
        row.fly_org_slug.clone().into(),
        row.region.clone().into(),
        row.docker_image.clone().into(),
        row.cpu_kind.clone().into(),
        row.cpus.unwrap_or(PLATFORM_CPU_COUNT).into(),
        row.memory_mb.unwrap_or(PLATFORM_MEMORY_MB).into(),
        row.machine_id.clone().into(),
        row.launch_id.clone().into(),
        row.status.as_str().into(),
        row.health_status.as_str().into(),
        row.health_detail.to_string().into(),
        ts(row.last_health_check),
        row.secrets_version.into(),
        row.db_role_name.clone().into(),
        ts(row.deployed_at),
        ts(row.deleted_at),
        row.error_message.as_deref().map(sanitize_error).into(),
        row.attempts.into(),
        ts(row.next_attempt_at),
        row.monthly_cost_estimate_usd.into(),
        row.accrued_cost_usd.into(),
    ]
}

fn upsert_template() -> String {
    let n = WRITABLE.len();
    let columns: Vec<&str> = WRITABLE.iter().map(|(c, _)| *c).collect();
    let values: Vec<String> = WRITABLE
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| format!("{{{kind}:{}}}", i + 1))
        .collect();
    let (user, generation, owner, now) = (n + 1, n + 2, n + 3, n + 4);
    let updates: Vec<String> = columns
        .iter()
        .map(|c| match *c {
            // A newer due mark wins over what the worker computed.
            "next_attempt_at" | "retry_count" => format!(
                "{c} = CASE WHEN user_fly_apps.due_generation > {{int:{generation}}} \
                 THEN user_fly_apps.{c} ELSE excluded.{c} END"
            ),
            _ => format!("{c} = excluded.{c}"),
        })
        .collect();
    format!(
        "INSERT INTO user_fly_apps (user_id, {cols}, created_at, updated_at) \
         VALUES ({{uuid:{user}}}, {vals}, {{ts:{now}}}, {{ts:{now}}}) \
         ON CONFLICT (user_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at \
         WHERE {{text:{owner}}} IS NULL OR user_fly_apps.lease_owner = {{text:{owner}}}",
        cols = columns.join(", "),
        vals = values.join(", "),
        updates = updates.join(", "),
    )
}

impl<C: SqlConnection> Store<C> {
    /// Inserts the user's row, or updates every writable field of it (not the lease, `due_generation` or
    /// `created_at`). With `lease_owner`, an existing row is only updated while that owner holds its lease.
    /// Returns `false` when the update was refused for that reason.
    pub fn upsert_app(
        &mut self,
        row: &AppRow,
        lease_owner: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut params = writable_values(row);
        params.push(row.user_id.to_string().into());
        params.push(row.due_generation.into());
        params.push(lease_owner.into());
        params.push(format_time(now).into());
        Ok(self.execute(&upsert_template(), &params)? == 1)
    }

    /// Records a failed attempt: attempts + 1, the sanitized error and the next attempt time. Returns the new
    /// attempt count, or `None` when the lease is no longer the caller's (nothing written).
    pub fn record_failure(&mut self, failure: &Failure<'_>) -> Result<Option<i64>, StoreError> {
        let rows = self.query(
            "UPDATE user_fly_apps SET retry_count = retry_count + 1, error_message = {text:3}, \
             next_attempt_at = CASE WHEN due_generation > {int:4} THEN next_attempt_at ELSE {ts:5} END, \
             status = COALESCE({text:6}, status), updated_at = {ts:7} \
             WHERE user_id = {uuid:1} AND lease_owner = {text:2} RETURNING retry_count",
            &[
                failure.user_id.to_string().into(),
                failure.lease_owner.into(),
                sanitize_error(failure.error).into(),
                failure.seen_generation.into(),
                format_time(failure.next_attempt_at).into(),
                failure.status.map(|s| s.as_str()).into(),
                format_time(failure.now).into(),
            ],
        )?;
        rows.first()
            .map(|r| r.int("retry_count"))
            .transpose()
            .map_err(Into::into)
    }

    /// Records a reason to wait (see [`Wait`]): the sanitized reason and the next attempt time; attempts stay.
    /// Returns `false` when the lease is no longer the caller's (nothing written). A newer due mark keeps its
    /// time only when it is later than the wait: a rate limit is honoured even against a hint.
    pub fn record_wait(&mut self, wait: &Wait<'_>) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE user_fly_apps SET error_message = {text:3}, \
             next_attempt_at = CASE WHEN due_generation > {int:4} AND next_attempt_at > {ts:5} \
             THEN next_attempt_at ELSE {ts:5} END, updated_at = {ts:6} \
             WHERE user_id = {uuid:1} AND lease_owner = {text:2}",
            &[
                wait.user_id.to_string().into(),
                wait.lease_owner.into(),
                sanitize_error(wait.reason).into(),
                wait.seen_generation.into(),
                format_time(wait.next_attempt_at).into(),
                format_time(wait.now).into(),
            ],
        )?;
        Ok(changed == 1)
    }

    /// Marks a user due now (a webhook hint, an admin action). Creates a provisioning row when the user has
    /// none and `create_if_missing` is set. Returns the new `due_generation`, or `None` when there is no row
    /// and none was created.
    pub fn mark_due(
        &mut self,
        user_id: UserId,
        now: DateTime<Utc>,
        create_if_missing: bool,
    ) -> Result<Option<i64>, StoreError> {
        let params = [user_id.to_string().into(), format_time(now).into()];
        let rows = if create_if_missing {
            self.query(
                "INSERT INTO user_fly_apps (user_id, status, next_attempt_at, due_generation, created_at, updated_at) \
                 VALUES ({uuid:1}, 'provisioning', {ts:2}, 1, {ts:2}, {ts:2}) \
                 ON CONFLICT (user_id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at, \
                 due_generation = user_fly_apps.due_generation + 1, updated_at = excluded.updated_at \
                 RETURNING due_generation",
                &params,
            )?
        } else {
            self.query(
                "UPDATE user_fly_apps SET next_attempt_at = {ts:2}, due_generation = due_generation + 1, \
                 updated_at = {ts:2} WHERE user_id = {uuid:1} RETURNING due_generation",
                &params,
            )?
        };
        rows.first()
            .map(|r| r.int("due_generation"))
            .transpose()
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_binds_every_writable_column() {
        let row = AppRow::new(UserId::parse("aaaaaaaa-0000-4000-8000-000000000001").unwrap());
        assert_eq!(writable_values(&row).len(), WRITABLE.len());
        let template = upsert_template();
        assert!(template.contains(&format!("{{int:{}}}", WRITABLE.len() + 2)));
    }
}
