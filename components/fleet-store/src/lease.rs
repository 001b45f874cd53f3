//! Row leases: at most one worker acts on a user's row at a time. A lease is taken by compare-and-set
//! (`... WHERE lease_expires_at IS NULL OR lease_expires_at < now`), which is atomic in both dialects, and
//! expires on its own if its holder dies.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::app_row::{AppRow, ReadRows, APP_COLUMNS};
use crate::error::StoreError;
use crate::sql::SqlConnection;
use crate::store::Store;
use crate::types::{format_time, UserId};

/// Which rows a sweep should look at (see `DUE_AND_FREE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueQuery {
    pub now: DateTime<Utc>,
    /// Active rows whose last health check is older than this are due as well.
    pub checked_before: DateTime<Utc>,
    pub limit: u32,
}

/// How long a row lease lasts before it must be renewed. Workers renew it before every step, so a worker
/// that trapped or was killed holds a row for at most this long.
pub const ROW_LEASE_TTL: Duration = Duration::from_secs(30);

fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    crate::time::after(now, ttl)
}

/// Rows a sweep must look at, and not leased by anyone (a lease that expired is free). Level-triggered: a row
/// is considered when
/// * it is marked due (`next_attempt_at` has passed), or
/// * it is active and its last health check is older than `checked_before` (even while backing off: health is
///   still judged), or
/// * it has no due mark and is not where the entitlement wants it: in a transitional or failed state
///   (`provisioning`, `deprovisioning`, `error`), live but not entitled, or deleted but entitled (a user an
///   operator forced down, `holds.rs`, counts as not entitled).
///
/// A row backing off (`next_attempt_at` in the future) waits, except for its health check.
/// Parameters: 1 = now, 2 = checked_before.
const DUE_AND_FREE: &str = "((next_attempt_at IS NOT NULL AND next_attempt_at <= {ts:1}) \
     OR (status = 'active' AND (last_health_check IS NULL OR last_health_check < {ts:2})) \
     OR (next_attempt_at IS NULL AND (status IN ('provisioning', 'deprovisioning', 'error') \
         OR (status <> 'deleted' AND NOT EXISTS (SELECT 1 FROM fleet_entitlements e \
             WHERE e.user_id = user_fly_apps.user_id AND e.entitled AND NOT EXISTS (SELECT 1 FROM fleet_state h \
             WHERE h.key = 'deprovision_hold:' || user_fly_apps.user_id))) \
         OR (status = 'deleted' AND EXISTS (SELECT 1 FROM fleet_entitlements e \
             WHERE e.user_id = user_fly_apps.user_id AND e.entitled AND NOT EXISTS (SELECT 1 FROM fleet_state h \
             WHERE h.key = 'deprovision_hold:' || user_fly_apps.user_id)))))) \
     AND (lease_expires_at IS NULL OR lease_expires_at < {ts:1})";

const DUE_ORDER: &str = "COALESCE(next_attempt_at, last_health_check, created_at), user_id";

impl<C: SqlConnection> Store<C> {
    /// Takes the lease on a user's row for `ttl` if it is free, expired or already ours. Returns the row as
    /// leased, or `None` when another owner holds a live lease (or there is no row).
    pub fn claim_lease(
        &mut self,
        user_id: UserId,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<AppRow>, StoreError> {
        let rows = self.query(
            &format!(
                "UPDATE user_fly_apps SET lease_owner = {{text:2}}, lease_expires_at = {{ts:4}} \
                 WHERE user_id = {{uuid:1}} \
                 AND (lease_expires_at IS NULL OR lease_expires_at < {{ts:3}} OR lease_owner = {{text:2}}) \
                 RETURNING {APP_COLUMNS}"
            ),
            &[
                user_id.to_string().into(),
                owner.into(),
                format_time(now).into(),
                format_time(expiry(now, ttl)).into(),
            ],
        )?;
        rows.first().map(AppRow::from_row).transpose()
    }

    /// Extends a lease we hold. `false` means it is no longer ours: stop working on the row.
    pub fn renew_lease(
        &mut self,
        user_id: UserId,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE user_fly_apps SET lease_expires_at = {ts:3} WHERE user_id = {uuid:1} AND lease_owner = {text:2}",
            &[
                user_id.to_string().into(),
                owner.into(),
                format_time(expiry(now, ttl)).into(),
            ],
        )?;
        Ok(changed == 1)
    }

