//! The I/O of a migration: read and write its state in `fleet_state`, and release the next due batch
//! (mark its users due, so the provision path — a sweep, or an admin request — picks them up). Whoever
//! releases (any sweep on any host, or the admin API) holds the fleet lease [`MIGRATION_LEASE`] while it
//! reads, releases and saves, so two workers never release the same batch or overwrite each other's state;
//! a worker that died mid-batch leaves users already marked due, which the next release skips.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_store::{AppStatus, EventType, NewEvent, SqlConnection, Store, StoreError};
use serde_json::json;

use crate::migration::{MigrationState, STATE_KEY};

/// The fleet lease held while a migration's state is changed.
pub const MIGRATION_LEASE: &str = "migration.release";
/// Long enough for the largest batch; a holder that died frees it after this.
const LEASE_TTL: Duration = Duration::from_secs(30);

/// The stored migration, if any.
pub fn load<C: SqlConnection>(store: &mut Store<C>) -> Result<Option<MigrationState>, StoreError> {
    store
        .state(STATE_KEY)?
        .filter(|v| !v.is_null())
        .map(|v| {
            serde_json::from_value(v)
                .map_err(|e| StoreError::Decode(format!("stored migration state: {e}")))
        })
        .transpose()
}

pub fn save<C: SqlConnection>(
    store: &mut Store<C>,
    state: &MigrationState,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let value =
        serde_json::to_value(state).map_err(|e| StoreError::Decode(format!("migration: {e}")))?;
    store.put_state(STATE_KEY, &value, now)
}

/// Runs `f` holding the migration lease. `Ok(None)`: another worker holds it now (try again shortly).
pub fn under_lease<C: SqlConnection, R>(
    store: &mut Store<C>,
    owner: &str,
    now: DateTime<Utc>,
    f: impl FnOnce(&mut Store<C>) -> Result<R, StoreError>,
) -> Result<Option<R>, StoreError> {
    if !store.claim_fleet_lease(MIGRATION_LEASE, owner, now, LEASE_TTL)? {
        return Ok(None);
    }
    let result = f(store);
    let given_back = store.release_fleet_lease(MIGRATION_LEASE, owner);
    let value = result?;
    given_back?;
    Ok(Some(value))
}

/// What one release attempt did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Released {
    /// Users marked due by this attempt.
    pub users: usize,
    /// When the next batch may go; `None` when nothing is left to release (or no migration).
    pub wake_at: Option<DateTime<Utc>>,
    /// Another worker held the lease: nothing was done, look again soon.
    pub busy: bool,
}

/// Releases the migration's next batch if one is due at `now`. Cheap when nothing is due (one read, no
/// lease). `by` names the releaser in the events (`sweep` or `admin`).
pub fn release_due_batch<C: SqlConnection>(
    store: &mut Store<C>,
    owner: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Released, StoreError> {
    let Some(state) = load(store)? else {
        return Ok(Released::default());
    };
    if state.due_batch(now).is_none() {
        return Ok(Released {
            users: 0,
            wake_at: state.wake_at(now),
            busy: false,
        });
    }
    let done = under_lease(store, owner, now, |store| {
        // Read again under the lease: another worker may have released this batch meanwhile.
        let Some(mut state) = load(store)? else {
            return Ok(Released::default());
        };
        let Some(batch) = state.due_batch(now) else {
            return Ok(Released {
                users: 0,
                wake_at: state.wake_at(now),
                busy: false,
            });
        };
        let mut marked = 0;
        for user in &state.users[batch.clone()] {
            let row = store.app(*user)?;
            if row.as_ref().is_some_and(|r| r.status != AppStatus::Deleted) {
                continue; // Provisioned (or on its way) by someone else meanwhile.
            }
            store.mark_due(*user, now, true)?;
            let Some(row) = store.app(*user)? else {
                continue;
            };
            let mut event = NewEvent::for_app(&row, EventType::ProvisionRequested);
            event.metadata =
                json!({"admin_action": "migration", "migration_id": state.id, "released_by": by});
            store.append_event(&event, now)?;
            marked += 1;
        }
        state.released = batch.end;
        state.last_release_at = Some(now);
        save(store, &state, now)?;
        Ok(Released {
            users: marked,
            wake_at: state.wake_at(now),
            busy: false,
        })
    })?;
    Ok(done.unwrap_or(Released {
        users: 0,
        wake_at: Some(now),
        busy: true,
    }))
}
