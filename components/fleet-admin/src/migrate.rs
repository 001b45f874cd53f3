//! `/admin/api/migrations`: list (dry run) or migrate the entitled users who have no app. A migration marks
//! users due batch by batch at the pace Fly's limits allow, and runs their provision passes (concurrently,
//! bounded) within each request's budget. `POST .../advance` (the dashboard calls it while a migration runs)
//! continues it; the health sweep also finishes any user already marked due.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_http::ApiError;
use fleet_reconcile::Clock;
use fleet_store::time::after;
use fleet_store::{AppRow, AppStatus, EventType, NewEvent, SqlConnection, UserId};
use fly_api::Transport;
use futures::future::join_all;
use serde::Deserialize;
use serde_json::json;

use crate::admin::{internal, Admin};
use crate::auth::Principal;
use crate::http::{json_body, AdminRequest, AdminResponse};
use crate::migration::{progress, MigrationState, Progress, STATE_KEY};
use crate::queries::entitled_without_app;

/// Provision passes a migration step runs at once (Fly's limits are per app, so this protects the
/// component and the database, not Fly).
pub const MIGRATION_CONCURRENCY: usize = 8;
/// Users listed in a dry run's answer.
const DRY_RUN_LIST_LIMIT: usize = 1000;
/// A pass needs at least this much of the budget to be worth starting.
const MIN_PASS_BUDGET: Duration = Duration::from_millis(1500);
/// Upper bound on loop rounds per request.
const MAX_ROUNDS: usize = 600;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    dry_run: bool,
}

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    fn load_migration(&self) -> Result<Option<MigrationState>, ApiError> {
        let mut store = self.store()?;
        store
            .state(STATE_KEY)
            .map_err(internal)?
            .map(|v| {
                serde_json::from_value(v).map_err(|e| {
                    ApiError::internal(format!("stored migration state is unreadable: {e}"))
                })
            })
            .transpose()
    }

    fn save_migration(&self, state: &MigrationState) -> Result<(), ApiError> {
        let value = serde_json::to_value(state).map_err(|e| ApiError::internal(e.to_string()))?;
        self.store()?
            .put_state(STATE_KEY, &value, self.clock.now())
            .map_err(internal)
    }

    fn rows_of(&self, users: &[UserId]) -> Result<HashMap<UserId, AppRow>, ApiError> {
        let wanted: std::collections::HashSet<&UserId> = users.iter().collect();
        Ok(self
            .store()?
            .list_apps()
            .map_err(internal)?
            .into_iter()
            .filter(|r| wanted.contains(&r.user_id))
            .map(|r| (r.user_id, r))
            .collect())
    }

    fn progress_of(&self, state: &MigrationState) -> Result<Progress, ApiError> {
        Ok(progress(state, &self.rows_of(&state.users)?))
    }

    pub(crate) fn migration_progress(&self) -> Result<AdminResponse, ApiError> {
        let migration = match self.load_migration()? {
            Some(state) => Some(self.progress_of(&state)?),
            None => None,
        };
        Ok(AdminResponse::json(200, &json!({ "migration": migration })))
    }

    pub(crate) async fn start_migration(
        &self,
        req: &AdminRequest,
        principal: &Principal,
    ) -> Result<AdminResponse, ApiError> {
        let body: StartBody = json_body(&req.body)?;
        let candidates = entitled_without_app(&mut self.store()?).map_err(internal)?;
        let pacing = self.config.pacing;
        if body.dry_run {
            let batches = candidates.len().div_ceil(pacing.batch_size as usize);
            return Ok(AdminResponse::json(
                200,
                &json!({
                    "dry_run": true,
                    "count": candidates.len(),
                    "users": candidates.iter().take(DRY_RUN_LIST_LIMIT).map(|u| u.to_string()).collect::<Vec<_>>(),
                    "pacing": pacing,
                    "batches": batches,
                    "min_seconds": batches.saturating_sub(1) as u64 * pacing.interval_ms / 1000,
                }),
            ));
        }
        if let Some(current) = self.load_migration()? {
            if current.completed_at.is_none() {
                let body = json!({
                    "error": "migration_running",
                    "detail": "a migration is already running; advance it or wait for it to complete",
                    "migration": self.progress_of(&current)?,
                });
                return Ok(AdminResponse::json(409, &body));
            }
        }
        let now = self.clock.now();
        let id = uuid::Uuid::new_v4().to_string();
        let state = MigrationState::new(id, candidates, pacing, principal.actor(), now);
        self.save_migration(&state)?;
        self.advance_migration().await
    }

    /// Releases due batches and runs provision passes until the migration completes or the budget ends.
    pub(crate) async fn advance_migration(&self) -> Result<AdminResponse, ApiError> {
        let Some(mut state) = self.load_migration()? else {
            return Err(ApiError::not_found("no migration has been started"));
        };
        let deadline = after(self.clock.now(), self.config.budget);
        for _ in 0..MAX_ROUNDS {
            if state.completed_at.is_some() {
                break;
            }
            let now = self.clock.now();
            if let Some(batch) = state.due_batch(now) {
                self.release(&mut state, batch, now)?;
            }
            let rows = self.rows_of(&state.users[..state.released])?;
            if state.released == state.users.len() && progress(&state, &rows).remaining == 0 {
                state.completed_at = Some(now);
                self.save_migration(&state)?;
                break;
            }
            let budget = (deadline - now).to_std().unwrap_or_default();
            if budget < MIN_PASS_BUDGET {
                break;
            }
            let work = pending(&state.users[..state.released], &rows, now);
            if work.is_empty() {
                let wake = next_wake(&state, &rows, now, deadline);
                self.clock
                    .sleep((wake - now).to_std().unwrap_or_default())
                    .await;
                continue;
            }
            let passes = work
                .into_iter()
                .take(MIGRATION_CONCURRENCY)
                .map(|user| self.migration_pass(user, budget));
            for result in join_all(passes).await {
                result?;
            }
        }
        let progress = self.progress_of(&state)?;
        let status = if progress.complete { 200 } else { 202 };
        Ok(AdminResponse::json(
            status,
            &json!({ "migration": progress }),
        ))
    }

    fn release(
        &self,
        state: &mut MigrationState,
        batch: std::ops::Range<usize>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let mut store = self.store()?;
        for user in &state.users[batch.clone()] {
            let row = store.app(*user).map_err(internal)?;
            if row.as_ref().is_some_and(|r| r.status != AppStatus::Deleted) {
                continue; // Someone else provisioned it meanwhile.
            }
            store.mark_due(*user, now, true).map_err(internal)?;
            let row = store.app(*user).map_err(internal)?;
            let mut event = match &row {
                Some(row) => NewEvent::for_app(row, EventType::ProvisionRequested),
                None => continue,
            };
            event.metadata = json!({"admin_action": "migration", "migration_id": state.id});
            store.append_event(&event, now).map_err(internal)?;
        }
        state.released = batch.end;
        state.last_release_at = Some(now);
        self.save_migration(state)
    }

    async fn migration_pass(&self, user: UserId, budget: Duration) -> Result<(), ApiError> {
        let mut store = self.store()?;
        self.pass(&mut store, user, budget).await.map(|_| ())
    }
}