    /// Gives back the lease on a row known only by its row id (one that could not be read).
    pub fn release_lease_by_id(&mut self, id: &str, owner: &str) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE user_fly_apps SET lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = {uuid:1} AND lease_owner = {text:2}",
            &[id.into(), owner.into()],
        )?;
        Ok(changed == 1)
    }

    /// Gives a lease back. `false` when it was not ours (already expired and taken, or released).
    pub fn release_lease(&mut self, user_id: UserId, owner: &str) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE user_fly_apps SET lease_owner = NULL, lease_expires_at = NULL \
             WHERE user_id = {uuid:1} AND lease_owner = {text:2}",
            &[user_id.to_string().into(), owner.into()],
        )?;
        Ok(changed == 1)
    }

    /// Due, unleased rows in one query, oldest first (read only).
    pub fn select_due(&mut self, due: DueQuery) -> Result<Vec<AppRow>, StoreError> {
        self.select_due_each(due)?.strict()
    }

    /// [`Store::select_due`], reading each row on its own: a row out of shape does not hide the others.
    pub fn select_due_each(&mut self, due: DueQuery) -> Result<ReadRows, StoreError> {
        let rows = self.query(
            &format!(
                "SELECT {APP_COLUMNS} FROM user_fly_apps WHERE {DUE_AND_FREE} ORDER BY {DUE_ORDER} LIMIT {{int:3}}"
            ),
            &[
                format_time(due.now).into(),
                format_time(due.checked_before).into(),
                i64::from(due.limit).into(),
            ],
        )?;
        Ok(ReadRows::read(&rows))
    }

    /// Selects due rows and leases them to `owner` in one statement, so concurrent sweeps split the work
    /// (Postgres skips rows another sweep is claiming; SQLite serialises writers).
    pub fn claim_due(
        &mut self,
        due: DueQuery,
        owner: &str,
        ttl: Duration,
    ) -> Result<Vec<AppRow>, StoreError> {
        self.claim_due_each(due, owner, ttl)?.strict()
    }

    /// [`Store::claim_due`], reading each row on its own: rows out of shape come back as
    /// [`crate::UnreadableRow`]s, still leased to `owner` (the caller records and releases them).
    pub fn claim_due_each(
        &mut self,
        due: DueQuery,
        owner: &str,
        ttl: Duration,
    ) -> Result<ReadRows, StoreError> {
        let rows = self.query(
            &format!(
                "UPDATE user_fly_apps SET lease_owner = {{text:4}}, lease_expires_at = {{ts:5}} \
                 WHERE id IN (SELECT id FROM user_fly_apps WHERE {DUE_AND_FREE} ORDER BY {DUE_ORDER} \
                 LIMIT {{int:3}} {{pg_only:FOR UPDATE SKIP LOCKED}}) \
                 AND (lease_expires_at IS NULL OR lease_expires_at < {{ts:1}}) \
                 RETURNING {APP_COLUMNS}"
            ),
            &[
                format_time(due.now).into(),
                format_time(due.checked_before).into(),
                i64::from(due.limit).into(),
                owner.into(),
                format_time(expiry(due.now, ttl)).into(),
            ],
        )?;
        let mut read = ReadRows::read(&rows);
        read.rows.sort_by_key(|a| {
            (
                a.next_attempt_at.or(a.last_health_check).or(a.created_at),
                a.user_id,
            )
        });
        Ok(read)
    }
}
