//! `/admin/api/migrations`: list (dry run) or migrate the entitled users who have no app. Starting records
//! the migration; the health sweep then releases its batches at the configured pace (unattended) and
//! provisions the released users. `POST .../advance` (the dashboard calls it while a migration runs) also
//! releases due batches and runs provision passes (concurrently, bounded) within the request's budget;
//! `POST .../cancel` stops further batches. Every change of the migration's state is made under the
//! migration lease (`fleet_reconcile::migration_release`), shared with the sweeps.

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
use crate::migration::{progress, MigrationState, Progress};
use crate::queries::entitled_without_app;
use fleet_reconcile::migration_release::{self, release_due_batch, under_lease};

/// Provision passes a migration step runs at once (Fly's limits are per app, so this protects the
/// component and the database, not Fly).
pub const MIGRATION_CONCURRENCY: usize = 8;
/// Users listed in a dry run's answer.
const DRY_RUN_LIST_LIMIT: usize = 1000;
/// A pass needs at least this much of the budget to be worth starting.
const MIN_PASS_BUDGET: Duration = Duration::from_millis(1500);
/// Upper bound on loop rounds per request.
const MAX_ROUNDS: usize = 600;
/// Tries to take the migration lease (held by a releasing sweep for milliseconds) before answering 409.
const LEASE_TRIES: usize = 40;
const LEASE_RETRY: Duration = Duration::from_millis(50);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    dry_run: bool,
}

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    fn load_migration(&self) -> Result<Option<MigrationState>, ApiError> {
        migration_release::load(&mut self.store()?).map_err(internal)
    }

    /// Runs `f` under the migration lease, waiting briefly for a sweep that holds it; 409 if it stays held.
    async fn with_migration_lease<R>(
        &self,
        owner: &str,
        f: impl Fn(&mut fleet_store::Store<C>) -> Result<R, fleet_store::StoreError>,
    ) -> Result<R, ApiError> {
        let mut store = self.store()?;
        for _ in 0..LEASE_TRIES {
            if let Some(value) =
                under_lease(&mut store, owner, self.clock.now(), &f).map_err(internal)?
            {
                return Ok(value);
            }
            self.clock.sleep(LEASE_RETRY).await;
        }
        Err(ApiError::new(
            409,
            "migration_busy",
            "another worker is changing the migration; try again",
        ))
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
        Ok(progress(
            state,
            &self.rows_of(&state.users)?,
            self.clock.now(),
        ))
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
        let now = self.clock.now();
        let id = uuid::Uuid::new_v4().to_string();
        let fresh = MigrationState::new(id, candidates, pacing, principal.actor(), now);
        let owner = format!("admin:{}", fresh.id);
        // Under the lease: two starts at once (or a start racing a sweep's release) cannot both win.
        let running = self
            .with_migration_lease(&owner, |store| {
                if let Some(current) = migration_release::load(store)? {
                    if current.releasing() || !self.progress_done(store, &current)? {
                        return Ok(Some(current));
                    }
                }
                migration_release::save(store, &fresh, now)?;
                Ok(None)
            })
            .await?;
        if let Some(current) = running {
            let body = json!({
                "error": "migration_running",
                "detail": "a migration is already running; watch it, cancel it or wait for it to complete",
                "migration": self.progress_of(&current)?,
            });
            return Ok(AdminResponse::json(409, &body));
        }
        // The sweep releases the batches from here on; the answer is the migration as recorded.
        Ok(AdminResponse::json(
            202,
            &json!({ "migration": self.progress_of(&fresh)? }),
        ))
    }

    /// Whether a stored migration has nothing left to do (complete, or cancelled with its released users
    /// settled), so a new one may start.
    fn progress_done(
        &self,
        store: &mut fleet_store::Store<C>,
        state: &MigrationState,
    ) -> Result<bool, fleet_store::StoreError> {
        let mut rows = HashMap::new();
        for user in &state.users[..state.released.min(state.users.len())] {
            if let Some(row) = store.app(*user)? {
                rows.insert(*user, row);
            }
        }
        let p = progress(state, &rows, self.clock.now());
        Ok(p.complete || (p.cancelled && p.remaining <= p.total.saturating_sub(p.released)))
    }

    /// Stops releasing batches. Users already released finish their provision (they are entitled); the
    /// rest keep no row. Idempotent: cancelling a cancelled migration answers it again.
    pub(crate) async fn cancel_migration(
        &self,
        principal: &Principal,
    ) -> Result<AdminResponse, ApiError> {
        let now = self.clock.now();
        let owner = format!("admin:cancel:{}", uuid::Uuid::new_v4());
        let state = self
            .with_migration_lease(&owner, |store| {
                let Some(mut state) = migration_release::load(store)? else {
                    return Ok(None);
                };
                if state.cancelled_at.is_none() && state.completed_at.is_none() {
                    state.cancelled_at = Some(now);
                    state.cancelled_by = Some(principal.actor().to_string());
                    migration_release::save(store, &state, now)?;
                    let event = NewEvent {
                        user_id: None,
                        fly_app_id: None,
                        fly_app_name: None,
                        event_type: EventType::ErrorOccurred,
                        status: None,
                        metadata: json!({
                            "admin_action": "migration_cancelled",
                            "migration_id": state.id,
                            "released": state.released,
                            "total": state.users.len(),
                        }),
                        error_details: None,
                    };
                    store.append_event(&event, now)?;
                }
                Ok(Some(state))
            })
            .await?;
        let Some(state) = state else {
            return Err(ApiError::not_found("no migration has been started"));
        };
        let progress = self.progress_of(&state)?;
        if progress.complete && state.cancelled_at.is_none() {
            return Ok(AdminResponse::json(
                409,
                &json!({
                    "error": "migration_complete",
                    "detail": "the migration has already completed; there is nothing to cancel",
                    "migration": progress,
                }),
            ));
        }
        Ok(AdminResponse::json(200, &json!({ "migration": progress })))
    }

    /// Releases due batches and runs provision passes until the migration completes or the budget ends.
    pub(crate) async fn advance_migration(&self) -> Result<AdminResponse, ApiError> {
        let Some(mut state) = self.load_migration()? else {
            return Err(ApiError::not_found("no migration has been started"));
        };
        let owner = format!("admin:advance:{}", uuid::Uuid::new_v4());
        let deadline = after(self.clock.now(), self.config.budget);
        for _ in 0..MAX_ROUNDS {
            if state.completed_at.is_some() {
                break;
            }
            let now = self.clock.now();
            if state.due_batch(now).is_some() {
                release_due_batch(&mut self.store()?, &owner, "admin", now).map_err(internal)?;
                state = self
                    .load_migration()?
                    .ok_or_else(|| ApiError::internal("the migration state disappeared"))?;
            }
            let rows = self.rows_of(&state.users[..state.released])?;
            let settled = unsettled(&state.users[..state.released], &rows) == 0;
            if !state.releasing() && settled {
                if state.cancelled_at.is_none() {
                    self.complete(&owner, now).await?;
                }
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

    /// Records the completion (under the lease, so a concurrent cancel or start is not overwritten).
    async fn complete(&self, owner: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        self.with_migration_lease(owner, |store| {
            if let Some(mut state) = migration_release::load(store)? {
                if state.completed_at.is_none() && state.cancelled_at.is_none() {
                    state.completed_at = Some(now);
                    migration_release::save(store, &state, now)?;
                }
            }
            Ok(())
        })
        .await
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

/// Released users whose provision has not settled (neither active nor failed).
fn unsettled(users: &[UserId], rows: &HashMap<UserId, AppRow>) -> usize {
    users
        .iter()
        .filter(|u| {
            rows.get(u)
                .is_none_or(|r| !matches!(r.status, AppStatus::Active | AppStatus::Error))
        })
        .count()
}

/// When there may be work again: the next batch, a row's next attempt, or a lease running out.
fn next_wake(
    state: &MigrationState,
    rows: &HashMap<UserId, AppRow>,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> DateTime<Utc> {
    let release = state.wake_at(now);
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