/// Released users whose provision still needs a pass now: not active or failed, due, and not leased.
fn pending(users: &[UserId], rows: &HashMap<UserId, AppRow>, now: DateTime<Utc>) -> Vec<UserId> {
    users
        .iter()
        .filter(|u| {
            rows.get(u).is_some_and(|r| {
                !matches!(r.status, AppStatus::Active | AppStatus::Error)
                    && r.next_attempt_at.is_some_and(|at| at <= now)
                    && r.lease_expires_at.is_none_or(|at| at < now)
            })
        })
        .copied()
        .collect()
}

/// When there may be work again: the next batch, a row's next attempt, or a lease running out.
fn next_wake(
    state: &MigrationState,
    rows: &HashMap<UserId, AppRow>,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> DateTime<Utc> {
    let release = (state.released < state.users.len())
        .then(|| state.next_release_at())
        .flatten();
    let rows_due = rows
        .values()
        .filter(|r| !matches!(r.status, AppStatus::Active | AppStatus::Error))
        .filter_map(|r| r.next_attempt_at.max(r.lease_expires_at));
    let soonest = release
        .into_iter()
        .chain(rows_due)
        .min()
        .unwrap_or(after(now, Duration::from_secs(1)));
    soonest
        .clamp(
            after(now, Duration::from_millis(50)),
            after(now, Duration::from_secs(1)),
        )
        .min(deadline)
}
