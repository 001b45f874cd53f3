//! Fleet-wide leases: one named lease per kind of whole-fleet work (the orphan scan, driving a rollout). Taken
//! by an atomic upsert that only overwrites an expired lease or our own, so concurrent workers never both hold
//! it, and it expires on its own if its holder dies.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::sql::SqlConnection;
use crate::store::Store;
use crate::types::format_time;

impl<C: SqlConnection> Store<C> {
    /// Takes (or renews) the named lease for `ttl`. `false` when another owner holds a live one.
    pub fn claim_fleet_lease(
        &mut self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let expires = crate::time::after(now, ttl);
        let changed = self.execute(
            "INSERT INTO fleet_leases (name, owner, expires_at) VALUES ({text:1}, {text:2}, {ts:4}) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
             WHERE fleet_leases.expires_at < {ts:3} OR fleet_leases.owner = excluded.owner",
            &[
                name.into(),
                owner.into(),
                format_time(now).into(),
                format_time(expires).into(),
            ],
        )?;
        Ok(changed == 1)
    }

    /// Gives the named lease back if it is ours.
    pub fn release_fleet_lease(&mut self, name: &str, owner: &str) -> Result<bool, StoreError> {
        let changed = self.execute(
            "DELETE FROM fleet_leases WHERE name = {text:1} AND owner = {text:2}",
            &[name.into(), owner.into()],
        )?;
        Ok(changed == 1)
    }
}
