//! The `user_fly_apps` row and how it is read in either dialect.

use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::sql::Row;
use crate::types::{parse_time, AppStatus, HealthStatus, UserId};

/// The platform's defaults for `user_fly_apps.cpu_count` / `memory_mb` (its migration 035), written while
/// Fleet has not sized the machine yet because both columns are NOT NULL there.
pub const PLATFORM_CPU_COUNT: i64 = 2;
pub const PLATFORM_MEMORY_MB: i64 = 512;

/// One user's Fly app as Fleet last knew it (`user_fly_apps`).
#[derive(Clone, Debug, PartialEq)]
pub struct AppRow {
    /// Row id (uuid); `None` for a row not stored yet.
    pub id: Option<String>,
    pub user_id: UserId,
    pub fly_app_name: Option<String>,
    pub fly_org_slug: Option<String>,
    pub region: Option<String>,
    pub docker_image: Option<String>,
    pub cpu_kind: Option<String>,
    /// Column `cpu_count` (the platform's name); NOT NULL there, stored as [`PLATFORM_CPU_COUNT`] while unknown.
    pub cpus: Option<i64>,
    /// NOT NULL in the platform's table, stored as [`PLATFORM_MEMORY_MB`] while unknown.
    pub memory_mb: Option<i64>,
    pub machine_id: Option<String>,
    pub launch_id: Option<String>,
    pub status: AppStatus,
    pub health_status: HealthStatus,
    pub health_detail: serde_json::Value,
    pub last_health_check: Option<DateTime<Utc>>,
    pub secrets_version: Option<i64>,
    pub db_role_name: Option<String>,
    pub deployed_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    /// Failed attempts since the user was last marked due (the platform's column `retry_count`).
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Incremented whenever the user is marked due; writes carry the value they read.
    pub due_generation: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub monthly_cost_estimate_usd: Option<f64>,
    pub accrued_cost_usd: f64,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl AppRow {
    /// A row for a user that has none yet: provisioning, health unknown, nothing deployed.
    pub fn new(user_id: UserId) -> Self {
        AppRow {
            id: None,
            user_id,
            fly_app_name: None,
            fly_org_slug: None,
            region: None,
            docker_image: None,
            cpu_kind: None,
            cpus: None,
            memory_mb: None,
            machine_id: None,
            launch_id: None,
            status: AppStatus::Provisioning,
            health_status: HealthStatus::Unknown,
            health_detail: serde_json::json!({}),
            last_health_check: None,
            secrets_version: None,
            db_role_name: None,
            deployed_at: None,
            deleted_at: None,
            error_message: None,
            attempts: 0,
            next_attempt_at: None,
            due_generation: 0,
            lease_owner: None,
            lease_expires_at: None,
            monthly_cost_estimate_usd: None,
            accrued_cost_usd: 0.0,
            created_at: None,
            updated_at: None,
        }
    }

    pub(crate) fn from_row(row: &Row) -> Result<Self, StoreError> {
        let time = |c: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
            row.opt_text(c)?
                .map(|t| parse_time(&t))
                .transpose()
                .map_err(StoreError::from)
        };
        Ok(AppRow {
            id: Some(row.text("id")?),
            user_id: UserId::parse(&row.text("user_id")?)?,
            fly_app_name: row.opt_text("fly_app_name")?,
            fly_org_slug: row.opt_text("fly_org_slug")?,
            region: row.opt_text("region")?,
            docker_image: row.opt_text("docker_image")?,
            cpu_kind: row.opt_text("cpu_kind")?,
            cpus: row.opt_int("cpu_count")?,
            memory_mb: row.opt_int("memory_mb")?,
            machine_id: row.opt_text("machine_id")?,
            launch_id: row.opt_text("launch_id")?,
            status: AppStatus::parse(&row.text("status")?)?,
            health_status: HealthStatus::parse(&row.text("health_status")?)?,
            health_detail: serde_json::from_str(&row.text("health_detail")?)
                .map_err(|e| StoreError::Decode(format!("health_detail: {e}")))?,
            last_health_check: time("last_health_check")?,
            secrets_version: row.opt_int("secrets_version")?,
            db_role_name: row.opt_text("db_role_name")?,
            deployed_at: time("deployed_at")?,
            deleted_at: time("deleted_at")?,
            error_message: row.opt_text("error_message")?,
            attempts: row.int("retry_count")?,
            next_attempt_at: time("next_attempt_at")?,
            due_generation: row.int("due_generation")?,
            lease_owner: row.opt_text("lease_owner")?,
            lease_expires_at: time("lease_expires_at")?,
            monthly_cost_estimate_usd: row.opt_float("monthly_cost_estimate_usd")?,
            accrued_cost_usd: row.opt_float("accrued_cost_usd")?.unwrap_or(0.0),
            created_at: time("created_at")?,
            updated_at: time("updated_at")?,
        })
    }
}

/// A stored row that could not be read as an [`AppRow`] (a value out of shape): what is needed to name it in
/// an event, keep its app name claimed and give its lease back. `reason` is sanitised.
#[derive(Clone, Debug, PartialEq)]
pub struct UnreadableRow {
    pub id: Option<String>,
    pub user_id: Option<UserId>,
    /// `None` also when the name itself could not be read.
    pub fly_app_name: Option<String>,
    pub reason: String,
}

/// Rows read one by one: those that decode, and those that do not (never an error for the whole set).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadRows {
    pub rows: Vec<AppRow>,
    pub unreadable: Vec<UnreadableRow>,
}

impl ReadRows {
    pub(crate) fn read(rows: &[Row]) -> Self {
        let mut read = ReadRows::default();
        for row in rows {
            match AppRow::from_row(row) {
                Ok(app) => read.rows.push(app),
                Err(e) => read.unreadable.push(UnreadableRow {
                    id: row.opt_text("id").ok().flatten(),
                    user_id: row
                        .opt_text("user_id")
                        .ok()
                        .flatten()
                        .and_then(|u| UserId::parse(&u).ok()),
                    fly_app_name: row.opt_text("fly_app_name").ok().flatten(),
                    reason: crate::sanitize_error(&e.to_string()),
                }),
            }
        }
        read
    }

    /// Every row, or the first one that could not be read as an error.
    pub fn strict(self) -> Result<Vec<AppRow>, StoreError> {
        match self.unreadable.into_iter().next() {
            Some(bad) => Err(StoreError::Decode(bad.reason)),
            None => Ok(self.rows),
        }
    }
}

/// The select list for an `AppRow`, as query-template tokens (see [`crate::query`]).
pub(crate) const APP_COLUMNS: &str = "{text_out:id}, {text_out:user_id}, fly_app_name, fly_org_slug, region, \
    docker_image, cpu_kind, cpu_count, memory_mb, machine_id, launch_id, status, health_status, \
    {text_out:health_detail}, {ts_out:last_health_check}, secrets_version, db_role_name, {ts_out:deployed_at}, \
    {ts_out:deleted_at}, error_message, retry_count, {ts_out:next_attempt_at}, due_generation, lease_owner, \
    {ts_out:lease_expires_at}, {float_out:monthly_cost_estimate_usd}, accrued_cost_usd, {ts_out:created_at}, \
    {ts_out:updated_at}";
